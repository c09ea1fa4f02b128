/* SPDX-License-Identifier: MIT */
/*
 * The handoff engine on the fixture host, with the simulator as the kernel
 * and faults injected through files in the fixture (ops run in forked
 * children, so faults must live where a child can see them):
 *   /fault/write      a sysfs path whose write fails with EIO
 *   /fault/hang       a sysfs path whose write is stuck until the test removes
 *                     this file (30 s at most; the timebox kills it first)
 *   /fault/module     a module whose removal fails with EAGAIN
 *   /fault/service    a unit whose stop fails (systemctl exit 1)
 *   /fault/noprobe    drivers_probe succeeds and binds nothing ("1", or for one address)
 *   /fault/unprobed   a module that loads but whose probe of 0000:01:00.0 fails
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"
#include "fs.h"
#include "handoff.h"
#include "journal.h"
#include "phase.h"
#include "run.h"
#include "services.h"
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
 * "Answers without waiting" in these tests: the faults block for 30 s (a hung
 * write) or for ever (a held device lock), so a phase back within this bound
 * did not wait on them. Wide on purpose: CI machines are shared and slow.
 */
#define PROMPT_MS 8000

static int f_write(struct gh_ctx *ctx, const char *path, const char *value)
{
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
	if (fault(ctx, "module", name))
		return -EAGAIN;
	/* A real unload or load of nvidia-drm takes seconds (GSP firmware per GPU). */
	if (fault(ctx, "slow", name))
		sleep(2);
	return gh_sim_ops.module_remove(ctx, name);
}

static int f_service(struct gh_ctx *ctx, const char *verb, const char *unit)
{
	if (!strcmp(verb, "stop") && fault(ctx, "service", unit))
		return -1;
	/* A slow stop or start; systemd answers is-active from memory. */
	if (strcmp(verb, "is-active") && fault(ctx, "slow", unit))
		sleep(2);
	return gh_sim_ops.service(ctx, verb, unit);
}

static int f_module_load(struct gh_ctx *ctx, const char *name)
{
	int r = gh_sim_ops.module_load(ctx, name);

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
static const struct gh_deadlines dl5 = { 5000, 5000, 5000 };

static struct fx *host(void)
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
static void state(struct fx *fx, char *buf, size_t size)
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
static int phase(struct fx *fx, unsigned vmid, const char *name, enum gh_direction dir)
{
	struct gh_phase_req req = { .vmid = vmid, .phase = name, .dir = dir };
	struct gh_phase_result res;
	int r = gh_phase_run(fx->ctx, &req, &res);

	gh_phase_result_free(&res);
	return r;
}

static int pre_start(struct fx *fx, unsigned vmid)
{
	return phase(fx, vmid, "pre-start", GH_TO_VFIO);
}

static int post_stop(struct fx *fx, unsigned vmid)
{
	return phase(fx, vmid, "post-stop", GH_TO_HOST);
}

START_TEST(round_trip_and_twice)
{
	struct fx *fx = host();
	char before[512], after[512];
	struct gh_journal j;

	state(fx, before, sizeof(before));
	ck_assert_int_eq(pre_start(fx, 111), 0);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, "0000:01:00.0=vfio-pci(vfio-pci) 0000:01:00.1=vfio-pci(vfio-pci) nvidia:0 "
				"nvidia_modeset:0 nvidia_drm:0 nvidia_uvm:0 vtcon1:0 persistenced:0");
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/dev/vfio/14"), 1);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	ck_assert(j.complete);
	ck_assert_uint_eq(j.n_dev, 2);
	ck_assert_str_eq(j.dev[0].host_driver, "nvidia");
	for (unsigned i = 0; i < j.n_steps; i++)
		ck_assert_int_eq(j.status[i], GH_J_DONE);
	gh_journal_free(&j);

	/* Twice is harmless and says so. */
	fx_log_clear(fx);
	ck_assert_int_eq(pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "already handed off"));
	ck_assert(!fx_log_has(fx, "step 1/"));

	ck_assert_int_eq(post_stop(fx, 111), 0);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	fx_log_clear(fx);
	ck_assert_int_eq(post_stop(fx, 111), 0);
	ck_assert(fx_log_has(fx, "already on its host driver"));
	fx_free(fx);
}
END_TEST

/* The index of the step doing action a on target: tests name steps, not their numbers in today's plan. */
static unsigned step_of(const struct gh_step *v, unsigned n, enum gh_action a, const char *target)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i].op.action == a && !strcmp(v[i].op.target, target))
			return i;
	ck_abort_msg("no %s %s step", gh_plan_action_name(a), target);
	return 0;
}

static unsigned jstep(const struct gh_journal *j, enum gh_action a, const char *target)
{
	return step_of(j->steps, j->n_steps, a, target);
}

/* VM 111's pre-start plan on a fresh host(). */
static void fresh_plan(struct gh_plan *p)
{
	struct fx *fx = host();
	struct gh_host h;

	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, p), 0);
	gh_host_free(&h);
	fx_free(fx);
}

/* The number of steps in VM 111's pre-start plan on a fresh host(). */
static unsigned plan_len(void)
{
	struct gh_plan p;
	unsigned n;

	fresh_plan(&p);
	n = p.n;
	gh_plan_free(&p);
	return n;
}

