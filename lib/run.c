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

struct call {
	struct gh_ctx *ctx;
	enum call_kind kind;
	char path[PATH_MAX];
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

/* Runs a call in a timeboxed child; -ETIMEDOUT (logged, with the child's state) when it did not return. */
static int boxed(struct gh_ctx *ctx, struct call *c, unsigned timeout_ms, const char *what)
{
	struct gh_timebox tb;
	int r;

	c->ctx = ctx;
	if (!gh_ctx_ops(ctx))
		return -ENOSYS;
	r = gh_timebox_run(ctx, timeout_ms, call_in_child, c, &tb);
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

/* Binding is synchronous, but HDA codecs and udev may lag: poll briefly instead of sleeping. */
static bool wait_driver(struct gh_ctx *ctx, const char *addr, const char *want, unsigned ms)
{
	unsigned long long deadline = gh_timebox_now_ms() + ms;
	char cur[64];

	for (;;) {
		current_driver(ctx, addr, cur, sizeof(cur));
		if (!strcmp(cur, want))
			return true;
		if (gh_timebox_now_ms() >= deadline)
			return false;
		usleep(10000);
	}
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

static int group_node(struct gh_ctx *ctx, const char *addr)
{
	char grp[32];
	int r = gh_fs_link_base(ctx, grp, sizeof(grp), "/sys/bus/pci/devices/%s/iommu_group", addr);

	if (r < 0)
		return r;
	for (int i = 0; i < 100; i++) {
		if (gh_fs_exists(ctx, "/dev/vfio/%s", grp) > 0)
			return 0;
		usleep(10000);
	}
	gh_err(ctx, "%s is on vfio-pci but /dev/vfio/%s does not exist", addr, grp);
	return -ENOENT;
}

int gh_run_op(struct gh_ctx *ctx, const struct gh_op *op, const struct gh_deadlines *dl, unsigned *elapsed_ms)
{
	unsigned long long t0 = gh_timebox_now_ms();
	unsigned timeout_ms = gh_plan_deadline_ms(dl, op->action);
	const char *t = op->target, *a = op->arg;
	char path[PATH_MAX], cur[64];
	struct call c = { .kind = CALL_SERVICE };
	unsigned wait_ms;
	int r = 0;

	switch (op->action) {
	case GH_ACT_NONE:
	case GH_ACT_MAX:
		break;
	case GH_ACT_SERVICE_STOP:
	case GH_ACT_SERVICE_START:
		c.verb = op->action == GH_ACT_SERVICE_STOP ? "stop" : "start";
		gh_util_copy(c.value, sizeof(c.value), t);
		snprintf(path, sizeof(path), "systemctl %s %s", c.verb, t);
		r = boxed(ctx, &c, timeout_ms, path);
		if (r < 0 && r != -ETIMEDOUT)
			gh_err(ctx, "%s failed (status %d)", path, -r);
		break;
	case GH_ACT_KILL:
		r = kill_holder(ctx, op);
		if (r < 0)
			gh_err(ctx, "cannot end pid %s: %s", t, strerror(-r));
		break;
	case GH_ACT_VTCON_UNBIND:
	case GH_ACT_VTCON_BIND:
		r = vtcon_set(ctx, op, timeout_ms);
		break;
	case GH_ACT_FB_UNBIND:
		snprintf(path, sizeof(path), "/sys/bus/platform/drivers/%s/unbind", a);
		r = write_attr(ctx, timeout_ms, t, path);
		if ((r == -ENODEV || r == -ENOENT) &&
		    gh_fs_exists(ctx, "/sys/bus/platform/devices/%s/driver", t) <= 0)
			r = 0;
		if (r < 0 && r != -ETIMEDOUT)
			gh_err(ctx, "cannot release %s: %s: %s", t, path, strerror(-r));
		break;
	case GH_ACT_MODULE_UNLOAD:
		r = module_call(ctx, timeout_ms, CALL_MOD_REMOVE, t);
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
		break;
	case GH_ACT_MODULE_LOAD:
		r = module_call(ctx, timeout_ms, CALL_MOD_LOAD, t);
		if (r < 0 && r != -ETIMEDOUT)
			gh_err(ctx, "cannot load module %s: %s%s", t, strerror(-r),
			       r == -ENODEV ? " (no device for it: is the card still on vfio-pci?)" : "");
		break;
	case GH_ACT_OVERRIDE:
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", t);
		r = write_attr(ctx, timeout_ms, a[0] ? a : "\n", path);
		if (r < 0 && r != -ETIMEDOUT)
			gh_err(ctx, "cannot set the override of %s: %s: %s", t, path, strerror(-r));
		break;
	case GH_ACT_UNBIND:
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", a);
		current_driver(ctx, t, cur, sizeof(cur));
		if (strcmp(cur, a))
			break;
		r = write_attr(ctx, timeout_ms, t, path);
		if (r < 0 && r != -ETIMEDOUT)
			gh_err(ctx, "cannot unbind %s from %s: %s: %s", t, a, path, strerror(-r));
		break;
	case GH_ACT_BIND:
		snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", a);
		r = write_attr(ctx, timeout_ms, t, path);
		current_driver(ctx, t, cur, sizeof(cur));
		if (r == -EBUSY && !strcmp(cur, a))
			r = 0;
		if (r < 0 && r != -ETIMEDOUT)
			gh_err(ctx, "cannot bind %s to %s: %s: %s", t, a, path, strerror(-r));
		break;
	case GH_ACT_PROBE:
		current_driver(ctx, t, cur, sizeof(cur));
		if (!strcmp(cur, a))
			break;
		if (!strcmp(a, "vfio-pci") && gh_fs_exists(ctx, "/sys/bus/pci/drivers/vfio-pci") <= 0) {
			r = module_call(ctx, dl->module_ms, CALL_MOD_LOAD, "vfio_pci");
			if (r < 0) {
				if (r != -ETIMEDOUT)
					gh_err(ctx, "cannot load vfio-pci: %s", strerror(-r));
				break;
			}
		}
		r = write_attr(ctx, timeout_ms, t, "/sys/bus/pci/drivers_probe");
		if (r == -ETIMEDOUT)
			break;
		/* A probe that failed has answered: there is nothing to wait for. */
		wait_ms = r < 0 ? 0 : timeout_ms < 2000 ? timeout_ms : 2000;
		/*
		 * drivers_probe succeeds when nothing matched: the driver link is the answer.
		 * A device just released by a remove() that was still running (a killed run's
		 * orphaned write) can miss the first probe: ask once more before giving up.
		 */
		if (!wait_driver(ctx, t, a, wait_ms)) {
			gh_dbg(ctx, "%s: not on %s after drivers_probe; probing once more", t, a);
			if (write_attr(ctx, timeout_ms, t, "/sys/bus/pci/drivers_probe") == -ETIMEDOUT) {
				r = -ETIMEDOUT;
				break;
			}
		}
		if (!wait_driver(ctx, t, a, wait_ms)) {
			current_driver(ctx, t, cur, sizeof(cur));
			gh_err(ctx, "cannot bind %s to %s: /sys/bus/pci/drivers_probe: no driver took it (%s%s; "
				    "driver now: %s)", t, a, r < 0 ? "probe error: " : "is the module loaded?",
			       r < 0 ? strerror(-r) : "", cur[0] ? cur : "none");
			r = r < 0 ? r : -ENODEV;
		} else {
			r = 0;
		}
		break;
	case GH_ACT_REMOVE_ID:
		if (gh_fs_exists(ctx, "/sys/bus/pci/drivers/vfio-pci") <= 0)
			break;
		r = write_attr(ctx, timeout_ms, a, "/sys/bus/pci/drivers/vfio-pci/remove_id");
		/* ENODEV: the id was never added (gpu-hook binds with driver_override). */
		if (r == -ENODEV || r == -ENOENT)
			r = 0;
		if (r < 0 && r != -ETIMEDOUT)
			gh_err(ctx, "cannot remove %s from vfio-pci's ids: %s", a, strerror(-r));
		break;
	case GH_ACT_VERIFY:
		current_driver(ctx, t, cur, sizeof(cur));
		if (strcmp(cur, a)) {
			gh_err(ctx, "%s is on %s, not %s", t, cur[0] ? cur : "no driver", a);
			r = -ENODEV;
		} else if (!strcmp(a, "vfio-pci")) {
			r = group_node(ctx, t);
		}
		break;
	}
	if (elapsed_ms)
		*elapsed_ms = (unsigned)(gh_timebox_now_ms() - t0);
	return r;
}

static bool device_action(enum gh_action a)
{
	return a == GH_ACT_OVERRIDE || a == GH_ACT_UNBIND || a == GH_ACT_BIND || a == GH_ACT_PROBE ||
	       a == GH_ACT_REMOVE_ID || a == GH_ACT_VERIFY;
}

static void log_step(struct gh_ctx *ctx, const char *label, unsigned i, unsigned n, const struct gh_op *op,
		     int r, unsigned ms)
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
		log_step(ctx, "step", i, j->n_steps, op, r, ms);
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
			if (r == -ETIMEDOUT && device_action(op->action)) {
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

static bool started(enum gh_jstatus s)
{
	return s == GH_J_RUNNING || s == GH_J_DONE || s == GH_J_FAILED || s == GH_J_WEDGED;
}

static int find_step(const struct gh_journal *j, enum gh_action a, const char *target)
{
	for (unsigned i = 0; i < j->n_steps; i++)
		if (j->steps[i].op.action == a && !strcmp(j->steps[i].op.target, target) && started(j->status[i]))
			return (int)i;
	return -1;
}

struct builder {
	struct gh_plan *p;
	int *undoes;
	int err;
};

static void push(struct builder *b, enum gh_action a, const char *target, const char *arg, int undoes)
{
	struct gh_step *v;

	if (b->err)
		return;
	v = gh_util_grow(b->p->v, b->p->n, sizeof(*v));
	if (!v) {
		b->err = -ENOMEM;
		return;
	}
	b->p->v = v;
	b->undoes[b->p->n] = undoes;
	memset(&v[b->p->n], 0, sizeof(*v));
	v[b->p->n].op.action = a;
	if (gh_util_copy(v[b->p->n].op.target, sizeof(v->op.target), target) < 0 ||
	    gh_util_copy(v[b->p->n].op.arg, sizeof(v->op.arg), arg ? arg : "") < 0) {
		b->err = -ENAMETOOLONG;
		return;
	}
	b->p->n++;
}

static bool touched(const struct gh_journal *j, const struct gh_jdev *d)
{
	return find_step(j, GH_ACT_OVERRIDE, d->addr) >= 0 || find_step(j, GH_ACT_UNBIND, d->addr) >= 0 ||
	       find_step(j, GH_ACT_PROBE, d->addr) >= 0;
}

/*
 * An unload the way back loads again. One already undone is loaded again too (a
 * no-op when it is still loaded): a card that missed its driver on an earlier way
 * back must go back on it before the modules stacked on it load.
 */
static bool reload(const struct gh_journal *j, unsigned k)
{
	return j->steps[k].op.action == GH_ACT_MODULE_UNLOAD &&
	       (started(j->status[k]) || j->status[k] == GH_J_UNDONE) && j->status[k] != GH_J_WEDGED;
}

static bool reload_planned(const struct gh_journal *j, const char *driver)
{
	for (unsigned k = 0; k < j->n_steps; k++)
		if (reload(j, k) && gh_modules_name_eq(j->steps[k].op.target, driver))
			return true;
	return false;
}

/*
 * modeset_hold = reload: a module the handoff unloaded and loaded again came
 * back without the card, and an nvidia-drm without per-GPU removal never takes
 * up a card that arrives later. The way back unloads it before the card
 * returns and loads it after.
 */
static bool reloaded(const struct gh_journal *j, const char *module)
{
	for (unsigned k = 0; k < j->n_steps; k++)
		if (j->steps[k].op.action == GH_ACT_MODULE_LOAD && gh_modules_name_eq(j->steps[k].op.target, module) &&
		    (started(j->status[k]) || j->status[k] == GH_J_UNDONE) && j->status[k] != GH_J_WEDGED)
			return true;
	return false;
}

int gh_run_build_return(const struct gh_journal *j, struct gh_plan *out, int **undoes)
{
	struct builder b = { out, NULL, 0 };
	char ids[16];

	memset(out, 0, sizeof(*out));
	*undoes = NULL;
	out->dir = GH_TO_HOST;
	/* At most 6 steps per device and one per journal step. */
	b.undoes = calloc(j->n_dev * 6 + j->n_steps + 1, sizeof(int));
	if (!b.undoes)
		return -ENOMEM;
	for (unsigned i = 0; i < j->n_dev; i++) {
		const struct gh_jdev *d = &j->dev[i];

		if (d->wedged || !touched(j, d))
			continue;
		push(&b, GH_ACT_OVERRIDE, d->addr, d->host_driver[0] ? d->host_driver : d->override,
		     find_step(j, GH_ACT_OVERRIDE, d->addr));
		push(&b, GH_ACT_UNBIND, d->addr, "vfio-pci", find_step(j, GH_ACT_PROBE, d->addr));
		snprintf(ids, sizeof(ids), "%04x %04x", d->vendor & 0xffff, d->device & 0xffff);
		push(&b, GH_ACT_REMOVE_ID, d->addr, ids, -1);
	}
	/*
	 * A card goes back on its driver right after that driver's module loads, before
	 * the modules stacked on it: nvidia-drm loaded while the card is not on nvidia
	 * comes up without a framebuffer and does not pick the card up later, so the
	 * console could not come back without reloading it. Cards whose driver was not
	 * unloaded go back once every module is loaded.
	 */
	for (unsigned k = j->n_steps; k-- > 0;)
		if (j->steps[k].op.action == GH_ACT_MODULE_LOAD && reloaded(j, j->steps[k].op.target))
			push(&b, GH_ACT_MODULE_UNLOAD, j->steps[k].op.target, NULL, (int)k);
	for (unsigned k = j->n_steps; k-- > 0;) {
		const char *m = j->steps[k].op.target;

		if (!reload(j, k) || reloaded(j, m))
			continue;
		push(&b, GH_ACT_MODULE_LOAD, m, NULL, (int)k);
		for (unsigned i = 0; i < j->n_dev; i++) {
			const struct gh_jdev *d = &j->dev[i];

			if (!d->wedged && touched(j, d) && d->host_driver[0] && gh_modules_name_eq(d->host_driver, m))
				push(&b, GH_ACT_PROBE, d->addr, d->host_driver, find_step(j, GH_ACT_UNBIND, d->addr));
		}
	}
	for (unsigned i = 0; i < j->n_dev; i++) {
		const struct gh_jdev *d = &j->dev[i];

		if (!d->wedged && touched(j, d) && d->host_driver[0] && !reload_planned(j, d->host_driver))
			push(&b, GH_ACT_PROBE, d->addr, d->host_driver, find_step(j, GH_ACT_UNBIND, d->addr));
	}
	for (unsigned k = 0; k < j->n_steps; k++)
		if (j->steps[k].op.action == GH_ACT_MODULE_LOAD && reloaded(j, j->steps[k].op.target))
			push(&b, GH_ACT_MODULE_LOAD, j->steps[k].op.target, NULL,
			     find_step(j, GH_ACT_MODULE_UNLOAD, j->steps[k].op.target));
	for (unsigned i = 0; i < j->n_dev; i++) {
		const struct gh_jdev *d = &j->dev[i];

		if (d->wedged || !touched(j, d))
			continue;
		if (d->host_driver[0])
			push(&b, GH_ACT_VERIFY, d->addr, d->host_driver, -1);
		if (d->host_driver[0] || d->override[0])
			push(&b, GH_ACT_OVERRIDE, d->addr, d->override, -1);
	}
	for (unsigned k = j->n_steps; k-- > 0;)
		if (j->steps[k].op.action == GH_ACT_VTCON_UNBIND && started(j->status[k]))
			push(&b, GH_ACT_VTCON_BIND, j->steps[k].op.target, NULL, (int)k);
	for (unsigned k = j->n_steps; k-- > 0;)
		if (j->steps[k].op.action == GH_ACT_SERVICE_STOP && started(j->status[k]))
			push(&b, GH_ACT_SERVICE_START, j->steps[k].op.target, NULL, (int)k);
	if (b.err) {
		free(b.undoes);
		gh_plan_free(out);
		return b.err;
	}
	*undoes = b.undoes;
	return 0;
}

void gh_run_unwedge(struct gh_journal *j)
{
	for (unsigned i = 0; i < j->n_dev; i++)
		j->dev[i].wedged = false;
	for (unsigned i = 0; i < j->n_steps; i++)
		if (j->status[i] == GH_J_WEDGED)
			j->status[i] = GH_J_RUNNING;
}

static bool has_module(const struct gh_strv *mods, const char *name)
{
	for (size_t k = 0; k < mods->n; k++)
		if (gh_modules_name_eq(mods->v[k], name))
			return true;
	return false;
}

/*
 * A card that is not back, and whose driver is the module about to load or one this
 * run already loaded: loaded now, that module and those stacked on it would come up
 * without the card, and loading its driver would walk a card wedged in remove()
 * under its lock. Such a card failed a step of this run, or is wedged in the
 * journal (left out of the plan). Its address, or NULL.
 */
static const char *stranded_by(const struct gh_plan *p, const struct gh_journal *j, const char *module,
			       const struct gh_strv *loaded, const struct gh_strv *failed_devs)
{
	for (unsigned k = 0; k < p->n; k++) {
		const struct gh_op *op = &p->v[k].op;

		if (op->action == GH_ACT_PROBE && gh_strv_contains(failed_devs, op->target) &&
		    (gh_modules_name_eq(op->arg, module) || has_module(loaded, op->arg)))
			return op->target;
	}
	for (unsigned i = 0; j && i < j->n_dev; i++) {
		const struct gh_jdev *d = &j->dev[i];

		if (d->wedged && d->host_driver[0] &&
		    (gh_modules_name_eq(d->host_driver, module) || has_module(loaded, d->host_driver)))
			return d->addr;
	}
	return NULL;
}

/*
 * Best effort: a failed device step skips that device's later steps only, and a
 * card that is not back on its driver holds the module loads from then on (see
 * stranded_by and gh_run_build_return).
 */
static int run_best_effort(struct gh_ctx *ctx, const struct gh_plan *p, const struct gh_journal *j,
			   const struct gh_deadlines *dl, int *results, struct gh_strv *failed_devs, const char *label)
{
	struct gh_strv loaded = { 0 };
	const char *stranded = NULL;
	int first = 0;

	for (unsigned i = 0; i < p->n; i++) {
		const struct gh_op *op = &p->v[i].op;
		unsigned ms = 0;
		int r;

		if (device_action(op->action) && gh_strv_contains(failed_devs, op->target)) {
			results[i] = -ECANCELED;
			gh_warn(ctx, "%s %u/%u: skipped: %s failed earlier", label, i + 1, p->n, op->target);
			continue;
		}
		if (op->action == GH_ACT_MODULE_LOAD && !stranded)
			stranded = stranded_by(p, j, op->target, &loaded, failed_devs);
		if (op->action == GH_ACT_MODULE_LOAD && stranded) {
			results[i] = -ECANCELED;
			gh_warn(ctx, "%s %u/%u: module %s not loaded yet: %s is not back on its driver (loaded now, "
				     "the driver stack would come up without it, or wait on it in the kernel)", label,
				i + 1, p->n, op->target, stranded);
			continue;
		}
		r = gh_run_op(ctx, op, dl, &ms);
		log_step(ctx, label, i, p->n, op, r, ms);
		results[i] = r;
		if (r >= 0 && op->action == GH_ACT_MODULE_LOAD)
			gh_strv_add(&loaded, op->target);
		if (r < 0) {
			if (!first)
				first = r;
			if (device_action(op->action))
				gh_strv_add(failed_devs, op->target);
		}
	}
	gh_strv_free(&loaded);
	return first;
}

int gh_run_return(struct gh_ctx *ctx, struct gh_journal *j, const struct gh_deadlines *dl)
{
	struct gh_strv failed_devs = { 0 };
	struct gh_plan p = { 0 };
	int *undoes = NULL, *results = NULL;
	bool all = true;
	int r, first;

	r = gh_run_build_return(j, &p, &undoes);
	if (r < 0)
		return r;
	results = calloc(p.n + 1, sizeof(int));
	if (!results) {
		free(undoes);
		gh_plan_free(&p);
		return -ENOMEM;
	}
	first = run_best_effort(ctx, &p, j, dl, results, &failed_devs, "undo");
	for (unsigned i = 0; i < p.n; i++) {
		struct gh_jdev *d = gh_journal_dev(j, p.v[i].op.target);

		if (results[i] == -ETIMEDOUT && device_action(p.v[i].op.action) && d && !d->wedged) {
			d->wedged = true;
			gh_err(ctx, "the device %s is wedged in the kernel: it is left alone until 'gpu-hook recover'",
			       d->addr);
		}
	}
	/* A device step is undone only when the whole device came back, checks included. */
	for (unsigned i = 0; i < p.n; i++)
		if (results[i] < 0 && device_action(p.v[i].op.action))
			gh_strv_add(&failed_devs, p.v[i].op.target);
	for (unsigned k = j->n_steps; k-- > 0;) {
		const struct gh_op *op = &j->steps[k].op;
		char desc[512];
		bool any = false, ok = true;
		const char *why = NULL;

		if (!started(j->status[k]))
			continue;
		gh_plan_describe(op, desc, sizeof(desc));
		for (unsigned i = 0; i < p.n; i++) {
			if (undoes[i] != (int)k)
				continue;
			any = true;
			if (results[i] < 0)
				ok = false;
		}
		if (device_action(op->action) && gh_journal_dev(j, op->target) && gh_journal_dev(j, op->target)->wedged)
			why = "not undone: the device is wedged in the kernel; run 'gpu-hook recover' once it answers";
		else if (j->status[k] == GH_J_WEDGED)
			why = "not undone: it is stuck in the kernel; run 'gpu-hook recover' once it answers";
		else if (op->action == GH_ACT_KILL)
			why = "cannot be undone: a killed process is not restarted";
		else if (op->action == GH_ACT_FB_UNBIND)
			why = "not undone: the firmware framebuffer cannot come back after a handoff (its BAR moved)";
		else if (device_action(op->action) && gh_strv_contains(&failed_devs, op->target))
			ok = false;
		if (why) {
			if (op->action != GH_ACT_KILL && op->action != GH_ACT_FB_UNBIND)
				all = false;
			gh_warn(ctx, "undo of step %u (%s): %s", k + 1, desc, why);
		} else if (!any) {
			j->status[k] = GH_J_UNDONE;
			gh_info(ctx, "undo of step %u (%s): nothing to undo", k + 1, desc);
		} else if (ok) {
			j->status[k] = GH_J_UNDONE;
			gh_info(ctx, "undo of step %u (%s): undone", k + 1, desc);
		} else {
			all = false;
			gh_err(ctx, "undo of step %u (%s): NOT undone", k + 1, desc);
		}
	}
	/* The final checks and overrides count too: a device not back on its driver is not done. */
	for (unsigned i = 0; i < p.n; i++)
		if (results[i] < 0)
			all = false;
	if (all && !first) {
		r = gh_journal_remove(ctx, j->key);
		if (r < 0)
			gh_warn(ctx, "cannot remove /run/gpu-hook/%s.json: %s", j->key, strerror(-r));
	} else {
		j->complete = false;
		gh_journal_save(ctx, j);
		if (!first)
			first = -EAGAIN;
	}
	gh_strv_free(&failed_devs);
	free(results);
	free(undoes);
	gh_plan_free(&p);
	return first;
}

int gh_run_plan(struct gh_ctx *ctx, const struct gh_plan *p, const struct gh_deadlines *dl)
{
	struct gh_strv failed_devs = { 0 };
	int *results = calloc(p->n + 1, sizeof(int));
	int r;

	if (!results)
		return -ENOMEM;
	r = run_best_effort(ctx, p, NULL, dl, results, &failed_devs, "step");
	gh_strv_free(&failed_devs);
	free(results);
	return r;
}
