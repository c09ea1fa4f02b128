/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "host.h"
#include "mapping.h"

static int parse_len(struct fx *fx, const char *text, size_t len, struct gh_mapping_file *mf)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int r;

	ck_assert_ptr_nonnull(f);
	r = gh_mapping_parse(fx->ctx, f, "pci.cfg", mf);
	fclose(f);
	/* What "gpu-hook check" sees: every problem of the file logged, and the file refused whole. */
	if (r == 0 && gh_mapping_report(fx->ctx, mf, NULL) < 0) {
		gh_mapping_free(mf);
		r = -EINVAL;
	}
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

/* A broken mapping, or a stray line, is the business of the VMs using it only. */
START_TEST(errors_belong_to_their_mapping)
{
	struct fx *fx = fx_new();
	struct gh_mapping_file mf;
	FILE *f;
	static const char text[] = "gpu\n"
				   "\tmap id=10de:2684,node=pve1,path=0000:01:00\n" /* 2 */
				   "\n"
				   "nic\n"						/* 4 */
				   "\tmap id=8086:10fb,node=pve1,path=0000:05:00.0\n"
				   "\tcolour blue\n"				/* 6 */
				   "\n"
				   "\tstray 1\n"					/* 8 */
				   "bad id!\n"					/* 9 */
				   "\tmap id=10de:2684,node=pve1,path=0000:01:00\n"
				   "\n"
				   "gpu\n"						/* 12 */
				   "\tmap id=10de:2684,node=pve1,path=0000:02:00\n";

	f = fmemopen((void *)text, sizeof(text) - 1, "r");
	ck_assert_int_eq(gh_mapping_parse(fx->ctx, f, "pci.cfg", &mf), 0);
	fclose(f);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_uint_eq(mf.n, 2);
	/* nic's own line 6 is nic's; gpu is defined twice, so a VM using it is refused as well. */
	ck_assert_uint_eq(gh_mapping_find(&mf, "nic")->errors.n, 1);
	ck_assert_int_eq(gh_mapping_report(fx->ctx, &mf, "nic"), -EINVAL);
	ck_assert(fx_log_has(fx, "pci.cfg:6: unknown property 'colour'"));
	ck_assert_int_eq(fx->n_errors, 1);
	ck_assert_int_eq(gh_mapping_report(fx->ctx, &mf, "gpu"), -EINVAL);
	ck_assert(fx_log_has(fx, "pci.cfg:12: mapping 'gpu' defined twice"));
	ck_assert_int_eq(fx->n_errors, 2);
	/* The stray line and the bad id's section belong to no mapping: only the whole-file report names them. */
	ck_assert_uint_eq(mf.errors.n, 2);
	ck_assert_int_eq(gh_mapping_report(fx->ctx, &mf, NULL), -EINVAL);
	ck_assert(fx_log_has(fx, "pci.cfg:8: property line outside a section"));
	ck_assert(fx_log_has(fx, "pci.cfg:9: invalid mapping id 'bad id!'"));
	gh_mapping_free(&mf);
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
	/* Messages name the system path; they are logged when the mapping is reported, not when read. */
	fx_file(fx, "/etc/pve/mapping/pci.cfg", "x1\n\tmap id=10de:1234,node=n,path=0000:01:00.g\n");
	ck_assert_int_eq(gh_mapping_load(fx->ctx, &mf), 0);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_int_eq(gh_mapping_report(fx->ctx, &mf, "x1"), -EINVAL);
	ck_assert(fx_log_has(fx, "/etc/pve/mapping/pci.cfg:2: map: invalid path '0000:01:00.g'"));
	gh_mapping_free(&mf);
	fx_free(fx);
}
END_TEST

/*
 * Mapping pools (qemu-server PCI.pm choose_hostpci_devices): the demo host
 * with a second RTX 4090 at 0000:02:00 in its own IOMMU group, and one
 * mapping "pool" naming both cards on this node.
 */
static void pool_host(struct fx *fx)
{
	fx_host_single(fx);
	fx_pci(fx, "0000:02:00.0", 0x10de, 0x2684, 0x030000, "nvidia", 15);
	fx_pci(fx, "0000:02:00.1", 0x10de, 0x22ba, 0x040300, "snd_hda_intel", 15);
	fx_pci_attr(fx, "0000:02:00.0", "subsystem_vendor", "0x1043");
	fx_pci_attr(fx, "0000:02:00.0", "subsystem_device", "0x889c");
	fx_file(fx, "/etc/pve/mapping/pci.cfg",
		"pool\n"
		"\tmap id=10de:2684,iommugroup=14,node=pve1,path=0000:01:00,subsystem-id=1043:889c\n"
		"\tmap id=10de:2684,iommugroup=22,node=pve2,path=0000:41:00,subsystem-id=1043:889c\n"
		"\tmap id=10de:2684,iommugroup=15,node=pve1,path=0000:02:00,subsystem-id=1043:889c\n");
	fx_vmconf(fx, 111, "hostpci0: mapping=pool,pcie=1\n");
}

