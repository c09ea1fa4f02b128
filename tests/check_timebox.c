/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "timebox.h"

static int sleeper(void *arg)
{
	(void)arg;
	sleep(30);
	return 0;
}

static int busy(void *arg)
{
	(void)arg;
	return -EBUSY;
}

/* The child must not hold the parent's stdout/stderr or any other fd open. */
static int check_fds(void *arg)
{
	char target[64];
	ssize_t n;

	(void)arg;
	for (int fd = 0; fd <= 2; fd++) {
		char link[32];

		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			return -EBADF;
		target[n] = '\0';
		if (strcmp(target, "/dev/null"))
			return -EBADF;
	}
	if (fcntl(3, F_GETFD) != -1 || fcntl(9, F_GETFD) != -1)
		return -EMFILE;
	if (getsid(0) != getpid())
		return -EPERM;
	return 0;
}

/* As the one-shot child: its own session, 0-2 on /dev/null, nothing else open but its socket (fd 3). */
static int check_worker_fds(void *arg)
{
	struct stat st;
	int r = check_fds(arg);

	if (r != -EMFILE && r)
		return r;
	if (fstat(3, &st) < 0 || !S_ISSOCK(st.st_mode) || !(fcntl(3, F_GETFD) & FD_CLOEXEC))
		return -ENOTSOCK;
	for (int fd = 4; fd < 64; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			return -EMFILE;
	return 0;
}

START_TEST(returns_the_result)
{
	struct fx *fx = fx_new();
	struct gh_timebox tb;

	ck_assert_int_eq(gh_timebox_run(fx->ctx, 5000, busy, NULL, &tb), 0);
	ck_assert(!tb.timed_out);
	ck_assert_int_eq(tb.status, -EBUSY);
	fx_free(fx);
}
END_TEST

START_TEST(child_is_detached)
{
	struct fx *fx = fx_new();
	struct gh_timebox tb;
	int p[2];

	/* An inherited pipe (like PVE's) must be closed in the child. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(gh_timebox_run(fx->ctx, 5000, check_fds, NULL, &tb), 0);
	ck_assert_int_eq(tb.status, 0);
	/* And in the phase's worker, which keeps only its socket. */
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, check_worker_fds, NULL, 0, &tb), 0);
	ck_assert_int_eq(tb.status, 0);
	gh_timebox_worker_stop();
	close(p[0]);
	close(p[1]);
	fx_free(fx);
}
END_TEST

START_TEST(times_out_and_kills)
{
	struct fx *fx = fx_new();
	struct gh_ctx *real;
	struct gh_timebox tb;
	unsigned long long t0 = gh_timebox_now_ms();

	/* The child is a real process: its state is read from the real /proc. */
	ck_assert_int_eq(gh_ctx_new("/", &real), 0);
	ck_assert_int_eq(gh_timebox_run(real, 200, sleeper, NULL, &tb), 0);
	ck_assert(tb.timed_out);
	ck_assert_uint_ge(tb.elapsed_ms, 200);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, 2000);
	ck_assert_str_eq(tb.state, "S");
	ck_assert_str_ne(tb.wchan, "unknown");
	usleep(100000);
	/* SIGKILLed: a zombie now, or gone. */
	ck_assert(kill(tb.pid, 0) == 0 || errno == ESRCH);
	gh_ctx_free(real);
	fx_free(fx);
}
END_TEST

static int failing_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
	(void)fds;
	(void)n;
	(void)timeout_ms;
	errno = ENOMEM;
	return -1;
}

/* A poll failure (not EINTR) must not leave a wait without a deadline. */
START_TEST(poll_failure_keeps_the_deadline)
{
	struct fx *fx = fx_new();
	struct gh_timebox tb;
	unsigned long long t0;

	gh_timebox_poll = failing_poll;
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(gh_timebox_run(fx->ctx, 200, sleeper, NULL, &tb), 0);
	ck_assert_msg(tb.timed_out, "a child sleeping 30 s finished within a 200 ms box");
	ck_assert_uint_ge(tb.elapsed_ms, 200);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, 2000);
	/* And a child that ends in time still reports its result. */
	ck_assert_int_eq(gh_timebox_run(fx->ctx, 5000, busy, NULL, &tb), 0);
	ck_assert(!tb.timed_out);
	ck_assert_int_eq(tb.status, -EBUSY);
	gh_timebox_poll = poll;
	fx_free(fx);
}
END_TEST

