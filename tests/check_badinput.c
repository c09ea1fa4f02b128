/* SPDX-License-Identifier: MIT */
/*
 * tests/bad-input/NN-name.case files: malformed configs, policies, mappings, journals and
 * argv. Each case names the file it plants in a copy of the example host
 * ("path:", "-" for none, optional "mode:"), the arguments ("args:", @ROOT@
 * for the fixture), the exit status and a text the output must hold. Every
 * case must end with that status and message, never a signal, within
 * CASE_SECONDS (a hang is killed and fails), and leave the fixture host
 * exactly as it was. A case with "exit: 0" is bad input in a field the run
 * does not use: it must not fail for it.
 *
 * Files that are not files: "fifo: P" makes a FIFO at P (P may be the
 * path: itself), "link: T" plants path: as a symbolic link to T (such as
 * /dev/zero, or a FIFO made with fifo:), "size: N" repeats the body until
 * the file holds N bytes or more.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fixture.h"

#define CASE_SECONDS 10

static int n_cases, n_failed;

static unsigned long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

static void run_case(const char *file)
{
	char path[PATH_MAX], args[1024] = "", expect[512] = "", target[256] = "-", mode[16] = "", dirmode[16] = "0700";
	char link[256] = "", fifo[256] = "";
	unsigned long long t0;
	unsigned long min_size = 0;
	char *text, *body, *line, *save = NULL, *argv[32];
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;
	int want = -1, argc = 0;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/tests/bad-input/%s", GH_SOURCE_DIR, file);
	f = fopen(path, "rbe");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	text = malloc((size_t)size + 1);
	ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	body = strstr(text, "\n---\n");
	ck_assert_msg(body != NULL, "%s: no --- line", file);
	*body = '\0';
	body += 5;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "path: ", 6))
			snprintf(target, sizeof(target), "%s", line + 6);
		else if (!strncmp(line, "args:", 5))
			snprintf(args, sizeof(args), "%s", line + 5);
		else if (!strncmp(line, "exit: ", 6))
			want = atoi(line + 6); /* test data, not user input */
		else if (!strncmp(line, "expect: ", 8))
			snprintf(expect, sizeof(expect), "%s", line + 8);
		else if (!strncmp(line, "mode: ", 6))
			snprintf(mode, sizeof(mode), "%s", line + 6);
		else if (!strncmp(line, "dirmode: ", 9))
			snprintf(dirmode, sizeof(dirmode), "%s", line + 9);
		else if (!strncmp(line, "link: ", 6))
			snprintf(link, sizeof(link), "%s", line + 6);
		else if (!strncmp(line, "fifo: ", 6))
			snprintf(fifo, sizeof(fifo), "%s", line + 6);
		else if (!strncmp(line, "size: ", 6))
			min_size = strtoul(line + 6, NULL, 10);
	}
	fx_example_host(fx);
	if (fifo[0]) {
		/* fx_file makes the directories; the file then gives way to the FIFO. */
		fx_file(fx, fifo, "%s", "");
		fx_rm(fx, fifo);
		ck_assert_int_eq(mkfifo(fx_path(fx, fifo), 0644), 0);
	}
	if (link[0]) {
		fx_rm(fx, target);
		fx_link(fx, target, link);
	} else if (strcmp(target, "-") && strcmp(target, fifo)) {
		size_t len = (size_t)(size - (body - text)), written = 0;
		FILE *o;

		fx_file(fx, target, "%s", "");
		o = fopen(fx_path(fx, target), "wbe");
		ck_assert_ptr_nonnull(o);
		do {
			ck_assert_uint_gt(len, 0);
			written += fwrite(body, 1, len, o);
		} while (written < min_size);
		fclose(o);
		fx_chmod(fx, target, mode[0] ? (unsigned)strtoul(mode, NULL, 8) : 0644);
	}
	if (strcmp(target, "-")) {
		/* gpu-hook only trusts a journal directory that is closed to others. */
		if (!strncmp(target, "/run/gpu-hook/", 14))
			fx_chmod(fx, "/run/gpu-hook", (unsigned)strtoul(dirmode, NULL, 8));
	}
	before = fx_tree_digest(fx->root);
	save = NULL;
	for (line = strtok_r(args, " ", &save); line && argc < 31; line = strtok_r(NULL, " ", &save))
		argv[argc++] = strcmp(line, "@ROOT@") ? line : fx->root;
	argv[argc] = NULL;
	t0 = now_ms();
	fx_run_argv_within(r, NULL, argv, CASE_SECONDS);
	t0 = now_ms() - t0;
	/* The global lock file is made by any run that may act; it is no change to the host. */
	fx_rm(fx, "/run/gpu-hook/lock");
	n_cases++;
	if (r->status >= 128 || r->status != want || (!strstr(r->err, expect) && !strstr(r->out, expect)) ||
	    fx_tree_digest(fx->root) != before) {
		n_failed++;
		fprintf(stderr, "bad-input: %s: exit %d (expected %d) after %llu ms, \"%s\" expected, host %s; output:\n%s%s\n",
			file, r->status, want, t0, expect, fx_tree_digest(fx->root) == before ? "unchanged" : "CHANGED",
			r->out, r->err);
	}
	free(text);
	free(r);
	fx_free(fx);
}

START_TEST(every_case)
{
	char dir[PATH_MAX];
	struct dirent **names;
	int n;

	snprintf(dir, sizeof(dir), "%s/tests/bad-input", GH_SOURCE_DIR);
	n = scandir(dir, &names, NULL, alphasort);
	ck_assert_int_gt(n, 0);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);

		if (len > 5 && !strcmp(names[i]->d_name + len - 5, ".case"))
			run_case(names[i]->d_name);
		free(names[i]);
	}
	free(names);
	printf("bad-input: %d cases, each ended with its status and message, nothing changed\n", n_cases);
	ck_assert_int_ge(n_cases, 50);
	ck_assert_int_eq(n_failed, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bad-input");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, every_case);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
