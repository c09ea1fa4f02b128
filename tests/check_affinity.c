/* SPDX-License-Identifier: MIT */
/*
 * CPU pinning. The plan is checked on fixture processes with fake scheduler
 * ops; the real thing on a real QEMU started here (TCG, two vCPUs, paused),
 * through a fixture root whose proc is the real /proc and the real
 * scheduler's ops. Under --root the simulator records masks and policies in
 * the tree and never pins a real thread, even one the fixture names.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "affinity.h"
#include "cpulist.h"
#include "fixture.h"
#include "fs.h"
#include "modules.h"
#include "sim.h"
#include "timebox.h"

static unsigned fake_gets;

static int fake_get(struct gh_ctx *ctx, pid_t tid, cpu_set_t *set)
{
	(void)ctx;
	(void)tid;
	fake_gets++;
	CPU_ZERO(set);
	for (int c = 0; c < 16; c++)
		CPU_SET(c, set);
	return 0;
}

static struct gh_ops fake_ops;

/* A QEMU with n vCPU threads and two other threads, in the fixture's /proc. */
static void fake_qemu(struct fx *fx, unsigned vmid, int pid, int n)
{
	char p[128], cmd[256];

	snprintf(cmd, sizeof(cmd), "/usr/bin/kvm -id %u -name test,debug-threads=on -pidfile /var/run/qemu-server/%u.pid",
		 vmid, vmid);
	fx_proc(fx, pid, "kvm", cmd, NULL);
	snprintf(p, sizeof(p), "/var/run/qemu-server/%u.pid", vmid);
	fx_file(fx, p, "%d\n", pid);
	snprintf(p, sizeof(p), "/proc/%d/task/%d/comm", pid, pid);
	fx_file(fx, p, "kvm\n");
	snprintf(p, sizeof(p), "/proc/%d/task/%d/comm", pid, pid + 1);
	fx_file(fx, p, "IO iothread0\n");
	for (int i = 0; i < n; i++) {
		snprintf(p, sizeof(p), "/proc/%d/task/%d/comm", pid, pid + 10 + i);
		fx_file(fx, p, "CPU %d/KVM\n", i);
	}
	fx_file(fx, "/sys/devices/system/cpu/online", "0-15\n");
}

static struct fx *setup(void)
{
	struct fx *fx = fx_new();

	fake_ops = gh_sim_ops;
	fake_ops.get_affinity = fake_get;
	fake_ops.set_affinity = NULL;
	gh_ctx_set_ops(fx->ctx, &fake_ops, NULL);
	return fx;
}

static const char *want_of(const struct gh_pinplan *p, pid_t tid)
{
	static char buf[64];

	for (unsigned i = 0; i < p->n; i++) {
		if (p->v[i].tid != tid)
			continue;
		if (p->v[i].leave)
			return "leave";
		gh_cpulist_format(&p->v[i].want, buf, sizeof(buf));
		return buf;
	}
	return "missing";
}

static void plan(struct fx *fx, const char *conf, const char *ini, struct gh_pinplan *pp)
{
	struct gh_vmconf vm;
	struct gh_policy pol;

	fx_vmconf(fx, 120, conf);
	if (ini) {
		fx_file(fx, "/etc/gpu-hook/120.ini", "%s", ini);
		fx_chmod(fx, "/etc/gpu-hook/120.ini", 0644);
	}
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 120, &vm), 0);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 120, &pol), 0);
	ck_assert_int_eq(gh_affinity_plan(fx->ctx, 120, &vm, &pol, pp), 0);
	gh_policy_free(&pol);
}

START_TEST(policy_map)
{
	struct fx *fx = setup();
	struct gh_pinplan pp;

	fake_qemu(fx, 120, 5000, 4);
	plan(fx, "cores: 4\naffinity: 0-15\n", "[pinning]\nvcpus = 7,6,5,4\nothers = 0-3\n", &pp);
	ck_assert_uint_eq(pp.refusals.n, 0);
	ck_assert_int_eq(pp.pid, 5000);
	ck_assert_uint_eq(pp.n_vcpus, 4);
	ck_assert_str_eq(want_of(&pp, 5010), "7");
	ck_assert_str_eq(want_of(&pp, 5013), "4");
	ck_assert_str_eq(want_of(&pp, 5000), "0-3");
	ck_assert_str_eq(want_of(&pp, 5001), "0-3");
	gh_affinity_free(&pp);
	fx_free(fx);
}
END_TEST