/* A failure at any step leaves the host exactly as it was, and says what was undone. */
START_TEST(rollback_from_every_step)
{
	static const struct {
		const char *file, *value;
		enum gh_action action;	/* the step that fails */
		const char *target;
	} faults[] = {
		{ "service", "nvidia-persistenced.service", GH_ACT_SERVICE_STOP, "nvidia-persistenced.service" },
		{ "write", "/sys/class/vtconsole/vtcon1/bind", GH_ACT_VTCON_UNBIND, "vtcon1" },
		{ "module", "nvidia_drm", GH_ACT_MODULE_UNLOAD, "nvidia_drm" },
		{ "module", "nvidia_modeset", GH_ACT_MODULE_UNLOAD, "nvidia_modeset" },
		{ "module", "nvidia_uvm", GH_ACT_MODULE_UNLOAD, "nvidia_uvm" },
		{ "module", "nvidia", GH_ACT_MODULE_UNLOAD, "nvidia" },
		{ "write", "/sys/bus/pci/devices/0000:01:00.0/driver_override", GH_ACT_OVERRIDE, "0000:01:00.0" },
		{ "noprobe", "1 2", GH_ACT_PROBE, "0000:01:00.0" },
		{ "write", "/sys/bus/pci/devices/0000:01:00.1/driver_override", GH_ACT_OVERRIDE, "0000:01:00.1" },
		{ "write", "/sys/bus/pci/drivers/snd_hda_intel/unbind", GH_ACT_UNBIND, "0000:01:00.1" },
		{ "write", "/sys/bus/pci/drivers_probe 2", GH_ACT_PROBE, "0000:01:00.0" },
	};
	struct gh_plan plan;
	unsigned stop;

	fresh_plan(&plan);
	stop = step_of(plan.v, plan.n, GH_ACT_SERVICE_STOP, "nvidia-persistenced.service");
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		struct fx *fx = host();
		unsigned k = step_of(plan.v, plan.n, faults[i].action, faults[i].target);
		char before[512], after[512], path[64], failed[640], desc[512];

		state(fx, before, sizeof(before));
		snprintf(path, sizeof(path), "/fault/%s", faults[i].file);
		fx_file(fx, path, "%s\n", faults[i].value);
		ck_assert_int_lt(pre_start(fx, 111), 0);
		ck_assert_int_ge(gh_plan_describe(&plan.v[k].op, desc, sizeof(desc)), 0);
		snprintf(failed, sizeof(failed), "step %u/%u: %s: ", k + 1, plan.n, desc);
		ck_assert_msg(fx_log_has(fx, failed), "fault %zu: no '%s' in\n%s", i, failed, fx->log);
		strcat(failed, "ok (");
		ck_assert_msg(!fx_log_has(fx, failed), "fault %zu: step %u did not fail:\n%s", i, k + 1, fx->log);
		ck_assert_msg(fx_log_has(fx, "undone: the host is as it was before"), "fault %zu:\n%s", i, fx->log);
		fx_rm(fx, path);
		state(fx, after, sizeof(after));
		ck_assert_msg(!strcmp(after, before), "fault %zu:\n%s\n%s\n%s", i, before, after, fx->log);
		ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
		/* Each done step is reported as undone. */
		if (k > stop)
			ck_assert(fx_log_has(fx, "(stop nvidia-persistenced.service (systemctl stop)): undone"));
		fx_free(fx);
	}
	gh_plan_free(&plan);
}
END_TEST

START_TEST(journal_after_each_step)
{
	struct fx *fx = host();
	struct gh_journal j, disk;
	struct gh_host h;
	struct gh_plan p;
	unsigned k;

	fx_file(fx, "/fault/module", "nvidia\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &p), 0);
	ck_assert_int_eq(gh_journal_init(&j, "111", 111, "to-vfio", &h, &p), 0);
	ck_assert_int_eq(gh_journal_dir(fx->ctx), 0);
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &disk), 0);
	for (unsigned i = 0; i < disk.n_steps; i++)
		ck_assert_int_eq(disk.status[i], GH_J_PENDING);
	gh_journal_free(&disk);
	ck_assert_int_eq(gh_run_forward(fx->ctx, &j, &dl5), -EAGAIN);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &disk), 0);
	ck_assert(!disk.complete);
	k = jstep(&disk, GH_ACT_MODULE_UNLOAD, "nvidia");
	for (unsigned i = 0; i < disk.n_steps; i++)
		ck_assert_int_eq(disk.status[i], i < k ? GH_J_DONE : i == k ? GH_J_FAILED : GH_J_PENDING);
	ck_assert_int_eq(disk.steps[k].undo.action, GH_ACT_MODULE_LOAD);
	gh_journal_free(&disk);
	/* recover works from that file alone. */
	gh_journal_free(&j);
	fx_rm(fx, "/fault/module");
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia_drm"), 1);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	fx_log_clear(fx);
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), 0);
	ck_assert(fx_log_has(fx, "no journal /run/gpu-hook/111.json: nothing to recover"));
	gh_plan_free(&p);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

START_TEST(crash_mid_way_then_pre_start_again)
{
	struct fx *fx = host();
	char before[512], after[512];
	struct gh_journal j;
	struct gh_host h;
	struct gh_plan p;
	unsigned k;

	state(fx, before, sizeof(before));
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &p), 0);
	ck_assert_int_eq(gh_journal_init(&j, "111", 111, "to-vfio", &h, &p), 0);
	ck_assert_int_eq(gh_journal_dir(fx->ctx), 0);
	/* The hook died while the card was being probed onto vfio-pci: the steps before it done, it running. */
	k = jstep(&j, GH_ACT_PROBE, "0000:01:00.0");
	for (unsigned i = 0; i < k; i++) {
		ck_assert_int_eq(gh_run_op(fx->ctx, &j.steps[i].op, &dl5, NULL), 0);
		j.status[i] = GH_J_DONE;
	}
	j.status[k] = GH_J_RUNNING;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	gh_journal_free(&j);
	gh_plan_free(&p);
	gh_host_free(&h);

	/* The next pre-start undoes the leftover first, then hands off cleanly. */
	ck_assert_int_eq(pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "did not finish"));
	ck_assert_int_eq(post_stop(fx, 111), 0);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

