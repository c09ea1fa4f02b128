/* SPDX-License-Identifier: MIT */
#include "plan.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int build_to_host(const struct gh_host *h, struct gh_plan *p)
{
	struct gh_strv loads = { 0 };
	bool all_home = true;
	int r = 0;

	for (unsigned i = 0; i < h->n_f; i++) {
		const struct gh_func *f = &h->f[i];

		if (f->host_driver[0] ? strcmp(f->dev.driver, f->host_driver) != 0 : f->dev.driver[0] != '\0')
			all_home = false;
	}
	if (all_home) {
		p->already = true;
		return gh_strv_push(&p->notes, "every function is already on its host driver: nothing to do");
	}
	if (!h->pol.restore)
		return gh_strv_push(&p->notes, "restore = no: the functions stay on vfio-pci");

	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		const struct gh_func *f = &h->f[i];
		const struct gh_pci_dev *d = &f->dev;
		char ids[16];

		if (f->host_driver[0] && !strcmp(d->driver, f->host_driver))
			continue;
		/* Keep the override on the host driver until the bind is verified. */
		r = add(p, GH_ACT_OVERRIDE, d->addr, f->host_driver, GH_ACT_OVERRIDE, d->addr, d->override);
		if (r >= 0 && d->driver[0])
			r = add(p, GH_ACT_UNBIND, d->addr, d->driver, GH_ACT_BIND, d->addr, d->driver);
		/* PVE binds with new_id and never removes it: a reprobe would land on vfio-pci again. */
		snprintf(ids, sizeof(ids), "%04x %04x", d->vendor & 0xffff, d->device & 0xffff);
		if (r >= 0)
			r = add(p, GH_ACT_REMOVE_ID, d->addr, ids, GH_ACT_NONE, NULL, NULL);
		if (r >= 0 && f->host_driver[0]) {
			char mod[64];

			driver_module(h, f->host_driver, mod, sizeof(mod));
			if (!f->host_driver_present)
				r = gh_strv_add(&loads, mod);
		} else if (r >= 0) {
			char note[160];

			snprintf(note, sizeof(note), "%s: no host driver known; it is left unbound (set one under "
				 "[drivers])", d->addr);
			r = gh_strv_push(&p->notes, note);
		}
	}
	for (size_t i = 0; i < loads.n && r >= 0; i++)
		r = add(p, GH_ACT_MODULE_LOAD, loads.v[i], NULL, GH_ACT_NONE, NULL, NULL);
	gh_strv_free(&loads);
	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		const struct gh_func *f = &h->f[i];

		if (f->host_driver[0] && strcmp(f->dev.driver, f->host_driver))
			r = add(p, GH_ACT_PROBE, f->dev.addr, f->host_driver, GH_ACT_UNBIND, f->dev.addr,
				f->host_driver);
	}
	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		const struct gh_func *f = &h->f[i];

		if (!f->host_driver[0] || !strcmp(f->dev.driver, f->host_driver))
			continue;
		r = add(p, GH_ACT_VERIFY, f->dev.addr, f->host_driver, GH_ACT_NONE, NULL, NULL);
		if (r >= 0)
			r = add(p, GH_ACT_OVERRIDE, f->dev.addr, "", GH_ACT_OVERRIDE, f->dev.addr, f->host_driver);
	}
	if (h->pol.console != GH_CONSOLE_KEEP) {
		for (unsigned i = 0; i < h->con.n_vt && r >= 0; i++)
			if (h->con.vt[i].fbcon && !h->con.vt[i].bound)
				r = add(p, GH_ACT_VTCON_BIND, h->con.vt[i].id, NULL, GH_ACT_VTCON_UNBIND,
					h->con.vt[i].id, NULL);
	}
	for (size_t i = 0; i < h->services_known.n && r >= 0; i++)
		if (!gh_strv_contains(&h->services, h->services_known.v[i]))
			r = add(p, GH_ACT_SERVICE_START, h->services_known.v[i], NULL, GH_ACT_SERVICE_STOP,
				h->services_known.v[i], NULL);
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
		r = dir == GH_TO_VFIO ? build_to_vfio(h, out) : build_to_host(h, out);
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

static struct json_object *str_or_null(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

static struct json_object *strv_json(const struct gh_strv *sv)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < sv->n; i++)
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	return a;
}

static struct json_object *op_json(const struct gh_op *op, const struct gh_deadlines *dl)
{
	struct json_object *o = json_object_new_object();
	char desc[512];

	if (!o)
		return NULL;
	json_object_object_add(o, "action", json_object_new_string(gh_plan_action_name(op->action)));
	json_object_object_add(o, "target", str_or_null(op->target));
	json_object_object_add(o, "arg", op->action == GH_ACT_OVERRIDE ? json_object_new_string(op->arg)
								      : str_or_null(op->arg));
	if (gh_plan_describe(op, desc, sizeof(desc)) >= 0)
		json_object_object_add(o, "description", json_object_new_string(desc));
	json_object_object_add(o, "deadline_ms", json_object_new_int64(gh_plan_deadline_ms(dl, op->action)));
	return o;
}

static struct json_object *device_json(const struct gh_func *f, enum gh_direction dir)
{
	struct json_object *o = json_object_new_object();
	char hex[16];

