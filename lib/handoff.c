/* SPDX-License-Identifier: MIT */
#include "handoff.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"
#include "holders.h"
#include "plan.h"
#include "run.h"
#include "timebox.h"

void gh_handoff_key(unsigned vmid, char *buf, size_t size)
{
	if (vmid)
		snprintf(buf, size, "%u", vmid);
	else
		snprintf(buf, size, "manual");
}

static bool all_on(struct gh_ctx *ctx, const struct gh_journal *j, const char *driver)
{
	for (unsigned i = 0; i < j->n_dev; i++) {
		char cur[64] = "";

		gh_fs_link_base(ctx, cur, sizeof(cur), "/sys/bus/pci/devices/%s/driver", j->dev[i].addr);
		if (strcmp(cur, driver))
			return false;
	}
	return j->n_dev > 0;
}

/* Functions that another journal holds: that VM (or a manual to-vfio) has them. */
static int other_owners(struct gh_ctx *ctx, const struct gh_host *h, const char *key, struct gh_strv *refusals)
{
	struct gh_strv keys = { 0 };
	int r = gh_journal_list(ctx, &keys);

	for (size_t k = 0; k < keys.n && r >= 0; k++) {
		struct gh_journal j;

		if (!strcmp(keys.v[k], key))
			continue;
		if (gh_journal_load(ctx, keys.v[k], &j) < 0) {
			gh_warn(ctx, "ignoring unreadable journal /run/gpu-hook/%s.json", keys.v[k]);
			continue;
		}
		for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
			char msg[256];

			if (!gh_journal_dev(&j, h->f[i].dev.addr))
				continue;
			snprintf(msg, sizeof(msg), "%s is handed to %s%s by gpu-hook (/run/gpu-hook/%s.json): stop it first",
				 h->f[i].dev.addr, j.vmid ? "VM " : "", j.vmid ? keys.v[k] : "a manual to-vfio", keys.v[k]);
			r = gh_strv_add(refusals, msg);
		}
		gh_journal_free(&j);
	}
	gh_strv_free(&keys);
	return r;
}

/* "/dev/vfio/<group>" once in nodes; nothing for a function without a group. */
static int add_group_node(struct gh_strv *nodes, int group)
{
	char p[32];

	if (group < 0)
		return 0;
	if (gh_util_format(p, sizeof(p), "/dev/vfio/%d", group) < 0)
		return -ENAMETOOLONG;
	return gh_strv_contains(nodes, p) ? 0 : gh_strv_add(nodes, p);
}

/*
 * A process that still has a card's VFIO group open (a QEMU that has not exited)
 * keeps vfio-pci's remove() waiting in the kernel until it lets go: unbinding
 * then would only hang. Each such holder is named, once. -EBUSY when any.
 */
static int vfio_held(struct gh_ctx *ctx, const struct gh_strv *nodes, const char *then)
{
	struct gh_holder_set set = { 0 };
	int r = 0;

	if (nodes->n) {
		r = gh_holders_scan(ctx, nodes, &set);
		/* Not knowing is no reason to keep the card: every step is timeboxed anyway. */
		if (r < 0) {
			gh_warn(ctx, "cannot tell whether anything still holds the card through VFIO: %s", strerror(-r));
			r = 0;
		}
	}
	for (unsigned i = 0; i < set.n; i++) {
		char desc[512];

		gh_holders_describe(&set.v[i], desc, sizeof(desc));
		gh_err(ctx, "%s still holds the card through VFIO (the VM's QEMU has not exited?): giving it back now "
			    "would hang in vfio-pci, so it stays there; once that process is gone, run %s", desc, then);
	}
	if (set.n)
		r = -EBUSY;
	gh_holders_free(&set);
	return r;
}

