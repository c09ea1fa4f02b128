/* SPDX-License-Identifier: MIT */
#ifndef GH_INSTALL_H
#define GH_INSTALL_H

/*
 * Wiring a VM to gpu-hook: the storage's directory from /etc/pve/storage.cfg
 * (it must allow the "snippets" content type), the binary copied to
 * <path>/snippets/gpu-hook, and `qm set <vmid> --hookscript
 * <storage>:snippets/gpu-hook` (qm from /usr/sbin under the root, with an
 * argv, never through a shell). Refused while the VM runs. With
 * ctx->dry_run the commands are logged, not run.
 */

#include <stdbool.h>
#include <stdio.h>

#include "ctx.h"

struct gh_storage {
	bool found;
	int line;
	char type[32];
	char path[256];
	bool snippets;
};

/* One storage from a storage.cfg stream. Errors as "name:line: ..."; -EINVAL then. */
int gh_install_storage_parse(struct gh_ctx *ctx, FILE *f, const char *name, const char *storage,
			     struct gh_storage *out);
/* install (uninstall false) or uninstall (qm set --delete hookscript). 0 or -errno, logged. */
int gh_install_hook(struct gh_ctx *ctx, unsigned vmid, const char *storage, const char *self, bool uninstall);

#endif
