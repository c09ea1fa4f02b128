/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
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
	struct gh_fs_dir d;
	const char *name;
	unsigned char type;
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
	ck_assert_int_eq(gh_fs_dir_openat(fx->ctx, &d, dfd, "fd"), 0);
	ck_assert_int_eq(gh_fs_dir_next(&d, &name, &type), 1);
	ck_assert_str_eq(name, "3");
	ck_assert_int_eq(type, DT_LNK);
	ck_assert_int_eq(gh_fs_dir_next(&d, &name, &type), 0);
	ck_assert_int_eq(gh_fs_readlinkat(d.fd, "3", buf, sizeof(buf)), 12);
	ck_assert_str_eq(buf, "/dev/nvidia0");
	ck_assert_int_eq(gh_fs_readlinkat(d.fd, "3", buf, 12), -ENAMETOOLONG);
	gh_fs_dir_close(&d);
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
	ck_assert_int_eq(gh_fs_readlinkat2(dfd, "fd", "3", buf, sizeof(buf)), 12);
	ck_assert_str_eq(buf, "/dev/nvidia0");
	ck_assert_int_eq(gh_fs_readlinkat2(dfd, "..", "7", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gh_fs_readlinkat2(dfd, "fd", "../comm", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(gh_fs_dir_openat(fx->ctx, &d, dfd, ".."), -EINVAL);
	ck_assert_int_eq(d.fd, -1);
	/* An entry that is a symlink is not followed out of the directory (or the root). */
	fx_link(fx, "/proc/7/maps", "/etc/passwd");
	fx_link(fx, "/proc/7/task", "/proc");
	ck_assert_int_eq(gh_fs_read_strat(dfd, "maps", buf, sizeof(buf)), -ELOOP);
	ck_assert_int_eq(gh_fs_openat(dfd, O_RDONLY, "maps"), -ELOOP);
	ck_assert_int_eq(gh_fs_dir_openat(fx->ctx, &d, dfd, "task"), -ENOTDIR);
	close(dfd);
	fx_free(fx);
}
END_TEST

/* Issue 12.5: a FIFO must not hang open() and a device must not be read; Check's timeout fails a hang. */
START_TEST(input_is_a_bounded_regular_file)
{
	struct fx *fx = fx_new();
	char *data;
	size_t len;
	struct stat st;
	FILE *f;

	fx_file(fx, "/etc/pve/qemu-server/100.conf", "cores: 4");
	ck_assert_int_eq(gh_fs_read_input(fx->ctx, 0, 8, &data, &len, &st, "/etc/pve/qemu-server/100.conf"), 0);
	ck_assert_uint_eq(len, 8);
	ck_assert_str_eq(data, "cores: 4");
	ck_assert(S_ISREG(st.st_mode));
	free(data);
	/* One byte over the cap is refused, naming the file and the cap. */
	ck_assert_int_eq(gh_fs_read_input(fx->ctx, 0, 7, &data, &len, NULL, "/etc/pve/qemu-server/100.conf"), -EFBIG);
	ck_assert_ptr_null(data);
	ck_assert(fx_log_has(fx, "/etc/pve/qemu-server/100.conf: larger than 7 bytes\n"));

	ck_assert_int_eq(mkfifo(fx_path(fx, "/etc/pve/qemu-server/101.conf"), 0644), 0);
	fx_log_clear(fx);
	ck_assert_int_eq(gh_fs_read_input(fx->ctx, 0, 1024, &data, &len, NULL, "/etc/pve/qemu-server/101.conf"),
			 -EMEDIUMTYPE);
	ck_assert(fx_log_has(fx, "/etc/pve/qemu-server/101.conf: not a regular file (fifo)\n"));
	errno = 0;
	ck_assert_ptr_null(gh_fs_fopen_input(fx->ctx, 0, 1024, NULL, "/etc/pve/qemu-server/101.conf"));
	ck_assert_int_eq(errno, EMEDIUMTYPE);

	/* A link at the last component: refused, or followed to a device that is refused. */
	fx_link(fx, "/etc/pve/qemu-server/102.conf", "/dev/zero");
	fx_log_clear(fx);
	ck_assert_int_eq(gh_fs_read_input(fx->ctx, 0, 1024, &data, &len, NULL, "/etc/pve/qemu-server/102.conf"), -ELOOP);
	ck_assert(fx_log_has(fx, "/etc/pve/qemu-server/102.conf: a symbolic link, not followed"));
	ck_assert_int_eq(gh_fs_read_input(fx->ctx, GH_FS_FOLLOW, 1024, &data, &len, NULL, "/etc/pve/qemu-server/102.conf"),
			 -EMEDIUMTYPE);
	ck_assert(fx_log_has(fx, "/etc/pve/qemu-server/102.conf: not a regular file (character device)\n"));
	fx_link(fx, "/etc/hostname", "pve/qemu-server/100.conf");
	ck_assert_int_eq(gh_fs_read_input(fx->ctx, GH_FS_FOLLOW, 1024, &data, &len, NULL, "/etc/hostname"), 0);
	free(data);
	fx_mkdir(fx, "/etc/pve/qemu-server/103.conf");
	ck_assert_int_eq(gh_fs_read_input(fx->ctx, 0, 1024, &data, &len, NULL, "/etc/pve/qemu-server/103.conf"), -EISDIR);
	ck_assert(fx_log_has(fx, "/etc/pve/qemu-server/103.conf: not a regular file (directory)\n"));

	/* Absence is the caller's to report. */
	fx_log_clear(fx);
	ck_assert_int_eq(gh_fs_read_input(fx->ctx, 0, 1024, &data, &len, NULL, "/etc/pve/nothing.cfg"), -ENOENT);
	ck_assert_int_eq(fx->n_errors, 0);

	/* The stream holds what was read; an empty file is an empty stream. */
	fx_file(fx, "/etc/pve/empty.cfg", "%s", "");
	f = gh_fs_fopen_input(fx->ctx, 0, 1024, NULL, "/etc/pve/qemu-server/100.conf");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fgetc(f), 'c');
	fclose(f);
	f = gh_fs_fopen_input(fx->ctx, 0, 1024, NULL, "/etc/pve/empty.cfg");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fgetc(f), EOF);
	ck_assert(!ferror(f));
	fclose(f);
	fx_free(fx);
}
END_TEST

