/* SPDX-License-Identifier: MIT */
#include "plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan-back.h"

static const char *const action_names[] = {
	[GH_ACT_NONE] = "none",
	[GH_ACT_SERVICE_STOP] = "service-stop",
	[GH_ACT_SERVICE_START] = "service-start",
	[GH_ACT_KILL] = "kill",
	[GH_ACT_VTCON_UNBIND] = "vtcon-unbind",
	[GH_ACT_VTCON_BIND] = "vtcon-bind",
	[GH_ACT_FB_UNBIND] = "fb-unbind",
	[GH_ACT_MODULE_UNLOAD] = "module-unload",
	[GH_ACT_MODULE_LOAD] = "module-load",
	[GH_ACT_OVERRIDE] = "override",
	[GH_ACT_UNBIND] = "unbind",
	[GH_ACT_BIND] = "bind",
	[GH_ACT_PROBE] = "probe",
	[GH_ACT_REMOVE_ID] = "remove-id",
	[GH_ACT_VERIFY] = "verify",
};
_Static_assert(GH_ARRAY_SIZE(action_names) == GH_ACT_MAX, "an action without a name");

const char *gh_plan_action_name(enum gh_action a)
{
	if ((size_t)a >= GH_ARRAY_SIZE(action_names) || !action_names[a])
		return "unknown";
	return action_names[a];
}

void gh_plan_deadlines(const struct gh_policy *pol, struct gh_deadlines *out)
{
	out->step_ms = pol->timeout_ms;
	out->module_ms = pol->module_timeout_ms;
	out->service_ms = pol->service_timeout_ms;
}

unsigned gh_plan_deadline_ms(const struct gh_deadlines *d, enum gh_action a)
{
	if (a == GH_ACT_MODULE_LOAD || a == GH_ACT_MODULE_UNLOAD)
		return d->module_ms;
	if (a == GH_ACT_SERVICE_STOP || a == GH_ACT_SERVICE_START)
		return d->service_ms;
	return d->step_ms;
}

static int set_op(struct gh_op *op, enum gh_action a, const char *target, const char *arg)
{
	op->action = a;
	if (gh_util_copy(op->target, sizeof(op->target), target ? target : "") < 0 ||
	    gh_util_copy(op->arg, sizeof(op->arg), arg ? arg : "") < 0)
		return -ENAMETOOLONG;
	return 0;
}

