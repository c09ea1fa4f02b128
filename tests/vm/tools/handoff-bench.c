/* SPDX-License-Identifier: MIT */
/*
 * Handoff benchmark, run inside the real-kernel guest (single topology):
 *   handoff-bench RUNS SHELL-SCRIPT|- [OTHER-GPU-HOOK]
 * Alternates two to four ways of doing the same pre-start + post-stop round trip:
 *   gpu-hook  /usr/sbin/gpu-hook 111 pre-start, then post-stop (fork+exec);
 *   floor     the same kernel operations made directly (writes, delete_module,
 *             finit_module), no discovery, no checks, no journal, no child;
 *   shell     SHELL-SCRIPT in|out, a seed-style script (fixed sleeps, retries),
 *             unless it is "-" (its 9 s a round are most of an A/B's time);
 *   other     OTHER-GPU-HOOK, when given: a second build, to compare two
 *             versions in one boot (boot-to-boot variance is larger than most
 *             changes).
 * After each round trip the host must be back (both functions on their
 * drivers, fbcon bound) or the run is reported invalid. Prints a table of
 * medians and the ratios, then one JSON object on a line starting "JSON ".
 * Beside the times, how the time to settled splits: the CPU running tasks
 * (the way's own and the kernel's threads; busy_ms) and the CPU idle (what
 * waits in the kernel: RCU grace periods in each delete_module, a D3hot
 * function's wake-up, the codec's answers).
 * gpu-hook's own per-step timings (its "step i/n: ...: ok (N ms)" lines) are
 * collected and their medians printed per step.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define GPU "0000:01:00.0"
#define AUDIO "0000:01:00.1"
#define MAX_RUNS 256
#define MAX_STEPS 40

static char vtcon[PATH_MAX];
static char moddir[256];

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "handoff-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void put(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, value, strlen(value)) < 0) {
		fprintf(stderr, "handoff-bench: write %s to %s: %s\n", value, path, strerror(errno));
		exit(1);
	}
	close(fd);
}

static void driver_of(const char *addr, char *buf, size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", addr);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		snprintf(buf, size, "none");
		return;
	}
	link[n] = '\0';
	snprintf(buf, size, "%s", strrchr(link, '/') + 1);
}

static int unload(const char *name)
{
	for (int i = 0; i < 100; i++) {
		if (syscall(SYS_delete_module, name, O_NONBLOCK) == 0)
			return 0;
		if (errno != EAGAIN && errno != EBUSY)
			break;
		usleep(10000);
	}
	fprintf(stderr, "handoff-bench: delete_module %s: %s\n", name, strerror(errno));
	exit(1);
}

static void load(const char *name, const char *params)
{
	char path[PATH_MAX];
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s.ko", moddir, name) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		die(name);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	if (syscall(SYS_finit_module, fd, params, 0) < 0 && errno != EEXIST)
		die("finit_module");
	close(fd);
}

struct steps {
	char desc[MAX_STEPS][160];
	double ms[MAX_STEPS][MAX_RUNS];
	unsigned n, runs[MAX_STEPS];
};

static struct steps in_steps, out_steps, other_in_steps, other_out_steps, floor_in_steps, floor_out_steps;

/* Step i (from 0) of one run: its description and its time. */
static void record(struct steps *s, unsigned i, const char *what, double ms)
{
	if (i >= MAX_STEPS)
		return;
	if (i >= s->n)
		s->n = i + 1;
	snprintf(s->desc[i], sizeof(s->desc[i]), "%s", what);
	if (s->runs[i] < MAX_RUNS)
		s->ms[i][s->runs[i]++] = ms;
}

/* The floor's own step times, as gpu-hook's log gives its own: each kernel call's, in order. */
static struct steps *floor_steps;
static unsigned floor_step;
static double floor_t;

static void floor_begin(struct steps *s)
{
	floor_steps = s;
	floor_step = 0;
	floor_t = now_ms();
}

static void floor_mark(const char *what)
{
	double t = now_ms();

	record(floor_steps, floor_step++, what, t - floor_t);
	floor_t = t;
}

