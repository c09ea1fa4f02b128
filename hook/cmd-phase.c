/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "host.h"
#include "plan.h"
#include "affinity.h"
#include "cpulist.h"
#include "handoff.h"
#include "journal.h"
#include "fs.h"
#include "isolate.h"
#include "run.h"
#include "vmconf.h"
#include "watch.h"

static void print_plan_text(FILE *out, const struct gh_plan *p, const struct gh_host *h, const char *phase,
			    bool dry_run)
{
	const char *target = p->dir == GH_TO_VFIO ? "vfio-pci" : "the host drivers";
	struct gh_deadlines dl;
	char line[512];

	gh_plan_deadlines(&h->pol, &dl);
	fprintf(out, "VM %u %s: %u function%s -> %s%s\n", h->vmid, phase, h->n_f, h->n_f == 1 ? "" : "s", target,
		dry_run ? " (dry run: nothing is changed)" : "");
	if (h->n_f)
		fprintf(out, "devices:\n");
	for (unsigned i = 0; i < h->n_f; i++) {
		const struct gh_func *f = &h->f[i];
		const char *to = p->dir == GH_TO_VFIO ? "vfio-pci" : (f->host_driver[0] ? f->host_driver : "(none)");
		char grp[16] = "none";

		if (f->dev.iommu_group >= 0)
			snprintf(grp, sizeof(grp), "%d", f->dev.iommu_group);
		fprintf(out, "  %s  %04x:%04x  class 0x%06x  %s -> %s  group %s", f->dev.addr, f->dev.vendor,
			f->dev.device, f->dev.class, f->dev.driver[0] ? f->dev.driver : "(none)", to, grp);
		if (f->hostpci >= 0)
			fprintf(out, "  (hostpci%d)", f->hostpci);
		else if (f->added)
			fprintf(out, "  (same card)");
		fputc('\n', out);
	}
	if (h->gpu_driver[0]) {
		fprintf(out, "host: %s", h->single_gpu ? "one GPU on " : "more than one GPU on ");
		fprintf(out, "%s", h->gpu_driver);
		if (!h->single_gpu)
			fprintf(out, " (%zu other function%s stay%s: modules stay loaded%s)", h->others.n,
				h->others.n == 1 ? "" : "s", h->others.n == 1 ? "s" : "",
				h->reload.n ? ", nvidia-drm reloads around the unbind" : "");
		else if (h->stack.n)
			fprintf(out, " (module stack: %zu module%s)", (size_t)h->stack.n, h->stack.n == 1 ? "" : "s");
		fprintf(out, "; console %s\n", h->console_on_card ? "on this card" : "elsewhere");
	}
	if (p->n)
		fprintf(out, "steps:\n");
	for (unsigned i = 0; i < p->n; i++) {
		if (gh_plan_describe(&p->v[i].op, line, sizeof(line)) < 0)
			snprintf(line, sizeof(line), "%s %s", gh_plan_action_name(p->v[i].op.action), p->v[i].op.target);
		unsigned ms = gh_plan_deadline_ms(&dl, p->v[i].op.action);

		if (ms % 1000)
			fprintf(out, "  %2u. %s (deadline %u ms)\n", i + 1, line, ms);
		else
			fprintf(out, "  %2u. %s (deadline %u s)\n", i + 1, line, ms / 1000);
		if (p->v[i].undo.action != GH_ACT_NONE && gh_plan_describe(&p->v[i].undo, line, sizeof(line)) >= 0)
			fprintf(out, "      undo: %s\n", line);
	}
	if (!p->n && !p->refusals.n)
		fprintf(out, "no steps: nothing to do\n");
	if (p->notes.n)
		fprintf(out, "notes:\n");
	for (size_t i = 0; i < p->notes.n; i++)
		fprintf(out, "  - %s\n", p->notes.v[i]);
	if (p->refusals.n)
		fprintf(out, "REFUSED (%zu reason%s):\n", p->refusals.n, p->refusals.n == 1 ? "" : "s");
	for (size_t i = 0; i < p->refusals.n; i++)
		fprintf(out, "  - %s\n", p->refusals.v[i]);
}

static struct json_object *strv_json(const struct gh_strv *sv)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < sv->n; i++)
		json_object_array_add(a, json_object_new_string(sv->v[i]));
	return a;
}

