/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "text.h"
#include "util.h"

START_TEST(line_problems)
{
	ck_assert_ptr_null(gh_text_line_problem("name: x\t\r\n", 10));
	ck_assert_ptr_null(gh_text_line_problem("\xf0\x9f\x98\x80 \xe2\x82\xac", 8));
	ck_assert_str_eq(gh_text_line_problem("a\0b", 3), "NUL byte in line");
	ck_assert_str_eq(gh_text_line_problem("a\x7f", 2), "control character in line");
	ck_assert_str_eq(gh_text_line_problem("\xc3", 1), "line is not valid UTF-8");
	ck_assert_str_eq(gh_text_line_problem("\xf4\x90\x80\x80", 4), "line is not valid UTF-8");
	ck_assert_str_eq(gh_text_line_problem("\xe0\x80\xaf", 3), "line is not valid UTF-8");
	ck_assert_str_eq(gh_text_line_problem("\xf0\x80\x80\xaf", 4), "line is not valid UTF-8");
}
END_TEST

/* Every line the reader gives back, "<line>|" each, into out. */
static void read_all(struct gh_text *t, const char *text, size_t size, char *out, size_t out_size)
{
	FILE *f = fmemopen((void *)text, size, "r");
	char *line;
	size_t len, off = 0;

	ck_assert_ptr_nonnull(f);
	t->f = f;
	out[0] = '\0';
	while (gh_text_next(t, &line, &len) > 0) {
		ck_assert_uint_eq(len, strlen(line));
		off += (size_t)snprintf(out + off, out_size - off, "%d:%s|", t->line, line);
		ck_assert_uint_lt(off, out_size);
	}
	ck_assert(!ferror(f));
	gh_text_done(t);
	fclose(f);
}

START_TEST(reader_numbers_and_passes_over)
{
	static const char text[] = "a\r\nbb\n\xff\ncccccccc\n\x01x\nlast";
	struct fx *fx = fx_new();
	struct gh_text t = { .ctx = fx->ctx, .name = "f.conf", .max = 8 };
	char got[256];

	read_all(&t, text, sizeof(text) - 1, got, sizeof(got));
	/* Numbers count every line, the ones passed over too; the last needs no newline. */
	ck_assert_str_eq(got, "1:a|2:bb|6:last|");
	ck_assert_int_eq(t.errors, 3);
	ck_assert(fx_log_has(fx, "f.conf:3: line is not valid UTF-8"));
	ck_assert(fx_log_has(fx, "f.conf:4: line too long (9 bytes, at most 8)"));
	ck_assert(fx_log_has(fx, "f.conf:5: control character in line"));
	fx_free(fx);
}
END_TEST

START_TEST(reader_bytes_mode)
{
	static const char text[] = "caf\xe9\n\x01ok\nnul\0x\n";
	struct fx *fx = fx_new();
	struct gh_text t = { .ctx = fx->ctx, .name = "storage.cfg", .bytes = true };
	char got[256];

	read_all(&t, text, sizeof(text) - 1, got, sizeof(got));
	ck_assert_str_eq(got, "1:caf\xe9|2:\x01ok|");
	ck_assert_int_eq(t.errors, 1);
	ck_assert(fx_log_has(fx, "storage.cfg:3: NUL byte in line"));
	fx_free(fx);
}
END_TEST

static void collect(struct gh_text *t, const char *msg)
{
	ck_assert_int_eq(gh_strv_push(t->data, msg), 0);
}

START_TEST(reporter_sink)
{
	struct fx *fx = fx_new();
	struct gh_strv kept = { 0 };
	struct gh_text t = { .ctx = fx->ctx, .name = "/etc/x.ini", .sink = collect, .data = &kept };

	t.line = 7;
	gh_text_err(&t, "bad '%s'", "v");
	t.line = 9;
	gh_text_err(&t, "worse");
	ck_assert_int_eq(t.errors, 2);
	ck_assert_uint_eq(kept.n, 2);
	ck_assert_str_eq(kept.v[0], "/etc/x.ini:7: bad 'v'");
	ck_assert_str_eq(kept.v[1], "/etc/x.ini:9: worse");
	/* A sink takes the message instead of the log. */
	ck_assert(!fx_log_has(fx, "x.ini"));
	gh_strv_free(&kept);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, line_problems);
	tcase_add_test(tc, reader_numbers_and_passes_over);
	tcase_add_test(tc, reader_bytes_mode);
	tcase_add_test(tc, reporter_sink);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