/* A crash after any number of steps, with the next one running: one recover restores the host. */
START_TEST(recover_from_every_recorded_state)
{
	const unsigned n = plan_len();

	for (unsigned k = 0; k <= n; k++) {
		struct fx *fx = host();
		char before[512], after[512];
		struct gh_journal j;
		struct gh_host h;
		struct gh_plan p;

		state(fx, before, sizeof(before));
		ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
		ck_assert_int_eq(gh_plan_build(&h, GH_TO_VFIO, &p), 0);
		ck_assert_uint_eq(p.n, n);
		ck_assert_int_eq(gh_journal_init(&j, "111", 111, "to-vfio", &h, &p), 0);
		ck_assert_int_eq(gh_journal_dir(fx->ctx), 0);
		for (unsigned i = 0; i < k; i++) {
			ck_assert_int_eq(gh_run_op(fx->ctx, &j.steps[i].op, &dl5, NULL), 0);
			j.status[i] = GH_J_DONE;
		}
		/* Step k+1 was running (its effect may or may not have happened: here it did). */
		if (k < n) {
			gh_run_op(fx->ctx, &j.steps[k].op, &dl5, NULL);
			j.status[k] = GH_J_RUNNING;
		} else {
			j.complete = true;
		}
		ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
		gh_journal_free(&j);
		gh_plan_free(&p);
		gh_host_free(&h);
		ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "k=%u:\n%s", k, fx->log);
		state(fx, after, sizeof(after));
		ck_assert_msg(!strcmp(after, before), "k=%u: %s\n%s", k, after, fx->log);
		ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
		fx_free(fx);
	}
}
END_TEST

/*
 * The card misses nvidia on the way back: the modules stacked on nvidia stay
 * unloaded (loaded now they would come up without it), and once the probe works
 * one recover puts the card back first and then loads them.
 */
START_TEST(probe_fails_on_the_way_back)
{
	struct fx *fx = host();
	char before[512], after[512];
	struct gh_journal j;
	bool pending_drm = false;

	state(fx, before, sizeof(before));
	ck_assert_int_eq(pre_start(fx, 111), 0);
	fx_file(fx, "/fault/unprobed", "nvidia\n");
	fx_file(fx, "/fault/noprobe", "0000:01:00.0 2\n");
	fx_log_clear(fx);
	ck_assert_int_lt(post_stop(fx, 111), 0);
	ck_assert_msg(fx_log_has(fx, "cannot bind 0000:01:00.0 to nvidia"), "%s", fx->log);
	ck_assert_msg(fx_log_has(fx, "module nvidia_drm not loaded yet: 0000:01:00.0 is not back"), "%s", fx->log);
	state(fx, after, sizeof(after));
	/* The simulator's console needs no framebuffer, so it came back; on a kernel it waits for nvidia_drm. */
	ck_assert_str_eq(after, "0000:01:00.0=-(nvidia) 0000:01:00.1=snd_hda_intel((null)) nvidia:1 nvidia_modeset:0 "
				"nvidia_drm:0 nvidia_uvm:0 vtcon1:1 persistenced:1");
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	for (unsigned i = 0; i < j.n_steps; i++)
		if (j.steps[i].op.action == GH_ACT_MODULE_UNLOAD && !strcmp(j.steps[i].op.target, "nvidia_drm"))
			pending_drm = j.status[i] == GH_J_DONE;
	ck_assert_msg(pending_drm, "the journal no longer says nvidia_drm is to be loaded again");
	gh_journal_free(&j);

	fx_log_clear(fx);
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	fx_free(fx);
}
END_TEST

/* A process still on the card's VFIO group: post-stop and recover refuse rather than hang in vfio-pci. */
START_TEST(vfio_group_still_held_at_post_stop)
{
	struct fx *fx = host();
	char before[512], mid[512], after[512];
	struct gh_journal j;

	/* The group's node, as vfio-pci makes it: a real character device (fx_node). */
	fx_node(fx, "/dev/vfio/14", "/dev/random");
	state(fx, before, sizeof(before));
	ck_assert_int_eq(pre_start(fx, 111), 0);
	state(fx, mid, sizeof(mid));
	fx_proc(fx, 3100, "kvm", "/usr/bin/kvm -id 111", "/qemu.slice/111.scope");
	fx_proc_fd(fx, 3100, 30, "/dev/vfio/14");
	/* QEMU's container, group and device fds each hold vfio.ko (chrdev_open's fops_get). */
	fx_module(fx, "vfio", 5, "vfio_iommu_type1", "vfio_pci_core", NULL);
	fx_log_clear(fx);
	ck_assert_int_eq(post_stop(fx, 111), -EBUSY);
	ck_assert_msg(fx_log_has(fx, "pid 3100 (kvm, 111.scope): /dev/vfio/14 (fd 30) still holds the card through "
				     "VFIO"), "%s", fx->log);
	ck_assert(fx_log_has(fx, "run 'gpu-hook recover 111'"));
	ck_assert(!fx_log_has(fx, "undo 1/"));
	ck_assert(!fx_log_has(fx, "back on the host"));
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, mid);
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), -EBUSY);
	ck_assert(!fx_log_has(fx, "recovered:"));
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, mid);
	/* Nor does the next start undo an unfinished earlier handoff under the holder. */
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	j.complete = false;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	gh_journal_free(&j);
	fx_log_clear(fx);
	ck_assert_int_eq(pre_start(fx, 111), -EBUSY);
	ck_assert(fx_log_has(fx, "still holds the card through VFIO"));
	ck_assert(!fx_log_has(fx, "undo 1/"));

	fx_rm(fx, "/proc/3100");
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

