/* SPDX-License-Identifier: MIT */
/*
 * The command-line contract, run as a user runs it: the built gpu-hook
 * binary on a copy of the shipped example host (conf/example-host), with
 * exit codes, stdout, stderr and the JSON it prints checked, and the tree
 * compared before and after to prove nothing changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

START_TEST(usage_and_version)
{
	struct fx_run *r = calloc(1, sizeof(*r));

	fx_run_hook(r, NULL, "--help", NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "usage: gpu-hook <vmid> <phase>"));
	ck_assert_ptr_nonnull(strstr(r->out, "status"));
	fx_run_hook(r, NULL, "--version", NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "gpu-hook " GH_VERSION));
	fx_run_hook(r, NULL, "status", "--help", NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "usage: gpu-hook status"));
	fx_run_hook(r, NULL, NULL);
	ck_assert_int_eq(r->status, 2);
	fx_run_hook(r, NULL, "--frobnicate", NULL);
	ck_assert_int_eq(r->status, 2);
	ck_assert_ptr_nonnull(strstr(r->err, "--frobnicate"));
	/* A usage error refuses before it reads anything; --root keeps this machine out of it regardless. */
	fx_run_hook(r, NULL, "111", "launch", "--root", "/nonexistent", NULL);
	ck_assert_int_eq(r->status, 2);
	ck_assert_ptr_nonnull(strstr(r->err, "unknown phase 'launch'"));
	fx_run_hook(r, NULL, "fly", "--root", "/nonexistent", NULL);
	ck_assert_int_eq(r->status, 2);
	fx_run_hook(r, NULL, "111", "pre-start", "extra", "--root", "/nonexistent", NULL);
	ck_assert_int_eq(r->status, 2);
	free(r);
}
END_TEST

START_TEST(bad_vmid)
{
	struct fx_run *r = calloc(1, sizeof(*r));
	static const char *const bad[] = { "abc", "12", "0111", "1e3", "99999999999", "111\x1b[2J" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fx_run_hook(r, NULL, bad[i], "pre-start", "--dry-run", "--root", "/nonexistent", NULL);
		ck_assert_int_eq(r->status, 2);
		ck_assert_ptr_nonnull(strstr(r->err, "invalid vmid"));
		/* A terminal escape from argv is not echoed raw. */
		ck_assert_ptr_null(strchr(r->err, '\x1b'));
	}
	free(r);
}
END_TEST

START_TEST(demo_dry_run)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;

	fx_example_host(fx);
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	if (r->status)
		fprintf(stderr, "%s%s", r->out, r->err);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "VM 111 pre-start: 2 functions -> vfio-pci (dry run"));
	ck_assert_ptr_nonnull(strstr(r->out, "0000:01:00.0"));
	ck_assert_ptr_nonnull(strstr(r->out, "unload module nvidia_drm"));
	ck_assert_ptr_nonnull(strstr(r->out, "write vfio-pci to /sys/bus/pci/devices/0000:01:00.1/driver_override"));
	ck_assert_ptr_nonnull(strstr(r->out, "stop nvidia-persistenced.service"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);
	free(r);
	fx_free(fx);
}
END_TEST

#define get fx_json_get

