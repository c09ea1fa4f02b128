/* SPDX-License-Identifier: MIT */
/*
 * Reading a journal back (gh_journal_parse): the file is root's, but a phase
 * acts on what it says, so every field is checked before any of it is used.
 */
#include "journal.h"
#include "journal-int.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pciid.h"
#include "services.h"

/* Parsing: every field is checked before any of it may drive an action. */

struct jparse {
	struct gh_ctx *ctx;
	const char *name;
	bool quiet;
	int errors;
};

static void jerr(struct jparse *jp, const char *fmt, const char *what)
{
	char esc[96];

	if (!jp->errors++ && !jp->quiet)
		gh_err(jp->ctx, "%s: corrupt journal (%s \"%s\"): not acting on it; remove it once the host is checked",
		       jp->name, fmt, gh_util_escape(what, esc, sizeof(esc)));
}

static const char *jstr(struct jparse *jp, struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string)) {
		jerr(jp, "missing or non-string field", key);
		return "";
	}
	return json_object_get_string(v);
}

static bool name_chars(const char *s, const char *extra, size_t max)
{
	size_t len = strlen(s);

	if (!len || len >= max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr(extra, *s))
			return false;
	return true;
}

static bool valid_hex_pair(const char *s)
{
	unsigned a, b;
	char end;

	return strlen(s) == 9 && sscanf(s, "%4x %4x%c", &a, &b, &end) == 2 && isxdigit((unsigned char)s[0]) &&
	       isxdigit((unsigned char)s[5]);
}

static bool valid_op(const struct gh_op *op)
{
	const char *t = op->target, *a = op->arg;
	unsigned n;
	char end;

	switch (op->action) {
	case GH_ACT_NONE:
		return !t[0] && !a[0];
	case GH_ACT_SERVICE_STOP:
	case GH_ACT_SERVICE_START:
		return gh_services_valid_name(t) && !a[0];
	case GH_ACT_KILL:
		return name_chars(t, "", 12) && strspn(t, "0123456789") == strlen(t) && strlen(a) < 64;
	case GH_ACT_VTCON_UNBIND:
	case GH_ACT_VTCON_BIND:
		return sscanf(t, "vtcon%u%c", &n, &end) == 1 && !a[0];
	case GH_ACT_FB_UNBIND:
		return name_chars(t, "._-", 64) && name_chars(a, "_-", 64);
	case GH_ACT_MODULE_UNLOAD:
	case GH_ACT_MODULE_LOAD:
		return name_chars(t, "_-", 64) && !a[0];
	case GH_ACT_OVERRIDE:
		return gh_pciid_is_addr(t) && (!a[0] || name_chars(a, "_-", 64));
	case GH_ACT_UNBIND:
	case GH_ACT_BIND:
	case GH_ACT_PROBE:
	case GH_ACT_VERIFY:
		return gh_pciid_is_addr(t) && name_chars(a, "_-", 64);
	case GH_ACT_REMOVE_ID:
		return gh_pciid_is_addr(t) && valid_hex_pair(a);
	case GH_ACT_MAX:
		break;
	}
	return false;
}

static int parse_op(struct jparse *jp, struct json_object *o, struct gh_op *op)
{
	const char *action, *t, *a;
	bool found = false;

	if (!json_object_is_type(o, json_type_object)) {
		jerr(jp, "a step is not an object", "");
		return -EINVAL;
	}
	action = jstr(jp, o, "action");
	t = jstr(jp, o, "target");
	a = jstr(jp, o, "arg");
	for (int i = GH_ACT_NONE; i < GH_ACT_MAX; i++) {
		if (!strcmp(action, gh_plan_action_name((enum gh_action)i))) {
			op->action = (enum gh_action)i;
			found = true;
		}
	}
	if (!found) {
		jerr(jp, "unknown action", action);
		return -EINVAL;
	}
	if (gh_util_copy(op->target, sizeof(op->target), t) < 0 || gh_util_copy(op->arg, sizeof(op->arg), a) < 0 ||
	    !valid_op(op)) {
		jerr(jp, "invalid step", t);
		return -EINVAL;
	}
	return 0;
}

