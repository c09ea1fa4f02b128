/* SPDX-License-Identifier: MIT */
#ifndef GH_JOURNAL_H
#define GH_JOURNAL_H

/*
 * /run/gpu-hook/<key>.json: what a handoff set out to do and how far it got,
 * written before each step starts and after it ends: whole (temporary file,
 * rename) the first time, then only the fixed-width values that changed,
 * in place (journal-slots.c); a kill at any moment leaves either. A step is "done" only once its effect
 * was reached; "running" means it may or may not have happened (a crash).
 * post-stop, a second pre-start and `recover` undo from it. /run is a
 * tmpfs: a reboot forgets it, and a reboot also gives the host its GPU back.
 */

#include <stdbool.h>

#include "ctx.h"
#include "host.h"
#include "plan.h"

#define GH_JOURNAL_DEV_MAX 32

enum gh_jstatus {
	GH_J_PENDING,
	GH_J_RUNNING,
	GH_J_DONE,
	GH_J_FAILED,
	GH_J_WEDGED,		/* timed out: the device (or module) is stuck in the kernel */
	GH_J_UNDONE,
	GH_J_SKIPPED,		/* nothing to do when it ran (already in that state) */
	GH_J_MAX,		/* not a status: the count */
};

struct gh_jdev {
	char addr[GH_PCI_ADDR_LEN];
	char host_driver[64];	/* where it goes back; "" leaves it unbound */
	char override[64];	/* driver_override before the handoff */
	unsigned vendor, device;
	int iommu_group;
	bool wedged;
};

struct gh_journal {
	char key[32];		/* "<vmid>" or "manual" */
	unsigned vmid;		/* 0 for manual */
	char phase[16];		/* the phase that wrote it */
	bool complete;		/* every step done and verified */
	struct gh_jdev dev[GH_JOURNAL_DEV_MAX];
	unsigned n_dev;
	struct gh_step *steps;
	enum gh_jstatus *status;
	unsigned n_steps;
};

/* A journal for running plan p built from host h. */
int gh_journal_init(struct gh_journal *j, const char *key, unsigned vmid, const char *phase,
		    const struct gh_host *h, const struct gh_plan *p);
void gh_journal_free(struct gh_journal *j);
const char *gh_journal_status_name(enum gh_jstatus s);
struct gh_jdev *gh_journal_dev(struct gh_journal *j, const char *addr);

/*
 * Creates /run/gpu-hook (0700) or checks it: a directory, not a link, owned
 * by us, closed to group and others. 0, or -errno logged once.
 */
int gh_journal_dir(struct gh_ctx *ctx);
int gh_journal_save(struct gh_ctx *ctx, const struct gh_journal *j);
/*
 * -ENOENT (not logged) when there is none; -EINVAL (logged) when it is
 * corrupt, truncated or names anything that is not a device, module, unit
 * or console: a bad journal never drives an action.
 */
/* Both: on failure j owns nothing (lib/README.md); after success, gh_journal_free. */
int gh_journal_load(struct gh_ctx *ctx, const char *key, struct gh_journal *j);
int gh_journal_parse(struct gh_ctx *ctx, const char *text, const char *name, struct gh_journal *j);
int gh_journal_remove(struct gh_ctx *ctx, const char *key);
/* The keys of the journals present, sorted. */
int gh_journal_list(struct gh_ctx *ctx, struct gh_strv *keys);

/*
 * The global lock (/run/gpu-hook/lock, flock): serialises runs. Waits up to
 * wait_ms, then -EWOULDBLOCK. The fd is closed by gh_journal_unlock.
 */
int gh_journal_lock(struct gh_ctx *ctx, unsigned wait_ms, int *fd);
void gh_journal_unlock(int fd);

/* A journal's name: a VM id, or "manual" (to-vfio); nothing else in /run/gpu-hook is one. */
bool gh_journal_valid_key(const char *key);

#endif
