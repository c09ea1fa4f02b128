/* SPDX-License-Identifier: MIT */
#include "modules.h"

#include <errno.h>
#include <libkmod.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "pci.h"

#define STACK_MAX 64

static const char *const state_names[] = {
	[GH_MOD_ABSENT] = "absent", [GH_MOD_LIVE] = "live", [GH_MOD_COMING] = "coming",
	[GH_MOD_GOING] = "going",   [GH_MOD_BUILTIN] = "builtin",
};

const char *gh_modules_state_name(enum gh_mod_state s)
{
	return (size_t)s < GH_ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

bool gh_modules_name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '-' ? '_' : *a, y = *b == '-' ? '_' : *b;

		if (x != y)
			return false;
	}
	return *a == *b;
}

static bool valid_module_name(const char *name)
{
	size_t len = strlen(name);

	if (!len || len >= sizeof(((struct gh_module *)0)->name))
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

int gh_modules_read(struct gh_ctx *ctx, const char *name, struct gh_module *out)
{
	char buf[32], esc[96];
	unsigned long v;
	int r;

	memset(out, 0, sizeof(*out));
	out->refcnt = -1;
	if (!valid_module_name(name))
		return -EINVAL;
	/* /sys/module always spells names with '_'. */
	gh_util_copy(out->name, sizeof(out->name), name);
	for (char *c = out->name; *c; c++)
		if (*c == '-')
			*c = '_';
	r = gh_fs_read_str(ctx, buf, sizeof(buf), "/sys/module/%s/initstate", out->name);
	if (r == -ENOENT) {
		/* Built-ins have a /sys/module entry (for their parameters) and no initstate. */
		r = gh_fs_exists(ctx, "/sys/module/%s", out->name);
		out->state = r > 0 ? GH_MOD_BUILTIN : GH_MOD_ABSENT;
		return r < 0 ? r : 0;
	}
	if (r < 0) {
		gh_err(ctx, "/sys/module/%s/initstate: %s", out->name, strerror(-r));
		return r;
	}
	gh_util_trim(buf);
	if (!strcmp(buf, "live")) {
		out->state = GH_MOD_LIVE;
	} else if (!strcmp(buf, "coming")) {
		out->state = GH_MOD_COMING;
	} else if (!strcmp(buf, "going")) {
		out->state = GH_MOD_GOING;
	} else {
		gh_err(ctx, "/sys/module/%s/initstate: unknown state \"%s\"", out->name,
		       gh_util_escape(buf, esc, sizeof(esc)));
		return -EINVAL;
	}
	if (gh_fs_read_str(ctx, buf, sizeof(buf), "/sys/module/%s/refcnt", out->name) >= 0 &&
	    gh_util_parse_ulong(gh_util_trim(buf), 10, 0x7fffffff, &v) == 0)
		out->refcnt = (int)v;
	r = gh_fs_list(ctx, &out->holders, "/sys/module/%s/holders", out->name);
	if (r < 0) {
		gh_err(ctx, "/sys/module/%s/holders: %s", out->name, strerror(-r));
		gh_strv_free(&out->holders);
	}
	return r < 0 ? r : 0;
}

int gh_modules_idle(struct gh_ctx *ctx, const char *name)
{
	struct gh_module m;
	int r = gh_modules_read(ctx, name, &m);

	if (r >= 0 && (m.state != GH_MOD_LIVE || m.refcnt < 0))
		r = -ENOENT;
	if (r >= 0)
		r = (size_t)m.refcnt == m.holders.n;
	gh_strv_free(&m.holders);
	return r;
}

void gh_modules_free(struct gh_modset *set)
{
	for (unsigned i = 0; i < set->n; i++)
		gh_strv_free(&set->v[i].holders);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static int find(const struct gh_modset *set, const char *name)
{
	for (unsigned i = 0; i < set->n; i++)
		if (gh_modules_name_eq(set->v[i].name, name))
			return (int)i;
	return -1;
}

/* Everything that must go before root can: the holders closure, breadth first. */
static int closure(struct gh_ctx *ctx, const char *root, struct gh_modset *all)
{
	for (unsigned i = 0; i < all->n; i++) {
		for (size_t h = 0; h < all->v[i].holders.n; h++) {
			const char *name = all->v[i].holders.v[h];
			struct gh_module m;
			int r;

			if (find(all, name) >= 0)
				continue;
			r = gh_modules_read(ctx, name, &m);
			if (r == -EINVAL && !valid_module_name(name)) {
				char esc[96];

				gh_err(ctx, "/sys/module/%s/holders: odd entry \"%s\"", all->v[i].name,
				       gh_util_escape(name, esc, sizeof(esc)));
				return r;
			}
			if (r < 0)
				return r;
			/* Unloaded since its holder link was listed. */
			if (m.state == GH_MOD_ABSENT)
				continue;
			if (all->n == STACK_MAX) {
				gh_strv_free(&m.holders);
				gh_err(ctx, "/sys/module/%s: more than %d modules hold it", root, STACK_MAX);
				return -ELOOP;
			}
			all->v[all->n++] = m;
		}
	}
	return 0;
}

/* Removal order: a module is ready once none of its holders is left; ties by name. */
static int order(struct gh_ctx *ctx, const char *root, struct gh_modset *all, struct gh_modset *out)
{
	bool placed[STACK_MAX] = { false };

	out->v = calloc(all->n, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	while (out->n < all->n) {
		int pick = -1;

		for (unsigned i = 0; i < all->n; i++) {
			bool ready = !placed[i];

			for (size_t h = 0; ready && h < all->v[i].holders.n; h++) {
				int k = find(all, all->v[i].holders.v[h]);

				if (k >= 0 && !placed[k])
					ready = false;
			}
			if (ready && (pick < 0 || strcmp(all->v[i].name, all->v[pick].name) < 0))
				pick = (int)i;
		}
		if (pick < 0) {
			gh_err(ctx, "/sys/module/%s: its holders form a cycle", root);
			return -ELOOP;
		}
		placed[pick] = true;
		out->v[out->n++] = all->v[pick];
		/* Ownership of the holders list moves to out. */
		memset(&all->v[pick].holders, 0, sizeof(all->v[pick].holders));
	}
	return 0;
}

int gh_modules_stack(struct gh_ctx *ctx, const char *root, struct gh_modset *out)
{
	struct gh_modset all = { 0 };
	int r;

	memset(out, 0, sizeof(*out));
	all.v = calloc(STACK_MAX, sizeof(*all.v));
	if (!all.v)
		return -ENOMEM;
	r = gh_modules_read(ctx, root, &all.v[0]);
	if (r < 0 || all.v[0].state == GH_MOD_ABSENT) {
		gh_strv_free(&all.v[0].holders);
		free(all.v);
		return r < 0 ? r : 0;
	}
	all.n = 1;
	r = closure(ctx, root, &all);
	if (r >= 0)
		r = order(ctx, root, &all, out);
	gh_modules_free(&all);
	if (r < 0)
		gh_modules_free(out);
	return r;
}

/* "550.127.05" -> 550127005: two or three fields, the later ones below 1000. 0 when it does not parse. */
static unsigned long version_number(const char *s)
{
	unsigned long part[3] = { 0 };
	char buf[32], *save = NULL, *tok;
	int i = 0;

	if (gh_util_copy(buf, sizeof(buf), s) < 0)
		return 0;
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save), i++)
		if (i == 3 || gh_util_parse_ulong(tok, 10, i ? 999 : 99999, &part[i]) < 0)
			return 0;
	if (i < 2)
		return 0;
	return part[0] * 1000000 + part[1] * 1000 + part[2];
}

bool gh_modules_version_removes_gpu(const char *version)
{
	unsigned long v = version_number(version);

	/* 580.95.05 was cut before nvidia_modeset_remove() went in. */
	return (v >= 580094006UL && v != 580095005UL) || v >= 580105008UL;
}

/*
 * "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.95.05  Release Build  (...)"
 * or "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct  8 ...": the
 * first word of the first line that is a version number.
 */
static int proc_version(struct gh_ctx *ctx, char *buf, size_t size)
{
	char text[512], *save = NULL;
	int r = gh_fs_read_str(ctx, text, sizeof(text), "/proc/driver/nvidia/version");

	/* Only the first line matters; the rest (the GCC version) may not fit. */
	if (r == -EFBIG)
		r = 0;
	if (r < 0)
		return r;
	text[sizeof(text) - 1] = '\0';
	text[strcspn(text, "\n")] = '\0';
	for (char *t = strtok_r(text, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
		if (strchr(t, '.') && version_number(t))
			return gh_util_copy(buf, size, t);
	return -EINVAL;
}

/* Bounded: a real kallsyms has a few hundred thousand lines. */
#define KALLSYMS_MAX_LINES 8000000UL

/* 1 when /proc/kallsyms names the symbol, 0 when not, -errno when it cannot be read. */
static int kallsyms_has(struct gh_ctx *ctx, const char *symbol)
{
	FILE *f = gh_fs_fopen(ctx, "/proc/kallsyms");
	char line[1024];
	unsigned long n = 0;
	bool midline = false;
	int found = 0;

	if (!f)
		return -errno;
	while (!found && n < KALLSYMS_MAX_LINES && fgets(line, sizeof(line), f)) {
		char name[600];
		bool start = !midline;

		midline = !strchr(line, '\n');
		if (!start)
			continue;
		n++;
		/* "ffffffffc0a1b2c0 t nvidia_modeset_remove\t[nvidia]" (zeros without kptr rights). */
		if (strstr(line, symbol) && sscanf(line, "%*s %*s %599s", name) == 1 && !strcmp(name, symbol))
			found = 1;
	}
	if (!found && ferror(f))
		found = -EIO;
	fclose(f);
	return found;
}

/*
 * Cards on nvidia: the functions bound to it (its id table takes only the
 * GPU function of a card). Nothing of theirs is read: another card may be
 * wedged in remove() with its device_lock held.
 */
static unsigned count_cards(struct gh_ctx *ctx)
{
	struct gh_strv devs = { 0 };
	unsigned cards;

	gh_pci_driver_devices(ctx, "nvidia", &devs);
	cards = (unsigned)devs.n;
	gh_strv_free(&devs);
	return cards;
}

int gh_modules_modeset_hold(struct gh_ctx *ctx, struct gh_modeset_hold *out)
{
	char val[16];
	int r;

	memset(out, 0, sizeof(*out));
	out->cards = count_cards(ctx);
	out->modeset = gh_fs_read_str(ctx, val, sizeof(val), "/sys/module/nvidia_drm/parameters/modeset") > 0 &&
		       (gh_util_trim(val)[0] == 'Y' || !strcmp(val, "1"));
	if (proc_version(ctx, out->version, sizeof(out->version)) >= 0) {
		gh_util_copy(out->source, sizeof(out->source), "/proc/driver/nvidia/version");
	} else if (gh_fs_read_str(ctx, val, sizeof(val), "/sys/module/nvidia/version") > 0 &&
		   version_number(gh_util_trim(val))) {
		gh_util_copy(out->version, sizeof(out->version), val);
		gh_util_copy(out->source, sizeof(out->source), "/sys/module/nvidia/version");
	}
	out->removes_gpu = out->version[0] && gh_modules_version_removes_gpu(out->version);
	/* The symbol tells for a driver whose number says otherwise (a backport, a vendor build). */
	if (!out->removes_gpu && out->cards >= 2 && out->modeset) {
		r = kallsyms_has(ctx, "nvidia_modeset_remove");
		if (r > 0) {
			out->removes_gpu = true;
			gh_util_copy(out->source, sizeof(out->source), "/proc/kallsyms");
		} else if (r < 0) {
			gh_dbg(ctx, "/proc/kallsyms: %s; going by the driver version", strerror(-r));
		}
	}
	out->holds = out->cards >= 2 && out->modeset && !out->removes_gpu;
	return 0;
}

int gh_modules_modeset_describe(const struct gh_modeset_hold *m, char *buf, size_t size)
{
	if (m->removes_gpu && !strcmp(m->source, "/proc/kallsyms"))
		return gh_util_format(buf, size, "NVIDIA driver %s releases one card at a time (/proc/kallsyms has "
				      "nvidia_modeset_remove)", m->version[0] ? m->version : "(version unknown)");
	if (m->removes_gpu)
		return gh_util_format(buf, size, "NVIDIA driver %s (%s) releases one card at a time", m->version,
				      m->source);
	if (!m->version[0])
		return gh_util_format(buf, size, "%u cards on nvidia, nvidia-drm modeset=1, NVIDIA driver of unknown "
				      "version (no /proc/driver/nvidia/version or /sys/module/nvidia/version, no "
				      "nvidia_modeset_remove in /proc/kallsyms), taken as without per-GPU removal: "
				      "nvidia-drm holds every card, so unbinding one never finishes", m->cards);
	return gh_util_format(buf, size, "%u cards on nvidia, nvidia-drm modeset=1, NVIDIA driver %s (%s) without "
			      "per-GPU removal (580.94.06+ but not 580.95.05, or 580.105.08+): nvidia-drm holds every "
			      "card, so unbinding one never finishes", m->cards, m->version, m->source);
}

/*
 * The real ops. libkmod prints its own errors to stderr unless it has a log
 * function; its messages are details of a failure the caller reports, so
 * they go to our log at LOG_INFO.
 */

static void kmod_log(void *data, int priority, const char *file, int line, const char *fn, const char *fmt,
		     va_list args) __attribute__((format(printf, 6, 0)));

static void kmod_log(void *data, int priority, const char *file, int line, const char *fn, const char *fmt,
		     va_list args)
{
	struct gh_ctx *ctx = data;
	char msg[512], esc[600];

	(void)file;
	(void)line;
	(void)fn;
	if (vsnprintf(msg, sizeof(msg), fmt, args) < 0)
		return;
	msg[strcspn(msg, "\n")] = '\0';
	gh_log(ctx, priority <= LOG_ERR ? LOG_INFO : LOG_DEBUG, "libkmod: %s", gh_util_escape(msg, esc, sizeof(esc)));
}

/*
 * One libkmod context per process and use, made by the first module step (in
 * the phase's worker, see gh_timebox_call): reading the configuration and
 * mapping the indexes once serves every load of the phase, as one modprobe
 * run does. Unloading reads no modprobe.d: its options, aliases and
 * blacklists are about loading, and install/remove commands are never run
 * here; an empty list spares the directory scans and file reads of
 * kmod_config_new at every pre-start. A phase without a module step opens
 * neither.
 */
static struct {
	struct kmod_ctx *k;
	struct gh_ctx *ctx;
} kmod_shared[2];

static struct kmod_ctx *kmod_open(struct gh_ctx *ctx, bool config)
{
	static const char *const no_config[] = { NULL };
	struct kmod_ctx *k;

	if (kmod_shared[config].k && kmod_shared[config].ctx == ctx)
		return kmod_shared[config].k;
	kmod_unref(kmod_shared[config].k);
	k = kmod_new(NULL, config ? NULL : no_config);
	kmod_shared[config].k = k;
	kmod_shared[config].ctx = k ? ctx : NULL;
	/*
	 * An unload's only message, "could not remove '<m>': <errno>"
	 * (kmod_module_remove_module), repeats what act_module_unload reports
	 * with the same errno, and a module not loaded would log it too: that
	 * context keeps its errors to itself.
	 */
	if (k) {
		kmod_set_log_fn(k, kmod_log, ctx);
		kmod_set_log_priority(k, config ? LOG_ERR : LOG_CRIT);
	}
	return k;
}

static int real_module_remove(struct gh_ctx *ctx, const char *name)
{
	struct kmod_module *mod = NULL;
	struct kmod_ctx *k;
	int r;

	if (!valid_module_name(name))
		return -EINVAL;
	/* libkmod acts on the running kernel (it hard-codes /sys/module): never under a fixture root. */
	if (gh_ctx_root(ctx)[0])
		return -EPERM;
	k = kmod_open(ctx, false);
	if (!k)
		return -ENOMEM;
	r = kmod_module_new_from_name(k, name, &mod);
	if (r < 0)
		return r;
	/*
	 * Never KMOD_REMOVE_FORCE: a forced unload under a user crashes the kernel.
	 * The kernel's answer first: asking libkmod for the initstate beforehand
	 * looks the name up in modules.builtin.bin (eight system calls, the index
	 * opened each time) and reads /sys/module, for every module unloaded.
	 * delete_module() answers ENOENT for a module that is not loaded and for a
	 * built-in one alike (find_module finds neither): only then is it asked.
	 */
	r = kmod_module_remove_module(mod, 0);
	if (r == -ENOENT && kmod_module_get_initstate(mod) == KMOD_MODULE_BUILTIN)
		r = -EEXIST;
	kmod_module_unref(mod);
	return r;
}

/* modprobe.d "install" lines would run through system(): no shell ever runs here. */
static int refuse_install(struct kmod_module *m, const char *cmdline, void *data)
{
	struct gh_ctx *ctx = data;
	char esc[256];

	gh_warn(ctx, "module %s has an install command in modprobe.d (\"%s\"): gpu-hook runs no shell commands; "
		"load the module by its real name", kmod_module_get_name(m), gh_util_escape(cmdline, esc, sizeof(esc)));
	return -EPERM;
}

static bool in_kernel(struct gh_ctx *ctx, const char *name)
{
	return gh_fs_exists(ctx, "/sys/module/%s", name) > 0;
}

static bool no_softdep(struct kmod_module *mod)
{
	struct kmod_list *pre = NULL, *post = NULL;
	bool none;

	if (kmod_module_get_softdeps(mod, &pre, &post) < 0)
		return false;
	none = !pre && !post;
	kmod_module_unref_list(pre);
	kmod_module_unref_list(post);
	return none;
}

/*
 * The load of a module file whose configuration asks for nothing but its
 * options (no install command, no softdep of its own or of a dependency),
 * not in the kernel yet, and whose every dependency is: one insert with the
 * options modprobe would give it (modprobe.d and the kernel command line), as
 * kmod_module_probe_insert_module makes after its checks. Those checks read
 * the module's initstate twice and each dependency's, and stat'ed their
 * files: 17 system calls for a load that takes 10 here (the way back loads
 * nvidia before the modules on it, and the DRM helpers nvidia-drm needs were
 * never unloaded). 1 done, 0 when the load needs modprobe's whole way (the
 * caller takes it; a built-in module has no file, and probe_insert counts it
 * as loaded), -errno.
 */
static int insert_plain(struct gh_ctx *ctx, struct kmod_module *mod)
{
	struct kmod_list *deps, *it;
	bool plain;
	int r;

	plain = kmod_module_get_path(mod) && !kmod_module_get_install_commands(mod) && no_softdep(mod) &&
		!in_kernel(ctx, kmod_module_get_name(mod));
	/* modprobe loads a dependency's softdeps too, even when the dependency is loaded already. */
	deps = plain ? kmod_module_get_dependencies(mod) : NULL;
	kmod_list_foreach(it, deps) {
		struct kmod_module *d = kmod_module_get_module(it);

		plain = plain && in_kernel(ctx, kmod_module_get_name(d)) && no_softdep(d);
		kmod_module_unref(d);
	}
	kmod_module_unref_list(deps);
	if (!plain)
		return 0;
	r = kmod_module_insert_module(mod, 0, kmod_module_get_options(mod));
	return r == -EEXIST ? 1 : r < 0 ? r : 1;
}

static int real_module_load(struct gh_ctx *ctx, const char *name)
{
	struct kmod_list *list = NULL, *it;
	struct kmod_ctx *k;
	int r;

	if (!valid_module_name(name))
		return -EINVAL;
	/* As real_module_remove: the running kernel's, never under a fixture root. */
	if (gh_ctx_root(ctx)[0])
		return -EPERM;
	k = kmod_open(ctx, true);
	if (!k)
		return -ENOMEM;
	/* The indexes, mapped once for every load of the phase, not opened again by each lookup. */
	kmod_load_resources(k);
	/* Not kmod_module_new_from_name_lookup: its symbol version changed in kmod 33. */
	r = kmod_module_new_from_lookup(k, name, &list);
	if (r >= 0 && !list)
		r = -ENOENT;
	kmod_list_foreach(it, list) {
		struct kmod_module *mod = kmod_module_get_module(it);

		/* Flags 0: modprobe.d options apply, an explicit load ignores the blacklist. */
		if (r >= 0)
			r = insert_plain(ctx, mod);
		if (r == 0)
			r = kmod_module_probe_insert_module(mod, 0, NULL, refuse_install, ctx, NULL);
		else if (r > 0)
			r = 0;
		kmod_module_unref(mod);
	}
	kmod_module_unref_list(list);
	/* Positive values only come with blacklist flags, which are not used. */
	return r > 0 ? -EINVAL : r;
}

static int real_write(struct gh_ctx *ctx, const char *path, const char *value)
{
	return gh_fs_write_attr(ctx, value, "%s", path);
}

/* argv[0] run with a fixed environment and waited for: 0, -errno, or -(exit status). */
static int spawn_wait(char *const argv[])
{
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C", NULL };
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execve(argv[0], argv, envp);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(st))
		return WEXITSTATUS(st) ? -WEXITSTATUS(st) : 0;
	return -EINTR;
}

/* systemctl from a fixed path, with an argv: no shell, no PATH lookup. */
static int real_service(struct gh_ctx *ctx, const char *verb, const char *unit)
{
	static const char *const paths[] = { "/usr/bin/systemctl", "/bin/systemctl" };
	char exe[PATH_MAX] = "";
	char *argv[] = { exe, (char *)"--no-ask-password", (char *)verb, (char *)"--", (char *)unit, NULL };

	/* As real_run: never the systemctl of a fixture tree. */
	if (gh_ctx_root(ctx)[0])
		return -EPERM;
	for (size_t i = 0; i < GH_ARRAY_SIZE(paths) && !exe[0]; i++)
		if (gh_fs_path(ctx, exe, sizeof(exe), "%s", paths[i]) < 0 || access(exe, X_OK) < 0)
			exe[0] = '\0';
	if (!exe[0])
		return -ENOENT;
	return spawn_wait(argv);
}

static int real_signal(struct gh_ctx *ctx, pid_t pid, int pidfd, int sig)
{
	(void)ctx;
	/* A number alone may name another process by now. */
	if (pid <= 1 || pidfd < 0)
		return -EINVAL;
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

static int real_set_affinity(struct gh_ctx *ctx, pid_t tid, const cpu_set_t *set)
{
	(void)ctx;
	return sched_setaffinity(tid, sizeof(*set), set) < 0 ? -errno : 0;
}

static int real_get_affinity(struct gh_ctx *ctx, pid_t tid, cpu_set_t *set)
{
	(void)ctx;
	return sched_getaffinity(tid, sizeof(*set), set) < 0 ? -errno : 0;
}

static int real_set_sched(struct gh_ctx *ctx, pid_t tid, int policy, int priority)
{
	struct sched_param sp = { .sched_priority = priority };

	(void)ctx;
	return sched_setscheduler(tid, policy, &sp) < 0 ? -errno : 0;
}

/* A program of the running system from its absolute path, with an argv: no shell, no PATH lookup. */
static int real_run(struct gh_ctx *ctx, char *const argv[])
{
	/* These ops are the running system's: a program inside a fixture tree is never executed. */
	if (gh_ctx_root(ctx)[0] || !argv[0] || argv[0][0] != '/')
		return -EPERM;
	if (access(argv[0], X_OK) < 0)
		return -errno;
	return spawn_wait(argv);
}

const struct gh_ops gh_modules_real_ops = {
	.write = real_write,
	.service = real_service,
	.signal = real_signal,
	.module_remove = real_module_remove,
	.module_load = real_module_load,
	.set_affinity = real_set_affinity,
	.get_affinity = real_get_affinity,
	.set_sched = real_set_sched,
	.run = real_run,
};