/* What a worker call sees: a copy of the argument, which comes back with the answer. */
struct probe {
	int value;
	pid_t pid;
};

static int report_pid(void *arg)
{
	struct probe *p = arg;

	/* The worker's copy comes back to the caller. */
	p->pid = getpid();
	return p->value ? -p->value : 0;
}

/* One worker answers every call of a phase: the same pid, each call's own result. */
START_TEST(worker_answers_and_is_reused)
{
	struct fx *fx = fx_new();
	struct probe p = { EBUSY, 0 };
	struct gh_timebox tb1, tb2;

	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, report_pid, &p, sizeof(p), &tb1), 0);
	ck_assert(!tb1.timed_out);
	ck_assert_int_eq(tb1.status, -EBUSY);
	ck_assert_int_ne(tb1.pid, getpid());
	p.value = 0;
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, report_pid, &p, sizeof(p), &tb2), 0);
	ck_assert_int_eq(tb2.status, 0);
	ck_assert_int_eq(tb2.pid, tb1.pid);
	ck_assert_int_eq(p.pid, tb1.pid);
	gh_timebox_worker_stop();
	/* Stopped means reaped: no zombie is left. */
	ck_assert_int_eq(waitpid(tb1.pid, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	fx_free(fx);
}
END_TEST

/*
 * The end of a phase releases its worker: told to end, not waited for. It
 * exits on its own; the next worker's start reaps it (no zombie stays), and a
 * stop reaps one released and not yet reaped.
 */
START_TEST(released_worker_ends_and_is_reaped_later)
{
	struct fx *fx = fx_new();
	struct probe p = { 0, 0 };
	struct gh_timebox tb1, tb2;
	siginfo_t si;

	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, report_pid, &p, sizeof(p), &tb1), 0);
	gh_timebox_worker_release();
	ck_assert_int_eq(gh_timebox_worker_pid(), 0);
	/* It ends by itself: a zombie, not reaped (WNOWAIT), within a few seconds. */
	memset(&si, 0, sizeof(si));
	ck_assert_int_eq(waitid(P_PID, (id_t)tb1.pid, &si, WEXITED | WNOWAIT), 0);
	ck_assert_int_eq(si.si_pid, tb1.pid);
	ck_assert_int_eq(si.si_code, CLD_EXITED);
	/* The next call's worker is another; its start reaped the first. */
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, report_pid, &p, sizeof(p), &tb2), 0);
	ck_assert_int_ne(tb2.pid, tb1.pid);
	ck_assert_int_eq(waitpid(tb1.pid, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	/* Released, then stopped: reaped all the same. */
	gh_timebox_worker_release();
	gh_timebox_worker_stop();
	ck_assert_int_eq(waitpid(tb2.pid, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
	fx_free(fx);
}
END_TEST

/* A call that overruns leaves its worker behind (killed, not waited for); the next call gets a fresh one. */
START_TEST(worker_times_out_and_is_replaced)
{
	struct fx *fx = fx_new();
	struct gh_ctx *real;
	struct probe p = { 0, 0 };
	struct gh_timebox tb, tb2;
	unsigned long long t0 = gh_timebox_now_ms();

	ck_assert_int_eq(gh_ctx_new("/", &real), 0);
	ck_assert_int_eq(gh_timebox_call(real, 200, sleeper, NULL, 0, &tb), 0);
	ck_assert(tb.timed_out);
	ck_assert_uint_ge(tb.elapsed_ms, 200);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, 2000);
	ck_assert_str_eq(tb.state, "S");
	ck_assert_int_eq(gh_timebox_call(real, 5000, report_pid, &p, sizeof(p), &tb2), 0);
	ck_assert(!tb2.timed_out);
	ck_assert_int_eq(tb2.status, 0);
	ck_assert_int_ne(tb2.pid, tb.pid);
	usleep(100000);
	ck_assert(kill(tb.pid, 0) == 0 || errno == ESRCH);
	/* Another ctx (another root) is served by another worker. */
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, report_pid, &p, sizeof(p), &tb), 0);
	ck_assert_int_ne(tb.pid, tb2.pid);
	gh_timebox_worker_stop();
	gh_ctx_free(real);
	fx_free(fx);
}
END_TEST

