/* SPDX-License-Identifier: MIT */
/*
 * The policy's trust boundary (issue 19.9): the files in /etc/gpu-hook name
 * units to stop and processes to kill, so a file is read only when it, and
 * every directory from /etc/gpu-hook up to the root, is root's (here: root's
 * or the test user's) and closed to group and others, and the file is not a
 * link. trusted_files_load shows the same fixture loads when nothing is off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "policy.h"

static void policy_file(struct fx *fx, const char *path, const char *text)
{
	fx_file(fx, path, "%s", text);
	fx_chmod(fx, path, 0644);
}

/* A trusted /etc/gpu-hook with a defaults file, and a root-owned policy elsewhere to link to. */
static struct fx *policy_host(void)
{
	struct fx *fx = fx_new();

	policy_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\nconsole = keep\n");
	policy_file(fx, "/etc/gpu-hook-other/111.ini", "[handoff]\nholders = kill\n");
	fx_chmod(fx, "/etc/gpu-hook", 0755);
	fx_chmod(fx, "/etc", 0755);
	return fx;
}

/* Loads VM 111's policy: the result, and whether the linked-to file was applied. */
static int load(struct fx *fx, bool *applied)
{
	struct gh_policy p;
	int r;

	fx_log_clear(fx);
	r = gh_policy_load(fx->ctx, 111, &p);
	*applied = p.holders == GH_HOLDERS_KILL;
	gh_policy_free(&p);
	return r;
}

START_TEST(trusted_files_load)
{
	struct fx *fx = policy_host();
	bool applied;

	policy_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = kill\n");
	ck_assert_int_eq(load(fx, &applied), 0);
	ck_assert(applied);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

START_TEST(sticky_world_writable_directory_is_refused)
{
	struct fx *fx = policy_host();
	bool applied;

	/* As /tmp is: anyone may add 111.ini, here a link to another root-owned policy. */
	fx_link(fx, "/etc/gpu-hook/111.ini", "../gpu-hook-other/111.ini");
	fx_chmod(fx, "/etc/gpu-hook", 01777);
	ck_assert_int_eq(load(fx, &applied), -EPERM);
	ck_assert_msg(fx_log_has(fx, "/etc/gpu-hook: refusing the policy: directory writable by group or others "
				     "(mode 1777; chmod go-w /etc/gpu-hook)"),
		      "%s", fx->log);
	ck_assert(!applied);
	ck_assert_int_eq(fx->n_errors, 1);
	fx_free(fx);
}
END_TEST

START_TEST(every_directory_up_to_the_root_is_checked)
{
	struct fx *fx = policy_host();
	bool applied;

	policy_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = kill\n");
	fx_chmod(fx, "/etc", 0775);
	ck_assert_int_eq(load(fx, &applied), -EPERM);
	ck_assert_msg(fx_log_has(fx, "/etc: refusing the policy: directory writable by group or others (mode 0775"), "%s",
		      fx->log);
	ck_assert(!applied);
	fx_chmod(fx, "/etc", 0755);

	/* The fixture's root directory stands for "/"; its own parents (/tmp) are not the host's. */
	ck_assert_int_eq(chmod(fx->root, 0757), 0);
	ck_assert_int_eq(load(fx, &applied), -EPERM);
	ck_assert_msg(fx_log_has(fx, "/: refusing the policy: directory writable by group or others (mode 0757"), "%s",
		      fx->log);
	ck_assert(!applied);
	ck_assert_int_eq(chmod(fx->root, 0700), 0);
	ck_assert_int_eq(load(fx, &applied), 0);
	ck_assert(applied);
	fx_free(fx);
}
END_TEST

START_TEST(linked_policy_file_is_refused)
{
	struct fx *fx = policy_host();
	bool applied;

	/* The directory is trusted; the link itself is what is refused. */
	fx_link(fx, "/etc/gpu-hook/111.ini", "../gpu-hook-other/111.ini");
	ck_assert_int_eq(load(fx, &applied), -EPERM);
	ck_assert_msg(fx_log_has(fx, "/etc/gpu-hook/111.ini: a symbolic link, not followed"), "%s", fx->log);
	ck_assert(!applied);
	ck_assert_int_eq(fx->n_errors, 1);
	fx_free(fx);
}
END_TEST

START_TEST(linked_policy_directory_is_refused)
{
	struct fx *fx = policy_host();
	bool applied;

	policy_file(fx, "/etc/gpu-hook-other/gpu-hook.ini", "[handoff]\n");
	fx_rm(fx, "/etc/gpu-hook");
	fx_link(fx, "/etc/gpu-hook", "gpu-hook-other");
	ck_assert_int_eq(load(fx, &applied), -EPERM);
	ck_assert_msg(fx_log_has(fx, "/etc/gpu-hook: refusing the policy: a symbolic link, not a directory"), "%s",
		      fx->log);
	ck_assert(!applied);
	fx_free(fx);
}
END_TEST

START_TEST(directory_owned_by_another_user_is_refused)
{
	struct fx *fx = policy_host();
	bool applied;

	if (geteuid() != 0) {
		printf("policy paths: not root, ownership check skipped\n");
		fx_free(fx);
		return;
	}
	policy_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = kill\n");
	ck_assert_int_eq(chown(fx_path(fx, "/etc/gpu-hook"), 1, 1), 0);
	ck_assert_int_eq(load(fx, &applied), -EPERM);
	ck_assert_msg(fx_log_has(fx, "/etc/gpu-hook: refusing the policy: directory not owned by root (owner uid 1"), "%s",
		      fx->log);
	ck_assert(!applied);
	fx_free(fx);
}
END_TEST

/* The hook refuses the start (exit 1) naming the directory, and acts on nothing. */
START_TEST(hook_refuses_naming_the_directory)
{
	struct fx *fx = fx_new();
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before;

	fx_example_host(fx);
	policy_file(fx, "/etc/gpu-hook-other/111.ini", "[handoff]\nholders = kill\n");
	fx_rm(fx, "/etc/gpu-hook/111.ini");
	fx_link(fx, "/etc/gpu-hook/111.ini", "../gpu-hook-other/111.ini");
	fx_chmod(fx, "/etc/gpu-hook", 01777);
	before = fx_tree_digest(fx->root);
	fx_run_hook(r, NULL, "111", "pre-start", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	ck_assert_msg(strstr(r->err, "/etc/gpu-hook: refusing the policy: directory writable by group or others"), "%s",
		      r->err);
	fx_rm(fx, "/run/gpu-hook/lock");
	ck_assert(fx_tree_digest(fx->root) == before);
	free(r);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy-paths");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, trusted_files_load);
	tcase_add_test(tc, sticky_world_writable_directory_is_refused);
	tcase_add_test(tc, every_directory_up_to_the_root_is_checked);
	tcase_add_test(tc, linked_policy_file_is_refused);
	tcase_add_test(tc, linked_policy_directory_is_refused);
	tcase_add_test(tc, directory_owned_by_another_user_is_refused);
	tcase_add_test(tc, hook_refuses_naming_the_directory);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
