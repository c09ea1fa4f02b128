/* SPDX-License-Identifier: MIT */
#include "vms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "pciid.h"
#include "util.h"

/* A QEMU command line with many devices is tens of KiB; more than this is not QEMU's. */
#define CMDLINE_MAX ((size_t)1024 * 1024)
#define PID_MAX 4194304UL
#define PIDFILE_MAX 64
#define VMID_MAX 999999999UL

/* /proc/<pid>/cmdline, NUL-separated, NUL-terminated once more. 0 or -errno (logged but absence). */
static int read_cmdline(struct gh_ctx *ctx, pid_t pid, char **out, size_t *out_len)
{
	return gh_fs_read_input(ctx, 0, CMDLINE_MAX, out, out_len, NULL, "/proc/%d/cmdline", (int)pid);
}

/* The next argument after arg, or NULL past the end. */
static const char *next_arg(const char *cl, size_t len, const char *arg)
{
	const char *next = arg + strlen(arg) + 1;

	return next < cl + len ? next : NULL;
}

/*
 * qemu-server's check_cmdline: argv[0] ends in "kvm" or is qemu-system-*, and
 * the first -pidfile names this VM's pid file. A pid file whose pid now
 * belongs to another process is stale.
 */
static bool is_vm_process(const char *cl, size_t len, const char *want)
{
	const char *base = strrchr(cl, '/');
	size_t l0 = strlen(cl);

	base = base ? base + 1 : cl;
	if (!len || !((l0 >= 3 && !strcmp(cl + l0 - 3, "kvm")) || !strncmp(base, "qemu-system-", 12)))
		return false;
	for (const char *a = cl; a; a = next_arg(cl, len, a)) {
		if (strcmp(a, "-pidfile") && strcmp(a, "--pidfile"))
			continue;
		a = next_arg(cl, len, a);
		return a && !strcmp(a, want);
	}
	return false;
}

/* 0 with the pid and its command line when the VM runs, -ENOENT when not, -errno (logged). */
static int vm_cmdline(struct gh_ctx *ctx, unsigned vmid, pid_t *pid, char **cl, size_t *len)
{
	char *buf, want[64], esc[96], rooted[PATH_MAX];
	unsigned long v;
	size_t n;
	int r;

	/*
	 * QEMU writes it as a file (-pidfile), so a link is not followed; one
	 * pid is a few bytes. /var/run is a link to /run: a directory, not the
	 * last component.
	 */
	r = gh_fs_read_input(ctx, 0, PIDFILE_MAX, &buf, &n, NULL, "/var/run/qemu-server/%u.pid", vmid);
	if (r < 0)
		return r;
	r = gh_util_parse_ulong(gh_util_trim(buf), 10, PID_MAX, &v);
	if (r < 0 || !v) {
		gh_dbg(ctx, "/var/run/qemu-server/%u.pid: no pid in it (\"%s\"): VM %u is not running", vmid,
		       gh_util_escape(buf, esc, sizeof(esc)), vmid);
		free(buf);
		return -ENOENT;
	}
	free(buf);
	r = read_cmdline(ctx, (pid_t)v, cl, len);
	if (r == -ENOENT || r == -ESRCH)
		return -ENOENT;
	if (r < 0)
		return r;
	/* Under a fixture root, QEMU was given the pid file's path inside that root. */
	if (gh_util_format(want, sizeof(want), "/var/run/qemu-server/%u.pid", vmid) < 0 ||
	    (!is_vm_process(*cl, *len, want) &&
	     (!gh_ctx_root(ctx)[0] || gh_fs_path(ctx, rooted, sizeof(rooted), "%s", want) < 0 ||
	      !is_vm_process(*cl, *len, rooted)))) {
		gh_dbg(ctx, "/var/run/qemu-server/%u.pid: stale, pid %lu is not VM %u", vmid, v, vmid);
		free(*cl);
		*cl = NULL;
		return -ENOENT;
	}
	*pid = (pid_t)v;
	return 0;
}

