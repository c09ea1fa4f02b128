/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

int main(void)
{
	Suite *s = suite_create("timebox");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, returns_the_result);
	tcase_add_test(tc, child_is_detached);
	tcase_add_test(tc, times_out_and_kills);
	tcase_add_test(tc, poll_failure_keeps_the_deadline);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
