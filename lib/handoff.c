/* SPDX-License-Identifier: MIT */
#include "handoff.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"
#include "holders.h"
#include "modules.h"
#include "pci.h"
#include "plan.h"
#include "policy.h"
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

/*
 * The deadlines for a run that starts from a journal (recover, the undo at
 * the start of a new handoff): the policy of the journal's VM, or the
 * defaults when it cannot be read (the errors are logged, and undoing must
 * not wait on a config fix).
 */
static void journal_deadlines(struct gh_ctx *ctx, unsigned vmid, struct gh_deadlines *dl)
{
	struct gh_policy pol;

	if (gh_policy_load(ctx, vmid, &pol) < 0) {
		gh_policy_free(&pol);
		gh_warn(ctx, "the policy cannot be used: undoing with the default deadlines");
		if (gh_policy_init(&pol) < 0) {
			dl->step_ms = 10000;
			dl->module_ms = dl->service_ms = 60000;
			return;
		}
	}
	gh_plan_deadlines(&pol, dl);
	gh_policy_free(&pol);
}

/* Who a journal belongs to, for messages: "VM 111" or "a manual to-vfio". */
static void journal_owner(const struct gh_journal *j, char *buf, size_t size)
{
	if (j->vmid)
		snprintf(buf, size, "VM %u", j->vmid);
	else
		snprintf(buf, size, "a manual to-vfio");
}

/* Processes holding the nodes that keep the stuck call waiting, "" when none is seen. */
static void stuck_holders(struct gh_ctx *ctx, const char *driver, int group, char *buf, size_t size)
{
	struct gh_holder_set set = { 0 };
	struct gh_strv pats = { 0 };
	char node[32];
	size_t len = 0;

	buf[0] = '\0';
	/* nv_pci_remove waits while /dev/nvidiaN is open; vfio-pci's remove() while the group is. */
	if (driver && !strncmp(driver, "nvidia", 6) && gh_strv_add(&pats, "/dev/nvidia*") < 0)
		return;
	if (group >= 0 && gh_util_format(node, sizeof(node), "/dev/vfio/%d", group) >= 0 && gh_strv_add(&pats, node) < 0) {
		gh_strv_free(&pats);
		return;
	}
	if (pats.n && gh_holders_scan(ctx, &pats, &set) >= 0) {
		for (unsigned i = 0; i < set.n && i < 3; i++) {
			char desc[256];

			gh_holders_describe(&set.v[i], desc, sizeof(desc));
			len += (size_t)snprintf(buf + len, size > len ? size - len : 0, "%s%s", i ? "; " : "held by ", desc);
			if (len >= size)
				break;
		}
	}
	gh_holders_free(&set);
	gh_strv_free(&pats);
}

void gh_handoff_wedged_reason(struct gh_ctx *ctx, const struct gh_journals *js, const char *addr,
			      const char *driver, char *buf, size_t size)
{
	struct gh_journals own = { 0 };
	char cause[768] = "", held[512] = "", owner[32];
	const char *what = driver && driver[0] ? "probe() or another call under the device lock"
					       : "remove()";
	const char *stuck_driver = driver;
	char from[64] = "";
	int group = -1;

	/* Rare enough (something is stuck) that a caller without a snapshot gets one read here. */
	if (!js) {
		gh_journals_load(ctx, &own);
		js = &own;
	}
	for (unsigned k = 0; k < js->n && !cause[0]; k++) {
		struct gh_journal *j = &js->v[k];
		const struct gh_jdev *d = gh_journal_dev(j, addr);

		if (d) {
			int step = -1;

			group = d->iommu_group;
			journal_owner(j, owner, sizeof(owner));
			/* This device's own step first, then whatever else of that run got stuck (a module unload). */
			for (unsigned i = 0; i < j->n_steps && step < 0; i++)
				if (j->status[i] == GH_J_WEDGED && !strcmp(j->steps[i].op.target, addr))
					step = (int)i;
			for (unsigned i = 0; i < j->n_steps && step < 0; i++)
				if (j->status[i] == GH_J_WEDGED)
					step = (int)i;
			if (step >= 0) {
				const struct gh_op *op = &j->steps[step].op;
				char desc[512];

				gh_plan_describe(op, desc, sizeof(desc));
				if (op->action == GH_ACT_PROBE)
					what = "probe()";
				else if (op->action == GH_ACT_UNBIND || op->action == GH_ACT_MODULE_UNLOAD)
					what = "remove()";
				if (op->action == GH_ACT_UNBIND)
					gh_util_copy(from, sizeof(from), op->arg);
				else if (op->action == GH_ACT_MODULE_UNLOAD)
					gh_util_copy(from, sizeof(from), d->host_driver);
				snprintf(cause, sizeof(cause), "gpu-hook's step %d for %s timed out: %s (/run/gpu-hook/%s.json)",
					 step + 1, owner, desc, j->key);
			} else if (d->wedged) {
				snprintf(cause, sizeof(cause), "gpu-hook's way back for %s timed out on it (/run/gpu-hook/%s.json)",
					 owner, j->key);
				gh_util_copy(from, sizeof(from), "vfio-pci");
			}
		}
	}
	gh_journals_free(&own);
	if (from[0])
		stuck_driver = from;
	/* No driver and no journal: an NVIDIA display function was most likely leaving nvidia. */
	if (!stuck_driver || !stuck_driver[0]) {
		unsigned long vendor = 0, class = 0;

		if (gh_fs_read_ulong(ctx, &vendor, "/sys/bus/pci/devices/%s/vendor", addr) >= 0 &&
		    gh_fs_read_ulong(ctx, &class, "/sys/bus/pci/devices/%s/class", addr) >= 0 && vendor == 0x10de &&
		    (class >> 16) == 0x03)
			stuck_driver = "nvidia";
	}
	stuck_holders(ctx, stuck_driver, group, held, sizeof(held));
	snprintf(buf, size, "wedged: %s stuck in the kernel; %s%s%s", what,
		 cause[0] ? cause : "no gpu-hook journal names it (another program's unbind or probe?)",
		 held[0] ? "; " : "", held);
}