static int print_json(struct json_object *o)
{
	const char *s;

	if (!o)
		return -ENOMEM;
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	fprintf(stdout, "%s\n", s);
	json_object_put(o);
	return fflush(stdout) == 0 ? 0 : -EIO;
}

/* Holds the global lock for the whole run; waits at most this long for another run. */
#define LOCK_WAIT_MS 60000

static int print_plan(const struct gh_opts *o, const struct gh_plan *p, const struct gh_host *h, const char *phase)
{
	if (o->json)
		return print_json(gh_plan_to_json(p, h, phase, true));
	print_plan_text(stdout, p, h, phase, true);
	return 0;
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
	r = gh_run_build_return(&j, p, &undoes);
	free(undoes);
	gh_journal_free(&j);
	if (r >= 0) {
		char note[128];

		snprintf(note, sizeof(note), "from the journal /run/gpu-hook/%s.json (the VM config is not read)", key);
		r = gh_strv_push(&p->notes, note);
	}
	return r;
}

/*
 * A Proxmox reboot (qm cleanup) runs post-stop with /run/qemu-server/<vmid>.reboot
 * present and starts the VM again a second later: giving the card back there
 * would reload the whole NVIDIA stack for nothing. Post-stop keeps a complete
 * handoff and arms the watcher, which gives the card back if the restart
 * never comes. 1 when kept, 0 when post-stop goes on, -errno.
 */
static int keep_for_reboot(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid, const char *key)
{
	struct gh_journal j;
	int r = gh_watch_reboot_requested(ctx, vmid);

	if (r <= 0)
		return r;
	r = gh_journal_load(ctx, key, &j);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	r = j.complete;
	gh_journal_free(&j);
	if (!r)
		return 0;
	if (o->dry_run) {
		printf("VM %u post-stop: a Proxmox reboot is under way (/run/qemu-server/%u.reboot): the card stays on "
		       "vfio-pci for the restart (dry run: nothing is changed)\n", vmid, vmid);
		return 1;
	}
	gh_notice(ctx, "a Proxmox reboot is under way (/run/qemu-server/%u.reboot): the card stays on vfio-pci for the restart",
		  vmid);
	r = gh_hook_watch_arm(ctx, o, vmid, GH_WATCH_REBOOT);
	return r < 0 ? r : 1;
}

/* After pre-start took the card: under Proxmox's start (its config lock held), leave the watcher behind. */
static void arm_after_start(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid)
{
	int r = gh_watch_config_locked(ctx, vmid);

	if (r < 0)
		gh_warn(ctx, "cannot read /var/lock/qemu-server/lock-%u.conf: %s: no watcher armed", vmid, strerror(-r));
	else if (r == 0)
		gh_dbg(ctx, "the VM's config lock is free (a pre-start by hand): no watcher armed");
	else
		(void)gh_hook_watch_arm(ctx, o, vmid, GH_WATCH_START);
}

/* The phases and to-vfio/to-host share this once the global lock is held: settle, read the host, plan or run. */
static int handoff_locked(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid, const struct gh_strv *addrs,
			  const char *phase, enum gh_direction dir)
{
	struct gh_plan plan = { 0 };
	struct gh_host h = { 0 };
	char key[32];
	int r;
	bool already = false;

	gh_handoff_key(vmid, key, sizeof(key));
	if (vmid && dir == GH_TO_HOST && !strcmp(phase, "post-stop")) {
		r = keep_for_reboot(ctx, o, vmid, key);
		if (r != 0)
			goto out;
		if (!o->dry_run)
			gh_watch_disarm(ctx, vmid);
	}
	if (!o->dry_run && dir == GH_TO_VFIO) {
		r = gh_handoff_settle(ctx, key, &already);
		if (r < 0)
			goto out;
		if (already)
			goto done;
	}
	gh_handoff_mark_suspects(ctx);
	/* Giving back works from the journal when there is one: the VM config may have changed since. */
	r = vmid && dir == GH_TO_HOST ? gh_handoff_load_journal(ctx, vmid, &h) : 0;
	if (r == 0)
		r = vmid ? gh_host_load(ctx, vmid, &h) : gh_host_load_addrs(ctx, addrs, &h);
	if (r < 0)
		goto out;
	if (o->dry_run) {
		r = dir == GH_TO_VFIO ? gh_plan_build(&h, dir, &plan) : dry_run_to_host(ctx, &h, key, &plan);
		if (r >= 0)
			r = gh_handoff_wedged_refusals(ctx, &h, &plan.refusals);
		if (r < 0) {
			gh_err(ctx, "cannot build the plan: %s", strerror(-r));
			goto out;
		}
		if (vmid && dir == GH_TO_VFIO && !strcmp(phase, "pre-start"))
			r = gh_strv_push(&plan.notes, "run by Proxmox's start (its config lock held), pre-start leaves a "
						      "watcher: if QEMU does not come up, the card goes back (gpu-hook(8), WATCHER)");
		if (r >= 0)
			r = print_plan(o, &plan, &h, phase);
		if (r >= 0 && plan.refusals.n)
			r = -EPERM;
		goto out;
	}
	r = dir == GH_TO_VFIO ? gh_handoff_to_vfio(ctx, &h, key) : gh_handoff_to_host(ctx, &h, key);
done:
	if (r >= 0 && vmid && dir == GH_TO_VFIO && !strcmp(phase, "pre-start"))
		arm_after_start(ctx, o, vmid);
out:
	gh_plan_free(&plan);
	gh_host_free(&h);
	return r < 0 ? GH_EXIT_FAIL : GH_EXIT_OK;
}

