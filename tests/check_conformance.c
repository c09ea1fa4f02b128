/* SPDX-License-Identifier: MIT */
/*
 * Every Proxmox file under ../shared/testdata/pve (qemu-server's own test
 * configs, the mapping files, hand-written edge cases) parses without error,
 * as Proxmox accepts them; and the edge cases mean what their README says.
 * Every file there is either parsed or skipped for a stated reason, so new
 * test data cannot slip by unread.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fixture.h"
#include "mapping.h"
#include "vmconf.h"

enum kind { SKIP, VMCONF, MAPPING, UNKNOWN };

struct counts {
	int configs, mappings, skipped;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static bool shared_testdata(void)
{
	struct stat st;

	if (stat(GH_SHARED_TESTDATA, &st) == 0 && S_ISDIR(st.st_mode))
		return true;
	printf("conformance: shared testdata not found, skipping\n");
	return false;
}

/* rel is the path under GH_SHARED_TESTDATA. */
static enum kind classify(const char *rel)
{
	const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;

	/* The notes that come with each folder. */
	if (!strcmp(base, "README.txt"))
		return SKIP;
	/*
	 * snapshot/: qemu-server's snapshot tests, snapshot-{input,expected}/<op>/qemu-server/<vmid>.conf,
	 * all whole VM configs (live section, then [snapshot] sections), looked at: every file is one.
	 */
	if (!strncmp(rel, "snapshot/", 9))
		return VMCONF;
	if (!strncmp(rel, "cfg2cmd/", 8) || !strncmp(rel, "parse-config-input/", 19) ||
	    !strncmp(rel, "parse-config-expected/", 22) || !strncmp(rel, "synthetic/", 10)) {
		if (ends_with(rel, ".conf"))
			return VMCONF;
		/* PVE's error text for its strict mode (parse-config-expected/<name>.conf.strict.error): not a config. */
		if (ends_with(rel, ".strict.error"))
			return SKIP;
		return UNKNOWN;
	}
	if (!strncmp(rel, "mapping/", 8)) {
		if (ends_with(rel, ".cfg"))
			return MAPPING;
		/* The lspci listing that the cfg2cmd tests mock: devices, not a config. */
		if (!strcmp(base, "mock-sysfs-pci-devices.txt"))
			return SKIP;
		return UNKNOWN;
	}
	return UNKNOWN;
}

static void parse_one(struct fx *fx, const char *path, enum kind kind, struct counts *n)
{
	FILE *f = fopen(path, "re");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fx_log_clear(fx);
	if (kind == MAPPING) {
		struct gh_mapping_file mf;

		ck_assert_msg(gh_mapping_parse(fx->ctx, f, path, &mf) == 0, "%s:\n%s", path, fx->log);
		gh_mapping_free(&mf);
		n->mappings++;
	} else {
		struct gh_vmconf vm;

		ck_assert_msg(gh_vmconf_parse(fx->ctx, f, path, &vm) == 0, "%s:\n%s", path, fx->log);
		n->configs++;
	}
	ck_assert_msg(fx->n_errors == 0, "%s:\n%s", path, fx->log);
	fclose(f);
}

static void walk(struct fx *fx, const char *rel, struct counts *n)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	ck_assert_int_lt(snprintf(dir, sizeof(dir), "%s%s%s", GH_SHARED_TESTDATA, *rel ? "/" : "", rel), (int)sizeof(dir));
	d = opendir(dir);
	ck_assert_msg(d != NULL, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		char path[PATH_MAX], sub[PATH_MAX];
		struct stat st;
		enum kind kind;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ck_assert_int_lt(snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", de->d_name), (int)sizeof(sub));
		ck_assert_int_lt(snprintf(path, sizeof(path), "%s/%s", dir, de->d_name), (int)sizeof(path));
		ck_assert_int_eq(stat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			walk(fx, sub, n);
			continue;
		}
		kind = classify(sub);
		ck_assert_msg(kind != UNKNOWN, "%s: no parser for this file; classify it in check_conformance.c", sub);
		if (kind == SKIP)
			n->skipped++;
		else
			parse_one(fx, path, kind, n);
	}
	closedir(d);
}

START_TEST(every_shared_file_parses)
{
	struct fx *fx = fx_new();
	struct counts n = { 0, 0, 0 };

	if (shared_testdata()) {
		walk(fx, "", &n);
		printf("conformance: %d VM configs and %d mapping files parsed, %d other files skipped\n", n.configs,
		       n.mappings, n.skipped);
		ck_assert_int_gt(n.configs + n.mappings, 50);
		ck_assert_int_ge(n.mappings, 2);
	}
	fx_free(fx);
}
END_TEST

static void load(struct fx *fx, const char *rel, struct gh_vmconf *vm)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", GH_SHARED_TESTDATA, rel);
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_msg(gh_vmconf_parse(fx->ctx, f, path, vm) == 0, "%s:\n%s", path, fx->log);
	fclose(f);
}

