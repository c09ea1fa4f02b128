/* SPDX-License-Identifier: MIT */
#include "vmconf.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cpulist.h"
#include "fs.h"
#include "util.h"

#define LINE_MAX_LEN (64 * 1024)

struct vparse {
	struct gh_ctx *ctx;
	const char *name;
	int line;
	int errors;
};

static void verr(struct vparse *vp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void verr(struct vparse *vp, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gh_err(vp->ctx, "%s:%d: %s", vp->name, vp->line, msg);
	vp->errors++;
}

int gh_propstr_bool(const char *v)
{
	if (!strcmp(v, "1") || !strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true"))
		return 1;
	if (!strcmp(v, "0") || !strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false"))
		return 0;
	return -EINVAL;
}

int gh_propstr_parse(const char *s, const char *default_key, gh_propstr_fn fn, void *data)
{
	char buf[1024], seen[32][32];
	unsigned n_seen = 0;
	char *save = NULL, *part;
	size_t len = strlen(s);
	int r;

	if (!len || len >= sizeof(buf) || s[len - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
		return -EINVAL;
	memcpy(buf, s, len + 1);
	for (part = strtok_r(buf, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(part, '=');
		const char *key = default_key, *value = part;

		if (eq) {
			*eq = '\0';
			key = part;
			value = eq + 1;
		}
		if (!key || !*key)
			return -EINVAL;
		for (unsigned i = 0; i < n_seen; i++)
			if (!strcmp(seen[i], key))
				return -EINVAL;
		if (n_seen < GH_ARRAY_SIZE(seen) && strlen(key) < sizeof(seen[0]))
			memcpy(seen[n_seen++], key, strlen(key) + 1);
		r = fn(data, key, value);
		if (r < 0)
			return r;
	}
	return 0;
}

struct hp_ctx {
	struct vparse *vp;
	const char *key;
	struct gh_hostpci *hp;
	bool host, bad;
};

static bool valid_mapping_id(const char *s)
{
	size_t len = strlen(s);

	if (!len || len >= 128 || !isalpha((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
			return false;
	return true;
}

static int hostpci_prop(void *data, const char *key, const char *value)
{
	static const char *const ignored[] = { "rombar",    "romfile",       "legacy-igd",    "vendor-id",
					       "device-id", "sub-vendor-id", "sub-device-id", "multifunction" };
	struct hp_ctx *h = data;
	struct vparse *vp = h->vp;
	char esc[96];

	if (!strcmp(key, "host")) {
		char ids[512], *save = NULL, *id;

		h->host = true;
		if (strlen(value) >= sizeof(ids) || !*value) {
			verr(vp, "%s: invalid PCI id list", h->key);
			h->bad = true;
			return 0;
		}
		memcpy(ids, value, strlen(value) + 1);
		for (id = strtok_r(ids, ";", &save); id; id = strtok_r(NULL, ";", &save)) {
			if (h->hp->n_ids == GH_HOSTPCI_IDS_MAX) {
				verr(vp, "%s: more than %d PCI ids", h->key, GH_HOSTPCI_IDS_MAX);
				h->bad = true;
				break;
			}
			if (gh_pciid_parse(id, &h->hp->ids[h->hp->n_ids]) < 0) {
				verr(vp, "%s: invalid PCI id '%s' (expected [dddd:]bb:ss[.f], lowercase hex)", h->key,
				     gh_util_escape(id, esc, sizeof(esc)));
				h->bad = true;
				continue;
			}
			h->hp->n_ids++;
		}
	} else if (!strcmp(key, "mapping")) {
		if (!valid_mapping_id(value)) {
			verr(vp, "%s: invalid mapping id '%s'", h->key, gh_util_escape(value, esc, sizeof(esc)));
			h->bad = true;
		} else {
			gh_util_copy(h->hp->mapping, sizeof(h->hp->mapping), value);
		}
	} else if (!strcmp(key, "mdev")) {
		if (!*value || gh_util_copy(h->hp->mdev, sizeof(h->hp->mdev), value) < 0) {
			verr(vp, "%s: invalid mdev type '%s'", h->key, gh_util_escape(value, esc, sizeof(esc)));
			h->bad = true;
		}
	} else if (!strcmp(key, "driver")) {
		if (!strcmp(value, "keep"))
			h->hp->keep = true;
		else if (strcmp(value, "vfio")) {
			verr(vp, "%s: driver must be 'vfio' or 'keep', not '%s'", h->key,
			     gh_util_escape(value, esc, sizeof(esc)));
			h->bad = true;
		}
	} else if (!strcmp(key, "pcie") || !strcmp(key, "x-vga")) {
		int b = gh_propstr_bool(value);

		if (b < 0) {
			verr(vp, "%s: %s must be a boolean (0/1, on/off, yes/no, true/false), not '%s'", h->key, key,
			     gh_util_escape(value, esc, sizeof(esc)));
			h->bad = true;
		} else if (!strcmp(key, "pcie")) {
			h->hp->pcie = b;
		} else {
			h->hp->xvga = b;
		}
	} else {
		for (size_t i = 0; i < GH_ARRAY_SIZE(ignored); i++)
			if (!strcmp(key, ignored[i]))
				return 0;
		verr(vp, "%s: unknown property '%s'", h->key, gh_util_escape(key, esc, sizeof(esc)));
		h->bad = true;
	}
	return 0;
}

static void parse_hostpci(struct vparse *vp, struct gh_vmconf *vm, const char *key, const char *value)
{
	unsigned long n;
	struct hp_ctx h = { vp, key, NULL, false, false };
	struct gh_hostpci hp = { 0 };

	if (gh_util_parse_ulong(key + 7, 10, 1000, &n) < 0 || (key[7] == '0' && key[8])) {
		verr(vp, "unknown key '%s'", key);
		return;
	}
	if (n >= GH_HOSTPCI_MAX) {
		verr(vp, "%s: Proxmox allows hostpci0 to hostpci%d", key, GH_HOSTPCI_MAX - 1);
		return;
	}
	if (vm->hostpci[n].present) {
		verr(vp, "%s given twice (first on line %d)", key, vm->hostpci[n].line);
		return;
	}
	h.hp = &hp;
	if (gh_propstr_parse(value, "host", hostpci_prop, &h) < 0) {
		verr(vp, "%s: cannot parse property string (empty part or a key given twice)", key);
		return;
	}
	if (h.bad)
		return;
	if (h.host && hp.mapping[0]) {
		verr(vp, "%s: 'host' and 'mapping' exclude each other", key);
		return;
	}
	if (!h.host && !hp.mapping[0]) {
		verr(vp, "%s: needs a PCI id (host=) or a mapping (mapping=)", key);
		return;
	}
	hp.present = true;
	hp.line = vp->line;
	vm->hostpci[n] = hp;
}

static void parse_count(struct vparse *vp, const char *key, const char *value, unsigned *out)
{
	unsigned long v;

	if (gh_util_parse_ulong(value, 10, 4096, &v) < 0 || v == 0) {
		char esc[64];

		verr(vp, "%s: expected a number from 1 to 4096, not '%s'", key, gh_util_escape(value, esc, sizeof(esc)));
		return;
	}
	*out = (unsigned)v;
}

static void parse_text(struct vparse *vp, const char *key, const char *value, char *out, size_t size)
{
	if (gh_util_copy(out, size, value) < 0)
		verr(vp, "%s: value longer than %zu characters", key, size - 1);
}

static bool valid_key(const char *k, size_t len)
{
	size_t i = 0;

	if (!len || !islower((unsigned char)k[0]))
		return false;
	while (i < len && (islower((unsigned char)k[i]) || k[i] == '_' || k[i] == '-'))
		i++;
	while (i < len && isdigit((unsigned char)k[i]))
		i++;
	return i == len;
}

static void parse_line(struct vparse *vp, struct gh_vmconf *vm, char *line)
{
	char *colon = strchr(line, ':'), *key, *value;
	char esc[96];

	if (!colon || !valid_key(line, (size_t)(colon - line))) {
		verr(vp, "cannot parse line \"%s\" (expected \"key: value\")", gh_util_escape(line, esc, 64));
		return;
	}
	*colon = '\0';
	key = line;
	value = gh_util_trim(colon + 1);
	if (!strncmp(key, "hostpci", 7) && isdigit((unsigned char)key[7])) {
		parse_hostpci(vp, vm, key, value);
	} else if (!strcmp(key, "affinity")) {
		cpu_set_t set;
		const char *bad;

		if (gh_cpulist_parse(value, &set, &bad) < 0)
			verr(vp, "affinity: invalid CPU list at '%s'", gh_util_escape(bad, esc, sizeof(esc)));
		else
			parse_text(vp, key, value, vm->affinity, sizeof(vm->affinity));
	} else if (!strcmp(key, "sockets")) {
		parse_count(vp, key, value, &vm->sockets);
	} else if (!strcmp(key, "cores")) {
		parse_count(vp, key, value, &vm->cores);
	} else if (!strcmp(key, "vcpus")) {
		parse_count(vp, key, value, &vm->vcpus);
	} else if (!strcmp(key, "hookscript")) {
		parse_text(vp, key, value, vm->hookscript, sizeof(vm->hookscript));
	} else if (!strcmp(key, "lock")) {
		parse_text(vp, key, value, vm->lock, sizeof(vm->lock));
	} else if (!strcmp(key, "name")) {
		parse_text(vp, key, value, vm->name, sizeof(vm->name));
	} else if (!strcmp(key, "template")) {
		int b = gh_propstr_bool(value);

		if (b < 0)
			verr(vp, "template: expected a boolean, not '%s'", gh_util_escape(value, esc, sizeof(esc)));
		else
			vm->template_ = b;
	}
}

int gh_vmconf_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_vmconf *out)
{
	struct vparse vp = { ctx, name, 0, 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	memset(out, 0, sizeof(*out));
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *l;

		vp.line++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((size_t)len != strlen(line)) {
			verr(&vp, "NUL byte in line");
			continue;
		}
		if (len > LINE_MAX_LEN) {
			verr(&vp, "line too long (%zd bytes)", len);
			continue;
		}
		l = gh_util_trim(line);
		if (!*l || l[0] == '#')
			continue;
		/* The live config ends where the first [PENDING], [special:...] or snapshot section starts. */
		if (l[0] == '[')
			break;
		parse_line(&vp, out, l);
	}
	free(line);
	if (ferror(f)) {
		gh_err(ctx, "%s: read error", name);
		return -EIO;
	}
	return vp.errors ? -EINVAL : 0;
}

int gh_vmconf_load(struct gh_ctx *ctx, unsigned vmid, struct gh_vmconf *out)
{
	char name[PATH_MAX];
	FILE *f;
	int r;

	memset(out, 0, sizeof(*out));
	if (ctx->migrated_from[0])
		r = gh_util_format(name, sizeof(name), "/etc/pve/nodes/%s/qemu-server/%u.conf", ctx->migrated_from, vmid);
	else
		r = gh_util_format(name, sizeof(name), "/etc/pve/qemu-server/%u.conf", vmid);
	if (r < 0)
		return r;
	f = gh_fs_fopen(ctx, "%s", name);
	if (!f) {
		r = -errno;
		if (r == -ENOENT)
			gh_err(ctx, "no VM %u: %s: %s", vmid, name, strerror(-r));
		else
			gh_err(ctx, "%s: %s", name, strerror(-r));
		return r;
	}
	r = gh_vmconf_parse(ctx, f, name, out);
	fclose(f);
	out->vmid = vmid;
	return r;
}

unsigned gh_vmconf_vcpus(const struct gh_vmconf *vm)
{
	unsigned max = (vm->sockets ? vm->sockets : 1) * (vm->cores ? vm->cores : 1);

	return vm->vcpus ? vm->vcpus : max;
}

int gh_vmconf_parse_vmid(const char *s, unsigned *vmid)
{
	unsigned long v;

	if (!s || !*s || strspn(s, "0123456789") != strlen(s) || s[0] == '0')
		return -EINVAL;
	if (gh_util_parse_ulong(s, 10, 999999999, &v) < 0 || v < 100)
		return -EINVAL;
	*vmid = (unsigned)v;
	return 0;
}