/*
 * Functions of a journal that do not answer under their device lock: a
 * write now would only join the stuck call. Each is named with its reason;
 * -EBUSY when any. h (may be NULL): the host this phase loaded, whose
 * functions a journal holds were read through the device lock already
 * (gh_journals_mark_suspects), so their answer stands and is not asked again.
 */
static int journal_wedged(struct gh_ctx *ctx, const struct gh_journals *js, const struct gh_host *h,
			  const struct gh_journal *j, const char *refusing)
{
	int r = 0;

	for (unsigned i = 0; i < j->n_dev; i++) {
		const struct gh_func *f = h ? gh_host_func(h, j->dev[i].addr) : NULL;
		char reason[1536], drv[64] = "";

		if (f ? !f->dev.wedged : gh_pci_lock_stuck(ctx, j->dev[i].addr) != 1)
			continue;
		gh_fs_link_base(ctx, drv, sizeof(drv), "/sys/bus/pci/devices/%s/driver", j->dev[i].addr);
		gh_handoff_wedged_reason(ctx, js, j->dev[i].addr, drv, reason, sizeof(reason));
		gh_err(ctx, "%s: %s is %s; run 'gpu-hook recover %s' once it answers", refusing, j->dev[i].addr, reason,
		       j->key);
		r = -EBUSY;
	}
	return r;
}

int gh_handoff_wedged_refusals(struct gh_ctx *ctx, const struct gh_host *h, struct gh_refusals *refusals)
{
	int r = 0;

	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		char reason[1536];

		if (!h->f[i].dev.wedged)
			continue;
		gh_handoff_wedged_reason(ctx, &h->journals, h->f[i].dev.addr, h->f[i].dev.driver, reason, sizeof(reason));
		r = gh_refusal_add(refusals, GH_REFUSAL_WEDGED, "%s is %s", h->f[i].dev.addr, reason);
	}
	return r;
}

/* Functions that another journal holds: that VM (or a manual to-vfio) has them. */
static int other_owners(struct gh_ctx *ctx, const struct gh_host *h, const char *key, struct gh_refusals *refusals)
{
	const struct gh_journals *js = &h->journals;
	int r = js->error;

	for (size_t k = 0; k < js->unreadable.n; k++)
		if (strcmp(js->unreadable.v[k], key))
			gh_warn(ctx, "ignoring unreadable journal /run/gpu-hook/%s.json", js->unreadable.v[k]);
	for (unsigned k = 0; k < js->n && r >= 0; k++) {
		struct gh_journal *j = &js->v[k];

		if (!strcmp(j->key, key))
			continue;
		for (unsigned i = 0; i < h->n_f && r >= 0; i++)
			if (gh_journal_dev(j, h->f[i].dev.addr))
				r = gh_refusal_add(refusals, GH_REFUSAL_OWNER, "%s is handed to %s%s by gpu-hook "
						   "(/run/gpu-hook/%s.json): stop it first", h->f[i].dev.addr,
						   j->vmid ? "VM " : "", j->vmid ? j->key : "a manual to-vfio", j->key);
	}
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

	/*
	 * A group's file, the container's and a device fd are all vfio.ko's
	 * (vfio_group_fops, vfio_fops, vfio_device_fops): with its use count
	 * down to its user modules, no process has anything of VFIO open, and
	 * /proc need not be read. Anything more (another VM, a device fd kept
	 * behind a closed group fd) and the scan looks for who.
	 */
	if (nodes->n && gh_modules_idle(ctx, "vfio") == 1) {
		gh_dbg(ctx, "vfio's use count is its user modules' alone: nothing holds a VFIO file open");
		return 0;
	}
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
	r = journal_wedged(ctx, NULL, NULL, &j, "cannot undo it");
	if (r >= 0)
		r = journal_held(ctx, &j);
	if (r >= 0) {
		struct gh_deadlines dl;

		journal_deadlines(ctx, j.vmid, &dl);
		r = gh_run_return(ctx, &j, &dl);
	}
	if (r < 0)
		gh_err(ctx, "cannot undo the earlier handoff; not starting a new one. Run 'gpu-hook recover %s' once the "
			    "cause is fixed", key);
	gh_journal_free(&j);
	return r;
}

