/* SPDX-License-Identifier: MIT */
/*
 * gh_journal_save keeps the tree of the last journal it saved and only sets
 * what changes between two saves of a phase (statuses, wedged marks,
 * "complete"). What is read back must always be what was saved last, also
 * when anything else of the journal changed.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "journal.h"

static void two_steps(struct gh_journal *j, struct gh_step *steps, enum gh_jstatus *status)
{
	memset(j, 0, sizeof(*j));
	memset(steps, 0, 2 * sizeof(*steps));
	strcpy(j->key, "111");
	strcpy(j->phase, "to-vfio");
	j->vmid = 111;
	j->n_dev = 1;
	strcpy(j->dev[0].addr, "0000:01:00.0");
	strcpy(j->dev[0].host_driver, "nvidia");
	j->dev[0].vendor = 0x10de;
	j->dev[0].device = 0x2204;
	j->dev[0].iommu_group = 12;
	steps[0].op.action = GH_ACT_OVERRIDE;
	strcpy(steps[0].op.target, "0000:01:00.0");
	strcpy(steps[0].op.arg, "vfio-pci");
	steps[1].op.action = GH_ACT_PROBE;
	strcpy(steps[1].op.target, "0000:01:00.0");
	strcpy(steps[1].op.arg, "vfio-pci");
	status[0] = status[1] = GH_J_PENDING;
	j->steps = steps;
	j->status = status;
	j->n_steps = 2;
}

static struct gh_journal saved_and_read(struct fx *fx, const struct gh_journal *j)
{
	struct gh_journal back;

	ck_assert_int_eq(gh_journal_save(fx->ctx, j), 0);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &back), 0);
	return back;
}

START_TEST(every_save_reads_back_as_saved)
{
	struct fx *fx = fx_new();
	struct gh_step steps[2];
	enum gh_jstatus status[2];
	struct gh_journal j, back;

	fx_mkdir(fx, "/run/gpu-hook");
	fx_chmod(fx, "/run/gpu-hook", 0700);
	two_steps(&j, steps, status);
	back = saved_and_read(fx, &j);
	ck_assert_int_eq(back.status[0], GH_J_PENDING);
	gh_journal_free(&back);
	/* What a phase changes between two saves. */
	status[0] = GH_J_DONE;
	status[1] = GH_J_RUNNING;
	j.dev[0].wedged = true;
	j.complete = true;
	back = saved_and_read(fx, &j);
	ck_assert_int_eq(back.status[0], GH_J_DONE);
	ck_assert_int_eq(back.status[1], GH_J_RUNNING);
	ck_assert(back.dev[0].wedged);
	ck_assert(back.complete);
	gh_journal_free(&back);
	/* Anything else changed: the record is built again, not patched. */
	strcpy(steps[1].op.arg, "nvidia");
	strcpy(j.dev[0].host_driver, "nouveau");
	status[1] = GH_J_FAILED;
	back = saved_and_read(fx, &j);
	ck_assert_str_eq(back.steps[1].op.arg, "nvidia");
	ck_assert_str_eq(back.dev[0].host_driver, "nouveau");
	ck_assert_int_eq(back.status[1], GH_J_FAILED);
	ck_assert(back.dev[0].wedged);
	gh_journal_free(&back);
	/* Another journal with the same key and steps, another phase: built again too. */
	strcpy(j.phase, "to-host");
	j.dev[0].wedged = false;
	back = saved_and_read(fx, &j);
	ck_assert_str_eq(back.phase, "to-host");
	ck_assert(!back.dev[0].wedged);
	gh_journal_free(&back);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

static char *slurp(struct fx *fx, const char *path)
{
	FILE *f = fopen(fx_path(fx, path), "re");
	char *text = calloc(1, 65536);

	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_gt(fread(text, 1, 65535, f), 0);
	fclose(f);
	return text;
}

/* A load that finds the text it parsed last gives a copy of that journal: never one it shares, never one of another name. */
START_TEST(a_reread_is_the_file_as_it_is)
{
	struct fx *fx = fx_new();
	struct gh_step steps[2];
	enum gh_jstatus status[2];
	struct gh_journal j, a, b;
	char *text, *p;

	fx_mkdir(fx, "/run/gpu-hook");
	fx_chmod(fx, "/run/gpu-hook", 0700);
	two_steps(&j, steps, status);
	a = saved_and_read(fx, &j);
	/* The caller's journal is its own: changing it changes no later load. */
	a.status[0] = GH_J_WEDGED;
	strcpy(a.steps[1].op.arg, "nouveau");
	a.dev[0].wedged = true;
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &b), 0);
	ck_assert_int_eq(b.status[0], GH_J_PENDING);
	ck_assert_str_eq(b.steps[1].op.arg, "vfio-pci");
	ck_assert(!b.dev[0].wedged);
	ck_assert_ptr_ne(a.steps, b.steps);
	ck_assert_ptr_ne(a.status, b.status);
	gh_journal_free(&a);
	gh_journal_free(&b);
	/* The same bytes under another name still name key 111: refused as before. */
	text = slurp(fx, "/run/gpu-hook/111.json");
	fx_file(fx, "/run/gpu-hook/222.json", "%s", text);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "222", &b), -EINVAL);
	ck_assert(fx_log_has(fx, "222.json: corrupt journal (it names key \"111\")"));
	/* One byte changed, same length: parsed again, and refused. */
	p = strstr(text, "\"pending\"");
	ck_assert_ptr_nonnull(p);
	p[1] = 'P';
	fx_file(fx, "/run/gpu-hook/111.json", "%s", text);
	fx_log_clear(fx);
	ck_assert_int_lt(gh_journal_load(fx->ctx, "111", &b), 0);
	ck_assert(fx_log_has(fx, "111.json: corrupt journal"));
	free(text);
	fx_free(fx);
}
END_TEST

/*
 * A killed process's name is a local user's text: every byte a name can hold
 * reads back as it was, escaped the way json-c escapes it (the file reads
 * the same whichever printer wrote it).
 */
START_TEST(any_process_name_reads_back)
{
	static const char comm[] = "a\"b\\c/d\n\t\x01\x1f\x7f\xc3\xa9}";
	struct fx *fx = fx_new();
	struct gh_step steps[2];
	enum gh_jstatus status[2];
	struct gh_journal j, back;
	struct json_object *o = json_object_new_string(comm);
	char *text;

	fx_mkdir(fx, "/run/gpu-hook");
	fx_chmod(fx, "/run/gpu-hook", 0700);
	two_steps(&j, steps, status);
	steps[0].op.action = GH_ACT_KILL;
	strcpy(steps[0].op.target, "4242");
	strcpy(steps[0].op.arg, comm);
	back = saved_and_read(fx, &j);
	ck_assert_str_eq(back.steps[0].op.arg, comm);
	gh_journal_free(&back);
	text = slurp(fx, "/run/gpu-hook/111.json");
	ck_assert_ptr_nonnull(strstr(text, json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE)));
	free(text);
	json_object_put(o);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("journal_save");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_save_reads_back_as_saved);
	tcase_add_test(tc, a_reread_is_the_file_as_it_is);
	tcase_add_test(tc, any_process_name_reads_back);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
