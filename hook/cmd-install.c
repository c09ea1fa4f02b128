/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hook.h"
#include "install.h"
#include "util.h"
#include "vmconf.h"

static int install(const struct gh_cmd *cmd, struct gh_opts *o, bool uninstall)
{
	char tag[32];
	struct gh_ctx *ctx;
	unsigned vmid;
	int self, r;

	if (o->argc != 1 || (uninstall && o->storage)) {
		gh_hook_usage(stderr, cmd);
		return GH_EXIT_USAGE;
	}
	if (!gh_hook_vmid(o->argv[0], &vmid))
		return GH_EXIT_USAGE;
	/*
	 * The running binary itself, outside any --root: it is what gets
	 * installed. Opened, not looked up by the path readlink gives, which
	 * may name another file by now.
	 */
	self = gh_install_open_self();
	if (self < 0) {
		fprintf(stderr, "gpu-hook: cannot open my own binary (/proc/self/exe): %s\n", strerror(-self));
		return GH_EXIT_FAIL;
	}
	snprintf(tag, sizeof(tag), "%s %u", cmd->name, vmid);
	ctx = gh_hook_ctx(o, tag);
	if (!ctx) {
		close(self);
		return GH_EXIT_FAIL;
	}
	r = gh_install_hook(ctx, vmid, o->storage ? o->storage : "local", self, uninstall);
	close(self);
	gh_ctx_free(ctx);
	gh_logsink_close();
	return r < 0 ? GH_EXIT_FAIL : GH_EXIT_OK;
}

int gh_cmd_install(const struct gh_cmd *cmd, struct gh_opts *o)
{
	return install(cmd, o, false);
}

int gh_cmd_uninstall(const struct gh_cmd *cmd, struct gh_opts *o)
{
	return install(cmd, o, true);
}