START_TEST(synthetic_edge_cases)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	if (!shared_testdata()) {
		fx_free(fx);
		return;
	}
	load(fx, "synthetic/101.conf", &vm);
	/* hostpci0: the whole slot 0000:01:00. */
	ck_assert(vm.hostpci[0].present);
	ck_assert_uint_eq(vm.hostpci[0].n_ids, 1);
	ck_assert_uint_eq(vm.hostpci[0].ids[0].domain, 0);
	ck_assert_uint_eq(vm.hostpci[0].ids[0].bus, 1);
	ck_assert_uint_eq(vm.hostpci[0].ids[0].slot, 0);
	ck_assert_int_eq(vm.hostpci[0].ids[0].func, -1);
	ck_assert(vm.hostpci[0].pcie);
	ck_assert(vm.hostpci[0].xvga);
	/* hostpci1: two ids, the domain implied. */
	ck_assert_uint_eq(vm.hostpci[1].n_ids, 2);
	ck_assert_uint_eq(vm.hostpci[1].ids[0].bus, 2);
	ck_assert_int_eq(vm.hostpci[1].ids[0].func, 0);
	ck_assert_uint_eq(vm.hostpci[1].ids[1].bus, 2);
	ck_assert_int_eq(vm.hostpci[1].ids[1].func, 1);
	/* [PENDING] (hostpci2, affinity 2-9) and the snapshot are not the live config. */
	ck_assert(!vm.hostpci[2].present);
	ck_assert_str_eq(vm.affinity, "4-11");
	ck_assert_uint_eq(vm.cores, 8);
	ck_assert_uint_eq(vm.sockets, 1);
	ck_assert_str_eq(vm.name, "win11-gpu");
	ck_assert_str_eq(vm.hookscript, "local:snippets/gpu-hook");
	ck_assert_str_eq(vm.lock, "");
	for (int i = 2; i < GH_HOSTPCI_MAX; i++)
		ck_assert(!vm.hostpci[i].present);

	load(fx, "synthetic/102.conf", &vm);
	ck_assert_str_eq(vm.hostpci[0].mapping, "gpu-4090");
	ck_assert_uint_eq(vm.hostpci[0].n_ids, 0);
	ck_assert(vm.hostpci[0].xvga);
	ck_assert_str_eq(vm.hostpci[1].mdev, "nvidia-63");
	ck_assert_uint_eq(vm.hostpci[1].n_ids, 1);
	ck_assert_str_eq(vm.lock, "backup");
	ck_assert_uint_eq(vm.vcpus, 6);
	ck_assert_uint_eq(gh_vmconf_vcpus(&vm), 6);
	ck_assert_uint_eq(vm.sockets, 2);
	ck_assert_uint_eq(vm.cores, 4);
	ck_assert_int_eq(fx->n_errors, 0);
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

	if (!shared_testdata()) {
		fx_free(fx);
		return;
	}
	snprintf(path, sizeof(path), "%s/mapping/pci-nvidia-example.cfg", GH_SHARED_TESTDATA);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(gh_mapping_parse(fx->ctx, f, path, &mf), 0);
	fclose(f);
	ck_assert_uint_eq(mf.n, 1);
	m = gh_mapping_find(&mf, "gpu-4090");
	ck_assert_ptr_nonnull(m);
	ck_assert(!m->mdev);
	ck_assert_uint_eq(m->n_maps, 2);
	for (unsigned i = 0; i < 2; i++) {
		ck_assert_uint_eq(m->maps[i].vendor, 0x10de);
		ck_assert_uint_eq(m->maps[i].device, 0x2684);
		ck_assert(m->maps[i].has_subsystem);
		ck_assert_uint_eq(m->maps[i].sub_vendor, 0x1043);
		ck_assert_uint_eq(m->maps[i].sub_device, 0x889c);
		ck_assert_uint_eq(m->maps[i].n_paths, 1);
		ck_assert_uint_eq(m->maps[i].paths[0].domain, 0);
		ck_assert_uint_eq(m->maps[i].paths[0].slot, 0);
		/* No function: the whole device. */
		ck_assert_int_eq(m->maps[i].paths[0].func, -1);
	}
	ck_assert_str_eq(m->maps[0].node, "pve1");
	ck_assert_uint_eq(m->maps[0].paths[0].bus, 0x01);
	ck_assert_int_eq(m->maps[0].iommugroup, 14);
	ck_assert_str_eq(m->maps[1].node, "pve2");
	ck_assert_uint_eq(m->maps[1].paths[0].bus, 0x41);
	ck_assert_int_eq(m->maps[1].iommugroup, 22);
	gh_mapping_free(&mf);

	/* qemu-server's own mock, turned into the on-disk format. */
	snprintf(path, sizeof(path), "%s/mapping/pci.cfg", GH_SHARED_TESTDATA);
	f = fopen(path, "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(gh_mapping_parse(fx->ctx, f, path, &mf), 0);
	fclose(f);
	m = gh_mapping_find(&mf, "someGpu");
	ck_assert_ptr_nonnull(m);
	ck_assert(m->mdev);
	ck_assert_uint_eq(m->n_maps, 3);
	ck_assert_str_eq(m->maps[2].node, "localhost");
	ck_assert_int_eq(m->maps[2].paths[0].func, 6);
	ck_assert_ptr_nonnull(gh_mapping_find(&mf, "someNic"));
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
