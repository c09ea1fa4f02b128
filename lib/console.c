/* SPDX-License-Identifier: MIT */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "util.h"

/* The kernel's FB_MAX: /proc/fb indexes and fbN numbers stay below it. */
#define FB_MAX 32

static const char *const fw_devices[] = { "efi-framebuffer.0", "simple-framebuffer.0", "vesa-framebuffer.0" };

/* "vtcon12" -> true; "fbcon", "fb" alone, "vtconx" -> false. */
static bool numbered(const char *name, const char *prefix, unsigned long max, unsigned long *n)
{
	size_t len = strlen(prefix);

	return !strncmp(name, prefix, len) && gh_util_parse_ulong(name + len, 10, max, n) == 0;
}

static int read_vtcons(struct gh_ctx *ctx, struct gh_console *con)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/sys/class/vtconsole");

	if (r >= 0) {
		con->vt = calloc(names.n ? names.n : 1, sizeof(*con->vt));
		if (!con->vt)
			r = -ENOMEM;
	}
	/* gh_fs_list sorts with strverscmp: vtcon2 before vtcon10. */
	for (size_t i = 0; i < names.n && r >= 0; i++) {
		struct gh_vtcon *vt = &con->vt[con->n_vt];
		char bind[16];
		unsigned long n;
		int k;

		if (!numbered(names.v[i], "vtcon", 4096, &n) || gh_util_copy(vt->id, sizeof(vt->id), names.v[i]) < 0)
			continue;
		k = gh_fs_read_str(ctx, vt->name, sizeof(vt->name), "/sys/class/vtconsole/%s/name", vt->id);
		if (k >= 0)
			k = gh_fs_read_str(ctx, bind, sizeof(bind), "/sys/class/vtconsole/%s/bind", vt->id);
		if (k < 0) {
			/* Consoles come and go with framebuffers. */
			gh_dbg(ctx, "/sys/class/vtconsole/%s: skipped: %s", vt->id, strerror(-k));
			memset(vt, 0, sizeof(*vt));
			continue;
		}
		gh_util_trim(vt->name);
		vt->bound = !strcmp(gh_util_trim(bind), "1");
		vt->fbcon = strstr(vt->name, "frame buffer device") != NULL;
		con->n_vt++;
	}
	gh_strv_free(&names);
	return r;
}

/* /proc/fb: "<N> <name>" per line; the name may hold blanks ("EFI VGA"). */
static int read_proc_fb(struct gh_ctx *ctx, char names[FB_MAX][64])
{
	char *line = NULL, *sp;
	size_t cap = 0;
	FILE *f;

	f = gh_fs_fopen_input(ctx, 0, GH_FS_PROC_MAX, NULL, "/proc/fb");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &cap, f) >= 0) {
		unsigned long n;

		line[strcspn(line, "\n")] = '\0';
		sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		if (gh_util_parse_ulong(line, 10, FB_MAX - 1, &n) < 0 ||
		    gh_util_copy(names[n], sizeof(names[n]), gh_util_trim(sp + 1)) < 0)
			continue;
	}
	free(line);
	fclose(f);
	return 0;
}

static int read_fbs(struct gh_ctx *ctx, struct gh_console *con)
{
	struct gh_strv names = { 0 };
	char fbnames[FB_MAX][64] = { { 0 } };
	int r = read_proc_fb(ctx, fbnames);

	if (r >= 0)
		r = gh_fs_list(ctx, &names, "/sys/class/graphics");
	if (r >= 0) {
		con->fb = calloc(names.n ? names.n : 1, sizeof(*con->fb));
		if (!con->fb)
			r = -ENOMEM;
	}
	/* /sys/class/graphics also holds "fbcon", which is no framebuffer. */
	for (size_t i = 0; i < names.n && r >= 0; i++) {
		struct gh_fb *fb = &con->fb[con->n_fb];
		unsigned long n;

		if (!numbered(names.v[i], "fb", FB_MAX - 1, &n) || gh_util_copy(fb->id, sizeof(fb->id), names.v[i]) < 0)
			continue;
		if (gh_fs_link_base(ctx, fb->device, sizeof(fb->device), "/sys/class/graphics/%s/device", fb->id) < 0)
			fb->device[0] = '\0';
		memcpy(fb->name, fbnames[n], sizeof(fb->name));
		con->n_fb++;
	}
	gh_strv_free(&names);
	return r;
}

static int read_fw(struct gh_ctx *ctx, struct gh_console *con)
{
	con->fw = calloc(GH_ARRAY_SIZE(fw_devices), sizeof(*con->fw));
	if (!con->fw)
		return -ENOMEM;
	for (size_t i = 0; i < GH_ARRAY_SIZE(fw_devices); i++) {
		struct gh_fwfb *fw = &con->fw[con->n_fw];
		int r = gh_fs_exists(ctx, "/sys/bus/platform/devices/%s", fw_devices[i]);

		if (r < 0)
			return r;
		/* nvidia-drm's fbdev removes the firmware device for good: absence is normal. */
		if (!r || gh_util_copy(fw->id, sizeof(fw->id), fw_devices[i]) < 0)
			continue;
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
		gh_err(ctx, "cannot read the consoles and framebuffers: %s", strerror(-r));
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
		if (con->fb[i].device[0] && !strcmp(con->fb[i].device, addr))
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
