/* SPDX-License-Identifier: MIT */
/* Running VMs and the PCI functions they use, from fixture pid files and /proc. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fixture.h"
#include "vms.h"

/* A running VM: pid file plus a QEMU process whose cmdline names it. */
static void vm(struct fx *fx, unsigned vmid, int pid, const char *devices)
{
	char p[128], cl[1024];

	snprintf(p, sizeof(p), "/var/run/qemu-server/%u.pid", vmid);
	fx_file(fx, p, "%d\n", pid);
	snprintf(cl, sizeof(cl),
		 "/usr/bin/kvm -id %u -name vm%u,debug-threads=on -no-shutdown -chardev "
		 "socket,id=qmp,path=/var/run/qemu-server/%u.qmp,server=on,wait=off -mon chardev=qmp,mode=control "
		 "-pidfile /var/run/qemu-server/%u.pid -daemonize %s -machine type=q35+pve0",
		 vmid, vmid, vmid, vmid, devices);
	snprintf(p, sizeof(p), "/qemu.slice/%u.scope", vmid);
	fx_proc(fx, pid, "kvm", cl, p);
}

START_TEST(owner_from_cmdline)
{
	struct fx *fx = fx_new();
	unsigned owner = 0;
	pid_t pid = 0;

	vm(fx, 200, 4000,
	   "-device vfio-pci,host=0000:02:00.0,id=hostpci0.0,bus=ich9-pcie-port-1,addr=0x0.0,multifunction=on "
	   "-device vfio-pci,host=0000:02:00.1,id=hostpci0.1,bus=ich9-pcie-port-1,addr=0x0.1");
	vm(fx, 300, 4100, "-device virtio-net-pci,mac=BC:24:11:00:00:01,netdev=net0");
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 200, &pid), 0);
	ck_assert_int_eq(pid, 4000);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 200);
	owner = 0;
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.1", &owner), 1);
	ck_assert_uint_eq(owner, 200);
	/* The asking VM itself, another function, another domain. */
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 200, "0000:02:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.2", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0001:02:00.0", &owner), 0);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(host_option_forms)
{
	struct fx *fx = fx_new();
	unsigned owner = 0;

	/* A whole slot, the short form without domain, and options that only look alike. */
	vm(fx, 201, 4001, "-device vfio-pci,host=0000:03:00,id=hostpci0,multifunction=on");
	vm(fx, 202, 4002, "-device vfio-pci,host=04:00.0,x-vga=on");
	vm(fx, 203, 4003, "-device vfio-pci,x-host=0000:05:00.0 -device vfio-pci,host=0000:06:00.1x "
			  "-device vfio-pci,host=0000:07:00.10 -device usb-host,vendorid=0x046d,host=1-14");
	vm(fx, 204, 4004, "-device vfio-pci,id=hostpci1,host=0000:08:00.3");
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:03:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 201);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:03:00.3", &owner), 1);
	ck_assert_uint_eq(owner, 201);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:03:01.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:04:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 202);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:05:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:06:00.1", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:07:00.1", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:08:00.3", &owner), 1);
	ck_assert_uint_eq(owner, 204);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:08:00", &owner), -EINVAL);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "08:00.3", &owner), -EINVAL);
	fx_free(fx);
}
END_TEST

