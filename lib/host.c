/* SPDX-License-Identifier: MIT */
#include "host.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
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
	char raw[256];
	char *dot, *name;
	int r;

	r = gh_fs_read_str(ctx, raw, sizeof(raw), "/etc/hostname");
	if (r < 0) {
		gh_err(ctx, "/etc/hostname: %s", strerror(-r));
		return r;
	}
	name = gh_util_trim(raw);
	dot = strchr(name, '.');
	if (dot)
		*dot = '\0';
	if (!*name || gh_util_copy(buf, size, name) < 0) {
		char esc[128];

		gh_err(ctx, "/etc/hostname: invalid hostname \"%s\"", gh_util_escape(name, esc, sizeof(esc)));
		return -EINVAL;
	}
	return 0;
}

static int add_func(struct gh_ctx *ctx, struct gh_host *h, const char *addr, int hostpci, bool added)
{
	struct gh_func *f;
	int r;

	if (gh_host_func(h, addr))
		return 0;
	f = realloc(h->f, (h->n_f + 1) * sizeof(*f));
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

/* A slot id expands to the functions present, as PVE globs sysfs. */
static int add_id(struct gh_ctx *ctx, struct gh_host *h, const struct gh_pciid *id, int hostpci,
		  const char *what)
{
	char addr[GH_PCI_ADDR_LEN];
	struct gh_strv fns = { 0 };
	int r = 0;

	gh_pciid_format(id, addr);
	if (id->func >= 0)
		return add_func(ctx, h, addr, hostpci, false);
	r = gh_pci_slot_functions(ctx, id, &fns);
	if (r < 0)
		return r;
	if (!fns.n) {
		gh_strv_free(&fns);
		NOTE(&h->refusals, "device missing: %s %s has no functions in /sys/bus/pci/devices", what, addr);
		return 0;
	}
	for (size_t i = 0; i < fns.n && r >= 0; i++)
		r = add_func(ctx, h, fns.v[i], hostpci, false);
	gh_strv_free(&fns);
	return r;
}

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
		if (gh_pci_read(ctx, addr, &dev) < 0) {
			snprintf(why, why_size, "%s is not present", addr);
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
		} else if (e->iommugroup >= 0 && dev.iommu_group != e->iommugroup) {
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

static int add_mapping(struct gh_ctx *ctx, struct gh_host *h, struct gh_mapping_file *mf, bool *mf_loaded,
		       unsigned n, const struct gh_hostpci *hp)
{
	const struct gh_mapping *m;
	char why[400] = "";
	int r;

	if (!*mf_loaded) {
		r = gh_mapping_load(ctx, mf);
		if (r < 0 && r != -ENOENT)
			return r;
		*mf_loaded = true;
	}
	m = gh_mapping_find(mf, hp->mapping);
	if (!m) {
		NOTE(&h->refusals, "hostpci%u: mapping '%s' is not defined in /etc/pve/mapping/pci.cfg", n,
		     hp->mapping);
		return 0;
	}
	for (unsigned i = 0; i < m->n_maps; i++) {
		const struct gh_map_entry *e = &m->maps[i];
		char entry_why[256];

		if (strcmp(e->node, h->hostname))
			continue;
		if (!map_entry_matches(ctx, e, entry_why, sizeof(entry_why))) {
			snprintf(why, sizeof(why), "pci.cfg:%d: %s", e->line, entry_why);
			continue;
		}
		for (unsigned p = 0; p < e->n_paths; p++) {
			char label[32];

			snprintf(label, sizeof(label), "hostpci%u", n);
			r = add_id(ctx, h, &e->paths[p], (int)n, label);
			if (r < 0)
				return r;
		}
		NOTE(&h->notes, "hostpci%u: mapping '%s' resolved for node %s (pci.cfg line %d)", n, m->id,
		     h->hostname, e->line);
		return 0;
	}
	if (why[0])
		NOTE(&h->refusals, "hostpci%u: mapping '%s' is invalid on node %s (hardware probably changed): %s", n,
		     m->id, h->hostname, why);
	else
		NOTE(&h->refusals, "hostpci%u: mapping '%s' has no entry for node %s", n, m->id, h->hostname);
	return 0;
}

static int resolve_devices(struct gh_ctx *ctx, struct gh_host *h)
{
	struct gh_mapping_file mf = { 0 };
	bool mf_loaded = false;
	int r = 0;

	if (h->pol.n_devices) {
		for (unsigned i = 0; i < h->pol.n_devices && r >= 0; i++)
			r = add_id(ctx, h, &h->pol.devices[i], -1, "policy device");
		return r;
	}
	for (unsigned n = 0; n < GH_HOSTPCI_MAX && r >= 0; n++) {
		const struct gh_hostpci *hp = &h->vm.hostpci[n];

		if (!hp->present)
			continue;
		if (hp->mdev[0]) {
			NOTE(&h->notes, "hostpci%u: mediated device (mdev=%s) left alone", n, hp->mdev);
			continue;
		}
		if (hp->keep) {
			NOTE(&h->notes, "hostpci%u: driver=keep, left alone", n);
			continue;
		}
		if (hp->mapping[0]) {
			r = add_mapping(ctx, h, &mf, &mf_loaded, n, hp);
			continue;
		}
		for (unsigned i = 0; i < hp->n_ids && r >= 0; i++) {
			char label[32];

			snprintf(label, sizeof(label), "hostpci%u", n);
			r = add_id(ctx, h, &hp->ids[i], (int)n, label);
		}
	}
	gh_mapping_free(&mf);
	return r;
}

/* The GPU function: display class, or whatever the nvidia driver has bound. */
static bool is_gpu(const struct gh_pci_dev *d)
{
	return gh_pci_is_display(d) || !strcmp(d->driver, "nvidia");
}

/*
 * A listed GPU function brings the rest of its card (audio, USB-C, UCSI):
 * the other functions of its slot from the same vendor.
 */
static int add_siblings(struct gh_ctx *ctx, struct gh_host *h)
{
	unsigned n = h->n_f;
	int r = 0;

	for (unsigned i = 0; i < n && r >= 0; i++) {
		struct gh_pciid slot;
		struct gh_strv fns = { 0 };
		unsigned vendor = h->f[i].dev.vendor;

		if (!is_gpu(&h->f[i].dev) || gh_pciid_parse(h->f[i].dev.addr, &slot) < 0)
			continue;
		slot.func = -1;
		r = gh_pci_slot_functions(ctx, &slot, &fns);
		for (size_t k = 0; k < fns.n && r >= 0; k++) {
			unsigned long v;

			if (gh_host_func(h, fns.v[k]) ||
			    gh_fs_read_ulong(ctx, &v, "/sys/bus/pci/devices/%s/vendor", fns.v[k]) < 0 || v != vendor)
				continue;
			r = add_func(ctx, h, fns.v[k], -1, true);
			if (r >= 0)
				NOTE(&h->notes, "%s added: it is another function of the card at %s", fns.v[k],
				     h->f[i].dev.addr);
		}
		gh_strv_free(&fns);
	}
	return r;
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
			if (!gh_pci_is_bridge(&m) && m.driver[0] && !is_stub_driver(m.driver)) {
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

static int build_patterns(struct gh_ctx *ctx, struct gh_host *h)
{
	char p[PATH_MAX];
	int r = 0;

	/* Unloading the stack needs every NVIDIA node closed; an unbind only this card's. */
	if (h->single_gpu && h->gpu_module[0] && h->stack.n) {
		r = gh_strv_add(&h->patterns, "/dev/nvidia*");
		if (r < 0)
			return r;
	}
	/* The reload unloads nvidia-drm: any open node of it, on any card, would stop that. */
	if (h->reload.n) {
		r = gh_strv_add(&h->patterns, "/dev/nvidia-modeset");
		/* The node names only: the other card's attributes may sit behind a wedged device_lock. */
		for (size_t k = 0; k < h->others.n && r >= 0; k++) {
			struct gh_strv nodes = { 0 };

			gh_fs_list(ctx, &nodes, "/sys/bus/pci/devices/%s/drm", h->others.v[k]);
			for (size_t n = 0; n < nodes.n && r >= 0; n++) {
				r = gh_util_format(p, sizeof(p), "/dev/dri/%s", nodes.v[n]);
				if (r >= 0)
					r = gh_strv_add(&h->patterns, p);
			}
			gh_strv_free(&nodes);
		}
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < h->n_f; i++) {
		const struct gh_pci_dev *d = &h->f[i].dev;

		if (!h->single_gpu && !strcmp(d->driver, "nvidia")) {
			int minor = gh_pci_nvidia_minor(ctx, d->addr);

			if (minor >= 0) {
				snprintf(p, sizeof(p), "/dev/nvidia%d", minor);
				r = gh_strv_add(&h->patterns, p);
			} else {
				gh_warn(ctx, "%s: cannot tell its /dev/nvidiaN from "
					"/proc/driver/nvidia/gpus/%s/information (%s); checking every /dev/nvidia*",
					d->addr, d->addr, strerror(-minor));
				r = gh_strv_add(&h->patterns, "/dev/nvidia*");
			}
		}
		for (size_t k = 0; k < d->drm.n && r >= 0; k++) {
			if (gh_util_format(p, sizeof(p), "/dev/dri/%s", d->drm.v[k]) < 0)
				return -ENAMETOOLONG;
			r = gh_strv_add(&h->patterns, p);
		}
		for (size_t k = 0; k < d->fbs.n && r >= 0; k++) {
			if (gh_util_format(p, sizeof(p), "/dev/%s", d->fbs.v[k]) < 0)
				return -ENAMETOOLONG;
			r = gh_strv_add(&h->patterns, p);
		}
		if (d->iommu_group >= 0 && r >= 0) {
			snprintf(p, sizeof(p), "/dev/vfio/%d", d->iommu_group);
			r = gh_strv_add(&h->patterns, p);
		}
		if (r < 0)
			return r;
	}
	return 0;
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

	return strstr(ho->cgroup, "/user@") != NULL || (len > 6 && !strcmp(ho->unit + len - 6, ".scope"));
}

/*
 * A holder inside a unit we stop anyway is that unit's stop; under
 * holders=stop-unit its unit joins the stop list; under kill it is killed;
 * everything else refuses the handoff, naming it.
 */
static int classify_holders(struct gh_host *h)
{
	for (unsigned i = 0; i < h->holders.n; i++) {
		const struct gh_holder *ho = &h->holders.v[i];
		char desc[1024];

		if (gh_holders_describe(ho, desc, sizeof(desc)) < 0)
			return -ENAMETOOLONG;
		if (ho->unit[0] && !ho->container[0] && gh_strv_contains(&h->services, ho->unit))
			continue;
		if (h->pol.holders == GH_HOLDERS_STOP_UNIT && ho->unit[0] && !ho->container[0] &&
		    gh_services_valid_name(ho->unit) && !in_user_manager(ho)) {
			if (gh_strv_add(&h->services, ho->unit) < 0 || gh_strv_add(&h->services_known, ho->unit) < 0)
				return -ENOMEM;
			continue;
		}
		if (h->pol.holders == GH_HOLDERS_KILL && !ho->container[0]) {
			char k[128];

			snprintf(k, sizeof(k), "%d %.64s", (int)ho->pid, ho->comm);
			if (gh_strv_push(&h->kill, k) < 0)
				return -ENOMEM;
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
	int r;

	r = add_siblings(ctx, h);
	if (r < 0)
		return r;
	pick_host_drivers(ctx, h);
	r = check_groups(ctx, h);
	if (r >= 0)
		r = check_owners(ctx, h);
	if (r >= 0)
		r = load_stack(ctx, h);
	if (r >= 0)
		r = load_console(ctx, h);
	if (r >= 0)
		r = load_services(ctx, h);
	if (r >= 0)
		r = build_patterns(ctx, h);
	if (r >= 0)
		r = gh_holders_scan(ctx, &h->patterns, &h->holders);
	if (r >= 0)
		r = classify_holders(h);
	return r;
}

int gh_host_load(struct gh_ctx *ctx, unsigned vmid, struct gh_host *h)
{
	int r;

	memset(h, 0, sizeof(*h));
	h->vmid = vmid;
	r = gh_vmconf_load(ctx, vmid, &h->vm);
	if (r < 0)
		return r;
	h->has_vm = true;
	r = gh_policy_load(ctx, vmid, &h->pol);
	if (r < 0)
		return r;
	r = read_hostname(ctx, h->hostname, sizeof(h->hostname));
	if (r < 0)
		return r;
	if (h->vm.template_)
		NOTE(&h->notes, "VM %u is a template", vmid);
	if (h->vm.lock[0])
		NOTE(&h->notes, "VM %u has lock '%s'", vmid, h->vm.lock);
	r = resolve_devices(ctx, h);
	if (r < 0)
		return r;
	if (!h->n_f && !h->refusals.n)
		NOTE(&h->notes, "VM %u passes no PCI device through: nothing to hand off", vmid);
	return load_common(ctx, h);
}

int gh_host_load_addrs(struct gh_ctx *ctx, const struct gh_strv *addrs, struct gh_host *h)
{
	int r;

	memset(h, 0, sizeof(*h));
	r = gh_policy_load(ctx, 0, &h->pol);
	if (r < 0)
		return r;
	for (size_t i = 0; i < addrs->n; i++) {
		struct gh_pciid id;

		if (gh_pciid_parse(addrs->v[i], &id) < 0) {
			char esc[64];

			gh_err(ctx, "invalid PCI address \"%s\" (expected [dddd:]bb:ss[.f], lowercase hex)",
			       gh_util_escape(addrs->v[i], esc, sizeof(esc)));
			return -EINVAL;
		}
		r = add_id(ctx, h, &id, -1, "device");
		if (r < 0)
			return r;
	}
	return load_common(ctx, h);
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
	gh_strv_free(&h->patterns);
	gh_holders_free(&h->holders);
	gh_strv_free(&h->services);
	gh_strv_free(&h->services_known);
	gh_strv_free(&h->kill);
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
		if (d.vendor == 0x10de || is_gpu(&d) || is_stub_driver(d.driver) || d.override[0])
			r = gh_strv_push(out, d.addr);
		gh_pci_dev_free(&d);
	}
	gh_strv_free(&all);
	return r;
}
