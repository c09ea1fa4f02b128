/* SPDX-License-Identifier: MIT */
#include "plan-back.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modules.h"

struct back {
	struct gh_plan *p;
	int *undoes;		/* from a journal: the journal step each plan step reverses; NULL from a host */
	int err;		/* the first error; later emits do nothing */
};

/* What the way back does to one function, whichever source said so. */
struct back_dev {
	const char *addr;
	const char *from;	/* the driver it leaves ("" none) */
	const char *to;		/* the driver_override written first */
	const char *was;	/* the override it has now: the inverse of the first write */
	unsigned vendor, device;
	int undo_override, undo_probe;	/* the journal steps they reverse, or -1 */
};

static void emit(struct back *b, enum gh_action a, const char *target, const char *arg, enum gh_action ua,
		 const char *uarg, int undoes)
{
	if (b->err)
		return;
	/* From a journal the way back runs best effort and is not undone itself. */
	if (b->undoes) {
		ua = GH_ACT_NONE;
		uarg = NULL;
	}
	b->err = gh_plan_add(b->p, a, target, arg, ua, uarg);
	if (!b->err && b->undoes)
		b->undoes[b->p->n - 1] = undoes;
}

/* Off vfio-pci: the override first, so that nothing reprobes it onto vfio-pci again. */
static void release(struct back *b, const struct back_dev *d)
{
	char ids[16];

	emit(b, GH_ACT_OVERRIDE, d->addr, d->to, GH_ACT_OVERRIDE, d->was, d->undo_override);
	if (d->from[0])
		emit(b, GH_ACT_UNBIND, d->addr, d->from, GH_ACT_BIND, d->from, d->undo_probe);
	/* PVE binds with new_id and never removes it: a reprobe would land on vfio-pci again. */
	snprintf(ids, sizeof(ids), "%04x %04x", d->vendor & 0xffff, d->device & 0xffff);
	emit(b, GH_ACT_REMOVE_ID, d->addr, ids, GH_ACT_NONE, NULL, -1);
}

static void probe(struct back *b, const char *addr, const char *driver, int undoes)
{
	emit(b, GH_ACT_PROBE, addr, driver, GH_ACT_UNBIND, driver, undoes);
}

/* Keep the override on the host driver until the bind is verified; then restore the one it had. */
static void settle(struct back *b, const char *addr, const char *driver, const char *restore)
{
	if (driver[0])
		emit(b, GH_ACT_VERIFY, addr, driver, GH_ACT_NONE, NULL, -1);
	if (driver[0] || restore[0])
		emit(b, GH_ACT_OVERRIDE, addr, restore, GH_ACT_OVERRIDE, driver, -1);
}

/* The module that provides a PCI driver, for loading it back. */
static void driver_module(const struct gh_host *h, const char *driver, char *buf, size_t size)
{
	if (!strcmp(driver, h->gpu_driver) && h->gpu_module[0])
		gh_util_copy(buf, size, h->gpu_module);
	else if (!strcmp(driver, "nvidia-gpu"))
		gh_util_copy(buf, size, "i2c_nvidia_gpu");
	else if (!strcmp(driver, "xhci_hcd"))
		gh_util_copy(buf, size, "xhci_pci");
	else {
		gh_util_copy(buf, size, driver);
		for (char *c = buf; *c; c++)
			if (*c == '-')
				*c = '_';
	}
}

static bool at_home(const struct gh_func *f)
{
	return f->host_driver[0] ? !strcmp(f->dev.driver, f->host_driver) : f->dev.driver[0] == '\0';
}

/* Each function off vfio-pci; the modules of the drivers that are not loaded into loads. */
static int host_release(struct back *b, const struct gh_host *h, struct gh_strv *loads)
{
	for (unsigned i = 0; i < h->n_f && !b->err; i++) {
		const struct gh_func *f = &h->f[i];
		const struct gh_pci_dev *d = &f->dev;
		struct back_dev bd = { d->addr, d->driver, f->host_driver, d->override, d->vendor, d->device, -1, -1 };

		if (f->host_driver[0] && !strcmp(d->driver, f->host_driver))
			continue;
		release(b, &bd);
		if (!b->err && f->host_driver[0]) {
			char mod[64];

			driver_module(h, f->host_driver, mod, sizeof(mod));
			if (!f->host_driver_present)
				b->err = gh_strv_add(loads, mod);
		} else if (!b->err) {
			char note[160];

			snprintf(note, sizeof(note), "%s: no host driver known; it is left unbound (set one under "
				 "[drivers])", d->addr);
			b->err = gh_strv_push(&b->p->notes, note);
		}
	}
	return b->err;
}

