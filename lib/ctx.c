/* SPDX-License-Identifier: MIT */
#include "ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void gh_log(const struct gh_ctx *ctx, int priority, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->log_fn || priority > ctx->log_priority)
		return;
	va_start(ap, fmt);
	ctx->log_fn(ctx->log_data, priority, fmt, ap);
	va_end(ap);
}
