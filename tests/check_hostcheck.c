/* SPDX-License-Identifier: MIT */
/* gpu-hook check: a clean host has no problem; each misconfiguration is found, with where and how to fix it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "hostcheck.h"
#include "plan.h"

static unsigned vms[] = { 111, 112 };

/* The finding whose text holds needle, or NULL; also counts problems (warnings and errors). */
static const struct gh_finding *find(const struct gh_findings *f, const char *needle, unsigned *problems)
{
	const struct gh_finding *hit = NULL;

	*problems = 0;
	for (unsigned i = 0; i < f->n; i++) {
		if (f->v[i].severity != GH_SEV_INFO)
			(*problems)++;
		if (!hit && needle && strstr(f->v[i].what, needle))
			hit = &f->v[i];
	}
	return hit;
}

static void expect(struct fx *fx, const char *needle, enum gh_severity sev, const char *where)
{
	struct gh_findings f;
	const struct gh_finding *hit;
	unsigned problems;

	ck_assert_int_eq(gh_hostcheck_run(fx->ctx, vms, 2, &f), 0);
	hit = find(&f, needle, &problems);
	ck_assert_msg(hit != NULL, "no finding \"%s\"", needle);
	ck_assert_int_eq(hit->severity, sev);
	ck_assert_msg(strstr(hit->where, where), "\"%s\" is not where \"%s\" says", where, hit->where);
	ck_assert(hit->fix[0]);
	ck_assert_uint_ge(problems, 1);
	gh_hostcheck_free(&f);
}

START_TEST(clean_host)
{
	struct fx *fx = fx_new();
	struct gh_findings f;
	unsigned problems;

	fx_example_host(fx);
	/* check compares the hookscript with the running binary: here, this test. */
	{
		FILE *in = fopen("/proc/self/exe", "re"), *out = fopen(fx_path(fx, "/var/lib/vz/snippets/gpu-hook"), "we");
		char buf[65536];
		size_t n;

		ck_assert(in && out);
		while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
			ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
		fclose(in);
		ck_assert_int_eq(fclose(out), 0);
	}
	ck_assert_int_eq(gh_hostcheck_run(fx->ctx, vms, 2, &f), 0);
	find(&f, NULL, &problems);
	for (unsigned i = 0; i < f.n; i++)
		if (f.v[i].severity != GH_SEV_INFO)
			fprintf(stderr, "unexpected: %s (%s)\n", f.v[i].what, f.v[i].where);
	ck_assert_uint_eq(problems, 0);
	gh_hostcheck_free(&f);
	fx_free(fx);
}
END_TEST

/*
 * Two cards on nvidia, nvidia-drm modeset=1: check flags a driver without
 * per-GPU removal exactly when a start of VM 111 would be refused (or, under
 * modeset_hold = reload, reloads nvidia-drm), by the same detection.
 */
