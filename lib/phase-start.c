/* SPDX-License-Identifier: MIT */
/*
 * post-start's protocol (phase.h): read the VM config and policy, plan the
 * pins, isolate (under the global lock), then pin. The hook prints the
 * result; the tests call the same function.
 */
#include "phase.h"

#include <errno.h>
#include <string.h>

#include "fs.h"
#include "isolate.h"
#include "journal.h"
#include "vmconf.h"

/* [isolation]'s CPUs: the policy's, else the pinned ones. false (logged) when none. */
static bool isolation_cpus(struct gh_ctx *ctx, const struct gh_policy *pol, cpu_set_t *cpus)
{
	*cpus = pol->iso_cpus;
	if (!CPU_COUNT(cpus)) {
		CPU_OR(cpus, cpus, &pol->others);
		for (size_t i = 0; i < pol->n_vcpus; i++)
			CPU_SET(pol->vcpus[i], cpus);
	}
	if (CPU_COUNT(cpus))
		return true;
	gh_err(ctx, "not isolating: [isolation] cpus is not set and [pinning] pins no CPU");
	return false;
}

/*
 * [isolation] (lib/isolate.h). A VM without it, started while others are
 * isolated, has its scope narrowed like the other VMs' (gh_isolate_refresh).
 * The dry run fills ps->iso_* instead.
 */
static int isolate(struct gh_ctx *ctx, unsigned vmid, const struct gh_policy *pol, struct gh_post_start *ps)
{
	struct gh_strv devs = { 0 };
	struct gh_isolate_req req = { .vmid = vmid, .housekeeping_min = pol->iso_housekeeping_min,
				      .slices = pol->iso_slices, .writeback = pol->iso_writeback, .irqs = pol->iso_irqs,
				      .governor = pol->iso_governor, .scopes = pol->iso_other_vms, .devs = &devs };
	int lock = -1, r;

	/* Nothing isolated, nothing asked: not even the lock is taken. */
	if (!pol->isolate && gh_fs_exists(ctx, "%s", GH_ISOLATE_STATE) <= 0)
		return 0;
	if (pol->isolate && !isolation_cpus(ctx, pol, &req.cpus))
		return -EINVAL;
	if (pol->isolate && pol->iso_irqs)
		gh_isolate_vm_devs(ctx, vmid, &devs);
	if (gh_ctx_dry_run(ctx)) {
		r = pol->isolate ? gh_isolate_plan(ctx, &req, &ps->iso_steps, &ps->iso_undo, ps->iso_why,
						   sizeof(ps->iso_why))
				 : gh_isolate_refresh(ctx, vmid, &ps->iso_steps, &ps->iso_undo);
		ps->iso_shown = pol->isolate || ps->iso_steps.n;
	} else if (gh_journal_lock(ctx, GH_PHASE_LOCK_WAIT_MS, &lock) < 0) {
		r = -EAGAIN;
	} else {
		r = pol->isolate ? gh_isolate_start(ctx, &req, ps->iso_why, sizeof(ps->iso_why))
				 : gh_isolate_refresh(ctx, vmid, NULL, NULL);
		gh_journal_unlock(lock);
		if (r == -EPERM)
			gh_err(ctx, "not isolating: %s", ps->iso_why);
	}
	gh_strv_free(&devs);
	return r;
}

static int plan_pins(struct gh_ctx *ctx, unsigned vmid, struct gh_policy *pol, struct gh_pinplan *pp)
{
	struct gh_vmconf vm;
	int r = gh_vmconf_open(ctx, vmid, &vm);

	if (r >= 0)
		r = gh_policy_load(ctx, vmid, pol);
	/* Pinning reads affinity, and the vCPU count only when there is something to pin. */
	if (r >= 0)
		r = gh_vmconf_report(ctx, &vm, GH_VMCONF_AFFINITY |
					       (pol->n_vcpus || vm.affinity[0] ? GH_VMCONF_VCPUS : 0));
	if (r >= 0)
		r = gh_affinity_plan(ctx, vmid, &vm, pol, pp);
	return r;
}

int gh_phase_post_start(struct gh_ctx *ctx, unsigned vmid, struct gh_post_start *ps)
{
	struct gh_policy pol = { 0 };
	int r, rp;

	memset(ps, 0, sizeof(*ps));
	r = plan_pins(ctx, vmid, &pol, &ps->pins);
	if (r < 0)
		goto out;
	ps->planned = true;
	if (gh_ctx_dry_run(ctx)) {
		r = ps->pins.refusals.n ? -EPERM : isolate(ctx, vmid, &pol, ps);
		goto out;
	}
	for (size_t i = 0; i < ps->pins.notes.n; i++)
		gh_info(ctx, "%s", ps->pins.notes.v[i]);
	for (size_t i = 0; i < ps->pins.refusals.n; i++)
		gh_err(ctx, "not pinning: %s", ps->pins.refusals.v[i].text);
	if (ps->pins.refusals.n) {
		r = -EPERM;
		goto out;
	}
	/*
	 * Isolating first: the first AllowedCPUs= makes systemd enable the
	 * cpuset controller, and before 6.2 (no user_cpus_ptr) cpuset_attach()
	 * resets the affinity of every task it moves to the cpuset's CPUs,
	 * this VM's fresh pins included. The pins go on after, even when
	 * isolation failed (it is undone then). The dry run shows the pins
	 * first all the same: the plan is the same either way.
	 */
	r = isolate(ctx, vmid, &pol, ps);
	rp = gh_affinity_apply(ctx, &ps->pins);
	if (r >= 0)
		r = rp;
out:
	gh_policy_free(&pol);
	return r;
}

void gh_post_start_free(struct gh_post_start *ps)
{
	gh_affinity_free(&ps->pins);
	gh_strv_free(&ps->iso_steps);
	gh_strv_free(&ps->iso_undo);
}