	if (!o)
		return NULL;
	json_object_object_add(o, "address", json_object_new_string(f->dev.addr));
	snprintf(hex, sizeof(hex), "0x%06x", f->dev.class);
	json_object_object_add(o, "class", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "%04x", f->dev.vendor);
	json_object_object_add(o, "vendor", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "%04x", f->dev.device);
	json_object_object_add(o, "device", json_object_new_string(hex));
	json_object_object_add(o, "driver", str_or_null(f->dev.driver));
	json_object_object_add(o, "override", str_or_null(f->dev.override));
	json_object_object_add(o, "iommu_group",
			       f->dev.iommu_group >= 0 ? json_object_new_int(f->dev.iommu_group) : NULL);
	json_object_object_add(o, "host_driver", str_or_null(f->host_driver));
	json_object_object_add(o, "target", dir == GH_TO_VFIO ? json_object_new_string("vfio-pci")
							      : str_or_null(f->host_driver));
	json_object_object_add(o, "hostpci", f->hostpci >= 0 ? json_object_new_int(f->hostpci) : NULL);
	return o;
}

/* nvidia-drm's hold on the cards, when a card leaves nvidia on a host with others; else null. */
static struct json_object *modeset_json(const struct gh_host *h)
{
	struct json_object *o, *mods;

	if (!h->modeset.cards)
		return NULL;
	o = json_object_new_object();
	if (!o)
		return NULL;
	json_object_object_add(o, "cards", json_object_new_int((int)h->modeset.cards));
	json_object_object_add(o, "modeset", json_object_new_boolean(h->modeset.modeset));
	json_object_object_add(o, "driver_version", str_or_null(h->modeset.version));
	json_object_object_add(o, "per_gpu_removal", json_object_new_boolean(h->modeset.removes_gpu));
	json_object_object_add(o, "evidence", str_or_null(h->modeset.source));
	json_object_object_add(o, "holds_every_card", json_object_new_boolean(h->modeset.holds));
	mods = json_object_new_array();
	for (unsigned i = 0; mods && i < h->reload.n; i++)
		json_object_array_add(mods, json_object_new_string(h->reload.v[i].name));
	json_object_object_add(o, "reload", mods);
	return o;
}

struct json_object *gh_plan_to_json(const struct gh_plan *p, const struct gh_host *h, const char *phase,
				    bool dry_run)
{
	struct json_object *o = json_object_new_object();
	struct json_object *devs, *steps, *host, *mods, *dlo;
	struct gh_deadlines dl;

	if (!o)
		return NULL;
	gh_plan_deadlines(&h->pol, &dl);
	json_object_object_add(o, "vmid", h->vmid ? json_object_new_int64(h->vmid) : NULL);
	json_object_object_add(o, "phase", json_object_new_string(phase));
	json_object_object_add(o, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(o, "direction", json_object_new_string(p->dir == GH_TO_VFIO ? "to-vfio" : "to-host"));
	devs = json_object_new_array();
	for (unsigned i = 0; devs && i < h->n_f; i++)
		json_object_array_add(devs, device_json(&h->f[i], p->dir));
	json_object_object_add(o, "devices", devs);

	host = json_object_new_object();
	if (host) {
		json_object_object_add(host, "gpu_driver", str_or_null(h->gpu_driver));
		json_object_object_add(host, "gpu_module", str_or_null(h->gpu_module));
		json_object_object_add(host, "single_gpu", json_object_new_boolean(h->single_gpu));
		json_object_object_add(host, "modeset_hold", modeset_json(h));
		json_object_object_add(host, "other_gpu_functions", strv_json(&h->others));
		json_object_object_add(host, "console_on_card", json_object_new_boolean(h->console_on_card));
		json_object_object_add(host, "vtconsoles", strv_json(&h->vtcons));
		mods = json_object_new_array();
		for (unsigned i = 0; mods && i < h->stack.n; i++) {
			struct json_object *m = json_object_new_object();

			if (!m)
				continue;
			json_object_object_add(m, "name", json_object_new_string(h->stack.v[i].name));
			json_object_object_add(m, "state",
					       json_object_new_string(gh_modules_state_name(h->stack.v[i].state)));
			json_object_object_add(m, "refcnt", json_object_new_int(h->stack.v[i].refcnt));
			json_object_object_add(m, "holders", strv_json(&h->stack.v[i].holders));
			json_object_array_add(mods, m);
		}
		json_object_object_add(host, "modules", mods);
		json_object_object_add(host, "services_to_stop", strv_json(&h->services));
	}
	json_object_object_add(o, "host", host);

	dlo = json_object_new_object();
	if (dlo) {
		json_object_object_add(dlo, "timeout_ms", json_object_new_int64(dl.step_ms));
		json_object_object_add(dlo, "module_timeout_ms", json_object_new_int64(dl.module_ms));
		json_object_object_add(dlo, "service_timeout_ms", json_object_new_int64(dl.service_ms));
	}
	json_object_object_add(o, "deadlines", dlo);
	steps = json_object_new_array();
	for (unsigned i = 0; steps && i < p->n; i++) {
		struct json_object *s = op_json(&p->v[i].op, &dl);

		if (!s)
			continue;
		json_object_object_add(s, "undo",
				       p->v[i].undo.action == GH_ACT_NONE ? NULL : op_json(&p->v[i].undo, &dl));
		json_object_array_add(steps, s);
	}
	json_object_object_add(o, "steps", steps);
	json_object_object_add(o, "already", json_object_new_boolean(p->already));
	json_object_object_add(o, "refusals", gh_refusal_json(&p->refusals));
	json_object_object_add(o, "notes", strv_json(&p->notes));
	return o;
}
