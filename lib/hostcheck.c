/* SPDX-License-Identifier: MIT */
#include "hostcheck.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "handoff.h"
#include "hostcheck-int.h"
#include "host.h"
#include "install.h"
#include "isolate.h"
#include "journal.h"
#include "modules.h"
#include "pci.h"
#include "policy.h"
#include "util.h"

/* The findings list is shared with hostcheck-conf.c; every check here calls it add. */
#define add gh_hostcheck_add

const char *gh_hostcheck_severity_name(enum gh_severity s)
{
	return s == GH_SEV_ERROR ? "error" : s == GH_SEV_WARNING ? "warning" : "info";
}

void gh_hostcheck_add(struct gh_findings *f, enum gh_severity sev, const char *where, const char *fix, const char *fmt,
		      ...)
{
	struct gh_finding *v = gh_util_grow(f->v, f->n, sizeof(*v));
	va_list ap;

	if (!v)
		return;
	f->v = v;
	v = &f->v[f->n++];
	memset(v, 0, sizeof(*v));
	v->severity = sev;
	va_start(ap, fmt);
	vsnprintf(v->what, sizeof(v->what), fmt, ap);
	va_end(ap);
	snprintf(v->where, sizeof(v->where), "%s", where);
	snprintf(v->fix, sizeof(v->fix), "%s", fix);
}

