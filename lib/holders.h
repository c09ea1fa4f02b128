/* SPDX-License-Identifier: MIT */
#ifndef GH_HOLDERS_H
#define GH_HOLDERS_H

/*
 * Processes that hold device nodes open or mapped: /proc/<pid>/fd/<n> link
 * targets and /proc/<pid>/maps path columns, matched against a list of
 * device paths. Each holder is attributed to its systemd unit or LXC
 * container from /proc/<pid>/cgroup.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "util.h"

struct gh_holder {
	pid_t pid;
	char comm[64];			/* raw; escape before logging */
	char unit[256];			/* "nvidia-persistenced.service", "session-2.scope", "" */
	char cgroup[256];		/* the cgroup v2 path, truncated */
	char container[32];		/* LXC container id "105", "" */
	struct gh_strv paths;		/* what it holds: "/dev/nvidia0 (fd 4)", "/dev/nvidia0 (mmap)" */
};

struct gh_holder_set {
	struct gh_holder *v;
	unsigned n;
};

/*
 * Scans every /proc/<pid>; patterns are exact paths ("/dev/nvidia0"), or
 * prefixes ending in '*' ("/dev/nvidia-caps/" followed by a star). Processes that vanish while
 * scanned are skipped. The calling process (getpid() on a real root) is
 * never a holder.
 */
int gh_holders_scan(struct gh_ctx *ctx, const struct gh_strv *patterns, struct gh_holder_set *out);
void gh_holders_free(struct gh_holder_set *set);
/*
 * "pid 900 (nvidia-persiste, nvidia-persistenced.service): /dev/nvidia0 (fd 4)".
 * A path list that does not fit ends in "..."; -ENAMETOOLONG only when the
 * part before the paths does not fit.
 */
int gh_holders_describe(const struct gh_holder *h, char *buf, size_t size);
/*
 * unit / container from one cgroup v2 path ("/system.slice/x.service", "/lxc/105/ns/...").
 * The unit is the innermost .service/.scope. A container process gets the
 * container only (unit ""): its units are not the host's.
 */
void gh_holders_parse_cgroup(const char *path, char *unit, size_t unit_size, char *ct, size_t ct_size);

#endif