/* The CPUs a thread has now are the dry run's to show; a real post-start does not ask the kernel for them. */
START_TEST(cpus_now_only_in_the_dry_run)
{
	struct fx *fx = setup();
	struct gh_pinplan pp;
	char now[64], want[64];

	fake_qemu(fx, 120, 5000, 2);
	gh_ctx_set_dry_run(fx->ctx, true);
	fake_gets = 0;
	plan(fx, "cores: 2\naffinity: 2-3\n", NULL, &pp);
	ck_assert_uint_eq(fake_gets, pp.n);
	gh_affinity_pin_cpus(&pp.v[0], now, sizeof(now), want, sizeof(want));
	ck_assert_str_eq(now, "0-15");
	gh_affinity_free(&pp);
	gh_ctx_set_dry_run(fx->ctx, false);
	fake_gets = 0;
	plan(fx, "cores: 2\naffinity: 2-3\n", NULL, &pp);
	ck_assert_uint_gt(pp.n, 0);
	ck_assert_uint_eq(fake_gets, 0);
	gh_affinity_free(&pp);
	fx_free(fx);
}
END_TEST

START_TEST(affinity_only_and_neither)
{
	struct fx *fx = setup();
	struct gh_pinplan pp;

	fake_qemu(fx, 120, 5000, 3);
	plan(fx, "sockets: 1\ncores: 3\naffinity: 8,10-11\n", NULL, &pp);
	ck_assert_uint_eq(pp.refusals.n, 0);
	ck_assert_str_eq(want_of(&pp, 5010), "8");
	ck_assert_str_eq(want_of(&pp, 5011), "10");
	ck_assert_str_eq(want_of(&pp, 5012), "11");
	/* The other threads keep the whole set. */
	ck_assert_str_eq(want_of(&pp, 5001), "8,10-11");
	gh_affinity_free(&pp);

	plan(fx, "cores: 3\n", NULL, &pp);
	ck_assert_uint_eq(pp.n, 0);
	ck_assert_uint_eq(pp.refusals.n, 0);
	ck_assert_uint_eq(pp.notes.n, 1);
	ck_assert_ptr_nonnull(strstr(pp.notes.v[0], "no pinning configured"));
	gh_affinity_free(&pp);
	fx_free(fx);
}
END_TEST

static bool refused_with(const struct gh_pinplan *pp, const char *needle)
{
	for (size_t i = 0; i < pp->refusals.n; i++)
		if (strstr(pp->refusals.v[i].text, needle))
			return true;
	return false;
}

START_TEST(refusals_name_the_cpus)
{
	struct fx *fx = setup();
	struct gh_pinplan pp;

	fake_qemu(fx, 120, 5000, 4);
	plan(fx, "cores: 4\naffinity: 2-4\n", NULL, &pp);
	ck_assert(refused_with(&pp, "4 vCPUs but only 3 CPUs to pin them to (affinity)"));
	gh_affinity_free(&pp);

	fx_file(fx, "/sys/devices/system/cpu/online", "0-5\n");
	plan(fx, "cores: 4\n", "[pinning]\nvcpus = 4-7\n", &pp);
	ck_assert(refused_with(&pp, "CPUs 6-7 are not online"));
	gh_affinity_free(&pp);

	fx_file(fx, "/sys/devices/system/cpu/online", "0-15\n");
	fx_file(fx, "/sys/fs/cgroup/qemu.slice/120.scope/cpuset.cpus.effective", "0-4\n");
	plan(fx, "cores: 4\n", "[pinning]\nvcpus = 2-5\n", &pp);
	ck_assert(refused_with(&pp, "CPUs 5 are outside the VM's cpuset"));
	gh_affinity_free(&pp);

	/* QEMU not running, and too few vCPU threads. */
	fx_rm(fx, "/sys/fs/cgroup/qemu.slice/120.scope/cpuset.cpus.effective");
	plan(fx, "cores: 6\n", "[pinning]\nvcpus = 0-5\nwait = 100ms\n", &pp);
	ck_assert(refused_with(&pp, "only 4 of 6 vCPU threads"));
	gh_affinity_free(&pp);
	fx_rm(fx, "/var/run/qemu-server/120.pid");
	plan(fx, "cores: 4\n", "[pinning]\nvcpus = 0-3\n", &pp);
	ck_assert(refused_with(&pp, "VM 120 is not running"));
	gh_affinity_free(&pp);
	fx_free(fx);
}
END_TEST