START_TEST(dry_run_json)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	struct json_object *o, *devs, *steps, *d;

	fx_example_host(fx);
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--json", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	o = json_tokener_parse(r->out);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_get_int(get(o, "vmid")), 111);
	ck_assert_str_eq(json_object_get_string(get(o, "phase")), "pre-start");
	devs = get(o, "devices");
	ck_assert_uint_eq(json_object_array_length(devs), 2);
	d = json_object_array_get_idx(devs, 0);
	ck_assert_str_eq(json_object_get_string(get(d, "address")), "0000:01:00.0");
	ck_assert_str_eq(json_object_get_string(get(d, "class")), "0x030000");
	ck_assert_str_eq(json_object_get_string(get(d, "driver")), "nvidia");
	ck_assert_str_eq(json_object_get_string(get(d, "target")), "vfio-pci");
	steps = get(o, "steps");
	ck_assert_uint_gt(json_object_array_length(steps), 5);
	for (size_t i = 0; i < json_object_array_length(steps); i++) {
		struct json_object *s = json_object_array_get_idx(steps, i);

		ck_assert_ptr_nonnull(json_object_get_string(get(s, "action")));
		ck_assert_ptr_nonnull(json_object_get_string(get(s, "description")));
	}
	ck_assert_uint_eq(json_object_array_length(get(o, "refusals")), 0);
	json_object_put(o);

	/* post-stop on a host whose card is home: nothing to do. */
	fx_run_hook(r, NULL, "111", "post-stop", "--dry-run", "--json", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	o = json_tokener_parse(r->out);
	ck_assert_ptr_nonnull(o);
	ck_assert_str_eq(json_object_get_string(get(o, "phase")), "post-stop");
	ck_assert_uint_eq(json_object_array_length(get(o, "steps")), 0);
	ck_assert_str_eq(json_object_get_string(get(json_object_array_get_idx(get(o, "devices"), 1), "target")),
			 "snd_hda_intel");
	json_object_put(o);
	free(r);
	fx_free(fx);
}
END_TEST

/*
 * The dry run shows each step's deadline from the policy: module steps get
 * module_timeout, systemctl steps service_timeout, the rest timeout.
 */
START_TEST(dry_run_deadlines)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	struct json_object *o, *steps, *dl;
	unsigned modules = 0, services = 0, others = 0;

	fx_example_host(fx);
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 5s\nmodule_timeout = 90s\nservice_timeout = 45000ms\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--json", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "%s", r->err);
	o = json_tokener_parse(r->out);
	ck_assert_ptr_nonnull(o);
	dl = get(o, "deadlines");
	ck_assert_int_eq(json_object_get_int(get(dl, "timeout_ms")), 5000);
	ck_assert_int_eq(json_object_get_int(get(dl, "module_timeout_ms")), 90000);
	ck_assert_int_eq(json_object_get_int(get(dl, "service_timeout_ms")), 45000);
	steps = get(o, "steps");
	for (size_t i = 0; i < json_object_array_length(steps); i++) {
		struct json_object *s = json_object_array_get_idx(steps, i);
		const char *a = json_object_get_string(get(s, "action"));
		int ms = json_object_get_int(get(s, "deadline_ms"));

		if (!strncmp(a, "module-", 7)) {
			ck_assert_int_eq(ms, 90000);
			modules++;
		} else if (!strncmp(a, "service-", 8)) {
			ck_assert_int_eq(ms, 45000);
			services++;
		} else {
			ck_assert_msg(ms == 5000, "%s: %d", a, ms);
			others++;
		}
	}
	ck_assert(modules && services && others);
	json_object_put(o);

	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_msg(strstr(r->out, "unload module nvidia_drm (libkmod, no force) (deadline 90 s)"), "%s", r->out);
	ck_assert_msg(strstr(r->out, "stop nvidia-persistenced.service (systemctl stop) (deadline 45 s)"), "%s", r->out);
	ck_assert_msg(strstr(r->out, "/sys/bus/pci/drivers_probe (expect vfio-pci) (deadline 5 s)"), "%s", r->out);
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(status_json)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	struct json_object *o, *devs;
	bool seen_gpu = false;

	fx_example_host(fx);
	fx_pci_attr(fx, "0000:01:00.1", "driver_override", "snd_hda_intel");
	fx_run_hook(r, NULL, "status", "--json", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	o = json_tokener_parse(r->out);
	ck_assert_ptr_nonnull(o);
	devs = get(o, "devices");
	for (size_t i = 0; i < json_object_array_length(devs); i++) {
		struct json_object *d = json_object_array_get_idx(devs, i);
		const char *addr = json_object_get_string(get(d, "address"));

		if (!strcmp(addr, "0000:01:00.0")) {
			seen_gpu = true;
			ck_assert_str_eq(json_object_get_string(get(d, "driver")), "nvidia");
			ck_assert(json_object_get_type(get(d, "override")) == json_type_null);
			ck_assert_int_eq(json_object_get_int(get(d, "iommu_group")), 14);
		}
		if (!strcmp(addr, "0000:01:00.1"))
			ck_assert_str_eq(json_object_get_string(get(d, "override")), "snd_hda_intel");
	}
	ck_assert(seen_gpu);
	json_object_put(o);

	fx_run_hook(r, NULL, "status", "111", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->out, "0000:01:00.1"));
	ck_assert_ptr_nonnull(strstr(r->out, "snd_hda_intel"));
	free(r);
	fx_free(fx);
}
END_TEST

