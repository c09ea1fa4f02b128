/* SPDX-License-Identifier: MIT */
/*
 * The handoff engine on the fixture host when the kernel does not answer: hung
 * writes and remove(), wedged cards, the deadlines of each kind of step. The
 * fixture and its faults: engine-fx.h.
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

/*
 * vfio-pci's remove() hangs on the way back (something the holder scan cannot see
 * still has the device): the card is marked wedged, nvidia and the modules on it
 * stay unloaded (loading nvidia would walk the wedged card under its lock), and
 * one recover restores everything once the kernel answers.
 */
START_TEST(remove_hangs_on_the_way_back)
{
	struct fx *fx = eng_host();
	char before[512];
	unsigned long long t0;
	struct gh_journal j;

	eng_state(fx, before, sizeof(before));
	eng_short_deadline(fx);
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	fx_file(fx, "/fault/hang", "/sys/bus/pci/drivers/vfio-pci/unbind\n");
	fx_log_clear(fx);
	t0 = gh_timebox_now_ms();
	ck_assert_int_lt(eng_post_stop(fx, 111), 0);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, ENG_PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "the device 0000:01:00.0 is wedged in the kernel"), "%s", fx->log);
	ck_assert_msg(fx_log_has(fx, "module nvidia not loaded yet: 0000:01:00.0 is not back"), "%s", fx->log);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia"), 0);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	ck_assert(gh_journal_dev(&j, "0000:01:00.0")->wedged);
	gh_journal_free(&j);
	/* The next start undoes the rest first, and still leaves the wedged card's driver alone. */
	fx_log_clear(fx);
	ck_assert_int_lt(eng_pre_start(fx, 111), 0);
	ck_assert_msg(fx_log_has(fx, "module nvidia not loaded yet: 0000:01:00.0 is not back"), "%s", fx->log);
	ck_assert(fx_log_has(fx, "cannot undo the earlier handoff"));
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia"), 0);
	eng_kernel_answers_then_recover(fx, before);
	fx_free(fx);
}
END_TEST

START_TEST(timeout_wedges_and_recover_restores)
{
	struct fx *fx = eng_host();
	char before[512];
	unsigned long long t0;
	struct gh_journal j;

	eng_state(fx, before, sizeof(before));
	eng_short_deadline(fx);
	fx_file(fx, "/fault/hang", "/sys/bus/pci/drivers/snd_hda_intel/unbind\n");
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(eng_pre_start(fx, 111), -ETIMEDOUT);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, ENG_PROMPT_MS);
	ck_assert(fx_log_has(fx, "no answer within 1000 ms"));
	ck_assert(fx_log_has(fx, "the device is wedged"));
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	ck_assert(gh_journal_dev(&j, "0000:01:00.1")->wedged);
	ck_assert(!gh_journal_dev(&j, "0000:01:00.0")->wedged);
	ck_assert_int_eq(j.status[eng_jstep(&j, GH_ACT_UNBIND, "0000:01:00.1")], GH_J_WEDGED);
	gh_journal_free(&j);
	eng_kernel_answers_then_recover(fx, before);
	fx_free(fx);
}
END_TEST

/*
 * post-stop's unbind from vfio-pci timed out and remove() still holds the
 * card's lock. status, check, recover, post-stop and a second pre-start each
 * answer within their deadline, name the card wedged and why, and change
 * nothing; once remove() returns, one recover restores the host.
 */
