/* SPDX-License-Identifier: MIT */
/*
 * Pinning benchmark: time from a post-start's start to every thread pinned,
 * for 2 and 16 vCPUs, against a floor that does what any pinning must: read
 * the pid file, list /proc/<pid>/task, read each thread's comm to know which
 * vCPU it runs ("CPU n/KVM"), and call sched_setaffinity once per thread. It
 * has no configuration to parse and checks nothing (no cpuset, no read-back).
 * The old floor (sched_setaffinity on tids already known) is printed too.
 *
 * A synthetic QEMU (this program re-executed as "kvm -pidfile ...") runs the
 * vCPU threads "CPU n/KVM" and one "IO iothread0". The fixture root's /proc
 * is the real /proc. The machine may have fewer CPUs than vCPUs: the policy
 * maps vCPU i to CPU i, and the scheduler ops fold CPU i onto i % online, so
 * the same number of real sched_setaffinity/sched_getaffinity calls is made.
 * Prints one line per size and, with --json FILE, the same figures as JSON.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "affinity.h"
#include "bench.h"
#include "fs.h"
#include "policy.h"
#include "sim.h"
#include "timebox.h"
#include "vmconf.h"

static long ncpu;

static void fold(const cpu_set_t *in, cpu_set_t *out)
{
	CPU_ZERO(out);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, in))
			CPU_SET(c % ncpu, out);
}

/* What each thread was asked for, so a read-back of the folded mask answers the ask. */
static struct {
	pid_t tid;
	cpu_set_t asked;
} asked[128];

static int fold_set(struct gh_ctx *ctx, pid_t tid, const cpu_set_t *set)
{
	cpu_set_t real;
	size_t i;

	(void)ctx;
	fold(set, &real);
	if (sched_setaffinity(tid, sizeof(real), &real) < 0)
		return -errno;
	for (i = 0; i < 127 && asked[i].tid && asked[i].tid != tid; i++)
		;
	asked[i].tid = tid;
	asked[i].asked = *set;
	return 0;
}

static int fold_get(struct gh_ctx *ctx, pid_t tid, cpu_set_t *set)
{
	cpu_set_t folded;

	(void)ctx;
	if (sched_getaffinity(tid, sizeof(*set), set) < 0)
		return -errno;
	for (size_t i = 0; i < 128 && asked[i].tid; i++) {
		if (asked[i].tid != tid)
			continue;
		fold(&asked[i].asked, &folded);
		if (CPU_EQUAL(&folded, set))
			*set = asked[i].asked;
	}
	return 0;
}

static void *park(void *arg)
{
	char name[16];

	snprintf(name, sizeof(name), "%s", (const char *)arg);
	pthread_setname_np(pthread_self(), name);
	free(arg);
	for (;;)
		pause();
	return NULL;
}

/* The synthetic QEMU: argv = kvm -pidfile PATH N */
static int fake_qemu(int argc, char **argv)
{
	int n = argc > 3 ? atoi(argv[3]) : 2; /* test program argument, not user input */
	FILE *f;

	for (int i = 0; i <= n; i++) {
		pthread_t t;
		char *name = malloc(16);

		snprintf(name, 16, i < n ? "CPU %d/KVM" : "IO iothread0", i);
		pthread_create(&t, NULL, park, name);
	}
	usleep(50000);
	f = fopen(argv[2], "we");
	if (!f)
		return 1;
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
	for (;;)
		pause();
}

/*
 * The floor: pid file, the task list, each comm, one sched_setaffinity per
 * thread (vCPU n to CPU n, the rest to CPU 0, folded as fold_set does).
 * Returns the number of threads pinned.
 */
static int fair_floor(const char *pidfile, int n)
{
	char buf[64], dir[64], comm[64];
	struct dirent *e;
	int fd, pinned = 0;
	ssize_t len;
	DIR *d;

	fd = open(pidfile, O_RDONLY | O_CLOEXEC);
	len = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	snprintf(dir, sizeof(dir), "/proc/%ld/task", strtol(buf, NULL, 10));
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[128];
		cpu_set_t s;
		int v = -1;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/comm", dir, e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		len = fd < 0 ? -1 : read(fd, comm, sizeof(comm) - 1);
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		comm[len] = '\0';
		if (sscanf(comm, "CPU %d/KVM", &v) != 1 || v >= n)
			v = -1;
		CPU_ZERO(&s);
		CPU_SET(v < 0 ? 0 : v % ncpu, &s);
		if (sched_setaffinity((pid_t)strtol(e->d_name, NULL, 10), sizeof(s), &s) == 0)
			pinned++;
	}
	closedir(d);
	return pinned;
}

#define RUNS 51

static int runs = RUNS;

