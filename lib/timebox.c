/* SPDX-License-Identifier: MIT */
#include "timebox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <sys/inotify.h>
#include <sys/mman.h>
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

/* Every fd from first up is closed: a worker keeps its socket on fd 3. */
static void child_detach(unsigned first)
{
	int fd;

	setsid();
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}
	syscall(SYS_close_range, first, ~0U, 0U);
}

/*
 * closelog() first: the parent's syslog connection is most often fd 3, and
 * glibc's syslog() in the child would go on sending to that number, by then
 * the worker's socket to the parent or a sysfs file the child opened.
 */
static void child_setup(unsigned first)
{
	closelog();
	child_detach(first);
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

#define REQUEST_CAP (sizeof(struct request) + GH_TIMEBOX_ARG_MAX)
/*
 * The worker's memory, mapped apart from the heap: a guard page, its stack
 * (clone wants one; libkmod, systemctl's fork and PATH_MAX buffers fit
 * well) and on top its request buffer.
 */
#define WORKER_MEM ((size_t)2 << 20)
#define WORKER_BUF_OFF ((WORKER_MEM - REQUEST_CAP) & ~(size_t)63)
/* How long an overrun shared worker is let run on to reach a system call before it is killed where it is. */
#define PARK_GRACE_MS 1000

bool gh_timebox_shared = true;

static struct {
	pid_t pid;
	int fd;	/* the parent's end of the socket pair; -1: no worker */
	bool shared;
	/* Its stack and request buffer: never reused once abandoned, as a stuck call may still write there. */
	char *mem;
	/*
	 * A reaped worker's memory, kept for the next one: a run ends with its
	 * process and the kernel takes the pages back then, while an munmap()
	 * of these 2 MiB at the end of each phase flushed the whole TLB (more
	 * pages than x86's tlb_single_page_flush_ceiling) for nothing: 0.3 ms
	 * under TCG, whose software TLB then refills.
	 */
	char *spare;
	/* A worker released at the end of a phase and not reaped yet, and its memory. */
	pid_t released;
	char *released_mem;
	const struct gh_ctx *ctx;
	const struct gh_ops *ops;
	const void *ops_data;
	char root[PATH_MAX];
} worker = { .fd = -1 };

/*
 * What the shared worker logs during a call: kept here (its fd 2 is
 * /dev/null, and glibc's syslog state is ours), and logged by the parent
 * once the call is over. Records are "priority byte, text, NUL"; len grows
 * only past a whole one.
 */
static struct {
	bool on;
	size_t len;
	char text[4096];
} wlog;

/* True inside a worker's call (a shared worker's is read here while the parent sleeps). */
static bool in_worker;

bool gh_timebox_capture(int priority, const char *fmt, va_list ap)
{
	char line[512];
	int n;

	if (!wlog.on)
		return false;
	n = gh_util_vformat(line, sizeof(line), fmt, ap);
	if (n < 0)
		return true;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	if (wlog.len + (size_t)n + 2 <= sizeof(wlog.text)) {
		wlog.text[wlog.len] = (char)(priority & 0x7f);
		memcpy(wlog.text + wlog.len + 1, line, (size_t)n);
		wlog.text[wlog.len + 1 + (size_t)n] = '\0';
		wlog.len += (size_t)n + 2;
	}
	return true;
}

static void wlog_replay(struct gh_ctx *ctx)
{
	for (size_t off = 0; off < wlog.len;) {
		const char *t = wlog.text + off + 1;

		gh_log(ctx, wlog.text[off], "%s", t);
		off += strlen(t) + 2;
	}
	wlog.len = 0;
}

static int clamp_status(int r)
{
	return r < 0 ? (-r > 255 ? -255 : r) : 0;
}

/*
 * A shared worker runs in our memory: it and the parent must never run
 * user code at once. So each side sleeps in a system call while the other
 * runs: the parent in poll() from the request's send to the answer, the
 * worker in recv() from the answer's send to the next request. Between
 * its send and that sleep each side only makes those calls, on its own
 * stack, touching no shared data (errno only on a failure the other side
 * cannot be running through). The parent starts the worker and waits for
 * its first message before it goes on.
 */
static __attribute__((noreturn)) void worker_main(struct request *rq, bool shared)
{
	struct iovec iov[2];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	int r = 0;

	if (send(3, &r, sizeof(r), MSG_NOSIGNAL) != (ssize_t)sizeof(r))
		_exit(0);
	for (;;) {
		/* SOCK_SEQPACKET: one request is one message, whole or not at all. */
		ssize_t n = recv(3, rq, REQUEST_CAP, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			_exit(0);
		if ((size_t)n < sizeof(*rq) || rq->size != (size_t)n - sizeof(*rq))
			_exit(EPROTO);
		wlog.on = shared;
		in_worker = true;
		r = clamp_status(rq->fn(rq->arg));
		in_worker = false;
		wlog.on = false;
		/* The answer: the status, then the argument as fn left it. */
		iov[0] = (struct iovec){ &r, sizeof(r) };
		iov[1] = (struct iovec){ rq->arg, rq->size };
		if (sendmsg(3, &msg, MSG_NOSIGNAL) != (ssize_t)(sizeof(r) + rq->size))
			_exit(0);
	}
}

struct worker_boot {
	int sock;
	bool shared;
	char *mem;
};

static int worker_entry(void *arg)
{
	struct worker_boot b = *(const struct worker_boot *)arg;

	/*
	 * A forked worker drops glibc's syslog connection (child_setup); a shared
	 * one must not: that state is the parent's, and the worker never logs
	 * through it (gh_timebox_capture).
	 */
	if (!b.shared)
		closelog();
	/* fd 3, not inherited by what the worker executes (systemctl); syslog's may be 3 (child_setup). */
	if (dup3(b.sock, 3, O_CLOEXEC) < 0 && b.sock != 3)
		_exit(EBADF);
	child_detach(4);
	worker_main((struct request *)(b.mem + WORKER_BUF_OFF), b.shared);
}

static bool worker_serves(const struct gh_ctx *ctx)
{
	return worker.fd >= 0 && worker.ctx == ctx && worker.ops == gh_ctx_ops(ctx) && worker.ops_data == gh_ctx_ops_data(ctx) &&
	       !strcmp(worker.root, gh_ctx_root(ctx));
}

/* Valgrind runs no clone() that shares memory without being a thread: it aborts the whole run. */
static bool under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");

	return pre && strstr(pre, "/vgpreload_");
}

/*
 * Shared (clone CLONE_VM, not a thread): a process of its own, detached as
 * a forked one, but switching to it and back changes no page tables. Under
 * TCG each such switch flushes the whole software TLB; a forked worker cost
 * the handoff benchmark 9.5 ms of its 179 ms round trip.
 */
static pid_t worker_spawn(struct worker_boot *b)
{
	pid_t pid;

	if (b->shared) {
		pid = clone(worker_entry, b->mem + WORKER_BUF_OFF, CLONE_VM | SIGCHLD, b);
		if (pid > 0)
			return pid;
		b->shared = false;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(worker_entry(b));
	return pid;
}

/* Waits at most ms for pid to end and reaps it: true when reaped; one that does not end is left to init. */
static bool reap_within(pid_t pid, unsigned ms)
{
	unsigned long long deadline = gh_timebox_now_ms() + ms;
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	pid_t r;

	if (pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

		while (poll(&pfd, 1, (int)ms) < 0 && errno == EINTR)
			;
		close(pidfd);
	}
	while ((r = waitpid(pid, NULL, WNOHANG)) == 0 && gh_timebox_now_ms() < deadline)
		usleep(1000);
	return r == pid;
}

/* The worker is gone (reaped): its memory may serve the next one. Abandoned: never again. */
static void reuse_mem(char *mem, bool reaped)
{
	if (reaped && mem && !worker.spare)
		worker.spare = mem;
	else if (reaped && mem)
		munmap(mem, WORKER_MEM);
}

static void worker_forget(bool reaped)
{
	reuse_mem(worker.mem, reaped);
	worker.mem = NULL;
	worker.pid = 0;
	worker.fd = -1;
}

/* Its memory serves the next worker only once it is reaped: until it has exited, it runs on that stack. */
static void reap_released(void)
{
	if (!worker.released)
		return;
	reuse_mem(worker.released_mem, reap_within(worker.released, 200));
	worker.released = 0;
	worker.released_mem = NULL;
}

void gh_timebox_worker_stop(void)
{
	reap_released();
	if (worker.fd < 0)
		return;
	/* An idle worker reads end-of-file and exits at once. */
	close(worker.fd);
	worker_forget(reap_within(worker.pid, 200));
}

/*
 * Waiting for the worker to exit took 0.4 ms at the end of a pre-start and
 * 1.5 ms at the end of a post-stop under TCG (where it waits behind the
 * codec probe the audio bind started): the phase is done by then. An idle
 * worker touches nothing shared on its way out (worker_main: recv() returns
 * 0, then _exit), so the parent may run on, and exit.
 */
void gh_timebox_worker_release(void)
{
	reap_released();
	if (worker.fd < 0)
		return;
	close(worker.fd);
	worker.released = worker.pid;
	worker.released_mem = worker.mem;
	/* Not reaped: its memory is kept for reap_released, not reused. */
	worker_forget(false);
}

pid_t gh_timebox_worker_pid(void)
{
	return worker.fd >= 0 ? worker.pid : 0;
}

static int worker_start(struct gh_ctx *ctx)
{
	struct worker_boot b = { .shared = gh_timebox_shared && !under_valgrind() };
	struct pollfd pfd;
	int sv[2], hello = -1, r;

	reap_released();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	b.sock = sv[1];
	/* A spare has its guard page already. */
	b.mem = worker.spare;
	worker.spare = NULL;
	if (!b.mem && ((b.mem = mmap(NULL, WORKER_MEM, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0)) == MAP_FAILED ||
		       mprotect(b.mem, 4096, PROT_NONE) < 0)) {
		r = -errno;
		if (b.mem != MAP_FAILED)
			munmap(b.mem, WORKER_MEM);
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	worker.pid = worker_spawn(&b);
	r = worker.pid < 0 ? -errno : 0;
	close(sv[1]);
	worker.fd = sv[0];
	worker.mem = b.mem;
	worker.shared = b.shared;
	if (r < 0) {
		close(sv[0]);
		worker_forget(true);
		return r;
	}
	/* Nothing runs here until the worker, set up, sleeps in recv() (see worker_main). */
	pfd = (struct pollfd){ .fd = worker.fd, .events = POLLIN };
	while ((r = poll(&pfd, 1, 5000)) < 0 && errno == EINTR)
		;
	if (r <= 0 || recv(worker.fd, &hello, sizeof(hello), MSG_DONTWAIT) != (ssize_t)sizeof(hello) || hello != 0) {
		kill(worker.pid, SIGKILL);
		close(worker.fd);
		worker_forget(reap_within(worker.pid, 200));
		return -ECHILD;
	}
	worker.ctx = ctx;
	worker.ops = gh_ctx_ops(ctx);
	worker.ops_data = gh_ctx_ops_data(ctx);
	snprintf(worker.root, sizeof(worker.root), "%s", gh_ctx_root(ctx));
	return 0;
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

/* The calls glibc's malloc makes halfway through changing the heap. */
static bool heap_syscall(long nr)
{
	return nr == SYS_brk || nr == SYS_mmap || nr == SYS_munmap || nr == SYS_mremap || nr == SYS_mprotect ||
	       nr == SYS_madvise;
}

/*
 * The stopped (or sleeping) worker sits in a system call of fn's, not one
 * of malloc's: user code left whole. /proc/<pid>/syscall gives the number
 * for a task in a system call, -1 for one caught in user code (an
 * interrupt), "running" for one on a CPU.
 */
static bool worker_in_syscall(pid_t pid, char state)
{
	char sc[256];
	char *end;
	long nr;

	if (state != 'D' && state != 'S' && state != 'T' && state != 't')
		return false;
	if (gh_fs_read_own_proc(pid, "syscall", sc, sizeof(sc)) <= 0)
		return false;
	nr = strtol(sc, &end, 10);
	return end != sc && nr >= 0 && !heap_syscall(nr);
}

static char own_state(pid_t pid, unsigned long *utime)
{
	char stat[512];
	char *rp;

	*utime = 0;
	if (gh_fs_read_own_proc(pid, "stat", stat, sizeof(stat)) <= 0 || !(rp = strrchr(stat, ')')) || rp[1] != ' ')
		return '?';
	/* ") S ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime": utime is the 12th field on. */
	{
		char *p = rp + 2;

		for (int i = 0; i < 11 && p; i++) {
			p = strchr(p, ' ');
			if (p)
				p++;
		}
		if (p)
			*utime = strtoul(p, NULL, 10);
	}
	return rp[2];
}

/*
 * A shared worker that overran is killed only where our memory is whole
 * (worker_in_syscall). SIGSTOP first: a worker seen in a system call then
 * cannot go back to user code before the SIGKILL, as the pending stop holds
 * it on the way out. One caught in user code runs 10 ms more (SIGCONT) and
 * is looked at again; its answer, if it comes, is taken. After
 * PARK_GRACE_MS it is killed wherever it is: fn spinning in user code that
 * long is a bug, and said so. Nothing here allocates: the worker may be
 * running.
 * 1: answered late (out, arg hold it); 0: killed.
 */
static int worker_park(struct gh_ctx *ctx, void *arg, size_t size, struct gh_timebox *out)
{
	unsigned long long until = gh_timebox_now_ms() + PARK_GRACE_MS;
	unsigned long ut0 = 0, ut1 = 0;
	pid_t pid = worker.pid;

	own_state(pid, &ut0);
	for (;;) {
		struct pollfd pfd = { .fd = worker.fd, .events = POLLIN };
		unsigned long dummy;
		char st;

		kill(pid, SIGSTOP);
		for (int i = 0; i < 10 && (st = own_state(pid, &dummy)) == 'R'; i++)
			usleep(1000);
		/* Dead already (or its /proc entry gone): nothing of it runs any more. */
		if (st == 'Z' || st == 'X' || st == '?' || worker_in_syscall(pid, st))
			break;
		if (gh_timebox_now_ms() >= until) {
			own_state(pid, &ut1);
			kill(pid, SIGKILL);
			/* Its CPU time in the kernel alone (a driver spinning) leaves user code whole. */
			if (ut1 != ut0)
				gh_warn(ctx, "worker pid %d ran its own code for %u ms past its deadline: killed where it was",
					(int)pid, PARK_GRACE_MS);
			return 0;
		}
		kill(pid, SIGCONT);
		if (poll(&pfd, 1, 10) > 0 && worker_answer(out, arg, size) > 0)
			return 1;
	}
	kill(pid, SIGKILL);
	return 0;
}

/* A worker that overran: recorded, SIGKILLed and left behind; the next call starts another. */
static void worker_abandon(struct gh_ctx *ctx, unsigned long long start, void *arg, size_t size,
			   struct gh_timebox *out)
{
	out->timed_out = true;
	out->elapsed_ms = (unsigned)(gh_timebox_now_ms() - start);
	read_child_state(ctx, out);
	/* A late answer: the worker stays, already running again (worker_park sent SIGCONT). */
	if (worker.shared && worker_park(ctx, arg, size, out)) {
		out->timed_out = false;
		return;
	}
	if (!worker.shared)
		kill(worker.pid, SIGKILL);
	close(worker.fd);
	worker_forget(false);
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
			worker_abandon(ctx, start, arg, size, out);
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
	static struct request *rq;
	int r = 0;

	memset(out, 0, sizeof(*out));
	if (size > GH_TIMEBOX_ARG_MAX)
		return -E2BIG;
	/*
	 * A call from inside a worker's call (the simulator's write reads the
	 * function it probes) runs there, boxed by that call's deadline: the
	 * worker table is the parent's.
	 */
	if (in_worker) {
		out->pid = getpid();
		out->status = clamp_status(fn(arg));
		return 0;
	}
	/* Kept: nothing may be freed while a shared worker runs (see worker_main). */
	if (!rq && !(rq = malloc(REQUEST_CAP)))
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
				return r;
		}
		out->pid = worker.pid;
		if (send(worker.fd, rq, sizeof(*rq) + size, MSG_NOSIGNAL) == (ssize_t)(sizeof(*rq) + size)) {
			r = worker_wait(ctx, start, start + timeout_ms, arg, size, out);
			/* A shared worker killed inside fn left them set. */
			in_worker = false;
			wlog.on = false;
			wlog_replay(ctx);
			return r;
		}
		r = -errno;
		gh_timebox_worker_stop();
	}
	return r;
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
