/* SPDX-License-Identifier: MIT */
/* The seam's writing side: sysfs attributes, files, links, removal and directories under the root. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fs-int.h"

/* One write() of the whole value, then close: a short write is an error. */
static int write_once(int fd, const char *value)
{
	size_t len = strlen(value);
	ssize_t n;
	int r = 0;

	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	return r;
}

int gh_fs_write_attr(const struct gh_ctx *ctx, const char *value, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return write_once(open(p, O_WRONLY | O_CLOEXEC | O_NOCTTY), value);
}

int gh_fs_write_file(const struct gh_ctx *ctx, const char *value, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return write_once(open(p, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0644), value);
}

/*
 * text into dir/.name.tmp, renamed over dir/name: the descriptor open on it
 * (O_RDWR) for keep, else closed. A temporary file left by a run killed
 * between its open and its rename is removed first, and only then.
 */
static int write_renamed(const struct gh_ctx *ctx, const char *dir, const char *name, const char *text, size_t len,
			 bool sync, bool keep)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	ssize_t n;
	int fd, r;

	r = gh_fs_path(ctx, tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	if (r >= 0)
		r = gh_fs_path(ctx, dst, sizeof(dst), "%s/%s", dir, name);
	if (r < 0)
		return r;
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST) {
		unlink(tmp);
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0 || (size_t)n != len)
		r = n < 0 ? -errno : -ENOSPC;
	else if (sync && fsync(fd) < 0)
		r = -errno;
	if (!keep) {
		if (close(fd) < 0 && r >= 0)
			r = -errno;
		fd = -1;
	}
	if (r >= 0 && rename(tmp, dst) < 0)
		r = -errno;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return r;
	}
	return keep ? fd : 0;
}

int gh_fs_write_atomic(const struct gh_ctx *ctx, const char *dir, const char *name, const char *text, size_t len,
		       bool sync)
{
	int dfd, r = write_renamed(ctx, dir, name, text, len, sync, false);

	if (r < 0 || !sync)
		return r;
	dfd = gh_fs_open(ctx, O_RDONLY | O_DIRECTORY, "%s", dir);
	if (dfd < 0)
		return dfd;
	if (fsync(dfd) < 0)
		r = -errno;
	close(dfd);
	return r;
}

int gh_fs_write_atomic_open(const struct gh_ctx *ctx, const char *dir, const char *name, const char *text,
			    size_t len)
{
	return write_renamed(ctx, dir, name, text, len, false, true);
}

int gh_fs_symlink(const struct gh_ctx *ctx, const char *target, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return symlink(target, p) < 0 ? -errno : 0;
}

int gh_fs_remove(const struct gh_ctx *ctx, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return remove(p) < 0 ? -errno : 0;
}

static int remove_tree_at(int dfd, const char *name)
{
	struct stat st;
	int r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct dirent *de;
		DIR *d;

		if (fd < 0)
			return -errno;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		while ((de = readdir(d)) && r >= 0)
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				r = remove_tree_at(dirfd(d), de->d_name);
		closedir(d);
		if (r < 0)
			return r;
		return unlinkat(dfd, name, AT_REMOVEDIR) < 0 ? -errno : 0;
	}
	return unlinkat(dfd, name, 0) < 0 ? -errno : 0;
}

int gh_fs_remove_tree(const struct gh_ctx *ctx, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return remove_tree_at(AT_FDCWD, p);
}

int gh_fs_mkdir(const struct gh_ctx *ctx, unsigned mode, const char *fmt, ...)
{
	size_t rlen = strlen(gh_ctx_root(ctx));
	WITH_PATH(p, fmt, -errno);

	/* Components of the root itself are never created here. */
	for (char *c = p + rlen + 1; *c; c++) {
		if (*c != '/')
			continue;
		*c = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*c = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
