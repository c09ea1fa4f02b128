/* SPDX-License-Identifier: MIT */
/*
 * Plans on a host with two cards on nvidia: per-card unbinds that keep the
 * modules, and what modeset_hold (refuse, reload) makes of an nvidia-drm
 * with modeset=1 that holds every card (see lib/modules.c).
 */
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
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(!h.single_gpu);
	ck_assert_uint_eq(h.others.n, 1);
	ck_assert_str_eq(h.others.v[0], "0000:02:00.0");
	ck_assert_uint_eq(p.refusals.n, 0);
	eng_plan_lines(&p, lines, sizeof(lines));
	ck_assert_ptr_null(strstr(lines, "module-unload"));
	ck_assert_ptr_nonnull(strstr(lines, "override 0000:01:00.0 vfio-pci\nunbind 0000:01:00.0 nvidia\n"
					    "probe 0000:01:00.0 vfio-pci\n"));
	gh_plan_free(&p);
	gh_host_free(&h);

	/* The same viewer on this card's node refuses, naming it. */
	fx_proc_fd(fx, 2000, 7, "/dev/nvidia0");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "pid 2000"));
	ck_assert(eng_has_refusal(&p, "nvtop"));
	ck_assert(eng_has_refusal(&p, "session-1.scope"));
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
		eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
		ck_assert_msg(eng_has_refusal(&p, "modeset_hold = refuse: "), "%s", versions[i] ? versions[i] : "none");
		ck_assert(eng_has_refusal(&p, versions[i] ? versions[i] : "unknown version"));
		ck_assert(eng_has_refusal(&p, versions[i] ? "/proc/driver/nvidia/version" : "/proc/kallsyms"));
		ck_assert(eng_has_refusal(&p, "580.105.08 or newer"));
		ck_assert(eng_has_refusal(&p, "modeset_hold = reload"));
		ck_assert(eng_has_refusal(&p, "modeset=0"));
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
		eng_load_plan(fx, 111, GH_TO_HOST, &h, &p);
		ck_assert(!eng_has_refusal(&p, "modeset_hold"));
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
		eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
		ck_assert_msg(p.refusals.n == 0, "case %zu: %s", i, p.refusals.n ? p.refusals.v[0].text : "");
		ck_assert(!h.modeset.holds);
		ck_assert_uint_eq(h.modeset.cards, 2);
		ck_assert_str_eq(h.modeset.source, cases[i].source);
		ck_assert(h.modeset.removes_gpu == (cases[i].modeset[0] == 'Y'));
		ck_assert_uint_eq(h.reload.n, 0);
		eng_plan_lines(&p, lines, sizeof(lines));
		ck_assert_ptr_null(strstr(lines, "module-"));
		ck_assert_ptr_nonnull(strstr(lines, "override 0000:01:00.0 vfio-pci\nunbind 0000:01:00.0 nvidia\n"));
		ck_assert(!eng_has_note(&p, "modeset_hold"));
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

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
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
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert_uint_eq(p.refusals.n, 0);
	eng_plan_lines(&p, lines, sizeof(lines));
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
	ck_assert(eng_has_note(&p, "modeset_hold = reload: NVIDIA driver 550.127.05"));
	ck_assert(eng_has_note(&p, "console and displays on the other card (0000:02:00.0) go away"));

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
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
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
		eng_plan_lines(&p, lines, sizeof(lines));
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
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(!eng_has_refusal(&p, "/dev/dri/card1"));
	gh_plan_free(&p);
	gh_host_free(&h);
	set_policy(fx, "[handoff]\nmodeset_hold = reload\n");
	eng_load_plan(fx, 111, GH_TO_VFIO, &h, &p);
	ck_assert(eng_has_refusal(&p, "pid 2100"));
	ck_assert(eng_has_refusal(&p, "/dev/dri/card1"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("plan_modeset");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, two_gpu_host_keeps_modules);
	tcase_add_test(tc, modeset_hold_refuses);
	tcase_add_test(tc, modeset_hold_capable);
	tcase_add_test(tc, modeset_hold_reload);
	tcase_add_test(tc, modeset_hold_reload_holders);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
