/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpulist.h"
#include "fs.h"
#include "isolate-int.h"

int gh_iso_act_add(struct gh_iso_acts *a, enum gh_iso_kind kind, const char *target, const char *value,
		   const char *undo)
{
	struct gh_iso_act *v = gh_util_grow(a->v, a->n, sizeof(*a->v));
	struct gh_iso_act *act;

	if (!v)
		return -ENOMEM;
	a->v = v;
	act = &a->v[a->n];
	act->kind = kind;
	act->target = strdup(target);
	act->value = strdup(value);
	act->undo = strdup(undo);
	if (!act->target || !act->value || !act->undo) {
		free(act->target);
		free(act->value);
		free(act->undo);
		return -ENOMEM;
	}
	a->n++;
	return 0;
}

void gh_iso_acts_free(struct gh_iso_acts *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].target);
		free(a->v[i].value);
		free(a->v[i].undo);
	}
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

struct json_object *gh_iso_obj(struct json_object *st, const char *key, bool create)
{
	struct json_object *o;

	if (json_object_object_get_ex(st, key, &o) && json_object_is_type(o, json_type_object))
		return o;
	if (!create)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(st, key, o);
	return o;
}

const char *gh_iso_saved(struct json_object *st, const char *section, const char *key)
{
	struct json_object *sv = gh_iso_obj(st, "saved", false), *v;

	if (sv && section)
		sv = gh_iso_obj(sv, section, false);
	if (sv && json_object_object_get_ex(sv, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

int gh_iso_union(struct gh_ctx *ctx, struct json_object *st, const char *key, cpu_set_t *out)
{
	struct json_object *vms = gh_iso_obj(st, key, false);

	CPU_ZERO(out);
	if (!vms)
		return 0;
	json_object_object_foreach(vms, k, v)
	{
		cpu_set_t s;
		const char *bad = NULL;

		if (gh_cpulist_parse(json_object_get_string(v), &s, &bad) < 0) {
			gh_err(ctx, "%s: %s %s: not a CPU list at '%s'", GH_ISOLATE_STATE, key, k, bad);
			return -EINVAL;
		}
		CPU_OR(out, out, &s);
	}
	return 0;
}

int gh_iso_read_cpus(struct gh_ctx *ctx, const char *cgroup, char *buf, size_t size)
{
	int r = gh_fs_read_str(ctx, buf, size, "/sys/fs/cgroup/%s/cpuset.cpus", cgroup);

	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r < 0 ? r : 0;
}

int gh_iso_online(struct gh_ctx *ctx, cpu_set_t *set, unsigned *ncpus)
{
	char buf[256];
	const char *bad = NULL;
	int r = gh_fs_read_str(ctx, buf, sizeof(buf), "/sys/devices/system/cpu/online");

	if (r < 0) {
		gh_err(ctx, "/sys/devices/system/cpu/online: %s", strerror(-r));
		return r;
	}
	if (gh_cpulist_parse(buf, set, &bad) < 0) {
		gh_err(ctx, "/sys/devices/system/cpu/online: not a CPU list at '%s'", bad);
		return -EINVAL;
	}
	*ncpus = 0;
	for (unsigned c = 0; c < GH_CPU_MAX; c++)
		if (CPU_ISSET(c, set))
			*ncpus = c + 1;
	return 0;
}

int gh_isolate_format_mask(const cpu_set_t *set, unsigned ncpus, char *buf, size_t size)
{
	unsigned groups = ncpus ? (ncpus + 31) / 32 : 1;
	size_t len = 0;

	for (unsigned g = groups; g-- > 0;) {
		unsigned long w = 0;

		for (unsigned b = 0; b < 32; b++)
			if (g * 32 + b < GH_CPU_MAX && CPU_ISSET(g * 32 + b, set))
				w |= 1ul << b;
		int n = snprintf(buf + len, size - len, "%s%08lx", g + 1 < groups ? "," : "", w);

		if (n < 0 || (size_t)n >= size - len)
			return -ENOSPC;
		len += (size_t)n;
	}
	return 0;
}

int gh_iso_view_init(struct gh_ctx *ctx, struct json_object *st, struct gh_iso_view *v)
{
	struct json_object *vms = gh_iso_obj(st, "vms", false);
	int r = gh_iso_online(ctx, &v->on, &v->ncpus);

	v->st = st;
	if (r >= 0)
		r = gh_iso_union(ctx, st, "vms", &v->iso);
	if (r >= 0)
		r = gh_iso_union(ctx, st, "perf", &v->perf);
	if (r < 0)
		return r;
	v->any = vms && json_object_object_length(vms) > 0;
	if (!v->any)
		CPU_ZERO(&v->perf);
	CPU_XOR(&v->hk, &v->on, &v->iso);
	CPU_AND(&v->hk, &v->hk, &v->on);
	if (gh_cpulist_format(&v->hk, v->hk_list, sizeof(v->hk_list)) < 0 ||
	    gh_isolate_format_mask(&v->hk, v->ncpus, v->hk_mask, sizeof(v->hk_mask)) < 0)
		return -ENOSPC;
	return 0;
}

/* The slices and the writeback workqueue. */
static int build_host(const struct gh_iso_view *v, struct gh_iso_acts *a)
{
	char undo[1200];
	int r = 0;

	for (size_t i = 0; gh_isolate_units[i] && r >= 0; i++) {
		const char *prev = gh_iso_saved(v->st, NULL, gh_isolate_units[i]);

		if (!prev)
			continue;
		gh_util_format(undo, sizeof(undo), "AllowedCPUs=%s when no isolated VM is left%s", prev,
			       prev[0] ? "" : " (unrestricted)");
		r = gh_iso_act_add(a, GH_ISO_UNIT, gh_isolate_units[i], v->any ? v->hk_list : prev, undo);
	}
	const char *wb = gh_iso_saved(v->st, NULL, "writeback");

	if (wb && r >= 0) {
		gh_util_format(undo, sizeof(undo), "write %s when no isolated VM is left", wb);
		r = gh_iso_act_add(a, GH_ISO_WRITE, GH_ISOLATE_WRITEBACK, v->any ? v->hk_mask : wb, undo);
	}
	return r;
}

int gh_iso_build(struct gh_ctx *ctx, const struct gh_iso_view *v, struct gh_iso_acts *a)
{
	int r = build_host(v, a);

	if (r >= 0)
		r = gh_iso_scopes_build(ctx, v, a);
	if (r >= 0)
		r = gh_irq_build(ctx, v, a);
	if (r >= 0)
		r = gh_cpufreq_build(ctx, v, a);
	return r;
}

int gh_iso_describe(const struct gh_iso_act *act, char *buf, size_t size)
{
	if (act->kind == GH_ISO_UNIT)
		return gh_util_format(buf, size, "systemctl set-property --runtime %s AllowedCPUs=%s", act->target,
				      act->value);
	return gh_util_format(buf, size, "write %s to %s", act->value, act->target);
}

static int set_property(struct gh_ctx *ctx, const char *unit, const char *cpus)
{
	char prop[1100];
	char *argv[] = { (char *)GH_ISOLATE_SYSTEMCTL, (char *)"set-property", (char *)"--runtime", (char *)unit,
			 prop, NULL };
	int r = gh_util_format(prop, sizeof(prop), "AllowedCPUs=%s", cpus);

	if (r >= 0)
		r = gh_ctx_ops(ctx)->run(ctx, argv);
	if (r < 0)
		gh_err(ctx, "systemctl set-property --runtime %s %s: %s", unit, prop,
		       r < -255 || r > -1 ? strerror(-r) : "failed");
	else
		gh_info(ctx, "isolation: %s %s", unit, prop);
	return r;
}

/* One action; 1 when it was a write the kernel refused as managed (skipped). */
static int run_one(struct gh_ctx *ctx, const struct gh_iso_act *act)
{
	int r;

	if (act->kind == GH_ISO_UNIT) {
		r = set_property(ctx, act->target, act->value);
		/* Another VM's scope that ended meanwhile (its QEMU exited): nothing left to narrow. */
		if (r < 0 && strcmp(act->target, "init.scope") && strstr(act->target, ".scope") &&
		    gh_fs_exists(ctx, "/sys/fs/cgroup/qemu.slice/%s", act->target) == 0)
			r = 0;
		return r;
	}
	r = gh_ctx_ops(ctx)->write(ctx, act->target, act->value);
	/* irq_set_affinity of a managed or per-CPU IRQ: write_irq_affinity answers EIO. */
	if (r == -EIO && act->kind == GH_ISO_IRQ)
		return 1;
	/* Freed IRQ (its VM stopped), CPU taken offline, scope ended: nothing left to restore. */
	if (r == -ENOENT && act->kind != GH_ISO_WRITE)
		return 0;
	if (r < 0)
		gh_err(ctx, "%s: writing %s: %s", act->target, act->value, strerror(-r));
	return r;
}

int gh_iso_run(struct gh_ctx *ctx, const struct gh_iso_acts *a, struct gh_strv *skipped, unsigned *irqs_moved)
{
	struct gh_iso_pins pins = { 0 };
	bool units = false;
	int ret = 0;

	*irqs_moved = 0;
	for (size_t i = 0; i < a->n && !units; i++)
		units = a->v[i].kind == GH_ISO_UNIT;
	/* AllowedCPUs= may reset the VMs' pins (lib/isolate-pins.c): read first, put back after. */
	if (units && gh_iso_pins_save(ctx, &pins) < 0)
		gh_err(ctx, "isolation: reading the VMs' thread pins: %s", strerror(ENOMEM));
	for (size_t i = 0; i < a->n; i++) {
		int r = run_one(ctx, &a->v[i]);
		char irq[32];

		if (r == 1 && sscanf(a->v[i].target, "/proc/irq/%31[0-9]/", irq) == 1)
			r = gh_strv_push(skipped, irq);
		else if (r == 0 && a->v[i].kind == GH_ISO_IRQ)
			(*irqs_moved)++;
		if (r < 0 && !ret)
			ret = r;
	}
	if (units)
		gh_iso_pins_restore(ctx, &pins);
	gh_iso_pins_free(&pins);
	return ret;
}