static int add(struct gh_plan *p, enum gh_action a, const char *target, const char *arg, enum gh_action ua,
	       const char *utarget, const char *uarg)
{
	struct gh_step *v = gh_util_grow(p->v, p->n, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	p->v = v;
	memset(&v[p->n], 0, sizeof(v[p->n]));
	v[p->n].op.pidfd = -1;
	v[p->n].undo.pidfd = -1;
	r = set_op(&v[p->n].op, a, target, arg);
	if (r >= 0)
		r = set_op(&v[p->n].undo, ua, utarget, uarg);
	if (r < 0)
		return r;
	p->n++;
	return 0;
}

int gh_plan_add(struct gh_plan *p, enum gh_action a, const char *target, const char *arg, enum gh_action undo,
		const char *undo_arg)
{
	return add(p, a, target, arg, undo, undo == GH_ACT_NONE ? NULL : target, undo_arg);
}

static bool stack_provides(const struct gh_host *h, const char *driver)
{
	return driver[0] && !strcmp(driver, h->gpu_driver) && h->single_gpu && h->stack.n > 0;
}

/* What the reload costs the host, said in the dry run and the log. */
static int reload_note(const struct gh_host *h, struct gh_plan *p)
{
	char mods[256] = "", others[256] = "", note[1024];

	for (unsigned i = 0; i < h->reload.n; i++)
		if (gh_util_format(mods + strlen(mods), sizeof(mods) - strlen(mods), "%s%s", i ? ", " : "",
				   h->reload.v[i].name) < 0)
			return -ENAMETOOLONG;
	if (gh_strv_join(&h->others, ", ", others, sizeof(others)) < 0)
		return -ENAMETOOLONG;
	if (gh_util_format(note, sizeof(note),
			   "modeset_hold = reload: NVIDIA driver %s cannot release one card while nvidia-drm "
			   "(modeset=1) holds them all, so %s unload before the card leaves nvidia and load again "
			   "after; for that moment the host's console and displays on the other card (%s) go away",
			   h->modeset.version[0] ? h->modeset.version : "(version unknown)", mods, others) < 0)
		return -ENAMETOOLONG;
	return gh_strv_push(&p->notes, note);
}

static int build_to_vfio(const struct gh_host *h, struct gh_plan *p)
{
	bool all_there = h->n_f > 0;
	int r = 0;

	for (unsigned i = 0; i < h->n_f; i++)
		if (strcmp(h->f[i].dev.driver, "vfio-pci"))
			all_there = false;
	if (all_there) {
		p->already = true;
		return gh_strv_push(&p->notes, "every function is already on vfio-pci: nothing to do");
	}
	/* An unbind that would never return is not planned at all (the refusal says why). */
	if (!h->n_f || (h->modeset.holds && !h->reload.n))
		return 0;

	for (size_t i = 0; i < h->services.n && r >= 0; i++)
		r = add(p, GH_ACT_SERVICE_STOP, h->services.v[i], NULL, GH_ACT_SERVICE_START, h->services.v[i], NULL);
	for (unsigned i = 0; i < h->n_kill && r >= 0; i++) {
		const struct gh_kill *k = &h->kill[i];
		char pid[32];

		snprintf(pid, sizeof(pid), "%d", (int)k->pid);
		r = add(p, GH_ACT_KILL, pid, k->comm, GH_ACT_NONE, NULL, NULL);
		if (r >= 0) {
			p->v[p->n - 1].op.start = k->start;
			p->v[p->n - 1].op.pidfd = k->pidfd;
		}
	}
	for (size_t i = 0; i < h->vtcons.n && r >= 0; i++)
		r = add(p, GH_ACT_VTCON_UNBIND, h->vtcons.v[i], NULL, GH_ACT_VTCON_BIND, h->vtcons.v[i], NULL);
	/* efifb is not rebound after a handoff: the BAR has moved ("BAR has moved"). */
	for (size_t i = 0; i < h->con.n_fw && r >= 0; i++)
		if (gh_strv_contains(&h->fwfbs, h->con.fw[i].id) && h->pol.console != GH_CONSOLE_KEEP)
			r = add(p, GH_ACT_FB_UNBIND, h->con.fw[i].id, h->con.fw[i].driver, GH_ACT_NONE, NULL, NULL);
	if (h->single_gpu) {
		for (unsigned i = 0; i < h->stack.n && r >= 0; i++) {
			const struct gh_module *m = &h->stack.v[i];

			if (m->state == GH_MOD_LIVE)
				r = add(p, GH_ACT_MODULE_UNLOAD, m->name, NULL, GH_ACT_MODULE_LOAD, m->name, NULL);
		}
	}
	/* modeset_hold = reload: nvidia-drm gives the cards back only when it unloads. */
	for (unsigned i = 0; i < h->reload.n && r >= 0; i++)
		if (h->reload.v[i].state == GH_MOD_LIVE)
			r = add(p, GH_ACT_MODULE_UNLOAD, h->reload.v[i].name, NULL, GH_ACT_MODULE_LOAD,
				h->reload.v[i].name, NULL);
	if (h->reload.n && r >= 0)
		r = reload_note(h, p);
	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		const struct gh_pci_dev *d = &h->f[i].dev;

		if (!strcmp(d->driver, "vfio-pci"))
			continue;
		r = add(p, GH_ACT_OVERRIDE, d->addr, "vfio-pci", GH_ACT_OVERRIDE, d->addr, d->override);
		/* A function of an unloaded stack has no driver left to leave. */
		if (r >= 0 && d->driver[0] && !stack_provides(h, d->driver))
			r = add(p, GH_ACT_UNBIND, d->addr, d->driver, GH_ACT_BIND, d->addr, d->driver);
		if (r >= 0)
			r = add(p, GH_ACT_PROBE, d->addr, "vfio-pci", GH_ACT_UNBIND, d->addr, "vfio-pci");
	}
	/* Loaded again once the card has left nvidia: nvidia-drm then takes only the cards that stay. */
	for (unsigned i = h->reload.n; i-- > 0 && r >= 0;)
		if (h->reload.v[i].state == GH_MOD_LIVE)
			r = add(p, GH_ACT_MODULE_LOAD, h->reload.v[i].name, NULL, GH_ACT_MODULE_UNLOAD,
				h->reload.v[i].name, NULL);
	for (unsigned i = 0; i < h->n_f && r >= 0; i++)
		r = add(p, GH_ACT_VERIFY, h->f[i].dev.addr, "vfio-pci", GH_ACT_NONE, NULL, NULL);
	return r;
}