static int journal_held(struct gh_ctx *ctx, const struct gh_journal *j)
{
	struct gh_strv nodes = { 0 };
	char then[64];
	int r = 0;

	if (gh_util_format(then, sizeof(then), "'gpu-hook recover %s'", j->key) < 0)
		return -ENAMETOOLONG;
	for (unsigned i = 0; i < j->n_dev && r >= 0; i++)
		r = add_group_node(&nodes, j->dev[i].iommu_group);
	if (r >= 0)
		r = vfio_held(ctx, &nodes, then);
	gh_strv_free(&nodes);
	return r;
}

int gh_handoff_settle(struct gh_ctx *ctx, const char *key, bool *already)
{
	struct gh_journal j;
	int r;

	*already = false;
	r = gh_journal_dir(ctx);
	if (r < 0)
		return r;
	r = gh_journal_load(ctx, key, &j);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (j.complete && all_on(ctx, &j, "vfio-pci")) {
		*already = true;
		gh_info(ctx, "already handed off: every function in /run/gpu-hook/%s.json is on vfio-pci", key);
		gh_journal_free(&j);
		return 0;
	}
	gh_warn(ctx, "an earlier handoff (/run/gpu-hook/%s.json) did not finish or was changed since: undoing it first",
		key);
	r = journal_held(ctx, &j);
	if (r >= 0)
		r = gh_run_return(ctx, &j, 10000);
	if (r < 0)
		gh_err(ctx, "cannot undo the earlier handoff; not starting a new one. Run 'gpu-hook recover %s' once the "
			    "cause is fixed", key);
	gh_journal_free(&j);
	return r;
}

int gh_handoff_to_vfio(struct gh_ctx *ctx, const struct gh_host *h, const char *key)
{
	unsigned long long t0 = gh_timebox_now_ms();
	struct gh_journal j;
	struct gh_plan p;
	int r;

	r = gh_plan_build(h, GH_TO_VFIO, &p);
	if (r < 0) {
		gh_err(ctx, "cannot build the plan: %s", strerror(-r));
		return r;
	}
	r = other_owners(ctx, h, key, &p.refusals);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < p.notes.n; i++)
		gh_info(ctx, "%s", p.notes.v[i]);
	if (p.refusals.n) {
		for (size_t i = 0; i < p.refusals.n; i++)
			gh_err(ctx, "refusing: %s", p.refusals.v[i]);
		r = -EPERM;
		goto out;
	}
	if (!p.n)
		goto out;
	/* vfio-pci must be there before anything changes: loading it later would strand the card. */
	if (gh_fs_exists(ctx, "/sys/bus/pci/drivers/vfio-pci") <= 0) {
		struct gh_op load = { .action = GH_ACT_MODULE_LOAD, .target = "vfio_pci" };

		r = gh_run_op(ctx, &load, h->pol.timeout_ms, NULL);
		if (r < 0) {
			gh_err(ctx, "refusing: vfio-pci cannot be loaded; nothing was changed");
			goto out;
		}
	}
	r = gh_journal_init(&j, key, h->vmid, "to-vfio", h, &p);
	if (r < 0) {
		gh_err(ctx, "cannot start the journal: %s", strerror(-r));
		goto out;
	}
	r = gh_journal_save(ctx, &j);
	if (r < 0) {
		gh_err(ctx, "refusing: the journal cannot be written, and nothing may change without it; nothing was changed");
		gh_journal_free(&j);
		goto out;
	}
	r = gh_run_forward(ctx, &j, h->pol.timeout_ms);
	if (r < 0) {
		int u;

		gh_err(ctx, "the handoff failed: undoing what was done");
		u = gh_run_return(ctx, &j, h->pol.timeout_ms);
		if (u < 0)
			gh_err(ctx, "NOT everything could be undone: /run/gpu-hook/%s.json keeps the rest; run 'gpu-hook "
				    "recover %s' once the cause is fixed", key, key);
		else
			gh_notice(ctx, "undone: the host is as it was before");
	} else {
		gh_notice(ctx, "%u function%s on vfio-pci (%llu ms)", h->n_f, h->n_f == 1 ? "" : "s",
			  gh_timebox_now_ms() - t0);
	}
	gh_journal_free(&j);
