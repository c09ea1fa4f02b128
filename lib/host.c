/* SPDX-License-Identifier: MIT */
#include "host-impl.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "journal.h"
#include "vms.h"

int gh_host_note(struct gh_host *h, const char *fmt, ...)
{
	char note[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = gh_util_vformat(note, sizeof(note), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(note))
		return -ENAMETOOLONG;
	return gh_strv_push(&h->notes, note) < 0 ? -ENOMEM : 0;
}

void gh_host_self_key(const struct gh_host *h, char *buf, size_t size)
{
	/* The journal keys of lib/handoff.c: "<vmid>", or "manual" for to-vfio. */
	if (h->vmid)
		snprintf(buf, size, "%u", h->vmid);
	else
		snprintf(buf, size, "manual");
}

static bool is_stub_driver(const char *drv)
{
	return !strcmp(drv, "vfio-pci") || !strcmp(drv, "pci-stub");
}

static int add_func_parts(struct gh_ctx *ctx, struct gh_host *h, const char *addr, int hostpci, bool added,
			  unsigned parts)
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
	r = gh_pci_read_parts(ctx, addr, parts, &f->dev);
	if (r == -ENOENT) {
		return gh_refusal_add(&h->refusals, GH_REFUSAL_DEVICE, "device missing: %s is not in /sys/bus/pci/devices",
				      addr);
	}
	if (r < 0)
		return r;
	f->hostpci = hostpci;
	f->added = added;
	h->n_f++;
	return 0;
}

int gh_host_add_func(struct gh_ctx *ctx, struct gh_host *h, const char *addr, int hostpci, bool added)
{
	return add_func_parts(ctx, h, addr, hostpci, added, GH_PCI_ALL);
}

bool gh_host_is_gpu(const struct gh_pci_dev *d)
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
	int n = 0, r;

	if (gh_fs_exists(ctx, "/sys/bus/pci/devices/%s/physfn", addr) > 0)
		return -1;
	r = gh_fs_read_ulong(ctx, &numvfs, "/sys/bus/pci/devices/%s/sriov_numvfs", addr);
	if (r >= 0)
		return numvfs > INT_MAX ? INT_MAX : (int)numvfs;
	/*
	 * No sriov_numvfs: not a physical function (the kernel shows the sriov_*
	 * files for PFs alone, sriov_pf_attrs_are_visible) and so no virtfn links
	 * (pci_iov_add_virtfn makes them on PFs). 0 VFs: none either
	 * (pci_iov_remove_virtfn takes them away). Only an unreadable count is
	 * looked past, to the links.
	 */
	if (r == -ENOENT)
		return 0;
	if (gh_fs_list(ctx, &names, "/sys/bus/pci/devices/%s", addr) >= 0)
		for (size_t i = 0; i < names.n; i++)
			n += !strncmp(names.v[i], "virtfn", 6);
	gh_strv_free(&names);
	return n;
}

/* The other functions of function i's slot that belong to its card. */
static int card_siblings(struct gh_ctx *ctx, struct gh_host *h, unsigned i)
{
	char at[GH_PCI_ADDR_LEN], group[16] = "";
	unsigned vendor = h->f[i].dev.vendor;
	struct gh_strv fns = { 0 };
	struct gh_pciid slot;
	int r;

	if (gh_pciid_parse(h->f[i].dev.addr, &slot) < 0)
		return 0;
	/* h->f moves as functions join. */
	memcpy(at, h->f[i].dev.addr, sizeof(at));
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
			r = gh_host_note(h, "%s left alone: an SR-IOV function is never part of another's card", fns.v[k]);
			continue;
		}
		r = gh_host_add_func(ctx, h, fns.v[k], -1, true);
		if (r >= 0)
			r = gh_host_note(h, "%s added: it is another function of the card at %s", fns.v[k], at);
	}
	gh_strv_free(&fns);
	return r;
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
	for (unsigned i = 0; i < n && r >= 0; i++)
		if (gh_host_is_gpu(&h->f[i].dev))
			r = card_siblings(ctx, h, i);
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

