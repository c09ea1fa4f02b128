/* SPDX-License-Identifier: MIT */
/*
 * Isolation through the hook (isolate-fx.h): pins across a cpuset reset, post-
 * start and post-stop, check, the policy's section.
 */
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

#define SCOPE "/sys/fs/cgroup/qemu.slice/200.scope/"
static bool cpuset_on, reuse_tid, reset_pending, scope_pending;
static char scope_cpus[64];

/* A fixture's thread; never this machine's /proc (see gh_sim_on_fixture). */
static void task_stat(struct gh_ctx *ctx, int tid, unsigned long long start)
{
	/* Field 22 is the start time. */
	const char *stat = iso_fmt("%d (CPU %d/KVM) S 1 2000 2000 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu 1 1\n",
				  tid, tid % 10, start);

	ck_assert(gh_sim_on_fixture(ctx));
	ck_assert_int_eq(gh_fs_write_file(ctx, stat, "/proc/2000/task/%d/stat", tid), 0);
}

/*
 * systemd answers set-property before it realizes the cgroups: its manager
 * loop (manager_loop) dispatches the cgroup realize queue before the next
 * bus message, here the next systemctl run, or the test's own call. It
 * writes the scope's cpuset files: a fixture's, never this machine's.
 */
static void realize(struct gh_ctx *ctx)
{
	char eff[64] = "";
	struct gh_strv tids = { 0 };
	cpu_set_t set;
	const char *bad;

	ck_assert(gh_sim_on_fixture(ctx));

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

/* systemctl on the fixture, with systemd's cgroup realization: it writes the scope's cpuset, so never under the real root. */
static int cpuset_run(struct gh_ctx *ctx, char *const argv[])
{
	int r;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
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
	struct fx *fx = iso_host();

	fx_file(fx, "/sys/fs/cgroup/qemu.slice/200.scope/cpuset.cpus", "\n");
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/200.scope/cgroup.procs", "2000\n");
	for (int i = 0; i < 5; i++) {
		fx_file(fx, iso_fmt("/proc/2000/task/%d/status", 2000 + i), "Cpus_allowed_list:\t%s\n", pins[i]);
		task_stat(fx->ctx, 2000 + i, 1000 + (unsigned)i);
	}
	iso_ops.run = cpuset_run;
	cpuset_on = false;
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		fx_log_clear(fx);
		reuse_tid = s == 1;
		if (steps[s].cpus)
			ck_assert_int_eq(iso_start(fx, steps[s].vmid, steps[s].cpus, NULL), 0);
		else
			ck_assert_int_eq(gh_isolate_stop(fx->ctx, steps[s].vmid), 0);
		realize(fx->ctx);
		for (int i = 0; i < 5; i++)
			ck_assert_msg(!strcmp(task_cpus(fx, 2000 + i), steps[s].want[i]), "step %zu: thread %d on %s, not %s",
				      s, 2000 + i, task_cpus(fx, 2000 + i), steps[s].want[i]);
		ck_assert(!steps[s].log || fx_log_has(fx, steps[s].log));
	}
	ck_assert_str_eq(iso_last_allowed(fx, "200.scope"), "");
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
	ck_assert_str_eq(iso_last_allowed(fx, "init.scope"), "0-1");
	ck_assert_str_eq(iso_writeback(fx), "00000003");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 1);
	fx_run_hook(r, NULL, "status", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "isolation: VM:CPUs 113:2-7; host on CPUs 0-1"));
	ck_assert_ptr_nonnull(strstr(r->out, "IRQs moved 1, kernel-managed kept 0; performance governor on 1 CPUs; "
					     "1 other VMs' scopes narrowed"));
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/24/smp_affinity_list"), "0-1");
	fx_run_hook(r, NULL, "status", "--json", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "\"irqs_moved\":1"));
	ck_assert_str_eq(iso_rd(fx, "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"), "performance");
	ck_assert_str_eq(iso_last_allowed(fx, "200.scope"), "0-1");
	/* a VM without [isolation] started meanwhile: its scope joins the others at its post-start */
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/201.scope/cpuset.cpus", "\n");
	fx_run_hook(r, NULL, "201", "post-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_ptr_nonnull(strstr(r->out, "systemctl set-property --runtime 201.scope AllowedCPUs=0-1"));
	ck_assert_ptr_null(iso_last_allowed(fx, "201.scope"));
	fx_run_hook(r, NULL, "201", "post-start", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_str_eq(iso_last_allowed(fx, "201.scope"), "0-1");
	fx_run_hook(r, NULL, "113", "post-stop", "--root", fx->root, NULL);
	ck_assert_str_eq(iso_writeback(fx), "ff");
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/24/smp_affinity_list"), "0-7");
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/default_smp_affinity"), "ff");
	ck_assert_str_eq(iso_rd(fx, "/sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"), "schedutil");
	ck_assert_str_eq(iso_last_allowed(fx, "200.scope"), "");
	ck_assert_str_eq(iso_last_allowed(fx, "201.scope"), "");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
	fx_run_hook(r, NULL, "status", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "isolation: none"));
	/* recover gives the CPUs back too (the VM's post-stop never ran) */
	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_str_eq(iso_writeback(fx), "00000003");
	fx_run_hook(r, NULL, "recover", "113", "--root", fx->root, NULL);
	ck_assert_str_eq(iso_writeback(fx), "ff");
	ck_assert_str_eq(iso_last_allowed(fx, "user.slice"), "");
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
	ck_assert_str_eq(iso_writeback(fx), "ff");
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
	Suite *s = suite_create("isolate_hook");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, policy_section);
	tcase_add_test(tc, pins_survive_cpuset_reset);
	tcase_add_test(tc, hook_post_start_and_post_stop);
	tcase_add_test(tc, hook_refusals_and_check);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
