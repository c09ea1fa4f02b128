/* SPDX-License-Identifier: MIT */
#include "pci.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"

static int read_hex(struct gh_ctx *ctx, const char *addr, const char *attr, unsigned long max, unsigned *out)
{
	unsigned long v;
	char raw[64], esc[96];
	int r;

	r = gh_fs_read_str(ctx, raw, sizeof(raw), "/sys/bus/pci/devices/%s/%s", addr, attr);
	if (r < 0) {
		if (r == -ENOENT)
			return r;
		gh_err(ctx, "/sys/bus/pci/devices/%s/%s: %s", addr, attr, strerror(-r));
		return r;
	}
	if (gh_util_parse_ulong(gh_util_trim(raw), 16, max, &v) < 0) {
		gh_err(ctx, "/sys/bus/pci/devices/%s/%s: not a number: \"%s\"", addr, attr,
		       gh_util_escape(raw, esc, sizeof(esc)));
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

int gh_pci_read(struct gh_ctx *ctx, const char *addr, struct gh_pci_dev *out)
{
	struct gh_strv names = { 0 };
	unsigned long v;
	char buf[64];
	int r;

	memset(out, 0, sizeof(*out));
	out->iommu_group = -1;
	out->boot_vga = -1;
	if (!gh_pciid_is_addr(addr))
		return -EINVAL;
	r = gh_fs_exists(ctx, "/sys/bus/pci/devices/%s", addr);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	memcpy(out->addr, addr, strlen(addr) + 1);
	if ((r = read_hex(ctx, addr, "vendor", 0xffff, &out->vendor)) < 0 ||
	    (r = read_hex(ctx, addr, "device", 0xffff, &out->device)) < 0 ||
	    (r = read_hex(ctx, addr, "class", 0xffffff, &out->class)) < 0)
		return r == -ENOENT ? -EINVAL : r;
	/* Subsystem ids are absent on some bridges. */
	if ((r = read_hex(ctx, addr, "subsystem_vendor", 0xffff, &out->sub_vendor)) < 0 && r != -ENOENT)
		return r;
	if ((r = read_hex(ctx, addr, "subsystem_device", 0xffff, &out->sub_device)) < 0 && r != -ENOENT)
		return r;
	if (gh_fs_link_base(ctx, out->driver, sizeof(out->driver), "/sys/bus/pci/devices/%s/driver", addr) < 0)
		out->driver[0] = '\0';
	r = gh_fs_read_str(ctx, out->override, sizeof(out->override), "/sys/bus/pci/devices/%s/driver_override", addr);
	if (r < 0 || !strcmp(gh_util_trim(out->override), "(null)"))
		out->override[0] = '\0';
	else
		memmove(out->override, gh_util_trim(out->override), strlen(gh_util_trim(out->override)) + 1);
	if (gh_fs_link_base(ctx, buf, sizeof(buf), "/sys/bus/pci/devices/%s/iommu_group", addr) >= 0 &&
	    gh_util_parse_ulong(buf, 10, 1000000, &v) == 0)
		out->iommu_group = (int)v;
	if (gh_fs_read_str(ctx, buf, sizeof(buf), "/sys/bus/pci/devices/%s/boot_vga", addr) >= 0)
		out->boot_vga = !strcmp(gh_util_trim(buf), "1");
	if (gh_fs_read_str(ctx, buf, sizeof(buf), "/sys/bus/pci/devices/%s/power_state", addr) >= 0)
		gh_util_copy(out->power_state, sizeof(out->power_state), gh_util_trim(buf));
	r = gh_fs_list(ctx, &names, "/sys/bus/pci/devices/%s/drm", addr);
	for (size_t i = 0; i < names.n && r >= 0; i++)
		if (!strncmp(names.v[i], "card", 4) || !strncmp(names.v[i], "renderD", 7))
			r = gh_strv_push(&out->drm, names.v[i]);
	gh_strv_free(&names);
	if (r >= 0)
		r = gh_fs_list(ctx, &names, "/sys/bus/pci/devices/%s/graphics", addr);
	for (size_t i = 0; i < names.n && r >= 0; i++)
		if (!strncmp(names.v[i], "fb", 2))
			r = gh_strv_push(&out->fbs, names.v[i]);
	gh_strv_free(&names);
	if (r < 0)
		gh_pci_dev_free(out);
	return r < 0 ? r : 0;
}

void gh_pci_dev_free(struct gh_pci_dev *dev)
{
	gh_strv_free(&dev->drm);
	gh_strv_free(&dev->fbs);
}

int gh_pci_list(struct gh_ctx *ctx, struct gh_strv *out)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/sys/bus/pci/devices");

	for (size_t i = 0; i < names.n && r >= 0; i++)
		if (gh_pciid_is_addr(names.v[i]))
			r = gh_strv_push(out, names.v[i]);
	gh_strv_free(&names);
	return r;
}

int gh_pci_slot_functions(struct gh_ctx *ctx, const struct gh_pciid *slot, struct gh_strv *out)
{
	struct gh_strv all = { 0 };
	char prefix[GH_PCI_ADDR_LEN];
	struct gh_pciid s = *slot;
	size_t plen;
	int r;

	s.func = -1;
	gh_pciid_format(&s, prefix);
	plen = strlen(prefix);
	r = gh_pci_list(ctx, &all);
	for (size_t i = 0; i < all.n && r >= 0; i++)
		if (!strncmp(all.v[i], prefix, plen) && all.v[i][plen] == '.')
			r = gh_strv_push(out, all.v[i]);
	gh_strv_free(&all);
	return r;
}

int gh_pci_group_members(struct gh_ctx *ctx, int group, struct gh_strv *out)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/sys/kernel/iommu_groups/%d/devices", group);

	for (size_t i = 0; i < names.n && r >= 0; i++)
		if (gh_pciid_is_addr(names.v[i]))
			r = gh_strv_push(out, names.v[i]);
	gh_strv_free(&names);
	return r;
}

