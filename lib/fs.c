/* SPDX-License-Identifier: MIT */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int vpath(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t rlen = strlen(ctx->root);
	int n;

	if (rlen >= size)
		return -ENAMETOOLONG;
	memcpy(buf, ctx->root, rlen);
	n = vsnprintf(buf + rlen, size - rlen, fmt, ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size - rlen)
		return -ENAMETOOLONG;
	/* System paths are absolute; "..", which could leave the root, is never one. */
	if (buf[rlen] != '/' || strstr(buf + rlen, "/../") || !strcmp(buf + rlen + n - (n >= 3 ? 3 : n), "/.."))
		return -EINVAL;
	return 0;
}

#define WITH_PATH(p, fmt, errret)                                       \
	char p[PATH_MAX];                                               \
	do {                                                            \
		va_list ap_;                                            \
		int r_;                                                 \
		va_start(ap_, fmt);                                     \
		r_ = vpath(ctx, p, sizeof(p), fmt, ap_);                \
		va_end(ap_);                                            \
		if (r_ < 0) {                                           \
			errno = -r_;                                    \
			return errret;                                  \
		}                                                       \
	} while (0)

int gh_fs_path(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vpath(ctx, buf, size, fmt, ap);
	va_end(ap);
	return r;
}

int gh_fs_open(const struct gh_ctx *ctx, int flags, const char *fmt, ...)
{
	int fd;
	WITH_PATH(p, fmt, -errno);

	fd = open(p, flags | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

FILE *gh_fs_fopen(const struct gh_ctx *ctx, const char *fmt, ...)
{
	WITH_PATH(p, fmt, NULL);
	return fopen(p, "re");
}

static int read_fd_str(int fd, char *buf, size_t size)
{
	size_t off = 0;

	if (!size)
		return -EINVAL;
	for (;;) {
		ssize_t n = read(fd, buf + off, size - off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		off += (size_t)n;
		if (off == size)
			return -EFBIG;
	}
	if (off && buf[off - 1] == '\n')
		off--;
	buf[off] = '\0';
	return (int)off;
}

static int read_str_at(int dfd, const char *path, int flags, char *buf, size_t size)
{
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | flags), r;

	if (fd < 0)
		return -errno;
	r = read_fd_str(fd, buf, size);
	close(fd);
	return r;
}

int gh_fs_read_str(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return read_str_at(AT_FDCWD, p, 0, buf, size);
}

int gh_fs_read_ulong(const struct gh_ctx *ctx, unsigned long *val, const char *fmt, ...)
{
	char buf[64];
	int fd, r;
	WITH_PATH(p, fmt, -errno);

	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	r = read_fd_str(fd, buf, sizeof(buf));
	close(fd);
	if (r < 0)
		return r;
	return gh_util_parse_ulong(gh_util_trim(buf), 0, (unsigned long)-1, val) < 0 ? -EINVAL : 0;
}

static int readlink_at(int dfd, const char *path, char *buf, size_t size)
{
	ssize_t n;

	if (!size)
		return -EINVAL;
	n = readlinkat(dfd, path, buf, size);
	if (n < 0)
		return -errno;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	return (int)n;
}

int gh_fs_readlink(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return readlink_at(AT_FDCWD, p, buf, size);
}

int gh_fs_link_base(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	char target[PATH_MAX];
	const char *base;
	ssize_t n;
	WITH_PATH(p, fmt, -errno);

	n = readlink(p, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (gh_util_copy(buf, size, base) < 0)
		return -ENAMETOOLONG;
	return (int)strlen(buf);
}

int gh_fs_exists(const struct gh_ctx *ctx, const char *fmt, ...)
{
	struct stat st;
	WITH_PATH(p, fmt, -errno);

	if (lstat(p, &st) == 0)
		return 1;
	return (errno == ENOENT || errno == ENOTDIR) ? 0 : -errno;
}

int gh_fs_stat(const struct gh_ctx *ctx, struct stat *st, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return stat(p, st) < 0 ? -errno : 0;
}

static DIR *opendir_at(int dfd, const char *path, int flags)
{
	int fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

DIR *gh_fs_opendir(const struct gh_ctx *ctx, const char *fmt, ...)
{
	WITH_PATH(p, fmt, NULL);
	return opendir_at(AT_FDCWD, p, 0);
}

static bool one_component(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

int gh_fs_openat(int dfd, int flags, const char *name)
{
	int fd;

	if (!one_component(name))
		return -EINVAL;
	fd = openat(dfd, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd < 0 ? -errno : fd;
}

DIR *gh_fs_opendirat(int dfd, const char *name)
{
	if (!one_component(name)) {
		errno = EINVAL;
		return NULL;
	}
	return opendir_at(dfd, name, O_NOFOLLOW);
}

int gh_fs_readlinkat(int dfd, const char *name, char *buf, size_t size)
{
	return one_component(name) ? readlink_at(dfd, name, buf, size) : -EINVAL;
}

int gh_fs_read_strat(int dfd, const char *name, char *buf, size_t size)
{
	return one_component(name) ? read_str_at(dfd, name, O_NOFOLLOW, buf, size) : -EINVAL;
}

int gh_fs_statat(int dfd, const char *name, struct stat *st)
{
	struct statx sx;

	if (!one_component(name))
		return -EINVAL;
	if (statx(dfd, name, AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MODE | STATX_INO, &sx) < 0) {
		if (errno != ENOSYS)
			return -errno;
		return fstatat(dfd, name, st, 0) < 0 ? -errno : 0;
	}
	memset(st, 0, sizeof(*st));
	st->st_mode = sx.stx_mode;
	st->st_ino = sx.stx_ino;
	st->st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	st->st_rdev = makedev(sx.stx_rdev_major, sx.stx_rdev_minor);
	return 0;
}

int gh_fs_list(const struct gh_ctx *ctx, struct gh_strv *out, const char *fmt, ...)
{
	struct dirent *de;
	DIR *d;
	int fd, r = 0;
	WITH_PATH(p, fmt, -errno);

	fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return (errno == ENOENT || errno == ENOTDIR) ? 0 : -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = gh_strv_push(out, de->d_name);
		if (r < 0)
			break;
	}
	closedir(d);
	gh_strv_sort(out);
	return r;
}

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
	size_t rlen = strlen(ctx->root);
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
