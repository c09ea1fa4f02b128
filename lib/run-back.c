/* SPDX-License-Identifier: MIT */
/*
 * The way back, executed best effort: a failed device step skips that
 * device's later steps only, a card not back on its driver holds the module
 * loads, and each journal step is reported undone or not.
 */
#include "run.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"
#include "plan-back.h"

void gh_run_unwedge(struct gh_journal *j)
{
	for (unsigned i = 0; i < j->n_dev; i++)
		j->dev[i].wedged = false;
	for (unsigned i = 0; i < j->n_steps; i++)
		if (j->status[i] == GH_J_WEDGED)
			j->status[i] = GH_J_RUNNING;
}

static bool has_module(const struct gh_strv *mods, const char *name)
{
	for (size_t k = 0; k < mods->n; k++)
		if (gh_modules_name_eq(mods->v[k], name))
			return true;
	return false;
}

/*
 * A card that is not back, and whose driver is the module about to load or one this
 * run already loaded: loaded now, that module and those stacked on it would come up
 * without the card, and loading its driver would walk a card wedged in remove()
 * under its lock. Such a card failed a step of this run, or is wedged in the
 * journal (left out of the plan). Its address, or NULL.
 */
static const char *stranded_by(const struct gh_plan *p, const struct gh_journal *j, const char *module,
			       const struct gh_strv *loaded, const struct gh_strv *failed_devs)
{
	for (unsigned k = 0; k < p->n; k++) {
		const struct gh_op *op = &p->v[k].op;

		if (op->action == GH_ACT_PROBE && gh_strv_contains(failed_devs, op->target) &&
		    (gh_modules_name_eq(op->arg, module) || has_module(loaded, op->arg)))
			return op->target;
	}
	for (unsigned i = 0; j && i < j->n_dev; i++) {
		const struct gh_jdev *d = &j->dev[i];

		if (d->wedged && d->host_driver[0] &&
		    (gh_modules_name_eq(d->host_driver, module) || has_module(loaded, d->host_driver)))
			return d->addr;
	}
	return NULL;
}

/*
 * Best effort: a failed device step skips that device's later steps only, and a
 * card that is not back on its driver holds the module loads from then on (see
 * stranded_by and gh_plan_from_journal).
 */
static int run_best_effort(struct gh_ctx *ctx, const struct gh_plan *p, const struct gh_journal *j,
			   const struct gh_deadlines *dl, int *results, struct gh_strv *failed_devs, const char *label)
{
	struct gh_strv loaded = { 0 };
	const char *stranded = NULL;
	int first = 0;

	for (unsigned i = 0; i < p->n; i++) {
		const struct gh_op *op = &p->v[i].op;
		unsigned ms = 0;
		int r;

		if (gh_run_device_action(op->action) && gh_strv_contains(failed_devs, op->target)) {
			results[i] = -ECANCELED;
			gh_warn(ctx, "%s %u/%u: skipped: %s failed earlier", label, i + 1, p->n, op->target);
			continue;
		}
		if (op->action == GH_ACT_MODULE_LOAD && !stranded)
			stranded = stranded_by(p, j, op->target, &loaded, failed_devs);
		if (op->action == GH_ACT_MODULE_LOAD && stranded) {
			results[i] = -ECANCELED;
			gh_warn(ctx, "%s %u/%u: module %s not loaded yet: %s is not back on its driver (loaded now, "
				     "the driver stack would come up without it, or wait on it in the kernel)", label,
				i + 1, p->n, op->target, stranded);
			continue;
		}
		r = gh_run_op(ctx, op, dl, &ms);
		gh_run_log_step(ctx, label, i, p->n, op, r, ms);
		results[i] = r;
		if (r >= 0 && op->action == GH_ACT_MODULE_LOAD)
			gh_strv_add(&loaded, op->target);
		if (r < 0) {
			if (!first)
				first = r;
			if (gh_run_device_action(op->action))
				gh_strv_add(failed_devs, op->target);
		}
	}
	gh_strv_free(&loaded);
	return first;
}

/* Marks the devices whose step of the way back timed out: they are left alone from now on. */
static void mark_wedged(struct gh_ctx *ctx, struct gh_journal *j, const struct gh_plan *p, const int *results)
{
	for (unsigned i = 0; i < p->n; i++) {
		struct gh_jdev *d = gh_journal_dev(j, p->v[i].op.target);

		if (results[i] == -ETIMEDOUT && gh_run_device_action(p->v[i].op.action) && d && !d->wedged) {
			d->wedged = true;
			gh_err(ctx, "the device %s is wedged in the kernel: it is left alone until 'gpu-hook recover'",
			       d->addr);
		}
	}
}

/* What a run of the way back did: plan step i reverses journal step undoes[i] with results[i]. */
struct undo_run {
	const struct gh_plan *p;
	const int *undoes;
	const int *results;
	const struct gh_strv *failed_devs;
};

