/* SPDX-License-Identifier: MIT */
#include "install.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <unistd.h>

#include "fs.h"
#include "text.h"
#include "timebox.h"
#include "vmconf.h"
#include "vms.h"

/* Storage types whose content lives under a directory on this node. */
static const char *const dir_types[] = { "dir", "nfs", "cifs", "cephfs", "glusterfs", "btrfs" };

/* Storage types whose files another machine serves. */
static const char *const net_types[] = { "nfs", "cifs", "glusterfs", "cephfs", "pbs" };

/* statfs f_type of filesystems served from elsewhere (linux/magic.h, fs/smb/client/cifsglob.h). */
static const struct {
	uint32_t magic;
	const char *name;
} net_fs[] = {
	{ 0x6969, "NFS" },	     { 0x517b, "SMB" },	     { 0xff534d42, "CIFS" }, { 0xfe534d42, "SMB2" },
	{ 0x65735546, "FUSE" },	     { 0x00c36400, "Ceph" }, { 0x01021997, "9p" },   { 0x6b414653, "AFS" },
	{ 0x5346414f, "AFS" },
};

static bool is_dir_type(const char *t)
{
	for (size_t i = 0; i < GH_ARRAY_SIZE(dir_types); i++)
		if (!strcmp(t, dir_types[i]))
			return true;
	return false;
}

int gh_install_storage_parse(struct gh_ctx *ctx, FILE *f, const char *name, const char *storage,
			     struct gh_storage *out)
{
	/* Any bytes but NUL: a comment in another charset is no reason to refuse the storages. */
	struct gh_text t = { .ctx = ctx, .f = f, .name = name, .max = 4097, .bytes = true };
	char *line;
	size_t len;
	bool in = false;

	memset(out, 0, sizeof(*out));
	while (gh_text_next(&t, &line, &len) > 0) {
		char *l = gh_util_trim(line);

		if (!*l || *l == '#')
			continue;
		if (line[0] != ' ' && line[0] != '\t') {
			char type[32], id[128];
			/* "type: id" starts a section. */
			in = sscanf(l, "%31[a-z]: %127s", type, id) == 2 && !strcmp(id, storage);
			if (in) {
				gh_util_copy(out->type, sizeof(out->type), type);
				out->found = true;
				out->line = t.line;
			}
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(l, "path ", 5)) {
			const char *p = gh_util_trim(l + 5);

			if (p[0] != '/' || strstr(p, "..") || gh_util_copy(out->path, sizeof(out->path), p) < 0)
				gh_text_err(&t, "storage %s: invalid path", storage);
		} else if (!strncmp(l, "content ", 8)) {
			char list[512], *save = NULL;

			gh_util_copy(list, sizeof(list), gh_util_trim(l + 8));
			for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
				if (!strcmp(gh_util_trim(c), "snippets"))
					out->snippets = true;
		}
	}
	gh_text_done(&t);
	/* Network storages are mounted at /mnt/pve/<id> when no path is given. */
	if (out->found && !out->path[0] && is_dir_type(out->type) && strcmp(out->type, "dir"))
		snprintf(out->path, sizeof(out->path), "/mnt/pve/%s", storage);
	return t.errors ? -EINVAL : 0;
}

static int find_storage(struct gh_ctx *ctx, const char *storage, struct gh_storage *st)
{
	/* A pmxcfs file, so never a link (see gh_vmconf_load). */
	FILE *f = gh_fs_fopen_input(ctx, 0, GH_FS_CONF_MAX, NULL, "/etc/pve/storage.cfg");
	int r;

	if (!f) {
		r = -errno;
		if (r == -ENOENT)
			gh_err(ctx, "/etc/pve/storage.cfg: %s", strerror(-r));
		return r;
	}
	r = gh_install_storage_parse(ctx, f, "/etc/pve/storage.cfg", storage, st);
	fclose(f);
	if (r < 0)
		return r;
	if (!st->found) {
		gh_err(ctx, "/etc/pve/storage.cfg: no storage named '%s'", storage);
		return -ENOENT;
	}
	if (!is_dir_type(st->type) || !st->path[0]) {
		gh_err(ctx, "/etc/pve/storage.cfg:%d: storage '%s' is of type %s, which holds no snippets directory",
		       st->line, storage, st->type);
		return -EINVAL;
	}
	if (!st->snippets) {
		gh_err(ctx, "/etc/pve/storage.cfg:%d: storage '%s' does not allow snippets: add it to its content "
			    "(pvesm set %s --content <current>,snippets)", st->line, storage, storage);
		return -EINVAL;
	}
	return 0;
}

