/* SPDX-License-Identifier: MIT */
/*
 * Refusals are decided on by kind, never by their text: rewording a message
 * must not change what a phase or `check` does. Each case gives a refusal a
 * text that the old prefix and keyword tests would have put in another
 * class than its kind.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "host.h"
#include "hostcheck.h"
#include "plan.h"

static const struct {
	enum gh_refusal_kind kind;
	const char *text;
	bool after_stop;	/* still refuses the way back */
} worded[] = {
	/* Reworded: neither starts as the old texts did ("held by ", "modeset_hold = "). */
	{ GH_REFUSAL_HOLDER, "pid 77 (Xorg) keeps /dev/nvidia0 open", false },
	{ GH_REFUSAL_MODESET, "nvidia-drm keeps every card (set modeset_hold = reload)", false },
	/* Worded like a holder and like modeset, but about the group and the owner. */
	{ GH_REFUSAL_GROUP, "held by IOMMU group 14: 0000:03:00.0 is bound to xhci_hcd", true },
	{ GH_REFUSAL_OWNER, "modeset_hold = none of this: 0000:01:00.0 is in use by running VM 200", true },
	{ GH_REFUSAL_DEVICE, "device missing: 0000:05:00.0 is not in /sys/bus/pci/devices", true },
};

START_TEST(reworded_refusals_keep_their_decision)
{
	struct gh_host h;
	struct gh_plan to_vfio, to_host;
	size_t k = 0;

	memset(&h, 0, sizeof(h));
	ck_assert_int_eq(gh_policy_init(&h.pol), 0);
	for (size_t i = 0; i < sizeof(worded) / sizeof(worded[0]); i++)
		ck_assert_int_eq(gh_refusal_add(&h.refusals, worded[i].kind, "%s", worded[i].text), 0);

	/* Before a handoff every refusal counts. */
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &to_vfio), 0);
	ck_assert_uint_eq(to_vfio.refusals.n, sizeof(worded) / sizeof(worded[0]));
	for (size_t i = 0; i < to_vfio.refusals.n; i++) {
		ck_assert_int_eq(to_vfio.refusals.v[i].kind, worded[i].kind);
		ck_assert_str_eq(to_vfio.refusals.v[i].text, worded[i].text);
	}

	/* Giving the card back: holders and nvidia-drm's hold no longer matter, whatever their words. */
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_HOST, &to_host), 0);
	for (size_t i = 0; i < sizeof(worded) / sizeof(worded[0]); i++) {
		if (!worded[i].after_stop)
			continue;
		ck_assert_msg(k < to_host.refusals.n, "\"%s\" was dropped", worded[i].text);
		ck_assert_str_eq(to_host.refusals.v[k].text, worded[i].text);
		k++;
	}
	ck_assert_uint_eq(to_host.refusals.n, k);
	ck_assert_uint_eq(k, 3);
	gh_plan_free(&to_vfio);
	gh_plan_free(&to_host);
	gh_host_free(&h);
}
END_TEST

/*
 * A holder whose name reads like a config problem ("missing", "mapping") is
 * still a holder for `check`: a warning that a start would be refused now,
 * not a config error.
 */
START_TEST(check_grades_a_holder_by_kind)
{
	const unsigned vms[] = { 111 };
	struct fx *fx = fx_new();
	const struct gh_finding *hit = NULL;
	struct gh_findings f;

	fx_example_host(fx);
	fx_proc(fx, 4321, "missing-mapping", "./missing-mapping", "/system.slice/mapper.service");
	fx_proc_fd(fx, 4321, 5, "/dev/nvidia0");
	ck_assert_int_eq(gh_hostcheck_run(fx->ctx, vms, 1, &f), 0);
	for (unsigned i = 0; i < f.n && !hit; i++)
		if (!strcmp(f.v[i].where, "VM 111") && strstr(f.v[i].what, "held by pid 4321 (missing-mapping"))
			hit = &f.v[i];
	ck_assert_msg(hit != NULL, "%s", fx->log);
	ck_assert_int_eq(hit->severity, GH_SEV_WARNING);
	ck_assert_str_eq(hit->fix, "a start now would be refused for this reason");
	gh_hostcheck_free(&f);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("refusal");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, reworded_refusals_keep_their_decision);
	tcase_add_test(tc, check_grades_a_holder_by_kind);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
