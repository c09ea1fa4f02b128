/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "vmconf.h"

static int parse_len(struct fx *fx, const char *text, size_t len, struct gh_vmconf *vm)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int r;

	ck_assert_ptr_nonnull(f);
	r = gh_vmconf_parse(fx->ctx, f, "100.conf", vm);
	fclose(f);
	return r;
}

static int parse(struct fx *fx, const char *text, struct gh_vmconf *vm)
{
	return parse_len(fx, text, strlen(text), vm);
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
			       "hostpci7: host=0000:08:00;0000:09:00.0,x-vga=TRUE,legacy-igd=1,vendor-id=0x10de,"
			       "device-id=0x2684,sub-vendor-id=0x1043,sub-device-id=0x889c\n"
			       "hostpci8: mapping=nic_1,mdev=i915-GVTg_V5_4\n"
			       "hostpci15: 07:00,driver=vfio,romfile=vbios.bin\n",
			       &vm),
			 0);
	ck_assert_int_eq(fx->n_errors, 0);
	/* Bare value: the default key host=, a whole slot, domain 0000 implied. */
	ck_assert(vm.hostpci[0].present);
	ck_assert_uint_eq(vm.hostpci[0].n_ids, 1);
	id_is(&vm.hostpci[0].ids[0], 0, 1, 0, -1);
	ck_assert(!vm.hostpci[0].pcie);
	ck_assert_str_eq(vm.hostpci[0].mapping, "");
	id_is(&vm.hostpci[1].ids[0], 0, 2, 0, 1);
	ck_assert(vm.hostpci[1].pcie);
	ck_assert(!vm.hostpci[1].xvga);
	/* A ';' list. */
	ck_assert_uint_eq(vm.hostpci[2].n_ids, 2);
	id_is(&vm.hostpci[2].ids[0], 0, 3, 0, 0);
	id_is(&vm.hostpci[2].ids[1], 0, 3, 0, 1);
	ck_assert(vm.hostpci[2].xvga);
	id_is(&vm.hostpci[3].ids[0], 1, 4, 0x1f, 7);
	ck_assert(vm.hostpci[3].pcie);
	ck_assert_str_eq(vm.hostpci[4].mapping, "gpu-4090");
	ck_assert_uint_eq(vm.hostpci[4].n_ids, 0);
	ck_assert(vm.hostpci[4].pcie);
	ck_assert_str_eq(vm.hostpci[5].mdev, "nvidia-63");
	ck_assert(!vm.hostpci[5].keep);
	ck_assert(vm.hostpci[6].keep);
	ck_assert_uint_eq(vm.hostpci[7].n_ids, 2);
	id_is(&vm.hostpci[7].ids[0], 0, 8, 0, -1);
	id_is(&vm.hostpci[7].ids[1], 0, 9, 0, 0);
	ck_assert(vm.hostpci[7].xvga);
	ck_assert_str_eq(vm.hostpci[8].mapping, "nic_1");
	ck_assert_str_eq(vm.hostpci[8].mdev, "i915-GVTg_V5_4");
	ck_assert(vm.hostpci[15].present);
	ck_assert(!vm.hostpci[15].keep);
	ck_assert(!vm.hostpci[9].present);
	ck_assert_int_eq(vm.hostpci[0].line, 1);
	ck_assert_int_eq(vm.hostpci[15].line, 10);
	fx_free(fx);
}
END_TEST

START_TEST(live_section_only)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	ck_assert_int_eq(parse(fx,
			       "#GPU VM%3A description\n#hostpci9: 09:00.0\n#  whatever: Z\n"
			       "affinity: 4-11\ncores: 4\nsockets: 2\nvcpus: 6\nlock: backup\ntemplate: 0\n"
			       "hookscript: local:snippets/gpu-hook\nname: gpu\nboot: \nargs: -cpu host,kvm=off\n"
			       "numa0: cpus=0-7,hostnodes=0\nunused0: local:100/x.raw\nhostpcix: y\n\n"
			       "[PENDING]\nhostpci1: 02:00.0\ncores: 99\ndelete: hostpci1,!vcpus\n"
			       "[special:cloudinit]\nname: x\n[snap1]\nhostpci2: garbage\nhostpci99: 1\n",
			       &vm),
			 0);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_str_eq(vm.affinity, "4-11");
	ck_assert_uint_eq(gh_vmconf_vcpus(&vm), 6);
	ck_assert_uint_eq(vm.cores, 4);
	ck_assert_uint_eq(vm.sockets, 2);
	ck_assert_str_eq(vm.lock, "backup");
	ck_assert_str_eq(vm.name, "gpu");
	ck_assert(!vm.template_);
	ck_assert_str_eq(vm.hookscript, "local:snippets/gpu-hook");
	ck_assert(!vm.hostpci[1].present);
	ck_assert(!vm.hostpci[2].present);
	ck_assert(!vm.hostpci[9].present);
	vm.vcpus = 0;
	ck_assert_uint_eq(gh_vmconf_vcpus(&vm), 8);
	vm.sockets = vm.cores = 0;
	ck_assert_uint_eq(gh_vmconf_vcpus(&vm), 1);

	ck_assert_int_eq(parse(fx, "template: 1\nname: a\r\n", &vm), 0);
	ck_assert(vm.template_);
	ck_assert_str_eq(vm.name, "a");
	ck_assert_str_eq(vm.affinity, "");
	ck_assert_uint_eq(vm.cores, 0);
	fx_free(fx);
}
END_TEST