int gh_plan_back_from_host(const struct gh_host *h, struct gh_plan *p)
{
	struct back b = { p, NULL, 0 };
	struct gh_strv loads = { 0 };
	bool all_home = true;

	for (unsigned i = 0; i < h->n_f; i++)
		if (!at_home(&h->f[i]))
			all_home = false;
	if (all_home) {
		p->already = true;
		return gh_strv_push(&p->notes, "every function is already on its host driver: nothing to do");
	}
	if (!h->pol.restore)
		return gh_strv_push(&p->notes, "restore = no: the functions stay on vfio-pci");

	host_release(&b, h, &loads);
	for (size_t i = 0; i < loads.n; i++)
		emit(&b, GH_ACT_MODULE_LOAD, loads.v[i], NULL, GH_ACT_NONE, NULL, -1);
	gh_strv_free(&loads);
	for (unsigned i = 0; i < h->n_f; i++)
		if (h->f[i].host_driver[0] && strcmp(h->f[i].dev.driver, h->f[i].host_driver))
			probe(&b, h->f[i].dev.addr, h->f[i].host_driver, -1);
	for (unsigned i = 0; i < h->n_f; i++)
		if (h->f[i].host_driver[0] && strcmp(h->f[i].dev.driver, h->f[i].host_driver))
			settle(&b, h->f[i].dev.addr, h->f[i].host_driver, "");
	if (h->pol.console != GH_CONSOLE_KEEP) {
		for (unsigned i = 0; i < h->con.n_vt; i++)
			if (h->con.vt[i].fbcon && !h->con.vt[i].bound)
				emit(&b, GH_ACT_VTCON_BIND, h->con.vt[i].id, NULL, GH_ACT_VTCON_UNBIND, NULL, -1);
	}
	for (size_t i = 0; i < h->services_known.n; i++)
		if (!gh_strv_contains(&h->services, h->services_known.v[i]))
			emit(&b, GH_ACT_SERVICE_START, h->services_known.v[i], NULL, GH_ACT_SERVICE_STOP, NULL, -1);
	return b.err;
}

bool gh_plan_step_started(enum gh_jstatus s)
{
	return s == GH_J_RUNNING || s == GH_J_DONE || s == GH_J_FAILED || s == GH_J_WEDGED;
}

static int find_step(const struct gh_journal *j, enum gh_action a, const char *target)
{
	for (unsigned i = 0; i < j->n_steps; i++)
		if (j->steps[i].op.action == a && !strcmp(j->steps[i].op.target, target) &&
		    gh_plan_step_started(j->status[i]))
			return (int)i;
	return -1;
}

static bool touched(const struct gh_journal *j, const struct gh_jdev *d)
{
	return find_step(j, GH_ACT_OVERRIDE, d->addr) >= 0 || find_step(j, GH_ACT_UNBIND, d->addr) >= 0 ||
	       find_step(j, GH_ACT_PROBE, d->addr) >= 0;
}

/* A function the way back acts on: touched by the handoff, and not wedged in the kernel. */
static bool goes_back(const struct gh_journal *j, const struct gh_jdev *d)
{
	return !d->wedged && touched(j, d);
}

/* A step that ran, may have, or was undone already, and is not stuck in the kernel. */
static bool took_effect(const struct gh_journal *j, unsigned k)
{
	return (gh_plan_step_started(j->status[k]) || j->status[k] == GH_J_UNDONE) && j->status[k] != GH_J_WEDGED;
}

/*
 * An unload the way back loads again. One already undone is loaded again too (a
 * no-op when it is still loaded): a card that missed its driver on an earlier way
 * back must go back on it before the modules stacked on it load.
 */
static bool reload(const struct gh_journal *j, unsigned k)
{
	return j->steps[k].op.action == GH_ACT_MODULE_UNLOAD && took_effect(j, k);
}

static bool reload_planned(const struct gh_journal *j, const char *driver)
{
	for (unsigned k = 0; k < j->n_steps; k++)
		if (reload(j, k) && gh_modules_name_eq(j->steps[k].op.target, driver))
			return true;
	return false;
}

/*
 * modeset_hold = reload: a module the handoff unloaded and loaded again came
 * back without the card, and an nvidia-drm without per-GPU removal never takes
 * up a card that arrives later. The way back unloads it before the card
 * returns and loads it after.
 */
