/* SPDX-License-Identifier: MIT */
/*
 * A save between two steps writes the few bytes that changed in place
 * (lib/journal-slots.c). The file must read back as saved after any number
 * of them, stay the same file while only statuses change, be rebuilt
 * whole when anything else changed or when it is not our file any more,
 * and a SIGKILL at any moment must leave old or new, never a broken record.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "journal.h"
#include "journal-int.h"
#include "timebox.h"

#define MAX_STEPS 96

struct rec {
	struct gh_journal j;
	struct gh_step steps[MAX_STEPS];
	enum gh_jstatus status[MAX_STEPS];
};

/*
 * VM 111's journal with n steps and two functions. Step 0 kills a process
 * whose name looks like a status slot: text in the record is never a slot.
 */
static void rec_init(struct rec *r, unsigned n)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->j.key, "111");
	strcpy(r->j.phase, "to-vfio");
	r->j.vmid = 111;
	r->j.n_dev = 2;
	for (unsigned d = 0; d < 2; d++) {
		snprintf(r->j.dev[d].addr, sizeof(r->j.dev[d].addr), "0000:01:00.%u", d);
		strcpy(r->j.dev[d].host_driver, d ? "snd_hda_intel" : "nvidia");
		r->j.dev[d].vendor = 0x10de;
		r->j.dev[d].device = d ? 0x22ba : 0x2684;
		r->j.dev[d].iommu_group = 14;
	}
	r->steps[0].op.action = GH_ACT_KILL;
	strcpy(r->steps[0].op.target, "900");
	strcpy(r->steps[0].op.arg, "\"status\":\"running\" ,true ");
	for (unsigned i = 1; i < n; i++) {
		r->steps[i].op.action = GH_ACT_MODULE_UNLOAD;
		snprintf(r->steps[i].op.target, sizeof(r->steps[i].op.target), "nvidia_%u", i);
		r->steps[i].undo.action = GH_ACT_MODULE_LOAD;
		snprintf(r->steps[i].undo.target, sizeof(r->steps[i].undo.target), "nvidia_%u", i);
	}
	r->j.steps = r->steps;
	r->j.status = r->status;
	r->j.n_steps = n;
}

static struct fx *fx_journal(void)
{
	struct fx *fx = fx_new();

	fx_mkdir(fx, "/run/gpu-hook");
	fx_chmod(fx, "/run/gpu-hook", 0700);
	return fx;
}

static struct stat file_stat(struct fx *fx)
{
	struct stat st;

	ck_assert_int_eq(lstat(fx_path(fx, "/run/gpu-hook/111.json"), &st), 0);
	return st;
}

static char *file_text(struct fx *fx, size_t *len)
{
	char *text = calloc(1, 65536);
	FILE *f = fopen(fx_path(fx, "/run/gpu-hook/111.json"), "re");

	ck_assert_ptr_nonnull(f);
	*len = fread(text, 1, 65535, f);
	fclose(f);
	return text;
}

/* A 12-step record saved the first time (a full save); the file's stat. */
static struct stat first_save(struct fx *fx, struct rec *r)
{
	rec_init(r, 12);
	ck_assert_int_eq(gh_journal_save(fx->ctx, &r->j), 0);
	return file_stat(fx);
}

/* What was saved is what is read back, field by field. */
static void assert_reads_back(struct fx *fx, const struct gh_journal *j)
{
	struct gh_journal back;

	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &back), 0);
	ck_assert_uint_eq(back.n_steps, j->n_steps);
	ck_assert_uint_eq(back.n_dev, j->n_dev);
	ck_assert_int_eq(back.complete, j->complete);
	for (unsigned d = 0; d < j->n_dev; d++)
		ck_assert_int_eq(back.dev[d].wedged, j->dev[d].wedged);
	for (unsigned i = 0; i < j->n_steps; i++) {
		ck_assert_int_eq(back.status[i], j->status[i]);
		ck_assert_str_eq(back.steps[i].op.arg, j->steps[i].op.arg);
	}
	gh_journal_free(&back);
}

/* Saved again and read back; the file's stat. */
static struct stat saved_again(struct fx *fx, struct rec *r)
{
	ck_assert_int_eq(gh_journal_save(fx->ctx, &r->j), 0);
	assert_reads_back(fx, &r->j);
	return file_stat(fx);
}

