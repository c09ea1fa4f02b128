/* SPDX-License-Identifier: MIT */
/*
 * The handoff engine on the fixture host: round trips, rollback from every
 * step, the journal after each step, crashes and recover. The fixture and its
 * faults: engine-fx.h.
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

START_TEST(round_trip_and_twice)
{
	struct fx *fx = eng_host();
	char before[512], after[512];
	struct gh_journal j;

	eng_state(fx, before, sizeof(before));
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, "0000:01:00.0=vfio-pci(vfio-pci) 0000:01:00.1=vfio-pci(vfio-pci) nvidia:0 "
				"nvidia_modeset:0 nvidia_drm:0 nvidia_uvm:0 vtcon1:0 persistenced:0");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/dev/vfio/14"), 1);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	ck_assert(j.complete);
	ck_assert_uint_eq(j.n_dev, 2);
	ck_assert_str_eq(j.dev[0].host_driver, "nvidia");
	for (unsigned i = 0; i < j.n_steps; i++)
		ck_assert_int_eq(j.status[i], GH_J_DONE);
	gh_journal_free(&j);

	/* Twice is harmless and says so. */
	fx_log_clear(fx);
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "already handed off"));
	ck_assert(!fx_log_has(fx, "step 1/"));

	/* At the default level the way back after a handoff that went through reports each undo once. */
	fx_log_clear(fx);
	gh_ctx_set_log_priority(fx->ctx, LOG_INFO);
	ck_assert_int_eq(eng_post_stop(fx, 111), 0);
	ck_assert_msg(fx_log_has(fx, "undo 1/") && !fx_log_has(fx, "undo of step"), "%s", fx->log);
	gh_ctx_set_log_priority(fx->ctx, LOG_DEBUG);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	fx_log_clear(fx);
	ck_assert_int_eq(eng_post_stop(fx, 111), 0);
	ck_assert(fx_log_has(fx, "already on its host driver"));
	fx_free(fx);
}
END_TEST

/* A failure at any step leaves the host exactly as it was, and says what was undone. */
START_TEST(rollback_from_every_step)
{
	static const struct {
		const char *file, *value;
		enum gh_action action;	/* the step that fails */
		const char *target;
	} faults[] = {
		{ "service", "nvidia-persistenced.service", GH_ACT_SERVICE_STOP, "nvidia-persistenced.service" },
		{ "write", "/sys/class/vtconsole/vtcon1/bind", GH_ACT_VTCON_UNBIND, "vtcon1" },
		{ "module", "nvidia_drm", GH_ACT_MODULE_UNLOAD, "nvidia_drm" },
		{ "module", "nvidia_modeset", GH_ACT_MODULE_UNLOAD, "nvidia_modeset" },
		{ "module", "nvidia_uvm", GH_ACT_MODULE_UNLOAD, "nvidia_uvm" },
		{ "module", "nvidia", GH_ACT_MODULE_UNLOAD, "nvidia" },
		{ "write", "/sys/bus/pci/devices/0000:01:00.0/driver_override", GH_ACT_OVERRIDE, "0000:01:00.0" },
		{ "noprobe", "1 2", GH_ACT_PROBE, "0000:01:00.0" },
		{ "write", "/sys/bus/pci/devices/0000:01:00.1/driver_override", GH_ACT_OVERRIDE, "0000:01:00.1" },
		{ "write", "/sys/bus/pci/drivers/snd_hda_intel/unbind", GH_ACT_UNBIND, "0000:01:00.1" },
		{ "write", "/sys/bus/pci/drivers_probe 2", GH_ACT_PROBE, "0000:01:00.0" },
	};
	struct gh_plan plan;
	unsigned stop;

	eng_fresh_plan(&plan);
	stop = eng_step_of(plan.v, plan.n, GH_ACT_SERVICE_STOP, "nvidia-persistenced.service");
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct fx *fx = eng_host();
		unsigned k = eng_step_of(plan.v, plan.n, faults[i].action, faults[i].target);
		char before[512], after[512], path[64], failed[640], desc[512];

		/* The default level: a rollback reports every step it undid. */
		gh_ctx_set_log_priority(fx->ctx, LOG_INFO);
		eng_state(fx, before, sizeof(before));
		snprintf(path, sizeof(path), "/fault/%s", faults[i].file);
		fx_file(fx, path, "%s\n", faults[i].value);
		ck_assert_int_lt(eng_pre_start(fx, 111), 0);
		ck_assert_int_ge(gh_plan_describe(&plan.v[k].op, desc, sizeof(desc)), 0);
		snprintf(failed, sizeof(failed), "step %u/%u: %s: ", k + 1, plan.n, desc);
		ck_assert_msg(fx_log_has(fx, failed), "fault %zu: no '%s' in\n%s", i, failed, fx->log);
		strcat(failed, "ok (");
		ck_assert_msg(!fx_log_has(fx, failed), "fault %zu: step %u did not fail:\n%s", i, k + 1, fx->log);
		ck_assert_msg(fx_log_has(fx, "undone: the host is as it was before"), "fault %zu:\n%s", i, fx->log);
		fx_rm(fx, path);
		eng_state(fx, after, sizeof(after));
		ck_assert_msg(!strcmp(after, before), "fault %zu:\n%s\n%s\n%s", i, before, after, fx->log);
		ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
		/* Each done step is reported as undone. */
		if (k > stop)
			ck_assert(fx_log_has(fx, "(stop nvidia-persistenced.service (systemctl stop)): undone"));
		fx_free(fx);
	}
	gh_plan_free(&plan);
}
END_TEST

