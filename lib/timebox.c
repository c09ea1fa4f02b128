/* SPDX-License-Identifier: MIT */
#include "timebox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"

int (*gh_timebox_poll)(struct pollfd *fds, nfds_t n, int timeout_ms) = poll;

unsigned long long gh_timebox_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

static void child_setup(void)
{
	int fd;

	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	syscall(SYS_close_range, 3U, ~0U, 0U);
}

static void read_child_state(struct gh_ctx *ctx, struct gh_timebox *out)
{
	char stat[512];
	char *rp;

	snprintf(out->state, sizeof(out->state), "unknown");
	snprintf(out->wchan, sizeof(out->wchan), "unknown");
	/* "pid (comm) S ...": comm may hold spaces and parentheses, so look for the last ')'. */
	if (gh_fs_read_str(ctx, stat, sizeof(stat), "/proc/%d/stat", (int)out->pid) > 0) {
		rp = strrchr(stat, ')');
		if (rp && rp[1] == ' ' && rp[2])
			snprintf(out->state, sizeof(out->state), "%c", rp[2]);
	}
	if (gh_fs_read_str(ctx, out->wchan, sizeof(out->wchan), "/proc/%d/wchan", (int)out->pid) < 0)
		snprintf(out->wchan, sizeof(out->wchan), "unknown");
}

static void timed_out(struct gh_ctx *ctx, unsigned long long start, struct gh_timebox *out)
{
	out->timed_out = true;
	out->elapsed_ms = (unsigned)(gh_timebox_now_ms() - start);
	read_child_state(ctx, out);
	kill(out->pid, SIGKILL);
}

static void finished(int st, unsigned long long start, struct gh_timebox *out)
{
	out->elapsed_ms = (unsigned)(gh_timebox_now_ms() - start);
	out->status = WIFEXITED(st) ? -WEXITSTATUS(st) : -EINTR;
}

/* Kernels before 5.3 (and valgrind) have no pidfd_open: poll the child instead. */
static int wait_polling(struct gh_ctx *ctx, unsigned long long deadline, unsigned long long start,
			struct gh_timebox *out)
{
	for (;;) {
		int st;
		pid_t r = waitpid(out->pid, &st, WNOHANG);

		if (r == out->pid) {
			finished(st, start, out);
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (gh_timebox_now_ms() >= deadline) {
			timed_out(ctx, start, out);
			return 0;
		}
		usleep(2000);
	}
}

int gh_timebox_run(struct gh_ctx *ctx, unsigned timeout_ms, int (*fn)(void *arg), void *arg, struct gh_timebox *out)
{
	unsigned long long start = gh_timebox_now_ms(), deadline = start + timeout_ms;
	int pidfd, st, r;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_setup();
		r = fn(arg);
		_exit(r < 0 ? (-r > 255 ? 255 : -r) : 0);
	}
	out->pid = pid;
	/*
	 * No wait here is without the deadline: a child stuck in a sysfs write
	 * is in D state and ignores SIGKILL, so a blocking waitpid() would hang
	 * the hook with it. Without a pidfd (ENOSYS, EMFILE) or when poll()
	 * fails, the polling waiter keeps the same deadline.
	 */
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return wait_polling(ctx, deadline, start, out);
	for (;;) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		unsigned long long now = gh_timebox_now_ms();
		int left = now >= deadline ? 0 : (int)(deadline - now);

		r = gh_timebox_poll(&pfd, 1, left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(pidfd);
			return wait_polling(ctx, deadline, start, out);
		}
		if (r > 0)
			break;
		/* Timed out: record what the child is stuck in, kill it, do not wait for it. */
		timed_out(ctx, start, out);
		close(pidfd);
		return 0;
	}
	close(pidfd);
	/* The pidfd is readable once the child has exited: this wait returns at once. */
	if (waitpid(pid, &st, WNOHANG) != pid)
		return wait_polling(ctx, deadline, start, out);
	finished(st, start, out);
	return 0;
}