out:
	gh_plan_free(&p);
	return r;
}

int gh_handoff_to_host(struct gh_ctx *ctx, const struct gh_host *h, const char *key)
{
	unsigned long long t0 = gh_timebox_now_ms();
	struct gh_journal j;
	struct gh_plan p;
	int r;

	r = gh_journal_dir(ctx);
	if (r < 0)
		return r;
	r = gh_journal_load(ctx, key, &j);
	if (r == 0) {
		if (!h->pol.restore) {
			gh_info(ctx, "restore = no: the functions stay on vfio-pci (/run/gpu-hook/%s.json is kept)", key);
			gh_journal_free(&j);
			return 0;
		}
		gh_info(ctx, "giving back what /run/gpu-hook/%s.json records", key);
		r = journal_held(ctx, &j);
		if (r < 0) {
			gh_journal_free(&j);
			return r;
		}
		r = gh_run_return(ctx, &j, h->pol.timeout_ms);
		if (r < 0)
			gh_err(ctx, "NOT everything came back: /run/gpu-hook/%s.json keeps the rest; run 'gpu-hook recover "
				    "%s' once the cause is fixed", key, key);
		else
			gh_notice(ctx, "back on the host (%llu ms)", gh_timebox_now_ms() - t0);
		gh_journal_free(&j);
		return r;
	}
	if (r != -ENOENT)
		return r;
	/* No journal: give back what sysfs shows on vfio-pci. */
	r = gh_plan_build(h, GH_TO_HOST, &p);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p.notes.n; i++)
		gh_info(ctx, "%s", p.notes.v[i]);
	for (size_t i = 0; i < p.refusals.n; i++)
		gh_warn(ctx, "%s", p.refusals.v[i]);
	if (p.n) {
		struct gh_strv nodes = { 0 };

		for (unsigned i = 0; i < h->n_f && r >= 0; i++)
			if (!strcmp(h->f[i].dev.driver, "vfio-pci"))
				r = add_group_node(&nodes, h->f[i].dev.iommu_group);
		if (r >= 0)
			r = vfio_held(ctx, &nodes, h->vmid ? "post-stop again" : "'gpu-hook to-host' again");
		gh_strv_free(&nodes);
	}
	if (p.n && r >= 0) {
		gh_info(ctx, "no journal in /run/gpu-hook: returning what sysfs shows");
		r = gh_run_plan(ctx, &p, h->pol.timeout_ms);
		if (r >= 0)
			gh_notice(ctx, "back on the host (%llu ms)", gh_timebox_now_ms() - t0);
	}
	gh_plan_free(&p);
	return r;
}

int gh_handoff_load_journal(struct gh_ctx *ctx, unsigned vmid, struct gh_host *h)
{
	struct gh_journal j;
	char key[32];
	int r;

	memset(h, 0, sizeof(*h));
	h->vmid = vmid;
	gh_handoff_key(vmid, key, sizeof(key));
	r = gh_journal_load(ctx, key, &j);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = gh_host_load_journal(ctx, &j, h);
	gh_journal_free(&j);
	return r < 0 ? r : 1;
}

int gh_handoff_recover(struct gh_ctx *ctx, const char *key)
{
	struct gh_journal j;
	int r = gh_journal_load(ctx, key, &j);

	if (r == -ENOENT) {
		gh_info(ctx, "no journal /run/gpu-hook/%s.json: nothing to recover", key);
		return 1;
	}
	if (r < 0)
		return r;
	gh_run_unwedge(&j);
	r = journal_held(ctx, &j);
	if (r < 0) {
		gh_journal_free(&j);
		return r;
	}
	r = gh_run_return(ctx, &j, 10000);
	if (r < 0)
		gh_err(ctx, "recovery of %s is not complete: /run/gpu-hook/%s.json keeps the rest", key, key);
	else
		gh_notice(ctx, "recovered: everything in /run/gpu-hook/%s.json is back on the host", key);
	gh_journal_free(&j);
	return r;
}