START_TEST(journal_after_each_step)
{
	struct fx *fx = eng_host();
	struct gh_journal j, disk;
	struct gh_host h;
	struct gh_plan p;
	unsigned k;

	fx_file(fx, "/fault/module", "nvidia\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &p), 0);
	ck_assert_int_eq(gh_journal_init(&j, "111", 111, "to-vfio", &h, &p), 0);
	ck_assert_int_eq(gh_journal_dir(fx->ctx), 0);
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &disk), 0);
	for (unsigned i = 0; i < disk.n_steps; i++)
		ck_assert_int_eq(disk.status[i], GH_J_PENDING);
	gh_journal_free(&disk);
	ck_assert_int_eq(gh_run_forward(fx->ctx, &j, &eng_dl5), -EAGAIN);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &disk), 0);
	ck_assert(!disk.complete);
	k = eng_jstep(&disk, GH_ACT_MODULE_UNLOAD, "nvidia");
	for (unsigned i = 0; i < disk.n_steps; i++)
		ck_assert_int_eq(disk.status[i], i < k ? GH_J_DONE : i == k ? GH_J_FAILED : GH_J_PENDING);
	ck_assert_int_eq(disk.steps[k].undo.action, GH_ACT_MODULE_LOAD);
	gh_journal_free(&disk);
	/* recover works from that file alone. */
	gh_journal_free(&j);
	fx_rm(fx, "/fault/module");
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia_drm"), 1);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	fx_log_clear(fx);
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), 0);
	ck_assert(fx_log_has(fx, "no journal /run/gpu-hook/111.json: nothing to recover"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(crash_mid_way_then_pre_start_again)
{
	struct fx *fx = eng_host();
	char before[512], after[512];
	struct gh_journal j;
	struct gh_host h;
	struct gh_plan p;
	unsigned k;

	eng_state(fx, before, sizeof(before));
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &p), 0);
	ck_assert_int_eq(gh_journal_init(&j, "111", 111, "to-vfio", &h, &p), 0);
	ck_assert_int_eq(gh_journal_dir(fx->ctx), 0);
	/* The hook died while the card was being probed onto vfio-pci: the steps before it done, it running. */
	k = eng_jstep(&j, GH_ACT_PROBE, "0000:01:00.0");
	for (unsigned i = 0; i < k; i++) {
		ck_assert_int_eq(gh_run_op(fx->ctx, &j.steps[i].op, &eng_dl5, NULL), 0);
		j.status[i] = GH_J_DONE;
	}
	j.status[k] = GH_J_RUNNING;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	gh_journal_free(&j);
	gh_plan_free(&p);
	gh_host_free(&h);

	/* The next pre-start undoes the leftover first, then hands off cleanly. */
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "did not finish"));
	ck_assert_int_eq(eng_post_stop(fx, 111), 0);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