/* The sysfs and /proc helpers take the same care, quietly. */
START_TEST(quiet_readers_refuse_what_is_not_a_file)
{
	struct fx *fx = fx_new();
	char buf[32];
	int dfd, fd;
	FILE *f;

	fx_file(fx, "/proc/7/comm", "worker\n");
	ck_assert_int_eq(mkfifo(fx_path(fx, "/proc/7/cmdline"), 0644), 0);
	fx_mkdir(fx, "/sys");
	ck_assert_int_eq(mkfifo(fx_path(fx, "/sys/x"), 0644), 0);
	fx_link(fx, "/sys/zero", "/dev/zero");
	ck_assert_int_eq(gh_fs_read_str(fx->ctx, buf, sizeof(buf), "/sys/x"), -EMEDIUMTYPE);
	ck_assert_int_eq(gh_fs_read_str(fx->ctx, buf, sizeof(buf), "/sys/zero"), -EMEDIUMTYPE);
	errno = 0;
	ck_assert_ptr_null(gh_fs_fopen(fx->ctx, "/sys/x"));
	ck_assert_int_eq(errno, EMEDIUMTYPE);
	dfd = gh_fs_open(fx->ctx, O_RDONLY | O_DIRECTORY, "/proc/7");
	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(gh_fs_read_strat(dfd, "cmdline", buf, sizeof(buf)), -EMEDIUMTYPE);
	ck_assert_int_eq(gh_fs_openat(dfd, O_RDONLY | O_NOCTTY, "cmdline"), -EMEDIUMTYPE);
	/*
	 * A configuration file is left blocking (FUSE daemons such as pmxcfs may
	 * honour O_NONBLOCK on read); a /proc/<pid> entry keeps it, procfs ignores it.
	 */
	f = gh_fs_fopen(fx->ctx, "/proc/7/comm");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fcntl(fileno(f), F_GETFL) & O_NONBLOCK, 0);
	fclose(f);
	fd = gh_fs_openat(dfd, O_RDONLY | O_NOCTTY, "comm");
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	close(fd);
	close(dfd);
	ck_assert_int_eq(fx->n_errors, 0);
	fx_free(fx);
}
END_TEST

