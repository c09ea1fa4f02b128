/* SPDX-License-Identifier: MIT */
#include "policy.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpulist.h"
#include "fs.h"
#include "propstr.h"
#include "services.h"
#include "text.h"
#include "vmconf.h"

struct pparse {
	struct gh_text t;
	struct gh_policy *p;
};

/* lib/text.h's reporter, under the name every key's check here uses. */
#define perr(pp, ...) gh_text_err(&(pp)->t, __VA_ARGS__)

static const char *const holders_names[] = { "refuse", "stop-unit", "kill" };
static const char *const console_names[] = { "auto", "detach", "keep" };

const char *gh_policy_holders_name(enum gh_holders_mode m)
{
	return (size_t)m < GH_ARRAY_SIZE(holders_names) ? holders_names[m] : "?";
}

const char *gh_policy_console_name(enum gh_console_mode m)
{
	return (size_t)m < GH_ARRAY_SIZE(console_names) ? console_names[m] : "?";
}

int gh_policy_init(struct gh_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->holders = GH_HOLDERS_REFUSE;
	p->console = GH_CONSOLE_AUTO;
	p->restore = true;
	p->timeout_ms = 10000;
	p->start_watch_ms = 1800000;
	p->reboot_watch_ms = 60000;
	/* A real nvidia-drm load boots each GPU's firmware: 1-3 s per GPU, and a host may have eight. */
	p->module_timeout_ms = 60000;
	p->service_timeout_ms = 60000;
	p->wait_ms = 5000;
	p->iso_housekeeping_min = 1;
	p->iso_slices = p->iso_writeback = p->iso_irqs = p->iso_governor = p->iso_other_vms = true;
	CPU_ZERO(&p->iso_cpus);
	p->sched_policy = SCHED_OTHER;
	CPU_ZERO(&p->others);
	if (gh_strv_push(&p->services, "nvidia-persistenced.service") < 0 ||
	    gh_strv_push(&p->services, "display-manager.service") < 0) {
		gh_policy_free(p);
		return -ENOMEM;
	}
	return 0;
}

void gh_policy_free(struct gh_policy *p)
{
	gh_strv_free(&p->services);
	gh_strv_free(&p->files);
}

/* "10s", "2500ms", "10" (seconds). */
static int parse_duration(const char *v, unsigned *ms)
{
	char num[32];
	unsigned long n, mult = 1000;
	size_t len = strspn(v, "0123456789");

	if (!len || len >= sizeof(num))
		return -EINVAL;
	memcpy(num, v, len);
	num[len] = '\0';
	if (!strcmp(v + len, "ms"))
		mult = 1;
	else if (!strcmp(v + len, "m"))
		mult = 60000;
	else if (strcmp(v + len, "s") && v[len])
		return -EINVAL;
	if (gh_util_parse_ulong(num, 10, 3600000, &n) < 0 || n > UINT_MAX / mult)
		return -EINVAL;
	*ms = (unsigned)(n * mult);
	return 0;
}

/* Items separated by commas and/or blanks, passed to fn one by one. */
static void each_item(struct pparse *pp, const char *value, void (*fn)(struct pparse *, const char *))
{
	char buf[1024], *save = NULL, *it;

	if (strlen(value) >= sizeof(buf)) {
		perr(pp, "list too long");
		return;
	}
	memcpy(buf, value, strlen(value) + 1);
	for (it = strtok_r(buf, ", \t", &save); it; it = strtok_r(NULL, ", \t", &save))
		fn(pp, it);
}

static void add_device(struct pparse *pp, const char *item)
{
	struct gh_pciid id;
	char esc[64];

	if (gh_pciid_parse(item, &id) < 0) {
		perr(pp, "devices: invalid PCI id '%s' (expected [dddd:]bb:ss[.f], lowercase hex)",
		     gh_util_escape(item, esc, sizeof(esc)));
		return;
	}
	if (pp->p->n_devices == GH_POLICY_DEVICES_MAX) {
		perr(pp, "devices: more than %d", GH_POLICY_DEVICES_MAX);
		return;
	}
	pp->p->devices[pp->p->n_devices++] = id;
}

static void add_service(struct pparse *pp, const char *item)
{
	char esc[64];

	if (!gh_services_stoppable_name(item)) {
		perr(pp, "services: invalid unit name '%s' (a .service, .socket, .target or .scope unit)",
		     gh_util_escape(item, esc, sizeof(esc)));
		return;
	}
	if (gh_strv_add(&pp->p->services, item) < 0)
		perr(pp, "out of memory");
}