static int handoff(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid, const struct gh_strv *addrs,
		   const char *phase, enum gh_direction dir)
{
	int lock = -1, rc;

	if (!o->dry_run && gh_journal_lock(ctx, LOCK_WAIT_MS, &lock) < 0)
		return GH_EXIT_FAIL;
	rc = handoff_locked(ctx, o, vmid, addrs, phase, dir);
	/* The host gets the VM's CPUs back whatever happened to the card. */
	if (!o->dry_run && vmid && dir == GH_TO_HOST && gh_isolate_stop(ctx, vmid) < 0)
		rc = GH_EXIT_FAIL;
	gh_journal_unlock(lock);
	return rc;
}

int gh_hook_give_back(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid)
{
	struct gh_opts run = *o;

	run.dry_run = false;
	/* Not "post-stop": a reboot file left behind must not keep the card again and re-arm forever. */
	return handoff_locked(ctx, &run, vmid, NULL, "watcher", GH_TO_HOST);
}

static void pin_text(const struct gh_pin *t, char *now, size_t now_size, char *want, size_t want_size)
{
	if (gh_cpulist_format(&t->now, now, now_size) < 0)
		snprintf(now, now_size, "?");
	if (t->leave)
		snprintf(want, want_size, "(left alone)");
	else if (gh_cpulist_format(&t->want, want, want_size) < 0)
		snprintf(want, want_size, "?");
}