/* Bad input: a clear message naming the file and line or value, exit 1, nothing changed. */
static void expect_bad(struct fx *fx, const char *file, const char *content, size_t len, const char *message)
{
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;
	FILE *f = fopen(fx_path(fx, file), "we");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(content, 1, len, f), len);
	fclose(f);
	chmod(fx_path(fx, file), 0644);
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 1, "%s: status %d\n%s", file, r->status, r->err);
	ck_assert_msg(strstr(r->err, message), "expected \"%s\" in:\n%s", message, r->err);
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);
	free(r);
}

START_TEST(bad_input)
{
	struct fx *fx = fx_new();
	static const char garbage[] = "hostpci0: 01:00\n\x01\x02\xff\xfe\x00garbage\nname: x\n";
	char *longline;

	fx_example_host(fx);
	expect_bad(fx, "/etc/pve/qemu-server/111.conf", "hostpci0: ../../etc\n", 20,
		   "/etc/pve/qemu-server/111.conf:1:");
	expect_bad(fx, "/etc/pve/qemu-server/111.conf", "cores: 2\nhostpci0: 01:00.0\nhostpci1: 0000:0A:00.0\n", 48,
		   "/etc/pve/qemu-server/111.conf:3:");
	expect_bad(fx, "/etc/pve/qemu-server/111.conf", garbage, sizeof(garbage) - 1,
		   "/etc/pve/qemu-server/111.conf:2:");
	longline = malloc(200000);
	memset(longline, 'a', 200000);
	memcpy(longline, "hostpci0: ", 10);
	longline[199999] = '\n';
	expect_bad(fx, "/etc/pve/qemu-server/111.conf", longline, 200000, "/etc/pve/qemu-server/111.conf:1:");
	free(longline);
	fx_vmconf(fx, 111, "hostpci0: 01:00\n");
	/* The config is good again; now the policy is wrong, twice: both are reported. */
	expect_bad(fx, "/etc/gpu-hook/111.ini", "[handoff]\nfrobnicate = 1\n[nosuch]\n", 35,
		   "/etc/gpu-hook/111.ini:2:");
	expect_bad(fx, "/etc/gpu-hook/111.ini", "[handoff]\nfrobnicate = 1\n[nosuch]\n", 35,
		   "/etc/gpu-hook/111.ini:3:");
	fx_free(fx);
}
END_TEST