static bool reloaded(const struct gh_journal *j, const char *module)
{
	for (unsigned k = 0; k < j->n_steps; k++)
		if (j->steps[k].op.action == GH_ACT_MODULE_LOAD && gh_modules_name_eq(j->steps[k].op.target, module) &&
		    took_effect(j, k))
			return true;
	return false;
}

/*
 * A card goes back on its driver right after that driver's module loads, before
 * the modules stacked on it: nvidia-drm loaded while the card is not on nvidia
 * comes up without a framebuffer and does not pick the card up later, so the
 * console could not come back without reloading it. Cards whose driver was not
 * unloaded go back once every module is loaded.
 */
static void journal_modules(struct back *b, const struct gh_journal *j)
{
	for (unsigned k = j->n_steps; k-- > 0;)
		if (j->steps[k].op.action == GH_ACT_MODULE_LOAD && reloaded(j, j->steps[k].op.target))
			emit(b, GH_ACT_MODULE_UNLOAD, j->steps[k].op.target, NULL, GH_ACT_NONE, NULL, (int)k);
	for (unsigned k = j->n_steps; k-- > 0;) {
		const char *m = j->steps[k].op.target;

		if (!reload(j, k) || reloaded(j, m))
			continue;
		emit(b, GH_ACT_MODULE_LOAD, m, NULL, GH_ACT_NONE, NULL, (int)k);
		for (unsigned i = 0; i < j->n_dev; i++) {
			const struct gh_jdev *d = &j->dev[i];

			if (goes_back(j, d) && d->host_driver[0] && gh_modules_name_eq(d->host_driver, m))
				probe(b, d->addr, d->host_driver, find_step(j, GH_ACT_UNBIND, d->addr));
		}
	}
	for (unsigned i = 0; i < j->n_dev; i++) {
		const struct gh_jdev *d = &j->dev[i];

		if (goes_back(j, d) && d->host_driver[0] && !reload_planned(j, d->host_driver))
			probe(b, d->addr, d->host_driver, find_step(j, GH_ACT_UNBIND, d->addr));
	}
	for (unsigned k = 0; k < j->n_steps; k++)
		if (j->steps[k].op.action == GH_ACT_MODULE_LOAD && reloaded(j, j->steps[k].op.target))
			emit(b, GH_ACT_MODULE_LOAD, j->steps[k].op.target, NULL, GH_ACT_NONE, NULL,
			     find_step(j, GH_ACT_MODULE_UNLOAD, j->steps[k].op.target));
}

/* The undo of each started step of kind a, last first: one step of kind inverse. */
static void journal_reverse(struct back *b, const struct gh_journal *j, enum gh_action a, enum gh_action inverse)
{
	for (unsigned k = j->n_steps; k-- > 0;)
		if (j->steps[k].op.action == a && gh_plan_step_started(j->status[k]))
			emit(b, inverse, j->steps[k].op.target, NULL, GH_ACT_NONE, NULL, (int)k);
}

int gh_plan_from_journal(const struct gh_journal *j, struct gh_plan *out, int **undoes)
{
	struct back b = { out, NULL, 0 };

	*undoes = NULL;
	memset(out, 0, sizeof(*out));
	out->dir = GH_TO_HOST;
	/* At most 6 steps per device and one per journal step. */
	b.undoes = calloc(j->n_dev * 6 + j->n_steps + 1, sizeof(int));
	if (!b.undoes)
		return -ENOMEM;
	for (unsigned i = 0; i < j->n_dev; i++) {
		const struct gh_jdev *d = &j->dev[i];
		struct back_dev bd = { d->addr, "vfio-pci", d->host_driver[0] ? d->host_driver : d->override, "",
				       d->vendor, d->device, find_step(j, GH_ACT_OVERRIDE, d->addr),
				       find_step(j, GH_ACT_PROBE, d->addr) };

		if (goes_back(j, d))
			release(&b, &bd);
	}
	journal_modules(&b, j);
	for (unsigned i = 0; i < j->n_dev; i++)
		if (goes_back(j, &j->dev[i]))
			settle(&b, j->dev[i].addr, j->dev[i].host_driver, j->dev[i].override);
	journal_reverse(&b, j, GH_ACT_VTCON_UNBIND, GH_ACT_VTCON_BIND);
	journal_reverse(&b, j, GH_ACT_SERVICE_STOP, GH_ACT_SERVICE_START);
	if (b.err) {
		free(b.undoes);
		gh_plan_free(out);
		return b.err;
	}
	*undoes = b.undoes;
	return 0;
}
