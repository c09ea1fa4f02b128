/* SPDX-License-Identifier: MIT */
#ifndef GH_PHASE_H
#define GH_PHASE_H

/*
 * The phase protocol, one entry point for the hook and the tests: take the
 * global lock, settle what an earlier run left, read the host (from the
 * journal on the way back), then plan (dry run) or run (handoff.h). The
 * hook only turns the result into output and an exit code.
 */

#include <stdbool.h>

#include "affinity.h"
#include "ctx.h"
#include "host.h"
#include "plan.h"
#include "util.h"
#include "watch.h"

/* How long a phase waits for another run's global lock. */
#define GH_PHASE_LOCK_WAIT_MS 60000

enum gh_phase_outcome {
	GH_PHASE_RAN,		/* the handoff ran, or had nothing to do */
	GH_PHASE_ALREADY,	/* to vfio-pci: a complete handoff is still in place */
	GH_PHASE_KEPT,		/* post-stop during a Proxmox reboot: the card stays on vfio-pci */
	GH_PHASE_PLANNED,	/* dry run (ctx): plan and host say what would be done */
};

struct gh_phase_req {
	unsigned vmid;			/* 0: the functions in addrs, by hand */
	const struct gh_strv *addrs;
	/* "pre-start", "post-stop", "pre-stop", "to-vfio", "to-host", or "watcher" (gh_phase_run_locked) */
	const char *phase;
	enum gh_direction dir;
	/* Leaves the watcher behind (hook/cmd-watch.c); NULL arms none. 0 or -errno, logged. */
	int (*arm)(struct gh_ctx *ctx, const void *data, unsigned vmid, enum gh_watch_reason reason);
	const void *arm_data;
};

struct gh_phase_result {
	enum gh_phase_outcome outcome;
	struct gh_plan plan;	/* GH_PHASE_PLANNED: its refusals, when any, refuse the phase */
	struct gh_host host;	/* GH_PHASE_PLANNED: what the plan was built from */
};

/*
 * Runs one phase under the global lock (none for a dry run or pre-stop,
 * which never changes anything), and on the way back of a VM gives its
 * CPUs back (gh_isolate_stop) whatever happened to the card. res is set
 * in every case; free it with gh_phase_result_free. 0, or -errno logged.
 */
int gh_phase_run(struct gh_ctx *ctx, const struct gh_phase_req *req, struct gh_phase_result *res);
/* The same with the global lock already held by the caller (the watcher), and the CPUs left as they are. */
int gh_phase_run_locked(struct gh_ctx *ctx, const struct gh_phase_req *req, struct gh_phase_result *res);
void gh_phase_result_free(struct gh_phase_result *res);

/*
 * recover: under the global lock, undoes the journal key (NULL: every
 * journal), disarming the VM's watcher first and giving its CPUs back
 * after. 0 when all came back, else the first error (logged).
 */
int gh_phase_recover(struct gh_ctx *ctx, const char *key);

/*
 * post-start (phase-start.c): the VM's pin plan, then [isolation] under the
 * global lock, then the pins. In a dry run nothing changes and ps says what
 * would be done: the pins, and the isolation steps with their undo (iso_shown)
 * or why it is refused. 0, -EPERM when refused (logged outside a dry run), or
 * -errno logged. Free ps with gh_post_start_free in every case.
 */
struct gh_post_start {
	bool planned;		/* pins holds a plan (a dry run shows it) */
	struct gh_pinplan pins;
	bool iso_shown;
	struct gh_strv iso_steps, iso_undo;
	char iso_why[256];
};
int gh_phase_post_start(struct gh_ctx *ctx, unsigned vmid, struct gh_post_start *ps);
void gh_post_start_free(struct gh_post_start *ps);

#endif
