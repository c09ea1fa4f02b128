/* SPDX-License-Identifier: MIT */
#ifndef GH_AFFINITY_H
#define GH_AFFINITY_H

/*
 * CPU pinning at post-start. QEMU runs with debug-threads=on, so vCPU threads
 * are named "CPU <n>/KVM" ("CPU <n>/TCG" under software emulation) in
 * /proc/<pid>/task/<tid>/comm. Each vCPU gets one host CPU; QEMU's other
 * threads (main loop, I/O threads, workers) get a set of their own.
 *
 * Where the CPUs come from: the policy's [pinning] vcpus (the i-th CPU for
 * vCPU i) and others; without it, the VM config's affinity set spread one
 * vCPU per CPU in order, the other threads keeping the whole set; with
 * neither there is nothing to do.
 */

#include <sched.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "policy.h"
#include "refusal.h"
#include "util.h"
#include "vmconf.h"

struct json_object;

struct gh_pin {
	pid_t tid;
	char comm[32];
	int vcpu;		/* -1 for a thread that is not a vCPU */
	cpu_set_t now;		/* its affinity when the plan was made */
	cpu_set_t want;
	bool leave;		/* no target for it: left alone */
};

struct gh_pinplan {
	pid_t pid;
	unsigned n_vcpus;	/* expected, from the config */
	struct gh_pin *v;
	unsigned n;
	int sched_policy, sched_priority;
	struct gh_refusals refusals;	/* reasons it cannot run (GH_REFUSAL_AFFINITY); nothing was changed */
	struct gh_strv notes;
};

/*
 * Finds QEMU (/var/run/qemu-server/<vmid>.pid, checked against its cmdline),
 * waits up to the policy's wait for every vCPU thread, and checks the target
 * CPUs against the online CPUs and the VM's cgroup cpuset
 * (/sys/fs/cgroup/qemu.slice/<vmid>.scope/cpuset.cpus.effective). Problems
 * land in refusals, naming the CPUs. -errno only for failures to read.
 */
/* On failure out owns nothing (lib/README.md); after success, gh_affinity_free. */
int gh_affinity_plan(struct gh_ctx *ctx, unsigned vmid, const struct gh_vmconf *vm, const struct gh_policy *pol,
		     struct gh_pinplan *out);
/*
 * Sets each thread's affinity (and scheduling class for vCPUs) through
 * ctx->ops and reads it back: a mask the kernel narrowed is an error. One
 * log line per thread. 0, or the first error.
 */
int gh_affinity_apply(struct gh_ctx *ctx, const struct gh_pinplan *p);
void gh_affinity_free(struct gh_pinplan *p);
/* A thread's CPUs now and wanted, as text ("?" unreadable, "(left alone)"). */
void gh_affinity_pin_cpus(const struct gh_pin *t, char *now, size_t now_size, char *want, size_t want_size);
/*
 * post-start's dry run as JSON: { vmid, phase, dry_run, pid|null, devices: [],
 * steps: [{action "pin", target tid, arg cpus, description}], threads: [{tid,
 * name, vcpu|null, cpus_now, cpus|null}], refusals, notes } (plan-json.c).
 * NULL on allocation failure.
 */
struct json_object *gh_affinity_to_json(const struct gh_pinplan *pp, unsigned vmid, bool dry_run);
/* QEMU's threads and their affinity now (for status). */
/* Owns nothing on failure, as gh_affinity_plan. */
int gh_affinity_threads(struct gh_ctx *ctx, pid_t pid, struct gh_pinplan *out);

#endif
