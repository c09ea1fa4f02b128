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

/*
 * A domain of GH_PCIID_NODEV: PVE's syntax, but no name under
 * /sys/bus/pci/devices that gpu-hook sees can match it: a domain written with
 * more than four digits and a leading zero (sysfs prints "%04x", and PVE's
 * lspci compares the text), or one above ffff (Intel VMD), which gpu-hook
 * does not handle. Such an id formats as "".
 */
#define GH_PCIID_NODEV 0x10000u

struct gh_pciid {
	unsigned domain, bus, slot;
	int func;		/* -1: the whole slot; 0-15 as PVE's syntax allows, only 0-7 exist */
};

/*
 * 0 or -EINVAL. Exactly qemu-server's $PCIRE,
 * (?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?, nothing before or
 * after it: uppercase, a blank, a one-digit bus are errors. A slot above 1f
 * or a function above 7 is valid syntax that names no device.
 */
int gh_pciid_parse(const char *s, struct gh_pciid *out);
/* "0000:01:00.0", or "0000:01:00" for a whole slot; "" for GH_PCIID_NODEV. buf >= GH_PCI_ADDR_LEN. */
void gh_pciid_format(const struct gh_pciid *id, char *buf);
/* A full sysfs address "dddd:bb:ss.f" as found under /sys/bus/pci/devices (function 0-7). */
bool gh_pciid_is_addr(const char *s);

#endif
