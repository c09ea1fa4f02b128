/* SPDX-License-Identifier: MIT */
#include "vms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "util.h"

#define CMDLINE_MAX (256 * 1024)

/* /proc/<pid>/cmdline, NUL-separated. Length, or -errno. */
static ssize_t read_cmdline(struct gh_ctx *ctx, pid_t pid, char **out)
{
	char *buf;
	size_t off = 0;
	int fd = gh_fs_open(ctx, O_RDONLY | O_NOCTTY, "/proc/%d/cmdline", (int)pid);

	if (fd < 0)
		return fd;
	buf = malloc(CMDLINE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + off, CMDLINE_MAX - off);

		if (n <= 0 || (off += (size_t)n) == CMDLINE_MAX)
			break;
	}
	close(fd);
	buf[off] = '\0';
	*out = buf;
	return (ssize_t)off;
}

int gh_vms_pid(struct gh_ctx *ctx, unsigned vmid, pid_t *pid)
{
	char buf[32], want[64];
	unsigned long v;
	char *cl = NULL;
	ssize_t len;
	bool ok = false;
	int r;

	r = gh_fs_read_str(ctx, buf, sizeof(buf), "/var/run/qemu-server/%u.pid", vmid);
	if (r < 0)
		return r == -ENOENT ? -ENOENT : r;
	if (gh_util_parse_ulong(gh_util_trim(buf), 10, 4194304, &v) < 0 || v < 2)
		return -ENOENT;
	len = read_cmdline(ctx, (pid_t)v, &cl);
	if (len < 0)
		return len == -ENOENT ? -ENOENT : (int)len;
	/* A pid file whose pid now belongs to another process is stale (PVE checks the same). */
	snprintf(want, sizeof(want), "/var/run/qemu-server/%u.pid", vmid);
	for (ssize_t i = 0; i < len;) {
		const char *arg = cl + i;
		size_t n = strlen(arg);

		if (!strcmp(arg, "-pidfile") && i + (ssize_t)n + 1 < len && !strcmp(arg + n + 1, want))
			ok = true;
		i += (ssize_t)n + 1;
	}
	free(cl);
	if (!ok)
		return -ENOENT;
	*pid = (pid_t)v;
	return 0;
}

/* "host=0000:01:00.0" or a whole slot "host=0000:01:00" inside a -device argument. */
static bool arg_uses(const char *arg, const char *addr)
{
	size_t slot_len = strlen(addr) - 2;

	for (const char *p = strstr(arg, "host="); p; p = strstr(p + 1, "host=")) {
		const char *v = p + 5;

		if (p != arg && p[-1] != ',')
			continue;
		if (!strncmp(v, addr, strlen(addr)) && (v[strlen(addr)] == ',' || !v[strlen(addr)]))
			return true;
		if (!strncmp(v, addr, slot_len) && (v[slot_len] == ',' || !v[slot_len]))
			return true;
		/* PVE writes short ids without the domain for domain 0000. */
		if (!strncmp(addr, "0000:", 5) && !strncmp(v, addr + 5, strlen(addr) - 5) &&
		    (v[strlen(addr) - 5] == ',' || !v[strlen(addr) - 5]))
			return true;
	}
	return false;
}

static int vm_uses(struct gh_ctx *ctx, pid_t pid, const char *addr)
{
	char *cl = NULL;
	ssize_t len = read_cmdline(ctx, pid, &cl);
	bool found = false;

	if (len < 0)
		return len == -ENOENT ? 0 : (int)len;
	for (ssize_t i = 0; i < len && !found;) {
		found = arg_uses(cl + i, addr);
		i += (ssize_t)strlen(cl + i) + 1;
	}
	free(cl);
	return found;
}

static int reserved_by(struct gh_ctx *ctx, unsigned self, const char *addr, unsigned *vmid)
{
	FILE *f = gh_fs_fopen(ctx, "/run/qemu-server/pci-id-reservations");
	char line[256];
	int r = 0;

	if (!f)
		return 0;
	while (!r && fgets(line, sizeof(line), f)) {
		char id[64], vm[32];
		unsigned long v;
		pid_t pid;

		if (sscanf(line, "%63s %31s", id, vm) != 2 || gh_util_parse_ulong(vm, 10, 999999999, &v) < 0)
			continue;
		if (v == self || strcmp(id, addr))
			continue;
		if (gh_vms_pid(ctx, (unsigned)v, &pid) == 0) {
			*vmid = (unsigned)v;
			r = 1;
		}
	}
	fclose(f);
	return r;
}

int gh_vms_owner(struct gh_ctx *ctx, unsigned self, const char *addr, unsigned *vmid)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/var/run/qemu-server");

	for (size_t i = 0; i < names.n && r >= 0; i++) {
		char *dot = strstr(names.v[i], ".pid");
		unsigned long v;
		pid_t pid;

		if (!dot || dot[4])
			continue;
		*dot = '\0';
		if (gh_util_parse_ulong(names.v[i], 10, 999999999, &v) < 0 || v == self)
			continue;
		if (gh_vms_pid(ctx, (unsigned)v, &pid) < 0)
			continue;
		r = vm_uses(ctx, pid, addr);
		if (r > 0) {
			*vmid = (unsigned)v;
			break;
		}
	}
	gh_strv_free(&names);
	if (r == 0)
		r = reserved_by(ctx, self, addr, vmid);
	return r;
}
