/* SPDX-License-Identifier: MIT */
/*
 * Trust boundary: /etc/pve/mapping/pci.cfg is edited by Proxmox users with
 * Mapping.Modify, not only by root. A broken entry of one mapping must not
 * stop a VM that uses another (Proxmox itself skips bad entries); the VM
 * that does use the broken mapping is refused with the file and line.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

START_TEST(unrelated_broken_mapping_does_not_stop_a_start)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;

	fx_example_host(fx);
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "%s",
		"gpu-4090\n\tmap id=10de:2684,iommugroup=14,node=pve1,path=0000:01:00,subsystem-id=1043:889c\n"
		"\nnic0\n\tmap id=8086:10fb,node=pve1,path=0000:05:00.0,frob=1\n\tcolour blue\n\n\tstray 1\n");
	fx_chmod(fx, "/etc/pve/mapping/pci.cfg", 0644);
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "112", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "exit %d: %s", r->status, r->err);
	ck_assert_ptr_null(strstr(r->err, "frob"));
	ck_assert_ptr_null(strstr(r->err, "colour"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(the_vm_using_it_is_refused_with_file_and_line)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;

	fx_example_host(fx);
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "%s",
		"gpu-4090\n\tmap id=10de:2684,iommugroup=14,node=pve1,path=0000:01:00,subsystem-id=1043:889c\n"
		"\tcolour blue\n\nnic0\n\tmap id=8086:10fb,node=pve1,path=0000:05:00.0,frob=1\n");
	fx_chmod(fx, "/etc/pve/mapping/pci.cfg", 0644);
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "112", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "/etc/pve/mapping/pci.cfg:3: unknown property 'colour'"));
	/* The other mapping's problem is not this VM's. */
	ck_assert_ptr_null(strstr(r->err, "frob"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);
	free(r);
	fx_free(fx);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("mapping_scope");
	TCase *tc = tcase_create("mapping_scope");

	tcase_add_test(tc, unrelated_broken_mapping_does_not_stop_a_start);
	tcase_add_test(tc, the_vm_using_it_is_refused_with_file_and_line);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return fx_run_suite(suite());
}
