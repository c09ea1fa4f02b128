/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "fs.h"

START_TEST(path_prefixes_root)
{
	struct fx *fx = fx_new();
	char buf[PATH_MAX];

	ck_assert_int_eq(gh_fs_path(fx->ctx, buf, sizeof(buf), "/sys/bus/pci/devices/%s", "0000:01:00.0"), 0);
	ck_assert_str_eq(buf + strlen(fx->root), "/sys/bus/pci/devices/0000:01:00.0");
	ck_assert(!strncmp(buf, fx->root, strlen(fx->root)));
	ck_assert_int_eq(gh_fs_path(fx->ctx, buf, 8, "/sys/%s", "x"), -ENAMETOOLONG);
	ck_assert_int_eq(gh_fs_path(fx->ctx, buf, sizeof(buf), "relative"), -EINVAL);
	fx_free(fx);
}
END_TEST

START_TEST(slash_root_is_empty_prefix)
{
	struct gh_ctx *ctx;
	char buf[64];

	ck_assert_int_eq(gh_ctx_new("///", &ctx), 0);
	ck_assert_int_eq(gh_fs_path(ctx, buf, sizeof(buf), "/proc/%d", 1), 0);
	ck_assert_str_eq(buf, "/proc/1");
	gh_ctx_free(ctx);
	ck_assert_int_eq(gh_ctx_new("relative/root", &ctx), -EINVAL);
}
END_TEST

START_TEST(read_helpers)
{
	struct fx *fx = fx_new();
	unsigned long v;
	char buf[32];

	fx_file(fx, "/sys/x/vendor", "0x10de\n");
	fx_file(fx, "/sys/x/garbage", "0x10zz\n");
	fx_file(fx, "/sys/x/big", "%s", "0123456789012345678901234567890123456789");
	fx_link(fx, "/sys/x/driver", "../../bus/pci/drivers/nvidia");
	ck_assert_int_eq(gh_fs_read_ulong(fx->ctx, &v, "/sys/x/vendor"), 0);
	ck_assert_uint_eq(v, 0x10de);
	ck_assert_int_eq(gh_fs_read_ulong(fx->ctx, &v, "/sys/x/garbage"), -EINVAL);
	ck_assert_int_eq(gh_fs_read_str(fx->ctx, buf, sizeof(buf), "/sys/x/big"), -EFBIG);
	ck_assert_int_eq(gh_fs_read_str(fx->ctx, buf, sizeof(buf), "/sys/x/missing"), -ENOENT);
	ck_assert_int_eq(gh_fs_link_base(fx->ctx, buf, sizeof(buf), "/sys/x/driver"), 6);
	ck_assert_str_eq(buf, "nvidia");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/x/driver"), 1);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/x/nothing"), 0);
	fx_free(fx);
}
END_TEST

START_TEST(at_helpers_stay_in_the_directory)
{
	struct fx *fx = fx_new();
	char buf[32];
	DIR *d;
	int dfd, fd;

	fx_file(fx, "/proc/7/comm", "worker\n");
	fx_link(fx, "/proc/7/fd/3", "/dev/nvidia0");
	fx_file(fx, "/proc/secret", "outside\n");
	dfd = gh_fs_open(fx->ctx, O_RDONLY | O_DIRECTORY, "/proc/7");
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(gh_fs_read_strat(dfd, "comm", buf, sizeof(buf)), 6);
	ck_assert_str_eq(buf, "worker");
	ck_assert_int_eq(gh_fs_read_strat(dfd, "comm", buf, 4), -EFBIG);
	ck_assert_int_eq(gh_fs_read_strat(dfd, "gone", buf, sizeof(buf)), -ENOENT);
	d = gh_fs_opendirat(dfd, "fd");
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(gh_fs_readlinkat(dirfd(d), "3", buf, sizeof(buf)), 12);
	ck_assert_str_eq(buf, "/dev/nvidia0");
	ck_assert_int_eq(gh_fs_readlinkat(dirfd(d), "3", buf, 12), -ENAMETOOLONG);
	closedir(d);
	fd = gh_fs_openat(dfd, O_RDONLY, "comm");
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
	/* One component only: nothing reaches past the directory the seam opened. */
	ck_assert_int_eq(gh_fs_read_strat(dfd, "../secret", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gh_fs_openat(dfd, O_RDONLY, ".."), -EINVAL);
	ck_assert_int_eq(gh_fs_openat(dfd, O_RDONLY, "."), -EINVAL);
	ck_assert_int_eq(gh_fs_openat(dfd, O_RDONLY, ""), -EINVAL);
	ck_assert_int_eq(gh_fs_openat(dfd, O_RDONLY, "/etc/passwd"), -EINVAL);
	ck_assert_int_eq(gh_fs_readlinkat(dfd, "fd/3", buf, sizeof(buf)), -EINVAL);
	errno = 0;
	ck_assert_ptr_null(gh_fs_opendirat(dfd, ".."));
	ck_assert_int_eq(errno, EINVAL);
	/* An entry that is a symlink is not followed out of the directory (or the root). */
	fx_link(fx, "/proc/7/maps", "/etc/passwd");
	fx_link(fx, "/proc/7/task", "/proc");
	ck_assert_int_eq(gh_fs_read_strat(dfd, "maps", buf, sizeof(buf)), -ELOOP);
	ck_assert_int_eq(gh_fs_openat(dfd, O_RDONLY, "maps"), -ELOOP);
	ck_assert_ptr_null(gh_fs_opendirat(dfd, "task"));
	close(dfd);
	fx_free(fx);
}
END_TEST

START_TEST(list_is_version_sorted)
{
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };

	fx_file(fx, "/sys/class/vtconsole/vtcon10/name", "x\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon2/name", "x\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon1/name", "x\n");
	ck_assert_int_eq(gh_fs_list(fx->ctx, &sv, "/sys/class/vtconsole"), 0);
	ck_assert_uint_eq(sv.n, 3);
	ck_assert_str_eq(sv.v[0], "vtcon1");
	ck_assert_str_eq(sv.v[2], "vtcon10");
	gh_strv_free(&sv);
	ck_assert_int_eq(gh_fs_list(fx->ctx, &sv, "/sys/none"), 0);
	ck_assert_uint_eq(sv.n, 0);
	fx_free(fx);
}
END_TEST

START_TEST(escape_and_numbers)
{
	char buf[32];
	unsigned long v;

	ck_assert_str_eq(gh_util_escape("a\x1b[31m\"", buf, sizeof(buf)), "a\\x1b[31m\\x22");
	ck_assert_int_eq(gh_util_parse_ulong("42", 10, 100, &v), 0);
	ck_assert_uint_eq(v, 42);
	ck_assert_int_eq(gh_util_parse_ulong("101", 10, 100, &v), -ERANGE);
	ck_assert_int_eq(gh_util_parse_ulong("-1", 10, 100, &v), -EINVAL);
	ck_assert_int_eq(gh_util_parse_ulong(" 1", 10, 100, &v), -EINVAL);
	ck_assert_int_eq(gh_util_parse_ulong("1x", 10, 100, &v), -EINVAL);
	ck_assert_int_eq(gh_util_parse_ulong("", 10, 100, &v), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fs");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, path_prefixes_root);
	tcase_add_test(tc, slash_root_is_empty_prefix);
	tcase_add_test(tc, read_helpers);
	tcase_add_test(tc, at_helpers_stay_in_the_directory);
	tcase_add_test(tc, list_is_version_sorted);
	tcase_add_test(tc, escape_and_numbers);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