START_TEST(wedged_card_answers_within_deadlines)
{
	struct fx *fx = eng_host();
	struct fx_run *r = malloc(sizeof(*r));
	char before[512], after[512], jbefore[16384], jnow[16384];
	const char *why = "0000:01:00.0 is wedged: remove() stuck in the kernel; gpu-hook's way back for VM 111 timed "
			  "out on it (/run/gpu-hook/111.json)";
	unsigned long long t0, ms;
	struct gh_journal j;

	ck_assert_ptr_nonnull(r);
	eng_state(fx, before, sizeof(before));
	eng_short_deadline(fx);
	ck_assert_int_eq(eng_pre_start(fx, 111), 0);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	gh_journal_dev(&j, "0000:01:00.0")->wedged = true;
	j.complete = false;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	gh_journal_free(&j);
	/* __device_release_driver drops the driver link, then calls the remove() that is stuck. */
	fx_rm(fx, "/sys/bus/pci/drivers/vfio-pci/0000:01:00.0");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.0/driver");
	eng_lock_held(fx, "0000:01:00.0");
	/* What vfio-pci's remove() waits for: a QEMU that still has the group open. */
	fx_proc(fx, 3300, "kvm", "/usr/bin/kvm -id 111", "/qemu.slice/111.scope");
	/* The group's node as a character device: holders are matched by identity. */
	fx_rm(fx, "/dev/vfio/14");
	fx_node(fx, "/dev/vfio/14", "/dev/random");
	fx_proc_fd(fx, 3300, 30, "/dev/vfio/14");
	eng_journal_text(fx, jbefore, sizeof(jbefore));

	ms = eng_hook_ms(fx, r, "status", NULL, NULL);
	ck_assert_msg(r->status == 0 && ms < ENG_PROMPT_MS, "status %d after %llu ms\n%s", r->status, ms, r->err);
	/* Each function is read once: a second read of the wedged one would wait its deadline again. */
	ck_assert_msg(eng_text_count(r->err, "0000:01:00.0/driver_override: no answer within") == 1, "%s", r->err);
	ck_assert_msg(strstr(r->out, "wedged: remove() stuck in the kernel; gpu-hook's way back for VM 111"), "%s",
		      r->out);
	ck_assert_msg(strstr(r->out, "; held by pid 3300 (kvm"), "%s", r->out);
	ms = eng_hook_ms(fx, r, "status", "111", "--json");
	ck_assert_msg(r->status == 0 && ms < ENG_PROMPT_MS, "status %d after %llu ms\n%s", r->status, ms, r->err);
	ck_assert_msg(strstr(r->out, "\"wedged\":true") || strstr(r->out, "\"wedged\": true"), "%s", r->out);
	ck_assert_msg(strstr(r->out, "remove() stuck in the kernel"), "%s", r->out);
	ms = eng_hook_ms(fx, r, "check", "111", NULL);
	ck_assert_msg(r->status == 1 && ms < ENG_PROMPT_MS, "check %d after %llu ms\n%s", r->status, ms, r->err);
	ck_assert_msg(strstr(r->out, why), "%s", r->out);

	fx_log_clear(fx);
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), -EBUSY);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, ENG_PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "refusing to recover: 0000:01:00.0 is wedged: remove() stuck"), "%s", fx->log);
	fx_log_clear(fx);
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(eng_post_stop(fx, 111), -EBUSY);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, ENG_PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "not giving the card back: 0000:01:00.0 is wedged"), "%s", fx->log);
	/* The lock is asked once a phase: the answer post-stop's load got stands (each ask waits its full deadline). */
	ck_assert_msg(eng_log_count(fx, "0000:01:00.0/driver_override: no answer within") == 1, "%s", fx->log);
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(eng_pre_start(fx, 111), -EBUSY);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, ENG_PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "cannot undo it: 0000:01:00.0 is wedged"), "%s", fx->log);
	eng_journal_text(fx, jnow, sizeof(jnow));
	ck_assert_str_eq(jnow, jbefore);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia"), 0);

	/* remove() returns once QEMU is gone: the lock answers, the card is off vfio-pci, its override still set. */
	fx_rm(fx, "/proc/3300");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.0/driver_override");
	fx_pci_attr(fx, "0000:01:00.0", "driver_override", "vfio-pci");
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	free(r);
	fx_free(fx);
}
END_TEST

/*
 * Another program's unbind is stuck in nvidia's remove() (no journal): the
 * dry run and pre-start refuse at once, naming the card wedged and the
 * process nvidia waits for, and change nothing.
 */
START_TEST(foreign_wedge_refuses_pre_start)
{
	struct fx *fx = eng_host();
	struct fx_run *r = malloc(sizeof(*r));
	unsigned long long t0, ms;

	ck_assert_ptr_nonnull(r);
	fx_rm(fx, "/sys/bus/pci/drivers/nvidia/0000:01:00.0");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.0/driver");
	eng_lock_held(fx, "0000:01:00.0");
	ms = eng_hook_ms(fx, r, "111", "pre-start", "--dry-run");
	ck_assert_msg(r->status == 1 && ms < ENG_PROMPT_MS, "dry run %d after %llu ms\n%s", r->status, ms, r->err);
	ck_assert_msg(strstr(r->out, "REFUSED") && strstr(r->out, "0000:01:00.0 is wedged: remove() stuck in the kernel; "
							     "no gpu-hook journal names it"), "%s", r->out);
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(eng_pre_start(fx, 111), -EPERM);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, ENG_PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "refusing: 0000:01:00.0 is wedged: remove() stuck in the kernel"), "%s", fx->log);
	/* nv_pci_remove waits for the users of /dev/nvidia0: nvidia-persistenced is named. */
	ck_assert_msg(fx_log_has(fx, "held by pid 900 (nvidia-persiste"), "%s", fx->log);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia_drm"), 1);
	free(r);
	fx_free(fx);
}
END_TEST

