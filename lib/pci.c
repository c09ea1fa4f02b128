/* SPDX-License-Identifier: MIT */
#include "pci.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "text.h"
#include "timebox.h"

/* A name that is used as one path component (driver names come from config too). */
static bool valid_component(const char *s)
{
	return s && *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/*
 * One hex attribute ("0x10de\n"). -ENOENT passes through unlogged (the
 * caller knows whether it is optional); anything unreadable or not a number
 * is logged here, naming the file.
 */
static int read_hex(struct gh_ctx *ctx, int dfd, const char *addr, const char *attr, unsigned long max, unsigned *out)
{
	char raw[64], esc[160];
	unsigned long v;
	int r;

	r = gh_fs_read_attr(ctx, dfd, attr, raw, sizeof(raw));
	if (r == -ENOENT)
		return r;
	if (r == -EFBIG) {
		gh_err(ctx, "/sys/bus/pci/devices/%s/%s: not a number: longer than %zu bytes", addr, attr,
		       sizeof(raw) - 1);
		return -EINVAL;
	}
	if (r < 0) {
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

/* vendor, device and class exist for every function the kernel knows. */
static int read_required(struct gh_ctx *ctx, int dfd, const char *addr, const char *attr, unsigned long max,
			 unsigned *out)
{
	int r = read_hex(ctx, dfd, addr, attr, max, out);

	if (r != -ENOENT)
		return r;
	/* Hot-unplugged while we read it: simply absent. */
	if (gh_fs_exists(ctx, "/sys/bus/pci/devices/%s", addr) == 0)
		return -ENOENT;
	gh_err(ctx, "/sys/bus/pci/devices/%s/%s: missing", addr, attr);
	return -EINVAL;
}

/*
 * Reads under the device lock. Linux drivers/pci/pci-sysfs.c
 * driver_override_show() takes device_lock() around its copy (as do
 * driver_override_store via driver_set_override, enable_store and
 * __resource_resize_store, which gpu-hook reads never reach; so does
 * drivers/pci/iov.c sriov_numvfs_show since 35ff867b765 "PCI/IOV: Serialize
 * sysfs sriov_numvfs reads vs writes", which gpu-hook does not read). The
 * driver core holds that lock across a driver's whole remove()
 * (drivers/base/dd.c device_release_driver_internal -> __device_release_driver)
 * and probe(), so while nvidia's remove() waits for its users a read of
 * driver_override sleeps uninterruptibly with it, in whichever process reads.
 * Nothing else gh_pci_read reads takes it: vendor, device, class and
 * subsystem_* print fields of struct pci_dev (pci_config_attr), boot_vga and
 * power_state too, the driver and iommu_group links are kernfs symlinks
 * (fs/kernfs/symlink.c kernfs_getlink takes only the kernfs rwsem), and the
 * drm/ and graphics/ listings are kernfs directories.
 */
struct locked_answer {
	int r;
	char raw[128];
};

/* Sent to the phase's worker (see gh_timebox_call): the answer comes back in it. */
struct locked_read {
	struct gh_ctx *ctx;
	char addr[16];
	struct locked_answer ans;
};

static int locked_read_child(void *arg)
{
	struct locked_read *lr = arg;

	lr->ans.r = gh_fs_read_locked_attr(lr->ctx, lr->ans.raw, sizeof(lr->ans.raw),
					   "/sys/bus/pci/devices/%s/driver_override", lr->addr);
	return 0;
}

/* driver_override in the timeboxed worker: 1 no answer, 0 with *rr and raw, -errno (logged) without a worker. */
static int locked_read(struct gh_ctx *ctx, const char *addr, char *raw, size_t size, int *rr)
{
	struct locked_read lr = { .ctx = ctx, .ans = { .r = -EIO } };
	struct gh_timebox tb;
	int r;

	if (gh_util_copy(lr.addr, sizeof(lr.addr), addr) < 0)
		return -EINVAL;
	r = gh_timebox_call(ctx, GH_PCI_LOCK_WAIT_MS, locked_read_child, &lr, sizeof(lr), &tb);
	if (r < 0) {
		gh_err(ctx, "/sys/bus/pci/devices/%s/driver_override: cannot start a reader: %s", addr, strerror(-r));
	} else if (tb.timed_out) {
		gh_warn(ctx, "/sys/bus/pci/devices/%s/driver_override: no answer within %u ms (reader pid %d in state "
			     "%s, wchan %s, left behind): the device lock is held in the kernel", addr,
			GH_PCI_LOCK_WAIT_MS, (int)tb.pid, tb.state, tb.wchan);
		r = 1;
	} else {
		*rr = lr.ans.r;
		if (gh_util_copy(raw, size, lr.ans.raw) < 0)
			*rr = -EFBIG;
		r = 0;
	}
	return r;
}

/* boxed: through a timeboxed child, for a function that may be wedged. */
static int read_override(struct gh_ctx *ctx, int dfd, const char *addr, bool boxed, struct gh_pci_dev *out)
{
	char raw[128] = "", esc[160];
	int r = -EIO;

	out->override[0] = '\0';
	if (boxed) {
		int st = locked_read(ctx, addr, raw, sizeof(raw), &r);

		if (st < 0)
			return st;
		if (st == 1) {
			out->wedged = true;
			return 0;
		}
	} else {
		r = gh_fs_read_attr(ctx, dfd, "driver_override", raw, sizeof(raw));
	}
	if (r == -ENOENT)
		return 0;
	if (r < 0) {
		gh_err(ctx, "/sys/bus/pci/devices/%s/driver_override: %s", addr, strerror(-r));
		return r;
	}
	/* The kernel shows an unset override as "(null)". */
	if (!strcmp(gh_util_trim(raw), "(null)"))
		return 0;
	if (gh_util_copy(out->override, sizeof(out->override), gh_util_trim(raw)) < 0) {
		out->override[0] = '\0';
		gh_err(ctx, "/sys/bus/pci/devices/%s/driver_override: too long: \"%s\"", addr,
		       gh_util_escape(raw, esc, sizeof(esc)));
		return -EINVAL;
	}
	return 0;
}

void gh_pci_suspect(struct gh_ctx *ctx, const char *addr)
{
	gh_ctx_add_pci_suspect(ctx, addr);
}

/*
 * A function whose lock may be held: with no driver (__device_release_driver
 * removes the driver link before it calls remove(), so a function stuck in
 * remove() shows none), on vfio-pci (its remove() waits for every user of
 * the device), NVIDIA's (the cards gpu-hook hands over), or one a journal
 * holds (a stuck probe() shows the driver it is probing: really_probe adds
 * the link first). A fork costs about 1 ms (5 ms under TCG); the host's
 * other devices are read directly.
 */
static bool may_be_wedged(const struct gh_ctx *ctx, const struct gh_pci_dev *d)
{
	return !d->driver[0] || !strcmp(d->driver, "vfio-pci") || d->vendor == 0x10de || gh_ctx_pci_suspect(ctx, d->addr);
}

int gh_pci_lock_stuck(struct gh_ctx *ctx, const char *addr)
{
	char raw[128];
	int rr, r;

	if (!gh_pciid_is_addr(addr))
		return -EINVAL;
	r = locked_read(ctx, addr, raw, sizeof(raw), &rr);
	return r;
}

static void read_group(int dfd, int *group)
{
	char buf[32];
	unsigned long v;

	*group = -1;
	if (gh_fs_link_baseat(dfd, "iommu_group", buf, sizeof(buf)) >= 0 &&
	    gh_util_parse_ulong(buf, 10, 0x7fffffff, &v) == 0)
		*group = (int)v;
}

/* drm/ holds card0 and renderD128 (controlD64 on old kernels): the /dev/dri node names. */
static int read_subdirs(struct gh_ctx *ctx, int dfd, struct gh_pci_dev *out)
{
	struct gh_strv names = { 0 };
	int r;

	r = gh_fs_listat(ctx, dfd, "drm", &out->drm);
	if (r < 0)
		return r;
	r = gh_fs_listat(ctx, dfd, "graphics", &names);
	for (size_t i = 0; i < names.n && r >= 0; i++) {
		unsigned long n;

		if (!strncmp(names.v[i], "fb", 2) && gh_util_parse_ulong(names.v[i] + 2, 10, 255, &n) == 0)
			r = gh_strv_push(&out->fbs, names.v[i]);
	}
	gh_strv_free(&names);
	return r;
}

/*
 * Every attribute through one descriptor of the function's directory: the
 * bus's link and the device path are resolved once, not once per file
 * (half a read's cost under TCG), and all come from the same device.
 */
static int read_at(struct gh_ctx *ctx, int dfd, const char *addr, unsigned parts, struct gh_pci_dev *out)
{
	char buf[32];
	int r;

	if ((r = read_required(ctx, dfd, addr, "vendor", 0xffff, &out->vendor)) < 0 ||
	    (r = read_required(ctx, dfd, addr, "device", 0xffff, &out->device)) < 0 ||
	    (r = read_required(ctx, dfd, addr, "class", 0xffffff, &out->class)) < 0)
		return r;
	/* Some bridges have no subsystem ids. */
	r = parts & GH_PCI_SUBSYS ? read_hex(ctx, dfd, addr, "subsystem_vendor", 0xffff, &out->sub_vendor) : 0;
	if (r < 0 && r != -ENOENT)
		return r;
	r = parts & GH_PCI_SUBSYS ? read_hex(ctx, dfd, addr, "subsystem_device", 0xffff, &out->sub_device) : 0;
	if (r < 0 && r != -ENOENT)
		return r;
	if (gh_fs_link_baseat(dfd, "driver", out->driver, sizeof(out->driver)) < 0)
		out->driver[0] = '\0';
	r = read_override(ctx, dfd, addr, may_be_wedged(ctx, out), out);
	if (r < 0)
		return r;
	read_group(dfd, &out->iommu_group);
	/* boot_vga exists only for VGA-class functions. */
	if ((parts & GH_PCI_BOOT_VGA) && gh_fs_read_attr(ctx, dfd, "boot_vga", buf, sizeof(buf)) >= 0)
		out->boot_vga = !strcmp(gh_util_trim(buf), "1");
	if (!(parts & GH_PCI_POWER) || gh_fs_read_attr(ctx, dfd, "power_state", buf, sizeof(buf)) < 0 ||
	    gh_util_copy(out->power_state, sizeof(out->power_state), gh_util_trim(buf)) < 0)
		out->power_state[0] = '\0';
	r = parts & GH_PCI_NODES ? read_subdirs(ctx, dfd, out) : 0;
	if (r < 0) {
		gh_err(ctx, "/sys/bus/pci/devices/%s: cannot list drm/graphics: %s", addr, strerror(-r));
		gh_pci_dev_free(out);
	}
	return r;
}

int gh_pci_read(struct gh_ctx *ctx, const char *addr, struct gh_pci_dev *out)
{
	return gh_pci_read_parts(ctx, addr, GH_PCI_ALL, out);
}

int gh_pci_read_parts(struct gh_ctx *ctx, const char *addr, unsigned parts, struct gh_pci_dev *out)
{
	int dfd, r;

	memset(out, 0, sizeof(*out));
	out->iommu_group = -1;
	out->boot_vga = -1;
	if (!gh_pciid_is_addr(addr))
		return -EINVAL;
	dfd = gh_fs_open(ctx, O_PATH | O_DIRECTORY, "/sys/bus/pci/devices/%s", addr);
	if (dfd < 0)
		return (dfd == -ENOENT || dfd == -ENOTDIR) ? -ENOENT : dfd;
	if (gh_util_copy(out->addr, sizeof(out->addr), addr) < 0)
		r = -EINVAL;
	else
		r = read_at(ctx, dfd, addr, parts, out);
	close(dfd);
	return r;
}

void gh_pci_dev_free(struct gh_pci_dev *dev)
{
	gh_strv_free(&dev->drm);
	gh_strv_free(&dev->fbs);
}

/* Entries of a sysfs directory (names, r what listing it returned) that are PCI addresses, in sorted order. */
static int list_addrs(struct gh_strv *names, int r, struct gh_strv *out)
{
	for (size_t i = 0; i < names->n && r >= 0; i++)
		if (gh_pciid_is_addr(names->v[i]))
			r = gh_strv_push(out, names->v[i]);
	gh_strv_free(names);
	return r;
}

int gh_pci_list(struct gh_ctx *ctx, struct gh_strv *out)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/sys/bus/pci/devices");

	return list_addrs(&names, r, out);
}

int gh_pci_slot_functions(struct gh_ctx *ctx, const struct gh_pciid *slot, struct gh_strv *out)
{
	struct gh_pciid s = *slot;
	struct gh_strv all = { 0 };
	char prefix[GH_PCI_ADDR_LEN];
	size_t plen;
	int r;

	s.func = -1;
	gh_pciid_format(&s, prefix);
	plen = strlen(prefix);
	if (!plen)
		return -EINVAL;
	r = gh_pci_list(ctx, &all);
	/* "dddd:bb:ss." so that slot 01:00 never takes 01:00x. */
	for (size_t i = 0; i < all.n && r >= 0; i++)
		if (!strncmp(all.v[i], prefix, plen) && all.v[i][plen] == '.')
			r = gh_strv_push(out, all.v[i]);
	gh_strv_free(&all);
	return r;
}

int gh_pci_group_members(struct gh_ctx *ctx, int group, struct gh_strv *out)
{
	struct gh_strv names = { 0 };
	int r;

	if (group < 0)
		return -EINVAL;
	r = gh_fs_list(ctx, &names, "/sys/kernel/iommu_groups/%d/devices", group);
	return list_addrs(&names, r, out);
}

int gh_pci_driver_module(struct gh_ctx *ctx, const char *driver, char *buf, size_t size)
{
	int r;

	if (!valid_component(driver))
		return -EINVAL;
	/* Built-in drivers have no module link. */
	r = gh_fs_link_base(ctx, buf, size, "/sys/bus/pci/drivers/%s/module", driver);
	return r < 0 ? r : 0;
}

int gh_pci_driver_devices(struct gh_ctx *ctx, const char *driver, struct gh_strv *out)
{
	struct gh_strv names = { 0 };
	int r;

	if (!valid_component(driver))
		return -EINVAL;
	r = gh_fs_list(ctx, &names, "/sys/bus/pci/drivers/%s", driver);
	return list_addrs(&names, r, out);
}

/*
 * PCI-to-PCI (0x0604), CardBus (0x0607) and semi-transparent (0x0609)
 * bridges: what the kernel's pci_is_bridge() covers. Host and ISA bridges
 * are ordinary functions for group viability (an LPC bridge bound to lpc_ich
 * makes its group unusable).
 */
bool gh_pci_is_bridge(const struct gh_pci_dev *dev)
{
	unsigned sub = dev->class >> 8;

	return sub == 0x0604 || sub == 0x0607 || sub == 0x0609;
}

bool gh_pci_is_display(const struct gh_pci_dev *dev)
{
	return (dev->class >> 16) == 0x03;
}

const char *gh_pci_default_driver(const struct gh_pci_dev *dev)
{
	unsigned sub = dev->class >> 8;

	if (gh_pci_is_display(dev) && dev->vendor == 0x10de)
		return "nvidia";
	if (sub == 0x0403)
		return "snd_hda_intel";
	if (dev->class == 0x0c0330)
		return "xhci_hcd";
	/* The Turing USB-C UCSI function; i2c_nvidia_gpu registers as "nvidia-gpu". */
	if (sub == 0x0c80 && dev->vendor == 0x10de)
		return "nvidia-gpu";
	return NULL;
}

int gh_pci_nvidia_minor(struct gh_ctx *ctx, const char *addr)
{
	static const char key[] = "Device Minor:";
	char name[128], *line, esc[96];
	struct gh_text t = { .ctx = ctx, .name = name, .bytes = true };
	int minor = -ENOENT;
	size_t len;

	if (!gh_pciid_is_addr(addr))
		return -EINVAL;
	snprintf(name, sizeof(name), "/proc/driver/nvidia/gpus/%s/information", addr);
	t.f = gh_fs_fopen_input(ctx, 0, GH_FS_PROC_MAX, NULL, "%s", name);
	if (!t.f)
		return -errno;
	while (gh_text_next(&t, &line, &len) > 0) {
		char *p = line + strspn(line, " \t");
		unsigned long v;

		if (strncmp(p, key, sizeof(key) - 1))
			continue;
		p = gh_util_trim(p + sizeof(key) - 1);
		/* 255 is nvidiactl's minor; cards are below it. */
		if (gh_util_parse_ulong(p, 10, 254, &v) < 0) {
			gh_text_err(&t, "bad Device Minor \"%s\"", gh_util_escape(p, esc, sizeof(esc)));
			minor = -EINVAL;
		} else {
			minor = (int)v;
		}
		break;
	}
	gh_text_done(&t);
	fclose(t.f);
	return minor;
}
