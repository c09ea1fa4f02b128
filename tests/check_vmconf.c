/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "vmconf.h"

static int parse(struct fx *fx, const char *text, struct gh_vmconf *vm)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	ck_assert_ptr_nonnull(f);
	r = gh_vmconf_parse(fx->ctx, f, "100.conf", vm);
	fclose(f);
	return r;
}

static void id_is(const struct gh_pciid *id, unsigned dom, unsigned bus, unsigned slot, int func)
{
	ck_assert_uint_eq(id->domain, dom);
	ck_assert_uint_eq(id->bus, bus);
	ck_assert_uint_eq(id->slot, slot);
	ck_assert_int_eq(id->func, func);
}

START_TEST(every_hostpci_form)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	ck_assert_int_eq(parse(fx,
			       "hostpci0: 01:00\n"
			       "hostpci1: 0000:02:00.1,pcie=1\n"
			       "hostpci2: host=03:00.0;03:00.1,x-vga=on,rombar=0\n"
			       "hostpci3: pcie=1,host=0001:04:1f.7\n"
			       "hostpci4: mapping=gpu-4090,pcie=yes\n"
			       "hostpci5: 05:00.0,mdev=nvidia-63\n"
			       "hostpci6: 06:00.0,driver=keep\n"
			       "hostpci15: 07:00,driver=vfio,romfile=vbios.bin\n",
			       &vm),
			 0);
	ck_assert(vm.hostpci[0].present);
	ck_assert_uint_eq(vm.hostpci[0].n_ids, 1);
	id_is(&vm.hostpci[0].ids[0], 0, 1, 0, -1);
	id_is(&vm.hostpci[1].ids[0], 0, 2, 0, 1);
	ck_assert(vm.hostpci[1].pcie);
	ck_assert_uint_eq(vm.hostpci[2].n_ids, 2);
	id_is(&vm.hostpci[2].ids[1], 0, 3, 0, 1);
	ck_assert(vm.hostpci[2].xvga);
	id_is(&vm.hostpci[3].ids[0], 1, 4, 0x1f, 7);
	ck_assert_str_eq(vm.hostpci[4].mapping, "gpu-4090");
	ck_assert_uint_eq(vm.hostpci[4].n_ids, 0);
	ck_assert_str_eq(vm.hostpci[5].mdev, "nvidia-63");
	ck_assert(vm.hostpci[6].keep);
	ck_assert(!vm.hostpci[15].keep);
	ck_assert(vm.hostpci[15].present);
	ck_assert(!vm.hostpci[7].present);
	ck_assert_int_eq(vm.hostpci[15].line, 8);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(live_section_only)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	ck_assert_int_eq(parse(fx,
			       "#GPU VM%3A description\n#hostpci9: 09:00.0\n"
			       "affinity: 4-11\ncores: 4\nsockets: 2\nvcpus: 6\nlock: backup\ntemplate: 0\n"
			       "hookscript: local:snippets/gpu-hook\nname: gpu\n\n"
			       "[PENDING]\nhostpci1: 02:00.0\ncores: 99\n[snap1]\nhostpci2: garbage\n",
			       &vm),
			 0);
	ck_assert_str_eq(vm.affinity, "4-11");
	ck_assert_uint_eq(gh_vmconf_vcpus(&vm), 6);
	ck_assert_uint_eq(vm.cores, 4);
	ck_assert_str_eq(vm.lock, "backup");
	ck_assert_str_eq(vm.hookscript, "local:snippets/gpu-hook");
	ck_assert(!vm.hostpci[1].present);
	ck_assert(!vm.hostpci[9].present);
	vm.vcpus = 0;
	ck_assert_uint_eq(gh_vmconf_vcpus(&vm), 8);
	fx_free(fx);
}
END_TEST

static void expect_error(const char *text, const char *message)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	ck_assert_int_eq(parse(fx, text, &vm), -EINVAL);
	ck_assert_msg(fx_log_has(fx, message), "expected \"%s\" in log:\n%s", message, fx->log);
	fx_free(fx);
}

