/* SPDX-License-Identifier: MIT */
/*
 * Trust boundary: other processes. What a process shows of itself (the text
 * of its fd links and maps, its name, its cgroup path, its pid number) is
 * data that it, or whoever runs it, chose. Holders are known by the identity
 * of the device they hold, named escaped, and only the process that was found
 * is ever killed, never one the host cannot do without.
 *
 * Each case runs against a fixture root with the simulator. A holder holds
 * its device twice: through an fd link to the real character device the
 * fixture's node stands for (what the kernel shows for an open device), and
 * through a link whose text is the node's path and which leads nowhere on
 * this machine; so the case holds for a path-matching scanner as much as for
 * one that matches identities, and tests the decision, not the matching.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fs.h"
#include "handoff.h"
#include "host.h"
#include "sim.h"

static void hold(struct fx *fx, int pid, int fd, const char *node)
{
	fx_proc_fd(fx, pid, fd, node);
	fx_proc_fd_text(fx, pid, fd + 100, node);
}

static void policy(struct fx *fx, const char *text)
{
	fx_file(fx, "/etc/gpu-hook/111.ini", "%s", text);
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
}

static bool raw_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
			return true;
	return false;
}

static const char *driver_of(struct fx *fx, const char *addr)
{
	static char drv[64];

	drv[0] = '\0';
	if (gh_fs_link_base(fx->ctx, drv, sizeof(drv), "/sys/bus/pci/devices/%s/driver", addr) < 0)
		return "";
	return drv;
}

/*
 * An unprivileged user in a user + mount namespace can have "/dev/vfio/14" as
 * the path of an fd (and a mapping) without touching the device: that text
 * must not keep the card on vfio-pci. A real open of the group node still does.
 */
START_TEST(namespace_path_text_does_not_block_post_stop)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	fx_example_host(fx);
	fx_node(fx, "/dev/vfio/14", "/dev/random");
	fx_run_hook(r, NULL, "111", "pre-start", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_str_eq(driver_of(fx, "0000:01:00.0"), "vfio-pci");
	fx_proc(fx, 4000, "sh", "sh", "/user.slice/user-1000.slice/session-5.scope");
	fx_proc_fd_text(fx, 4000, 3, "/dev/vfio/14");
	fx_proc_maps(fx, 4000, "7f0000000000-7f0000001000 rw-s 00000000 00:2a 77 /dev/vfio/14\n");
	fx_run_hook(r, NULL, "111", "post-stop", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_ptr_null(strstr(r->err, "pid 4000"));
	ck_assert_str_eq(driver_of(fx, "0000:01:00.1"), "snd_hda_intel");

	/* The group node really open: refused, named, and the card stays. */
	fx_run_hook(r, NULL, "111", "pre-start", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	fx_proc(fx, 4100, "kvm", "/usr/bin/kvm -id 111", "/qemu.slice/111.scope");
	fx_proc_fd(fx, 4100, 30, "/dev/vfio/14");
	/* As the kernel counts it: the open group file holds vfio.ko (chrdev_open's fops_get). */
	fx_file(fx, "/sys/module/vfio/refcnt", "3\n");
	fx_run_hook(r, NULL, "111", "post-stop", "--root", fx->root, NULL);
	ck_assert_int_ne(r->status, 0);
	ck_assert_msg(strstr(r->err, "pid 4100 (kvm, 111.scope): /dev/vfio/14 (fd 30)"), "%s", r->err);
	ck_assert_str_eq(driver_of(fx, "0000:01:00.1"), "vfio-pci");
	free(r);
	fx_free(fx);
}
END_TEST

/* A user's own service manager can run a unit of any name: it is not the system's persistenced. */
START_TEST(user_manager_unit_is_not_the_system_unit)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	fx_example_host(fx);
	fx_proc(fx, 4200, "nvidia-persiste", "nvidia-persistenced",
		"/user.slice/user-1000.slice/user@1000.service/app.slice/nvidia-persistenced.service");
	hold(fx, 4200, 5, "/dev/nvidia0");
	fx_run_hook(r, NULL, "111", "pre-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_msg(strstr(r->err, "refusing: held by pid 4200 (nvidia-persiste, nvidia-persistenced.service"),
		      "%s", r->err);
	ck_assert_ptr_nonnull(strstr(r->err, "/dev/nvidia0"));
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/proc/4200"), 1);
	ck_assert_str_eq(driver_of(fx, "0000:01:00.0"), "nvidia");
	/* Nor does holders = stop-unit stop the system's unit for it. */
	policy(fx, "[handoff]\nservices = nvidia-persistenced.service\nholders = stop-unit\n");
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->out, "pid 4200"));
	free(r);
	fx_free(fx);
}
END_TEST

