/* SPDX-License-Identifier: MIT */
#ifndef GH_SERVICES_H
#define GH_SERVICES_H

/*
 * systemd units: whether one is active is systemd's answer (systemctl
 * is-active through ctx->ops, so the simulator answers for a fixture root);
 * where no manager answers, a unit is active when its cgroup
 * (/sys/fs/cgroup/system.slice/<unit>) has processes in cgroup.procs.
 * "display-manager.service" is resolved through its alias link in
 * /etc/systemd/system.
 */

#include <stdbool.h>

#include "ctx.h"

/* Valid unit name: [A-Za-z0-9:_.\\@-]+ with a known suffix, <= 255. */
bool gh_services_valid_name(const char *unit);
/* A unit gpu-hook may stop (the policy's services=): not a slice, whose stop would take every unit in it. */
bool gh_services_stoppable_name(const char *unit);
/* Resolves aliases (display-manager.service -> gdm3.service); copies otherwise. */
int gh_services_resolve(struct gh_ctx *ctx, const char *unit, char *buf, size_t size);
/*
 * 1 active (an "active (exited)" oneshot too), 0 not, -errno: systemctl
 * is-active through ctx->ops->service, timeboxed; without ops, systemctl
 * or a running systemd, gh_services_cgroup_active. A unit with no file
 * (gh_services_unit_file) and an empty cgroup is inactive without asking.
 */
int gh_services_is_active(struct gh_ctx *ctx, const char *unit);
/* The same, and whether the unit is known on the host: active or with a file (gh_services_unit_file), searched once. */
int gh_services_state(struct gh_ctx *ctx, const char *unit, bool *known);
/* Whether the unit, or its template for an instance, has a file in one of the system manager's unit directories. */
bool gh_services_unit_file(struct gh_ctx *ctx, const char *unit);
/*
 * The cgroup's view: 1 when processes are in the unit's cgroup.procs, or in
 * sub-cgroups (cgroup.events "populated 1"), also for an instance under
 * system.slice/system-<prefix>.slice/; 0 not, -errno.
 */
int gh_services_cgroup_active(struct gh_ctx *ctx, const char *unit);

#endif
