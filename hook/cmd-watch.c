/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hook.h"
#include "journal.h"
#include "policy.h"
#include "vmconf.h"
#include "watch.h"

/* How often the watcher looks at the config lock and its record. */
#define WATCH_POLL_MS 200
/* The watcher waits this long for the global lock before it decides. */
#define WATCH_LOCK_MS 120000

/*
 * The watcher is a detached process, not a systemd-run unit: it must work on
 * every host the hook runs on (and in the test guests, which have no
 * systemd), it needs nothing but this binary, and it is its own session with
 * fds 0-2 on /dev/null, so Proxmox, which reads the hook's stdout and stderr
 * until EOF, never waits for it. Its log goes to syslog (the journal).
 */
static pid_t spawn(const struct gh_opts *o, unsigned vmid, const char *token)
{
	char id[16];
	char *argv[] = { "gpu-hook", "watch", id, (char *)token, "--root", (char *)o->root, NULL };
	int pfd[2];
	pid_t pid, gpid = -1;

	snprintf(id, sizeof(id), "%u", vmid);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -errno;
	}
	if (pid == 0) {
		pid_t g;

		setsid();
		g = fork();
		if (g == 0) {
			int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

			if (fd >= 0) {
				dup2(fd, 0);
				dup2(fd, 1);
				dup2(fd, 2);
			}
			g = getpid();
			if (write(pfd[1], &g, sizeof(g)) != (ssize_t)sizeof(g))
				_exit(127);
			syscall(SYS_close_range, 3U, ~0U, 0U);
			/* /proc/self/exe: the very binary that took the card, even if its path was replaced since. */
			execv("/proc/self/exe", argv);
			_exit(127);
		}
		_exit(g < 0 ? 1 : 0);
	}
	close(pfd[1]);
	waitpid(pid, NULL, 0);
	if (read(pfd[0], &gpid, sizeof(gpid)) != (ssize_t)sizeof(gpid))
		gpid = -ECHILD;
	close(pfd[0]);
	return gpid;
}

int gh_hook_watch_arm(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid, enum gh_watch_reason reason)
{
	struct gh_policy pol = { 0 };
	struct gh_watch w = { .vmid = vmid, .reason = reason };
	pid_t pid;
	int r;

	/* The bounds are the policy's; a policy that does not parse still gets a watcher, with the defaults. */
	if (gh_policy_load(ctx, vmid, &pol) < 0) {
		gh_policy_free(&pol);
		gh_policy_init(&pol);
	}
	w.bound_s = pol.start_watch_ms / 1000;
	w.reboot_s = reason == GH_WATCH_REBOOT ? pol.reboot_watch_ms / 1000 : 0;
	w.armed = (long long)time(NULL);
	gh_policy_free(&pol);
	r = gh_watch_token(w.token, sizeof(w.token));
	if (r < 0) {
		gh_err(ctx, "cannot arm the watcher: no random token: %s", strerror(-r));
		return r;
	}
	/*
	 * The caller holds the global lock, and the watcher takes it before it
	 * reads its record: the record written once, after the spawn, is there
	 * when it looks (a rewrite would be another inode, and the watcher
	 * would take itself for disarmed).
	 */
	pid = spawn(o, vmid, w.token);
	if (pid < 0) {
		gh_err(ctx, "cannot start the watcher: %s", strerror(-pid));
		return pid;
	}
	w.pid = pid;
	r = gh_watch_save(ctx, &w);
	if (r < 0)
		return r;
	if (reason == GH_WATCH_START)
		gh_info(ctx, "watcher %d armed: if this start ends without a running QEMU, the card goes back (it waits up to %u s)",
			(int)pid, w.bound_s);
	else
		gh_info(ctx, "watcher %d armed: the card goes back unless the VM starts again within %u s", (int)pid,
			w.reboot_s);
	return 0;
}

int gh_cmd_watch(const struct gh_cmd *cmd, struct gh_opts *o)
{
	enum gh_watch_verdict v = GH_WATCH_DISARMED;
	struct gh_watch w;
	struct gh_ctx *ctx;
	unsigned vmid;
	char tag[32];
	int fd = -1, lock = -1, rc = GH_EXIT_OK, r;

	if (o->argc != 2) {
		gh_hook_usage(stderr, cmd);
		return GH_EXIT_USAGE;
	}
	if (!gh_hook_vmid(o->argv[0], &vmid))
		return GH_EXIT_USAGE;
	snprintf(tag, sizeof(tag), "%u watch", vmid);
	ctx = gh_hook_ctx(o, tag);
	if (!ctx)
		return GH_EXIT_FAIL;
	r = gh_journal_lock(ctx, WATCH_LOCK_MS, &lock);
	if (r >= 0)
		r = gh_watch_attach(ctx, vmid, o->argv[1], &w, &fd);
	gh_journal_unlock(lock);
	lock = -1;
	if (r == -ENOENT || r == -ESTALE) {
		gh_info(ctx, "disarmed before it started: nothing to do");
		goto out;
	}
	if (r < 0) {
		gh_err(ctx, "cannot read /run/gpu-hook/%u.watch: %s", vmid, strerror(-r));
		rc = GH_EXIT_FAIL;
		goto out;
	}
	r = gh_watch_wait(ctx, &w, fd, WATCH_POLL_MS, &v);
	if (r >= 0 && v == GH_WATCH_GIVE_BACK) {
		r = gh_journal_lock(ctx, WATCH_LOCK_MS, &lock);
		if (r >= 0)
			r = gh_watch_decide(ctx, &w, fd, &v);
	}
	if (r < 0) {
		gh_err(ctx, "the watcher stops: %s; if VM %u does not run, give the card back with 'gpu-hook recover %u'",
		       strerror(-r), vmid, vmid);
		rc = GH_EXIT_FAIL;
		goto out;
	}
	switch (v) {
	case GH_WATCH_DISARMED:
		gh_info(ctx, "disarmed (a later phase took over): nothing to do");
		break;
	case GH_WATCH_VM_RUNS:
		gh_info(ctx, "VM %u runs: its post-stop gives the card back", vmid);
		break;
	case GH_WATCH_STILL_LOCKED:
		gh_warn(ctx, "VM %u's start is still under way after %u s: the watcher stops; if the start fails, run 'gpu-hook recover %u'",
			vmid, w.bound_s, vmid);
		gh_watch_disarm(ctx, vmid);
		break;
	case GH_WATCH_GIVE_BACK:
		gh_notice(ctx, "VM %u %s without a running QEMU, and Proxmox runs no post-stop then: giving the card back",
			  vmid, w.reason == GH_WATCH_REBOOT ? "did not start again after its reboot" : "ended its start");
		gh_watch_disarm(ctx, vmid);
		rc = gh_hook_give_back(ctx, o, vmid);
		break;
	}
out:
	gh_journal_unlock(lock);
	if (fd >= 0)
		close(fd);
	gh_ctx_free(ctx);
	gh_logsink_close();
	return rc;
}
