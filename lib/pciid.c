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
 * qemu-server's PCIRE, (?:[a-f0-9]{4,}:)?[a-f0-9]{2}:[a-f0-9]{2}(?:\.[a-f0-9])?,
 * with what cannot exist on a PCI bus refused: a slot above 1f, a function
 * above 7. The domain may be written with up to 8 digits, but its value must
 * fit 16 bits: larger ones are the synthetic domains of Intel VMD, whose
 * sysfs names do not fit GH_PCI_ADDR_LEN, and truncating one would name
 * another device.
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
		if (dom < 4 || dom > 8)
			return -EINVAL;
		id.domain = hexval(s, dom);
		if (id.domain > 0xffff)
			return -EINVAL;
		p = s + dom + 1;
	}
	if (!lhex(p[0]) || !lhex(p[1]) || p[2] != ':' || !lhex(p[3]) || !lhex(p[4]))
		return -EINVAL;
	id.bus = hexval(p, 2);
	id.slot = hexval(p + 3, 2);
	if (id.slot > 0x1f)
		return -EINVAL;
	if (p[5] == '.') {
		if (p[6] < '0' || p[6] > '7' || p[7] != '\0')
			return -EINVAL;
		id.func = p[6] - '0';
	} else if (p[5] != '\0') {
		return -EINVAL;
	}
	*out = id;
	return 0;
}

void gh_pciid_format(const struct gh_pciid *id, char *buf)
{
	int r;

	/* The masks keep any struct within GH_PCI_ADDR_LEN; parsed ones already are. */
	if (id->func < 0)
		r = gh_util_format(buf, GH_PCI_ADDR_LEN, "%04x:%02x:%02x", id->domain & 0xffff, id->bus & 0xff,
				   id->slot & 0x1f);
	else
		r = gh_util_format(buf, GH_PCI_ADDR_LEN, "%04x:%02x:%02x.%d", id->domain & 0xffff,
				   id->bus & 0xff, id->slot & 0x1f, id->func & 7);
	if (r < 0)
		buf[0] = '\0';
}

bool gh_pciid_is_addr(const char *s)
{
	struct gh_pciid id;
	char back[GH_PCI_ADDR_LEN];

	if (!s || strlen(s) != GH_PCI_ADDR_LEN - 1 || gh_pciid_parse(s, &id) < 0 || id.func < 0)
		return false;
	gh_pciid_format(&id, back);
	return !strcmp(back, s);
}
