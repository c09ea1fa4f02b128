/* SPDX-License-Identifier: MIT */
#ifndef GH_FS_H
#define GH_FS_H

/*
 * The one seam to the system: every path under /sys, /proc, /dev, /etc and
 * /run is written here as the absolute path a real host has, and prefixed
 * with the context's root (pciutils' sysfs.path). Nothing else in lib/ opens
 * a system path.
 *
 * Functions taking "fmt, ..." format the absolute system path themselves and
 * return -ENAMETOOLONG when it does not fit.
 */

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "ctx.h"
#include "util.h"

#define GH_FMT(a, b) __attribute__((format(printf, a, b)))

/* root + formatted path into buf. 0 or -ENAMETOOLONG / -EINVAL. */
int gh_fs_path(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...) GH_FMT(4, 5);
/* O_CLOEXEC is always added. fd or -errno. */
int gh_fs_open(const struct gh_ctx *ctx, int flags, const char *fmt, ...) GH_FMT(3, 4);
/*
 * Every file gpu-hook reads is opened by one function here: without
 * blocking (O_NONBLOCK: open() of a FIFO waits for a writer), and only a
 * regular file is read (a link to /dev/zero never ends); -EMEDIUMTYPE
 * (-EISDIR for a directory) otherwise. The sysfs helpers below do this
 * quietly, bounded by their buffer.
 *
 * The input files (VM config, mapping, storage.cfg, hostname, policy,
 * journal, pid files, /proc files) are read whole through
 * gh_fs_read_input, at most max bytes (-EFBIG when more remains: /proc and
 * sysfs files say st_size 0 or 4096, so the bound is what is read), and
 * every failure but absence (-ENOENT, -ESRCH) is logged here naming the
 * system path: "/etc/pve/qemu-server/417.conf: not a regular file (fifo)",
 * "...: larger than 1048576 bytes", "...: a symbolic link, not followed".
 * Callers report -ENOENT themselves and nothing else.
 *
 * A link at the last component is refused (O_NOFOLLOW) unless flags hold
 * GH_FS_FOLLOW; each caller says why it follows one. st (may be NULL)
 * receives the open file's fstat, so a trust check sees the file read.
 */
#define GH_FS_FOLLOW 1u
/* pmxcfs (/etc/pve) refuses files over 1 MiB (MEMDB_MAX_FILE_SIZE); no config of ours is near it. */
#define GH_FS_CONF_MAX ((size_t)1024 * 1024)
/* A small /proc table (/proc/fb, a GPU's information): a few hundred bytes. */
#define GH_FS_PROC_MAX ((size_t)64 * 1024)
/* 0 with *data (malloc'd, NUL-terminated) and *len, or -errno. */
int gh_fs_read_input(const struct gh_ctx *ctx, unsigned flags, size_t max, char **data, size_t *len,
		     struct stat *st, const char *fmt, ...) GH_FMT(7, 8);
/* The same, as a stream over the bytes read. NULL with errno set. */
FILE *gh_fs_fopen_input(const struct gh_ctx *ctx, unsigned flags, size_t max, struct stat *st, const char *fmt, ...)
	GH_FMT(5, 6);
/* A regular file (links followed) for streaming, unbounded: modprobe.d. NULL with errno set, nothing logged. */
FILE *gh_fs_fopen(const struct gh_ctx *ctx, const char *fmt, ...) GH_FMT(2, 3);
/*
 * Reads a small file whole into buf, NUL-terminated, with one trailing
 * newline stripped. Length, or -errno (-EFBIG when it does not fit).
 */
int gh_fs_read_str(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...) GH_FMT(4, 5);
/*
 * A sysfs attribute whose kernel side may sleep on a lock (driver_override
 * under device_lock): opened and read as the kernel makes every reader wait,
 * with no O_NONBLOCK and no type check. Only for a timeboxed child
 * (lib/pci.c); a fixture's FIFO stands in for the held lock.
 */
int gh_fs_read_locked_attr(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...) GH_FMT(4, 5);
/* A sysfs number such as "0x10de\n" or "14\n". 0 or -errno (-EINVAL: not a number). */
int gh_fs_read_ulong(const struct gh_ctx *ctx, unsigned long *val, const char *fmt, ...) GH_FMT(3, 4);
/* The link's target text. Length or -errno. */
int gh_fs_readlink(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...) GH_FMT(4, 5);
/* The last component of the link's target ("nvidia" for driver links). */
int gh_fs_link_base(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...) GH_FMT(4, 5);
/* 1 exists (lstat), 0 does not, -errno otherwise. */
int gh_fs_exists(const struct gh_ctx *ctx, const char *fmt, ...) GH_FMT(2, 3);
int gh_fs_stat(const struct gh_ctx *ctx, struct stat *st, const char *fmt, ...) GH_FMT(3, 4);
/*
 * A directory read with getdents64 itself: opendir() costs an fstat and two
 * fcntl calls more per directory, and a holder scan opens one per process
 * (each syscall is what a scan costs; see tests/bench/handoff).
 */
struct gh_fs_dir {
	int fd;
	size_t pos, len;
	bool whole;	/* sysfs or procfs: a short read was the last (gh_fs_dir_open) */
	bool end;
	char buf[8192] __attribute__((aligned(8)));
};
/*
 * 0, or -errno with d->fd -1 (nothing to close). A directory of the
 * context's /sys or /proc under the real root is sysfs or procfs, whose
 * readdir fills the buffer until an entry does not fit (kernfs_fop_readdir,
 * proc_pid_readdir, proc_readfd_common): there a read that left room for
 * any entry (NAME_MAX) is the last, and the read that would answer 0 is not
 * made (d->whole). That is one system call less per directory, per process
 * in a holder scan. Not on a fixture root, nor for other filesystems: FUSE
 * (pmxcfs) and NFS answer part of a directory at a time.
 */