/* The kernel operations of gpu-hook's single-GPU plan, in its order. */
static void floor_in(void)
{
	floor_begin(&floor_in_steps);
	put(vtcon, "0");
	floor_mark("console: write 0 to vtcon bind");
	unload("nvidia_drm");
	floor_mark("delete_module nvidia_drm");
	unload("nvidia_modeset");
	floor_mark("delete_module nvidia_modeset");
	unload("nvidia_uvm");
	floor_mark("delete_module nvidia_uvm");
	unload("nvidia");
	floor_mark("delete_module nvidia");
	put("/sys/bus/pci/devices/" GPU "/driver_override", "vfio-pci");
	floor_mark("GPU: driver_override vfio-pci");
	put("/sys/bus/pci/drivers_probe", GPU);
	floor_mark("GPU: drivers_probe");
	put("/sys/bus/pci/devices/" AUDIO "/driver_override", "vfio-pci");
	floor_mark("audio: driver_override vfio-pci");
	put("/sys/bus/pci/drivers/snd_hda_intel/unbind", AUDIO);
	floor_mark("audio: snd_hda_intel unbind");
	put("/sys/bus/pci/drivers_probe", AUDIO);
	floor_mark("audio: drivers_probe");
}

/* remove_id of an id vfio-pci never had answers ENODEV (gpu-hook binds with driver_override). */
static void remove_id(const char *ids)
{
	int fd = open("/sys/bus/pci/drivers/vfio-pci/remove_id", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || (write(fd, ids, strlen(ids)) < 0 && errno != ENODEV)) {
		fprintf(stderr, "handoff-bench: write %s to remove_id: %s\n", ids, strerror(errno));
		exit(1);
	}
	close(fd);
}

/*
 * The kernel operations of gpu-hook's way back from its journal, in its
 * order (lib/run-back.c, lib/plan-back.c): each function off vfio-pci
 * (override, unbind, remove_id), the modules loaded, the audio function
 * probed after them, the overrides cleared, the console bound. The order
 * moves time: snd_hda_intel probes its codecs asynchronously
 * (azx_probe_work), and that work lands in whatever runs after the probe.
 */
static void floor_out(void)
{
	floor_begin(&floor_out_steps);
	put("/sys/bus/pci/devices/" GPU "/driver_override", "nvidia");
	floor_mark("GPU: driver_override nvidia");
	put("/sys/bus/pci/drivers/vfio-pci/unbind", GPU);
	floor_mark("GPU: vfio-pci unbind");
	remove_id("1234 11e8");
	floor_mark("GPU: vfio-pci remove_id");
	put("/sys/bus/pci/devices/" AUDIO "/driver_override", "snd_hda_intel");
	floor_mark("audio: driver_override snd_hda_intel");
	put("/sys/bus/pci/drivers/vfio-pci/unbind", AUDIO);
	floor_mark("audio: vfio-pci unbind");
	remove_id("8086 293e");
	floor_mark("audio: vfio-pci remove_id");
	load("nvidia", "");
	floor_mark("finit_module nvidia (probes the GPU)");
	load("nvidia_uvm", "");
	floor_mark("finit_module nvidia_uvm");
	load("nvidia_modeset", "");
	floor_mark("finit_module nvidia_modeset");
	load("nvidia_drm", "modeset=1 fbdev=1");
	floor_mark("finit_module nvidia_drm");
	put("/sys/bus/pci/drivers_probe", AUDIO);
	floor_mark("audio: drivers_probe");
	put("/sys/bus/pci/devices/" GPU "/driver_override", "\n");
	floor_mark("GPU: clear driver_override");
	put("/sys/bus/pci/devices/" AUDIO "/driver_override", "\n");
	floor_mark("audio: clear driver_override");
	put(vtcon, "1");
	floor_mark("console: write 1 to vtcon bind");
}


/* "gpu-hook[111 pre-start]: step 3/12: unload module nvidia_drm (...): ok (16 ms)" */
static void collect(const char *log, const char *label, struct steps *s)
{
	FILE *f = fopen(log, "re");
	char line[1024];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, label), *ok, *slash;
		unsigned long i;
		double ms;

		if (!p || p == line || p[-1] != ' ')
			continue;
		p += strlen(label);
		i = strtoul(p, &slash, 10);
		ok = strstr(p, ": ok (");
		if (!i || i > MAX_STEPS || *slash != '/' || !ok)
			continue;
		ms = strtod(ok + 6, NULL);
		p = strchr(slash, ' ');
		if (!p)
			continue;
		*ok = '\0';
		record(s, (unsigned)i - 1, p + 1, ms);
	}
	fclose(f);
}