int gh_install_open_self(void)
{
	/* Not through fs.c: this process's own binary is on the running system whatever the root. */
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int gh_install_same_content(int a, int b)
{
	char x[65536], y[65536];
	struct stat sa, sb;
	off_t off = 0;

	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return -errno;
	if (sa.st_size != sb.st_size)
		return 0;
	while (off < sa.st_size) {
		ssize_t n = pread(a, x, sizeof(x), off), m;

		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		m = pread(b, y, (size_t)n, off);
		if (m < 0)
			return -errno;
		if (m != n || memcmp(x, y, (size_t)n))
			return 0;
		off += n;
	}
	return 1;
}

/* What may own a file Proxmox runs as root: root; in a fixture tree, also the user running gpu-hook. */
static bool owner_ok(const struct gh_ctx *ctx, uid_t uid)
{
	return uid == 0 || (gh_ctx_root(ctx)[0] && uid == geteuid());
}

int gh_install_trust_file(const struct gh_ctx *ctx, const char *name, const struct stat *st, char *why, size_t size)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (!owner_ok(ctx, st->st_uid))
		snprintf(why, size, "%s is owned by uid %u (mode %04o), not root: that user can replace what Proxmox "
			 "runs as root (chown root:root %s)", name, (unsigned)st->st_uid, mode, name);
	else if (st->st_mode & 022)
		/* Sticky or not: whoever can create the name first owns the file. */
		snprintf(why, size, "%s is writable by %s (owner uid %u, mode %04o): they can replace what Proxmox "
			 "runs as root (chmod go-w %s)", name, st->st_mode & 002 ? "others" : "group",
			 (unsigned)st->st_uid, mode, name);
	else
		return 0;
	return -EPERM;
}

/*
 * path and each directory above it while longer than top (the first top
 * bytes are the tree's top, checked last), shown without that prefix. path
 * is cut down as it goes.
 */