int gh_fs_dir_open(const struct gh_ctx *ctx, struct gh_fs_dir *d, const char *fmt, ...) GH_FMT(3, 4);
/* The next entry but "." and "..": 1 with *name (valid until the next call) and *type (DT_*), 0 at the end, -errno. */
int gh_fs_dir_next(struct gh_fs_dir *d, const char **name, unsigned char *type);
void gh_fs_dir_close(struct gh_fs_dir *d);
/*
 * Names in a directory, without "." and "..", sorted (strverscmp, so
 * vtcon2 < vtcon10). Missing directory: 0 and an empty list.
 */
int gh_fs_list(const struct gh_ctx *ctx, struct gh_strv *out, const char *fmt, ...) GH_FMT(3, 4);

/*
 * /proc/<pid>/<name> of a process of gpu-hook's own (the phase's worker)
 * from the running kernel, whatever the root: a fixture tree has no such
 * process. Bounded by buf, quietly; 0.. bytes or -errno.
 */
int gh_fs_read_own_proc(pid_t pid, const char *name, char *buf, size_t size);
/*
 * One entry of a directory opened through this seam (gh_fs_open with
 * O_DIRECTORY): name is a single component, never "." or "..", and an entry
 * that is a symlink is not followed (ELOOP; readlinkat reads it), so what is
 * opened stays where the directory is. A scan over many entries walks the
 * root and the directory's path once, not once per entry, and every entry
 * comes from the same directory even if its path is reused meanwhile (a
 * pid that exits and is recycled). Same returns as the path versions;
 * -EINVAL for a name that is not one component. gh_fs_openat for reading
 * only (not O_DIRECTORY) opens an input: a regular file, never blocking.
 * These serve the kernel's own directories (/proc/<pid>, sysfs), whose files
 * ignore O_NONBLOCK (it is left set) and show a small file whole at the
 * first read (gh_fs_read_strat stops at a short read). A directory opened
 * or listed here is read as gh_fs_dir_open reads the context's /sys and
 * /proc: the context says whether that is the real root.
 */
int gh_fs_openat(int dfd, int flags, const char *name);
int gh_fs_dir_openat(const struct gh_ctx *ctx, struct gh_fs_dir *d, int dfd, const char *name);
int gh_fs_readlinkat(int dfd, const char *name, char *buf, size_t size);
/* gh_fs_link_base and gh_fs_list for an entry of such a directory. */
int gh_fs_link_baseat(int dfd, const char *name, char *buf, size_t size);
int gh_fs_listat(const struct gh_ctx *ctx, int dfd, const char *name, struct gh_strv *out);
/* The link dir/name in dfd, both single components: one lookup where opening dir first would take three calls. */
int gh_fs_readlinkat2(int dfd, const char *dir, const char *name, char *buf, size_t size);
int gh_fs_read_strat(int dfd, const char *name, char *buf, size_t size);
/*
 * gh_fs_read_strat for a directory of the context's /sys or /proc/<pid>
 * (opened through this seam): under the real root without the type check,
 * as gh_fs_read_str (see KERNEL_FS in fs.c).
 */
int gh_fs_read_attr(const struct gh_ctx *ctx, int dfd, const char *name, char *buf, size_t size);
/* gh_fs_openat of such a file for reading, the same way. */
int gh_fs_open_attr(const struct gh_ctx *ctx, int dfd, const char *name);
/*
 * What an entry leads to, its final link followed (an /proc/<pid>/fd/<n>
 * entry: the open file itself). Cached attributes only (AT_STATX_DONT_SYNC):
 * a FUSE or NFS file behind a dead server answers instead of hanging the scan.
 */
int gh_fs_statat(int dfd, const char *name, struct stat *st);

/*
 * An existing attribute, written with one write() (sysfs takes a value per
 * write; a short write is an error). 0 or -errno.
 */
int gh_fs_write_attr(const struct gh_ctx *ctx, const char *value, const char *fmt, ...) GH_FMT(3, 4);
/* A regular file created or truncated (O_NOFOLLOW), mode 0644. 0 or -errno. */
int gh_fs_write_file(const struct gh_ctx *ctx, const char *value, const char *fmt, ...) GH_FMT(3, 4);
/*
 * dir/name replaced whole: written to dir/.name.tmp (O_EXCL, O_NOFOLLOW, mode
 * 0600), then renamed over it, so a reader sees the old file or the new one,
 * never a part. With sync the data and then the directory entry are
 * fsync'ed before it returns. 0 or -errno.
 */
int gh_fs_write_atomic(const struct gh_ctx *ctx, const char *dir, const char *name, const char *text, size_t len,
		       bool sync);
/* The same without sync, and the new file stays open: its descriptor (O_RDWR, O_CLOEXEC) or -errno. */
int gh_fs_write_atomic_open(const struct gh_ctx *ctx, const char *dir, const char *name, const char *text,
			    size_t len);
int gh_fs_symlink(const struct gh_ctx *ctx, const char *target, const char *fmt, ...) GH_FMT(3, 4);
/* unlink or rmdir; -ENOENT passes through. */
int gh_fs_remove(const struct gh_ctx *ctx, const char *fmt, ...) GH_FMT(2, 3);
/* A tree removed depth-first (never following links). */
int gh_fs_remove_tree(const struct gh_ctx *ctx, const char *fmt, ...) GH_FMT(2, 3);
/* mkdir -p with mode. */
int gh_fs_mkdir(const struct gh_ctx *ctx, unsigned mode, const char *fmt, ...) GH_FMT(3, 4);

#endif
