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
/* Both: on failure out owns nothing (lib/README.md); after success, gh_modules_free / gh_strv_free(&holders). */
int gh_modules_stack(struct gh_ctx *ctx, const char *root, struct gh_modset *out);
int gh_modules_read(struct gh_ctx *ctx, const char *name, struct gh_module *out);
/*
 * 1 when nothing but the modules that use it holds module name: its use
 * count is the number of its holders (ref_module takes one per user module,
 * and every open file whose fops it owns takes one more: chrdev_open's
 * fops_get). 0 when it is held more; -errno when nobody can tell (absent,
 * built in, no refcnt).
 */
int gh_modules_idle(struct gh_ctx *ctx, const char *name);
void gh_modules_free(struct gh_modset *set);
const char *gh_modules_state_name(enum gh_mod_state s);
/* Module names compare with '-' and '_' equal, as the kernel does. */
bool gh_modules_name_eq(const char *a, const char *b);

/*
 * nvidia-drm with modeset=1 takes a usage count on every card at load
 * (nv_drm_dev_load -> nvkms_open_gpu -> nvidia_dev_get) and gives it back only
 * at unload; nv-pci.c nv_pci_remove waits for that count forever unless the
 * driver first asks nvidia-modeset to let go of the card
 * (nvidia_modeset_remove(), added with per-GPU removal: 580.94.06 and later
 * except 580.95.05, and 580.105.08 and later). With two or more cards on
 * nvidia, an older driver never finishes unbinding one of them.
 */
struct gh_modeset_hold {
	unsigned cards;		/* display functions bound to nvidia */
	bool modeset;		/* /sys/module/nvidia_drm/parameters/modeset is Y */
	bool removes_gpu;	/* the driver lets go of one card */
	bool holds;		/* cards >= 2, modeset, !removes_gpu: a per-card unbind never returns */
	char version[32];	/* "" when unknown */
	char source[64];	/* what told removes_gpu: "/proc/kallsyms", a version file, "" */
};

/*
 * The one detection, for the plan and for check alike. The symbol in
 * /proc/kallsyms is evidence of per-GPU removal (addresses may read as
 * zeros; the names are there); otherwise the version from
 * /proc/driver/nvidia/version, then /sys/module/nvidia/version. Unknown
 * version without the symbol: not capable (the safe answer). Reads only.
 */
int gh_modules_modeset_hold(struct gh_ctx *ctx, struct gh_modeset_hold *out);
/* "580.105.08": true when that driver has per-GPU removal. */
bool gh_modules_version_removes_gpu(const char *version);
/* One sentence naming the driver and what told, for refusals and check. */
int gh_modules_modeset_describe(const struct gh_modeset_hold *m, char *buf, size_t size);
#define GH_MODESET_HOLD_FIX                                                                              \
	"upgrade the NVIDIA driver to 580.105.08 or newer, or set modeset_hold = reload in [handoff] "   \
	"(nvidia_drm and nvidia_modeset are reloaded around the unbind), or set 'options nvidia-drm modeset=0'"

/* The real ops: libkmod for modules, sched_{set,get}affinity for threads. */
extern const struct gh_ops gh_modules_real_ops;

#endif
