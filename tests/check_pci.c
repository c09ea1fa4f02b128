/* SPDX-License-Identifier: MIT */
/* PCI functions read from a fixture sysfs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "pci.h"
#include "timebox.h"

/* A Turing card: VGA, HDA, xHCI (built-in xhci_hcd), UCSI (nvidia-gpu), one group. */
static void turing(struct fx *fx)
{
	fx_pci(fx, "0000:00:01.0", 0x8086, 0xa70d, 0x060400, "pcieport", 2);
	fx_pci(fx, "0000:01:00.0", 0x10de, 0x1e84, 0x030000, "nvidia", 14);
	fx_pci(fx, "0000:01:00.1", 0x10de, 0x10f8, 0x040300, "snd_hda_intel", 14);
	fx_pci(fx, "0000:01:00.2", 0x10de, 0x1ad8, 0x0c0330, "xhci_hcd", 14);
	fx_pci(fx, "0000:01:00.3", 0x10de, 0x1ad9, 0x0c8000, "nvidia-gpu", 14);
}

START_TEST(turing_card_four_functions)
{
	static const struct {
		const char *addr;
		unsigned device, class;
		const char *driver, *host_driver;
		int boot_vga;
	} want[] = {
		{ "0000:01:00.0", 0x1e84, 0x030000, "nvidia", "nvidia", 0 },
		{ "0000:01:00.1", 0x10f8, 0x040300, "snd_hda_intel", "snd_hda_intel", -1 },
		{ "0000:01:00.2", 0x1ad8, 0x0c0330, "xhci_hcd", "xhci_hcd", -1 },
		{ "0000:01:00.3", 0x1ad9, 0x0c8000, "nvidia-gpu", "nvidia-gpu", -1 },
	};
	struct fx *fx = fx_new();

	turing(fx);
	for (size_t i = 0; i < GH_ARRAY_SIZE(want); i++) {
		struct gh_pci_dev d;

		ck_assert_int_eq(gh_pci_read(fx->ctx, want[i].addr, &d), 0);
		ck_assert_str_eq(d.addr, want[i].addr);
		ck_assert_uint_eq(d.vendor, 0x10de);
		ck_assert_uint_eq(d.device, want[i].device);
		ck_assert_uint_eq(d.class, want[i].class);
		ck_assert_uint_eq(d.sub_vendor, 0x10de);
		ck_assert_uint_eq(d.sub_device, want[i].device);
		ck_assert_str_eq(d.driver, want[i].driver);
		ck_assert_str_eq(d.override, "");
		ck_assert_int_eq(d.iommu_group, 14);
		ck_assert_int_eq(d.boot_vga, want[i].boot_vga);
		ck_assert_str_eq(d.power_state, "D0");
		ck_assert_uint_eq(d.drm.n, 0);
		ck_assert_uint_eq(d.fbs.n, 0);
		ck_assert_str_eq(gh_pci_default_driver(&d), want[i].host_driver);
		ck_assert(gh_pci_is_display(&d) == (i == 0));
		ck_assert(!gh_pci_is_bridge(&d));
		gh_pci_dev_free(&d);
	}
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(gpu_with_console_nodes)
{
	struct fx *fx = fx_new();
	struct gh_pci_dev d;

	fx_host_single(fx);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.0", &d), 0);
	ck_assert_uint_eq(d.device, 0x2684);
	ck_assert_uint_eq(d.sub_vendor, 0x1043);
	ck_assert_uint_eq(d.sub_device, 0x889c);
	ck_assert_int_eq(d.boot_vga, 1);
	ck_assert_uint_eq(d.drm.n, 2);
	ck_assert_str_eq(d.drm.v[0], "card0");
	ck_assert_str_eq(d.drm.v[1], "renderD128");
	ck_assert_uint_eq(d.fbs.n, 1);
	ck_assert_str_eq(d.fbs.v[0], "fb0");
	gh_pci_dev_free(&d);
	ck_assert_ptr_null(d.drm.v);
	ck_assert_ptr_null(d.fbs.v);

	/* The root port: a bridge, no boot_vga, no default driver. */
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:00:01.0", &d), 0);
	ck_assert(gh_pci_is_bridge(&d));
	ck_assert_str_eq(d.driver, "pcieport");
	ck_assert_int_eq(d.iommu_group, 2);
	ck_assert_int_eq(d.boot_vga, -1);
	ck_assert_ptr_null(gh_pci_default_driver(&d));
	gh_pci_dev_free(&d);
	fx_free(fx);
}
END_TEST

/* What a reader leaves out is neither read nor able to fail it; what it asks for is read as gh_pci_read reads it. */
START_TEST(read_parts_reads_only_what_is_asked)
{
	struct fx *fx = fx_new();
	struct gh_pci_dev d;

	fx_host_single(fx);
	fx_pci_attr(fx, "0000:01:00.0", "subsystem_vendor", "asus");
	ck_assert_int_eq(gh_pci_read_parts(fx->ctx, "0000:01:00.0", 0, &d), 0);
	ck_assert_uint_eq(d.device, 0x2684);
	ck_assert_str_eq(d.driver, "nvidia");
	ck_assert_int_eq(d.iommu_group, 14);
	ck_assert_uint_eq(d.sub_vendor, 0);
	ck_assert_uint_eq(d.sub_device, 0);
	ck_assert_int_eq(d.boot_vga, -1);
	ck_assert_str_eq(d.power_state, "");
	ck_assert_uint_eq(d.drm.n, 0);
	ck_assert_uint_eq(d.fbs.n, 0);
	gh_pci_dev_free(&d);
	ck_assert_int_eq(fx->n_errors, 0);

	ck_assert_int_eq(gh_pci_read_parts(fx->ctx, "0000:01:00.0", GH_PCI_BOOT_VGA | GH_PCI_POWER | GH_PCI_NODES, &d), 0);
	ck_assert_uint_eq(d.sub_vendor, 0);
	ck_assert_int_eq(d.boot_vga, 1);
	ck_assert_str_eq(d.power_state, "D0");
	ck_assert_uint_eq(d.drm.n, 2);
	ck_assert_uint_eq(d.fbs.n, 1);
	gh_pci_dev_free(&d);
	ck_assert_int_eq(fx->n_errors, 0);

	/* Asked for, the bad value fails the read as it always did. */
	ck_assert_int_eq(gh_pci_read_parts(fx->ctx, "0000:01:00.0", GH_PCI_SUBSYS, &d), -EINVAL);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.0", &d), -EINVAL);
	ck_assert(fx_log_has(fx, "subsystem_vendor"));
	fx_free(fx);
}
END_TEST

START_TEST(driver_override_values)
{
	struct fx *fx = fx_new();
	struct gh_pci_dev d;

	turing(fx);
	fx_pci_attr(fx, "0000:01:00.1", "driver_override", "vfio-pci");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.2/driver_override");
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.0", &d), 0);
	ck_assert_str_eq(d.override, "");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.1", &d), 0);
	ck_assert_str_eq(d.override, "vfio-pci");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.2", &d), 0);
	ck_assert_str_eq(d.override, "");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

/*
 * A remove() stuck in the kernel holds the device lock, and the kernel's
 * driver_override_show() takes it: a reader sleeps until remove() returns.
 * A FIFO that nobody writes blocks its reader in open() the same way.
 */
static void lock_held(struct fx *fx, const char *addr)
{
	char p[128];

	snprintf(p, sizeof(p), "/sys/devices/pci0000:00/%s/driver_override", addr);
	fx_rm(fx, p);
	ck_assert_int_eq(mkfifo(fx_path(fx, p), 0644), 0);
}

START_TEST(wedged_override_is_read_in_a_child)
{
	struct fx *fx = fx_new();
	unsigned long long t0, ms;
	struct gh_pci_dev d;

	turing(fx);
	fx_pci(fx, "0000:02:00.0", 0x8086, 0x1533, 0x020000, "igb", 20);
	/* __device_release_driver drops the driver link before it calls remove(). */
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.0/driver");
	lock_held(fx, "0000:01:00.0");
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.0", &d), 0);
	ms = gh_timebox_now_ms() - t0;
	ck_assert_msg(ms >= GH_PCI_LOCK_WAIT_MS - 50 && ms < GH_PCI_LOCK_WAIT_MS + 1500, "%llu ms", ms);
	ck_assert(d.wedged);
	ck_assert_str_eq(d.override, "");
	ck_assert_str_eq(d.driver, "");
	/* The rest of the function takes no lock and is read as usual. */
	ck_assert_uint_eq(d.device, 0x1e84);
	ck_assert_int_eq(d.iommu_group, 14);
	gh_pci_dev_free(&d);
	ck_assert_msg(fx_log_has(fx, "0000:01:00.0/driver_override: no answer within 1000 ms"), "%s", fx->log);
	ck_assert_int_eq(gh_pci_lock_stuck(fx->ctx, "0000:01:00.0"), 1);

	/* A function that answers: its value comes back from the child, and it is not wedged. */
	fx_pci_attr(fx, "0000:01:00.1", "driver_override", "vfio-pci");
	ck_assert_int_eq(gh_pci_lock_stuck(fx->ctx, "0000:01:00.1"), 0);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.1", &d), 0);
	ck_assert(!d.wedged);
	ck_assert_str_eq(d.override, "vfio-pci");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:02:00.0", &d), 0);
	ck_assert(!d.wedged);
	gh_pci_dev_free(&d);

	/* A function a journal holds, stuck in its driver's probe(): the link shows that driver. */
	lock_held(fx, "0000:02:00.0");
	gh_pci_suspect(fx->ctx, "0000:02:00.0");
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:02:00.0", &d), 0);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, GH_PCI_LOCK_WAIT_MS + 1500);
	ck_assert(d.wedged);
	ck_assert_str_eq(d.driver, "igb");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(unbound_without_group_or_power_state)
{
	struct fx *fx = fx_new();
	struct gh_pci_dev d;

	fx_pci(fx, "0000:05:00.0", 0x10de, 0x2204, 0x030200, NULL, -1);
	fx_rm(fx, "/sys/devices/pci0000:00/0000:05:00.0/power_state");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:05:00.0/subsystem_vendor");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:05:00.0/subsystem_device");
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:05:00.0", &d), 0);
	ck_assert_str_eq(d.driver, "");
	ck_assert_int_eq(d.iommu_group, -1);
	ck_assert_str_eq(d.power_state, "");
	ck_assert_uint_eq(d.sub_vendor, 0);
	/* A 3D controller is a display function too. */
	ck_assert(gh_pci_is_display(&d));
	ck_assert_str_eq(gh_pci_default_driver(&d), "nvidia");
	gh_pci_dev_free(&d);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(bad_attribute_names_file_and_value)
{
	struct fx *fx = fx_new();
	struct gh_pci_dev d;

	turing(fx);
	fx_pci_attr(fx, "0000:01:00.0", "vendor", "0x10\x1b[2Jde");
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.0", &d), -EINVAL);
	ck_assert_int_eq(fx->n_errors, 1);
	ck_assert(fx_log_has(fx, "/sys/bus/pci/devices/0000:01:00.0/vendor: not a number: \"0x10\\x1b[2Jde\""));
	ck_assert_ptr_null(d.drm.v);

	fx_log_clear(fx);
	fx_pci_attr(fx, "0000:01:00.1", "class", "0x1040300");	/* more than 24 bits */
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.1", &d), -EINVAL);
	ck_assert(fx_log_has(fx, "/sys/bus/pci/devices/0000:01:00.1/class: not a number: \"0x1040300\""));

	fx_log_clear(fx);
	fx_pci_attr(fx, "0000:01:00.2", "subsystem_device", "");
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.2", &d), -EINVAL);
	ck_assert(fx_log_has(fx, "0000:01:00.2/subsystem_device: not a number: \"\""));

	fx_log_clear(fx);
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.3/device");
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:01:00.3", &d), -EINVAL);
	ck_assert(fx_log_has(fx, "/sys/bus/pci/devices/0000:01:00.3/device: missing"));
	ck_assert_int_eq(fx->n_errors, 1);
	fx_free(fx);
}
END_TEST

START_TEST(absent_and_invalid_addresses)
{
	static const char *const bad[] = { "0000:01:00", "01:00.0", "0000:01:00.8", "0000:01:00.0/..",
					   "../../../etc", "0000:01:00.0 ", "0000:0A:00.0", "" };
	struct fx *fx = fx_new();
	struct gh_pci_dev d;

	turing(fx);
	ck_assert_int_eq(gh_pci_read(fx->ctx, "0000:09:00.0", &d), -ENOENT);
	ck_assert_int_eq(d.iommu_group, -1);
	ck_assert_int_eq(d.boot_vga, -1);
	for (size_t i = 0; i < GH_ARRAY_SIZE(bad); i++)
		ck_assert_msg(gh_pci_read(fx->ctx, bad[i], &d) == -EINVAL, "%s", bad[i]);
	/* Callers decide whether an absent device is an error. */
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(group_members_with_a_foreign_sibling)
{
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };

	turing(fx);
	fx_pci(fx, "0000:02:00.0", 0x8086, 0x15f3, 0x020000, "igc", 14);
	fx_pci(fx, "0000:03:00.0", 0x8086, 0x15f3, 0x020000, "igc", 15);
	ck_assert_int_eq(gh_pci_group_members(fx->ctx, 14, &sv), 0);
	ck_assert_uint_eq(sv.n, 5);
	ck_assert_str_eq(sv.v[0], "0000:01:00.0");
	ck_assert_str_eq(sv.v[3], "0000:01:00.3");
	ck_assert_str_eq(sv.v[4], "0000:02:00.0");
	gh_strv_free(&sv);
	ck_assert_int_eq(gh_pci_group_members(fx->ctx, 15, &sv), 0);
	ck_assert_uint_eq(sv.n, 1);
	gh_strv_free(&sv);
	ck_assert_int_eq(gh_pci_group_members(fx->ctx, 99, &sv), 0);
	ck_assert_uint_eq(sv.n, 0);
	ck_assert_int_eq(gh_pci_group_members(fx->ctx, -1, &sv), -EINVAL);
	fx_free(fx);
}
END_TEST

START_TEST(slot_functions_and_list)
{
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_pciid slot = { 0, 1, 0, -1 }, fn = { 0, 1, 0, 2 };

	turing(fx);
	fx_pci(fx, "0000:01:01.0", 0x10de, 0x1e84, 0x030000, "nvidia", 16);
	fx_pci(fx, "0001:01:00.0", 0x10de, 0x1e84, 0x030000, "nvidia", 17);
	fx_pci(fx, "0000:11:00.0", 0x10de, 0x1e84, 0x030000, "nvidia", 18);
	ck_assert_int_eq(gh_pci_slot_functions(fx->ctx, &slot, &sv), 0);
	ck_assert_uint_eq(sv.n, 4);
	for (size_t i = 0; i < sv.n; i++)
		ck_assert(!strncmp(sv.v[i], "0000:01:00.", 11));
	gh_strv_free(&sv);
	/* A function id stands for its slot. */
	ck_assert_int_eq(gh_pci_slot_functions(fx->ctx, &fn, &sv), 0);
	ck_assert_uint_eq(sv.n, 4);
	gh_strv_free(&sv);

	fx_file(fx, "/sys/bus/pci/devices/not-a-device", "x\n");
	ck_assert_int_eq(gh_pci_list(fx->ctx, &sv), 0);
	ck_assert_uint_eq(sv.n, 8);
	ck_assert_str_eq(sv.v[0], "0000:00:01.0");
	ck_assert_str_eq(sv.v[5], "0000:01:01.0");
	ck_assert_str_eq(sv.v[6], "0000:11:00.0");
	ck_assert_str_eq(sv.v[7], "0001:01:00.0");
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(drivers_modules_and_bound_devices)
{
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	char mod[64];

	turing(fx);
	fx_pci(fx, "0000:02:00.0", 0x10de, 0x1e84, 0x030000, "nvidia", 20);
	fx_file(fx, "/sys/bus/pci/drivers/nvidia/bind", "%s", "");
	fx_file(fx, "/sys/bus/pci/drivers/nvidia/new_id", "%s", "");
	fx_driver(fx, "vfio-pci", "vfio_pci");
	ck_assert_int_eq(gh_pci_driver_module(fx->ctx, "nvidia", mod, sizeof(mod)), 0);
	ck_assert_str_eq(mod, "nvidia");
	ck_assert_int_eq(gh_pci_driver_module(fx->ctx, "nvidia-gpu", mod, sizeof(mod)), 0);
	ck_assert_str_eq(mod, "i2c_nvidia_gpu");
	ck_assert_int_eq(gh_pci_driver_module(fx->ctx, "vfio-pci", mod, sizeof(mod)), 0);
	ck_assert_str_eq(mod, "vfio_pci");
	ck_assert_int_eq(gh_pci_driver_module(fx->ctx, "xhci_hcd", mod, sizeof(mod)), -ENOENT);
	ck_assert_int_eq(gh_pci_driver_module(fx->ctx, "nvidia", mod, 4), -ENAMETOOLONG);
	ck_assert_int_eq(gh_pci_driver_module(fx->ctx, "..", mod, sizeof(mod)), -EINVAL);
	ck_assert_int_eq(gh_pci_driver_module(fx->ctx, "a/b", mod, sizeof(mod)), -EINVAL);

	ck_assert_int_eq(gh_pci_driver_devices(fx->ctx, "nvidia", &sv), 0);
	ck_assert_uint_eq(sv.n, 2);
	ck_assert_str_eq(sv.v[0], "0000:01:00.0");
	ck_assert_str_eq(sv.v[1], "0000:02:00.0");
	gh_strv_free(&sv);
	ck_assert_int_eq(gh_pci_driver_devices(fx->ctx, "vfio-pci", &sv), 0);
	ck_assert_uint_eq(sv.n, 0);
	ck_assert_int_eq(gh_pci_driver_devices(fx->ctx, "nouveau", &sv), 0);
	ck_assert_uint_eq(sv.n, 0);
	ck_assert_int_eq(gh_pci_driver_devices(fx->ctx, "../../..", &sv), -EINVAL);
	fx_free(fx);
}
END_TEST

START_TEST(classes_and_default_drivers)
{
	static const struct {
		unsigned vendor, class;
		bool bridge, display;
		const char *drv;
	} t[] = {
		{ 0x8086, 0x060400, true, false, NULL },	/* PCIe root port */
		{ 0x1022, 0x060401, true, false, NULL },	/* subtractive decode */
		{ 0x8086, 0x060000, false, false, NULL },	/* host bridge */
		{ 0x8086, 0x060100, false, false, NULL },	/* ISA/LPC bridge */
		{ 0x10de, 0x030000, false, true, "nvidia" },
		{ 0x10de, 0x030200, false, true, "nvidia" },
		{ 0x1002, 0x030000, false, true, NULL },
		{ 0x1002, 0x040300, false, false, "snd_hda_intel" },
		{ 0x10de, 0x040100, false, false, NULL },	/* plain audio, not HDA */
		{ 0x1b21, 0x0c0330, false, false, "xhci_hcd" },
		{ 0x10de, 0x0c0320, false, false, NULL },	/* EHCI */
		{ 0x10de, 0x0c8000, false, false, "nvidia-gpu" },
		{ 0x8086, 0x0c8000, false, false, NULL },
	};

	for (size_t i = 0; i < GH_ARRAY_SIZE(t); i++) {
		struct gh_pci_dev d = { .vendor = t[i].vendor, .class = t[i].class };
		const char *drv = gh_pci_default_driver(&d);

		ck_assert_msg(gh_pci_is_bridge(&d) == t[i].bridge, "bridge %06x", t[i].class);
		ck_assert_msg(gh_pci_is_display(&d) == t[i].display, "display %06x", t[i].class);
		if (t[i].drv)
			ck_assert_msg(drv && !strcmp(drv, t[i].drv), "driver %04x %06x", t[i].vendor, t[i].class);
		else
			ck_assert_msg(!drv, "no driver %04x %06x", t[i].vendor, t[i].class);
	}
}
END_TEST

START_TEST(nvidia_minor)
{
	struct fx *fx = fx_new();

	fx_host_single(fx);
	fx_file(fx, "/proc/driver/nvidia/gpus/0000:02:00.0/information",
		"Model: \t\t NVIDIA RTX A2000\nIRQ:   \t 160\nDevice Minor: \t 1 \t\nBus Location: \t 0000:02:00.0\n");
	fx_file(fx, "/proc/driver/nvidia/gpus/0000:03:00.0/information", "Model: \t\t x\nDevice Minor: \t one\n");
	fx_file(fx, "/proc/driver/nvidia/gpus/0000:04:00.0/information", "Model: \t\t x\n");
	ck_assert_int_eq(gh_pci_nvidia_minor(fx->ctx, "0000:01:00.0"), 0);
	ck_assert_int_eq(gh_pci_nvidia_minor(fx->ctx, "0000:02:00.0"), 1);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_int_eq(gh_pci_nvidia_minor(fx->ctx, "0000:03:00.0"), -EINVAL);
	ck_assert(fx_log_has(fx, "/proc/driver/nvidia/gpus/0000:03:00.0/information:2: bad Device Minor \"one\""));
	ck_assert_int_eq(gh_pci_nvidia_minor(fx->ctx, "0000:04:00.0"), -ENOENT);
	ck_assert_int_eq(gh_pci_nvidia_minor(fx->ctx, "0000:01:00.1"), -ENOENT);
	ck_assert_int_eq(gh_pci_nvidia_minor(fx->ctx, "../x"), -EINVAL);
	ck_assert_int_eq(fx->n_errors, 1);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pci");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, turing_card_four_functions);
	tcase_add_test(tc, gpu_with_console_nodes);
	tcase_add_test(tc, read_parts_reads_only_what_is_asked);
	tcase_add_test(tc, driver_override_values);
	tcase_add_test(tc, wedged_override_is_read_in_a_child);
	tcase_add_test(tc, unbound_without_group_or_power_state);
	tcase_add_test(tc, bad_attribute_names_file_and_value);
	tcase_add_test(tc, absent_and_invalid_addresses);
	tcase_add_test(tc, group_members_with_a_foreign_sibling);
	tcase_add_test(tc, slot_functions_and_list);
	tcase_add_test(tc, drivers_modules_and_bound_devices);
	tcase_add_test(tc, classes_and_default_drivers);
	tcase_add_test(tc, nvidia_minor);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