START_TEST(worker_poll_failure_keeps_the_deadline)
{
	struct fx *fx = fx_new();
	struct probe p = { EIO, 0 };
	struct gh_timebox tb;
	unsigned long long t0;

	gh_timebox_poll = failing_poll;
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 200, sleeper, NULL, 0, &tb), 0);
	ck_assert_msg(tb.timed_out, "a worker sleeping 30 s answered within a 200 ms box");
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, 2000);
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, report_pid, &p, sizeof(p), &tb), 0);
	ck_assert(!tb.timed_out);
	ck_assert_int_eq(tb.status, -EIO);
	gh_timebox_poll = poll;
	gh_timebox_worker_stop();
	fx_free(fx);
}
END_TEST

START_TEST(worker_refuses_a_large_argument)
{
	struct fx *fx = fx_new();
	static char big[GH_TIMEBOX_ARG_MAX + 1];
	struct gh_timebox tb;

	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, busy, big, sizeof(big), &tb), -E2BIG);
	fx_free(fx);
}
END_TEST

/* What the worker logs inside a call reaches the caller's log (its own stderr is /dev/null). */
struct say {
	struct gh_ctx *ctx;
};

static int say_something(void *arg)
{
	const struct say *w = arg;

	gh_info(w->ctx, "said in the worker, pid %d", (int)getpid());
	gh_dbg(w->ctx, "and a debug line");
	return 0;
}

START_TEST(worker_log_reaches_the_caller)
{
	struct fx *fx = fx_new();
	struct say w = { fx->ctx };
	struct gh_timebox tb;
	char want[64];

	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, say_something, &w, sizeof(w), &tb), 0);
	ck_assert_int_eq(tb.status, 0);
	snprintf(want, sizeof(want), "said in the worker, pid %d", (int)tb.pid);
	ck_assert_msg(fx_log_has(fx, want), "log: %s", fx->log);
	ck_assert(fx_log_has(fx, "and a debug line"));
	/* Logged once, by the parent, and not again on the next call. */
	fx_log_clear(fx);
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, busy, NULL, 0, &tb), 0);
	ck_assert(!fx_log_has(fx, "said in the worker"));
	gh_timebox_worker_stop();
	fx_free(fx);
}
END_TEST

/*
 * A worker shares our memory: one that overruns is killed only once it
 * sits in a system call, never halfway through its own code (it might be
 * in malloc). This one computes past its deadline, then marks that it got
 * to its sleep: the mark must be there when the call returns.
 */
static volatile int reached_sleep;

static int compute_then_sleep(void *arg)
{
	unsigned long long until = gh_timebox_now_ms() + 400;

	(void)arg;
	while (gh_timebox_now_ms() < until)
		;
	reached_sleep = 1;
	sleep(30);
	return 0;
}

static int compute_forever(void *arg)
{
	(void)arg;
	for (;;)
		reached_sleep++;
	return 0;
}

/* After an overrun: a fresh worker answers the next call. */
static void fresh_worker_answers(struct gh_ctx *ctx, pid_t old)
{
	struct probe p = { 0, 0 };
	struct gh_timebox tb;

	ck_assert_int_eq(gh_timebox_call(ctx, 5000, report_pid, &p, sizeof(p), &tb), 0);
	ck_assert(!tb.timed_out);
	ck_assert_int_eq(tb.status, 0);
	ck_assert_int_ne(tb.pid, old);
	ck_assert_int_eq(p.pid, tb.pid);
}

