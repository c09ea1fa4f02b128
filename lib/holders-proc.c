/* SPDX-License-Identifier: MIT */
/* One process as /proc shows it: its start time and session, its pinning, its systemd unit or container. */
#include "holders.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fs.h"
#include "services.h"

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

int gh_holders_proc_stat_at(int pfd, unsigned long long *start, pid_t *sid)
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
