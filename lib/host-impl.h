/* SPDX-License-Identifier: MIT */
#ifndef GH_HOST_IMPL_H
#define GH_HOST_IMPL_H

/*
 * What the files of the host module share and nobody else uses: host.c
 * (the loaders), host-resolve.c (hostpci entries, mappings, the pool
 * choice), host-gpu.c (the driver stack, modeset, console, services) and
 * host-holders.c (the nodes to look for and what to do with each holder).
 */

#include "host.h"

/* A note for h->notes: 0, -ENAMETOOLONG past 512 bytes, -ENOMEM. */
int gh_host_note(struct gh_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The function joins h (once), read from sysfs; a missing one is a refusal. */
int gh_host_add_func(struct gh_ctx *ctx, struct gh_host *h, const char *addr, int hostpci, bool added);
/* The GPU function: display class, or whatever the nvidia driver has bound. */
bool gh_host_is_gpu(const struct gh_pci_dev *d);
/* The journal key of this host's own handoff: "<vmid>", or "manual". */
void gh_host_self_key(const struct gh_host *h, char *buf, size_t size);

/* One PCI id (a slot expands to its functions, as PVE globs sysfs); what names it in refusals. */
int gh_host_resolve_id(struct gh_ctx *ctx, struct gh_host *h, const struct gh_pciid *id, int hostpci,
		       const char *what);
/* The policy's devices, else hostpci0..15 as qemu-server resolves them. */
int gh_host_resolve_devices(struct gh_ctx *ctx, struct gh_host *h);

/* gpu_driver, its module stack, the other cards on it, and modeset_hold. */
int gh_host_gpu_stack(struct gh_ctx *ctx, struct gh_host *h);
int gh_host_gpu_console(struct gh_ctx *ctx, struct gh_host *h);
int gh_host_gpu_services(struct gh_ctx *ctx, struct gh_host *h);

/* h->nodes: every node through which a process can hold what is handed over. */
int gh_host_holders_nodes(struct gh_ctx *ctx, struct gh_host *h);
/* Each of h->holders stopped with its unit, killed, or a refusal. */
int gh_host_holders_classify(struct gh_ctx *ctx, struct gh_host *h);

#endif
