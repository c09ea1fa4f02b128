/* SPDX-License-Identifier: MIT */
#include "timebox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <syslog.h>
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

/*
 * Every fd from first up is closed: a worker keeps its socket on fd 3.
 * closelog() first: the parent's syslog connection is most often fd 3, and
 * glibc's syslog() in the child would go on sending to that number, by then
 * the worker's socket to the parent or a sysfs file the child opened.
 */
static void child_setup(unsigned first)
{
	int fd;

	closelog();
	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	syscall(SYS_close_range, first, ~0U, 0U);
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
		child_setup(3);
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

/* The worker: one process for the steps of a phase (see timebox.h). */

struct request {
	int (*fn)(void *arg);
	size_t size;
	max_align_t arg[];
};

static struct {
	pid_t pid;
	int fd;	/* the parent's end of the socket pair; -1: no worker */
	const struct gh_ctx *ctx;
	const struct gh_ops *ops;
	const void *ops_data;
	char root[PATH_MAX];
} worker = { .fd = -1 };

static int clamp_status(int r)
{
	return r < 0 ? (-r > 255 ? -255 : r) : 0;
}

static __attribute__((noreturn)) void worker_main(void)
{
	size_t cap = sizeof(struct request) + GH_TIMEBOX_ARG_MAX;
	struct request *rq = malloc(cap);
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	if (!rq)
		_exit(ENOMEM);
	for (;;) {
		/* SOCK_SEQPACKET: one request is one message, whole or not at all. */
		ssize_t n = recv(3, rq, cap, 0);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		if ((size_t)n < sizeof(*rq) || rq->size != (size_t)n - sizeof(*rq))
			_exit(EPROTO);
		r = clamp_status(rq->fn(rq->arg));
		/* The answer: the status, then the argument as fn left it. */
		iov[0] = (struct iovec){ &r, sizeof(r) };
		iov[1] = (struct iovec){ rq->arg, rq->size };
		if (sendmsg(3, &msg, MSG_NOSIGNAL) != (ssize_t)(sizeof(r) + rq->size))
			_exit(0);
	}
}

static bool worker_serves(const struct gh_ctx *ctx)
{
	return worker.fd >= 0 && worker.ctx == ctx && worker.ops == gh_ctx_ops(ctx) && worker.ops_data == gh_ctx_ops_data(ctx) &&
	       !strcmp(worker.root, gh_ctx_root(ctx));
}

static int worker_start(struct gh_ctx *ctx)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (pid == 0) {
		/* fd 3, not inherited by what the worker executes (systemctl); syslog's may be 3 (child_setup). */
		closelog();
		if (dup3(sv[1], 3, O_CLOEXEC) < 0 && sv[1] != 3)
			_exit(EBADF);
		child_setup(4);
		worker_main();
	}
	close(sv[1]);
	worker.pid = pid;
	worker.fd = sv[0];
	worker.ctx = ctx;
	worker.ops = gh_ctx_ops(ctx);
	worker.ops_data = gh_ctx_ops_data(ctx);
	snprintf(worker.root, sizeof(worker.root), "%s", gh_ctx_root(ctx));
	return 0;
}

/* Waits at most ms for pid to end and reaps it; one that does not end is left to init. */
static void reap_within(pid_t pid, unsigned ms)
{
	unsigned long long deadline = gh_timebox_now_ms() + ms;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		while (poll(&pfd, 1, (int)ms) < 0 && errno == EINTR)
			;
		close(pidfd);
	}
	while (waitpid(pid, NULL, WNOHANG) == 0 && gh_timebox_now_ms() < deadline)
		usleep(1000);
}

void gh_timebox_worker_stop(void)
{
	if (worker.fd < 0)
		return;
	/* An idle worker reads end-of-file and exits at once. */
	close(worker.fd);
	worker.fd = -1;
	reap_within(worker.pid, 200);
	worker.pid = 0;
}

/* A worker that overran: recorded, SIGKILLed and left behind; the next call forks another. */
static void worker_abandon(struct gh_ctx *ctx, unsigned long long start, struct gh_timebox *out)
{
	timed_out(ctx, start, out);
	close(worker.fd);
	worker.fd = -1;
	worker.pid = 0;
}

