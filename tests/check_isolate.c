/* SPDX-License-Identifier: MIT */
/*
 * Isolation of VMs' CPUs on the fixture host (isolate-fx.h): the sets in every
 * order, a crash at every step then recover, status, late MSIs, systemd's
 * version, refusals.
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
	return crash_after < 0 || crash_after-- > 0 ? iso_write(ctx, path, value) : -EINTR;
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
	struct fx *fx = iso_host();
	struct gh_ops crashing = iso_ops;
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
			fx_file(fx, iso_fmt("/sys/fs/cgroup/qemu.slice/%u.scope/cpuset.cpus", 100 + x), "\n");
			gh_cpulist_parse(sets[x], &a, &bad);
			for (unsigned i = 0; i < q->n; i++) {
				if (!running[i] || gh_cpulist_parse(sets[i], &b, &bad) < 0)
					continue;
				CPU_AND(&b, &b, &a);
				refused = refused || CPU_COUNT(&b) > 0;
			}
		} else {
			/* The scope ends with QEMU, before post-stop runs. */
			fx_rm(fx, iso_fmt("/sys/fs/cgroup/qemu.slice/%u.scope", 100 + x));
		}
		d0 = refused ? fx_tree_digest(fx->root) : 0;
		was_refused[x] = was_refused[x] || refused;
		changes = 0;
		crash_after = (int)k == crash_op ? crash_at : -1;
		int r = up ? iso_start(fx, 100 + x, sets[x], NULL) : gh_isolate_stop(fx->ctx, 100 + x);

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
		iso_expect_hk(fx, sets, running, q->n);
	}
	/* An isolated VM's own scope is never narrowed (a refused one runs unisolated: narrowed). */
	for (unsigned i = 0; crash_op < 0 && i < q->n; i++)
		if (!was_refused[i])
			ck_assert_ptr_null(iso_last_allowed(fx, iso_fmt("%u.scope", 100 + i)));
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
	struct fx *fx = iso_host();
	cpu_set_t iso, hk;
	char vms[128], list[64];

	ck_assert_int_eq(gh_isolate_current(fx->ctx, &iso, &hk, vms, sizeof(vms)), 0);
	ck_assert_int_eq(iso_start(fx, 101, "2-3", NULL), 0);
	ck_assert_int_eq(iso_start(fx, 102, "5", NULL), 0);
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
	ck_assert_int_eq(iso_start(fx, 103, "7", NULL), 0);
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
	struct fx *fx = iso_host();
	char text[2048];

	ck_assert_int_eq(iso_start(fx, 100, "2-3", NULL), 0);
	fx_file(fx, "/proc/irq/33/smp_affinity_list", "0-1,4-7\n");
	ck_assert_int_ge(gh_fs_read_str(fx->ctx, text, sizeof(text), "/proc/interrupts"), 0);
	fx_file(fx, "/proc/interrupts", "%s\n  33:          0          0   IR-PCI-MSI 524289-edge      "
		"vfio-msix[1](0000:01:00.0)\n", text);
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/33/smp_affinity_list"), "0-1,4-7");
	/* VM 201, not isolated, starts: its post-start narrows its scope and steers the new vector */
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/201.scope/cpuset.cpus", "\n");
	ck_assert_int_eq(gh_isolate_refresh(fx->ctx, 201, NULL, NULL), 0);
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/33/smp_affinity_list"), "2-3");
	ck_assert_str_eq(iso_last_allowed(fx, "201.scope"), "0-1,4-7");
	/* refresh of an isolated VM, or with nothing isolated, does nothing */
	ck_assert_int_eq(gh_isolate_refresh(fx->ctx, 100, NULL, NULL), 0);
	fx_rm(fx, "/sys/fs/cgroup/qemu.slice/201.scope");
	ck_assert_int_eq(gh_isolate_stop(fx->ctx, 201), 0);
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/33/smp_affinity_list"), "2-3");
	ck_assert_int_eq(gh_isolate_stop(fx->ctx, 100), 0);
	/* given back as first seen (the vector would be freed with its VM on a real host) */
	ck_assert_str_eq(iso_rd(fx, "/proc/irq/33/smp_affinity_list"), "0-1,4-7");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
	ck_assert_int_eq(gh_isolate_refresh(fx->ctx, 201, NULL, NULL), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, GH_ISOLATE_STATE), 0);
	fx_free(fx);
}
END_TEST

/* A systemd of unknown version is not refused; one older than 244 is, and nothing changes. */
START_TEST(systemd_version)
{
	struct fx *fx = iso_host();
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
	ck_assert_int_eq(iso_start(fx, 101, "2-3", why), -EPERM);
	ck_assert_str_eq(why, "systemd 243 is older than 244 (no AllowedCPUs=)");
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	fx_free(fx);
}
END_TEST

START_TEST(refusals_change_nothing)
{
	struct fx *fx = iso_host();
	char why[256];
	unsigned long d0;

	/* overlap with another isolated VM */
	ck_assert_int_eq(iso_start(fx, 101, "2-5", NULL), 0);
	d0 = fx_tree_digest(fx->root);
	ck_assert_int_eq(iso_start(fx, 102, "5-6", why), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "CPUs 5 are already isolated"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	/* too few housekeeping CPUs: 0-1,6-7 left, asking for 0-1,6 leaves 7 only */
	struct gh_isolate_req r = iso_req(103, "0-1,6");

	r.housekeeping_min = 2;
	ck_assert_int_eq(gh_isolate_start(fx->ctx, &r, why, sizeof(why)), -EPERM);
	ck_assert_ptr_nonnull(strstr(why, "1 housekeeping CPUs left, housekeeping_min is 2"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	/* the whole host */
	ck_assert_int_eq(iso_start(fx, 104, "0-1,6-7", why), -EPERM);
	ck_assert_uint_eq(fx_tree_digest(fx->root), d0);
	ck_assert_int_eq(gh_isolate_stop(fx->ctx, 101), 0);
	fx_free(fx);

	/* no cgroup v2 */
	fx = iso_host();
	fx_rm(fx, "/sys/fs/cgroup/cgroup.controllers");
	d0 = fx_tree_digest(fx->root);
	ck_assert_int_eq(iso_start(fx, 101, "2-3", why), -EPERM);
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
	tcase_add_loop_test(tc, crash_at_every_step_then_recover, 0, 34);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
