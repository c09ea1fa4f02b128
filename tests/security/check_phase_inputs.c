/* SPDX-License-Identifier: MIT */
/*
 * What a phase reads, and what it may touch, run as Proxmox runs the hook:
 * the built gpu-hook on a fixture root (the simulator as the kernel).
 *
 * Trust boundary: a Proxmox user who may edit a VM's options (name, tags,
 * cores) but not the host. Nothing such a user writes while the VM runs may
 * keep the card, console and services from the host after post-stop. And a
 * handoff takes what was listed, never a neighbour's device: not an SR-IOV
 * PF or its VFs, and nothing of the GPU's for a VM that passes only a NIC.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fs.h"

static struct fx *gpu_host(void)
{
	struct fx *fx = fx_new();

	fx_host_single(fx);
	fx_file(fx, "/lib/systemd/system/nvidia-persistenced.service", "[Service]\n");
	return fx;
}

/* The host as a user sees it: each function's driver and override, the modules, console and service. */
static void host_state(struct fx *fx, char *buf, size_t size)
{
	static const char *const fns[] = { "0000:01:00.0", "0000:01:00.1" };
	static const char *const mods[] = { "nvidia", "nvidia_modeset", "nvidia_drm", "nvidia_uvm" };
	char drv[64], ov[64], bind[8] = "?";
	size_t off = 0;

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		strcpy(drv, "-");
		ov[0] = '\0';
		gh_fs_link_base(fx->ctx, drv, sizeof(drv), "/sys/bus/pci/devices/%s/driver", fns[i]);
		gh_fs_read_str(fx->ctx, ov, sizeof(ov), "/sys/bus/pci/devices/%s/driver_override", fns[i]);
		off += (size_t)snprintf(buf + off, size - off, "%s on %s [%s], ", fns[i], drv, gh_util_trim(ov));
	}
	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
		off += (size_t)snprintf(buf + off, size - off, "%s%s ",
					gh_fs_exists(fx->ctx, "/sys/module/%s", mods[i]) > 0 ? "+" : "-", mods[i]);
	gh_fs_read_str(fx->ctx, bind, sizeof(bind), "/sys/class/vtconsole/vtcon1/bind");
	snprintf(buf + off, size - off, "console %s, persistenced %s", gh_util_trim(bind),
		 gh_fs_exists(fx->ctx, "/sys/fs/cgroup/system.slice/nvidia-persistenced.service") > 0 ? "up" : "down");
}

static void run_ok(struct fx *fx, struct fx_run *r, const char *vmid, const char *phase)
{
	fx_run_hook(r, NULL, vmid, phase, "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s %s: exit %d\n%s%s", vmid, phase, r->status, r->out, r->err);
}

/* Pre-start 111, rewrite its config as a Proxmox user could while it runs, post-stop: the host as it was. */
static void change_while_running(const char *conf, const char *must_not_say)
{
	struct fx *fx = gpu_host();
	struct fx_run *r = calloc(1, sizeof(*r));
	char before[512], during[512], after[512];

	host_state(fx, before, sizeof(before));
	run_ok(fx, r, "111", "pre-start");
	host_state(fx, during, sizeof(during));
	ck_assert_ptr_nonnull(strstr(during, "0000:01:00.0 on vfio-pci"));
	ck_assert_ptr_nonnull(strstr(during, "console 0"));
	fx_vmconf(fx, 111, conf);
	run_ok(fx, r, "111", "pre-stop");
	run_ok(fx, r, "111", "post-stop");
	ck_assert_msg(!strstr(r->err, must_not_say), "post-stop read the config:\n%s", r->err);
	host_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	free(r);
	fx_free(fx);
}

START_TEST(renamed_while_running)
{
	char conf[512];

	snprintf(conf, sizeof(conf), "cores: 4\nhostpci0: 01:00,pcie=1,x-vga=1\nname: %0140d\nsockets: 1\n", 7);
	change_while_running(conf, "longer than");
}
END_TEST

START_TEST(counts_and_options_changed_while_running)
{
	change_while_running("cores: 5000\nhostpci0: 01:00,pcie=1,x-vga=1\nsockets: 4097\n", "cores");
	/* A hostpci option this version does not know, and an entry gone: the journal says what to give back. */
	change_while_running("hostpci0: 01:00,pcie=1,x-vga=1,frobnicate=1\n", "frobnicate");
	change_while_running("hostpci1: 0000:41:00.0\n", "41:00");
}
END_TEST

