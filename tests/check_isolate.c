/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpulist.h"
#include "fixture.h"
#include "fs.h"
#include "isolate.h"
#include "policy.h"
#include "sim.h"

/* An 8-CPU host: system.slice unrestricted, user.slice on 0-6 (an admin's own setting), writeback on all. */
static struct fx *host(void)
{
	struct fx *fx = fx_new();

	fx_file(fx, "/sys/devices/system/cpu/online", "0-7\n");
	fx_file(fx, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory pids\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/cpuset.cpus", "\n");
	fx_file(fx, "/sys/fs/cgroup/user.slice/cpuset.cpus", "0-6\n");
	fx_file(fx, "/sys/fs/cgroup/init.scope/cpuset.cpus", "\n");
	fx_file(fx, GH_ISOLATE_WRITEBACK, "ff\n");
	gh_ctx_set_ops(fx->ctx, &gh_sim_ops, NULL);
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

static const char *writeback(struct fx *fx)
{
	static char buf[128];

	ck_assert_int_ge(gh_fs_read_str(fx->ctx, buf, sizeof(buf), GH_ISOLATE_WRITEBACK), 0);
	return buf;
}

static struct gh_isolate_req req(unsigned vmid, const char *cpus)
{
	struct gh_isolate_req r = { .vmid = vmid, .housekeeping_min = 1, .slices = true, .writeback = true };
	const char *bad;

	ck_assert_int_eq(gh_cpulist_parse(cpus, &r.cpus, &bad), 0);
	return r;
}

static int start(struct fx *fx, unsigned vmid, const char *cpus, char *why)
{
	char buf[256];
	struct gh_isolate_req r = req(vmid, cpus);

	return gh_isolate_start(fx->ctx, &r, why ? why : buf, sizeof(buf));
}

/* The housekeeping set, expected from first principles: 0-7 minus the union of running VMs. */
static void expect_hk(struct fx *fx, const char *vms[], bool running[], size_t n)
{
	cpu_set_t hk, s;
	char list[256], mask[64];
	const char *bad;
	bool any = false;

	gh_cpulist_parse("0-7", &hk, &bad);
	for (size_t i = 0; i < n; i++)
		if (running[i]) {
			gh_cpulist_parse(vms[i], &s, &bad);
			for (int c = 0; c < 8; c++)
				if (CPU_ISSET(c, &s))
					CPU_CLR(c, &hk);
			any = true;
		}
	if (!any) {
		/* exact restoration: what was there before the first VM */
		ck_assert_str_eq(last_allowed(fx, "system.slice"), "");
		ck_assert_str_eq(last_allowed(fx, "user.slice"), "0-6");
		ck_assert_str_eq(last_allowed(fx, "init.scope"), "");
		ck_assert_str_eq(writeback(fx), "ff");
		ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
		return;
	}
	gh_cpulist_format(&hk, list, sizeof(list));
	gh_isolate_format_mask(&hk, 8, mask, sizeof(mask));
	for (size_t i = 0; gh_isolate_units[i]; i++)
		ck_assert_str_eq(last_allowed(fx, gh_isolate_units[i]), list);
	ck_assert_str_eq(writeback(fx), mask);
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

/* Every start/stop order of up to three disjoint VMs (a permutation of starts then one of stops). */
static const char *three[] = { "2-3", "4-5", "6" };

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

START_TEST(set_arithmetic_every_order)
{
	unsigned n = (unsigned)_i / 36 + 1, a = (unsigned)_i % 6, b = ((unsigned)_i / 6) % 6;
	unsigned so[3], sto[3];
	bool running[3] = { false, false, false };
	struct fx *fx = host();

	if (n > 3)
		n = 3;
	perm(a % (n == 1 ? 1 : n == 2 ? 2 : 6), n, so);
	perm(b % (n == 1 ? 1 : n == 2 ? 2 : 6), n, sto);
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(start(fx, 100 + so[i], three[so[i]], NULL), 0);
		running[so[i]] = true;
		expect_hk(fx, three, running, n);
	}
	for (unsigned i = 0; i < n; i++) {
		ck_assert_int_eq(gh_isolate_stop(fx->ctx, 100 + sto[i]), 0);
		running[sto[i]] = false;
		expect_hk(fx, three, running, n);
	}
	fx_free(fx);
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

/* The process dies at the n-th change: every later op fails as if nothing ran any more. */
static int crash_after;
static int crash_run(struct gh_ctx *ctx, char *const argv[])
{
	return crash_after-- > 0 ? gh_sim_ops.run(ctx, argv) : -EINTR;
}
static int crash_write(struct gh_ctx *ctx, const char *path, const char *value)
{
	return crash_after-- > 0 ? gh_sim_ops.write(ctx, path, value) : -EINTR;
}

START_TEST(crash_at_every_step_then_recover)
{
	/* VM 101 runs isolated; VM 102's start or stop dies after _i changes (4 per apply). */
	for (int phase = 0; phase < 3; phase++) {
		struct fx *fx = host();
		struct gh_ops crashing = gh_sim_ops;
		bool running[2] = { true, true };
		const char *vms[2] = { "2-3", "4-5" };

		crashing.run = crash_run;
		crashing.write = crash_write;
		if (phase == 2) {
			/* the first isolated VM's start dies: recover needs the values saved before any change */
			crash_after = _i;
			gh_ctx_set_ops(fx->ctx, &crashing, NULL);
			start(fx, 101, "2-3", NULL);
			gh_ctx_set_ops(fx->ctx, &gh_sim_ops, NULL);
			ck_assert_int_eq(gh_isolate_stop(fx->ctx, 101), 0);
			running[0] = running[1] = false;
			expect_hk(fx, vms, running, 2);
			fx_free(fx);
			continue;
		}
		ck_assert_int_eq(start(fx, 101, "2-3", NULL), 0);
		if (phase == 1)
			ck_assert_int_eq(start(fx, 102, "4-5", NULL), 0);
		crash_after = _i;
		gh_ctx_set_ops(fx->ctx, &crashing, NULL);
		if (phase == 0)
			start(fx, 102, "4-5", NULL);
		else
			gh_isolate_stop(fx->ctx, 102);
		/* recover after the restart */
		gh_ctx_set_ops(fx->ctx, &gh_sim_ops, NULL);
		ck_assert_int_eq(gh_isolate_stop(fx->ctx, 102), 0);
		running[1] = false;
		expect_hk(fx, vms, running, 2);
		ck_assert_int_eq(gh_isolate_stop(fx->ctx, 101), 0);
		running[0] = false;
		expect_hk(fx, vms, running, 2);
		fx_free(fx);
	}
}
END_TEST

/* The hook end to end on the example host: VM 113 (no GPU pinning) asks for CPUs 2-7 of 0-7. */
START_TEST(hook_post_start_and_post_stop)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;

	fx_example_host(fx);
	fx_file(fx, "/sys/devices/system/cpu/online", "0-7\n");
	fx_file(fx, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu\n");
	fx_file(fx, GH_ISOLATE_WRITEBACK, "ff\n");
	fx_vmconf(fx, 113, "cores: 6\n");
	fx_file(fx, "/etc/gpu-hook/113.ini", "[isolation]\ncpus = 2-7\nhousekeeping_min = 2\n");
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "113", "post-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_ptr_nonnull(strstr(r->out, "systemctl set-property --runtime system.slice AllowedCPUs=0-1"));
	ck_assert_ptr_nonnull(strstr(r->out, "undo: write ff when no isolated VM is left"));
	ck_assert_ptr_nonnull(strstr(r->out, "write 00000003 to " GH_ISOLATE_WRITEBACK));
	fx_run_hook(r, NULL, "113", "post-start", "--dry-run", "--json", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "\"isolation\""));
	ck_assert_ptr_nonnull(strstr(r->out, "AllowedCPUs=0-1"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);

	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_str_eq(last_allowed(fx, "init.scope"), "0-1");
	ck_assert_str_eq(writeback(fx), "00000003");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 1);
	fx_run_hook(r, NULL, "status", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "isolation: VM:CPUs 113:2-7; host on CPUs 0-1"));
	fx_run_hook(r, NULL, "113", "post-stop", "--root", fx->root, NULL);
	ck_assert_str_eq(writeback(fx), "ff");
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

	/* housekeeping_min refuses before any change */
	fx_file(fx, "/etc/gpu-hook/113.ini", "[isolation]\ncpus = 1-7\nhousekeeping_min = 2\n");
	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "not isolating: 1 housekeeping CPUs left, housekeeping_min is 2"));
	ck_assert_str_eq(writeback(fx), "ff");
	/* check reports what isolation needs, and a boot-time isolation as compatible */
	fx_file(fx, "/proc/cmdline", "BOOT_IMAGE=/vmlinuz nohz_full=2-7\n");
	fx_run_hook(r, NULL, "check", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "online CPUs 0-7"));
	ck_assert_ptr_null(strstr(r->out, "no cgroup v2"));
	ck_assert_ptr_nonnull(strstr(r->out, "isolates CPUs at boot (isolcpus=/nohz_full=): compatible"));
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
	char text[] = "[isolation]\ncpus = 2-5\nhousekeeping_min = 3\nwriteback = no\n";
	char bad[] = "[isolation]\nirqs = yes\nhousekeeping_min = 0\nfoo = 1\n";
	char off[] = "[isolation]\nenabled = no\n";
	char list[64];
	FILE *f;

	ck_assert_int_eq(gh_policy_init(&p), 0);
	ck_assert(!p.isolate);
	f = fmemopen(text, strlen(text), "r");
	ck_assert_int_eq(gh_policy_parse(fx->ctx, f, "v.ini", &p), 0);
	fclose(f);
	ck_assert(p.isolate && p.iso_slices && !p.iso_writeback);
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
	ck_assert_ptr_nonnull(strstr(fx->log, "b.ini:2: irqs: only 'no' is supported"));
	ck_assert_ptr_nonnull(strstr(fx->log, "b.ini:3: housekeeping_min: expected a number"));
	ck_assert_ptr_nonnull(strstr(fx->log, "b.ini:4: unknown key 'foo' in [isolation]"));
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("isolate");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, mask_format);
	tcase_add_loop_test(tc, set_arithmetic_every_order, 0, 108);
	tcase_add_test(tc, status_names_vms);
	tcase_add_test(tc, refusals_change_nothing);
	tcase_add_test(tc, policy_section);
	tcase_add_test(tc, hook_post_start_and_post_stop);
	tcase_add_loop_test(tc, crash_at_every_step_then_recover, 0, 5);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
