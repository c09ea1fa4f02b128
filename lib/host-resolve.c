/* SPDX-License-Identifier: MIT */
/* hostpci entries as qemu-server resolves them: ids, mappings, the choice among a pool's alternatives. */
#include "host-impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "journal.h"
#include "mapping.h"
#include "vms.h"

/* The functions PVE's lspci lists for one id: the function, or every function of a slot. */
static int id_functions(struct gh_ctx *ctx, const struct gh_pciid *id, struct gh_strv *out)
{
	char addr[GH_PCI_ADDR_LEN];
	int r;

	if (id->domain >= GH_PCIID_NODEV)
		return 0;
	if (id->func < 0)
		return gh_pci_slot_functions(ctx, id, out);
	gh_pciid_format(id, addr);
	r = gh_fs_exists(ctx, "/sys/bus/pci/devices/%s", addr);
	return r > 0 ? gh_strv_add(out, addr) : r;
}

/* qemu-server's words (PCI.pm parse_hostpci) for an id that names nothing. */
static int no_device(struct gh_host *h, const char *what, const struct gh_pciid *id)
{
	char addr[GH_PCI_ADDR_LEN];

	gh_pciid_format(id, addr);
	if (id->domain >= GH_PCIID_NODEV)
		return gh_refusal_add(&h->refusals, GH_REFUSAL_DEVICE, "%s: no PCI device found for an id whose domain "
				      "has more than four digits (sysfs names have four; gpu-hook does not handle "
				      "domains above ffff)", what);
	return gh_refusal_add(&h->refusals, GH_REFUSAL_DEVICE, "%s: no PCI device found for '%s'", what, addr);
}

int gh_host_resolve_id(struct gh_ctx *ctx, struct gh_host *h, const struct gh_pciid *id, int hostpci,
		       const char *what)
{
	struct gh_strv fns = { 0 };
	int r;

	r = id_functions(ctx, id, &fns);
	if (r >= 0 && !fns.n)
		r = no_device(h, what, id);
	for (size_t i = 0; i < fns.n && r >= 0; i++)
		r = gh_host_add_func(ctx, h, fns.v[i], hostpci, false);
	gh_strv_free(&fns);
	return r;
}

/* PVE::Mapping::PCI assert_valid: ids on every path, the IOMMU group on the first. */
static bool map_entry_matches(struct gh_ctx *ctx, const struct gh_map_entry *e, char *why, size_t why_size)
{
	for (unsigned i = 0; i < e->n_paths; i++) {
		struct gh_pciid first = e->paths[i];
		struct gh_pci_dev dev = { 0 };
		char addr[GH_PCI_ADDR_LEN];
		bool ok = true;

		/* A whole-device path is checked on its function 0, as PVE does. */
		if (first.func < 0)
			first.func = 0;
		gh_pciid_format(&first, addr);
		if (!addr[0] || gh_pci_read(ctx, addr, &dev) < 0) {
			snprintf(why, why_size, "pci device '%s' not found", addr[0] ? addr : "(domain above ffff)");
			return false;
		}
		if (dev.vendor != e->vendor || dev.device != e->device) {
			snprintf(why, why_size, "%s is %04x:%04x, the mapping says %04x:%04x", addr, dev.vendor,
				 dev.device, e->vendor, e->device);
			ok = false;
		} else if (e->has_subsystem && (dev.sub_vendor != e->sub_vendor || dev.sub_device != e->sub_device)) {
			snprintf(why, why_size, "%s has subsystem %04x:%04x, the mapping says %04x:%04x", addr,
				 dev.sub_vendor, dev.sub_device, e->sub_vendor, e->sub_device);
			ok = false;
		} else if (i == 0 && e->iommugroup >= 0 && dev.iommu_group != e->iommugroup) {
			snprintf(why, why_size, "%s is in IOMMU group %d, the mapping says %d", addr,
				 dev.iommu_group, e->iommugroup);
			ok = false;
		}
		gh_pci_dev_free(&dev);
		if (!ok)
			return false;
	}
	return true;
}

