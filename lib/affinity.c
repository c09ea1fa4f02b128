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

#define REFUSE(plan, ...) gh_refusal_add(&(plan)->refusals, GH_REFUSAL_AFFINITY, __VA_ARGS__)

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
	if (r >= 0)
		out->v = calloc(tids.n + 1, sizeof(*out->v));
	if (r < 0 || !out->v) {
		/* gh_fs_list keeps the names it read before failing. */
		gh_strv_free(&tids);
		return r < 0 ? r : -ENOMEM;
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
		if (gh_ctx_ops(ctx) && gh_ctx_ops(ctx)->get_affinity)
			gh_ctx_ops(ctx)->get_affinity(ctx, t->tid, &t->now);
		if (t->vcpu >= 0)
			(*vcpus)++;
		out->n++;
	}
	gh_strv_free(&tids);
	return 0;
}

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

/* Every CPU of want must be online and inside the VM's cpuset. */
static int check_cpus(struct gh_ctx *ctx, unsigned vmid, const cpu_set_t *want, struct gh_pinplan *p)
{
	cpu_set_t online, scope, bad;
	bool have_online, have_scope;
	char path[128], list[256];
	int r;

	r = read_cpus(ctx, &online, &have_online, "/sys/devices/system/cpu/online");
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/sys/fs/cgroup/qemu.slice/%u.scope/cpuset.cpus.effective", vmid);
	r = read_cpus(ctx, &scope, &have_scope, path);
	if (r < 0)
		return r;
	if (have_online) {
		CPU_ZERO(&bad);
		for (int c = 0; c < GH_CPU_MAX; c++)
			if (CPU_ISSET(c, want) && !CPU_ISSET(c, &online))
				CPU_SET(c, &bad);
		if (CPU_COUNT(&bad)) {
			cpus_text(&bad, list, sizeof(list));
			r = REFUSE(p, "CPUs %s are not online (/sys/devices/system/cpu/online)", list);
		}
	}
	if (have_scope && r >= 0) {
		CPU_ZERO(&bad);
		for (int c = 0; c < GH_CPU_MAX; c++)
			if (CPU_ISSET(c, want) && !CPU_ISSET(c, &scope))
				CPU_SET(c, &bad);
		if (CPU_COUNT(&bad)) {
			cpus_text(&bad, list, sizeof(list));
			r = REFUSE(p, "CPUs %s are outside the VM's cpuset (%s): sched_setaffinity would fail or narrow "
				      "the mask", list, path);
		}
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

/* vCPU threads appear while QEMU sets the machine up: wait for all of them, bounded; a refusal when they do not come. */
static int wait_threads(struct gh_ctx *ctx, const struct gh_policy *pol, struct gh_pinplan *out)
{
	unsigned long long deadline = gh_timebox_now_ms() + pol->wait_ms;
	unsigned found = 0;

	for (;;) {
		int r = read_threads(ctx, out->pid, out, &found);

		if (r < 0)
			return r;
		if (found >= out->n_vcpus || gh_timebox_now_ms() >= deadline)
			break;
		usleep(20000);
	}
	if (found < out->n_vcpus)
		return REFUSE(out, "only %u of %u vCPU threads (\"CPU n/KVM\") appeared within %u ms: is QEMU running "
				   "with debug-threads=on?", found, out->n_vcpus, pol->wait_ms);
	return 0;
}

static int plan_pins(struct gh_ctx *ctx, unsigned vmid, const struct gh_vmconf *vm, const struct gh_policy *pol,
		     struct gh_pinplan *out)
{
	cpu_set_t spread, others, all_targets;
	int cpus[GH_POLICY_VCPUS_MAX];
	size_t n_cpus = 0;
	bool have_others = false;
	char list[256];
	int r;

	memset(out, 0, sizeof(*out));
	out->sched_policy = pol->sched_policy;
	out->sched_priority = pol->sched_priority;
	out->n_vcpus = gh_vmconf_vcpus(vm);
	if (pol->n_vcpus) {
		memcpy(cpus, pol->vcpus, pol->n_vcpus * sizeof(int));
		n_cpus = pol->n_vcpus;
		if (pol->others_set) {
			others = pol->others;
			have_others = true;
		} else if (vm->affinity[0]) {
			const char *bad;

			have_others = gh_cpulist_parse(vm->affinity, &others, &bad) == 0;
		}
	} else if (vm->affinity[0]) {
		const char *bad;

		if (gh_cpulist_parse(vm->affinity, &spread, &bad) < 0)
			return -EINVAL;
		for (int c = 0; c < GH_CPU_MAX && n_cpus < GH_POLICY_VCPUS_MAX; c++)
			if (CPU_ISSET(c, &spread))
				cpus[n_cpus++] = c;
		others = pol->others_set ? pol->others : spread;
		have_others = true;
	} else {
		return gh_strv_push(&out->notes, "no pinning configured (no [pinning] vcpus in the policy, no affinity "
						 "in the VM config): nothing to do");
	}
	if (n_cpus < out->n_vcpus) {
		return REFUSE(out, "%u vCPUs but only %zu CPUs to pin them to (%s)", out->n_vcpus, n_cpus,
			      pol->n_vcpus ? "[pinning] vcpus" : "affinity");
	}
	if (have_others && !CPU_COUNT(&others))
		return REFUSE(out, "the CPU set for QEMU's other threads is empty");
	CPU_ZERO(&all_targets);
	for (unsigned i = 0; i < out->n_vcpus; i++)
		CPU_SET(cpus[i], &all_targets);
	if (have_others)
		CPU_OR(&all_targets, &all_targets, &others);
	r = check_cpus(ctx, vmid, &all_targets, out);
	if (r < 0 || out->refusals.n)
		return r;

	r = gh_vms_pid(ctx, vmid, &out->pid);
	if (r < 0) {
		if (r == -ENOENT)
			return REFUSE(out, "VM %u is not running (no live QEMU behind /var/run/qemu-server/%u.pid)", vmid,
				      vmid);
		return r;
	}
	r = wait_threads(ctx, pol, out);
	if (r < 0 || out->refusals.n)
		return r;
	for (unsigned i = 0; i < out->n; i++) {
		struct gh_pin *t = &out->v[i];

		CPU_ZERO(&t->want);
		if (t->vcpu >= 0 && (unsigned)t->vcpu < out->n_vcpus) {
			CPU_SET(cpus[t->vcpu], &t->want);
		} else if (t->vcpu < 0 && have_others) {
			t->want = others;
		} else {
			t->leave = true;
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
