/* SPDX-License-Identifier: MIT */
/*
 * `gpu-hook check`'s reading of configuration files: the module
 * configuration (modprobe.d, through libkmod for the effective values and
 * file by file for the places) and the LXC container configs.
 */
#include <errno.h>
#include <libkmod.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "hostcheck-int.h"
#include "pciid.h"
#include "text.h"
#include "util.h"

#define add gh_hostcheck_add

/* libkmod's configuration directories, in its order of precedence. */
static const char *const conf_dirs[] = { "/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d",
					 "/lib/modprobe.d", "/usr/lib/modprobe.d" };

static const char *const nvidia_mods[] = { "nvidia", "nvidia_drm", "nvidia_modeset", "nvidia_uvm" };

void gh_hostcheck_normalize(char *s)
{
	for (; *s; s++)
		if (*s == '-')
			*s = '_';
}

static bool is_nvidia(const char *mod)
{
	char m[64];

	gh_util_copy(m, sizeof(m), mod);
	gh_hostcheck_normalize(m);
	for (size_t i = 0; i < GH_ARRAY_SIZE(nvidia_mods); i++)
		if (!strcmp(m, nvidia_mods[i]))
			return true;
	return !strncmp(m, "nvidia_current", 14);
}

/* A scan reports nothing of its own: a line it cannot take is no line it looks for. */
static void quiet(struct gh_text *t, const char *msg)
{
	(void)t;
	(void)msg;
}

/*
 * fn(data, "file:line", line, module) for each "verb module ..." line of the
 * modprobe.d files (module names with '-' and '_' equal), until fn returns
 * true. As libkmod reads them (as_libkmod): *.conf only, and a file name
 * seen in an earlier directory hides the same name later; else every file.
 */
typedef bool (*conf_line_fn)(void *data, const char *where, const char *line, const char *module);

static bool scan_file(struct gh_ctx *ctx, const char *dir, const char *file, const char *verb, conf_line_fn fn,
		      void *data)
{
	struct gh_text t = { .ctx = ctx, .name = file, .bytes = true, .sink = quiet };
	bool stop = false;
	char *line, where[PATH_MAX + 32];
	size_t len;

	t.f = gh_fs_fopen(ctx, "%s/%s", dir, file);
	if (!t.f)
		return false;
	while (!stop && gh_text_next(&t, &line, &len) > 0) {
		char v[32], m[64];

		if (sscanf(line, " %31s %63s", v, m) != 2 || strcmp(v, verb))
			continue;
		gh_hostcheck_normalize(m);
		snprintf(where, sizeof(where), "%s/%s:%d", dir, file, t.line);
		stop = fn(data, where, line, m);
	}
	gh_text_done(&t);
	fclose(t.f);
	return stop;
}

static void each_conf_line(struct gh_ctx *ctx, const char *verb, bool as_libkmod, conf_line_fn fn, void *data)
{
	struct gh_strv seen = { 0 };
	bool stop = false;

	for (size_t d = 0; d < GH_ARRAY_SIZE(conf_dirs) && !stop; d++) {
		struct gh_strv files = { 0 };

		gh_fs_list(ctx, &files, "%s", conf_dirs[d]);
		for (size_t i = 0; i < files.n && !stop; i++) {
			const char *name = files.v[i];

			if (as_libkmod && (gh_strv_contains(&seen, name) || strlen(name) < 6 ||
					   strcmp(name + strlen(name) - 5, ".conf")))
				continue;
			if (as_libkmod)
				gh_strv_push(&seen, name);
			stop = scan_file(ctx, conf_dirs[d], name, verb, fn, data);
		}
		gh_strv_free(&files);
	}
	gh_strv_free(&seen);
}

struct locating {
	const char *module, *contains;
	char *where;
	size_t size;
};

static bool located(void *data, const char *where, const char *line, const char *module)
{
	struct locating *l = data;

	if (strcmp(module, l->module) || (l->contains && !strstr(line, l->contains)))
		return false;
	snprintf(l->where, l->size, "%s", where);
	return true;
}