/* One alternative of a hostpciN entry: the functions PVE's lspci lists for its ids. */
struct alt {
	int line;			/* pci.cfg line of a mapping entry, 0 for host= */
	struct gh_strv fns;
};

/* What choosing among alternatives needs across hostpci0..15. */
struct picker {
	struct gh_mapping_file mf;
	bool mf_loaded;
	struct gh_strv used;		/* functions an earlier hostpciN took */
};

static void alts_free(struct alt *alts, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		gh_strv_free(&alts[i].fns);
	free(alts);
}

static int push_alt(struct alt **alts, unsigned *n, int line)
{
	struct alt *v = gh_util_grow(*alts, *n, sizeof(*v));

	if (!v)
		return -ENOMEM;
	*alts = v;
	memset(&v[*n], 0, sizeof(v[*n]));
	v[*n].line = line;
	(*n)++;
	return 0;
}

/* The functions an alternative's ids name; false (a refusal noted) when one names nothing. */
static int expand_alt(struct gh_ctx *ctx, struct gh_host *h, const char *what, const struct gh_pciid *ids,
		      unsigned n_ids, struct alt *a, bool *ok)
{
	int r = 0;

	for (unsigned i = 0; i < n_ids && r >= 0 && *ok; i++) {
		size_t before = a->fns.n;

		r = id_functions(ctx, &ids[i], &a->fns);
		if (r >= 0 && a->fns.n == before) {
			*ok = false;
			r = no_device(h, what, &ids[i]);
		}
	}
	return r;
}

static int read_hostname(struct gh_ctx *ctx, char *buf, size_t size)
{
	char *raw, *dot, *name;
	size_t len;
	int r;

	/*
	 * Read only for a mapping (a VM without one never fails on it), and
	 * followed if a link: the name only picks mapping entries, trusts
	 * nothing, and the file read is still a regular one of at most 255 bytes.
	 */
	r = gh_fs_read_input(ctx, GH_FS_FOLLOW, 255, &raw, &len, NULL, "/etc/hostname");
	if (r == -ENOENT)
		gh_err(ctx, "/etc/hostname: %s", strerror(-r));
	if (r < 0)
		return r;
	name = gh_util_trim(raw);
	dot = strchr(name, '.');
	if (dot)
		*dot = '\0';
	if (!*name || gh_util_copy(buf, size, name) < 0) {
		char esc[128];

		gh_err(ctx, "/etc/hostname: invalid hostname \"%s\"", gh_util_escape(name, esc, sizeof(esc)));
		r = -EINVAL;
	}
	free(raw);
	return r;
}

/* The alternatives of a mapping entry: one per entry of the mapping on this node, all checked against the hardware. */
static int mapping_alternatives(struct gh_ctx *ctx, struct gh_host *h, struct picker *pk, const char *what,
				const struct gh_hostpci *hp, struct alt **alts, unsigned *n_alts, bool *ok)
{
	const struct gh_mapping *m;
	int r = 0;

	if (!h->hostname[0]) {
		r = read_hostname(ctx, h->hostname, sizeof(h->hostname));
		if (r < 0)
			return r;
	}
	if (!pk->mf_loaded) {
		r = gh_mapping_load(ctx, &pk->mf);
		if (r < 0 && r != -ENOENT)
			return r;
		r = 0;
		pk->mf_loaded = true;
	}
	m = gh_mapping_find(&pk->mf, hp->mapping);
	/* Only the mapping this VM uses can fail its start; another one's broken lines are not its business. */
	if (m && m->errors.n)
		return gh_mapping_report(ctx, &pk->mf, m->id);
	for (unsigned i = 0; m && i < m->n_maps && r >= 0 && *ok; i++) {
		const struct gh_map_entry *e = &m->maps[i];
		char why[256];

		if (strcmp(e->node, h->hostname))
			continue;
		/* Every entry for this node must match the hardware, not only the one picked. */
		if (map_entry_matches(ctx, e, why, sizeof(why))) {
			r = push_alt(alts, n_alts, e->line);
			continue;
		}
		r = gh_refusal_add(&h->refusals, GH_REFUSAL_CONFIG, "%s: PCI device mapping invalid (hardware probably "
				   "changed): mapping '%.64s' is invalid on node %s: /etc/pve/mapping/pci.cfg:%d: %s",
				   what, m->id, h->hostname, e->line, why);
		*ok = false;
	}
	if (r >= 0 && *ok && !*n_alts) {
		r = gh_refusal_add(&h->refusals, GH_REFUSAL_CONFIG, "%s: PCI device mapping not found for '%.64s': %s %s",
				   what, hp->mapping,
				   m ? "it has no entry for node" : "/etc/pve/mapping/pci.cfg does not define it for node",
				   h->hostname);
		*ok = false;
	}
	for (unsigned i = 0, k = 0; m && r >= 0 && *ok && i < m->n_maps; i++) {
		const struct gh_map_entry *e = &m->maps[i];

		if (!strcmp(e->node, h->hostname))
			r = expand_alt(ctx, h, what, e->paths, e->n_paths, &(*alts)[k++], ok);
	}
	return r;
}

