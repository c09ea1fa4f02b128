/* SPDX-License-Identifier: MIT */
#include "phase.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handoff.h"
#include "isolate.h"
#include "journal.h"
#include "plan-back.h"
#include "timebox.h"
#include "vmconf.h"

static bool is_phase(const struct gh_phase_req *req, const char *phase)
{
	return req->phase && !strcmp(req->phase, phase);
}

/*
 * A Proxmox reboot (qm cleanup) runs post-stop with /run/qemu-server/<vmid>.reboot
 * present and starts the VM again a second later: giving the card back there
 * would reload the whole NVIDIA stack for nothing. Post-stop keeps a complete
 * handoff and arms the watcher, which gives the card back if the restart
 * never comes. 1 when kept, 0 when post-stop goes on, -errno.
 */
static int keep_for_reboot(struct gh_ctx *ctx, const struct gh_phase_req *req, const char *key)
{
	struct gh_journal j;
	int r = gh_watch_reboot_requested(ctx, req->vmid);

	if (r <= 0)
		return r;
	r = gh_journal_load(ctx, key, &j);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	r = j.complete;
	gh_journal_free(&j);
	if (!r)
		return 0;
	if (gh_ctx_dry_run(ctx))
		return 1;
	gh_notice(ctx, "a Proxmox reboot is under way (/run/qemu-server/%u.reboot): the card stays on vfio-pci for the restart",
		  req->vmid);
	r = req->arm ? req->arm(ctx, req->arm_data, req->vmid, GH_WATCH_REBOOT) : 0;
	return r < 0 ? r : 1;
}

/* After pre-start took the card: under Proxmox's start (its config lock held), leave the watcher behind. */
static void arm_after_start(struct gh_ctx *ctx, const struct gh_phase_req *req)
{
	int r = gh_watch_config_locked(ctx, req->vmid);

	if (r < 0)
		gh_warn(ctx, "cannot read /var/lock/qemu-server/lock-%u.conf: %s: no watcher armed", req->vmid,
			strerror(-r));
	else if (r == 0)
		gh_dbg(ctx, "the VM's config lock is free (a pre-start by hand): no watcher armed");
	else if (req->arm)
		(void)req->arm(ctx, req->arm_data, req->vmid, GH_WATCH_START);
}

/* post-stop --dry-run: with a journal, the way back it records; else what sysfs shows. */
static int dry_run_to_host(struct gh_ctx *ctx, const struct gh_host *h, const char *key, struct gh_plan *p)
{
	struct gh_journal j;
	int *undoes = NULL;
	int r = gh_journal_load(ctx, key, &j);

	if (r == -ENOENT)
		return gh_plan_build(h, GH_TO_HOST, p);
	if (r < 0)
		return r;
	r = gh_plan_from_journal(&j, p, &undoes);
	free(undoes);
	gh_journal_free(&j);
	if (r >= 0) {
		char note[128];

		snprintf(note, sizeof(note), "from the journal /run/gpu-hook/%s.json (the VM config is not read)", key);
		r = gh_strv_push(&p->notes, note);
	}
	return r;
}

/* The dry run: the plan the phase would run, with the reasons it would be refused. */
static int plan_dry(struct gh_ctx *ctx, const struct gh_phase_req *req, const char *key, struct gh_phase_result *res)
{
	int r = req->dir == GH_TO_VFIO ? gh_plan_build(&res->host, req->dir, &res->plan)
				       : dry_run_to_host(ctx, &res->host, key, &res->plan);

	if (r >= 0)
		r = gh_handoff_wedged_refusals(ctx, &res->host, &res->plan.refusals);
	if (r < 0) {
		gh_err(ctx, "cannot build the plan: %s", strerror(-r));
		return r;
	}
	res->outcome = GH_PHASE_PLANNED;
	if (req->vmid && req->dir == GH_TO_VFIO && is_phase(req, "pre-start"))
		r = gh_strv_push(&res->plan.notes, "run by Proxmox's start (its config lock held), pre-start leaves a "
						   "watcher: if QEMU does not come up, the card goes back (gpu-hook(8), WATCHER)");
	return r;
}

/* Giving back works from the journal when there is one: the VM config may have changed since. */
static int load_host(struct gh_ctx *ctx, const struct gh_phase_req *req, struct gh_host *h)
{
	int r;

	r = req->vmid && req->dir == GH_TO_HOST ? gh_handoff_load_journal(ctx, req->vmid, h) : 0;
	if (r == 0)
		r = req->vmid ? gh_host_load(ctx, req->vmid, h) : gh_host_load_addrs(ctx, req->addrs, h);
	return r;
}

