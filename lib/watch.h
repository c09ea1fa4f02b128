/* SPDX-License-Identifier: MIT */
#ifndef GH_WATCH_H
#define GH_WATCH_H

/*
 * The watcher: what gives the card back when Proxmox will run no post-stop.
 *
 * qemu-server's vm_start holds the VM's config lock
 * (/var/lock/qemu-server/lock-<vmid>.conf, a plain flock) for the whole of
 * vm_start_nolock. A start that fails after pre-start (storage, a bad
 * option, QEMU exiting, "could not find a free device") dies with no
 * post-stop, and qmeventd never hears of the VM. A pre-start that runs
 * under that lock therefore leaves a watcher behind: a detached process that
 * waits, with a bound, for the lock to be released, then gives the card back
 * exactly as post-stop would if this VM's QEMU does not run.
 *
 * A Proxmox reboot (/run/qemu-server/<vmid>.reboot) runs post-stop and then
 * a new start: that post-stop keeps the card on vfio-pci and arms the same
 * watcher, bounded by a short wait for the new start's pre-start.
 *
 * The record /run/gpu-hook/<vmid>.watch names the watcher and a random
 * token given on its command line. A later pre-start replaces the record, a
 * post-stop or recover removes it; a watcher whose record is gone or names
 * another token does nothing. The watcher holds a shared flock on the
 * record it was started for, so "is one waiting" needs no pid (which could
 * be reused) and works the same under a fixture root.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "util.h"

enum gh_watch_reason {
	GH_WATCH_START,		/* armed by a pre-start under the config lock */
	GH_WATCH_REBOOT,	/* armed by a post-stop that kept the card for a reboot */
};

#define GH_WATCH_TOKEN_LEN 32

struct gh_watch {
	unsigned vmid;
	enum gh_watch_reason reason;
	pid_t pid;			/* the watcher process, for people to read */
	long long armed;		/* CLOCK_REALTIME seconds */
	unsigned bound_s;		/* how long it waits for the start attempt to end */
	unsigned reboot_s;		/* GH_WATCH_REBOOT: how long it waits for the new start */
	char token[GH_WATCH_TOKEN_LEN + 1];
};

/* What the watcher found when its wait ended. */
enum gh_watch_verdict {
	GH_WATCH_DISARMED,	/* its record is gone or names another watcher: nothing to do */
	GH_WATCH_VM_RUNS,	/* QEMU runs: the start worked, post-stop will come */
	GH_WATCH_STILL_LOCKED,	/* the bound passed with the start still under way: leave it */
	GH_WATCH_GIVE_BACK,	/* no QEMU, no start under way: give the card back */
};

const char *gh_watch_reason_name(enum gh_watch_reason r);
const char *gh_watch_verdict_name(enum gh_watch_verdict v);

/* 1 when another open file holds the VM's config lock, 0 when free or absent, -errno. */
int gh_watch_config_locked(struct gh_ctx *ctx, unsigned vmid);
/* 1 when /run/qemu-server/<vmid>.reboot exists (a Proxmox reboot is under way), 0 or -errno. */
int gh_watch_reboot_requested(struct gh_ctx *ctx, unsigned vmid);

/* A fresh random token (hex). 0 or -errno. */
int gh_watch_token(char *buf, size_t size);
/* Writes the record atomically. 0 or -errno (logged). */
int gh_watch_save(struct gh_ctx *ctx, const struct gh_watch *w);
/* -ENOENT (not logged) when there is none; -EINVAL (logged) when corrupt. */
int gh_watch_load(struct gh_ctx *ctx, unsigned vmid, struct gh_watch *w);
/* Removes the record: the watcher, when it wakes, does nothing. 0 or -errno. */
int gh_watch_disarm(struct gh_ctx *ctx, unsigned vmid);
/* 1 while a watcher holds the record's lock (it is waiting), 0 if not, -errno. */
int gh_watch_waiting(struct gh_ctx *ctx, unsigned vmid);
/* The vmids of the records present, sorted. */
int gh_watch_list(struct gh_ctx *ctx, struct gh_strv *vmids);

/*
 * The watcher's side. gh_watch_attach opens the record that names token and
 * holds a shared lock on it (fd returned, closed by the caller); -ESTALE when
 * the record names another token, -ENOENT when there is none.
 */
int gh_watch_attach(struct gh_ctx *ctx, unsigned vmid, const char *token, struct gh_watch *w, int *fd);
/*
 * Waits, without the global lock, until the start attempt is over: for a
 * reboot first up to reboot_s for the new start to replace the record, then
 * while the config lock is held, up to bound_s. poll_ms is the interval
 * between looks (tests shorten it). Sets *v to DISARMED, STILL_LOCKED or, when
 * the wait ended normally, GIVE_BACK as a candidate: the caller takes the
 * global lock and asks gh_watch_decide.
 */
int gh_watch_wait(struct gh_ctx *ctx, const struct gh_watch *w, int fd, unsigned poll_ms,
		  enum gh_watch_verdict *v);
/* Under the global lock: DISARMED, VM_RUNS (the record is removed) or GIVE_BACK. */
int gh_watch_decide(struct gh_ctx *ctx, const struct gh_watch *w, int fd, enum gh_watch_verdict *v);

#endif