START_TEST(two_gpus_modeset_agrees)
{
	static const struct {
		const char *proc, *sysmod, *kallsyms, *modeset, *policy;
		int cards;
		int sev;		/* -1: no finding */
		const char *says, *where;
	} cases[] = {
		{ "550.127.05", NULL, NULL, "Y", NULL, 2, GH_SEV_ERROR, "550.127.05", "/proc/driver/nvidia/version" },
		{ "580.94.05", NULL, NULL, "Y", NULL, 2, GH_SEV_ERROR, "580.94.05", "/proc/driver/nvidia/version" },
		{ "580.95.05", NULL, NULL, "Y", NULL, 2, GH_SEV_ERROR, "580.95.05", "/proc/driver/nvidia/version" },
		{ NULL, "550.127.05", NULL, "Y", NULL, 2, GH_SEV_ERROR, "550.127.05", "/sys/module/nvidia/version" },
		{ NULL, "garbage", NULL, "Y", NULL, 2, GH_SEV_ERROR, "unknown version", "/sys/module/nvidia" },
		{ "550.127.05", NULL, NULL, "Y", "reload", 2, GH_SEV_INFO, "modeset_hold = reload", "/proc/driver/nvidia/version" },
		{ "580.94.06", NULL, NULL, "Y", NULL, 2, -1, NULL, NULL },
		{ "580.105.08", NULL, NULL, "Y", NULL, 2, -1, NULL, NULL },
		{ "590.44.01", NULL, NULL, "Y", NULL, 2, -1, NULL, NULL },
		{ "550.127.05", NULL, "0000000000000000 t nvidia_modeset_remove\t[nvidia]\n", "Y", NULL, 2, -1, NULL, NULL },
		{ "550.127.05", NULL, NULL, "Y", NULL, 1, -1, NULL, NULL },
		{ "550.127.05", NULL, NULL, "N", NULL, 2, -1, NULL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *fx = fx_new();
		const struct gh_finding *hit;
		struct gh_findings f;
		struct gh_host h;
		struct gh_plan p;
		unsigned problems;
		bool refused = false, reloads = false, vm_flagged = false;

		fx_example_host(fx);
		if (cases[i].proc)
			fx_file(fx, "/proc/driver/nvidia/version",
				"NVRM version: NVIDIA UNIX x86_64 Kernel Module  %s  Tue Oct  8 03:22:07 UTC 2024\n"
				"GCC version:  gcc version 12.2.0 (Debian 12.2.0-14) \n", cases[i].proc);
		if (cases[i].sysmod)
			fx_file(fx, "/sys/module/nvidia/version", "%s\n", cases[i].sysmod);
		if (cases[i].kallsyms)
			fx_file(fx, "/proc/kallsyms", "0000000000000000 T _text\n%s", cases[i].kallsyms);
		if (cases[i].policy) {
			fx_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\nmodeset_hold = %s\n", cases[i].policy);
			fx_chmod(fx, "/etc/gpu-hook/gpu-hook.ini", 0644);
		}
		fx_file(fx, "/sys/module/nvidia_drm/parameters/modeset", "%s\n", cases[i].modeset);
		if (cases[i].cards == 2)
			fx_pci(fx, "0000:02:00.0", 0x10de, 0x2204, 0x030000, "nvidia", 15);
		ck_assert_int_eq(gh_hostcheck_run(fx->ctx, vms, 2, &f), 0);
		hit = find(&f, "nvidia-drm modeset=1", &problems);
		ck_assert_msg((hit != NULL) == (cases[i].sev >= 0), "case %zu: %s", i, hit ? hit->what : "no finding");
		if (hit) {
			ck_assert_int_eq(hit->severity, cases[i].sev);
			ck_assert_msg(strstr(hit->what, cases[i].says), "case %zu: %s", i, hit->what);
			ck_assert_str_eq(hit->where, cases[i].where);
			if (cases[i].sev == GH_SEV_ERROR) {
				ck_assert(strstr(hit->what, "modeset_hold = refuse"));
				ck_assert(strstr(hit->fix, "580.105.08"));
				ck_assert(strstr(hit->fix, "modeset_hold = reload"));
				ck_assert(strstr(hit->fix, "modeset=0"));
			}
		}
		for (unsigned k = 0; k < f.n; k++)
			if (!strcmp(f.v[k].where, "VM 111") && strstr(f.v[k].what, "modeset_hold = refuse"))
				vm_flagged = true;
		gh_hostcheck_free(&f);

		/* The plan for VM 111 says the same. */
		ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
		ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &p), 0);
		for (size_t k = 0; k < p.refusals.n; k++)
			refused |= strstr(p.refusals.v[k].text, "modeset_hold = refuse") != NULL;
		for (unsigned k = 0; k < p.n; k++)
			reloads |= p.v[k].op.action == GH_ACT_MODULE_LOAD && !strcmp(p.v[k].op.target, "nvidia_drm");
		ck_assert_msg(refused == (cases[i].sev == GH_SEV_ERROR), "case %zu: check and plan disagree", i);
		ck_assert_msg(vm_flagged == refused, "case %zu: VM 111's finding", i);
		ck_assert_msg(reloads == (cases[i].sev == GH_SEV_INFO), "case %zu: reload", i);
		gh_plan_free(&p);
		gh_host_free(&h);
		fx_free(fx);
	}
}
END_TEST

