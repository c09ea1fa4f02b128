/* SPDX-License-Identifier: MIT */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cpulist.h"
#include "fs.h"
#include "services.h"

struct pparse {
	struct gh_ctx *ctx;
	const char *name;
	FILE *f;
	int line;
	int errors;
	bool overlong;
	struct gh_policy *p;
};

static void perr(struct pparse *pp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void perr(struct pparse *pp, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gh_err(pp->ctx, "%s:%d: %s", pp->name, pp->line, msg);
	pp->errors++;
}

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
	p->wait_ms = 5000;
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
	else if (strcmp(v + len, "s") && v[len])
		return -EINVAL;
	if (gh_util_parse_ulong(num, 10, 3600000, &n) < 0)
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

	if (!gh_services_valid_name(item)) {
		perr(pp, "services: invalid unit name '%s' (a systemd unit such as nvidia-persistenced.service)",
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
		if (!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "on"))
			p->restore = true;
		else if (!strcmp(value, "no") || !strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "off"))
			p->restore = false;
		else
			perr(pp, "restore: expected yes or no, not '%s'", esc);
	} else if (!strcmp(key, "timeout")) {
		unsigned ms;

		if (parse_duration(value, &ms) < 0 || ms < 1000 || ms > 300000)
			perr(pp, "timeout: expected a duration from 1s to 300s (\"10s\", \"2500ms\"), not '%s'", esc);
		else
			p->timeout_ms = ms;
	} else {
		perr(pp, "unknown key '%s' in [handoff]", gh_util_escape(key, esc, sizeof(esc)));
	}
}

static void drivers_key(struct pparse *pp, const char *key, const char *value)
{
	struct gh_policy *p = pp->p;
	struct gh_pciid id;
	char addr[GH_PCI_ADDR_LEN], esc[96];
	unsigned i;

	if (gh_pciid_parse(key, &id) < 0 || id.func < 0) {
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
	else if (!section[0])
		perr(pp, "key '%s' outside a section ([handoff], [drivers] or [pinning])",
		     gh_util_escape(name, esc, sizeof(esc)));
	/* Unknown sections are reported once, by the reader. */
	return 1;
}

/*
 * inih's reader, wrapped: it numbers lines for the handler's messages and
 * reports what inih would only count (lines that are neither blank, comment,
 * section nor key = value), so that every error of a file is listed.
 */
static char *reader(char *str, int num, void *stream)
{
	struct pparse *pp = stream;
	char *l;
	size_t len;

	if (!fgets(str, num, pp->f))
		return NULL;
	len = strlen(str);
	if (len && str[len - 1] != '\n' && !feof(pp->f)) {
		int c;

		if (!pp->overlong) {
			pp->line++;
			perr(pp, "line too long");
		}
		pp->overlong = true;
		while ((c = fgetc(pp->f)) != EOF && c != '\n')
			;
		str[0] = '\0';
		return str;
	}
	if (pp->overlong) {
		pp->overlong = false;
		str[0] = '\0';
		return str;
	}
	pp->line++;
	l = str;
	while (isspace((unsigned char)*l))
		l++;
	if (!*l || *l == ';' || *l == '#')
		return str;
	if (*l == '[') {
		char sect[64];
		size_t n = strcspn(l + 1, "]");

		if (l[1 + n] != ']' || n == 0 || n >= sizeof(sect)) {
			perr(pp, "cannot parse section header");
			str[0] = '\0';
			return str;
		}
		memcpy(sect, l + 1, n);
		sect[n] = '\0';
		if (strcmp(sect, "handoff") && strcmp(sect, "drivers") && strcmp(sect, "pinning")) {
			char esc[96];

			perr(pp, "unknown section [%s] (expected [handoff], [drivers] or [pinning])",
			     gh_util_escape(sect, esc, sizeof(esc)));
		}
		return str;
	}
	if (!strchr(l, '=')) {
		perr(pp, "cannot parse line (expected key = value)");
		str[0] = '\0';
		return str;
	}
	/* inih also splits at ':', which PCI addresses in [drivers] keys hold: hide them until the handler. */
	for (char *c = l; *c != '='; c++)
		if (*c == ':')
			*c = '\x01';
	return str;
}

int gh_policy_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_policy *p)
{
	struct pparse pp = { ctx, name, f, 0, 0, false, p };
	int r;

	r = ini_parse_stream(reader, &pp, handler, &pp);
	if (r < 0) {
		gh_err(ctx, "%s: cannot read: %s", name, r == -2 ? "out of memory" : "I/O error");
		return r == -2 ? -ENOMEM : -EIO;
	}
	if (r > 0 && !pp.errors) {
		pp.line = r;
		perr(&pp, "cannot parse line");
	}
	if (!pp.errors)
		gh_strv_push(&p->files, name);
	return pp.errors ? -EINVAL : 0;
}

/* Trusted only if root (or we) own it and nobody else may write it, as doas trusts its config. */
static int load_one(struct gh_ctx *ctx, const char *name, struct gh_policy *p)
{
	struct stat st;
	FILE *f = gh_fs_fopen(ctx, "%s", name);
	int r;

	if (!f) {
		if (errno == ENOENT)
			return 0;
		r = -errno;
		gh_err(ctx, "%s: %s", name, strerror(-r));
		return r;
	}
	if (fstat(fileno(f), &st) < 0) {
		r = -errno;
		fclose(f);
		gh_err(ctx, "%s: %s", name, strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		fclose(f);
		gh_err(ctx, "%s: refusing policy file: not a regular file", name);
		return -EPERM;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		fclose(f);
		gh_err(ctx, "%s: refusing policy file: not owned by root (owner uid %u)", name, (unsigned)st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & 022) {
		fclose(f);
		gh_err(ctx, "%s: refusing policy file: writable by group or others (mode %04o; chmod 644 it)", name,
		       (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	r = gh_policy_parse(ctx, f, name, p);
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
	r = load_one(ctx, "/etc/gpu-hook/gpu-hook.ini", p);
	if (!vmid)
		return r;
	snprintf(name, sizeof(name), "/etc/gpu-hook/%u.ini", vmid);
	/* Both files are read so that every error is reported in one run. */
	r2 = load_one(ctx, name, p);
	return r < 0 ? r : r2;
}

const char *gh_policy_driver_for(const struct gh_policy *p, const char *addr)
{
	for (unsigned i = 0; i < p->n_drivers; i++)
		if (!strcmp(p->drivers[i].addr, addr))
			return p->drivers[i].driver;
	return NULL;
}
