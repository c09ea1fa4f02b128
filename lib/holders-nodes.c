/* SPDX-License-Identifier: MIT */
/* Device nodes known by identity: the character device number, and the node's inode in /dev for the maps. */
#include "holders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs.h"
#include "pciid.h"

/* The node for a device number, once; its inode in /dev (the name given, else /dev/char/M:m) for the maps. */
static int add_node(struct gh_ctx *ctx, struct gh_holder_nodes *nodes, dev_t rdev, const char *path,
		    const struct stat *known)
{
	struct gh_holder_node *v, *nd;
	struct stat st;

	for (unsigned i = 0; i < nodes->n; i++)
		if (nodes->v[i].rdev == rdev)
			return 0;
	v = gh_util_grow(nodes->v, nodes->n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	nodes->v = v;
	nd = &v[nodes->n++];
	memset(nd, 0, sizeof(*nd));
	nd->rdev = rdev;
	gh_util_escape(path, nd->path, sizeof(nd->path));
	if (known) {
		st = *known;
	} else if (gh_fs_stat(ctx, &st, "%s", path) < 0 || !S_ISCHR(st.st_mode) || st.st_rdev != rdev) {
		if (gh_fs_stat(ctx, &st, "/dev/char/%u:%u", major(rdev), minor(rdev)) < 0 || !S_ISCHR(st.st_mode) ||
		    st.st_rdev != rdev)
			return 0;
	}
	/*
	 * A VFIO group node cannot be mapped (vfio_group_fops has no .mmap,
	 * drivers/vfio/group.c): the maps of every process need not be read for it.
	 */
	if (!strncmp(path, "/dev/vfio/", 10))
		return 0;
	nd->dev = st.st_dev;
	nd->ino = st.st_ino;
	return 0;
}

static int add_if_chr(struct gh_ctx *ctx, struct gh_holder_nodes *nodes, const char *path, bool descend)
{
	struct stat st;

	if (gh_fs_stat(ctx, &st, "%s", path) < 0)
		return 0;
	if (S_ISCHR(st.st_mode))
		return add_node(ctx, nodes, st.st_rdev, path, &st);
	if (S_ISDIR(st.st_mode) && descend) {
		struct gh_strv names = { 0 };
		int r = gh_fs_list(ctx, &names, "%s", path);

		for (size_t i = 0; i < names.n && r >= 0; i++) {
			char p[PATH_MAX];

			if (gh_util_format(p, sizeof(p), "%s/%s", path, names.v[i]) >= 0)
				r = add_if_chr(ctx, nodes, p, false);
		}
		gh_strv_free(&names);
		return r < 0 && r != -ENOMEM ? 0 : r;
	}
	return 0;
}

int gh_holders_nodes_add_path(struct gh_ctx *ctx, struct gh_holder_nodes *nodes, const char *path)
{
	struct gh_strv names = { 0 };
	size_t len = strlen(path);
	const char *slash, *prefix;
	char dir[PATH_MAX];
	int r;

	if (!len)
		return 0;
	if (path[len - 1] != '*')
		return add_if_chr(ctx, nodes, path, false);
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return -EINVAL;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	prefix = slash + 1;
	len = strlen(prefix) - 1;
	r = gh_fs_list(ctx, &names, "%s", dir[0] ? dir : "/");
	if (r < 0) {
		gh_warn(ctx, "cannot list %s for %s: %s; those nodes are not looked for", dir[0] ? dir : "/", path,
			strerror(-r));
		r = 0;
	}
	for (size_t i = 0; i < names.n && r >= 0; i++) {
		char p[PATH_MAX];

		if (strncmp(names.v[i], prefix, len) || gh_util_format(p, sizeof(p), "%s/%s", dir, names.v[i]) < 0)
			continue;
		r = add_if_chr(ctx, nodes, p, true);
	}
	gh_strv_free(&names);
	return r;
}

/* Deep enough for a USB tree behind the card's xHCI (hubs nest up to 7 tiers); bounded all the same. */
#define WALK_DEPTH 24
#define WALK_DIRS 20000

struct walk {
	struct gh_ctx *ctx;
	struct gh_holder_nodes *nodes;
	const char *addr;
	unsigned dirs;
};

/* "M:m" as the dev file shows it. */
static bool parse_devnum(char *text, unsigned long *maj, unsigned long *min)
{
	char *colon = strchr(text, ':');

	if (!colon)
		return false;
	*colon = '\0';
	return gh_util_parse_ulong(text, 10, 0xfffff, maj) == 0 && gh_util_parse_ulong(colon + 1, 10, 0xfffff, min) == 0;
}

/*
 * The device's uevent: MAJOR, MINOR and DEVNAME in one read (dev_uevent adds
 * all three for a device with a number). name keeps what it had without a
 * DEVNAME; false when the number is not there.
 */
static bool uevent_fields(const struct gh_ctx *ctx, int dfd, unsigned long *maj, unsigned long *min, char *name, size_t size)
{
	char ev[2048], *save = NULL;
	bool have_maj = false, have_min = false;

	if (gh_fs_read_attr(ctx, dfd, "uevent", ev, sizeof(ev)) < 0)
		return false;
	for (char *line = strtok_r(ev, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "MAJOR=", 6))
			have_maj = gh_util_parse_ulong(line + 6, 10, 0xfffff, maj) == 0;
		else if (!strncmp(line, "MINOR=", 6))
			have_min = gh_util_parse_ulong(line + 6, 10, 0xfffff, min) == 0;
		/* The kernel's name for the node under /dev; nothing that climbs out of it. */
		else if (!strncmp(line, "DEVNAME=", 8) && line[8] && line[8] != '/' && !strstr(line + 8, ".."))
			gh_util_format(name, size, "/dev/%s", line + 8);
	}
	return have_maj && have_min;
}

