/* SPDX-License-Identifier: MIT */
/*
 * Scaling benchmark: how the holder scan grows with processes and open
 * files, and how VM-config parsing grows with hostpci entries and snapshot
 * history. Figures only, never pass/fail.
 *
 * The holder scan runs over a synthetic /proc in a fixture root: P
 * processes with F fd links each, a maps file of MAPS_LINES lines, comm,
 * cgroup, status and cmdline; one process in HOLD_EVERY holds /dev/nvidiactl
 * (fd) and /dev/nvidia0 (mmap), so the attribution path runs too. The
 * fixture's nodes are links to real character devices (/dev/full,
 * /dev/zero, ...) and so are the holders' fd links; the holder's maps line
 * carries /dev/zero's device and inode, as the scan matches identities. Each tree
 * is grown in place (100 -> 1000 -> 10000 processes) outside the timing,
 * under $TMPDIR (default /tmp; the figures depend on its filesystem).
 * Beside gh_holders_scan, a floor makes the same system calls with no logic
 * (getdents, statx of each fd link, read of maps): what the kernel and the
 * filesystem cost whatever the scanner does.
 *
 *   bench_scale [--json FILE] [--smoke]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "fs.h"
#include "holders.h"
#include "vmconf.h"

#define MAPS_LINES 40
#define HOLD_EVERY 100
#define MAX_POINTS 16
#define FIRST_PID 1000u

static const char *const patterns[] = { "/dev/nvidia*", "/dev/dri/card1", "/dev/dri/renderD128", "/dev/fb0",
					"/dev/vfio/14" };
/* The fixture's nodes: each a link to a real character device, so stat() gives a real st_rdev. */
static const char *const nodes[][2] = { { "nvidia0", "/dev/zero" },	     { "nvidiactl", "/dev/full" },
					{ "dri/card1", "/dev/tty" },	     { "dri/renderD128", "/dev/ptmx" },
					{ "fb0", "/dev/urandom" },	     { "vfio/14", "/dev/random" } };
static const char *const node_dirs[] = { "dev", "dev/dri", "dev/vfio" };
static char nvidia0_id[64];	/* "MAJ:MIN INO" of /dev/zero, as maps shows it */

static _Noreturn void die(const char *what)
{
	fprintf(stderr, "bench_scale: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fmt(char *buf, size_t size, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *buf, size_t size, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, size, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		die(f);
	}
}

static void put_file(int dfd, const char *name, const char *text, size_t len)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len || close(fd) < 0)
		die(name);
}

static const char *fd_target(unsigned pid, unsigned fd, char *buf, size_t size)
{
	if (fd == 0)
		return "/dev/null";
	switch (fd % 5) {
	case 0:
		fmt(buf, size, "socket:[%u]", 100000 + pid * 7 + fd);
		return buf;
	case 1:
		fmt(buf, size, "pipe:[%u]", 200000 + pid * 3 + fd);
		return buf;
	case 2:
		fmt(buf, size, "/var/log/app-%u/output-%u.log", pid % 50, fd);
		return buf;
	case 3:
		return "anon_inode:[eventfd]";
	default:
		fmt(buf, size, "/usr/lib/x86_64-linux-gnu/libexample-%u.so.1.2.3", fd % 40);
		return buf;
	}
}

static bool holds(unsigned pid)
{
	return pid % HOLD_EVERY == 0;
}