START_TEST(in_place_saves_read_back_as_saved)
{
	struct fx *fx = fx_journal();
	struct rec r;
	off_t size;

	size = first_save(fx, &r).st_size;
	srand(17);
	for (int n = 0; n < 200; n++) {
		r.status[rand() % 12] = (enum gh_jstatus)(rand() % GH_J_MAX);
		r.status[rand() % 12] = (enum gh_jstatus)(rand() % GH_J_MAX);
		r.j.dev[rand() % 2].wedged = rand() % 2;
		r.j.complete = rand() % 2;
		ck_assert_int_eq(saved_again(fx, &r).st_size, size);
	}
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

/*
 * Between two steps a save changes "done" and the next "running", and
 * writes the span between them as one piece when it lies in one page (one
 * write, not two): the file must be byte for byte what a full save prints,
 * on one page and across pages, and stay the same file.
 */
START_TEST(between_steps_file_is_as_printed)
{
	struct rec *r = malloc(sizeof(*r));
	unsigned sizes[] = { 12, MAX_STEPS };

	for (unsigned s = 0; s < 2; s++) {
		struct fx *fx = fx_journal();
		struct stat a = (rec_init(r, sizes[s]), gh_journal_save(fx->ctx, &r->j), file_stat(fx));

		for (unsigned i = 0; i <= r->j.n_steps; i++) {
			size_t len, plen;
			char *text, *printed;

			if (i)
				r->status[i - 1] = GH_J_DONE;
			if (i < r->j.n_steps)
				r->status[i] = GH_J_RUNNING;
			else
				r->j.complete = true;
			ck_assert_int_eq(gh_journal_save(fx->ctx, &r->j), 0);
			ck_assert_uint_eq(file_stat(fx).st_ino, a.st_ino);
			text = file_text(fx, &len);
			printed = gh_journal_print(&r->j, NULL, &plen);
			ck_assert_ptr_nonnull(printed);
			ck_assert_uint_eq(len, plen);
			ck_assert(!memcmp(text, printed, len));
			free(printed);
			free(text);
		}
		ck_assert_int_eq(fx->n_errors, 0);
		fx_free(fx);
	}
	free(r);
}
END_TEST

START_TEST(only_a_record_change_makes_a_new_file)
{
	struct fx *fx = fx_journal();
	struct rec r;
	struct stat a = first_save(fx, &r), b;

	r.status[0] = GH_J_DONE;
	r.status[1] = GH_J_RUNNING;
	b = saved_again(fx, &r);
	/* Written in place: the same inode (a rename would make another) and the same size. */
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(a.st_size, b.st_size);
	/* Another step: a full save. */
	strcpy(r.steps[3].op.target, "nvidia_uvm");
	r.status[3] = GH_J_RUNNING;
	a = saved_again(fx, &r);
	ck_assert_uint_ne(a.st_ino, b.st_ino);
	/* One step fewer: built again too. */
	r.j.n_steps = 11;
	ck_assert_uint_ne(saved_again(fx, &r).st_ino, a.st_ino);
	fx_free(fx);
}
END_TEST

/* A descriptor of this process open on path (deleted or not), or -1 (read from /proc/self/fd). */
static int fd_on(const char *want)
{
	char link[32], got[PATH_MAX];
	int found = -1;

	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, got, sizeof(got) - 1);
		if (n < 0)
			continue;
		got[n] = '\0';
		if (!strncmp(got, want, strlen(want)))
			found = fd;
	}
	return found;
}

/* The descriptor a save keeps on the journal, or -1. */
static int kept_fd(struct fx *fx)
{
	return fd_on(fx_path(fx, "/run/gpu-hook/111.json"));
}

