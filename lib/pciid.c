/* SPDX-License-Identifier: MIT */
#include "pciid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

/* "[dddd:]bb:ss[.f]": qemu-server's PCIRE, lowercase only, the function at most 7. */
int gh_pciid_parse(const char *s, struct gh_pciid *out)
{
	size_t dom = 0, len;
	const char *p = s;

	if (!s)
		return -EINVAL;
	len = strlen(s);
	while (dom < len && lhex(s[dom]))
		dom++;
	if (dom >= 4 && dom <= 8 && s[dom] == ':' && len > dom + 3 && s[dom + 3] == ':') {
		out->domain = hexval(s, dom);
		p = s + dom + 1;
	} else {
		out->domain = 0;
	}
	if (!lhex(p[0]) || !lhex(p[1]) || p[2] != ':' || !lhex(p[3]) || !lhex(p[4]))
		return -EINVAL;
	out->bus = hexval(p, 2);
	out->slot = hexval(p + 3, 2);
	if (out->slot > 0x1f)
		return -EINVAL;
	if (p[5] == '\0') {
		out->func = -1;
		return 0;
	}
	if (p[5] != '.' || p[6] < '0' || p[6] > '7' || p[7] != '\0')
		return -EINVAL;
	out->func = p[6] - '0';
	return 0;
}

void gh_pciid_format(const struct gh_pciid *id, char *buf)
{
	if (id->func < 0)
		snprintf(buf, GH_PCI_ADDR_LEN, "%04x:%02x:%02x", id->domain & 0xffff, id->bus & 0xff,
			 id->slot & 0x1f);
	else
		snprintf(buf, GH_PCI_ADDR_LEN, "%04x:%02x:%02x.%d", id->domain & 0xffff, id->bus & 0xff,
			 id->slot & 0x1f, id->func & 7);
}

bool gh_pciid_is_addr(const char *s)
{
	struct gh_pciid id;
	char back[GH_PCI_ADDR_LEN];

	if (!s || strlen(s) != 12 || gh_pciid_parse(s, &id) < 0 || id.func < 0)
		return false;
	gh_pciid_format(&id, back);
	return !strcmp(back, s);
}
