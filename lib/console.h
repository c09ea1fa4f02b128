/* SPDX-License-Identifier: MIT */
#ifndef GH_CONSOLE_H
#define GH_CONSOLE_H

/*
 * Virtual consoles and framebuffers: /sys/class/vtconsole/vtconN/{name,bind}
 * (fbcon is found by its name "frame buffer device", never by number),
 * /proc/fb and /sys/class/graphics/fbN/device, and the firmware framebuffer
 * platform devices (efi-framebuffer.0, simple-framebuffer.0,
 * vesa-framebuffer.0) with their drivers.
 */

#include <stdbool.h>

#include "ctx.h"

struct gh_vtcon {
	char id[32];		/* "vtcon1" */
	char name[128];		/* "(M) frame buffer device" */
	bool bound;
	bool fbcon;
};

struct gh_fb {
	char id[16];		/* "fb0" */
	char name[64];		/* from /proc/fb: "nvidia-drmdrmfb", "EFI VGA" */
	char device[64];	/* basename of fbN/device: a PCI address or "efi-framebuffer.0" */
};

struct gh_fwfb {
	char id[64];		/* "efi-framebuffer.0" */
	char driver[64];	/* "efi-framebuffer", "simple-framebuffer", "" */
};

struct gh_console {
	struct gh_vtcon *vt;
	unsigned n_vt;
	struct gh_fb *fb;
	unsigned n_fb;
	struct gh_fwfb *fw;
	unsigned n_fw;
};

/* On failure out owns nothing (lib/README.md); after success, gh_console_free. */
int gh_console_read(struct gh_ctx *ctx, struct gh_console *out);
void gh_console_free(struct gh_console *con);
/* The framebuffer that lives on a PCI function, or NULL. */
const struct gh_fb *gh_console_fb_on(const struct gh_console *con, const char *addr);
/* fbcon vtconsoles that are bound. */
unsigned gh_console_bound_fbcons(const struct gh_console *con, const struct gh_vtcon **out, unsigned max);

#endif
