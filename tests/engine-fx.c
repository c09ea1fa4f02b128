/* SPDX-License-Identifier: MIT */
/*
 * The engine's fixture (engine-fx.h): the fixture host with the simulator as
 * the kernel and faults injected through files in it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine-fx.h"
#include "fs.h"
#include "handoff.h"
#include "journal.h"
#include "phase.h"
#include "plan.h"
#include "sim.h"
#include "timebox.h"

/* Faults strike once (a transient failure), except hangs, which a test clears itself. */
/* "<what>" strikes once; "<what> <n>" n times (a probe is retried once). */
static bool fault(struct gh_ctx *ctx, const char *name, const char *what)
{
	char want[256], *count;
	unsigned long n = 1;

	if (gh_fs_read_str(ctx, want, sizeof(want), "/fault/%s", name) < 0)
		return false;
	count = strchr(gh_util_trim(want), ' ');
	if (count) {
		*count++ = '\0';
		gh_util_parse_ulong(count, 10, 100, &n);
	}
	if (strcmp(want, what))
		return false;
	if (!strcmp(name, "hang") || !strcmp(name, "module"))
		return true;
	if (n > 1) {
		char left[300];

		snprintf(left, sizeof(left), "%s %lu\n", want, n - 1);
		gh_fs_write_file(ctx, left, "/fault/%s", name);
	} else {
		gh_fs_remove(ctx, "/fault/%s", name);
	}
	return true;
}


/*
 * Like the simulator they wrap, the fault ops act on a fixture tree only: the
 * paths they remove or hang on are this machine's under the real root.
 */
static int f_write(struct gh_ctx *ctx, const char *path, const char *value)
{
	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (fault(ctx, "write", path))
		return -EIO;
	if (fault(ctx, "hang", path)) {
		/* Stuck as a remove() in the kernel is, until the test lets it go. */
		for (int i = 0; i < 1500 && gh_fs_exists(ctx, "/fault/hang") > 0; i++)
			usleep(20000);
		return gh_sim_ops.write(ctx, path, value);
	}
	if (!strcmp(path, "/sys/bus/pci/drivers_probe") && (fault(ctx, "noprobe", "1") || fault(ctx, "noprobe", value)))
		return 0;
	return gh_sim_ops.write(ctx, path, value);
}

static int f_module_remove(struct gh_ctx *ctx, const char *name)
{
	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (fault(ctx, "module", name))
		return -EAGAIN;
	/* A real unload or load of nvidia-drm takes seconds (GSP firmware per GPU). */
	if (fault(ctx, "slow", name))
		sleep(2);
	return gh_sim_ops.module_remove(ctx, name);
}

static int f_service(struct gh_ctx *ctx, const char *verb, const char *unit)
{
	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (!strcmp(verb, "stop") && fault(ctx, "service", unit))
		return -1;
	/* A slow stop or start; systemd answers is-active from memory. */
	if (strcmp(verb, "is-active") && fault(ctx, "slow", unit))
		sleep(2);
	return gh_sim_ops.service(ctx, verb, unit);
}

static int f_module_load(struct gh_ctx *ctx, const char *name)
{
	int r;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	r = gh_sim_ops.module_load(ctx, name);

	if (r >= 0 && fault(ctx, "unprobed", name))
		gh_fs_remove(ctx, "/sys/bus/pci/devices/0000:01:00.0/driver");
	return r;
}

static const struct gh_ops fault_ops = {
	.write = f_write,
	.service = f_service,
	.signal = NULL,
	.module_remove = f_module_remove,
	.module_load = f_module_load,
};

static struct gh_ops ops;
const struct gh_deadlines eng_dl5 = { 5000, 5000, 5000 };

struct fx *eng_host(void)
{
	struct fx *fx = fx_new();

	ops = fault_ops;
	ops.signal = gh_sim_ops.signal;
	gh_ctx_set_ops(fx->ctx, &ops, NULL);
	fx_host_single(fx);
	fx_file(fx, "/lib/systemd/system/nvidia-persistenced.service", "[Service]\n");
	return fx;
}

/* What "the host as it was" means: drivers, overrides, modules, console, service. */
void eng_state(struct fx *fx, char *buf, size_t size)
{
	static const char *const addrs[] = { "0000:01:00.0", "0000:01:00.1" };
	static const char *const mods[] = { "nvidia", "nvidia_modeset", "nvidia_drm", "nvidia_uvm" };
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		char drv[64] = "-", ov[64] = "";

		gh_fs_link_base(fx->ctx, drv, sizeof(drv), "/sys/bus/pci/devices/%s/driver", addrs[i]);
		gh_fs_read_str(fx->ctx, ov, sizeof(ov), "/sys/bus/pci/devices/%s/driver_override", addrs[i]);
		off += (size_t)snprintf(buf + off, size - off, "%s=%s(%s) ", addrs[i], drv, ov);
	}
	for (size_t i = 0; i < 4; i++)
		off += (size_t)snprintf(buf + off, size - off, "%s:%d ", mods[i],
					gh_fs_exists(fx->ctx, "/sys/module/%s", mods[i]));
	{
		char bind[8] = "?";

		gh_fs_read_str(fx->ctx, bind, sizeof(bind), "/sys/class/vtconsole/vtcon1/bind");
		off += (size_t)snprintf(buf + off, size - off, "vtcon1:%s ", bind);
	}
	snprintf(buf + off, size - off, "persistenced:%d",
		 gh_fs_exists(fx->ctx, "/sys/fs/cgroup/system.slice/nvidia-persistenced.service"));
}