/* fds [fd_from, fds) of pid; the holder's device link is always its last fd. */
static void add_fds(int proc, unsigned pid, unsigned fd_from, unsigned fds)
{
	char dir[32], name[16], target[128];
	int dfd;

	fmt(dir, sizeof(dir), "%u/fd", pid);
	dfd = openat(proc, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die(dir);
	if (fd_from && holds(pid)) {
		fmt(name, sizeof(name), "%u", fd_from - 1);
		if (unlinkat(dfd, name, 0) < 0)
			die(name);
		fd_from--;
	}
	for (unsigned fd = fd_from; fd < fds; fd++) {
		const char *t = fd_target(pid, fd, target, sizeof(target));

		if (fd == fds - 1 && holds(pid))
			t = "/dev/full";	/* /dev/nvidiactl */
		fmt(name, sizeof(name), "%u", fd);
		if (symlinkat(t, dfd, name) < 0)
			die(name);
	}
	close(dfd);
}

static void add_proc(int proc, unsigned pid, unsigned fds)
{
	char dir[32], text[MAPS_LINES * 128], line[160];
	size_t off = 0;
	int dfd;

	fmt(dir, sizeof(dir), "%u", pid);
	if (mkdirat(proc, dir, 0755) < 0)
		die(dir);
	dfd = openat(proc, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || mkdirat(dfd, "fd", 0755) < 0)
		die(dir);
	fmt(line, sizeof(line), "worker-%u\n", pid);
	put_file(dfd, "comm", line, strlen(line));
	fmt(line, sizeof(line), "0::/system.slice/worker-%u.service\n", pid % 300);
	put_file(dfd, "cgroup", line, strlen(line));
	fmt(line, sizeof(line), "Name:\tworker-%u\nState:\tS (sleeping)\nPid:\t%u\nPPid:\t1\n", pid, pid);
	put_file(dfd, "status", line, strlen(line));
	put_file(dfd, "cmdline", "/usr/bin/worker\0--serve\0", 24);
	/* A process of its own (proc_exe_link): the scan passes over a pid without one as a kernel thread. */
	if (symlinkat("/usr/bin/worker", dfd, "exe") < 0)
		die("exe");
	for (unsigned i = 0; i < MAPS_LINES; i++) {
		const char *path = i % 4 == 3 ? "" : "/usr/lib/x86_64-linux-gnu/libexample.so.1.2.3";

		if (i == MAPS_LINES / 2 && holds(pid))
			fmt(line, sizeof(line), "7f%010x-7f%010x rw-s 00000000 %s /dev/nvidia0\n", i * 0x1000u,
			    (i + 1) * 0x1000u, nvidia0_id);
		else
			fmt(line, sizeof(line), "7f%010x-7f%010x r-xp 00000000 08:01 %-10u %s\n", i * 0x1000u,
			    (i + 1) * 0x1000u, 1000 + i, path);
		memcpy(text + off, line, strlen(line));
		off += strlen(line);
	}
	put_file(dfd, "maps", text, off);
	close(dfd);
	add_fds(proc, pid, 0, fds);
}

/* The kernel's share: the same directory listings, link reads and maps reads, nothing matched. */
static void floor_scan(const char *root)
{
	char path[PATH_MAX], buf[65536];
	struct dirent *de;
	DIR *d;

	fmt(path, sizeof(path), "%s/proc", root);
	d = opendir(path);
	if (!d)
		die(path);
	while ((de = readdir(d))) {
		int pfd, fdd, mfd;
		struct dirent *fe;
		DIR *fdir;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (pfd < 0)
			die(de->d_name);
		/* Whether it has memory of its own, as the scan asks. */
		if (readlinkat(pfd, "exe", path, sizeof(path)) < 0)
			die("exe");
		fdd = openat(pfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fdir = fdd < 0 ? NULL : fdopendir(fdd);
		if (!fdir)
			die("fd");
		while ((fe = readdir(fdir))) {
			struct statx sx;

			/* Most fixture links lead nowhere (sockets, pipes): ENOENT is the answer, as a real fd's is not. */
			if (fe->d_name[0] != '.' &&
			    statx(dirfd(fdir), fe->d_name, AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MODE | STATX_INO, &sx) < 0 &&
			    errno != ENOENT)
				die(fe->d_name);
		}
		closedir(fdir);
		mfd = openat(pfd, "maps", O_RDONLY | O_CLOEXEC);
		if (mfd < 0)
			die("maps");
		while (read(mfd, buf, sizeof(buf)) > 0)
			;
		close(mfd);
		close(pfd);
	}
	closedir(d);
}

struct point {
	unsigned procs, fds;
	double scan_ns, floor_ns;
};

/* Least squares of y on the columns of x (n rows, k <= 3 columns), by the normal equations; r^2 of the fit. */
static double fit(const double x[][3], const double *y, int n, int k, double *coef)
{
	double a[3][4] = { { 0 } }, mean = 0, ss = 0, res = 0;

	for (int i = 0; i < n; i++) {
		for (int r = 0; r < k; r++) {
			for (int c = 0; c < k; c++)
				a[r][c] += x[i][r] * x[i][c];
			a[r][k] += x[i][r] * y[i];
		}
		mean += y[i] / n;
	}
	for (int p = 0; p < k; p++)
		for (int r = 0; r < k; r++) {
			double f;

			if (r == p)
				continue;
			f = a[r][p] / a[p][p];
			for (int c = p; c <= k; c++)
				a[r][c] -= f * a[p][c];
		}
	for (int r = 0; r < k; r++)
		coef[r] = a[r][k] / a[r][r];
	for (int i = 0; i < n; i++) {
		double e = y[i];

		for (int r = 0; r < k; r++)
			e -= coef[r] * x[i][r];
		res += e * e;
		ss += (y[i] - mean) * (y[i] - mean);
	}
	return ss > 0 ? 1 - res / ss : 1;
}

static struct gh_strv pattern_list(void)
{
	struct gh_strv sv = { 0 };

	for (size_t i = 0; i < GH_ARRAY_SIZE(patterns); i++)
		if (gh_strv_push(&sv, patterns[i]) < 0)
			die("patterns");
	return sv;
}

static int reps_for(unsigned procs, unsigned fds, bool smoke)
{
	unsigned long work = (unsigned long)procs * fds;

	if (smoke)
		return 1;
	return work >= 500000 ? 5 : work >= 50000 ? 9 : 21;
}

static void measure(const char *root, struct point *pt, bool smoke)
{
	struct gh_strv sv = pattern_list();
	double scan[32] = { 0 }, flo[32] = { 0 };
	int reps = reps_for(pt->procs, pt->fds, smoke);
	unsigned expect = 0;
	struct gh_ctx *ctx;

	for (unsigned p = 0; p < pt->procs; p++)
		expect += holds(FIRST_PID + p);
	if (gh_ctx_new(root, &ctx) < 0)
		die("gh_ctx_new");
	for (int i = 0; i < reps; i++) {
		struct gh_holder_set set;
		double t0 = bench_now_ns();
		int r = gh_holders_scan(ctx, &sv, &set);

		scan[i] = bench_now_ns() - t0;
		if (r < 0 || set.n != expect) {
			fprintf(stderr, "bench_scale: scan of %u processes found %u holders (%d), expected %u\n",
				pt->procs, set.n, r, expect);
			exit(1);
		}
		gh_holders_free(&set);
		t0 = bench_now_ns();
		floor_scan(root);
		flo[i] = bench_now_ns() - t0;
	}
	pt->scan_ns = bench_median(scan, reps);
	pt->floor_ns = bench_median(flo, reps);
	gh_ctx_free(ctx);
	gh_strv_free(&sv);
}

static void rm_tree(const char *root)
{
	struct gh_ctx *ctx;

	int r;

	if (gh_ctx_new("/", &ctx) < 0)
		die("gh_ctx_new");
	r = gh_fs_remove_tree(ctx, "%s", root);
	if (r < 0) {
		errno = -r;
		die(root);
	}
	gh_ctx_free(ctx);
}

static int holders_bench(FILE *json, bool smoke)
{
	static const unsigned full_procs[] = { 100, 1000, 10000 }, full_fds[] = { 10, 100 };
	static const unsigned smoke_procs[] = { 20, 60 }, smoke_fds[] = { 4, 12 };
	const unsigned *procs = smoke ? smoke_procs : full_procs, *fdv = smoke ? smoke_fds : full_fds;
	size_t n_procs = smoke ? GH_ARRAY_SIZE(smoke_procs) : GH_ARRAY_SIZE(full_procs);
	size_t n_fds = smoke ? GH_ARRAY_SIZE(smoke_fds) : GH_ARRAY_SIZE(full_fds);
	struct point pts[MAX_POINTS];
	double x[MAX_POINTS][3], y[MAX_POINTS], coef[3], r2;
	struct stat zero;

	if (stat("/dev/zero", &zero) < 0)
		die("/dev/zero");
	fmt(nvidia0_id, sizeof(nvidia0_id), "%02x:%02x %llu", major(zero.st_dev), minor(zero.st_dev),
	    (unsigned long long)zero.st_ino);
	int n = 0;

	printf("%-8s %-22s %11s %11s %10s %9s %7s\n", "scaling", "holder scan", "median ms", "floor ms",
	       "us/proc", "ns/fd", "x floor");
	for (size_t f = 0; f < n_fds; f++) {
		const char *tmp = getenv("TMPDIR");
		char root[PATH_MAX], path[PATH_MAX];
		unsigned have = 0;
		int proc;

		fmt(root, sizeof(root), "%s/gh-bench-scale-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(root))
			die("mkdtemp");
		for (size_t k = 0; k < GH_ARRAY_SIZE(node_dirs); k++) {
			fmt(path, sizeof(path), "%s/%s", root, node_dirs[k]);
			if (mkdir(path, 0755) < 0)
				die(path);
		}
		for (size_t k = 0; k < GH_ARRAY_SIZE(nodes); k++) {
			fmt(path, sizeof(path), "%s/dev/%s", root, nodes[k][0]);
			if (symlink(nodes[k][1], path) < 0)
				die(path);
		}
		fmt(path, sizeof(path), "%s/proc", root);
		if (mkdir(path, 0755) < 0)
			die(path);
		proc = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (proc < 0)
			die(path);
		for (size_t p = 0; p < n_procs; p++) {
			struct point *pt = &pts[n];

			for (; have < procs[p]; have++)
				add_proc(proc, FIRST_PID + have, fdv[f]);
			pt->procs = procs[p];
			pt->fds = fdv[f];
			measure(root, pt, smoke);
			printf("%-8s %6u procs x %3u fds %11.2f %11.2f %10.2f %9.1f %7.2f\n", "scaling", pt->procs,
			       pt->fds, pt->scan_ns / 1e6, pt->floor_ns / 1e6, pt->scan_ns / 1e3 / pt->procs,
			       pt->scan_ns / ((double)pt->procs * pt->fds), pt->scan_ns / pt->floor_ns);
			n++;
		}
		close(proc);
		rm_tree(root);
	}
	/* scan = c + a * procs + b * fds in total: a is the cost a process adds, b the cost an fd adds. */
	for (int i = 0; i < n; i++) {
		x[i][0] = 1;
		x[i][1] = pts[i].procs;
		x[i][2] = (double)pts[i].procs * pts[i].fds;
		y[i] = pts[i].scan_ns;
	}
	r2 = fit(x, y, n, 3, coef);
	printf("%-8s holder scan fit: %.2f us per process + %.1f ns per fd (+ %.2f ms fixed), r2 %.4f\n", "scaling",
	       coef[1] / 1e3, coef[2], coef[0] / 1e6, r2);
	for (size_t f = 0; f < n_fds; f++) {
		const struct point *lo = &pts[f * n_procs], *hi = &pts[f * n_procs + n_procs - 1];

		printf("%-8s holder scan, %u fds: cost per fd at %u processes over %u: %.2f\n", "scaling", lo->fds,
		       hi->procs, lo->procs, (hi->scan_ns / hi->procs) / (lo->scan_ns / lo->procs));
	}
	if (json) {
		fprintf(json, "  \"holders\": {\"maps_lines\": %d, \"hold_every\": %d, \"points\": [\n", MAPS_LINES,
			HOLD_EVERY);
		for (int i = 0; i < n; i++)
			fprintf(json,
				"    {\"procs\": %u, \"fds\": %u, \"scan_ms\": %.3f, \"floor_ms\": %.3f, \"us_per_proc\": "
				"%.3f, \"ns_per_fd\": %.2f, \"over_floor\": %.2f}%s\n",
				pts[i].procs, pts[i].fds, pts[i].scan_ns / 1e6, pts[i].floor_ns / 1e6,
				pts[i].scan_ns / 1e3 / pts[i].procs, pts[i].scan_ns / ((double)pts[i].procs * pts[i].fds),
				pts[i].scan_ns / pts[i].floor_ns, i + 1 < n ? "," : "");
		fprintf(json, "  ], \"fit\": {\"us_per_proc\": %.3f, \"ns_per_fd\": %.2f, \"fixed_ms\": %.3f, \"r2\": %.5f},\n",
			coef[1] / 1e3, coef[2], coef[0] / 1e6, r2);
		fprintf(json, "  \"per_fd_cost_largest_over_smallest\": [");
		for (size_t f = 0; f < n_fds; f++) {
			const struct point *lo = &pts[f * n_procs], *hi = &pts[f * n_procs + n_procs - 1];

			fprintf(json, "%s{\"fds\": %u, \"ratio\": %.3f}", f ? ", " : "", lo->fds,
				(hi->scan_ns / hi->procs) / (lo->scan_ns / lo->procs));
		}
		fprintf(json, "]},\n");
	}
	return 0;
}

struct text {
	char *buf;
	size_t len, cap;
	unsigned lines;
};

static void line_add(struct text *t, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void line_add(struct text *t, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(t->buf + t->len, t->cap - t->len, f, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->cap - t->len) {
		errno = ENOSPC;
		die("config text");
	}
	t->len += (size_t)n;
	t->lines++;
}

/* A section shaped like PVE's write_vm_config output (sorted keys), with n hostpci entries. */
static void config_section(struct text *t, unsigned hostpci, const char *snap)
{
	static const char *const body[] = {
		"agent: 1",
		"balloon: 0",
		"bios: ovmf",
		"boot: order=scsi0;net0",
		"cores: 8",
		"cpu: host",
		"efidisk0: local-lvm:vm-111-disk-0,efitype=4m,pre-enrolled-keys=1,size=4M",
		"machine: pc-q35-9.0",
		"memory: 16384",
		"meta: creation-qemu=9.0.2,ctime=1736349024",
		"name: gaming-vm",
		"net0: virtio=BC:24:11:A3:DA:B1,bridge=vmbr0,firewall=1",
		"numa: 0",
		"ostype: win11",
		"scsi0: local-lvm:vm-111-disk-1,cache=writeback,discard=on,iothread=1,size=256G,ssd=1",
		"scsihw: virtio-scsi-single",
		"smbios1: uuid=2c4a2cda-712b-44ab-8728-51f5e734b658",
		"sockets: 1",
		"tpmstate0: local-lvm:vm-111-disk-2,size=4M,version=v2.0",
		"vga: none",
		"vmgenid: 713da648-38a6-489e-b0b2-dd9cef419f33",
	};

	if (snap) {
		line_add(t, "\n");
		line_add(t, "[%s]\n", snap);
	}
	for (size_t i = 0; i < GH_ARRAY_SIZE(body); i++) {
		/* hostpci sorts between efidisk0 and machine, snaptime between scsihw and smbios1. */
		if (!strncmp(body[i], "machine", 7))
			for (unsigned h = 0; h < hostpci; h++)
				line_add(t, "hostpci%u: 0000:%02x:00,pcie=1%s\n", h, h + 1, h ? "" : ",x-vga=1");
		if (snap && !strncmp(body[i], "smbios1", 7))
			line_add(t, "snaptime: %u\n", 1736939109u + t->lines);
		line_add(t, "%s\n", body[i]);
	}
}

static int vmconf_bench(FILE *json, bool smoke)
{
	static const unsigned hostpci[] = { 1, 4, 16 }, full_snaps[] = { 0, 100, 1000 }, smoke_snaps[] = { 0, 10 };
	const unsigned *snaps = smoke ? smoke_snaps : full_snaps;
	size_t n_snaps = smoke ? GH_ARRAY_SIZE(smoke_snaps) : GH_ARRAY_SIZE(full_snaps);
	struct text t = { .cap = 8u << 20 };
	double x[MAX_POINTS][3], y[MAX_POINTS], coef[3], r2, at0[GH_ARRAY_SIZE(hostpci)], flat = 0;
	struct gh_ctx *ctx;
	int n = 0;

	t.buf = malloc(t.cap);
	if (!t.buf || gh_ctx_new("/", &ctx) < 0)
		die("malloc");
	/* The parser logs nothing on these configs; a mistake in them must not drown the table. */
	gh_ctx_set_log_priority(ctx, LOG_CRIT);
	printf("%-8s %-22s %7s %7s %11s %11s %11s\n", "scaling", "vmconf parse", "lines", "live", "median us",
	       "ns/line", "ns/live ln");
	if (json)
		fprintf(json, "  \"vmconf\": {\"points\": [\n");
	for (size_t h = 0; h < GH_ARRAY_SIZE(hostpci); h++)
		for (size_t s = 0; s < n_snaps; s++) {
			int reps = smoke ? 1 : 201;
			double tm[201] = { 0 }, ns;
			unsigned live;

			t.len = 0;
			t.lines = 0;
			config_section(&t, hostpci[h], NULL);
			if (snaps[s])
				line_add(&t, "parent: snap%u\n", snaps[s] - 1);
			live = t.lines;
			for (unsigned k = 0; k < snaps[s]; k++) {
				char name[32];

				fmt(name, sizeof(name), "snap%u", k);
				config_section(&t, hostpci[h], name);
			}
			/* The first run pays for page faults in the parser's code and buffers: not timed. */
			for (int i = -1; i < reps; i++) {
				struct gh_vmconf vm;
				FILE *f = fmemopen(t.buf, t.len, "r");
				double t0;

				if (!f)
					die("fmemopen");
				t0 = bench_now_ns();
				if (gh_vmconf_parse(ctx, f, "bench.conf", &vm) < 0 || !vm.hostpci[hostpci[h] - 1].present) {
					fprintf(stderr, "bench_scale: config with %u hostpci did not parse\n", hostpci[h]);
					exit(1);
				}
				if (i >= 0)
					tm[i] = bench_now_ns() - t0;
				fclose(f);
			}
			ns = bench_median(tm, reps);
			if (!s)
				at0[h] = ns;
			else if (ns / at0[h] > flat)
				flat = ns / at0[h];
			x[n][0] = 1;
			x[n][1] = live;
			y[n++] = ns;
			printf("%-8s %2u hostpci %5u snaps %7u %7u %11.2f %11.2f %11.1f\n", "scaling", hostpci[h],
			       snaps[s], t.lines, live, ns / 1e3, ns / t.lines, ns / live);
			if (json)
				fprintf(json,
					"%s    {\"hostpci\": %u, \"snapshots\": %u, \"lines\": %u, \"live_lines\": %u, "
					"\"parse_us\": %.3f, \"ns_per_line\": %.3f, \"ns_per_live_line\": %.2f}",
					n > 1 ? ",\n" : "", hostpci[h], snaps[s], t.lines, live, ns / 1e3, ns / t.lines,
					ns / live);
		}
	/* Only the live section is read (the parser stops at the first "[section]"): time follows live lines. */
	r2 = fit(x, y, n, 2, coef);
	printf("%-8s vmconf fit: %.1f ns per live line (+ %.2f us fixed), r2 %.4f; most snapshots over none: %.2fx\n",
	       "scaling", coef[1], coef[0] / 1e3, r2, flat);
	if (json)
		fprintf(json,
			"\n  ], \"fit\": {\"ns_per_live_line\": %.2f, \"fixed_us\": %.3f, \"r2\": %.5f}, "
			"\"most_snapshots_over_none\": %.3f}\n",
			coef[1], coef[0] / 1e3, r2, flat);
	gh_ctx_free(ctx);
	free(t.buf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *json_path = NULL;
	bool smoke = false;
	FILE *json = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke"))
			smoke = true;
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json_path = argv[++i];
		else {
			fprintf(stderr, "usage: bench_scale [--json FILE] [--smoke]\n");
			return 2;
		}
	}
	if (json_path && !(json = fopen(json_path, "we")))
		die(json_path);
	if (json)
		fprintf(json, "{\n");
	holders_bench(json, smoke);
	vmconf_bench(json, smoke);
	if (json) {
		fprintf(json, "}\n");
		if (fclose(json) != 0)
			die(json_path);
	}
	return 0;
}