/*
 * vfio.ko's use count down to its user modules: no VFIO file is open
 * anywhere, so post-stop does not read /proc for holders at all. (The pid
 * below, on the group's node, is there only to show that it is not looked at:
 * the kernel would count its open file.)
 */
START_TEST(vfio_idle_is_not_scanned_for)
{
	struct fx *fx = host();

	fx_node(fx, "/dev/vfio/14", "/dev/random");
	ck_assert_int_eq(pre_start(fx, 111), 0);
	fx_proc(fx, 3150, "kvm", "/usr/bin/kvm -id 111", "/qemu.slice/111.scope");
	fx_proc_fd(fx, 3150, 30, "/dev/vfio/14");
	fx_module(fx, "vfio", 2, "vfio_iommu_type1", "vfio_pci_core", NULL);
	fx_log_clear(fx);
	ck_assert_msg(post_stop(fx, 111) == 0, "%s", fx->log);
	ck_assert_msg(fx_log_has(fx, "vfio's use count is its user modules' alone"), "%s", fx->log);
	ck_assert(!fx_log_has(fx, "still holds the card"));
	fx_free(fx);
}
END_TEST

/* A 1 s step deadline for VM 111, so a hung write is given up on quickly. */
static void short_deadline(struct fx *fx)
{
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 1s\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
}

/* The hung write ends once the fault is lifted; then one recover gives everything back. */
static void kernel_answers_then_recover(struct fx *fx, const char *before)
{
	char after[512];

	/* The timebox killed the stuck writer at its deadline (a sleep, unlike a remove() in the kernel, dies). */
	fx_rm(fx, "/fault/hang");
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
}

/*
 * vfio-pci's remove() hangs on the way back (something the holder scan cannot see
 * still has the device): the card is marked wedged, nvidia and the modules on it
 * stay unloaded (loading nvidia would walk the wedged card under its lock), and
 * one recover restores everything once the kernel answers.
 */
START_TEST(remove_hangs_on_the_way_back)
{
	struct fx *fx = host();
	char before[512];
	unsigned long long t0;
	struct gh_journal j;

	state(fx, before, sizeof(before));
	short_deadline(fx);
	ck_assert_int_eq(pre_start(fx, 111), 0);
	fx_file(fx, "/fault/hang", "/sys/bus/pci/drivers/vfio-pci/unbind\n");
	fx_log_clear(fx);
	t0 = gh_timebox_now_ms();
	ck_assert_int_lt(post_stop(fx, 111), 0);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "the device 0000:01:00.0 is wedged in the kernel"), "%s", fx->log);
	ck_assert_msg(fx_log_has(fx, "module nvidia not loaded yet: 0000:01:00.0 is not back"), "%s", fx->log);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia"), 0);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	ck_assert(gh_journal_dev(&j, "0000:01:00.0")->wedged);
	gh_journal_free(&j);
	/* The next start undoes the rest first, and still leaves the wedged card's driver alone. */
	fx_log_clear(fx);
	ck_assert_int_lt(pre_start(fx, 111), 0);
	ck_assert_msg(fx_log_has(fx, "module nvidia not loaded yet: 0000:01:00.0 is not back"), "%s", fx->log);
	ck_assert(fx_log_has(fx, "cannot undo the earlier handoff"));
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia"), 0);
	kernel_answers_then_recover(fx, before);
	fx_free(fx);
}
END_TEST

START_TEST(timeout_wedges_and_recover_restores)
{
	struct fx *fx = host();
	char before[512];
	unsigned long long t0;
	struct gh_journal j;

	state(fx, before, sizeof(before));
	short_deadline(fx);
	fx_file(fx, "/fault/hang", "/sys/bus/pci/drivers/snd_hda_intel/unbind\n");
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(pre_start(fx, 111), -ETIMEDOUT);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, PROMPT_MS);
	ck_assert(fx_log_has(fx, "no answer within 1000 ms"));
	ck_assert(fx_log_has(fx, "the device is wedged"));
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	ck_assert(gh_journal_dev(&j, "0000:01:00.1")->wedged);
	ck_assert(!gh_journal_dev(&j, "0000:01:00.0")->wedged);
	ck_assert_int_eq(j.status[jstep(&j, GH_ACT_UNBIND, "0000:01:00.1")], GH_J_WEDGED);
	gh_journal_free(&j);
	kernel_answers_then_recover(fx, before);
	fx_free(fx);
}
END_TEST

/*
 * remove() stuck in the kernel holds the card's device lock, and the kernel's
 * driver_override_show() takes it: every reader sleeps until remove()
 * returns. A FIFO nobody writes blocks its readers in open() the same way.
 */
static void lock_held(struct fx *fx, const char *addr)
{
	char p[128];

	snprintf(p, sizeof(p), "/sys/devices/pci0000:00/%s/driver_override", addr);
	fx_rm(fx, p);
	ck_assert_int_eq(mkfifo(fx_path(fx, p), 0644), 0);
}

