/* SPDX-License-Identifier: MIT */
/*
 * The isolated VMs' CPUs on the performance governor and energy
 * performance preference (Documentation/admin-guide/pm/cpufreq.rst,
 * intel_pstate.rst, amd-pstate.rst), the previous values back when their
 * VM stops. The governor is written before the EPP both ways: intel_pstate
 * and amd-pstate refuse (EBUSY) any EPP but "performance" while the policy
 * is performance, so restoring powersave first lets the saved EPP in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cpulist.h"
#include "fs.h"
#include "isolate-int.h"

#define GH_CPUFREQ "/sys/devices/system/cpu/cpu%u/cpufreq/%s"

int gh_cpufreq_record(struct gh_ctx *ctx, struct json_object *st, const cpu_set_t *cpus)
{
	struct json_object *saved = gh_iso_obj(st, "saved", true);
	struct json_object *gov = gh_iso_obj(saved, "governor", true), *epp = gh_iso_obj(saved, "epp", true);
	cpu_set_t absent;
	char key[16], buf[128], list[1024];

	CPU_ZERO(&absent);
	for (unsigned c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, cpus))
			continue;
		snprintf(key, sizeof(key), "%u", c);
		if (json_object_object_get_ex(gov, key, NULL))
			continue;
		if (gh_fs_read_str(ctx, buf, sizeof(buf), GH_CPUFREQ, c, "scaling_governor") < 0) {
			CPU_SET(c, &absent);
			continue;
		}
		json_object_object_add(gov, key, json_object_new_string(buf));
		if (gh_fs_read_str(ctx, buf, sizeof(buf), GH_CPUFREQ, c, "energy_performance_preference") >= 0)
			json_object_object_add(epp, key, json_object_new_string(buf));
	}
	/* A VM (or a host without a cpufreq driver) has no governor to set: said once. */
	if (CPU_COUNT(&absent) && gh_cpulist_format(&absent, list, sizeof(list)) >= 0)
		gh_info(ctx, "isolation: CPUs %s have no cpufreq governor: their frequency is left alone", list);
	return 0;
}

static int build_attr(const struct gh_iso_view *v, const char *section, const char *attr, struct gh_iso_acts *a)
{
	struct json_object *sv = gh_iso_obj(v->st, "saved", false), *o = sv ? gh_iso_obj(sv, section, false) : NULL;
	char undo[256], path[128];
	int r = 0;

	if (!o)
		return 0;
	json_object_object_foreach(o, k, prev)
	{
		unsigned long c;
		const char *p = json_object_get_string(prev);

		if (gh_util_parse_ulong(k, 10, CPU_SETSIZE - 1, &c) < 0)
			continue;
		r = gh_util_format(undo, sizeof(undo), "write %s when its VM stops", p);
		if (r >= 0)
			r = gh_util_format(path, sizeof(path), GH_CPUFREQ, (unsigned)c, attr);
		if (r >= 0)
			r = gh_iso_act_add(a, GH_ISO_OPT, path, CPU_ISSET(c, &v->perf) ? "performance" : p, undo);
		if (r < 0)
			break;
	}
	return r;
}

int gh_cpufreq_build(struct gh_ctx *ctx, const struct gh_iso_view *v, struct gh_iso_acts *a)
{
	int r = build_attr(v, "governor", "scaling_governor", a);

	(void)ctx;
	return r < 0 ? r : build_attr(v, "epp", "energy_performance_preference", a);
}