/* Why journal step k is not undone whatever the way back did, or NULL. */
static const char *why_not_undone(struct gh_journal *j, unsigned k)
{
	const struct gh_op *op = &j->steps[k].op;
	const struct gh_jdev *d = gh_run_device_action(op->action) ? gh_journal_dev(j, op->target) : NULL;

	if (d && d->wedged)
		return "not undone: the device is wedged in the kernel; run 'gpu-hook recover' once it answers";
	if (j->status[k] == GH_J_WEDGED)
		return "not undone: it is stuck in the kernel; run 'gpu-hook recover' once it answers";
	if (op->action == GH_ACT_KILL)
		return "cannot be undone: a killed process is not restarted";
	if (op->action == GH_ACT_FB_UNBIND)
		return "not undone: the firmware framebuffer cannot come back after a handoff (its BAR moved)";
	return NULL;
}

/*
 * Logs whether journal step k was undone and marks it so. false when something
 * is left to undo (a killed process or a released firmware framebuffer never
 * comes back, and leaves nothing to do).
 */
static bool report_undo(struct gh_ctx *ctx, struct gh_journal *j, unsigned k, const struct undo_run *u)
{
	const struct gh_op *op = &j->steps[k].op;
	const char *why = why_not_undone(j, k);
	bool any = false, ok = true;
	char desc[512];

	gh_plan_describe(op, desc, sizeof(desc));
	for (unsigned i = 0; i < u->p->n; i++) {
		if (u->undoes[i] != (int)k)
			continue;
		any = true;
		if (u->results[i] < 0)
			ok = false;
	}
	if (why) {
		gh_warn(ctx, "undo of step %u (%s): %s", k + 1, desc, why);
		return op->action == GH_ACT_KILL || op->action == GH_ACT_FB_UNBIND;
	}
	/* A device step is undone only when the whole device came back, checks included. */
	if (gh_run_device_action(op->action) && gh_strv_contains(u->failed_devs, op->target))
		ok = false;
	if (!any || ok) {
		j->status[k] = GH_J_UNDONE;
		/*
		 * After a handoff that went through, a step undone is what the undo
		 * lines above said already; the way back from one that did not
		 * finish reports each step.
		 */
		gh_log(ctx, j->complete ? LOG_DEBUG : LOG_INFO, "undo of step %u (%s): %s", k + 1, desc,
		       any ? "undone" : "nothing to undo");
		return true;
	}
	gh_err(ctx, "undo of step %u (%s): NOT undone", k + 1, desc);
	return false;
}

/* Everything back: the journal goes; else it keeps what is left to undo. */
static int finish_return(struct gh_ctx *ctx, struct gh_journal *j, bool all, int first)
{
	if (all && !first) {
		int r = gh_journal_remove(ctx, j->key);

		if (r < 0)
			gh_warn(ctx, "cannot remove /run/gpu-hook/%s.json: %s", j->key, strerror(-r));
		return 0;
	}
	j->complete = false;
	gh_journal_save(ctx, j);
	return first ? first : -EAGAIN;
}

int gh_run_return(struct gh_ctx *ctx, struct gh_journal *j, const struct gh_deadlines *dl)
{
	struct gh_strv failed_devs = { 0 };
	struct gh_plan p = { 0 };
	struct undo_run u;
	int *undoes = NULL, *results = NULL;
	bool all = true;
	int r, first;

	r = gh_plan_from_journal(j, &p, &undoes);
	if (r < 0)
		return r;
	results = calloc(p.n + 1, sizeof(int));
	if (!results) {
		free(undoes);
		gh_plan_free(&p);
		return -ENOMEM;
	}
	first = run_best_effort(ctx, &p, j, dl, results, &failed_devs, "undo");
	mark_wedged(ctx, j, &p, results);
	for (unsigned i = 0; i < p.n; i++)
		if (results[i] < 0 && gh_run_device_action(p.v[i].op.action))
			gh_strv_add(&failed_devs, p.v[i].op.target);
	u = (struct undo_run){ &p, undoes, results, &failed_devs };
	for (unsigned k = j->n_steps; k-- > 0;)
		if (gh_plan_step_started(j->status[k]) && !report_undo(ctx, j, k, &u))
			all = false;
	/* The final checks and overrides count too: a device not back on its driver is not done. */
	for (unsigned i = 0; i < p.n; i++)
		if (results[i] < 0)
			all = false;
	first = finish_return(ctx, j, all, first);
	gh_strv_free(&failed_devs);
	free(results);
	free(undoes);
	gh_plan_free(&p);
	return first;
}

int gh_run_plan(struct gh_ctx *ctx, const struct gh_plan *p, const struct gh_deadlines *dl)
{
	struct gh_strv failed_devs = { 0 };
	int *results = calloc(p->n + 1, sizeof(int));
	int r;

	if (!results)
		return -ENOMEM;
	r = run_best_effort(ctx, p, NULL, dl, results, &failed_devs, "step");
	gh_strv_free(&failed_devs);
	free(results);
	return r;
}
