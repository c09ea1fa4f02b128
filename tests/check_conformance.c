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
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "fixture.h"
#include "host.h"
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

/* Without Proxmox's files there is nothing to conform to: that is a failure, not a pass. */
static bool shared_testdata(void)
{
	struct stat st;

	ck_assert_msg(stat(GH_SHARED_TESTDATA, &st) == 0 && S_ISDIR(st.st_mode),
		      "%s is missing: the conformance suite needs Proxmox's test files there", GH_SHARED_TESTDATA);
	return true;
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

/*
 * qemu-server's cfg2cmd tests that pass PCI devices through
 * (tests/testdata/cfg2cmd, see SOURCES there): on a fixture sysfs built from
 * the devices those tests mock, gpu-hook must hand over exactly the
 * functions Proxmox's expected command line passes with "-device
 * vfio-pci,host=...", except those of driver=keep entries (Proxmox passes
 * them unbound), plus only functions in the same IOMMU groups.
 */
#define CFG2CMD_DIR GH_SOURCE_DIR "/tests/testdata/cfg2cmd"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text;
	long size;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	ck_assert_int_ge(size, 0);
	rewind(f);
	text = malloc((size_t)size + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
	text[size] = '\0';
	fclose(f);
	return text;
}

/* The mocked pci_device_info: 01:00.* and 07:10.* have ids and groups 1 and 2, the rest one group per slot. */
static void mock_sysfs(struct fx *fx)
{
	char *ours = slurp(CFG2CMD_DIR "/mock-pci-devices.txt"), *shared, *save = NULL, *line;
	char path[PATH_MAX];
	int next_group = 100;
	struct gh_strv slots = { 0 };

	/* Ours adds 00:02.0 (run_config2command_tests.pl's list); every device of ../shared's list is in it. */
	snprintf(path, sizeof(path), "%s/mapping/mock-sysfs-pci-devices.txt", GH_SHARED_TESTDATA);
	shared = slurp(path);
	for (line = strtok_r(shared, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		ck_assert_msg(strstr(ours, line), "%s of %s is not in mock-pci-devices.txt", line, path);
	free(shared);
	save = NULL;
	for (line = strtok_r(ours, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char slot[16];
		int group;

		ck_assert_uint_eq(strlen(line), 12);
		snprintf(slot, sizeof(slot), "%.10s", line);
		if (!strncmp(line, "0000:01:00.", 11)) {
			fx_pci(fx, line, 0x10de, 0x2231, 0x030000, NULL, 1);
			continue;
		}
		if (!strncmp(line, "0000:07:10.", 11)) {
			fx_pci(fx, line, 0x8086, 0x1520, 0x020000, NULL, 2);
			continue;
		}
		if (!gh_strv_contains(&slots, slot))
			ck_assert_int_eq(gh_strv_push(&slots, slot), 0);
		group = next_group;
		for (size_t i = 0; i < slots.n; i++)
			if (!strcmp(slots.v[i], slot))
				group = 100 + (int)i;
		fx_pci(fx, line, 0x1234, 0x11e8, 0x020000, NULL, group);
	}
	gh_strv_free(&slots);
	free(ours);
}

/* "host=" values of the -device vfio-pci arguments, as full addresses, with their hostpci index. */
static void expected_hosts(const char *cmd, struct gh_strv *addrs, struct gh_strv *entries)
{
	for (const char *p = strstr(cmd, "'vfio-pci,"); p; p = strstr(p + 1, "'vfio-pci,")) {
		const char *end = strchr(p + 1, '\''), *host = strstr(p, ",host="), *id = strstr(p, ",id=hostpci");
		char addr[32], n[8];
		size_t len;

		ck_assert_ptr_nonnull(end);
		/* A mediated device is passed as sysfsdev=, not host=. */
		if (!host || host > end)
			continue;
		host += 6;
		len = strcspn(host, ",'");
		ck_assert_uint_lt(len, 20);
		/* Old qemu-server printed the id as written: "00:ff.1". */
		snprintf(addr, sizeof(addr), "%s%.*s", len == 7 ? "0000:" : "", (int)len, host);
		ck_assert_msg(id && id < end, "no id=hostpciN in %.*s", (int)(end - p), p);
		snprintf(n, sizeof(n), "%.*s", (int)strspn(id + 11, "0123456789"), id + 11);
		ck_assert_int_eq(gh_strv_push(addrs, addr), 0);
		ck_assert_int_eq(gh_strv_push(entries, n), 0);
	}
}

/* What a config's expected output depends on besides the config (SOURCES). */
static const struct {
	const char *conf;
	const char *reserved;		/* reserved by another VM's start under way (pci-id-reservations) */
	const char *refusal;		/* current qemu-server refuses it; gpu-hook must too */
} cfg2cmd_env[] = {
	{ "q35-linux-hostpci-mapping.conf", "0000:07:10.1", NULL },
	{ "q35-linux-hostpci.conf", NULL, "hostpci7: device '0000:d0:15.1' assigned more than once" },
};

/* 1 when gpu-hook hands over what Proxmox passes (and only group mates besides); else the test fails. */
static int conform_one(const char *name)
{
	struct fx *fx = fx_new();
	struct gh_strv want = { 0 }, entries = { 0 };
	const char *refusal = NULL;
	char path[PATH_MAX], *conf, *cmd;
	struct gh_host h;

	mock_sysfs(fx);
	fx_file(fx, "/etc/hostname", "localhost\n");
	snprintf(path, sizeof(path), "%s/mapping/pci.cfg", GH_SHARED_TESTDATA);
	conf = slurp(path);
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "%s", conf);
	free(conf);
	for (size_t i = 0; i < GH_ARRAY_SIZE(cfg2cmd_env); i++) {
		if (strcmp(cfg2cmd_env[i].conf, name))
			continue;
		if (cfg2cmd_env[i].reserved)
			fx_file(fx, "/run/qemu-server/pci-id-reservations", "%s 9999 time:%lld\n", cfg2cmd_env[i].reserved,
				(long long)time(NULL) + 60);
		refusal = cfg2cmd_env[i].refusal;
	}
	snprintf(path, sizeof(path), "%s/%s", CFG2CMD_DIR, name);
	conf = slurp(path);
	fx_vmconf(fx, 8006, conf);
	free(conf);
	snprintf(path, sizeof(path), "%s/%s.cmd", CFG2CMD_DIR, name);
	cmd = slurp(path);
	expected_hosts(cmd, &want, &entries);
	free(cmd);

	{
		int r = gh_host_load(fx->ctx, 8006, &h);

		ck_assert_msg(r == 0, "%s: %s\n%s", name, strerror(-r), fx->log);
	}
	if (refusal) {
		bool found = false;

		for (size_t i = 0; i < h.refusals.n; i++)
			found |= strstr(h.refusals.v[i].text, refusal) != NULL;
		ck_assert_msg(found, "%s: expected the refusal \"%s\"", name, refusal);
	} else {
		ck_assert_msg(h.refusals.n == 0, "%s: refused: %s", name, h.refusals.v[0].text);
	}
	for (size_t i = 0; !refusal && i < want.n; i++) {
		unsigned long n;

		ck_assert_int_eq(gh_util_parse_ulong(entries.v[i], 10, GH_HOSTPCI_MAX - 1, &n), 0);
		if (h.vm.hostpci[n].keep) {
			ck_assert_msg(!gh_host_func(&h, want.v[i]), "%s: %s is driver=keep, yet handed over", name,
				      want.v[i]);
			continue;
		}
		ck_assert_msg(gh_host_func(&h, want.v[i]), "%s: Proxmox passes %s (hostpci%lu), gpu-hook does not",
			      name, want.v[i], n);
		ck_assert_int_eq(gh_host_func(&h, want.v[i])->hostpci, (int)n);
	}
	for (unsigned i = 0; !refusal && i < h.n_f; i++) {
		bool mate = false;

		for (size_t k = 0; k < want.n; k++) {
			const struct gh_func *w = gh_host_func(&h, want.v[k]);

			mate |= !strcmp(want.v[k], h.f[i].dev.addr) || (w && w->dev.iommu_group == h.f[i].dev.iommu_group);
		}
		ck_assert_msg(mate, "%s: gpu-hook hands over %s, which Proxmox does not pass and shares no group with "
			      "what it passes", name, h.f[i].dev.addr);
	}
	printf("conformance: %s: %zu function(s) passed by Proxmox, %u handed over by gpu-hook%s\n", name, want.n,
	       h.n_f, refusal ? " (refused, as current qemu-server refuses it)" : "");
	gh_host_free(&h);
	gh_strv_free(&want);
	gh_strv_free(&entries);
	fx_free(fx);
	return 1;
}

START_TEST(cfg2cmd_hostpci_configs)
{
	struct gh_strv names = { 0 };
	int agree = 0;
	struct dirent *de;
	DIR *d;

	shared_testdata();
	d = opendir(CFG2CMD_DIR);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (ends_with(de->d_name, ".conf"))
			ck_assert_int_eq(gh_strv_push(&names, de->d_name), 0);
	closedir(d);
	gh_strv_sort(&names);
	for (size_t i = 0; i < names.n; i++)
		agree += conform_one(names.v[i]);
	printf("conformance: %d of %zu cfg2cmd hostpci configs agree with qemu-server's expected output\n", agree,
	       names.n);
	ck_assert_int_ge(agree, 10);
	gh_strv_free(&names);
}
END_TEST

/* Every hostpci config in ../shared's cfg2cmd has its copy and expected output in tests/testdata/cfg2cmd. */
START_TEST(shared_hostpci_configs_are_covered)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	shared_testdata();
	snprintf(dir, sizeof(dir), "%s/cfg2cmd", GH_SHARED_TESTDATA);
	d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char path[PATH_MAX * 2], *text;
		struct stat st;

		if (!ends_with(de->d_name, ".conf"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		text = slurp(path);
		if (strstr(text, "\nhostpci")) {
			snprintf(path, sizeof(path), "%s/%s.cmd", CFG2CMD_DIR, de->d_name);
			ck_assert_msg(stat(path, &st) == 0, "%s passes PCI devices: copy it and its .cmd to %s", de->d_name,
				      CFG2CMD_DIR);
		}
		free(text);
	}
	closedir(d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("conformance");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_shared_file_parses);
	tcase_add_test(tc, synthetic_edge_cases);
	tcase_add_test(tc, nvidia_mapping_example);
	/* Ten fixture hosts of about twenty devices each. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, cfg2cmd_hostpci_configs);
	tcase_add_test(tc, shared_hostpci_configs_are_covered);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