int gh_plan_build(const struct gh_host *h, enum gh_direction dir, struct gh_plan *out)
{
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->dir = dir;
	for (size_t i = 0; i < h->notes.n && r >= 0; i++)
		r = gh_strv_push(&out->notes, h->notes.v[i]);
	/* Holders and nvidia-drm's hold matter only to a handoff that has yet to happen. */
	if (r >= 0)
		r = gh_refusal_copy(&out->refusals, &h->refusals,
				    dir == GH_TO_VFIO ? 0 : GH_REFUSAL_BIT(GH_REFUSAL_HOLDER) | GH_REFUSAL_BIT(GH_REFUSAL_MODESET));
	if (r >= 0)
		r = dir == GH_TO_VFIO ? build_to_vfio(h, out) : gh_plan_back_from_host(h, out);
	if (r < 0)
		gh_plan_free(out);
	return r;
}

void gh_plan_free(struct gh_plan *p)
{
	free(p->v);
	gh_refusal_free(&p->refusals);
	gh_strv_free(&p->notes);
	memset(p, 0, sizeof(*p));
}

int gh_plan_describe(const struct gh_op *op, char *buf, size_t size)
{
	const char *t = op->target, *a = op->arg;

	switch (op->action) {
	case GH_ACT_NONE:
	case GH_ACT_MAX:
		return gh_util_format(buf, size, "nothing");
	case GH_ACT_SERVICE_STOP:
		return gh_util_format(buf, size, "stop %s (systemctl stop)", t);
	case GH_ACT_SERVICE_START:
		return gh_util_format(buf, size, "start %s (systemctl start)", t);
	case GH_ACT_KILL:
		return gh_util_format(buf, size, "kill pid %s (%s), which holds the card", t, a);
	case GH_ACT_VTCON_UNBIND:
		return gh_util_format(buf, size, "detach the console: write 0 to /sys/class/vtconsole/%s/bind", t);
	case GH_ACT_VTCON_BIND:
		return gh_util_format(buf, size, "reattach the console: write 1 to /sys/class/vtconsole/%s/bind", t);
	case GH_ACT_FB_UNBIND:
		return gh_util_format(buf, size,
				      "release the firmware framebuffer: write %s to /sys/bus/platform/drivers/%s/unbind",
				      t, a);
	case GH_ACT_MODULE_UNLOAD:
		return gh_util_format(buf, size, "unload module %s (libkmod, no force)", t);
	case GH_ACT_MODULE_LOAD:
		return gh_util_format(buf, size, "load module %s (libkmod, modprobe.d options)", t);
	case GH_ACT_OVERRIDE:
		if (!a[0])
			return gh_util_format(buf, size, "clear /sys/bus/pci/devices/%s/driver_override", t);
		return gh_util_format(buf, size, "write %s to /sys/bus/pci/devices/%s/driver_override", a, t);
	case GH_ACT_UNBIND:
		return gh_util_format(buf, size, "write %s to /sys/bus/pci/drivers/%s/unbind", t, a);
	case GH_ACT_BIND:
		return gh_util_format(buf, size, "write %s to /sys/bus/pci/drivers/%s/bind", t, a);
	case GH_ACT_PROBE:
		return gh_util_format(buf, size, "write %s to /sys/bus/pci/drivers_probe (expect %s)", t, a);
	case GH_ACT_REMOVE_ID:
		return gh_util_format(buf, size, "write \"%s\" to /sys/bus/pci/drivers/vfio-pci/remove_id (for %s)",
				      a, t);
	case GH_ACT_VERIFY:
		if (!strcmp(a, "vfio-pci"))
			return gh_util_format(buf, size, "verify %s is on vfio-pci and its /dev/vfio group node exists",
					      t);
		return gh_util_format(buf, size, "verify %s is on %s", t, a);
	}
	return -EINVAL;
}
