/* SPDX-License-Identifier: MIT */
#ifndef GH_VMS_H
#define GH_VMS_H

/*
 * Other running VMs: /var/run/qemu-server/<vmid>.pid whose process is alive
 * and whose /proc/<pid>/cmdline carries "-pidfile
 * /var/run/qemu-server/<vmid>.pid" (as PVE checks), and the PCI addresses
 * their QEMU uses ("host=0000:01:00.0" in -device vfio-pci arguments);
 * plus PVE's reservations in /run/qemu-server/pci-id-reservations.
 */

#include <sys/types.h>

#include "ctx.h"

/*
 * 1 with *vmid set when a running VM other than self uses addr, 2 when another
 * VM's start has reserved it and is still under way, 0 if none, -errno.
 */
int gh_vms_owner(struct gh_ctx *ctx, unsigned self, const char *addr, unsigned *vmid);
/* The running QEMU pid of a VM, -ENOENT (not running) or -errno. */
int gh_vms_pid(struct gh_ctx *ctx, unsigned vmid, pid_t *pid);

#endif