/* The file and line of the first "verb module ..." line in libkmod's precedence; "modprobe.d" when none. */
static void locate(struct gh_ctx *ctx, const char *verb, const char *module, const char *contains, char *where,
		   size_t size)
{
	char want[64];
	struct locating l = { want, contains, where, size };

	where[0] = '\0';
	gh_util_copy(want, sizeof(want), module);
	gh_hostcheck_normalize(want);
	each_conf_line(ctx, verb, true, located, &l);
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

static void check_blacklists(struct gh_ctx *ctx, struct kmod_ctx *k, struct gh_findings *f, struct modconf *mc)
{
	struct kmod_config_iter *it = kmod_config_get_blacklists(k);
	char where[256];

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
}

static void check_install_lines(struct gh_ctx *ctx, struct kmod_ctx *k, struct gh_findings *f, struct modconf *mc)
{
	struct kmod_config_iter *it = kmod_config_get_install_commands(k);
	char where[256];

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
}

static void check_options(struct gh_ctx *ctx, struct kmod_ctx *k, struct gh_findings *f, struct modconf *mc)
{
	struct kmod_config_iter *it = kmod_config_get_options(k);
	char where[256];

	while (it && kmod_config_iter_next(it)) {
		char mod[64], opts[512];

		gh_util_copy(mod, sizeof(mod), kmod_config_iter_get_key(it));
		gh_util_copy(opts, sizeof(opts), kmod_config_iter_get_value(it));
		gh_hostcheck_normalize(mod);
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
}

static void check_softdeps(struct gh_ctx *ctx, struct kmod_ctx *k, struct gh_findings *f)
{
	struct kmod_config_iter *it = kmod_config_get_softdeps(k);
	char where[256];

	while (it && kmod_config_iter_next(it)) {
		const char *mod = kmod_config_iter_get_key(it), *dep = kmod_config_iter_get_value(it);

		if (!strstr(dep, "vfio"))
			continue;
		locate(ctx, "softdep", mod, NULL, where, sizeof(where));
		add(f, GH_SEV_WARNING, where, "remove the softdep: it hands the card to vfio-pci at every boot",
		    "softdep %s %s loads vfio-pci before the host driver", mod, dep);
	}
	kmod_config_iter_free_iter(it);
}

static bool modeset_line(void *data, const char *where, const char *line, const char *module)
{
	struct modconf *mc = data;
	const char *ms = strstr(line, "modeset=");

	if (strcmp(module, "nvidia_drm") || !ms)
		return false;
	sscanf(ms + 8, "%15[^ \t\n]", mc->modeset_values[mc->modeset_lines]);
	snprintf(mc->modeset_where[mc->modeset_lines], sizeof(mc->modeset_where[0]), "%s", where);
	return ++mc->modeset_lines == (int)GH_ARRAY_SIZE(mc->modeset_values);
}

static void check_modprobe(struct gh_ctx *ctx, struct kmod_ctx *k, struct gh_findings *f, struct modconf *mc)
{
	check_blacklists(ctx, k, f, mc);
	check_install_lines(ctx, k, f, mc);
	check_options(ctx, k, f, mc);
	check_softdeps(ctx, k, f);
	/* nvidia_drm modeset, file by file: the effective value hides contradictions. */
	each_conf_line(ctx, "options", false, modeset_line, mc);
}

/* nvidia_drm modeset set nowhere, or differently in two places. */
static void check_modeset(struct gh_findings *f, const struct modconf *mc, bool on_cmdline)
{
	char where[600];

	if (mc->modeset_lines == 0 && !on_cmdline) {
		add(f, GH_SEV_WARNING, "/etc/modprobe.d",
		    "add 'options nvidia-drm modeset=1 fbdev=1' to one file in /etc/modprobe.d",
		    "nvidia_drm modeset is not set: the console stays on the firmware framebuffer in the card's memory");
		return;
	}
	for (int i = 1; i < mc->modeset_lines; i++) {
		if (!strcmp(mc->modeset_values[i], mc->modeset_values[0]))
			continue;
		snprintf(where, sizeof(where), "%s (modeset=%s), %s (modeset=%s)", mc->modeset_where[0],
			 mc->modeset_values[0], mc->modeset_where[i], mc->modeset_values[i]);
		add(f, GH_SEV_ERROR, where, "keep one 'options nvidia-drm ...' line",
		    "nvidia_drm modeset is set differently in %d places: which one wins depends on the "
		    "order modprobe reads them", mc->modeset_lines);
		return;
	}
}

bool gh_hostcheck_modules(struct gh_ctx *ctx, struct gh_findings *f, bool nouveau_off, bool modeset_on_cmdline)
{
	struct modconf mc = { .nouveau_blacklisted = nouveau_off };
	struct kmod_ctx *k = kmod_for_root(ctx);

	if (!k) {
		add(f, GH_SEV_ERROR, "libkmod", "check the modprobe.d directories", "cannot read the module configuration");
		return false;
	}
	check_modprobe(ctx, k, f, &mc);
	if (!mc.nouveau_blacklisted)
		add(f, GH_SEV_WARNING, "/etc/modprobe.d",
		    "add /etc/modprobe.d/blacklist-nouveau.conf with 'blacklist nouveau' and 'options nouveau "
		    "modeset=0', then update-initramfs -u",
		    "nouveau is not blacklisted: it could take the card while the NVIDIA modules are unloaded");
	check_modeset(f, &mc, modeset_on_cmdline);
	/* vfio-pci: loaded, built in, or at least installed for this kernel. */
	if (gh_fs_exists(ctx, "/sys/bus/pci/drivers/vfio-pci") <= 0 && gh_fs_exists(ctx, "/sys/module/vfio_pci") <= 0) {
		struct kmod_list *list = NULL;
		int r = kmod_module_new_from_lookup(k, "vfio-pci", &list);

		if (r < 0 || !list)
			add(f, GH_SEV_ERROR, "/lib/modules", "install the kernel's modules package (vfio-pci is part of it)",
			    "the vfio-pci module is not available for the running kernel");
		kmod_module_unref_list(list);
	}
	kmod_unref(k);
	return true;
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
	struct gh_text t = { .ctx = ctx, .name = "/proc/devices", .bytes = true, .sink = quiet };
	bool chr = false;
	long major = -1;
	char *line;
	size_t len;

	t.f = gh_fs_fopen(ctx, "/proc/devices");
	if (!t.f)
		return -1;
	while (t.line < 4096 && major < 0 && gh_text_next(&t, &line, &len) > 0) {
		unsigned long m;
		char num[16], name[64];

		if (!strncmp(line, "Character devices:", 18) || !strncmp(line, "Block devices:", 14))
			chr = line[0] == 'C';
		else if (chr && sscanf(line, " %15s %63s", num, name) == 2 && !strcmp(name, "nvidia-uvm") &&
			 gh_util_parse_ulong(num, 10, 4095, &m) == 0)
			major = (long)m;
	}
	gh_text_done(&t);
	fclose(t.f);
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

/* A line the reader passes over (too long, a NUL byte) is a finding: the rest of the file is still checked. */
static void lxc_skipped(struct gh_text *t, const char *msg)
{
	char where[320];

	snprintf(where, sizeof(where), "%s:%d", t->name, t->line);
	if (strlen(t->buf) >= (size_t)t->max)
		add(t->data, GH_SEV_WARNING, where, "check the file", "line longer than %zd characters: not checked",
		    t->max - 1);
	else
		add(t->data, GH_SEV_WARNING, where, "check the file", "%s: not checked", msg + strlen(where) + 2);
}

static void check_lxc_file(struct gh_ctx *ctx, struct gh_findings *f, const char *name, long uvm)
{
	char file[300], where[320], *line;
	struct gh_text t = { .ctx = ctx, .name = file, .max = 4095, .bytes = true, .sink = lxc_skipped, .data = f };
	size_t len;

	snprintf(file, sizeof(file), "/etc/pve/lxc/%s", name);
	t.f = gh_fs_fopen(ctx, "%s", file);
	if (!t.f) {
		add(f, GH_SEV_WARNING, file, "check the file's permissions", "cannot read the container config: %s",
		    strerror(errno));
		return;
	}
	while (gh_text_next(&t, &line, &len) > 0) {
		char key[64], *value;

		snprintf(where, sizeof(where), "%s:%d", file, t.line);
		if (t.line > LXC_MAX_LINES) {
			add(f, GH_SEV_WARNING, where, "check the file", "more than %d lines: the rest is not checked",
			    LXC_MAX_LINES);
			break;
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
	if (ferror(t.f))
		add(f, GH_SEV_WARNING, file, "check the file", "read error after line %d", t.line);
	gh_text_done(&t);
	fclose(t.f);
}

void gh_hostcheck_lxc(struct gh_ctx *ctx, struct gh_findings *f)
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
