/* SPDX-License-Identifier: MIT */
/*
 * Module states and removal stacks from a fixture /sys/module. The real ops
 * (libkmod, sched_setaffinity) act on the running kernel and are never
 * called here.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "modules.h"
#include "sim.h"

static void nvidia_graph(struct fx *fx)
{
	fx_module(fx, "nvidia", 3, "nvidia_modeset", "nvidia_uvm", "nvidia_peermem", NULL);
	fx_module(fx, "nvidia_modeset", 1, "nvidia_drm", NULL);
	fx_module(fx, "nvidia_drm", 0, NULL);
	fx_module(fx, "nvidia_uvm", 0, NULL);
	fx_module(fx, "nvidia_peermem", 0, NULL);
	/* peermem also holds ib_core, which is not part of nvidia's stack. */
	fx_module(fx, "ib_core", 1, "nvidia_peermem", NULL);
	fx_module(fx, "drm_kms_helper", 1, "nvidia_drm", NULL);
}

static void assert_order(const struct gh_modset *set, const char *const *names, unsigned n)
{
	ck_assert_uint_eq(set->n, n);
	for (unsigned i = 0; i < n; i++)
		ck_assert_msg(!strcmp(set->v[i].name, names[i]), "position %u: %s, expected %s", i, set->v[i].name,
			      names[i]);
}

START_TEST(nvidia_stack_order)
{
	static const char *const want[] = { "nvidia_drm", "nvidia_modeset", "nvidia_peermem", "nvidia_uvm",
					    "nvidia" };
	struct fx *fx = fx_new();
	struct gh_modset set;

	nvidia_graph(fx);
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "nvidia", &set), 0);
	assert_order(&set, want, 5);
	ck_assert_int_eq(set.v[4].refcnt, 3);
	ck_assert_int_eq(set.v[4].state, GH_MOD_LIVE);
	ck_assert_uint_eq(set.v[4].holders.n, 3);
	ck_assert_uint_eq(set.v[1].holders.n, 1);
	ck_assert_str_eq(set.v[1].holders.v[0], "nvidia_drm");
	gh_modules_free(&set);
	ck_assert_ptr_null(set.v);

	/* A middle module: only what holds it. */
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "nvidia-modeset", &set), 0);
	assert_order(&set, want, 2);
	gh_modules_free(&set);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(holders_always_before_what_they_hold)
{
	/* a <- b, a <- c, b <- d, c <- d, and z holds a directly. */
	static const char *const want[] = { "d", "b", "c", "z", "a" };
	struct fx *fx = fx_new();
	struct gh_modset set;

	fx_module(fx, "a", 3, "b", "c", "z", NULL);
	fx_module(fx, "b", 1, "d", NULL);
	fx_module(fx, "c", 1, "d", NULL);
	fx_module(fx, "d", 0, NULL);
	fx_module(fx, "z", 0, NULL);
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "a", &set), 0);
	assert_order(&set, want, 5);
	gh_modules_free(&set);
	fx_free(fx);
}
END_TEST

START_TEST(builtin_and_absent)
{
	struct fx *fx = fx_new();
	struct gh_modset set;
	struct gh_module m;

	fx_mkdir(fx, "/sys/module/xhci_hcd/parameters");
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "xhci_hcd", &set), 0);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_str_eq(set.v[0].name, "xhci_hcd");
	ck_assert_int_eq(set.v[0].state, GH_MOD_BUILTIN);
	ck_assert_int_eq(set.v[0].refcnt, -1);
	ck_assert_uint_eq(set.v[0].holders.n, 0);
	gh_modules_free(&set);

	ck_assert_int_eq(gh_modules_stack(fx->ctx, "nouveau", &set), 0);
	ck_assert_uint_eq(set.n, 0);
	ck_assert_ptr_null(set.v);
	ck_assert_int_eq(gh_modules_read(fx->ctx, "nouveau", &m), 0);
	ck_assert_int_eq(m.state, GH_MOD_ABSENT);
	ck_assert_str_eq(m.name, "nouveau");
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(cycle_is_refused)
{
	struct fx *fx = fx_new();
	struct gh_modset set;

	nvidia_graph(fx);
	fx_link(fx, "/sys/module/nvidia_drm/holders/nvidia", "../../nvidia");
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "nvidia", &set), -ELOOP);
	ck_assert_uint_eq(set.n, 0);
	ck_assert_ptr_null(set.v);
	ck_assert_int_eq(fx->n_errors, 1);
	ck_assert(fx_log_has(fx, "/sys/module/nvidia: its holders form a cycle"));
	fx_free(fx);
}
END_TEST

