/* SPDX-License-Identifier: MIT */
#ifndef GH_SIM_H
#define GH_SIM_H

/*
 * The ops for a fixture root: a small model of what the kernel, systemd and
 * the scheduler do, acted out on the tree under gh_ctx_root(), so that --root DIR
 * never reaches the running system. Writes to driver_override, bind, unbind,
 * drivers_probe, remove_id, vtconsole bind and platform unbind move the
 * links as sysfs would; loading a module registers its driver and probes the
 * unbound devices that match; removing one refuses while it has holders;
 * stopping a service empties its cgroup and ends its processes; a signal
 * ends a process; a program is not run, its argv is appended to
 * /run/gpu-hook/executed in the tree; affinity and scheduling policy are
 * written into the thread's files in the tree's /proc (Cpus_allowed_list in
 * /proc/<pid>/task/<tid>/status, policy and prio in .../sched) and read back
 * from there: a thread id in a fixture may name a real thread, which is
 * never pinned. A test that pins real threads says so with
 * gh_modules_real_ops' scheduler ops. Under the real root every op refuses
 * (-EPERM): nothing of the simulator ever writes this machine's tree.
 */

#include <stdbool.h>

#include "ctx.h"

extern const struct gh_ops gh_sim_ops;

/* Whether ctx is on a fixture tree, where the simulator acts (test ops wrapping it ask the same). */
bool gh_sim_on_fixture(const struct gh_ctx *ctx);
/* The driver a module registers, for the modules gpu-hook deals with. */
const char *gh_sim_module_driver(const char *module);

#endif