/* A running VM: its pid file and a QEMU process naming it (and devices, a -device list). */
static void running_vm(struct fx *fx, unsigned vmid, int pid, const char *devices)
{
	char p[64], cl[512];

	snprintf(p, sizeof(p), "/var/run/qemu-server/%u.pid", vmid);
	fx_file(fx, p, "%d\n", pid);
	snprintf(cl, sizeof(cl), "/usr/bin/kvm -id %u -pidfile /var/run/qemu-server/%u.pid %s", vmid, vmid, devices);
	snprintf(p, sizeof(p), "/qemu.slice/%u.scope", vmid);
	fx_proc(fx, pid, "kvm", cl, p);
}

static bool has(const struct gh_strv *sv, const char *needle)
{
	for (size_t i = 0; i < sv->n; i++)
		if (strstr(sv->v[i], needle))
			return true;
	return false;
}

static bool refused(const struct gh_refusals *set, const char *needle)
{
	for (size_t i = 0; i < set->n; i++)
		if (strstr(set->v[i].text, needle))
			return true;
	return false;
}

/* Loads VM 111 and says which card hostpci0 got: 1, 2, or 0 when refused. */
static int picked(struct fx *fx)
{
	struct gh_host h;
	int card = 0;

	fx_log_clear(fx);
	ck_assert_msg(gh_host_load(fx->ctx, 111, &h) == 0, "%s", fx->log);
	if (gh_host_func(&h, "0000:01:00.0") && gh_host_func(&h, "0000:01:00.1"))
		card = 1;
	if (gh_host_func(&h, "0000:02:00.0") && gh_host_func(&h, "0000:02:00.1"))
		card = card ? -1 : 2;
	ck_assert_msg(card >= 0, "both cards taken");
	if (card) {
		ck_assert_int_eq(gh_host_func(&h, card == 1 ? "0000:01:00.0" : "0000:02:00.0")->hostpci, 0);
		ck_assert_uint_eq(h.n_f, 2);
		ck_assert_msg(h.refusals.n == 0, "refused: %s", h.refusals.v[0].text);
	} else {
		ck_assert(refused(&h.refusals, "could not find a free device for 'hostpci0'"));
	}
	gh_host_free(&h);
	return card;
}

START_TEST(pool_first_free_card)
{
	struct fx *fx = fx_new();
	long long now = (long long)time(NULL);

	pool_host(fx);
	ck_assert_int_eq(picked(fx), 1);
	/* A running QEMU has the first card: the second VM gets the second, as Proxmox gives it. */
	running_vm(fx, 200, 4000, "-device vfio-pci,host=0000:01:00.0,id=hostpci0.0 -device vfio-pci,host=0000:01:00.1");
	ck_assert_int_eq(picked(fx), 2);
	fx_rm(fx, "/var/run/qemu-server/200.pid");
	ck_assert_int_eq(picked(fx), 1);

	/* /run/qemu-server/pci-id-reservations, as PCI.pm reserve_pci_usage writes it. */
	running_vm(fx, 300, 4300, "-device virtio-net-pci");
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:01:00.0 300 pid:4300\n");
	ck_assert_int_eq(picked(fx), 2);	/* a live pid */
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:01:00.1 300 pid:4301\n");
	ck_assert_int_eq(picked(fx), 1);	/* VM 300 runs, but not with that pid: a leftover PVE takes */
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:01:00.0 400 pid:4400\n");
	ck_assert_int_eq(picked(fx), 1);	/* a dead pid */
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:01:00.1 400 time:%lld\n", now + 15);
	ck_assert_int_eq(picked(fx), 2);	/* a start under way */
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:01:00.1 400 time:%lld\n", now - 1);
	ck_assert_int_eq(picked(fx), 1);	/* lapsed */
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:01:00.0 111 time:%lld\n", now + 15);
	ck_assert_int_eq(picked(fx), 1);	/* our own */

	/* Both held: Proxmox's words, and why each card was passed over. */
	fx_file(fx, "/run/qemu-server/pci-id-reservations", "0000:01:00.0 400 time:%lld\n0000:02:00.1 300 pid:4300\n",
		now + 15);
	ck_assert_int_eq(picked(fx), 0);
	{
		struct gh_host h;

		ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
		ck_assert(refused(&h.refusals, "0000:01:00.0 is reserved by VM 400, whose start is under way; "
					   "0000:02:00.1 is in use by running VM 300"));
		gh_host_free(&h);
	}
	fx_free(fx);
}
END_TEST