/* One warning per LXC config line that names a GPU node by number; "" for a clean config. */
static void expect_lxc(const char *conf, const char *where, const char *says, const char *fix, bool uvm_loaded)
{
	struct fx *fx = fx_new();
	struct gh_findings f;
	unsigned hits = 0;

	fx_example_host(fx);
	fx_file(fx, "/proc/devices", "Character devices:\n  1 mem\n195 nvidia\n226 drm\n%s\nBlock devices:\n  8 sd\n509 nvidia-uvm\n",
		uvm_loaded ? "509 nvidia-uvm" : "510 nvidia-nvlink");
	fx_link(fx, "/sys/class/drm/card1", "../../devices/pci0000:00/0000:02:00.0/drm/card1");
	fx_link(fx, "/sys/devices/pci0000:00/0000:02:00.0/drm/card1/device", "../../../0000:02:00.0");
	fx_link(fx, "/sys/class/drm/renderD128", "../../devices/pci0000:00/0000:02:00.0/drm/renderD128");
	fx_link(fx, "/sys/devices/pci0000:00/0000:02:00.0/drm/renderD128/device", "../../../0000:02:00.0");
	fx_file(fx, "/etc/pve/lxc/105.conf", "%s", conf);
	ck_assert_int_eq(gh_hostcheck_run(fx->ctx, vms, 2, &f), 0);
	for (unsigned i = 0; i < f.n; i++) {
		if (strncmp(f.v[i].where, "/etc/pve/lxc/", 13))
			continue;
		hits++;
		ck_assert_msg(says && strstr(f.v[i].what, says), "unexpected: %s (%s)", f.v[i].what, f.v[i].where);
		ck_assert_str_eq(f.v[i].where, where);
		ck_assert_int_eq(f.v[i].severity, GH_SEV_WARNING);
		ck_assert_msg(strstr(f.v[i].fix, fix), "fix: %s", f.v[i].fix);
	}
	ck_assert_uint_eq(hits, says ? 1 : 0);
	gh_hostcheck_free(&f);
	fx_free(fx);
}