static int run(char *const argv[], const char *log)
{
	int st, fd;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		die("waitpid");
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* v's n values (n > 0) in s, in order. */
static void sorted(const double *v, unsigned n, double *s)
{
	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp);
}

static double median(double *v, unsigned n)
{
	double s[MAX_RUNS];

	if (!n)
		return 0;
	sorted(v, n, s);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The q-quantile (0..1) of n values, by the nearest rank. */
static double quantile(double *v, unsigned n, double q)
{
	double s[MAX_RUNS];
	unsigned i;

	if (!n)
		return 0;
	sorted(v, n, s);
	i = (unsigned)(q * (n - 1) + 0.5);
	return s[i < n ? i : n - 1];
}

/*
 * The two builds of a round run back to back: their difference, round by
 * round, leaves out what drifts between rounds (the guest's caches, the host's
 * load), which the difference of two medians keeps.
 */
static void paired(const char *what, double *a, double *b, unsigned n, FILE *json, const char *key)
{
	double d[MAX_RUNS], m, q1, q3;
	unsigned faster = 0;

	for (unsigned r = 0; r < n; r++) {
		d[r] = b[r] - a[r];
		faster += d[r] > 0;
	}
	m = median(d, n);
	q1 = quantile(d, n, 0.25);
	q3 = quantile(d, n, 0.75);
	printf("  paired %-10s other - gpu-hook: median %+.1f ms (quartiles %+.1f, %+.1f); gpu-hook faster in %u of %u rounds\n",
	       what, m, q1, q3, faster, n);
	fprintf(json, "\"%s\":{\"median_ms\":%.1f,\"q1_ms\":%.1f,\"q3_ms\":%.1f,\"gpu_hook_faster\":%u},", key, m, q1,
		q3, faster);
}

static int host_back(void)
{
	char a[64], b[64], bind[8] = "";
	int fd = open(vtcon, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		ssize_t n = read(fd, bind, sizeof(bind) - 1);

		bind[n > 0 ? n : 0] = '\0';
		close(fd);
	}
	driver_of(GPU, a, sizeof(a));
	driver_of(AUDIO, b, sizeof(b));
	if (!strcmp(a, "nvidia") && !strcmp(b, "snd_hda_intel") && bind[0] == '1')
		return 1;
	fprintf(stderr, "handoff-bench: host not back: %s on %s, %s on %s, fbcon bind %s\n", GPU, a, AUDIO, b, bind);
	return 0;
}

/*
 * When the host is back whole: the audio card registered, which the
 * asynchronous codec probe does last (azx_probe_continue, snd_card_register).
 * Polled every 0.5 ms (a stat of a sysfs path, about 15 us under TCG).
 */
static double settled_at(void)
{
	for (int i = 0; i < 4000; i++) {
		if (!access("/sys/bus/pci/devices/" AUDIO "/sound", F_OK))
			break;
		usleep(500);
	}
	return now_ms();
}


/*
 * The time the CPUs have spent running tasks so far, in ms: the sum of each
 * cpuN line's rq_cpu_time in /proc/schedstat (kernel/sched/stats.c,
 * show_schedstat; sched_info_switch adds each task's run when it leaves the
 * CPU, and never the idle task's), which the kernel keeps whatever
 * kernel.sched_schedstats says. -1 when there is none.
 */
static double busy_ms(void)
{
	FILE *f = fopen("/proc/schedstat", "re");
	char line[512];
	double ns = 0;
	bool any = false;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[7];

		if (strncmp(line, "cpu", 3) ||
		    sscanf(line, "%*s %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
			   &v[6]) != 7)
			continue;
		ns += (double)v[6];
		any = true;
	}
	fclose(f);
	return any ? ns / 1e6 : -1;
}

/*
 * The order of the ways in round r. What ran just before a way moves its
 * time: the way after the shell's 9 s of sleeps starts on an idle machine,
 * one after a round trip behind the kernel's deferred work. In a fixed
 * cycle each way always had the same predecessor, and two copies of one
 * binary measured up to 12% apart. These are Williams designs: over one
 * cycle of sequences, inside a round, every way runs right after every
 * other one equally often.
 */
