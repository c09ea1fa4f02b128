/* SPDX-License-Identifier: MIT */
/*
 * The ownership rule of every load (lib/README.md): a load that fails leaves
 * its out-struct owning nothing, and a *_free after that is harmless. Run
 * under ASan (GH_SANITIZE) a leak or a double free fails the suite as well.
 */
#include <errno.h>
#include <stdlib.h>

#include "fixture.h"
#include "host.h"
#include "policy.h"

static void bad_policy(struct fx *fx)
{
	fx_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\ntimeout = forever\n");
	fx_chmod(fx, "/etc/gpu-hook/gpu-hook.ini", 0644);
}

/* The defaults gh_policy_init put in (two services) are gone with the failure. */
START_TEST(policy_load_failure_owns_nothing)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	bad_policy(fx);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EINVAL);
	ck_assert(fx_log_has(fx, "gpu-hook.ini:2: timeout"));
	ck_assert_ptr_null(p.services.v);
	ck_assert_uint_eq(p.services.n, 0);
	ck_assert_ptr_null(p.files.v);
	gh_policy_free(&p);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

/* A VM whose config reads but whose policy does not: the host holds nothing of either. */
START_TEST(host_load_failure_owns_nothing)
{
	struct fx *fx = fx_new();
	struct gh_host h;

	fx_host_single(fx);
	bad_policy(fx);
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), -EINVAL);
	ck_assert_ptr_null(h.pol.services.v);
	ck_assert_ptr_null(h.f);
	ck_assert_uint_eq(h.n_f, 0);
	ck_assert_ptr_null(h.notes.v);
	ck_assert_ptr_null(h.refusals.v);
	gh_host_free(&h);
	fx_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\ntimeout = 5s\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_ptr_nonnull(h.pol.services.v);
	ck_assert_uint_ge(h.n_f, 1);
	gh_host_free(&h);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ownership");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, policy_load_failure_owns_nothing);
	tcase_add_test(tc, host_load_failure_owns_nothing);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
