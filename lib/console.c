/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

static const char *const fw_devices[] = { "efi-framebuffer.0", "simple-framebuffer.0", "vesa-framebuffer.0" };

static int read_vtcons(struct gh_ctx *ctx, struct gh_console *con)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/sys/class/vtconsole");

	if (r < 0)
		return r;
	con->vt = calloc(names.n + 1, sizeof(*con->vt));
	if (!con->vt) {
		gh_strv_free(&names);
		return -ENOMEM;
	}
	for (size_t i = 0; i < names.n; i++) {
		struct gh_vtcon *vt = &con->vt[con->n_vt];
		char bind[16];

		if (strncmp(names.v[i], "vtcon", 5) || gh_util_copy(vt->id, sizeof(vt->id), names.v[i]) < 0)
			continue;
		if (gh_fs_read_str(ctx, vt->name, sizeof(vt->name), "/sys/class/vtconsole/%s/name", vt->id) < 0)
			continue;
		gh_util_trim(vt->name);
		if (gh_fs_read_str(ctx, bind, sizeof(bind), "/sys/class/vtconsole/%s/bind", vt->id) < 0)
			continue;
		vt->bound = !strcmp(gh_util_trim(bind), "1");
		vt->fbcon = strstr(vt->name, "frame buffer device") != NULL;
		con->n_vt++;
	}
	gh_strv_free(&names);
	return 0;
}

/* /proc/fb: "<N> <name>", the name may hold blanks ("EFI VGA"). */
static void fb_name(struct gh_ctx *ctx, unsigned index, char *buf, size_t size)
{
	char line[128];
	FILE *f = gh_fs_fopen(ctx, "/proc/fb");

	buf[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *end;
		unsigned long n = strtoul(line, &end, 10);

		if (end != line && *end == ' ' && n == index) {
			gh_util_copy(buf, size, gh_util_trim(end + 1));
			break;
		}
	}
	fclose(f);
}

static int read_fbs(struct gh_ctx *ctx, struct gh_console *con)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/sys/class/graphics");

	if (r < 0)
		return r;
	con->fb = calloc(names.n + 1, sizeof(*con->fb));
	if (!con->fb) {
		gh_strv_free(&names);
		return -ENOMEM;
	}
	for (size_t i = 0; i < names.n; i++) {
		struct gh_fb *fb = &con->fb[con->n_fb];
		unsigned long index;

		if (strncmp(names.v[i], "fb", 2) || gh_util_parse_ulong(names.v[i] + 2, 10, 255, &index) < 0)
			continue;
		gh_util_copy(fb->id, sizeof(fb->id), names.v[i]);
		if (gh_fs_link_base(ctx, fb->device, sizeof(fb->device), "/sys/class/graphics/%s/device", fb->id) < 0)
			fb->device[0] = '\0';
		fb_name(ctx, (unsigned)index, fb->name, sizeof(fb->name));
		con->n_fb++;
	}
	gh_strv_free(&names);
	return 0;
}

static int read_fw(struct gh_ctx *ctx, struct gh_console *con)
{
	con->fw = calloc(GH_ARRAY_SIZE(fw_devices), sizeof(*con->fw));
	if (!con->fw)
		return -ENOMEM;
	for (size_t i = 0; i < GH_ARRAY_SIZE(fw_devices); i++) {
		struct gh_fwfb *fw = &con->fw[con->n_fw];

		if (gh_fs_exists(ctx, "/sys/bus/platform/devices/%s", fw_devices[i]) <= 0)
			continue;
		gh_util_copy(fw->id, sizeof(fw->id), fw_devices[i]);
		if (gh_fs_link_base(ctx, fw->driver, sizeof(fw->driver), "/sys/bus/platform/devices/%s/driver",
				    fw_devices[i]) < 0)
			fw->driver[0] = '\0';
		con->n_fw++;
	}
	return 0;
}

int gh_console_read(struct gh_ctx *ctx, struct gh_console *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = read_vtcons(ctx, out);
	if (r >= 0)
		r = read_fbs(ctx, out);
	if (r >= 0)
		r = read_fw(ctx, out);
	if (r < 0) {
		gh_console_free(out);
		gh_err(ctx, "cannot read the console state: %s", strerror(-r));
	}
	return r;
}

void gh_console_free(struct gh_console *con)
{
	free(con->vt);
	free(con->fb);
	free(con->fw);
	memset(con, 0, sizeof(*con));
}

const struct gh_fb *gh_console_fb_on(const struct gh_console *con, const char *addr)
{
	for (unsigned i = 0; i < con->n_fb; i++)
		if (!strcmp(con->fb[i].device, addr))
			return &con->fb[i];
	return NULL;
}

unsigned gh_console_bound_fbcons(const struct gh_console *con, const struct gh_vtcon **out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < con->n_vt && n < max; i++)
		if (con->vt[i].fbcon && con->vt[i].bound)
			out[n++] = &con->vt[i];
	return n;
}
