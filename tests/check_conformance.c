/* SPDX-License-Identifier: MIT */
/*
 * Every real Proxmox file under ../shared/testdata/pve (qemu-server's own
 * test configs, the mapping file, hand-written edge cases) parses without
 * error, as Proxmox accepts them; and the edge cases mean what their README
 * says they mean.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "mapping.h"
#include "vmconf.h"

static int n_configs, n_mappings;

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void parse_tree(struct fx *fx, const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		ck_assert_int_eq(stat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			parse_tree(fx, path);
			continue;
		}
		/* README.txt, the device list and PVE's expected error texts are not configs. */
		if (!ends_with(path, ".conf") && !ends_with(path, ".cfg"))
			continue;
		f = fopen(path, "re");
		ck_assert_ptr_nonnull(f);
		if (ends_with(path, ".cfg")) {
			struct gh_mapping_file mf;

			ck_assert_msg(gh_mapping_parse(fx->ctx, f, path, &mf) == 0, "%s:\n%s", path, fx->log);
			gh_mapping_free(&mf);
			n_mappings++;
		} else {
			struct gh_vmconf vm;

			ck_assert_msg(gh_vmconf_parse(fx->ctx, f, path, &vm) == 0, "%s:\n%s", path, fx->log);
			n_configs++;
		}
		fclose(f);
	}
	closedir(d);
}

START_TEST(every_shared_file_parses)
{
	struct fx *fx = fx_new();
	struct stat st;

	if (stat(GH_SHARED_TESTDATA, &st) < 0) {
		printf("conformance: shared testdata not found at %s, skipping\n", GH_SHARED_TESTDATA);
		fx_free(fx);
		return;
	}
	parse_tree(fx, GH_SHARED_TESTDATA);
	printf("conformance: %d VM configs and %d mapping files parsed\n", n_configs, n_mappings);
	ck_assert_int_gt(n_configs, 50);
	ck_assert_int_ge(n_mappings, 2);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

static bool load(struct fx *fx, const char *rel, struct gh_vmconf *vm)
{
	char path[PATH_MAX];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/%s", GH_SHARED_TESTDATA, rel);
	f = fopen(path, "re");
	if (!f)
		return false;
	r = gh_vmconf_parse(fx->ctx, f, path, vm);
	fclose(f);
	ck_assert_int_eq(r, 0);
	return true;
}

START_TEST(synthetic_edge_cases)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	if (!load(fx, "synthetic/101.conf", &vm)) {
		printf("conformance: shared testdata not found, skipping\n");
		fx_free(fx);
		return;
	}
	/* Whole slot, a ';' list with the domain implied, [PENDING] and the snapshot ignored. */
	ck_assert_uint_eq(vm.hostpci[0].n_ids, 1);
	ck_assert_int_eq(vm.hostpci[0].ids[0].func, -1);
	ck_assert(vm.hostpci[0].xvga);
	ck_assert_uint_eq(vm.hostpci[1].n_ids, 2);
	ck_assert_uint_eq(vm.hostpci[1].ids[1].bus, 2);
	ck_assert_int_eq(vm.hostpci[1].ids[1].func, 1);
	ck_assert(!vm.hostpci[2].present);
	ck_assert_str_eq(vm.affinity, "4-11");
	ck_assert_uint_eq(vm.cores, 8);

	ck_assert(load(fx, "synthetic/102.conf", &vm));
	ck_assert_str_eq(vm.hostpci[0].mapping, "gpu-4090");
	ck_assert_str_eq(vm.hostpci[1].mdev, "nvidia-63");
	ck_assert_str_eq(vm.lock, "backup");
	ck_assert_uint_eq(gh_vmconf_vcpus(&vm), 6);
	ck_assert_uint_eq(vm.sockets, 2);
	ck_assert_uint_eq(vm.cores, 4);
	fx_free(fx);
}
END_TEST

START_TEST(nvidia_mapping_example)
{
	struct fx *fx = fx_new();
	struct gh_mapping_file mf;
	const struct gh_mapping *m;
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/mapping/pci-nvidia-example.cfg", GH_SHARED_TESTDATA);
	f = fopen(path, "re");
	if (!f) {
		fx_free(fx);
		return;
	}
	ck_assert_int_eq(gh_mapping_parse(fx->ctx, f, path, &mf), 0);
	fclose(f);
	m = gh_mapping_find(&mf, "gpu-4090");
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n_maps, 2);
	ck_assert_str_eq(m->maps[1].node, "pve2");
	ck_assert_uint_eq(m->maps[1].paths[0].bus, 0x41);
	ck_assert_int_eq(m->maps[1].iommugroup, 22);
	gh_mapping_free(&mf);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conformance");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_shared_file_parses);
	tcase_add_test(tc, synthetic_edge_cases);
	tcase_add_test(tc, nvidia_mapping_example);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
