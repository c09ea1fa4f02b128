/* SPDX-License-Identifier: MIT */
/* The device nodes of a function, from its sysfs tree (gh_holders_nodes_add_sysfs). */
#include <limits.h>
#include <stdio.h>
#include <sys/sysmacros.h>

#include "fixture.h"
#include "holders.h"

/* Whatever the kernel registered under a function counts, however deep; nothing outside it does. */
START_TEST(nodes_from_sysfs)
{
	static const char *const usb = "usb3/3-1/3-1.2/3-1.2:1.0/0003:046D:C52B.0001";
	struct fx *fx = fx_new();
	struct gh_holder_nodes nodes = { 0 };
	char rel[PATH_MAX];

	fx_pci(fx, "0000:01:00.2", 0x10de, 0x1ad8, 0x0c0330, "xhci_hcd", 14);
	snprintf(rel, sizeof(rel), "%s/hidraw/hidraw0", usb);
	fx_sysfs_dev(fx, "0000:01:00.2", rel, "1:5", "hidraw0");
	snprintf(rel, sizeof(rel), "%s/input/input5/event5", usb);
	fx_sysfs_dev(fx, "0000:01:00.2", rel, "1:7", "input/event5");
	fx_sysfs_dev(fx, "0000:01:00.2", "usb3/3-1", "189:1", "bus/usb/003/002");
	/* A disk behind the port, a device without DEVNAME, a link out of the tree, another function. */
	fx_sysfs_dev(fx, "0000:01:00.2", "usb3/3-1/3-1.4/host0/target0:0:0/0:0:0:0/block/sdb", "8:16", "sdb");
	fx_link(fx, "/sys/devices/pci0000:00/0000:01:00.2/usb3/3-1/3-1.4/host0/target0:0:0/0:0:0:0/block/sdb/subsystem",
		"../../../../../../../../../../class/block");
	fx_file(fx, "/sys/devices/pci0000:00/0000:01:00.2/usb3/3-1/ttyUSB0/dev", "188:0\n");
	fx_sysfs_dev(fx, "0000:00:1f.0", "misc/x", "10:1", "x");
	fx_link(fx, "/sys/devices/pci0000:00/0000:01:00.2/firmware_node", "../0000:00:1f.0");
	fx_sysfs_dev(fx, "0000:01:00.2", "0000:02:00.0/drm/card9", "226:9", "dri/card9");
	/* Attribute directories are not walked (a dev file there is the fixture's, never the kernel's). */
	fx_sysfs_dev(fx, "0000:01:00.2", "usb3/3-1/widgets/02", "116:2", "snd/x");
	fx_sysfs_dev(fx, "0000:01:00.2", "msi_irqs/x", "116:3", "snd/y");
	fx_node(fx, "/dev/input/event5", "/dev/full");
	fx_node(fx, "/dev/hidraw0", "/dev/random");	/* not what sysfs says hidraw0 is: no inode for the maps */
	ck_assert_int_eq(gh_holders_nodes_add_sysfs(fx->ctx, &nodes, "0000:01:00.2"), 0);
	ck_assert_uint_eq(nodes.n, 4);
	/* Directory order is the filesystem's: look each up. */
	for (unsigned i = 0; i < nodes.n; i++) {
		const struct gh_holder_node *n = &nodes.v[i];

		if (n->rdev == makedev(1, 5)) {
			ck_assert_str_eq(n->path, "/dev/hidraw0");
			ck_assert_uint_eq(n->ino, 0);
		} else if (n->rdev == makedev(1, 7)) {
			ck_assert_str_eq(n->path, "/dev/input/event5");
			ck_assert_uint_ne(n->ino, 0);
		} else if (n->rdev == makedev(189, 1)) {
			ck_assert_str_eq(n->path, "/dev/bus/usb/003/002");
		} else {
			ck_assert_uint_eq(n->rdev, makedev(188, 0));
			ck_assert_str_eq(n->path, "/dev/char/188:0");
		}
	}
	gh_holders_nodes_free(&nodes);
	ck_assert_int_eq(gh_holders_nodes_add_sysfs(fx->ctx, &nodes, "0000:09:00.0"), 0);
	ck_assert_uint_eq(nodes.n, 0);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("holders_nodes");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, nodes_from_sysfs);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
