/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"
#include "fixture.h"
#include "fs.h"
#include "isolate.h"
#include "journal.h"
#include "policy.h"
#include "sim.h"

/*
 * An 8-CPU host: system.slice unrestricted, user.slice on 0-6 (an admin's
 * own setting), writeback on all; IRQs 0, 9 (on 0-3), 24, 40 (managed:
 * EIO) and one passthrough interrupt per test VM (30 for VM 100's
 * 0000:01:00.0, 31 for 101, 32 for 102); CPUs 0-6 with cpufreq, 0-5 with
 * EPP; VM 200 running unisolated in qemu.slice with AllowedCPUs 0-5.
 */
static const char *const irq_orig[][2] = { { "0", "0-7" }, { "9", "0-3" }, { "24", "0-7" }, { "30", "0-7" },
					   { "31", "0-7" }, { "32", "0-7" }, { "40", "0-7" } };

static int test_write(struct gh_ctx *ctx, const char *path, const char *value)
{
	char gov[64] = "", gpath[128];
	unsigned c;

	/* irq_set_affinity on a managed IRQ (irqd_affinity_is_managed): write_irq_affinity returns -EIO. */
	if (!strcmp(path, "/proc/irq/40/smp_affinity_list"))
		return -EIO;
	/* intel_pstate store_energy_performance_preference: -EBUSY for any EPP but performance under it. */
	if (strstr(path, "/energy_performance_preference") &&
	    sscanf(path, "/sys/devices/system/cpu/cpu%u/", &c) == 1) {
		snprintf(gpath, sizeof(gpath), "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", c);
		gh_fs_read_str(ctx, gov, sizeof(gov), "%s", gpath);
		if (!strcmp(gov, "performance") && strcmp(value, "performance"))
			return -EBUSY;
	}
	return gh_sim_ops.write(ctx, path, value);
}

static struct gh_ops test_ops;

static const char *fx_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *fx_fmt(const char *fmt, ...)
{
	static char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

static struct fx *host(void)
{
	struct fx *fx = fx_new();

	fx_file(fx, "/sys/devices/system/cpu/online", "0-7\n");
	fx_file(fx, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/cpuset.cpus", "\n");
	fx_file(fx, "/sys/fs/cgroup/user.slice/cpuset.cpus", "0-6\n");
	fx_file(fx, "/sys/fs/cgroup/init.scope/cpuset.cpus", "\n");
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/200.scope/cpuset.cpus", "0-5\n");
	fx_file(fx, GH_ISOLATE_WRITEBACK, "ff\n");
	fx_file(fx, "/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so", "%s", "");
	fx_file(fx, "/proc/irq/default_smp_affinity", "ff\n");
	for (size_t i = 0; i < sizeof(irq_orig) / sizeof(irq_orig[0]); i++)
		fx_file(fx, fx_fmt("/proc/irq/%s/smp_affinity_list", irq_orig[i][0]), "%s\n", irq_orig[i][1]);
	fx_file(fx, "/proc/interrupts",
		"            CPU0       CPU1\n   0:         40          0   IO-APIC   2-edge      timer\n"
		"   9:          0          0   IO-APIC   9-fasteoi   acpi\n  24:          5          0   PCI-MSI 65536-edge      eno1\n"
		"  30:          0          9   IR-PCI-MSI 524288-edge      vfio-msix[0](0000:01:00.0)\n"
		"  31:          0          0   IR-PCI-MSI 1048576-edge      vfio-msi[0](0000:02:00.0)\n"
		"  32:          0          0   IR-IO-APIC   16-fasteoi   vfio-intx(0000:03:00.0)\n"
		"  40:          1          0   PCI-MSIX-0000:04:00.0 0-edge      nvme0q0\nNMI:          0          0   Non-maskable interrupts\n");
	for (unsigned c = 0; c < 7; c++) {
		fx_file(fx, fx_fmt("/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", c), "powersave\n");
		if (c < 6)
			fx_file(fx, fx_fmt("/sys/devices/system/cpu/cpu%u/cpufreq/energy_performance_preference", c),
				"balance_performance\n");
	}
	test_ops = gh_sim_ops;
	test_ops.write = test_write;
	gh_ctx_set_ops(fx->ctx, &test_ops, NULL);
	return fx;
}

/* The AllowedCPUs= last set for unit (the simulator's record of systemctl runs); NULL when never. */
static const char *last_allowed(struct fx *fx, const char *unit)
{
	static char val[256];
	char line[1024], pre[300];
	FILE *f = fopen(fx_path(fx, "/run/gpu-hook/executed"), "re");
	bool found = false;

	if (!f)
		return NULL;
	snprintf(pre, sizeof(pre), GH_ISOLATE_SYSTEMCTL " set-property --runtime %s AllowedCPUs=", unit);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, pre, strlen(pre))) {
			snprintf(val, sizeof(val), "%s", line + strlen(pre));
			val[strcspn(val, "\n")] = '\0';
			found = true;
		}
	fclose(f);
	return found ? val : NULL;
}

static const char *rd(struct fx *fx, const char *path)
{
	static char buf[4][128];
	static unsigned n;
	char *b = buf[n++ % 4];

	ck_assert_int_ge(gh_fs_read_str(fx->ctx, b, sizeof(buf[0]), "%s", path), 0);
	return b;
}