static void expect_error(const char *text, const char *message)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	ck_assert_int_eq(parse(fx, text, &vm), -EINVAL);
	ck_assert_msg(fx_log_has(fx, message), "expected \"%s\" in log:\n%s", message, fx->log);
	ck_assert_msg(fx->n_errors == 1, "one error expected for:\n%s\nlog:\n%s", text, fx->log);
	fx_free(fx);
}

START_TEST(bad_input_is_reported)
{
	expect_error("hostpci0: 0000:0A:00.0\n",
		     "100.conf:1: hostpci0: invalid PCI id '0000:0A:00.0' (expected [dddd:]bb:ss[.f], lowercase hex)");
	expect_error("hostpci0: 1:00.0\n", "100.conf:1: hostpci0: invalid PCI id '1:00.0'");
	expect_error("hostpci0: ../../etc\n", "100.conf:1: hostpci0: invalid PCI id '../../etc'");
	/* PVE's $PCIRE: nothing before or after the id, not even a blank. */
	expect_error("hostpci0: host= 01:00.0\n", "invalid PCI id ' 01:00.0'");
	expect_error("hostpci0: 01:00.0, pcie=1\n", "unknown property ' pcie'");
	expect_error("hostpci0: 01:00.0,vendor-id=10de\n", "hostpci0: vendor-id must be 0x and four hex digits (0x10de), not '10de'");
	expect_error("hostpci0: 01:00.0,sub-device-id=0x12345\n", "sub-device-id must be 0x and four hex digits");
	expect_error("hostpci3: host=01:00.0;;01:00.1\n", "hostpci3: empty PCI id in '01:00.0;;01:00.1'");
	expect_error("hostpci3: host=01:00.0;\n", "hostpci3: empty PCI id");
	expect_error("hostpci3: host=01:00.0;01:0g.1\n", "hostpci3: invalid PCI id '01:0g.1'");
	expect_error("hostpci0: host=00:01;00:02;00:03;00:04;00:05;00:06;00:07;00:08;00:09;00:0a;00:0b;00:0c;"
		     "00:0d;00:0e;00:0f;00:10;00:11\n",
		     "hostpci0: more than 16 PCI ids");
	expect_error("hostpci0: host=01:00.0,mapping=gpu\n", "100.conf:1: hostpci0: host= and mapping= exclude each other");
	expect_error("hostpci0: 01:00.0,mapping=gpu\n", "host= and mapping= exclude each other");
	expect_error("hostpci0: mapping=../gpu\n", "hostpci0: invalid mapping id '../gpu'");
	expect_error("hostpci0: mapping=4090\n", "hostpci0: invalid mapping id '4090'");
	expect_error("hostpci0: 01:00.0,frob=1\n", "100.conf:1: hostpci0: unknown property 'frob'");
	expect_error("hostpci0: 01:00.0,multifunction=on\n", "unknown property 'multifunction'");
	expect_error("hostpci0: 01:00.0,pcie=maybe\n",
		     "hostpci0: pcie must be a boolean (0/1, on/off, yes/no, true/false), not 'maybe'");
	expect_error("hostpci0: 01:00.0,x-vga=2\n", "x-vga must be a boolean");
	expect_error("hostpci0: 01:00.0,driver=nouveau\n", "hostpci0: driver must be 'vfio' or 'keep', not 'nouveau'");
	expect_error("hostpci0: 01:00.0,mdev=../x\n", "hostpci0: invalid mdev type '../x'");
	expect_error("hostpci16: 01:00.0\n", "100.conf:1: hostpci16: Proxmox allows hostpci0 to hostpci15");
	expect_error("hostpci123456789012345678901: 01:00.0\n", "Proxmox allows hostpci0 to hostpci15");
	expect_error("hostpci01: 01:00.0\n", "hostpci01: Proxmox allows hostpci0 to hostpci15");
	expect_error("hostpci0: 01:00.0\nhostpci0: 02:00.0\n", "100.conf:2: hostpci0 given twice (first on line 1)");
	expect_error("hostpci0: 01:00.0,01:00.1\n",
		     "100.conf:1: hostpci0: cannot parse '01:00.0,01:00.1': two values without a key (the second is '01:00.1')");
	expect_error("hostpci0: 01:00.0,host=01:00.1\n", "hostpci0: cannot parse '01:00.0,host=01:00.1': 'host' given twice");
	expect_error("hostpci0: 01:00.0,pcie=1,pcie=0\n", "'pcie' given twice");
	expect_error("hostpci0: 01:00.0,,pcie=1\n", "hostpci0: cannot parse '01:00.0,,pcie=1': empty item");
	expect_error("hostpci0: 01:00.0,\n", "empty item");
	expect_error("hostpci0: 01:00.0,pcie=\n", "'pcie=' has no value");
	expect_error("hostpci0: 01:00.0,=1\n", "item '=1' has no key");
	expect_error("hostpci0:\n", "100.conf:1: hostpci0: no value");
	expect_error("hostpci0: pcie=1\n", "hostpci0: needs PCI ids (host=) or a mapping (mapping=)");
	expect_error("sockets: two\n", "100.conf:1: sockets: expected a number from 1 to 4096, not 'two'");
	expect_error("cores: 0\n", "cores: expected a number");
	expect_error("vcpus: 4097\n", "vcpus: expected a number");
	expect_error("cores: -1\n", "cores: expected a number");
	expect_error("affinity: 3-1\n", "100.conf:1: affinity: invalid CPU list '3-1' (at '3-1')");
	expect_error("affinity: 0-3,x\n", "affinity: invalid CPU list '0-3,x' (at 'x')");
	expect_error("template: maybe\n", "template: expected a boolean, not 'maybe'");
	expect_error("lock: 0123456789012345678901234567890123456789\n", "lock: value longer than 31 bytes");
	expect_error("Hostpci0: 01:00.0\n", "cannot parse line 'Hostpci0: 01:00.0' (expected \"key: value\")");
	expect_error(" cores: 4\n", "100.conf:1: cannot parse line");
	expect_error("just some words\n", "100.conf:1: cannot parse line");
	expect_error("hostpci0 01:00.0\n", "cannot parse line");
	expect_error("cores: 4\nnet0 virtio\n", "100.conf:2: cannot parse line");
}
END_TEST

