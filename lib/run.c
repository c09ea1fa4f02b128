/* SPDX-License-Identifier: MIT */
#include "run.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console.h"
#include "fs.h"
#include "holders.h"
#include "modules.h"
#include "timebox.h"

enum call_kind { CALL_WRITE, CALL_SERVICE, CALL_MOD_REMOVE, CALL_MOD_LOAD };

/*
 * What goes to the worker, and back, whole: each call sends sizeof(struct
 * call) both ways. The longest path is a platform driver's unbind file,
 * "/sys/bus/platform/drivers/" + a driver name (NAME_MAX at most) +
 * "/unbind"; a longer one is refused (ENAMETOOLONG). With PATH_MAX here
 * each message was 4.2 KB, over a page, and a call's round trip measured
 * 125 to 150 us under TCG against 39 to 45 us for 0.7 KB.
 */
#define CALL_PATH_MAX 320
_Static_assert(sizeof("/sys/bus/platform/drivers/") - 1 + 255 + sizeof("/unbind") <= CALL_PATH_MAX,
	       "a platform driver's unbind file must fit");

struct call {
	struct gh_ctx *ctx;
	enum call_kind kind;
	char path[CALL_PATH_MAX];
	char value[128];
	const char *verb;
};

static int call_in_child(void *arg)
{
	struct call *c = arg;
	const struct gh_ops *ops = gh_ctx_ops(c->ctx);

	switch (c->kind) {
	case CALL_WRITE:
		return ops->write(c->ctx, c->path, c->value);
	case CALL_SERVICE:
		return ops->service(c->ctx, c->verb, c->value);
	case CALL_MOD_REMOVE:
		return ops->module_remove(c->ctx, c->value);
	case CALL_MOD_LOAD:
		return ops->module_load(c->ctx, c->value);
	}
	return -EINVAL;
}

/*
 * Runs a call in the phase's timeboxed worker (one fork per phase, not per
 * step); -ETIMEDOUT (logged, with the worker's state) when it did not return:
 * that worker is left behind and the next call gets a fresh one.
 */
static int boxed(struct gh_ctx *ctx, struct call *c, unsigned timeout_ms, const char *what)
{
	struct gh_timebox tb;
	int r;

	c->ctx = ctx;
	if (!gh_ctx_ops(ctx))
		return -ENOSYS;
	r = gh_timebox_call(ctx, timeout_ms, call_in_child, c, sizeof(*c), &tb);
	if (r < 0) {
		gh_err(ctx, "%s: cannot start a child: %s", what, strerror(-r));
		return r;
	}
	if (tb.timed_out) {
		gh_err(ctx, "%s: no answer within %u ms; child pid %d is in state %s (wchan %s) and was left behind",
		       what, timeout_ms, (int)tb.pid, tb.state, tb.wchan);
		return -ETIMEDOUT;
	}
	return tb.status;
}

static int write_attr(struct gh_ctx *ctx, unsigned timeout_ms, const char *value, const char *path)
{
	struct call c = { .kind = CALL_WRITE };
	char what[PATH_MAX + 160];
	int r;

	if (gh_util_copy(c.path, sizeof(c.path), path) < 0 || gh_util_copy(c.value, sizeof(c.value), value) < 0)
		return -ENAMETOOLONG;
	snprintf(what, sizeof(what), "write \"%.64s\" to %s", value[0] == '\n' ? "\\n" : value, path);
	r = boxed(ctx, &c, timeout_ms, what);
	return r;
}

static int module_call(struct gh_ctx *ctx, unsigned timeout_ms, enum call_kind kind, const char *name)
{
	struct call c = { .kind = kind };
	char what[128];

	if (gh_util_copy(c.value, sizeof(c.value), name) < 0)
		return -ENAMETOOLONG;
	snprintf(what, sizeof(what), "%s module %s", kind == CALL_MOD_LOAD ? "load" : "unload", name);
	return boxed(ctx, &c, timeout_ms, what);
}

static void current_driver(struct gh_ctx *ctx, const char *addr, char *buf, size_t size)
{
	if (gh_fs_link_base(ctx, buf, size, "/sys/bus/pci/devices/%s/driver", addr) < 0)
		buf[0] = '\0';
}

struct driver_wait {
	struct gh_ctx *ctx;
	const char *addr, *want;
};

static bool driver_is(void *arg)
{
	struct driver_wait *w = arg;
	char cur[64];

	current_driver(w->ctx, w->addr, cur, sizeof(cur));
	return !strcmp(cur, w->want);
}

