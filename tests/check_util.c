/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <wchar.h>

#include "fixture.h"
#include "util.h"

/*
 * gh_util_vformat against the C library's vsnprintf: the same bytes and the
 * same return for every buffer size from 0 to past the end, so truncation
 * and the terminating NUL are compared too. Returns how many sizes differed.
 */
static unsigned differ(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static unsigned differ(const char *fmt, ...)
{
	char want[512], got[512];
	unsigned bad = 0;
	va_list ap, a1, a2;
	int full;

	va_start(ap, fmt);
	va_copy(a1, ap);
	full = vsnprintf(NULL, 0, fmt, a1);
	va_end(a1);
	ck_assert_int_ge(full, 0);
	ck_assert_int_lt(full + 2, (int)sizeof(want));
	for (size_t size = 0; size <= (size_t)full + 2; size++) {
		int rw, rg;

		memset(want, 'W', sizeof(want));
		memset(got, 'W', sizeof(got));
		va_copy(a1, ap);
		va_copy(a2, ap);
		rw = vsnprintf(size ? want : NULL, size, fmt, a1);
		rg = gh_util_vformat(size ? got : NULL, size, fmt, a2);
		va_end(a1);
		va_end(a2);
		if (rw != rg || memcmp(want, got, sizeof(want))) {
			fprintf(stderr, "format \"%s\", size %zu: vsnprintf %d \"%.*s\", gh_util_vformat %d \"%.*s\"\n", fmt,
				size, rw, (int)(size ? size : 1) - 1, want, rg, (int)(size ? size : 1) - 1, got);
			bad++;
		}
	}
	va_end(ap);
	return bad;
}

START_TEST(format_is_vsnprintf)
{
	unsigned bad = 0;

	bad += differ("/sys/bus/pci/devices/%s/%s", "0000:01:00.0", "driver_override");
	bad += differ("%s", "");
	bad += differ("plain text, no conversion");
	bad += differ("%.*s|%.*s|%.*s", 3, "abcdef", 0, "xyz", -1, "neg");
	bad += differ("%d %i %u %x %X", -42, INT_MIN, UINT_MAX, 0xbeefu, 0xbeefu);
	bad += differ("%ld %lu %lx", LONG_MIN, ULONG_MAX, 0x123456789abcdefUL);
	bad += differ("%lld %llu %llx", LLONG_MIN, ULLONG_MAX, 0xfedcba9876543210ULL);
	bad += differ("%zu %zd %zx", SIZE_MAX, (ssize_t)-7, (size_t)4096);
	bad += differ("%hd %hu %hhd %hhu %hhx", (short)-3, (unsigned short)65535, (signed char)-56, (unsigned char)200,
		      (unsigned char)0xff);
	bad += differ("%04x:%02x:%02x.%x", 0u, 1u, 0x1fu, 7u);
	bad += differ("[%5d] [%05d] [%5u] [%08x] [%2d] [%03d]", -42, -42, 7u, 0xabu, 12345, 0);
	bad += differ("%c%c%% %c", 'a', '\x7f', '\xe9');
	bad += differ("/proc/%d/fd/%s", 123456, "17");
	/* Handed to vsnprintf whole: flags, widths on strings, precisions on numbers, other conversions. */
	bad += differ("%-5d|%+d|% d|%#x|%5s|%-3s|%.3d|%.2s", 4, 5, 6, 255u, "ab", "c", 7, "xyz");
	bad += differ("%s then %p then %s", "a", (void *)0x1000, "b");
	bad += differ("%u %s %f", 1u, "x", 2.5);
	bad += differ("%jd %td %lc", (intmax_t)-9, (ptrdiff_t)3, (wint_t)'w');
	ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(format_says_whether_it_fitted)
{
	char buf[8];

	ck_assert_int_eq(gh_util_format(buf, sizeof(buf), "%s-%u", "abc", 123u), 0);
	ck_assert_str_eq(buf, "abc-123");
	ck_assert_int_eq(gh_util_format(buf, sizeof(buf), "%s-%u", "abc", 1234u), -ENAMETOOLONG);
	ck_assert_str_eq(buf, "abc-123");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, format_is_vsnprintf);
	tcase_add_test(tc, format_says_whether_it_fitted);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