/*
 * Each step gets the deadline of its kind: an unload or a systemctl stop
 * that takes 2 s finishes under module_timeout and service_timeout although
 * timeout (the sysfs writes') is 1 s, and times out when its own key is 1 s.
 */
START_TEST(module_and_service_steps_get_their_deadlines)
{
	struct fx *fx = eng_host();
	char before[512], after[512];

	eng_state(fx, before, sizeof(before));
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 1s\nmodule_timeout = 4s\nservice_timeout = 4s\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	fx_file(fx, "/fault/slow", "nvidia_drm\n");
	ck_assert_msg(eng_pre_start(fx, 111) == 0, "%s", fx->log);
	ck_assert_msg(eng_post_stop(fx, 111) == 0, "%s", fx->log);
	fx_file(fx, "/fault/slow", "nvidia-persistenced.service\n");
	ck_assert_msg(eng_pre_start(fx, 111) == 0, "%s", fx->log);
	ck_assert_msg(eng_post_stop(fx, 111) == 0, "%s", fx->log);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);

	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 10s\nmodule_timeout = 1s\n");
	fx_file(fx, "/fault/slow", "nvidia_drm\n");
	fx_log_clear(fx);
	ck_assert_int_eq(eng_pre_start(fx, 111), -ETIMEDOUT);
	ck_assert_msg(fx_log_has(fx, "unload module nvidia_drm: no answer within 1000 ms"), "%s", fx->log);
	sleep(2);
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 10s\nservice_timeout = 1s\n");
	fx_file(fx, "/fault/slow", "nvidia-persistenced.service\n");
	fx_log_clear(fx);
	ck_assert_int_eq(eng_pre_start(fx, 111), -ETIMEDOUT);
	ck_assert_msg(fx_log_has(fx, "systemctl stop nvidia-persistenced.service: no answer within 1000 ms"), "%s",
		      fx->log);
	/* An overrun systemctl is no device stuck in the kernel: the unit is started again at once, and no journal stays. */
	ck_assert_msg(fx_log_has(fx, "(stop nvidia-persistenced.service (systemctl stop)): undone"), "%s", fx->log);
	ck_assert_msg(!fx_log_has(fx, "stuck in the kernel"), "%s", fx->log);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

/*
 * recover and the undo at the start of a new handoff give a stuck write the
 * journal VM's policy deadline (1 s here), not a fixed 10 s.
 */
START_TEST(recover_and_settle_use_the_policy_deadline)
{
	for (int settle = 0; settle < 2; settle++) {
		struct fx *fx = eng_host();
		char before[512];
		unsigned long long t0, ms;
		struct gh_journal j;
		int r;

		eng_state(fx, before, sizeof(before));
		eng_short_deadline(fx);
		ck_assert_int_eq(eng_pre_start(fx, 111), 0);
		ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
		j.complete = false;
		ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
		gh_journal_free(&j);
		fx_file(fx, "/fault/hang", "/sys/bus/pci/drivers/vfio-pci/unbind\n");
		fx_log_clear(fx);
		t0 = gh_timebox_now_ms();
		r = settle ? eng_pre_start(fx, 111) : gh_phase_recover(fx->ctx, "111");
		ms = gh_timebox_now_ms() - t0;
		ck_assert_msg(r < 0, "%s", fx->log);
		ck_assert_msg(ms < 1000 + 2000, "%llu ms", ms);
		ck_assert_msg(fx_log_has(fx, "unbind: no answer within 1000 ms"), "%s", fx->log);
		eng_kernel_answers_then_recover(fx, before);
		fx_free(fx);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("run_wedged");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, remove_hangs_on_the_way_back);
	tcase_add_test(tc, timeout_wedges_and_recover_restores);
	tcase_add_test(tc, wedged_card_answers_within_deadlines);
	tcase_add_test(tc, foreign_wedge_refuses_pre_start);
	tcase_add_test(tc, module_and_service_steps_get_their_deadlines);
	tcase_add_test(tc, recover_and_settle_use_the_policy_deadline);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