/* Fields pre-start does not read warn; the hostpci entries it reads still fail with file:line. */
START_TEST(pre_start_reads_hostpci_only)
{
	struct fx *fx = gpu_host();
	struct fx_run *r = calloc(1, sizeof(*r));
	char conf[512], state[512];
	unsigned long digest;

	snprintf(conf, sizeof(conf),
		 "cores: 5000\nhostpci0: 01:00,pcie=1,x-vga=1\nlock: %040d\nname: %0140d\naffinity: 3-1\n", 1, 2);
	fx_vmconf(fx, 111, conf);
	run_ok(fx, r, "111", "pre-start");
	ck_assert_ptr_nonnull(strstr(r->err, "warning: /etc/pve/qemu-server/111.conf:4: name: value longer than 127 "
					     "bytes"));
	ck_assert_ptr_nonnull(strstr(r->err, "warning: /etc/pve/qemu-server/111.conf:1: cores:"));
	ck_assert_ptr_nonnull(strstr(r->err, "111.conf:5: affinity:"));
	host_state(fx, state, sizeof(state));
	ck_assert_ptr_nonnull(strstr(state, "0000:01:00.0 on vfio-pci [vfio-pci]"));
	run_ok(fx, r, "111", "post-stop");

	fx_vmconf(fx, 111, "name: ok\nhostpci0: 01:00,pcie=1,frobnicate=1\n");
	digest = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "111", "pre-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "/etc/pve/qemu-server/111.conf:2: hostpci0: unknown property 'frobnicate'"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), digest);

	/* post-start reads the vCPU count only to pin: without pinning, a bad one warns. */
	fx_vmconf(fx, 113, "cores: 5000\nhostpci0: 01:00\n");
	run_ok(fx, r, "113", "post-start");
	ck_assert_ptr_nonnull(strstr(r->err, "warning: /etc/pve/qemu-server/113.conf:1: cores:"));
	fx_vmconf(fx, 113, "cores: 5000\naffinity: 0-3\nhostpci0: 01:00\n");
	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "error: /etc/pve/qemu-server/113.conf:1: cores:"));
	free(r);
	fx_free(fx);
}
END_TEST

/* The plan of a dry run: "action target" per step, and the devices, one string each. */
static struct json_object *dry_run(struct fx *fx, const char *vmid, char *steps, size_t ssize, char *devs,
				   size_t dsize)
{
	struct fx_run *r = calloc(1, sizeof(*r));
	struct json_object *o, *a;
	size_t off = 0;

	fx_run_hook(r, NULL, vmid, "pre-start", "--dry-run", "--json", "--root", fx->root, NULL);
	o = json_tokener_parse(r->out);
	ck_assert_msg(o != NULL, "no JSON (exit %d):\n%s", r->status, r->err);
	a = fx_json_get(o, "steps");
	steps[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		struct json_object *s = json_object_array_get_idx(a, i);

		off += (size_t)snprintf(steps + off, ssize - off, "%s %s\n", json_object_get_string(fx_json_get(s, "action")),
					json_object_get_string(fx_json_get(s, "target")));
	}
	a = fx_json_get(o, "devices");
	off = 0;
	devs[0] = '\0';
	for (size_t i = 0; i < json_object_array_length(a); i++)
		off += (size_t)snprintf(devs + off, dsize - off, "%s ",
					json_object_get_string(fx_json_get(json_object_array_get_idx(a, i), "address")));
	free(r);
	return o;
}

/*
 * An Intel iGPU with SR-IOV: PF 00:02.0 on i915 with the console, two VFs.
 * VF groups as given (a VF normally has its own).
 */
static void igpu_host(struct fx *fx, int vf1_group, int vf2_group)
{
	fx_file(fx, "/etc/hostname", "pve1\n");
	fx_pci(fx, "0000:00:02.0", 0x8086, 0xa780, 0x030000, "i915", 0);
	fx_pci_attr(fx, "0000:00:02.0", "boot_vga", "1");
	fx_pci_attr(fx, "0000:00:02.0", "sriov_numvfs", "2");
	fx_pci_attr(fx, "0000:00:02.0", "sriov_totalvfs", "7");
	fx_link(fx, "/sys/devices/pci0000:00/0000:00:02.0/virtfn0", "../0000:00:02.1");
	fx_link(fx, "/sys/devices/pci0000:00/0000:00:02.0/virtfn1", "../0000:00:02.2");
	fx_mkdir(fx, "/sys/devices/pci0000:00/0000:00:02.0/graphics/fb0");
	fx_link(fx, "/sys/class/graphics/fb0", "../../devices/pci0000:00/0000:00:02.0/graphics/fb0");
	fx_link(fx, "/sys/devices/pci0000:00/0000:00:02.0/graphics/fb0/device", "../../../0000:00:02.0");
	fx_file(fx, "/proc/fb", "0 i915drmfb\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon1/name", "(M) frame buffer device\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon1/bind", "1\n");
	fx_pci(fx, "0000:00:02.1", 0x8086, 0xa7a0, 0x030000, "i915", vf1_group);
	fx_pci(fx, "0000:00:02.2", 0x8086, 0xa7a0, 0x030000, "vfio-pci", vf2_group);
	fx_link(fx, "/sys/devices/pci0000:00/0000:00:02.1/physfn", "../0000:00:02.0");
	fx_link(fx, "/sys/devices/pci0000:00/0000:00:02.2/physfn", "../0000:00:02.0");
	fx_module(fx, "i915", 3, NULL);
	fx_module(fx, "vfio_pci", 0, NULL);
	fx_driver(fx, "vfio-pci", "vfio_pci");
	fx_mkdir(fx, "/run");
	fx_mkdir(fx, "/var/run/qemu-server");
	fx_mkdir(fx, "/etc/gpu-hook");
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "igpu-vf\n\tmap id=8086:a7a0,node=pve1,path=0000:00:02.1\n");
	fx_vmconf(fx, 112, "hostpci0: mapping=igpu-vf\nname: vf\n");
}

