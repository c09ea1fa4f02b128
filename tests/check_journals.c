/* SPDX-License-Identifier: MIT */
/*
 * A phase reads /run/gpu-hook once (lib/journals.h) and every question about
 * other handoffs is answered from that snapshot. A corrupt journal shows it:
 * it is reported once, however many of those questions a pre-start asks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "handoff.h"
#include "host.h"
#include "sim.h"

static unsigned count(const char *log, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(log, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

START_TEST(a_pre_start_reads_the_journals_once)
{
	struct fx *fx = fx_new();
	struct gh_host h;
	bool already;

	gh_ctx_set_ops(fx->ctx, &gh_sim_ops, NULL);
	fx_host_single(fx);
	fx_mkdir(fx, "/run/gpu-hook");
	fx_chmod(fx, "/run/gpu-hook", 0700);
	fx_file(fx, "/run/gpu-hook/222.json", "{");
	ck_assert_int_eq(gh_handoff_settle(fx->ctx, "111", &already), 0);
	ck_assert(!already);
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_uint_eq(h.journals.n, 0);
	ck_assert_uint_eq(h.journals.unreadable.n, 1);
	/* The driver stack and the other owners both asked; the file was read for neither again. */
	ck_assert_int_eq(gh_handoff_to_vfio(fx->ctx, &h, "111"), 0);
	ck_assert_msg(count(fx->log, "corrupt journal") == 1, "%s", fx->log);
	ck_assert_msg(count(fx->log, "ignoring unreadable journal /run/gpu-hook/222.json") == 1, "%s", fx->log);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("journals");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, a_pre_start_reads_the_journals_once);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
