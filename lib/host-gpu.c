/* SPDX-License-Identifier: MIT */
/* The GPU side of a handoff: its driver and module stack, the other cards on that driver, modeset, console, services. */
#include "host-impl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"
#include "journal.h"
#include "services.h"

/*
 * A card another VM's handoff took from the same driver comes back to it at
 * that VM's post-stop: the driver must still be there then. So it counts as
 * another card of this host, and this handoff unbinds its own card rather
 * than unloading the stack (two VMs from one two-card pool, one stopped
 * before the other: found by tests/vm/scenarios/pool-dual.sh).
 */
static int others_coming_back(struct gh_host *h)
{
	char self[32];
	int r = h->journals.error;

	gh_host_self_key(h, self, sizeof(self));
	for (unsigned k = 0; k < h->journals.n && r >= 0; k++) {
		const struct gh_journal *j = &h->journals.v[k];

		if (!strcmp(j->key, self))
			continue;
		for (unsigned d = 0; d < j->n_dev && r >= 0; d++)
			if (!strcmp(j->dev[d].host_driver, h->gpu_driver) && !gh_host_func(h, j->dev[d].addr) &&
			    !gh_strv_contains(&h->others, j->dev[d].addr))
				r = gh_strv_push(&h->others, j->dev[d].addr);
	}
	return r;
}

/*
 * A card leaving nvidia while nvidia-drm holds every card (modules.h): refused
 * before the first write, or, with modeset_hold = reload, nvidia-drm and what
 * is stacked on it unloaded around the unbind.
 */
static int load_modeset_hold(struct gh_ctx *ctx, struct gh_host *h)
{
	char why[512];
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
		return gh_refusal_add(&h->refusals, GH_REFUSAL_MODESET, "modeset_hold = reload: nvidia_modeset is not "
				      "loaded, so there is nothing to reload to make nvidia-drm let go of the card (%s)",
				      why);
	}
	return gh_refusal_add(&h->refusals, GH_REFUSAL_MODESET, "modeset_hold = refuse: %s. Fix: %s", why,
			      GH_MODESET_HOLD_FIX);
}

int gh_host_gpu_stack(struct gh_ctx *ctx, struct gh_host *h)
{
	struct gh_strv bound = { 0 };
	int r;

	for (unsigned i = 0; i < h->n_f; i++) {
		const struct gh_func *f = &h->f[i];

		if (gh_host_is_gpu(&f->dev) && f->host_driver[0]) {
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
		r = others_coming_back(h);
	h->single_gpu = h->others.n == 0;
	if (r >= 0 && !h->single_gpu)
		r = load_modeset_hold(ctx, h);
	return r;
}

int gh_host_gpu_console(struct gh_ctx *ctx, struct gh_host *h)
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

int gh_host_gpu_services(struct gh_ctx *ctx, struct gh_host *h)
{
	for (size_t i = 0; i < h->pol.services.n; i++) {
		char unit[256];
		bool known;
		int r = gh_services_resolve(ctx, h->pol.services.v[i], unit, sizeof(unit));

		if (r < 0)
			return r;
		r = gh_services_state(ctx, unit, &known);
		if (r < 0)
			return r;
		if (r > 0 && gh_strv_add(&h->services, unit) < 0)
			return -ENOMEM;
		if (known && gh_strv_add(&h->services_known, unit) < 0)
			return -ENOMEM;
	}
	return 0;
}

