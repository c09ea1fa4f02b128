/* SPDX-License-Identifier: MIT */
#ifndef GH_ISOLATE_H
#define GH_ISOLATE_H

/*
 * Keeping the host off a running VM's CPUs at runtime (issue 16), without
 * the reboot isolcpus=/nohz_full= need: system.slice, user.slice and
 * init.scope get AllowedCPUs= (systemctl set-property --runtime), and the
 * writeback workqueue its cpumask, both on the housekeeping CPUs (online
 * minus every isolated VM's CPUs). With irqs, every IRQ and
 * /proc/irq/default_smp_affinity go there too, except the VMs' own
 * passthrough interrupts (vfio-msi/vfio-msix/vfio-intx of their functions),
 * steered onto their VM's CPUs; kernel-managed IRQs refuse (EIO) and are
 * skipped. With governor, the VM's CPUs run the performance governor and
 * EPP. With scopes, the other VMs' qemu.slice/<vmid>.scope that are not
 * isolated are narrowed to the housekeeping CPUs as well (a VM starting
 * meanwhile is narrowed at its post-start: gh_isolate_refresh).
 *
 * /run/gpu-hook/isolation.json is the journal and the shared state: the
 * values found before the first isolated VM started ("" = unrestricted)
 * and each isolated VM's CPUs. It is written atomically before any change,
 * and every change is recomputed from it, so stop (or recover) after a
 * crash at any step converges: the VM is dropped, the rest re-applied, and
 * when none is left the saved values return exactly and the file goes.
 * Callers hold the global lock.
 */

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

#include "ctx.h"
#include "util.h"

#define GH_ISOLATE_STATE "/run/gpu-hook/isolation.json"
#define GH_ISOLATE_SYSTEMCTL "/usr/bin/systemctl"
#define GH_ISOLATE_WRITEBACK "/sys/bus/workqueue/devices/writeback/cpumask"
/* AllowedCPUs= came with systemd 244 (NEWS, CPUSetting in the unified hierarchy). */
#define GH_ISOLATE_SYSTEMD_MIN 244u

struct gh_isolate_req {
	unsigned vmid;
	cpu_set_t cpus;
	unsigned housekeeping_min;	/* default 1 */
	bool slices;
	bool writeback;
	bool irqs;			/* IRQs to housekeeping, the VM's own to its CPUs */
	bool governor;			/* performance governor and EPP on the VM's CPUs */
	bool scopes;			/* the other VMs' scopes to housekeeping */
	const struct gh_strv *devs;	/* the VM's PCI functions ("0000:01:00.0"; a prefix matches) */
};

/* What status shows beyond the CPUs. */
struct gh_isolate_counts {
	unsigned irqs_moved, irqs_skipped, governors, scopes;
	char skipped[256];		/* the kernel-managed IRQs, space-separated */
};

/* The units narrowed, in order. */
extern const char *const gh_isolate_units[];

/*
 * 0 with nothing refused; -EPERM with the reason in why (no cgroup v2,
 * systemd older than 244, overlap with another isolated VM, too few housekeeping CPUs) and nothing
 * changed; -errno when a change failed (already undone for this VM).
 */
int gh_isolate_start(struct gh_ctx *ctx, const struct gh_isolate_req *req, char *why, size_t why_size);
/*
 * What start would do, changing nothing: one line per step and its undo
 * (the dry run). Same refusals as start.
 */
int gh_isolate_plan(struct gh_ctx *ctx, const struct gh_isolate_req *req, struct gh_strv *steps,
		    struct gh_strv *undo, char *why, size_t why_size);
/* Drops vmid (absent: re-applies what the state says). Also the recover path. */
int gh_isolate_stop(struct gh_ctx *ctx, unsigned vmid);
/*
 * A VM that is not isolated started while isolation is active: its scope is
 * saved and narrowed like the others'. 0 when no isolation is active.
 * With steps non-NULL, only what it would do (the dry run).
 */
int gh_isolate_refresh(struct gh_ctx *ctx, unsigned vmid, struct gh_strv *steps, struct gh_strv *undo);
/*
 * systemd's version from its shared library's file name
 * (libsystemd-shared-252.so). 0, or -ENOENT when none is found.
 */
int gh_isolate_systemd_version(struct gh_ctx *ctx, unsigned *version);
/*
 * The VM's PCI functions, whose interrupts are its own: those its handoff
 * journal holds, and its hostpciN host= ones ("0000:01:00." for a slot).
 * Resource mappings count through the journal only.
 */
void gh_isolate_vm_devs(struct gh_ctx *ctx, unsigned vmid, struct gh_strv *devs);
/* The dry run's document: {vmid, phase, isolation: [{description, undo}], refused}. */
struct json_object;
struct json_object *gh_isolate_steps_to_json(unsigned vmid, const struct gh_strv *steps, const struct gh_strv *undo,
					     const char *why);
int gh_isolate_get_counts(struct gh_ctx *ctx, struct gh_isolate_counts *c);
/* The kernel's hex cpumask ("000000ff" groups of 32 CPUs, comma-separated). 0 or -ENOSPC. */
int gh_isolate_format_mask(const cpu_set_t *set, unsigned ncpus, char *buf, size_t size);
/* What is isolated now: "vmid:cpus" pairs in out (union of VMs), housekeeping set. 1 active, 0 none, -errno. */
int gh_isolate_current(struct gh_ctx *ctx, cpu_set_t *isolated, cpu_set_t *housekeeping, char *vms, size_t size);

#endif