static void chain(struct fx *fx, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		char name[16], holder[16];

		snprintf(name, sizeof(name), "m%u", i);
		snprintf(holder, sizeof(holder), "m%u", i + 1);
		fx_module(fx, name, 1, i + 1 < n ? holder : NULL, NULL);
	}
}

START_TEST(sixty_four_at_most)
{
	struct fx *fx = fx_new();
	struct gh_modset set;

	chain(fx, 64);
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "m0", &set), 0);
	ck_assert_uint_eq(set.n, 64);
	ck_assert_str_eq(set.v[0].name, "m63");
	ck_assert_str_eq(set.v[63].name, "m0");
	gh_modules_free(&set);
	fx_free(fx);

	fx = fx_new();
	chain(fx, 65);
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "m0", &set), -ELOOP);
	ck_assert_ptr_null(set.v);
	ck_assert(fx_log_has(fx, "/sys/module/m0: more than 64 modules hold it"));
	fx_free(fx);
}
END_TEST

START_TEST(holder_gone_meanwhile)
{
	struct fx *fx = fx_new();
	struct gh_modset set;

	/* The holders link outlives the module's own directory for a moment. */
	fx_module(fx, "nvidia", 1, "nvidia_uvm", "nvidia_modeset", NULL);
	fx_module(fx, "nvidia_uvm", 0, NULL);
	ck_assert_int_eq(gh_modules_stack(fx->ctx, "nvidia", &set), 0);
	ck_assert_uint_eq(set.n, 2);
	ck_assert_str_eq(set.v[0].name, "nvidia_uvm");
	ck_assert_str_eq(set.v[1].name, "nvidia");
	gh_modules_free(&set);
	fx_free(fx);
}
END_TEST

START_TEST(read_states)
{
	struct fx *fx = fx_new();
	struct gh_module m;

	fx_module(fx, "nvidia_drm", 2, NULL);
	fx_module(fx, "vfio_pci", 0, NULL);
	fx_file(fx, "/sys/module/vfio_pci/initstate", "coming\n");
	fx_module(fx, "snd_hda_intel", 0, NULL);
	fx_file(fx, "/sys/module/snd_hda_intel/initstate", "going\n");
	fx_module(fx, "odd", 0, NULL);
	fx_file(fx, "/sys/module/odd/initstate", "unformed\x1b\n");
	fx_module(fx, "norefs", 0, NULL);
	fx_file(fx, "/sys/module/norefs/refcnt", "-1\n");

	/* '-' and '_' are one character to the kernel. */
	ck_assert_int_eq(gh_modules_read(fx->ctx, "nvidia-drm", &m), 0);
	ck_assert_str_eq(m.name, "nvidia_drm");
	ck_assert_int_eq(m.state, GH_MOD_LIVE);
	ck_assert_int_eq(m.refcnt, 2);
	gh_strv_free(&m.holders);
	ck_assert_int_eq(gh_modules_read(fx->ctx, "vfio_pci", &m), 0);
	ck_assert_int_eq(m.state, GH_MOD_COMING);
	gh_strv_free(&m.holders);
	ck_assert_int_eq(gh_modules_read(fx->ctx, "snd_hda_intel", &m), 0);
	ck_assert_int_eq(m.state, GH_MOD_GOING);
	gh_strv_free(&m.holders);
	ck_assert_int_eq(gh_modules_read(fx->ctx, "norefs", &m), 0);
	ck_assert_int_eq(m.refcnt, -1);
	gh_strv_free(&m.holders);
	ck_assert_int_eq(fx->n_errors, 0);

	ck_assert_int_eq(gh_modules_read(fx->ctx, "odd", &m), -EINVAL);
	ck_assert(fx_log_has(fx, "/sys/module/odd/initstate: unknown state \"unformed\\x1b\""));
	ck_assert_int_eq(gh_modules_read(fx->ctx, "../odd", &m), -EINVAL);
	ck_assert_int_eq(gh_modules_read(fx->ctx, "", &m), -EINVAL);
	ck_assert_int_eq(gh_modules_read(fx->ctx, "a_module_name_that_is_far_too_long_for_the_kernel_to_have_loaded_it",
					  &m), -EINVAL);
	ck_assert_int_eq(fx->n_errors, 1);
	fx_free(fx);
}
END_TEST

START_TEST(names_and_states)
{
	ck_assert(gh_modules_name_eq("nvidia-drm", "nvidia_drm"));
	ck_assert(gh_modules_name_eq("i2c_nvidia_gpu", "i2c-nvidia-gpu"));
	ck_assert(!gh_modules_name_eq("nvidia", "nvidia_drm"));
	ck_assert(!gh_modules_name_eq("nvidia_drm", "nvidia"));
	ck_assert(!gh_modules_name_eq("nvidia", "Nvidia"));
	ck_assert_str_eq(gh_modules_state_name(GH_MOD_ABSENT), "absent");
	ck_assert_str_eq(gh_modules_state_name(GH_MOD_LIVE), "live");
	ck_assert_str_eq(gh_modules_state_name(GH_MOD_COMING), "coming");
	ck_assert_str_eq(gh_modules_state_name(GH_MOD_GOING), "going");
	ck_assert_str_eq(gh_modules_state_name(GH_MOD_BUILTIN), "builtin");
	ck_assert_str_eq(gh_modules_state_name((enum gh_mod_state)42), "unknown");
}
END_TEST

