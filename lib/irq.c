/* SPDX-License-Identifier: MIT */
/*
 * IRQ affinity for isolation (Documentation/core-api/irq/irq-affinity.rst):
 * /proc/irq/default_smp_affinity (hex mask) is where a new IRQ starts,
 * /proc/irq/N/smp_affinity_list (CPU list) where IRQ N may run. The values
 * found are saved in the state before the first write and written back
 * exactly when no isolated VM is left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "isolate-int.h"

/* /proc/interrupts has a column per CPU: 500 IRQs on 256 CPUs are about 1.5 MB. */
#define GH_IRQ_INTERRUPTS_MAX ((size_t)16 * 1024 * 1024)

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int gh_irq_record(struct gh_ctx *ctx, struct json_object *st)
{
	struct json_object *saved = gh_iso_obj(st, "saved", true), *irqs;
	struct gh_strv names = { 0 };
	char buf[1024];
	int r;

	if (!gh_iso_saved(st, NULL, "irq_default")) {
		r = gh_fs_read_str(ctx, buf, sizeof(buf), "/proc/irq/default_smp_affinity");
		if (r == -ENOENT)
			return 0;
		if (r < 0) {
			gh_err(ctx, "/proc/irq/default_smp_affinity: %s", strerror(-r));
			return r;
		}
		json_object_object_add(saved, "irq_default", json_object_new_string(buf));
	}
	irqs = gh_iso_obj(saved, "irqs", true);
	r = gh_fs_list(ctx, &names, "/proc/irq");
	for (size_t i = 0; i < names.n && r >= 0; i++) {
		if (!is_number(names.v[i]) || json_object_object_get_ex(irqs, names.v[i], NULL))
			continue;
		/* An IRQ without the file (or freed meanwhile) has nothing to move. */
		if (gh_fs_read_str(ctx, buf, sizeof(buf), "/proc/irq/%s/smp_affinity_list", names.v[i]) >= 0)
			json_object_object_add(irqs, names.v[i], json_object_new_string(buf));
	}
	gh_strv_free(&names);
	return r;
}

/* "vfio-msix[3](0000:01:00.0)", "vfio-msi[0](...)", "vfio-intx(...)": the address, or NULL. */
static const char *vfio_addr(char *line)
{
	char *p = strstr(line, "vfio-msi"), *open, *close;

	if (!p)
		p = strstr(line, "vfio-intx(");
	if (!p || !(open = strchr(p, '(')) || !(close = strchr(open, ')')))
		return NULL;
	*close = '\0';
	return open + 1;
}

/* The isolated VM whose devs (addresses, a prefix matching) include addr: its CPU list, or NULL. */
static const char *owner(struct json_object *st, const char *addr)
{
	struct json_object *devs = gh_iso_obj(st, "devs", false), *vms = gh_iso_obj(st, "vms", false), *cpus;

	if (!devs || !vms)
		return NULL;
	json_object_object_foreach(devs, vm, list)
	{
		size_t n = json_object_is_type(list, json_type_array) ? json_object_array_length(list) : 0;

		for (size_t i = 0; i < n; i++) {
			const char *d = json_object_get_string(json_object_array_get_idx(list, i));

			if (d && d[0] && !strncmp(addr, d, strlen(d)) && json_object_object_get_ex(vms, vm, &cpus))
				return json_object_get_string(cpus);
		}
	}
	return NULL;
}

/* IRQ number -> CPU list of the VM whose passthrough interrupt it is (lines of /proc/interrupts). */
static int vfio_irqs(struct gh_ctx *ctx, struct json_object *st, struct json_object *out)
{
	char *data = NULL, *save = NULL;
	size_t len = 0;
	int r = gh_fs_read_input(ctx, 0, GH_IRQ_INTERRUPTS_MAX, &data, &len, NULL, "/proc/interrupts");

	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char num[16];
		const char *addr, *cpus;

		if (sscanf(line, " %15[0-9]:", num) != 1 || !(addr = vfio_addr(line)) || !(cpus = owner(st, addr)))
			continue;
		json_object_object_add(out, num, json_object_new_string(cpus));
	}
	free(data);
	return 0;
}

int gh_irq_build(struct gh_ctx *ctx, const struct gh_iso_view *v, struct gh_iso_acts *a)
{
	const char *def = gh_iso_saved(v->st, NULL, "irq_default");
	struct json_object *sv = gh_iso_obj(v->st, "saved", false), *irqs = sv ? gh_iso_obj(sv, "irqs", false) : NULL;
	struct json_object *own = json_object_new_object(), *o;
	char undo[1200], path[64];
	int r = 0;

	if (def) {
		gh_util_format(undo, sizeof(undo), "write %s when no isolated VM is left", def);
		r = gh_iso_act_add(a, GH_ISO_WRITE, "/proc/irq/default_smp_affinity", v->any ? v->hk_mask : def, undo);
	}
	if (r >= 0 && irqs && v->any)
		r = vfio_irqs(ctx, v->st, own);
	if (r >= 0 && irqs) {
		json_object_object_foreach(irqs, k, prev)
		{
			const char *p = json_object_get_string(prev);
			const char *to = !v->any ? p : json_object_object_get_ex(own, k, &o) ? json_object_get_string(o)
											  : v->hk_list;

			gh_util_format(undo, sizeof(undo), "write %s when no isolated VM is left", p);
			r = gh_util_format(path, sizeof(path), "/proc/irq/%s/smp_affinity_list", k);
			if (r >= 0)
				r = gh_iso_act_add(a, GH_ISO_IRQ, path, to, undo);
			if (r < 0)
				break;
		}
	}
	json_object_put(own);
	return r;
}
