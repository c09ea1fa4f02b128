/* SPDX-License-Identifier: MIT */
#include "holders.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "services.h"

/* PID_MAX_LIMIT on 64-bit kernels. */
#define PID_MAX 4194304UL
/* One line buffer for the whole scan: a maps line is at most PATH_MAX plus ~100 bytes. */
#define LINE_BUF ((size_t)64 * 1024)

struct pattern {
	const char *s;
	size_t len;
	bool prefix;
};

struct scan {
	struct gh_ctx *ctx;
	struct pattern *pat;
	size_t n_pat;
	bool all_exact;
	bool *mapped;	/* per pattern: already listed as "(mmap)" for this pid */
	char *buf;	/* LINE_BUF bytes */
	unsigned cap;	/* allocated entries of out->v */
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

/* The pattern index a path matches, or -1. */
static int match(const struct scan *s, const char *path, size_t len)
{
	for (size_t i = 0; i < s->n_pat; i++) {
		const struct pattern *p = &s->pat[i];

		if (p->prefix ? (len >= p->len && !memcmp(path, p->s, p->len)) :
				(len == p->len && !memcmp(path, p->s, len)))
			return (int)i;
	}
	return -1;
}

/* A node unlinked while open (udev recreated it) is shown with " (deleted)" and still pins the device. */
static size_t strip_deleted(char *path)
{
	static const char suffix[] = " (deleted)";
	size_t len = strlen(path), sl = sizeof(suffix) - 1;

	if (len > sl && !memcmp(path + len - sl, suffix, sl))
		path[len -= sl] = '\0';
	return len;
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
		char target[PATH_MAX], how[32];
		size_t len;
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
		n = gh_fs_readlinkat(dirfd(d), de->d_name, target, sizeof(target));
		if (n < 0) {
			/* Closed meanwhile, or a target longer than any device path. */
			if (vanished(n) || n == -ENAMETOOLONG)
				continue;
			if (denied(n)) {
				gh_dbg(ctx, "/proc/%s/fd/%s: %s: skipped", pid, de->d_name, strerror(-n));
				continue;
			}
			r = n;
			gh_err(ctx, "cannot read /proc/%s/fd/%s: %s", pid, de->d_name, strerror(-r));
			break;
		}
		/* "socket:[123]", "pipe:[45]", "anon_inode:[eventfd]" are no files. */
		if (target[0] != '/')
			continue;
		len = strip_deleted(target);
		if (match(s, target, len) < 0)
			continue;
		if (gh_util_format(how, sizeof(how), "fd %s", de->d_name) < 0)
			continue;
		r = add_path(h, target, how, false);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

/* "addr perms offset dev inode   path": the path is what follows the fifth field, if anything. */
static char *maps_path(char *line)
{
	char *p = line;

	for (int f = 0; f < 5; f++) {
		p += strspn(p, " \t");
		if (!*p)
			return NULL;
		p += strcspn(p, " \t");
	}
	p += strspn(p, " \t");
	return *p ? p : NULL;
}

/* An mmap pins the device after its fd is closed. */
static int scan_maps(struct scan *s, int pfd, const char *pid, struct gh_holder *h)
{
	struct gh_ctx *ctx = s->ctx;
	struct lines l = { .buf = s->buf };
	size_t found = 0;
	char *line;
	int r = 0, err = 0;

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
	memset(s->mapped, 0, s->n_pat * sizeof(*s->mapped));
	while ((line = lines_next(&l, &err))) {
		char *path = maps_path(line);
		size_t len;
		int k;

		if (!path || path[0] != '/')
			continue;
		len = strip_deleted(path);
		k = match(s, path, len);
		if (k < 0)
			continue;
		if (s->all_exact) {
			if (s->mapped[k])
				continue;
			s->mapped[k] = true;
			found++;
		}
		/* One entry per path however many mappings it has. */
		r = add_path(h, path, "mmap", true);
		if (r < 0)
			break;
		/* Every exact pattern is listed: the rest of the file cannot add anything. */
		if (s->all_exact && found == s->n_pat)
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
			snprintf(h->cgroup, sizeof(h->cgroup), "%s", line + 3);
			break;
		}
	close(l.fd);
}

static int scan_pid(struct scan *s, int proc, const char *pid, pid_t n)
{
	struct gh_holder h = { .pid = n };
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
		r = gh_fs_read_strat(pfd, "comm", h.comm, sizeof(h.comm));
		/* Gone since we saw its files: it holds nothing any more. */
		if (vanished(r)) {
			gh_strv_free(&h.paths);
			close(pfd);
			return 0;
		}
		if (r < 0)
			gh_util_copy(h.comm, sizeof(h.comm), "?");
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
		if (!s->ctx->root[0] && (pid_t)n == self)
			continue;
		r = scan_pid(s, proc, pids.v[i], (pid_t)n);
	}
	if (proc >= 0)
		close(proc);
	gh_strv_free(&pids);
	return r;
}

int gh_holders_scan(struct gh_ctx *ctx, const struct gh_strv *patterns, struct gh_holder_set *out)
{
	struct scan s = { .ctx = ctx, .all_exact = true, .out = out };
	int r = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!patterns || !patterns->n)
		return 0;
	s.pat = calloc(patterns->n, sizeof(*s.pat));
	s.mapped = calloc(patterns->n, sizeof(*s.mapped));
	s.buf = malloc(LINE_BUF);
	if (s.pat && s.mapped && s.buf) {
		for (size_t i = 0; i < patterns->n; i++) {
			struct pattern *p = &s.pat[s.n_pat];

			p->s = patterns->v[i];
			p->len = strlen(p->s);
			if (!p->len)
				continue;
			if (p->s[p->len - 1] == '*') {
				p->prefix = true;
				p->len--;
				s.all_exact = false;
			}
			s.n_pat++;
		}
		r = s.n_pat ? scan_all(&s) : 0;
	}
	if (r == -ENOMEM)
		gh_err(ctx, "cannot scan /proc for holders: %s", strerror(ENOMEM));
	free(s.pat);
	free(s.mapped);
	free(s.buf);
	if (r < 0)
		gh_holders_free(out);
	return r;
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
	char comm[160], who[256], esc[1024], piece[1040];
	size_t off;
	int r;

	gh_util_escape(h->comm, comm, sizeof(comm));
	if (h->container[0])
		r = gh_util_format(who, sizeof(who), "%s, LXC container %s", comm,
				   gh_util_escape(h->container, esc, sizeof(esc)));
	else if (h->unit[0])
		r = gh_util_format(who, sizeof(who), "%s, %s", comm, gh_util_escape(h->unit, esc, sizeof(esc)));
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

		if (gh_util_format(piece, sizeof(piece), "%s%s", i ? ", " : "",
				   gh_util_escape(h->paths.v[i], esc, sizeof(esc))) < 0 ||
		    !append(buf, size, &off, piece, last ? 0 : sizeof(more) - 1)) {
			if (!append(buf, size, &off, i ? more : more + 2, 0))
				return -ENAMETOOLONG;
			break;
		}
	}
	return 0;
}
