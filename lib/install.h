/* SPDX-License-Identifier: MIT */
#ifndef GH_INSTALL_H
#define GH_INSTALL_H

/*
 * Wiring a VM to gpu-hook: the storage's directory from /etc/pve/storage.cfg
 * (it must allow the "snippets" content type), the running binary copied to
 * <path>/snippets/gpu-hook, and `qm set <vmid> --hookscript
 * <storage>:snippets/gpu-hook` (/usr/sbin/qm through ctx->ops->run, with an
 * argv, never through a shell; the simulator runs nothing under a fixture
 * root). Refused while the VM runs. With ctx->dry_run the commands are
 * logged, not run.
 *
 * Proxmox runs that file as root at every start of the VM, so it must be
 * root's: the snippets directory, every directory above it (sshd's
 * StrictModes) and the file are owned by root and not writable by group or
 * others, or install refuses. In a fixture tree the user running gpu-hook
 * may own them too, and the walk stops at the tree's top.
 */

#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "ctx.h"

struct gh_storage {
	bool found;
	int line;
	char type[32];
	char path[256];
	bool snippets;
};

/* One storage from a storage.cfg stream. Errors as "name:line: ..."; -EINVAL then. */
int gh_install_storage_parse(struct gh_ctx *ctx, FILE *f, const char *name, const char *storage,
			     struct gh_storage *out);
/*
 * install (uninstall false) or uninstall (qm set --delete hookscript). self
 * is an fd open on the running binary (gh_install_open_self), read with
 * pread. 0 or -errno, logged.
 */
int gh_install_hook(struct gh_ctx *ctx, unsigned vmid, const char *storage, int self, bool uninstall);

/*
 * The running binary, opened through /proc/self/exe of the real /proc
 * whatever the root: the file this process was started from, even if its
 * path has been replaced since. fd or -errno.
 */
int gh_install_open_self(void);
/* 1 when the two files hold the same bytes, 0 when not, -errno. Offsets are left alone. */
int gh_install_same_content(int a, int b);

/*
 * The directory dir (a system path) and each one above it, up to / (the
 * tree's top under a fixture root), are owned by root and not writable by
 * group or others. A directory that does not exist yet is judged by the
 * nearest one that does. 0; or -EPERM (-EXDEV: resolves outside the tree)
 * with why ("<path>: owner uid N, mode M: ... (chown root:root <path>)").
 */
int gh_install_trust_dir(const struct gh_ctx *ctx, const char *dir, char *why, size_t size);
/* The same for a file's lstat; name is its system path. 0 or -EPERM with why. */
int gh_install_trust_file(const struct gh_ctx *ctx, const char *name, const struct stat *st, char *why, size_t size);
/*
 * 1 when the storage dir lives on another machine: its type in storage.cfg
 * (nfs, cifs, glusterfs, cephfs, pbs) or the filesystem under dir (statfs:
 * NFS, SMB/CIFS, FUSE, Ceph, 9p, AFS), with what says which. 0 when local.
 */
int gh_install_network(const struct gh_ctx *ctx, const char *storage, const struct gh_storage *st, const char *dir,
		       char *what, size_t size);

#endif
