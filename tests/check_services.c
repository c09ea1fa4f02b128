/* SPDX-License-Identifier: MIT */
/* systemd units read from a fixture /etc/systemd and /sys/fs/cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "fs.h"
#include "services.h"
#include "sim.h"
#include "util.h"

START_TEST(valid_names)
{
	static const char *const good[] = { "gdm3.service", "getty@tty1.service", "display-manager.service",
					    "session-2.scope", "user@1000.service", "sys-fs-fuse-connections.mount",
					    "systemd-fsck@dev-disk-by\\x2duuid-1.service", "nvidia-dcgm.service",
					    "a:b_c.socket", "graphical.target", "pve-container@105.service" };
	static const char *const bad[] = { "", "nvidia-persistenced", "a b.service", "x.service;rm", "../x.service",
					   "a/b.service", "-x.service", ".service", "x.servicex", "x.Service",
					   "gdm\x1b.service", "x.service\n" };
	char longname[300];

	for (size_t i = 0; i < GH_ARRAY_SIZE(good); i++)
		ck_assert_msg(gh_services_valid_name(good[i]), "%s", good[i]);
	for (size_t i = 0; i < GH_ARRAY_SIZE(bad); i++)
		ck_assert_msg(!gh_services_valid_name(bad[i]), "%s", bad[i]);
	ck_assert(!gh_services_valid_name(NULL));
	memset(longname, 'a', sizeof(longname));
	strcpy(longname + 247, ".service");	/* 255 */
	ck_assert(gh_services_valid_name(longname));
	strcpy(longname + 248, ".service");	/* 256 */
	ck_assert(!gh_services_valid_name(longname));
}
END_TEST

START_TEST(resolve_aliases)
{
	struct fx *fx = fx_new();
	char unit[64], tiny[8];

	fx_link(fx, "/etc/systemd/system/display-manager.service", "/lib/systemd/system/gdm3.service");
	fx_link(fx, "/etc/systemd/system/sddm.service", "/dev/null");	/* masked */
	fx_link(fx, "/etc/systemd/system/odd.service", "/lib/systemd/system/bad name");
	fx_file(fx, "/etc/systemd/system/local.service", "[Service]\nExecStart=/bin/true\n");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "display-manager.service", unit, sizeof(unit)), 0);
	ck_assert_str_eq(unit, "gdm3.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "sddm.service", unit, sizeof(unit)), 0);
	ck_assert_str_eq(unit, "sddm.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "odd.service", unit, sizeof(unit)), 0);
	ck_assert_str_eq(unit, "odd.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "local.service", unit, sizeof(unit)), 0);
	ck_assert_str_eq(unit, "local.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "lightdm.service", unit, sizeof(unit)), 0);
	ck_assert_str_eq(unit, "lightdm.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "display-manager.service", tiny, sizeof(tiny)), -ENAMETOOLONG);
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "../etc.service;rm", unit, sizeof(unit)), -EINVAL);
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "gdm3", unit, sizeof(unit)), -EINVAL);
	fx_free(fx);
}
END_TEST

START_TEST(active_by_cgroup)
{
	struct fx *fx = fx_new();
	char many[512];

	memset(many, 0, sizeof(many));
	for (int i = 0; i < 60; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%d\n", 1000 + i);
	fx_file(fx, "/sys/fs/cgroup/system.slice/gdm3.service/cgroup.procs", "777\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/idle.service/cgroup.procs", "%s", "");
	fx_file(fx, "/sys/fs/cgroup/system.slice/blank.service/cgroup.procs", "\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/busy.service/cgroup.procs", "%s", many);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "gdm3.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "idle.service"), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "blank.service"), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "busy.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "absent.service"), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "bad name.service"), -EINVAL);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(active_when_delegated_or_instantiated)
{
	struct fx *fx = fx_new();

	/* Processes only in sub-cgroups: the unit's own cgroup.procs is empty. */
	fx_file(fx, "/sys/fs/cgroup/system.slice/lxc-net.service/cgroup.procs", "%s", "");
	fx_file(fx, "/sys/fs/cgroup/system.slice/lxc-net.service/cgroup.events", "populated 1\nfrozen 0\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/stopped.service/cgroup.procs", "%s", "");
	fx_file(fx, "/sys/fs/cgroup/system.slice/stopped.service/cgroup.events", "populated 0\nfrozen 0\n");
	/* Instances live in system-<prefix>.slice, '-' escaped. */
	fx_file(fx, "/sys/fs/cgroup/system.slice/system-getty.slice/getty@tty1.service/cgroup.procs", "812\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/system-pve\\x2dcontainer.slice/pve-container@105.service/cgroup.procs",
		"%s", "");
	fx_file(fx, "/sys/fs/cgroup/system.slice/system-pve\\x2dcontainer.slice/pve-container@105.service/cgroup.events",
		"populated 1\nfrozen 0\n");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "lxc-net.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "stopped.service"), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "getty@tty1.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "getty@tty2.service"), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "pve-container@105.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "pve-container@106.service"), 0);
	fx_free(fx);
}
END_TEST

START_TEST(alias_then_state)
{
	struct fx *fx = fx_new();
	char unit[64];

	fx_host_single(fx);
	fx_link(fx, "/etc/systemd/system/display-manager.service", "/lib/systemd/system/gdm3.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "display-manager.service", unit, sizeof(unit)), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, unit), 0);
	fx_file(fx, "/sys/fs/cgroup/system.slice/gdm3.service/cgroup.procs", "1200\n1310\n");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, unit), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "nvidia-persistenced.service"), 1);
	fx_free(fx);
}
END_TEST

