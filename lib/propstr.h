/* SPDX-License-Identifier: MIT */
#ifndef GH_PROPSTR_H
#define GH_PROPSTR_H

/*
 * Proxmox property strings ("01:00.0,pcie=1,x-vga=on": qemu-server's
 * hostpciN, pve-guest-common's pci.cfg map lines) and the values inside
 * them, as PVE::JSONSchema parses them.
 */

#include <stdbool.h>
#include <stddef.h>

#include "pciid.h"

/*
 * Splits on ',' into key and value; a part without '=' goes to default_key.
 * Calls fn for each; a key given twice is an error. 0, or the first
 * negative fn result, or -EINVAL.
 */
typedef int (*gh_propstr_fn)(void *data, const char *key, const char *value);
int gh_propstr_parse(const char *s, const char *default_key, gh_propstr_fn fn, void *data);
/*
 * gh_propstr_parse, and when the string itself is malformed (-EINVAL before
 * any fn call: an empty item, "k=" without a value, a key given twice) the
 * reason in why, values escaped, for the caller's "file:line:" message.
 */
int gh_propstr_parse_why(const char *s, const char *default_key, gh_propstr_fn fn, void *data, char *why,
			 size_t why_size);
/* PVE booleans: 1|on|yes|true, 0|off|no|false, any case. 0/1, or -EINVAL. */
int gh_propstr_bool(const char *v);
/* pve-configid (a mapping's id): a letter, then letters, digits, '_' and '-'; shorter than size. */
bool gh_propstr_configid(const char *s, size_t size);
/*
 * PCI ids joined by ';' (qemu-server's PCIRE(;PCIRE)*) appended to ids,
 * *n of max in use; with need_domain each is dddd:bb:ss[.f] (pci.cfg's
 * path=). Every bad item is told to fail, escaped, without the key ("empty
 * PCI id in '...'", noun "PCI id"); the list stops at max or out of memory.
 * true when all were taken.
 */
typedef void (*gh_propstr_fail_fn)(void *data, const char *msg);
bool gh_propstr_pci_ids(const char *value, bool need_domain, const char *noun, struct gh_pciid *ids, unsigned max,
			unsigned *n, gh_propstr_fail_fn fail, void *data);

#endif
