/* SPDX-License-Identifier: MIT */
/* pci, console, modules, holders, services and vms on fixture roots. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "fixture.h"
#include "holders.h"
#include "modules.h"
#include "pci.h"
#include "services.h"
#include "vms.h"

START_TEST(pci_reads_a_turing_card)
{
	struct fx *fx = fx_new();
	struct gh_pci_dev d;
	struct gh_strv sv = { 0 };
	struct gh_pciid slot = { 0, 1, 0, -1 };

	fx_host_single(fx);
	fx_pci(fx, "0000:01:00.2", 0x10de, 0x1ad8, 0x0c0330, "xhci_hcd", 14);
	fx_pci(fx, "0000:01:00.3", 0x10de, 0x1ad9, 0x0c8000, "nvidia-gpu", 14);
	fx_pci_attr(fx, "0000:01:00.1", "driver_override", "vfio-pci");
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.0", &d), 0);
	ck_assert_uint_eq(d.vendor, 0x10de);
	ck_assert_uint_eq(d.class, 0x030000);
	ck_assert_uint_eq(d.sub_vendor, 0x1043);
	ck_assert_str_eq(d.driver, "nvidia");
	ck_assert_str_eq(d.override, "");
	ck_assert_int_eq(d.iommu_group, 14);
	ck_assert_int_eq(d.boot_vga, 1);
	ck_assert_str_eq(d.power_state, "D0");
	ck_assert_uint_eq(d.drm.n, 2);
	ck_assert_str_eq(d.drm.v[0], "card0");
	ck_assert_uint_eq(d.fbs.n, 1);
	ck_assert(gh_pci_is_display(&d));
	ck_assert_str_eq(gh_pci_default_driver(&d), "nvidia");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.1", &d), 0);
	ck_assert_str_eq(d.override, "vfio-pci");
	ck_assert_int_eq(d.boot_vga, -1);
	ck_assert_str_eq(gh_pci_default_driver(&d), "snd_hda_intel");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.2", &d), 0);
	ck_assert_str_eq(gh_pci_default_driver(&d), "xhci_hcd");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.3", &d), 0);
	ck_assert_str_eq(d.driver, "nvidia-gpu");
	ck_assert_str_eq(gh_pci_default_driver(&d), "nvidia-gpu");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:09:00.0", &d), -ENOENT);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "../../../etc", &d), -EINVAL);

	ck_assert_int_eq(gh_pci_slot_functions(fx->ctx, &slot, &sv), 0);
	ck_assert_uint_eq(sv.n, 4);
	ck_assert_str_eq(sv.v[3], "0000:01:00.3");
	gh_strv_free(&sv);
	ck_assert_int_eq(gh_pci_group_members(fx->ctx, 14, &sv), 0);
	ck_assert_uint_eq(sv.n, 4);
	gh_strv_free(&sv);
	ck_assert_int_eq(gh_pci_driver_devices(fx->ctx, "nvidia", &sv), 0);
	ck_assert_uint_eq(sv.n, 1);
	gh_strv_free(&sv);
	ck_assert_int_eq(gh_pci_nvidia_minor(fx->ctx, "0000:01:00.0"), 0);
	ck_assert_int_lt(gh_pci_nvidia_minor(fx->ctx, "0000:01:00.1"), 0);
	fx_free(fx);
}
END_TEST

START_TEST(pci_bad_attribute)
{
	struct fx *fx = fx_new();
	struct gh_pci_dev d;

	fx_host_single(fx);
	fx_pci_attr(fx, "0000:01:00.0", "vendor", "0x10\x1b[2Jde");
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.0", &d), -EINVAL);
	ck_assert(fx_log_has(fx, "/sys/bus/pci/devices/0000:01:00.0/vendor: not a number: \"0x10\\x1b[2Jde\""));
	fx_free(fx);
}
END_TEST

START_TEST(console_on_the_card)
{
	struct fx *fx = fx_new();
	struct gh_console con;
	const struct gh_vtcon *vts[4];

	fx_host_single(fx);
	fx_file(fx, "/sys/class/vtconsole/vtcon10/name", "(M) frame buffer device\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon10/bind", "0\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon2/name", "(M) frame buffer device\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon2/bind", "1\n");
	ck_assert_int_eq(gh_console_read(fx->ctx, &con), 0);
	ck_assert_uint_eq(con.n_vt, 4);
	ck_assert_str_eq(con.vt[2].id, "vtcon2");
	ck_assert_str_eq(con.vt[3].id, "vtcon10");
	ck_assert(!con.vt[0].fbcon);
	ck_assert(con.vt[1].fbcon && con.vt[1].bound);
	ck_assert_uint_eq(gh_console_bound_fbcons(&con, vts, 4), 2);
	ck_assert_uint_eq(con.n_fb, 1);
	ck_assert_str_eq(con.fb[0].name, "nvidia-drmdrmfb");
	ck_assert_ptr_nonnull(gh_console_fb_on(&con, "0000:01:00.0"));
	ck_assert_ptr_null(gh_console_fb_on(&con, "0000:01:00.1"));
	ck_assert_uint_eq(con.n_fw, 0);
	gh_console_free(&con);
	fx_free(fx);
}
END_TEST

START_TEST(console_on_firmware_fb)
{
	struct fx *fx = fx_new();
	struct gh_console con;

	fx_file(fx, "/proc/fb", "0 EFI VGA\n");
	fx_mkdir(fx, "/sys/devices/platform/efi-framebuffer.0/graphics/fb0");
	fx_link(fx, "/sys/class/graphics/fb0", "../../devices/platform/efi-framebuffer.0/graphics/fb0");
	fx_link(fx, "/sys/devices/platform/efi-framebuffer.0/graphics/fb0/device", "../../../efi-framebuffer.0");
	fx_link(fx, "/sys/bus/platform/devices/efi-framebuffer.0", "../../../devices/platform/efi-framebuffer.0");
	fx_mkdir(fx, "/sys/bus/platform/drivers/efi-framebuffer");
	fx_link(fx, "/sys/devices/platform/efi-framebuffer.0/driver", "../../../bus/platform/drivers/efi-framebuffer");
	ck_assert_int_eq(gh_console_read(fx->ctx, &con), 0);
	ck_assert_uint_eq(con.n_fb, 1);
	ck_assert_str_eq(con.fb[0].name, "EFI VGA");
	ck_assert_str_eq(con.fb[0].device, "efi-framebuffer.0");
	ck_assert_uint_eq(con.n_fw, 1);
	ck_assert_str_eq(con.fw[0].driver, "efi-framebuffer");
	gh_console_free(&con);
	fx_free(fx);
}
END_TEST

START_TEST(module_stack_order)
{
	struct fx *fx = fx_new();
	struct gh_modset set;

	fx_module(fx, "nvidia", 3, "nvidia_modeset", "nvidia_uvm", "nvidia_peermem", NULL);
	fx_module(fx, "nvidia_modeset", 1, "nvidia_drm", NULL);
	fx_module(fx, "nvidia_drm", 0, NULL);
	fx_module(fx, "nvidia_uvm", 0, NULL);
	fx_module(fx, "nvidia_peermem", 0, NULL);
	fx_module(fx, "ib_core", 1, "nvidia_peermem", NULL);
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "nvidia", &set), 0);
	ck_assert_uint_eq(set.n, 5);
	ck_assert_str_eq(set.v[0].name, "nvidia_drm");
	ck_assert_str_eq(set.v[1].name, "nvidia_modeset");
	ck_assert_str_eq(set.v[2].name, "nvidia_peermem");
	ck_assert_str_eq(set.v[3].name, "nvidia_uvm");
	ck_assert_str_eq(set.v[4].name, "nvidia");
	ck_assert_int_eq(set.v[4].refcnt, 3);
	ck_assert_int_eq(set.v[4].state, GH_MOD_LIVE);
	gh_modules_free(&set);

	ck_assert_int_eq(gh_modules_stack(fx->ctx, "nouveau", &set), 0);
	ck_assert_uint_eq(set.n, 0);
	fx_mkdir(fx, "/sys/module/xhci_hcd/parameters");
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "xhci_hcd", &set), 0);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_int_eq(set.v[0].state, GH_MOD_BUILTIN);
	gh_modules_free(&set);

	fx_link(fx, "/sys/module/nvidia_drm/holders/nvidia", "../../nvidia");
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "nvidia", &set), -ELOOP);
	ck_assert(fx_log_has(fx, "cycle"));
	ck_assert(gh_modules_name_eq("nvidia-drm", "nvidia_drm"));
	ck_assert(!gh_modules_name_eq("nvidia", "nvidia_drm"));
	fx_free(fx);
}
END_TEST

START_TEST(holders_fd_maps_and_cgroups)
{
	struct fx *fx = fx_new();
	struct gh_strv pat = { 0 };
	struct gh_holder_set set;
	char desc[512], maps[512];

	fx_node(fx, "/dev/dri/card0", "/dev/tty");
	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	fx_node(fx, "/dev/nvidia-caps/nvidia-cap1", "/dev/full");
	fx_proc(fx, 10, "Xorg", "/usr/lib/xorg/Xorg", "/system.slice/gdm.service");
	fx_proc_fd(fx, 10, 5, "/dev/dri/card0");
	fx_proc_fd(fx, 10, 6, "socket:[1]");
	fx_proc(fx, 11, "cuda\x1b[31m", "python", "/lxc/105/ns/system.slice/x.service");
	ck_assert_int_lt(snprintf(maps, sizeof(maps), "7f00-7f01 rw-s 00000000 %s /dev/nvidia0\n7f02-7f03 r-xp 0 08:01 9 "
				  "/usr/lib/libc.so\n", fx_node_id(fx, "/dev/nvidia0")), (int)sizeof(maps));
	fx_proc_maps(fx, 11, maps);
	fx_proc(fx, 12, "bash", "bash", "/user.slice/user-0.slice/session-4.scope");
	fx_proc_fd(fx, 12, 1, "/dev/pts/0");
	fx_proc(fx, 13, "kwin", "kwin_wayland",
		"/user.slice/user-1000.slice/user@1000.service/app.slice/plasma-kwin_wayland.service");
	fx_proc_fd(fx, 13, 9, "/dev/nvidia-caps/nvidia-cap1");
	fx_mkdir(fx, "/proc/14");	/* went away while we looked */
	gh_strv_push(&pat, "/dev/dri/card0");
	gh_strv_push(&pat, "/dev/nvidia0");
	gh_strv_push(&pat, "/dev/nvidia-caps/*");
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &pat, &set), 0);
	ck_assert_uint_eq(set.n, 3);
	ck_assert_int_eq(set.v[0].pid, 10);
	ck_assert_str_eq(set.v[0].unit, "gdm.service");
	ck_assert_str_eq(set.v[0].paths.v[0], "/dev/dri/card0 (fd 5)");
	ck_assert_int_eq(set.v[1].pid, 11);
	ck_assert_str_eq(set.v[1].container, "105");
	ck_assert_str_eq(set.v[1].paths.v[0], "/dev/nvidia0 (mmap)");
	ck_assert_str_eq(set.v[2].unit, "plasma-kwin_wayland.service");
	ck_assert_int_eq(gh_holders_describe(&set.v[1], desc, sizeof(desc)), 0);
	ck_assert_str_eq(desc, "pid 11 (cuda\\x1b[31m, LXC container 105): /dev/nvidia0 (mmap)");
	gh_holders_free(&set);
	gh_strv_free(&pat);
	fx_free(fx);
}
END_TEST

