/* SPDX-License-Identifier: MIT */
#include "holders.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"

static bool matches(const struct gh_strv *patterns, const char *path)
{
	for (size_t i = 0; i < patterns->n; i++) {
		const char *p = patterns->v[i];
		size_t len = strlen(p);

		if (len && p[len - 1] == '*') {
			if (!strncmp(path, p, len - 1))
				return true;
		} else if (!strcmp(path, p)) {
			return true;
		}
	}
	return false;
}

void gh_holders_parse_cgroup(const char *path, char *unit, size_t unit_size, char *ct, size_t ct_size)
{
	const char *p = path, *seg, *end;

	unit[0] = '\0';
	ct[0] = '\0';
	/* Proxmox runs LXC containers under /lxc/<id>/ (and /lxc.payload.<id>/ for the payload). */
	if (!strncmp(p, "/lxc/", 5) || !strncmp(p, "/lxc.payload.", 13) || !strncmp(p, "/lxc.monitor.", 13)) {
		const char *id = p[4] == '/' ? p + 5 : p + 13;
		size_t n = strspn(id, "0123456789");

		if (n && n < ct_size) {
			memcpy(ct, id, n);
			ct[n] = '\0';
		}
		return;
	}
	/* The innermost unit: the last path component that names one. */
	for (seg = p; seg && *seg; seg = end) {
		size_t n;

		while (*seg == '/')
			seg++;
		end = strchr(seg, '/');
		n = end ? (size_t)(end - seg) : strlen(seg);
		if (n && n < unit_size &&
		    ((n > 8 && !strncmp(seg + n - 8, ".service", 8)) || (n > 6 && !strncmp(seg + n - 6, ".scope", 6)))) {
			memcpy(unit, seg, n);
			unit[n] = '\0';
		}
		if (!end)
			break;
	}
}

static int add_path(struct gh_holder *h, const char *path, const char *how)
{
	char buf[320];

	if (snprintf(buf, sizeof(buf), "%s (%s)", path, how) >= (int)sizeof(buf))
		return 0;
	return gh_strv_add(&h->paths, buf);
}

static int scan_fds(struct gh_ctx *ctx, const char *pid, const struct gh_strv *patterns, struct gh_holder *h)
{
	struct gh_strv fds = { 0 };
	int r = gh_fs_list(ctx, &fds, "/proc/%s/fd", pid);

	if (r < 0)
		return r == -EACCES ? 0 : r;
	for (size_t i = 0; i < fds.n && r >= 0; i++) {
		char target[PATH_MAX], how[32];

		if (gh_fs_readlink(ctx, target, sizeof(target), "/proc/%s/fd/%s", pid, fds.v[i]) < 0)
			continue;
		if (target[0] != '/' || !matches(patterns, target))
			continue;
		snprintf(how, sizeof(how), "fd %s", fds.v[i]);
		r = add_path(h, target, how);
	}
	gh_strv_free(&fds);
	return r;
}

/* An mmap pins the device after its fd is closed: the path is maps' sixth column. */
static int scan_maps(struct gh_ctx *ctx, const char *pid, const struct gh_strv *patterns, struct gh_holder *h)
{
	FILE *f = gh_fs_fopen(ctx, "/proc/%s/maps", pid);
	char line[PATH_MAX + 128];
	int r = 0;

	if (!f)
		return 0;
	while (r >= 0 && fgets(line, sizeof(line), f)) {
		char *path = strchr(line, '/');

		if (!path || strncmp(path, "/dev/", 5))
			continue;
		path[strcspn(path, "\n")] = '\0';
		if (matches(patterns, path))
			r = add_path(h, path, "mmap");
	}
	fclose(f);
	return r;
}

static int scan_pid(struct gh_ctx *ctx, const char *pid, const struct gh_strv *patterns, struct gh_holder_set *out)
{
	struct gh_holder h = { 0 };
	char cgroup[1024];
	struct gh_holder *v;
	unsigned long n;
	int r;

	if (gh_util_parse_ulong(pid, 10, 4194304, &n) < 0)
		return -EINVAL;
	h.pid = (pid_t)n;
	r = scan_fds(ctx, pid, patterns, &h);
	if (r >= 0)
		r = scan_maps(ctx, pid, patterns, &h);
	if (r < 0 || !h.paths.n) {
		gh_strv_free(&h.paths);
		/* A process that went away while we looked is no holder. */
		return (r == -ENOENT || r == -ESRCH) ? 0 : r;
	}
	if (gh_fs_read_str(ctx, h.comm, sizeof(h.comm), "/proc/%s/comm", pid) < 0)
		snprintf(h.comm, sizeof(h.comm), "?");
	gh_util_trim(h.comm);
	if (gh_fs_read_str(ctx, cgroup, sizeof(cgroup), "/proc/%s/cgroup", pid) >= 0) {
		char *line = strstr(cgroup, "0::");

		if (line) {
			line += 3;
			line[strcspn(line, "\n")] = '\0';
			gh_holders_parse_cgroup(line, h.unit, sizeof(h.unit), h.container, sizeof(h.container));
		}
	}
	v = realloc(out->v, (out->n + 1) * sizeof(*v));
	if (!v) {
		gh_strv_free(&h.paths);
		return -ENOMEM;
	}
	out->v = v;
	out->v[out->n++] = h;
	return 0;
}

int gh_holders_scan(struct gh_ctx *ctx, const struct gh_strv *patterns, struct gh_holder_set *out)
{
	struct gh_strv pids = { 0 };
	char self[32];
	int r;

	memset(out, 0, sizeof(*out));
	if (!patterns->n)
		return 0;
	snprintf(self, sizeof(self), "%d", (int)getpid());
	r = gh_fs_list(ctx, &pids, "/proc");
	for (size_t i = 0; i < pids.n && r >= 0; i++) {
		if (!isdigit((unsigned char)pids.v[i][0]))
			continue;
		if (!ctx->root[0] && !strcmp(pids.v[i], self))
			continue;
		r = scan_pid(ctx, pids.v[i], patterns, out);
	}
	gh_strv_free(&pids);
	if (r < 0) {
		gh_err(ctx, "cannot scan /proc for processes holding the card: %s", strerror(-r));
		gh_holders_free(out);
	}
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

int gh_holders_describe(const struct gh_holder *h, char *buf, size_t size)
{
	char comm[160], paths[512], who[512];

	gh_util_escape(h->comm, comm, sizeof(comm));
	if (gh_strv_join(&h->paths, ", ", paths, sizeof(paths)) < 0)
		snprintf(paths, sizeof(paths), "%s, ...", h->paths.n ? h->paths.v[0] : "");
	if (h->container[0])
		snprintf(who, sizeof(who), "%s, LXC container %s", comm, h->container);
	else if (h->unit[0])
		snprintf(who, sizeof(who), "%s, %s", comm, h->unit);
	else
		snprintf(who, sizeof(who), "%s", comm);
	return gh_util_format(buf, size, "pid %d (%s): %s", (int)h->pid, who, paths);
}