START_TEST(sriov_vf_takes_nothing_else)
{
	static const int groups[][2] = { { 17, 18 }, { 0, 0 } };
	char steps[4096], devs[256];

	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		struct fx *fx = fx_new();
		struct json_object *o;

		igpu_host(fx, groups[g][0], groups[g][1]);
		o = dry_run(fx, "112", steps, sizeof(steps), devs, sizeof(devs));
		ck_assert_msg(!strcmp(devs, "0000:00:02.1 "), "groups %d/%d: devices %s", groups[g][0], groups[g][1],
			      devs);
		ck_assert_msg(!strstr(steps, "vtcon") && !strstr(steps, "fb-unbind") && !strstr(steps, "module-unload") &&
				      !strstr(steps, "0000:00:02.0") && !strstr(steps, "0000:00:02.2"),
			      "steps:\n%s", steps);
		ck_assert_ptr_nonnull(strstr(steps, "override 0000:00:02.1\nunbind 0000:00:02.1\n"));
		ck_assert(!json_object_get_boolean(fx_json_get(fx_json_get(o, "host"), "console_on_card")));
		json_object_put(o);
		fx_free(fx);
	}
}
END_TEST

START_TEST(sriov_pf_listed_warns)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	igpu_host(fx, 17, 18);
	fx_vmconf(fx, 112, "hostpci0: 00:02.0\n");
	fx_run_hook(r, NULL, "112", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->err, "warning: 0000:00:02.0 is an SR-IOV physical function with 2 virtual "
					     "functions enabled"));
	ck_assert_ptr_null(strstr(r->out, "0000:00:02.1  "));
	free(r);
	fx_free(fx);
}
END_TEST

/* A slot-mate in another IOMMU group is its own device, not the card's. */
START_TEST(sibling_in_another_group_stays)
{
	struct fx *fx = gpu_host();
	char steps[4096], devs[256];

	fx_pci(fx, "0000:01:00.2", 0x10de, 0x1ad8, 0x0c0330, "xhci_hcd", 15);
	/* Listed alone: "01:00" would list every function of the slot, as PVE does. */
	fx_vmconf(fx, 111, "hostpci0: 01:00.0,pcie=1\n");
	json_object_put(dry_run(fx, "111", steps, sizeof(steps), devs, sizeof(devs)));
	ck_assert_str_eq(devs, "0000:01:00.0 0000:01:00.1 ");
	fx_free(fx);
}
END_TEST

/* A VM passing only a NIC: no service, console, module or /dev/nvidia* step, and the GPU stays in use. */
START_TEST(nic_only_touches_no_gpu_things)
{
	struct fx *fx = gpu_host();
	struct fx_run *r = calloc(1, sizeof(*r));
	char steps[4096], devs[256], before[512], after[512];
	struct json_object *o;

	fx_pci(fx, "0000:03:00.0", 0x8086, 0x1533, 0x020000, "igb", 20);
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "nic0\n\tmap id=8086:1533,node=pve1,path=0000:03:00.0\n");
	fx_vmconf(fx, 113, "hostpci0: mapping=nic0\nname: router\n");
	o = dry_run(fx, "113", steps, sizeof(steps), devs, sizeof(devs));
	ck_assert_str_eq(devs, "0000:03:00.0 ");
	ck_assert_str_eq(steps, "override 0000:03:00.0\nunbind 0000:03:00.0\nprobe 0000:03:00.0\nverify 0000:03:00.0\n");
	ck_assert_uint_eq(json_object_array_length(fx_json_get(fx_json_get(o, "host"), "services_to_stop")), 0);
	ck_assert_uint_eq(json_object_array_length(fx_json_get(o, "refusals")), 0);
	json_object_put(o);

	host_state(fx, before, sizeof(before));
	run_ok(fx, r, "113", "pre-start");
	host_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/bus/pci/drivers/vfio-pci/0000:03:00.0"), 1);
	run_ok(fx, r, "113", "post-stop");
	ck_assert_ptr_null(strstr(r->err, "persistenced"));
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/bus/pci/drivers/igb/0000:03:00.0"), 1);
	host_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	free(r);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("phase-inputs");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, renamed_while_running);
	tcase_add_test(tc, counts_and_options_changed_while_running);
	tcase_add_test(tc, pre_start_reads_hostpci_only);
	tcase_add_test(tc, sriov_vf_takes_nothing_else);
	tcase_add_test(tc, sriov_pf_listed_warns);
	tcase_add_test(tc, sibling_in_another_group_stays);
	tcase_add_test(tc, nic_only_touches_no_gpu_things);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
