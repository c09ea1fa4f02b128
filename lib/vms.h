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

#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"

/*
 * The other VMs as one reading finds them, asked about each function of a
 * handoff (and of its IOMMU groups): every pid file and QEMU command line,
 * and the reservations, are read once, not once per function.
 */
struct gh_vm_running {
	unsigned vmid;
	pid_t pid;
	int error;		/* reading it failed: the questions stop here */
	char *cl;		/* its /proc/<pid>/cmdline */
	size_t len;
};

struct gh_vm_reservation {
	char id[32];
	unsigned vmid;
	bool by_time;		/* "time:<epoch>", else "pid:<pid>" */
	unsigned long num;
};

struct gh_vms {
	unsigned self;
	int error;		/* /var/run/qemu-server could not be listed (logged) */
	struct gh_vm_running *run;
	unsigned n_run;
	int res_error;		/* the reservations could not be read */
	struct gh_vm_reservation *res;
	unsigned n_res;
};

/* Reads the VMs but self; a failure is kept for the questions it concerns. Always gh_vms_free. */
int gh_vms_load(struct gh_ctx *ctx, unsigned self, struct gh_vms *vms);
/*
 * 1 with *vmid set when a running VM other than self uses addr, 2 when another
 * VM's start has reserved it and is still under way, 0 if none, -errno.
 */
int gh_vms_owner_in(const struct gh_vms *vms, const char *addr, unsigned *vmid);
void gh_vms_free(struct gh_vms *vms);
/* The running QEMU pid of a VM, -ENOENT (not running) or -errno. */
int gh_vms_pid(struct gh_ctx *ctx, unsigned vmid, pid_t *pid);

#endif
