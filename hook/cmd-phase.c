/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hook.h"
#include "host.h"
#include "plan.h"
#include "vmconf.h"

static void print_plan_text(FILE *out, const struct gh_plan *p, const struct gh_host *h, const char *phase,
			    bool dry_run)
{
	const char *target = p->dir == GH_TO_VFIO ? "vfio-pci" : "the host drivers";
	char line[512];

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
			fprintf(out, " (%zu other function%s stay%s: modules stay loaded)", h->others.n,
				h->others.n == 1 ? "" : "s", h->others.n == 1 ? "s" : "");
		else if (h->stack.n)
			fprintf(out, " (module stack: %zu module%s)", (size_t)h->stack.n, h->stack.n == 1 ? "" : "s");
		fprintf(out, "; console %s\n", h->console_on_card ? "on this card" : "elsewhere");
	}
	if (p->n)
		fprintf(out, "steps:\n");
	for (unsigned i = 0; i < p->n; i++) {
		if (gh_plan_describe(&p->v[i].op, line, sizeof(line)) < 0)
			snprintf(line, sizeof(line), "%s %s", gh_plan_action_name(p->v[i].op.action), p->v[i].op.target);
		fprintf(out, "  %2u. %s\n", i + 1, line);
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

int gh_cmd_phase(const struct gh_cmd *cmd, struct gh_opts *o)
{
	const char *phase = o->argv[1];
	enum gh_direction dir;
	struct gh_plan plan = { 0 };
	struct gh_host h;
	struct gh_ctx *ctx;
	unsigned vmid;
	char tag[64], esc[64];
	int rc = GH_EXIT_FAIL, r;

	if (o->argc != 2) {
		gh_hook_usage(stderr, cmd);
		return GH_EXIT_USAGE;
	}
	if (gh_vmconf_parse_vmid(o->argv[0], &vmid) < 0) {
		fprintf(stderr, "gpu-hook: invalid vmid \"%s\" (expected a number from 100 to 999999999)\n",
			gh_util_escape(o->argv[0], esc, sizeof(esc)));
		return GH_EXIT_FAIL;
	}
	snprintf(tag, sizeof(tag), "%u %s", vmid, phase);
	ctx = gh_hook_ctx(o, tag);
	if (!ctx)
		return GH_EXIT_FAIL;

	/* Pinning arrives with post-start; pre-stop must never release anything. */
	dir = !strcmp(phase, "post-stop") ? GH_TO_HOST : GH_TO_VFIO;
	r = gh_host_load(ctx, vmid, &h);
	if (r < 0)
		goto out_host;
	if (!strcmp(phase, "post-start") || !strcmp(phase, "pre-stop")) {
		gh_plan_free(&plan);
		plan.dir = dir;
		if (o->dry_run && o->json)
			r = print_json(gh_plan_to_json(&plan, &h, phase, true));
		else if (o->dry_run)
			printf("VM %u %s: no steps: nothing to do\n", vmid, phase);
		else
			gh_info(ctx, "nothing to do in %s", phase);
		rc = r < 0 ? GH_EXIT_FAIL : GH_EXIT_OK;
		goto out_host;
	}
	r = gh_plan_build(&h, dir, &plan);
	if (r < 0) {
		gh_err(ctx, "cannot build the plan: %s", strerror(-r));
		goto out_host;
	}
	if (o->dry_run) {
		if (o->json)
			r = print_json(gh_plan_to_json(&plan, &h, phase, true));
		else
			print_plan_text(stdout, &plan, &h, phase, true);
		rc = (r < 0 || plan.refusals.n) ? GH_EXIT_FAIL : GH_EXIT_OK;
		goto out_plan;
	}
	for (size_t i = 0; i < plan.refusals.n; i++)
		gh_err(ctx, "refusing: %s", plan.refusals.v[i]);
	if (plan.refusals.n)
		goto out_plan;
	if (!plan.n) {
		for (size_t i = 0; i < plan.notes.n; i++)
			gh_info(ctx, "%s", plan.notes.v[i]);
		rc = GH_EXIT_OK;
		goto out_plan;
	}
	gh_err(ctx, "this build of gpu-hook only plans handoffs (%u steps planned); nothing was changed. "
		    "Run it with --dry-run to see the plan.", plan.n);
out_plan:
	gh_plan_free(&plan);
out_host:
	gh_host_free(&h);
	gh_ctx_free(ctx);
	gh_logsink_close();
	return rc;
}