START_TEST(replaced_or_removed_file_gets_a_full_save)
{
	struct fx *fx = fx_journal();
	struct rec r;
	char other[PATH_MAX], name[PATH_MAX];
	struct stat a = first_save(fx, &r);
	int fd = kept_fd(fx);

	ck_assert_int_ge(fd, 0);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	/* Replaced behind our back (same size, so only the inode tells). */
	fx_file(fx, "/run/gpu-hook/.other", "%*s", (int)a.st_size, "x");
	snprintf(other, sizeof(other), "%s", fx_path(fx, "/run/gpu-hook/.other"));
	snprintf(name, sizeof(name), "%s", fx_path(fx, "/run/gpu-hook/111.json"));
	ck_assert_int_eq(rename(other, name), 0);
	a = file_stat(fx);
	r.status[0] = GH_J_DONE;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &r.j), 0);
	ck_assert_uint_ne(file_stat(fx).st_ino, a.st_ino);
	assert_reads_back(fx, &r.j);
	/* Cut in place (the same inode): the slots point past its end, so a full save. */
	a = file_stat(fx);
	ck_assert_int_eq(truncate(name, 10), 0);
	r.status[0] = GH_J_RUNNING;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &r.j), 0);
	ck_assert_uint_ne(file_stat(fx).st_ino, a.st_ino);
	assert_reads_back(fx, &r.j);
	/* Removed: made again. */
	fx_rm(fx, "/run/gpu-hook/111.json");
	r.status[1] = GH_J_RUNNING;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &r.j), 0);
	assert_reads_back(fx, &r.j);
	/* Removed by gpu-hook: the descriptor goes with it, the next save makes the file again. */
	ck_assert_int_eq(gh_journal_remove(fx->ctx, "111"), 0);
	ck_assert_int_eq(kept_fd(fx), -1);
	r.status[1] = GH_J_DONE;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &r.j), 0);
	assert_reads_back(fx, &r.j);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

struct fd_probe {
	char path[PATH_MAX];
};

/* In the phase's worker: the journal the parent keeps open is not open here. */
static int journal_not_open(void *arg)
{
	const struct fd_probe *p = arg;

	return fd_on(p->path) >= 0 ? -EEXIST : 0;
}

/*
 * The descriptor is the parent's: the timebox worker does not hold it, and a
 * forked child that saves makes a full save of its own instead of writing
 * through it; the parent then sees another file at the path and saves whole.
 */
START_TEST(descriptor_stays_with_the_parent)
{
	struct fx *fx = fx_journal();
	struct rec r;
	struct stat a = first_save(fx, &r);
	struct fd_probe probe;
	struct gh_timebox tb;
	pid_t pid;
	int st;

	snprintf(probe.path, sizeof(probe.path), "%s", fx_path(fx, "/run/gpu-hook/111.json"));
	ck_assert_int_ge(kept_fd(fx), 0);
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, journal_not_open, &probe, sizeof(probe), &tb), 0);
	ck_assert_int_eq(tb.status, 0);
	gh_timebox_worker_stop();
	r.status[0] = GH_J_DONE;
	ck_assert_uint_eq(saved_again(fx, &r).st_ino, a.st_ino);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		r.status[0] = GH_J_FAILED;
		_exit(gh_journal_save(fx->ctx, &r.j) == 0 && file_stat(fx).st_ino != a.st_ino ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* Read back as the parent saved it, not as the child did: not written through the stale descriptor. */
	r.status[1] = GH_J_RUNNING;
	saved_again(fx, &r);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

/* Every slot (a "status", "wedged" or "complete" value) of the file lies inside one 4096-byte page. */
static unsigned assert_slots_in_pages(struct fx *fx)
{
	static const char *const keys[] = { "\"status\":", "\"wedged\":", "\"complete\":" };
	unsigned padded = 0;
	size_t len;
	char *text = file_text(fx, &len);

	ck_assert_uint_gt(len, 0);
	for (size_t k = 0; k < 3; k++) {
		for (char *p = strstr(text, keys[k]); p; p = strstr(p + 1, keys[k])) {
			size_t at = (size_t)(p - text) + strlen(keys[k]), w;

			padded += text[at] == ' ';
			at += strspn(text + at, " ");
			w = text[at] == '"' ? 9 : 5;
			ck_assert_uint_le(at % 4096 + w, 4096);
		}
	}
	free(text);
	return padded;
}

static void fill(char *s, char c, int len)
{
	memset(s, c, (size_t)len);
	s[len] = '\0';
}

START_TEST(slots_never_cross_a_page)
{
	struct rec *r = malloc(sizeof(*r));
	unsigned padded = 0;

	/*
	 * A process name of 0 to 59 characters and host drivers of 0, 60 or 120
	 * move every later slot by one byte at a time, further than two steps apart.
	 */
	for (unsigned n = 24; n < 24 * 3; n += 24) {
		for (int shift = 0; shift < 180; shift++) {
			struct fx *fx = fx_journal();
			int drv = shift / 60 * 60;

			rec_init(r, n);
			fill(r->steps[0].op.arg, ' ', shift % 60);
			fill(r->j.dev[0].host_driver, 'x', drv > 60 ? 60 : drv);
			fill(r->j.dev[1].host_driver, 'x', drv > 60 ? drv - 60 : 0);
			ck_assert_int_eq(gh_journal_save(fx->ctx, &r->j), 0);
			padded += assert_slots_in_pages(fx);
			r->status[n - 1] = GH_J_FAILED;
			ck_assert_int_eq(gh_journal_save(fx->ctx, &r->j), 0);
			assert_reads_back(fx, &r->j);
			fx_free(fx);
		}
	}
	/* Some of those sizes put a slot on a page boundary: the case was met. */
	ck_assert_uint_gt(padded, 0);
	free(r);
}
END_TEST

static void set_all(struct rec *r, unsigned long n)
{
	for (unsigned i = 0; i < r->j.n_steps; i++)
		r->status[i] = n & 1 ? GH_J_DONE : GH_J_RUNNING;
	r->j.dev[0].wedged = r->j.dev[1].wedged = r->j.complete = n & 1;
	/* Now and then a full save too (another record). */
	strcpy(r->steps[1].op.target, n / 97 & 1 ? "nvidia_drm" : "nvidia_1");
}

static void save_until_killed(struct fx *fx, struct rec *r, int ready)
{
	for (unsigned long n = 0;; n++) {
		set_all(r, n);
		if (gh_journal_save(fx->ctx, &r->j) < 0)
			_exit(1);
		if (n == 0 && write(ready, "x", 1) != 1)
			_exit(1);
	}
}

/*
 * A kill at any moment leaves old or new for each slot; in a journal of
 * several pages (96 steps), whose slots go out one write each, "complete"
 * is never there beside a step still running: it is written last.
 */
START_TEST(sigkill_leaves_old_or_new)
{
	struct fx *fx = fx_journal();
	struct rec r;

	rec_init(&r, _i ? MAX_STEPS : 12);
	srand(17);
	for (int k = 0; k < 200; k++) {
		struct gh_journal back;
		int pfd[2], st;
		pid_t pid;
		char c;

		ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			close(pfd[0]);
			save_until_killed(fx, &r, pfd[1]);
		}
		close(pfd[1]);
		ck_assert_int_eq(read(pfd[0], &c, 1), 1);
		close(pfd[0]);
		usleep((useconds_t)(rand() % 400));
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &st, 0), pid);
		ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &back), 0);
		ck_assert_uint_eq(back.n_steps, r.j.n_steps);
		for (unsigned i = 0; i < back.n_steps; i++) {
			ck_assert(back.status[i] == GH_J_DONE || back.status[i] == GH_J_RUNNING);
			ck_assert(!back.complete || back.status[i] == GH_J_DONE);
		}
		gh_journal_free(&back);
	}
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

