/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "mapping.h"

static int parse(struct fx *fx, const char *text, struct gh_mapping_file *mf)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	ck_assert_ptr_nonnull(f);
	r = gh_mapping_parse(fx->ctx, f, "pci.cfg", mf);
	fclose(f);
	return r;
}

START_TEST(two_nodes)
{
	struct fx *fx = fx_new();
	struct gh_mapping_file mf;
	const struct gh_mapping *m;

	ck_assert_int_eq(parse(fx,
			       "# comment\n"
			       "gpu-4090\n"
			       "\tmap id=10de:2684,iommugroup=14,node=pve1,path=0000:01:00,subsystem-id=1043:889c\n"
			       "\tmap id=10de:2684,iommugroup=22,node=pve2,path=0000:41:00.0;0000:41:00.1\n"
			       "\tdescription RTX 4090\n"
			       "\tlive-migration-capable 0\n"
			       "\n"
			       "someNic\n"
			       "\tmdev 1\n"
			       "\tmap node=pve1,path=0000:07:10.0,id=8086:1520\n",
			       &mf),
			 0);
	ck_assert_uint_eq(mf.n, 2);
	m = gh_mapping_find(&mf, "gpu-4090");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n_maps, 2);
	ck_assert_str_eq(m->maps[0].node, "pve1");
	ck_assert_uint_eq(m->maps[0].vendor, 0x10de);
	ck_assert_uint_eq(m->maps[0].device, 0x2684);
	ck_assert(m->maps[0].has_subsystem);
	ck_assert_uint_eq(m->maps[0].sub_device, 0x889c);
	ck_assert_int_eq(m->maps[0].iommugroup, 14);
	ck_assert_int_eq(m->maps[0].paths[0].func, -1);
	ck_assert_int_eq(m->maps[0].line, 3);
	ck_assert_uint_eq(m->maps[1].n_paths, 2);
	ck_assert_int_eq(m->maps[1].paths[1].func, 1);
	ck_assert(!m->maps[1].has_subsystem);
	ck_assert(gh_mapping_find(&mf, "someNic")->mdev);
	ck_assert_ptr_null(gh_mapping_find(&mf, "nope"));
	gh_mapping_free(&mf);
	fx_free(fx);
}
END_TEST

START_TEST(errors_with_lines)
{
	struct fx *fx = fx_new();
	struct gh_mapping_file mf;

	ck_assert_int_eq(parse(fx,
			       "gpu\n"
			       "\tmap id=10DE:2684,node=pve1,path=0000:01:00\n"
			       "\tmap id=10de:2684,node=pve1,path=01:00\n"
			       "\tmap node=pve1,path=0000:01:00\n"
			       "\tcolour blue\n"
			       "\tmap id=10de:2684,node=pve1,path=0000:01:00,frob=1\n"
			       "\n"
			       "\tmap id=10de:2684,node=pve1,path=0000:01:00\n"
			       "bad id!\n",
			       &mf),
			 -EINVAL);
	ck_assert(fx_log_has(fx, "pci.cfg:2: map: invalid id '10DE:2684'"));
	ck_assert(fx_log_has(fx, "pci.cfg:3: map: invalid path '01:00'"));
	ck_assert(fx_log_has(fx, "pci.cfg:4: map: node, path and id are required"));
	ck_assert(fx_log_has(fx, "pci.cfg:5: unknown property 'colour'"));
	ck_assert(fx_log_has(fx, "pci.cfg:6: map: unknown property 'frob'"));
	ck_assert(fx_log_has(fx, "pci.cfg:8: property outside a section"));
	ck_assert(fx_log_has(fx, "pci.cfg:9: invalid mapping id"));
	ck_assert_uint_eq(mf.n, 0);
	fx_free(fx);
}
END_TEST

START_TEST(load_through_root)
{
	struct fx *fx = fx_new();
	struct gh_mapping_file mf;

	ck_assert_int_eq(gh_mapping_load(fx->ctx, &mf), -ENOENT);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "x\n\tmap id=10de:1234,node=n,path=0000:01:00.0\n");
	ck_assert_int_eq(gh_mapping_load(fx->ctx, &mf), 0);
	ck_assert_uint_eq(mf.n, 1);
	gh_mapping_free(&mf);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mapping");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, two_nodes);
	tcase_add_test(tc, errors_with_lines);
	tcase_add_test(tc, load_through_root);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