START_TEST(overrun_worker_is_killed_in_a_system_call)
{
	struct fx *fx = fx_new();
	struct gh_ctx *real;
	struct gh_timebox tb;
	unsigned long long t0 = gh_timebox_now_ms();

	ck_assert_int_eq(gh_ctx_new("/", &real), 0);
	reached_sleep = 0;
	ck_assert_int_eq(gh_timebox_call(real, 100, compute_then_sleep, NULL, 0, &tb), 0);
	ck_assert(tb.timed_out);
	ck_assert_msg(reached_sleep == 1, "the worker was killed in its own code, before its sleep");
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, 1500);
	ck_assert(!fx_log_has(fx, "ran its own code"));
	/* One that never makes a call is killed where it is after the grace, and said so. */
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 100, compute_forever, NULL, 0, &tb), 0);
	ck_assert(tb.timed_out);
	ck_assert_uint_ge(gh_timebox_now_ms() - t0, 1000);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, 3000);
	ck_assert_msg(fx_log_has(fx, "ran its own code for 1000 ms past its deadline"), "log: %s", fx->log);
	/* The next call gets a fresh worker, and our memory still serves. */
	fresh_worker_answers(fx->ctx, tb.pid);
	free(malloc(4096));
	gh_timebox_worker_stop();
	gh_ctx_free(real);
	fx_free(fx);
}
END_TEST

/* Where no shared worker can run (valgrind, a failing clone()), a forked one serves the same way. */
START_TEST(forked_worker_serves_alike)
{
	struct fx *fx = fx_new();
	struct probe p = { EBUSY, 0 };
	struct gh_timebox tb, tb2;

	gh_timebox_shared = false;
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, check_worker_fds, NULL, 0, &tb), 0);
	ck_assert_int_eq(tb.status, 0);
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 5000, report_pid, &p, sizeof(p), &tb2), 0);
	ck_assert_int_eq(tb2.status, -EBUSY);
	ck_assert_int_eq(p.pid, tb.pid);
	ck_assert_int_eq(gh_timebox_call(fx->ctx, 200, sleeper, NULL, 0, &tb2), 0);
	ck_assert(tb2.timed_out);
	fresh_worker_answers(fx->ctx, tb.pid);
	gh_timebox_worker_stop();
	gh_timebox_shared = true;
	fx_free(fx);
}
END_TEST

static bool exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

/* A new entry wakes the wait at once (inotify), well before the 100 ms re-check; none: false after ms. */
START_TEST(wait_until_wakes_on_a_new_entry)
{
	struct fx *fx = fx_new();
	char dir[4096], file[4200];
	unsigned long long t0;
	pid_t pid;

	fx_mkdir(fx, "/dev/vfio");
	snprintf(dir, sizeof(dir), "%s", fx_path(fx, "/dev/vfio"));
	snprintf(file, sizeof(file), "%s/7", dir);
	t0 = gh_timebox_now_ms();
	ck_assert(!gh_timebox_wait_until(150, dir, false, exists, file));
	ck_assert_uint_ge(gh_timebox_now_ms() - t0, 150);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		usleep(30000);
		_exit(creat(file, 0600) < 0);
	}
	t0 = gh_timebox_now_ms();
	ck_assert(gh_timebox_wait_until(5000, dir, false, exists, file));
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, 1000);
	waitpid(pid, NULL, 0);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("timebox");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, returns_the_result);
	tcase_add_test(tc, child_is_detached);
	tcase_add_test(tc, times_out_and_kills);
	tcase_add_test(tc, poll_failure_keeps_the_deadline);
	tcase_add_test(tc, worker_answers_and_is_reused);
	tcase_add_test(tc, released_worker_ends_and_is_reaped_later);
	tcase_add_test(tc, worker_times_out_and_is_replaced);
	tcase_add_test(tc, worker_poll_failure_keeps_the_deadline);
	tcase_add_test(tc, worker_refuses_a_large_argument);
	tcase_add_test(tc, wait_until_wakes_on_a_new_entry);
	tcase_add_test(tc, worker_log_reaches_the_caller);
	tcase_add_test(tc, overrun_worker_is_killed_in_a_system_call);
	tcase_add_test(tc, forked_worker_serves_alike);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