static bool driver_name(const char *s)
{
	size_t len = strlen(s);

	return len && len < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

static int pick(const char *v, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return (int)i;
	return -1;
}

/* [handoff]'s durations, each with its bounds and their words in a message; false when key is none of them. */
static bool duration_key(struct pparse *pp, const char *key, const char *value, const char *esc)
{
	struct gh_policy *p = pp->p;
	const struct {
		const char *key;
		unsigned min, max;
		const char *range, *examples;
		unsigned *ms;
	} d[] = {
		{ "timeout", 1000, 300000, "from 1s to 300s", "\"10s\", \"2500ms\"", &p->timeout_ms },
		{ "start_watch", 10000, 86400000, "from 10s to 24h", "\"30m\", \"600s\"", &p->start_watch_ms },
		{ "reboot_watch", 1000, 3600000, "from 1s to 60m", "\"60s\"", &p->reboot_watch_ms },
		{ "module_timeout", 1000, 600000, "from 1s to 600s", "\"60s\", \"90000ms\"", &p->module_timeout_ms },
		{ "service_timeout", 1000, 600000, "from 1s to 600s", "\"60s\", \"90000ms\"", &p->service_timeout_ms },
	};

	for (size_t i = 0; i < GH_ARRAY_SIZE(d); i++) {
		unsigned ms;

		if (strcmp(key, d[i].key))
			continue;
		if (parse_duration(value, &ms) < 0 || ms < d[i].min || ms > d[i].max)
			perr(pp, "%s: expected a duration %s (%s), not '%s'", key, d[i].range, d[i].examples, esc);
		else
			*d[i].ms = ms;
		return true;
	}
	return false;
}

static void handoff_key(struct pparse *pp, const char *key, const char *value)
{
	struct gh_policy *p = pp->p;
	char esc[96];
	int i;

	gh_util_escape(value, esc, sizeof(esc));
	if (!strcmp(key, "devices")) {
		p->n_devices = 0;
		each_item(pp, value, add_device);
	} else if (!strcmp(key, "services")) {
		gh_strv_free(&p->services);
		each_item(pp, value, add_service);
	} else if (!strcmp(key, "holders")) {
		if ((i = pick(value, holders_names, GH_ARRAY_SIZE(holders_names))) < 0)
			perr(pp, "holders: expected refuse, stop-unit or kill, not '%s'", esc);
		else
			p->holders = (enum gh_holders_mode)i;
	} else if (!strcmp(key, "console")) {
		if ((i = pick(value, console_names, GH_ARRAY_SIZE(console_names))) < 0)
			perr(pp, "console: expected auto, detach or keep, not '%s'", esc);
		else
			p->console = (enum gh_console_mode)i;
	} else if (!strcmp(key, "restore")) {
		if ((i = gh_propstr_bool(value)) < 0)
			perr(pp, "restore: expected yes or no, not '%s'", esc);
		else
			p->restore = i;
	} else if (!strcmp(key, "modeset_hold")) {
		if (strcmp(value, "refuse") && strcmp(value, "reload"))
			perr(pp, "modeset_hold: expected refuse or reload, not '%s'", esc);
		else
			p->modeset_hold = strcmp(value, "reload") ? GH_MODESET_HOLD_REFUSE : GH_MODESET_HOLD_RELOAD;
	} else if (!duration_key(pp, key, value, esc)) {
		perr(pp, "unknown key '%s' in [handoff]", gh_util_escape(key, esc, sizeof(esc)));
	}
}

static void drivers_key(struct pparse *pp, const char *key, const char *value)
{
	struct gh_policy *p = pp->p;
	struct gh_pciid id;
	char addr[GH_PCI_ADDR_LEN], esc[96];
	unsigned i;

	if (gh_pciid_parse(key, &id) < 0 || id.func < 0 || id.func > 7 || id.slot > 0x1f || id.domain > 0xffff) {
		perr(pp, "[drivers]: '%s' is not a PCI function address (0000:01:00.1)",
		     gh_util_escape(key, esc, sizeof(esc)));
		return;
	}
	if (!driver_name(value)) {
		perr(pp, "[drivers]: invalid driver name '%s'", gh_util_escape(value, esc, sizeof(esc)));
		return;
	}
	gh_pciid_format(&id, addr);
	for (i = 0; i < p->n_drivers; i++)
		if (!strcmp(p->drivers[i].addr, addr))
			break;
	if (i == GH_POLICY_DEVICES_MAX) {
		perr(pp, "[drivers]: more than %d entries", GH_POLICY_DEVICES_MAX);
		return;
	}
	memcpy(p->drivers[i].addr, addr, sizeof(addr));
	gh_util_copy(p->drivers[i].driver, sizeof(p->drivers[i].driver), value);
	if (i == p->n_drivers)
		p->n_drivers++;
}

static void pinning_key(struct pparse *pp, const char *key, const char *value)
{
	struct gh_policy *p = pp->p;
	const char *bad = NULL;
	char esc[96];

	if (!strcmp(key, "vcpus")) {
		if (gh_cpulist_parse_ordered(value, p->vcpus, GH_POLICY_VCPUS_MAX, &p->n_vcpus, &bad) < 0)
			perr(pp, "vcpus: invalid CPU list at '%s' (kernel cpulist syntax, no CPU twice)",
			     gh_util_escape(bad ? bad : value, esc, sizeof(esc)));
	} else if (!strcmp(key, "others")) {
		if (gh_cpulist_parse(value, &p->others, &bad) < 0)
			perr(pp, "others: invalid CPU list at '%s'", gh_util_escape(bad ? bad : value, esc, sizeof(esc)));
		else
			p->others_set = true;
	} else if (!strcmp(key, "sched")) {
		unsigned long prio;

		if (!strcmp(value, "other")) {
			p->sched_policy = SCHED_OTHER;
			p->sched_priority = 0;
		} else if ((!strncmp(value, "fifo:", 5) || !strncmp(value, "rr:", 3)) &&
			   gh_util_parse_ulong(strchr(value, ':') + 1, 10, 99, &prio) == 0 && prio >= 1) {
			p->sched_policy = value[0] == 'f' ? SCHED_FIFO : SCHED_RR;
			p->sched_priority = (int)prio;
		} else {
			perr(pp, "sched: expected other, fifo:N or rr:N (N from 1 to 99), not '%s'",
			     gh_util_escape(value, esc, sizeof(esc)));
		}
	} else if (!strcmp(key, "wait")) {
		unsigned ms;

		if (parse_duration(value, &ms) < 0 || ms > 60000)
			perr(pp, "wait: expected a duration up to 60s, not '%s'", gh_util_escape(value, esc, sizeof(esc)));
		else
			p->wait_ms = ms;
	} else {
		perr(pp, "unknown key '%s' in [pinning]", gh_util_escape(key, esc, sizeof(esc)));
	}
}

/* lib/isolate.h: the yes/no keys of [isolation]. */
static bool *isolation_flag(struct gh_policy *p, const char *key)
{
	if (!strcmp(key, "enabled"))
		return &p->isolate;
	if (!strcmp(key, "slices"))
		return &p->iso_slices;
	if (!strcmp(key, "writeback"))
		return &p->iso_writeback;
	if (!strcmp(key, "irqs"))
		return &p->iso_irqs;
	if (!strcmp(key, "other_vms"))
		return &p->iso_other_vms;
	return NULL;
}

/* lib/isolate.h; any key here asks for isolation, enabled = no (per VM) withdraws it. */
static void isolation_key(struct pparse *pp, const char *key, const char *value)
{
	struct gh_policy *p = pp->p;
	const char *bad = NULL;
	char esc[96];
	unsigned long n;
	int i = gh_propstr_bool(value);
	bool *flag = isolation_flag(p, key);

	gh_util_escape(value, esc, sizeof(esc));
	p->isolate = true;
	if (flag) {
		if (i < 0)
			perr(pp, "%s: expected yes or no, not '%s'", key, esc);
		else
			*flag = i;
	} else if (!strcmp(key, "cpus")) {
		if (gh_cpulist_parse(value, &p->iso_cpus, &bad) < 0)
			perr(pp, "cpus: invalid CPU list at '%s'", gh_util_escape(bad ? bad : value, esc, sizeof(esc)));
	} else if (!strcmp(key, "housekeeping_min")) {
		if (gh_util_parse_ulong(value, 10, GH_POLICY_VCPUS_MAX, &n) < 0 || !n)
			perr(pp, "housekeeping_min: expected a number from 1 to %d, not '%s'", GH_POLICY_VCPUS_MAX, esc);
		else
			p->iso_housekeeping_min = (unsigned)n;
	} else if (!strcmp(key, "governor")) {
		if (strcmp(value, "performance") && strcmp(value, "keep"))
			perr(pp, "governor: expected performance or keep, not '%s'", esc);
		else
			p->iso_governor = value[0] == 'p';
	} else {
		perr(pp, "unknown key '%s' in [isolation]", gh_util_escape(key, esc, sizeof(esc)));
	}
}

static int handler(void *user, const char *section, const char *key, const char *value)
{
	struct pparse *pp = user;
	char esc[96], name[128];

	if (gh_util_copy(name, sizeof(name), key) < 0) {
		perr(pp, "key too long");
		return 1;
	}
	for (char *c = name; *c; c++)
		if (*c == '\x01')
			*c = ':';

	if (!strcmp(section, "handoff"))
		handoff_key(pp, name, value);
	else if (!strcmp(section, "drivers"))
		drivers_key(pp, name, value);
	else if (!strcmp(section, "pinning"))
		pinning_key(pp, name, value);
	else if (!strcmp(section, "isolation"))
		isolation_key(pp, name, value);
	else if (!section[0])
		perr(pp, "key '%s' outside a section ([handoff], [drivers], [pinning] or [isolation])",
		     gh_util_escape(name, esc, sizeof(esc)));
	/* Unknown sections are reported once, by the reader. */
	return 1;
}

/*
 * inih's reader, wrapped. inih tells the handler no line numbers (Debian's
 * build has no INI_HANDLER_LINENO) and only counts the lines it cannot
 * parse, so the reader numbers the lines, reports those itself and hands
 * inih a blank line instead (or, for a line that is not text, nothing), so
 * every error of a file is listed with its line. It also strips leading blanks: inih would take an indented line as
 * the continuation of the previous value and call the handler again.
 */
static char *reader(char *str, int num, void *stream)
{
	struct pparse *pp = stream;
	char *l, esc[96];
	size_t n;

	/* The reader passes over lines that are not text: control bytes could also fake the key marker below. */
	if (gh_text_next(&pp->t, &l, &n) <= 0)
		return NULL;
	str[0] = '\0';
	if (pp->t.line == 1 && !strncmp(l, "\xef\xbb\xbf", 3))
		l += 3;
	l += strspn(l, " \t");
	n = strlen(l);
	if (!n || *l == ';' || *l == '#')
		return str;
	if (n + 2 > (size_t)num) {
		perr(pp, "line too long (at most %d characters)", num - 2);
		return str;
	}
	if (*l == '[') {
		size_t sn = strcspn(l + 1, "]");
		char sect[64];

		if (l[1 + sn] != ']' || sn == 0 || sn >= sizeof(sect)) {
			perr(pp, "cannot parse section header '%s'", gh_util_escape(l, esc, sizeof(esc)));
			/* The keys that follow belong to no known section: not to the one before. */
			memcpy(str, "[!]", 4);
			return str;
		}
		memcpy(sect, l + 1, sn);
		sect[sn] = '\0';
		if (strcmp(sect, "handoff") && strcmp(sect, "drivers") && strcmp(sect, "pinning") &&
		    strcmp(sect, "isolation"))
			perr(pp, "unknown section [%s] (expected [handoff], [drivers], [pinning] or [isolation])",
			     gh_util_escape(sect, esc, sizeof(esc)));
		memcpy(str, l, n + 1);
		return str;
	}
	if (!strchr(l, '=')) {
		perr(pp, "cannot parse line '%s' (expected key = value)", gh_util_escape(l, esc, sizeof(esc)));
		return str;
	}
	if (*l == '=') {
		perr(pp, "no key before '='");
		return str;
	}
	memcpy(str, l, n + 1);
	/* inih also splits at ':', which PCI addresses in [drivers] keys hold: hide them until the handler. */
	for (char *c = str; *c != '='; c++)
		if (*c == ':')
			*c = '\x01';
	return str;
}

int gh_policy_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_policy *p)
{
	struct pparse pp = { .t = { .ctx = ctx, .f = f, .name = name }, .p = p };
	int r;

	r = ini_parse_stream(reader, &pp, handler, &pp);
	gh_text_done(&pp.t);
	if (r < 0 || ferror(f)) {
		gh_err(ctx, "%s: cannot read: %s", name, r == -2 ? "out of memory" : "I/O error");
		return r == -2 ? -ENOMEM : -EIO;
	}
	/* The reader hands inih only lines it can parse; should it miss one, inih's count still names it. */
	if (r > 0 && !pp.t.errors) {
		pp.t.line = r;
		perr(&pp, "cannot parse line");
	}
	if (pp.t.errors)
		return -EINVAL;
	if (gh_strv_push(&p->files, name) < 0) {
		gh_err(ctx, "%s: out of memory", name);
		return -ENOMEM;
	}
	return 0;
}

