/* SPDX-License-Identifier: MIT */
#ifndef GH_RUN_H
#define GH_RUN_H

/*
 * Executes plans. Every step that can block runs in a timeboxed child
 * (timebox.h) through ctx->ops; each step is journaled as "running" before
 * it starts and "done" only once its effect was reached; one log line per
 * step says what was done and how long it took.
 */

#include <stdbool.h>

#include "ctx.h"
#include "journal.h"
#include "plan.h"

/*
 * Runs one operation within its deadline (gh_plan_deadline_ms: module loads
 * and unloads get dl->module_ms, systemctl dl->service_ms, the rest
 * dl->step_ms). 0, or -errno logged once here; -ETIMEDOUT when the child was
 * stuck.
 */
int gh_run_op(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned *elapsed_ms);

/*
 * Runs the journal's pending steps in order, saving the journal around each.
 * On a failure at step k it stops there (status failed, or wedged on a
 * timeout, which also marks the device wedged) and returns the error; the
 * caller then undoes with gh_run_return(). On success the journal is marked
 * complete.
 */
int gh_run_forward(struct gh_ctx *ctx, struct gh_journal *j, const struct gh_deadlines *dl);

/*
 * Runs the way back from j (gh_plan_from_journal), best effort: a failed step does not stop
 * the others, except the later steps of the same device. Logs, for each
 * journal step that was done, whether it was undone. When everything came
 * back the journal is removed and 0 returned; otherwise the journal keeps
 * what is left to undo and the first error is returned.
 */
int gh_run_return(struct gh_ctx *ctx, struct gh_journal *j, const struct gh_deadlines *dl);

/* Clears the wedged marks so that a later return tries those devices again. */
void gh_run_unwedge(struct gh_journal *j);

/* For run*.c: a step on one PCI function (its failure or timeout concerns that device). */
bool gh_run_device_action(enum gh_action a);
/* For run*.c: "<label> i/n: <description>: ok (N ms)", or the error. */
void gh_run_log_step(struct gh_ctx *ctx, const char *label, unsigned i, unsigned n, const struct gh_op *op, int r,
		     unsigned ms);

/* Runs a plan without a journal (the way back when none was kept), best effort. */
int gh_run_plan(struct gh_ctx *ctx, const struct gh_plan *p, const struct gh_deadlines *dl);

#endif