static int print_pins(const struct gh_opts *o, unsigned vmid, const struct gh_pinplan *pp)
{
	char now[256], want[256], comm[64];

	if (o->json) {
		struct json_object *root = json_object_new_object(), *steps, *threads;

		if (!root)
			return -ENOMEM;
		json_object_object_add(root, "vmid", json_object_new_int64(vmid));
		json_object_object_add(root, "phase", json_object_new_string("post-start"));
		json_object_object_add(root, "dry_run", json_object_new_boolean(true));
		json_object_object_add(root, "pid", pp->pid ? json_object_new_int(pp->pid) : NULL);
		json_object_object_add(root, "devices", json_object_new_array());
		steps = json_object_new_array();
		threads = json_object_new_array();
		for (unsigned i = 0; i < pp->n; i++) {
			const struct gh_pin *t = &pp->v[i];
			struct json_object *th = json_object_new_object();
			char desc[384], tid[16];

			pin_text(t, now, sizeof(now), want, sizeof(want));
			json_object_object_add(th, "tid", json_object_new_int(t->tid));
			json_object_object_add(th, "name", json_object_new_string(t->comm));
			json_object_object_add(th, "vcpu", t->vcpu >= 0 ? json_object_new_int(t->vcpu) : NULL);
			json_object_object_add(th, "cpus_now", json_object_new_string(now));
			json_object_object_add(th, "cpus", t->leave ? NULL : json_object_new_string(want));
			json_object_array_add(threads, th);
			if (t->leave)
				continue;
			snprintf(tid, sizeof(tid), "%d", (int)t->tid);
			snprintf(desc, sizeof(desc), "pin thread %d (%s) to CPUs %s (sched_setaffinity)", (int)t->tid,
				 gh_util_escape(t->comm, comm, sizeof(comm)), want);
			th = json_object_new_object();
			json_object_object_add(th, "action", json_object_new_string("pin"));
			json_object_object_add(th, "target", json_object_new_string(tid));
			json_object_object_add(th, "arg", json_object_new_string(want));
			json_object_object_add(th, "description", json_object_new_string(desc));
			json_object_array_add(steps, th);
		}
		json_object_object_add(root, "steps", steps);
		json_object_object_add(root, "threads", threads);
		json_object_object_add(root, "refusals", strv_json(&pp->refusals));
		json_object_object_add(root, "notes", strv_json(&pp->notes));
		return print_json(root);
	}
	printf("VM %u post-start: pin %u vCPU%s of QEMU pid %d (dry run: nothing is changed)\n", vmid, pp->n_vcpus,
	       pp->n_vcpus == 1 ? "" : "s", (int)pp->pid);
	if (pp->n)
		printf("  %-8s %-16s %-5s %-12s %s\n", "TID", "THREAD", "VCPU", "CPUS NOW", "CPUS");
	for (unsigned i = 0; i < pp->n; i++) {
		const struct gh_pin *t = &pp->v[i];
		char vc[16] = "-";

		pin_text(t, now, sizeof(now), want, sizeof(want));
		if (t->vcpu >= 0)
			snprintf(vc, sizeof(vc), "%d", t->vcpu);
		printf("  %-8d %-16s %-5s %-12s %s\n", (int)t->tid, gh_util_escape(t->comm, comm, sizeof(comm)), vc, now,
		       want);
	}
	for (size_t i = 0; i < pp->notes.n; i++)
		printf("note: %s\n", pp->notes.v[i]);
	if (pp->refusals.n)
		printf("REFUSED (%zu reason%s):\n", pp->refusals.n, pp->refusals.n == 1 ? "" : "s");
	for (size_t i = 0; i < pp->refusals.n; i++)
		printf("  - %s\n", pp->refusals.v[i]);
	return 0;
}

/* post-start: each vCPU thread on its own host CPU, QEMU's other threads apart. */
static void print_isolation(const struct gh_opts *o, unsigned vmid, const struct gh_strv *steps,
			    const struct gh_strv *undo, const char *why)
{
	if (o->json) {
		print_json(gh_isolate_steps_to_json(vmid, steps, undo, why));
		return;
	}
	printf("VM %u post-start: isolate its CPUs from the host (dry run: nothing is changed)\n", vmid);
	for (size_t i = 0; i < steps->n; i++)
		printf("  %zu. %s\n     undo: %s\n", i + 1, steps->v[i], undo->v[i]);
	if (why[0])
		printf("REFUSED: %s\n", why);
}

/*
 * [isolation] after pinning (lib/isolate.h): its CPUs default to the pinned
 * ones. A VM without it, started while others are isolated, has its scope
 * narrowed like the other VMs' (gh_isolate_refresh).
 */
static int isolate_after_start(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid,
			       const struct gh_policy *pol)
{
	struct gh_strv steps = { 0 }, undo = { 0 }, devs = { 0 };
	struct gh_isolate_req req = { .vmid = vmid, .housekeeping_min = pol->iso_housekeeping_min,
				      .slices = pol->iso_slices, .writeback = pol->iso_writeback, .irqs = pol->iso_irqs,
				      .governor = pol->iso_governor, .scopes = pol->iso_other_vms, .devs = &devs };
	char why[256] = "";
	int lock = -1, r;

	/* Nothing isolated, nothing asked: not even the lock is taken. */
	if (!pol->isolate && gh_fs_exists(ctx, "%s", GH_ISOLATE_STATE) <= 0)
		return 0;
	req.cpus = pol->iso_cpus;
	if (pol->isolate && !CPU_COUNT(&req.cpus)) {
		CPU_OR(&req.cpus, &req.cpus, &pol->others);
		for (size_t i = 0; i < pol->n_vcpus; i++)
			CPU_SET(pol->vcpus[i], &req.cpus);
	}
	if (pol->isolate && !CPU_COUNT(&req.cpus)) {
		gh_err(ctx, "not isolating: [isolation] cpus is not set and [pinning] pins no CPU");
		return -EINVAL;
	}
	if (pol->isolate && pol->iso_irqs)
		gh_isolate_vm_devs(ctx, vmid, &devs);
	if (o->dry_run) {
		r = pol->isolate ? gh_isolate_plan(ctx, &req, &steps, &undo, why, sizeof(why))
				 : gh_isolate_refresh(ctx, vmid, &steps, &undo);
		if (pol->isolate || steps.n)
			print_isolation(o, vmid, &steps, &undo, why);
	} else if (gh_journal_lock(ctx, LOCK_WAIT_MS, &lock) < 0) {
		r = -EAGAIN;
	} else {
		r = pol->isolate ? gh_isolate_start(ctx, &req, why, sizeof(why)) : gh_isolate_refresh(ctx, vmid, NULL, NULL);
		gh_journal_unlock(lock);
		if (r == -EPERM)
			gh_err(ctx, "not isolating: %s", why);
	}
	gh_strv_free(&steps);
	gh_strv_free(&undo);
	gh_strv_free(&devs);
	return r;
}