static void round_order(unsigned r, unsigned ways, unsigned *order)
{
	static const unsigned char four[4][4] = { { 0, 1, 3, 2 }, { 1, 2, 0, 3 }, { 2, 3, 1, 0 }, { 3, 0, 2, 1 } };
	static const unsigned char three[6][3] = { { 0, 1, 2 }, { 1, 2, 0 }, { 2, 0, 1 },
						   { 0, 2, 1 }, { 1, 0, 2 }, { 2, 1, 0 } };
	static const unsigned char two[2][2] = { { 0, 1 }, { 1, 0 } };

	for (unsigned i = 0; i < ways; i++)
		order[i] = ways == 4 ? four[r % 4][i] : ways == 3 ? three[r % 6][i] : two[r % 2][i];
}

static void find_vtcon(void)
{
	for (int i = 0; i < 16; i++) {
		char path[PATH_MAX], name[128] = "";
		int fd;

		snprintf(path, sizeof(path), "/sys/class/vtconsole/vtcon%d/name", i);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (read(fd, name, sizeof(name) - 1) < 0)
			name[0] = '\0';
		close(fd);
		if (strstr(name, "frame buffer")) {
			snprintf(vtcon, sizeof(vtcon), "/sys/class/vtconsole/vtcon%d/bind", i);
			return;
		}
	}
	fprintf(stderr, "handoff-bench: no framebuffer vtconsole\n");
	exit(1);
}