START_TEST(stale_pid_files_are_ignored)
{
	struct fx *fx = fx_new();
	unsigned owner = 0;
	pid_t pid;

	/* The pid now belongs to a shell that happens to mention the device. */
	fx_file(fx, "/var/run/qemu-server/201.pid", "4001\n");
	fx_proc(fx, 4001, "bash", "bash -pidfile /var/run/qemu-server/201.pid host=0000:03:00.0", NULL);
	/* A QEMU of another VM: the first -pidfile decides. */
	fx_file(fx, "/var/run/qemu-server/202.pid", "4002\n");
	fx_proc(fx, 4002, "kvm", "/usr/bin/kvm -pidfile /var/run/qemu-server/999.pid -device vfio-pci,host=0000:03:00.0 "
				 "-pidfile /var/run/qemu-server/202.pid", NULL);
	/* No such process, no number, an empty file. */
	fx_file(fx, "/var/run/qemu-server/203.pid", "4003\n");
	fx_file(fx, "/var/run/qemu-server/204.pid", "12ab\n");
	fx_file(fx, "/var/run/qemu-server/205.pid", "%s", "");
	fx_file(fx, "/var/run/qemu-server/206.pid", "0\n");
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 201, &pid), -ENOENT);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 202, &pid), -ENOENT);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 203, &pid), -ENOENT);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 204, &pid), -ENOENT);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 205, &pid), -ENOENT);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 206, &pid), -ENOENT);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 207, &pid), -ENOENT);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:03:00.0", &owner), 0);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(qemu_binaries_and_pidfile_spellings)
{
	struct fx *fx = fx_new();
	pid_t pid = 0;

	fx_file(fx, "/var/run/qemu-server/210.pid", "5010\n");
	fx_proc(fx, 5010, "qemu-system-x86", "/usr/bin/qemu-system-x86_64 --pidfile /var/run/qemu-server/210.pid",
		NULL);
	fx_file(fx, "/var/run/qemu-server/211.pid", "5011\n");
	fx_proc(fx, 5011, "kvm", "kvm -pidfile /var/run/qemu-server/211.pid", NULL);
	fx_file(fx, "/var/run/qemu-server/212.pid", "5012\n");
	fx_proc(fx, 5012, "python3", "/usr/bin/python3 -pidfile /var/run/qemu-server/212.pid", NULL);
	fx_file(fx, "/var/run/qemu-server/213.pid", "5013\n");
	fx_proc(fx, 5013, "kvm", "/usr/bin/kvm -pidfile", NULL);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 210, &pid), 0);
	ck_assert_int_eq(pid, 5010);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 211, &pid), 0);
	ck_assert_int_eq(pid, 5011);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 212, &pid), -ENOENT);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 213, &pid), -ENOENT);
	fx_free(fx);
}
END_TEST

START_TEST(owner_from_reservations)
{
	struct fx *fx = fx_new();
	unsigned owner = 0;

	vm(fx, 200, 4000, "-device virtio-net-pci");
	vm(fx, 400, 4400, "-device virtio-net-pci");
	vm(fx, 111, 4111, "-device virtio-net-pci");	/* the asking VM, already running */
	fx_file(fx, "/run/qemu-server/pci-id-reservations",
		"0000:05:00.0 200 time:1700000000\n"
		"0000:06:00.0 300 pid:4300\n"		/* VM 300 is not running */
		"0000:07:00.0 111 pid:4111\n"		/* our own */
		"0000:08:00 400 pid:4400\n"		/* a whole slot */
		"09:00.0 400 pid:4400\n"		/* no domain */
		"0000:0a:00.0 400\n"			/* malformed lines are ignored */
		"0000:0b:00.0 400 when:5\n"
		"0000:0c:00.0 abc pid:1\n");
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:05:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 200);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:06:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:07:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:08:00.1", &owner), 1);
	ck_assert_uint_eq(owner, 400);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:09:00.0", &owner), 1);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:0a:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:0b:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:0c:00.0", &owner), 0);
	/* A start under way (its reservation not yet lapsed) owns the card too; a lapsed one does not. */
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:0d:00.0 500 time:%lld\n0000:0e:00.0 500 time:%lld\n",
		(long long)time(NULL) + 60, (long long)time(NULL) - 60);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:0d:00.0", &owner), 2);
	ck_assert_uint_eq(owner, 500);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:0e:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 500, "0000:0d:00.0", &owner), 0);
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:05:00.0 200 time:1700000000\n");
	/* Whoever asks, another running VM's reservation counts. */
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 400, "0000:05:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 200);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