/* Runs the hook on the fixture (b, c may be NULL); returns how long it took. */
static unsigned long long hook_ms(struct fx *fx, struct fx_run *r, const char *a, const char *b, const char *c)
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

static unsigned text_count(const char *text, const char *what)
{
	unsigned n = 0;

	for (const char *p = strstr(text, what); p; p = strstr(p + 1, what))
		n++;
	return n;
}

static unsigned log_count(const struct fx *fx, const char *what)
{
	return text_count(fx->log, what);
}

static void journal_text(struct fx *fx, char *buf, size_t size)
{
	ck_assert_int_ge(gh_fs_read_str(fx->ctx, buf, size, "/run/gpu-hook/111.json"), 0);
}

/*
 * post-stop's unbind from vfio-pci timed out and remove() still holds the
 * card's lock. status, check, recover, post-stop and a second pre-start each
 * answer within their deadline, name the card wedged and why, and change
 * nothing; once remove() returns, one recover restores the host.
 */
START_TEST(wedged_card_answers_within_deadlines)
{
	struct fx *fx = host();
	struct fx_run *r = malloc(sizeof(*r));
	char before[512], after[512], jbefore[16384], jnow[16384];
	const char *why = "0000:01:00.0 is wedged: remove() stuck in the kernel; gpu-hook's way back for VM 111 timed "
			  "out on it (/run/gpu-hook/111.json)";
	unsigned long long t0, ms;
	struct gh_journal j;

	ck_assert_ptr_nonnull(r);
	state(fx, before, sizeof(before));
	short_deadline(fx);
	ck_assert_int_eq(pre_start(fx, 111), 0);
	ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
	gh_journal_dev(&j, "0000:01:00.0")->wedged = true;
	j.complete = false;
	ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
	gh_journal_free(&j);
	/* __device_release_driver drops the driver link, then calls the remove() that is stuck. */
	fx_rm(fx, "/sys/bus/pci/drivers/vfio-pci/0000:01:00.0");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.0/driver");
	lock_held(fx, "0000:01:00.0");
	/* What vfio-pci's remove() waits for: a QEMU that still has the group open. */
	fx_proc(fx, 3300, "kvm", "/usr/bin/kvm -id 111", "/qemu.slice/111.scope");
	/* The group's node as a character device: holders are matched by identity. */
	fx_rm(fx, "/dev/vfio/14");
	fx_node(fx, "/dev/vfio/14", "/dev/random");
	fx_proc_fd(fx, 3300, 30, "/dev/vfio/14");
	journal_text(fx, jbefore, sizeof(jbefore));

	ms = hook_ms(fx, r, "status", NULL, NULL);
	ck_assert_msg(r->status == 0 && ms < PROMPT_MS, "status %d after %llu ms\n%s", r->status, ms, r->err);
	/* Each function is read once: a second read of the wedged one would wait its deadline again. */
	ck_assert_msg(text_count(r->err, "0000:01:00.0/driver_override: no answer within") == 1, "%s", r->err);
	ck_assert_msg(strstr(r->out, "wedged: remove() stuck in the kernel; gpu-hook's way back for VM 111"), "%s",
		      r->out);
	ck_assert_msg(strstr(r->out, "; held by pid 3300 (kvm"), "%s", r->out);
	ms = hook_ms(fx, r, "status", "111", "--json");
	ck_assert_msg(r->status == 0 && ms < PROMPT_MS, "status %d after %llu ms\n%s", r->status, ms, r->err);
	ck_assert_msg(strstr(r->out, "\"wedged\":true") || strstr(r->out, "\"wedged\": true"), "%s", r->out);
	ck_assert_msg(strstr(r->out, "remove() stuck in the kernel"), "%s", r->out);
	ms = hook_ms(fx, r, "check", "111", NULL);
	ck_assert_msg(r->status == 1 && ms < PROMPT_MS, "check %d after %llu ms\n%s", r->status, ms, r->err);
	ck_assert_msg(strstr(r->out, why), "%s", r->out);

	fx_log_clear(fx);
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), -EBUSY);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "refusing to recover: 0000:01:00.0 is wedged: remove() stuck"), "%s", fx->log);
	fx_log_clear(fx);
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(post_stop(fx, 111), -EBUSY);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "not giving the card back: 0000:01:00.0 is wedged"), "%s", fx->log);
	/* The lock is asked once a phase: the answer post-stop's load got stands (each ask waits its full deadline). */
	ck_assert_msg(log_count(fx, "0000:01:00.0/driver_override: no answer within") == 1, "%s", fx->log);
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(pre_start(fx, 111), -EBUSY);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "cannot undo it: 0000:01:00.0 is wedged"), "%s", fx->log);
	journal_text(fx, jnow, sizeof(jnow));
	ck_assert_str_eq(jnow, jbefore);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia"), 0);

	/* remove() returns once QEMU is gone: the lock answers, the card is off vfio-pci, its override still set. */
	fx_rm(fx, "/proc/3300");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.0/driver_override");
	fx_pci_attr(fx, "0000:01:00.0", "driver_override", "vfio-pci");
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	free(r);
	fx_free(fx);
}
END_TEST

/*
 * Another program's unbind is stuck in nvidia's remove() (no journal): the
 * dry run and pre-start refuse at once, naming the card wedged and the
 * process nvidia waits for, and change nothing.
 */