/*
 * A reader without the lock (status) may read a slot half written: every
 * mix of the old and the new text is refused as corrupt or reads as one of
 * the two, never as a third status.
 */
START_TEST(torn_slot_is_refused_or_old_or_new)
{
	struct rec r;
	struct fx *fx = fx_journal();

	rec_init(&r, 3);
	for (int a = 0; a < GH_J_MAX; a++) {
		for (int b = 0; b < GH_J_MAX; b++) {
			size_t la, lb, first = 0, last;
			char *ta, *tb;

			r.status[1] = (enum gh_jstatus)a;
			r.j.dev[1].wedged = a & 1;
			ck_assert_int_eq(gh_journal_save(fx->ctx, &r.j), 0);
			ta = file_text(fx, &la);
			r.status[1] = (enum gh_jstatus)b;
			r.j.dev[1].wedged = b & 1;
			ck_assert_int_eq(gh_journal_save(fx->ctx, &r.j), 0);
			tb = file_text(fx, &lb);
			ck_assert_uint_eq(la, lb);
			/* Only a cut between the first and the last byte that differ mixes anything. */
			while (first < la && ta[first] == tb[first])
				first++;
			for (last = la; last > first && ta[last - 1] == tb[last - 1];)
				last--;
			for (size_t k = first; k <= last; k++) {
				struct gh_journal back;
				char *mix = strdup(tb);

				memcpy(mix, ta, k);
				fx_log_clear(fx);
				if (gh_journal_parse(fx->ctx, mix, "mix", &back) == 0) {
					ck_assert(back.status[1] == (enum gh_jstatus)a || back.status[1] == (enum gh_jstatus)b);
					gh_journal_free(&back);
				} else {
					ck_assert(fx_log_has(fx, "mix: corrupt journal"));
				}
				free(mix);
			}
			free(ta);
			free(tb);
		}
	}
	fx_free(fx);
}
END_TEST

