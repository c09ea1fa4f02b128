/* SPDX-License-Identifier: MIT */
#include "vmconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cpulist.h"
#include "fs.h"
#include "propstr.h"
#include "text.h"
#include "util.h"

/* pmxcfs keeps files far smaller; a longer line is not a config line. */
#define GH_VMCONF_LINE_MAX ((ssize_t)64 * 1024)
#define GH_VMCONF_COUNT_MAX 4096

struct vparse {
	struct gh_text t;
	unsigned field;		/* of the line being parsed */
	int field_line;		/* the line field was read from */
	struct gh_vmconf *vm;
};

struct hp_ctx {
	struct vparse *vp;
	const char *key;
	struct gh_hostpci *hp;
	bool host, bad;
};

static void host_fail(void *data, const char *msg)
{
	struct hp_ctx *h = data;

	gh_text_err(&h->vp->t, "%s: %s", h->key, msg);
	h->bad = true;
}

static int hostpci_prop(void *data, const char *key, const char *value)
{
	/* Options that matter to QEMU only. */
	static const char *const ignored[] = { "rombar", "romfile", "legacy-igd" };
	/* IDs shown to the guest, "0x" and four hex digits (PCI.pm: ^0x[0-9a-fA-F]{4}$). */
	static const char *const guest_ids[] = { "vendor-id", "device-id", "sub-vendor-id", "sub-device-id" };
	struct hp_ctx *h = data;
	struct vparse *vp = h->vp;
	char esc[96];

	if (!strcmp(key, "host")) {
		h->host = true;
		gh_propstr_pci_ids(value, false, "PCI id", h->hp->ids, GH_HOSTPCI_IDS_MAX, &h->hp->n_ids, host_fail,
				   h);
	} else if (!strcmp(key, "mapping")) {
		if (!gh_propstr_configid(value, sizeof(h->hp->mapping)) ||
		    gh_util_copy(h->hp->mapping, sizeof(h->hp->mapping), value) < 0) {
			gh_text_err(&vp->t, "%s: invalid mapping id '%s' (a letter, then letters, digits, '_' or '-')",
				    h->key, gh_util_escape(value, esc, sizeof(esc)));
			h->bad = true;
		}
	} else if (!strcmp(key, "mdev")) {
		/* qemu-server's pattern for mdev types: [^/\.:]+ */
		if (strpbrk(value, "/.:") || gh_util_copy(h->hp->mdev, sizeof(h->hp->mdev), value) < 0) {
			gh_text_err(&vp->t, "%s: invalid mdev type '%s'", h->key,
				    gh_util_escape(value, esc, sizeof(esc)));
			h->bad = true;
		}
	} else if (!strcmp(key, "driver")) {
		if (!strcmp(value, "keep")) {
			h->hp->keep = true;
		} else if (strcmp(value, "vfio")) {
			gh_text_err(&vp->t, "%s: driver must be 'vfio' or 'keep', not '%s'", h->key,
				    gh_util_escape(value, esc, sizeof(esc)));
			h->bad = true;
		}
	} else if (!strcmp(key, "pcie") || !strcmp(key, "x-vga")) {
		int b = gh_propstr_bool(value);

		if (b < 0) {
			gh_text_err(&vp->t, "%s: %s must be a boolean (0/1, on/off, yes/no, true/false), not '%s'",
				    h->key, key, gh_util_escape(value, esc, sizeof(esc)));
			h->bad = true;
		} else if (!strcmp(key, "pcie")) {
			h->hp->pcie = b;
		} else {
			h->hp->xvga = b;
		}
	} else {
		for (size_t i = 0; i < GH_ARRAY_SIZE(guest_ids); i++) {
			if (strcmp(key, guest_ids[i]))
				continue;
			if (strlen(value) != 6 || strncmp(value, "0x", 2) ||
			    strspn(value + 2, "0123456789abcdefABCDEF") != 4) {
				gh_text_err(&vp->t, "%s: %s must be 0x and four hex digits (0x10de), not '%s'", h->key,
					    key, gh_util_escape(value, esc, sizeof(esc)));
				h->bad = true;
			}
			return 0;
		}
		for (size_t i = 0; i < GH_ARRAY_SIZE(ignored); i++)
			if (!strcmp(key, ignored[i]))
				return 0;
		gh_text_err(&vp->t, "%s: unknown property '%s'", h->key, gh_util_escape(key, esc, sizeof(esc)));
		h->bad = true;
	}
	return 0;
}

