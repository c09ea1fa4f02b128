/* SPDX-License-Identifier: MIT */
/*
 * A journal's text, printed directly: the layout json-c's pretty printer
 * gives (two-space indent, "key":value, no slash escapes), which every
 * reader parses (journal-parse.c reads it with json-c). Building a json-c
 * tree of some 150 objects and printing it was 260,000 instructions, 1.1 ms
 * of a pre-start under TCG; this is about a tenth of that.
 */
#include "journal-int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

struct out {
	char *p;
	size_t len, cap;
	bool oom;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		char *p;

		while (o->len + n + 1 > cap)
			cap *= 2;
		p = realloc(o->p, cap);
		if (!p) {
			o->oom = true;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void indent(struct out *o, unsigned level)
{
	static const char spaces[] = "                ";

	size_t n = (size_t)level * 2;

	put(o, spaces, n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1);
}

/* json-c's escapes (json_escape_str with NOSLASHESCAPE): '"', '\\' and the control bytes; the rest as it is. */
static void string(struct out *o, const char *s)
{
	static const char shorts[] = "\b\n\r\t\f", letters[] = "bnrtf";

	put(o, "\"", 1);
	for (const char *run = s;; s++) {
		unsigned char c = (unsigned char)*s;
		const char *sh;
		char esc[8];

		if (c && c != '"' && c != '\\' && c >= ' ')
			continue;
		put(o, run, (size_t)(s - run));
		if (!c)
			break;
		/* json-c's short forms, then \u00xx in lower case. */
		sh = strchr(shorts, c);
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof(esc), "\\%c", c);
		else if (sh)
			snprintf(esc, sizeof(esc), "\\%c", letters[sh - shorts]);
		else
			snprintf(esc, sizeof(esc), "\\u00%02x", c);
		puts_(o, esc);
		run = s + 1;
	}
	put(o, "\"", 1);
}

/* The opening of member key at level: a comma after an earlier one, a new line, the indent. */
static void key(struct out *o, unsigned level, const char *k, bool first)
{
	if (!first)
		put(o, ",", 1);
	put(o, "\n", 1);
	indent(o, level);
	string(o, k);
	put(o, ":", 1);
}

static void member_str(struct out *o, unsigned level, const char *k, const char *v, bool first)
{
	key(o, level, k, first);
	string(o, v);
}

static void member_int(struct out *o, unsigned level, const char *k, int64_t v, bool first)
{
	char num[24];

	key(o, level, k, first);
	snprintf(num, sizeof(num), "%" PRId64, v);
	puts_(o, num);
}

/* A slot's value: fixed width, never across a page (see journal-int.h); where it starts goes to *off. */
static void member_slot(struct out *o, unsigned level, const char *k, size_t *off, bool status, unsigned v,
			bool first)
{
	char buf[SLOT_MAX];
	size_t w = gh_jslots_text(status, v, buf, sizeof(buf)), in_page;

	key(o, level, k, first);
	if (!w) {
		o->oom = true;
		return;
	}
	/* Whitespace before a value is JSON too: a slot that would cross a page starts on the next. */
	in_page = o->len % SLOT_PAGE;
	if (in_page + w > SLOT_PAGE) {
		char pad[SLOT_MAX];

		memset(pad, ' ', sizeof(pad));
		put(o, pad, SLOT_PAGE - in_page);
	}
	if (off)
		*off = o->len;
	put(o, buf, w);
}

static void close_(struct out *o, unsigned level, const char *c, bool empty)
{
	if (!empty) {
		put(o, "\n", 1);
		indent(o, level);
	}
	puts_(o, c);
}

static void op(struct out *o, unsigned level, const struct gh_op *op)
{
	put(o, "{", 1);
	member_str(o, level + 1, "action", gh_plan_action_name(op->action), true);
	member_str(o, level + 1, "target", op->target, false);
	member_str(o, level + 1, "arg", op->arg, false);
}

char *gh_journal_print(const struct gh_journal *j, struct gh_jslots *s, size_t *len)
{
	struct out o = { 0 };
	char hex[8];

	put(&o, "{", 1);
	member_int(&o, 1, "version", 1, true);
	member_str(&o, 1, "key", j->key, false);
	member_int(&o, 1, "vmid", j->vmid, false);
	member_str(&o, 1, "phase", j->phase, false);
	member_slot(&o, 1, "complete", s ? &s->off[0] : NULL, false, j->complete, false);
	key(&o, 1, "devices", false);
	put(&o, "[", 1);
	for (unsigned i = 0; i < j->n_dev; i++) {
		const struct gh_jdev *d = &j->dev[i];

		put(&o, i ? ",\n" : "\n", i ? 2 : 1);
		indent(&o, 2);
		put(&o, "{", 1);
		member_str(&o, 3, "address", d->addr, true);
		member_str(&o, 3, "host_driver", d->host_driver, false);
		member_str(&o, 3, "override", d->override, false);
		snprintf(hex, sizeof(hex), "%04x", d->vendor & 0xffff);
		member_str(&o, 3, "vendor", hex, false);
		snprintf(hex, sizeof(hex), "%04x", d->device & 0xffff);
		member_str(&o, 3, "device", hex, false);
		member_int(&o, 3, "iommu_group", d->iommu_group, false);
		member_slot(&o, 3, "wedged", s ? &s->off[1 + i] : NULL, false, d->wedged, false);
		close_(&o, 2, "}", false);
	}
	close_(&o, 1, "]", !j->n_dev);
	key(&o, 1, "steps", false);
	put(&o, "[", 1);
	for (unsigned i = 0; i < j->n_steps; i++) {
		put(&o, i ? ",\n" : "\n", i ? 2 : 1);
		indent(&o, 2);
		op(&o, 2, &j->steps[i].op);
		key(&o, 3, "undo", false);
		op(&o, 3, &j->steps[i].undo);
		close_(&o, 3, "}", false);
		member_slot(&o, 3, "status", s ? &s->off[1 + j->n_dev + i] : NULL, true, (unsigned)j->status[i], false);
		close_(&o, 2, "}", false);
	}
	close_(&o, 1, "]", !j->n_steps);
	close_(&o, 0, "}\n", false);
	if (o.oom) {
		free(o.p);
		errno = ENOMEM;
		return NULL;
	}
	*len = o.len;
	return o.p;
}
