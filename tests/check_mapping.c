/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "mapping.h"

static int parse_len(struct fx *fx, const char *text, size_t len, struct gh_mapping_file *mf)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int r;

	ck_assert_ptr_nonnull(f);
	r = gh_mapping_parse(fx->ctx, f, "pci.cfg", mf);
	fclose(f);
	return r;
}

static int parse(struct fx *fx, const char *text, struct gh_mapping_file *mf)
{
	return parse_len(fx, text, strlen(text), mf);
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
			       "\tmap id=10de:2684,iommugroup=22,node=pve2,path=0000:41:00.0;0000:41:00.1,description=x y\n"
			       "\tdescription RTX 4090, whole card\n"
			       "\tlive-migration-capable 0\n"
			       "\n"
			       "\n"
			       "someNic \n"
			       "# a comment inside\n"
			       "  mdev 1\n"
			       "\tmap node=pve1,path=0001:07:10.0,id=8086:1520\n",
			       &mf),
			 0);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_uint_eq(mf.n, 2);
	m = gh_mapping_find(&mf, "gpu-4090");
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->line, 2);
	ck_assert(!m->mdev);
	ck_assert(!m->live_migration);
	ck_assert_uint_eq(m->n_maps, 2);
	ck_assert_str_eq(m->maps[0].node, "pve1");
	ck_assert_uint_eq(m->maps[0].vendor, 0x10de);
	ck_assert_uint_eq(m->maps[0].device, 0x2684);
	ck_assert(m->maps[0].has_subsystem);
	ck_assert_uint_eq(m->maps[0].sub_vendor, 0x1043);
	ck_assert_uint_eq(m->maps[0].sub_device, 0x889c);
	ck_assert_int_eq(m->maps[0].iommugroup, 14);
	ck_assert_uint_eq(m->maps[0].n_paths, 1);
	ck_assert_uint_eq(m->maps[0].paths[0].bus, 1);
	ck_assert_int_eq(m->maps[0].paths[0].func, -1);
	ck_assert_int_eq(m->maps[0].line, 3);
	ck_assert_str_eq(m->maps[1].node, "pve2");
	ck_assert_int_eq(m->maps[1].iommugroup, 22);
	ck_assert_uint_eq(m->maps[1].n_paths, 2);
	ck_assert_uint_eq(m->maps[1].paths[1].bus, 0x41);
	ck_assert_int_eq(m->maps[1].paths[1].func, 1);
	ck_assert(!m->maps[1].has_subsystem);
	m = gh_mapping_find(&mf, "someNic");
	ck_assert_ptr_nonnull(m);
	ck_assert(m->mdev);
	ck_assert_uint_eq(m->n_maps, 1);
	ck_assert_uint_eq(m->maps[0].paths[0].domain, 1);
	ck_assert_int_eq(m->maps[0].iommugroup, -1);
	ck_assert_ptr_null(gh_mapping_find(&mf, "nope"));
	ck_assert_ptr_null(gh_mapping_find(&mf, "somenic"));
	gh_mapping_free(&mf);
	ck_assert_uint_eq(mf.n, 0);
	ck_assert_ptr_null(mf.v);
	/* Freeing twice is harmless. */
	gh_mapping_free(&mf);

	ck_assert_int_eq(parse(fx, "", &mf), 0);
	ck_assert_uint_eq(mf.n, 0);
	gh_mapping_free(&mf);
	fx_free(fx);
}
END_TEST

