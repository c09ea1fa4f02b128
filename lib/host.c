/* SPDX-License-Identifier: MIT */
#include "host.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "journal.h"
#include "mapping.h"
#include "services.h"
#include "vms.h"

#define NOTE(sv, ...)                                                   \
	do {                                                            \
		char note_[512];                                        \
		if (gh_util_format(note_, sizeof(note_), __VA_ARGS__) < 0) \
			return -ENAMETOOLONG;                           \
		if (gh_strv_push((sv), note_) < 0)                      \
			return -ENOMEM;                                 \
	} while (0)

static bool is_stub_driver(const char *drv)
{
	return !strcmp(drv, "vfio-pci") || !strcmp(drv, "pci-stub");
}

static int read_hostname(struct gh_ctx *ctx, char *buf, size_t size)
{
	char *raw, *dot, *name;
	size_t len;
	int r;

	/*
	 * Followed if a link: the name only picks mapping entries, trusts
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

static int add_func(struct gh_ctx *ctx, struct gh_host *h, const char *addr, int hostpci, bool added)
{
	struct gh_func *f;
	int r;

	if (gh_host_func(h, addr))
		return 0;
	f = gh_util_grow(h->f, h->n_f, sizeof(*f));
	if (!f)
		return -ENOMEM;
	h->f = f;
	f = &h->f[h->n_f];
	memset(f, 0, sizeof(*f));
	r = gh_pci_read(ctx, addr, &f->dev);
	if (r == -ENOENT) {
		NOTE(&h->refusals, "device missing: %s is not in /sys/bus/pci/devices", addr);
		return 0;
	}
	if (r < 0)
		return r;
	f->hostpci = hostpci;
	f->added = added;
	h->n_f++;
	return 0;
}

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
		NOTE(&h->refusals, "%s: no PCI device found for an id whose domain has more than four digits "
		     "(sysfs names have four; gpu-hook does not handle domains above ffff)", what);
	else
		NOTE(&h->refusals, "%s: no PCI device found for '%s'", what, addr);
	return 0;
}

/* A slot id expands to the functions present, as PVE globs sysfs. */
static int add_id(struct gh_ctx *ctx, struct gh_host *h, const struct gh_pciid *id, int hostpci,
		  const char *what)
{
	struct gh_strv fns = { 0 };
	int r;

	r = id_functions(ctx, id, &fns);
	if (r >= 0 && !fns.n)
		r = no_device(h, what, id);
	for (size_t i = 0; i < fns.n && r >= 0; i++)
		r = add_func(ctx, h, fns.v[i], hostpci, false);
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
	struct gh_strv journaled;	/* "<addr> <key>" from other handoffs' journals */
	bool journals_loaded;
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

/*
 * qemu-server's parse_hostpci for one entry: its alternatives (one for host=,
 * one per entry of a mapping on this node), or none with the refusal noted
 * where Proxmox would die.
 */
static int hostpci_alternatives(struct gh_ctx *ctx, struct gh_host *h, struct picker *pk, unsigned n,
				const struct gh_hostpci *hp, struct alt **alts, unsigned *n_alts)
{
	const struct gh_mapping *m = NULL;
	char what[32];
	bool ok = true;
	int r = 0;

	*alts = NULL;
	*n_alts = 0;
	snprintf(what, sizeof(what), "hostpci%u", n);
	if (!hp->mapping[0]) {
		r = push_alt(alts, n_alts, 0);
		if (r >= 0)
			r = expand_alt(ctx, h, what, hp->ids, hp->n_ids, &(*alts)[0], &ok);
		goto out;
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
	for (unsigned i = 0; m && i < m->n_maps; i++) {
		const struct gh_map_entry *e = &m->maps[i];
		char why[256];

		if (strcmp(e->node, h->hostname))
			continue;
		/* Every entry for this node must match the hardware, not only the one picked. */
		if (!map_entry_matches(ctx, e, why, sizeof(why))) {
			NOTE(&h->refusals, "%s: PCI device mapping invalid (hardware probably changed): mapping '%.64s' "
			     "is invalid on node %s: /etc/pve/mapping/pci.cfg:%d: %s", what, m->id, h->hostname, e->line,
			     why);
			ok = false;
			break;
		}
		r = push_alt(alts, n_alts, e->line);
		if (r < 0)
			break;
	}
	if (r >= 0 && ok && !*n_alts) {
		NOTE(&h->refusals, "%s: PCI device mapping not found for '%.64s': %s %s", what, hp->mapping,
		     m ? "it has no entry for node" : "/etc/pve/mapping/pci.cfg does not define it for node",
		     h->hostname);
		ok = false;
	}
	for (unsigned i = 0, k = 0; m && r >= 0 && ok && i < m->n_maps; i++) {
		const struct gh_map_entry *e = &m->maps[i];

		if (!strcmp(e->node, h->hostname))
			r = expand_alt(ctx, h, what, e->paths, e->n_paths, &(*alts)[k++], &ok);
	}
out:
	if (r >= 0 && ok && hp->mdev[0]) {
		for (unsigned i = 0; i < *n_alts && ok; i++)
			if ((*alts)[i].fns.n > 1) {
				NOTE(&h->refusals, "%s: cannot use mediated device with multifunction device", what);
				ok = false;
			}
	}
	if (r < 0 || !ok) {
		alts_free(*alts, *n_alts);
		*alts = NULL;
		*n_alts = 0;
	}
	return r;
}

/* The other handoffs gpu-hook has journaled: a VM started, or a manual to-vfio. */
static int load_journaled(struct gh_ctx *ctx, const struct gh_host *h, struct picker *pk)
{
	struct gh_strv keys = { 0 };
	char self[32];
	int r;

	pk->journals_loaded = true;
	snprintf(self, sizeof(self), "%u", h->vmid);
	r = gh_journal_list(ctx, &keys);
	for (size_t k = 0; k < keys.n && r >= 0; k++) {
		struct gh_journal j;

		if (!strcmp(keys.v[k], self) || gh_journal_load(ctx, keys.v[k], &j) < 0)
			continue;
		for (unsigned i = 0; i < j.n_dev && r >= 0; i++) {
			char e[GH_PCI_ADDR_LEN + 40];

			snprintf(e, sizeof(e), "%s %s", j.dev[i].addr, keys.v[k]);
			r = gh_strv_add(&pk->journaled, e);
		}
		gh_journal_free(&j);
	}
	gh_strv_free(&keys);
	return r;
}

/* Why another VM holds fn (why set), 0 when free, -errno. */
static int held_elsewhere(struct gh_ctx *ctx, const struct gh_host *h, struct picker *pk, const char *fn,
			  char *why, size_t size)
{
	unsigned owner = 0;
	size_t len = strlen(fn);
	int r;

	r = gh_vms_owner(ctx, h->vmid, fn, &owner);
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
	if (!pk->journals_loaded) {
		r = load_journaled(ctx, h, pk);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < pk->journaled.n; i++)
		if (!strncmp(pk->journaled.v[i], fn, len) && pk->journaled.v[i][len] == ' ') {
			snprintf(why, size, "%s is handed over by gpu-hook (/run/gpu-hook/%s.json)", fn,
				 pk->journaled.v[i] + len + 1);
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
static int choose(struct gh_ctx *ctx, struct gh_host *h, struct picker *pk, unsigned n, const struct alt *alts,
		  unsigned n_alts, int *pick)
{
	char whys[400] = "";
	size_t wl = 0;

	*pick = -1;
	if (n_alts == 1) {
		for (size_t i = 0; i < alts[0].fns.n; i++)
			if (gh_strv_contains(&pk->used, alts[0].fns.v[i])) {
				NOTE(&h->refusals, "hostpci%u: device '%s' assigned more than once", n, alts[0].fns.v[i]);
				return 0;
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
				r = held_elsewhere(ctx, h, pk, alts[a].fns.v[i], why, sizeof(why));
		}
		if (r < 0)
			return r;
		if (!why[0])
			*pick = (int)a;
		else if (wl < sizeof(whys))
			wl += (size_t)snprintf(whys + wl, sizeof(whys) - wl, "%s%s", wl ? "; " : "", why);
	}
	if (*pick < 0)
		NOTE(&h->refusals, "could not find a free device for 'hostpci%u' (%s)", n, whys);
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
		NOTE(&h->notes, "hostpci%u: mediated device (mdev=%s) left alone", n, hp->mdev);
		return 0;
	}
	r = choose(ctx, h, pk, n, alts, n_alts, &pick);
	for (size_t i = 0; r >= 0 && pick >= 0 && i < alts[pick].fns.n; i++)
		r = gh_strv_add(&pk->used, alts[pick].fns.v[i]);
	if (r < 0 || pick < 0)
		goto out;
	if (hp->keep) {
		NOTE(&h->notes, "hostpci%u: driver=keep, left alone", n);
		goto out;
	}
	for (size_t i = 0; i < alts[pick].fns.n && r >= 0; i++)
		r = add_func(ctx, h, alts[pick].fns.v[i], (int)n, false);
	if (r >= 0 && hp->mapping[0])
		NOTE(&h->notes, "hostpci%u: mapping '%.64s' resolved for node %s to /etc/pve/mapping/pci.cfg line %d%s", n,
		     hp->mapping, h->hostname, alts[pick].line, n_alts > 1 ? " (the first free alternative)" : "");
out:
	alts_free(alts, n_alts);
	return r;
}

static int resolve_devices(struct gh_ctx *ctx, struct gh_host *h)
{
	struct picker pk = { 0 };
	int r = 0;

	if (h->pol.n_devices) {
		for (unsigned i = 0; i < h->pol.n_devices && r >= 0; i++)
			r = add_id(ctx, h, &h->pol.devices[i], -1, "policy device");
		return r;
	}
	for (unsigned n = 0; n < GH_HOSTPCI_MAX && r >= 0; n++)
		if (h->vm.hostpci[n].present)
			r = resolve_hostpci(ctx, h, &pk, n, &h->vm.hostpci[n]);
	gh_mapping_free(&pk.mf);
	gh_strv_free(&pk.used);
	gh_strv_free(&pk.journaled);
	return r;
}

/* The GPU function: display class, or whatever the nvidia driver has bound. */
static bool is_gpu(const struct gh_pci_dev *d)
{
	return gh_pci_is_display(d) || !strcmp(d->driver, "nvidia");
}

/*
 * SR-IOV: a virtual function (a physfn link) or a physical function with VFs
 * (virtfn* links, sriov_numvfs > 0). Their slot-mates are other VFs and the
 * PF, each its own device with its own user, never "the rest of the card".
 * Returns the number of VFs enabled on a PF, -1 for a VF, 0 otherwise.
 */
static int sriov_role(struct gh_ctx *ctx, const char *addr)
{
	struct gh_strv names = { 0 };
	unsigned long numvfs = 0;
	int n = 0;

	if (gh_fs_exists(ctx, "/sys/bus/pci/devices/%s/physfn", addr) > 0)
		return -1;
	if (gh_fs_read_ulong(ctx, &numvfs, "/sys/bus/pci/devices/%s/sriov_numvfs", addr) >= 0 && numvfs > 0)
		return numvfs > INT_MAX ? INT_MAX : (int)numvfs;
	if (gh_fs_list(ctx, &names, "/sys/bus/pci/devices/%s", addr) >= 0)
		for (size_t i = 0; i < names.n; i++)
			n += !strncmp(names.v[i], "virtfn", 6);
	gh_strv_free(&names);
	return n;
}

/*
 * A listed GPU function brings the rest of its card (audio, USB-C, UCSI):
 * the other functions of its slot from the same vendor, in the same IOMMU
 * group, and not SR-IOV functions.
 */
static int add_siblings(struct gh_ctx *ctx, struct gh_host *h)
{
	unsigned n = h->n_f;
	int r = 0;

	for (unsigned i = 0; i < n; i++) {
		int pf = sriov_role(ctx, h->f[i].dev.addr);

		if (pf > 0)
			gh_warn(ctx, "%s is an SR-IOV physical function with %d virtual function%s enabled: handing it "
				     "over takes them from whoever uses them", h->f[i].dev.addr, pf, pf == 1 ? "" : "s");
	}
	for (unsigned i = 0; i < n && r >= 0; i++) {
		struct gh_pciid slot;
		struct gh_strv fns = { 0 };
		unsigned vendor = h->f[i].dev.vendor;
		char group[16] = "";

		if (!is_gpu(&h->f[i].dev) || gh_pciid_parse(h->f[i].dev.addr, &slot) < 0)
			continue;
		if (h->f[i].dev.iommu_group >= 0)
			snprintf(group, sizeof(group), "%d", h->f[i].dev.iommu_group);
		slot.func = -1;
		r = gh_pci_slot_functions(ctx, &slot, &fns);
		for (size_t k = 0; k < fns.n && r >= 0; k++) {
			char grp[16] = "";
			unsigned long v;

			if (gh_host_func(h, fns.v[k]) ||
			    gh_fs_read_ulong(ctx, &v, "/sys/bus/pci/devices/%s/vendor", fns.v[k]) < 0 || v != vendor)
				continue;
			gh_fs_link_base(ctx, grp, sizeof(grp), "/sys/bus/pci/devices/%s/iommu_group", fns.v[k]);
			if (strcmp(grp, group))
				continue;
			if (sriov_role(ctx, fns.v[k])) {
				NOTE(&h->notes, "%s left alone: an SR-IOV function is never part of another's card", fns.v[k]);
				continue;
			}
			r = add_func(ctx, h, fns.v[k], -1, true);
			if (r >= 0)
				NOTE(&h->notes, "%s added: it is another function of the card at %s", fns.v[k],
				     h->f[i].dev.addr);
		}
		gh_strv_free(&fns);
	}
	return r;
}

/*
 * Services, consoles, modules and /dev/nvidia* are a GPU's: touched only when
 * a display function or an NVIDIA function is handed over, never for a NIC.
 */
/*
 * A display function, an NVIDIA function, or one that NVIDIA's driver drives
 * (or takes back): the 3D-controller class of a datacenter card and the test
 * world's stub GPU are not display class, and nvidia.ko binds what its id
 * table or a new_id names.
 */
static bool gpu_handoff(const struct gh_host *h)
{
	for (unsigned i = 0; i < h->n_f; i++) {
		const struct gh_func *f = &h->f[i];

		if (gh_pci_is_display(&f->dev) || f->dev.vendor == 0x10de || !strcmp(f->dev.driver, "nvidia") ||
		    !strcmp(f->host_driver, "nvidia"))
			return true;
	}
	return false;
}

static void pick_host_drivers(struct gh_ctx *ctx, struct gh_host *h)
{
	for (unsigned i = 0; i < h->n_f; i++) {
		struct gh_func *f = &h->f[i];
		const char *drv = gh_policy_driver_for(&h->pol, f->dev.addr);

		if (!drv && f->dev.driver[0] && !is_stub_driver(f->dev.driver))
			drv = f->dev.driver;
		if (!drv && f->dev.override[0] && !is_stub_driver(f->dev.override))
			drv = f->dev.override;
		/* Unbound now, it goes back unbound; on vfio-pci, the usual driver for its class. */
		if (!drv && is_stub_driver(f->dev.driver))
			drv = gh_pci_default_driver(&f->dev);
		if (drv && gh_util_copy(f->host_driver, sizeof(f->host_driver), drv) == 0)
			f->host_driver_present = gh_fs_exists(ctx, "/sys/bus/pci/drivers/%s", drv) > 0;
	}
}

static int check_groups(struct gh_ctx *ctx, struct gh_host *h)
{
	struct gh_strv seen = { 0 };
	int r = 0;

	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		struct gh_strv members = { 0 };
		char gname[16];

		if (h->f[i].dev.iommu_group < 0) {
			NOTE(&h->refusals, "%s has no IOMMU group: enable the IOMMU (intel_iommu=on, or AMD-Vi in "
			     "firmware) before passing it through", h->f[i].dev.addr);
			continue;
		}
		snprintf(gname, sizeof(gname), "%d", h->f[i].dev.iommu_group);
		if (gh_strv_contains(&seen, gname))
			continue;
		r = gh_strv_push(&seen, gname);
		if (r >= 0)
			r = gh_pci_group_members(ctx, h->f[i].dev.iommu_group, &members);
		for (size_t k = 0; k < members.n && r >= 0; k++) {
			struct gh_pci_dev m = { 0 };

			if (gh_host_func(h, members.v[k]))
				continue;
			r = gh_pci_read(ctx, members.v[k], &m);
			if (r == -ENOENT) {
				r = 0;
				continue;
			}
			if (r < 0)
				break;
			/*
			 * Proxmox binds every other non-bridge member to vfio-pci as well
			 * (SysFSTools.pm pci_dev_group_bind_to_vfio, with new_id), drivers or
			 * not. One without a driver is taken here, so that it is journaled
			 * and goes back unbound, its id out of vfio-pci's table; unless
			 * another VM holds it, whose to give back it is.
			 */
			if (!gh_pci_is_bridge(&m) && !m.driver[0]) {
				int group = h->f[i].dev.iommu_group;
				char with[GH_PCI_ADDR_LEN];
				unsigned owner = 0;

				memcpy(with, h->f[i].dev.addr, sizeof(with));
				r = gh_vms_owner(ctx, h->vmid, m.addr, &owner);
				if (r == 0)
					r = add_func(ctx, h, m.addr, -1, false);
				else if (r > 0)
					r = 0;
				if (r >= 0 && gh_host_func(h, m.addr))
					NOTE(&h->notes, "%s added: it shares IOMMU group %d with %s, and Proxmox binds the "
					     "whole group to vfio-pci", m.addr, group, with);
			} else if (!gh_pci_is_bridge(&m) && m.driver[0] && !is_stub_driver(m.driver)) {
				char msg[512];

				r = gh_util_format(msg, sizeof(msg),
						   "IOMMU group %d is not viable: %s (%04x:%04x, class 0x%06x) is bound "
						   "to %s and is not passed through",
						   h->f[i].dev.iommu_group, m.addr, m.vendor, m.device, m.class, m.driver);
				if (r >= 0)
					r = gh_strv_push(&h->refusals, msg);
			}
			gh_pci_dev_free(&m);
		}
		gh_strv_free(&members);
	}
	gh_strv_free(&seen);
	return r;
}

static int check_owners(struct gh_ctx *ctx, struct gh_host *h)
{
	for (unsigned i = 0; i < h->n_f; i++) {
		unsigned owner = 0;
		int r = gh_vms_owner(ctx, h->vmid, h->f[i].dev.addr, &owner);

		if (r < 0)
			return r;
		if (r == 1)
			NOTE(&h->refusals, "%s is in use by running VM %u", h->f[i].dev.addr, owner);
		else if (r == 2)
			NOTE(&h->refusals, "%s is reserved by VM %u, whose start is under way "
			     "(/run/qemu-server/pci-id-reservations)", h->f[i].dev.addr, owner);
	}
	return 0;
}

/*
 * A card another VM's handoff took from the same driver comes back to it at
 * that VM's post-stop: the driver must still be there then. So it counts as
 * another card of this host, and this handoff unbinds its own card rather
 * than unloading the stack (two VMs from one two-card pool, one stopped
 * before the other: found by tests/vm/scenarios/pool-dual.sh).
 */
static int others_coming_back(struct gh_ctx *ctx, struct gh_host *h)
{
	struct gh_strv keys = { 0 };
	char self[32];
	int r;

	/* The journal keys of lib/handoff.c: "<vmid>", or "manual" for to-vfio. */
	if (h->vmid)
		snprintf(self, sizeof(self), "%u", h->vmid);
	else
		snprintf(self, sizeof(self), "manual");
	r = gh_journal_list(ctx, &keys);
	for (size_t i = 0; i < keys.n && r >= 0; i++) {
		struct gh_journal j;

		if (!strcmp(keys.v[i], self) || gh_journal_load(ctx, keys.v[i], &j) < 0)
			continue;
		for (unsigned d = 0; d < j.n_dev && r >= 0; d++)
			if (!strcmp(j.dev[d].host_driver, h->gpu_driver) && !gh_host_func(h, j.dev[d].addr) &&
			    !gh_strv_contains(&h->others, j.dev[d].addr))
				r = gh_strv_push(&h->others, j.dev[d].addr);
		gh_journal_free(&j);
	}
	gh_strv_free(&keys);
	return r;
}

/*
 * A card leaving nvidia while nvidia-drm holds every card (modules.h): refused
 * before the first write, or, with modeset_hold = reload, nvidia-drm and what
 * is stacked on it unloaded around the unbind.
 */
static int load_modeset_hold(struct gh_ctx *ctx, struct gh_host *h)
{
	char why[512], msg[1024];
	bool leaves = false;
	int r;

	for (unsigned i = 0; i < h->n_f; i++)
		if (!strcmp(h->f[i].dev.driver, "nvidia"))
			leaves = true;
	if (!leaves)
		return 0;
	r = gh_modules_modeset_hold(ctx, &h->modeset);
	if (r < 0 || !h->modeset.holds)
		return r;
	if (gh_modules_modeset_describe(&h->modeset, why, sizeof(why)) < 0)
		return -ENAMETOOLONG;
	if (h->pol.modeset_hold == GH_MODESET_HOLD_RELOAD) {
		r = gh_modules_stack(ctx, "nvidia_modeset", &h->reload);
		if (r < 0 || h->reload.n)
			return r;
		NOTE(&h->refusals, GH_HOST_MODESET_REFUSAL "reload: nvidia_modeset is not loaded, so there is nothing to reload "
		     "to make nvidia-drm let go of the card (%s)", why);
		return 0;
	}
	if (gh_util_format(msg, sizeof(msg), GH_HOST_MODESET_REFUSAL "refuse: %s. Fix: %s", why, GH_MODESET_HOLD_FIX) < 0)
		return -ENAMETOOLONG;
	return gh_strv_push(&h->refusals, msg);
}

static int load_stack(struct gh_ctx *ctx, struct gh_host *h)
{
	struct gh_strv bound = { 0 };
	int r;

	for (unsigned i = 0; i < h->n_f; i++) {
		const struct gh_func *f = &h->f[i];

		if (is_gpu(&f->dev) && f->host_driver[0]) {
			gh_util_copy(h->gpu_driver, sizeof(h->gpu_driver), f->host_driver);
			break;
		}
	}
	h->single_gpu = true;
	if (!h->gpu_driver[0])
		return 0;
	r = gh_pci_driver_module(ctx, h->gpu_driver, h->gpu_module, sizeof(h->gpu_module));
	if (r == -ENOENT) {
		h->gpu_module[0] = '\0';
	} else if (r < 0) {
		return r;
	} else {
		r = gh_modules_stack(ctx, h->gpu_module, &h->stack);
		if (r < 0)
			return r;
	}
	r = gh_pci_driver_devices(ctx, h->gpu_driver, &bound);
	if (r < 0)
		return r;
	for (size_t k = 0; k < bound.n && r >= 0; k++)
		if (!gh_host_func(h, bound.v[k]))
			r = gh_strv_push(&h->others, bound.v[k]);
	gh_strv_free(&bound);
	if (r >= 0)
		r = others_coming_back(ctx, h);
	h->single_gpu = h->others.n == 0;
	if (r >= 0 && !h->single_gpu)
		r = load_modeset_hold(ctx, h);
	return r;
}

static int load_console(struct gh_ctx *ctx, struct gh_host *h)
{
	const struct gh_vtcon *vts[16];
	bool boot_vga = false;
	unsigned n;
	int r;

	r = gh_console_read(ctx, &h->con);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < h->n_f; i++) {
		if (gh_console_fb_on(&h->con, h->f[i].dev.addr))
			h->console_on_card = true;
		if (h->f[i].dev.boot_vga == 1)
			boot_vga = true;
	}
	/* The firmware framebuffer lives in the boot VGA card's BAR. */
	if (boot_vga) {
		for (unsigned i = 0; i < h->con.n_fw; i++) {
			if (!h->con.fw[i].driver[0])
				continue;
			h->console_on_card = true;
			r = gh_strv_push(&h->fwfbs, h->con.fw[i].id);
			if (r < 0)
				return r;
		}
	}
	if (!h->console_on_card || h->pol.console == GH_CONSOLE_KEEP)
		return 0;
	n = gh_console_bound_fbcons(&h->con, vts, GH_ARRAY_SIZE(vts));
	for (unsigned i = 0; i < n; i++) {
		r = gh_strv_push(&h->vtcons, vts[i]->id);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Every node through which a process can hold a function being handed over:
 * whatever the kernel registered under each function (DRM, sound, the USB
 * devices of the card's xHCI, the UCSI i2c adapter, hidraw, input, fbN), the
 * NVIDIA nodes, which the real driver makes without sysfs entries, and the
 * VFIO group nodes.
 */
static int build_nodes(struct gh_ctx *ctx, struct gh_host *h)
{
	struct gh_holder_nodes *nodes = &h->nodes;
	char p[PATH_MAX];
	int r = 0;

	/* Unloading the stack needs every NVIDIA node closed; an unbind only this card's. */
	if (h->single_gpu && h->gpu_module[0] && h->stack.n)
		r = gh_holders_nodes_add_path(ctx, nodes, "/dev/nvidia*");
	/* The reload unloads nvidia-drm: any open node of it, on any card, would stop that. */
	if (h->reload.n && r >= 0) {
		r = gh_holders_nodes_add_path(ctx, nodes, "/dev/nvidia-modeset");
		/* The node names only: the other card's attributes may sit behind a wedged device_lock. */
		for (size_t k = 0; k < h->others.n && r >= 0; k++) {
			struct gh_strv drm = { 0 };

			gh_fs_list(ctx, &drm, "/sys/bus/pci/devices/%s/drm", h->others.v[k]);
			for (size_t n = 0; n < drm.n && r >= 0; n++) {
				r = gh_util_format(p, sizeof(p), "/dev/dri/%s", drm.v[n]);
				if (r >= 0)
					r = gh_holders_nodes_add_path(ctx, nodes, p);
			}
			gh_strv_free(&drm);
		}
	}
	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		const struct gh_pci_dev *d = &h->f[i].dev;

		r = gh_holders_nodes_add_sysfs(ctx, nodes, d->addr);
		if (r >= 0 && !h->single_gpu && !strcmp(d->driver, "nvidia")) {
			int minor = gh_pci_nvidia_minor(ctx, d->addr);

			if (minor >= 0) {
				snprintf(p, sizeof(p), "/dev/nvidia%d", minor);
				r = gh_holders_nodes_add_path(ctx, nodes, p);
			} else {
				gh_warn(ctx, "%s: cannot tell its /dev/nvidiaN from "
					"/proc/driver/nvidia/gpus/%s/information (%s); checking every /dev/nvidia*",
					d->addr, d->addr, strerror(-minor));
				r = gh_holders_nodes_add_path(ctx, nodes, "/dev/nvidia*");
			}
		}
		/* The sysfs walk finds these too; by name they are found when sysfs lacks a dev file. */
		for (size_t k = 0; k < d->drm.n && r >= 0; k++) {
			if (gh_util_format(p, sizeof(p), "/dev/dri/%s", d->drm.v[k]) < 0)
				return -ENAMETOOLONG;
			r = gh_holders_nodes_add_path(ctx, nodes, p);
		}
		for (size_t k = 0; k < d->fbs.n && r >= 0; k++) {
			if (gh_util_format(p, sizeof(p), "/dev/%s", d->fbs.v[k]) < 0)
				return -ENAMETOOLONG;
			r = gh_holders_nodes_add_path(ctx, nodes, p);
		}
		if (d->iommu_group >= 0 && r >= 0) {
			snprintf(p, sizeof(p), "/dev/vfio/%d", d->iommu_group);
			r = gh_holders_nodes_add_path(ctx, nodes, p);
		}
	}
	return r;
}

static bool unit_file_exists(struct gh_ctx *ctx, const char *unit)
{
	static const char *const dirs[] = { "/etc/systemd/system", "/run/systemd/system",
					    "/usr/lib/systemd/system", "/lib/systemd/system" };

	for (size_t i = 0; i < GH_ARRAY_SIZE(dirs); i++)
		if (gh_fs_exists(ctx, "%s/%s", dirs[i], unit) > 0)
			return true;
	return false;
}

static int load_services(struct gh_ctx *ctx, struct gh_host *h)
{
	for (size_t i = 0; i < h->pol.services.n; i++) {
		char unit[256];
		int r = gh_services_resolve(ctx, h->pol.services.v[i], unit, sizeof(unit));

		if (r < 0)
			return r;
		r = gh_services_is_active(ctx, unit);
		if (r < 0)
			return r;
		if (r > 0 && gh_strv_add(&h->services, unit) < 0)
			return -ENOMEM;
		if ((r > 0 || unit_file_exists(ctx, unit)) && gh_strv_add(&h->services_known, unit) < 0)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Units that holders = stop-unit must not stop: a user manager's own units
 * (the system's systemctl cannot reach them) and scopes (a login session:
 * systemd cannot start a scope again, so it could not be undone).
 */
static bool in_user_manager(const struct gh_holder *ho)
{
	size_t len = strlen(ho->unit);

	return ho->user_manager || (len > 6 && !strcmp(ho->unit + len - 6, ".scope"));
}

/* gpu-hook's own session and unit (/proc/self), never to be killed or stopped. */
struct self {
	pid_t sid;
	char unit[256];
};

static void read_self(struct gh_ctx *ctx, struct self *me)
{
	char buf[4096], ct[32];
	unsigned long pid;
	int n;

	memset(me, 0, sizeof(*me));
	n = gh_fs_readlink(ctx, buf, sizeof(buf), "/proc/self");
	if (n > 0 && gh_util_parse_ulong(buf, 10, 4194304, &pid) >= 0)
		gh_holders_proc_stat(ctx, (pid_t)pid, NULL, &me->sid);
	if (gh_fs_read_str(ctx, buf, sizeof(buf), "/proc/self/cgroup") < 0)
		return;
	for (char *line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		gh_holders_parse_cgroup(line + 3, me->unit, sizeof(me->unit), ct, sizeof(ct));
		break;
	}
}

/*
 * Processes whose end would cut off the host's logins or the very session
 * that runs gpu-hook. NULL when the holder is none of them, else why. Names
 * are compared as collected (escaped): a process calling itself "sshd" is
 * refused rather than killed, which errs the safe way.
 */
static const char *protected_holder(const struct gh_holder *ho, const struct self *me)
{
	static const char *const comms[] = { "systemd", "systemd-logind", "dbus-daemon", "dbus-broker",
					     "dbus-broker-lau", "sshd", "sshd-session", "sshd-auth", "cron", "crond",
					     "atd" };
	static const char *const units[] = { "systemd-logind.service", "dbus.service", "dbus-broker.service",
					     "ssh.service", "sshd.service", "cron.service", "crond.service",
					     "atd.service" };
	bool system_unit = ho->unit[0] && !ho->container[0] && !ho->user_manager;

	if (ho->pid == 1)
		return "it is the init process";
	if (me->sid > 0 && ho->pid == me->sid)
		return "it leads the session gpu-hook runs in";
	if (system_unit && me->unit[0] && !strcmp(ho->unit, me->unit))
		return "it runs in the unit gpu-hook runs in";
	for (size_t i = 0; i < GH_ARRAY_SIZE(comms); i++)
		if (!strcmp(ho->comm, comms[i]))
			return "logins and the system bus depend on it";
	for (size_t i = 0; system_unit && i < GH_ARRAY_SIZE(units); i++)
		if (!strcmp(ho->unit, units[i]))
			return "logins and the system bus depend on it";
	if (system_unit && (!strncmp(ho->unit, "ssh@", 4) || !strncmp(ho->unit, "sshd@", 5)))
		return "logins and the system bus depend on it";
	return NULL;
}

static int add_kill(struct gh_host *h, const struct gh_holder *ho, int pidfd)
{
	struct gh_kill *v = gh_util_grow(h->kill, h->n_kill, sizeof(*v));

	if (!v)
		return -ENOMEM;
	h->kill = v;
	v = &h->kill[h->n_kill++];
	memset(v, 0, sizeof(*v));
	v->pid = ho->pid;
	v->start = ho->start;
	v->pidfd = pidfd;
	gh_util_copy(v->comm, sizeof(v->comm), ho->comm[0] ? ho->comm : "?");
	return 0;
}

/*
 * A container's process and a protected one refuse the handoff, named. A
 * holder inside a unit of the system manager that we stop anyway is that
 * unit's stop (a user manager's unit of the same name is not that unit);
 * under holders=stop-unit its unit joins the stop list; under kill it is
 * pinned and killed; everything else refuses the handoff, naming it.
 */
static int classify_holders(struct gh_ctx *ctx, struct gh_host *h)
{
	struct self me;

	read_self(ctx, &me);
	for (unsigned i = 0; i < h->holders.n; i++) {
		const struct gh_holder *ho = &h->holders.v[i];
		bool system_unit = ho->unit[0] && !ho->container[0] && !in_user_manager(ho);
		const char *prot = ho->container[0] ? NULL : protected_holder(ho, &me);
		char desc[1024];

		if (gh_holders_describe(ho, desc, sizeof(desc)) < 0)
			return -ENAMETOOLONG;
		if (prot) {
			NOTE(&h->refusals, "held by %s (%s: gpu-hook never kills or stops it; close the device in it "
			     "yourself)", desc, prot);
			continue;
		}
		if (system_unit && gh_strv_contains(&h->services, ho->unit))
			continue;
		if (h->pol.holders == GH_HOLDERS_STOP_UNIT && system_unit && gh_services_valid_name(ho->unit)) {
			if (gh_strv_add(&h->services, ho->unit) < 0 || gh_strv_add(&h->services_known, ho->unit) < 0)
				return -ENOMEM;
			continue;
		}
		if (h->pol.holders == GH_HOLDERS_KILL && !ho->container[0]) {
			int pidfd = -1, r = gh_holders_pin(ctx, ho, &pidfd);

			/* Gone since the scan (its number may be another's now): nothing of it to kill. */
			if (r == -ESRCH)
				continue;
			if (r >= 0) {
				r = add_kill(h, ho, pidfd);
				if (r < 0) {
					if (pidfd >= 0)
						close(pidfd);
					return r;
				}
				continue;
			}
			NOTE(&h->refusals, "held by %s (cannot pin it for holders = kill: %s; stop it yourself)", desc,
			     r == -EINVAL ? "its start time is unknown" : strerror(-r));
			continue;
		}
		NOTE(&h->refusals, "held by %s%s", desc,
		     ho->container[0] ? " (stop the container first)" :
		     in_user_manager(ho) ? " (a user session or a unit of one: gpu-hook cannot stop and restart it; stop it yourself)" :
		     h->pol.holders == GH_HOLDERS_REFUSE ? " (stop it, or set holders = stop-unit)" : "");
	}
	return 0;
}

static int load_common(struct gh_ctx *ctx, struct gh_host *h)
{
	bool gpu;
	int r;

	r = add_siblings(ctx, h);
	if (r >= 0)
		r = check_groups(ctx, h);
	if (r < 0)
		return r;
	pick_host_drivers(ctx, h);
	gpu = gpu_handoff(h);
	r = check_owners(ctx, h);
	if (r >= 0 && gpu)
		r = load_stack(ctx, h);
	if (r >= 0 && gpu)
		r = load_console(ctx, h);
	if (r >= 0 && gpu)
		r = load_services(ctx, h);
	if (r >= 0)
		r = build_nodes(ctx, h);
	if (r >= 0)
		r = gh_holders_scan_nodes(ctx, &h->nodes, &h->holders);
	if (r >= 0)
		r = classify_holders(ctx, h);
	return r;
}

/* Like every load (lib/README.md): on failure h owns nothing. */
static int loaded(struct gh_host *h, int r)
{
	if (r < 0)
		gh_host_free(h);
	return r;
}

int gh_host_load(struct gh_ctx *ctx, unsigned vmid, struct gh_host *h)
{
	int r;

	memset(h, 0, sizeof(*h));
	h->vmid = vmid;
	/* Only the hostpci entries decide a handoff; the rest of the config only warns. */
	r = gh_vmconf_open(ctx, vmid, &h->vm);
	if (r >= 0)
		r = gh_vmconf_report(ctx, &h->vm, GH_VMCONF_HOSTPCI);
	if (r < 0)
		return loaded(h, r);
	h->has_vm = true;
	r = gh_policy_load(ctx, vmid, &h->pol);
	if (r < 0)
		return loaded(h, r);
	r = read_hostname(ctx, h->hostname, sizeof(h->hostname));
	if (r < 0)
		return loaded(h, r);
	if (h->vm.template_)
		NOTE(&h->notes, "VM %u is a template", vmid);
	if (h->vm.lock[0])
		NOTE(&h->notes, "VM %u has lock '%s'", vmid, h->vm.lock);
	r = resolve_devices(ctx, h);
	if (r < 0)
		return loaded(h, r);
	if (!h->n_f && !h->refusals.n)
		NOTE(&h->notes, "VM %u passes no PCI device through: nothing to hand off", vmid);
	return loaded(h, load_common(ctx, h));
}

int gh_host_load_addrs(struct gh_ctx *ctx, const struct gh_strv *addrs, struct gh_host *h)
{
	int r;

	memset(h, 0, sizeof(*h));
	r = gh_policy_load(ctx, 0, &h->pol);
	if (r < 0)
		return loaded(h, r);
	for (size_t i = 0; i < addrs->n; i++) {
		struct gh_pciid id;

		if (gh_pciid_parse(addrs->v[i], &id) < 0) {
			char esc[64];

			gh_err(ctx, "invalid PCI address \"%s\" (expected [dddd:]bb:ss[.f], lowercase hex)",
			       gh_util_escape(addrs->v[i], esc, sizeof(esc)));
			return loaded(h, -EINVAL);
		}
		r = add_id(ctx, h, &id, -1, "device");
		if (r < 0)
			return loaded(h, r);
	}
	return loaded(h, load_common(ctx, h));
}

int gh_host_load_journal(struct gh_ctx *ctx, const struct gh_journal *j, struct gh_host *h)
{
	int r;

	memset(h, 0, sizeof(*h));
	h->vmid = j->vmid;
	r = gh_policy_load(ctx, j->vmid, &h->pol);
	for (unsigned i = 0; i < j->n_dev && r >= 0; i++) {
		unsigned n = h->n_f;
		struct gh_func *f;

		r = add_func(ctx, h, j->dev[i].addr, -1, false);
		if (r < 0 || h->n_f == n)
			continue;
		f = &h->f[n];
		if (gh_util_copy(f->host_driver, sizeof(f->host_driver), j->dev[i].host_driver) == 0 &&
		    f->host_driver[0])
			f->host_driver_present = gh_fs_exists(ctx, "/sys/bus/pci/drivers/%s", f->host_driver) > 0;
	}
	return loaded(h, r);
}

void gh_host_free(struct gh_host *h)
{
	for (unsigned i = 0; i < h->n_f; i++)
		gh_pci_dev_free(&h->f[i].dev);
	free(h->f);
	gh_policy_free(&h->pol);
	gh_modules_free(&h->stack);
	gh_modules_free(&h->reload);
	gh_strv_free(&h->others);
	gh_console_free(&h->con);
	gh_strv_free(&h->vtcons);
	gh_strv_free(&h->fwfbs);
	gh_holders_nodes_free(&h->nodes);
	gh_holders_free(&h->holders);
	gh_strv_free(&h->services);
	gh_strv_free(&h->services_known);
	for (unsigned i = 0; i < h->n_kill; i++)
		if (h->kill[i].pidfd >= 0)
			close(h->kill[i].pidfd);
	free(h->kill);
	gh_strv_free(&h->notes);
	gh_strv_free(&h->refusals);
	memset(h, 0, sizeof(*h));
}

const struct gh_func *gh_host_func(const struct gh_host *h, const char *addr)
{
	for (unsigned i = 0; i < h->n_f; i++)
		if (!strcmp(h->f[i].dev.addr, addr))
			return &h->f[i];
	return NULL;
}

int gh_host_interesting(struct gh_ctx *ctx, struct gh_strv *out)
{
	struct gh_strv all = { 0 };
	int r = gh_pci_list(ctx, &all);

	for (size_t i = 0; i < all.n && r >= 0; i++) {
		struct gh_pci_dev d = { 0 };

		r = gh_pci_read(ctx, all.v[i], &d);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		if (d.vendor == 0x10de || is_gpu(&d) || is_stub_driver(d.driver) || d.override[0] || d.wedged)
			r = gh_strv_push(out, d.addr);
		gh_pci_dev_free(&d);
	}
	gh_strv_free(&all);
	return r;
}