static int post_start(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid)
{
	struct gh_vmconf vm;
	struct gh_policy pol = { 0 };
	struct gh_pinplan pp = { 0 };
	int r;

	r = gh_vmconf_open(ctx, vmid, &vm);
	if (r >= 0)
		r = gh_policy_load(ctx, vmid, &pol);
	/* Pinning reads affinity, and the vCPU count only when there is something to pin. */
	if (r >= 0)
		r = gh_vmconf_report(ctx, &vm, GH_VMCONF_AFFINITY |
					       (pol.n_vcpus || vm.affinity[0] ? GH_VMCONF_VCPUS : 0));
	if (r >= 0)
		r = gh_affinity_plan(ctx, vmid, &vm, &pol, &pp);
	if (r < 0)
		goto out;
	if (o->dry_run) {
		r = print_pins(o, vmid, &pp);
		if (r >= 0 && pp.refusals.n)
			r = -EPERM;
		if (r >= 0)
			r = isolate_after_start(ctx, o, vmid, &pol);
		goto out;
	}
	for (size_t i = 0; i < pp.notes.n; i++)
		gh_info(ctx, "%s", pp.notes.v[i]);
	for (size_t i = 0; i < pp.refusals.n; i++)
		gh_err(ctx, "not pinning: %s", pp.refusals.v[i]);
	if (pp.refusals.n) {
		r = -EPERM;
		goto out;
	}
	r = gh_affinity_apply(ctx, &pp);
	if (r >= 0)
		r = isolate_after_start(ctx, o, vmid, &pol);
out:
	gh_affinity_free(&pp);
	gh_policy_free(&pol);
	return r < 0 ? GH_EXIT_FAIL : GH_EXIT_OK;
}

int gh_cmd_phase(const struct gh_cmd *cmd, struct gh_opts *o)
{
	const char *phase = o->argv[1];
	struct gh_plan plan = { 0 };
	struct gh_host h;
	struct gh_ctx *ctx;
	unsigned vmid;
	char tag[64];
	int rc = GH_EXIT_FAIL, r;

	if (o->argc != 2) {
		gh_hook_usage(stderr, cmd);
		return GH_EXIT_USAGE;
	}
	if (!gh_hook_vmid(o->argv[0], &vmid))
		return GH_EXIT_USAGE;
	snprintf(tag, sizeof(tag), "%u %s", vmid, phase);
	ctx = gh_hook_ctx(o, tag);
	if (!ctx)
		return GH_EXIT_FAIL;
	if (!strcmp(phase, "pre-start") || !strcmp(phase, "post-stop")) {
		rc = handoff(ctx, o, vmid, NULL, phase, !strcmp(phase, "pre-start") ? GH_TO_VFIO : GH_TO_HOST);
		goto out;
	}
	if (!strcmp(phase, "post-start")) {
		rc = post_start(ctx, o, vmid);
		goto out;
	}
	/*
	 * pre-stop must never release anything: a shutdown can still time out and leave the VM running.
	 * It reads no VM config: what the VM holds is in its journal.
	 */
	gh_handoff_mark_suspects(ctx);
	r = gh_handoff_load_journal(ctx, vmid, &h);
	if (r >= 0) {
		plan.dir = GH_TO_VFIO;
		if (o->dry_run && o->json)
			r = print_json(gh_plan_to_json(&plan, &h, phase, true));
		else if (o->dry_run)
			printf("VM %u %s: no steps: nothing to do\n", vmid, phase);
		else
			gh_info(ctx, "nothing to do in %s", phase);
		rc = r < 0 ? GH_EXIT_FAIL : GH_EXIT_OK;
	}
	gh_host_free(&h);
out:
	gh_ctx_free(ctx);
	gh_logsink_close();
	return rc;
}

