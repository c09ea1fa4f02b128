/* SPDX-License-Identifier: MIT */
/*
 * The watcher (lib/watch.h) on the example host: a start that fails after
 * pre-start gives the card back, a start that works keeps it, a reboot keeps
 * it for the restart, a restart that never comes gives it back. The hook runs
 * as Proxmox runs it, with the test holding the VM's config lock as
 * vm_start does (qemu-server PVE/QemuConfig.pm config_file_lock, a flock).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "fs.h"
#include "watch.h"

#define GPU "0000:01:00.0"

/* Takes the VM's config lock as qemu-server's vm_start does; the fd is the lock. */
static int config_lock(struct fx *fx, unsigned vmid)
{
	char path[64];
	int fd;

	fx_mkdir(fx, "/var/lock/qemu-server");
	snprintf(path, sizeof(path), "/var/lock/qemu-server/lock-%u.conf", vmid);
	fd = open(fx_path(fx, path), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	return fd;
}

/* The function's driver in the fixture tree, through the project's own root seam. */
static const char *driver_of(struct fx *fx, const char *addr)
{
	static char buf[64];

	if (gh_fs_link_base(fx->ctx, buf, sizeof(buf), "/sys/bus/pci/devices/%s/driver", addr) < 0)
		return "(none)";
	return buf;
}

static bool exists(struct fx *fx, const char *path)
{
	return access(fx_path(fx, path), F_OK) == 0;
}

/* Polls for cond (a file present or not) up to ms; the watcher looks every 200 ms. */
static bool wait_for(struct fx *fx, const char *path, bool present, unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 50) {
		if (exists(fx, path) == present)
			return true;
		usleep(50000);
	}
	return exists(fx, path) == present;
}

static bool wait_not_waiting(struct fx *fx, unsigned vmid, unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 50) {
		if (gh_watch_waiting(fx->ctx, vmid) == 0)
			return true;
		usleep(50000);
	}
	return false;
}

/* A running QEMU as vms.c recognises it: pid file and "-pidfile" in its cmdline. */
static void qemu_runs(struct fx *fx, unsigned vmid, int pid)
{
	char path[64], cmd[160];

	snprintf(path, sizeof(path), "/var/run/qemu-server/%u.pid", vmid);
	fx_file(fx, path, "%d\n", pid);
	snprintf(cmd, sizeof(cmd), "/usr/bin/kvm -id %u -pidfile /var/run/qemu-server/%u.pid", vmid, vmid);
	fx_proc(fx, pid, "kvm", cmd, "/qemu.slice/111.scope");
}

