/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "propstr.h"

struct seen {
	char text[256];
	int stop_at, calls;
};

static int record_prop(void *data, const char *key, const char *value)
{
	struct seen *s = data;
	size_t len = strlen(s->text);

	snprintf(s->text + len, sizeof(s->text) - len, "[%s=%s]", key, value);
	if (++s->calls == s->stop_at)
		return -ENOTSUP;
	return 0;
}

START_TEST(property_strings)
{
	struct seen s = { "", 0, 0 };
	char why[128];

	ck_assert_int_eq(gh_propstr_parse("01:00,pcie=1,x-vga=on", "host", record_prop, &s), 0);
	ck_assert_str_eq(s.text, "[host=01:00][pcie=1][x-vga=on]");
	/* '=' in a value stays in the value. */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(gh_propstr_parse("args=a=b,c", "x", record_prop, &s), 0);
	ck_assert_str_eq(s.text, "[args=a=b][x=c]");
	/* A malformed string is refused before fn sees any of it. */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(gh_propstr_parse("a=1,a=2", "host", record_prop, &s), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse("01:00,01:01", "host", record_prop, &s), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse("01:00,host=01:01", "host", record_prop, &s), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse("a=1,", "host", record_prop, &s), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse(",a=1", "host", record_prop, &s), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse("", "host", record_prop, &s), -EINVAL);
	ck_assert_int_eq(gh_propstr_parse("bare", NULL, record_prop, &s), -EINVAL);
	ck_assert_int_eq(s.calls, 0);
	/* fn's own failure comes back as it is, and stops the walk. */
	s.stop_at = 2;
	ck_assert_int_eq(gh_propstr_parse("a=1,b=2,c=3", NULL, record_prop, &s), -ENOTSUP);
	ck_assert_str_eq(s.text, "[a=1][b=2]");

	ck_assert_int_eq(gh_propstr_parse_why("a=1,b\x01=2,b\x01=3", NULL, record_prop, &s, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "'b\\x01' given twice");
	ck_assert_int_eq(gh_propstr_parse_why("x", NULL, record_prop, &s, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, "'x' is not key=value");
	ck_assert_int_eq(gh_propstr_parse_why("a=1", NULL, record_prop, &s, why, sizeof(why)), 0);
	ck_assert_str_eq(why, "");

	ck_assert_int_eq(gh_propstr_bool("on"), 1);
	ck_assert_int_eq(gh_propstr_bool("1"), 1);
	ck_assert_int_eq(gh_propstr_bool("Yes"), 1);
	ck_assert_int_eq(gh_propstr_bool("TRUE"), 1);
	ck_assert_int_eq(gh_propstr_bool("false"), 0);
	ck_assert_int_eq(gh_propstr_bool("OFF"), 0);
	ck_assert_int_eq(gh_propstr_bool("no"), 0);
	ck_assert_int_eq(gh_propstr_bool("0"), 0);
	ck_assert_int_eq(gh_propstr_bool("2"), -EINVAL);
	ck_assert_int_eq(gh_propstr_bool(""), -EINVAL);
	ck_assert_int_eq(gh_propstr_bool("yes "), -EINVAL);
	ck_assert_int_eq(gh_propstr_bool(NULL), -EINVAL);
}
END_TEST

START_TEST(config_ids)
{
	ck_assert(gh_propstr_configid("gpu", 8));
	ck_assert(gh_propstr_configid("A_b-9", 8));
	ck_assert(!gh_propstr_configid("", 8));
	ck_assert(!gh_propstr_configid("9gpu", 8));
	ck_assert(!gh_propstr_configid("_gpu", 8));
	ck_assert(!gh_propstr_configid("gp.u", 8));
	/* The size bounds the id, its NUL counted. */
	ck_assert(gh_propstr_configid("abcdefg", 8));
	ck_assert(!gh_propstr_configid("abcdefgh", 8));
}
END_TEST

struct fails {
	char text[512];
	int n;
};

static void record_fail(void *data, const char *msg)
{
	struct fails *f = data;
	size_t len = strlen(f->text);

	snprintf(f->text + len, sizeof(f->text) - len, "[%s]", msg);
	f->n++;
}

START_TEST(pci_id_lists)
{
	struct gh_pciid ids[3];
	struct fails f = { "", 0 };
	unsigned n = 0;

	ck_assert(gh_propstr_pci_ids("01:00.0;0000:02:00", false, "PCI id", ids, 3, &n, record_fail, &f));
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(ids[0].bus, 1);
	ck_assert_int_eq(ids[0].func, 0);
	ck_assert_uint_eq(ids[1].bus, 2);
	ck_assert_int_eq(ids[1].func, -1);
	ck_assert_int_eq(f.n, 0);

	/* Every bad item is told, and the good ones are still taken. */
	n = 0;
	ck_assert(!gh_propstr_pci_ids("01:00;;zz;03:00", false, "PCI id", ids, 3, &n, record_fail, &f));
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(f.text, "[empty PCI id in '01:00;;zz;03:00']"
				 "[invalid PCI id 'zz' (expected [dddd:]bb:ss[.f], lowercase hex)]");

	/* pci.cfg's path= wants the domain; the list stops at max. */
	memset(&f, 0, sizeof(f));
	n = 0;
	ck_assert(!gh_propstr_pci_ids("01:00.0;0000:01:00.1", true, "path", ids, 3, &n, record_fail, &f));
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(f.text, "[invalid path '01:00.0' (expected dddd:bb:ss[.f], lowercase hex)]");
	memset(&f, 0, sizeof(f));
	n = 0;
	ck_assert(!gh_propstr_pci_ids("01:00;02:00;03:00;04:00;zz", false, "path", ids, 3, &n, record_fail, &f));
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(f.text, "[more than 3 paths]");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("propstr");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, property_strings);
	tcase_add_test(tc, config_ids);
	tcase_add_test(tc, pci_id_lists);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
