/* SPDX-License-Identifier: MIT */
#ifndef GH_SIM_H
#define GH_SIM_H

/*
 * The ops for a fixture root: a small model of what the kernel, systemd and
 * the scheduler do, acted out on the tree under ctx->root, so that --root DIR
 * never reaches the running system. Writes to driver_override, bind, unbind,
 * drivers_probe, remove_id, vtconsole bind and platform unbind move the
 * links as sysfs would; loading a module registers its driver and probes the
 * unbound devices that match; removing one refuses while it has holders;
 * stopping a service empties its cgroup and ends its processes; a signal
 * ends a process; a program is not run, its argv is appended to
 * /run/gpu-hook/executed in the tree. Affinity is the real scheduler's (a
 * fixture's /proc may link to the real one).
 */

#include "ctx.h"

extern const struct gh_ops gh_sim_ops;

/* The driver a module registers, for the modules gpu-hook deals with. */
const char *gh_sim_module_driver(const char *module);

#endif
