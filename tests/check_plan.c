/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fs.h"
#include "handoff.h"
#include "journal.h"
#include "plan.h"
#include "plan-back.h"
#include "run.h"
#include "sim.h"

/* The plan as one line per step, "action target arg", for exact comparison. */
static void plan_lines(const struct gh_plan *p, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < p->n; i++) {
		const struct gh_op *op = &p->v[i].op;
		int n = snprintf(buf + off, size - off, "%s %s%s%s\n", gh_plan_action_name(op->action), op->target,
				 op->arg[0] ? " " : "", op->arg);

		ck_assert(n > 0 && (size_t)n < size - off);
		off += (size_t)n;
	}
}

static bool has_refusal(const struct gh_plan *p, const char *needle)
{
	for (size_t i = 0; i < p->refusals.n; i++)
		if (strstr(p->refusals.v[i].text, needle))
			return true;
	return false;
}

static bool has_note(const struct gh_plan *p, const char *needle)
{
	for (size_t i = 0; i < p->notes.n; i++)
		if (strstr(p->notes.v[i], needle))
			return true;
	return false;
}

static void load_plan(struct fx *fx, unsigned vmid, enum gh_direction dir, struct gh_host *h, struct gh_plan *p)
{
	int r = gh_host_load(fx->ctx, vmid, h);

	if (r < 0)
		fprintf(stderr, "%s", fx->log);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(gh_plan_build(h, dir, p), 0);
}

START_TEST(single_gpu_pre_start)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;
	char lines[4096];

	fx_host_single(fx);
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(h.n_f, 2);
	ck_assert(h.single_gpu);
	ck_assert(h.console_on_card);
	ck_assert_str_eq(h.f[0].host_driver, "nvidia");
	ck_assert_str_eq(h.f[1].host_driver, "snd_hda_intel");
	/* nvidia-persistenced holds the card, but it is a service we stop: no refusal. */
	ck_assert_uint_eq(p.refusals.n, 0);
	plan_lines(&p, lines, sizeof(lines));
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