/* LXC configs that pass GPU nodes by number break when the names move after a round trip. */
START_TEST(lxc_nodes_by_number)
{
	static const char head[] = "arch: amd64\ncores: 4\nhostname: jellyfin\n";
	static const struct {
		const char *lines, *where, *says, *fix;
	} cases[] = {
		{ "dev0: /dev/dri/card1,gid=44\n", "/etc/pve/lxc/105.conf:4", "dev0 passes /dev/dri/card1 by number",
		  "lxc.mount.entry: /dev/dri/by-path/pci-0000:02:00.0-card dev/dri/card1" },
		{ "\ndev1: path=/dev/dri/renderD128,gid=104,mode=0666\n", "/etc/pve/lxc/105.conf:5",
		  "dev1 passes /dev/dri/renderD128", "/dev/dri/by-path/pci-0000:02:00.0-render dev/dri/renderD128" },
		{ "lxc.mount.entry: /dev/dri/card1 dev/dri/card1 none bind,optional,create=file\n", "/etc/pve/lxc/105.conf:4",
		  "lxc.mount.entry passes /dev/dri/card1", "/dev/dri/by-path/pci-0000:02:00.0-card" },
		{ "lxc.cgroup2.devices.allow: c 226:1 rwm\n", "/etc/pve/lxc/105.conf:4", "allows DRM minor 1 (/dev/dri/card1 now)",
		  "c 226:* rwm and pass the node by its stable name, /dev/dri/by-path/pci-0000:02:00.0-card" },
		{ "lxc.cgroup.devices.allow: c 226:128 rwm\n", "/etc/pve/lxc/105.conf:4",
		  "allows DRM minor 128 (/dev/dri/renderD128 now)", "/dev/dri/by-path/pci-0000:02:00.0-render" },
		/* A node sysfs does not know: the fix still names the stable form. */
		{ "dev0: /dev/dri/card7\n", "/etc/pve/lxc/105.conf:4", "/dev/dri/card7", "/dev/dri/by-path/pci-<addr>-card" },
		/* nvidia-uvm's major, read from /proc/devices (the block device of the same number is not it). */
		{ "lxc.cgroup2.devices.allow: c 195:* rwm\nlxc.cgroup2.devices.allow: c 509:* rwm\n",
		  "/etc/pve/lxc/105.conf:5", "allows c 509:*, nvidia-uvm's major now", "devN:" },
	};
	char conf[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(conf, sizeof(conf), "%s%s", head, cases[i].lines);
		expect_lxc(conf, cases[i].where, cases[i].says, cases[i].fix, true);
	}
	/* Without nvidia-uvm loaded its major is unknown: nothing to say. */
	snprintf(conf, sizeof(conf), "%slxc.cgroup2.devices.allow: c 509:* rwm\n", head);
	expect_lxc(conf, "", NULL, "", false);

	/* Clean: stable names, whole classes, nodes by path, the description, snapshots. */
	expect_lxc("#GPU transcoding, was dev0%3A /dev/dri/card1\n"
		   "arch: amd64\n"
		   "dev0: /dev/nvidia0\n"
		   "dev1: /dev/nvidia-uvm\n"
		   "dev2: /dev/dri/by-path/pci-0000:02:00.0-render,gid=104\n"
		   "lxc.cgroup2.devices.allow: c 195:* rwm\n"
		   "lxc.cgroup2.devices.allow: c 226:* rwm\n"
		   "lxc.cgroup2.devices.allow: b 509:0 rwm\n"
		   "lxc.mount.entry: /dev/dri/by-path/pci-0000:02:00.0-card dev/dri/card1 none bind,optional,create=file\n"
		   "lxc.mount.entry: /dev/dri dev/dri none bind,optional,create=dir\n"
		   "lxc.mount.entry: /dev/nvidia-uvm dev/nvidia-uvm none bind,optional,create=file\n"
		   "\n[before-gpu]\ndev0: /dev/dri/card1\nlxc.cgroup2.devices.allow: c 226:0 rwm\n",
		   "", NULL, "", true);
}
END_TEST

/* A container config that cannot be read is named with its line, and the others are still checked. */
START_TEST(lxc_bad_files)
{
	struct fx *fx = fx_new();
	struct gh_findings f;
	const struct gh_finding *hit;
	unsigned problems;
	char *longline = malloc(10000);

	ck_assert_ptr_nonnull(longline);
	memset(longline, 'x', 9999);
	longline[9999] = '\0';
	fx_example_host(fx);
	fx_file(fx, "/etc/pve/lxc/105.conf", "arch: amd64\ndescription: %s\ndev0: /dev/dri/card0\n", longline);
	fx_mkdir(fx, "/etc/pve/lxc/106.conf");
	fx_file(fx, "/etc/pve/lxc/notes.txt", "dev0: /dev/dri/card0\n");
	ck_assert_int_eq(gh_hostcheck_run(fx->ctx, vms, 2, &f), 0);
	hit = find(&f, "line longer than", &problems);
	ck_assert_ptr_nonnull(hit);
	ck_assert_str_eq(hit->where, "/etc/pve/lxc/105.conf:2");
	hit = find(&f, "dev0 passes /dev/dri/card0", &problems);
	ck_assert_ptr_nonnull(hit);
	ck_assert_str_eq(hit->where, "/etc/pve/lxc/105.conf:3");
	/* A directory where a config should be is not read (lib/fs.c: input files are regular files). */
	hit = find(&f, "cannot read the container config", &problems);
	ck_assert_ptr_nonnull(hit);
	ck_assert_str_eq(hit->where, "/etc/pve/lxc/106.conf");
	for (unsigned i = 0; i < f.n; i++)
		ck_assert_ptr_null(strstr(f.v[i].where, "notes.txt"));
	gh_hostcheck_free(&f);
	free(longline);
	fx_free(fx);
}
END_TEST