START_TEST(cgroup_paths)
{
	char unit[64], ct[16];

	gh_holders_parse_cgroup("/system.slice/nvidia-persistenced.service", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "nvidia-persistenced.service");
	ck_assert_str_eq(ct, "");
	gh_holders_parse_cgroup("/user.slice/user-1000.slice/session-2.scope", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "session-2.scope");
	gh_holders_parse_cgroup("/lxc.payload.201/init.scope", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(ct, "201");
	ck_assert_str_eq(unit, "");
	gh_holders_parse_cgroup("/", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "");
}
END_TEST

START_TEST(services_alias_and_state)
{
	struct fx *fx = fx_new();
	char unit[64];

	fx_link(fx, "/etc/systemd/system/display-manager.service", "/lib/systemd/system/gdm3.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "display-manager.service", unit, sizeof(unit)), 0);
	ck_assert_str_eq(unit, "gdm3.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "sddm.service", unit, sizeof(unit)), 0);
	ck_assert_str_eq(unit, "sddm.service");
	ck_assert_int_eq(gh_services_resolve(fx->ctx, "../etc.service;rm", unit, sizeof(unit)), -EINVAL);
	fx_file(fx, "/sys/fs/cgroup/system.slice/gdm3.service/cgroup.procs", "777\n");
	fx_file(fx, "/sys/fs/cgroup/system.slice/idle.service/cgroup.procs", "%s", "");
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "gdm3.service"), 1);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "idle.service"), 0);
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "absent.service"), 0);
	ck_assert(gh_services_valid_name("getty@tty1.service"));
	ck_assert(!gh_services_valid_name("nvidia-persistenced"));
	ck_assert(!gh_services_valid_name("a b.service"));
	fx_free(fx);
}
END_TEST

