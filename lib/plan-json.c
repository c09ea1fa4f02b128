/* SPDX-License-Identifier: MIT */
/* The JSON the dry runs print: a handoff plan, and post-start's pinning. */
#include "plan.h"

#include <stdio.h>
#include <string.h>

#include "affinity.h"
#include "cpulist.h"
#include "jsonx.h"

static struct json_object *op_json(const struct gh_op *op, const struct gh_deadlines *dl)
{
	struct json_object *o = json_object_new_object();
	char desc[512];

	if (!o)
		return NULL;
	json_object_object_add(o, "action", json_object_new_string(gh_plan_action_name(op->action)));
	json_object_object_add(o, "target", gh_json_str_or_null(op->target));
	json_object_object_add(o, "arg", op->action == GH_ACT_OVERRIDE ? json_object_new_string(op->arg)
								      : gh_json_str_or_null(op->arg));
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
	json_object_object_add(o, "driver", gh_json_str_or_null(f->dev.driver));
	json_object_object_add(o, "override", gh_json_str_or_null(f->dev.override));
	json_object_object_add(o, "iommu_group",
			       f->dev.iommu_group >= 0 ? json_object_new_int(f->dev.iommu_group) : NULL);
	json_object_object_add(o, "host_driver", gh_json_str_or_null(f->host_driver));
	json_object_object_add(o, "target", dir == GH_TO_VFIO ? json_object_new_string("vfio-pci")
							      : gh_json_str_or_null(f->host_driver));
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
	json_object_object_add(o, "driver_version", gh_json_str_or_null(h->modeset.version));
	json_object_object_add(o, "per_gpu_removal", json_object_new_boolean(h->modeset.removes_gpu));
	json_object_object_add(o, "evidence", gh_json_str_or_null(h->modeset.source));
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
		json_object_object_add(host, "gpu_driver", gh_json_str_or_null(h->gpu_driver));
		json_object_object_add(host, "gpu_module", gh_json_str_or_null(h->gpu_module));
		json_object_object_add(host, "single_gpu", json_object_new_boolean(h->single_gpu));
		json_object_object_add(host, "modeset_hold", modeset_json(h));
		json_object_object_add(host, "other_gpu_functions", gh_json_strv(&h->others));
		json_object_object_add(host, "console_on_card", json_object_new_boolean(h->console_on_card));
		json_object_object_add(host, "vtconsoles", gh_json_strv(&h->vtcons));
		mods = json_object_new_array();
		for (unsigned i = 0; mods && i < h->stack.n; i++) {
			struct json_object *m = json_object_new_object();

			if (!m)
				continue;
			json_object_object_add(m, "name", json_object_new_string(h->stack.v[i].name));
			json_object_object_add(m, "state",
					       json_object_new_string(gh_modules_state_name(h->stack.v[i].state)));
			json_object_object_add(m, "refcnt", json_object_new_int(h->stack.v[i].refcnt));
			json_object_object_add(m, "holders", gh_json_strv(&h->stack.v[i].holders));
			json_object_array_add(mods, m);
		}
		json_object_object_add(host, "modules", mods);
		json_object_object_add(host, "services_to_stop", gh_json_strv(&h->services));
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
	json_object_object_add(o, "notes", gh_json_strv(&p->notes));
	return o;
}

void gh_affinity_pin_cpus(const struct gh_pin *t, char *now, size_t now_size, char *want, size_t want_size)
{
	if (gh_cpulist_format(&t->now, now, now_size) < 0)
		snprintf(now, now_size, "?");
	if (t->leave)
		snprintf(want, want_size, "(left alone)");
	else if (gh_cpulist_format(&t->want, want, want_size) < 0)
		snprintf(want, want_size, "?");
}

/* One thread as post-start's dry run shows it; *step is its pin step, NULL for a thread left alone. */
static struct json_object *pin_json(const struct gh_pin *t, struct json_object **step)
{
	struct json_object *th = json_object_new_object();
	char now[256], want[256], comm[64], desc[384], tid[16];

	*step = NULL;
	if (!th)
		return NULL;
	gh_affinity_pin_cpus(t, now, sizeof(now), want, sizeof(want));
	json_object_object_add(th, "tid", json_object_new_int(t->tid));
	json_object_object_add(th, "name", json_object_new_string(t->comm));
	json_object_object_add(th, "vcpu", t->vcpu >= 0 ? json_object_new_int(t->vcpu) : NULL);
	json_object_object_add(th, "cpus_now", json_object_new_string(now));
	json_object_object_add(th, "cpus", t->leave ? NULL : json_object_new_string(want));
	if (t->leave)
		return th;
	snprintf(tid, sizeof(tid), "%d", (int)t->tid);
	snprintf(desc, sizeof(desc), "pin thread %d (%s) to CPUs %s (sched_setaffinity)", (int)t->tid,
		 gh_util_escape(t->comm, comm, sizeof(comm)), want);
	*step = json_object_new_object();
	if (!*step)
		return th;
	json_object_object_add(*step, "action", json_object_new_string("pin"));
	json_object_object_add(*step, "target", json_object_new_string(tid));
	json_object_object_add(*step, "arg", json_object_new_string(want));
	json_object_object_add(*step, "description", json_object_new_string(desc));
	return th;
}

struct json_object *gh_affinity_to_json(const struct gh_pinplan *pp, unsigned vmid, bool dry_run)
{
	struct json_object *root = json_object_new_object(), *steps, *threads;

	if (!root)
		return NULL;
	json_object_object_add(root, "vmid", json_object_new_int64(vmid));
	json_object_object_add(root, "phase", json_object_new_string("post-start"));
	json_object_object_add(root, "dry_run", json_object_new_boolean(dry_run));
	json_object_object_add(root, "pid", pp->pid ? json_object_new_int(pp->pid) : NULL);
	json_object_object_add(root, "devices", json_object_new_array());
	steps = json_object_new_array();
	threads = json_object_new_array();
	for (unsigned i = 0; steps && threads && i < pp->n; i++) {
		struct json_object *step, *th = pin_json(&pp->v[i], &step);

		json_object_array_add(threads, th);
		if (step)
			json_object_array_add(steps, step);
	}
	json_object_object_add(root, "steps", steps);
	json_object_object_add(root, "threads", threads);
	json_object_object_add(root, "refusals", gh_refusal_json(&pp->refusals));
	json_object_object_add(root, "notes", gh_json_strv(&pp->notes));
	return root;
}
