/* SPDX-License-Identifier: MIT */
/* Processes holding device nodes, found through /proc/<pid>/fd and /proc/<pid>/maps. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "holders.h"
#include "timebox.h"
#include "modules.h"

static void patterns(struct gh_strv *sv, const char *const *p)
{
	for (; *p; p++)
		ck_assert_int_eq(gh_strv_push(sv, *p), 0);
}

#define FMT(buf, ...) ck_assert_int_lt(snprintf((buf), sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

/* "start-end perms offset dev ino path" for a mapping of the fixture node at path. */
static const char *map_of(struct fx *fx, const char *path, unsigned n)
{
	static char buf[8][256];
	char *b = buf[n % 8];

	ck_assert_int_lt(snprintf(b, sizeof(buf[0]), "7f%04x000000-7f%04x200000 rw-s 00000000 %s    %s", n, n, fx_node_id(fx, path), path), (int)sizeof(buf[0]));
	return b;
}

/* A child that waits until go[1] is closed; go[0] is closed here. */
static pid_t waiting_child(int go[2])
{
	pid_t child;

	ck_assert_int_eq(pipe2(go, O_CLOEXEC), 0);
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0) {
		char c;

		close(go[1]);
		(void)!read(go[0], &c, 1);
		_exit(0);
	}
	close(go[0]);
	return child;
}

static const struct gh_holder *find(const struct gh_holder_set *set, pid_t pid)
{
	for (unsigned i = 0; i < set->n; i++)
		if (set->v[i].pid == pid)
			return &set->v[i];
	return NULL;
}