static void parse_hostpci(struct vparse *vp, struct gh_vmconf *vm, const char *key, const char *value)
{
	struct gh_hostpci hp = { 0 };
	struct hp_ctx h = { vp, key, &hp, false, false };
	const char *num = key + 7;
	char why[256], esc[96];
	unsigned long n;
	int r;

	/* The key syntax leaves only digits here; "hostpci01" is not PVE's either. */
	if ((num[0] == '0' && num[1]) || gh_util_parse_ulong(num, 10, GH_HOSTPCI_MAX - 1, &n) < 0) {
		gh_text_err(&vp->t, "%s: Proxmox allows hostpci0 to hostpci%d", key, GH_HOSTPCI_MAX - 1);
		return;
	}
	if (!*value) {
		gh_text_err(&vp->t, "%s: no value", key);
		return;
	}
	if (vm->hostpci[n].present) {
		gh_text_err(&vp->t, "%s given twice (first on line %d)", key, vm->hostpci[n].line);
		return;
	}
	r = gh_propstr_parse_why(value, "host", hostpci_prop, &h, why, sizeof(why));
	if (r == -ENOMEM) {
		gh_text_err(&vp->t, "%s: out of memory", key);
		return;
	}
	if (r < 0) {
		gh_text_err(&vp->t, "%s: cannot parse '%s': %s", key, gh_util_escape(value, esc, sizeof(esc)), why);
		return;
	}
	if (h.bad)
		return;
	if (h.host && hp.mapping[0]) {
		gh_text_err(&vp->t, "%s: host= and mapping= exclude each other", key);
		return;
	}
	if (!h.host && !hp.mapping[0]) {
		gh_text_err(&vp->t, "%s: needs PCI ids (host=) or a mapping (mapping=)", key);
		return;
	}
	hp.present = true;
	hp.line = vp->t.line;
	vm->hostpci[n] = hp;
}

static void parse_count(struct vparse *vp, const char *key, const char *value, unsigned *out)
{
	unsigned long v;
	char esc[96];

	if (gh_util_parse_ulong(value, 10, GH_VMCONF_COUNT_MAX, &v) < 0 || v == 0) {
		gh_text_err(&vp->t, "%s: expected a number from 1 to %d, not '%s'", key, GH_VMCONF_COUNT_MAX,
			    gh_util_escape(value, esc, sizeof(esc)));
		return;
	}
	*out = (unsigned)v;
}

static void parse_text(struct vparse *vp, const char *key, const char *value, char *out, size_t size)
{
	if (gh_util_copy(out, size, value) < 0)
		gh_text_err(&vp->t, "%s: value longer than %zu bytes", key, size - 1);
}

/* [a-z][a-z_-]*\d* */
static bool valid_key(const char *k, size_t len)
{
	size_t i = 1;

	if (!len || k[0] < 'a' || k[0] > 'z')
		return false;
	while (i < len && ((k[i] >= 'a' && k[i] <= 'z') || k[i] == '_' || k[i] == '-'))
		i++;
	while (i < len && k[i] >= '0' && k[i] <= '9')
		i++;
	return i == len;
}

static bool is_hostpci_key(const char *k)
{
	return !strncmp(k, "hostpci", 7) && k[7] >= '0' && k[7] <= '9';
}