/* A crash after any number of steps, with the next one running: one recover restores the host. */
START_TEST(recover_from_every_recorded_state)
{
	const unsigned n = eng_plan_len();

	for (unsigned k = 0; k <= n; k++) {
		struct fx *fx = eng_host();
		char before[512], after[512];
		struct gh_journal j;
		struct gh_host h;
		struct gh_plan p;

		eng_state(fx, before, sizeof(before));
		ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
		ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &p), 0);
		ck_assert_uint_eq(p.n, n);
		ck_assert_int_eq(gh_journal_init(&j, "111", 111, "to-vfio", &h, &p), 0);
		ck_assert_int_eq(gh_journal_dir(fx->ctx), 0);
		for (unsigned i = 0; i < k; i++) {
			ck_assert_int_eq(gh_run_op(fx->ctx, &j.steps[i].op, &eng_dl5, NULL), 0);
			j.status[i] = GH_J_DONE;
		}
		/* Step k+1 was running (its effect may or may not have happened: here it did). */
		if (k < n) {
			gh_run_op(fx->ctx, &j.steps[k].op, &eng_dl5, NULL);
			j.status[k] = GH_J_RUNNING;
		} else {
			j.complete = true;
		}
		ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
		gh_journal_free(&j);
		gh_plan_free(&p);
		gh_host_free(&h);
		ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "k=%u:\n%s", k, fx->log);
		eng_state(fx, after, sizeof(after));
		ck_assert_msg(!strcmp(after, before), "k=%u: %s\n%s", k, after, fx->log);
		ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
		fx_free(fx);
	}
}
END_TEST

/*
 * The card misses nvidia on the way back: the modules stacked on nvidia stay
 * unloaded (loaded now they would come up without it), and once the probe works
 * one recover puts the card back first and then loads them.
 */
START_TEST(probe_fails_on_the_way_back)
{
	struct fx *fx = eng_host();
	char before[512], after[512];
	struct gh_journal j;
	bool pending_drm = false;

	eng_state(fx, before, sizeof(before));
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	fx_file(fx, "/fault/unprobed", "nvidia\n");
	fx_file(fx, "/fault/noprobe", "0000:01:00.0 2\n");
	fx_log_clear(fx);
	ck_assert_int_lt(eng_post_stop(fx, 111), 0);
	ck_assert_msg(fx_log_has(fx, "cannot bind 0000:01:00.0 to nvidia"), "%s", fx->log);
	ck_assert_msg(fx_log_has(fx, "module nvidia_drm not loaded yet: 0000:01:00.0 is not back"), "%s", fx->log);
	eng_state(fx, after, sizeof(after));
	/* The simulator's console needs no framebuffer, so it came back; on a kernel it waits for nvidia_drm. */
	ck_assert_str_eq(after, "0000:01:00.0=-(nvidia) 0000:01:00.1=snd_hda_intel((null)) nvidia:1 nvidia_modeset:0 "
				"nvidia_drm:0 nvidia_uvm:0 vtcon1:1 persistenced:1");
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	for (unsigned i = 0; i < j.n_steps; i++)
		if (j.steps[i].op.action == GH_ACT_MODULE_UNLOAD && !strcmp(j.steps[i].op.target, "nvidia_drm"))
			pending_drm = j.status[i] == GH_J_DONE;
	ck_assert_msg(pending_drm, "the journal no longer says nvidia_drm is to be loaded again");
	gh_journal_free(&j);

	fx_log_clear(fx);
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	fx_free(fx);
}
END_TEST