START_TEST(every_error_in_one_run)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	ck_assert_int_eq(parse(fx,
			       "cores: 2\n"
			       "hostpci0: 0A:00.0\n"
			       "name: ok\n"
			       "hostpci1: host=01:00,mapping=x\n"
			       "sockets: none\n"
			       "hostpci1: 02:00\n",
			       &vm),
			 -EINVAL);
	ck_assert(fx_log_has(fx, "100.conf:2: hostpci0: invalid PCI id '0A:00.0'"));
	ck_assert(fx_log_has(fx, "100.conf:4: hostpci1: host= and mapping= exclude"));
	ck_assert(fx_log_has(fx, "100.conf:5: sockets:"));
	ck_assert_int_eq(fx->n_errors, 3);
	/* The good lines around them still count, and a bad entry is not present. */
	ck_assert_uint_eq(vm.cores, 2);
	ck_assert_str_eq(vm.name, "ok");
	ck_assert(!vm.hostpci[0].present);
	ck_assert(vm.hostpci[1].present);
	ck_assert_int_eq(vm.hostpci[1].line, 6);
	fx_free(fx);
}
END_TEST

START_TEST(garbage_bytes)
{
	static const char nul[] = "cores: 2\nname: a\0b\nsockets: x\nhostpci0: 01:00\n";
	static const char ctl[] = "cores: 2\n\x01\x02zz\nname: a\x1b[31m\n";
	static const char utf[] = "name: \xff\xfe\nagent: 1\nname: caf\xc3\xa9\nargs: \xc0\xaf\nargs: \xed\xa0\x80\n"
				  "args: \xe2\x82\n";
	struct fx *fx = fx_new();
	struct gh_vmconf vm;

	ck_assert_int_eq(parse_len(fx, nul, sizeof(nul) - 1, &vm), -EINVAL);
	/* Every error is reported, each with its line, and parsing goes on. */
	ck_assert(fx_log_has(fx, "100.conf:2: NUL byte in line"));
	ck_assert(fx_log_has(fx, "100.conf:3: sockets"));
	ck_assert_int_eq(fx->n_errors, 2);
	ck_assert_uint_eq(vm.cores, 2);
	ck_assert(vm.hostpci[0].present);
	ck_assert_str_eq(vm.name, "");

	fx_log_clear(fx);
	fx->n_errors = 0;
	ck_assert_int_eq(parse_len(fx, ctl, sizeof(ctl) - 1, &vm), -EINVAL);
	ck_assert(fx_log_has(fx, "100.conf:2: control character in line"));
	ck_assert(fx_log_has(fx, "100.conf:3: control character in line"));
	ck_assert_int_eq(fx->n_errors, 2);

	fx_log_clear(fx);
	fx->n_errors = 0;
	ck_assert_int_eq(parse_len(fx, utf, sizeof(utf) - 1, &vm), -EINVAL);
	ck_assert(fx_log_has(fx, "100.conf:1: line is not valid UTF-8"));
	ck_assert(fx_log_has(fx, "100.conf:4: line is not valid UTF-8"));
	ck_assert(fx_log_has(fx, "100.conf:5: line is not valid UTF-8"));
	ck_assert(fx_log_has(fx, "100.conf:6: line is not valid UTF-8"));
	ck_assert_int_eq(fx->n_errors, 4);
	/* Well-formed UTF-8 is text. */
	ck_assert_str_eq(vm.name, "caf\xc3\xa9");
	fx_free(fx);
}
END_TEST

