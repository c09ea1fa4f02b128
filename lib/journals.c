/* SPDX-License-Identifier: MIT */
#include "journals.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "pci.h"

int gh_journals_load(struct gh_ctx *ctx, struct gh_journals *js)
{
	struct gh_strv keys = { 0 };
	int r;

	memset(js, 0, sizeof(*js));
	r = gh_journal_list(ctx, &keys);
	for (size_t k = 0; k < keys.n && r >= 0; k++) {
		struct gh_journal *v = gh_util_grow(js->v, js->n, sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			break;
		}
		js->v = v;
		if (gh_journal_load(ctx, keys.v[k], &v[js->n]) < 0)
			r = gh_strv_push(&js->unreadable, keys.v[k]);
		else
			js->n++;
	}
	gh_strv_free(&keys);
	js->error = r < 0 ? r : 0;
	return r;
}

const struct gh_journal *gh_journals_holding(const struct gh_journals *js, const char *addr, const char *skip_key)
{
	for (unsigned k = 0; k < js->n; k++) {
		struct gh_journal *j = &js->v[k];

		if ((!skip_key || strcmp(j->key, skip_key)) && gh_journal_dev(j, addr))
			return j;
	}
	return NULL;
}

void gh_journals_mark_suspects(struct gh_ctx *ctx, const struct gh_journals *js)
{
	for (unsigned k = 0; k < js->n; k++)
		for (unsigned i = 0; i < js->v[k].n_dev; i++)
			gh_pci_suspect(ctx, js->v[k].dev[i].addr);
}

void gh_journals_free(struct gh_journals *js)
{
	for (unsigned k = 0; k < js->n; k++)
		gh_journal_free(&js->v[k]);
	free(js->v);
	gh_strv_free(&js->unreadable);
	memset(js, 0, sizeof(*js));
}
