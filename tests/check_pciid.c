/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "fixture.h"
#include "pciid.h"

static const char *norm(const char *in)
{
	static char buf[GH_PCI_ADDR_LEN];
	struct gh_pciid id;

	ck_assert_msg(gh_pciid_parse(in, &id) == 0, "'%s' rejected", in);
	gh_pciid_format(&id, buf);
	return buf;
}

START_TEST(proxmox_forms)
{
	struct gh_pciid id;

	ck_assert_str_eq(norm("01:00"), "0000:01:00");
	ck_assert_str_eq(norm("01:00.1"), "0000:01:00.1");
	ck_assert_str_eq(norm("0000:41:00.3"), "0000:41:00.3");
	ck_assert_str_eq(norm("0001:04:1f.7"), "0001:04:1f.7");
	ck_assert_str_eq(norm("ffff:ff:1f"), "ffff:ff:1f");
	/* PVE's regex takes any slot, any hex function (its own tests use 00:f4.0 and f0:43.1). */
	ck_assert_str_eq(norm("00:f4.0"), "0000:00:f4.0");
	ck_assert_str_eq(norm("1234:f0:43.1"), "1234:f0:43.1");
	ck_assert_str_eq(norm("01:20"), "0000:01:20");
	ck_assert_str_eq(norm("01:00.8"), "0000:01:00.8");
	ck_assert_str_eq(norm("01:00.f"), "0000:01:00.f");
	/*
	 * And four or more domain digits; but sysfs prints four, and PVE's lspci
	 * compares text: a fifth digit names no device gpu-hook can see.
	 */
	ck_assert_str_eq(norm("00000001:02:03.4"), "");
	ck_assert_str_eq(norm("10000:01:00.1"), "");
	ck_assert_int_eq(gh_pciid_parse("000000000:01:00.0", &id), 0);
	ck_assert_uint_eq(id.domain, GH_PCIID_NODEV);
	ck_assert_int_eq(gh_pciid_parse("0000:ff:ff.f", &id), 0);
	ck_assert_uint_eq(id.slot, 0xff);
	ck_assert_int_eq(id.func, 15);
	ck_assert_int_eq(gh_pciid_parse("0000:0a:1b", &id), 0);
	ck_assert_uint_eq(id.domain, 0);
	ck_assert_uint_eq(id.bus, 0x0a);
	ck_assert_uint_eq(id.slot, 0x1b);
	ck_assert_int_eq(id.func, -1);
	ck_assert_int_eq(gh_pciid_parse("abcd:e0:00.5", &id), 0);
	ck_assert_uint_eq(id.domain, 0xabcd);
	ck_assert_uint_eq(id.bus, 0xe0);
	ck_assert_int_eq(id.func, 5);
}
END_TEST

START_TEST(strict_rejects)
{
	static const char *const bad[] = {
		"",		  "../../etc",	   "1:00.0",	   "01:0.0",	    "0A:00.0",	     "01:0A.0",
		"0000:0A:00.0",	  "01:00.0 ",	   " 01:00.0",	    "01:00.",	     "01:00.0.0",     "01:00.F",
		"01:00.10",	  "01:00.g",	   "01:200.0",	    "000:01:00.0",   "0:01:00.0",     "01:00 ",
		"\t01:00.1",	  "01:00.0\n",	   "01:00:00.0",    "0000:01:00.0:", "01-00.0",       "0x01:00.0",
		"0000:01",	  "01",		   ":01:00.0",	    "0000::01:00.0", "01:00.0;01:00", "g1:00.0",
	};
	struct gh_pciid id = { 7, 7, 7, 7 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(gh_pciid_parse(bad[i], &id) == -EINVAL, "accepted '%s'", bad[i]);
	ck_assert_int_eq(gh_pciid_parse(NULL, &id), -EINVAL);
	/* A failed parse leaves the output alone. */
	ck_assert_uint_eq(id.domain, 7);
	ck_assert_int_eq(id.func, 7);
}
END_TEST

START_TEST(full_addresses)
{
	ck_assert(gh_pciid_is_addr("0000:01:00.0"));
	ck_assert(gh_pciid_is_addr("ffff:ff:1f.7"));
	ck_assert(!gh_pciid_is_addr("01:00.0"));
	ck_assert(!gh_pciid_is_addr("0000:01:00"));
	ck_assert(!gh_pciid_is_addr("00000:01:00.0"));
	/* A valid id, but no function 8 exists: not a sysfs address. */
	ck_assert(!gh_pciid_is_addr("0000:01:00.8"));
	ck_assert(gh_pciid_is_addr("0000:0f:f2.0"));
	ck_assert(!gh_pciid_is_addr("0000:01:00.0/../x"));
	ck_assert(!gh_pciid_is_addr("0000:0A:00.0"));
	ck_assert(!gh_pciid_is_addr(""));
	ck_assert(!gh_pciid_is_addr(NULL));
}
END_TEST

START_TEST(format_stays_in_bounds)
{
	/* A struct built by hand (not parsed) still fits the buffer. */
	struct gh_pciid id = { 0xffff, 0x1ff, 0x3ff, 19 };
	char buf[GH_PCI_ADDR_LEN + 8];

	memset(buf, 'z', sizeof(buf));
	gh_pciid_format(&id, buf);
	ck_assert_uint_eq(strlen(buf), GH_PCI_ADDR_LEN - 1);
	ck_assert_int_eq(buf[GH_PCI_ADDR_LEN], 'z');
	/* A domain beyond 16 bits names nothing, rather than another device. */
	id.domain = 0x12345;
	gh_pciid_format(&id, buf);
	ck_assert_str_eq(buf, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pciid");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, proxmox_forms);
	tcase_add_test(tc, strict_rejects);
	tcase_add_test(tc, full_addresses);
	tcase_add_test(tc, format_stays_in_bounds);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
