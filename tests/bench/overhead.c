/* SPDX-License-Identifier: MIT */
/*
 * Hook overhead on the host: wall time of whole gpu-hook runs on a fixture
 * root (fork, exec, wait: what Proxmox pays per hook call) against a
 * process that only writes "hello", and the instructions each run executes
 * under callgrind, counted twice to show the count is stable. Figures only.
 *
 *   bench_overhead --hello PATH --root DIR [--hook PATH]... [--runs N] [--callgrind] [--json FILE]
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "util.h"

#define MAX_HOOKS 4
#define MAX_RUNS 1001

static const char *const commands[][5] = {
	{ "111", "pre-start", "--dry-run", NULL },
	{ "111", "pre-start", "--dry-run", "--json", NULL },
	{ "status", NULL },
	{ "status", "--json", NULL },
};

static void die(const char *what)
{
	fprintf(stderr, "bench_overhead: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The process run() started last. */
static pid_t last_child;

/* Runs argv with stdout and stderr on /dev/null; the exit status (128 + signal), or -1 when it could not start. */
static int run(char *const *argv, bool search)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, STDOUT_FILENO) < 0 || dup2(null, STDERR_FILENO) < 0)
			_exit(126);
		if (search)
			execvp(argv[0], argv);
		else
			execv(argv[0], argv);
		_exit(127);
	}
	last_child = pid;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
}

/* A static executable has no program interpreter. */
static bool is_static(const char *path)
{
	Elf64_Ehdr eh;
	bool interp = false;
	FILE *f = fopen(path, "re");

	if (!f || fread(&eh, sizeof(eh), 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		die(path);
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (fseek(f, (long)(eh.e_phoff + (Elf64_Off)i * eh.e_phentsize), SEEK_SET) < 0 ||
		    fread(&ph, sizeof(ph), 1, f) != 1)
			die(path);
		interp |= ph.p_type == PT_INTERP;
	}
	fclose(f);
	return !interp;
}

struct timing {
	double median_us, min_us;
	int status;
};

static struct timing time_runs(char *const *argv, int runs)
{
	double t[MAX_RUNS];
	struct timing tm;

	/* One untimed run puts the binary and the fixture tree in the page cache. */
	tm.status = run(argv, false);
	if (tm.status < 0) {
		errno = ENOEXEC;
		die(argv[0]);
	}
	for (int i = 0; i < runs; i++) {
		double t0 = bench_now_ns();

		run(argv, false);
		t[i] = bench_now_ns() - t0;
	}
	tm.median_us = bench_median(t, runs) / 1e3;
	tm.min_us = t[0] / 1e3;
	return tm;
}

/*
 * callgrind's output files: one per process (%p), in a directory of this
 * run's. A phase's timebox worker is a process of its own (forked under
 * valgrind, which cannot run the shared one) and writes its profile when it
 * ends, after the hook has: with one file name for both, it overwrote the
 * hook's figures (a count of -1) and was left behind in /tmp.
 */
static char cg_dir[PATH_MAX];

/* Every file in cg_dir removed; false when it had none. */
static bool cg_sweep(void)
{
	DIR *d = opendir(cg_dir);
	struct dirent *e;
	bool any = false;

	if (!d)
		return false;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			any = true;
			unlinkat(dirfd(d), e->d_name, 0);
		}
	closedir(d);
	return any;
}

/* The directory goes once the workers that ended with the last hooks have written their files (within 3 s). */
static void cg_cleanup(void)
{
	for (int quiet = 0, i = 0; quiet < 3 && i < 30; i++) {
		quiet = cg_sweep() ? 0 : quiet + 1;
		usleep(100000);
	}
	cg_sweep();
	rmdir(cg_dir);
}