START_TEST(two_gpu_host_keeps_modules)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;
	char lines[4096];

	fx_host_single(fx);
	fx_pci(fx, "0000:02:00.0", 0x10de, 0x1eb1, 0x030000, "nvidia", 20);
	fx_pci(fx, "0000:02:00.1", 0x10de, 0x10f8, 0x040300, "snd_hda_intel", 20);
	fx_file(fx, "/proc/driver/nvidia/gpus/0000:02:00.0/information", "Device Minor: \t 1\n");
	/* Holds only the other card (and the shared control node): must not block an unbind. */
	fx_proc(fx, 2000, "nvtop", "nvtop", "/user.slice/user-0.slice/session-1.scope");
	fx_proc_fd(fx, 2000, 5, "/dev/nvidia1");
	fx_proc_fd(fx, 2000, 6, "/dev/nvidiactl");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(!h.single_gpu);
	ck_assert_uint_eq(h.others.n, 1);
	ck_assert_str_eq(h.others.v[0], "0000:02:00.0");
	ck_assert_uint_eq(p.refusals.n, 0);
	plan_lines(&p, lines, sizeof(lines));
	ck_assert_ptr_null(strstr(lines, "module-unload"));
	ck_assert_ptr_nonnull(strstr(lines, "override 0000:01:00.0 vfio-pci\nunbind 0000:01:00.0 nvidia\n"
					    "probe 0000:01:00.0 vfio-pci\n"));
	gh_plan_free(&p);
	gh_host_free(&h);

	/* The same viewer on this card's node refuses, naming it. */
	fx_proc_fd(fx, 2000, 7, "/dev/nvidia0");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "pid 2000"));
	ck_assert(has_refusal(&p, "nvtop"));
	ck_assert(has_refusal(&p, "session-1.scope"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

/*
 * Two cards on nvidia, nvidia-drm modeset=1, the console on the VM's card; the
 * driver's version in /proc/driver/nvidia/version in the real format (NULL: none).
 */
static void two_gpu_modeset(struct fx *fx, const char *version)
{
	fx_host_single(fx);
	fx_pci(fx, "0000:02:00.0", 0x10de, 0x1eb1, 0x030000, "nvidia", 20);
	fx_pci(fx, "0000:02:00.1", 0x10de, 0x10f8, 0x040300, "snd_hda_intel", 20);
	fx_mkdir(fx, "/sys/devices/pci0000:00/0000:02:00.0/drm/card1");
	fx_mkdir(fx, "/sys/devices/pci0000:00/0000:02:00.0/drm/renderD129");
	fx_file(fx, "/proc/driver/nvidia/gpus/0000:02:00.0/information", "Device Minor: \t 1\n");
	fx_file(fx, "/sys/module/nvidia_drm/parameters/modeset", "Y\n");
	if (version)
		fx_file(fx, "/proc/driver/nvidia/version",
			"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  %s  Release Build  "
			"(dvs-builder@U22-I3-AE18-23-3)  Wed Sep 24 03:53:01 UTC 2025\n"
			"GCC version:  gcc version 12.2.0 (Debian 12.2.0-14+deb12u1) \n", version);
}

static void set_policy(struct fx *fx, const char *text)
{
	fx_file(fx, "/etc/gpu-hook/gpu-hook.ini", "%s", text);
	fx_chmod(fx, "/etc/gpu-hook/gpu-hook.ini", 0644);
}

/* Drivers without per-GPU removal: refused before the first write, naming the version and the fixes. */
START_TEST(modeset_hold_refuses)
{
	static const char *const versions[] = { "550.127.05", "580.82.09", "580.94.05", "580.95.05", "575.64.05", NULL };

	for (size_t i = 0; i < GH_ARRAY_SIZE(versions); i++) {
		struct fx *fx = fx_new();
		struct gh_host h;
		struct gh_plan p;
		unsigned long before;
		char key[16];

		two_gpu_modeset(fx, versions[i]);
		gh_ctx_set_ops(fx->ctx, &gh_sim_ops, NULL);
		load_plan(fx, 111, GH_TO_VFIO, &h, &p);
		ck_assert_msg(has_refusal(&p, "modeset_hold = refuse: "), "%s", versions[i] ? versions[i] : "none");
		ck_assert(has_refusal(&p, versions[i] ? versions[i] : "unknown version"));
		ck_assert(has_refusal(&p, versions[i] ? "/proc/driver/nvidia/version" : "/proc/kallsyms"));
		ck_assert(has_refusal(&p, "580.105.08 or newer"));
		ck_assert(has_refusal(&p, "modeset_hold = reload"));
		ck_assert(has_refusal(&p, "modeset=0"));
		ck_assert(!h.modeset.removes_gpu);
		ck_assert_uint_eq(h.reload.n, 0);
		ck_assert_uint_eq(p.n, 0);
		/* Nothing is written: no journal, no override, no unbind. */
		before = fx_tree_digest(fx->root);
		gh_handoff_key(111, key, sizeof(key));
		ck_assert_int_lt(gh_handoff_to_vfio(fx->ctx, &h, key), 0);
		ck_assert_uint_eq(fx_tree_digest(fx->root), before);
		ck_assert(fx_log_has(fx, "refusing: modeset_hold = refuse: "));
		gh_plan_free(&p);
		gh_host_free(&h);

		/* The way back does not care: the card is not leaving nvidia. */
		load_plan(fx, 111, GH_TO_HOST, &h, &p);
		ck_assert(!has_refusal(&p, "modeset_hold"));
		gh_plan_free(&p);
		gh_host_free(&h);
		fx_free(fx);
	}
}
END_TEST

/* A driver that releases one card: the plain per-card unbind, whatever told. */
START_TEST(modeset_hold_capable)
{
	static const struct {
		const char *version, *sysmod, *kallsyms, *modeset, *source;
	} cases[] = {
		{ "580.105.08", NULL, NULL, "Y\n", "/proc/driver/nvidia/version" },
		{ "580.94.06", NULL, NULL, "Y\n", "/proc/driver/nvidia/version" },
		{ "590.44.01", NULL, NULL, "Y\n", "/proc/driver/nvidia/version" },
		{ NULL, "580.119.02\n", NULL, "Y\n", "/sys/module/nvidia/version" },
		/* A number that looks old, but the driver has the symbol (a backport). */
		{ "550.163.01", NULL,
		  "0000000000000000 T nvidia_modeset_resume\t[nvidia]\n"
		  "0000000000000000 T nvidia_modeset_remove\t[nvidia]\n", "Y\n", "/proc/kallsyms" },
		{ NULL, NULL, "ffffffffc0a1b2c0 t nvidia_modeset_remove\t[nvidia]\n", "Y\n", "/proc/kallsyms" },
		/* Without modeset nvidia-drm holds nothing. */
		{ "550.127.05", NULL, NULL, "N\n", "/proc/driver/nvidia/version" },
	};

	for (size_t i = 0; i < GH_ARRAY_SIZE(cases); i++) {
		struct fx *fx = fx_new();
		struct gh_host h;
		struct gh_plan p;
		char lines[4096];

		two_gpu_modeset(fx, cases[i].version);
		set_policy(fx, "[handoff]\nmodeset_hold = reload\n");
		fx_file(fx, "/sys/module/nvidia_drm/parameters/modeset", "%s", cases[i].modeset);
		if (cases[i].sysmod)
			fx_file(fx, "/sys/module/nvidia/version", "%s", cases[i].sysmod);
		/* Other symbols whose names contain the one looked for do not count. */
		fx_file(fx, "/proc/kallsyms", "0000000000000000 T startup_64\n0000000000000000 t nvidia_modeset_remove_x\t[x]\n%s",
			cases[i].kallsyms ? cases[i].kallsyms : "");
		load_plan(fx, 111, GH_TO_VFIO, &h, &p);
		ck_assert_msg(p.refusals.n == 0, "case %zu: %s", i, p.refusals.n ? p.refusals.v[0].text : "");
		ck_assert(!h.modeset.holds);
		ck_assert_uint_eq(h.modeset.cards, 2);
		ck_assert_str_eq(h.modeset.source, cases[i].source);
		ck_assert(h.modeset.removes_gpu == (cases[i].modeset[0] == 'Y'));
		ck_assert_uint_eq(h.reload.n, 0);
		plan_lines(&p, lines, sizeof(lines));
		ck_assert_ptr_null(strstr(lines, "module-"));
		ck_assert_ptr_nonnull(strstr(lines, "override 0000:01:00.0 vfio-pci\nunbind 0000:01:00.0 nvidia\n"));
		ck_assert(!has_note(&p, "modeset_hold"));
		gh_plan_free(&p);
		gh_host_free(&h);
		fx_free(fx);
	}

	/* The version rule itself, at its edges. */
	ck_assert(!gh_modules_version_removes_gpu("580.94.05"));
	ck_assert(gh_modules_version_removes_gpu("580.94.06"));
	ck_assert(gh_modules_version_removes_gpu("580.95.02"));
	ck_assert(!gh_modules_version_removes_gpu("580.95.05"));
	ck_assert(gh_modules_version_removes_gpu("580.105.08"));
	ck_assert(gh_modules_version_removes_gpu("595.12"));
	ck_assert(!gh_modules_version_removes_gpu("575.64.05"));
	ck_assert(!gh_modules_version_removes_gpu("garbage"));
	ck_assert(!gh_modules_version_removes_gpu("580.105.08.1"));
}
END_TEST

/* Fails the load of the module named in /fault/load, once (ops run in forked children). */
static int fault_load(struct gh_ctx *ctx, const char *name)
{
	char want[64];

	if (gh_fs_read_str(ctx, want, sizeof(want), "/fault/load") > 0 && !strcmp(want, name)) {
		gh_fs_remove(ctx, "/fault/load");
		return -EIO;
	}
	return gh_sim_ops.module_load(ctx, name);
}

/* Where the card and the modules are: "01:00.0=<driver> drm:<0|1> modeset:<0|1>". */
static void reload_state(struct fx *fx, char *buf, size_t size)
{
	char drv[64] = "-";

	gh_fs_link_base(fx->ctx, drv, sizeof(drv), "/sys/bus/pci/devices/0000:01:00.0/driver");
	snprintf(buf, size, "01:00.0=%s 02:00.0=%s drm:%d modeset:%d", drv,
		 gh_fs_exists(fx->ctx, "/sys/bus/pci/devices/0000:02:00.0/driver") > 0 ? "bound" : "-",
		 gh_fs_exists(fx->ctx, "/sys/module/nvidia_drm"), gh_fs_exists(fx->ctx, "/sys/module/nvidia_modeset"));
}

/* modeset_hold = reload: nvidia-drm and nvidia-modeset go before the unbind and come back after it. */
START_TEST(modeset_hold_reload)
{
	struct fx *fx = fx_new();
	static struct gh_ops ops;
	struct gh_host h;
	struct gh_plan p;
	char lines[4096], st[256], key[16];
	bool already;

	two_gpu_modeset(fx, "550.127.05");
	set_policy(fx, "[handoff]\nmodeset_hold = reload\n");
	ops = gh_sim_ops;
	ops.module_load = fault_load;
	gh_ctx_set_ops(fx->ctx, &ops, NULL);
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	plan_lines(&p, lines, sizeof(lines));
	ck_assert_str_eq(lines,
			 "service-stop nvidia-persistenced.service\n"
			 "vtcon-unbind vtcon1\n"
			 "module-unload nvidia_drm\n"
			 "module-unload nvidia_modeset\n"
			 "override 0000:01:00.0 vfio-pci\n"
			 "unbind 0000:01:00.0 nvidia\n"
			 "probe 0000:01:00.0 vfio-pci\n"
			 "override 0000:01:00.1 vfio-pci\n"
			 "unbind 0000:01:00.1 snd_hda_intel\n"
			 "probe 0000:01:00.1 vfio-pci\n"
			 "module-load nvidia_modeset\n"
			 "module-load nvidia_drm\n"
			 "verify 0000:01:00.0 vfio-pci\n"
			 "verify 0000:01:00.1 vfio-pci\n");
	ck_assert_int_eq(p.v[2].undo.action, GH_ACT_MODULE_LOAD);
	ck_assert_str_eq(p.v[2].undo.target, "nvidia_drm");
	ck_assert_int_eq(p.v[3].undo.action, GH_ACT_MODULE_LOAD);
	ck_assert_str_eq(p.v[3].undo.target, "nvidia_modeset");
	ck_assert_int_eq(p.v[10].undo.action, GH_ACT_MODULE_UNLOAD);
	ck_assert_str_eq(p.v[10].undo.target, "nvidia_modeset");
	ck_assert_int_eq(p.v[11].undo.action, GH_ACT_MODULE_UNLOAD);
	ck_assert_str_eq(p.v[11].undo.target, "nvidia_drm");
	/* The dry run says what the host loses for that moment. */
	ck_assert(has_note(&p, "modeset_hold = reload: NVIDIA driver 550.127.05"));
	ck_assert(has_note(&p, "console and displays on the other card (0000:02:00.0) go away"));

	/* A reload that fails is undone: the card is back on nvidia and both modules are loaded. */
	fx_file(fx, "/fault/load", "nvidia_drm");
	gh_handoff_key(111, key, sizeof(key));
	ck_assert_int_eq(gh_handoff_settle(fx->ctx, key, &already), 0);
	ck_assert_int_lt(gh_handoff_to_vfio(fx->ctx, &h, key), 0);
	reload_state(fx, st, sizeof(st));
	ck_assert_str_eq(st, "01:00.0=nvidia 02:00.0=bound drm:1 modeset:1");
	gh_plan_free(&p);
	gh_host_free(&h);

	/* Run for real: the card on vfio-pci, the other card and both modules where they were. */
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/fault/load"), 0);
	fx_file(fx, "/sys/module/nvidia_drm/parameters/modeset", "Y\n");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	ck_assert_int_eq(gh_handoff_to_vfio(fx->ctx, &h, key), 0);
	reload_state(fx, st, sizeof(st));
	ck_assert_str_eq(st, "01:00.0=vfio-pci 02:00.0=bound drm:1 modeset:1");
	gh_plan_free(&p);
	gh_host_free(&h);

	/*
	 * The way back reloads them too: nvidia-drm came back without the card and
	 * would not take it up later, so they go before the card returns and load after.
	 */
	{
		struct gh_journal j;
		int *undoes = NULL;

		ck_assert_int_eq(gh_journal_load(fx->ctx, key, &j), 0);
		ck_assert_int_eq(gh_plan_from_journal(&j, &p, &undoes), 0);
		plan_lines(&p, lines, sizeof(lines));
		ck_assert_msg(strstr(lines, "remove-id 0000:01:00.1 10de 22ba\n"
					    "module-unload nvidia_drm\n"
					    "module-unload nvidia_modeset\n"
					    "probe 0000:01:00.0 nvidia\n"
					    "probe 0000:01:00.1 snd_hda_intel\n"
					    "module-load nvidia_modeset\n"
					    "module-load nvidia_drm\n"
					    "verify 0000:01:00.0 nvidia\n"), "%s", lines);
		/* Each step of the reload is undone by exactly one step of the way back. */
		for (unsigned i = 0; i < p.n; i++)
			if (p.v[i].op.action == GH_ACT_MODULE_LOAD || p.v[i].op.action == GH_ACT_MODULE_UNLOAD) {
				ck_assert_int_ge(undoes[i], 0);
				ck_assert_int_eq(j.steps[undoes[i]].op.action, p.v[i].op.action == GH_ACT_MODULE_LOAD
											? GH_ACT_MODULE_UNLOAD
											: GH_ACT_MODULE_LOAD);
			}
		free(undoes);
		gh_plan_free(&p);
		gh_journal_free(&j);
	}
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_int_eq(gh_handoff_to_host(fx->ctx, &h, key), 0);
	gh_host_free(&h);
	reload_state(fx, st, sizeof(st));
	ck_assert_str_eq(st, "01:00.0=nvidia 02:00.0=bound drm:1 modeset:1");
	fx_free(fx);
}
END_TEST

/* Under reload, whoever holds nvidia-drm's nodes of the other card is named before anything changes. */
START_TEST(modeset_hold_reload_holders)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	struct gh_plan p;

	two_gpu_modeset(fx, "550.127.05");
	fx_proc(fx, 2100, "Xorg", "/usr/lib/xorg/Xorg :0", "/system.slice/lightdm.service");
	/* The other card's DRM node as a character device: holders are matched by identity. */
	fx_node(fx, "/dev/dri/card1", "/dev/kmsg");
	fx_proc_fd(fx, 2100, 12, "/dev/dri/card1");
	/* Refused anyway; without the reload the other card's node is none of its business. */
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(!has_refusal(&p, "/dev/dri/card1"));
	gh_plan_free(&p);
	gh_host_free(&h);
	set_policy(fx, "[handoff]\nmodeset_hold = reload\n");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "pid 2100"));
	ck_assert(has_refusal(&p, "/dev/dri/card1"));
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(h.n_f, 4);
	ck_assert_str_eq(h.f[2].host_driver, "xhci_hcd");
	ck_assert_str_eq(h.f[3].host_driver, "nvidia-gpu");
	ck_assert_uint_eq(p.refusals.n, 0);
	plan_lines(&p, lines, sizeof(lines));
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "IOMMU group 14 is not viable: 0000:00:1f.6"));
	ck_assert(has_refusal(&p, "e1000e"));
	gh_plan_free(&p);
	gh_host_free(&h);

	/* A bridge or an unbound member does not spoil the group. */
	fx_pci(fx, "0000:00:1f.6", 0x8086, 0x15bc, 0x020000, NULL, 14);
	fx_rm(fx, "/sys/devices/pci0000:00/0000:00:1f.6/driver");
	fx_pci(fx, "0000:00:1c.0", 0x8086, 0xa110, 0x060400, "pcieport", 14);
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "pid 3000"));
	ck_assert(has_refusal(&p, "105"));
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "nvidia-dcgm.service"));
	gh_plan_free(&p);
	gh_host_free(&h);

	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = stop-unit\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	/* A unit of a user's own systemd cannot be stopped by the system's systemctl. */
	fx_proc(fx, 4100, "kwin_wayland", "kwin_wayland",
		"/user.slice/user-1000.slice/user@1000.service/app.slice/plasma-kwin_wayland.service");
	fx_node(fx, "/dev/nvidia-modeset", "/dev/random");
	fx_proc_fd(fx, 4100, 8, "/dev/nvidia-modeset");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "plasma-kwin_wayland.service of a user manager): /dev/nvidia-modeset (fd 8) (a user session or a unit of one"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_rm(fx, "/proc/4100");
	/* A login session's scope cannot be started again: refused, not stopped. */
	fx_proc(fx, 4200, "gnome-shell", "gnome-shell", "/user.slice/user-1000.slice/session-3.scope");
	fx_proc_fd(fx, 4200, 9, "/dev/nvidia0");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "session-3.scope): /dev/nvidia0 (fd 9) (a user session"));
	plan_lines(&p, lines, sizeof(lines));
	ck_assert_ptr_null(strstr(lines, "session-3.scope"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_rm(fx, "/proc/4200");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	plan_lines(&p, lines, sizeof(lines));
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(p.already);
	ck_assert_uint_eq(p.n, 0);
	ck_assert(has_note(&p, "already on vfio-pci"));
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
	load_plan(fx, 111, GH_TO_HOST, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	plan_lines(&p, lines, sizeof(lines));
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
	load_plan(fx, 111, GH_TO_HOST, &h, &p);
	ck_assert_uint_eq(p.n, 0);
	ck_assert(has_note(&p, "restore = no"));
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
	load_plan(fx, 111, GH_TO_HOST, &h, &p);
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "in use by running VM 222"));
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "hostpci1: no PCI device found for '0000:05:00.0'"));
	/* The audio function comes with its card. */
	ck_assert_ptr_nonnull(gh_host_func(&h, "0000:01:00.1"));
	ck_assert(has_note(&p, "0000:01:00.1 added"));
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	ck_assert_uint_eq(h.n_f, 2);
	ck_assert_int_eq(h.f[0].hostpci, 0);
	ck_assert(has_note(&p, "mapping 'gpu-4090' resolved for node pve1"));
	ck_assert(has_note(&p, "hostpci1: mediated device"));
	gh_plan_free(&p);
	gh_host_free(&h);

	/* On the other node the same mapping names other hardware. */
	fx_file(fx, "/etc/hostname", "pve2.example.com\n");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "mapping 'gpu-4090' is invalid on node pve2"));
	gh_plan_free(&p);
	gh_host_free(&h);

	fx_file(fx, "/etc/hostname", "pve3\n");
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(has_refusal(&p, "has no entry for node pve3"));
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
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
	load_plan(fx, 111, GH_TO_VFIO, &h, &p);
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
	tcase_add_test(tc, two_gpu_host_keeps_modules);
	tcase_add_test(tc, modeset_hold_refuses);
	tcase_add_test(tc, modeset_hold_capable);
	tcase_add_test(tc, modeset_hold_reload);
	tcase_add_test(tc, modeset_hold_reload_holders);
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
