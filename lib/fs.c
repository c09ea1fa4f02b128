/* SPDX-License-Identifier: MIT */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs-int.h"

/* The largest record getdents64 gives for a name of NAME_MAX bytes, 8-aligned. */
#define DIRENT_MAX ((offsetof(struct dirent64, d_name) + NAME_MAX + 1 + 7) & ~(size_t)7)

int gh_fs_vpath(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, va_list ap)
{
	size_t rlen = strlen(gh_ctx_root(ctx));
	int n;

	if (rlen >= size)
		return -ENAMETOOLONG;
	memcpy(buf, gh_ctx_root(ctx), rlen);
	n = gh_util_vformat(buf + rlen, size - rlen, fmt, ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size - rlen)
		return -ENAMETOOLONG;
	/* System paths are absolute; "..", which could leave the root, is never one. */
	if (buf[rlen] != '/' || strstr(buf + rlen, "/../") || !strcmp(buf + rlen + n - (n >= 3 ? 3 : n), "/.."))
		return -EINVAL;
	return 0;
}

int gh_fs_path(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = gh_fs_vpath(ctx, buf, size, fmt, ap);
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

static const char *type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "fifo";
	case S_IFCHR:
		return "character device";
	case S_IFBLK:
		return "block device";
	case S_IFSOCK:
		return "socket";
	case S_IFDIR:
		return "directory";
	case S_IFLNK:
		return "symbolic link";
	default:
		return "unknown type";
	}
}

/* ctx NULL: the caller reports (the quiet sysfs helpers). Absence is always the caller's to report. */
#define INPUT_ERR(ctx, r, ...)                                                  \
	do {                                                                    \
		if ((ctx) && (r) != -ENOENT && (r) != -ESRCH)                   \
			gh_err((ctx), __VA_ARGS__);                             \
	} while (0)

/*
 * A sysfs attribute or a /proc/<pid> file: kernfs and procfs show one of
 * these whole at the first read (a single seq_file record, sized to fit) and
 * ignore O_NONBLOCK, so a short read is the end and the flag stays.
 */
#define KERNFS 0x100u
/*
 * Such a file under the real root ("" in the context), where /sys and /proc
 * are the kernel's own sysfs and procfs: they hold only regular files,
 * directories and links (kernfs_node, proc_dir_entry), so the type check is
 * left out. It is an fstat() per attribute, about a third of a read's cost
 * under TCG (kernfs_iop_getattr takes the kernfs rwsem). A directory still
 * fails at read() (EISDIR); a fixture root keeps the check.
 */
#define KERNEL_FS 0x200u

/*
 * The one way a file is opened for reading. O_NONBLOCK because open() of a
 * FIFO blocks until a writer comes (and a link to /dev/zero never ends a
 * read): nothing but a regular file is read, and O_NONBLOCK is then cleared
 * again because FUSE daemons (pmxcfs under /etc/pve) may honour it on read().
 * Without GH_FS_FOLLOW a link at the last component is refused (O_NOFOLLOW),
 * not followed. name is the system path, for messages.
 */
static int open_input(const struct gh_ctx *ctx, int dfd, const char *path, const char *name, unsigned flags,
		      struct stat *st)
{
	struct stat lst;
	int fd, r;