static void bench(int n, FILE *json, bool first)
{
	char root[] = "/tmp/gh-bench-XXXXXX", path[512], ini[256];
	double hook[RUNS], floor_[RUNS], bare[RUNS];
	struct gh_ops ops = gh_sim_ops;
	struct gh_ctx *ctx;
	pid_t child, tids[64];
	int ntids = 0;
	FILE *f;

	if (!mkdtemp(root))
		exit(1);
	snprintf(path, sizeof(path), "%s/proc", root);
	if (symlink("/proc", path) < 0)
		exit(1);
	snprintf(path, sizeof(path), "mkdir -p %s/var/run/qemu-server %s/etc/pve/qemu-server %s/etc/gpu-hook "
				     "%s/sys/devices/system/cpu", root, root, root, root);
	if (system(path) != 0)
		exit(1);
	snprintf(path, sizeof(path), "%s/sys/devices/system/cpu/online", root);
	f = fopen(path, "we");
	fprintf(f, "0-63\n");
	fclose(f);
	snprintf(path, sizeof(path), "%s/etc/pve/qemu-server/901.conf", root);
	f = fopen(path, "we");
	fprintf(f, "sockets: 1\ncores: %d\n", n);
	fclose(f);
	snprintf(ini, sizeof(ini), "%s/etc/gpu-hook/901.ini", root);
	f = fopen(ini, "we");
	fprintf(f, "[pinning]\nvcpus = 0-%d\nothers = 0\n", n - 1);
	fclose(f);
	snprintf(path, sizeof(path), "%s/var/run/qemu-server/901.pid", root);
	child = fork();
	if (child == 0) {
		char nbuf[16];

		snprintf(nbuf, sizeof(nbuf), "%d", n);
		execl("/proc/self/exe", "kvm", "-pidfile", path, nbuf, (char *)NULL);
		_exit(127);
	}
	while (access(path, F_OK) < 0)
		usleep(1000);
	usleep(20000);

	ops.set_affinity = fold_set;
	ops.get_affinity = fold_get;
	gh_ctx_new(root, &ctx);
	gh_ctx_set_ops(ctx, &ops, NULL);
	for (int i = 0; i < runs; i++) {
		struct gh_vmconf vm;
		struct gh_policy pol;
		struct gh_pinplan pp;
		double t0 = bench_now_ns() / 1e3;
		int r;

		/* What post-start does: config, policy, plan (pid, threads, checks), apply, read back. */
		r = gh_vmconf_load(ctx, 901, &vm);
		r = r < 0 ? r : gh_policy_load(ctx, 901, &pol);
		r = r < 0 ? r : gh_affinity_plan(ctx, 901, &vm, &pol, &pp);
		if (r < 0 || pp.refusals.n || pp.n != (unsigned)n + 2) {
			fprintf(stderr, "bench: plan failed (%d, %zu refusals, %u threads)\n", r, pp.refusals.n, pp.n);
			exit(1);
		}
		if (gh_affinity_apply(ctx, &pp) < 0)
			exit(1);
		hook[i] = bench_now_ns() / 1e3 - t0;
		if (i == 0)
			for (unsigned k = 0; k < pp.n && ntids < 64; k++)
				tids[ntids++] = pp.v[k].tid;
		gh_affinity_free(&pp);
		gh_policy_free(&pol);
	}
	for (int i = 0; i < runs; i++) {
		double t0 = bench_now_ns() / 1e3;

		if (fair_floor(path, n) != n + 2)
			exit(1);
		floor_[i] = bench_now_ns() / 1e3 - t0;
		t0 = bench_now_ns() / 1e3;
		for (int k = 0; k < ntids; k++) {
			cpu_set_t s;

			CPU_ZERO(&s);
			CPU_SET(k % ncpu, &s);
			if (sched_setaffinity(tids[k], sizeof(s), &s) < 0)
				exit(1);
		}
		bare[i] = bench_now_ns() / 1e3 - t0;
	}
	bench_median(hook, runs);
	bench_median(floor_, runs);
	bench_median(bare, runs);
	printf("pin %2d vCPUs: gpu-hook %8.1f us  floor %6.1f us  ratio %5.2f  (setaffinity alone %5.1f us)  (median of %d)\n",
	       n, hook[runs / 2], floor_[runs / 2], hook[runs / 2] / floor_[runs / 2], bare[runs / 2], runs);
	if (json)
		fprintf(json, "%s  {\"vcpus\": %d, \"gpu_hook_us\": %.1f, \"floor_us\": %.1f, \"ratio\": %.2f, "
			      "\"setaffinity_only_us\": %.1f}", first ? "" : ",\n", n, hook[runs / 2], floor_[runs / 2],
			hook[runs / 2] / floor_[runs / 2], bare[runs / 2]);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	gh_ctx_free(ctx);
	snprintf(path, sizeof(path), "rm -rf %s", root);
	if (system(path) != 0)
		exit(1);
}

int main(int argc, char **argv)
{
	FILE *json = NULL;

	if (!strcmp(argv[0], "kvm"))
		return fake_qemu(argc, argv);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--smoke"))
			runs = 5;
		else if (!strcmp(argv[i], "--json") && i + 1 < argc && !json) {
			json = fopen(argv[++i], "we");
			if (!json) {
				perror(argv[i]);
				return 1;
			}
		} else {
			fprintf(stderr, "usage: bench_pin [--json FILE] [--smoke]\n");
			return 2;
		}
	}
	if (json)
		fprintf(json, "{\"pinning\": [\n");
	bench(2, json, true);
	bench(16, json, false);
	if (json) {
		fprintf(json, "\n]}\n");
		fclose(json);
	}
	return 0;
}