/* 1 with the answer in out->status and arg, 0 when none came yet, -errno when the worker is gone. */
static int worker_answer(struct gh_timebox *out, void *arg, size_t size)
{
	struct iovec iov[2] = { { &out->status, sizeof(out->status) }, { arg, size } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n = recvmsg(worker.fd, &msg, MSG_DONTWAIT);

	if (n == (ssize_t)(sizeof(out->status) + size))
		return 1;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	return n < 0 ? -errno : -EPIPE;
}

static int worker_wait(struct gh_ctx *ctx, unsigned long long start, unsigned long long deadline, void *arg,
		       size_t size, struct gh_timebox *out)
{
	bool polling = false;

	for (;;) {
		struct pollfd pfd = { .fd = worker.fd, .events = POLLIN };
		unsigned long long now = gh_timebox_now_ms();
		int left = now >= deadline ? 0 : (int)(deadline - now), r = 0;

		if (!polling) {
			r = gh_timebox_poll(&pfd, 1, left);
			if (r < 0 && errno == EINTR)
				continue;
			/* Without poll the same deadline holds, checked every 2 ms. */
			polling = r < 0;
		}
		if (polling || r > 0) {
			int got = worker_answer(out, arg, size);

			if (got != 0) {
				out->elapsed_ms = (unsigned)(gh_timebox_now_ms() - start);
				if (got > 0)
					return 0;
				/* It died in the call (a crash): counted as a killed child. */
				out->status = -EINTR;
				gh_timebox_worker_stop();
				return 0;
			}
		}
		if (gh_timebox_now_ms() >= deadline) {
			worker_abandon(ctx, start, out);
			return 0;
		}
		if (polling)
			usleep(2000);
	}
}

int gh_timebox_worker_prepare(struct gh_ctx *ctx)
{
	if (worker_serves(ctx))
		return 0;
	gh_timebox_worker_stop();
	return worker_start(ctx);
}

int gh_timebox_call(struct gh_ctx *ctx, unsigned timeout_ms, int (*fn)(void *arg), void *arg, size_t size,
		    struct gh_timebox *out)
{
	unsigned long long start = gh_timebox_now_ms();
	struct request *rq;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (size > GH_TIMEBOX_ARG_MAX)
		return -E2BIG;
	rq = malloc(sizeof(*rq) + size);
	if (!rq)
		return -ENOMEM;
	rq->fn = fn;
	rq->size = size;
	if (size)
		memcpy(rq->arg, arg, size);
	/* A worker that died while idle (EPIPE) is replaced once. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!worker_serves(ctx)) {
			gh_timebox_worker_stop();
			r = worker_start(ctx);
			if (r < 0)
				break;
		}
		if (send(worker.fd, rq, sizeof(*rq) + size, MSG_NOSIGNAL) == (ssize_t)(sizeof(*rq) + size)) {
			r = 0;
			break;
		}
		r = -errno;
		gh_timebox_worker_stop();
	}
	free(rq);
	if (r < 0)
		return r;
	out->pid = worker.pid;
	return worker_wait(ctx, start, start + timeout_ms, arg, size, out);
}

/* Event waits: see timebox.h. */

static int uevent_socket(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static int dir_watch(const char *dir)
{
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (fd >= 0 && inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_ATTRIB) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void drain(int fd)
{
	char buf[4096];

	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
		;
}

bool gh_timebox_wait_until(unsigned ms, const char *dir, bool uevents, bool (*ready)(void *arg), void *arg)
{
	unsigned long long deadline;
	struct pollfd pfd[2];
	int slice;
	bool ok;

	if (ready(arg))
		return true;
	if (!ms)
		return false;
	deadline = gh_timebox_now_ms() + ms;
	/* Watching starts before the next check: an event between the two is not lost. */
	pfd[0] = (struct pollfd){ .fd = dir ? dir_watch(dir) : -1, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = uevents ? uevent_socket() : -1, .events = POLLIN };
	/* With no event source at all, a short re-check interval is the fallback. */
	slice = pfd[0].fd < 0 && pfd[1].fd < 0 ? 10 : 100;
	for (;;) {
		unsigned long long now = gh_timebox_now_ms();
		int left = now >= deadline ? 0 : (int)(deadline - now);

		ok = ready(arg);
		if (ok || !left)
			break;
		if (poll(pfd, 2, left < slice ? left : slice) < 0 && errno != EINTR)
			usleep(1000);
		drain(pfd[0].fd);
		drain(pfd[1].fd);
	}
	if (pfd[0].fd >= 0)
		close(pfd[0].fd);
	if (pfd[1].fd >= 0)
		close(pfd[1].fd);
	return ok;
}
