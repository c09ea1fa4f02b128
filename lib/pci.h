/* SPDX-License-Identifier: MIT */
#ifndef GH_PCI_H
#define GH_PCI_H

/* PCI functions as sysfs shows them (/sys/bus/pci/devices/<addr>). */

#include <stdbool.h>

#include "ctx.h"
#include "pciid.h"
#include "util.h"

struct gh_pci_dev {
	char addr[GH_PCI_ADDR_LEN];
	unsigned vendor, device, class;	/* class: 0x030000 */
	unsigned sub_vendor, sub_device;
	char driver[64];		/* "" when unbound */
	char override[64];		/* driver_override, "" for "(null)" */
	int iommu_group;		/* -1 when none */
	int boot_vga;			/* 1/0, -1 when the attribute is absent */
	char power_state[16];		/* "D0", "" when absent */
	struct gh_strv drm;		/* "card0", "renderD128" */
	struct gh_strv fbs;		/* "fb0" */
	bool wedged;			/* driver_override did not answer: the device lock is held */
};

/*
 * How long a read under the device lock may take. Such a read answers in
 * microseconds unless a remove() or probe() holds the lock in the kernel.
 */
#define GH_PCI_LOCK_WAIT_MS 1000

/*
 * Reads one function. -ENOENT when absent; -EINVAL (logged, naming the file
 * and value) when an id or class attribute is not a number. A function that
 * may be wedged (no driver, vfio-pci, NVIDIA's, or marked with
 * gh_pci_suspect) has driver_override read
 * in a timeboxed child: when it does not answer, out->wedged is set, the
 * override is left "" (unknown) and 0 is returned.
 */
/* On failure out owns nothing (lib/README.md); after success, gh_pci_dev_free. */
int gh_pci_read(struct gh_ctx *ctx, const char *addr, struct gh_pci_dev *out);
/* The parts of a function gh_pci_read_parts may leave out (each left as a zeroed device has it, boot_vga -1). */
enum {
	GH_PCI_SUBSYS = 1 << 0,		/* sub_vendor, sub_device */
	GH_PCI_BOOT_VGA = 1 << 1,
	GH_PCI_POWER = 1 << 2,		/* power_state */
	GH_PCI_NODES = 1 << 3,		/* the drm/ and graphics/ listings */
	GH_PCI_ALL = (1 << 4) - 1,
};
/*
 * gh_pci_read with only the optional parts asked for: ids, class, driver,
 * driver_override and IOMMU group are always read. A reader that needs less
 * (a function given back from its journal) spares a system call or two per
 * part, each 15 to 35 us under TCG.
 */
int gh_pci_read_parts(struct gh_ctx *ctx, const char *addr, unsigned parts, struct gh_pci_dev *out);
/*
 * Marks addr as one whose device lock may be held whatever its driver (a
 * function a journal holds: a probe() of a timed-out step leaves the driver
 * link pointing at the driver that is stuck).
 */
void gh_pci_suspect(struct gh_ctx *ctx, const char *addr);
/*
 * Whether addr's device lock is held: its driver_override read in a
 * timeboxed child gets no answer within GH_PCI_LOCK_WAIT_MS. 1 wedged, 0 it
 * answers (or the function is gone), -errno when no child could be started.
 */
int gh_pci_lock_stuck(struct gh_ctx *ctx, const char *addr);
void gh_pci_dev_free(struct gh_pci_dev *dev);
/* Every address under /sys/bus/pci/devices, sorted. */
int gh_pci_list(struct gh_ctx *ctx, struct gh_strv *out);
/* The functions present for a whole-slot id (PVE globs the same way). */
int gh_pci_slot_functions(struct gh_ctx *ctx, const struct gh_pciid *slot, struct gh_strv *out);
/* Members of /sys/kernel/iommu_groups/<group>/devices, sorted. */
int gh_pci_group_members(struct gh_ctx *ctx, int group, struct gh_strv *out);
/* The module behind a driver (/sys/bus/pci/drivers/<drv>/module); -ENOENT for built-in. */
int gh_pci_driver_module(struct gh_ctx *ctx, const char *driver, char *buf, size_t size);
/* Addresses bound to a driver (/sys/bus/pci/drivers/<drv>/<addr> links). */
int gh_pci_driver_devices(struct gh_ctx *ctx, const char *driver, struct gh_strv *out);
/* PCI-to-PCI and CardBus bridges (class 0x0604xx, 0x0607xx, 0x0609xx), as pci_is_bridge(). */
bool gh_pci_is_bridge(const struct gh_pci_dev *dev);
bool gh_pci_is_display(const struct gh_pci_dev *dev);	/* class 0x03xxxx */
/*
 * The host driver a function normally has when nothing was recorded:
 * NVIDIA display -> "nvidia", HDA 0x0403 -> "snd_hda_intel", xHCI 0x0c0330
 * -> "xhci_hcd", NVIDIA UCSI 0x0c8000 -> "nvidia-gpu". NULL when unknown.
 */
const char *gh_pci_default_driver(const struct gh_pci_dev *dev);
/* The N of /dev/nvidiaN from /proc/driver/nvidia/gpus/<addr>/information, or -errno. */
int gh_pci_nvidia_minor(struct gh_ctx *ctx, const char *addr);

#endif
