/* SPDX-License-Identifier: MIT */
#ifndef GH_HOSTCHECK_INT_H
#define GH_HOSTCHECK_INT_H

/* Inside `gpu-hook check`: what hostcheck.c and hostcheck-conf.c (modprobe.d, LXC configs) share. */

#include <stdbool.h>

#include "hostcheck.h"

/* One finding appended to f (dropped when out of memory: check goes on). */
void gh_hostcheck_add(struct gh_findings *f, enum gh_severity sev, const char *where, const char *fix, const char *fmt,
		      ...) __attribute__((format(printf, 5, 6)));
/* Module names with '-' and '_' equal, as the kernel takes them: each '-' made '_' in place. */
void gh_hostcheck_normalize(char *s);
/*
 * The module configuration: libkmod's effective values, the modprobe.d file
 * and line of each finding, nvidia_drm modeset file by file, vfio-pci there
 * for this kernel. nouveau_off and modeset_on_cmdline: what the kernel
 * command line already settles. false when libkmod cannot read it (a
 * finding says so).
 */
bool gh_hostcheck_modules(struct gh_ctx *ctx, struct gh_findings *f, bool nouveau_off, bool modeset_on_cmdline);
/* /etc/pve/lxc/<ctid>.conf files that pass DRM or nvidia-uvm nodes by number, which move. */
void gh_hostcheck_lxc(struct gh_ctx *ctx, struct gh_findings *f);

#endif