static int walk_up(const struct gh_ctx *ctx, char *path, size_t top, char *why, size_t size)
{
	for (;;) {
		const char *name = path[top] ? path + top : "/";
		struct stat st;
		char *slash;
		int r;

		if (stat(path, &st) < 0) {
			r = -errno;
			snprintf(why, size, "%s: %s", name, strerror(-r));
			return r;
		}
		r = gh_install_trust_file(ctx, name, &st, why, size);
		if (r < 0 || strlen(path) <= (top ? top : 1))
			return r;
		slash = strrchr(path, '/');
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
}

int gh_install_trust_dir(const struct gh_ctx *ctx, const char *dir, char *why, size_t size)
{
	char host[PATH_MAX], real[PATH_MAX], top[PATH_MAX];
	size_t toplen;
	int r;

	why[0] = '\0';
	if (gh_fs_path(ctx, host, sizeof(host), "%s", dir) < 0)
		return -ENAMETOOLONG;
	if (!gh_ctx_root(ctx)[0])
		strcpy(top, "/");
	else if (!realpath(gh_ctx_root(ctx), top)) {
		r = -errno;
		snprintf(why, size, "%s: %s", gh_ctx_root(ctx), strerror(-r));
		return r;
	}
	toplen = strcmp(top, "/") ? strlen(top) : 0;
	/* Not there yet (install creates it): the nearest directory that is decides who could. */
	while (!realpath(host, real)) {
		char *slash = strrchr(host, '/');

		if (errno != ENOENT || !slash || slash == host) {
			r = -errno;
			snprintf(why, size, "%s: %s", dir, strerror(-r));
			return r;
		}
		*slash = '\0';
	}
	if (toplen && (strncmp(real, top, toplen) || (real[toplen] && real[toplen] != '/'))) {
		snprintf(why, size, "%s resolves to %s, outside the tree %s", dir, real, gh_ctx_root(ctx));
		return -EXDEV;
	}
	/* The directories the path resolves to, then those it names: a link's own directory decides where it points. */
	r = walk_up(ctx, real, toplen, why, size);
	return r < 0 ? r : walk_up(ctx, host, strlen(gh_ctx_root(ctx)), why, size);
}

int gh_install_network(const struct gh_ctx *ctx, const char *storage, const struct gh_storage *st, const char *dir,
		       char *what, size_t size)
{
	char host[PATH_MAX];
	const char *type = NULL, *fs = NULL;
	struct statfs sf;

	for (size_t i = 0; i < GH_ARRAY_SIZE(net_types); i++)
		if (!strcmp(st->type, net_types[i]))
			type = net_types[i];
	if (gh_fs_path(ctx, host, sizeof(host), "%s", dir) >= 0) {
		/* The nearest directory that exists is on the filesystem the file would be. */
		while (statfs(host, &sf) < 0 && errno == ENOENT && strrchr(host, '/') > host)
			*strrchr(host, '/') = '\0';
		if (statfs(host, &sf) == 0)
			for (size_t i = 0; i < GH_ARRAY_SIZE(net_fs); i++)
				if ((uint32_t)sf.f_type == net_fs[i].magic)
					fs = net_fs[i].name;
	}
	if (!type && !fs)
		return 0;
	if (type && fs)
		snprintf(what, size, "storage '%s' is of type %s, and %s is on %s", storage, type, dir, fs);
	else if (type)
		snprintf(what, size, "storage '%s' is of type %s", storage, type);
	else
		snprintf(what, size, "%s is on %s", dir, fs);
	return 1;
}

struct run_call {
	struct gh_ctx *ctx;
	char *argv[8];
};

static int run_child(void *arg)
{
	struct run_call *c = arg;

	return gh_ctx_ops(c->ctx)->run(c->ctx, c->argv);
}

/* qm from its fixed path on the running system, with an argv: no shell. The simulator only records it. */
static int run_qm(struct gh_ctx *ctx, char **args)
{
	struct run_call c = { .ctx = ctx, .argv = { (char *)"/usr/sbin/qm" } };
	struct gh_timebox tb;
	char line[512] = "qm";
	int r;

	for (int i = 0; i < 6 && args[i]; i++) {
		c.argv[i + 1] = args[i];
		strncat(line, " ", sizeof(line) - strlen(line) - 1);
		strncat(line, args[i], sizeof(line) - strlen(line) - 1);
	}
	if (gh_ctx_dry_run(ctx)) {
		gh_notice(ctx, "would run: %s", line);
		return 0;
	}
	if (!gh_ctx_ops(ctx) || !gh_ctx_ops(ctx)->run) {
		gh_err(ctx, "%s: no way to run programs in this context", line);
		return -ENOSYS;
	}
	r = gh_timebox_run(ctx, 60000, run_child, &c, &tb);
	if (r < 0)
		return r;
	if (tb.timed_out) {
		gh_err(ctx, "%s: no answer within 60 s", line);
		return -ETIMEDOUT;
	}
	if (tb.status == -ENOENT || tb.status == -EACCES) {
		gh_err(ctx, "/usr/sbin/qm: %s (is this a Proxmox VE node?)", strerror(-tb.status));
		return -ENOENT;
	}
	if (tb.status < 0) {
		gh_err(ctx, "%s failed (exit status %d)", line, -tb.status);
		return -EIO;
	}
	gh_info(ctx, "%s: %s", line, gh_ctx_root(ctx)[0] ? "recorded in /run/gpu-hook/executed (nothing runs under --root)" : "ok");
	return 0;
}

/* A file already at the target: replaced only when root's (a symlink is replaced, its target untouched). */
static int check_target(struct gh_ctx *ctx, int dfd, const char *name)
{
	char why[512];
	struct stat st;

	if (fstatat(dfd, "gpu-hook", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		gh_err(ctx, "%s: %s", name, strerror(errno));
		return -errno;
	}
	if (S_ISLNK(st.st_mode)) {
		gh_notice(ctx, "%s is a symlink: it is replaced by the binary itself", name);
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		gh_err(ctx, "refusing to install: %s exists and is not a regular file; remove it first", name);
		return -EEXIST;
	}
	if (gh_install_trust_file(ctx, name, &st, why, sizeof(why)) < 0) {
		gh_err(ctx, "refusing to install: %s; then run install again", why);
		return -EPERM;
	}
	return 0;
}

static int copy_self(int self, int out)
{
	char buf[65536];
	off_t off = 0;
	ssize_t n;

	while ((n = pread(self, buf, sizeof(buf), off)) > 0) {
		for (ssize_t done = 0; done < n;) {
			ssize_t w = write(out, buf + done, (size_t)(n - done));

			if (w < 0)
				return -errno;
			done += w;
		}
		off += n;
	}
	return n < 0 ? -errno : 0;
}

static int dry_run_place(struct gh_ctx *ctx, const char *dir, const char *name)
{
	int dfd, r;

	if (gh_fs_exists(ctx, "%s", dir) <= 0)
		gh_notice(ctx, "would create %s (mode 0755)", dir);
	else if ((dfd = gh_fs_open(ctx, O_RDONLY | O_DIRECTORY, "%s", dir)) >= 0) {
		r = check_target(ctx, dfd, name);
		close(dfd);
		if (r < 0)
			return r;
	}
	gh_notice(ctx, "would copy the running binary (/proc/self/exe) to %s (mode 0755)", name);
	return 0;
}

/* The snippets directory created, checked again, and opened as what it resolves to: an fd, or -errno (logged). */
static int open_target_dir(struct gh_ctx *ctx, const char *dir, const char *host)
{
	char real[PATH_MAX], why[512] = "";
	int dfd, r;

	r = gh_fs_mkdir(ctx, 0755, "%s", dir);
	if (r >= 0)
		r = gh_install_trust_dir(ctx, dir, why, sizeof(why));
	if (r < 0) {
		gh_err(ctx, "refusing to install: %s", why[0] ? why : strerror(-r));
		return r;
	}
	if (!realpath(host, real)) {
		r = -errno;
		gh_err(ctx, "%s: %s", dir, strerror(-r));
		return r;
	}
	dfd = open(real, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		r = -errno;
		gh_err(ctx, "%s: %s", dir, strerror(-r));
	}
	return dfd < 0 ? r : dfd;
}

/* The copy in dfd/.gpu-hook.tmp: written whole, 0755, root's, the same bytes as the running binary. */
static int write_copy(struct gh_ctx *ctx, int self, int dfd, const char *dir, const char *name)
{
	struct stat st = { 0 };
	char why[512];
	int out, r;

	unlinkat(dfd, ".gpu-hook.tmp", 0);
	out = openat(dfd, ".gpu-hook.tmp", O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
	if (out < 0) {
		r = -errno;
		gh_err(ctx, "cannot write %s: %s", dir, strerror(-r));
		return r;
	}
	r = copy_self(self, out);
	if (r >= 0 && (fchmod(out, 0755) < 0 || fsync(out) < 0 || fstat(out, &st) < 0))
		r = -errno;
	if (r < 0)
		gh_err(ctx, "cannot write %s/.gpu-hook.tmp: %s", dir, strerror(-r));
	/* root_squash (NFS) or a CIFS mount's uid= makes the file someone else's. */
	if (r >= 0 && (r = gh_install_trust_file(ctx, name, &st, why, sizeof(why))) < 0)
		gh_err(ctx, "refusing to install: the copy is not root's: %s (is %s on network storage with root_squash?)",
		       why, dir);
	if (r >= 0 && (r = gh_install_same_content(self, out)) != 1) {
		gh_err(ctx, "the copy in %s differs from the running binary: %s", dir, r < 0 ? strerror(-r) : "short write");
		r = r < 0 ? r : -EIO;
	}
	if (close(out) < 0 && r >= 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, ".gpu-hook.tmp", 0);
	return r;
}

/*
 * The running binary into <dir>/gpu-hook through a temporary file and a
 * rename, all relative to the directory checked (an fd), so no path is looked
 * up again after the checks.
 */
static int place_binary(struct gh_ctx *ctx, int self, const char *dir)
{
	char host[PATH_MAX], name[PATH_MAX], why[512];
	int dfd, r;

	if (gh_util_format(name, sizeof(name), "%s/gpu-hook", dir) < 0 || gh_fs_path(ctx, host, sizeof(host), "%s", dir) < 0)
		return -ENAMETOOLONG;
	r = gh_install_trust_dir(ctx, dir, why, sizeof(why));
	if (r < 0) {
		gh_err(ctx, "refusing to install: %s", why);
		return r;
	}
	if (gh_ctx_dry_run(ctx))
		return dry_run_place(ctx, dir, name);
	dfd = open_target_dir(ctx, dir, host);
	if (dfd < 0)
		return dfd;
	r = check_target(ctx, dfd, name);
	if (r >= 0)
		r = write_copy(ctx, self, dfd, dir, name);
	if (r >= 0 && renameat(dfd, ".gpu-hook.tmp", dfd, "gpu-hook") < 0) {
		r = -errno;
		gh_err(ctx, "cannot place the binary as %s: %s", name, strerror(-r));
		unlinkat(dfd, ".gpu-hook.tmp", 0);
	}
	if (r >= 0)
		fsync(dfd);
	close(dfd);
	if (r >= 0)
		gh_info(ctx, "placed the running binary (/proc/self/exe) as %s", name);
	return r;
}

int gh_install_hook(struct gh_ctx *ctx, unsigned vmid, const char *storage, int self, bool uninstall)
{
	struct gh_storage st;
	char vm[16], ref[192], dir[PATH_MAX], what[512];
	pid_t pid;
	int r;

	if (gh_vms_pid(ctx, vmid, &pid) == 0) {
		gh_err(ctx, "VM %u is running (pid %d): stop it before %s", vmid, (int)pid,
		       uninstall ? "removing its hookscript" : "wiring its hookscript");
		return -EBUSY;
	}
	snprintf(vm, sizeof(vm), "%u", vmid);
	if (uninstall) {
		char *args[] = { (char *)"set", vm, (char *)"--delete", (char *)"hookscript", NULL };

		return run_qm(ctx, args);
	}
	if (!storage || !*storage || strspn(storage, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
						 strlen(storage)) {
		gh_err(ctx, "invalid storage name");
		return -EINVAL;
	}
	r = find_storage(ctx, storage, &st);
	if (r < 0)
		return r;
	if (gh_util_format(dir, sizeof(dir), "%s/snippets", st.path) < 0)
		return -ENAMETOOLONG;
	if (gh_install_network(ctx, storage, &st, dir, what, sizeof(what)) > 0)
		gh_warn(ctx, "%s: the program Proxmox runs as root at every start of VM %u would live on another machine; "
			"whoever controls that server or can write the share can replace it (prefer a local storage: "
			"--storage local)", what, vmid);
	r = place_binary(ctx, self, dir);
	if (r < 0)
		return r;
	if (gh_util_format(ref, sizeof(ref), "%s:snippets/gpu-hook", storage) < 0)
		return -ENAMETOOLONG;
	{
		char *args[] = { (char *)"set", vm, (char *)"--hookscript", ref, NULL };

		return run_qm(ctx, args);
	}
}