/* The field a line belongs to, from its key; a line without one could be any. */
static unsigned line_field(const char *line)
{
	static const struct {
		const char *key;
		unsigned field;
	} fields[] = {
		{ "affinity", GH_VMCONF_AFFINITY }, { "sockets", GH_VMCONF_VCPUS },	   { "cores", GH_VMCONF_VCPUS },
		{ "vcpus", GH_VMCONF_VCPUS },	    { "hookscript", GH_VMCONF_HOOKSCRIPT },
	};
	size_t klen = strcspn(line, ":");

	if (line[0] == '#')
		return GH_VMCONF_OTHER;
	if (!line[klen] || !valid_key(line, klen))
		return GH_VMCONF_ALL;
	if (klen > 7 && is_hostpci_key(line))
		return GH_VMCONF_HOSTPCI;
	for (size_t i = 0; i < GH_ARRAY_SIZE(fields); i++)
		if (strlen(fields[i].key) == klen && !strncmp(line, fields[i].key, klen))
			return fields[i].field;
	return GH_VMCONF_OTHER;
}

/* The parser's sink: each problem kept with the field of its line, for gh_vmconf_report. */
static void keep(struct gh_text *t, const char *msg)
{
	struct vparse *vp = t->data;
	struct gh_vmconf *vm = vp->vm;
	struct gh_vmconf_problem *pr;

	/* A line the reader passes over never reaches the loop: its field is read from the reader's buffer. */
	if (vp->field_line != t->line) {
		vp->field = line_field(t->buf);
		vp->field_line = t->line;
	}
	if (vm->n_problems == GH_VMCONF_PROBLEMS_MAX) {
		vm->n_lost++;
		vm->lost_fields |= vp->field;
		return;
	}
	pr = &vm->problems[vm->n_problems++];
	pr->field = vp->field;
	/* A message cut short still names the file, the line and the field. */
	if (snprintf(pr->msg, sizeof(pr->msg), "%s", msg) >= (int)sizeof(pr->msg))
		pr->msg[sizeof(pr->msg) - 1] = '\0';
}

static void parse_line(struct vparse *vp, struct gh_vmconf *vm, char *line)
{
	size_t klen = strcspn(line, ":");
	char *key = line, *value, esc[96];

	if (!line[klen] || !valid_key(line, klen)) {
		gh_text_err(&vp->t, "cannot parse line '%s' (expected \"key: value\")", gh_util_escape(line, esc, 64));
		return;
	}
	key[klen] = '\0';
	value = gh_util_trim(line + klen + 1);
	if (is_hostpci_key(key)) {
		parse_hostpci(vp, vm, key, value);
	} else if (!strcmp(key, "affinity")) {
		const char *bad = value;
		char esc2[96];
		cpu_set_t set;

		if (gh_cpulist_parse(value, &set, &bad) < 0)
			gh_text_err(&vp->t, "affinity: invalid CPU list '%s' (at '%s')",
				    gh_util_escape(value, esc, sizeof(esc)), gh_util_escape(bad, esc2, sizeof(esc2)));
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
			gh_text_err(&vp->t, "template: expected a boolean, not '%s'",
				    gh_util_escape(value, esc, sizeof(esc)));
		else
			vm->template_ = b;
	}
	/* Every other key (PVE has hundreds) is QEMU's business. */
}

int gh_vmconf_read(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_vmconf *out)
{
	struct vparse vp = { .t = { .ctx = ctx, .f = f, .name = name, .max = GH_VMCONF_LINE_MAX, .sink = keep },
			     .vm = out };
	char *line;
	size_t len;

	vp.t.data = &vp;
	memset(out, 0, sizeof(*out));
	while (gh_text_next(&vp.t, &line, &len) > 0) {
		vp.field = line_field(line);
		vp.field_line = vp.t.line;
		if (!*gh_util_trim(line))
			continue;
		/* The description, percent-encoded by PVE. */
		if (line[0] == '#')
			continue;
		/* The live config ends where [PENDING], [special:...] or the first snapshot starts. */
		if (line[0] == '[')
			break;
		parse_line(&vp, out, line);
	}
	gh_text_done(&vp.t);
	if (ferror(f)) {
		gh_err(ctx, "%s: read error", name);
		return -EIO;
	}
	return 0;
}