/*
 * qemu-server's parse_hostpci for one entry: its alternatives (one for host=,
 * one per entry of a mapping on this node), or none with the refusal noted
 * where Proxmox would die.
 */
static int hostpci_alternatives(struct gh_ctx *ctx, struct gh_host *h, struct picker *pk, unsigned n,
				const struct gh_hostpci *hp, struct alt **alts, unsigned *n_alts)
{
	char what[32];
	bool ok = true;
	int r;

	*alts = NULL;
	*n_alts = 0;
	snprintf(what, sizeof(what), "hostpci%u", n);
	if (hp->mapping[0]) {
		r = mapping_alternatives(ctx, h, pk, what, hp, alts, n_alts, &ok);
	} else {
		r = push_alt(alts, n_alts, 0);
		if (r >= 0)
			r = expand_alt(ctx, h, what, hp->ids, hp->n_ids, &(*alts)[0], &ok);
	}
	for (unsigned i = 0; r >= 0 && ok && hp->mdev[0] && i < *n_alts; i++)
		if ((*alts)[i].fns.n > 1) {
			r = gh_refusal_add(&h->refusals, GH_REFUSAL_CONFIG,
					   "%s: cannot use mediated device with multifunction device", what);
			ok = false;
		}
	if (r < 0 || !ok) {
		alts_free(*alts, *n_alts);
		*alts = NULL;
		*n_alts = 0;
	}
	return r;
}

/* Why another VM holds fn (why set), 0 when free, -errno. */
static int held_elsewhere(const struct gh_host *h, const char *fn, char *why, size_t size)
{
	const struct gh_journal *j;
	unsigned owner = 0;
	char self[32];
	int r;

	r = gh_vms_owner_in(&h->vms, fn, &owner);
	if (r < 0)
		return r;
	if (r == 1) {
		snprintf(why, size, "%s is in use by running VM %u", fn, owner);
		return 1;
	}
	if (r == 2) {
		snprintf(why, size, "%s is reserved by VM %u, whose start is under way", fn, owner);
		return 1;
	}
	if (h->journals.error < 0)
		return h->journals.error;
	gh_host_self_key(h, self, sizeof(self));
	j = gh_journals_holding(&h->journals, fn, self);
	if (j) {
		snprintf(why, size, "%s is handed over by gpu-hook (/run/gpu-hook/%s.json)", fn, j->key);
		return 1;
	}
	return 0;
}

/*
 * qemu-server's choose_hostpci_devices for one entry: a lone alternative is
 * taken (a function an earlier entry took is an error); of several, the first
 * whose functions no earlier entry took and no other VM holds. -1 in *pick
 * (refusal noted) when none is free.
 */