/* A phase of VM 111 run as Proxmox runs it, which must succeed. */
static void run_ok(struct fx *fx, struct fx_run *r, const char *phase)
{
	fx_run_hook(r, NULL, "111", phase, "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "111 %s: %s", phase, r->err);
}

/* The watcher gave the card back: the journal goes, the GPU is on nvidia again, the record is gone. */
static void expect_given_back(struct fx *fx)
{
	ck_assert_msg(wait_for(fx, "/run/gpu-hook/111.json", false, 10000), "the card was not given back");
	ck_assert_str_eq(driver_of(fx, GPU), "nvidia");
	ck_assert(!exists(fx, "/run/gpu-hook/111.watch"));
}

START_TEST(failed_start_gives_back)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	struct gh_watch w;
	int lock;

	fx_example_host(fx);
	lock = config_lock(fx, 111);
	run_ok(fx, r, "pre-start");
	ck_assert_str_eq(driver_of(fx, GPU), "vfio-pci");
	ck_assert_int_eq(gh_watch_load(fx->ctx, 111, &w), 0);
	ck_assert_int_eq(w.reason, GH_WATCH_START);
	ck_assert_int_gt(w.pid, 0);
	for (unsigned t = 0; t < 3000 && gh_watch_waiting(fx->ctx, 111) != 1; t += 50)
		usleep(50000);
	ck_assert_int_eq(gh_watch_waiting(fx->ctx, 111), 1);
	/* status names it */
	fx_run_hook(r, NULL, "status", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->out, "watcher: VM 111, armed by a start's pre-start"));
	ck_assert_ptr_nonnull(strstr(r->out, "waiting for the start to end"));
	/* While the start is under way nothing moves. */
	usleep(600000);
	ck_assert_str_eq(driver_of(fx, GPU), "vfio-pci");
	/* QEMU never came up: vm_start dies and releases the lock, and no post-stop follows. */
	close(lock);
	expect_given_back(fx);
	ck_assert(wait_not_waiting(fx, 111, 2000));
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(working_start_keeps_card)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	int lock;

	fx_example_host(fx);
	lock = config_lock(fx, 111);
	run_ok(fx, r, "pre-start");
	ck_assert(exists(fx, "/run/gpu-hook/111.watch"));
	qemu_runs(fx, 111, 4242);
	close(lock);
	/* The watcher sees QEMU and stands down: the record goes, the card stays. */
	ck_assert_msg(wait_for(fx, "/run/gpu-hook/111.watch", false, 10000), "the watcher did not stand down");
	ck_assert(exists(fx, "/run/gpu-hook/111.json"));
	ck_assert_str_eq(driver_of(fx, GPU), "vfio-pci");
	/* The VM stops: post-stop gives everything back. */
	fx_rm(fx, "/var/run/qemu-server/111.pid");
	run_ok(fx, r, "post-stop");
	ck_assert_str_eq(driver_of(fx, GPU), "nvidia");
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(by_hand_arms_nothing)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	fx_example_host(fx);
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "watcher"));
	run_ok(fx, r, "pre-start");
	ck_assert_str_eq(driver_of(fx, GPU), "vfio-pci");
	ck_assert(!exists(fx, "/run/gpu-hook/111.watch"));
	/* A post-stop that comes first leaves nothing for a watcher either. */
	fx_run_hook(r, NULL, "111", "post-stop", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(driver_of(fx, GPU), "nvidia");
	free(r);
	fx_free(fx);
}
END_TEST

/* qm reboot: post-stop with the reboot file keeps the card; the new start finds it taken. */
START_TEST(reboot_keeps_card)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	struct gh_watch w;
	unsigned long before;
	int lock;

	fx_example_host(fx);
	run_ok(fx, r, "pre-start");
	fx_file(fx, "/run/qemu-server/111.reboot", "%s", "");
	fx_run_hook(r, NULL, "111", "post-stop", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "the card stays on vfio-pci for the restart"));
	/* qm cleanup holds the config lock around post-stop. */
	lock = config_lock(fx, 111);
	run_ok(fx, r, "post-stop");
	ck_assert_str_eq(driver_of(fx, GPU), "vfio-pci");
	ck_assert(exists(fx, "/run/gpu-hook/111.json"));
	ck_assert_int_eq(gh_watch_load(fx->ctx, 111, &w), 0);
	ck_assert_int_eq(w.reason, GH_WATCH_REBOOT);
	fx_rm(fx, "/run/qemu-server/111.reboot");
	close(lock);
	/* The new start, a second later, under its own lock: pre-start is a no-op and re-arms. */
	lock = config_lock(fx, 111);
	before = fx_tree_digest(fx_path(fx, "/sys"));
	run_ok(fx, r, "pre-start");
	ck_assert_uint_eq(fx_tree_digest(fx_path(fx, "/sys")), before);
	ck_assert_int_eq(gh_watch_load(fx->ctx, 111, &w), 0);
	ck_assert_int_eq(w.reason, GH_WATCH_START);
	qemu_runs(fx, 111, 4243);
	close(lock);
	ck_assert_msg(wait_for(fx, "/run/gpu-hook/111.watch", false, 10000), "the watcher did not stand down");
	ck_assert_str_eq(driver_of(fx, GPU), "vfio-pci");
	fx_rm(fx, "/var/run/qemu-server/111.pid");
	fx_run_hook(r, NULL, "111", "post-stop", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_str_eq(driver_of(fx, GPU), "nvidia");
	ck_assert(wait_not_waiting(fx, 111, 5000));
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(reboot_that_never_restarts)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	fx_example_host(fx);
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nreboot_watch = 1s\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	run_ok(fx, r, "pre-start");
	fx_file(fx, "/run/qemu-server/111.reboot", "%s", "");
	run_ok(fx, r, "post-stop");
	ck_assert_str_eq(driver_of(fx, GPU), "vfio-pci");
	fx_rm(fx, "/run/qemu-server/111.reboot");
	expect_given_back(fx);
	free(r);
	fx_free(fx);
}
END_TEST