START_TEST(each_misconfiguration)
{
	struct fx *fx;

	fx = fx_new();
	fx_example_host(fx);
	fx_rm(fx, "/sys/kernel/iommu_groups");
	expect(fx, "the IOMMU is off", GH_SEV_ERROR, "/sys/kernel/iommu_groups");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_file(fx, "/etc/modprobe.d/zz-vfio.conf", "# passthrough guide\nblacklist nvidia\n");
	expect(fx, "nvidia is blacklisted", GH_SEV_ERROR, "/etc/modprobe.d/zz-vfio.conf:2");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_file(fx, "/lib/modprobe.d/vfio.conf", "options vfio-pci ids=10de:2684,10de:22ba\nsoftdep nvidia pre: vfio-pci\n");
	expect(fx, "vfio-pci claims devices at boot", GH_SEV_WARNING, "/lib/modprobe.d/vfio.conf:1");
	expect(fx, "softdep nvidia", GH_SEV_WARNING, "/lib/modprobe.d/vfio.conf:2");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_file(fx, "/proc/cmdline", "ro quiet intel_iommu=on vfio-pci.ids=10de:2684\n");
	expect(fx, "vfio-pci.ids= on the kernel command line", GH_SEV_WARNING, "/proc/cmdline");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_rm(fx, "/etc/modprobe.d/blacklist-nouveau.conf");
	expect(fx, "nouveau is not blacklisted", GH_SEV_WARNING, "/etc/modprobe.d");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_rm(fx, "/etc/modprobe.d/nvidia-drm.conf");
	expect(fx, "nvidia_drm modeset is not set", GH_SEV_WARNING, "/etc/modprobe.d");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_file(fx, "/etc/modprobe.d/zz-old.conf", "options nvidia_drm modeset=0\n");
	expect(fx, "nvidia_drm modeset is set differently in 2 places", GH_SEV_ERROR,
	       "/etc/modprobe.d/nvidia-drm.conf:1 (modeset=1), /etc/modprobe.d/zz-old.conf:1 (modeset=0)");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_file(fx, "/etc/modprobe.d/nvidia.conf", "install nvidia /bin/false\n");
	expect(fx, "nvidia has an install command", GH_SEV_ERROR, "/etc/modprobe.d/nvidia.conf:1");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_rm(fx, "/sys/bus/pci/drivers/vfio-pci");
	fx_rm(fx, "/sys/module/vfio_pci");
	expect(fx, "vfio-pci module is not available", GH_SEV_ERROR, "/lib/modules");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_pci(fx, "0000:00:1f.6", 0x8086, 0x15bc, 0x020000, "e1000e", 14);
	expect(fx, "IOMMU group 14 is not viable", GH_SEV_ERROR, "VM 111");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_rm(fx, "/var/lib/vz/snippets/gpu-hook");
	expect(fx, "which is not an executable file", GH_SEV_ERROR, "VM 111");
	fx_vmconf(fx, 111, "hostpci0: 01:00\n");
	expect(fx, "VM 111 has no hookscript", GH_SEV_WARNING, "VM 111");
	fx_free(fx);

	fx = fx_new();
	fx_example_host(fx);
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0666);
	expect(fx, "config or policy cannot be used", GH_SEV_ERROR, "VM 111");
	ck_assert(fx_log_has(fx, "writable by group or others"));
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("check");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, clean_host);
	tcase_add_test(tc, each_misconfiguration);
	tcase_add_test(tc, two_gpus_modeset_agrees);
	tcase_add_test(tc, lxc_nodes_by_number);
	tcase_add_test(tc, lxc_bad_files);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