int gh_pci_driver_module(struct gh_ctx *ctx, const char *driver, char *buf, size_t size)
{
	int r = gh_fs_link_base(ctx, buf, size, "/sys/bus/pci/drivers/%s/module", driver);

	return r < 0 ? r : 0;
}

int gh_pci_driver_devices(struct gh_ctx *ctx, const char *driver, struct gh_strv *out)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/sys/bus/pci/drivers/%s", driver);

	for (size_t i = 0; i < names.n && r >= 0; i++)
		if (gh_pciid_is_addr(names.v[i]))
			r = gh_strv_push(out, names.v[i]);
	gh_strv_free(&names);
	return r;
}

bool gh_pci_is_bridge(const struct gh_pci_dev *dev)
{
	return (dev->class >> 16) == 0x06 && ((dev->class >> 8) & 0xff) != 0x80;
}

bool gh_pci_is_display(const struct gh_pci_dev *dev)
{
	return (dev->class >> 16) == 0x03;
}

const char *gh_pci_default_driver(const struct gh_pci_dev *dev)
{
	unsigned cls = dev->class >> 8;

	if (gh_pci_is_display(dev) && dev->vendor == 0x10de)
		return "nvidia";
	if (cls == 0x0403)
		return "snd_hda_intel";
	if (dev->class == 0x0c0330)
		return "xhci_hcd";
	if (cls == 0x0c80 && dev->vendor == 0x10de)
		return "nvidia-gpu";
	return NULL;
}

int gh_pci_nvidia_minor(struct gh_ctx *ctx, const char *addr)
{
	char line[256];
	FILE *f;
	int minor = -ENOENT;

	f = gh_fs_fopen(ctx, "/proc/driver/nvidia/gpus/%s/information", addr);
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long v;
		char *p;

		if (strncmp(line, "Device Minor:", 13))
			continue;
		p = gh_util_trim(line + 13);
		minor = gh_util_parse_ulong(p, 10, 255, &v) < 0 ? -EINVAL : (int)v;
		break;
	}
	fclose(f);
	return minor;
}