START_TEST(every_error_with_its_line)
{
	struct fx *fx = fx_new();
	struct gh_mapping_file mf;

	ck_assert_int_eq(parse(fx,
			       "gpu\n"						     /* 1 */
			       "\tmap id=10DE:2684,node=pve1,path=0000:01:00\n"	     /* 2 */
			       "\tmap id=10de:2684,node=pve1,path=01:00\n"	     /* 3 */
			       "\tmap node=pve1,path=0000:01:00\n"		     /* 4 */
			       "\tcolour blue\n"				     /* 5 */
			       "\tmap id=10de:2684,node=pve1,path=0000:01:00,frob=1\n" /* 6 */
			       "\n"						     /* 7 */
			       "\tmap id=10de:2684,node=pve1,path=0000:01:00\n"	     /* 8 */
			       "bad id!\n"					     /* 9 */
			       "\tmap id=10de:2684,node=pve1,path=0000:01:00\n"	     /* 10 */
			       "\n"						     /* 11 */
			       "nic\n"						     /* 12 */
			       "\tmap id=10de:2684,iommugroup=x,node=pve1,path=0000:01:00\n" /* 13 */
			       "\tmap id=10de:2684,node=pve1,path=0000:01:00.0;;0000:01:00.1\n" /* 14 */
			       "\tmap id=10de:2684,node=pve1,node=pve2,path=0000:01:00\n" /* 15 */
			       "\tmdev maybe\n"					     /* 16 */
			       "\tdescription a\n"				     /* 17 */
			       "\tdescription b\n"				     /* 18 */
			       "other\n"					     /* 19 */
			       "\tmap id=10de:2684,node=pve/1,path=0000:01:00,subsystem-id=0x10:1\n" /* 20 */
			       "\n"						     /* 21 */
			       "nic\n",						     /* 22 */
			       &mf),
			 -EINVAL);
	ck_assert(fx_log_has(fx, "pci.cfg:2: map: invalid id '10DE:2684' (expected vvvv:dddd, lowercase hex)"));
	ck_assert(fx_log_has(fx, "pci.cfg:3: map: invalid path '01:00' (expected dddd:bb:ss[.f], lowercase hex)"));
	ck_assert(fx_log_has(fx, "pci.cfg:4: map: node, path and id are required (missing: id)"));
	ck_assert(fx_log_has(fx, "pci.cfg:5: unknown property 'colour'"));
	ck_assert(fx_log_has(fx, "pci.cfg:6: map: unknown property 'frob'"));
	ck_assert(fx_log_has(fx, "pci.cfg:8: property line outside a section"));
	ck_assert(fx_log_has(fx, "pci.cfg:9: invalid mapping id 'bad id!'"));
	ck_assert(fx_log_has(fx, "pci.cfg:13: map: invalid iommugroup 'x'"));
	ck_assert(fx_log_has(fx, "pci.cfg:14: map: empty path in '0000:01:00.0;;0000:01:00.1'"));
	ck_assert(fx_log_has(fx, "pci.cfg:15: map: cannot parse 'id=10de:2684,node=pve1,node=pve2,path=0000:01:00': "
				 "'node' given twice"));
	ck_assert(fx_log_has(fx, "pci.cfg:16: mdev: expected a boolean, not 'maybe'"));
	ck_assert(fx_log_has(fx, "pci.cfg:18: description given twice"));
	ck_assert(fx_log_has(fx, "pci.cfg:19: 'other' at column 0 inside a section"));
	ck_assert(fx_log_has(fx, "pci.cfg:20: map: invalid node 'pve/1'"));
	ck_assert(fx_log_has(fx, "pci.cfg:20: map: invalid subsystem-id '0x10:1'"));
	ck_assert(fx_log_has(fx, "pci.cfg:22: mapping 'nic' defined twice"));
	/* Line 10 belongs to the refused section: not reported again. */
	ck_assert_int_eq(fx->n_errors, 16);
	ck_assert_uint_eq(mf.n, 0);
	ck_assert_ptr_null(mf.v);
	fx_free(fx);
}
END_TEST

START_TEST(garbage_and_long_lines)
{
	static const char garbage[] = "gpu\n\tmap id=10de:2684,node=pve1,path=0000:01:00\n\tdescription \xff\n"
				      "\tdescription a\0b\n\n\x01\n";
	struct fx *fx = fx_new();
	struct gh_mapping_file mf;
	size_t big = 70000;
	char *text = malloc(big + 128);

	ck_assert_int_eq(parse_len(fx, garbage, sizeof(garbage) - 1, &mf), -EINVAL);
	ck_assert(fx_log_has(fx, "pci.cfg:3: line is not valid UTF-8"));
	ck_assert(fx_log_has(fx, "pci.cfg:4: NUL byte in line"));
	ck_assert(fx_log_has(fx, "pci.cfg:6: control character in line"));
	ck_assert_int_eq(fx->n_errors, 3);

	fx_log_clear(fx);
	ck_assert_ptr_nonnull(text);
	memcpy(text, "gpu\n\tdescription ", 17);
	memset(text + 17, 'x', big - 17);
	strcpy(text + big, "\n\tmap id=10de:2684,node=pve1,path=0000:01:00\n\tbogus 1\n");
	ck_assert_int_eq(parse(fx, text, &mf), -EINVAL);
	ck_assert(fx_log_has(fx, "pci.cfg:2: line too long"));
	ck_assert(fx_log_has(fx, "pci.cfg:4: unknown property 'bogus'"));
	ck_assert_int_eq(fx->n_errors, 2);
	free(text);
	fx_free(fx);
}
END_TEST

START_TEST(load_through_root)
{
	struct fx *fx = fx_new();
	struct gh_mapping_file mf;

	ck_assert_int_eq(gh_mapping_load(fx->ctx, &mf), -ENOENT);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_uint_eq(mf.n, 0);
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "x1\n\tmap id=10de:1234,node=n,path=0000:01:00.0\n");
	ck_assert_int_eq(gh_mapping_load(fx->ctx, &mf), 0);
	ck_assert_uint_eq(mf.n, 1);
	ck_assert_uint_eq(gh_mapping_find(&mf, "x1")->maps[0].device, 0x1234);
	gh_mapping_free(&mf);
	/* Messages name the system path. */
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "x1\n\tmap id=10de:1234,node=n,path=0000:01:00.g\n");
	ck_assert_int_eq(gh_mapping_load(fx->ctx, &mf), -EINVAL);
	ck_assert(fx_log_has(fx, "/etc/pve/mapping/pci.cfg:2: map: invalid path '0000:01:00.g'"));
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mapping");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, two_nodes);
	tcase_add_test(tc, every_error_with_its_line);
	tcase_add_test(tc, garbage_and_long_lines);
	tcase_add_test(tc, load_through_root);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
