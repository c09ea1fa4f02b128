/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "hostcheck.h"
#include "hook.h"
#include "util.h"
#include "vmconf.h"

int gh_cmd_check(const struct gh_cmd *cmd, struct gh_opts *o)
{
	unsigned vmids[64], n = 0, problems = 0;
	struct gh_findings f;
	struct gh_ctx *ctx;

	(void)cmd;
	if (o->argc > 64) {
		fprintf(stderr, "gpu-hook: check takes at most 64 VMs\n");
		return GH_EXIT_USAGE;
	}
	for (int i = 0; i < o->argc; i++) {
		if (!gh_hook_vmid(o->argv[i], &vmids[n++]))
			return GH_EXIT_USAGE;
	}
	ctx = gh_hook_ctx(o, "check");
	if (!ctx)
		return GH_EXIT_FAIL;
	gh_hostcheck_run(ctx, vmids, n, &f);
	for (unsigned i = 0; i < f.n; i++)
		if (f.v[i].severity != GH_SEV_INFO)
			problems++;
	if (o->json) {
		struct json_object *root = json_object_new_object(), *arr = json_object_new_array();

		for (unsigned i = 0; i < f.n; i++) {
			struct json_object *x = json_object_new_object();

			json_object_object_add(x, "severity", json_object_new_string(gh_hostcheck_severity_name(f.v[i].severity)));
			json_object_object_add(x, "what", json_object_new_string(f.v[i].what));
			json_object_object_add(x, "where", json_object_new_string(f.v[i].where));
			json_object_object_add(x, "fix", json_object_new_string(f.v[i].fix));
			json_object_array_add(arr, x);
		}
		json_object_object_add(root, "findings", arr);
		json_object_object_add(root, "problems", json_object_new_int((int)problems));
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(root);
	} else {
		for (unsigned i = 0; i < f.n; i++)
			printf("%-7s %s\n        where: %s\n        fix:   %s\n", gh_hostcheck_severity_name(f.v[i].severity),
			       f.v[i].what, f.v[i].where, f.v[i].fix);
		printf("%u problem%s found\n", problems, problems == 1 ? "" : "s");
	}
	gh_hostcheck_free(&f);
	gh_ctx_free(ctx);
	gh_logsink_close();
	return problems ? GH_EXIT_FAIL : GH_EXIT_OK;
}
