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
/* Milliseconds on the monotonic clock. */
unsigned long long gh_timebox_now_ms(void);

/* Test seam: the poll() the waiter calls (tests make it fail). */
extern int (*gh_timebox_poll)(struct pollfd *fds, nfds_t n, int timeout_ms);

#endif