START_TEST(running_vms)
{
	struct fx *fx = fx_new();
	unsigned owner = 0;
	pid_t pid;

	fx_file(fx, "/var/run/qemu-server/200.pid", "4000\n");
	fx_proc(fx, 4000, "kvm", "/usr/bin/kvm -id 200 -pidfile /var/run/qemu-server/200.pid "
				  "-device vfio-pci,host=0000:02:00.0,id=hostpci0.0", "/qemu.slice/200.scope");
	/* A stale pid file: the pid now belongs to something else. */
	fx_file(fx, "/var/run/qemu-server/201.pid", "4001\n");
	fx_proc(fx, 4001, "bash", "bash -pidfile /var/run/qemu-server/999.pid host=0000:03:00.0", NULL);
	fx_file(fx, "/var/run/qemu-server/202.pid", "4002\n");
	fx_proc(fx, 4002, "kvm", "kvm -pidfile /var/run/qemu-server/202.pid -device vfio-pci,host=04:00.0,x-vga=on",
		NULL);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 200, &pid), 0);
	ck_assert_int_eq(pid, 4000);
	ck_assert_int_eq(gh_vms_pid(fx->ctx, 201, &pid), -ENOENT);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 200);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 200, "0000:02:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:02:00.1", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:03:00.0", &owner), 0);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:04:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 202);
	/* PVE's reservation for a running VM counts; for a stopped one it does not. */
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:05:00.0 200 time:1700000000\n0000:06:00.0 300 pid:1\n");
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:05:00.0", &owner), 1);
	ck_assert_uint_eq(owner, 200);
	ck_assert_int_eq(fx_vms_owner(fx->ctx, 111, "0000:06:00.0", &owner), 0);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("discovery");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, pci_reads_a_turing_card);
	tcase_add_test(tc, pci_bad_attribute);
	tcase_add_test(tc, console_on_the_card);
	tcase_add_test(tc, console_on_firmware_fb);
	tcase_add_test(tc, module_stack_order);
	tcase_add_test(tc, holders_fd_maps_and_cgroups);
	tcase_add_test(tc, cgroup_paths);
	tcase_add_test(tc, services_alias_and_state);
	tcase_add_test(tc, running_vms);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
