/* SPDX-License-Identifier: MIT */
/* Virtual consoles, framebuffers and firmware framebuffers on fixture roots. */
#include <stdio.h>
#include <string.h>

#include "console.h"
#include "fixture.h"

static void vtcon(struct fx *fx, unsigned n, const char *name, int bound)
{
	char p[128];

	snprintf(p, sizeof(p), "/sys/class/vtconsole/vtcon%u/name", n);
	fx_file(fx, p, "%s\n", name);
	snprintf(p, sizeof(p), "/sys/class/vtconsole/vtcon%u/bind", n);
	fx_file(fx, p, "%d\n", bound);
}

/* A firmware framebuffer platform device, with its fbN when fb >= 0. */
static void fwfb(struct fx *fx, const char *dev, const char *driver, int fb)
{
	char p[256], t[256];

	snprintf(p, sizeof(p), "/sys/bus/platform/devices/%s", dev);
	snprintf(t, sizeof(t), "../../../devices/platform/%s", dev);
	fx_link(fx, p, t);
	snprintf(p, sizeof(p), "/sys/devices/platform/%s", dev);
	fx_mkdir(fx, p);
	if (driver) {
		snprintf(p, sizeof(p), "/sys/bus/platform/drivers/%s", driver);
		fx_mkdir(fx, p);
		snprintf(p, sizeof(p), "/sys/devices/platform/%s/driver", dev);
		snprintf(t, sizeof(t), "../../../bus/platform/drivers/%s", driver);
		fx_link(fx, p, t);
	}
	if (fb >= 0) {
		snprintf(p, sizeof(p), "/sys/devices/platform/%s/graphics/fb%d/device", dev, fb);
		snprintf(t, sizeof(t), "../../../%s", dev);
		fx_link(fx, p, t);
		snprintf(p, sizeof(p), "/sys/class/graphics/fb%d", fb);
		snprintf(t, sizeof(t), "../../devices/platform/%s/graphics/fb%d", dev, fb);
		fx_link(fx, p, t);
	}
}