void gh_hostcheck_free(struct gh_findings *f)
{
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

static bool cmdline_has(const char *cmdline, const char *key, const char *value_part)
{
	char buf[4096], *save = NULL;

	gh_util_copy(buf, sizeof(buf), cmdline);
	for (char *t = strtok_r(buf, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
		char k[128];

		gh_util_copy(k, sizeof(k), t);
		gh_hostcheck_normalize(k);
		if (strncmp(k, key, strlen(key)))
			continue;
		if (!value_part || strstr(t, value_part))
			return true;
	}
	return false;
}

/*
 * Two cards on nvidia with nvidia-drm modeset=1 and a driver without per-GPU
 * removal: the same detection the plan makes (gh_modules_modeset_hold), and
 * what the policy's modeset_hold makes of it for every VM without its own.
 */
static void check_two_gpu_driver(struct gh_ctx *ctx, struct gh_findings *f)
{
	struct gh_modeset_hold m;
	struct gh_policy pol;
	char why[512];
	bool reload;

	if (gh_modules_modeset_hold(ctx, &m) < 0 || !m.holds ||
	    gh_modules_modeset_describe(&m, why, sizeof(why)) < 0)
		return;
	/* A policy that cannot be read refuses every start anyway; check_vm names its lines. */
	reload = gh_policy_load(ctx, 0, &pol) == 0 && pol.modeset_hold == GH_MODESET_HOLD_RELOAD;
	gh_policy_free(&pol);
	if (reload)
		add(f, GH_SEV_INFO, m.source[0] ? m.source : "/sys/module/nvidia",
		    "nothing to do; upgrading the driver to 580.105.08 or newer makes the reload unnecessary",
		    "%s; modeset_hold = reload: a handoff reloads nvidia_drm and nvidia_modeset around the unbind, "
		    "and the host's console on the other card goes away for that moment", why);
	else
		add(f, GH_SEV_ERROR, m.source[0] ? m.source : "/sys/module/nvidia", GH_MODESET_HOLD_FIX,
		    "%s; modeset_hold = refuse: such a handoff is refused", why);
}

static bool reported_wedged(const struct gh_findings *f, const char *addr)
{
	size_t len = strlen(addr);

	for (unsigned i = 0; i < f->n; i++)
		if (!strncmp(f->v[i].what, addr, len) && !strncmp(f->v[i].what + len, " is wedged", 10))
			return true;
	return false;
}

static void wedged_finding(struct gh_ctx *ctx, const struct gh_journals *js, struct gh_findings *f, const char *addr,
			   const char *driver, const char *where, const char *key)
{
	char reason[1536], fix[160];

	if (reported_wedged(f, addr))
		return;
	gh_handoff_wedged_reason(ctx, js, addr, driver, reason, sizeof(reason));
	snprintf(fix, sizeof(fix), "end what the stuck call waits for (the processes named); once it returns, "
		 "run 'gpu-hook recover%s%s'", key ? " " : "", key ? key : "");
	add(f, GH_SEV_ERROR, where, fix, "%s is %s", addr, reason);
}

/*
 * The functions a journal holds, read under their device lock in a child:
 * one that does not answer is wedged; one a journal marks wedged but that
 * answers again waits for recover.
 */
static void check_wedged(struct gh_ctx *ctx, struct gh_findings *f)
{
	struct gh_strv keys = { 0 };

	gh_journal_list(ctx, &keys);
	for (size_t k = 0; k < keys.n; k++) {
		struct gh_journal j;
		char where[64];

		if (gh_journal_load(ctx, keys.v[k], &j) < 0)
			continue;
		snprintf(where, sizeof(where), "/run/gpu-hook/%s.json", keys.v[k]);
		for (unsigned i = 0; i < j.n_dev; i++) {
			char drv[64] = "", fix[96];

			if (gh_pci_lock_stuck(ctx, j.dev[i].addr) == 1) {
				gh_fs_link_base(ctx, drv, sizeof(drv), "/sys/bus/pci/devices/%s/driver", j.dev[i].addr);
				wedged_finding(ctx, NULL, f, j.dev[i].addr, drv, where, keys.v[k]);
			} else if (j.dev[i].wedged) {
				snprintf(fix, sizeof(fix), "gpu-hook recover %s", keys.v[k]);
				add(f, GH_SEV_WARNING, where, fix, "%s was wedged in the kernel and answers again: it is still "
				    "off its host driver", j.dev[i].addr);
			}
		}
		gh_journal_free(&j);
	}
	gh_strv_free(&keys);
}

/* What [isolation] (lib/isolate.h) needs; a boot-time isolcpus=/nohz_full= coexists with it. */
static void check_isolation(struct gh_ctx *ctx, struct gh_findings *f, const char *cmdline)
{
	char cpus[256] = "";
	unsigned sd;

	if (gh_fs_read_str(ctx, cpus, sizeof(cpus), "/sys/devices/system/cpu/online") > 0)
		add(f, GH_SEV_INFO, "/sys/devices/system/cpu/online", "nothing to do",
		    "online CPUs %s: [isolation] keeps the host on those no isolated VM runs on", cpus);
	if (gh_fs_exists(ctx, "/sys/fs/cgroup/cgroup.controllers") <= 0)
		add(f, GH_SEV_INFO, "/sys/fs/cgroup", "boot with the unified hierarchy (Proxmox VE 7 and later do)",
		    "no cgroup v2: [isolation] refuses to run");
	if (gh_isolate_systemd_version(ctx, &sd) < 0)
		add(f, GH_SEV_INFO, "/usr/lib", "nothing to do",
		    "systemd version unknown (no libsystemd-shared-*.so): [isolation] needs systemd %u or later",
		    GH_ISOLATE_SYSTEMD_MIN);
	else if (sd < GH_ISOLATE_SYSTEMD_MIN)
		add(f, GH_SEV_INFO, "systemd", "upgrade systemd (Proxmox VE 7 ships 247)",
		    "systemd %u is older than %u (no AllowedCPUs=): [isolation] refuses to run", sd,
		    GH_ISOLATE_SYSTEMD_MIN);
	else
		add(f, GH_SEV_INFO, "systemd", "nothing to do", "systemd %u: AllowedCPUs= for [isolation]", sd);
	if (gh_fs_exists(ctx, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") <= 0)
		add(f, GH_SEV_INFO, "/sys/devices/system/cpu/cpu0/cpufreq", "nothing to do",
		    "no cpufreq governor: [isolation] governor = performance has nothing to set");
	if (cmdline_has(cmdline, "isolcpus=", NULL) || cmdline_has(cmdline, "nohz_full=", NULL))
		add(f, GH_SEV_INFO, "/proc/cmdline", "nothing to do",
		    "the kernel command line isolates CPUs at boot (isolcpus=/nohz_full=): compatible with "
		    "[isolation], which narrows the slices, IRQs and other VMs at runtime on top");
}

static void check_host(struct gh_ctx *ctx, struct gh_findings *f)
{
	struct gh_strv groups = { 0 };
	char cmdline[4096] = "", val[16];
	bool nouveau_off = false;

	gh_fs_read_str(ctx, cmdline, sizeof(cmdline), "/proc/cmdline");
	gh_fs_list(ctx, &groups, "/sys/kernel/iommu_groups");
	if (!groups.n)
		add(f, GH_SEV_ERROR, "/sys/kernel/iommu_groups",
		    "enable VT-d or AMD-Vi in the firmware; on Intel add intel_iommu=on (and iommu=pt) to the kernel "
		    "command line",
		    "the IOMMU is off: there are no IOMMU groups, and vfio-pci cannot bind anything");
	gh_strv_free(&groups);
	if (cmdline_has(cmdline, "vfio_pci.ids=", NULL))
		add(f, GH_SEV_WARNING, "/proc/cmdline", "remove vfio-pci.ids= from the kernel command line",
		    "vfio-pci claims devices at boot (vfio-pci.ids= on the kernel command line)");
	if (cmdline_has(cmdline, "module_blacklist=", "nvidia") || cmdline_has(cmdline, "modprobe.blacklist=", "nvidia"))
		add(f, GH_SEV_ERROR, "/proc/cmdline", "remove nvidia from module_blacklist=/modprobe.blacklist=",
		    "the kernel command line blacklists the NVIDIA driver");
	if (cmdline_has(cmdline, "modprobe.blacklist=", "nouveau") || cmdline_has(cmdline, "module_blacklist=", "nouveau"))
		nouveau_off = true;
	if (cmdline_has(cmdline, "video=efifb:off", NULL) || cmdline_has(cmdline, "initcall_blacklist=", "sysfb"))
		add(f, GH_SEV_INFO, "/proc/cmdline", "nothing to do; without fbdev the host has no graphical console",
		    "the firmware framebuffer is disabled on the kernel command line");

	if (!gh_hostcheck_modules(ctx, f, nouveau_off, cmdline_has(cmdline, "nvidia_drm.modeset=", NULL)))
		return;
	check_wedged(ctx, f);
	check_two_gpu_driver(ctx, f);
	check_isolation(ctx, f, cmdline);
	if (gh_fs_read_str(ctx, val, sizeof(val), "/sys/module/nvidia_drm/parameters/fbdev") > 0) {
		bool fbdev = gh_util_trim(val)[0] == 'Y';

		add(f, GH_SEV_INFO, "/sys/module/nvidia_drm/parameters/fbdev",
		    fbdev ? "nothing to do" : "nothing to do; set fbdev=1 for a console drawn by nvidia-drm",
		    fbdev ? "nvidia-drm draws the console (fbdev=1): gpu-hook detaches it during a handoff and "
			    "reattaches it after; the firmware framebuffer is gone for good"
			  : "nvidia-drm has no framebuffer (fbdev=0): the console is on the firmware framebuffer");
	}
}

/*
 * The file Proxmox runs as root at every start of the VM: a regular file (not
 * a link whose target someone else may control), root's in a directory chain
 * that is root's, and this very gpu-hook.
 */
static void check_hookscript(struct gh_ctx *ctx, struct gh_findings *f, unsigned vmid, const char *hookscript,
			     const char *storage, const struct gh_storage *st, const char *name)
{
	char where[128], dir[PATH_MAX], file[PATH_MAX], path[PATH_MAX], why[512], fix[256], what[512];
	struct stat sb;
	int fd, self, same;
	bool regular;

	snprintf(where, sizeof(where), "VM %u", vmid);
	snprintf(fix, sizeof(fix), "gpu-hook install %u%s%s", vmid, strcmp(storage, "local") ? " --storage " : "",
		 strcmp(storage, "local") ? storage : "");
	if (gh_util_format(dir, sizeof(dir), "%s/snippets", st->path) < 0 ||
	    gh_util_format(file, sizeof(file), "%s/%s", dir, name) < 0 || gh_fs_path(ctx, path, sizeof(path), "%s", file) < 0)
		return;
	if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode)) {
		add(f, GH_SEV_ERROR, file, fix,
		    "hookscript '%s' is %s, a symlink: Proxmox follows it as root at every start, so whoever can change "
		    "the link's target chooses what runs", hookscript, file);
		return;
	}
	regular = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
	if (!regular || !(sb.st_mode & 0111))
		add(f, GH_SEV_ERROR, where, "gpu-hook install <vmid>",
		    "hookscript '%s' resolves to %s, which is not an executable file", hookscript, file);
	if (!regular)
		return;
	if (!st->snippets)
		add(f, GH_SEV_ERROR, "/etc/pve/storage.cfg", "add snippets to the storage's content",
		    "storage '%s' does not allow snippets: Proxmox refuses the hookscript", storage);
	if (gh_install_trust_file(ctx, file, &sb, why, sizeof(why)) < 0)
		add(f, GH_SEV_ERROR, file, "the chown/chmod named, then (its content may have been changed) gpu-hook "
		    "install <vmid>", "hookscript %s", why);
	if (gh_install_trust_dir(ctx, dir, why, sizeof(why)) < 0)
		add(f, GH_SEV_ERROR, dir, "the chown/chmod named, then (the file may have been replaced) gpu-hook "
		    "install <vmid>", "hookscript directory: %s", why);
	if (gh_install_network(ctx, storage, st, dir, what, sizeof(what)) > 0)
		add(f, GH_SEV_WARNING, file, "gpu-hook install <vmid> --storage local",
		    "hookscript on another machine (%s): whoever controls that server or can write the share can "
		    "replace what Proxmox runs as root", what);
	self = gh_install_open_self();
	fd = gh_fs_open(ctx, O_RDONLY | O_NOFOLLOW, "%s", file);
	same = self < 0 ? self : fd < 0 ? fd : gh_install_same_content(self, fd);
	if (same == 0)
		add(f, GH_SEV_WARNING, file, fix, "hookscript %s is not this gpu-hook: its content differs from the running "
		    "binary (/proc/self/exe)%s", file, gh_ctx_root(ctx)[0] ? "; under --root the tree's file is compared with "
		    "the running binary itself" : "");
	else if (same < 0)
		add(f, GH_SEV_ERROR, file, fix, "hookscript %s cannot be compared with the running binary: %s", file,
		    strerror(-same));
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
}

static void check_vm(struct gh_ctx *ctx, unsigned vmid, struct gh_findings *f)
{
	char where[128], storage[64], name[128], key[16];
	struct gh_host h;
	int r;

	snprintf(where, sizeof(where), "VM %u", vmid);
	r = gh_host_load(ctx, vmid, &h);
	if (r < 0) {
		add(f, GH_SEV_ERROR, where, "fix the file and line named in the messages above",
		    "VM %u's config or policy cannot be used (%s)", vmid, strerror(-r));
		gh_host_free(&h);
		return;
	}
	snprintf(key, sizeof(key), "%u", vmid);
	for (unsigned i = 0; i < h.n_f; i++)
		if (h.f[i].dev.wedged)
			wedged_finding(ctx, &h.journals, f, h.f[i].dev.addr, h.f[i].dev.driver, where, key);
	for (size_t i = 0; i < h.refusals.n; i++) {
		enum gh_refusal_kind kind = h.refusals.v[i].kind;
		bool config = kind == GH_REFUSAL_DEVICE || kind == GH_REFUSAL_CONFIG || kind == GH_REFUSAL_GROUP;
		bool modeset = kind == GH_REFUSAL_MODESET;

		add(f, config ? GH_SEV_ERROR : GH_SEV_WARNING, where,
		    config    ? "pass the whole group through, move the card, or fix the config"
		    : modeset ? GH_MODESET_HOLD_FIX
			      : "a start now would be refused for this reason",
		    "%s", h.refusals.v[i].text);
	}
	if (!h.vm.hookscript[0]) {
		char fix[64];

		snprintf(fix, sizeof(fix), "gpu-hook install %u", vmid);
		add(f, GH_SEV_WARNING, where, fix, "VM %u has no hookscript: gpu-hook does not run at its start", vmid);
	} else if (sscanf(h.vm.hookscript, "%63[^:]:snippets/%127s", storage, name) != 2 || strchr(name, '/')) {
		add(f, GH_SEV_ERROR, where, "gpu-hook install <vmid>", "hookscript '%s' is not <storage>:snippets/<file>",
		    h.vm.hookscript);
	} else {
		struct gh_storage st = { 0 };
		/* A pmxcfs file, so never a link (see gh_vmconf_load). */
		FILE *sf = gh_fs_fopen_input(ctx, 0, GH_FS_CONF_MAX, NULL, "/etc/pve/storage.cfg");

		r = sf ? gh_install_storage_parse(ctx, sf, "/etc/pve/storage.cfg", storage, &st) : -ENOENT;
		if (sf)
			fclose(sf);
		if (r < 0 || !st.found || !st.path[0])
			add(f, GH_SEV_ERROR, "/etc/pve/storage.cfg", "gpu-hook install <vmid> --storage <a snippets storage>",
			    "hookscript '%s': storage '%s' has no directory here", h.vm.hookscript, storage);
		else
			check_hookscript(ctx, f, vmid, h.vm.hookscript, storage, &st, name);
	}
	gh_host_free(&h);
}

int gh_hostcheck_run(struct gh_ctx *ctx, const unsigned *vmids, unsigned n_vmids, struct gh_findings *out)
{
	struct gh_journals js;

	memset(out, 0, sizeof(*out));
	/* Every function a journal holds is read in a child from here on. */
	gh_journals_load(ctx, &js);
	gh_journals_mark_suspects(ctx, &js);
	gh_journals_free(&js);
	check_host(ctx, out);
	gh_hostcheck_lxc(ctx, out);
	for (unsigned i = 0; i < n_vmids; i++)
		check_vm(ctx, vmids[i], out);
	return 0;
}
