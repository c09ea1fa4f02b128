/* SPDX-License-Identifier: MIT */
#include "ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timebox.h"

struct gh_ctx {
	char root[PATH_MAX];	/* "" stands for "/" */
	bool dry_run;
	int log_priority;	/* messages above this are dropped */
	gh_log_fn log_fn;
	void *log_data;
	const struct gh_ops *ops;
	void *ops_data;
	char migrated_from[256];
	char pci_suspects[GH_CTX_PCI_SUSPECTS_MAX][16];
	unsigned n_pci_suspects;
	bool pci_suspect_all;		/* more than fit: every function is read in a child */
};

int gh_ctx_new(const char *root, struct gh_ctx **out)
{
	struct gh_ctx *ctx;
	size_t len;

	if (!root || root[0] != '/')
		return -EINVAL;
	len = strlen(root);
	while (len > 1 && root[len - 1] == '/')
		len--;
	if (len == 1)
		len = 0;	/* "/" is the empty prefix */
	if (len >= sizeof(ctx->root))
		return -ENAMETOOLONG;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	memcpy(ctx->root, root, len);
	ctx->root[len] = '\0';
	ctx->log_priority = LOG_INFO;
	*out = ctx;
	return 0;
}

void gh_ctx_free(struct gh_ctx *ctx)
{
	free(ctx);
}

void gh_ctx_set_log_fn(struct gh_ctx *ctx, gh_log_fn fn, void *data)
{
	ctx->log_fn = fn;
	ctx->log_data = data;
}

void gh_ctx_set_log_priority(struct gh_ctx *ctx, int priority)
{
	ctx->log_priority = priority;
}

void gh_ctx_set_ops(struct gh_ctx *ctx, const struct gh_ops *ops, void *data)
{
	ctx->ops = ops;
	ctx->ops_data = data;
}

int gh_ctx_set_migrated_from(struct gh_ctx *ctx, const char *node)
{
	size_t len = node ? strlen(node) : 0;

	if (len >= sizeof(ctx->migrated_from))
		return -ENAMETOOLONG;
	/* The node name becomes a path component. */
	if (len && (strchr(node, '/') || !strcmp(node, ".") || !strcmp(node, "..")))
		return -EINVAL;
	memcpy(ctx->migrated_from, node ? node : "", len);
	ctx->migrated_from[len] = '\0';
	return 0;
}

void gh_ctx_set_dry_run(struct gh_ctx *ctx, bool dry_run)
{
	ctx->dry_run = dry_run;
}

const char *gh_ctx_root(const struct gh_ctx *ctx)
{
	return ctx->root;
}

bool gh_ctx_dry_run(const struct gh_ctx *ctx)
{
	return ctx->dry_run;
}

int gh_ctx_log_priority(const struct gh_ctx *ctx)
{
	return ctx->log_priority;
}

const struct gh_ops *gh_ctx_ops(const struct gh_ctx *ctx)
{
	return ctx->ops;
}

void *gh_ctx_ops_data(const struct gh_ctx *ctx)
{
	return ctx->ops_data;
}

const char *gh_ctx_migrated_from(const struct gh_ctx *ctx)
{
	return ctx->migrated_from;
}

void gh_ctx_add_pci_suspect(struct gh_ctx *ctx, const char *addr)
{
	size_t len = strlen(addr);

	if (gh_ctx_pci_suspect(ctx, addr))
		return;
	if (ctx->n_pci_suspects == GH_CTX_PCI_SUSPECTS_MAX || len >= sizeof(ctx->pci_suspects[0])) {
		ctx->pci_suspect_all = true;
		return;
	}
	memcpy(ctx->pci_suspects[ctx->n_pci_suspects++], addr, len + 1);
}

bool gh_ctx_pci_suspect(const struct gh_ctx *ctx, const char *addr)
{
	if (ctx->pci_suspect_all)
		return true;
	for (unsigned i = 0; i < ctx->n_pci_suspects; i++)
		if (!strcmp(ctx->pci_suspects[i], addr))
			return true;
	return false;
}

void gh_log(const struct gh_ctx *ctx, int priority, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->log_fn || priority > ctx->log_priority)
		return;
	va_start(ap, fmt);
	if (!gh_timebox_capture(priority, fmt, ap))
		ctx->log_fn(ctx->log_data, priority, fmt, ap);
	va_end(ap);
}
