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
#include "host.h"
#include "install.h"
#include "modules.h"
#include "pci.h"
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
	struct gh_finding *v = realloc(f->v, (f->n + 1) * sizeof(*v));
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

/* "550.127.05" -> 550012705: three fields, the later two below 1000. 0 when it does not parse. */
static unsigned long driver_version(const char *s)
{
	unsigned long part[3] = { 0 };
	char buf[32], *save = NULL, *tok;
	int i = 0;

	if (gh_util_copy(buf, sizeof(buf), s) < 0)
		return 0;
	for (tok = strtok_r(gh_util_trim(buf), ".", &save); tok && i < 3; tok = strtok_r(NULL, ".", &save), i++)
		if (gh_util_parse_ulong(tok, 10, i ? 999 : 99999, &part[i]) < 0)
			return 0;
	if (i < 2)
		return 0;
	return part[0] * 1000000 + part[1] * 1000 + part[2];
}

/*
 * Two cards on nvidia with nvidia-drm modeset=1: before 580.94.06, nvidia-drm
 * holds each card's usage count, so unbinding one card from nvidia (what a
 * two-GPU handoff does, the modules staying loaded) waits forever.
 */
static void check_two_gpu_driver(struct gh_ctx *ctx, struct gh_findings *f)
{
	struct gh_strv devs = { 0 };
	char ver[32] = "", modeset[8] = "";
	unsigned cards = 0;
	unsigned long v;

	gh_pci_driver_devices(ctx, "nvidia", &devs);
	for (size_t i = 0; i < devs.n; i++) {
		struct gh_pci_dev d = { 0 };

		if (gh_pci_read(ctx, devs.v[i], &d) == 0 && gh_pci_is_display(&d))
			cards++;
		gh_pci_dev_free(&d);
	}
	gh_strv_free(&devs);
	if (cards < 2 || gh_fs_read_str(ctx, modeset, sizeof(modeset), "/sys/module/nvidia_drm/parameters/modeset") <= 0 ||
	    gh_util_trim(modeset)[0] != 'Y' || gh_fs_read_str(ctx, ver, sizeof(ver), "/sys/module/nvidia/version") <= 0)
		return;
	v = driver_version(ver);
	if (v && v < 580094006UL)
		add(f, GH_SEV_ERROR, "/sys/module/nvidia/version",
		    "install NVIDIA driver 580.94.06 or newer, or set 'options nvidia-drm modeset=0'",
		    "%u cards on nvidia with nvidia-drm modeset=1 and driver %s: before 580.94.06 nvidia-drm holds each "
		    "card, so unbinding one for a VM would never finish (gpu-hook stops it at its timeout)",
		    cards, gh_util_trim(ver));
}

/* What [isolation] (lib/isolate.h) needs; a boot-time isolcpus=/nohz_full= coexists with it. */
static void check_isolation(struct gh_ctx *ctx, struct gh_findings *f, const char *cmdline)
{
	char cpus[256] = "";

	if (gh_fs_read_str(ctx, cpus, sizeof(cpus), "/sys/devices/system/cpu/online") > 0)
		add(f, GH_SEV_INFO, "/sys/devices/system/cpu/online", "nothing to do",
		    "online CPUs %s: [isolation] keeps the host on those no isolated VM runs on", cpus);
	if (gh_fs_exists(ctx, "/sys/fs/cgroup/cgroup.controllers") <= 0)
		add(f, GH_SEV_INFO, "/sys/fs/cgroup", "boot with the unified hierarchy (Proxmox VE 7 and later do)",
		    "no cgroup v2: [isolation] refuses to run");
	if (cmdline_has(cmdline, "isolcpus=", NULL) || cmdline_has(cmdline, "nohz_full=", NULL))
		add(f, GH_SEV_INFO, "/proc/cmdline", "nothing to do",
		    "the kernel command line isolates CPUs at boot (isolcpus=/nohz_full=): compatible with "
		    "[isolation], which narrows the slices at runtime on top");
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

static void check_vm(struct gh_ctx *ctx, unsigned vmid, struct gh_findings *f)
{
	char where[128], storage[64], name[128];
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
	for (size_t i = 0; i < h.refusals.n; i++) {
		bool config = strstr(h.refusals.v[i], "not viable") || strstr(h.refusals.v[i], "IOMMU group") ||
			      strstr(h.refusals.v[i], "missing") || strstr(h.refusals.v[i], "mapping") ||
			      strstr(h.refusals.v[i], "no PCI device found") || strstr(h.refusals.v[i], "more than once") ||
			      strstr(h.refusals.v[i], "mediated device");

		add(f, config ? GH_SEV_ERROR : GH_SEV_WARNING, where,
		    config ? "pass the whole group through, move the card, or fix the config"
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
	check_host(ctx, out);
	for (unsigned i = 0; i < n_vmids; i++)
		check_vm(ctx, vmids[i], out);
	return 0;
}
