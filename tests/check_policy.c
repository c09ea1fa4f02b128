/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "policy.h"

START_TEST(defaults)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_uint_eq(p.services.n, 2);
	ck_assert_str_eq(p.services.v[0], "nvidia-persistenced.service");
	ck_assert_str_eq(p.services.v[1], "display-manager.service");
	ck_assert_int_eq(p.holders, GH_HOLDERS_REFUSE);
	ck_assert_int_eq(p.console, GH_CONSOLE_AUTO);
	ck_assert(p.restore);
	ck_assert_uint_eq(p.timeout_ms, 10000);
	ck_assert_uint_eq(p.wait_ms, 5000);
	ck_assert_uint_eq(p.n_devices, 0);
	ck_assert_uint_eq(p.n_vcpus, 0);
	ck_assert_uint_eq(p.files.n, 0);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

START_TEST(every_key_and_override)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	fx_file(fx, "/etc/gpu-hook/gpu-hook.ini",
		"; defaults\n[handoff]\nholders = stop-unit\ntimeout = 20s\nservices = a.service\n[pinning]\nwait = 2s\n");
	fx_file(fx, "/etc/gpu-hook/111.ini",
		"[handoff]\ndevices = 01:00.0, 0000:01:00.1\nservices = nvidia-persistenced.service sddm.service\n"
		"console = keep\nrestore = no\ntimeout = 2500ms\n"
		"[drivers]\n01:00.1 = snd_hda_intel\n0000:01:00.0 = nvidia\n"
		"[pinning]\nvcpus = 7,6,4-5\nothers = 0-3\nsched = fifo:10\n");
	fx_chmod(fx, "/etc/gpu-hook/gpu-hook.ini", 0644);
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0600);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_int_eq(p.holders, GH_HOLDERS_STOP_UNIT);
	ck_assert_int_eq(p.console, GH_CONSOLE_KEEP);
	ck_assert(!p.restore);
	ck_assert_uint_eq(p.timeout_ms, 2500);
	ck_assert_uint_eq(p.wait_ms, 2000);
	ck_assert_uint_eq(p.services.n, 2);
	ck_assert_str_eq(p.services.v[1], "sddm.service");
	ck_assert_uint_eq(p.n_devices, 2);
	ck_assert_int_eq(p.devices[1].func, 1);
	ck_assert_str_eq(gh_policy_driver_for(&p, "0000:01:00.1"), "snd_hda_intel");
	ck_assert_str_eq(gh_policy_driver_for(&p, "0000:01:00.0"), "nvidia");
	ck_assert_ptr_null(gh_policy_driver_for(&p, "0000:02:00.0"));
	ck_assert_uint_eq(p.n_vcpus, 4);
	ck_assert_int_eq(p.vcpus[0], 7);
	ck_assert_int_eq(p.vcpus[3], 5);
	ck_assert(p.others_set);
	ck_assert(CPU_ISSET(3, &p.others));
	ck_assert(!CPU_ISSET(4, &p.others));
	ck_assert_int_eq(p.sched_policy, SCHED_FIFO);
	ck_assert_int_eq(p.sched_priority, 10);
	ck_assert_uint_eq(p.files.n, 2);
	gh_policy_free(&p);

	/* An empty services line means none. */
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nservices =\n");
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_uint_eq(p.services.n, 0);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

START_TEST(every_error_in_one_run)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	fx_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\ntimeout = forever\n");
	fx_file(fx, "/etc/gpu-hook/111.ini",
		"[handoff]\nholders = ignore\nfrobnicate = 1\nthis line is junk\n[nosuch]\nx = 1\n"
		"[drivers]\n01:00 = nvidia\n0000:01:00.1 = bad/name\n"
		"[pinning]\nvcpus = 1,1\nsched = fifo:100\nservices = x.service\n");
	fx_chmod(fx, "/etc/gpu-hook/gpu-hook.ini", 0644);
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EINVAL);
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/gpu-hook.ini:2: timeout: expected a duration"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:2: holders: expected refuse, stop-unit or kill, not 'ignore'"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:3: unknown key 'frobnicate' in [handoff]"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:4: cannot parse line"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:5: unknown section [nosuch]"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:8: [drivers]: '01:00' is not a PCI function address"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:9: [drivers]: invalid driver name"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:11: vcpus: invalid CPU list"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:12: sched:"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:13: unknown key 'services' in [pinning]"));
	ck_assert_int_eq(fx->n_errors, 10);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

START_TEST(untrusted_files_are_refused)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = kill\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0664);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini: refusing policy file: writable by group or others"));
	gh_policy_free(&p);
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0646);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
	gh_policy_free(&p);
	if (geteuid() == 0) {
		fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
		ck_assert_int_eq(chown(fx_path(fx, "/etc/gpu-hook/111.ini"), 1, 1), 0);
		ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
		ck_assert(fx_log_has(fx, "not owned by root (owner uid 1)"));
		gh_policy_free(&p);
	}
	fx_rm(fx, "/etc/gpu-hook/111.ini");
	fx_mkdir(fx, "/etc/gpu-hook/111.ini");
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_key_and_override);
	tcase_add_test(tc, every_error_in_one_run);
	tcase_add_test(tc, untrusted_files_are_refused);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