/* A process names itself: a terminal escape in its comm is shown as text, everywhere. */
START_TEST(escaped_comm_never_reaches_output_raw)
{
	static const char evil[] = "\x1b]0;owned\a\x1b[2K\r";
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	fx_example_host(fx);
	fx_proc(fx, 4300, evil, "miner", "/user.slice/user-0.slice/session-9.scope");
	hold(fx, 4300, 5, "/dev/nvidia0");
	/* Refused: the refusal names it. */
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->out, "pid 4300"));
	ck_assert_msg(!raw_control(r->out) && !raw_control(r->err), "%s%s", r->out, r->err);
	/* Killed: the plan, its JSON and the log name it. */
	policy(fx, "[handoff]\nservices = nvidia-persistenced.service\nholders = kill\n");
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_ptr_nonnull(strstr(r->out, "kill pid 4300 (\\x1b]0;owned\\x07\\x1b[2K\\x0d)"));
	ck_assert_msg(!raw_control(r->out) && !raw_control(r->err), "%s%s", r->out, r->err);
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--json", "--root", fx->root, NULL);
	ck_assert_msg(!raw_control(r->out) && !raw_control(r->err), "%s%s", r->out, r->err);
	fx_run_hook(r, NULL, "111", "pre-start", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_msg(!raw_control(r->out) && !raw_control(r->err), "%s%s", r->out, r->err);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/proc/4300"), 0);
	free(r);
	fx_free(fx);
}
END_TEST

/* A process may have an empty name; the plan names it "?" and goes on. */
START_TEST(empty_comm_is_shown_not_an_error)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	fx_example_host(fx);
	fx_proc(fx, 4400, "", "x", "/user.slice/user-0.slice/session-9.scope");
	hold(fx, 4400, 5, "/dev/nvidia0");
	policy(fx, "[handoff]\nservices = nvidia-persistenced.service\nholders = kill\n");
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_msg(strstr(r->out, "kill pid 4400 (?)"), "%s", r->out);
	ck_assert_ptr_null(strstr(r->err, "Invalid argument"));
	free(r);
	fx_free(fx);
}
END_TEST