int gh_vmconf_report(struct gh_ctx *ctx, const struct gh_vmconf *vm, unsigned uses)
{
	bool failed = false;

	for (unsigned i = 0; i < vm->n_problems; i++) {
		const struct gh_vmconf_problem *pr = &vm->problems[i];

		if (pr->field & uses) {
			gh_err(ctx, "%s", pr->msg);
			failed = true;
		} else {
			gh_warn(ctx, "%s (a field this command does not read: ignoring it)", pr->msg);
		}
	}
	if (vm->n_lost && (vm->lost_fields & uses)) {
		gh_err(ctx, "and %u more problems in the VM config", vm->n_lost);
		failed = true;
	} else if (vm->n_lost) {
		gh_warn(ctx, "and %u more problems in fields of the VM config this command does not read: ignoring "
			     "them", vm->n_lost);
	}
	return failed ? -EINVAL : 0;
}

int gh_vmconf_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_vmconf *out)
{
	int r = gh_vmconf_read(ctx, f, name, out);

	return r < 0 ? r : gh_vmconf_report(ctx, out, GH_VMCONF_ALL);
}

int gh_vmconf_open(struct gh_ctx *ctx, unsigned vmid, struct gh_vmconf *out)
{
	char name[PATH_MAX];
	FILE *f;
	int r;

	/*
	 * During a migration the config still sits in the source node's folder.
	 * Not followed at the last component: pmxcfs has no links but its fixed
	 * directory ones (/etc/pve/qemu-server -> nodes/<node>/qemu-server), so
	 * a link to a config is not Proxmox's; a FIFO or device is refused.
	 */
	if (gh_ctx_migrated_from(ctx)[0]) {
		r = gh_util_format(name, sizeof(name), "/etc/pve/nodes/%s/qemu-server/%u.conf", gh_ctx_migrated_from(ctx),
				   vmid);
		f = r < 0 ? NULL
			  : gh_fs_fopen_input(ctx, 0, GH_FS_CONF_MAX, NULL, "/etc/pve/nodes/%s/qemu-server/%u.conf",
					      gh_ctx_migrated_from(ctx), vmid);
	} else {
		r = gh_util_format(name, sizeof(name), "/etc/pve/qemu-server/%u.conf", vmid);
		f = r < 0 ? NULL : gh_fs_fopen_input(ctx, 0, GH_FS_CONF_MAX, NULL, "/etc/pve/qemu-server/%u.conf", vmid);
	}
	if (r < 0 || !f)
		/* Else gh_vmconf_read clears it: it is 14 KB. */
		memset(out, 0, sizeof(*out));
	if (r < 0) {
		gh_err(ctx, "VM %u: config path too long", vmid);
		return r;
	}
	if (!f) {
		r = -errno;
		if (r == -ENOENT)
			gh_err(ctx, "no VM %u: %s: %s", vmid, name, strerror(-r));
		return r;
	}
	r = gh_vmconf_read(ctx, f, name, out);
	fclose(f);
	out->vmid = vmid;
	return r;
}

int gh_vmconf_load(struct gh_ctx *ctx, unsigned vmid, struct gh_vmconf *out)
{
	int r = gh_vmconf_open(ctx, vmid, out);

	return r < 0 ? r : gh_vmconf_report(ctx, out, GH_VMCONF_ALL);
}

unsigned gh_vmconf_vcpus(const struct gh_vmconf *vm)
{
	if (vm->vcpus)
		return vm->vcpus;
	return (vm->sockets ? vm->sockets : 1) * (vm->cores ? vm->cores : 1);
}

int gh_vmconf_parse_vmid(const char *s, unsigned *vmid)
{
	unsigned long v;

	/* PVE's pve-vmid: [1-9][0-9]{2,8}. */
	if (!s || s[0] < '1' || s[0] > '9' || strspn(s, "0123456789") != strlen(s))
		return -EINVAL;
	if (gh_util_parse_ulong(s, 10, 999999999, &v) < 0 || v < 100)
		return -EINVAL;
	*vmid = (unsigned)v;
	return 0;
}