/*
 * Another member of function i's IOMMU group. Proxmox binds every other
 * non-bridge member to vfio-pci as well (SysFSTools.pm
 * pci_dev_group_bind_to_vfio, with new_id), drivers or not. One without a
 * driver is taken here, so that it is journaled and goes back unbound, its id
 * out of vfio-pci's table; unless another VM holds it, whose to give back it is.
 */
static int iommu_group_member(struct gh_ctx *ctx, struct gh_host *h, unsigned i, const struct gh_pci_dev *m)
{
	int group = h->f[i].dev.iommu_group;
	char with[GH_PCI_ADDR_LEN];
	unsigned owner = 0;
	int r;

	if (gh_pci_is_bridge(m))
		return 0;
	if (m->driver[0] && !is_stub_driver(m->driver))
		return gh_refusal_add(&h->refusals, GH_REFUSAL_GROUP, "IOMMU group %d is not viable: %s (%04x:%04x, "
				      "class 0x%06x) is bound to %s and is not passed through", group, m->addr,
				      m->vendor, m->device, m->class, m->driver);
	if (m->driver[0])
		return 0;
	memcpy(with, h->f[i].dev.addr, sizeof(with));
	r = gh_vms_owner_in(&h->vms, m->addr, &owner);
	if (r == 0)
		r = gh_host_add_func(ctx, h, m->addr, -1, false);
	else if (r > 0)
		r = 0;
	if (r >= 0 && gh_host_func(h, m->addr))
		r = gh_host_note(h, "%s added: it shares IOMMU group %d with %s, and Proxmox binds the whole group to "
				 "vfio-pci", m->addr, group, with);
	return r;
}

static int check_groups(struct gh_ctx *ctx, struct gh_host *h)
{
	struct gh_strv seen = { 0 };
	int r = 0;

	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		struct gh_strv members = { 0 };
		char gname[16];

		if (h->f[i].dev.iommu_group < 0) {
			r = gh_refusal_add(&h->refusals, GH_REFUSAL_GROUP, "%s has no IOMMU group: enable the IOMMU "
					   "(intel_iommu=on, or AMD-Vi in firmware) before passing it through",
					   h->f[i].dev.addr);
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
			/* Its driver and ids decide; one that joins is read whole by gh_host_add_func. */
			r = gh_pci_read_parts(ctx, members.v[k], 0, &m);
			if (r >= 0)
				r = iommu_group_member(ctx, h, i, &m);
			else if (r == -ENOENT)
				r = 0;
			gh_pci_dev_free(&m);
		}
		gh_strv_free(&members);
	}
	gh_strv_free(&seen);
	return r;
}

