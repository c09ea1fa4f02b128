/* SPDX-License-Identifier: MIT */
#ifndef GH_SERVICES_H
#define GH_SERVICES_H

/*
 * systemd units, read without systemctl so a fixture root can hold them: a
 * unit is active when its cgroup (/sys/fs/cgroup/system.slice/<unit>)
 * has processes in cgroup.procs. "display-manager.service" is resolved
 * through its alias link in /etc/systemd/system.
 */

#include <stdbool.h>

#include "ctx.h"

/* Valid unit name: [A-Za-z0-9:_.\\@-]+ with a known suffix, <= 255. */
bool gh_services_valid_name(const char *unit);
/* Resolves aliases (display-manager.service -> gdm3.service); copies otherwise. */
int gh_services_resolve(struct gh_ctx *ctx, const char *unit, char *buf, size_t size);
/*
 * 1 active, 0 not, -errno. Also active: a unit whose processes sit in
 * sub-cgroups (cgroup.events "populated 1"), and an instance under
 * system.slice/system-<prefix>.slice/.
 */
int gh_services_is_active(struct gh_ctx *ctx, const char *unit);

#endif