/*
 * Binding is synchronous: the link is read back at once. A driver that probes
 * asynchronously (or a device a remove() still being finished releases late)
 * is waited for on the bind uevent, not a sleep; under --root the fixture's
 * device directory is watched instead.
 */
static bool wait_driver(struct gh_ctx *ctx, const char *addr, const char *want, unsigned ms)
{
	struct driver_wait w = { ctx, addr, want };
	char dir[PATH_MAX];

	if (!gh_ctx_root(ctx)[0] || gh_fs_path(ctx, dir, sizeof(dir), "/sys/bus/pci/devices/%s", addr) < 0)
		dir[0] = '\0';
	return gh_timebox_wait_until(ms, dir[0] ? dir : NULL, !gh_ctx_root(ctx)[0], driver_is, &w);
}

static int find_fbcon(struct gh_ctx *ctx, char *id, size_t size)
{
	struct gh_console con = { 0 };
	int r = gh_console_read(ctx, &con);

	if (r < 0)
		return r;
	r = -ENOENT;
	for (unsigned i = 0; i < con.n_vt; i++) {
		if (con.vt[i].fbcon) {
			r = gh_util_copy(id, size, con.vt[i].id);
			break;
		}
	}
	gh_console_free(&con);
	return r;
}

static int vtcon_set(struct gh_ctx *ctx, const struct gh_op *op, unsigned timeout_ms)
{
	const char *want = op->action == GH_ACT_VTCON_BIND ? "1" : "0";
	char id[32], path[96], back[16];
	int r;

	gh_util_copy(id, sizeof(id), op->target);
	/* fbcon's vtcon goes away with its last framebuffer and comes back under another number. */
	if (gh_fs_exists(ctx, "/sys/class/vtconsole/%s", id) <= 0) {
		if (op->action == GH_ACT_VTCON_UNBIND)
			return 0;
		r = find_fbcon(ctx, id, sizeof(id));
		if (r < 0) {
			gh_err(ctx, "no framebuffer console to reattach (/sys/class/vtconsole has none): is the "
				    "framebuffer driver (nvidia_drm fbdev) loaded?");
			return r;
		}
	}
	snprintf(path, sizeof(path), "/sys/class/vtconsole/%s/bind", id);
	r = write_attr(ctx, timeout_ms, want, path);
	if (r < 0)
		return r;
	/* The kernel ignores errors on this write: only reading it back tells. */
	r = gh_fs_read_str(ctx, back, sizeof(back), "/sys/class/vtconsole/%s/bind", id);
	if (r < 0 || strcmp(gh_util_trim(back), want)) {
		gh_err(ctx, "%s: wrote %s, reads back %s", path, want, r < 0 ? strerror(-r) : back);
		return -EIO;
	}
	return 0;
}

/*
 * The process the scan found, and no other: its start time must still be the
 * one seen then (a pid is reused once its process is gone), and the signals
 * go through the pidfd taken then.
 */
static int kill_holder(struct gh_ctx *ctx, const struct gh_op *op)
{
	unsigned long long now = 0;
	unsigned long pid;
	int r;

	if (gh_util_parse_ulong(op->target, 10, 4194304, &pid) < 0 || pid < 2)
		return -EINVAL;
	if (!op->start) {
		gh_err(ctx, "pid %s: no start time was recorded when it was found; not killed by number alone", op->target);
		return -EINVAL;
	}
	r = gh_holders_proc_stat(ctx, (pid_t)pid, &now, NULL);
	if (r == -ESRCH || (r >= 0 && now != op->start)) {
		gh_info(ctx, "pid %s (%s) has exited%s: not killed", op->target, op->arg,
			r >= 0 ? " and its number now names another process" : "");
		return 0;
	}
	if (r < 0)
		return r;
	r = gh_ctx_ops(ctx)->signal(ctx, (pid_t)pid, op->pidfd, SIGTERM);
	if (r == -ESRCH)
		return 0;
	if (r < 0)
		return r;
	for (int i = 0; i < 60; i++) {
		if (gh_ctx_ops(ctx)->signal(ctx, (pid_t)pid, op->pidfd, 0) == -ESRCH)
			return 0;
		usleep(50000);
	}
	r = gh_ctx_ops(ctx)->signal(ctx, (pid_t)pid, op->pidfd, SIGKILL);
	return r == -ESRCH ? 0 : r;
}

struct node_wait {
	struct gh_ctx *ctx;
	const char *grp;
};