START_TEST(foreign_wedge_refuses_pre_start)
{
	struct fx *fx = host();
	struct fx_run *r = malloc(sizeof(*r));
	unsigned long long t0, ms;

	ck_assert_ptr_nonnull(r);
	fx_rm(fx, "/sys/bus/pci/drivers/nvidia/0000:01:00.0");
	fx_rm(fx, "/sys/devices/pci0000:00/0000:01:00.0/driver");
	lock_held(fx, "0000:01:00.0");
	ms = hook_ms(fx, r, "111", "pre-start", "--dry-run");
	ck_assert_msg(r->status == 1 && ms < PROMPT_MS, "dry run %d after %llu ms\n%s", r->status, ms, r->err);
	ck_assert_msg(strstr(r->out, "REFUSED") && strstr(r->out, "0000:01:00.0 is wedged: remove() stuck in the kernel; "
							     "no gpu-hook journal names it"), "%s", r->out);
	t0 = gh_timebox_now_ms();
	ck_assert_int_eq(pre_start(fx, 111), -EPERM);
	ck_assert_uint_lt(gh_timebox_now_ms() - t0, PROMPT_MS);
	ck_assert_msg(fx_log_has(fx, "refusing: 0000:01:00.0 is wedged: remove() stuck in the kernel"), "%s", fx->log);
	/* nv_pci_remove waits for the users of /dev/nvidia0: nvidia-persistenced is named. */
	ck_assert_msg(fx_log_has(fx, "held by pid 900 (nvidia-persiste"), "%s", fx->log);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/module/nvidia_drm"), 1);
	free(r);
	fx_free(fx);
}
END_TEST

/*
 * Each step gets the deadline of its kind: an unload or a systemctl stop
 * that takes 2 s finishes under module_timeout and service_timeout although
 * timeout (the sysfs writes') is 1 s, and times out when its own key is 1 s.
 */
START_TEST(module_and_service_steps_get_their_deadlines)
{
	struct fx *fx = host();
	char before[512], after[512];

	state(fx, before, sizeof(before));
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 1s\nmodule_timeout = 4s\nservice_timeout = 4s\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	fx_file(fx, "/fault/slow", "nvidia_drm\n");
	ck_assert_msg(pre_start(fx, 111) == 0, "%s", fx->log);
	ck_assert_msg(post_stop(fx, 111) == 0, "%s", fx->log);
	fx_file(fx, "/fault/slow", "nvidia-persistenced.service\n");
	ck_assert_msg(pre_start(fx, 111) == 0, "%s", fx->log);
	ck_assert_msg(post_stop(fx, 111) == 0, "%s", fx->log);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);

	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 10s\nmodule_timeout = 1s\n");
	fx_file(fx, "/fault/slow", "nvidia_drm\n");
	fx_log_clear(fx);
	ck_assert_int_eq(pre_start(fx, 111), -ETIMEDOUT);
	ck_assert_msg(fx_log_has(fx, "unload module nvidia_drm: no answer within 1000 ms"), "%s", fx->log);
	sleep(2);
	ck_assert_msg(gh_phase_recover(fx->ctx, "111") == 0, "%s", fx->log);
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\ntimeout = 10s\nservice_timeout = 1s\n");
	fx_file(fx, "/fault/slow", "nvidia-persistenced.service\n");
	fx_log_clear(fx);
	ck_assert_int_eq(pre_start(fx, 111), -ETIMEDOUT);
	ck_assert_msg(fx_log_has(fx, "systemctl stop nvidia-persistenced.service: no answer within 1000 ms"), "%s",
		      fx->log);
	/* An overrun systemctl is no device stuck in the kernel: the unit is started again at once, and no journal stays. */
	ck_assert_msg(fx_log_has(fx, "(stop nvidia-persistenced.service (systemctl stop)): undone"), "%s", fx->log);
	ck_assert_msg(!fx_log_has(fx, "stuck in the kernel"), "%s", fx->log);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/111.json"), 0);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

/*
 * recover and the undo at the start of a new handoff give a stuck write the
 * journal VM's policy deadline (1 s here), not a fixed 10 s.
 */
START_TEST(recover_and_settle_use_the_policy_deadline)
{
	for (int settle = 0; settle < 2; settle++) {
		struct fx *fx = host();
		char before[512];
		unsigned long long t0, ms;
		struct gh_journal j;
		int r;

		state(fx, before, sizeof(before));
		short_deadline(fx);
		ck_assert_int_eq(pre_start(fx, 111), 0);
		ck_assert_int_eq(gh_journal_load(fx->ctx, "111", &j), 0);
		j.complete = false;
		ck_assert_int_eq(gh_journal_save(fx->ctx, &j), 0);
		gh_journal_free(&j);
		fx_file(fx, "/fault/hang", "/sys/bus/pci/drivers/vfio-pci/unbind\n");
		fx_log_clear(fx);
		t0 = gh_timebox_now_ms();
		r = settle ? pre_start(fx, 111) : gh_phase_recover(fx->ctx, "111");
		ms = gh_timebox_now_ms() - t0;
		ck_assert_msg(r < 0, "%s", fx->log);
		ck_assert_msg(ms < 1000 + 2000, "%llu ms", ms);
		ck_assert_msg(fx_log_has(fx, "unbind: no answer within 1000 ms"), "%s", fx->log);
		kernel_answers_then_recover(fx, before);
		fx_free(fx);
	}
}
END_TEST