int gh_handoff_to_vfio(struct gh_ctx *ctx, const struct gh_host *h, const char *key)
{
	unsigned long long t0 = gh_timebox_now_ms();
	struct gh_deadlines dl;
	struct gh_journal j;
	struct gh_plan p;
	int r;

	gh_plan_deadlines(&h->pol, &dl);
	r = gh_plan_build(h, GH_TO_VFIO, &p);
	if (r < 0) {
		gh_err(ctx, "cannot build the plan: %s", strerror(-r));
		return r;
	}
	r = other_owners(ctx, h, key, &p.refusals);
	if (r >= 0)
		r = gh_handoff_wedged_refusals(ctx, h, &p.refusals);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < p.notes.n; i++)
		gh_info(ctx, "%s", p.notes.v[i]);
	if (p.refusals.n) {
		for (size_t i = 0; i < p.refusals.n; i++)
			gh_err(ctx, "refusing: %s", p.refusals.v[i].text);
		r = -EPERM;
		goto out;
	}
	if (!p.n)
		goto out;
	/* vfio-pci must be there before anything changes: loading it later would strand the card. */
	if (gh_fs_exists(ctx, "/sys/bus/pci/drivers/vfio-pci") <= 0) {
		struct gh_op load = { .action = GH_ACT_MODULE_LOAD, .target = "vfio_pci" };

		r = gh_run_op(ctx, &load, &dl, NULL);
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
	r = gh_run_forward(ctx, &j, &dl);
	if (r < 0) {
		int u;

		gh_err(ctx, "the handoff failed: undoing what was done");
		u = gh_run_return(ctx, &j, &dl);
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
	struct gh_deadlines dl;
	struct gh_journal j;
	struct gh_plan p;
	int r;

	gh_plan_deadlines(&h->pol, &dl);
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
		r = journal_wedged(ctx, &h->journals, h, &j, "not giving the card back");
		if (r >= 0)
			r = journal_held(ctx, &j);
		if (r < 0) {
			gh_journal_free(&j);
			return r;
		}
		r = gh_run_return(ctx, &j, &dl);
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
		gh_warn(ctx, "%s", p.refusals.v[i].text);
	/* A wedged function would only add a write that joins the stuck call. */
	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		if (h->f[i].dev.wedged) {
			char reason[1536];

			gh_handoff_wedged_reason(ctx, &h->journals, h->f[i].dev.addr, h->f[i].dev.driver, reason, sizeof reason);
			gh_err(ctx, "not giving the card back: %s is %s; run post-stop again once it answers",
			       h->f[i].dev.addr, reason);
			r = -EBUSY;
		}
	}
	if (r < 0) {
		gh_plan_free(&p);
		return r;
	}
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
		r = gh_run_plan(ctx, &p, &dl);
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

	gh_handoff_key(vmid, key, sizeof(key));
	r = gh_journal_load(ctx, key, &j);
	if (r < 0) {
		memset(h, 0, sizeof(*h));
		h->vmid = vmid;
		return r == -ENOENT ? 0 : r;
	}
	r = gh_host_load_journal(ctx, &j, h);
	gh_journal_free(&j);
	return r < 0 ? r : 1;
}

int gh_handoff_recover(struct gh_ctx *ctx, const char *key)
{
	struct gh_deadlines dl;
	struct gh_journal j;
	int r = gh_journal_load(ctx, key, &j);

	if (r == -ENOENT) {
		gh_info(ctx, "no journal /run/gpu-hook/%s.json: nothing to recover", key);
		return 1;
	}
	if (r < 0)
		return r;
	/* Still stuck: refused before the wedged marks are cleared, so nothing changes. */
	r = journal_wedged(ctx, NULL, NULL, &j, "refusing to recover");
	if (r < 0) {
		gh_journal_free(&j);
		return r;
	}
	gh_run_unwedge(&j);
	r = journal_held(ctx, &j);
	if (r < 0) {
		gh_journal_free(&j);
		return r;
	}
	journal_deadlines(ctx, j.vmid, &dl);
	r = gh_run_return(ctx, &j, &dl);
	if (r < 0)
		gh_err(ctx, "recovery of %s is not complete: /run/gpu-hook/%s.json keeps the rest", key, key);
	else
		gh_notice(ctx, "recovered: everything in /run/gpu-hook/%s.json is back on the host", key);
	gh_journal_free(&j);
	return r;
}
