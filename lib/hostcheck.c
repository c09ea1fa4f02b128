/* SPDX-License-Identifier: MIT */
#include "hostcheck.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libkmod.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "handoff.h"
#include "host.h"
#include "install.h"
#include "isolate.h"
#include "journal.h"
#include "modules.h"
#include "pci.h"
#include "policy.h"
#include "util.h"

/* libkmod's configuration directories, in its order of precedence. */
static const char *const conf_dirs[] = { "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
					 "/lib/modprobe.d", "/usr/lib/modprobe.d" };

static const char *const nvidia_mods[] = { "nvidia", "nvidia_drm", "nvidia_modeset", "nvidia_uvm" };

const char *gh_hostcheck_severity_name(enum gh_severity s)
{
	return s == GH_SEV_ERROR ? "error" : s == GH_SEV_WARNING ? "warning" : "info";
}

static void add(struct gh_findings *f, enum gh_severity sev, const char *where, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void add(struct gh_findings *f, enum gh_severity sev, const char *where, const char *fix, const char *fmt, ...)
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

static void normalize(char *s)
{
	for (; *s; s++)
		if (*s == '-')
			*s = '_';
}

static bool is_nvidia(const char *mod)
{
	char m[64];

	gh_util_copy(m, sizeof(m), mod);
	normalize(m);
	for (size_t i = 0; i < GH_ARRAY_SIZE(nvidia_mods); i++)
		if (!strcmp(m, nvidia_mods[i]))
			return true;
	return !strncmp(m, "nvidia_current", 14);
}

/*
 * The file and line of the first "verb module ..." line (module names with
 * '-' and '_' equal), in libkmod's precedence: a file name seen in an
 * earlier directory hides the same name later. "" when not found.
 */
static void locate(struct gh_ctx *ctx, const char *verb, const char *module, const char *contains, char *where,
		   size_t size)
{
	struct gh_strv seen = { 0 };
	char want[64];

	where[0] = '\0';
	gh_util_copy(want, sizeof(want), module);
	normalize(want);
	for (size_t d = 0; d < GH_ARRAY_SIZE(conf_dirs) && !where[0]; d++) {
		struct gh_strv files = { 0 };

		gh_fs_list(ctx, &files, "%s", conf_dirs[d]);
		for (size_t i = 0; i < files.n && !where[0]; i++) {
			char line[1024];
			int lineno = 0;
			FILE *f;

			if (gh_strv_contains(&seen, files.v[i]) || strlen(files.v[i]) < 6 ||
			    strcmp(files.v[i] + strlen(files.v[i]) - 5, ".conf"))
				continue;
			gh_strv_push(&seen, files.v[i]);
			f = gh_fs_fopen(ctx, "%s/%s", conf_dirs[d], files.v[i]);
			if (!f)
				continue;
			while (fgets(line, sizeof(line), f)) {
				char v[32], m[64];

				lineno++;
				if (sscanf(line, " %31s %63s", v, m) != 2 || strcmp(v, verb))
					continue;
				normalize(m);
				if (strcmp(m, want) || (contains && !strstr(line, contains)))
					continue;
				snprintf(where, size, "%s/%s:%d", conf_dirs[d], files.v[i], lineno);
				break;
			}
			fclose(f);
		}
		gh_strv_free(&files);
	}
	gh_strv_free(&seen);
	if (!where[0])
		snprintf(where, size, "modprobe.d");
}

static struct kmod_ctx *kmod_for_root(struct gh_ctx *ctx)
{
	char paths[GH_ARRAY_SIZE(conf_dirs)][PATH_MAX];
	const char *cfg[GH_ARRAY_SIZE(conf_dirs) + 1];
	char moddir[PATH_MAX], rel[128];
	struct kmod_ctx *k;

	for (size_t i = 0; i < GH_ARRAY_SIZE(conf_dirs); i++) {
		if (gh_fs_path(ctx, paths[i], sizeof(paths[i]), "%s", conf_dirs[i]) < 0)
			return NULL;
		cfg[i] = paths[i];
	}
	cfg[GH_ARRAY_SIZE(conf_dirs)] = NULL;
	if (gh_fs_read_str(ctx, rel, sizeof(rel), "/proc/sys/kernel/osrelease") < 0 ||
	    gh_fs_path(ctx, moddir, sizeof(moddir), "/lib/modules/%s", gh_util_trim(rel)) < 0)
		moddir[0] = '\0';
	k = kmod_new(moddir[0] ? moddir : NULL, cfg);
	if (k)
		kmod_set_log_priority(k, 0);
	return k;
}

struct modconf {
	bool nouveau_blacklisted;
	int modeset_lines;
	char modeset_values[8][16];
	char modeset_where[8][256];
};

static void check_modprobe(struct gh_ctx *ctx, struct kmod_ctx *k, struct gh_findings *f, struct modconf *mc)
{
	struct kmod_config_iter *it;
	char where[256];

	it = kmod_config_get_blacklists(k);
	while (it && kmod_config_iter_next(it)) {
		const char *mod = kmod_config_iter_get_key(it);

		if (!strcmp(mod, "nouveau"))
			mc->nouveau_blacklisted = true;
		if (is_nvidia(mod)) {
			locate(ctx, "blacklist", mod, NULL, where, sizeof(where));
			add(f, GH_SEV_ERROR, where, "remove the line: gpu-hook loads and unloads the NVIDIA modules itself",
			    "%s is blacklisted", mod);
		}
	}
	kmod_config_iter_free_iter(it);
	it = kmod_config_get_install_commands(k);
	while (it && kmod_config_iter_next(it)) {
		const char *mod = kmod_config_iter_get_key(it), *cmd = kmod_config_iter_get_value(it);
		char esc[128];

		if (!strcmp(mod, "nouveau") && strstr(cmd, "/bin/false"))
			mc->nouveau_blacklisted = true;
		if (!is_nvidia(mod) && strcmp(mod, "vfio_pci") && strcmp(mod, "vfio-pci"))
			continue;
		locate(ctx, "install", mod, NULL, where, sizeof(where));
		add(f, strstr(cmd, "/bin/false") || strstr(cmd, "/bin/true") ? GH_SEV_ERROR : GH_SEV_WARNING, where,
		    "remove the install line; gpu-hook loads modules by name with libkmod and runs no shell commands",
		    "%s has an install command (\"%s\"), which gpu-hook will not run", mod,
		    gh_util_escape(cmd, esc, sizeof(esc)));
	}
	kmod_config_iter_free_iter(it);
	it = kmod_config_get_options(k);
	while (it && kmod_config_iter_next(it)) {
		char mod[64], opts[512];

		gh_util_copy(mod, sizeof(mod), kmod_config_iter_get_key(it));
		gh_util_copy(opts, sizeof(opts), kmod_config_iter_get_value(it));
		normalize(mod);
		if (!strcmp(mod, "vfio_pci") && strstr(opts, "ids=")) {
			locate(ctx, "options", mod, "ids=", where, sizeof(where));
			add(f, GH_SEV_WARNING, where,
			    "remove ids= (and update-initramfs -u): gpu-hook binds at pre-start with driver_override",
			    "vfio-pci claims devices at boot (%s)", opts);
		}
		if (!strcmp(mod, "nouveau") && strstr(opts, "modeset=0"))
			mc->nouveau_blacklisted = true;
	}
	kmod_config_iter_free_iter(it);
	it = kmod_config_get_softdeps(k);
	while (it && kmod_config_iter_next(it)) {
		const char *mod = kmod_config_iter_get_key(it), *dep = kmod_config_iter_get_value(it);

		if (!strstr(dep, "vfio"))
			continue;
		locate(ctx, "softdep", mod, NULL, where, sizeof(where));
		add(f, GH_SEV_WARNING, where, "remove the softdep: it hands the card to vfio-pci at every boot",
		    "softdep %s %s loads vfio-pci before the host driver", mod, dep);
	}
	kmod_config_iter_free_iter(it);

	/* nvidia_drm modeset, file by file: the effective value hides contradictions. */
	for (size_t d = 0; d < GH_ARRAY_SIZE(conf_dirs); d++) {
		struct gh_strv files = { 0 };

		gh_fs_list(ctx, &files, "%s", conf_dirs[d]);
		for (size_t i = 0; i < files.n; i++) {
			char line[1024];
			int lineno = 0;
			FILE *fp = gh_fs_fopen(ctx, "%s/%s", conf_dirs[d], files.v[i]);

			if (!fp)
				continue;
			while (fgets(line, sizeof(line), fp)) {
				char v[32], m[64];
				const char *ms;

				lineno++;
				if (sscanf(line, " %31s %63s", v, m) != 2 || strcmp(v, "options"))
					continue;
				normalize(m);
				ms = strstr(line, "modeset=");
				if (strcmp(m, "nvidia_drm") || !ms || mc->modeset_lines == 8)
					continue;
				sscanf(ms + 8, "%15[^ \t\n]", mc->modeset_values[mc->modeset_lines]);
				snprintf(mc->modeset_where[mc->modeset_lines], 256, "%s/%s:%d", conf_dirs[d],
					 files.v[i], lineno);
				mc->modeset_lines++;
			}
			fclose(fp);
		}
		gh_strv_free(&files);
	}
}

static bool cmdline_has(const char *cmdline, const char *key, const char *value_part)
{
	char buf[4096], *save = NULL;

	gh_util_copy(buf, sizeof(buf), cmdline);
	for (char *t = strtok_r(buf, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
		char k[128];

		gh_util_copy(k, sizeof(k), t);
		normalize(k);
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

static void wedged_finding(struct gh_ctx *ctx, struct gh_findings *f, const char *addr, const char *driver,
			   const char *where, const char *key)
{
	char reason[1536], fix[160];

	if (reported_wedged(f, addr))
		return;
	gh_handoff_wedged_reason(ctx, addr, driver, reason, sizeof(reason));
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
				wedged_finding(ctx, f, j.dev[i].addr, drv, where, keys.v[k]);
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
	struct modconf mc = { 0 };
	struct kmod_ctx *k;
	char cmdline[4096] = "", val[16];
	int r;

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
		mc.nouveau_blacklisted = true;
	if (cmdline_has(cmdline, "video=efifb:off", NULL) || cmdline_has(cmdline, "initcall_blacklist=", "sysfb"))
		add(f, GH_SEV_INFO, "/proc/cmdline", "nothing to do; without fbdev the host has no graphical console",
		    "the firmware framebuffer is disabled on the kernel command line");

	k = kmod_for_root(ctx);
	if (!k) {
		add(f, GH_SEV_ERROR, "libkmod", "check the modprobe.d directories", "cannot read the module configuration");
		return;
	}
	check_modprobe(ctx, k, f, &mc);
	if (!mc.nouveau_blacklisted)
		add(f, GH_SEV_WARNING, "/etc/modprobe.d",
		    "add /etc/modprobe.d/blacklist-nouveau.conf with 'blacklist nouveau' and 'options nouveau "
		    "modeset=0', then update-initramfs -u",
		    "nouveau is not blacklisted: it could take the card while the NVIDIA modules are unloaded");
	if (mc.modeset_lines == 0 && !cmdline_has(cmdline, "nvidia_drm.modeset=", NULL)) {
		add(f, GH_SEV_WARNING, "/etc/modprobe.d",
		    "add 'options nvidia-drm modeset=1 fbdev=1' to one file in /etc/modprobe.d",
		    "nvidia_drm modeset is not set: the console stays on the firmware framebuffer in the card's memory");
	} else {
		for (int i = 1; i < mc.modeset_lines; i++) {
			if (strcmp(mc.modeset_values[i], mc.modeset_values[0])) {
				char where[600];

				snprintf(where, sizeof(where), "%s (modeset=%s), %s (modeset=%s)", mc.modeset_where[0],
					 mc.modeset_values[0], mc.modeset_where[i], mc.modeset_values[i]);
				add(f, GH_SEV_ERROR, where, "keep one 'options nvidia-drm ...' line",
				    "nvidia_drm modeset is set differently in %d places: which one wins depends on the "
				    "order modprobe reads them", mc.modeset_lines);
				break;
			}
		}
	}
	/* vfio-pci: loaded, built in, or at least installed for this kernel. */
	if (gh_fs_exists(ctx, "/sys/bus/pci/drivers/vfio-pci") <= 0 && gh_fs_exists(ctx, "/sys/module/vfio_pci") <= 0) {
		struct kmod_list *list = NULL;

		r = kmod_module_new_from_lookup(k, "vfio-pci", &list);
		if (r < 0 || !list)
			add(f, GH_SEV_ERROR, "/lib/modules", "install the kernel's modules package (vfio-pci is part of it)",
			    "the vfio-pci module is not available for the running kernel");
		kmod_module_unref_list(list);
	}
	kmod_unref(k);
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
		    "binary (/proc/self/exe)%s", file, ctx->root[0] ? "; under --root the tree's file is compared with "
		    "the running binary itself" : "");
	else if (same < 0)
		add(f, GH_SEV_ERROR, file, fix, "hookscript %s cannot be compared with the running binary: %s", file,
		    strerror(-same));
	if (fd >= 0)
		close(fd);
	if (self >= 0)
		close(self);
}

/*
 * Container configs that pass GPU nodes by number. Names move: with fbdev,
 * nvidia-drm drops the firmware framebuffer's card0, so a reloaded nvidia-drm
 * can come back as card0 instead of card1, and nvidia-uvm's major is given
 * out at load. /dev/dri/by-path/pci-<addr>-card and -render do not move.
 */
#define LXC_MAX_FILES 4096
#define LXC_MAX_LINES 65536
#define DRM_MAJOR 226

/* nvidia-uvm's character major from /proc/devices, or -1 when it is not loaded. */
static long uvm_major(struct gh_ctx *ctx)
{
	FILE *fp = gh_fs_fopen(ctx, "/proc/devices");
	char line[256];
	bool chr = false;
	long major = -1;

	if (!fp)
		return -1;
	for (int n = 0; n < 4096 && major < 0 && fgets(line, sizeof(line), fp); n++) {
		unsigned long m;
		char num[16], name[64];

		if (!strncmp(line, "Character devices:", 18) || !strncmp(line, "Block devices:", 14))
			chr = line[0] == 'C';
		else if (chr && sscanf(line, " %15s %63s", num, name) == 2 && !strcmp(name, "nvidia-uvm") &&
			 gh_util_parse_ulong(num, 10, 4095, &m) == 0)
			major = (long)m;
	}
	fclose(fp);
	return major;
}

/* "card1" / "renderD128" (a number after the prefix), else false. */
static bool drm_node_name(const char *name)
{
	const char *digits = !strncmp(name, "card", 4) ? name + 4 : !strncmp(name, "renderD", 7) ? name + 7 : NULL;

	return digits && *digits && strspn(digits, "0123456789") == strlen(digits);
}

/* The stable name of a DRM node: /dev/dri/by-path/pci-<addr>-card or -render, its address from sysfs. */
static void stable_drm_name(struct gh_ctx *ctx, const char *node, char *buf, size_t size)
{
	char addr[64];

	if (gh_fs_link_base(ctx, addr, sizeof(addr), "/sys/class/drm/%s/device", node) < 0 || !gh_pciid_is_addr(addr))
		gh_util_copy(addr, sizeof(addr), "<addr>");
	if (gh_util_format(buf, size, "/dev/dri/by-path/pci-%s-%s", addr, node[0] == 'c' ? "card" : "render") < 0)
		gh_util_copy(buf, size, "/dev/dri/by-path/");
}

static void lxc_flag_node(struct gh_ctx *ctx, struct gh_findings *f, const char *where, const char *key,
			  const char *node)
{
	char stable[128], fix[256];

	stable_drm_name(ctx, node, stable, sizeof(stable));
	if (gh_util_format(fix, sizeof(fix), "pass it by its stable name: lxc.mount.entry: %s dev/dri/%s none "
			   "bind,optional,create=file", stable, node) < 0)
		gh_util_copy(fix, sizeof(fix), "pass it by its stable name, /dev/dri/by-path/pci-<addr>-card or -render");
	add(f, GH_SEV_WARNING, where, fix, "%s passes /dev/dri/%s by number: DRM card numbers move (a reloaded "
	    "nvidia-drm can come back as card0 instead of card1), so after a handoff it may get another card or none",
	    key, node);
}

static void lxc_line(struct gh_ctx *ctx, struct gh_findings *f, const char *where, const char *key,
		     const char *value, long uvm)
{
	char path[256] = "", type[4], maj[16], min[16];
	unsigned long m, n;

	if (!strncmp(key, "dev", 3) && key[3] && strspn(key + 3, "0123456789") == strlen(key + 3)) {
		/* [path=]<path>[,gid=..,mode=..]: Proxmox takes the node's numbers at each container start. */
		sscanf(value, "%255[^,]", path);
		if (!strncmp(path, "path=", 5))
			memmove(path, path + 5, strlen(path + 5) + 1);
		if (!strncmp(path, "/dev/dri/", 9) && drm_node_name(path + 9))
			lxc_flag_node(ctx, f, where, key, path + 9);
	} else if (!strcmp(key, "lxc.mount.entry")) {
		if (sscanf(value, "%255s", path) == 1 && !strncmp(path, "/dev/dri/", 9) && drm_node_name(path + 9))
			lxc_flag_node(ctx, f, where, key, path + 9);
	} else if (!strcmp(key, "lxc.cgroup2.devices.allow") || !strcmp(key, "lxc.cgroup.devices.allow")) {
		if (sscanf(value, "%3s %15[^:]:%15s", type, maj, min) != 3 || strcmp(type, "c") ||
		    gh_util_parse_ulong(maj, 10, 4095, &m) < 0)
			return;
		if (m == DRM_MAJOR && gh_util_parse_ulong(min, 10, 1048575, &n) == 0) {
			char node[32], stable[128], fix[256];

			snprintf(node, sizeof(node), "%s%lu", n >= 128 ? "renderD" : "card", n);
			stable_drm_name(ctx, node, stable, sizeof(stable));
			if (gh_util_format(fix, sizeof(fix), "allow c %d:* rwm and pass the node by its stable name, %s",
					   DRM_MAJOR, stable) < 0)
				gh_util_copy(fix, sizeof(fix), "pass the node by its /dev/dri/by-path/ name");
			add(f, GH_SEV_WARNING, where, fix,
			    "%s allows DRM minor %lu (/dev/dri/%s now) by number: DRM card numbers move when nvidia-drm "
			    "reloads, so after a handoff the rule may name another card or none", key, n, node);
		} else if (uvm >= 0 && (long)m == uvm) {
			add(f, GH_SEV_WARNING, where,
			    "pass /dev/nvidia-uvm and /dev/nvidia-uvm-tools with devN: entries, whose numbers Proxmox "
			    "reads at each container start, instead of a fixed major",
			    "%s allows c %lu:%s, nvidia-uvm's major now: the kernel gives nvidia-uvm its major when it "
			    "loads, so after a reload the rule may not match", key, m, min);
		}
	}
}

static void check_lxc_file(struct gh_ctx *ctx, struct gh_findings *f, const char *name, long uvm)
{
	char file[300], where[320], line[4096];
	bool midline = false;
	FILE *fp;
	int n = 0;

	snprintf(file, sizeof(file), "/etc/pve/lxc/%s", name);
	fp = gh_fs_fopen(ctx, "%s", file);
	if (!fp) {
		add(f, GH_SEV_WARNING, file, "check the file's permissions", "cannot read the container config: %s",
		    strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp)) {
		bool start = !midline;
		char key[64], *value;
		size_t len = strlen(line);

		midline = len && line[len - 1] != '\n' && !feof(fp);
		if (!start)
			continue;
		snprintf(where, sizeof(where), "%s:%d", file, ++n);
		if (n > LXC_MAX_LINES) {
			add(f, GH_SEV_WARNING, where, "check the file", "more than %d lines: the rest is not checked",
			    LXC_MAX_LINES);
			break;
		}
		if (midline) {
			add(f, GH_SEV_WARNING, where, "check the file", "line longer than %zu characters: not checked",
			    sizeof(line) - 2);
			continue;
		}
		/* Snapshots and pending changes follow the first section header. */
		if (line[0] == '[')
			break;
		value = strchr(line, ':');
		if (line[0] == '#' || !value || (size_t)(value - line) >= sizeof(key))
			continue;
		memcpy(key, line, (size_t)(value - line));
		key[value - line] = '\0';
		value = gh_util_trim(value + 1);
		lxc_line(ctx, f, where, gh_util_trim(key), value, uvm);
	}
	if (ferror(fp))
		add(f, GH_SEV_WARNING, file, "check the file", "read error after line %d", n);
	fclose(fp);
}

static void check_lxc(struct gh_ctx *ctx, struct gh_findings *f)
{
	struct gh_strv files = { 0 };
	long uvm = uvm_major(ctx);
	unsigned checked = 0;

	gh_fs_list(ctx, &files, "/etc/pve/lxc");
	for (size_t i = 0; i < files.n; i++) {
		const char *name = files.v[i];
		size_t len = strlen(name);

		if (len < 6 || strcmp(name + len - 5, ".conf") || strspn(name, "0123456789") != len - 5)
			continue;
		if (checked++ == LXC_MAX_FILES) {
			add(f, GH_SEV_WARNING, "/etc/pve/lxc", "nothing to do", "more than %d files: the rest is not checked",
			    LXC_MAX_FILES);
			break;
		}
		check_lxc_file(ctx, f, name, uvm);
	}
	gh_strv_free(&files);
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
			wedged_finding(ctx, f, h.f[i].dev.addr, h.f[i].dev.driver, where, key);
	for (size_t i = 0; i < h.refusals.n; i++) {
		bool config = strstr(h.refusals.v[i], "not viable") || strstr(h.refusals.v[i], "IOMMU group") ||
			      strstr(h.refusals.v[i], "missing") || strstr(h.refusals.v[i], "mapping") ||
			      strstr(h.refusals.v[i], "no PCI device found") || strstr(h.refusals.v[i], "more than once") ||
			      strstr(h.refusals.v[i], "mediated device");

		bool modeset = !strncmp(h.refusals.v[i], GH_HOST_MODESET_REFUSAL, strlen(GH_HOST_MODESET_REFUSAL));

		add(f, config ? GH_SEV_ERROR : GH_SEV_WARNING, where,
		    config    ? "pass the whole group through, move the card, or fix the config"
		    : modeset ? GH_MODESET_HOLD_FIX
			      : "a start now would be refused for this reason",
		    "%s", h.refusals.v[i]);
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
	memset(out, 0, sizeof(*out));
	gh_handoff_mark_suspects(ctx);
	check_host(ctx, out);
	check_lxc(ctx, out);
	for (unsigned i = 0; i < n_vmids; i++)
		check_vm(ctx, vmids[i], out);
	return 0;
}
