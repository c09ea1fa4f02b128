/* SPDX-License-Identifier: MIT */
#ifndef GH_PLAN_H
#define GH_PLAN_H

/*
 * A handoff as data: an ordered list of steps, each with its inverse. The
 * same list is printed by --dry-run, written to the log and the journal,
 * executed, and undone in reverse on failure.
 */

#include <json-c/json.h>
#include <stdbool.h>

#include "host.h"
#include "util.h"

enum gh_action {
	GH_ACT_NONE,
	GH_ACT_SERVICE_STOP,	/* target unit */
	GH_ACT_SERVICE_START,	/* target unit */
	GH_ACT_KILL,		/* target pid, arg comm */
	GH_ACT_VTCON_UNBIND,	/* target vtconN */
	GH_ACT_VTCON_BIND,	/* target vtconN */
	GH_ACT_FB_UNBIND,	/* target platform device, arg its driver */
	GH_ACT_MODULE_UNLOAD,	/* target module */
	GH_ACT_MODULE_LOAD,	/* target module */
	GH_ACT_OVERRIDE,	/* target address, arg driver ("" clears) */
	GH_ACT_UNBIND,		/* target address, arg driver it leaves */
	GH_ACT_BIND,		/* target address, arg driver */
	GH_ACT_PROBE,		/* target address, arg driver expected */
	GH_ACT_REMOVE_ID,	/* target address, arg "vvvv dddd" */
	GH_ACT_VERIFY,		/* target address, arg driver expected */
	GH_ACT_MAX,		/* not an action: the count, for loops and tables */
};

struct gh_op {
	enum gh_action action;
	char target[64];
	char arg[64];
	/* GH_ACT_KILL: the holder's start time (/proc/<pid>/stat field 22) and the pidfd taken when found (-1 none). */
	unsigned long long start;
	int pidfd;
};

struct gh_step {
	struct gh_op op;
	struct gh_op undo;	/* action NONE: nothing to undo, or nothing that may be undone */
};

enum gh_direction { GH_TO_VFIO, GH_TO_HOST };

struct gh_plan {
	enum gh_direction dir;
	struct gh_step *v;
	unsigned n;
	bool already;		/* every function is in the target state */
	struct gh_refusals refusals;	/* copied from the host, plus the plan's own */
	struct gh_strv notes;
};

/*
 * How long one step may take before its child is left behind: the policy's
 * timeout for sysfs writes and signals, module_timeout for module loads and
 * unloads, service_timeout for systemctl start and stop.
 */
struct gh_deadlines {
	unsigned step_ms;
	unsigned module_ms;
	unsigned service_ms;
};

void gh_plan_deadlines(const struct gh_policy *pol, struct gh_deadlines *out);
unsigned gh_plan_deadline_ms(const struct gh_deadlines *d, enum gh_action a);

/* On failure out owns nothing (lib/README.md); after success, gh_plan_free. */
int gh_plan_build(const struct gh_host *h, enum gh_direction dir, struct gh_plan *out);
/* Appends a step whose undo acts on the same target (plan*.c builders). 0, or -errno and p unchanged. */
int gh_plan_add(struct gh_plan *p, enum gh_action a, const char *target, const char *arg, enum gh_action undo,
		const char *undo_arg);
void gh_plan_free(struct gh_plan *p);
const char *gh_plan_action_name(enum gh_action a);
/* One line, naming the file written: "write vfio-pci to /sys/bus/pci/devices/.../driver_override". */
int gh_plan_describe(const struct gh_op *op, char *buf, size_t size);
/*
 * The JSON contract: { vmid, phase, dry_run, devices: [{address, class,
 * vendor, device, driver|null, override|null, iommu_group, target, ...}],
 * host: {...}, deadlines: {timeout_ms, module_timeout_ms, service_timeout_ms},
 * steps: [{action, target, arg, description, deadline_ms, undo}],
 * refusals: [...], notes: [...] }. NULL on allocation failure.
 */
struct json_object *gh_plan_to_json(const struct gh_plan *p, const struct gh_host *h, const char *phase,
				    bool dry_run);

#endif
