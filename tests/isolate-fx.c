/* SPDX-License-Identifier: MIT */
/* The isolation tests' host (isolate-fx.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"
#include "fixture.h"
#include "isolate-fx.h"
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

/* As the simulator it wraps: a fixture tree only, never this machine's /proc/irq or cpufreq files. */
int iso_write(struct gh_ctx *ctx, const char *path, const char *value)
{
	char gov[64] = "", gpath[128];
	unsigned c;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;

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

struct gh_ops iso_ops;

const char *iso_fmt(const char *fmt, ...)
{
	static char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return buf;
}

struct fx *iso_host(void)
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
		fx_file(fx, iso_fmt("/proc/irq/%s/smp_affinity_list", irq_orig[i][0]), "%s\n", irq_orig[i][1]);
	fx_file(fx, "/proc/interrupts",
		"            CPU0       CPU1\n   0:         40          0   IO-APIC   2-edge      timer\n"
		"   9:          0          0   IO-APIC   9-fasteoi   acpi\n  24:          5          0   PCI-MSI 65536-edge      eno1\n"
		"  30:          0          9   IR-PCI-MSI 524288-edge      vfio-msix[0](0000:01:00.0)\n"
		"  31:          0          0   IR-PCI-MSI 1048576-edge      vfio-msi[0](0000:02:00.0)\n"
		"  32:          0          0   IR-IO-APIC   16-fasteoi   vfio-intx(0000:03:00.0)\n"
		"  40:          1          0   PCI-MSIX-0000:04:00.0 0-edge      nvme0q0\nNMI:          0          0   Non-maskable interrupts\n");
	for (unsigned c = 0; c < 7; c++) {
		fx_file(fx, iso_fmt("/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", c), "powersave\n");
		if (c < 6)
			fx_file(fx, iso_fmt("/sys/devices/system/cpu/cpu%u/cpufreq/energy_performance_preference", c),
				"balance_performance\n");
	}
	iso_ops = gh_sim_ops;
	iso_ops.write = iso_write;
	gh_ctx_set_ops(fx->ctx, &iso_ops, NULL);
	return fx;
}

/* The AllowedCPUs= last set for unit (the simulator's record of systemctl runs); NULL when never. */
const char *iso_last_allowed(struct fx *fx, const char *unit)
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

const char *iso_rd(struct fx *fx, const char *path)
{
	static char buf[4][128];
	static unsigned n;
	char *b = buf[n++ % 4];

	ck_assert_int_ge(gh_fs_read_str(fx->ctx, b, sizeof(buf[0]), "%s", path), 0);
	return b;
}

const char *iso_writeback(struct fx *fx)
{
	return iso_rd(fx, GH_ISOLATE_WRITEBACK);
}

static struct gh_strv devs[3];

struct gh_isolate_req iso_req(unsigned vmid, const char *cpus)
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

int iso_start(struct fx *fx, unsigned vmid, const char *cpus, char *why)
{
	char buf[256];
	struct gh_isolate_req r = iso_req(vmid, cpus);

	return gh_isolate_start(fx->ctx, &r, why ? why : buf, sizeof(buf));
}

/* Everything back as the host had it before the first VM. */
void iso_expect_restored(struct fx *fx)
{
	char path[128];

	ck_assert_str_eq(iso_last_allowed(fx, "system.slice"), "");
	ck_assert_str_eq(iso_last_allowed(fx, "user.slice"), "0-6");
	ck_assert_str_eq(iso_last_allowed(fx, "init.scope"), "");
	ck_assert_str_eq(iso_last_allowed(fx, "200.scope"), "0-5");
	ck_assert_str_eq(iso_writeback(fx), "ff");
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/default_smp_affinity"), "ff");
	for (size_t i = 0; i < sizeof(irq_orig) / sizeof(irq_orig[0]); i++) {
		snprintf(path, sizeof(path), "/proc/irq/%s/smp_affinity_list", irq_orig[i][0]);
		ck_assert_str_eq(iso_rd(fx, path), irq_orig[i][1]);
	}
	for (unsigned c = 0; c < 7; c++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", c);
		ck_assert_str_eq(iso_rd(fx, path), "powersave");
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/cpufreq/energy_performance_preference", c);
		if (c < 6)
			ck_assert_str_eq(iso_rd(fx, path), "balance_performance");
	}
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
}

/* IRQs, governors and EPP for the running VMs (vms[i] the CPUs of VM 100+i). */
void iso_expect_irqs_cpufreq(struct fx *fx, const char *vms[], bool running[], size_t n, const char *hk,
			     const cpu_set_t *iso)
{
	char path[128];

	ck_assert_str_eq(iso_rd(fx, "/proc/irq/0/smp_affinity_list"), hk);
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/9/smp_affinity_list"), hk);
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/24/smp_affinity_list"), hk);
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/40/smp_affinity_list"), "0-7");
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/irq/%zu/smp_affinity_list", 30 + i);
		ck_assert_str_eq(iso_rd(fx, path), running[i] ? vms[i] : hk);
	}
	for (unsigned c = 0; c < 7; c++) {
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/cpufreq/scaling_governor", c);
		ck_assert_str_eq(iso_rd(fx, path), CPU_ISSET(c, iso) ? "performance" : "powersave");
		snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/cpufreq/energy_performance_preference", c);
		if (c < 6)
			ck_assert_str_eq(iso_rd(fx, path), CPU_ISSET(c, iso) ? "performance" : "balance_performance");
	}
}

/* Everything, expected from first principles: housekeeping = 0-7 minus the union of running VMs. */
void iso_expect_hk(struct fx *fx, const char *vms[], bool running[], size_t n)
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
		iso_expect_restored(fx);
		return;
	}
	gh_cpulist_format(&hk, list, sizeof(list));
	gh_isolate_format_mask(&hk, 8, mask, sizeof(mask));
	for (size_t i = 0; gh_isolate_units[i]; i++)
		ck_assert_str_eq(iso_last_allowed(fx, gh_isolate_units[i]), list);
	ck_assert_str_eq(iso_last_allowed(fx, "200.scope"), list);
	ck_assert_str_eq(iso_writeback(fx), mask);
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/default_smp_affinity"), mask);
	iso_expect_irqs_cpufreq(fx, vms, running, n, list, &iso);
}