START_TEST(holders_stop_unit_and_kill)
{
	struct fx *fx = host();
	char before[512], after[512];

	fx_proc(fx, 2100, "Xorg", "/usr/lib/xorg/Xorg", "/system.slice/gdm.service");
	fx_proc_fd(fx, 2100, 7, "/dev/dri/card0");
	fx_file(fx, "/sys/fs/cgroup/system.slice/gdm.service/cgroup.procs", "2100\n");
	fx_proc(fx, 2200, "miner", "./miner", "/user.slice/user-0.slice/session-9.scope");
	fx_proc_fd(fx, 2200, 5, "/dev/nvidia0");
	state(fx, before, sizeof(before));
	ck_assert_int_eq(pre_start(fx, 111), -EPERM);
	ck_assert(fx_log_has(fx, "refusing: held by pid 2100 (Xorg, gdm.service)"));
	ck_assert(fx_log_has(fx, "refusing: held by pid 2200 (miner, session-9.scope)"));

	/* kill ends both; stop-unit would stop gdm (and the session scope). */
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = kill\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	ck_assert_int_eq(pre_start(fx, 111), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/proc/2100"), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/proc/2200"), 0);
	ck_assert(fx_log_has(fx, "kill pid 2200 (miner), which holds the card: ok"));
	ck_assert_int_eq(post_stop(fx, 111), 0);
	ck_assert(fx_log_has(fx, "cannot be undone: a killed process is not restarted"));
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

/* A listed oneshot unit that is "active (exited)" is stopped with the others and started again. */
START_TEST(active_exited_unit_stopped_and_started)
{
	struct fx *fx = host();
	char before[512], after[512];

	fx_file(fx, "/lib/systemd/system/setup-vfio.service", "[Service]\nType=oneshot\nRemainAfterExit=yes\n");
	fx_file(fx, "/run/gh-sim/active/setup-vfio.service", "%s", "");
	fx_file(fx, "/etc/gpu-hook/111.ini",
		"[handoff]\nservices = nvidia-persistenced.service setup-vfio.service\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	state(fx, before, sizeof(before));
	ck_assert_int_eq(pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "stop setup-vfio.service (systemctl stop): ok"));
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "setup-vfio.service"), 0);
	ck_assert_int_eq(post_stop(fx, 111), 0);
	ck_assert(fx_log_has(fx, "start setup-vfio.service (systemctl start): ok"));
	ck_assert_int_eq(gh_services_is_active(fx->ctx, "setup-vfio.service"), 1);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

START_TEST(vfio_pci_unavailable_refuses_first)
{
	struct fx *fx = host();
	char before[512], after[512];

	fx_rm(fx, "/sys/bus/pci/drivers/vfio-pci");
	fx_rm(fx, "/sys/module/vfio_pci");
	fx_file(fx, "/lib/modules-missing/vfio_pci", "%s", "");
	state(fx, before, sizeof(before));
	ck_assert_int_lt(pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "refusing: vfio-pci cannot be loaded; nothing was changed"));
	ck_assert(!fx_log_has(fx, "step 1/"));
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	/* Once it can be loaded, it is loaded before the first step. */
	fx_rm(fx, "/lib/modules-missing/vfio_pci");
	ck_assert_int_eq(pre_start(fx, 111), 0);
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/sys/bus/pci/drivers/vfio-pci"), 1);
	fx_free(fx);
}
END_TEST

START_TEST(one_gpu_two_vms)
{
	struct fx *fx = host();

	fx_file(fx, "/etc/pve/mapping/pci.cfg",
		"gpu\n\tmap id=10de:2684,iommugroup=14,node=pve1,path=0000:01:00\n");
	fx_vmconf(fx, 112, "hostpci0: mapping=gpu,pcie=1\n");
	ck_assert_int_eq(pre_start(fx, 111), 0);
	fx_log_clear(fx);
	ck_assert_int_eq(pre_start(fx, 112), -EPERM);
	ck_assert(fx_log_has(fx, "0000:01:00.0 is handed to VM 111 by gpu-hook"));
	ck_assert_int_eq(gh_fs_exists(fx->ctx, "/run/gpu-hook/112.json"), 0);
	fx_free(fx);
}
END_TEST

START_TEST(journal_cannot_be_written)
{
	struct fx *fx = host();
	char before[512], after[512];

	state(fx, before, sizeof(before));
	fx_mkdir(fx, "/run/gpu-hook");
	fx_chmod(fx, "/run/gpu-hook", 0777);
	ck_assert_int_lt(pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "/run/gpu-hook must be owned"));
	fx_rm(fx, "/run/gpu-hook");
	fx_link(fx, "/run/gpu-hook", "/tmp");
	ck_assert_int_lt(pre_start(fx, 111), 0);
	ck_assert(fx_log_has(fx, "not a directory"));
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