/* A real QEMU, paused, with two TCG vCPUs; its threads pinned for real. */
START_TEST(real_qemu_threads)
{
	struct fx *fx = fx_new();
	char pidfile[PATH_MAX], conf[64];
	struct gh_ops real_sched;
	struct gh_pinplan pp = { 0 };
	struct gh_vmconf vm;
	struct gh_policy pol;
	unsigned long long t0;
	unsigned long pid = 0;
	pid_t child;
	int r;

	if (access("/usr/bin/qemu-system-x86_64", X_OK) < 0 || sysconf(_SC_NPROCESSORS_ONLN) < 2) {
		/* tests/deps installs QEMU: only a machine with one CPU gets here. */
		ck_assert_msg(sysconf(_SC_NPROCESSORS_ONLN) < 2, "qemu-system-x86_64 missing: run tests/deps");
		fx_free(fx);
		return;
	}
	/* The simulator for the tree, the running kernel's scheduler for QEMU's real threads. */
	real_sched = gh_sim_ops;
	real_sched.set_affinity = gh_modules_real_ops.set_affinity;
	real_sched.get_affinity = gh_modules_real_ops.get_affinity;
	real_sched.set_sched = gh_modules_real_ops.set_sched;
	gh_ctx_set_ops(fx->ctx, &real_sched, NULL);
	ck_assert_int_eq(symlink("/proc", fx_path(fx, "/proc")), 0);
	fx_mkdir(fx, "/sys/devices/system/cpu");
	fx_file(fx, "/sys/devices/system/cpu/online", "0-1\n");
	fx_mkdir(fx, "/var/run/qemu-server");
	ck_assert_int_eq(gh_fs_path(fx->ctx, pidfile, sizeof(pidfile), "/var/run/qemu-server/990.pid"), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		execl("/usr/bin/qemu-system-x86_64", "qemu-system-x86_64", "-accel", "tcg,thread=multi", "-smp", "2",
		      "-m", "64", "-name", "test,debug-threads=on", "-pidfile", pidfile, "-S", "-display", "none",
		      "-nodefaults", "-monitor", "none", "-serial", "none", "-daemonize", (char *)NULL);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(child, &r, 0), child);
	ck_assert_msg(WIFEXITED(r) && WEXITSTATUS(r) == 0, "qemu did not start");
	ck_assert_int_eq(gh_fs_read_ulong(fx->ctx, &pid, "/var/run/qemu-server/990.pid"), 0);

	snprintf(conf, sizeof(conf), "sockets: 1\ncores: 2\n");
	fx_vmconf(fx, 990, conf);
	/* Backwards on purpose: vCPU 0 on CPU 1, vCPU 1 on CPU 0. */
	fx_file(fx, "/etc/gpu-hook/990.ini", "[pinning]\nvcpus = 1,0\nothers = 0-1\n");
	fx_chmod(fx, "/etc/gpu-hook/990.ini", 0644);
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 990, &vm), 0);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 990, &pol), 0);
	t0 = gh_timebox_now_ms();
	r = gh_affinity_plan(fx->ctx, 990, &vm, &pol, &pp);
	if (r == 0 && !pp.refusals.n)
		r = gh_affinity_apply(fx->ctx, &pp);
	printf("affinity: planned and pinned %u threads in %llu ms\n", pp.n, gh_timebox_now_ms() - t0);
	if (r < 0 || pp.refusals.n)
		fprintf(stderr, "%s%s\n", fx->log, pp.refusals.n ? pp.refusals.v[0].text : "");
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(pp.refusals.n, 0);
	for (unsigned i = 0; i < pp.n; i++) {
		cpu_set_t now;

		ck_assert_int_eq(sched_getaffinity(pp.v[i].tid, sizeof(now), &now), 0);
		if (pp.v[i].vcpu >= 0) {
			ck_assert_int_eq(CPU_COUNT(&now), 1);
			ck_assert(CPU_ISSET(pp.v[i].vcpu == 0 ? 1 : 0, &now));
		}
	}
	ck_assert_int_eq(pp.n_vcpus, 2);
	ck_assert(fx_log_has(fx, "(CPU 0/TCG): CPUs 1"));
	ck_assert(fx_log_has(fx, "(CPU 1/TCG): CPUs 0"));
	kill((pid_t)pid, SIGKILL);
	gh_affinity_free(&pp);
	gh_policy_free(&pol);
	fx_rm(fx, "/proc");
	fx_free(fx);
}
END_TEST