START_TEST(refusal_exits_1)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	fx_example_host(fx);
	fx_proc(fx, 7777, "blender", "blender", "/user.slice/user-0.slice/session-3.scope");
	fx_proc_fd(fx, 7777, 9, "/dev/nvidia0");
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->out, "REFUSED"));
	ck_assert_ptr_nonnull(strstr(r->out, "pid 7777"));
	/* Without --dry-run the refusal is logged with the hook's prefix. */
	fx_run_hook(r, NULL, "111", "pre-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "gpu-hook[111 pre-start]: error: refusing: held by pid 7777"));
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(missing_vm_and_migration)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));

	fx_example_host(fx);
	fx_run_hook(r, NULL, "999", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "/etc/pve/qemu-server/999.conf"));
	fx_run_hook(r, "PVE_MIGRATED_FROM=pve2", "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "/etc/pve/nodes/pve2/qemu-server/111.conf"));
	/* An empty PVE_MIGRATED_FROM is a normal start. */
	fx_run_hook(r, "PVE_MIGRATED_FROM=", "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(harmless_phases)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;

	fx_example_host(fx);
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "111", "pre-stop", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	/* Pinning is configured for 111, but QEMU is not running: a clear no, nothing changed. */
	fx_run_hook(r, NULL, "111", "post-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "not pinning: VM 111 is not running"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);
	/* Without pinning, post-start has nothing to do. */
	fx_vmconf(fx, 113, "cores: 2\nhostpci0: 01:00\n");
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "113", "post-start", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->err, "no pinning configured"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);
	free(r);
	fx_free(fx);
}
END_TEST

START_TEST(install_and_uninstall)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;
	char log[512];

	fx_example_host(fx);
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "install", "111", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_ptr_nonnull(strstr(r->err, "would run: qm set 111 --hookscript local:snippets/gpu-hook"));
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);

	fx_run_hook(r, NULL, "install", "111", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_int_eq(access(fx_path(fx, "/var/lib/vz/snippets/gpu-hook"), X_OK), 0);
	fx_run_hook(r, NULL, "uninstall", "111", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	{
		/* Under --root qm is not run: what would run is recorded in the tree. */
		FILE *f = fopen(fx_path(fx, "/run/gpu-hook/executed"), "re");
		size_t n;

		ck_assert_ptr_nonnull(f);
		n = fread(log, 1, sizeof(log) - 1, f);
		log[n] = '\0';
		fclose(f);
	}
	ck_assert_str_eq(log, "/usr/sbin/qm set 111 --hookscript local:snippets/gpu-hook\n/usr/sbin/qm set 111 --delete hookscript\n");

	/* A storage without snippets, an unknown one, and a running VM are refused. */
	fx_run_hook(r, NULL, "install", "111", "--storage", "local-lvm", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "storage.cfg:5: storage 'local-lvm' is of type lvmthin"));
	fx_run_hook(r, NULL, "install", "111", "--storage", "nas", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "no storage named 'nas'"));
	fx_run_hook(r, NULL, "install", "111", "-s", "nas", "--root", fx->root, NULL);
	ck_assert_ptr_nonnull(strstr(r->err, "no storage named 'nas'"));
	fx_file(fx, "/var/run/qemu-server/111.pid", "4242\n");
	fx_proc(fx, 4242, "kvm", "/usr/bin/kvm -id 111 -pidfile /var/run/qemu-server/111.pid", "/qemu.slice/111.scope");
	fx_run_hook(r, NULL, "install", "111", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_ptr_nonnull(strstr(r->err, "VM 111 is running (pid 4242)"));
	fx_run_hook(r, NULL, "uninstall", "111", "--storage", "x", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 2);
	/* --storage (and its short -s) belong to install; elsewhere they are a usage error, not ignored. */
	fx_run_hook(r, NULL, "status", "--storage", "x", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 2);
	fx_run_hook(r, NULL, "111", "pre-start", "-s", "x", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 2);
	/* Every command that takes a vmid calls a bad one a usage error. */
	static const char *const cmds[] = { "status", "check", "install", "uninstall", "recover", "watch" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		fx_run_hook(r, NULL, cmds[i], "12", "tok", "--root", fx->root, NULL);
		if (strcmp(cmds[i], "watch"))
			fx_run_hook(r, NULL, cmds[i], "12", "--root", fx->root, NULL);
		ck_assert_int_eq(r->status, 2);
		ck_assert_ptr_nonnull(strstr(r->err, "invalid vmid"));
	}
	free(r);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, usage_and_version);
	tcase_add_test(tc, bad_vmid);
	tcase_add_test(tc, demo_dry_run);
	tcase_add_test(tc, dry_run_json);
	tcase_add_test(tc, dry_run_deadlines);
	tcase_add_test(tc, status_json);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, refusal_exits_1);
	tcase_add_test(tc, missing_vm_and_migration);
	tcase_add_test(tc, harmless_phases);
	tcase_add_test(tc, install_and_uninstall);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