static bool node_exists(void *arg)
{
	struct node_wait *w = arg;

	return gh_fs_exists(w->ctx, "/dev/vfio/%s", w->grp) > 0;
}

/*
 * vfio-pci's probe adds the group's device; devtmpfs makes the node, and
 * devtmpfs (like a fixture tree) reports new entries to inotify: watch
 * /dev/vfio, or /dev while the first group makes /dev/vfio itself.
 */
static int group_node(struct gh_ctx *ctx, const char *addr)
{
	char grp[32], dir[PATH_MAX];
	struct node_wait w = { ctx, grp };
	int r = gh_fs_link_base(ctx, grp, sizeof(grp), "/sys/bus/pci/devices/%s/iommu_group", addr);

	if (r < 0)
		return r;
	if (gh_fs_path(ctx, dir, sizeof(dir), "%s", gh_fs_exists(ctx, "/dev/vfio") > 0 ? "/dev/vfio" : "/dev") < 0)
		dir[0] = '\0';
	if (gh_timebox_wait_until(1000, dir[0] ? dir : NULL, false, node_exists, &w))
		return 0;
	gh_err(ctx, "%s is on vfio-pci but /dev/vfio/%s does not exist", addr, grp);
	return -ENOENT;
}

/* One action of a step: 0, or -errno logged once here (a timeout is logged by boxed()). */
typedef int (*action_fn)(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl,
			 unsigned timeout_ms);

static int act_none(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned timeout_ms)
{
	(void)ctx, (void)op, (void)dl, (void)timeout_ms;
	return 0;
}

static int act_service(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned timeout_ms)
{
	struct call c = { .kind = CALL_SERVICE };
	char what[160];
	int r;

	(void)dl;
	c.verb = op->action == GH_ACT_SERVICE_STOP ? "stop" : "start";
	gh_util_copy(c.value, sizeof(c.value), op->target);
	snprintf(what, sizeof(what), "systemctl %s %s", c.verb, op->target);
	r = boxed(ctx, &c, timeout_ms, what);
	if (r < 0 && r != -ETIMEDOUT)
		gh_err(ctx, "%s failed (status %d)", what, -r);
	return r;
}

static int act_kill(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned timeout_ms)
{
	int r = kill_holder(ctx, op);

	(void)dl, (void)timeout_ms;
	if (r < 0)
		gh_err(ctx, "cannot end pid %s: %s", op->target, strerror(-r));
	return r;
}

static int act_vtcon(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned timeout_ms)
{
	(void)dl;
	return vtcon_set(ctx, op, timeout_ms);
}

static int act_fb_unbind(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl,
			 unsigned timeout_ms)
{
	char path[PATH_MAX];
	int r;

	(void)dl;
	snprintf(path, sizeof(path), "/sys/bus/platform/drivers/%s/unbind", op->arg);
	r = write_attr(ctx, timeout_ms, op->target, path);
	if ((r == -ENODEV || r == -ENOENT) &&
	    gh_fs_exists(ctx, "/sys/bus/platform/devices/%s/driver", op->target) <= 0)
		r = 0;
	if (r < 0 && r != -ETIMEDOUT)
		gh_err(ctx, "cannot release %s: %s: %s", op->target, path, strerror(-r));
	return r;
}

static int act_module_unload(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl,
			     unsigned timeout_ms)
{
	const char *t = op->target;
	int r = module_call(ctx, timeout_ms, CALL_MOD_REMOVE, t);

	(void)dl;
	if (r == -ENOENT || r == -EEXIST) {
		gh_info(ctx, "module %s is %s: nothing to unload", t, r == -ENOENT ? "not loaded" : "built in");
		r = 0;
	} else if (r == -EAGAIN || r == -EWOULDBLOCK || r == -EBUSY) {
		struct gh_module m = { 0 };

		gh_modules_read(ctx, t, &m);
		gh_err(ctx, "cannot unload module %s: in use (refcnt %d): something still holds the card", t,
		       m.refcnt);
		gh_strv_free(&m.holders);
	} else if (r < 0 && r != -ETIMEDOUT) {
		gh_err(ctx, "cannot unload module %s: %s", t, strerror(-r));
	}
	return r;
}

static int act_module_load(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl,
			   unsigned timeout_ms)
{
	int r = module_call(ctx, timeout_ms, CALL_MOD_LOAD, op->target);

	(void)dl;
	if (r < 0 && r != -ETIMEDOUT)
		gh_err(ctx, "cannot load module %s: %s%s", op->target, strerror(-r),
		       r == -ENODEV ? " (no device for it: is the card still on vfio-pci?)" : "");
	return r;
}