/* A oneshot unit with RemainAfterExit=yes: "active (exited)", nothing in its cgroup. */
START_TEST(active_exited_oneshot)
{
	struct fx *fx = fx_new();

	gh_ctx_set_ops(fx->ctx, &gh_sim_ops, NULL);
	fx_file(fx, "/lib/systemd/system/setup-vfio.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/setup-vfio.service/cgroup.events", "populated 0\nfrozen 0\n");
	fx_file(fx, "/run/gh-sim/active/setup-vfio.service", "%s", "");
	fx_file(fx, "/sys/fs/cgroup/system.slice/gdm3.service/cgroup.procs", "777\n");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "setup-vfio.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "gdm3.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "absent.service"), 0);
	ck_assert_int_eq(gh_sim_ops.service(fx->ctx, "stop", "setup-vfio.service"), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "setup-vfio.service"), 0);
	ck_assert_int_eq(gh_sim_ops.service(fx->ctx, "start", "setup-vfio.service"), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "setup-vfio.service"), 1);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

/*
 * What a manager answers, by systemctl is-active's exit status; -ENOENT: no
 * systemctl. In the fixture's /answer: the query runs in the phase's worker,
 * which may be a fork made before the test changes its mind (see
 * gh_timebox_call).
 */
static int fake_service(struct gh_ctx *ctx, const char *verb, const char *unit)
{
	char buf[16];
	long v;

	/* Any other verb is no answer (status 5): the cgroup would decide. */
	if (strcmp(verb, "is-active") || gh_fs_read_str(ctx, buf, sizeof(buf), "/answer") < 0)
		return -5;
	/* Each unit asked about leaves a mark in the fixture, whichever process asked. */
	v = gh_fs_open(ctx, O_WRONLY | O_CREAT, "/asked-%s", unit);
	if (v >= 0)
		close((int)v);
	v = strtol(buf, NULL, 10);
	return (int)v;
}

START_TEST(manager_answer_wins_over_cgroup)
{
	struct fx *fx = fx_new();
	struct gh_ops ops = { .service = fake_service };

	gh_ctx_set_ops(fx->ctx, &ops, NULL);
	/* KillMode=process left a child behind: systemd says inactive, the cgroup is populated. */
	fx_file(fx, "/sys/fs/cgroup/system.slice/leftover.service/cgroup.procs", "4242\n");
	fx_file(fx, "/answer", "-3\n");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "leftover.service"), 0);
	fx_file(fx, "/answer", "-4\n");	/* no such unit */
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "leftover.service"), 0);
	fx_file(fx, "/lib/systemd/system/oneshot.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\n");
	fx_file(fx, "/answer", "0\n");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "oneshot.service"), 1);
	/* No systemctl, or systemd not PID 1 ("System has not been booted with systemd", status 1): the cgroup. */
	fx_file(fx, "/answer", "%d\n", -ENOENT);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "leftover.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "oneshot.service"), 0);
	fx_file(fx, "/answer", "-1\n");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "leftover.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "bad name.service"), -EINVAL);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

/*
 * A unit with no file in any unit directory and nothing in its cgroup is not
 * there: no systemctl is forked to hear so, whatever it would say. A
 * transient or generated unit (its file under /run), an instance of a
 * template, or a unit with processes is asked about.
 */
START_TEST(absent_unit_is_not_asked_about)
{
	struct fx *fx = fx_new();
	struct gh_ops ops = { .service = fake_service };

	gh_ctx_set_ops(fx->ctx, &ops, NULL);
	fx_file(fx, "/answer", "0\n");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "nvidia-persistenced.service"), 0);
	ck_assert_int_eq(access(fx_path(fx, "/asked-nvidia-persistenced.service"), F_OK), -1);
	fx_file(fx, "/run/systemd/transient/run-u7.service", "[Service]\nExecStart=/bin/true\n");
	fx_file(fx, "/run/systemd/generator.late/nvidia.service", "[Unit]\nSourcePath=/etc/init.d/nvidia\n");
	fx_file(fx, "/usr/lib/systemd/system/nv@.service", "[Service]\nExecStart=/bin/true\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/stray.service/cgroup.procs", "4242\n");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "run-u7.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "nvidia.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "nv@gpu0.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "stray.service"), 1);
	ck_assert_int_eq(access(fx_path(fx, "/asked-nv@gpu0.service"), F_OK), 0);
	ck_assert(gh_services_unit_file(fx->ctx, "nv@gpu1.service"));
	ck_assert(!gh_services_unit_file(fx->ctx, "nv.service"));
	ck_assert(!gh_services_unit_file(fx->ctx, "../x.service"));
	/* Known on the host (started again on the way back, see plan-back.c): active, or with a file. */
	{
		bool known = true;

		fx_file(fx, "/answer", "-3\n");
		ck_assert_int_eq(gh_services_state(fx->ctx, "nvidia.service", &known), 0);
		ck_assert(known);
		ck_assert_int_eq(gh_services_state(fx->ctx, "nvidia-persistenced.service", &known), 0);
		ck_assert(!known);
		ck_assert_int_eq(gh_services_state(fx->ctx, "stray.service", &known), 0);
		ck_assert(!known);
		fx_file(fx, "/answer", "0\n");
		ck_assert_int_eq(gh_services_state(fx->ctx, "stray.service", &known), 1);
		ck_assert(known);
		ck_assert_int_eq(gh_services_state(fx->ctx, "bad name.service", &known), -EINVAL);
		ck_assert(!known);
	}
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("services");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, valid_names);
	tcase_add_test(tc, resolve_aliases);
	tcase_add_test(tc, active_by_cgroup);
	tcase_add_test(tc, active_when_delegated_or_instantiated);
	tcase_add_test(tc, alias_then_state);
	tcase_add_test(tc, active_exited_oneshot);
	tcase_add_test(tc, manager_answer_wins_over_cgroup);
	tcase_add_test(tc, absent_unit_is_not_asked_about);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
