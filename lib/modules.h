/* SPDX-License-Identifier: MIT */
#ifndef GH_MODULES_H
#define GH_MODULES_H

/*
 * Kernel modules as /sys/module shows them (read through the root seam so a
 * fixture root can hold them). Loading and removing go through ctx->ops.
 */

#include <stdbool.h>

#include "ctx.h"
#include "util.h"

enum gh_mod_state { GH_MOD_ABSENT, GH_MOD_LIVE, GH_MOD_COMING, GH_MOD_GOING, GH_MOD_BUILTIN };

struct gh_module {
	char name[64];
	enum gh_mod_state state;
	int refcnt;		/* -1 when unknown */
	struct gh_strv holders;	/* /sys/module/<name>/holders */
};

struct gh_modset {
	struct gh_module *v;
	unsigned n;
};

/*
 * A module and every module that holds it, transitively, in the order they
 * must be removed (holders before what they hold; ties by name, so
 * nvidia_drm, nvidia_modeset, nvidia_uvm, nvidia for the NVIDIA stack).
 * root absent: an empty set. Built-in: one entry, state BUILTIN. A cycle or
 * more than 64 modules: -ELOOP (logged).
 */
int gh_modules_stack(struct gh_ctx *ctx, const char *root, struct gh_modset *out);
int gh_modules_read(struct gh_ctx *ctx, const char *name, struct gh_module *out);
void gh_modules_free(struct gh_modset *set);
const char *gh_modules_state_name(enum gh_mod_state s);
/* Module names compare with '-' and '_' equal, as the kernel does. */
bool gh_modules_name_eq(const char *a, const char *b);

/* The real ops: libkmod for modules, sched_{set,get}affinity for threads. */
extern const struct gh_ops gh_modules_real_ops;

#endif
