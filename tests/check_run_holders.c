/* SPDX-License-Identifier: MIT */
/*
 * The handoff engine on the fixture host: what it stops and what it refuses
 * (holders, services, vfio-pci, another VM, the journal, the lock, a corrupt
 * journal) and the dry run of the way back. The fixture and its faults:
 * engine-fx.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine-fx.h"
#include "fs.h"
#include "handoff.h"
#include "journal.h"
#include "phase.h"
#include "run.h"
#include "services.h"
#include "sim.h"
#include "timebox.h"

START_TEST(holders_stop_unit_and_kill)
{
	struct fx *fx = eng_host();
	char before[512], after[512];

	fx_proc(fx, 2100, "Xorg", "/usr/lib/xorg/Xorg", "/system.slice/gdm.service");
	fx_proc_fd(fx, 2100, 7, "/dev/dri/card0");
	fx_file(fx, "/sys/fs/cgroup/system.slice/gdm.service/cgroup.procs", "2100\n");
	fx_proc(fx, 2200, "miner", "./miner", "/user.slice/user-0.slice/session-9.scope");
	fx_proc_fd(fx, 2200, 5, "/dev/nvidia0");
	eng_state(fx, before, sizeof(before));
	ck_assert_int_eq(eng_pre_start(fx, 111), -EPERM);
	ck_assert(fx_log_has(fx, "refusing: held by pid 2100 (Xorg, gdm.service)"));
	ck_assert(fx_log_has(fx, "refusing: held by pid 2200 (miner, session-9.scope)"));

	/* kill ends both; stop-unit would stop gdm (and the session scope). */
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = kill\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/proc/2100"), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/proc/2200"), 0);
	ck_assert(fx_log_has(fx, "kill pid 2200 (miner), which holds the card: ok"));
	ck_assert_int_eq(eng_post_stop(fx, 111), 0);
	ck_assert(fx_log_has(fx, "cannot be undone: a killed process is not restarted"));
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

/* A listed oneshot unit that is "active (exited)" is stopped with the others and started again. */
START_TEST(active_exited_unit_stopped_and_started)
{
	struct fx *fx = eng_host();
	char before[512], after[512];

	fx_file(fx, "/lib/systemd/system/setup-vfio.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\n");
	fx_file(fx, "/run/gh-sim/active/setup-vfio.service", "%s", "");
	fx_file(fx, "/etc/gpu-hook/111.ini",
		"[handoff]\nservices = nvidia-persistenced.service setup-vfio.service\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	eng_state(fx, before, sizeof(before));
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "stop setup-vfio.service (systemctl stop): ok"));
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "setup-vfio.service"), 0);
	ck_assert_int_eq(eng_post_stop(fx, 111), 0);
	ck_assert(fx_log_has(fx, "start setup-vfio.service (systemctl start): ok"));
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "setup-vfio.service"), 1);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

START_TEST(vfio_pci_unavailable_refuses_first)
{
	struct fx *fx = eng_host();
	char before[512], after[512];

	fx_rm(fx, "/sys/bus/pci/drivers/vfio-pci");
	fx_rm(fx, "/sys/module/vfio_pci");
	fx_file(fx, "/lib/modules-missing/vfio_pci", "%s", "");
	eng_state(fx, before, sizeof(before));
	ck_assert_int_lt(eng_pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "refusing: vfio-pci cannot be loaded; nothing was changed"));
	ck_assert(!fx_log_has(fx, "step 1/"));
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	/* Once it can be loaded, it is loaded before the first step. */
	fx_rm(fx, "/lib/modules-missing/vfio_pci");
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/bus/pci/drivers/vfio-pci"), 1);
	fx_free(fx);
}
END_TEST

START_TEST(one_gpu_two_vms)
{
	struct fx *fx = eng_host();

	fx_file(fx, "/etc/pve/mapping/pci.cfg",
		"gpu\n\tmap id=10de:2684,iommugroup=14,node=pve1,path=0000:01:00\n");
	fx_vmconf(fx, 112, "hostpci0: mapping=gpu,pcie=1\n");
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	fx_log_clear(fx);
	ck_assert_int_eq(eng_pre_start(fx, 112), -EPERM);
	ck_assert(fx_log_has(fx, "0000:01:00.0 is handed to VM 111 by gpu-hook"));
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/112.json"), 0);
	fx_free(fx);
}
END_TEST

START_TEST(journal_cannot_be_written)
{
	struct fx *fx = eng_host();
	char before[512], after[512];

	eng_state(fx, before, sizeof(before));
	fx_mkdir(fx, "/run/gpu-hook");
	fx_chmod(fx, "/run/gpu-hook", 0777);
	ck_assert_int_lt(eng_pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "/run/gpu-hook must be owned"));
	fx_rm(fx, "/run/gpu-hook");
	fx_link(fx, "/run/gpu-hook", "/tmp");
	ck_assert_int_lt(eng_pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "not a directory"));
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

