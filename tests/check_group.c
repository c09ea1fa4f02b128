/* SPDX-License-Identifier: MIT */
/*
 * The rest of an IOMMU group: Proxmox binds every non-bridge member to
 * vfio-pci at start (pve-common SysFSTools.pm pci_dev_group_bind_to_vfio,
 * with new_id), members without a driver included. gpu-hook takes them into
 * the handoff so that the way back finds them: no driver stays no driver,
 * and the dynamic id is removed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "host.h"
#include "journal.h"
#include "plan.h"
#include "plan-back.h"
#include "run.h"

static bool has_step(const struct gh_plan *p, enum gh_action a, const char *target, const char *arg)
{
	for (unsigned i = 0; i < p->n; i++)
		if (p->v[i].op.action == a && !strcmp(p->v[i].op.target, target) && (!arg || !strcmp(p->v[i].op.arg, arg)))
			return true;
	return false;
}

static bool has_note(const struct gh_strv *sv, const char *needle)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strstr(sv->v[i], needle))
			return true;
	return false;
}

static bool has_refusal(const struct gh_refusals *set, enum gh_refusal_kind kind, const char *needle)
{
	for (size_t i = 0; i < set->n; i++)
		if (set->v[i].kind == kind && strstr(set->v[i].text, needle))
			return true;
	return false;
}

START_TEST(unbound_member_goes_back_unbound)
{
	struct fx *fx = fx_new();
	struct gh_journal j;
	struct gh_plan p, back;
	struct gh_host h;
	const struct gh_func *m;
	int *undoes = NULL;

	fx_host_single(fx);
	/* A USB controller that shares the card's group (no ACS) and has no driver. */
	fx_pci(fx, "0000:03:00.0", 0x1b21, 0x2142, 0x0c0330, NULL, 14);
	/* A bridge in the group is left out, as PVE leaves it (it has a pci_bus). */
	fx_pci(fx, "0000:00:1c.0", 0x8086, 0xa338, 0x060400, NULL, 14);
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_uint_eq(h.refusals.n, 0);
	m = gh_host_func(&h, "0000:03:00.0");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->hostpci, -1);
	ck_assert_str_eq(m->host_driver, "");
	ck_assert_ptr_null(gh_host_func(&h, "0000:00:1c.0"));
	ck_assert(has_note(&h.notes, "0000:03:00.0 added: it shares IOMMU group 14 with 0000:01:00.0"));

	/* pre-start binds it with the card, and checks it arrived. */
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &p), 0);
	ck_assert(has_step(&p, GH_ACT_OVERRIDE, "0000:03:00.0", "vfio-pci"));
	ck_assert(has_step(&p, GH_ACT_PROBE, "0000:03:00.0", "vfio-pci"));
	ck_assert(has_step(&p, GH_ACT_VERIFY, "0000:03:00.0", "vfio-pci"));
	ck_assert(!has_step(&p, GH_ACT_UNBIND, "0000:03:00.0", NULL));

	/* post-stop from the journal: off vfio-pci, its id out of vfio-pci's table, and no driver probed. */
	ck_assert_int_eq(gh_journal_init(&j, "111", 111, "to-vfio", &h, &p), 0);
	for (unsigned i = 0; i < j.n_steps; i++)
		j.status[i] = GH_J_DONE;
	ck_assert_int_eq(gh_plan_from_journal(&j, &back, &undoes), 0);
	ck_assert(has_step(&back, GH_ACT_UNBIND, "0000:03:00.0", "vfio-pci"));
	ck_assert(has_step(&back, GH_ACT_REMOVE_ID, "0000:03:00.0", "1b21 2142"));
	ck_assert(has_step(&back, GH_ACT_OVERRIDE, "0000:03:00.0", ""));
	ck_assert(!has_step(&back, GH_ACT_PROBE, "0000:03:00.0", NULL));
	ck_assert(!has_step(&back, GH_ACT_VERIFY, "0000:03:00.0", NULL));
	/* The card itself still goes back to its drivers. */
	ck_assert(has_step(&back, GH_ACT_PROBE, "0000:01:00.1", "snd_hda_intel"));
	free(undoes);
	gh_plan_free(&back);
	gh_journal_free(&j);
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(bound_member_still_refuses)
{
	struct fx *fx = fx_new();
	struct gh_host h;

	fx_host_single(fx);
	fx_pci(fx, "0000:03:00.0", 0x1b21, 0x2142, 0x0c0330, "xhci_hcd", 14);
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_ptr_null(gh_host_func(&h, "0000:03:00.0"));
	ck_assert(has_refusal(&h.refusals, GH_REFUSAL_GROUP, "IOMMU group 14 is not viable: 0000:03:00.0"));
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("group");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, unbound_member_goes_back_unbound);
	tcase_add_test(tc, bound_member_still_refuses);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
