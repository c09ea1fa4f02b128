/* SPDX-License-Identifier: MIT */
/* gpu-hook check: a clean host has no problem; each misconfiguration is found, with where and how to fix it. */
#include <stdio.h>
#include <string.h>

#include "hostcheck.h"
#include "fixture.h"

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

/* Two cards on nvidia, nvidia-drm modeset=1: flagged for drivers before 580.94.06 only. */
START_TEST(two_gpus_old_driver)
{
	static const struct {
		const char *version, *modeset;
		int cards;
		bool flagged;
	} cases[] = {
		{ "550.127.05\n", "Y\n", 2, true },	{ "580.94.05\n", "Y\n", 2, true },
		{ "580.94.06\n", "Y\n", 2, false },	{ "590.44.01\n", "Y\n", 2, false },
		{ "550.127.05\n", "Y\n", 1, false },	{ "550.127.05\n", "N\n", 2, false },
		{ "garbage\n", "Y\n", 2, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *fx = fx_new();
		struct gh_findings f;
		unsigned problems;
		const struct gh_finding *hit;

		fx_example_host(fx);
		fx_file(fx, "/sys/module/nvidia/version", "%s", cases[i].version);
		fx_file(fx, "/sys/module/nvidia_drm/parameters/modeset", "%s", cases[i].modeset);
		if (cases[i].cards == 2)
			fx_pci(fx, "0000:02:00.0", 0x10de, 0x2204, 0x030000, "nvidia", 15);
		ck_assert_int_eq(gh_hostcheck_run(fx->ctx, vms, 2, &f), 0);
		hit = find(&f, "cards on nvidia with nvidia-drm modeset=1", &problems);
		ck_assert_msg((hit != NULL) == cases[i].flagged, "case %zu (%s)", i, cases[i].version);
		if (hit) {
			ck_assert_int_eq(hit->severity, GH_SEV_ERROR);
			ck_assert(strstr(hit->fix, "580.94.06"));
		}
		gh_hostcheck_free(&f);
		fx_free(fx);
	}
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
	tcase_add_test(tc, two_gpus_old_driver);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