static int check_owners(struct gh_host *h)
{
	for (unsigned i = 0; i < h->n_f; i++) {
		unsigned owner = 0;
		int r = gh_vms_owner_in(&h->vms, h->f[i].dev.addr, &owner);

		if (r < 0)
			return r;
		if (r == 1)
			r = gh_refusal_add(&h->refusals, GH_REFUSAL_OWNER, "%s is in use by running VM %u",
					   h->f[i].dev.addr, owner);
		else if (r == 2)
			r = gh_refusal_add(&h->refusals, GH_REFUSAL_OWNER, "%s is reserved by VM %u, whose start is under "
					   "way (/run/qemu-server/pci-id-reservations)", h->f[i].dev.addr, owner);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The snapshot of /run/gpu-hook that the whole phase goes by, read before
 * any function is: those a journal holds may be wedged, so they are read in
 * a child from now on. A directory that cannot be listed fails only the
 * questions that need it (h->journals.error).
 */
static void load_journals(struct gh_ctx *ctx, struct gh_host *h)
{
	gh_journals_load(ctx, &h->journals);
	gh_journals_mark_suspects(ctx, &h->journals);
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
	r = check_owners(h);
	if (r >= 0 && gpu)
		r = gh_host_gpu_stack(ctx, h);
	if (r >= 0 && gpu)
		r = gh_host_gpu_console(ctx, h);
	if (r >= 0 && gpu)
		r = gh_host_gpu_services(ctx, h);
	if (r >= 0)
		r = gh_host_holders_nodes(ctx, h);
	if (r >= 0)
		r = gh_holders_scan_nodes(ctx, &h->nodes, &h->holders);
	if (r >= 0)
		r = gh_host_holders_classify(ctx, h);
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
	load_journals(ctx, h);
	gh_vms_load(ctx, vmid, &h->vms);
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
	if (h->vm.template_)
		r = gh_host_note(h, "VM %u is a template", vmid);
	if (r >= 0 && h->vm.lock[0])
		r = gh_host_note(h, "VM %u has lock '%s'", vmid, h->vm.lock);
	if (r >= 0)
		r = gh_host_resolve_devices(ctx, h);
	if (r >= 0 && !h->n_f && !h->refusals.n)
		r = gh_host_note(h, "VM %u passes no PCI device through: nothing to hand off", vmid);
	if (r >= 0)
		r = load_common(ctx, h);
	return loaded(h, r);
}

int gh_host_load_addrs(struct gh_ctx *ctx, const struct gh_strv *addrs, struct gh_host *h)
{
	int r;

	memset(h, 0, sizeof(*h));
	load_journals(ctx, h);
	gh_vms_load(ctx, 0, &h->vms);
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
		r = gh_host_resolve_id(ctx, h, &id, -1, "device");
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
	load_journals(ctx, h);
	r = gh_policy_load(ctx, j->vmid, &h->pol);
	for (unsigned i = 0; i < j->n_dev && r >= 0; i++) {
		unsigned n = h->n_f;
		struct gh_func *f;

		/*
		 * The way back needs the driver, the override and the group: no
		 * mapping is matched (subsystem ids), no console or node sought
		 * (boot_vga, drm/, graphics/).
		 */
		r = add_func_parts(ctx, h, j->dev[i].addr, -1, false, 0);
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
	gh_refusal_free(&h->refusals);
	gh_journals_free(&h->journals);
	gh_vms_free(&h->vms);
	memset(h, 0, sizeof(*h));
}

const struct gh_func *gh_host_func(const struct gh_host *h, const char *addr)
{
	for (unsigned i = 0; i < h->n_f; i++)
		if (!strcmp(h->f[i].dev.addr, addr))
			return &h->f[i];
	return NULL;
}

int gh_host_interesting(struct gh_ctx *ctx, struct gh_pci_dev **out, unsigned *n)
{
	struct gh_strv all = { 0 };
	int r = gh_pci_list(ctx, &all);

	*out = NULL;
	*n = 0;
	for (size_t i = 0; i < all.n && r >= 0; i++) {
		struct gh_pci_dev d = { 0 }, *v;

		r = gh_pci_read(ctx, all.v[i], &d);
		if (r == -ENOENT) {
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		if (!(d.vendor == 0x10de || gh_host_is_gpu(&d) || is_stub_driver(d.driver) || d.override[0] || d.wedged)) {
			gh_pci_dev_free(&d);
			continue;
		}
		v = gh_util_grow(*out, *n, sizeof(**out));
		if (!v) {
			gh_pci_dev_free(&d);
			r = -ENOMEM;
			break;
		}
		*out = v;
		(*out)[(*n)++] = d;
	}
	gh_strv_free(&all);
	if (r < 0)
		gh_host_interesting_free(out, n);
	return r;
}

void gh_host_interesting_free(struct gh_pci_dev **devs, unsigned *n)
{
	for (unsigned i = 0; i < *n; i++)
		gh_pci_dev_free(&(*devs)[i]);
	free(*devs);
	*devs = NULL;
	*n = 0;
}