/* A process still on the card's VFIO group: post-stop and recover refuse rather than hang in vfio-pci. */
START_TEST(vfio_group_still_held_at_post_stop)
{
	struct fx *fx = eng_host();
	char before[512], mid[512], after[512];
	struct gh_journal j;

	/* The group's node, as vfio-pci makes it: a real character device (fx_node). */
	fx_node(fx, "/dev/vfio/14", "/dev/random");
	eng_state(fx, before, sizeof(before));
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	eng_state(fx, mid, sizeof(mid));
	fx_proc(fx, 3100, "kvm", "/usr/bin/kvm -id 111", "/qemu.slice/111.scope");
	fx_proc_fd(fx, 3100, 30, "/dev/vfio/14");
	/* QEMU's container, group and device fds each hold vfio.ko (chrdev_open's fops_get). */
	fx_module(fx, "vfio", 5, "vfio_iommu_type1", "vfio_pci_core", NULL);
	fx_log_clear(fx);
	ck_assert_int_eq(eng_post_stop(fx, 111), -EBUSY);
	ck_assert_msg(fx_log_has(fx, "pid 3100 (kvm, 111.scope): /dev/vfio/14 (fd 30) still holds the card through "
				     "VFIO"), "%s", fx->log);
	ck_assert(fx_log_has(fx, "run 'gpu-hook recover 111'"));
	ck_assert(!fx_log_has(fx, "undo 1/"));
	ck_assert(!fx_log_has(fx, "back on the host"));
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, mid);
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), -EBUSY);
	ck_assert(!fx_log_has(fx, "recovered:"));
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, mid);
	/* Nor does the next start undo an unfinished earlier handoff under the holder. */
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	j.complete = false;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	gh_journal_free(&j);
	fx_log_clear(fx);
	ck_assert_int_eq(eng_pre_start(fx, 111), -EBUSY);
	ck_assert(fx_log_has(fx, "still holds the card through VFIO"));
	ck_assert(!fx_log_has(fx, "undo 1/"));

	fx_rm(fx, "/proc/3100");
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

/*
 * vfio.ko's use count down to its user modules: no VFIO file is open
 * anywhere, so post-stop does not read /proc for holders at all. (The pid
 * below, on the group's node, is there only to show that it is not looked at:
 * the kernel would count its open file.)
 */
START_TEST(vfio_idle_is_not_scanned_for)
{
	struct fx *fx = eng_host();

	fx_node(fx, "/dev/vfio/14", "/dev/random");
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	fx_proc(fx, 3150, "kvm", "/usr/bin/kvm -id 111", "/qemu.slice/111.scope");
	fx_proc_fd(fx, 3150, 30, "/dev/vfio/14");
	fx_module(fx, "vfio", 2, "vfio_iommu_type1", "vfio_pci_core", NULL);
	fx_log_clear(fx);
	ck_assert_msg(eng_post_stop(fx, 111) == 0, "%s", fx->log);
	ck_assert_msg(fx_log_has(fx, "vfio's use count is its user modules' alone"), "%s", fx->log);
	ck_assert(!fx_log_has(fx, "still holds the card"));
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("run");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip_and_twice);
	tcase_add_test(tc, rollback_from_every_step);
	tcase_add_test(tc, journal_after_each_step);
	tcase_add_test(tc, crash_mid_way_then_pre_start_again);
	tcase_add_test(tc, recover_from_every_recorded_state);
	tcase_add_test(tc, probe_fails_on_the_way_back);
	tcase_add_test(tc, vfio_group_still_held_at_post_stop);
	tcase_add_test(tc, vfio_idle_is_not_scanned_for);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