/*
 * One reading serves every function of a handoff: the snapshot answers as the
 * VMs were when it was read (a handoff of four functions reads each other
 * VM's pid file and command line once, not four times), and a new reading
 * sees what changed since.
 */
START_TEST(one_reading_answers_every_function)
{
	struct fx *fx = fx_new();
	struct gh_vms vms;
	unsigned owner = 0;

	vm(fx, 200, 4000, "-device vfio-pci,host=0000:02:00.0 -device vfio-pci,host=0000:02:00.1");
	vm(fx, 300, 4100, "-device virtio-net-pci");
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:03:00.0 300 pid:4100\n");
	ck_assert_int_eq(gh_vms_load(fx->ctx, 111, &vms), 0);
	ck_assert_uint_eq(vms.n_run, 2);
	fx_rm(fx, "/var/run/qemu-server/200.pid");
	fx_rm(fx, "/run/qemu-server/pci-id-reservations");
	ck_assert_int_eq(gh_vms_owner_in(&vms, "0000:02:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 200);
	ck_assert_int_eq(gh_vms_owner_in(&vms, "0000:02:00.1", &owner), 1);
	ck_assert_int_eq(gh_vms_owner_in(&vms, "0000:03:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 300);
	ck_assert_int_eq(gh_vms_owner_in(&vms, "0000:04:00.0", &owner), 0);
	ck_assert_int_eq(gh_vms_owner_in(&vms, "0000:04:00", &owner), -EINVAL);
	gh_vms_free(&vms);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:03:00.0", &owner), 0);
	/* The asking VM is not in its own reading. */
	ck_assert_int_eq(gh_vms_load(fx->ctx, 300, &vms), 0);
	ck_assert_uint_eq(vms.n_run, 0);
	gh_vms_free(&vms);
	ck_assert_int_eq(fx->n_errors, 0);
	/* A VM that cannot be read stops the questions where it stands, as asking VM by VM did. */
	vm(fx, 200, 4000, "-device vfio-pci,host=0000:02:00.0");
	fx_rm(fx, "/var/run/qemu-server/300.pid");
	ck_assert_int_eq(mkfifo(fx_path(fx, "/var/run/qemu-server/300.pid"), 0644), 0);
	ck_assert_int_eq(gh_vms_load(fx->ctx, 111, &vms), 0);
	ck_assert_int_eq(gh_vms_owner_in(&vms, "0000:02:00.0", &owner), 1);
	ck_assert_int_lt(gh_vms_owner_in(&vms, "0000:04:00.0", &owner), 0);
	gh_vms_free(&vms);
	fx_free(fx);
}
END_TEST

START_TEST(only_pve_pid_file_names)
{
	struct fx *fx = fx_new();
	unsigned owner = 0;

	fx_file(fx, "/var/run/qemu-server/0200.pid", "4000\n");
	fx_file(fx, "/var/run/qemu-server/200.pid.tmp", "4000\n");
	fx_file(fx, "/var/run/qemu-server/x.pid", "4000\n");
	fx_file(fx, "/var/run/qemu-server/200.qmp", "%s", "");
	fx_proc(fx, 4000, "kvm", "/usr/bin/kvm -pidfile /var/run/qemu-server/200.pid -device vfio-pci,host=0000:02:00.0",
		NULL);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.0", &owner), 0);
	/* Nothing under /var/run/qemu-server at all. */
	fx_rm(fx, "/var/run/qemu-server");
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.0", &owner), 0);
	fx_file(fx, "/var/run/qemu-server/200.pid", "4000\n");
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 200);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vms");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, owner_from_cmdline);
	tcase_add_test(tc, host_option_forms);
	tcase_add_test(tc, stale_pid_files_are_ignored);
	tcase_add_test(tc, qemu_binaries_and_pidfile_spellings);
	tcase_add_test(tc, owner_from_reservations);
	tcase_add_test(tc, only_pve_pid_file_names);
	tcase_add_test(tc, one_reading_answers_every_function);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