/* Total instructions (Ir) of one run under callgrind (the hook's process alone), or -1 when valgrind cannot run. */
static long long callgrind_ir(char *const *argv)
{
	char out[PATH_MAX + 32], opt[PATH_MAX + 64], line[256];
	char *vg[16] = { "valgrind", "--tool=callgrind", "-q", opt };
	long long ir = -1;
	size_t n = 4;
	FILE *f;

	if (!cg_dir[0]) {
		const char *tmp = getenv("TMPDIR");

		if (gh_util_format(cg_dir, sizeof(cg_dir), "%s/gh-bench-callgrind-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 ||
		    !mkdtemp(cg_dir))
			die("mkdtemp");
		atexit(cg_cleanup);
	}
	if (gh_util_format(opt, sizeof(opt), "--callgrind-out-file=%s/cg.%%p", cg_dir) < 0) {
		errno = ENAMETOOLONG;
		die("callgrind");
	}
	for (size_t i = 0; argv[i] && n < GH_ARRAY_SIZE(vg) - 1; i++)
		vg[n++] = argv[i];
	vg[n] = NULL;
	if (run(vg, true) >= 0 && gh_util_format(out, sizeof(out), "%s/cg.%d", cg_dir, (int)last_child) >= 0 &&
	    (f = fopen(out, "re"))) {
		while (fgets(line, sizeof(line), f)) {
			unsigned long v;

			if (strncmp(line, "summary:", 8) && strncmp(line, "totals:", 7))
				continue;
			line[strcspn(line, "\n")] = '\0';
			if (gh_util_parse_ulong(gh_util_trim(strchr(line, ':') + 1), 10, (unsigned long)-1, &v) == 0)
				ir = (long long)v;
		}
		fclose(f);
	}
	cg_sweep();
	return ir;
}

/* Two decimals in the file, not %.17g noise. */
static json_object *jnum(double v)
{
	char buf[64];

	if (gh_util_format(buf, sizeof(buf), "%.2f", v) < 0)
		return NULL;
	return json_object_new_double_s(v, buf);
}

int main(int argc, char **argv)
{
	const char *hooks[MAX_HOOKS], *hello = NULL, *root = NULL, *json_path = NULL;
	size_t n_hooks = 0;
	unsigned long runs = 51;
	bool cg = false;
	json_object *top = json_object_new_object(), *jh, *jbins = json_object_new_array();
	struct timing th;
	char *hargv[2];

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--callgrind"))
			cg = true;
		else if (v && !strcmp(a, "--hello"))
			hello = argv[++i];
		else if (v && !strcmp(a, "--root"))
			root = argv[++i];
		else if (v && !strcmp(a, "--json"))
			json_path = argv[++i];
		else if (v && !strcmp(a, "--hook") && n_hooks < MAX_HOOKS)
			hooks[n_hooks++] = argv[++i];
		else if (v && !strcmp(a, "--runs") && gh_util_parse_ulong(v, 10, MAX_RUNS, &runs) == 0 && runs)
			i++;
		else {
			fprintf(stderr, "usage: bench_overhead --hello PATH --root DIR [--hook PATH]... [--runs N] "
					"[--callgrind] [--json FILE]\n");
			return 2;
		}
	}
	if (!hello || !root || !n_hooks) {
		fprintf(stderr, "bench_overhead: --hello, --root and one --hook at least are needed\n");
		return 2;
	}
	hargv[0] = (char *)hello;
	hargv[1] = NULL;
	th = time_runs(hargv, (int)runs);
	printf("%-8s %-44s %10s %10s %9s %14s %14s\n", "overhead", "command (exit)", "median us", "min us",
	       "x hello", "Ir run 1", "Ir run 2");
	printf("%-8s %-44s %10.1f %10.1f %9s\n", "overhead", is_static(hello) ? "hello (static)" : "hello (dynamic)",
	       th.median_us, th.min_us, "1.0");
	jh = json_object_new_object();
	json_object_object_add(jh, "path", json_object_new_string(hello));
	json_object_object_add(jh, "static", json_object_new_boolean(is_static(hello)));
	json_object_object_add(jh, "median_us", jnum(th.median_us));
	json_object_object_add(jh, "min_us", jnum(th.min_us));
	json_object_object_add(top, "runs", json_object_new_int((int)runs));
	json_object_object_add(top, "root", json_object_new_string(root));
	json_object_object_add(top, "hello", jh);
	for (size_t h = 0; h < n_hooks; h++) {
		json_object *jb = json_object_new_object(), *jcmds = json_object_new_array();
		bool st = is_static(hooks[h]);

		json_object_object_add(jb, "path", json_object_new_string(hooks[h]));
		json_object_object_add(jb, "static", json_object_new_boolean(st));
		printf("%-8s %s (%s)\n", "overhead", hooks[h], st ? "static" : "dynamic");
		for (size_t c = 0; c < GH_ARRAY_SIZE(commands); c++) {
			char *av[16], label[128] = "", *p = label;
			size_t n = 0;
			struct timing t;
			long long ir[2] = { -1, -1 };
			json_object *jc = json_object_new_object();

			av[n++] = (char *)hooks[h];
			for (size_t k = 0; commands[c][k]; k++) {
				av[n++] = (char *)commands[c][k];
				p += snprintf(p, sizeof(label) - (size_t)(p - label), "%s%s", k ? " " : "", commands[c][k]);
				if (p >= label + sizeof(label))
					die("label");
			}
			av[n++] = "--root";
			av[n++] = (char *)root;
			av[n] = NULL;
			t = time_runs(av, (int)runs);
			if (cg) {
				ir[0] = callgrind_ir(av);
				ir[1] = callgrind_ir(av);
			}
			printf("%-8s   %-37s %4d %10.1f %10.1f %9.1f %14lld %14lld\n", "overhead", label, t.status,
			       t.median_us, t.min_us, t.median_us / th.median_us, ir[0], ir[1]);
			json_object_object_add(jc, "args", json_object_new_string(label));
			json_object_object_add(jc, "exit", json_object_new_int(t.status));
			json_object_object_add(jc, "median_us", jnum(t.median_us));
			json_object_object_add(jc, "min_us", jnum(t.min_us));
			json_object_object_add(jc, "over_hello", jnum(t.median_us / th.median_us));
			if (cg) {
				json_object *jir = json_object_new_array();

				json_object_array_add(jir, json_object_new_int64(ir[0]));
				json_object_array_add(jir, json_object_new_int64(ir[1]));
				json_object_object_add(jc, "callgrind_ir", jir);
			}
			json_object_array_add(jcmds, jc);
		}
		json_object_object_add(jb, "commands", jcmds);
		json_object_array_add(jbins, jb);
	}
	json_object_object_add(top, "binaries", jbins);
	if (json_path && json_object_to_file_ext(json_path, top, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0) {
		fprintf(stderr, "bench_overhead: %s: %s\n", json_path, json_util_get_last_err());
		return 1;
	}
	json_object_put(top);
	return 0;
}