/* recover takes over from a waiting watcher, which then does nothing. */
START_TEST(recover_disarms)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	int lock;

	fx_example_host(fx);
	lock = config_lock(fx, 111);
	run_ok(fx, r, "pre-start");
	fx_run_hook(r, NULL, "recover", "111", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	ck_assert_ptr_nonnull(strstr(r->err, "watcher for VM 111 is disarmed"));
	ck_assert_str_eq(driver_of(fx, GPU), "nvidia");
	ck_assert(!exists(fx, "/run/gpu-hook/111.watch"));
	close(lock);
	ck_assert(wait_not_waiting(fx, 111, 5000));
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(record_checks)
{
	struct fx *fx = fx_new();
	struct gh_watch w = { .vmid = 111, .reason = GH_WATCH_REBOOT, .pid = 5, .bound_s = 9, .reboot_s = 3 }, back;
	int fd;

	fx_example_host(fx);
	ck_assert_int_eq(gh_watch_token(w.token, sizeof(w.token)), 0);
	ck_assert_uint_eq(strlen(w.token), GH_WATCH_TOKEN_LEN);
	ck_assert_int_eq(gh_watch_save(fx->ctx, &w), -ENOENT);	/* no /run/gpu-hook yet */
	fx_mkdir(fx, "/run/gpu-hook");
	ck_assert_int_eq(gh_watch_save(fx->ctx, &w), 0);
	ck_assert_int_eq(gh_watch_load(fx->ctx, 111, &back), 0);
	ck_assert_str_eq(back.token, w.token);
	ck_assert_int_eq(back.reboot_s, 3);
	ck_assert_int_eq(gh_watch_attach(fx->ctx, 111, "0123456789abcdef0123456789abcdef", &back, &fd), -ESTALE);
	/* A record that is not ours, or not a record, drives nothing. */
	fx_file(fx, "/run/gpu-hook/111.watch", "{\"vmid\": 112, \"token\": \"x\"}");
	ck_assert_int_eq(gh_watch_load(fx->ctx, 111, &back), -EINVAL);
	ck_assert(fx_log_has(fx, "/run/gpu-hook/111.watch: corrupt watcher record"));
	/* The config lock: free, absent, held. */
	ck_assert_int_eq(gh_watch_config_locked(fx->ctx, 111), 0);
	fd = config_lock(fx, 111);
	ck_assert_int_eq(gh_watch_config_locked(fx->ctx, 111), 1);
	close(fd);
	ck_assert_int_eq(gh_watch_config_locked(fx->ctx, 111), 0);
	fx_free(fx);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("watch");
	TCase *tc = tcase_create("watch");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, record_checks);
	tcase_add_test(tc, failed_start_gives_back);
	tcase_add_test(tc, working_start_keeps_card);
	tcase_add_test(tc, by_hand_arms_nothing);
	tcase_add_test(tc, reboot_keeps_card);
	tcase_add_test(tc, reboot_that_never_restarts);
	tcase_add_test(tc, recover_disarms);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return fx_run_suite(suite());
}