/* This test process as the fixture's QEMU: its one thread is "CPU 0/KVM". */
static void self_as_qemu(struct fx *fx, unsigned vmid, cpu_set_t *online)
{
	char p[128], cmd[256], list[256];

	snprintf(cmd, sizeof(cmd), "/usr/bin/kvm -id %u -name test,debug-threads=on -pidfile /var/run/qemu-server/%u.pid",
		 vmid, vmid);
	fx_proc(fx, getpid(), "kvm", cmd, NULL);
	snprintf(p, sizeof(p), "/var/run/qemu-server/%u.pid", vmid);
	fx_file(fx, p, "%d\n", getpid());
	snprintf(p, sizeof(p), "/proc/%d/task/%d/comm", getpid(), gettid());
	fx_file(fx, p, "CPU 0/KVM\n");
	ck_assert_int_eq(sched_getaffinity(0, sizeof(*online), online), 0);
	ck_assert_int_eq(gh_cpulist_format(online, list, sizeof(list)), 0);
	fx_file(fx, "/sys/devices/system/cpu/online", "%s\n", list);
}

static int last_cpu(const cpu_set_t *set)
{
	for (int c = GH_CPU_MAX - 1; c >= 0; c--)
		if (CPU_ISSET(c, set))
			return c;
	return -1;
}

/* What the tree's /proc says of this test process's thread. */
static bool task_file_has(struct fx *fx, const char *file, const char *needle)
{
	char p[128], buf[4096];
	int n;

	snprintf(p, sizeof(p), "/proc/%d/task/%d/%s", getpid(), gettid(), file);
	n = gh_fs_read_str(fx->ctx, buf, sizeof(buf) - 1, "%s", p);
	if (n < 0)
		return false;
	/* gh_fs_read_str took the last newline. */
	memcpy(buf + n, "\n", 2);
	return strstr(buf, needle);
}

/*
 * post-start under --root whose /proc names this very thread: the mask and the
 * policy land in the tree, this process keeps its CPUs and its policy (the
 * old simulator called sched_setaffinity on the fixture's thread ids).
 */
START_TEST(root_never_pins_a_real_thread)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	cpu_set_t before, after;
	char want[64];
	int cpu;

	ck_assert_ptr_nonnull(r);
	self_as_qemu(fx, 120, &before);
	cpu = last_cpu(&before);
	fx_vmconf(fx, 120, "sockets: 1\ncores: 1\n");
	fx_file(fx, "/etc/gpu-hook/120.ini", "[pinning]\nvcpus = %d\nsched = fifo:10\nwait = 100ms\n", cpu);
	fx_chmod(fx, "/etc/gpu-hook/120.ini", 0644);
	fx_run_hook(r, NULL, "120", "post-start", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "post-start failed: %s", r->err);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(after), &after), 0);
	ck_assert_msg(CPU_EQUAL(&before, &after), "--root pinned the test process itself");
	ck_assert_int_eq(sched_getscheduler(0), SCHED_OTHER);
	snprintf(want, sizeof(want), "Cpus_allowed_list:\t%d\n", cpu);
	ck_assert_msg(task_file_has(fx, "status", want), "no \"%s\" in the tree's status", want);
	ck_assert(task_file_has(fx, "sched", "policy : 1\n"));
	ck_assert(task_file_has(fx, "sched", "prio : 89\n"));
	free(r);
	fx_free(fx);
}
END_TEST

