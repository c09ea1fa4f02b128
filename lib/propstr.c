/* SPDX-License-Identifier: MIT */
#include "propstr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

int gh_propstr_bool(const char *v)
{
	static const char *const yes[] = { "1", "on", "yes", "true" }, *const no[] = { "0", "off", "no", "false" };

	/* PVE::JSONSchema matches booleans case-insensitively. */
	for (size_t i = 0; v && i < GH_ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(v, yes[i]))
			return 1;
		if (!strcasecmp(v, no[i]))
			return 0;
	}
	return -EINVAL;
}

static void why_set(char *why, size_t size, const char *before, const char *arg, const char *after)
{
	char esc[96];

	if (!why || !size)
		return;
	/* A reason cut short is still a reason. */
	snprintf(why, size, "%s%s%s", before, gh_util_escape(arg, esc, sizeof(esc)), after);
}

/* One item of the list, split in place into keys[i] and vals[i]; checked against those before it. */
static int split_item(char *part, size_t i, const char *default_key, const char **keys, const char **vals, char *why,
		      size_t why_size)
{
	char *eq = strchr(part, '=');

	if (!*part) {
		why_set(why, why_size, "empty item (two commas, or one at an end)", "", "");
		return -EINVAL;
	}
	if (eq) {
		*eq = '\0';
		keys[i] = part;
		vals[i] = eq + 1;
		if (!*keys[i]) {
			why_set(why, why_size, "item '=", vals[i], "' has no key");
			return -EINVAL;
		}
		if (!*vals[i]) {
			why_set(why, why_size, "'", keys[i], "=' has no value");
			return -EINVAL;
		}
	} else {
		if (!default_key) {
			why_set(why, why_size, "'", part, "' is not key=value");
			return -EINVAL;
		}
		keys[i] = default_key;
		vals[i] = part;
	}
	for (size_t j = 0; j < i; j++) {
		if (strcmp(keys[j], keys[i]))
			continue;
		if (eq)
			why_set(why, why_size, "'", keys[i], "' given twice");
		else
			why_set(why, why_size, "two values without a key (the second is '", part, "')");
		return -EINVAL;
	}
	return 0;
}

int gh_propstr_parse_why(const char *s, const char *default_key, gh_propstr_fn fn, void *data, char *why,
			 size_t why_size)
{
	const char **keys = NULL, **vals = NULL;
	char *copy = NULL, *part;
	size_t n = 1, i;
	int r = 0;

	if (why && why_size)
		why[0] = '\0';
	if (!s || !fn) {
		why_set(why, why_size, "no value", "", "");
		return -EINVAL;
	}
	for (const char *c = s; *c; c++)
		n += *c == ',';
	copy = strdup(s);
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	if (!copy || !keys || !vals) {
		r = -ENOMEM;
		goto out;
	}
	/* The whole string is checked before fn sees any of it. */
	part = copy;
	for (i = 0; i < n && r >= 0; i++) {
		char *comma = strchr(part, ',');

		if (comma)
			*comma = '\0';
		r = split_item(part, i, default_key, keys, vals, why, why_size);
		if (comma)
			part = comma + 1;
	}
	for (i = 0; i < n && r >= 0; i++)
		r = fn(data, keys[i], vals[i]);
out:
	free(copy);
	free(keys);
	free(vals);
	return r;
}

int gh_propstr_parse(const char *s, const char *default_key, gh_propstr_fn fn, void *data)
{
	return gh_propstr_parse_why(s, default_key, fn, data, NULL, 0);
}

bool gh_propstr_configid(const char *s, size_t size)
{
	size_t len = strlen(s);

	if (!len || len >= size || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

/* One id of the list: 1 taken, 0 not (told to fail). */
static int pci_id(const char *item, bool need_domain, const char *noun, struct gh_pciid *id, gh_propstr_fail_fn fail,
		  void *data)
{
	const char *colon = strchr(item, ':');
	char esc[96], msg[256];

	if (gh_pciid_parse(item, id) == 0 && (!need_domain || (colon && strchr(colon + 1, ':'))))
		return 1;
	snprintf(msg, sizeof(msg), "invalid %s '%s' (expected %s, lowercase hex)", noun,
		 gh_util_escape(item, esc, sizeof(esc)), need_domain ? "dddd:bb:ss[.f]" : "[dddd:]bb:ss[.f]");
	fail(data, msg);
	return 0;
}

bool gh_propstr_pci_ids(const char *value, bool need_domain, const char *noun, struct gh_pciid *ids, unsigned max,
			unsigned *n, gh_propstr_fail_fn fail, void *data)
{
	const char *p = value;
	char esc[96], msg[256];
	bool ok = true;

	for (;;) {
		size_t len = strcspn(p, ";");
		char *item;

		if (!len) {
			snprintf(msg, sizeof(msg), "empty %s in '%s'", noun, gh_util_escape(value, esc, sizeof(esc)));
			fail(data, msg);
			ok = false;
		} else if (*n == max) {
			snprintf(msg, sizeof(msg), "more than %u %ss", max, noun);
			fail(data, msg);
			return false;
		} else if (!(item = strndup(p, len))) {
			fail(data, "out of memory");
			return false;
		} else {
			if (pci_id(item, need_domain, noun, &ids[*n], fail, data))
				(*n)++;
			else
				ok = false;
			free(item);
		}
		if (!p[len])
			return ok;
		p += len + 1;
	}
}