START_TEST(real_ops_table_is_complete)
{
	const struct gh_ops *o = &gh_modules_real_ops;

	ck_assert_ptr_nonnull(o->write);
	ck_assert_ptr_nonnull(o->service);
	ck_assert_ptr_nonnull(o->signal);
	ck_assert_ptr_nonnull(o->module_remove);
	ck_assert_ptr_nonnull(o->module_load);
	ck_assert_ptr_nonnull(o->set_affinity);
	ck_assert_ptr_nonnull(o->get_affinity);
	ck_assert_ptr_nonnull(o->run);
	ck_assert_ptr_nonnull(gh_sim_ops.run);
}
END_TEST

/* The running system's ops never execute anything, nor touch its modules, while a fixture root is set. */
START_TEST(real_ops_run_nothing_under_a_root)
{
	struct fx *fx = fx_new();
	char marker[PATH_MAX + 16], *argv[] = { (char *)"/bin/sh", (char *)"-c", NULL, NULL }, cmd[PATH_MAX + 32];

	snprintf(marker, sizeof(marker), "%s.ran", fx->root);
	snprintf(cmd, sizeof(cmd), "touch '%s'", marker);
	argv[2] = cmd;
	fx_file(fx, "/usr/bin/systemctl", "#!/bin/sh\ntouch '%s'\n", marker);
	fx_chmod(fx, "/usr/bin/systemctl", 0755);
	ck_assert_int_eq(gh_modules_real_ops.service(fx->ctx, "start", "x.service"), -EPERM);
	ck_assert_int_eq(gh_modules_real_ops.run(fx->ctx, argv), -EPERM);
	ck_assert_int_eq(access(marker, F_OK), -1);
	/* libkmod would act on this machine's kernel: refused before it is asked (a name no kernel has, all the same). */
	ck_assert_int_eq(gh_modules_real_ops.module_load(fx->ctx, "gh_test_no_such_module"), -EPERM);
	ck_assert_int_eq(gh_modules_real_ops.module_remove(fx->ctx, "gh_test_no_such_module"), -EPERM);
	fx_free(fx);
}
END_TEST

/*
 * The simulator under the real root refuses every op. The arguments name
 * nothing that exists here, so even a simulator without the check would
 * find nothing to write on this machine.
 */
START_TEST(sim_ops_refuse_the_real_root)
{
	struct gh_ctx *real;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(0, &set);
	ck_assert_int_eq(gh_ctx_new("/", &real), 0);
	/* A path that names nothing on any machine: were the guard gone, no write could land. */
	ck_assert_int_eq(gh_sim_ops.write(real, "/gh-test-no-such-dir/driver_override", "vfio-pci"), -EPERM);
	ck_assert_int_eq(gh_sim_ops.module_remove(real, "gh_test_no_such_module"), -EPERM);
	ck_assert_int_eq(gh_sim_ops.module_load(real, "gh_test_no_such_module"), -EPERM);
	ck_assert_int_eq(gh_sim_ops.service(real, "stop", "gh-test-no-such.service"), -EPERM);
	ck_assert_int_eq(gh_sim_ops.signal(real, 0x3ffffff0, -1, 0), -EPERM);
	ck_assert_int_eq(gh_sim_ops.set_affinity(real, 0x3ffffff0, &set), -EPERM);
	ck_assert_int_eq(gh_sim_ops.get_affinity(real, 0x3ffffff0, &set), -EPERM);
	ck_assert_int_eq(gh_sim_ops.set_sched(real, 0x3ffffff0, SCHED_OTHER, 0), -EPERM);
	gh_ctx_free(real);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("modules");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, nvidia_stack_order);
	tcase_add_test(tc, holders_always_before_what_they_hold);
	tcase_add_test(tc, builtin_and_absent);
	tcase_add_test(tc, cycle_is_refused);
	tcase_add_test(tc, sixty_four_at_most);
	tcase_add_test(tc, holder_gone_meanwhile);
	tcase_add_test(tc, read_states);
	tcase_add_test(tc, names_and_states);
	tcase_add_test(tc, real_ops_table_is_complete);
	tcase_add_test(tc, real_ops_run_nothing_under_a_root);
	tcase_add_test(tc, sim_ops_refuse_the_real_root);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
