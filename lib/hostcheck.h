/* SPDX-License-Identifier: MIT */
#ifndef GH_HOSTCHECK_H
#define GH_HOSTCHECK_H

/*
 * `gpu-hook check`: read-only findings about the host's configuration and
 * each VM's wiring. The module configuration is the effective one, read
 * through libkmod's config API from the modprobe.d directories under the
 * root; the files are read again for the file:line of each finding.
 */

#include "ctx.h"

enum gh_severity { GH_SEV_INFO, GH_SEV_WARNING, GH_SEV_ERROR };

struct gh_finding {
	enum gh_severity severity;
	char what[512];
	char where[256];
	char fix[256];
};

struct gh_findings {
	struct gh_finding *v;
	unsigned n;
};

/* Host-wide checks, then each VM's (vmids may be empty). 0 or -errno for failures to read. */
int gh_hostcheck_run(struct gh_ctx *ctx, const unsigned *vmids, unsigned n_vmids, struct gh_findings *out);
void gh_hostcheck_free(struct gh_findings *f);
const char *gh_hostcheck_severity_name(enum gh_severity s);

#endif