/* A directory with a `dev` file is a device the kernel registered: its number and its DEVNAME. */
static int walk_dev(struct walk *w, int dfd)
{
	char text[64], name[PATH_MAX] = "", sub[PATH_MAX];
	unsigned long maj, min;

	/* A disk behind the card's USB port is not held through an open node. */
	if (gh_fs_readlinkat(dfd, "subsystem", sub, sizeof(sub)) > 0) {
		const char *base = strrchr(sub, '/');

		if (!strcmp(base ? base + 1 : sub, "block"))
			return 0;
	}
	if (!uevent_fields(w->ctx, dfd, &maj, &min, name, sizeof(name)) &&
	    (gh_fs_read_attr(w->ctx, dfd, "dev", text, sizeof(text)) < 0 || !parse_devnum(text, &maj, &min)))
		return 0;
	if (!name[0])
		snprintf(name, sizeof(name), "/dev/char/%lu:%lu", maj, min);
	return add_node(w->ctx, w->nodes, makedev(maj, min), name, NULL);
}

/*
 * Directories the kernel fills with attributes alone:
 *   power     every device's runtime-PM group (drivers/base/power/sysfs.c, dpm_sysfs_add);
 *   msi_irqs  a function's MSI vectors, one file each (kernel/irq/msi.c, msi_irqs_group);
 *   link      a PCIe function's ASPM controls (drivers/pci/pcie/aspm.c, aspm_ctrl_attr_group);
 *   widgets   an HDA codec's widget tree, one kobject per widget with files only
 *             (sound/hda/hdac_sysfs.c, widget_tree_create, add_widget_node): a
 *             directory per widget, four system calls each to list for nothing.
 */
static bool attr_dir(const char *name)
{
	static const char *const names[] = { "power", "msi_irqs", "link", "widgets" };

	for (size_t i = 0; i < GH_ARRAY_SIZE(names); i++)
		if (!strcmp(name, names[i]))
			return true;
	return false;
}

static int walk_dir(struct walk *w, struct gh_fs_dir *d, unsigned depth)
{
	const char *name;
	unsigned char type;
	int r = 0;

	if (++w->dirs > WALK_DIRS) {
		gh_warn(w->ctx, "/sys/bus/pci/devices/%s: more than %u directories below it; the rest is not searched "
			"for device nodes", w->addr, WALK_DIRS);
		return 0;
	}
	while (r >= 0 && gh_fs_dir_next(d, &name, &type) > 0) {
		struct gh_fs_dir sub;

		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(d->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
		}
		if (type == DT_REG && !strcmp(name, "dev")) {
			r = walk_dev(w, d->fd);
			continue;
		}
		/*
		 * Links lead out of the tree (driver, subsystem, device); a PCI child is
		 * a function of its own. Attribute directories hold no device either,
		 * and no child device takes their names beside them (see attr_dir).
		 */
		if (type != DT_DIR || depth >= WALK_DEPTH || gh_pciid_is_addr(name) || attr_dir(name))
			continue;
		if (gh_fs_dir_openat(w->ctx, &sub, d->fd, name) < 0)
			continue;
		r = walk_dir(w, &sub, depth + 1);
		gh_fs_dir_close(&sub);
	}
	return r;
}

int gh_holders_nodes_add_sysfs(struct gh_ctx *ctx, struct gh_holder_nodes *nodes, const char *addr)
{
	struct walk w = { .ctx = ctx, .nodes = nodes, .addr = addr };
	struct gh_fs_dir d;
	int r;

	if (!gh_pciid_is_addr(addr))
		return -EINVAL;
	/* The bus's link to the function is the one link followed. */
	r = gh_fs_dir_open(ctx, &d, "/sys/bus/pci/devices/%s", addr);
	if (r < 0) {
		if (r == -ENOENT)
			return 0;
		gh_err(ctx, "cannot list /sys/bus/pci/devices/%s: %s", addr, strerror(-r));
		return r;
	}
	r = walk_dir(&w, &d, 0);
	gh_fs_dir_close(&d);
	if (r < 0)
		gh_err(ctx, "cannot collect the device nodes of %s: %s", addr, strerror(-r));
	return r;
}

void gh_holders_nodes_free(struct gh_holder_nodes *nodes)
{
	free(nodes->v);
	nodes->v = NULL;
	nodes->n = 0;
}
