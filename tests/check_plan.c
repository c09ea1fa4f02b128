/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine-fx.h"
#include "fixture.h"
#include "fs.h"
#include "handoff.h"
#include "journal.h"
#include "plan.h"
#include "plan-back.h"
#include "run.h"
#include "sim.h"

START_TEST(single_gpu_pre_start)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;
	char lines[4096];

	fx_host_single(fx);
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(h.n_f, 2);
	ck_assert(h.single_gpu);
	ck_assert(h.console_on_card);
	ck_assert_str_eq(h.f[0].host_driver, "nvidia");
	ck_assert_str_eq(h.f[1].host_driver, "snd_hda_intel");
	/* nvidia-persistenced holds the card, but it is a service we stop: no refusal. */
	ck_assert_uint_eq(p.refusals.n, 0);
	eng_plan_lines(&p, lines, sizeof(lines));
	ck_assert_str_eq(lines,
			 "service-stop nvidia-persistenced.service\n"
			 "vtcon-unbind vtcon1\n"
			 "module-unload nvidia_drm\n"
			 "module-unload nvidia_modeset\n"
			 "module-unload nvidia_uvm\n"
			 "module-unload nvidia\n"
			 "override 0000:01:00.0 vfio-pci\n"
			 "probe 0000:01:00.0 vfio-pci\n"
			 "override 0000:01:00.1 vfio-pci\n"
			 "unbind 0000:01:00.1 snd_hda_intel\n"
			 "probe 0000:01:00.1 vfio-pci\n"
			 "verify 0000:01:00.0 vfio-pci\n"
			 "verify 0000:01:00.1 vfio-pci\n");
	/* Every step that changes something has its inverse. */
	ck_assert_int_eq(p.v[0].undo.action, GH_ACT_SERVICE_START);
	ck_assert_int_eq(p.v[1].undo.action, GH_ACT_VTCON_BIND);
	ck_assert_int_eq(p.v[2].undo.action, GH_ACT_MODULE_LOAD);
	ck_assert_int_eq(p.v[6].undo.action, GH_ACT_OVERRIDE);
	ck_assert_str_eq(p.v[6].undo.arg, "");
	ck_assert_int_eq(p.v[9].undo.action, GH_ACT_BIND);
	ck_assert_str_eq(p.v[9].undo.arg, "snd_hda_intel");
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(four_function_turing_card)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;
	char lines[4096];

	fx_host_single(fx);
	fx_pci(fx, "0000:01:00.2", 0x10de, 0x1ad8, 0x0c0330, "xhci_hcd", 14);
	fx_pci(fx, "0000:01:00.3", 0x10de, 0x1ad9, 0x0c8000, "nvidia-gpu", 14);
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(h.n_f, 4);
	ck_assert_str_eq(h.f[2].host_driver, "xhci_hcd");
	ck_assert_str_eq(h.f[3].host_driver, "nvidia-gpu");
	ck_assert_uint_eq(p.refusals.n, 0);
	eng_plan_lines(&p, lines, sizeof(lines));
	ck_assert_ptr_nonnull(strstr(lines, "unbind 0000:01:00.2 xhci_hcd\n"));
	ck_assert_ptr_nonnull(strstr(lines, "unbind 0000:01:00.3 nvidia-gpu\n"));
	ck_assert_ptr_nonnull(strstr(lines, "verify 0000:01:00.3 vfio-pci\n"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(foreign_sibling_refuses)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;

	fx_host_single(fx);
	fx_pci(fx, "0000:00:1f.6", 0x8086, 0x15bc, 0x020000, "e1000e", 14);
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "IOMMU group 14 is not viable: 0000:00:1f.6"));
	ck_assert(eng_has_refusal(&p, "e1000e"));
	gh_plan_free(&p);
	gh_host_free(&h);

	/* A bridge or an unbound member does not spoil the group. */
	fx_pci(fx, "0000:00:1f.6", 0x8086, 0x15bc, 0x020000, NULL, 14);
	fx_rm(fx, "/sys/devices/pci0000:00/0000:00:1f.6/driver");
	fx_pci(fx, "0000:00:1c.0", 0x8086, 0xa110, 0x060400, "pcieport", 14);
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(holder_through_maps_and_lxc)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;
	char maps[256];

	fx_host_single(fx);
	fx_proc(fx, 3000, "python3", "python3 train.py", "/lxc/105/ns/system.slice/jupyter.service");
	ck_assert_int_lt(snprintf(maps, sizeof(maps), "7f0000000000-7f0000001000 rw-s 00000000 %s /dev/nvidia0\n",
				  fx_node_id(fx, "/dev/nvidia0")), (int)sizeof(maps));
	fx_proc_maps(fx, 3000, maps);
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "pid 3000"));
	ck_assert(eng_has_refusal(&p, "105"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(holders_policy_stop_unit)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;
	char lines[4096];

	fx_host_single(fx);
	fx_proc(fx, 4000, "dcgm", "nv-hostengine", "/system.slice/nvidia-dcgm.service");
	fx_proc_fd(fx, 4000, 3, "/dev/nvidiactl");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "nvidia-dcgm.service"));
	gh_plan_free(&p);
	gh_host_free(&h);

	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = stop-unit\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	/* A unit of a user's own systemd cannot be stopped by the system's systemctl. */
	fx_proc(fx, 4100, "kwin_wayland", "kwin_wayland",
		"/user.slice/user-1000.slice/user@1000.service/app.slice/plasma-kwin_wayland.service");
	fx_node(fx, "/dev/nvidia-modeset", "/dev/random");
	fx_proc_fd(fx, 4100, 8, "/dev/nvidia-modeset");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "plasma-kwin_wayland.service of a user manager): /dev/nvidia-modeset (fd 8) (a user session or a unit of one"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_rm(fx, "/proc/4100");
	/* A login session's scope cannot be started again: refused, not stopped. */
	fx_proc(fx, 4200, "gnome-shell", "gnome-shell", "/user.slice/user-1000.slice/session-3.scope");
	fx_proc_fd(fx, 4200, 9, "/dev/nvidia0");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "session-3.scope): /dev/nvidia0 (fd 9) (a user session"));
	eng_plan_lines(&p, lines, sizeof(lines));
	ck_assert_ptr_null(strstr(lines, "session-3.scope"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_rm(fx, "/proc/4200");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	eng_plan_lines(&p, lines, sizeof(lines));
	ck_assert_ptr_nonnull(strstr(lines, "service-stop nvidia-dcgm.service\n"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(already_on_vfio)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;

	fx_host_single(fx);
	fx_pci(fx, "0000:01:00.0", 0x10de, 0x2684, 0x030000, "vfio-pci", 14);
	fx_pci(fx, "0000:01:00.1", 0x10de, 0x22ba, 0x040300, "vfio-pci", 14);
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(p.already);
	ck_assert_uint_eq(p.n, 0);
	ck_assert(eng_has_note(&p, "already on vfio-pci"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(post_stop_returns_the_card)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;
	char lines[4096];

	fx_host_single(fx);
	/* The host after pre-start: stack unloaded, both on vfio-pci, console detached. */
	fx_pci(fx, "0000:01:00.0", 0x10de, 0x2684, 0x030000, "vfio-pci", 14);
	fx_pci(fx, "0000:01:00.1", 0x10de, 0x22ba, 0x040300, "vfio-pci", 14);
	fx_pci_attr(fx, "0000:01:00.0", "driver_override", "vfio-pci");
	fx_pci_attr(fx, "0000:01:00.1", "driver_override", "vfio-pci");
	fx_rm(fx, "/sys/bus/pci/drivers/nvidia");
	fx_rm(fx, "/sys/bus/pci/drivers/snd_hda_intel/0000:01:00.1");
	fx_rm(fx, "/sys/module/nvidia");
	fx_rm(fx, "/sys/module/nvidia_drm");
	fx_rm(fx, "/sys/module/nvidia_modeset");
	fx_rm(fx, "/sys/module/nvidia_uvm");
	fx_rm(fx, "/sys/fs/cgroup/system.slice/nvidia-persistenced.service");
	fx_rm(fx, "/proc/900");
	fx_file(fx, "/lib/systemd/system/nvidia-persistenced.service", "[Service]\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon1/bind", "0\n");
	eng_load_plan(fx, 111, GH_TO_HOST, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	eng_plan_lines(&p, lines, sizeof(lines));
	ck_assert_str_eq(lines,
			 "override 0000:01:00.0 nvidia\n"
			 "unbind 0000:01:00.0 vfio-pci\n"
			 "remove-id 0000:01:00.0 10de 2684\n"
			 "override 0000:01:00.1 snd_hda_intel\n"
			 "unbind 0000:01:00.1 vfio-pci\n"
			 "remove-id 0000:01:00.1 10de 22ba\n"
			 "module-load nvidia\n"
			 "probe 0000:01:00.0 nvidia\n"
			 "probe 0000:01:00.1 snd_hda_intel\n"
			 "verify 0000:01:00.0 nvidia\n"
			 "override 0000:01:00.0\n"
			 "verify 0000:01:00.1 snd_hda_intel\n"
			 "override 0000:01:00.1\n"
			 "vtcon-bind vtcon1\n"
			 "service-start nvidia-persistenced.service\n");
	gh_plan_free(&p);
	gh_host_free(&h);

	/* restore = no keeps the card on vfio-pci. */
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nrestore = no\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	eng_load_plan(fx, 111, GH_TO_HOST, &h, &p);
	ck_assert_uint_eq(p.n, 0);
	ck_assert(eng_has_note(&p, "restore = no"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(post_stop_on_host_is_noop)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;

	fx_host_single(fx);
	eng_load_plan(fx, 111, GH_TO_HOST, &h, &p);
	ck_assert(p.already);
	ck_assert_uint_eq(p.n, 0);
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(owned_by_running_vm)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;

	fx_host_single(fx);
	fx_file(fx, "/var/run/qemu-server/222.pid", "5000\n");
	fx_proc(fx, 5000, "kvm",
		"/usr/bin/kvm -id 222 -pidfile /var/run/qemu-server/222.pid "
		"-device vfio-pci,host=0000:01:00.0,id=hostpci0.0,bus=ich9-pcie-port-1,addr=0x0.0,multifunction=on",
		"/qemu.slice/222.scope");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "in use by running VM 222"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(missing_device_and_sibling)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;

	fx_host_single(fx);
	fx_vmconf(fx, 111, "hostpci0: 01:00.0,pcie=1\nhostpci1: 0000:05:00.0\n");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "hostpci1: no PCI device found for '0000:05:00.0'"));
	/* The audio function comes with its card. */
	ck_assert_ptr_nonnull(gh_host_func(&h, "0000:01:00.1"));
	ck_assert(eng_has_note(&p, "0000:01:00.1 added"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(mapping_two_nodes)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;

	fx_host_single(fx);
	fx_file(fx, "/etc/pve/mapping/pci.cfg",
		"gpu-4090\n"
		"\tmap id=10de:2684,iommugroup=22,node=pve2,path=0000:41:00,subsystem-id=1043:889c\n"
		"\tmap id=10de:2684,iommugroup=14,node=pve1,path=0000:01:00,subsystem-id=1043:889c\n"
		"\tdescription RTX 4090\n");
	fx_vmconf(fx, 111, "hostpci0: mapping=gpu-4090,pcie=1\nhostpci1: 01:00.0,mdev=nvidia-63\n");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	ck_assert_uint_eq(h.n_f, 2);
	ck_assert_int_eq(h.f[0].hostpci, 0);
	ck_assert(eng_has_note(&p, "mapping 'gpu-4090' resolved for node pve1"));
	ck_assert(eng_has_note(&p, "hostpci1: mediated device"));
	gh_plan_free(&p);
	gh_host_free(&h);

	/* On the other node the same mapping names other hardware. */
	fx_file(fx, "/etc/hostname", "pve2.example.com\n");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "mapping 'gpu-4090' is invalid on node pve2"));
	gh_plan_free(&p);
	gh_host_free(&h);

	fx_file(fx, "/etc/hostname", "pve3\n");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "has no entry for node pve3"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(migration_reads_the_source_node_config)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;

	fx_host_single(fx);
	fx_rm(fx, "/etc/pve/qemu-server/111.conf");
	fx_file(fx, "/etc/pve/nodes/pve9/qemu-server/111.conf", "hostpci0: 01:00\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), -ENOENT);
	gh_host_free(&h);
	ck_assert_int_eq(gh_ctx_set_migrated_from(fx->ctx, "pve9"), 0);
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(h.n_f, 2);
	gh_plan_free(&p);
	gh_host_free(&h);
	ck_assert_int_eq(gh_ctx_set_migrated_from(fx->ctx, "../x"), -EINVAL);
	fx_free(fx);
}
END_TEST

/* Every action with every status survives save and load: the loader's loops end at the _MAX sentinels. */
START_TEST(journal_keeps_every_action_and_status)
{
	static const struct gh_op valid[GH_ACT_MAX] = {
		[GH_ACT_NONE] = { .action = GH_ACT_NONE, .target = "", .arg = "", .pidfd = -1 },
		[GH_ACT_SERVICE_STOP] = { .action = GH_ACT_SERVICE_STOP, .target = "nvidia-persistenced.service", .arg = "", .pidfd = -1 },
		[GH_ACT_SERVICE_START] = { .action = GH_ACT_SERVICE_START, .target = "nvidia-persistenced.service", .arg = "", .pidfd = -1 },
		[GH_ACT_KILL] = { .action = GH_ACT_KILL, .target = "4242", .arg = "nvidia-smi", .pidfd = -1 },
		[GH_ACT_VTCON_UNBIND] = { .action = GH_ACT_VTCON_UNBIND, .target = "vtcon1", .arg = "", .pidfd = -1 },
		[GH_ACT_VTCON_BIND] = { .action = GH_ACT_VTCON_BIND, .target = "vtcon1", .arg = "", .pidfd = -1 },
		[GH_ACT_FB_UNBIND] = { .action = GH_ACT_FB_UNBIND, .target = "simple-framebuffer.0", .arg = "simple-framebuffer", .pidfd = -1 },
		[GH_ACT_MODULE_UNLOAD] = { .action = GH_ACT_MODULE_UNLOAD, .target = "nvidia_drm", .arg = "", .pidfd = -1 },
		[GH_ACT_MODULE_LOAD] = { .action = GH_ACT_MODULE_LOAD, .target = "nvidia_drm", .arg = "", .pidfd = -1 },
		[GH_ACT_OVERRIDE] = { .action = GH_ACT_OVERRIDE, .target = "0000:01:00.0", .arg = "vfio-pci", .pidfd = -1 },
		[GH_ACT_UNBIND] = { .action = GH_ACT_UNBIND, .target = "0000:01:00.0", .arg = "nvidia", .pidfd = -1 },
		[GH_ACT_BIND] = { .action = GH_ACT_BIND, .target = "0000:01:00.0", .arg = "vfio-pci", .pidfd = -1 },
		[GH_ACT_PROBE] = { .action = GH_ACT_PROBE, .target = "0000:01:00.0", .arg = "nvidia", .pidfd = -1 },
		[GH_ACT_REMOVE_ID] = { .action = GH_ACT_REMOVE_ID, .target = "0000:01:00.0", .arg = "10de 2204", .pidfd = -1 },
		[GH_ACT_VERIFY] = { .action = GH_ACT_VERIFY, .target = "0000:01:00.0", .arg = "vfio-pci", .pidfd = -1 },
	};
	struct fx *fx = fx_new();
	struct gh_host h = { 0 };
	struct gh_plan p = { 0 };
	struct gh_journal j, disk;

	p.n = GH_ACT_MAX * GH_J_MAX;
	p.v = calloc(p.n, sizeof(*p.v));
	ck_assert_ptr_nonnull(p.v);
	for (unsigned i = 0; i < p.n; i++) {
		ck_assert_int_eq(valid[i / GH_J_MAX].action, (int)(i / GH_J_MAX));
		p.v[i].op = valid[i / GH_J_MAX];
	}
	ck_assert_int_eq(gh_journal_init(&j, "111", 111, "pre-start", &h, &p), 0);
	for (unsigned i = 0; i < p.n; i++)
		j.status[i] = (enum gh_jstatus)(i % GH_J_MAX);
	ck_assert_int_eq(gh_journal_dir(fx->ctx), 0);
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &disk), 0);
	ck_assert_uint_eq(disk.n_steps, p.n);
	for (unsigned i = 0; i < p.n; i++) {
		ck_assert_int_eq(disk.steps[i].op.action, (int)(i / GH_J_MAX));
		ck_assert_str_eq(disk.steps[i].op.target, valid[i / GH_J_MAX].target);
		ck_assert_int_eq(disk.status[i], (int)(i % GH_J_MAX));
	}
	gh_journal_free(&disk);
	gh_journal_free(&j);
	free(p.v);
	fx_free(fx);
}
END_TEST

START_TEST(json_contract)
{
	struct fx *fx = fx_new();
	struct json_object *o, *v, *d;
	struct gh_host h;
	struct gh_plan p;

	fx_host_single(fx);
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	o = gh_plan_to_json(&p, &h, "pre-start", true);
	ck_assert_ptr_nonnull(o);
	ck_assert(json_object_object_get_ex(o, "vmid", &v));
	ck_assert_int_eq(json_object_get_int(v), 111);
	ck_assert(json_object_object_get_ex(o, "phase", &v));
	ck_assert_str_eq(json_object_get_string(v), "pre-start");
	ck_assert(json_object_object_get_ex(o, "devices", &v));
	ck_assert_uint_eq(json_object_array_length(v), 2);
	d = json_object_array_get_idx(v, 1);
	ck_assert(json_object_object_get_ex(d, "address", &v));
	ck_assert_str_eq(json_object_get_string(v), "0000:01:00.1");
	ck_assert(json_object_object_get_ex(d, "class", &v));
	ck_assert_str_eq(json_object_get_string(v), "0x040300");
	ck_assert(json_object_object_get_ex(d, "driver", &v));
	ck_assert_str_eq(json_object_get_string(v), "snd_hda_intel");
	ck_assert(json_object_object_get_ex(d, "target", &v));
	ck_assert_str_eq(json_object_get_string(v), "vfio-pci");
	ck_assert(json_object_object_get_ex(o, "steps", &v));
	ck_assert_uint_eq(json_object_array_length(v), p.n);
	d = json_object_array_get_idx(v, 0);
	ck_assert(json_object_object_get_ex(d, "action", &v));
	ck_assert_str_eq(json_object_get_string(v), "service-stop");
	ck_assert(json_object_object_get_ex(d, "description", &v));
	ck_assert_ptr_nonnull(strstr(json_object_get_string(v), "nvidia-persistenced.service"));
	ck_assert(json_object_object_get_ex(o, "refusals", &v));
	ck_assert_uint_eq(json_object_array_length(v), 0);
	json_object_put(o);
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("core");

	/* The modeset_hold tests build a fixture host per driver version. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, single_gpu_pre_start);
	tcase_add_test(tc, journal_keeps_every_action_and_status);
	tcase_add_test(tc, four_function_turing_card);
	tcase_add_test(tc, foreign_sibling_refuses);
	tcase_add_test(tc, holder_through_maps_and_lxc);
	tcase_add_test(tc, holders_policy_stop_unit);
	tcase_add_test(tc, already_on_vfio);
	tcase_add_test(tc, post_stop_returns_the_card);
	tcase_add_test(tc, post_stop_on_host_is_noop);
	tcase_add_test(tc, owned_by_running_vm);
	tcase_add_test(tc, missing_device_and_sibling);
	tcase_add_test(tc, mapping_two_nodes);
	tcase_add_test(tc, migration_reads_the_source_node_config);
	tcase_add_test(tc, json_contract);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