int gh_vms_pid(struct gh_ctx *ctx, unsigned vmid, pid_t *pid)
{
	char *cl = NULL;
	size_t len;
	int r = vm_cmdline(ctx, vmid, pid, &cl, &len);

	free(cl);
	return r;
}

/* Whether a PVE id ("0000:01:00.0", "01:00.0", a whole slot "0000:01:00") covers the function. */
static bool id_covers(const char *s, size_t n, const struct gh_pciid *fn)
{
	struct gh_pciid id;
	char buf[32];

	if (!n || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (gh_pciid_parse(buf, &id) < 0)
		return false;
	return id.domain == fn->domain && id.bus == fn->bus && id.slot == fn->slot &&
	       (id.func < 0 || id.func == fn->func);
}

/* "host=<id>" as one option of an argument ("vfio-pci,host=0000:01:00.0,id=hostpci0.0,..."). */
static bool arg_uses(const char *arg, const struct gh_pciid *fn)
{
	for (const char *p = strstr(arg, "host="); p; p = strstr(p + 5, "host=")) {
		const char *v = p + 5;

		/* "x-host=" or "vhost=" are other options. */
		if (p != arg && p[-1] != ',')
			continue;
		if (id_covers(v, strcspn(v, ","), fn))
			return true;
	}
	return false;
}

static bool cmdline_uses(const char *cl, size_t len, const struct gh_pciid *fn)
{
	for (const char *a = cl; a; a = next_arg(cl, len, a))
		if (arg_uses(a, fn))
			return true;
	return false;
}

/*
 * PVE's own bookkeeping (PCI.pm reserve_pci_usage): "<pciid> <vmid>
 * time:<epoch>" while a start is under way (the epoch is when the
 * reservation lapses: it holds while later than now), "<pciid> <vmid>
 * pid:<pid>" once it runs (it holds while that VM's QEMU has that pid; any
 * other pid is a leftover PVE takes over). A running VM's time: entry counts
 * too (1): its QEMU is up. A lapsed start or a leftover does not.
 */
static int load_reservations(struct gh_ctx *ctx, struct gh_vms *vms)
{
	char *line = NULL;
	size_t cap = 0;
	int r = 0;
	FILE *f;

	/* PVE rewrites it as a file (PVE::Tools::file_set_contents): never a link. */
	f = gh_fs_fopen_input(ctx, 0, GH_FS_CONF_MAX, NULL, "/run/qemu-server/pci-id-reservations");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (getline(&line, &cap, f) >= 0) {
		char *save = NULL, *id, *vm, *how;
		unsigned long v, num;
		struct gh_vm_reservation *rs;

		id = strtok_r(line, " \t\n", &save);
		vm = strtok_r(NULL, " \t\n", &save);
		how = strtok_r(NULL, " \t\n", &save);
		if (!id || !vm || !how || strtok_r(NULL, " \t\n", &save) || strlen(id) >= sizeof(rs->id) ||
		    gh_util_parse_ulong(vm, 10, VMID_MAX, &v) < 0 ||
		    !((!strncmp(how, "time:", 5) && gh_util_parse_ulong(how + 5, 10, (unsigned long)-1, &num) == 0) ||
		      (!strncmp(how, "pid:", 4) && gh_util_parse_ulong(how + 4, 10, PID_MAX, &num) == 0)))
			continue;
		if (v == vms->self)
			continue;
		rs = gh_util_grow(vms->res, vms->n_res, sizeof(*rs));
		if (!rs) {
			r = -ENOMEM;
			break;
		}
		vms->res = rs;
		rs = &rs[vms->n_res++];
		memcpy(rs->id, id, strlen(id) + 1);
		rs->vmid = (unsigned)v;
		rs->by_time = how[0] == 't';
		rs->num = num;
	}
	free(line);
	fclose(f);
	return r;
}

int gh_vms_load(struct gh_ctx *ctx, unsigned self, struct gh_vms *vms)
{
	struct gh_strv names = { 0 };
	int r;

	memset(vms, 0, sizeof(*vms));
	vms->self = self;
	r = gh_fs_list(ctx, &names, "/var/run/qemu-server");
	if (r < 0) {
		gh_err(ctx, "cannot list /var/run/qemu-server: %s", strerror(-r));
		vms->error = r;
		return r;
	}
	for (size_t i = 0; i < names.n; i++) {
		char *dot = strrchr(names.v[i], '.'), canon[32];
		struct gh_vm_running *run;
		unsigned long v;

		if (!dot || strcmp(dot, ".pid"))
			continue;
		*dot = '\0';
		/* Only the names PVE writes: "0100.pid" is not VM 100's. */
		if (gh_util_parse_ulong(names.v[i], 10, VMID_MAX, &v) < 0 ||
		    gh_util_format(canon, sizeof(canon), "%lu", v) < 0 || strcmp(canon, names.v[i]) || v == self)
			continue;
		run = gh_util_grow(vms->run, vms->n_run, sizeof(*run));
		if (!run) {
			vms->error = -ENOMEM;
			break;
		}
		vms->run = run;
		run = &run[vms->n_run];
		memset(run, 0, sizeof(*run));
		run->vmid = (unsigned)v;
		r = vm_cmdline(ctx, run->vmid, &run->pid, &run->cl, &run->len);
		if (r == -ENOENT)
			continue;
		vms->n_run++;
		/* As when asked VM by VM: the questions stop at a VM that could not be read. */
		if (r < 0) {
			run->error = r;
			break;
		}
	}
	gh_strv_free(&names);
	if (vms->error)
		return vms->error;
	r = load_reservations(ctx, vms);
	if (r < 0)
		vms->res_error = r;
	return 0;
}

void gh_vms_free(struct gh_vms *vms)
{
	for (unsigned i = 0; i < vms->n_run; i++)
		free(vms->run[i].cl);
	free(vms->run);
	free(vms->res);
	memset(vms, 0, sizeof(*vms));
}

/* A VM of the snapshot: 0 with its pid when it runs, -ENOENT when not, its read's -errno. */
static int running_pid(const struct gh_vms *vms, unsigned vmid, pid_t *pid)
{
	for (unsigned i = 0; i < vms->n_run; i++) {
		if (vms->run[i].vmid != vmid)
			continue;
		if (vms->run[i].error)
			return vms->run[i].error;
		*pid = vms->run[i].pid;
		return 0;
	}
	return -ENOENT;
}

static int reserved_by(const struct gh_vms *vms, const struct gh_pciid *fn, unsigned *vmid)
{
	if (vms->res_error)
		return vms->res_error;
	for (unsigned i = 0; i < vms->n_res; i++) {
		const struct gh_vm_reservation *rs = &vms->res[i];
		pid_t pid = 0;
		int r;

		if (!id_covers(rs->id, strlen(rs->id), fn))
			continue;
		r = running_pid(vms, rs->vmid, &pid);
		if (r == -ENOENT && rs->by_time && rs->num > (unsigned long)time(NULL)) {
			*vmid = rs->vmid;
			return 2;
		}
		if (r == 0 && (rs->by_time || (unsigned long)pid == rs->num)) {
			*vmid = rs->vmid;
			return 1;
		}
		if (r < 0 && r != -ENOENT)
			return r;
	}
	return 0;
}

int gh_vms_owner_in(const struct gh_vms *vms, const char *addr, unsigned *vmid)
{
	struct gh_pciid fn;

	if (!gh_pciid_is_addr(addr) || gh_pciid_parse(addr, &fn) < 0)
		return -EINVAL;
	if (vms->error)
		return vms->error;
	for (unsigned i = 0; i < vms->n_run; i++) {
		if (vms->run[i].error)
			return vms->run[i].error;
		if (cmdline_uses(vms->run[i].cl, vms->run[i].len, &fn)) {
			*vmid = vms->run[i].vmid;
			return 1;
		}
	}
	return reserved_by(vms, &fn, vmid);
}
