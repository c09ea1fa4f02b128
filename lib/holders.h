/* SPDX-License-Identifier: MIT */
#ifndef GH_HOLDERS_H
#define GH_HOLDERS_H

/*
 * Processes that hold device nodes open or mapped. A node is known by its
 * identity, never by a path's text: an open file matches when stat() of
 * /proc/<pid>/fd/<n> is a character device with the node's number, a
 * mapping when the device and inode columns of /proc/<pid>/maps are those of
 * the node's inode in /dev. (A process in its own mount namespace can show
 * any path text it likes.) Each holder is attributed to its systemd unit or
 * LXC container from /proc/<pid>/cgroup.
 */

#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "util.h"

/* One device node to look for. */
struct gh_holder_node {
	dev_t rdev;		/* the character device number */
	dev_t dev;		/* with ino: the node's inode in /dev, as /proc/<pid>/maps shows it */
	ino_t ino;		/* 0: no node found in /dev, so no mapping can be recognised */
	char path[128];		/* "/dev/snd/controlC0" (escaped), for messages */
};

struct gh_holder_nodes {
	struct gh_holder_node *v;
	unsigned n;
};

struct gh_holder {
	pid_t pid;
	unsigned long long start;	/* /proc/<pid>/stat field 22 (clock ticks after boot); 0 unknown */
	char comm[64];			/* escaped (gh_util_escape); "?" when empty or unreadable */
	char unit[256];			/* "nvidia-persistenced.service", "session-2.scope", "" */
	char cgroup[256];		/* the cgroup v2 path, escaped and truncated */
	char container[32];		/* LXC container id "105", "" */
	bool user_manager;		/* the unit is a user manager's (under user@UID.service) */
	struct gh_strv paths;		/* what it holds: "/dev/nvidia0 (fd 4)", "/dev/nvidia0 (mmap)" */
};

struct gh_holder_set {
	struct gh_holder *v;
	unsigned n;
};

/*
 * The character device at path (under the context's root, links followed)
 * joins nodes, once per device number. A path ending in '*' is a prefix: every
 * entry of its directory that starts with it, and the entries of such an entry
 * that is a directory ("/dev/nvidia*" takes /dev/nvidia-caps/nvidia-cap1). A
 * missing path, or one that is not a character device, adds nothing.
 */
int gh_holders_nodes_add_path(struct gh_ctx *ctx, struct gh_holder_nodes *nodes, const char *path);
/*
 * Every device the kernel registered under the PCI function's sysfs tree: the
 * `dev` files (MAJ:MIN) below /sys/bus/pci/devices/<addr>/, links never
 * followed, other PCI functions and block devices left out, depth bounded;
 * named by the DEVNAME of their uevent. So the card's DRM nodes, the audio
 * function's /dev/snd nodes, the USB devices of its xHCI function with their
 * hidraw and input nodes, the i2c-dev adapter of its UCSI function and its fbN.
 */
int gh_holders_nodes_add_sysfs(struct gh_ctx *ctx, struct gh_holder_nodes *nodes, const char *addr);
void gh_holders_nodes_free(struct gh_holder_nodes *nodes);

/*
 * Scans every /proc/<pid> through one directory fd per process. Processes
 * that vanish while scanned are skipped. The calling process (getpid() on a
 * real root) is never a holder.
 */
/* Both scans: on failure out owns nothing (lib/README.md); after success, gh_holders_free. */
int gh_holders_scan_nodes(struct gh_ctx *ctx, const struct gh_holder_nodes *nodes, struct gh_holder_set *out);
/* The same for node paths (gh_holders_nodes_add_path each). */
int gh_holders_scan(struct gh_ctx *ctx, const struct gh_strv *paths, struct gh_holder_set *out);
void gh_holders_free(struct gh_holder_set *set);
/*
 * "pid 900 (nvidia-persiste, nvidia-persistenced.service): /dev/nvidia0 (fd 4)".
 * A path list that does not fit ends in "..."; -ENAMETOOLONG only when the
 * part before the paths does not fit.
 */
int gh_holders_describe(const struct gh_holder *h, char *buf, size_t size);
/*
 * unit / container from one cgroup v2 path ("/system.slice/x.service", "/lxc/105/ns/...").
 * The unit is the innermost .service/.scope. A container process gets the
 * container only (unit ""): its units are not the host's.
 */
void gh_holders_parse_cgroup(const char *path, char *unit, size_t unit_size, char *ct, size_t ct_size);
/* Whether the cgroup path runs through a user manager (a "user@<uid>.service" component). */
bool gh_holders_cgroup_user(const char *path);

/*
 * Fields of /proc/<pid>/stat (under the root): start time (field 22) and
 * session id (field 6). -ESRCH when the process is gone.
 */
int gh_holders_proc_stat(struct gh_ctx *ctx, pid_t pid, unsigned long long *start, pid_t *sid);
/* The same through an open /proc/<pid> directory (the scan reads one process through one fd). */
int gh_holders_proc_stat_at(int pfd, unsigned long long *start, pid_t *sid);
/*
 * Pins a holder before anything acts on it: on the real root a pidfd
 * (pidfd_open), taken and then checked against the start time seen by the
 * scan, so that it names that process and no later one with its number; on a
 * fixture root -1 (nothing real to pin). -ESRCH when the process is gone or
 * its number was reused; -ENOSYS etc. when no pidfd can be had.
 */
int gh_holders_pin(struct gh_ctx *ctx, const struct gh_holder *h, int *pidfd);

#endif