static const char *writeback(struct fx *fx)
{
	return rd(fx, GH_ISOLATE_WRITEBACK);
}

static struct gh_strv devs[3];

static struct gh_isolate_req req(unsigned vmid, const char *cpus)
{
	struct gh_isolate_req r = { .vmid = vmid, .housekeeping_min = 1, .slices = true, .writeback = true,
				    .irqs = true, .governor = true, .scopes = true };
	const char *bad;

	ck_assert_int_eq(gh_cpulist_parse(cpus, &r.cpus, &bad), 0);
	/* VM 100+i passes 0000:0<i+1>:00.0 through (a slot prefix for VM 102: every function). */
	if (vmid >= 100 && vmid <= 102) {
		if (!devs[vmid - 100].n)
			gh_strv_push(&devs[vmid - 100], vmid == 100 ? "0000:01:00.0" : vmid == 101 ? "0000:02:00.0"
												  : "0000:03:00.");
		r.devs = &devs[vmid - 100];
	}
	return r;
}

static int start(struct fx *fx, unsigned vmid, const char *cpus, char *why)
{
	char buf[256];
	struct gh_isolate_req r = req(vmid, cpus);

	return gh_isolate_start(fx->ctx, &r, why ? why : buf, sizeof(buf));
}

/* Everything back as the host had it before the first VM. */
static void expect_restored(struct fx *fx)
{
	char path[128];

	ck_assert_str_eq(last_allowed(fx, "system.slice"), "");
	ck_assert_str_eq(last_allowed(fx, "user.slice"), "0-6");
	ck_assert_str_eq(last_allowed(fx, "init.scope"), "");
	ck_assert_str_eq(last_allowed(fx, "200.scope"), "0-5");
	ck_assert_str_eq(writeback(fx), "ff");
	ck_assert_str_eq(rd(fx, "/proc/irq/default_smp_affinity"), "ff");
	for (size_t i = 0; i < sizeof(irq_orig) / sizeof(irq_orig[0]); i++) {
		snprintf(path, sizeof(path), "/proc/irq/%s/smp_affinity_list", irq_orig[i][0]);
		ck_assert_str_eq(rd(fx, path), irq_orig[i][1]);
	}
	for (unsigned c = 0; c < 7; c++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", c);
		ck_assert_str_eq(rd(fx, path), "powersave");
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/cpufreq/energy_performance_preference", c);
		if (c < 6)
			ck_assert_str_eq(rd(fx, path), "balance_performance");
	}
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
}

/* IRQs, governors and EPP for the running VMs (vms[i] the CPUs of VM 100+i). */
static void expect_irqs_cpufreq(struct fx *fx, const char *vms[], bool running[], size_t n, const char *hk,
				const cpu_set_t *iso)
{
	char path[128];

	ck_assert_str_eq(rd(fx, "/proc/irq/0/smp_affinity_list"), hk);
	ck_assert_str_eq(rd(fx, "/proc/irq/9/smp_affinity_list"), hk);
	ck_assert_str_eq(rd(fx, "/proc/irq/24/smp_affinity_list"), hk);
	ck_assert_str_eq(rd(fx, "/proc/irq/40/smp_affinity_list"), "0-7");
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/irq/%zu/smp_affinity_list", 30 + i);
		ck_assert_str_eq(rd(fx, path), running[i] ? vms[i] : hk);
	}
	for (unsigned c = 0; c < 7; c++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", c);
		ck_assert_str_eq(rd(fx, path), CPU_ISSET(c, iso) ? "performance" : "powersave");
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/cpufreq/energy_performance_preference", c);
		if (c < 6)
			ck_assert_str_eq(rd(fx, path), CPU_ISSET(c, iso) ? "performance" : "balance_performance");
	}
}

/* Everything, expected from first principles: housekeeping = 0-7 minus the union of running VMs. */
static void expect_hk(struct fx *fx, const char *vms[], bool running[], size_t n)
{
	cpu_set_t hk, s, iso;
	char list[256], mask[64];
	const char *bad;
	bool any = false;

	CPU_ZERO(&iso);
	gh_cpulist_parse("0-7", &hk, &bad);
	for (size_t i = 0; i < n; i++)
		if (running[i]) {
			gh_cpulist_parse(vms[i], &s, &bad);
			for (int c = 0; c < 8; c++)
				if (CPU_ISSET(c, &s)) {
					CPU_CLR(c, &hk);
					CPU_SET(c, &iso);
				}
			any = true;
		}
	if (!any) {
		expect_restored(fx);
		return;
	}
	gh_cpulist_format(&hk, list, sizeof(list));
	gh_isolate_format_mask(&hk, 8, mask, sizeof(mask));
	for (size_t i = 0; gh_isolate_units[i]; i++)
		ck_assert_str_eq(last_allowed(fx, gh_isolate_units[i]), list);
	ck_assert_str_eq(last_allowed(fx, "200.scope"), list);
	ck_assert_str_eq(writeback(fx), mask);
	ck_assert_str_eq(rd(fx, "/proc/irq/default_smp_affinity"), mask);
	expect_irqs_cpufreq(fx, vms, running, n, list, &iso);
}

