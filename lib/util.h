/* SPDX-License-Identifier: MIT */
#ifndef GH_UTIL_H
#define GH_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#define GH_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* A growable list of owned strings. Zero-initialised is empty. */
struct gh_strv {
	char **v;
	size_t n;
};

int gh_strv_push(struct gh_strv *sv, const char *s);
/*
 * An array of n elements of size bytes with room for one more: v itself when
 * there is, else v reallocated to twice as many (NULL when that fails, v
 * untouched). Every array grown only through here holds the next power of
 * two of its count, so n appends copy O(n) bytes in all, not O(n^2).
 */
void *gh_util_grow(void *v, size_t n, size_t size);
/* Pushes unless already present. */
int gh_strv_add(struct gh_strv *sv, const char *s);
bool gh_strv_contains(const struct gh_strv *sv, const char *s);
void gh_strv_sort(struct gh_strv *sv);
void gh_strv_free(struct gh_strv *sv);
/* Joins with sep into buf; -ENOSPC when it does not fit. */
int gh_strv_join(const struct gh_strv *sv, const char *sep, char *buf, size_t size);

/*
 * Whole-string unsigned number in the given base (0: like strtoul, 0x
 * prefix allowed), no sign, no blanks, at most max. 0 or -EINVAL / -ERANGE.
 */
int gh_util_parse_ulong(const char *s, int base, unsigned long max, unsigned long *out);
/* Trims blanks at both ends, in place. */
char *gh_util_trim(char *s);
/*
 * Quotes a value that came from a file or a process for a log line:
 * control bytes, quotes, backslashes and non-ASCII as \xNN. Always
 * NUL-terminates; truncates with "...".
 */
const char *gh_util_escape(const char *s, char *buf, size_t size);
/*
 * vsnprintf, same output and return, for the conversions paths and log lines
 * are made of (gh_util_vformat in util.c); anything else is vsnprintf's.
 */
int gh_util_vformat(char *buf, size_t size, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
/* snprintf that says whether it fitted: 0 or -ENAMETOOLONG. */
int gh_util_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* strdup-ish copy into a fixed buffer: 0 or -ENAMETOOLONG. */
int gh_util_copy(char *dst, size_t size, const char *src);

#endif
