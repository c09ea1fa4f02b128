/* SPDX-License-Identifier: MIT */
#ifndef GH_HANDOFF_H
#define GH_HANDOFF_H

/*
 * The handoff as the phases run it, under the global lock (taken by the
 * caller before the host was read):
 *
 * to vfio-pci (pre-start, to-vfio): a journal left by an unfinished run is
 * undone first; a complete one whose functions are still on vfio-pci makes
 * this a no-op; a function that another journal holds is refused, naming its
 * owner. Then the plan: refused with its reasons, empty when already there,
 * else journaled (a journal that cannot be written refuses before anything
 * changes), run step by step, and on a failure undone in reverse.
 *
 * to the host (post-stop, to-host): from the journal when there is one (what
 * pre-start took is given back, even when the VM config changed since),
 * else from what sysfs shows now.
 *
 * A function whose device lock does not answer (a remove() or probe() stuck
 * in the kernel) makes every direction, the undo at the start and recover
 * refuse at once, naming it and why, instead of joining the stuck call.
 * Runs from a journal use the deadlines of that VM's policy.
 */

#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"
#include "host.h"
#include "journal.h"

/*
 * Before the host is read for a new handoff: a leftover journal for key is
 * undone (an unfinished or changed handoff), or, when complete with every
 * function still on vfio-pci, *already is set. 0 or -errno (logged).
 */
int gh_handoff_settle(struct gh_ctx *ctx, const char *key, bool *already);
/* 0 done or nothing to do; -errno failed or refused (logged). */
int gh_handoff_to_vfio(struct gh_ctx *ctx, const struct gh_host *h, const char *key);
int gh_handoff_to_host(struct gh_ctx *ctx, const struct gh_host *h, const char *key);
/*
 * post-stop and pre-stop of VM vmid: with its journal, the host as the
 * journal has it (gh_host_load_journal: the VM config is not read) and 1;
 * without one, 0 and h empty but for vmid. -errno (logged) otherwise.
 */
/* On failure h owns nothing (lib/README.md); else gh_host_free it. */
int gh_handoff_load_journal(struct gh_ctx *ctx, unsigned vmid, struct gh_host *h);
/* Undoes one journal, retrying what was wedged. 0 recovered, 1 no such journal (logged as info), -errno. */
int gh_handoff_recover(struct gh_ctx *ctx, const char *key);
/*
 * Why a function does not answer under its device lock: "wedged: remove()
 * stuck in the kernel; <the journal step that timed out, if a journal names
 * it>; <the processes holding what the stuck call waits for, if seen>".
 * driver is its driver link now ("" when none). js: the phase's journals
 * (NULL: read them now).
 */
void gh_handoff_wedged_reason(struct gh_ctx *ctx, const struct gh_journals *js, const char *addr,
			      const char *driver, char *buf, size_t size);
/* One refusal (GH_REFUSAL_WEDGED) per function of h whose device lock did not answer (gh_pci_dev.wedged). */
int gh_handoff_wedged_refusals(struct gh_ctx *ctx, const struct gh_host *h, struct gh_refusals *refusals);
/* A journal key: "<vmid>", or "manual" for to-vfio/to-host. */
void gh_handoff_key(unsigned vmid, char *buf, size_t size);

#endif
