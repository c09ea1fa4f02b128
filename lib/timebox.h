/* SPDX-License-Identifier: MIT */
#ifndef GH_TIMEBOX_H
#define GH_TIMEBOX_H

/*
 * Writes to sysfs can block without limit: nvidia's remove() loops while the
 * GPU is in use, vfio-pci's waits for QEMU, and a task in D state ignores
 * SIGKILL until the syscall returns. So each such write runs in a forked
 * child that first calls setsid(), points fds 0-2 at /dev/null and closes
 * the rest (a stuck child must not keep PVE's pipes to the hook open), and
 * the parent waits with pidfd + poll and a deadline. On timeout the child
 * is SIGKILLed and left to init; the device is to be treated as wedged.
 */

#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"

struct gh_timebox {
	int status;		/* fn's result (0 or -errno) when it finished */
	bool timed_out;
	pid_t pid;
	unsigned elapsed_ms;
	char state[64];		/* /proc/<pid>/stat state and wchan when it timed out */
	char wchan[64];
};

/* fn runs in the child and returns 0 or -errno (1..255). 0 or -errno for fork/pidfd failures. */
int gh_timebox_run(struct gh_ctx *ctx, unsigned timeout_ms, int (*fn)(void *arg), void *arg, struct gh_timebox *out);
/*
 * One worker per phase: gh_timebox_call sends fn and a copy of arg (size
 * bytes, at most GH_TIMEBOX_ARG_MAX; pointers in it must stay valid in a
 * fork of this process: the ctx, static data, nothing allocated later) to a
 * worker started on the first call, detached like the child above, and waits
 * for its answer with the same deadline. When it answers in time, arg holds
 * the worker's copy as fn left it (a result travels back that way). One worker
 * serves every boxed call of a phase. A call that overruns leaves that worker
 * behind (SIGKILLed, stuck in the kernel, never waited for) and the next call
 * starts a fresh one. A worker serves one ctx (its root, ops): another ctx
 * gets a fresh worker. 0 or -errno as gh_timebox_run.
 */
#define GH_TIMEBOX_ARG_MAX 8192
int gh_timebox_call(struct gh_ctx *ctx, unsigned timeout_ms, int (*fn)(void *arg), void *arg, size_t size,
		    struct gh_timebox *out);
/*
 * The worker shares this process's memory (clone CLONE_VM, a process and
 * not a thread: a stuck one never holds up our exit): see worker_main and
 * worker_park in timebox.c for how the two never run at once and where an
 * overrun worker may be killed. false (tests; valgrind, which cannot run
 * one; a clone() that fails) makes it a forked copy, as gh_timebox_run's.
 */
extern bool gh_timebox_shared;
/*
 * gh_log's first stop: true when it was called inside a shared worker's
 * call, where the line is kept and logged by the parent once the call is
 * over (the worker's stderr is /dev/null and glibc's syslog state is the
 * parent's).
 */
bool gh_timebox_capture(int priority, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/*
 * The phase's worker started now, before the phase reads the host: a
 * forked one (!gh_timebox_shared) copies the page tables of what the parent
 * has touched so far, and every page either side writes afterwards is
 * copied once more (copy-on-write); a shared one costs the same at any time.
 * 0 or -errno; a failure is left to the first call to report.
 */
int gh_timebox_worker_prepare(struct gh_ctx *ctx);
/* Ends the idle worker, if any, and reaps it (one released before too). Safe to call at any time. */
void gh_timebox_worker_stop(void);
/*
 * The end of a phase: tells the idle worker to end (it reads end-of-file and
 * exits) without waiting for it. The next worker's start, or a stop, reaps
 * it; a process that exits first leaves it to init. Safe to call at any time.
 */
void gh_timebox_worker_release(void);
/* The pid of the phase's worker, idle between calls (0: none): a process of ours, holding /dev/null and its socket. */
pid_t gh_timebox_worker_pid(void);
/*
 * Waits until ready(arg) holds or ms pass, woken by events instead of a
 * polling sleep: inotify on dir (a real path, root prefix included; NULL for
 * none; devtmpfs and a fixture tree report new entries, sysfs does not) and,
 * with uevents, the kernel's uevents (a driver bind is one). ready() is asked
 * first, after each event, and every 100 ms in case an event was missed.
 */
bool gh_timebox_wait_until(unsigned ms, const char *dir, bool uevents, bool (*ready)(void *arg), void *arg);
/* Milliseconds on the monotonic clock. */
unsigned long long gh_timebox_now_ms(void);

/* Test seam: the poll() the waiter calls (tests make it fail). */
extern int (*gh_timebox_poll)(struct pollfd *fds, nfds_t n, int timeout_ms);

#endif
