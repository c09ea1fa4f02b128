/* SPDX-License-Identifier: MIT */
#include "pciid.h"

#include <errno.h>
#include <string.h>

#include "util.h"

static bool lhex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static unsigned hexval(const char *s, size_t n)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 16 + (unsigned)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
	return v;
}

/*
 * qemu-server's PCIRE, (?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?.
 * Whatever it accepts is read: a slot above 1f or a function above 7 cannot
 * exist on a PCI bus, so such an id later finds no device, as in Proxmox.
 */
int gh_pciid_parse(const char *s, struct gh_pciid *out)
{
	struct gh_pciid id = { 0, 0, 0, -1 };
	const char *p = s;
	size_t dom = 0;

	if (!s || !out)
		return -EINVAL;
	while (lhex(s[dom]))
		dom++;
	/* A domain only when two more colons follow: "0000:01:00", not "01:00". */
	if (s[dom] == ':' && strchr(s + dom + 1, ':')) {
		if (dom < 4)
			return -EINVAL;
		/* Five digits or more: a leading zero, or above ffff (Intel VMD's synthetic domains). */
		id.domain = dom > 4 ? GH_PCIID_NODEV : hexval(s, dom);
		p = s + dom + 1;
	}
	if (!lhex(p[0]) || !lhex(p[1]) || p[2] != ':' || !lhex(p[3]) || !lhex(p[4]))
		return -EINVAL;
	id.bus = hexval(p, 2);
	id.slot = hexval(p + 3, 2);
	if (p[5] == '.') {
		if (!lhex(p[6]) || p[7] != '\0')
			return -EINVAL;
		id.func = (int)hexval(p + 6, 1);
	} else if (p[5] != '\0') {
		return -EINVAL;
	}
	*out = id;
	return 0;
}

void gh_pciid_format(const struct gh_pciid *id, char *buf)
{
	int r;

	if (id->domain >= GH_PCIID_NODEV) {
		buf[0] = '\0';
		return;
	}
	/* The masks keep any struct within GH_PCI_ADDR_LEN; parsed ones already are. */
	if (id->func < 0)
		r = gh_util_format(buf, GH_PCI_ADDR_LEN, "%04x:%02x:%02x", id->domain & 0xffff, id->bus & 0xff,
				   id->slot & 0xff);
	else
		r = gh_util_format(buf, GH_PCI_ADDR_LEN, "%04x:%02x:%02x.%x", id->domain & 0xffff,
				   id->bus & 0xff, id->slot & 0xff, (unsigned)id->func & 0xf);
	if (r < 0)
		buf[0] = '\0';
}

bool gh_pciid_is_addr(const char *s)
{
	struct gh_pciid id;
	char back[GH_PCI_ADDR_LEN];

	/*
	 * A function 0-7, as a PCI bus has; the slot as PVE's regex reads sysfs
	 * (two hex digits: real buses stop at 1f, qemu-server's test mocks do not).
	 */
	if (!s || strlen(s) != GH_PCI_ADDR_LEN - 1 || gh_pciid_parse(s, &id) < 0 || id.func < 0 || id.func > 7)
		return false;
	gh_pciid_format(&id, back);
	return !strcmp(back, s);
}
