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
#include "isolate.h"
#include "phase.h"
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
		fprintf(out, "  - %s\n", p->refusals.v[i].text);
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

static int print_plan(const struct gh_opts *o, const struct gh_plan *p, const struct gh_host *h, const char *phase)
{
	if (o->json)
		return print_json(gh_plan_to_json(p, h, phase, true));
	print_plan_text(stdout, p, h, phase, true);
	return 0;
}

static int arm_watcher(struct gh_ctx *ctx, const void *data, unsigned vmid, enum gh_watch_reason reason)
{
	return gh_hook_watch_arm(ctx, data, vmid, reason);
}

/* What a phase run by lib/phase.c prints: the dry run's plan, or that a reboot keeps the card. */
static int print_result(const struct gh_ctx *ctx, const struct gh_opts *o, const struct gh_phase_req *req, const struct gh_phase_result *res)
{
	if (res->outcome == GH_PHASE_KEPT && gh_ctx_dry_run(ctx)) {
		printf("VM %u post-stop: a Proxmox reboot is under way (/run/qemu-server/%u.reboot): the card stays on "
		       "vfio-pci for the restart (dry run: nothing is changed)\n", req->vmid, req->vmid);
		return 0;
	}
	if (res->outcome != GH_PHASE_PLANNED)
		return 0;
	if (!strcmp(req->phase, "pre-stop") && !o->json) {
		printf("VM %u %s: no steps: nothing to do\n", req->vmid, req->phase);
		return 0;
	}
	return print_plan(o, &res->plan, &res->host, req->phase);
}

static int handoff(struct gh_ctx *ctx, const struct gh_opts *o, const struct gh_phase_req *req, bool locked)
{
	struct gh_phase_result res;
	int r = locked ? gh_phase_run_locked(ctx, req, &res) : gh_phase_run(ctx, req, &res);

	if (r >= 0)
		r = print_result(ctx, o, req, &res);
	if (r >= 0 && res.outcome == GH_PHASE_PLANNED && res.plan.refusals.n)
		r = -EPERM;
	gh_phase_result_free(&res);
	return r < 0 ? GH_EXIT_FAIL : GH_EXIT_OK;
}

int gh_hook_give_back(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid)
{
	/* Not "post-stop": a reboot file left behind must not keep the card again and re-arm forever. */
	struct gh_phase_req req = { .vmid = vmid, .phase = "watcher", .dir = GH_TO_HOST, .arm = arm_watcher,
				    .arm_data = o };

	gh_ctx_set_dry_run(ctx, false);
	return handoff(ctx, o, &req, true);
}

static int print_pins(const struct gh_opts *o, unsigned vmid, const struct gh_pinplan *pp)
{
	char now[256], want[256], comm[64];

	if (o->json)
		return print_json(gh_affinity_to_json(pp, vmid, true));
	printf("VM %u post-start: pin %u vCPU%s of QEMU pid %d (dry run: nothing is changed)\n", vmid, pp->n_vcpus,
	       pp->n_vcpus == 1 ? "" : "s", (int)pp->pid);
	if (pp->n)
		printf("  %-8s %-16s %-5s %-12s %s\n", "TID", "THREAD", "VCPU", "CPUS NOW", "CPUS");
	for (unsigned i = 0; i < pp->n; i++) {
		const struct gh_pin *t = &pp->v[i];
		char vc[16] = "-";

		gh_affinity_pin_cpus(t, now, sizeof(now), want, sizeof(want));
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
		printf("  - %s\n", pp->refusals.v[i].text);
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

static int post_start(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid)
{
	struct gh_post_start ps;
	int r = gh_phase_post_start(ctx, vmid, &ps);

	if (gh_ctx_dry_run(ctx) && ps.planned) {
		int p = print_pins(o, vmid, &ps.pins);

		if (p >= 0 && ps.iso_shown)
			print_isolation(o, vmid, &ps.iso_steps, &ps.iso_undo, ps.iso_why);
		if (r >= 0)
			r = p;
	}
	gh_post_start_free(&ps);
	return r < 0 ? GH_EXIT_FAIL : GH_EXIT_OK;
}

int gh_cmd_phase(const struct gh_cmd *cmd, struct gh_opts *o)
{
	const char *phase = o->argv[1];
	struct gh_ctx *ctx;
	unsigned vmid;
	char tag[64];
	int rc;

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
	if (strcmp(phase, "post-start")) {
		struct gh_phase_req req = { .vmid = vmid, .phase = phase, .arm = arm_watcher, .arm_data = o,
					    .dir = !strcmp(phase, "post-stop") ? GH_TO_HOST : GH_TO_VFIO };

		rc = handoff(ctx, o, &req, false);
	} else {
		rc = post_start(ctx, o, vmid);
	}
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
	{
		struct gh_phase_req req = { .addrs = &addrs, .phase = cmd->name, .dir = dir, .arm = arm_watcher,
					    .arm_data = o };

		rc = handoff(ctx, o, &req, false);
	}
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
	struct gh_ctx *ctx;
	int r;

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
	r = gh_phase_recover(ctx, o->argc == 1 ? o->argv[0] : NULL);
	gh_ctx_free(ctx);
	gh_logsink_close();
	return r < 0 ? GH_EXIT_FAIL : GH_EXIT_OK;
}
