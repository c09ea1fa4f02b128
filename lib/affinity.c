/* SPDX-License-Identifier: MIT */
#include "affinity.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"
#include "fs.h"
#include "timebox.h"
#include "vms.h"

/* "CPU 3/KVM" or "CPU 3/TCG": the vCPU index, else -1. */
static int vcpu_index(const char *comm)
{
	unsigned long n;
	char num[16];
	const char *slash;
	size_t len;

	if (strncmp(comm, "CPU ", 4))
		return -1;
	slash = strchr(comm + 4, '/');
	if (!slash || (strcmp(slash, "/KVM") && strcmp(slash, "/TCG")))
		return -1;
	len = (size_t)(slash - comm - 4);
	if (!len || len >= sizeof(num))
		return -1;
	memcpy(num, comm + 4, len);
	num[len] = '\0';
	return gh_util_parse_ulong(num, 10, 4095, &n) < 0 ? -1 : (int)n;
}

static void free_threads(struct gh_pinplan *p)
{
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static int read_threads(struct gh_ctx *ctx, pid_t pid, struct gh_pinplan *out, unsigned *vcpus)
{
	struct gh_strv tids = { 0 };
	int r = gh_fs_list(ctx, &tids, "/proc/%d/task", (int)pid);

	free_threads(out);
	*vcpus = 0;
	if (r < 0)
		return r;
	out->v = calloc(tids.n + 1, sizeof(*out->v));
	if (!out->v) {
		gh_strv_free(&tids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < tids.n; i++) {
		struct gh_pin *t = &out->v[out->n];
		unsigned long tid;

		if (gh_util_parse_ulong(tids.v[i], 10, 4194304, &tid) < 0)
			continue;
		if (gh_fs_read_str(ctx, t->comm, sizeof(t->comm), "/proc/%d/task/%lu/comm", (int)pid, tid) < 0)
			continue;	/* gone meanwhile */
		t->tid = (pid_t)tid;
		t->vcpu = vcpu_index(t->comm);
		CPU_ZERO(&t->now);
		/* Only the dry run shows the CPUs a thread has now; a real run reads each back after pinning. */
		if (gh_ctx_dry_run(ctx) && gh_ctx_ops(ctx) && gh_ctx_ops(ctx)->get_affinity)
			gh_ctx_ops(ctx)->get_affinity(ctx, t->tid, &t->now);
		if (t->vcpu >= 0)
			(*vcpus)++;
		out->n++;
	}
	gh_strv_free(&tids);
	return 0;
}

#define refuse(plan, ...) gh_refusal_add(&(plan)->refusals, GH_REFUSAL_AFFINITY, __VA_ARGS__)

/* A cpulist file such as /sys/devices/system/cpu/online; 0 with *have false when absent. */
static int read_cpus(struct gh_ctx *ctx, cpu_set_t *set, bool *have, const char *path)
{
	char buf[4096];
	const char *bad;
	int r = gh_fs_read_str(ctx, buf, sizeof(buf), "%s", path);

	*have = false;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (!gh_util_trim(buf)[0])
		return 0;
	if (gh_cpulist_parse(gh_util_trim(buf), set, &bad) < 0) {
		char esc[64];

		gh_err(ctx, "%s: not a CPU list at \"%s\"", path, gh_util_escape(bad, esc, sizeof(esc)));
		return -EINVAL;
	}
	*have = true;
	return 0;
}

static void cpus_text(const cpu_set_t *set, char *buf, size_t size)
{
	if (gh_cpulist_format(set, buf, size) < 0)
		snprintf(buf, size, "(many)");
	else if (!buf[0])
		snprintf(buf, size, "none");
}

/* The CPUs of want outside set, refused as "CPUs <list> <why>". */
static int refuse_outside(struct gh_pinplan *p, const cpu_set_t *want, const cpu_set_t *set, const char *why)
{
	cpu_set_t bad;
	char list[256];

	CPU_ZERO(&bad);
	for (int c = 0; c < GH_CPU_MAX; c++)
		if (CPU_ISSET(c, want) && !CPU_ISSET(c, set))
			CPU_SET(c, &bad);
	if (!CPU_COUNT(&bad))
		return 0;
	cpus_text(&bad, list, sizeof(list));
	return refuse(p, "CPUs %s %s", list, why);
}

/* Every CPU of want must be online and inside the VM's cpuset. */
static int check_cpus(struct gh_ctx *ctx, unsigned vmid, const cpu_set_t *want, struct gh_pinplan *p)
{
	cpu_set_t online, scope;
	bool have_online, have_scope;
	char path[128], why[256];
	int r;

	r = read_cpus(ctx, &online, &have_online, "/sys/devices/system/cpu/online");
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/qemu.slice/%u.scope/cpuset.cpus.effective", vmid);
	r = read_cpus(ctx, &scope, &have_scope, path);
	if (r < 0)
		return r;
	if (have_online)
		r = refuse_outside(p, want, &online, "are not online (/sys/devices/system/cpu/online)");
	if (have_scope && r >= 0) {
		snprintf(why, sizeof(why), "are outside the VM's cpuset (%s): sched_setaffinity would fail or narrow the "
			 "mask", path);
		r = refuse_outside(p, want, &scope, why);
	}
	return r;
}

int gh_affinity_threads(struct gh_ctx *ctx, pid_t pid, struct gh_pinplan *out)
{
	unsigned vcpus;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	return read_threads(ctx, pid, out, &vcpus);
}

/* Where each vCPU goes (cpus[i] for vCPU i) and where QEMU's other threads go, when have_others. */
struct targets {
	int cpus[GH_POLICY_VCPUS_MAX];
	size_t n_cpus;
	cpu_set_t others;
	bool have_others;
};

/* The policy's [pinning] vcpus, else the VM's affinity spread one vCPU a CPU; 1 when neither is set (noted). */
static int pick_targets(const struct gh_vmconf *vm, const struct gh_policy *pol, struct targets *t,
			struct gh_pinplan *out)
{
	const char *bad;
	cpu_set_t spread;
	int r;

	if (pol->n_vcpus) {
		memcpy(t->cpus, pol->vcpus, pol->n_vcpus * sizeof(int));
		t->n_cpus = pol->n_vcpus;
		if (pol->others_set) {
			t->others = pol->others;
			t->have_others = true;
		} else if (vm->affinity[0]) {
			t->have_others = gh_cpulist_parse(vm->affinity, &t->others, &bad) == 0;
		}
		return 0;
	}
	if (!vm->affinity[0]) {
		r = gh_strv_push(&out->notes, "no pinning configured (no [pinning] vcpus in the policy, no affinity in the "
					      "VM config): nothing to do");
		return r < 0 ? r : 1;
	}
	if (gh_cpulist_parse(vm->affinity, &spread, &bad) < 0)
		return -EINVAL;
	for (int c = 0; c < GH_CPU_MAX && t->n_cpus < GH_POLICY_VCPUS_MAX; c++)
		if (CPU_ISSET(c, &spread))
			t->cpus[t->n_cpus++] = c;
	t->others = pol->others_set ? pol->others : spread;
	t->have_others = true;
	return 0;
}

/* vCPU threads appear while QEMU sets the machine up: wait for all of them, bounded. */
static int wait_vcpus(struct gh_ctx *ctx, struct gh_pinplan *out, unsigned wait_ms)
{
	unsigned long long deadline = gh_timebox_now_ms() + wait_ms;
	unsigned found = 0;
	int r;

	for (;;) {
		r = read_threads(ctx, out->pid, out, &found);
		if (r < 0)
			return r;
		if (found >= out->n_vcpus || gh_timebox_now_ms() >= deadline)
			break;
		usleep(20000);
	}
	if (found < out->n_vcpus)
		return refuse(out, "only %u of %u vCPU threads (\"CPU n/KVM\") appeared within %u ms: is QEMU running "
				   "with debug-threads=on?", found, out->n_vcpus, wait_ms);
	return 0;
}

static int plan_pins(struct gh_ctx *ctx, unsigned vmid, const struct gh_vmconf *vm, const struct gh_policy *pol,
		     struct gh_pinplan *out)
{
	struct targets t = { .n_cpus = 0 };
	cpu_set_t all_targets;
	char list[256];
	int r;

	memset(out, 0, sizeof(*out));
	out->sched_policy = pol->sched_policy;
	out->sched_priority = pol->sched_priority;
	out->n_vcpus = gh_vmconf_vcpus(vm);
	r = pick_targets(vm, pol, &t, out);
	if (r != 0)
		return r < 0 ? r : 0;
	if (t.n_cpus < out->n_vcpus) {
		return refuse(out, "%u vCPUs but only %zu CPUs to pin them to (%s)", out->n_vcpus, t.n_cpus,
			      pol->n_vcpus ? "[pinning] vcpus" : "affinity");
	}
	if (t.have_others && !CPU_COUNT(&t.others))
		return refuse(out, "the CPU set for QEMU's other threads is empty");
	CPU_ZERO(&all_targets);
	for (unsigned i = 0; i < out->n_vcpus; i++)
		CPU_SET(t.cpus[i], &all_targets);
	if (t.have_others)
		CPU_OR(&all_targets, &all_targets, &t.others);
	r = check_cpus(ctx, vmid, &all_targets, out);
	if (r < 0 || out->refusals.n)
		return r;

	r = gh_vms_pid(ctx, vmid, &out->pid);
	if (r < 0) {
		if (r == -ENOENT)
			return refuse(out, "VM %u is not running (no live QEMU behind /var/run/qemu-server/%u.pid)", vmid,
				      vmid);
		return r;
	}
	r = wait_vcpus(ctx, out, pol->wait_ms);
	if (r < 0 || out->refusals.n)
		return r;
	for (unsigned i = 0; i < out->n; i++) {
		struct gh_pin *p = &out->v[i];

		CPU_ZERO(&p->want);
		if (p->vcpu >= 0 && (unsigned)p->vcpu < out->n_vcpus) {
			CPU_SET(t.cpus[p->vcpu], &p->want);
		} else if (p->vcpu < 0 && t.have_others) {
			p->want = t.others;
		} else {
			p->leave = true;
		}
	}
	cpus_text(&all_targets, list, sizeof(list));
	gh_dbg(ctx, "pinning %u vCPUs of pid %d within CPUs %s", out->n_vcpus, (int)out->pid, list);
	return 0;
}

int gh_affinity_plan(struct gh_ctx *ctx, unsigned vmid, const struct gh_vmconf *vm, const struct gh_policy *pol,
		     struct gh_pinplan *out)
{
	int r = plan_pins(ctx, vmid, vm, pol, out);

	/* A refusal pushed before a failure to read: the plan owns nothing then (lib/README.md). */
	if (r < 0)
		gh_affinity_free(out);
	return r;
}

int gh_affinity_apply(struct gh_ctx *ctx, const struct gh_pinplan *p)
{
	int first = 0;

	for (unsigned i = 0; i < p->n; i++) {
		const struct gh_pin *t = &p->v[i];
		char want[256], got[256], comm[64];
		cpu_set_t back;
		int r;

		if (t->leave)
			continue;
		gh_util_escape(t->comm, comm, sizeof(comm));
		cpus_text(&t->want, want, sizeof(want));
		r = gh_ctx_ops(ctx)->set_affinity(ctx, t->tid, &t->want);
		if (r == -ESRCH) {
			gh_info(ctx, "thread %d (%s) is gone: skipped", (int)t->tid, comm);
			continue;
		}
		if (r >= 0)
			r = gh_ctx_ops(ctx)->get_affinity(ctx, t->tid, &back);
		if (r >= 0 && !CPU_EQUAL(&back, &t->want)) {
			cpus_text(&back, got, sizeof(got));
			gh_err(ctx, "thread %d (%s): asked for CPUs %s, the kernel kept %s (a cpuset narrows it)",
			       (int)t->tid, comm, want, got);
			r = -EINVAL;
		} else if (r < 0) {
			gh_err(ctx, "thread %d (%s): cannot pin to CPUs %s: %s", (int)t->tid, comm, want, strerror(-r));
		}
		if (r >= 0 && t->vcpu >= 0 && p->sched_policy != SCHED_OTHER && gh_ctx_ops(ctx)->set_sched) {
			r = gh_ctx_ops(ctx)->set_sched(ctx, t->tid, p->sched_policy, p->sched_priority);
			if (r < 0)
				gh_err(ctx, "thread %d (%s): cannot set %s priority %d: %s", (int)t->tid, comm,
				       p->sched_policy == SCHED_FIFO ? "SCHED_FIFO" : "SCHED_RR", p->sched_priority,
				       strerror(-r));
		}
		if (r < 0) {
			if (!first)
				first = r;
			continue;
		}
		gh_info(ctx, "thread %d (%s): CPUs %s", (int)t->tid, comm, want);
	}
	return first;
}

void gh_affinity_free(struct gh_pinplan *p)
{
	free_threads(p);
	gh_refusal_free(&p->refusals);
	gh_strv_free(&p->notes);
}
