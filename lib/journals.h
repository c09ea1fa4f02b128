/* SPDX-License-Identifier: MIT */
#ifndef GH_JOURNALS_H
#define GH_JOURNALS_H

/*
 * Every journal in /run/gpu-hook, read once per phase (under the global
 * lock, after a leftover journal of this key was settled) and consulted
 * everywhere that phase asks "which handoff has this function": suspect
 * marking, the pool choice, cards coming back to the driver, other owners,
 * the reason a function is wedged. Each file goes through gh_journal_load,
 * so its trust rules hold; one that fails them is listed as unreadable.
 */

#include <stdbool.h>

#include "ctx.h"
#include "util.h"

struct gh_journal;

struct gh_journals {
	struct gh_journal *v;		/* in key order */
	unsigned n;
	struct gh_strv unreadable;	/* keys whose journal was refused (logged by gh_journal_load) */
	int error;			/* -errno: /run/gpu-hook could not be listed, or memory ran out */
};

/* 0, or -errno (also kept in js->error) with what was read so far. Zero-initialised is empty. */
int gh_journals_load(struct gh_ctx *ctx, struct gh_journals *js);
/* The first journal other than skip_key's (NULL: none skipped) that holds addr, or NULL. */
const struct gh_journal *gh_journals_holding(const struct gh_journals *js, const char *addr, const char *skip_key);
/* Every function a journal holds is read in a child from now on (gh_pci_suspect). */
void gh_journals_mark_suspects(struct gh_ctx *ctx, const struct gh_journals *js);
void gh_journals_free(struct gh_journals *js);

#endif
