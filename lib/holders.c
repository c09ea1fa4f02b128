/* SPDX-License-Identifier: MIT */
#include "holders.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs.h"
#include "pciid.h"
#include "services.h"

/* PID_MAX_LIMIT on 64-bit kernels. */
#define PID_MAX 4194304UL
/* One line buffer for the whole scan: a maps line is at most PATH_MAX plus ~100 bytes. */
#define LINE_BUF ((size_t)64 * 1024)

struct scan {
	struct gh_ctx *ctx;
	const struct gh_holder_node *node;
	unsigned n_node;
	unsigned n_mappable;	/* nodes with an inode in /dev */
	bool *mapped;		/* per node: already listed as "(mmap)" for this pid */
	char *buf;		/* LINE_BUF bytes */
	unsigned cap;		/* allocated entries of out->v */
	struct gh_holder_set *out;
};

/* A buffered line reader over an fd, with the scan's single buffer. */
struct lines {
	int fd;
	char *buf;
	size_t start, end;
	bool eof, skip;
};

/* The next line, NUL-terminated in place, or NULL at the end (*err: 0 or -errno). Overlong lines are dropped. */
static char *lines_next(struct lines *l, int *err)
{
	*err = 0;
	for (;;) {
		char *nl = memchr(l->buf + l->start, '\n', l->end - l->start);
		ssize_t n;

		if (nl) {
			char *line = l->buf + l->start;

			*nl = '\0';
			l->start = (size_t)(nl - l->buf) + 1;
			if (l->skip) {
				l->skip = false;
				continue;
			}
			return line;
		}
		if (l->eof) {
			char *line = l->buf + l->start;

			if (l->skip || l->start == l->end)
				return NULL;
			l->buf[l->end] = '\0';
			l->start = l->end;
			return line;
		}
		if (l->start) {
			memmove(l->buf, l->buf + l->start, l->end - l->start);
			l->end -= l->start;
			l->start = 0;
		}
		if (l->end == LINE_BUF - 1) {
			l->skip = true;
			l->end = 0;
		}
		do
			n = read(l->fd, l->buf + l->end, LINE_BUF - 1 - l->end);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			*err = -errno;
			return NULL;
		}
		if (n == 0)
			l->eof = true;
		l->end += (size_t)n;
	}
}

static bool vanished(int r)
{
	return r == -ENOENT || r == -ESRCH;
}

static bool denied(int r)
{
	return r == -EACCES || r == -EPERM;
}

/* The node an open file is, or NULL. */
static const struct gh_holder_node *node_of_file(const struct scan *s, const struct stat *st)
{
	if (!S_ISCHR(st->st_mode))
		return NULL;
	for (unsigned i = 0; i < s->n_node; i++)
		if (s->node[i].rdev == st->st_rdev)
			return &s->node[i];
	return NULL;
}

static int add_path(struct gh_holder *h, const char *path, const char *how, bool dedupe)
{
	char buf[PATH_MAX + 32];

	if (gh_util_format(buf, sizeof(buf), "%s (%s)", path, how) < 0)
		return 0;
	return dedupe ? gh_strv_add(&h->paths, buf) : gh_strv_push(&h->paths, buf);
}