/* /proc says st_size 0: the cap is what is read, not what fstat says (the real /proc, read only). */
START_TEST(proc_files_are_bounded_by_reading)
{
	struct gh_ctx *real;
	struct stat st;
	char *data;
	size_t len;

	ck_assert_int_eq(gh_ctx_new("/", &real), 0);
	ck_assert_int_eq(gh_fs_read_input(real, 0, 1024 * 1024, &data, &len, &st, "/proc/%d/status", (int)getpid()), 0);
	ck_assert_int_eq(st.st_size, 0);
	ck_assert_uint_gt(len, 64);
	ck_assert_ptr_nonnull(strstr(data, "Pid:"));
	free(data);
	ck_assert_int_eq(gh_fs_read_input(real, 0, 64, &data, &len, NULL, "/proc/%d/status", (int)getpid()), -EFBIG);
	gh_ctx_free(real);
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

/* Under the real root a /proc/<pid> or /sys file is the kernel's: read without the type check, and a directory still fails. */
START_TEST(real_kernel_files_read_alike)
{
	struct gh_ctx *real;
	char buf[64], comm[64] = "";
	FILE *f;

	f = fopen("/proc/self/comm", "re");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	ck_assert_int_eq(gh_ctx_new("/", &real), 0);
	ck_assert_int_eq(gh_fs_read_str(real, buf, sizeof(buf), "/proc/%d/comm", (int)getpid()), (int)strlen(comm));
	ck_assert_str_eq(buf, comm);
	ck_assert_int_eq(gh_fs_read_str(real, buf, sizeof(buf), "/proc/%d", (int)getpid()), -EISDIR);
	ck_assert_int_eq(gh_fs_read_str(real, buf, 4, "/proc/%d/comm", (int)getpid()), -EFBIG);
	ck_assert_int_eq(gh_fs_read_str(real, buf, sizeof(buf), "/proc/%d/no-such-file", (int)getpid()), -ENOENT);
	gh_ctx_free(real);
}
END_TEST

/* Lists d to its end: whether every descriptor in want was listed. */
static bool lists_fds(struct gh_fs_dir *d, const int *want, unsigned n_want)
{
	static bool seen[8192];
	const char *name;
	unsigned char type;
	unsigned long v;
	int r;

	memset(seen, 0, sizeof(seen));
	while ((r = gh_fs_dir_next(d, &name, &type)) > 0)
		if (gh_util_parse_ulong(name, 10, GH_ARRAY_SIZE(seen) - 1, &v) == 0)
			seen[v] = true;
	ck_assert_int_eq(r, 0);
	for (unsigned i = 0; i < n_want; i++)
		if (!seen[want[i]])
			return false;
	return true;
}

/*
 * /sys and /proc under the real root are read until a read leaves room for
 * any entry, and not once more (gh_fs_dir_open): a listing of several
 * buffers (1,000 descriptors: three reads of /proc/<pid>/fd) is still whole,
 * a small one ends at its first read, and a fixture's is read to the end.
 */
START_TEST(kernel_listings_end_at_a_short_read)
{
	struct gh_ctx *real;
	struct gh_fs_dir d;
	struct rlimit rl;
	struct fx *fx = fx_new();
	const char *name;
	unsigned char type;
	static int fds[1000];
	unsigned n = 0;

	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_cur < 1100 && rl.rlim_max >= 1100) {
		rl.rlim_cur = 1100;
		ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	}
	for (; n < GH_ARRAY_SIZE(fds) && (fds[n] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0; n++)
		;
	ck_assert_uint_ge(n, 700);
	ck_assert_int_eq(gh_ctx_new("/", &real), 0);
	ck_assert_int_eq(gh_fs_dir_open(real, &d, "/proc/%d/fd", (int)getpid()), 0);
	ck_assert(d.whole);
	ck_assert(lists_fds(&d, fds, n));
	gh_fs_dir_close(&d);
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
	ck_assert_int_eq(gh_fs_dir_open(real, &d, "/proc/%d", (int)getpid()), 0);
	ck_assert_int_eq(gh_fs_dir_next(&d, &name, &type), 1);
	ck_assert(d.end);
	gh_fs_dir_close(&d);
	gh_ctx_free(real);
	fx_file(fx, "/proc/7/comm", "x\n");
	ck_assert_int_eq(gh_fs_dir_open(fx->ctx, &d, "/proc/7"), 0);
	ck_assert(!d.whole);
	ck_assert_int_eq(gh_fs_dir_next(&d, &name, &type), 1);
	ck_assert(!d.end);
	ck_assert_int_eq(gh_fs_dir_next(&d, &name, &type), 0);
	gh_fs_dir_close(&d);
	fx_free(fx);
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
	tcase_add_test(tc, input_is_a_bounded_regular_file);
	tcase_add_test(tc, quiet_readers_refuse_what_is_not_a_file);
	tcase_add_test(tc, proc_files_are_bounded_by_reading);
	tcase_add_test(tc, real_kernel_files_read_alike);
	tcase_add_test(tc, kernel_listings_end_at_a_short_read);
	tcase_add_test(tc, list_is_version_sorted);
	tcase_add_test(tc, escape_and_numbers);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
