/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

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

struct out {
	char *buf;
	size_t size, n;
};

static void put(struct out *o, char c)
{
	if (o->n + 1 < o->size)
		o->buf[o->n] = c;
	o->n++;
}

static void put_n(struct out *o, const char *s, size_t len)
{
	if (o->n + 1 < o->size)
		memcpy(o->buf + o->n, s, len < o->size - 1 - o->n ? len : o->size - 1 - o->n);
	o->n += len;
}

/* width 0: none. Zero padding goes after the sign, as printf's. */
static void put_number(struct out *o, unsigned long long v, bool neg, unsigned base, bool upper, unsigned width,
		       bool zero)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	unsigned len = 0, total;

	do {
		tmp[len++] = digits[v % base];
		v /= base;
	} while (v);
	total = len + neg;
	if (!zero)
		for (; total < width; total++)
			put(o, ' ');
	if (neg)
		put(o, '-');
	if (zero)
		for (; total < width; total++)
			put(o, '0');
	while (len)
		put(o, tmp[--len]);
}

/*
 * glibc's vsnprintf goes through a stdio stream: ~850 instructions for
 * "%s/%s", and a phase formats ~230 paths and lines. Under the real-kernel
 * harness' emulated CPU that was a sixth of discovery's time in user space.
 * This covers %s, %.*s, %c, %% and d/i/u/x/X with h, hh, l, ll, z and a
 * width (0-padded or not); any other flag or conversion, from the start, is
 * vsnprintf's.
 */
int gh_util_vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size };
	va_list again;
	int r;

	va_copy(again, ap);
	for (const char *p = fmt; *p; p++) {
		unsigned width = 0, base = 10;
		int prec = -1, len = 0;
		bool zero = false, neg = false;
		unsigned long long v;

		if (*p != '%') {
			const char *pc = strchrnul(p, '%');

			put_n(&o, p, (size_t)(pc - p));
			p = pc - 1;
			continue;
		}
		p++;
		if (*p == '0') {
			zero = true;
			p++;
		}
		for (; *p >= '0' && *p <= '9'; p++)
			if ((width = width * 10 + (unsigned)(*p - '0')) > 64)
				goto slow;
		if (*p == '.') {
			if (p[1] != '*')
				goto slow;
			prec = va_arg(ap, int);
			p += 2;
		}
		for (; *p == 'h' || *p == 'l' || *p == 'z'; p++)
			len = !len ? *p : len == *p && *p != 'z' ? *p + 1 : -1;
		if (len < 0)
			goto slow;
		switch (*p) {
		case 's': {
			const char *s = va_arg(ap, const char *);

			if (zero || width || len || !s)
				goto slow;
			put_n(&o, s, prec < 0 ? strlen(s) : strnlen(s, (size_t)prec));
			continue;
		}
		case 'c':
		case '%':
			if (zero || width || prec >= 0 || len)
				goto slow;
			put(&o, *p == 'c' ? (char)va_arg(ap, int) : '%');
			continue;
		case 'd':
		case 'i': {
			long long s;

			if (prec >= 0)
				goto slow;
			s = len == 'l' + 1 ? va_arg(ap, long long)
			    : len == 'l'   ? va_arg(ap, long)
			    : len == 'z'   ? (long long)va_arg(ap, ssize_t)
			    : len == 'h'   ? (short)va_arg(ap, int)
			    : len == 'h' + 1 ? (signed char)va_arg(ap, int)
					     : va_arg(ap, int);
			neg = s < 0;
			v = neg ? 0ULL - (unsigned long long)s : (unsigned long long)s;
			break;
		}
		case 'x':
		case 'X':
			base = 16;
			/* fall through */
		case 'u':
			if (prec >= 0)
				goto slow;
			v = len == 'l' + 1 ? va_arg(ap, unsigned long long)
			    : len == 'l'   ? va_arg(ap, unsigned long)
			    : len == 'z'   ? va_arg(ap, size_t)
			    : len == 'h'   ? (unsigned short)va_arg(ap, unsigned)
			    : len == 'h' + 1 ? (unsigned char)va_arg(ap, unsigned)
					     : va_arg(ap, unsigned);
			break;
		default:
			goto slow;
		}
		put_number(&o, v, neg, base, *p == 'X', width, zero);
	}
	if (size)
		buf[o.n < size ? o.n : size - 1] = '\0';
	va_end(again);
	if (o.n > INT_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	return (int)o.n;
slow:
	r = vsnprintf(buf, size, fmt, again);
	va_end(again);
	return r;
}

int gh_util_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = gh_util_vformat(buf, size, fmt, ap);
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
