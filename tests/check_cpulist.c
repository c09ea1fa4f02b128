/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "cpulist.h"
#include "fixture.h"

static const char *fmt(const char *in)
{
	static char out[256];
	const char *bad = NULL;
	cpu_set_t set;

	ck_assert_msg(gh_cpulist_parse(in, &set, &bad) == 0, "%s rejected at %s", in, bad);
	ck_assert_int_eq(gh_cpulist_format(&set, out, sizeof(out)), 0);
	return out;
}

START_TEST(kernel_syntax)
{
	ck_assert_str_eq(fmt("0-3,8,10-11"), "0-3,8,10-11");
	ck_assert_str_eq(fmt("3,2,1"), "1-3");
	ck_assert_str_eq(fmt(" 4-7 , 9"), "4-7,9");
	ck_assert_str_eq(fmt("0-15:2/4"), "0-1,4-5,8-9,12-13");
	ck_assert_str_eq(fmt("0-7:1/2"), "0,2,4,6");
	ck_assert_str_eq(fmt("1023"), "1023");
	ck_assert_str_eq(fmt("0-1023"), "0-1023");
	ck_assert_str_eq(fmt("2-11:3/5"), "2-4,7-9");
	ck_assert_str_eq(fmt("0-3:4/4"), "0-3");
	ck_assert_str_eq(fmt("007"), "7");
}
END_TEST

START_TEST(rejects_with_the_offending_text)
{
	static const struct {
		const char *in, *bad;
	} cases[] = {
		{ "", "" },	     { "1,", "" },	  { "3-1", "3-1" },    { "0-3,x", "x" },
		{ "1024", "1024" }, { "0-4:3/2", "0-4:3/2" }, { "1;2", ";2" }, { "-1", "-1" },
		{ "0-3:0/4", "0-3:0/4" }, { "0-1024", "0-1024" }, { "99999999999", "99999999999" },
		{ "a", "a" },	     { "1,,2", ",2" },	   { "1-", "1-" },	{ "0-3:2/", "0-3:2/" },
		{ "0-3:2", "0-3:2" }, { "2,5 x", "x" },	   { " ", " " },	{ "1 2", "2" },
		{ "0-3/2", "/2" },   { "4:1/2", ":1/2" },
	};
	cpu_set_t set;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *bad = NULL;

		ck_assert_msg(gh_cpulist_parse(cases[i].in, &set, &bad) == -EINVAL, "accepted '%s'", cases[i].in);
		ck_assert_ptr_nonnull(bad);
		ck_assert_msg(!strcmp(bad, cases[i].bad), "'%s': bad part '%s', expected '%s'", cases[i].in, bad,
			      cases[i].bad);
	}
}
END_TEST

START_TEST(ordered_lists)
{
	int cpus[8];
	size_t n;
	const char *bad;

	ck_assert_int_eq(gh_cpulist_parse_ordered("7,6,0-1", cpus, 8, &n, &bad), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(cpus[0], 7);
	ck_assert_int_eq(cpus[1], 6);
	ck_assert_int_eq(cpus[3], 1);
	ck_assert_int_eq(gh_cpulist_parse_ordered("1,2,1", cpus, 8, &n, &bad), -EINVAL);
	ck_assert_str_eq(bad, "1");
	ck_assert_int_eq(gh_cpulist_parse_ordered("0-8", cpus, 8, &n, &bad), -EINVAL);
	ck_assert_str_eq(bad, "0-8");
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(gh_cpulist_parse_ordered("9, 0-7:1/4", cpus, 8, &n, &bad), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(cpus[0], 9);
	ck_assert_int_eq(cpus[1], 0);
	ck_assert_int_eq(cpus[2], 4);
	ck_assert_int_eq(gh_cpulist_parse_ordered("0-3,2-5:1/2", cpus, 8, &n, &bad), -EINVAL);
	ck_assert_str_eq(bad, "2-5:1/2");
	ck_assert_int_eq(gh_cpulist_parse_ordered("1,x", cpus, 8, &n, &bad), -EINVAL);
	ck_assert_str_eq(bad, "x");
}
END_TEST

START_TEST(format_reports_no_space)
{
	cpu_set_t set;
	char buf[8];

	CPU_ZERO(&set);
	ck_assert_int_eq(gh_cpulist_format(&set, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "");
	CPU_SET(0, &set);
	CPU_SET(2, &set);
	CPU_SET(4, &set);
	CPU_SET(6, &set);
	ck_assert_int_eq(gh_cpulist_format(&set, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "0,2,4,6");
	CPU_SET(8, &set);
	ck_assert_int_eq(gh_cpulist_format(&set, buf, sizeof(buf)), -ENOSPC);
	ck_assert_int_eq(gh_cpulist_format(&set, buf, 0), -ENOSPC);
	CPU_ZERO(&set);
	CPU_SET(GH_CPU_MAX - 1, &set);
	ck_assert_int_eq(gh_cpulist_format(&set, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "1023");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cpulist");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, kernel_syntax);
	tcase_add_test(tc, rejects_with_the_offending_text);
	tcase_add_test(tc, ordered_lists);
	tcase_add_test(tc, format_reports_no_space);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