START_TEST(lock_contention)
{
	struct fx *fx = host();
	int fd, st;
	pid_t pid;

	ck_assert_int_eq(gh_journal_lock(fx->ctx, 100, &fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd2;

		_exit(gh_journal_lock(fx->ctx, 200, &fd2) == -EWOULDBLOCK ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	gh_journal_unlock(fd);
	ck_assert_int_eq(gh_journal_lock(fx->ctx, 100, &fd), 0);
	gh_journal_unlock(fd);
	fx_free(fx);
}
END_TEST

START_TEST(corrupt_journal_drives_nothing)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"version\":2}",
		"{\"version\":1,\"key\":\"111\",\"vmid\":111,\"phase\":\"x\",\"devices\":[],\"steps\":[{\"action\":"
		"\"unbind\",\"target\":\"../../etc\",\"arg\":\"x\",\"undo\":{\"action\":\"none\",\"target\":\"\",\"arg\":"
		"\"\"},\"status\":\"done\"}]}",
		"{\"version\":1,\"key\":\"111\",\"vmid\":111,\"phase\":\"x\",\"devices\":[],\"steps\":[{\"action\":"
		"\"service-stop\",\"target\":\"x; rm -rf /\",\"arg\":\"\",\"undo\":{\"action\":\"none\",\"target\":\"\","
		"\"arg\":\"\"},\"status\":\"done\"}]}",
		"{\"version\":1,\"key\":\"222\",\"vmid\":222,\"phase\":\"x\",\"devices\":[],\"steps\":[]}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fx *fx = host();
		char before[512], after[512];

		state(fx, before, sizeof(before));
		fx_mkdir(fx, "/run/gpu-hook");
		fx_chmod(fx, "/run/gpu-hook", 0700);
		fx_file(fx, "/run/gpu-hook/111.json", "%s", bad[i]);
		ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), -EINVAL);
		ck_assert_msg(fx_log_has(fx, "corrupt journal"), "case %zu: %s", i, fx->log);
		ck_assert_int_lt(post_stop(fx, 111), 0);
		state(fx, after, sizeof(after));
		ck_assert_str_eq(after, before);
		fx_free(fx);
	}
}
END_TEST

/*
 * post-stop's dry run through the phase entry point: the way back planned from
 * the journal (the planner, not the executor), and nothing changes; recover
 * then runs that same plan.
 */
START_TEST(dry_run_plans_the_way_back_from_the_journal)
{
	struct fx *fx = host();
	struct gh_phase_req req = { .vmid = 111, .phase = "post-stop", .dir = GH_TO_HOST };
	struct gh_phase_result res;
	char before[512], mid[512], after[512], jbefore[16384], jnow[16384], line[64];
	unsigned n, k;

	state(fx, before, sizeof(before));
	ck_assert_int_eq(pre_start(fx, 111), 0);
	state(fx, mid, sizeof(mid));
	journal_text(fx, jbefore, sizeof(jbefore));
	gh_ctx_set_dry_run(fx->ctx, true);
	fx_log_clear(fx);
	ck_assert_int_eq(gh_phase_run(fx->ctx, &req, &res), 0);
	ck_assert_int_eq(res.outcome, GH_PHASE_PLANNED);
	ck_assert(gh_strv_contains(&res.plan.notes,
				   "from the journal /run/gpu-hook/111.json (the VM config is not read)"));
	n = res.plan.n;
	k = step_of(res.plan.v, n, GH_ACT_UNBIND, "0000:01:00.0");
	ck_assert_str_eq(res.plan.v[k].op.arg, "vfio-pci");
	ck_assert_uint_lt(k, step_of(res.plan.v, n, GH_ACT_MODULE_LOAD, "nvidia"));
	ck_assert_uint_lt(step_of(res.plan.v, n, GH_ACT_MODULE_LOAD, "nvidia"),
			  step_of(res.plan.v, n, GH_ACT_PROBE, "0000:01:00.0"));
	k = step_of(res.plan.v, n, GH_ACT_SERVICE_START, "nvidia-persistenced.service");
	ck_assert_uint_eq(k, n - 1);
	ck_assert_msg(!fx_log_has(fx, "undo 1/"), "%s", fx->log);
	gh_phase_result_free(&res);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, mid);
	journal_text(fx, jnow, sizeof(jnow));
	ck_assert_str_eq(jnow, jbefore);

	gh_ctx_set_dry_run(fx->ctx, false);
	ck_assert_int_eq(gh_phase_recover(fx->ctx, "111"), 0);
	snprintf(line, sizeof(line), "undo %u/%u: start nvidia-persistenced.service", n, n);
	ck_assert_msg(fx_log_has(fx, line), "%s", fx->log);
	state(fx, after, sizeof(after));
	ck_assert_str_eq(after, before);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("run");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip_and_twice);
	tcase_add_test(tc, rollback_from_every_step);
	tcase_add_test(tc, journal_after_each_step);
	tcase_add_test(tc, crash_mid_way_then_pre_start_again);
	tcase_add_test(tc, recover_from_every_recorded_state);
	tcase_add_test(tc, probe_fails_on_the_way_back);
	tcase_add_test(tc, vfio_group_still_held_at_post_stop);
	tcase_add_test(tc, vfio_idle_is_not_scanned_for);
	tcase_add_test(tc, remove_hangs_on_the_way_back);
	tcase_add_test(tc, timeout_wedges_and_recover_restores);
	tcase_add_test(tc, wedged_card_answers_within_deadlines);
	tcase_add_test(tc, foreign_wedge_refuses_pre_start);
	tcase_add_test(tc, module_and_service_steps_get_their_deadlines);
	tcase_add_test(tc, recover_and_settle_use_the_policy_deadline);
	tcase_add_test(tc, holders_stop_unit_and_kill);
	tcase_add_test(tc, active_exited_unit_stopped_and_started);
	tcase_add_test(tc, vfio_pci_unavailable_refuses_first);
	tcase_add_test(tc, one_gpu_two_vms);
	tcase_add_test(tc, journal_cannot_be_written);
	tcase_add_test(tc, lock_contention);
	tcase_add_test(tc, corrupt_journal_drives_nothing);
	tcase_add_test(tc, dry_run_plans_the_way_back_from_the_journal);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
