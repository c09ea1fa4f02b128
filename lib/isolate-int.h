/* SPDX-License-Identifier: MIT */
#ifndef GH_ISOLATE_INT_H
#define GH_ISOLATE_INT_H

/*
 * Inside lib/isolate*.c, irq.c and cpufreq.c: the state file seen as the
 * changes it asks for. Each part records the values it will change into
 * "saved" (before the state is written, so before any change), then builds
 * its actions from the state alone: the housekeeping values while any VM
 * is isolated, the saved ones after. The dry run prints the actions, start,
 * stop and recover run them; a crash anywhere is finished by building again.
 */

#include <json-c/json.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "isolate.h"

enum gh_iso_kind {
	GH_ISO_UNIT,	/* systemctl set-property --runtime target AllowedCPUs=value */
	GH_ISO_WRITE,	/* value written to target; every failure counts */
	GH_ISO_IRQ,	/* the same; EIO is a kernel-managed IRQ (skipped), ENOENT a freed one */
	GH_ISO_OPT,	/* the same; ENOENT is a CPU or scope gone meanwhile */
};

struct gh_iso_act {
	enum gh_iso_kind kind;
	char *target, *value, *undo;
};

struct gh_iso_acts {
	struct gh_iso_act *v;
	size_t n;
};

/* What the state says, computed once for the builders. */
struct gh_iso_view {
	struct json_object *st;
	cpu_set_t on, iso, hk, perf;	/* online, isolated VMs, housekeeping, VMs wanting performance */
	unsigned ncpus;
	bool any;			/* some VM is isolated */
	char hk_list[1024], hk_mask[512];
};

int gh_iso_act_add(struct gh_iso_acts *a, enum gh_iso_kind kind, const char *target, const char *value,
		   const char *undo);
void gh_iso_acts_free(struct gh_iso_acts *a);
/* The object st.key (created when create), NULL when absent. */
struct json_object *gh_iso_obj(struct json_object *st, const char *key, bool create);
/* st.saved.section.key, or NULL. */
const char *gh_iso_saved(struct json_object *st, const char *section, const char *key);
/* Union of the CPU lists in st.key ({"vmid": "list"}). */
int gh_iso_union(struct gh_ctx *ctx, struct json_object *st, const char *key, cpu_set_t *out);

/* A cgroup's cpuset.cpus: "" when nothing restricts it (the cgroup v2 default, or no such file). */
int gh_iso_read_cpus(struct gh_ctx *ctx, const char *cgroup, char *buf, size_t size);
int gh_iso_online(struct gh_ctx *ctx, cpu_set_t *set, unsigned *ncpus);
int gh_iso_view_init(struct gh_ctx *ctx, struct json_object *st, struct gh_iso_view *v);
/* Every action the state asks for, in order. */
int gh_iso_build(struct gh_ctx *ctx, const struct gh_iso_view *v, struct gh_iso_acts *a);
/* Runs them all (a failure does not stop the rest): the first error; managed IRQs into skipped. */
int gh_iso_run(struct gh_ctx *ctx, const struct gh_iso_acts *a, struct gh_strv *skipped, unsigned *irqs_moved);
/*
 * lib/isolate-pins.c: every thread of every qemu.slice scope with its
 * affinity and start time, and each scope's cpuset.cpus.effective, before
 * AllowedCPUs= changes; restore puts back the pins the cpuset reset
 * (kernels before 6.2), cut to the scope's new CPUs. Best effort: a thread
 * or scope gone is skipped; save fails only for memory (-ENOMEM).
 */
struct gh_iso_thread {
	pid_t pid, tid;
	unsigned long long start;	/* /proc/<pid>/task/<tid>/stat field 22 */
	cpu_set_t mask;
	size_t scope;			/* in scopes */
};

struct gh_iso_pins {
	struct gh_iso_thread *v;
	size_t n;
	struct gh_strv scopes;		/* "112.scope" */
	cpu_set_t *eff;			/* each scope's effective CPUs before */
};

int gh_iso_pins_save(struct gh_ctx *ctx, struct gh_iso_pins *p);
void gh_iso_pins_restore(struct gh_ctx *ctx, const struct gh_iso_pins *p);
void gh_iso_pins_free(struct gh_iso_pins *p);
/* The dry run's line for an action. */
int gh_iso_describe(const struct gh_iso_act *act, char *buf, size_t size);

/* lib/irq.c: default_smp_affinity and each /proc/irq/N not yet saved. */
int gh_irq_record(struct gh_ctx *ctx, struct json_object *st);
int gh_irq_build(struct gh_ctx *ctx, const struct gh_iso_view *v, struct gh_iso_acts *a);
/* lib/cpufreq.c: governor and EPP of cpus not yet saved; absent cpufreq is said once. */
int gh_cpufreq_record(struct gh_ctx *ctx, struct json_object *st, const cpu_set_t *cpus);
int gh_cpufreq_build(struct gh_ctx *ctx, const struct gh_iso_view *v, struct gh_iso_acts *a);
/* lib/isolate-scope.c: the other VMs' scopes in qemu.slice; the systemd version. */
int gh_iso_scopes_record(struct gh_ctx *ctx, struct json_object *st);
int gh_iso_scopes_build(struct gh_ctx *ctx, const struct gh_iso_view *v, struct gh_iso_acts *a);

#endif
