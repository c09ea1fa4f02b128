/* SPDX-License-Identifier: MIT */
/* The scan of /proc for processes that hold device nodes open or mapped. */
#include "holders.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs.h"
#include "timebox.h"

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
	struct gh_fs_dir d;
	const char *name;
	unsigned char type;
	int r, n, e;

	r = gh_fs_dir_openat(ctx, &d, pfd, "fd");
	if (r < 0) {
		if (vanished(r))
			return 0;
		if (denied(r)) {
			gh_dbg(ctx, "/proc/%s/fd: %s: skipped", pid, strerror(-r));
			return 0;
		}
		gh_err(ctx, "cannot list /proc/%s/fd: %s", pid, strerror(-r));
		return r;
	}
	while ((n = gh_fs_dir_next(&d, &name, &type)) > 0) {
		const struct gh_holder_node *node;
		struct stat st;
		char how[32];

		/* The open file itself, whatever path its mount namespace shows for it. */
		e = gh_fs_statat(d.fd, name, &st);
		if (e < 0) {
			/*
			 * Closed meanwhile; a fixture's link to nothing; a file whose
			 * filesystem cannot say (an open device node never fails so).
			 */
			if (!vanished(e))
				gh_dbg(ctx, "/proc/%s/fd/%s: %s: skipped", pid, name, strerror(-e));
			continue;
		}
		node = node_of_file(s, &st);
		if (!node)
			continue;
		if (gh_util_format(how, sizeof(how), "fd %s", name) < 0)
			continue;
		r = add_path(h, node->path, how, false);
		if (r < 0)
			break;
	}
	/* A process that exits while listed ends its listing with ENOENT. */
	if (n < 0 && r >= 0 && !vanished(n)) {
		r = n;
		gh_err(ctx, "cannot list /proc/%s/fd: %s", pid, strerror(-r));
	}
	gh_fs_dir_close(&d);
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
	l.fd = gh_fs_open_attr(ctx, pfd, "maps");
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
/*
 * Whether the process has memory of its own, read through /proc's
 * descriptor by its pid's name: one readlink, where opening its directory
 * first takes three calls for each of the host's many kernel threads. A
 * kernel thread (even one that borrows an mm) and a process already gone
 * have none: proc_exe_link answers ENOENT for them (get_task_exe_file). Such
 * a task maps nothing (get_task_mm) and has no file open either: a kernel
 * thread shares kthreadd's table, which is init_task's and empty
 * (kernel/kthread.c: every one is made with CLONE_FILES); a task in
 * do_exit() is past exit_mm() only a few steps before exit_files()
 * (acct_process, exit_sem, exit_shm): what it held is being closed, and its
 * last fput() runs in exit_task_work(), where no fd listing would see it
 * anyway. A zombie has neither. A pid reused after this answer is read, in
 * scan_pid, as what it is by then: maps and fds empty for a kernel thread.
 */
static bool has_mm(int proc, const char *pid)
{
	char exe[8];

	return gh_fs_readlinkat2(proc, pid, "exe", exe, sizeof(exe)) != -ENOENT;
}

/* The cgroup v2 line, "0::<path>". */
static void read_cgroup(struct scan *s, int pfd, struct gh_holder *h)
{
	struct lines l = { .buf = s->buf };
	char *line;
	int err;

	l.fd = gh_fs_open_attr(s->ctx, pfd, "cgroup");
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
		r = gh_fs_read_attr(s->ctx, pfd, "comm", comm, sizeof(comm));
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
		if (gh_holders_proc_stat_at(pfd, &h.start, NULL) < 0)
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
	pid_t self = getpid(), worker = gh_timebox_worker_pid();
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
		/*
		 * Our own fds are never the problem, nor our idle worker's (/dev/null
		 * and its socket, between calls that open sysfs files and close
		 * them); a fixture root has no "us" in it.
		 */
		if (!gh_ctx_root(s->ctx)[0] && ((pid_t)n == self || (worker > 0 && (pid_t)n == worker)))
			continue;
		if (!has_mm(proc, pids.v[i]))
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
void gh_holders_free(struct gh_holder_set *set)
{
	for (unsigned i = 0; i < set->n; i++)
		gh_strv_free(&set->v[i].paths);
	free(set->v);
	set->v = NULL;
	set->n = 0;
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
