/* SPDX-License-Identifier: MIT */
#ifndef GH_TEST_ISOLATE_FX_H
#define GH_TEST_ISOLATE_FX_H

/* The isolation tests' host and what they read back (check_isolate*.c). */

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#include "fixture.h"
#include "isolate.h"

/* The host's ops (iso_host): the simulator's, with iso_write. */
extern struct gh_ops iso_ops;
/*
 * The simulator's write, with the kernel's refusals: a managed IRQ's
 * affinity (-EIO), an EPP other than performance under the performance
 * governor (-EBUSY).
 */
int iso_write(struct gh_ctx *ctx, const char *path, const char *value);
/* printf into a static buffer, good until the next call. */
const char *iso_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * An 8-CPU host: system.slice unrestricted, user.slice on 0-6 (an admin's
 * own setting), writeback on all; IRQs 0, 9 (on 0-3), 24, 40 (managed:
 * EIO) and one passthrough interrupt per test VM (30 for VM 100's
 * 0000:01:00.0, 31 for 101, 32 for 102); CPUs 0-6 with cpufreq, 0-5 with
 * EPP; VM 200 running unisolated in qemu.slice with AllowedCPUs 0-5.
 */
struct fx *iso_host(void);
/* The AllowedCPUs= last set for unit (the simulator's record of systemctl runs); NULL when never. */
const char *iso_last_allowed(struct fx *fx, const char *unit);
/* A file of the fixture, trimmed (four buffers in turn); the test fails when it cannot be read. */
const char *iso_rd(struct fx *fx, const char *path);
const char *iso_writeback(struct fx *fx);
/* Isolation of VM vmid on cpus, with every part on; VMs 100-102 pass a function through. */
struct gh_isolate_req iso_req(unsigned vmid, const char *cpus);
/* gh_isolate_start with iso_req (why may be NULL). */
int iso_start(struct fx *fx, unsigned vmid, const char *cpus, char *why);
/* Everything back as the host had it before the first VM. */
void iso_expect_restored(struct fx *fx);
/* IRQs, governors and EPP for the running VMs (vms[i] the CPUs of VM 100+i). */
void iso_expect_irqs_cpufreq(struct fx *fx, const char *vms[], bool running[], size_t n, const char *hk,
			     const cpu_set_t *iso);
/* Everything, expected from first principles: housekeeping = 0-7 minus the union of running VMs. */
void iso_expect_hk(struct fx *fx, const char *vms[], bool running[], size_t n);

#endif
