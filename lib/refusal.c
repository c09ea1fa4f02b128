/* SPDX-License-Identifier: MIT */
#include "refusal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "util.h"

static int push_owned(struct gh_refusals *set, enum gh_refusal_kind kind, char *text)
{
	struct gh_refusal *v = gh_util_grow(set->v, set->n, sizeof(*v));

	if (!v) {
		free(text);
		return -ENOMEM;
	}
	set->v = v;
	v[set->n].kind = kind;
	v[set->n].text = text;
	set->n++;
	return 0;
}

static int push(struct gh_refusals *set, enum gh_refusal_kind kind, const char *text)
{
	char *copy = strdup(text);

	return copy ? push_owned(set, kind, copy) : -ENOMEM;
}

int gh_refusal_add(struct gh_refusals *set, enum gh_refusal_kind kind, const char *fmt, ...)
{
	char *text;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	return n < 0 ? -ENOMEM : push_owned(set, kind, text);
}

int gh_refusal_copy(struct gh_refusals *to, const struct gh_refusals *from, unsigned skip)
{
	int r = 0;

	for (size_t i = 0; i < from->n && r >= 0; i++)
		if (!(skip & GH_REFUSAL_BIT(from->v[i].kind)))
			r = push(to, from->v[i].kind, from->v[i].text);
	return r;
}

struct json_object *gh_refusal_json(const struct gh_refusals *set)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < set->n; i++)
		json_object_array_add(a, json_object_new_string(set->v[i].text));
	return a;
}

void gh_refusal_free(struct gh_refusals *set)
{
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i].text);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}