START_TEST(mask_format)
{
	cpu_set_t s;
	const char *bad;
	char buf[64];

	gh_cpulist_parse("0-1,6-7", &s, &bad);
	ck_assert_int_eq(gh_isolate_format_mask(&s, 8, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "000000c3");
	gh_cpulist_parse("0,33", &s, &bad);
	ck_assert_int_eq(gh_isolate_format_mask(&s, 40, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "00000002,00000001");
	ck_assert_int_eq(gh_isolate_format_mask(&s, 40, buf, 10), -ENOSPC);
}
END_TEST

/* The process dies at the n-th change: every later op fails as if nothing ran any more. */
static int crash_after = -1;
static unsigned changes;
static int crash_run(struct gh_ctx *ctx, char *const argv[])
{
	changes++;
	return crash_after < 0 || crash_after-- > 0 ? gh_sim_ops.run(ctx, argv) : -EINTR;
}
static int crash_write(struct gh_ctx *ctx, const char *path, const char *value)
{
	changes++;
	return crash_after < 0 || crash_after-- > 0 ? test_write(ctx, path, value) : -EINTR;
}

/* VM 100+i isolates sets[i]; disjoint, or 100 and 101 sharing CPU 4 (the later one refused). */
static const char *const disjoint[] = { "2-3", "4-5", "6" }, *const overlap[] = { "2-4", "4-5", "6" };

static void perm(unsigned idx, unsigned n, unsigned out[])
{
	unsigned pool[3] = { 0, 1, 2 };
	unsigned m = n;

	for (unsigned i = 0; i < n; i++) {
		unsigned j = idx % m;

		idx /= m;
		out[i] = pool[j];
		pool[j] = pool[--m];
	}
}

struct seq {
	const char *const *sets;
	unsigned n, order[6];		/* order[i] < n: start VM order[i]; >= n: stop VM order[i] - n */
};

/*
 * The start/stop sequence, everything checked after each step. With
 * crash_op >= 0 that step dies after crash_at changes, and the next run
 * (post-stop or recover: gh_isolate_stop) finishes it. counts[k] gets the
 * changes step k made.
 */
static void run_seq(const struct seq *q, int crash_op, int crash_at, unsigned counts[])
{
	struct fx *fx = host();
	struct gh_ops crashing = test_ops;
	bool running[3] = { false, false, false }, was_refused[3] = { false, false, false };
	const char **sets = (const char **)q->sets;

	crashing.run = crash_run;
	crashing.write = crash_write;
	gh_ctx_set_ops(fx->ctx, &crashing, NULL);
	for (unsigned k = 0; k < 2 * q->n; k++) {
		unsigned x = q->order[k] % q->n;
		bool up = q->order[k] < q->n, refused = false;
		cpu_set_t a, b;
		const char *bad;
		unsigned long d0;

		if (up) {
			fx_file(fx, fx_fmt("/sys/fs/cgroup/qemu.slice/%u.scope/cpuset.cpus", 100 + x), "\n");
			gh_cpulist_parse(sets[x], &a, &bad);
			for (unsigned i = 0; i < q->n; i++) {
				if (!running[i] || gh_cpulist_parse(sets[i], &b, &bad) < 0)
					continue;
				CPU_AND(&b, &b, &a);
				refused = refused || CPU_COUNT(&b) > 0;
			}
		} else {
			/* The scope ends with QEMU, before post-stop runs. */
			fx_rm(fx, fx_fmt("/sys/fs/cgroup/qemu.slice/%u.scope", 100 + x));
		}
		d0 = refused ? fx_tree_digest(fx->root) : 0;
		was_refused[x] = was_refused[x] || refused;
		changes = 0;
		crash_after = (int)k == crash_op ? crash_at : -1;
		int r = up ? start(fx, 100 + x, sets[x], NULL) : gh_isolate_stop(fx->ctx, 100 + x);

		crash_after = -1;
		if (counts)
			counts[k] = changes;
		if ((int)k == crash_op) {
			ck_assert_int_eq(gh_isolate_stop(fx->ctx, 100 + x), 0);
			running[x] = false;
		} else if (refused) {
			ck_assert_int_eq(r, -EPERM);
			ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
		} else {
			ck_assert_msg(r == 0, "%d: %s", r, fx->log);
			running[x] = up;
		}
		expect_hk(fx, sets, running, q->n);
	}
	/* An isolated VM's own scope is never narrowed (a refused one runs unisolated: narrowed). */
	for (unsigned i = 0; crash_op < 0 && i < q->n; i++)
		if (!was_refused[i])
			ck_assert_ptr_null(last_allowed(fx, fx_fmt("%u.scope", 100 + i)));
	fx_free(fx);
}

/* _i: the sets (disjoint or overlapping), 1, 2 or 3 VMs, then every start order times every stop order. */
static void seq_of(int idx, struct seq *q)
{
	static const unsigned orders[] = { 1, 4, 36 };
	unsigned i = (unsigned)idx % 41, so[3], sto[3];

	q->sets = idx < 41 ? disjoint : overlap;
	q->n = i < 1 ? 1 : i < 5 ? 2 : 3;
	i -= q->n == 1 ? 0 : q->n == 2 ? 1 : 5;
	ck_assert_uint_lt(i, orders[q->n - 1]);
	perm(i % (q->n == 3 ? 6 : q->n), q->n, so);
	perm(i / (q->n == 3 ? 6 : q->n), q->n, sto);
	for (unsigned k = 0; k < q->n; k++) {
		q->order[k] = so[k];
		q->order[q->n + k] = q->n + sto[k];
	}
}

START_TEST(set_arithmetic_every_order)
{
	struct seq q;

	seq_of(_i, &q);
	run_seq(&q, -1, 0, NULL);
}
END_TEST

/*
 * _i: the sets, then 1 VM, 2 VMs in every order, 3 VMs in every start
 * order stopped first-in-first-out and last-in-first-out; the sequence
 * dies at every change of every step in turn.
 */
START_TEST(crash_at_every_step_then_recover)
{
	struct seq q;
	unsigned counts[6] = { 0 }, i = (unsigned)_i % 17, so[3];

	seq_of(i < 5 ? (int)i : 5, &q);
	q.sets = _i < 17 ? disjoint : overlap;
	if (i >= 5) {
		perm((i - 5) % 6, 3, so);
		for (unsigned k = 0; k < 3; k++) {
			q.order[k] = so[k];
			q.order[3 + k] = 3 + (i < 11 ? so[k] : so[2 - k]);
		}
	}
	run_seq(&q, -1, 0, counts);
	for (unsigned k = 0; k < 2 * q.n; k++)
		for (unsigned j = 0; j < counts[k]; j++)
			run_seq(&q, (int)k, (int)j, NULL);
}
END_TEST

START_TEST(status_names_vms)
{
	struct fx *fx = host();
	cpu_set_t iso, hk;
	char vms[128], list[64];

	ck_assert_int_eq(gh_isolate_current(fx->ctx, &iso, &hk, vms, sizeof(vms)), 0);
	ck_assert_int_eq(start(fx, 101, "2-3", NULL), 0);
	ck_assert_int_eq(start(fx, 102, "5", NULL), 0);
	ck_assert_int_eq(gh_isolate_current(fx->ctx, &iso, &hk, vms, sizeof(vms)), 1);
	ck_assert_ptr_nonnull(strstr(vms, "101:2-3"));
	ck_assert_ptr_nonnull(strstr(vms, "102:5"));
	gh_cpulist_format(&hk, list, sizeof(list));
	ck_assert_str_eq(list, "0-1,4,6-7");
	/* IRQs 0 9 24 30 31 32 moved, 40 managed; performance on 2, 3, 5; VM 200's scope */
	struct gh_isolate_counts c;

	ck_assert_int_eq(gh_isolate_get_counts(fx->ctx, &c), 1);
	ck_assert_uint_eq(c.irqs_moved, 6);
	ck_assert_uint_eq(c.irqs_skipped, 1);
	ck_assert_str_eq(c.skipped, "40");
	ck_assert_uint_eq(c.governors, 3);
	ck_assert_uint_eq(c.scopes, 1);
	ck_assert_ptr_nonnull(strstr(fx->log, "isolation: kernel-managed IRQs keep their affinity (EIO): 40\n"));
	/* CPU 7 has no cpufreq: said once, and the rest goes on */
	ck_assert_ptr_null(strstr(fx->log, "no cpufreq"));
	ck_assert_int_eq(start(fx, 103, "7", NULL), 0);
	ck_assert_ptr_nonnull(strstr(fx->log, "isolation: CPUs 7 have no cpufreq governor: their frequency is left alone"));
	ck_assert_int_eq(gh_isolate_get_counts(fx->ctx, &c), 1);
	ck_assert_uint_eq(c.governors, 3);
	/* The isolation state shares /run/gpu-hook with the card journals but is none of them. */
	struct gh_strv keys = { 0 };

	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/isolation.json"), 1);
	ck_assert_int_eq(gh_journal_list(fx->ctx, &keys), 0);
	for (size_t i = 0; i < keys.n; i++)
		ck_assert_msg(strcmp(keys.v[i], "isolation"), "isolation.json listed as a card journal");
	gh_strv_free(&keys);
	fx_free(fx);
}
END_TEST

/* MSI vectors the guest enables after post-start: steered at the next change, a VM's post-start or post-stop. */
START_TEST(late_msi_steered_at_next_change)
{
	struct fx *fx = host();
	char text[2048];

	ck_assert_int_eq(start(fx, 100, "2-3", NULL), 0);
	fx_file(fx, "/proc/irq/33/smp_affinity_list", "0-1,4-7\n");
	ck_assert_int_ge(gh_fs_read_str(fx->ctx, text, sizeof(text), "/proc/interrupts"), 0);
	fx_file(fx, "/proc/interrupts", "%s\n  33:          0          0   IR-PCI-MSI 524289-edge      "
		"vfio-msix[1](0000:01:00.0)\n", text);
	ck_assert_str_eq(rd(fx, "/proc/irq/33/smp_affinity_list"), "0-1,4-7");
	/* VM 201, not isolated, starts: its post-start narrows its scope and steers the new vector */
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/201.scope/cpuset.cpus", "\n");
	ck_assert_int_eq(gh_isolate_refresh(fx->ctx, 201, NULL, NULL), 0);
	ck_assert_str_eq(rd(fx, "/proc/irq/33/smp_affinity_list"), "2-3");
	ck_assert_str_eq(last_allowed(fx, "201.scope"), "0-1,4-7");
	/* refresh of an isolated VM, or with nothing isolated, does nothing */
	ck_assert_int_eq(gh_isolate_refresh(fx->ctx, 100, NULL, NULL), 0);
	fx_rm(fx, "/sys/fs/cgroup/qemu.slice/201.scope");
	ck_assert_int_eq(gh_isolate_stop(fx->ctx, 201), 0);
	ck_assert_str_eq(rd(fx, "/proc/irq/33/smp_affinity_list"), "2-3");
	ck_assert_int_eq(gh_isolate_stop(fx->ctx, 100), 0);
	/* given back as first seen (the vector would be freed with its VM on a real host) */
	ck_assert_str_eq(rd(fx, "/proc/irq/33/smp_affinity_list"), "0-1,4-7");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
	ck_assert_int_eq(gh_isolate_refresh(fx->ctx, 201, NULL, NULL), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
	fx_free(fx);
}
END_TEST

/* A systemd of unknown version is not refused; one older than 244 is, and nothing changes. */
START_TEST(systemd_version)
{
	struct fx *fx = host();
	unsigned v;
	char why[256];
	unsigned long d0;

	ck_assert_int_eq(gh_isolate_systemd_version(fx->ctx, &v), 0);
	ck_assert_uint_eq(v, 252);
	fx_file(fx, "/usr/lib64/systemd/libsystemd-shared-254.5-2.fc39.so", "%s", "");
	ck_assert_int_eq(gh_isolate_systemd_version(fx->ctx, &v), 0);
	ck_assert_uint_eq(v, 254);
	fx_rm(fx, "/usr/lib64");
	fx_rm(fx, "/usr/lib/x86_64-linux-gnu");
	fx_file(fx, "/usr/lib/systemd/libsystemd-shared-.so", "%s", "");
	ck_assert_int_eq(gh_isolate_systemd_version(fx->ctx, &v), -ENOENT);
	fx_file(fx, "/usr/lib/systemd/libsystemd-shared-243.so", "%s", "");
	d0 = fx_tree_digest(fx->root);
	ck_assert_int_eq(start(fx, 101, "2-3", why), -EPERM);
	ck_assert_str_eq(why, "systemd 243 is older than 244 (no AllowedCPUs=)");
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	fx_free(fx);
}
END_TEST

START_TEST(refusals_change_nothing)
{
	struct fx *fx = host();
	char why[256];
	unsigned long d0;

	/* overlap with another isolated VM */
	ck_assert_int_eq(start(fx, 101, "2-5", NULL), 0);
	d0 = fx_tree_digest(fx->root);
	ck_assert_int_eq(start(fx, 102, "5-6", why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "CPUs 5 are already isolated"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	/* too few housekeeping CPUs: 0-1,6-7 left, asking for 0-1,6 leaves 7 only */
	struct gh_isolate_req r = req(103, "0-1,6");

	r.housekeeping_min = 2;
	ck_assert_int_eq(gh_isolate_start(fx->ctx, &r, why, sizeof(why)), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "1 housekeeping CPUs left, housekeeping_min is 2"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	/* the whole host */
	ck_assert_int_eq(start(fx, 104, "0-1,6-7", why), -EPERM);
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	ck_assert_int_eq(gh_isolate_stop(fx->ctx, 101), 0);
	fx_free(fx);

	/* no cgroup v2 */
	fx = host();
	fx_rm(fx, "/sys/fs/cgroup/cgroup.controllers");
	d0 = fx_tree_digest(fx->root);
	ck_assert_int_eq(start(fx, 101, "2-3", why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "no cgroup v2"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	fx_free(fx);
}
END_TEST

/*
 * systemd and a kernel before 6.2 on AllowedCPUs=, modelled on
 * kernel/cgroup/cpuset.c: a task moved into a cpuset gets its CPUs
 * (cpuset_attach -> set_cpus_allowed_ptr(task, cpus_attach)), and so does
 * every task of a cpuset whose CPUs change (update_tasks_cpumask); 6.2
 * added user_cpus_ptr, which keeps a sched_setaffinity mask. The first
 * AllowedCPUs= makes systemd enable the cpuset controller, which moves
 * every task of qemu.slice; one on a scope changes that scope's cpuset.
 * With reuse_tid, thread 2003 of VM 200's QEMU (pid 2000) ends at the next
 * AllowedCPUs= and a new one gets its tid (another start time).
 */
#define SCOPE "/sys/fs/cgroup/qemu.slice/200.scope/"
static bool cpuset_on, reuse_tid, reset_pending, scope_pending;
static char scope_cpus[64];

static void task_stat(struct gh_ctx *ctx, int tid, unsigned long long start)
{
	/* Field 22 is the start time. */
	const char *stat = fx_fmt("%d (CPU %d/KVM) S 1 2000 2000 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu 1 1\n",
				  tid, tid % 10, start);

	ck_assert_int_eq(gh_fs_write_file(ctx, stat, "/proc/2000/task/%d/stat", tid), 0);
}

/*
 * systemd answers set-property before it realizes the cgroups: its manager
 * loop (manager_loop) dispatches the cgroup realize queue before the next
 * bus message, here the next systemctl run, or the test's own call.
 */
static void realize(struct gh_ctx *ctx)
{
	char eff[64] = "";
	struct gh_strv tids = { 0 };
	cpu_set_t set;
	const char *bad;

	if (scope_pending) {
		ck_assert_int_eq(gh_fs_write_file(ctx, scope_cpus, "%s", SCOPE "cpuset.cpus"), 0);
		ck_assert_int_eq(gh_fs_write_file(ctx, scope_cpus, "%s", SCOPE "cpuset.cpus.effective"), 0);
	}
	if (reset_pending) {
		if (gh_fs_read_str(ctx, eff, sizeof(eff), "%s", SCOPE "cpuset.cpus.effective") < 0 || !gh_util_trim(eff)[0])
			gh_fs_read_str(ctx, eff, sizeof(eff), "/sys/devices/system/cpu/online");
		ck_assert_int_eq(gh_cpulist_parse(gh_util_trim(eff), &set, &bad), 0);
		ck_assert_int_eq(gh_fs_list(ctx, &tids, "/proc/2000/task"), 0);
		for (size_t i = 0; i < tids.n; i++)
			ck_assert_int_eq(gh_sim_ops.set_affinity(ctx, (pid_t)strtol(tids.v[i], NULL, 10), &set), 0);
		gh_strv_free(&tids);
	}
	scope_pending = reset_pending = false;
}

static int cpuset_run(struct gh_ctx *ctx, char *const argv[])
{
	int r;

	realize(ctx);
	r = gh_sim_ops.run(ctx, argv);
	if (reuse_tid)
		task_stat(ctx, 2003, 99999);
	reuse_tid = false;
	if (r < 0 || strcmp(argv[1], "set-property"))
		return r;
	if (!strcmp(argv[3], "200.scope")) {
		snprintf(scope_cpus, sizeof(scope_cpus), "%s\n", argv[4] + strlen("AllowedCPUs="));
		scope_pending = true;
	}
	reset_pending = !cpuset_on || scope_pending;
	cpuset_on = true;
	return r;
}

static const char *task_cpus(struct fx *fx, int tid)
{
	static char list[4][64];
	static unsigned n;
	char *b = list[n++ % 4];
	cpu_set_t set;

	ck_assert_int_eq(gh_sim_ops.get_affinity(fx->ctx, tid, &set), 0);
	gh_cpulist_format(&set, b, sizeof(list[0]));
	return b;
}

/*
 * Pins of another VM's threads across narrowing (VM 100 on 6-7, then 101
 * on 4-5) and widening (101 stops, then 100): 2001 on 1 and 2002 on 2-3
 * keep them throughout, 2004 on 5 keeps it until 101 takes CPU 5 (then it
 * has the scope's whole set, and follows it), 2003's tid is reused at
 * 101's start and left as the kernel sets it, the main thread (unpinned)
 * follows the scope and has every CPU back at the end.
 */
START_TEST(pins_survive_cpuset_reset)
{
	static const struct {
		unsigned vmid;
		const char *cpus;	/* NULL: it stops */
		const char *want[5];	/* threads 2000-2004 after */
		const char *log;
	} steps[] = {
		{ 100, "6-7", { "0-5", "1", "2-3", "2", "5" }, "isolation: re-applied 4 thread pins the cpuset reset" },
		{ 101, "4-5", { "0-3", "1", "2-3", "0-3", "0-3" }, "1 pinned threads have none of their CPUs left" },
		{ 101, NULL, { "0-5", "1", "2-3", "0-5", "0-5" }, NULL },
		{ 100, NULL, { "0-7", "1", "2-3", "0-7", "0-7" }, NULL },
	};
	static const char *const pins[] = { "0-7", "1", "2-3", "2", "5" };
	struct fx *fx = host();

	fx_file(fx, "/sys/fs/cgroup/qemu.slice/200.scope/cpuset.cpus", "\n");
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/200.scope/cgroup.procs", "2000\n");
	for (int i = 0; i < 5; i++) {
		fx_file(fx, fx_fmt("/proc/2000/task/%d/status", 2000 + i), "Cpus_allowed_list:\t%s\n", pins[i]);
		task_stat(fx->ctx, 2000 + i, 1000 + (unsigned)i);
	}
	test_ops.run = cpuset_run;
	cpuset_on = false;
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		fx_log_clear(fx);
		reuse_tid = s == 1;
		if (steps[s].cpus)
			ck_assert_int_eq(start(fx, steps[s].vmid, steps[s].cpus, NULL), 0);
		else
			ck_assert_int_eq(gh_isolate_stop(fx->ctx, steps[s].vmid), 0);
		realize(fx->ctx);
		for (int i = 0; i < 5; i++)
			ck_assert_msg(!strcmp(task_cpus(fx, 2000 + i), steps[s].want[i]), "step %zu: thread %d on %s, not %s",
				      s, 2000 + i, task_cpus(fx, 2000 + i), steps[s].want[i]);
		ck_assert(!steps[s].log || fx_log_has(fx, steps[s].log));
	}
	ck_assert_str_eq(last_allowed(fx, "200.scope"), "");
	fx_free(fx);
}
END_TEST

/* The hook end to end on the example host: VM 113 (no GPU pinning) asks for CPUs 2-7 of 0-7. */
static struct fx *hook_host(void)
{
	struct fx *fx = fx_new();

	fx_example_host(fx);
	fx_file(fx, "/sys/devices/system/cpu/online", "0-7\n");
	fx_file(fx, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu\n");
	fx_file(fx, GH_ISOLATE_WRITEBACK, "ff\n");
	fx_file(fx, "/proc/irq/default_smp_affinity", "ff\n");
	fx_file(fx, "/proc/irq/24/smp_affinity_list", "0-7\n");
	fx_file(fx, "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor", "schedutil\n");
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/200.scope/cpuset.cpus", "\n");
	fx_vmconf(fx, 113, "cores: 6\n");
	fx_vmconf(fx, 201, "cores: 2\n");
	fx_file(fx, "/etc/gpu-hook/113.ini", "[isolation]\ncpus = 2-7\nhousekeeping_min = 2\n");
	return fx;
}

START_TEST(hook_post_start_and_post_stop)
{
	struct fx *fx = hook_host();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;

	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "113", "post-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_ptr_nonnull(strstr(r->out, "systemctl set-property --runtime system.slice AllowedCPUs=0-1"));
	ck_assert_ptr_nonnull(strstr(r->out, "undo: write ff when no isolated VM is left"));
	ck_assert_ptr_nonnull(strstr(r->out, "write 00000003 to " GH_ISOLATE_WRITEBACK));
	ck_assert_ptr_nonnull(strstr(r->out, "write 00000003 to /proc/irq/default_smp_affinity"));
	ck_assert_ptr_nonnull(strstr(r->out, "write 0-1 to /proc/irq/24/smp_affinity_list\n"
					     "     undo: write 0-7 when no isolated VM is left"));
	ck_assert_ptr_nonnull(strstr(r->out, "write performance to /sys/devices/system/cpu/cpu2/cpufreq/scaling_governor\n"
					     "     undo: write schedutil when its VM stops"));
	ck_assert_ptr_nonnull(strstr(r->out, "systemctl set-property --runtime 200.scope AllowedCPUs=0-1\n"
					     "     undo: AllowedCPUs= when no isolated VM is left (unrestricted)"));
	fx_run_hook(r, NULL, "113", "post-start", "--dry-run", "--json", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "\"isolation\""));
	ck_assert_ptr_nonnull(strstr(r->out, "AllowedCPUs=0-1"));
	ck_assert_ptr_nonnull(strstr(r->out, "\"description\":\"write 0-1 to /proc/irq/24/smp_affinity_list\",\n"
					     "      \"undo\":\"write 0-7 when no isolated VM is left\""));
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);

	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_str_eq(last_allowed(fx, "init.scope"), "0-1");
	ck_assert_str_eq(writeback(fx), "00000003");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 1);
	fx_run_hook(r, NULL, "status", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "isolation: VM:CPUs 113:2-7; host on CPUs 0-1"));
	ck_assert_ptr_nonnull(strstr(r->out, "IRQs moved 1, kernel-managed kept 0; performance governor on 1 CPUs; "
					     "1 other VMs' scopes narrowed"));
	ck_assert_str_eq(rd(fx, "/proc/irq/24/smp_affinity_list"), "0-1");
	fx_run_hook(r, NULL, "status", "--json", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "\"irqs_moved\":1"));
	ck_assert_str_eq(rd(fx, "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"), "performance");
	ck_assert_str_eq(last_allowed(fx, "200.scope"), "0-1");
	/* a VM without [isolation] started meanwhile: its scope joins the others at its post-start */
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/201.scope/cpuset.cpus", "\n");
	fx_run_hook(r, NULL, "201", "post-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_ptr_nonnull(strstr(r->out, "systemctl set-property --runtime 201.scope AllowedCPUs=0-1"));
	ck_assert_ptr_null(last_allowed(fx, "201.scope"));
	fx_run_hook(r, NULL, "201", "post-start", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_str_eq(last_allowed(fx, "201.scope"), "0-1");
	fx_run_hook(r, NULL, "113", "post-stop", "--root", fx->root, NULL);
	ck_assert_str_eq(writeback(fx), "ff");
	ck_assert_str_eq(rd(fx, "/proc/irq/24/smp_affinity_list"), "0-7");
	ck_assert_str_eq(rd(fx, "/proc/irq/default_smp_affinity"), "ff");
	ck_assert_str_eq(rd(fx, "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"), "schedutil");
	ck_assert_str_eq(last_allowed(fx, "200.scope"), "");
	ck_assert_str_eq(last_allowed(fx, "201.scope"), "");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
	fx_run_hook(r, NULL, "status", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "isolation: none"));
	/* recover gives the CPUs back too (the VM's post-stop never ran) */
	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_str_eq(writeback(fx), "00000003");
	fx_run_hook(r, NULL, "recover", "113", "--root", fx->root, NULL);
	ck_assert_str_eq(writeback(fx), "ff");
	ck_assert_str_eq(last_allowed(fx, "user.slice"), "");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
	free(r);
	fx_free(fx);
}
END_TEST

/* The hook's refusals, check's lines and a bad policy on the same host. */
START_TEST(hook_refusals_and_check)
{
	struct fx *fx = hook_host();
	struct fx_run *r = calloc(1, sizeof(*r));

	/* housekeeping_min refuses before any change */
	fx_file(fx, "/etc/gpu-hook/113.ini", "[isolation]\ncpus = 1-7\nhousekeeping_min = 2\n");
	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "not isolating: 1 housekeeping CPUs left, housekeeping_min is 2"));
	ck_assert_str_eq(writeback(fx), "ff");
	/* systemd without AllowedCPUs= refuses before any change */
	fx_file(fx, "/usr/lib/systemd/libsystemd-shared-241.so", "%s", "");
	fx_file(fx, "/etc/gpu-hook/113.ini", "[isolation]\ncpus = 2-7\n");
	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "not isolating: systemd 241 is older than 244 (no AllowedCPUs=)"));
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
	fx_run_hook(r, NULL, "check", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "systemd 241 is older than 244 (no AllowedCPUs=): [isolation] refuses"));
	fx_rm(fx, "/usr/lib/systemd/libsystemd-shared-241.so");
	fx_file(fx, "/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-252.so", "%s", "");
	/* check reports what isolation needs, and a boot-time isolation as compatible */
	fx_file(fx, "/proc/cmdline", "BOOT_IMAGE=/vmlinuz nohz_full=2-7\n");
	fx_run_hook(r, NULL, "check", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "online CPUs 0-7"));
	ck_assert_ptr_null(strstr(r->out, "no cgroup v2"));
	ck_assert_ptr_nonnull(strstr(r->out, "isolates CPUs at boot (isolcpus=/nohz_full=): compatible"));
	ck_assert_ptr_nonnull(strstr(r->out, "systemd 252: AllowedCPUs= for [isolation]"));
	fx_rm(fx, "/sys/fs/cgroup/cgroup.controllers");
	fx_run_hook(r, NULL, "check", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "no cgroup v2: [isolation] refuses to run"));
	/* bad policy: file:line */
	fx_file(fx, "/etc/gpu-hook/113.ini", "[isolation]\ncpus = 2-x\n");
	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "113.ini:2: cpus: invalid CPU list at '2-x'"));
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(policy_section)
{
	struct fx *fx = fx_new();
	struct gh_policy p;
	char text[] = "[isolation]\ncpus = 2-5\nhousekeeping_min = 3\nwriteback = no\ngovernor = keep\nother_vms = no\n";
	char bad[] = "[isolation]\ngovernor = ondemand\nhousekeeping_min = 0\nfoo = 1\nirqs = maybe\n";
	char off[] = "[isolation]\nenabled = no\n";
	char list[64];
	FILE *f;

	ck_assert_int_eq(gh_policy_init(&p), 0);
	ck_assert(!p.isolate);
	ck_assert(p.iso_irqs && p.iso_governor && p.iso_other_vms);
	f = fmemopen(text, strlen(text), "r");
	ck_assert_int_eq(gh_policy_parse(fx->ctx, f, "v.ini", &p), 0);
	fclose(f);
	ck_assert(p.isolate && p.iso_slices && !p.iso_writeback && p.iso_irqs && !p.iso_governor && !p.iso_other_vms);
	ck_assert_uint_eq(p.iso_housekeeping_min, 3);
	gh_cpulist_format(&p.iso_cpus, list, sizeof(list));
	ck_assert_str_eq(list, "2-5");
	f = fmemopen(off, strlen(off), "r");
	ck_assert_int_eq(gh_policy_parse(fx->ctx, f, "v.ini", &p), 0);
	fclose(f);
	ck_assert(!p.isolate);
	f = fmemopen(bad, strlen(bad), "r");
	ck_assert_int_eq(gh_policy_parse(fx->ctx, f, "b.ini", &p), -EINVAL);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(fx->log, "b.ini:2: governor: expected performance or keep, not 'ondemand'"));
	ck_assert_ptr_nonnull(strstr(fx->log, "b.ini:5: irqs: expected yes or no, not 'maybe'"));
	ck_assert_ptr_nonnull(strstr(fx->log, "b.ini:3: housekeeping_min: expected a number"));
	ck_assert_ptr_nonnull(strstr(fx->log, "b.ini:4: unknown key 'foo' in [isolation]"));
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

int main(void)
{
	/* Thousands of fixture runs, each state save fsync'ed: on tmpfs that costs nothing. */
	if (!getenv("TMPDIR") && access("/dev/shm", W_OK) == 0)
		setenv("TMPDIR", "/dev/shm", 0);
	Suite *s = suite_create("isolate");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, mask_format);
	tcase_add_loop_test(tc, set_arithmetic_every_order, 0, 82);
	tcase_add_test(tc, status_names_vms);
	tcase_add_test(tc, systemd_version);
	tcase_add_test(tc, late_msi_steered_at_next_change);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, policy_section);
	tcase_add_test(tc, pins_survive_cpuset_reset);
	tcase_add_test(tc, hook_post_start_and_post_stop);
	tcase_add_test(tc, hook_refusals_and_check);
	tcase_add_loop_test(tc, crash_at_every_step_then_recover, 0, 34);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