START_TEST(overlong_line)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;
	size_t big = 300000;
	char *text = malloc(big + 64);

	ck_assert_ptr_nonnull(text);
	memcpy(text, "name: ", 6);
	memset(text + 6, 'x', big - 6);
	strcpy(text + big, "\ncores: 3\nsockets: x\n");
	ck_assert_int_eq(parse(fx, text, &vm), -EINVAL);
	ck_assert(fx_log_has(fx, "100.conf:1: line too long"));
	/* The rest of the file is still read. */
	ck_assert(fx_log_has(fx, "100.conf:3: sockets"));
	ck_assert_int_eq(fx->n_errors, 2);
	ck_assert_uint_eq(vm.cores, 3);
	ck_assert_str_eq(vm.name, "");

	/* 64 KiB is the limit, the newline included. */
	fx_log_clear(fx);
	fx->n_errors = 0;
	memcpy(text, "args: ", 6);
	memset(text + 6, 'y', 65536 - 7);
	strcpy(text + 65536 - 1, "\ncores: 5\n");
	ck_assert_int_eq(parse(fx, text, &vm), 0);
	ck_assert_uint_eq(vm.cores, 5);
	free(text);
	fx_free(fx);
}
END_TEST

/* Each problem keeps its field; a caller fails only on the fields it reads, the rest warn. */
START_TEST(problems_by_field)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;
	char name[200], text[1024];
	FILE *f;

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(text, sizeof(text),
		 "name: %s\ncores: 5000\naffinity: 3-1\nhostpci0: 01:00,frob=1\nhookscript: %0300d\ntags: a\x01\n"
		 "no colon\nhostpci1: 02:00\n",
		 name, 0);
	f = fmemopen(text, strlen(text), "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(gh_vmconf_read(fx->ctx, f, "100.conf", &vm), 0);
	fclose(f);
	/* Reading logs nothing: the caller decides. */
	ck_assert_uint_eq(fx->log_len, 0);
	ck_assert_uint_eq(vm.n_problems, 7);
	ck_assert_uint_eq(vm.problems[0].field, GH_VMCONF_OTHER);
	ck_assert_uint_eq(vm.problems[1].field, GH_VMCONF_VCPUS);
	ck_assert_uint_eq(vm.problems[2].field, GH_VMCONF_AFFINITY);
	ck_assert_uint_eq(vm.problems[3].field, GH_VMCONF_HOSTPCI);
	ck_assert_uint_eq(vm.problems[4].field, GH_VMCONF_HOOKSCRIPT);
	ck_assert_uint_eq(vm.problems[5].field, GH_VMCONF_OTHER);
	ck_assert_uint_eq(vm.problems[6].field, GH_VMCONF_ALL);
	ck_assert(vm.hostpci[1].present);

	ck_assert_int_eq(gh_vmconf_report(fx->ctx, &vm, GH_VMCONF_HOSTPCI), -EINVAL);
	ck_assert(fx_log_has(fx, "100.conf:4: hostpci0: unknown property 'frob'"));
	ck_assert(fx_log_has(fx, "100.conf:1: name: value longer than 127 bytes (a field this command does not read"));
	/* hostpci0, and the line that could be anything. */
	ck_assert_int_eq(fx->n_errors, 2);

	fx_log_clear(fx);
	fx->n_errors = 0;
	vm.problems[6].field = GH_VMCONF_OTHER;
	vm.problems[3].field = GH_VMCONF_OTHER;
	ck_assert_int_eq(gh_vmconf_report(fx->ctx, &vm, GH_VMCONF_HOSTPCI), 0);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_int_eq(gh_vmconf_report(fx->ctx, &vm, GH_VMCONF_VCPUS), -EINVAL);
	ck_assert_int_eq(fx->n_errors, 1);
	ck_assert(fx_log_has(fx, "100.conf:2: cores: expected a number from 1 to 4096, not '5000'"));
	fx_free(fx);
}
END_TEST