/* The holder found exits and its pid names another process by the time of the kill: that one lives. */
START_TEST(reused_pid_is_not_killed)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	bool already;

	gh_ctx_set_ops(fx->ctx, &gh_sim_ops, NULL);
	fx_example_host(fx);
	fx_proc(fx, 4500, "miner", "miner", "/user.slice/user-0.slice/session-9.scope");
	hold(fx, 4500, 5, "/dev/nvidia0");
	policy(fx, "[handoff]\nservices = nvidia-persistenced.service\nholders = kill\n");
	ck_assert_int_eq(gh_handoff_settle(fx->ctx, "111", &already), 0);
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_uint_eq(h.refusals.n, 0);
	/* Between the plan and the kill: 4500 exits, a new process gets the number. */
	fx_rm(fx, "/proc/4500");
	fx_proc(fx, 4500, "sshd", "sshd: admin", "/system.slice/ssh.service");
	fx_proc_stat(fx, 4500, fx_proc_start(4500) + 90000, 4500);
	ck_assert_int_eq(gh_handoff_to_vfio(fx->ctx, &h, "111"), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/proc/4500"), 1);
	ck_assert_msg(fx_log_has(fx, "pid 4500 (miner) has exited and its number now names another process: not "
				     "killed"), "%s", fx->log);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

/* Processes the host cannot do without, and gpu-hook's own session and unit: refused by name, never ended. */
START_TEST(protected_processes_are_refused_by_name)
{
	static const struct {
		int pid;
		const char *comm, *cgroup, *why;
	} t[] = {
		{ 4601, "systemd-logind", "/system.slice/systemd-logind.service", "logins and the system bus" },
		{ 4602, "dbus-daemon", "/system.slice/dbus.service", "logins and the system bus" },
		{ 4603, "dbus-broker", "/system.slice/dbus-broker.service", "logins and the system bus" },
		{ 4604, "sshd", "/system.slice/ssh.service", "logins and the system bus" },
		{ 4605, "cron", "/system.slice/cron.service", "logins and the system bus" },
		{ 4606, "atd", "/system.slice/atd.service", "logins and the system bus" },
		{ 4607, "login", "/user.slice/user-0.slice/session-1.scope", "leads the session gpu-hook runs in" },
		{ 4608, "pvedaemon worke", "/system.slice/pvedaemon.service", "the unit gpu-hook runs in" },
	};
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	fx_example_host(fx);
	/* gpu-hook as PVE runs it: a pvedaemon worker, in session 4607. */
	fx_proc(fx, 4609, "gpu-hook", "gpu-hook 111 pre-start", "/system.slice/pvedaemon.service");
	fx_proc_stat(fx, 4609, fx_proc_start(4609), 4607);
	fx_link(fx, "/proc/self", "4609");
	for (size_t i = 0; i < GH_ARRAY_SIZE(t); i++) {
		fx_proc(fx, t[i].pid, t[i].comm, t[i].comm, t[i].cgroup);
		hold(fx, t[i].pid, 7, "/dev/dri/card0");
	}
	policy(fx, "[handoff]\nservices = nvidia-persistenced.service\nholders = kill\n");
	fx_run_hook(r, NULL, "111", "pre-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	for (size_t i = 0; i < GH_ARRAY_SIZE(t); i++) {
		char want[128];

		snprintf(want, sizeof(want), "held by pid %d (%s", t[i].pid, t[i].comm);
		ck_assert_msg(strstr(r->err, want), "%s not refused: %s", t[i].comm, r->err);
		ck_assert_int_eq(gh_fs_exists(fx->ctx, "/proc/%d", t[i].pid), 1);
		ck_assert_msg(strstr(r->err, t[i].why), "no reason for %s: %s", t[i].comm, r->err);
	}
	ck_assert_ptr_nonnull(strstr(r->err, "/dev/dri/card0"));
	ck_assert_str_eq(driver_of(fx, "0000:01:00.0"), "nvidia");
	/* Nor is their unit stopped under holders = stop-unit. */
	policy(fx, "[handoff]\nservices = nvidia-persistenced.service\nholders = stop-unit\n");
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_null(strstr(r->out, "stop dbus.service"));
	ck_assert_ptr_null(strstr(r->out, "stop systemd-logind.service"));
	ck_assert_ptr_null(strstr(r->out, "stop ssh.service"));
	ck_assert_ptr_null(strstr(r->out, "stop pvedaemon.service"));
	free(r);
	fx_free(fx);
}
END_TEST

/* The audio function's nodes hold the card as much as the GPU's: found through its sysfs dev files. */
START_TEST(audio_control_holder_found_through_sysfs)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	ck_assert_ptr_nonnull(r);
	fx_example_host(fx);
	fx_proc(fx, 4700, "pipewire", "/usr/bin/pipewire",
		"/user.slice/user-1000.slice/user@1000.service/session.slice/pipewire.service");
	hold(fx, 4700, 12, "/dev/snd/controlC0");
	fx_run_hook(r, NULL, "111", "pre-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_msg(strstr(r->err, "held by pid 4700 (pipewire"), "%s", r->err);
	ck_assert_ptr_nonnull(strstr(r->err, "/dev/snd/controlC0"));
	ck_assert_str_eq(driver_of(fx, "0000:01:00.1"), "snd_hda_intel");
	free(r);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("holders_identity");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, namespace_path_text_does_not_block_post_stop);
	tcase_add_test(tc, user_manager_unit_is_not_the_system_unit);
	tcase_add_test(tc, escaped_comm_never_reaches_output_raw);
	tcase_add_test(tc, empty_comm_is_shown_not_an_error);
	tcase_add_test(tc, reused_pid_is_not_killed);
	tcase_add_test(tc, protected_processes_are_refused_by_name);
	tcase_add_test(tc, audio_control_holder_found_through_sysfs);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