/* The phases as the hook runs them (lib/phase.c: lock, settle, load, run), without a watcher. */
int eng_phase(struct fx *fx, unsigned vmid, const char *name, enum gh_direction dir)
{
	struct gh_phase_req req = { .vmid = vmid, .phase = name, .dir = dir };
	struct gh_phase_result res;
	int r = gh_phase_run(fx->ctx, &req, &res);

	gh_phase_result_free(&res);
	return r;
}

int eng_pre_start(struct fx *fx, unsigned vmid)
{
	return eng_phase(fx, vmid, "pre-start", GH_TO_VFIO);
}

int eng_post_stop(struct fx *fx, unsigned vmid)
{
	return eng_phase(fx, vmid, "post-stop", GH_TO_HOST);
}

/* The index of the step doing action a on target: tests name steps, not their numbers in today's plan. */
unsigned eng_step_of(const struct gh_step *v, unsigned n, enum gh_action a, const char *target)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i].op.action == a && !strcmp(v[i].op.target, target))
			return i;
	ck_abort_msg("no %s %s step", gh_plan_action_name(a), target);
	return 0;
}

unsigned eng_jstep(const struct gh_journal *j, enum gh_action a, const char *target)
{
	return eng_step_of(j->steps, j->n_steps, a, target);
}

/* VM 111's pre-start plan on a fresh eng_host(). */
void eng_fresh_plan(struct gh_plan *p)
{
	struct fx *fx = eng_host();
	struct gh_host h;

	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, p), 0);
	gh_host_free(&h);
	fx_free(fx);
}

/* The number of steps in VM 111's pre-start plan on a fresh eng_host(). */
unsigned eng_plan_len(void)
{
	struct gh_plan p;
	unsigned n;

	eng_fresh_plan(&p);
	n = p.n;
	gh_plan_free(&p);
	return n;
}

/* A 1 s step deadline for VM 111, so a hung write is given up on quickly. */
void eng_short_deadline(struct fx *fx)
{
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 1s\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
}

/* The hung write ends once the fault is lifted; then one recover gives everything back. */
void eng_kernel_answers_then_recover(struct fx *fx, const char *before)
{
	char after[512];

	/* The timebox killed the stuck writer at its deadline (a sleep, unlike a remove() in the kernel, dies). */
	fx_rm(fx, "/fault/hang");
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	eng_state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
}

/*
 * remove() stuck in the kernel holds the card's device lock, and the kernel's
 * driver_override_show() takes it: every reader sleeps until remove()
 * returns. A FIFO nobody writes blocks its readers in open() the same way.
 */
void eng_lock_held(struct fx *fx, const char *addr)
{
	char p[128];

	snprintf(p, sizeof(p), "/sys/devices/pci0000:00/%s/driver_override", addr);
	fx_rm(fx, p);
	ck_assert_int_eq(mkfifo(fx_path(fx, p), 0644), 0);
}

/* Runs the hook on the fixture (b, c may be NULL); returns how long it took. */
unsigned long long eng_hook_ms(struct fx *fx, struct fx_run *r, const char *a, const char *b, const char *c)
{
	char *args[8];
	unsigned long long t0 = gh_timebox_now_ms();
	int n = 0;

	args[n++] = (char *)a;
	if (b)
		args[n++] = (char *)b;
	if (c)
		args[n++] = (char *)c;
	args[n++] = "--root";
	args[n++] = fx->root;
	args[n] = NULL;
	fx_run_argv(r, NULL, args);
	return gh_timebox_now_ms() - t0;
}

unsigned eng_text_count(const char *text, const char *what)
{
	unsigned n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

unsigned eng_log_count(const struct fx *fx, const char *what)
{
	return eng_text_count(fx->log, what);
}

void eng_journal_text(struct fx *fx, char *buf, size_t size)
{
	ck_assert_int_ge(gh_fs_read_str(fx->ctx, buf, size, "/run/gpu-hook/111.json"), 0);
}

/* The plan as one line per step, "action target arg", for exact comparison. */
void eng_plan_lines(const struct gh_plan *p, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < p->n; i++) {
		const struct gh_op *op = &p->v[i].op;
		int n = snprintf(buf + off, size - off, "%s %s%s%s\n", gh_plan_action_name(op->action), op->target,
				 op->arg[0] ? " " : "", op->arg);

		ck_assert(n > 0 && (size_t)n < size - off);
		off += (size_t)n;
	}
}

bool eng_has_refusal(const struct gh_plan *p, const char *needle)
{
	for (size_t i = 0; i < p->refusals.n; i++)
		if (strstr(p->refusals.v[i].text, needle))
			return true;
	return false;
}

bool eng_has_note(const struct gh_plan *p, const char *needle)
{
	for (size_t i = 0; i < p->notes.n; i++)
		if (strstr(p->notes.v[i], needle))
			return true;
	return false;
}

void eng_load_plan(struct fx *fx, unsigned vmid, enum gh_direction dir, struct gh_host *h, struct gh_plan *p)
{
	int r = gh_host_load(fx->ctx, vmid, h);

	if (r < 0)
		fprintf(stderr, "%s", fx->log);
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(gh_plan_build(h, dir, p), 0);
}
