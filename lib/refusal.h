/* SPDX-License-Identifier: MIT */
#ifndef GH_REFUSAL_H
#define GH_REFUSAL_H

/*
 * The reasons a handoff must not happen. Each carries its kind, and code
 * decides on the kind only: the text is for people and may be reworded
 * without changing what any phase does.
 */

#include <stddef.h>

struct json_object;

enum gh_refusal_kind {
	GH_REFUSAL_DEVICE,	/* a listed function or id names no device */
	GH_REFUSAL_CONFIG,	/* an entry Proxmox rejects: mapping, mdev, a function listed twice */
	GH_REFUSAL_GROUP,	/* no IOMMU group, or a group that cannot be passed through */
	GH_REFUSAL_OWNER,	/* another VM or another handoff has the function */
	GH_REFUSAL_HOLDER,	/* a process holds the card and will not be stopped */
	GH_REFUSAL_MODESET,	/* nvidia-drm holds every card (modeset_hold) */
	GH_REFUSAL_WEDGED,	/* the device lock does not answer */
	GH_REFUSAL_AFFINITY,	/* post-start cannot pin the VM's threads as asked */
};

struct gh_refusal {
	enum gh_refusal_kind kind;
	char *text;
};

/* Zero-initialised is empty. */
struct gh_refusals {
	struct gh_refusal *v;
	size_t n;
};

/* 0 or -ENOMEM. */
int gh_refusal_add(struct gh_refusals *set, enum gh_refusal_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Every refusal of from whose kind is not in skip (a bit per kind, GH_REFUSAL_BIT), appended to to. */
int gh_refusal_copy(struct gh_refusals *to, const struct gh_refusals *from, unsigned skip);
#define GH_REFUSAL_BIT(kind) (1u << (kind))
/* The texts as a JSON array of strings; NULL on allocation failure. */
struct json_object *gh_refusal_json(const struct gh_refusals *set);
void gh_refusal_free(struct gh_refusals *set);

#endif
