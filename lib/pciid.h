/* SPDX-License-Identifier: MIT */
#ifndef GH_PCIID_H
#define GH_PCIID_H

/*
 * PCI ids as Proxmox writes them in hostpciN and pci.cfg:
 * "[dddd:]bb:ss[.f]", lowercase hex only, two-digit bus and slot
 * (qemu-server PVE/QemuServer/PCI.pm). Domain 0000 when missing; no function
 * means every function of the slot.
 */

#include <stdbool.h>

#define GH_PCI_ADDR_LEN 13	/* "0000:01:00.0" + NUL */

struct gh_pciid {
	unsigned domain, bus, slot;
	int func;		/* -1: the whole slot */
};

/* 0 or -EINVAL. Strict: uppercase, one-digit bus, junk after it are errors. */
int gh_pciid_parse(const char *s, struct gh_pciid *out);
/* "0000:01:00.0", or "0000:01:00" for a whole slot. buf >= GH_PCI_ADDR_LEN. */
void gh_pciid_format(const struct gh_pciid *id, char *buf);
/* A full sysfs address "dddd:bb:ss.f" as found under /sys/bus/pci/devices. */
bool gh_pciid_is_addr(const char *s);

#endif
