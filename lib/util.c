/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *gh_util_grow(void *v, size_t n, size_t size)
{
	size_t cap;

	/* Capacity is the next power of two of n (at least 1 once allocated): only a full array grows. */
	if (v && (n == 0 || (n & (n - 1))))
		return v;
	cap = n ? n * 2 : 1;
	if (cap < n || cap > SIZE_MAX / size)
		return NULL;
	return realloc(v, cap * size);
}

int gh_strv_push(struct gh_strv *sv, const char *s)
{
	char **v;
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	/* n strings and the NULL after them: n + 1 slots in use. */
	v = gh_util_grow(sv->v, sv->n + 1, sizeof(*v));
	if (!v) {
		free(copy);
		return -ENOMEM;
	}
	v[sv->n++] = copy;
	v[sv->n] = NULL;
	sv->v = v;
	return 0;
}

int gh_strv_add(struct gh_strv *sv, const char *s)
{
	return gh_strv_contains(sv, s) ? 0 : gh_strv_push(sv, s);
}

bool gh_strv_contains(const struct gh_strv *sv, const char *s)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!strcmp(sv->v[i], s))
			return true;
	return false;
}

static int cmp_vers(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

void gh_strv_sort(struct gh_strv *sv)
{
	if (sv->n > 1)
		qsort(sv->v, sv->n, sizeof(*sv->v), cmp_vers);
}

void gh_strv_free(struct gh_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

int gh_strv_join(const struct gh_strv *sv, const char *sep, char *buf, size_t size)
{
	size_t off = 0;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	for (size_t i = 0; i < sv->n; i++) {
		int n = snprintf(buf + off, size - off, "%s%s", i ? sep : "", sv->v[i]);

		if (n < 0 || (size_t)n >= size - off)
			return -ENOSPC;
		off += (size_t)n;
	}
	return 0;
}

int gh_util_parse_ulong(const char *s, int base, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, base);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || v > max)
		return -ERANGE;
	if (errno)
		return -EINVAL;
	*out = v;
	return 0;
}

char *gh_util_trim(char *s)
{
	size_t len;

	while (isspace((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

const char *gh_util_escape(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	if (size < 8) {
		if (size)
			buf[0] = '\0';
		return buf;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char tmp[5];
		size_t len;

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			snprintf(tmp, sizeof(tmp), "\\x%02x", c);
			len = 4;
		} else {
			tmp[0] = (char)c;
			tmp[1] = '\0';
			len = 1;
		}
		if (o + len + 4 > size) {
			memcpy(buf + o, "...", 4);
			return buf;
		}
		memcpy(buf + o, tmp, len);
		o += len;
	}
	buf[o] = '\0';
	return buf;
}

int gh_util_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

int gh_util_copy(char *dst, size_t size, const char *src)
{
	size_t len = strlen(src);

	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, len + 1);
	return 0;
}