static int act_override(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned timeout_ms)
{
	char path[PATH_MAX];
	int r;

	(void)dl;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", op->target);
	r = write_attr(ctx, timeout_ms, op->arg[0] ? op->arg : "\n", path);
	if (r < 0 && r != -ETIMEDOUT)
		gh_err(ctx, "cannot set the override of %s: %s: %s", op->target, path, strerror(-r));
	return r;
}

/* Unbinds from the driver in arg (only when it is there), or binds to it (EBUSY once there is success). */
static int act_bind_unbind(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl,
			   unsigned timeout_ms)
{
	bool bind = op->action == GH_ACT_BIND;
	char path[PATH_MAX], cur[64];
	int r;

	(void)dl;
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/%s", op->arg, bind ? "bind" : "unbind");
	if (!bind) {
		current_driver(ctx, op->target, cur, sizeof(cur));
		if (strcmp(cur, op->arg))
			return 0;
	}
	r = write_attr(ctx, timeout_ms, op->target, path);
	if (bind) {
		current_driver(ctx, op->target, cur, sizeof(cur));
		if (r == -EBUSY && !strcmp(cur, op->arg))
			r = 0;
	}
	if (r < 0 && r != -ETIMEDOUT)
		gh_err(ctx, "cannot %s %s %s %s: %s: %s", bind ? "bind" : "unbind", op->target, bind ? "to" : "from",
		       op->arg, path, strerror(-r));
	return r;
}

static int act_probe(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned timeout_ms)
{
	const char *t = op->target, *a = op->arg;
	unsigned wait_ms;
	char cur[64];
	int r;

	current_driver(ctx, t, cur, sizeof(cur));
	if (!strcmp(cur, a))
		return 0;
	if (!strcmp(a, "vfio-pci") && gh_fs_exists(ctx, "/sys/bus/pci/drivers/vfio-pci") <= 0) {
		r = module_call(ctx, dl->module_ms, CALL_MOD_LOAD, "vfio_pci");
		if (r < 0) {
			if (r != -ETIMEDOUT)
				gh_err(ctx, "cannot load vfio-pci: %s", strerror(-r));
			return r;
		}
	}
	r = write_attr(ctx, timeout_ms, t, "/sys/bus/pci/drivers_probe");
	if (r == -ETIMEDOUT)
		return r;
	/* A probe that failed has answered: there is nothing to wait for. */
	wait_ms = r < 0 ? 0 : timeout_ms < 2000 ? timeout_ms : 2000;
	/*
	 * drivers_probe succeeds when nothing matched: the driver link is the answer.
	 * A device just released by a remove() that was still running (a killed run's
	 * orphaned write) can miss the first probe: ask once more before giving up.
	 */
	if (!wait_driver(ctx, t, a, wait_ms)) {
		gh_dbg(ctx, "%s: not on %s after drivers_probe; probing once more", t, a);
		if (write_attr(ctx, timeout_ms, t, "/sys/bus/pci/drivers_probe") == -ETIMEDOUT)
			return -ETIMEDOUT;
	}
	if (wait_driver(ctx, t, a, wait_ms))
		return 0;
	current_driver(ctx, t, cur, sizeof(cur));
	gh_err(ctx, "cannot bind %s to %s: /sys/bus/pci/drivers_probe: no driver took it (%s%s; "
		    "driver now: %s)", t, a, r < 0 ? "probe error: " : "is the module loaded?",
	       r < 0 ? strerror(-r) : "", cur[0] ? cur : "none");
	return r < 0 ? r : -ENODEV;
}

static int act_remove_id(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl,
			 unsigned timeout_ms)
{
	int r;

	(void)dl;
	if (gh_fs_exists(ctx, "/sys/bus/pci/drivers/vfio-pci") <= 0)
		return 0;
	r = write_attr(ctx, timeout_ms, op->arg, "/sys/bus/pci/drivers/vfio-pci/remove_id");
	/* ENODEV: the id was never added (gpu-hook binds with driver_override). */
	if (r == -ENODEV || r == -ENOENT)
		r = 0;
	if (r < 0 && r != -ETIMEDOUT)
		gh_err(ctx, "cannot remove %s from vfio-pci's ids: %s", op->arg, strerror(-r));
	return r;
}