/* Past the problems kept, the count and the fields still decide. */
START_TEST(problems_beyond_those_kept)
{
	struct fx *fx = fx_new();
	struct gh_vmconf vm;
	char text[2048] = "";
	size_t off = 0;
	FILE *f;

	for (int i = 0; i < GH_VMCONF_PROBLEMS_MAX + 3; i++)
		off += (size_t)snprintf(text + off, sizeof(text) - off, "lock: %040d\n", i);
	off += (size_t)snprintf(text + off, sizeof(text) - off, "hostpci0: 1:00\n");
	f = fmemopen(text, off, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(gh_vmconf_read(fx->ctx, f, "100.conf", &vm), 0);
	fclose(f);
	ck_assert_uint_eq(vm.n_problems, GH_VMCONF_PROBLEMS_MAX);
	ck_assert_uint_eq(vm.n_lost, 4);
	ck_assert_int_eq(gh_vmconf_report(fx->ctx, &vm, GH_VMCONF_HOSTPCI), -EINVAL);
	ck_assert(fx_log_has(fx, "and 4 more problems in the VM config"));
	ck_assert_int_eq(fx->n_errors, 1);
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
	ck_assert(vm.hostpci[0].present);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 102, &vm), -ENOENT);
	ck_assert(fx_log_has(fx, "no VM 102: /etc/pve/qemu-server/102.conf: No such file or directory"));
	ck_assert_int_eq(fx->n_errors, 1);

	/* Messages name the system path, not the fixture's. */
	fx_vmconf(fx, 103, "cores: 1\ncores: zero\n");
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 103, &vm), -EINVAL);
	ck_assert(fx_log_has(fx, "\n/etc/pve/qemu-server/103.conf:2: cores:"));

	fx_file(fx, "/etc/pve/nodes/pve2/qemu-server/102.conf", "cores: 3\n");
	ck_assert_int_eq(gh_ctx_set_migrated_from(fx->ctx, "pve2"), 0);
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 102, &vm), 0);
	ck_assert_uint_eq(vm.cores, 3);
	ck_assert_int_eq(gh_vmconf_load(fx->ctx, 101, &vm), -ENOENT);
	ck_assert(fx_log_has(fx, "no VM 101: /etc/pve/nodes/pve2/qemu-server/101.conf"));
	fx_free(fx);
}
END_TEST

START_TEST(vmids)
{
	unsigned v = 0;

	ck_assert_int_eq(gh_vmconf_parse_vmid("100", &v), 0);
	ck_assert_uint_eq(v, 100);
	ck_assert_int_eq(gh_vmconf_parse_vmid("999999999", &v), 0);
	ck_assert_uint_eq(v, 999999999);
	ck_assert_int_eq(gh_vmconf_parse_vmid("99", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("1000000000", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("99999999999999999999999", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("0100", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("10a", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("+100", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid(" 100", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid("100\n", &v), -EINVAL);
	ck_assert_int_eq(gh_vmconf_parse_vmid(NULL, &v), -EINVAL);
	ck_assert_uint_eq(v, 999999999);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmconf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_hostpci_form);
	tcase_add_test(tc, live_section_only);
	tcase_add_test(tc, bad_input_is_reported);
	tcase_add_test(tc, every_error_in_one_run);
	tcase_add_test(tc, garbage_bytes);
	tcase_add_test(tc, overlong_line);
	tcase_add_test(tc, problems_by_field);
	tcase_add_test(tc, problems_beyond_those_kept);
	tcase_add_test(tc, load_and_migration_path);
	tcase_add_test(tc, vmids);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