START_TEST(lock_contention)
{
	struct fx *fx = eng_host();
	int fd, st;
	pid_t pid;

	ck_assert_int_eq(gh_journal_lock(fx->ctx, 100, &fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd2;

		_exit(gh_journal_lock(fx->ctx, 200, &fd2) == -EWOULDBLOCK ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	gh_journal_unlock(fd);
	ck_assert_int_eq(gh_journal_lock(fx->ctx, 100, &fd), 0);
	gh_journal_unlock(fd);
	fx_free(fx);
}
END_TEST

START_TEST(corrupt_journal_drives_nothing)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"version\":2}",
		"{\"version\":1,\"key\":\"111\",\"vmid\":111,\"phase\":\"x\",\"devices\":[],\"steps\":[{\"action\":"
		"\"unbind\",\"target\":\"../../etc\",\"arg\":\"x\",\"undo\":{\"action\":\"none\",\"target\":\"\",\"arg\":"
		"\"\"},\"status\":\"done\"}]}",
		"{\"version\":1,\"key\":\"111\",\"vmid\":111,\"phase\":\"x\",\"devices\":[],\"steps\":[{\"action\":"
		"\"service-stop\",\"target\":\"x; rm -rf /\",\"arg\":\"\",\"undo\":{\"action\":\"none\",\"target\":\"\","
		"\"arg\":\"\"},\"status\":\"done\"}]}",
		"{\"version\":1,\"key\":\"222\",\"vmid\":222,\"phase\":\"x\",\"devices\":[],\"steps\":[]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx *fx = eng_host();
		char before[512], after[512];

		eng_state(fx, before, sizeof(before));
		fx_mkdir(fx, "/run/gpu-hook");
		fx_chmod(fx, "/run/gpu-hook", 0700);
		fx_file(fx, "/run/gpu-hook/111.json", "%s", bad[i]);
		ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), -EINVAL);
		ck_assert_msg(fx_log_has(fx, "corrupt journal"), "case %zu: %s", i, fx->log);
		ck_assert_int_lt(eng_post_stop(fx, 111), 0);
		eng_state(fx, after, sizeof(after));
		ck_assert_str_eq(after, before);
		fx_free(fx);
	}
}
END_TEST

/*
 * post-stop's dry run through the phase entry point: the way back planned from
 * the journal (the planner, not the executor), and nothing changes; recover
 * then runs that same plan.
 */
START_TEST(dry_run_plans_the_way_back_from_the_journal)
{
	struct fx *fx = eng_host();
	struct gh_phase_req req = { .vmid = 111, .phase = "post-stop", .dir = GH_TO_HOST };
	struct gh_phase_result res;
	char before[512], mid[512], after[512], jbefore[16384], jnow[16384], line[64];
	unsigned n, k;

	eng_state(fx, before, sizeof(before));
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	eng_state(fx, mid, sizeof(mid));
	eng_journal_text(fx, jbefore, sizeof(jbefore));
	gh_ctx_set_dry_run(fx->ctx, true);
	fx_log_clear(fx);
	ck_assert_int_eq(gh_phase_run(fx->ctx, &req, &res), 0);
	ck_assert_int_eq(res.outcome, GH_PHASE_PLANNED);
	ck_assert(gh_strv_contains(&res.plan.notes,
				   "from the journal /run/gpu-hook/111.json (the VM config is not read)"));
	n = res.plan.n;
	k = eng_step_of(res.plan.v, n, GH_ACT_UNBIND, "0000:01:00.0");
	ck_assert_str_eq(res.plan.v[k].op.arg, "vfio-pci");
	ck_assert_uint_lt(k, eng_step_of(res.plan.v, n, GH_ACT_MODULE_LOAD, "nvidia"));
	ck_assert_uint_lt(eng_step_of(res.plan.v, n, GH_ACT_MODULE_LOAD, "nvidia"),
			  eng_step_of(res.plan.v, n, GH_ACT_PROBE, "0000:01:00.0"));
	k = eng_step_of(res.plan.v, n, GH_ACT_SERVICE_START, "nvidia-persistenced.service");
	ck_assert_uint_eq(k, n - 1);
	ck_assert_msg(!fx_log_has(fx, "undo 1/"), "%s", fx->log);
	gh_phase_result_free(&res);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, mid);
	eng_journal_text(fx, jnow, sizeof(jnow));
	ck_assert_str_eq(jnow, jbefore);

	gh_ctx_set_dry_run(fx->ctx, false);
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), 0);
	snprintf(line, sizeof(line), "undo %u/%u: start nvidia-persistenced.service", n, n);
	ck_assert_msg(fx_log_has(fx, line), "%s", fx->log);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("run_holders");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, holders_stop_unit_and_kill);
	tcase_add_test(tc, active_exited_unit_stopped_and_started);
	tcase_add_test(tc, vfio_pci_unavailable_refuses_first);
	tcase_add_test(tc, one_gpu_two_vms);
	tcase_add_test(tc, journal_cannot_be_written);
	tcase_add_test(tc, lock_contention);
	tcase_add_test(tc, corrupt_journal_drives_nothing);
	tcase_add_test(tc, dry_run_plans_the_way_back_from_the_journal);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