static int act_verify(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned timeout_ms)
{
	char cur[64];

	(void)dl, (void)timeout_ms;
	current_driver(ctx, op->target, cur, sizeof(cur));
	if (strcmp(cur, op->arg)) {
		gh_err(ctx, "%s is on %s, not %s", op->target, cur[0] ? cur : "no driver", op->arg);
		return -ENODEV;
	}
	return !strcmp(op->arg, "vfio-pci") ? group_node(ctx, op->target) : 0;
}

static const action_fn actions[] = {
	[GH_ACT_NONE] = act_none,
	[GH_ACT_SERVICE_STOP] = act_service,
	[GH_ACT_SERVICE_START] = act_service,
	[GH_ACT_KILL] = act_kill,
	[GH_ACT_VTCON_UNBIND] = act_vtcon,
	[GH_ACT_VTCON_BIND] = act_vtcon,
	[GH_ACT_FB_UNBIND] = act_fb_unbind,
	[GH_ACT_MODULE_UNLOAD] = act_module_unload,
	[GH_ACT_MODULE_LOAD] = act_module_load,
	[GH_ACT_OVERRIDE] = act_override,
	[GH_ACT_UNBIND] = act_bind_unbind,
	[GH_ACT_BIND] = act_bind_unbind,
	[GH_ACT_PROBE] = act_probe,
	[GH_ACT_REMOVE_ID] = act_remove_id,
	[GH_ACT_VERIFY] = act_verify,
};
_Static_assert(GH_ARRAY_SIZE(actions) == GH_ACT_MAX, "an action the executor cannot run");

int gh_run_op(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned *elapsed_ms)
{
	unsigned long long t0 = gh_timebox_now_ms();
	int r = 0;

	if ((size_t)op->action < GH_ARRAY_SIZE(actions) && actions[op->action])
		r = actions[op->action](ctx, op, dl, gh_plan_deadline_ms(dl, op->action));
	if (elapsed_ms)
		*elapsed_ms = (unsigned)(gh_timebox_now_ms() - t0);
	return r;
}

bool gh_run_device_action(enum gh_action a)
{
	return a == GH_ACT_OVERRIDE || a == GH_ACT_UNBIND || a == GH_ACT_BIND || a == GH_ACT_PROBE ||
	       a == GH_ACT_REMOVE_ID || a == GH_ACT_VERIFY;
}

void gh_run_log_step(struct gh_ctx *ctx, const char *label, unsigned i, unsigned n, const struct gh_op *op, int r,
		     unsigned ms)
{
	char desc[512];

	if (gh_plan_describe(op, desc, sizeof(desc)) < 0)
		snprintf(desc, sizeof(desc), "%s %s", gh_plan_action_name(op->action), op->target);
	if (r >= 0)
		gh_info(ctx, "%s %u/%u: %s: ok (%u ms)", label, i + 1, n, desc, ms);
	else
		gh_err(ctx, "%s %u/%u: %s: %s (%u ms)", label, i + 1, n, desc,
		       r == -ETIMEDOUT ? "timed out" : strerror(-r), ms);
}

int gh_run_forward(struct gh_ctx *ctx, struct gh_journal *j, const struct gh_deadlines *dl)
{
	int r;

	for (unsigned i = 0; i < j->n_steps; i++) {
		const struct gh_op *op = &j->steps[i].op;
		unsigned ms = 0;

		if (j->status[i] == GH_J_DONE || j->status[i] == GH_J_SKIPPED)
			continue;
		j->status[i] = GH_J_RUNNING;
		r = gh_journal_save(ctx, j);
		if (r < 0)
			return r;
		r = gh_run_op(ctx, op, dl, &ms);
		gh_run_log_step(ctx, "step", i, j->n_steps, op, r, ms);
		if (r < 0) {
			/*
			 * A systemctl call that overran is killed; the unit is systemd's to
			 * finish, nothing of the kernel is stuck, and starting the unit again
			 * is a real undo. Anything else that overran sits in the kernel.
			 */
			j->status[i] = r == -ETIMEDOUT && op->action != GH_ACT_SERVICE_STOP &&
						       op->action != GH_ACT_SERVICE_START ?
					       GH_J_WEDGED :
					       GH_J_FAILED;
			if (r == -ETIMEDOUT && gh_run_device_action(op->action)) {
				struct gh_jdev *d = gh_journal_dev(j, op->target);

				if (d) {
					d->wedged = true;
					gh_err(ctx, "the device %s is wedged in the kernel: it is left alone from now on",
					       d->addr);
				}
			}
			gh_journal_save(ctx, j);
			return r;
		}
		j->status[i] = GH_J_DONE;
	}
	j->complete = true;
	return gh_journal_save(ctx, j);
}