static int choose(struct gh_host *h, struct picker *pk, unsigned n, const struct alt *alts, unsigned n_alts, int *pick)
{
	char whys[400] = "";
	size_t wl = 0;

	*pick = -1;
	if (n_alts == 1) {
		for (size_t i = 0; i < alts[0].fns.n; i++)
			if (gh_strv_contains(&pk->used, alts[0].fns.v[i])) {
				return gh_refusal_add(&h->refusals, GH_REFUSAL_CONFIG,
						      "hostpci%u: device '%s' assigned more than once", n, alts[0].fns.v[i]);
			}
		*pick = 0;
		return 0;
	}
	for (unsigned a = 0; a < n_alts && *pick < 0; a++) {
		char why[160] = "";
		int r = 0;

		for (size_t i = 0; i < alts[a].fns.n && !why[0] && r >= 0; i++) {
			if (gh_strv_contains(&pk->used, alts[a].fns.v[i]))
				snprintf(why, sizeof(why), "%s is taken by an earlier hostpci entry", alts[a].fns.v[i]);
			else
				r = held_elsewhere(h, alts[a].fns.v[i], why, sizeof(why));
		}
		if (r < 0)
			return r;
		if (!why[0])
			*pick = (int)a;
		else if (wl < sizeof(whys))
			wl += (size_t)snprintf(whys + wl, sizeof(whys) - wl, "%s%s", wl ? "; " : "", why);
	}
	if (*pick < 0)
		return gh_refusal_add(&h->refusals, GH_REFUSAL_OWNER, "could not find a free device for 'hostpci%u' (%s)",
				      n, whys);
	return 0;
}

static int resolve_hostpci(struct gh_ctx *ctx, struct gh_host *h, struct picker *pk, unsigned n,
			   const struct gh_hostpci *hp)
{
	struct alt *alts;
	unsigned n_alts;
	int pick, r;

	r = hostpci_alternatives(ctx, h, pk, n, hp, &alts, &n_alts);
	if (r < 0 || !n_alts)
		return r;
	/* PVE picks the mediated device's parent at creation time and marks nothing used. */
	if (hp->mdev[0]) {
		alts_free(alts, n_alts);
		return gh_host_note(h, "hostpci%u: mediated device (mdev=%s) left alone", n, hp->mdev);
	}
	r = choose(h, pk, n, alts, n_alts, &pick);
	for (size_t i = 0; r >= 0 && pick >= 0 && i < alts[pick].fns.n; i++)
		r = gh_strv_add(&pk->used, alts[pick].fns.v[i]);
	if (r < 0 || pick < 0)
		goto out;
	if (hp->keep) {
		r = gh_host_note(h, "hostpci%u: driver=keep, left alone", n);
		goto out;
	}
	for (size_t i = 0; i < alts[pick].fns.n && r >= 0; i++)
		r = gh_host_add_func(ctx, h, alts[pick].fns.v[i], (int)n, false);
	if (r >= 0 && hp->mapping[0])
		r = gh_host_note(h, "hostpci%u: mapping '%.64s' resolved for node %s to /etc/pve/mapping/pci.cfg line %d%s",
				 n, hp->mapping, h->hostname, alts[pick].line,
				 n_alts > 1 ? " (the first free alternative)" : "");
out:
	alts_free(alts, n_alts);
	return r;
}

int gh_host_resolve_devices(struct gh_ctx *ctx, struct gh_host *h)
{
	struct picker pk = { 0 };
	int r = 0;

	if (h->pol.n_devices) {
		for (unsigned i = 0; i < h->pol.n_devices && r >= 0; i++)
			r = gh_host_resolve_id(ctx, h, &h->pol.devices[i], -1, "policy device");
		return r;
	}
	for (unsigned n = 0; n < GH_HOSTPCI_MAX && r >= 0; n++)
		if (h->vm.hostpci[n].present)
			r = resolve_hostpci(ctx, h, &pk, n, &h->vm.hostpci[n]);
	gh_mapping_free(&pk.mf);
	gh_strv_free(&pk.used);
	return r;
}