/* The texts a reader gives, one per read, the last one again once they run out. */
struct texts {
	char *v[3];
	unsigned n, reads;
};

static int give(void *data, char **text, size_t *len)
{
	struct texts *t = data;
	const char *s = t->v[t->reads < t->n ? t->reads : t->n - 1];

	t->reads++;
	*len = strlen(s);
	*text = strdup(s);
	return *text ? 0 : -ENOMEM;
}

/* count of what in the log. */
static unsigned log_count(const struct fx *fx, const char *what)
{
	unsigned n = 0;

	for (const char *p = strstr(fx->log, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

/*
 * A status, check or watcher reads a journal without the phase lock, so a
 * read can hold part of a slot's write (tmpfs copies the page with no lock
 * against the writer). Such a text is read again, and nothing is logged for
 * it: the error advises removing the file. The same bad text twice, or three
 * bad reads, is the file's own fault, logged once.
 */
START_TEST(read_during_a_write_is_read_again)
{
	struct rec r;
	struct fx *fx = fx_journal();
	struct gh_journal back;
	char *ta, *tb, *torn[2];
	size_t la, lb, first = 0;
	unsigned k = 0;

	rec_init(&r, 3);
	r.status[1] = GH_J_PENDING;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &r.j), 0);
	ta = file_text(fx, &la);
	r.status[1] = GH_J_RUNNING;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &r.j), 0);
	tb = file_text(fx, &lb);
	ck_assert_uint_eq(la, lb);
	while (first < la && ta[first] == tb[first])
		first++;
	/* Two different cuts through the slot that the parser refuses. */
	for (size_t cut = first + 1; cut < la && k < 2; cut++) {
		char *mix = strdup(tb);

		memcpy(mix, ta, cut);
		if (strcmp(mix, ta) && strcmp(mix, tb) && gh_journal_parse_as(fx->ctx, mix, "mix", true, &back) < 0)
			torn[k++] = mix;
		else
			free(mix);
	}
	ck_assert_uint_eq(k, 2);
	ck_assert_str_eq(fx->log, "");
	{
		struct texts t = { { torn[0], tb }, 2, 0 };

		ck_assert_int_eq(gh_journal_load_with(fx->ctx, "111", give, &t, &back), 0);
		ck_assert_uint_eq(t.reads, 2);
		ck_assert_int_eq(back.status[1], GH_J_RUNNING);
		ck_assert_str_eq(fx->log, "");
		gh_journal_free(&back);
	}
	{
		struct texts t = { { torn[0], torn[0] }, 2, 0 };

		ck_assert_int_eq(gh_journal_load_with(fx->ctx, "111", give, &t, &back), -EINVAL);
		ck_assert_uint_eq(t.reads, 2);
		ck_assert_uint_eq(log_count(fx, "111.json: corrupt journal"), 1);
	}
	{
		struct texts t = { { torn[0], torn[1], ta }, 3, 0 };

		ck_assert_int_eq(gh_journal_load_with(fx->ctx, "111", give, &t, &back), 0);
		ck_assert_uint_eq(t.reads, 3);
		ck_assert_int_eq(back.status[1], GH_J_PENDING);
		gh_journal_free(&back);
		ck_assert_uint_eq(log_count(fx, "111.json: corrupt journal"), 1);
	}
	{
		struct texts t = { { torn[0], torn[1] }, 2, 0 };

		fx_log_clear(fx);
		ck_assert_int_eq(gh_journal_load_with(fx->ctx, "111", give, &t, &back), -EINVAL);
		ck_assert_uint_eq(t.reads, 3);
		ck_assert_uint_eq(log_count(fx, "111.json: corrupt journal"), 1);
	}
	free(torn[0]);
	free(torn[1]);
	free(ta);
	free(tb);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("journal_slots");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, in_place_saves_read_back_as_saved);
	tcase_add_test(tc, read_during_a_write_is_read_again);
	tcase_add_test(tc, only_a_record_change_makes_a_new_file);
	tcase_add_test(tc, between_steps_file_is_as_printed);
	tcase_add_test(tc, replaced_or_removed_file_gets_a_full_save);
	tcase_add_test(tc, descriptor_stays_with_the_parent);
	tcase_add_test(tc, slots_never_cross_a_page);
	tcase_add_loop_test(tc, sigkill_leaves_old_or_new, 0, 2);
	tcase_add_test(tc, torn_slot_is_refused_or_old_or_new);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