static int scan_fds(struct scan *s, int pfd, const char *pid, struct gh_holder *h)
{
	struct gh_ctx *ctx = s->ctx;
	struct dirent *de;
	int r = 0;
	DIR *d;

	d = gh_fs_opendirat(pfd, "fd");
	if (!d) {
		r = -errno;
		if (vanished(r))
			return 0;
		if (denied(r)) {
			gh_dbg(ctx, "/proc/%s/fd: %s: skipped", pid, strerror(-r));
			return 0;
		}
		gh_err(ctx, "cannot list /proc/%s/fd: %s", pid, strerror(-r));
		return r;
	}
	for (;;) {
		const struct gh_holder_node *node;
		struct stat st;
		char how[32];
		int n;

		errno = 0;
		de = readdir(d);
		if (!de) {
			/* A process that exits while listed ends its listing with ENOENT. */
			if (errno && !vanished(-errno)) {
				r = -errno;
				gh_err(ctx, "cannot list /proc/%s/fd: %s", pid, strerror(-r));
			}
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		/* The open file itself, whatever path its mount namespace shows for it. */
		n = gh_fs_statat(dirfd(d), de->d_name, &st);
		if (n < 0) {
			/*
			 * Closed meanwhile; a fixture's link to nothing; a file whose
			 * filesystem cannot say (an open device node never fails so).
			 */
			if (!vanished(n))
				gh_dbg(ctx, "/proc/%s/fd/%s: %s: skipped", pid, de->d_name, strerror(-n));
			continue;
		}
		node = node_of_file(s, &st);
		if (!node)
			continue;
		if (gh_util_format(how, sizeof(how), "fd %s", de->d_name) < 0)
			continue;
		r = add_path(h, node->path, how, false);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/*
 * "addr perms offset dev inode   path": the device (hex major:minor) and inode
 * of the mapped file. false for a line without them or with inode 0 (anonymous).
 */
static bool maps_id(const char *line, dev_t *dev, unsigned long long *ino)
{
	unsigned long maj, min;
	const char *p = line;
	char *end;

	for (int f = 0; f < 3; f++) {
		p += strspn(p, " \t");
		p += strcspn(p, " \t");
	}
	p += strspn(p, " \t");
	if (!isxdigit((unsigned char)*p))
		return false;
	maj = strtoul(p, &end, 16);
	if (*end != ':' || !isxdigit((unsigned char)end[1]))
		return false;
	min = strtoul(end + 1, &end, 16);
	if (*end != ' ' && *end != '\t')
		return false;
	end += strspn(end, " \t");
	if (!isdigit((unsigned char)*end))
		return false;
	*ino = strtoull(end, &end, 10);
	if ((*end && *end != ' ' && *end != '\t') || !*ino)
		return false;
	*dev = makedev(maj, min);
	return true;
}

/* An mmap pins the device after its fd is closed. */
static int scan_maps(struct scan *s, int pfd, const char *pid, struct gh_holder *h)
{
	struct gh_ctx *ctx = s->ctx;
	struct lines l = { .buf = s->buf };
	unsigned found = 0;
	char *line;
	int r = 0, err = 0;

	if (!s->n_mappable)
		return 0;
	l.fd = gh_fs_openat(pfd, O_RDONLY | O_NOCTTY, "maps");
	if (l.fd < 0) {
		if (vanished(l.fd))
			return 0;
		if (denied(l.fd)) {
			gh_dbg(ctx, "/proc/%s/maps: %s: skipped", pid, strerror(-l.fd));
			return 0;
		}
		gh_err(ctx, "cannot read /proc/%s/maps: %s", pid, strerror(-l.fd));
		return l.fd;
	}
	memset(s->mapped, 0, s->n_node * sizeof(*s->mapped));
	while ((line = lines_next(&l, &err))) {
		unsigned long long ino;
		unsigned k;
		dev_t dev;

		if (!maps_id(line, &dev, &ino))
			continue;
		for (k = 0; k < s->n_node; k++)
			if (s->node[k].ino == ino && s->node[k].dev == dev)
				break;
		/* One entry per node however many mappings it has. */
		if (k == s->n_node || s->mapped[k])
			continue;
		s->mapped[k] = true;
		found++;
		r = add_path(h, s->node[k].path, "mmap", true);
		if (r < 0)
			break;
		/* Every node is listed: the rest of the file cannot add anything. */
		if (found == s->n_mappable)
			break;
	}
	if (r >= 0 && err < 0) {
		if (denied(err))
			gh_dbg(ctx, "/proc/%s/maps: %s: skipped", pid, strerror(-err));
		else if (!vanished(err)) {
			r = err;
			gh_err(ctx, "cannot read /proc/%s/maps: %s", pid, strerror(-r));
		}
	}
	close(l.fd);
	return r;
}

bool gh_holders_cgroup_user(const char *path)
{
	for (const char *seg = path; *seg;) {
		size_t n;

		seg += strspn(seg, "/");
		n = strcspn(seg, "/");
		if (n > 13 && !memcmp(seg, "user@", 5) && !memcmp(seg + n - 8, ".service", 8))
			return true;
		seg += n;
	}
	return false;
}

/* The cgroup v2 line, "0::<path>". */
static void read_cgroup(struct scan *s, int pfd, struct gh_holder *h)
{
	struct lines l = { .buf = s->buf };
	char *line;
	int err;

	l.fd = gh_fs_openat(pfd, O_RDONLY | O_NOCTTY, "cgroup");
	if (l.fd < 0)
		return;
	while ((line = lines_next(&l, &err)))
		if (!strncmp(line, "0::", 3)) {
			gh_holders_parse_cgroup(line + 3, h->unit, sizeof(h->unit), h->container, sizeof(h->container));
			h->user_manager = gh_holders_cgroup_user(line + 3);
			gh_util_escape(line + 3, h->cgroup, sizeof(h->cgroup));
			break;
		}
	close(l.fd);
}

/* "pid (comm) state ppid pgrp session ... starttime": the comm may hold ')' and blanks. */
static int parse_stat(const char *text, unsigned long long *start, pid_t *sid)
{
	const char *p = strrchr(text, ')');
	unsigned long long v = 0;
	unsigned long s = 0;

	if (!p)
		return -EINVAL;
	p++;
	/* Fields 3.. follow; the session is field 6, the start time field 22. */
	for (int field = 3; field <= 22; field++) {
		char *end;

		p += strspn(p, " ");
		if (!*p)
			return -EINVAL;
		if (field == 6 || field == 22) {
			errno = 0;
			if (field == 6)
				s = strtoul(p, &end, 10);
			else
				v = strtoull(p, &end, 10);
			if (errno || end == p || (*end && *end != ' ' && *end != '\n'))
				return -EINVAL;
			p = end;
		} else {
			p += strcspn(p, " ");
		}
	}
	if (start)
		*start = v;
	if (sid)
		*sid = (pid_t)s;
	return 0;
}

static int read_stat_at(int pfd, unsigned long long *start, pid_t *sid)
{
	char buf[1024];
	int r = gh_fs_read_strat(pfd, "stat", buf, sizeof(buf));

	return r < 0 ? r : parse_stat(buf, start, sid);
}

int gh_holders_proc_stat(struct gh_ctx *ctx, pid_t pid, unsigned long long *start, pid_t *sid)
{
	char buf[1024];
	int r = gh_fs_read_str(ctx, buf, sizeof(buf), "/proc/%d/stat", (int)pid);

	if (r == -ENOENT)
		return -ESRCH;
	return r < 0 ? r : parse_stat(buf, start, sid);
}

int gh_holders_pin(struct gh_ctx *ctx, const struct gh_holder *h, int *pidfd)
{
	unsigned long long now = 0;
	int fd = -1, r;

	*pidfd = -1;
	if (!h->start)
		return -EINVAL;
	/* A fixture's pid names no process of this machine. */
	if (!gh_ctx_root(ctx)[0]) {
		fd = (int)syscall(SYS_pidfd_open, h->pid, 0);
		if (fd < 0)
			return errno == ESRCH ? -ESRCH : -errno;
	}
	/* Checked after the pidfd is taken: a match means the pidfd is the process the scan saw. */
	r = gh_holders_proc_stat(ctx, h->pid, &now, NULL);
	if (r >= 0 && now != h->start)
		r = -ESRCH;
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	*pidfd = fd;
	return 0;
}

static int scan_pid(struct scan *s, int proc, const char *pid, pid_t n)
{
	struct gh_holder h = { .pid = n };
	char comm[64];
	int pfd, r;

	/* Everything below is read through this one directory: the same process throughout. */
	pfd = gh_fs_openat(proc, O_RDONLY | O_DIRECTORY, pid);
	if (pfd < 0) {
		if (vanished(pfd))
			return 0;
		if (denied(pfd)) {
			gh_dbg(s->ctx, "/proc/%s: %s: skipped", pid, strerror(-pfd));
			return 0;
		}
		gh_err(s->ctx, "cannot open /proc/%s: %s", pid, strerror(-pfd));
		return pfd;
	}
	r = scan_fds(s, pfd, pid, &h);
	if (r >= 0)
		r = scan_maps(s, pfd, pid, &h);
	if (r >= 0 && h.paths.n) {
		r = gh_fs_read_strat(pfd, "comm", comm, sizeof(comm));
		/* Gone since we saw its files: it holds nothing any more. */
		if (vanished(r)) {
			gh_strv_free(&h.paths);
			close(pfd);
			return 0;
		}
		/* A name is data: escaped here, once; an empty one is shown, never an error. */
		if (r <= 0)
			gh_util_copy(h.comm, sizeof(h.comm), "?");
		else
			gh_util_escape(comm, h.comm, sizeof(h.comm));
		if (read_stat_at(pfd, &h.start, NULL) < 0)
			h.start = 0;
		r = 0;
	}
	if (r >= 0 && h.paths.n)
		read_cgroup(s, pfd, &h);
	close(pfd);
	if (r < 0 || !h.paths.n) {
		gh_strv_free(&h.paths);
		return r;
	}
	gh_strv_sort(&h.paths);
	if (s->out->n == s->cap) {
		unsigned cap = s->cap ? 2 * s->cap : 8;
		struct gh_holder *v = realloc(s->out->v, cap * sizeof(*v));

		if (!v) {
			gh_strv_free(&h.paths);
			return -ENOMEM;
		}
		s->out->v = v;
		s->cap = cap;
	}
	s->out->v[s->out->n++] = h;
	return 0;
}

static int scan_all(struct scan *s)
{
	struct gh_strv pids = { 0 };
	pid_t self = getpid();
	int r, proc = -1;

	r = gh_fs_list(s->ctx, &pids, "/proc");
	if (r < 0)
		gh_err(s->ctx, "cannot list /proc: %s", strerror(-r));
	if (r >= 0 && pids.n) {
		proc = gh_fs_open(s->ctx, O_RDONLY | O_DIRECTORY, "/proc");
		if (proc < 0) {
			r = proc;
			gh_err(s->ctx, "cannot open /proc: %s", strerror(-r));
		}
	}
	/* Sorted by strverscmp, so in pid order. */
	for (size_t i = 0; i < pids.n && r >= 0; i++) {
		unsigned long n;

		if (gh_util_parse_ulong(pids.v[i], 10, PID_MAX, &n) < 0 || !n)
			continue;
		/* Our own fds are never the problem; a fixture root has no "us" in it. */
		if (!gh_ctx_root(s->ctx)[0] && (pid_t)n == self)
			continue;
		r = scan_pid(s, proc, pids.v[i], (pid_t)n);
	}
	if (proc >= 0)
		close(proc);
	gh_strv_free(&pids);
	return r;
}

int gh_holders_scan_nodes(struct gh_ctx *ctx, const struct gh_holder_nodes *nodes, struct gh_holder_set *out)
{
	struct scan s = { .ctx = ctx, .out = out };
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!nodes || !nodes->n)
		return 0;
	s.node = nodes->v;
	s.n_node = nodes->n;
	for (unsigned i = 0; i < nodes->n; i++)
		if (nodes->v[i].ino)
			s.n_mappable++;
	s.mapped = calloc(nodes->n, sizeof(*s.mapped));
	s.buf = malloc(LINE_BUF);
	if (s.mapped && s.buf)
		r = scan_all(&s);
	if (r == -ENOMEM)
		gh_err(ctx, "cannot scan /proc for holders: %s", strerror(ENOMEM));
	free(s.mapped);
	free(s.buf);
	if (r < 0)
		gh_holders_free(out);
	return r;
}

int gh_holders_scan(struct gh_ctx *ctx, const struct gh_strv *paths, struct gh_holder_set *out)
{
	struct gh_holder_nodes nodes = { 0 };
	int r = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; paths && i < paths->n && r >= 0; i++)
		r = gh_holders_nodes_add_path(ctx, &nodes, paths->v[i]);
	if (r >= 0)
		r = gh_holders_scan_nodes(ctx, &nodes, out);
	gh_holders_nodes_free(&nodes);
	return r;
}

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

/* A directory with a `dev` file is a device the kernel registered: its number and its DEVNAME. */
static int walk_dev(struct walk *w, int dfd)
{
	char text[64], ev[2048], name[PATH_MAX], sub[PATH_MAX];
	unsigned long maj, min;
	char *colon, *dn;

	if (gh_fs_read_strat(dfd, "dev", text, sizeof(text)) < 0)
		return 0;
	colon = strchr(text, ':');
	if (!colon)
		return 0;
	*colon = '\0';
	if (gh_util_parse_ulong(text, 10, 0xfffff, &maj) < 0 || gh_util_parse_ulong(colon + 1, 10, 0xfffff, &min) < 0)
		return 0;
	/* A disk behind the card's USB port is not held through an open node. */
	if (gh_fs_readlinkat(dfd, "subsystem", sub, sizeof(sub)) > 0) {
		const char *base = strrchr(sub, '/');

		if (!strcmp(base ? base + 1 : sub, "block"))
			return 0;
	}
	snprintf(name, sizeof(name), "/dev/char/%lu:%lu", maj, min);
	if (gh_fs_read_strat(dfd, "uevent", ev, sizeof(ev)) >= 0) {
		char *save = NULL;

		for (char *line = strtok_r(ev, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			dn = line + 8;
			if (strncmp(line, "DEVNAME=", 8))
				continue;
			/* The kernel's name for the node under /dev; nothing that climbs out of it. */
			if (*dn && dn[0] != '/' && !strstr(dn, ".."))
				gh_util_format(name, sizeof(name), "/dev/%s", dn);
			break;
		}
	}
	return add_node(w->ctx, w->nodes, makedev(maj, min), name, NULL);
}

static int walk_dir(struct walk *w, DIR *d, unsigned depth)
{
	struct dirent *de;
	int r = 0;

	if (++w->dirs > WALK_DIRS) {
		gh_warn(w->ctx, "/sys/bus/pci/devices/%s: more than %u directories below it; the rest is not searched "
			"for device nodes", w->addr, WALK_DIRS);
		return 0;
	}
	while (r >= 0 && (de = readdir(d))) {
		unsigned char type = de->d_type;
		DIR *sub;

		if (de->d_name[0] == '.')
			continue;
		if (type == DT_UNKNOWN) {
			struct stat st;

			if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_LNK;
		}
		if (type == DT_REG && !strcmp(de->d_name, "dev")) {
			r = walk_dev(w, dirfd(d));
			continue;
		}
		/* Links lead out of the tree (driver, subsystem, device); a PCI child is a function of its own. */
		if (type != DT_DIR || depth >= WALK_DEPTH || gh_pciid_is_addr(de->d_name))
			continue;
		sub = gh_fs_opendirat(dirfd(d), de->d_name);
		if (!sub)
			continue;
		r = walk_dir(w, sub, depth + 1);
		closedir(sub);
	}
	return r;
}

int gh_holders_nodes_add_sysfs(struct gh_ctx *ctx, struct gh_holder_nodes *nodes, const char *addr)
{
	struct walk w = { .ctx = ctx, .nodes = nodes, .addr = addr };
	DIR *d;
	int r;

	if (!gh_pciid_is_addr(addr))
		return -EINVAL;
	/* The bus's link to the function is the one link followed. */
	d = gh_fs_opendir(ctx, "/sys/bus/pci/devices/%s", addr);
	if (!d) {
		r = -errno;
		if (r == -ENOENT)
			return 0;
		gh_err(ctx, "cannot list /sys/bus/pci/devices/%s: %s", addr, strerror(-r));
		return r;
	}
	r = walk_dir(&w, d, 0);
	closedir(d);
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

void gh_holders_free(struct gh_holder_set *set)
{
	for (unsigned i = 0; i < set->n; i++)
		gh_strv_free(&set->v[i].paths);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static bool copy_span(char *dst, size_t size, const char *s, size_t n)
{
	if (!n || n >= size)
		return false;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return true;
}

static bool unit_suffix(const char *s, size_t n)
{
	return (n > 8 && !memcmp(s + n - 8, ".service", 8)) || (n > 6 && !memcmp(s + n - 6, ".scope", 6));
}

/*
 * Proxmox puts a container's payload under /lxc/<id>/ns/ and its monitor
 * under /lxc.monitor/<id>; plain LXC uses /lxc.payload.<id> and
 * /lxc.monitor.<id>. A container process is attributed to the container
 * only, never to the unit inside it: that unit name means something else to
 * the host's systemd, and the way to release it is stopping the container.
 * Otherwise the unit is the innermost .service/.scope component, so a
 * process in user@1000.service/app.slice/x.service is x.service's.
 */
void gh_holders_parse_cgroup(const char *path, char *unit, size_t unit_size, char *ct, size_t ct_size)
{
	static const char *const lxc[] = { "/lxc/", "/lxc.monitor/", "/lxc.payload.", "/lxc.monitor." };
	const char *seg, *end;

	if (unit_size)
		unit[0] = '\0';
	if (ct_size)
		ct[0] = '\0';
	for (size_t i = 0; i < GH_ARRAY_SIZE(lxc); i++) {
		size_t pl = strlen(lxc[i]), n;

		if (strncmp(path, lxc[i], pl))
			continue;
		n = strcspn(path + pl, "/");
		if (strspn(path + pl, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") >= n)
			copy_span(ct, ct_size, path + pl, n);
		return;
	}
	for (seg = path; *seg; seg = end) {
		char name[256];
		size_t n;

		seg += strspn(seg, "/");
		n = strcspn(seg, "/");
		end = seg + n;
		if (!unit_suffix(seg, n) || !copy_span(name, sizeof(name), seg, n) || !gh_services_valid_name(name))
			continue;
		if (!copy_span(unit, unit_size, seg, n) && unit_size)
			unit[0] = '\0';
	}
}

static bool append(char *buf, size_t size, size_t *off, const char *s, size_t reserve)
{
	size_t len = strlen(s);

	if (*off + len + reserve >= size)
		return false;
	memcpy(buf + *off, s, len + 1);
	*off += len;
	return true;
}

int gh_holders_describe(const struct gh_holder *h, char *buf, size_t size)
{
	static const char more[] = ", ...";
	char who[256], esc[1024], piece[1040];
	const char *comm = h->comm[0] ? h->comm : "?";
	size_t off;
	int r;

	/* comm and paths were escaped when collected; unit and container are checked names. */
	if (h->container[0])
		r = gh_util_format(who, sizeof(who), "%s, LXC container %s", comm,
				   gh_util_escape(h->container, esc, sizeof(esc)));
	else if (h->unit[0])
		r = gh_util_format(who, sizeof(who), "%s, %s%s", comm, gh_util_escape(h->unit, esc, sizeof(esc)),
				   h->user_manager ? " of a user manager" : "");
	else
		r = gh_util_format(who, sizeof(who), "%s", comm);
	if (r < 0)
		return r;
	r = gh_util_format(buf, size, "pid %d (%s): ", (int)h->pid, who);
	if (r < 0)
		return r;
	off = strlen(buf);
	/* A long list is cut with "..." rather than failing: the head says who it is. */
	for (size_t i = 0; i < h->paths.n; i++) {
		bool last = i + 1 == h->paths.n;

		if (gh_util_format(piece, sizeof(piece), "%s%s", i ? ", " : "", h->paths.v[i]) < 0 ||
		    !append(buf, size, &off, piece, last ? 0 : sizeof(more) - 1)) {
			if (!append(buf, size, &off, i ? more : more + 2, 0))
				return -ENAMETOOLONG;
			break;
		}
	}
	return 0;
}
