/* SPDX-License-Identifier: MIT */
#ifndef GH_HOST_H
#define GH_HOST_H

/*
 * The host as one VM's handoff sees it: the VM's config and policy, every
 * PCI function to hand over (hostpci entries resolved through sysfs and
 * mappings), their IOMMU groups, the driver stack behind them, the console,
 * the processes and services holding the card, and the reasons a handoff
 * must be refused. Built read-only; the plan is made from it.
 */

#include <stdbool.h>

#include "console.h"
#include "ctx.h"
#include "holders.h"
#include "journals.h"
#include "modules.h"
#include "pci.h"
#include "policy.h"
#include "refusal.h"
#include "util.h"
#include "vmconf.h"
#include "vms.h"

struct gh_func {
	struct gh_pci_dev dev;
	char host_driver[64];	/* where post-stop returns it; "" when unknown */
	bool host_driver_present;	/* /sys/bus/pci/drivers/<host_driver> exists */
	int hostpci;		/* N of hostpciN, -1 when from the policy or a sibling */
	bool added;		/* a sibling function of a listed display function */
};

/* A holder to end, pinned when found (gh_holders_pin). */
struct gh_kill {
	pid_t pid;
	unsigned long long start;	/* /proc/<pid>/stat field 22 when found */
	int pidfd;			/* -1 on a fixture root */
	char comm[64];			/* escaped; fits a step's arg */
};

struct gh_host {
	unsigned vmid;		/* 0 for manual to-vfio/to-host */
	bool has_vm;
	struct gh_vmconf vm;
	struct gh_policy pol;
	char hostname[64];

	struct gh_func *f;
	unsigned n_f;

	char gpu_driver[64];	/* host driver of the display functions ("nvidia") */
	char gpu_module[64];	/* its module, "" when built in or not loaded */
	struct gh_modset stack;	/* gpu_module and its holders, removal order */
	struct gh_strv others;	/* other functions bound to gpu_driver: a two-GPU host */
	bool single_gpu;	/* no other function on gpu_driver: unload the stack */
	struct gh_modeset_hold modeset;	/* read when a card leaves nvidia on a host with others */
	struct gh_modset reload;	/* modeset_hold = reload: nvidia_modeset and its holders, removal order */

	struct gh_console con;
	bool console_on_card;
	struct gh_strv vtcons;	/* bound fbcon vtconsoles to detach ("vtcon1") */
	struct gh_strv fwfbs;	/* firmware framebuffers on the card ("efi-framebuffer.0") */

	struct gh_holder_nodes nodes;	/* device nodes of every function handed over */
	struct gh_holder_set holders;
	struct gh_strv services;	/* resolved units to stop: active now */
	struct gh_strv services_known;	/* resolved policy units that exist on the host */
	struct gh_kill *kill;		/* holders to kill (holders = kill) */
	unsigned n_kill;

	struct gh_strv notes;		/* entries left alone, sibling functions added, ... */
	struct gh_refusals refusals;	/* decided on by kind only */
	struct gh_journals journals;	/* /run/gpu-hook as this load found it: the phase goes by it */
	struct gh_vms vms;		/* the other VMs as this load found them (not read from a journal) */
};

/* Each load: on failure h owns nothing (lib/README.md); after success, gh_host_free. */
/*
 * Reads everything for VM vmid. Bad input (config, policy, mapping, sysfs
 * contents) is logged where found and returns -EINVAL; a missing VM is
 * -ENOENT. Reasons to refuse are not errors: they land in h->refusals.
 * Every loader first reads the journals once (h->journals) and marks their
 * functions suspect (gh_pci_suspect), before any function is read.
 */
int gh_host_load(struct gh_ctx *ctx, unsigned vmid, struct gh_host *h);
/* The same for an explicit list of functions (to-vfio / to-host / status). */
int gh_host_load_addrs(struct gh_ctx *ctx, const struct gh_strv *addrs, struct gh_host *h);
/*
 * The way back as a journal recorded it: the policy, and the journal's
 * functions as sysfs shows them now with the host driver it recorded. The VM
 * config is not read: changed while the VM ran, it must not keep the card
 * from the host. Holders, modules and console are not read either.
 */
struct gh_journal;
int gh_host_load_journal(struct gh_ctx *ctx, const struct gh_journal *j, struct gh_host *h);
void gh_host_free(struct gh_host *h);
const struct gh_func *gh_host_func(const struct gh_host *h, const char *addr);
/*
 * All functions on the host that are NVIDIA's or sit on vfio-pci or carry an
 * override, or are wedged, as read once: a wedged function's read waits out
 * GH_PCI_LOCK_WAIT_MS, and a second read would wait again. On failure
 * nothing is left to free; else gh_host_interesting_free.
 */
int gh_host_interesting(struct gh_ctx *ctx, struct gh_pci_dev **out, unsigned *n);
void gh_host_interesting_free(struct gh_pci_dev **devs, unsigned *n);

#endif