static int collect_addrs(const struct gh_cmd *cmd, struct gh_opts *o, struct gh_strv *addrs)
{
	if (o->argc < 1) {
		gh_hook_usage(stderr, cmd);
		return -EINVAL;
	}
	for (int i = 0; i < o->argc; i++)
		if (gh_strv_add(addrs, o->argv[i]) < 0)
			return -ENOMEM;
	return 0;
}

static int manual(const struct gh_cmd *cmd, struct gh_opts *o, enum gh_direction dir)
{
	struct gh_strv addrs = { 0 };
	struct gh_ctx *ctx;
	int rc;

	if (collect_addrs(cmd, o, &addrs) < 0) {
		gh_strv_free(&addrs);
		return GH_EXIT_USAGE;
	}
	ctx = gh_hook_ctx(o, cmd->name);
	if (!ctx) {
		gh_strv_free(&addrs);
		return GH_EXIT_FAIL;
	}
	rc = handoff(ctx, o, 0, &addrs, cmd->name, dir);
	gh_strv_free(&addrs);
	gh_ctx_free(ctx);
	gh_logsink_close();
	return rc;
}

int gh_cmd_to_vfio(const struct gh_cmd *cmd, struct gh_opts *o)
{
	return manual(cmd, o, GH_TO_VFIO);
}

int gh_cmd_to_host(const struct gh_cmd *cmd, struct gh_opts *o)
{
	return manual(cmd, o, GH_TO_HOST);
}

int gh_cmd_recover(const struct gh_cmd *cmd, struct gh_opts *o)
{
	struct gh_strv keys = { 0 };
	struct gh_ctx *ctx;
	int lock = -1, rc = GH_EXIT_OK, r;

	if (o->argc > 1) {
		gh_hook_usage(stderr, cmd);
		return GH_EXIT_USAGE;
	}
	if (o->argc == 1) {
		unsigned vmid;

		if (strcmp(o->argv[0], "manual") && !gh_hook_vmid(o->argv[0], &vmid))
			return GH_EXIT_USAGE;
	}
	ctx = gh_hook_ctx(o, "recover");
	if (!ctx)
		return GH_EXIT_FAIL;
	if (gh_journal_lock(ctx, LOCK_WAIT_MS, &lock) < 0) {
		rc = GH_EXIT_FAIL;
		goto out;
	}
	if (o->argc == 1)
		r = gh_strv_push(&keys, o->argv[0]);
	else
		r = gh_journal_list(ctx, &keys);
	if (r < 0) {
		gh_err(ctx, "cannot list /run/gpu-hook: %s", strerror(-r));
		rc = GH_EXIT_FAIL;
		goto out;
	}
	if (!keys.n)
		gh_info(ctx, "no journal in /run/gpu-hook: nothing to recover, nothing changed");
	for (size_t i = 0; i < keys.n; i++) {
		struct gh_watch w;
		unsigned vmid;

		if (gh_vmconf_parse_vmid(keys.v[i], &vmid) >= 0 && gh_watch_load(ctx, vmid, &w) != -ENOENT) {
			gh_info(ctx, "the watcher for VM %u is disarmed: recover gives the card back now", vmid);
			gh_watch_disarm(ctx, vmid);
		}
		if (gh_handoff_recover(ctx, keys.v[i]) < 0)
			rc = GH_EXIT_FAIL;
		if (gh_vmconf_parse_vmid(keys.v[i], &vmid) >= 0 && gh_isolate_stop(ctx, vmid) < 0)
			rc = GH_EXIT_FAIL;
	}
out:
	gh_journal_unlock(lock);
	gh_strv_free(&keys);
	gh_ctx_free(ctx);
	gh_logsink_close();
	return rc;
}