START_TEST(pool_skips_other_journals_and_earlier_entries)
{
	struct fx *fx = fx_new();
	struct gh_host h;

	pool_host(fx);
	/* gpu-hook handed the first card to VM 200 (its start not yet reserved anything). */
	fx_file(fx, "/run/gpu-hook/200.json",
		"{\"version\":1,\"key\":\"200\",\"vmid\":200,\"phase\":\"to-vfio\",\"complete\":true,\"devices\":"
		"[{\"address\":\"0000:01:00.0\",\"host_driver\":\"nvidia\",\"override\":\"\",\"vendor\":\"10de\","
		"\"device\":\"2684\",\"iommu_group\":14,\"wedged\":false}],\"steps\":[]}");
	fx_chmod(fx, "/run/gpu-hook/200.json", 0600);
	fx_chmod(fx, "/run/gpu-hook", 0700);
	ck_assert_int_eq(picked(fx), 2);
	/* Our own journal is no reason to pass a card over. */
	fx_rm(fx, "/run/gpu-hook/200.json");
	fx_file(fx, "/run/gpu-hook/111.json", "{}");
	ck_assert_int_eq(picked(fx), 1);
	fx_rm(fx, "/run/gpu-hook/111.json");

	/* Two entries on one pool take both cards, in hostpci order (q35-linux-hostpci-mapping.conf). */
	fx_vmconf(fx, 111, "hostpci0: mapping=pool,pcie=1\nhostpci3: mapping=pool\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_uint_eq(h.refusals.n, 0);
	ck_assert_int_eq(gh_host_func(&h, "0000:01:00.0")->hostpci, 0);
	ck_assert_int_eq(gh_host_func(&h, "0000:02:00.0")->hostpci, 3);
	gh_host_free(&h);
	/* A third has nothing left. */
	fx_vmconf(fx, 111, "hostpci0: mapping=pool\nhostpci1: mapping=pool\nhostpci2: mapping=pool\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert(refused(&h.refusals, "could not find a free device for 'hostpci2' (0000:01:00.0 is taken by an earlier "
				   "hostpci entry; 0000:02:00.0 is taken by an earlier hostpci entry)"));
	gh_host_free(&h);
	/* An entry given by address counts as taken too; driver=keep takes its card without handing it over. */
	fx_vmconf(fx, 111, "hostpci0: 01:00,driver=keep\nhostpci1: mapping=pool\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_uint_eq(h.refusals.n, 0);
	ck_assert_ptr_null(gh_host_func(&h, "0000:01:00.0"));
	ck_assert_int_eq(gh_host_func(&h, "0000:02:00.0")->hostpci, 1);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(pool_entries_must_all_match)
{
	struct fx *fx = fx_new();
	struct gh_host h;

	pool_host(fx);
	/* The second card on this node was swapped: PVE refuses the mapping, not only that card. */
	fx_pci_attr(fx, "0000:02:00.0", "device", "0x2704");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert(refused(&h.refusals, "hostpci0: PCI device mapping invalid (hardware probably changed): mapping 'pool' is "
				   "invalid on node pve1: /etc/pve/mapping/pci.cfg:4: 0000:02:00.0 is 10de:2704"));
	ck_assert_uint_eq(h.n_f, 0);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(ids_that_name_no_device)
{
	struct fx *fx = fx_new();
	struct gh_host h;

	fx_host_single(fx);
	fx_vmconf(fx, 111, "hostpci0: 01:00.0\nhostpci1: 00:f4.0\nhostpci2: 00001:00:00.0\nhostpci3: 01:00.1,mdev=a-b\n"
			   "hostpci4: 01:00,mdev=x\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert(refused(&h.refusals, "hostpci1: no PCI device found for '0000:00:f4.0'"));
	ck_assert(refused(&h.refusals, "hostpci2: no PCI device found for an id whose domain has more than four digits"));
	/* A mediated device on one function is left alone; on a whole card it is refused. */
	ck_assert(has(&h.notes, "hostpci3: mediated device (mdev=a-b) left alone"));
	ck_assert(refused(&h.refusals, "hostpci4: cannot use mediated device with multifunction device"));
	ck_assert_uint_eq(h.refusals.n, 3);
	gh_host_free(&h);
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
	tcase_add_test(tc, errors_belong_to_their_mapping);
	tcase_add_test(tc, load_through_root);
	tcase_add_test(tc, pool_first_free_card);
	tcase_add_test(tc, pool_skips_other_journals_and_earlier_entries);
	tcase_add_test(tc, pool_entries_must_all_match);
	tcase_add_test(tc, ids_that_name_no_device);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