	fd = openat(dfd, path,
		    O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | ((flags & GH_FS_FOLLOW) ? 0 : O_NOFOLLOW));
	if (fd < 0) {
		r = -errno;
		if (r == -ELOOP && !(flags & GH_FS_FOLLOW) && fstatat(dfd, path, &lst, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(lst.st_mode))
			INPUT_ERR(ctx, r, "%s: a symbolic link, not followed: put the file itself there", name);
		else
			INPUT_ERR(ctx, r, "%s: %s", name, strerror(-r));
		return r;
	}
	if (flags & KERNEL_FS)
		return fd;
	if (fstat(fd, st) < 0) {
		r = -errno;
		INPUT_ERR(ctx, r, "%s: %s", name, strerror(-r));
		close(fd);
		return r;
	}
	if (!S_ISREG(st->st_mode)) {
		r = S_ISDIR(st->st_mode) ? -EISDIR : -EMEDIUMTYPE;
		INPUT_ERR(ctx, r, "%s: not a regular file (%s)", name, type_name(st->st_mode));
		close(fd);
		return r;
	}
	/* Of the flags F_SETFL changes, O_NONBLOCK is the only one set above. */
	if (!(flags & KERNFS) && fcntl(fd, F_SETFL, 0) < 0) {
		r = -errno;
		INPUT_ERR(ctx, r, "%s: %s", name, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}

/*
 * At most max bytes, read, never taken from st_size: /proc and sysfs files
 * say 0 or 4096 whatever they hold. -EFBIG when more remains.
 */
static int read_capped(int fd, size_t max, char **data, size_t *len)
{
	size_t cap = max < 4095 ? max + 1 : 4096, off = 0;
	char *buf = malloc(cap + 1), *b;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (off == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap = cap > max / 2 ? max + 1 : cap * 2;
			b = realloc(buf, cap + 1);
			if (!b) {
				free(buf);
				return -ENOMEM;
			}
			buf = b;
		}
		n = read(fd, buf + off, cap - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			free(buf);
			return r;
		}
		if (n == 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	*data = buf;
	*len = off;
	return 0;
}

static int vread_input(const struct gh_ctx *ctx, unsigned flags, size_t max, char **data, size_t *len,
		       struct stat *st, const char *fmt, va_list ap) GH_FMT(7, 0);

static int vread_input(const struct gh_ctx *ctx, unsigned flags, size_t max, char **data, size_t *len,
		       struct stat *st, const char *fmt, va_list ap)
{
	char p[PATH_MAX];
	const char *name = p + strlen(gh_ctx_root(ctx));
	struct stat sb;
	int fd, r;

	*data = NULL;
	*len = 0;
	r = gh_fs_vpath(ctx, p, sizeof(p), fmt, ap);
	if (r < 0) {
		gh_err(ctx, "%s: bad path: %s", fmt, strerror(-r));
		return r;
	}
	fd = open_input(ctx, AT_FDCWD, p, name, flags, st ? st : &sb);
	if (fd < 0)
		return fd;
	r = read_capped(fd, max, data, len);
	close(fd);
	if (r == -EFBIG)
		gh_err(ctx, "%s: larger than %zu bytes", name, max);
	else if (r < 0)
		INPUT_ERR(ctx, r, "%s: %s", name, strerror(-r));
	return r;
}

int gh_fs_read_input(const struct gh_ctx *ctx, unsigned flags, size_t max, char **data, size_t *len,
		     struct stat *st, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vread_input(ctx, flags, max, data, len, st, fmt, ap);
	va_end(ap);
	return r;
}

/* A read-only stream over a buffer it owns: the parsers take a FILE. */
struct membuf {
	char *data;
	size_t len, pos;
};

static ssize_t membuf_read(void *cookie, char *buf, size_t size)
{
	struct membuf *m = cookie;
	size_t n = m->len - m->pos < size ? m->len - m->pos : size;

	memcpy(buf, m->data + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static int membuf_close(void *cookie)
{
	struct membuf *m = cookie;

	free(m->data);
	free(m);
	return 0;
}

FILE *gh_fs_fopen_input(const struct gh_ctx *ctx, unsigned flags, size_t max, struct stat *st, const char *fmt, ...)
{
	static const cookie_io_functions_t io = { .read = membuf_read, .close = membuf_close };
	struct membuf *m = calloc(1, sizeof(*m));
	va_list ap;
	FILE *f;
	int r;

	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	va_start(ap, fmt);
	r = vread_input(ctx, flags, max, &m->data, &m->len, st, fmt, ap);
	va_end(ap);
	if (r < 0) {
		free(m);
		errno = -r;
		return NULL;
	}
	f = fopencookie(m, "r", io);
	if (!f) {
		r = errno;
		membuf_close(m);
		gh_err(ctx, "%s: %s", fmt, strerror(r));
		errno = r;
	}
	return f;
}

FILE *gh_fs_fopen(const struct gh_ctx *ctx, const char *fmt, ...)
{
	struct stat st;
	FILE *f;
	int fd;
	WITH_PATH(p, fmt, NULL);

	fd = open_input(NULL, AT_FDCWD, p, p, GH_FS_FOLLOW, &st);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return f;
}


static int read_fd_str(int fd, char *buf, size_t size, bool kernfs)
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
		if (kernfs)
			break;
	}
	if (off && buf[off - 1] == '\n')
		off--;
	buf[off] = '\0';
	return (int)off;
}

static int read_str_at(int dfd, const char *path, unsigned flags, char *buf, size_t size)
{
	struct stat st;
	int fd = open_input(NULL, dfd, path, path, flags, &st), r;

	if (fd < 0)
		return fd;
	r = read_fd_str(fd, buf, size, flags & KERNFS);
	close(fd);
	return r;
}

/* How a file of the context's /sys or /proc/<pid> is read (see KERNFS, KERNEL_FS). */
static unsigned kernel_dir(const struct gh_ctx *ctx)
{
	return gh_ctx_root(ctx)[0] ? KERNFS : KERNFS | KERNEL_FS;
}

/* p as the system names it, without the context's root. */
static const char *system_path(const struct gh_ctx *ctx, const char *p)
{
	return p + strlen(gh_ctx_root(ctx));
}

/* A system path the kernel serves (see KERNFS), by its name: "/sys/..." or "/proc/<pid>/...". */
static unsigned kernfs_path(const struct gh_ctx *ctx, const char *p)
{
	const char *sys = system_path(ctx, p);

	if (strncmp(sys, "/sys/", 5) && (strncmp(sys, "/proc/", 6) || sys[6] < '0' || sys[6] > '9'))
		return 0;
	return kernel_dir(ctx);
}

int gh_fs_read_str(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return read_str_at(AT_FDCWD, p, GH_FS_FOLLOW | kernfs_path(ctx, p), buf, size);
}

int gh_fs_read_locked_attr(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	int fd, r;
	WITH_PATH(p, fmt, -errno);

	/* A plain blocking open and read, as the kernel's attribute would make any reader wait. */
	fd = open(p, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	r = read_fd_str(fd, buf, size, false);
	close(fd);
	return r;
}

int gh_fs_read_ulong(const struct gh_ctx *ctx, unsigned long *val, const char *fmt, ...)
{
	char buf[64];
	int r;
	WITH_PATH(p, fmt, -errno);

	r = read_str_at(AT_FDCWD, p, GH_FS_FOLLOW | kernfs_path(ctx, p), buf, sizeof(buf));
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

/* The last component of the link at path in dfd ("../../bus/pci/drivers/nvidia": "nvidia"). */
static int link_base_at(int dfd, const char *path, char *buf, size_t size)
{
	char target[PATH_MAX];
	const char *base;
	int r = readlink_at(dfd, path, target, sizeof(target));

	if (r < 0)
		return r;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (gh_util_copy(buf, size, base) < 0)
		return -ENAMETOOLONG;
	return (int)strlen(buf);
}

int gh_fs_link_base(const struct gh_ctx *ctx, char *buf, size_t size, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return link_base_at(AT_FDCWD, p, buf, size);
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

static int dir_open_at(struct gh_fs_dir *d, int dfd, const char *path, int flags)
{
	d->pos = d->len = 0;
	d->whole = d->end = false;
	d->fd = openat(dfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | flags);
	return d->fd < 0 ? -errno : 0;
}

/* A directory of the context's /sys or /proc under the real root: sysfs or procfs (see gh_fs_dir_open). */
static bool kernel_listing(const struct gh_ctx *ctx, const char *p)
{
	const char *sys = system_path(ctx, p);

	return (kernel_dir(ctx) & KERNEL_FS) &&
	       (!strncmp(sys, "/sys/", 5) || !strcmp(sys, "/proc") || !strncmp(sys, "/proc/", 6));
}

int gh_fs_dir_open(const struct gh_ctx *ctx, struct gh_fs_dir *d, const char *fmt, ...)
{
	int r;

	d->fd = -1;
	WITH_PATH(p, fmt, -errno);
	r = dir_open_at(d, AT_FDCWD, p, 0);
	d->whole = kernel_listing(ctx, p);
	return r;
}

int gh_fs_dir_next(struct gh_fs_dir *d, const char **name, unsigned char *type)
{
	for (;;) {
		const struct dirent64 *de;

		if (d->pos >= d->len) {
			ssize_t n;

			if (d->end)
				return 0;
			n = getdents64(d->fd, d->buf, sizeof(d->buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return n < 0 ? -errno : 0;
			d->len = (size_t)n;
			d->pos = 0;
			d->end = d->whole && d->len + DIRENT_MAX <= sizeof(d->buf);
		}
		de = (const struct dirent64 *)(d->buf + d->pos);
		d->pos += de->d_reclen;
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		*name = de->d_name;
		*type = de->d_type;
		return 1;
	}
}

void gh_fs_dir_close(struct gh_fs_dir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

static bool one_component(const char *name)
{
	return name[0] && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

int gh_fs_openat(int dfd, int flags, const char *name)
{
	int fd;

	struct stat st;

	if (!one_component(name))
		return -EINVAL;
	/* A file opened for reading only is an input: regular, never blocking. */
	if ((flags & O_ACCMODE) == O_RDONLY && !(flags & (O_DIRECTORY | O_CREAT | O_PATH)))
		return open_input(NULL, dfd, name, name, KERNFS, &st);
	fd = openat(dfd, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
	return fd < 0 ? -errno : fd;
}

int gh_fs_dir_openat(const struct gh_ctx *ctx, struct gh_fs_dir *d, int dfd, const char *name)
{
	int r;

	d->fd = -1;
	if (!one_component(name))
		return -EINVAL;
	r = dir_open_at(d, dfd, name, O_NOFOLLOW);
	d->whole = kernel_dir(ctx) & KERNEL_FS;
	return r;
}

int gh_fs_readlinkat(int dfd, const char *name, char *buf, size_t size)
{
	return one_component(name) ? readlink_at(dfd, name, buf, size) : -EINVAL;
}

int gh_fs_link_baseat(int dfd, const char *name, char *buf, size_t size)
{
	return one_component(name) ? link_base_at(dfd, name, buf, size) : -EINVAL;
}

int gh_fs_readlinkat2(int dfd, const char *dir, const char *name, char *buf, size_t size)
{
	char path[NAME_MAX + 2 + NAME_MAX];

	if (!one_component(dir) || !one_component(name) ||
	    snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -EINVAL;
	return readlink_at(dfd, path, buf, size);
}

int gh_fs_read_own_proc(pid_t pid, const char *name, char *buf, size_t size)
{
	char p[64];

	if (pid <= 0 || !one_component(name) || snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, name) >= (int)sizeof(p))
		return -EINVAL;
	return read_str_at(AT_FDCWD, p, KERNFS, buf, size);
}

int gh_fs_read_strat(int dfd, const char *name, char *buf, size_t size)
{
	return one_component(name) ? read_str_at(dfd, name, KERNFS, buf, size) : -EINVAL;
}

int gh_fs_read_attr(const struct gh_ctx *ctx, int dfd, const char *name, char *buf, size_t size)
{
	return one_component(name) ? read_str_at(dfd, name, kernel_dir(ctx), buf, size) : -EINVAL;
}

int gh_fs_open_attr(const struct gh_ctx *ctx, int dfd, const char *name)
{
	struct stat st;

	return one_component(name) ? open_input(NULL, dfd, name, name, kernel_dir(ctx), &st) : -EINVAL;
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

/* whole: see gh_fs_dir_open. */
static int list_at(int dfd, const char *path, int flags, bool whole, struct gh_strv *out)
{
	struct gh_fs_dir d;
	const char *name = NULL;
	unsigned char type;
	int r;

	r = dir_open_at(&d, dfd, path, flags);
	if (r < 0)
		return (r == -ENOENT || r == -ENOTDIR) ? 0 : r;
	d.whole = whole;
	/*
	 * A listing that fails part way ends there, with what it had: the task
	 * list of a process that exits meanwhile answers ENOENT (proc_task_readdir).
	 */
	while (gh_fs_dir_next(&d, &name, &type) > 0) {
		r = gh_strv_push(out, name);
		if (r < 0)
			break;
	}
	gh_fs_dir_close(&d);
	gh_strv_sort(out);
	return r;
}

int gh_fs_list(const struct gh_ctx *ctx, struct gh_strv *out, const char *fmt, ...)
{
	WITH_PATH(p, fmt, -errno);
	return list_at(AT_FDCWD, p, 0, kernel_listing(ctx, p), out);
}

int gh_fs_listat(const struct gh_ctx *ctx, int dfd, const char *name, struct gh_strv *out)
{
	return one_component(name) ? list_at(dfd, name, O_NOFOLLOW, kernel_dir(ctx) & KERNEL_FS, out) : -EINVAL;
}