START_TEST(found_through_fds)
{
	static const char *const pat[] = { "/dev/nvidia0", "/dev/nvidiactl", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;
	const struct gh_holder *h;

	fx_host_single(fx);
	fx_proc_fd(fx, 1, 0, "/dev/null");
	fx_proc_fd(fx, 900, 5, "socket:[12345]");
	fx_proc_fd(fx, 900, 6, "pipe:[777]");
	fx_proc_fd(fx, 900, 7, "anon_inode:[eventfd]");
	fx_proc_fd(fx, 900, 8, "/dev/nvidia01");	/* exact means exact */
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 1);
	h = &set.v[0];
	ck_assert_int_eq(h->pid, 900);
	ck_assert_str_eq(h->comm, "nvidia-persiste");
	ck_assert_str_eq(h->unit, "nvidia-persistenced.service");
	ck_assert_str_eq(h->container, "");
	ck_assert_uint_eq(h->paths.n, 2);
	ck_assert_str_eq(h->paths.v[0], "/dev/nvidia0 (fd 4)");
	ck_assert_str_eq(h->paths.v[1], "/dev/nvidiactl (fd 3)");
	ck_assert_int_eq(fx->n_errors, 0);
	gh_holders_free(&set);
	ck_assert_ptr_null(set.v);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(found_through_maps)
{
	static const char *const pat[] = { "/dev/nvidia0", "/dev/nvidia-uvm", "/dev/dri/renderD128", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;

	char maps[2048];

	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	fx_node(fx, "/dev/nvidia-uvm", "/dev/random");
	fx_node(fx, "/dev/dri/card0", "/dev/tty");
	fx_node(fx, "/dev/dri/renderD128", "/dev/ptmx");
	fx_proc(fx, 20, "python3", "python3 train.py", "/user.slice/user-0.slice/session-7.scope");
	/*
	 * The fd is closed; two mappings of the node remain, plus lines without a
	 * file, one whose path text names the node but whose inode is another
	 * file's, and one of a node unlinked since (the text is not looked at).
	 */
	FMT(maps,
		 "55d0c000-55d0d000 r--p 00000000 08:01 131 /usr/bin/python3.11\n"
		 "55d0e000-55d2f000 rw-p 00000000 00:00 0                          [heap]\n"
		 "%s\n%s\n"
		 "7f0000400000-7f0000401000 rw-p 00000000 00:00 0 \n"
		 "7f0000500000-7f0000501000 rw-s 00000000 08:01 99 /dev/nvidia0\n"
		 "%s (deleted)\n"
		 "7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0 [stack]",
		 map_of(fx, "/dev/nvidia0", 1), map_of(fx, "/dev/nvidia0", 2), map_of(fx, "/dev/nvidia-uvm", 3));
	fx_proc_maps(fx, 20, maps);
	/* Only the last line is one of the nodes, and that line has no newline. */
	fx_proc(fx, 21, "Xwayland", NULL, "/system.slice/gdm.service");
	FMT(maps, "7f00-7f01 rw-s 00000000 08:01 88 /dev/dri/card0\n%s",
		 map_of(fx, "/dev/dri/renderD128", 4));
	fx_proc_maps(fx, 21, maps);
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 2);
	ck_assert_int_eq(set.v[0].pid, 20);
	ck_assert_str_eq(set.v[0].unit, "session-7.scope");
	ck_assert_uint_eq(set.v[0].paths.n, 2);
	ck_assert_str_eq(set.v[0].paths.v[0], "/dev/nvidia-uvm (mmap)");
	ck_assert_str_eq(set.v[0].paths.v[1], "/dev/nvidia0 (mmap)");
	ck_assert_int_eq(set.v[1].pid, 21);
	ck_assert_uint_eq(set.v[1].paths.n, 1);
	ck_assert_str_eq(set.v[1].paths.v[0], "/dev/dri/renderD128 (mmap)");
	gh_holders_free(&set);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

/*
 * A kernel thread has no memory of its own (its exe link answers ENOENT, its
 * maps are empty) and no open file: neither its maps nor its fds are read.
 * The fixture's maps file and fd, which name the node, are there only to
 * show that they are not looked at.
 */
START_TEST(kernel_threads_are_not_read)
{
	static const char *const pat[] = { "/dev/nvidia*", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;

	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	fx_proc(fx, 22, "kworker/0:1", "", "/");
	fx_rm(fx, "/proc/22/exe");
	fx_proc_maps(fx, 22, map_of(fx, "/dev/nvidia0", 1));
	fx_proc_fd(fx, 22, 3, "/dev/nvidia0");
	fx_proc(fx, 23, "nvtop", NULL, "/user.slice/user-0.slice/session-7.scope");
	fx_proc_maps(fx, 23, map_of(fx, "/dev/nvidia0", 1));
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_int_eq(set.v[0].pid, 23);
	gh_holders_free(&set);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(fd_and_mmap_of_one_node)
{
	static const char *const pat[] = { "/dev/nvidia*", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;

	char maps[1024];

	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	fx_node(fx, "/dev/nvidiactl", "/dev/full");
	fx_node(fx, "/dev/nvidia-caps/nvidia-cap2", "/dev/random");
	fx_proc(fx, 30, "nv-hostengine", NULL, "/system.slice/nvidia-dcgm.service");
	fx_proc_fd(fx, 30, 3, "/dev/nvidia0");
	fx_proc_fd(fx, 30, 4, "/dev/nvidia0");
	fx_proc_fd(fx, 30, 10, "/dev/nvidia-caps/nvidia-cap2");
	fx_proc_fd(fx, 30, 11, "/dev/null");
	FMT(maps, "%s\n%s\n%s\n", map_of(fx, "/dev/nvidia0", 1), map_of(fx, "/dev/nvidia0", 2),
		 map_of(fx, "/dev/nvidiactl", 3));
	fx_proc_maps(fx, 30, maps);
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_uint_eq(set.v[0].paths.n, 5);
	ck_assert_str_eq(set.v[0].paths.v[0], "/dev/nvidia-caps/nvidia-cap2 (fd 10)");
	ck_assert_str_eq(set.v[0].paths.v[1], "/dev/nvidia0 (fd 3)");
	ck_assert_str_eq(set.v[0].paths.v[2], "/dev/nvidia0 (fd 4)");
	ck_assert_str_eq(set.v[0].paths.v[3], "/dev/nvidia0 (mmap)");
	ck_assert_str_eq(set.v[0].paths.v[4], "/dev/nvidiactl (mmap)");
	gh_holders_free(&set);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(prefix_patterns)
{
	static const char *const pat[] = { "/dev/nvidia-caps/*", "/dev/dri/card0", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;

	fx_node(fx, "/dev/nvidia-caps/nvidia-cap1", "/dev/zero");
	fx_node(fx, "/dev/nvidia-caps/nvidia-cap2", "/dev/full");
	fx_node(fx, "/dev/dri/card0", "/dev/tty");
	fx_node(fx, "/dev/dri/card00", "/dev/random");	/* exact means exact */
	fx_node(fx, "/dev/nvidia-capsule", "/dev/ptmx");	/* not under the prefix's directory */
	fx_proc(fx, 40, "a", NULL, NULL);
	fx_proc_fd(fx, 40, 3, "/dev/nvidia-caps/nvidia-cap1");
	fx_proc(fx, 41, "b", NULL, NULL);
	fx_proc_fd(fx, 41, 3, "/dev/nvidia-capsule");
	fx_proc_fd(fx, 41, 4, "/dev/dri/card00");
	fx_proc_fd(fx, 41, 5, "/dev/null");
	fx_proc(fx, 42, "c", NULL, NULL);
	fx_proc_maps(fx, 42, map_of(fx, "/dev/nvidia-caps/nvidia-cap2", 1));
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 2);
	ck_assert_int_eq(set.v[0].pid, 40);
	ck_assert_str_eq(set.v[0].paths.v[0], "/dev/nvidia-caps/nvidia-cap1 (fd 3)");
	ck_assert_int_eq(set.v[1].pid, 42);
	ck_assert_str_eq(set.v[1].paths.v[0], "/dev/nvidia-caps/nvidia-cap2 (mmap)");
	gh_holders_free(&set);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(cgroup_attribution)
{
	static const char *const pat[] = { "/dev/nvidia0", NULL };
	static const struct {
		int pid;
		const char *cgroup, *unit, *ct;
	} t[] = {
		{ 50, "/system.slice/nvidia-persistenced.service", "nvidia-persistenced.service", "" },
		{ 51, "/user.slice/user-1000.slice/session-2.scope", "session-2.scope", "" },
		{ 52, "/user.slice/user-1000.slice/user@1000.service/app.slice/plasma-kwin_wayland.service",
		  "plasma-kwin_wayland.service", "" },
		{ 53, "/lxc/105/ns/system.slice/ollama.service", "", "105" },
		{ 54, "/lxc.payload.201/init.scope", "", "201" },
		{ 55, "/lxc.monitor/105", "", "105" },
		{ 56, "/", "", "" },
	};
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;

	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	for (size_t i = 0; i < GH_ARRAY_SIZE(t); i++) {
		fx_proc(fx, t[i].pid, "holder", NULL, t[i].cgroup);
		fx_proc_fd(fx, t[i].pid, 3, "/dev/nvidia0");
	}
	/* A hybrid host lists v1 hierarchies before the v2 line. */
	fx_proc(fx, 57, "holder", NULL, NULL);
	fx_proc_fd(fx, 57, 3, "/dev/nvidia0");
	fx_file(fx, "/proc/57/cgroup", "12:pids:/system.slice/wrong.service\n1:name=systemd:/x.scope\n"
				       "0::/system.slice/nvidia-powerd.service\n");
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, GH_ARRAY_SIZE(t) + 1);
	for (size_t i = 0; i < GH_ARRAY_SIZE(t); i++) {
		ck_assert_int_eq(set.v[i].pid, t[i].pid);
		ck_assert_str_eq(set.v[i].unit, t[i].unit);
		ck_assert_str_eq(set.v[i].container, t[i].ct);
	}
	ck_assert_str_eq(set.v[GH_ARRAY_SIZE(t)].unit, "nvidia-powerd.service");
	gh_holders_free(&set);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(parse_cgroup_paths)
{
	char unit[64], ct[16], tiny[8];

	gh_holders_parse_cgroup("/system.slice/nvidia-persistenced.service", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "nvidia-persistenced.service");
	ck_assert_str_eq(ct, "");
	gh_holders_parse_cgroup("/system.slice/docker-0a1b.scope/payload", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "docker-0a1b.scope");
	gh_holders_parse_cgroup("/qemu.slice/111.scope", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "111.scope");
	gh_holders_parse_cgroup("/lxc/105", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(ct, "105");
	ck_assert_str_eq(unit, "");
	gh_holders_parse_cgroup("/lxc.monitor.300", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(ct, "300");
	/* A slice holds no processes of its own; a unit-like name with odd bytes is no unit. */
	gh_holders_parse_cgroup("/user.slice", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "");
	gh_holders_parse_cgroup("/system.slice/evil\x1b.service", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "");
	gh_holders_parse_cgroup("/lxc/10 5/ns", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(ct, "");
	gh_holders_parse_cgroup("/lxc//ns", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(ct, "");
	/* Too long for the caller's buffer: nothing rather than a cut name. */
	gh_holders_parse_cgroup("/system.slice/nvidia-persistenced.service", tiny, sizeof(tiny), ct, sizeof(ct));
	ck_assert_str_eq(tiny, "");
	gh_holders_parse_cgroup("/lxc/1234567890123/ns", unit, sizeof(unit), tiny, sizeof(tiny));
	ck_assert_str_eq(tiny, "");
	gh_holders_parse_cgroup("", unit, sizeof(unit), ct, sizeof(ct));
	ck_assert_str_eq(unit, "");
	ck_assert_str_eq(ct, "");
}
END_TEST

START_TEST(vanished_processes_are_skipped)
{
	static const char *const pat[] = { "/dev/nvidia0", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;

	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	fx_mkdir(fx, "/proc/14");	/* exited between readdir and our look */
	fx_proc(fx, 15, "gone", NULL, NULL);
	fx_proc_fd(fx, 15, 3, "/dev/nvidia0");
	fx_rm(fx, "/proc/15/comm");	/* exited after we saw its fd */
	fx_proc(fx, 16, "here", NULL, NULL);
	fx_proc_fd(fx, 16, 3, "/dev/nvidia0");
	fx_rm(fx, "/proc/16/cgroup");
	fx_link(fx, "/proc/self", "16");
	fx_mkdir(fx, "/proc/sys/kernel");
	fx_file(fx, "/proc/cmdline", "BOOT_IMAGE=/vmlinuz\n");
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_int_eq(set.v[0].pid, 16);
	ck_assert_str_eq(set.v[0].unit, "");
	ck_assert_int_eq(fx->n_errors, 0);
	gh_holders_free(&set);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(pid_order_and_no_patterns)
{
	static const char *const pat[] = { "/dev/fb0", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;

	fx_node(fx, "/dev/fb0", "/dev/zero");
	fx_proc(fx, 100, "c", NULL, NULL);
	fx_proc_fd(fx, 100, 3, "/dev/fb0");
	fx_proc(fx, 9, "a", NULL, NULL);
	fx_proc_fd(fx, 9, 3, "/dev/fb0");
	fx_proc(fx, 10, "b", NULL, NULL);
	fx_proc_fd(fx, 10, 3, "/dev/fb0");
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 0);
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 3);
	ck_assert_int_eq(set.v[0].pid, 9);
	ck_assert_int_eq(set.v[1].pid, 10);
	ck_assert_int_eq(set.v[2].pid, 100);
	gh_holders_free(&set);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(overlong_maps_line)
{
	static const char *const pat[] = { "/dev/nvidia0", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;
	size_t n = 70 * 1024;
	char *maps = malloc(n + 200);

	ck_assert_ptr_nonnull(maps);
	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	memcpy(maps, "7f00-7f01 r--p 0 08:01 5 /", 26);
	memset(maps + 26, 'x', n - 26);
	ck_assert_int_lt(snprintf(maps + n, 200, "\n%s\n", map_of(fx, "/dev/nvidia0", 1)), 200);
	fx_proc(fx, 60, "big", NULL, NULL);
	fx_proc_maps(fx, 60, maps);
	free(maps);
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_str_eq(set.v[0].paths.v[0], "/dev/nvidia0 (mmap)");
	gh_holders_free(&set);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

START_TEST(own_process_only_excluded_on_real_root)
{
	static const char *const pat[] = { "/dev/nvidia0", NULL };
	struct fx *fx = fx_new();
	struct gh_strv sv = { 0 };
	struct gh_holder_set set;
	struct gh_ctx *ctx;
	int fd, go[2];
	pid_t child;

	/* In a fixture root a pid equal to ours is just another fixture process. */
	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	fx_proc(fx, (int)getpid(), "me", NULL, NULL);
	fx_proc_fd(fx, (int)getpid(), 3, "/dev/nvidia0");
	patterns(&sv, pat);
	ck_assert_int_eq(gh_holders_scan(fx->ctx, &sv, &set), 0);
	ck_assert_uint_eq(set.n, 1);
	ck_assert_int_eq(set.v[0].pid, getpid());
	gh_holders_free(&set);
	gh_strv_free(&sv);

	/* On the real root: a child sharing our open device is found, we are not. Read-only. */
	fd = open("/dev/full", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	child = waiting_child(go);
	ck_assert_int_eq(gh_strv_push(&sv, "/dev/full"), 0);
	ck_assert_int_eq(gh_ctx_new("/", &ctx), 0);
	ck_assert_int_eq(gh_holders_scan(ctx, &sv, &set), 0);
	close(go[1]);
	waitpid(child, NULL, 0);
	close(fd);
	ck_assert_ptr_nonnull(find(&set, child));
	ck_assert_ptr_null(find(&set, getpid()));
	gh_holders_free(&set);

	/* Nor is the phase's idle worker, whose fds 0 to 2 are /dev/null: it spawns no call here. */
	ck_assert_int_eq(gh_timebox_worker_prepare(ctx), 0);
	ck_assert_int_gt(gh_timebox_worker_pid(), 0);
	gh_strv_free(&sv);
	ck_assert_int_eq(gh_strv_push(&sv, "/dev/null"), 0);
	ck_assert_int_eq(gh_holders_scan(ctx, &sv, &set), 0);
	ck_assert_ptr_null(find(&set, gh_timebox_worker_pid()));
	ck_assert_ptr_null(find(&set, getpid()));
	gh_holders_free(&set);
	gh_timebox_worker_stop();
	ck_assert_int_eq(gh_timebox_worker_pid(), 0);
	gh_ctx_free(ctx);
	gh_strv_free(&sv);
	fx_free(fx);
}
END_TEST

/* A comm may hold ") (" and blanks: the fields are counted from the last ')'. */
START_TEST(stat_fields)
{
	struct fx *fx = fx_new();
	unsigned long long start = 0;
	pid_t sid = 0;

	fx_file(fx, "/proc/70/stat", "70 (a) (b c) S 1 70 66 0 -1 4194560 1 0 0 0 1 2 0 0 20 0 1 0 987654 1 2\n");
	ck_assert_int_eq(gh_holders_proc_stat(fx->ctx, 70, &start, &sid), 0);
	ck_assert_uint_eq(start, 987654);
	ck_assert_int_eq(sid, 66);
	ck_assert_int_eq(gh_holders_proc_stat(fx->ctx, 71, &start, &sid), -ESRCH);
	fx_file(fx, "/proc/72/stat", "72 (x) S 1 72 72\n");
	ck_assert_int_eq(gh_holders_proc_stat(fx->ctx, 72, &start, &sid), -EINVAL);
	fx_free(fx);
}
END_TEST

/* On the real root the pin is a pidfd of that very process; a start time that differs is another process. */
START_TEST(pin_by_pidfd_on_real_root)
{
	struct gh_holder h = { 0 };
	struct gh_ctx *ctx;
	int go[2], pidfd = -1, st;
	pid_t child;

	child = waiting_child(go);
	ck_assert_int_eq(gh_ctx_new("/", &ctx), 0);
	h.pid = child;
	ck_assert_int_eq(gh_holders_pin(ctx, &h, &pidfd), -EINVAL);	/* no start time: no pin */
	ck_assert_int_eq(gh_holders_proc_stat(ctx, child, &h.start, NULL), 0);
	h.start++;
	ck_assert_int_eq(gh_holders_pin(ctx, &h, &pidfd), -ESRCH);
	ck_assert_int_eq(pidfd, -1);
	h.start--;
	ck_assert_int_eq(gh_holders_pin(ctx, &h, &pidfd), 0);
	ck_assert_int_ge(pidfd, 0);
	/* The real signal op goes through the pidfd, never the bare number. */
	ck_assert_int_eq(gh_modules_real_ops.signal(ctx, child, -1, 0), -EINVAL);
	ck_assert_int_eq(gh_modules_real_ops.signal(ctx, child, pidfd, 0), 0);
	ck_assert_int_eq(gh_modules_real_ops.signal(ctx, child, pidfd, SIGKILL), 0);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	/* Reaped: the pidfd says so, whoever has the number now. */
	ck_assert_int_eq(gh_modules_real_ops.signal(ctx, child, pidfd, 0), -ESRCH);
	close(pidfd);
	close(go[1]);
	gh_ctx_free(ctx);
}
END_TEST

START_TEST(describe)
{
	struct gh_holder h = { .pid = 900 };
	char buf[512], small[48];

	gh_util_copy(h.comm, sizeof(h.comm), "nvidia-persiste");
	gh_util_copy(h.unit, sizeof(h.unit), "nvidia-persistenced.service");
	gh_strv_push(&h.paths, "/dev/nvidia0 (fd 4)");
	gh_strv_push(&h.paths, "/dev/nvidiactl (fd 3)");
	ck_assert_int_eq(gh_holders_describe(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pid 900 (nvidia-persiste, nvidia-persistenced.service): /dev/nvidia0 (fd 4), "
			      "/dev/nvidiactl (fd 3)");
	/* Cut, but still naming the process. */
	ck_assert_int_eq(gh_holders_describe(&h, buf, 81), 0);
	ck_assert_str_eq(buf, "pid 900 (nvidia-persiste, nvidia-persistenced.service): /dev/nvidia0 (fd 4), ...");
	ck_assert_int_eq(gh_holders_describe(&h, buf, 60), 0);
	ck_assert_str_eq(buf, "pid 900 (nvidia-persiste, nvidia-persistenced.service): ...");
	ck_assert_int_eq(gh_holders_describe(&h, small, sizeof(small)), -ENAMETOOLONG);

	gh_util_escape("cuda\x1b[31m", h.comm, sizeof(h.comm));
	gh_util_copy(h.container, sizeof(h.container), "105");
	ck_assert_int_eq(gh_holders_describe(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pid 900 (cuda\\x1b[31m, LXC container 105): /dev/nvidia0 (fd 4), /dev/nvidiactl (fd 3)");
	h.container[0] = '\0';
	h.unit[0] = '\0';
	ck_assert_int_eq(gh_holders_describe(&h, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "pid 900 (cuda\\x1b[31m): /dev/nvidia0 (fd 4), /dev/nvidiactl (fd 3)");
	gh_strv_free(&h.paths);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("holders");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, found_through_fds);
	tcase_add_test(tc, found_through_maps);
	tcase_add_test(tc, kernel_threads_are_not_read);
	tcase_add_test(tc, fd_and_mmap_of_one_node);
	tcase_add_test(tc, prefix_patterns);
	tcase_add_test(tc, cgroup_attribution);
	tcase_add_test(tc, parse_cgroup_paths);
	tcase_add_test(tc, vanished_processes_are_skipped);
	tcase_add_test(tc, pid_order_and_no_patterns);
	tcase_add_test(tc, overlong_maps_line);
	tcase_add_test(tc, own_process_only_excluded_on_real_root);
	tcase_add_test(tc, stat_fields);
	tcase_add_test(tc, pin_by_pidfd_on_real_root);
	tcase_add_test(tc, describe);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