/* The simulator's scheduler: only the tree's threads, masks cut to the tree's online CPUs, read back. */
START_TEST(sim_scheduler_acts_on_the_tree)
{
	struct fx *fx = fx_new();
	cpu_set_t online, set, real;
	char p[128];

	gh_ctx_set_ops(fx->ctx, &gh_sim_ops, NULL);
	self_as_qemu(fx, 120, &online);
	fx_file(fx, "/sys/devices/system/cpu/online", "0\n");
	/* Before any set: a thread has every online CPU of the tree. */
	ck_assert_int_eq(gh_sim_ops.get_affinity(fx->ctx, gettid(), &set), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 1);
	ck_assert(CPU_ISSET(0, &set));
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	CPU_SET(5, &set);
	ck_assert_int_eq(gh_sim_ops.set_affinity(fx->ctx, gettid(), &set), 0);
	ck_assert(task_file_has(fx, "status", "Cpus_allowed_list:\t0\n"));
	ck_assert_int_eq(gh_sim_ops.get_affinity(fx->ctx, gettid(), &set), 0);
	ck_assert_int_eq(CPU_COUNT(&set), 1);
	CPU_ZERO(&set);
	CPU_SET(5, &set);
	ck_assert_int_eq(gh_sim_ops.set_affinity(fx->ctx, gettid(), &set), -EINVAL);
	/* Other lines of the thread's status stay. */
	snprintf(p, sizeof(p), "/proc/%d/task/%d/status", getpid(), gettid());
	fx_file(fx, p, "Name:\tkvm\nCpus_allowed_list:\t0\nvoluntary_ctxt_switches:\t7\n");
	fx_file(fx, "/sys/devices/system/cpu/online", "0-7\n");
	ck_assert_int_eq(gh_sim_ops.set_affinity(fx->ctx, gettid(), &set), 0);
	ck_assert(task_file_has(fx, "status", "Name:\tkvm\nvoluntary_ctxt_switches:\t7\nCpus_allowed_list:\t5\n"));
	ck_assert_int_eq(gh_sim_ops.set_sched(fx->ctx, gettid(), SCHED_RR, 0), -EINVAL);
	ck_assert_int_eq(gh_sim_ops.set_sched(fx->ctx, gettid(), SCHED_RR, 50), 0);
	ck_assert(task_file_has(fx, "sched", "policy : 2\nprio : 49\n"));
	/* A thread the tree does not have is gone, whatever runs on this machine. */
	ck_assert_int_eq(gh_sim_ops.set_affinity(fx->ctx, 1, &set), -ESRCH);
	ck_assert_int_eq(gh_sim_ops.get_affinity(fx->ctx, 1, &set), -ESRCH);
	ck_assert_int_eq(gh_sim_ops.set_sched(fx->ctx, 1, SCHED_FIFO, 1), -ESRCH);
	ck_assert_int_eq(sched_getaffinity(0, sizeof(real), &real), 0);
	ck_assert(CPU_EQUAL(&real, &online));
	ck_assert_int_eq(sched_getscheduler(0), SCHED_OTHER);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("affinity");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, policy_map);
	tcase_add_test(tc, cpus_now_only_in_the_dry_run);
	tcase_add_test(tc, affinity_only_and_neither);
	tcase_add_test(tc, refusals_name_the_cpus);
	tcase_add_test(tc, real_qemu_threads);
	tcase_add_test(tc, root_never_pins_a_real_thread);
	tcase_add_test(tc, sim_scheduler_acts_on_the_tree);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