static void print_steps(const char *name, struct steps *s, FILE *json, int last)
{
	fprintf(json, "\"%s\":[", name);
	for (unsigned i = 0; i < s->n; i++) {
		double m = median(s->ms[i], s->runs[i]);

		printf("  %s %2u  %7.1f ms  %s\n", name, i + 1, m, s->desc[i]);
		fprintf(json, "%s{\"step\":%u,\"what\":\"", i ? "," : "", i + 1);
		for (const char *c = s->desc[i]; *c; c++)
			fprintf(json, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
		fprintf(json, "\",\"median_ms\":%.1f,\"runs\":%u}", m, s->runs[i]);
	}
	fprintf(json, "]%s", last ? "" : ",");
}

int main(int argc, char **argv)
{
	static char *pre[] = { "/usr/sbin/gpu-hook", "111", "pre-start", NULL };
	static char *post[] = { "/usr/sbin/gpu-hook", "111", "post-stop", NULL };
	static char *pre_b[] = { NULL, "111", "pre-start", NULL };
	static char *post_b[] = { NULL, "111", "post-stop", NULL };
	double t[4][MAX_RUNS], in[4][MAX_RUNS], out[4][MAX_RUNS], settled[4][MAX_RUNS], exec_ms[MAX_RUNS];
	double busy[4][MAX_RUNS];
	bool have_busy = busy_ms() >= 0;
	double dry_ms[MAX_RUNS];
	double hello_ms[MAX_RUNS];
	static char *hello[] = { "/usr/bin/bench-hello", NULL };
	int have_hello = access(hello[0], X_OK) == 0;
	static const char *const names[] = { "gpu-hook", "floor", "shell", "other" };
	/* The ways run, by index into names. */
	unsigned way[4] = { 0, 1 }, runs, ways = 2, valid[4] = { 0 };
	bool shell;
	char *shin[4], *shout[4];
	struct utsname u;
	FILE *json;

	/* The floor writes the kernel's /sys and unloads modules: only in the real-kernel guest. */
	if (access("/gpu-hook-test-guest", F_OK) != 0) {
		fprintf(stderr, "handoff-bench: a tests/vm guest tool (tests/bench/handoff runs it there): it writes /sys\n");
		return 2;
	}
	if (argc < 3 || argc > 4 || (runs = (unsigned)strtoul(argv[1], NULL, 10)) == 0 || runs > MAX_RUNS) {
		fprintf(stderr, "usage: handoff-bench RUNS(1-%d) SHELL-SCRIPT|- [OTHER-GPU-HOOK]\n", MAX_RUNS);
		return 2;
	}
	shell = strcmp(argv[2], "-") != 0;
	if (shell)
		way[ways++] = 2;
	if (argc == 4) {
		pre_b[0] = post_b[0] = argv[3];
		way[ways++] = 3;
	}
	shin[0] = shout[0] = "/bin/sh";
	shin[1] = shout[1] = argv[2];
	shin[2] = "in";
	shout[2] = "out";
	shin[3] = shout[3] = NULL;
	uname(&u);
	if (snprintf(moddir, sizeof(moddir), "/lib/modules/%s/extra", u.release) >= (int)sizeof(moddir))
		return 1;
	find_vtcon();
	if (!host_back())
		return 1;
	/* What a run costs before its first step: exec alone, and discovery plus planning. */
	{
		static char *ver[] = { "/usr/sbin/gpu-hook", "--version", NULL };
		static char *dry[] = { "/usr/sbin/gpu-hook", "111", "pre-start", "--dry-run", NULL };

		for (unsigned r = 0; r < runs; r++) {
			double t0 = now_ms();

			/* The floor of a run: a static program that only writes a line (tests/bench/hello.c). */
			if (have_hello)
				run(hello, "/tmp/bench-hello.log");
			hello_ms[r] = now_ms() - t0;
			t0 = now_ms();
			run(ver, "/tmp/bench-ver.log");
			exec_ms[r] = now_ms() - t0;
			t0 = now_ms();
			if (run(dry, "/tmp/bench-dry.log")) {
				system("cat /tmp/bench-dry.log");
				return 1;
			}
			dry_ms[r] = now_ms() - t0;
		}
	}
	for (unsigned r = 0; r < runs; r++) {
		unsigned order[4];

		round_order(r, ways, order);
		for (unsigned w = 0; w < ways; w++) {
			unsigned k = way[order[w]];
			double t0, t1, t2, t3, b0, b3;
			int rc = 0;

			/* snd_hda_intel probes its codecs asynchronously: each run starts from a settled card. */
			(void)settled_at();
			/* A sleep before each read: this program's own running slice counts only once it leaves the CPU. */
			usleep(200);
			b0 = busy_ms();
			t0 = now_ms();
			if (k == 0)
				rc = run(pre, "/tmp/bench-in.log");
			else if (k == 1)
				floor_in();
			else if (k == 2)
				rc = run(shin, "/tmp/bench-shin.log");
			else
				rc = run(pre_b, "/tmp/bench-in-b.log");
			t1 = now_ms();
			if (k == 0)
				rc |= run(post, "/tmp/bench-out.log");
			else if (k == 1)
				floor_out();
			else if (k == 2)
				rc |= run(shout, "/tmp/bench-shout.log");
			else
				rc |= run(post_b, "/tmp/bench-out-b.log");
			t2 = now_ms();
			t3 = settled_at();
			usleep(200);
			b3 = busy_ms();
			if (rc || !host_back()) {
				fprintf(stderr, "handoff-bench: %s run %u invalid (exit %d)\n", names[k], r + 1, rc);
				if (k == 0)
					system("cat /tmp/bench-in.log /tmp/bench-out.log");
				if (k == 3)
					system("cat /tmp/bench-in-b.log /tmp/bench-out-b.log");
				return 1;
			}
			busy[k][valid[k]] = b3 - b0;
			in[k][valid[k]] = t1 - t0;
			out[k][valid[k]] = t2 - t1;
			settled[k][valid[k]] = t3 - t0;
			t[k][valid[k]++] = t2 - t0;
			if (k == 0) {
				collect("/tmp/bench-in.log", "step ", &in_steps);
				collect("/tmp/bench-out.log", "undo ", &out_steps);
			} else if (k == 3) {
				collect("/tmp/bench-in-b.log", "step ", &other_in_steps);
				collect("/tmp/bench-out-b.log", "undo ", &other_out_steps);
			}
		}
	}
	json = fopen("/tmp/bench.json", "we");
	if (!json)
		die("/tmp/bench.json");
	printf("handoff round trip (pre-start + post-stop), single GPU (2 functions), median of %u\n", runs);
	printf("  %-9s %10s %10s %10s %10s", "", "pre-start", "post-stop", "round trip", "settled");
	/* Of the time to settled: what the CPU spent running any task (this way's, the kernel's threads), and idle. */
	if (have_busy)
		printf(" %10s %10s", "cpu", "idle");
	printf("\n");
	fprintf(json, "{\"runs\":%u,\"round_trip\":{", runs);
	for (unsigned i = 0; i < ways; i++) {
		unsigned k = way[i];
		double a = median(in[k], valid[k]), b = median(out[k], valid[k]), c = median(t[k], valid[k]);
		double d = median(settled[k], valid[k]);

		printf("  %-9s %7.1f ms %7.1f ms %7.1f ms %7.1f ms", names[k], a, b, c, d);
		fprintf(json,
			"%s\"%s\":{\"pre_start_ms\":%.1f,\"post_stop_ms\":%.1f,\"round_trip_ms\":%.1f,\"settled_ms\":%.1f",
			i ? "," : "", names[k], a, b, c, d);
		if (have_busy) {
			double idle[MAX_RUNS], cpu = median(busy[k], valid[k]), sleep;

			for (unsigned r = 0; r < valid[k]; r++)
				idle[r] = settled[k][r] - busy[k][r];
			sleep = median(idle, valid[k]);
			printf(" %7.1f ms %7.1f ms", cpu, sleep);
			fprintf(json, ",\"cpu_ms\":%.1f,\"idle_ms\":%.1f", cpu, sleep);
		}
		printf("\n");
		fprintf(json, "}");
	}
	{
		double g = median(t[0], valid[0]), f = median(t[1], valid[1]), s = median(t[2], valid[2]);
		double gs = median(settled[0], valid[0]), fs = median(settled[1], valid[1]);

		/* "round trip" ends when post-stop returns; "settled" when the audio card is back as well. */
		printf("  ratio gpu-hook/floor %.2f (settled %.2f)", g / f, gs / fs);
		fprintf(json, "},\"ratio_floor\":%.2f,\"ratio_floor_settled\":%.2f,", g / f, gs / fs);
		if (shell) {
			printf(", gpu-hook/shell %.3f", g / s);
			fprintf(json, "\"ratio_shell\":%.3f,", g / s);
		}
		printf("\n");
		if (argc == 4) {
			double o = median(t[3], valid[3]);

			printf("  ratio other/gpu-hook %.3f (other: %s)\n", o / g, argv[3]);
			fprintf(json, "\"ratio_other\":%.3f,", o / g);
			if (valid[0] == valid[3]) {
				paired("round trip", t[0], t[3], valid[0], json, "paired_round_trip");
				paired("settled", settled[0], settled[3], valid[0], json, "paired_settled");
				/*
				 * CPU time leaves out the waits, whose length moves with the
				 * jiffy an RCU grace period ends on: a sharper A/B of the work.
				 */
				if (have_busy)
					paired("cpu", busy[0], busy[3], valid[0], json, "paired_cpu");
			}
		}
	}
	printf("  gpu-hook --version %.1f ms, 111 pre-start --dry-run %.1f ms (exec, discovery, plan)\n",
	       median(exec_ms, runs), median(dry_ms, runs));
	fprintf(json, "\"version_ms\":%.1f,\"dry_run_ms\":%.1f,", median(exec_ms, runs), median(dry_ms, runs));
	if (have_hello) {
		double h = median(hello_ms, runs);

		printf("  static hello %.1f ms: --version %.2fx, --dry-run %.2fx of it\n", h, median(exec_ms, runs) / h,
		       median(dry_ms, runs) / h);
		fprintf(json, "\"hello_ms\":%.1f,", h);
	}
	printf("gpu-hook's own step timings (median):\n");
	fprintf(json, "\"steps\":{");
	print_steps("pre-start", &in_steps, json, 0);
	print_steps("post-stop", &out_steps, json, 1);
	fprintf(json, "}");
	printf("the floor's step timings (median):\n");
	fprintf(json, ",\"floor_steps\":{");
	print_steps("pre-start", &floor_in_steps, json, 0);
	print_steps("post-stop", &floor_out_steps, json, 1);
	fprintf(json, "}");
	if (argc == 4) {
		printf("the other build's step timings (median):\n");
		fprintf(json, ",\"other_steps\":{");
		print_steps("pre-start", &other_in_steps, json, 0);
		print_steps("post-stop", &other_out_steps, json, 1);
		fprintf(json, "}");
	}
	fprintf(json, "}\n");
	fclose(json);
	return 0;
}