START_TEST(console_on_nvidia_drm_fbdev)
{
	struct fx *fx = fx_new();
	const struct gh_vtcon *vts[4];
	struct gh_console con;
	const struct gh_fb *fb;

	fx_host_single(fx);
	ck_assert_int_eq(gh_console_read(fx->ctx, &con), 0);
	ck_assert_uint_eq(con.n_vt, 2);
	ck_assert_str_eq(con.vt[0].id, "vtcon0");
	ck_assert_str_eq(con.vt[0].name, "(S) dummy device");
	ck_assert(!con.vt[0].fbcon);
	ck_assert(!con.vt[0].bound);
	ck_assert_str_eq(con.vt[1].id, "vtcon1");
	ck_assert_str_eq(con.vt[1].name, "(M) frame buffer device");
	ck_assert(con.vt[1].fbcon);
	ck_assert(con.vt[1].bound);
	ck_assert_uint_eq(con.n_fb, 1);
	ck_assert_str_eq(con.fb[0].id, "fb0");
	ck_assert_str_eq(con.fb[0].name, "nvidia-drmdrmfb");
	ck_assert_str_eq(con.fb[0].device, "0000:01:00.0");
	fb = gh_console_fb_on(&con, "0000:01:00.0");
	ck_assert_ptr_eq(fb, &con.fb[0]);
	ck_assert_ptr_null(gh_console_fb_on(&con, "0000:01:00.1"));
	/* nvidia-drm's fbdev removed the firmware framebuffer. */
	ck_assert_uint_eq(con.n_fw, 0);
	ck_assert_uint_eq(gh_console_bound_fbcons(&con, vts, 4), 1);
	ck_assert_ptr_eq(vts[0], &con.vt[1]);
	gh_console_free(&con);
	ck_assert_ptr_null(con.vt);
	ck_assert_uint_eq(con.n_vt, 0);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(console_on_firmware_efi_fb)
{
	struct fx *fx = fx_new();
	struct gh_console con;

	fx_file(fx, "/proc/fb", "0 EFI VGA\n");
	fwfb(fx, "efi-framebuffer.0", "efi-framebuffer", 0);
	vtcon(fx, 0, "(S) dummy device", 0);
	vtcon(fx, 1, "(M) frame buffer device", 1);
	ck_assert_int_eq(gh_console_read(fx->ctx, &con), 0);
	ck_assert_uint_eq(con.n_fb, 1);
	ck_assert_str_eq(con.fb[0].name, "EFI VGA");
	ck_assert_str_eq(con.fb[0].device, "efi-framebuffer.0");
	ck_assert_ptr_null(gh_console_fb_on(&con, "0000:01:00.0"));
	ck_assert_ptr_nonnull(gh_console_fb_on(&con, "efi-framebuffer.0"));
	ck_assert_uint_eq(con.n_fw, 1);
	ck_assert_str_eq(con.fw[0].id, "efi-framebuffer.0");
	ck_assert_str_eq(con.fw[0].driver, "efi-framebuffer");
	gh_console_free(&con);
	fx_free(fx);
}
END_TEST

START_TEST(firmware_devices_with_and_without_drivers)
{
	struct fx *fx = fx_new();
	struct gh_console con;

	/* simpledrm took simple-framebuffer.0; vesa-framebuffer.0 has no driver; other platform devices do not count. */
	fx_file(fx, "/proc/fb", "0 simpledrmdrmfb\n");
	fwfb(fx, "simple-framebuffer.0", "simple-framebuffer", 0);
	fwfb(fx, "vesa-framebuffer.0", NULL, -1);
	fwfb(fx, "serial8250", "serial8250", -1);
	ck_assert_int_eq(gh_console_read(fx->ctx, &con), 0);
	ck_assert_uint_eq(con.n_fw, 2);
	ck_assert_str_eq(con.fw[0].id, "simple-framebuffer.0");
	ck_assert_str_eq(con.fw[0].driver, "simple-framebuffer");
	ck_assert_str_eq(con.fw[1].id, "vesa-framebuffer.0");
	ck_assert_str_eq(con.fw[1].driver, "");
	ck_assert_str_eq(con.fb[0].name, "simpledrmdrmfb");
	ck_assert_uint_eq(con.n_vt, 0);
	gh_console_free(&con);
	fx_free(fx);
}
END_TEST

START_TEST(vtcons_in_number_order)
{
	struct fx *fx = fx_new();
	const struct gh_vtcon *vts[4];
	struct gh_console con;

	vtcon(fx, 10, "(M) frame buffer device", 1);
	vtcon(fx, 2, "(M) frame buffer device", 1);
	vtcon(fx, 1, "(S) dummy device", 1);
	vtcon(fx, 0, "(S) VGA+", 0);
	fx_mkdir(fx, "/sys/class/vtconsole/vtcon3");	/* went away while we read */
	fx_file(fx, "/sys/class/vtconsole/README", "x\n");
	ck_assert_int_eq(gh_console_read(fx->ctx, &con), 0);
	ck_assert_uint_eq(con.n_vt, 4);
	ck_assert_str_eq(con.vt[0].id, "vtcon0");
	ck_assert_str_eq(con.vt[1].id, "vtcon1");
	ck_assert_str_eq(con.vt[2].id, "vtcon2");
	ck_assert_str_eq(con.vt[3].id, "vtcon10");
	/* Bound dummy is no fbcon; fbcons come in vtcon order and respect max. */
	ck_assert_uint_eq(gh_console_bound_fbcons(&con, vts, 4), 2);
	ck_assert_str_eq(vts[0]->id, "vtcon2");
	ck_assert_str_eq(vts[1]->id, "vtcon10");
	ck_assert_uint_eq(gh_console_bound_fbcons(&con, vts, 1), 1);
	ck_assert_str_eq(vts[0]->id, "vtcon2");
	ck_assert_int_eq(fx->n_errors, 0);
	gh_console_free(&con);
	fx_free(fx);
}
END_TEST

START_TEST(several_framebuffers)
{
	struct fx *fx = fx_new();
	struct gh_console con;

	fx_host_single(fx);
	/* A second card's fb1, fbcon's own class entry, and an fb2 /proc/fb does not list. */
	fx_file(fx, "/proc/fb", "0 nvidia-drmdrmfb\n1 nvidia-drmdrmfb\nbogus line\n40 out of range\n");
	fx_mkdir(fx, "/sys/devices/pci0000:00/0000:02:00.0/graphics/fb1");
	fx_link(fx, "/sys/class/graphics/fb1", "../../devices/pci0000:00/0000:02:00.0/graphics/fb1");
	fx_link(fx, "/sys/devices/pci0000:00/0000:02:00.0/graphics/fb1/device", "../../../0000:02:00.0");
	fx_mkdir(fx, "/sys/devices/virtual/graphics/fbcon");
	fx_link(fx, "/sys/class/graphics/fbcon", "../../devices/virtual/graphics/fbcon");
	fx_mkdir(fx, "/sys/class/graphics/fb2");
	ck_assert_int_eq(gh_console_read(fx->ctx, &con), 0);
	ck_assert_uint_eq(con.n_fb, 3);
	ck_assert_str_eq(con.fb[1].id, "fb1");
	ck_assert_str_eq(con.fb[1].device, "0000:02:00.0");
	ck_assert_str_eq(con.fb[1].name, "nvidia-drmdrmfb");
	ck_assert_str_eq(con.fb[2].id, "fb2");
	ck_assert_str_eq(con.fb[2].name, "");
	ck_assert_str_eq(con.fb[2].device, "");
	ck_assert_ptr_eq(gh_console_fb_on(&con, "0000:02:00.0"), &con.fb[1]);
	ck_assert_ptr_null(gh_console_fb_on(&con, ""));
	gh_console_free(&con);
	fx_free(fx);
}
END_TEST

START_TEST(nothing_at_all)
{
	struct fx *fx = fx_new();
	const struct gh_vtcon *vts[1];
	struct gh_console con;

	ck_assert_int_eq(gh_console_read(fx->ctx, &con), 0);
	ck_assert_uint_eq(con.n_vt, 0);
	ck_assert_uint_eq(con.n_fb, 0);
	ck_assert_uint_eq(con.n_fw, 0);
	ck_assert_uint_eq(gh_console_bound_fbcons(&con, vts, 1), 0);
	ck_assert_ptr_null(gh_console_fb_on(&con, "0000:01:00.0"));
	gh_console_free(&con);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, console_on_nvidia_drm_fbdev);
	tcase_add_test(tc, console_on_firmware_efi_fb);
	tcase_add_test(tc, firmware_devices_with_and_without_drivers);
	tcase_add_test(tc, vtcons_in_number_order);
	tcase_add_test(tc, several_framebuffers);
	tcase_add_test(tc, nothing_at_all);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
