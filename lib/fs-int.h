/* SPDX-License-Identifier: MIT */
#ifndef GH_FS_INT_H
#define GH_FS_INT_H

/* Inside the seam: what fs.c (reading, paths) and fs-write.c (what changes the tree) share. */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>

#include "fs.h"

/* gh_fs_path with a va_list. */
int gh_fs_vpath(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, va_list ap) GH_FMT(4, 0);

/* Declares char p[PATH_MAX], the root-prefixed path of fmt, ...; returns errret with errno set when it cannot. */
#define WITH_PATH(p, fmt, errret)                                       \
	char p[PATH_MAX];                                               \
	do {                                                            \
		va_list ap_;                                            \
		int r_;                                                 \
		va_start(ap_, fmt);                                     \
		r_ = gh_fs_vpath(ctx, p, sizeof(p), fmt, ap_);          \
		va_end(ap_);                                            \
		if (r_ < 0) {                                           \
			errno = -r_;                                    \
			return errret;                                  \
		}                                                       \
	} while (0)

#endif