/*
 * The policy names units to stop and processes to kill, so it is trusted
 * only as doas and sshd (safe_path) trust theirs: root (or we, who run it)
 * own the file and every directory from /etc/gpu-hook up to /, and none of
 * them is writable by group or others (a sticky 1777 directory still lets
 * anyone add a file, so it counts as writable). Directories are not followed
 * when links: a linked /etc/gpu-hook would put its parents out of the walk.
 * Under --root the walk ends at the root directory, which stands for "/":
 * its own parents belong to the machine the fixture sits on (/tmp is 1777),
 * and a fixture its user made is trusted as that user's files are.
 * The directories are checked before the files are opened: once they are
 * closed to everybody else, nobody but root can swap a file in between.
 */
static bool trusted_owner(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static int check_dirs(struct gh_ctx *ctx)
{
	size_t rlen = strlen(gh_ctx_root(ctx));
	char p[PATH_MAX];
	struct stat st;
	int r;

	r = gh_fs_path(ctx, p, sizeof(p), "/etc/gpu-hook");
	if (r < 0)
		return r;
	for (bool first = true;; first = false) {
		const char *name = p[rlen] ? p + rlen : "/";
		char *sl;

		/* The root directory itself is followed: --root may name it through a link. */
		if ((strcmp(name, "/") ? lstat(p, &st) : stat(p, &st)) < 0) {
			r = -errno;
			/* No /etc/gpu-hook: no policy, the defaults apply. */
			if (first && r == -ENOENT)
				return 0;
			gh_err(ctx, "%s: %s", name, strerror(-r));
			return r;
		}
		if (!S_ISDIR(st.st_mode)) {
			gh_err(ctx, "%s: refusing the policy: %s, not a directory", name,
			       S_ISLNK(st.st_mode) ? "a symbolic link" : "a file");
			return -EPERM;
		}
		if (!trusted_owner(st.st_uid)) {
			gh_err(ctx, "%s: refusing the policy: directory not owned by root (owner uid %u; chown root %s)",
			       name, (unsigned)st.st_uid, name);
			return -EPERM;
		}
		if (st.st_mode & 022) {
			gh_err(ctx, "%s: refusing the policy: directory writable by group or others (mode %04o; chmod go-w %s)",
			       name, (unsigned)(st.st_mode & 07777), name);
			return -EPERM;
		}
		if (!strcmp(name, "/"))
			return 0;
		sl = strrchr(p + rlen, '/');
		sl[sl == p + rlen && !rlen ? 1 : 0] = '\0';
	}
}

static int load_file(struct gh_ctx *ctx, const char *name, struct gh_policy *p)
{
	struct stat st;
	FILE *f;
	int r;

	/* Not followed if a link: the file checked must be the file read. */
	f = gh_fs_fopen_input(ctx, 0, GH_FS_CONF_MAX, &st, "%s", name);
	if (!f) {
		r = -errno;
		if (r == -ENOENT)
			return 0;
		return (r == -EISDIR || r == -EMEDIUMTYPE || r == -ELOOP) ? -EPERM : r;
	}
	if (!trusted_owner(st.st_uid)) {
		gh_err(ctx, "%s: refusing policy file: not owned by root (owner uid %u)", name, (unsigned)st.st_uid);
		r = -EPERM;
	} else if (st.st_mode & 022) {
		gh_err(ctx, "%s: refusing policy file: writable by group or others (mode %04o; chmod 644 it)", name,
		       (unsigned)(st.st_mode & 07777));
		r = -EPERM;
	} else {
		r = gh_policy_parse(ctx, f, name, p);
	}
	fclose(f);
	return r;
}

int gh_policy_load(struct gh_ctx *ctx, unsigned vmid, struct gh_policy *p)
{
	char name[64];
	int r, r2;

	r = gh_policy_init(p);
	if (r < 0)
		return r;
	r = check_dirs(ctx);
	if (r < 0)
		goto out;
	r = load_file(ctx, "/etc/gpu-hook/gpu-hook.ini", p);
	if (!vmid)
		goto out;
	if (gh_util_format(name, sizeof(name), "/etc/gpu-hook/%u.ini", vmid) < 0) {
		r = -ENAMETOOLONG;
		goto out;
	}
	/* Both files are read so that every error is reported in one run. */
	r2 = load_file(ctx, name, p);
	if (r >= 0)
		r = r2;
out:
	if (r < 0)
		gh_policy_free(p);
	return r;
}

const char *gh_policy_driver_for(const struct gh_policy *p, const char *addr)
{
	for (unsigned i = 0; i < p->n_drivers; i++)
		if (!strcmp(p->drivers[i].addr, addr))
			return p->drivers[i].driver;
	return NULL;
}