static int parse_devices(struct jparse *jp, struct json_object *arr, struct gh_journal *j)
{
	size_t n = json_object_array_length(arr);

	if (n > GH_JOURNAL_DEV_MAX) {
		jerr(jp, "too many devices", "");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(arr, i), *v;
		struct gh_jdev *jd = &j->dev[j->n_dev];
		unsigned long vendor, device;
		const char *addr, *hd, *ov;

		if (!json_object_is_type(d, json_type_object)) {
			jerr(jp, "a device is not an object", "");
			return -EINVAL;
		}
		addr = jstr(jp, d, "address");
		hd = jstr(jp, d, "host_driver");
		ov = jstr(jp, d, "override");
		if (!gh_pciid_is_addr(addr) || (hd[0] && !name_chars(hd, "_-", 64)) ||
		    (ov[0] && !name_chars(ov, "_-", 64)) ||
		    gh_util_parse_ulong(jstr(jp, d, "vendor"), 16, 0xffff, &vendor) < 0 ||
		    gh_util_parse_ulong(jstr(jp, d, "device"), 16, 0xffff, &device) < 0) {
			jerr(jp, "invalid device", addr);
			return -EINVAL;
		}
		memcpy(jd->addr, addr, strlen(addr) + 1);
		gh_util_copy(jd->host_driver, sizeof(jd->host_driver), hd);
		gh_util_copy(jd->override, sizeof(jd->override), ov);
		jd->vendor = (unsigned)vendor;
		jd->device = (unsigned)device;
		jd->iommu_group = json_object_object_get_ex(d, "iommu_group", &v) ? json_object_get_int(v) : -1;
		jd->wedged = json_object_object_get_ex(d, "wedged", &v) && json_object_get_boolean(v);
		j->n_dev++;
	}
	return 0;
}

int gh_journal_parse(struct gh_ctx *ctx, const char *text, const char *name, struct gh_journal *j)
{
	return gh_journal_parse_as(ctx, text, name, false, j);
}

int gh_journal_parse_as(struct gh_ctx *ctx, const char *text, const char *name, bool quiet, struct gh_journal *j)
{
	struct jparse jp = { ctx, name, quiet, 0 };
	struct json_object *o, *v, *steps, *devs;
	enum json_tokener_error jerror;
	int r = -EINVAL;

	memset(j, 0, sizeof(*j));
	o = json_tokener_parse_verbose(text, &jerror);
	if (!o || !json_object_is_type(o, json_type_object)) {
		jerr(&jp, "not a JSON object", o ? "" : json_tokener_error_desc(jerror));
		json_object_put(o);
		return -EINVAL;
	}
	if (!json_object_object_get_ex(o, "version", &v) || json_object_get_int(v) != 1) {
		jerr(&jp, "unknown version", "");
		goto out;
	}
	if (gh_util_copy(j->key, sizeof(j->key), jstr(&jp, o, "key")) < 0 || !gh_journal_valid_key(j->key) ||
	    gh_util_copy(j->phase, sizeof(j->phase), jstr(&jp, o, "phase")) < 0) {
		jerr(&jp, "invalid key or phase", j->key);
		goto out;
	}
	if (json_object_object_get_ex(o, "vmid", &v) && json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) >= 0 && json_object_get_int64(v) <= 999999999)
		j->vmid = (unsigned)json_object_get_int64(v);
	else {
		jerr(&jp, "invalid vmid", "");
		goto out;
	}
	j->complete = json_object_object_get_ex(o, "complete", &v) && json_object_get_boolean(v);
	if (!json_object_object_get_ex(o, "devices", &devs) || !json_object_is_type(devs, json_type_array) ||
	    !json_object_object_get_ex(o, "steps", &steps) || !json_object_is_type(steps, json_type_array)) {
		jerr(&jp, "missing devices or steps", "");
		goto out;
	}
	if (parse_devices(&jp, devs, j) < 0)
		goto out;
	j->n_steps = (unsigned)json_object_array_length(steps);
	if (j->n_steps > 4096) {
		jerr(&jp, "too many steps", "");
		goto out;
	}
	if (j->n_steps) {
		j->steps = calloc(j->n_steps, sizeof(*j->steps));
		j->status = calloc(j->n_steps, sizeof(*j->status));
		if (!j->steps || !j->status) {
			r = -ENOMEM;
			goto out;
		}
	}
	for (unsigned i = 0; i < j->n_steps; i++) {
		struct json_object *s = json_object_array_get_idx(steps, i), *u;
		const char *st;
		bool found = false;

		if (parse_op(&jp, s, &j->steps[i].op) < 0)
			goto out;
		if (!json_object_object_get_ex(s, "undo", &u) || parse_op(&jp, u, &j->steps[i].undo) < 0) {
			jerr(&jp, "invalid undo of step", j->steps[i].op.target);
			goto out;
		}
		st = jstr(&jp, s, "status");
		for (int k = GH_J_PENDING; k < GH_J_MAX; k++) {
			if (!strcmp(st, gh_journal_status_name((enum gh_jstatus)k))) {
				j->status[i] = (enum gh_jstatus)k;
				found = true;
			}
		}
		if (!found) {
			jerr(&jp, "unknown status", st);
			goto out;
		}
	}
	r = jp.errors ? -EINVAL : 0;
out:
	json_object_put(o);
	if (r < 0)
		gh_journal_free(j);
	return r;
}