int gh_phase_run_locked(struct gh_ctx *ctx, const struct gh_phase_req *req, struct gh_phase_result *res)
{
	bool already = false;
	char key[32];
	int r;

	memset(res, 0, sizeof(*res));
	gh_handoff_key(req->vmid, key, sizeof(key));
	if (req->vmid && req->dir == GH_TO_HOST && is_phase(req, "post-stop")) {
		r = keep_for_reboot(ctx, req, key);
		if (r > 0)
			res->outcome = GH_PHASE_KEPT;
		if (r != 0)
			return r < 0 ? r : 0;
		if (!gh_ctx_dry_run(ctx))
			gh_watch_disarm(ctx, req->vmid);
	}
	if (!gh_ctx_dry_run(ctx) && req->dir == GH_TO_VFIO) {
		r = gh_handoff_settle(ctx, key, &already);
		if (r < 0)
			return r;
	}
	if (already) {
		res->outcome = GH_PHASE_ALREADY;
	} else {
		r = load_host(ctx, req, &res->host);
		if (r < 0)
			return r;
		if (gh_ctx_dry_run(ctx))
			return plan_dry(ctx, req, key, res);
		r = req->dir == GH_TO_VFIO ? gh_handoff_to_vfio(ctx, &res->host, key)
					   : gh_handoff_to_host(ctx, &res->host, key);
		if (r < 0)
			return r;
	}
	if (req->vmid && req->dir == GH_TO_VFIO && is_phase(req, "pre-start"))
		arm_after_start(ctx, req);
	return 0;
}

/*
 * pre-stop must never release anything: a shutdown can still time out and leave the VM running.
 * It reads no VM config: what the VM holds is in its journal.
 */
static int pre_stop(struct gh_ctx *ctx, const struct gh_phase_req *req, struct gh_phase_result *res)
{
	int r;

	memset(res, 0, sizeof(*res));
	r = gh_handoff_load_journal(ctx, req->vmid, &res->host);
	if (r < 0)
		return r;
	res->plan.dir = GH_TO_VFIO;
	if (gh_ctx_dry_run(ctx))
		res->outcome = GH_PHASE_PLANNED;
	else
		gh_info(ctx, "nothing to do in %s", req->phase);
	return 0;
}

int gh_phase_run(struct gh_ctx *ctx, const struct gh_phase_req *req, struct gh_phase_result *res)
{
	int lock = -1, r;

	if (is_phase(req, "pre-stop"))
		return pre_stop(ctx, req, res);
	if (!gh_ctx_dry_run(ctx)) {
		r = gh_journal_lock(ctx, GH_PHASE_LOCK_WAIT_MS, &lock);
		if (r < 0) {
			/* Else gh_phase_run_locked clears it: the result is 22 KB. */
			memset(res, 0, sizeof(*res));
			return r;
		}
		(void)gh_timebox_worker_prepare(ctx);
	}
	r = gh_phase_run_locked(ctx, req, res);
	/* The host gets the VM's CPUs back whatever happened to the card. */
	if (!gh_ctx_dry_run(ctx) && req->vmid && req->dir == GH_TO_HOST) {
		int i = gh_isolate_stop(ctx, req->vmid);

		if (i < 0 && r >= 0)
			r = i;
	}
	/* The phase is over: its worker ends (see gh_timebox_call), and nobody waits for it. */
	gh_timebox_worker_release();
	gh_journal_unlock(lock);
	return r;
}

void gh_phase_result_free(struct gh_phase_result *res)
{
	gh_plan_free(&res->plan);
	gh_host_free(&res->host);
}

static int recover_keys(struct gh_ctx *ctx, const struct gh_strv *keys)
{
	int first = 0, r;

	if (!keys->n)
		gh_info(ctx, "no journal in /run/gpu-hook: nothing to recover, nothing changed");
	for (size_t i = 0; i < keys->n; i++) {
		struct gh_watch w;
		unsigned vmid;
		bool vm = gh_vmconf_parse_vmid(keys->v[i], &vmid) >= 0;

		if (vm && gh_watch_load(ctx, vmid, &w) != -ENOENT) {
			gh_info(ctx, "the watcher for VM %u is disarmed: recover gives the card back now", vmid);
			gh_watch_disarm(ctx, vmid);
		}
		r = gh_handoff_recover(ctx, keys->v[i]);
		if (r < 0 && !first)
			first = r;
		r = vm ? gh_isolate_stop(ctx, vmid) : 0;
		if (r < 0 && !first)
			first = r;
	}
	return first;
}

int gh_phase_recover(struct gh_ctx *ctx, const char *key)
{
	struct gh_strv keys = { 0 };
	int lock = -1, r;

	r = gh_journal_lock(ctx, GH_PHASE_LOCK_WAIT_MS, &lock);
	if (r < 0)
		return r;
	r = key ? gh_strv_push(&keys, key) : gh_journal_list(ctx, &keys);
	if (r < 0)
		gh_err(ctx, "cannot list /run/gpu-hook: %s", strerror(-r));
	else
		r = recover_keys(ctx, &keys);
	gh_timebox_worker_stop();
	gh_journal_unlock(lock);
	gh_strv_free(&keys);
	return r;
}