START_TEST(bad_input_is_reported)
{
	expect_error("hostpci0: 0000:0A:00.0\n", "100.conf:1: hostpci0: invalid PCI id '0000:0A:00.0'");
	expect_error("hostpci0: 1:00.0\n", "invalid PCI id '1:00.0'");
	expect_error("hostpci0: ../../etc\n", "100.conf:1: hostpci0: invalid PCI id '../../etc'");
	expect_error("hostpci0: 01:00.8\n", "invalid PCI id '01:00.8'");
	expect_error("hostpci0: host=01:00.0,mapping=gpu\n", "'host' and 'mapping' exclude each other");
	expect_error("hostpci0: 01:00.0,frob=1\n", "unknown property 'frob'");
	expect_error("hostpci0: 01:00.0,pcie=maybe\n", "pcie must be a boolean");
	expect_error("hostpci0: 01:00.0,driver=nouveau\n", "driver must be 'vfio' or 'keep'");
	expect_error("hostpci16: 01:00.0\n", "100.conf:1: hostpci16: Proxmox allows hostpci0 to hostpci15");
	expect_error("hostpci0: 01:00.0\nhostpci0: 02:00.0\n", "100.conf:2: hostpci0 given twice (first on line 1)");
	expect_error("hostpci0: 01:00.0,01:00.1\n", "cannot parse property string");
	expect_error("hostpci0: pcie=1\n", "needs a PCI id");
	expect_error("sockets: two\n", "sockets: expected a number");
	expect_error("cores: 0\n", "cores: expected a number");
	expect_error("affinity: 3-1\n", "affinity: invalid CPU list at '3-1'");
	expect_error("Hostpci0: 01:00.0\n", "cannot parse line");
	expect_error("just some words\n", "100.conf:1: cannot parse line");
}
END_TEST

START_TEST(garbage_and_long_lines)
{
	static const char garbage[] = "cores: 2\n\x01\x02\xff\x00zz\nsockets: x\n";
	struct fx *fx = fx_new();
	struct gh_vmconf vm;
	char *big = malloc(300000);
	FILE *f;

	f = fmemopen((void *)garbage, sizeof(garbage) - 1, "r");
	ck_assert_int_eq(gh_vmconf_parse(fx->ctx, f, "g.conf", &vm), -EINVAL);
	fclose(f);
	/* Every error is reported, each with its line. */
	ck_assert(fx_log_has(fx, "g.conf:2: NUL byte in line"));
	ck_assert(fx_log_has(fx, "g.conf:3: sockets"));
	ck_assert_int_eq(fx->n_errors, 2);
	ck_assert_uint_eq(vm.cores, 2);

	fx_log_clear(fx);
	memset(big, 'x', 299999);
	memcpy(big, "name: ", 6);
	big[299999] = '\0';
	ck_assert_int_eq(parse(fx, big, &vm), -EINVAL);
	ck_assert(fx_log_has(fx, "100.conf:1: line too long"));
	free(big);
	fx_free(fx);
}
END_TEST

START_TEST(load_and_migration_path)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	fx_vmconf(fx, 101, "hostpci0: 01:00\n");
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 101, &vm), 0);
	ck_assert_uint_eq(vm.vmid, 101);
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 102, &vm), -ENOENT);
	ck_assert(fx_log_has(fx, "no VM 102: /etc/pve/qemu-server/102.conf"));
	fx_file(fx, "/etc/pve/nodes/pve2/qemu-server/102.conf", "cores: 3\n");
	ck_assert_int_eq(gh_ctx_set_migrated_from(fx->ctx, "pve2"), 0);
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 102, &vm), 0);
	ck_assert_uint_eq(vm.cores, 3);
	fx_free(fx);
}
END_TEST

START_TEST(vmids)
{
	unsigned v;

	ck_assert_int_eq(gh_vmconf_parse_vmid("100", &v), 0);
	ck_assert_uint_eq(v, 100);
	ck_assert_int_eq(gh_vmconf_parse_vmid("999999999", &v), 0);
	ck_assert_int_eq(gh_vmconf_parse_vmid("99", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("1000000000", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("0100", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("10a", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("+100", &v), -EINVAL);
}
END_TEST

static int count_prop(void *data, const char *key, const char *value)
{
	(void)key;
	(void)value;
	(*(int *)data)++;
	return 0;
}

START_TEST(property_strings)
{
	int n = 0;

	ck_assert_int_eq(gh_propstr_parse("01:00,pcie=1,x-vga=on", "host", count_prop, &n), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(gh_propstr_parse("a=1,a=2", "host", count_prop, &n), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse("01:00,01:01", "host", count_prop, &n), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse("a=1,", "host", count_prop, &n), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse("bare", NULL, count_prop, &n), -EINVAL);
	ck_assert_int_eq(gh_propstr_bool("on"), 1);
	ck_assert_int_eq(gh_propstr_bool("false"), 0);
	ck_assert_int_eq(gh_propstr_bool("2"), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmconf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_hostpci_form);
	tcase_add_test(tc, live_section_only);
	tcase_add_test(tc, bad_input_is_reported);
	tcase_add_test(tc, garbage_and_long_lines);
	tcase_add_test(tc, load_and_migration_path);
	tcase_add_test(tc, vmids);
	tcase_add_test(tc, property_strings);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
