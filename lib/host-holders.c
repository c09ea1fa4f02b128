/* SPDX-License-Identifier: MIT */
/* Who holds what is handed over: the nodes to look for, and each holder stopped with its unit, killed or refused. */
#include "host-impl.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "services.h"

/*
 * Every node through which a process can hold a function being handed over:
 * whatever the kernel registered under each function (DRM, sound, the USB
 * devices of the card's xHCI, the UCSI i2c adapter, hidraw, input, fbN), the
 * NVIDIA nodes, which the real driver makes without sysfs entries, and the
 * VFIO group nodes.
 */
int gh_host_holders_nodes(struct gh_ctx *ctx, struct gh_host *h)
{
	struct gh_holder_nodes *nodes = &h->nodes;
	char p[PATH_MAX];
	int r = 0;

	/* Unloading the stack needs every NVIDIA node closed; an unbind only this card's. */
	if (h->single_gpu && h->gpu_module[0] && h->stack.n)
		r = gh_holders_nodes_add_path(ctx, nodes, "/dev/nvidia*");
	/* The reload unloads nvidia-drm: any open node of it, on any card, would stop that. */
	if (h->reload.n && r >= 0) {
		r = gh_holders_nodes_add_path(ctx, nodes, "/dev/nvidia-modeset");
		/* The node names only: the other card's attributes may sit behind a wedged device_lock. */
		for (size_t k = 0; k < h->others.n && r >= 0; k++) {
			struct gh_strv drm = { 0 };

			gh_fs_list(ctx, &drm, "/sys/bus/pci/devices/%s/drm", h->others.v[k]);
			for (size_t n = 0; n < drm.n && r >= 0; n++) {
				r = gh_util_format(p, sizeof(p), "/dev/dri/%s", drm.v[n]);
				if (r >= 0)
					r = gh_holders_nodes_add_path(ctx, nodes, p);
			}
			gh_strv_free(&drm);
		}
	}
	for (unsigned i = 0; i < h->n_f && r >= 0; i++) {
		const struct gh_pci_dev *d = &h->f[i].dev;

		r = gh_holders_nodes_add_sysfs(ctx, nodes, d->addr);
		if (r >= 0 && !h->single_gpu && !strcmp(d->driver, "nvidia")) {
			int minor = gh_pci_nvidia_minor(ctx, d->addr);

			if (minor >= 0) {
				snprintf(p, sizeof(p), "/dev/nvidia%d", minor);
				r = gh_holders_nodes_add_path(ctx, nodes, p);
			} else {
				gh_warn(ctx, "%s: cannot tell its /dev/nvidiaN from "
					"/proc/driver/nvidia/gpus/%s/information (%s); checking every /dev/nvidia*",
					d->addr, d->addr, strerror(-minor));
				r = gh_holders_nodes_add_path(ctx, nodes, "/dev/nvidia*");
			}
		}
		/* The sysfs walk finds these too; by name they are found when sysfs lacks a dev file. */
		for (size_t k = 0; k < d->drm.n && r >= 0; k++) {
			if (gh_util_format(p, sizeof(p), "/dev/dri/%s", d->drm.v[k]) < 0)
				return -ENAMETOOLONG;
			r = gh_holders_nodes_add_path(ctx, nodes, p);
		}
		for (size_t k = 0; k < d->fbs.n && r >= 0; k++) {
			if (gh_util_format(p, sizeof(p), "/dev/%s", d->fbs.v[k]) < 0)
				return -ENAMETOOLONG;
			r = gh_holders_nodes_add_path(ctx, nodes, p);
		}
		if (d->iommu_group >= 0 && r >= 0) {
			snprintf(p, sizeof(p), "/dev/vfio/%d", d->iommu_group);
			r = gh_holders_nodes_add_path(ctx, nodes, p);
		}
	}
	return r;
}


/*
 * Units that holders = stop-unit must not stop: a user manager's own units
 * (the system's systemctl cannot reach them) and scopes (a login session:
 * systemd cannot start a scope again, so it could not be undone).
 */
static bool in_user_manager(const struct gh_holder *ho)
{
	size_t len = strlen(ho->unit);

	return ho->user_manager || (len > 6 && !strcmp(ho->unit + len - 6, ".scope"));
}

/* gpu-hook's own session and unit (/proc/self), never to be killed or stopped. */
struct self {
	pid_t sid;
	char unit[256];
};

static void read_self(struct gh_ctx *ctx, struct self *me)
{
	char buf[4096], ct[32];
	unsigned long pid;
	int n;

	memset(me, 0, sizeof(*me));
	n = gh_fs_readlink(ctx, buf, sizeof(buf), "/proc/self");
	if (n > 0 && gh_util_parse_ulong(buf, 10, 4194304, &pid) >= 0)
		gh_holders_proc_stat(ctx, (pid_t)pid, NULL, &me->sid);
	if (gh_fs_read_str(ctx, buf, sizeof(buf), "/proc/self/cgroup") < 0)
		return;
	for (char *line = buf; line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		gh_holders_parse_cgroup(line + 3, me->unit, sizeof(me->unit), ct, sizeof(ct));
		break;
	}
}

/*
 * Processes whose end would cut off the host's logins or the very session
 * that runs gpu-hook. NULL when the holder is none of them, else why. Names
 * are compared as collected (escaped): a process calling itself "sshd" is
 * refused rather than killed, which errs the safe way.
 */
static const char *protected_holder(const struct gh_holder *ho, const struct self *me)
{
	static const char *const comms[] = { "systemd", "systemd-logind", "dbus-daemon", "dbus-broker",
					     "dbus-broker-lau", "sshd", "sshd-session", "sshd-auth", "cron", "crond",
					     "atd" };
	static const char *const units[] = { "systemd-logind.service", "dbus.service", "dbus-broker.service",
					     "ssh.service", "sshd.service", "cron.service", "crond.service",
					     "atd.service" };
	bool system_unit = ho->unit[0] && !ho->container[0] && !ho->user_manager;

	if (ho->pid == 1)
		return "it is the init process";
	if (me->sid > 0 && ho->pid == me->sid)
		return "it leads the session gpu-hook runs in";
	if (system_unit && me->unit[0] && !strcmp(ho->unit, me->unit))
		return "it runs in the unit gpu-hook runs in";
	for (size_t i = 0; i < GH_ARRAY_SIZE(comms); i++)
		if (!strcmp(ho->comm, comms[i]))
			return "logins and the system bus depend on it";
	for (size_t i = 0; system_unit && i < GH_ARRAY_SIZE(units); i++)
		if (!strcmp(ho->unit, units[i]))
			return "logins and the system bus depend on it";
	if (system_unit && (!strncmp(ho->unit, "ssh@", 4) || !strncmp(ho->unit, "sshd@", 5)))
		return "logins and the system bus depend on it";
	return NULL;
}

static int add_kill(struct gh_host *h, const struct gh_holder *ho, int pidfd)
{
	struct gh_kill *v = gh_util_grow(h->kill, h->n_kill, sizeof(*v));

	if (!v)
		return -ENOMEM;
	h->kill = v;
	v = &h->kill[h->n_kill++];
	memset(v, 0, sizeof(*v));
	v->pid = ho->pid;
	v->start = ho->start;
	v->pidfd = pidfd;
	gh_util_copy(v->comm, sizeof(v->comm), ho->comm[0] ? ho->comm : "?");
	return 0;
}

/* holders = kill: pinned now, killed by the plan. */
static int kill_holder(struct gh_ctx *ctx, struct gh_host *h, const struct gh_holder *ho, const char *desc)
{
	int pidfd = -1, r = gh_holders_pin(ctx, ho, &pidfd);

	/* Gone since the scan (its number may be another's now): nothing of it to kill. */
	if (r == -ESRCH)
		return 0;
	if (r < 0)
		return gh_refusal_add(&h->refusals, GH_REFUSAL_HOLDER, "held by %s (cannot pin it for holders = kill: "
				      "%s; stop it yourself)", desc,
				      r == -EINVAL ? "its start time is unknown" : strerror(-r));
	r = add_kill(h, ho, pidfd);
	if (r < 0 && pidfd >= 0)
		close(pidfd);
	return r;
}

/*
 * A container's process and a protected one refuse the handoff, named. A
 * holder inside a unit of the system manager that we stop anyway is that
 * unit's stop (a user manager's unit of the same name is not that unit);
 * under holders=stop-unit its unit joins the stop list; under kill it is
 * pinned and killed; everything else refuses the handoff, naming it.
 */
static int classify(struct gh_ctx *ctx, struct gh_host *h, const struct gh_holder *ho, const struct self *me)
{
	bool system_unit = ho->unit[0] && !ho->container[0] && !in_user_manager(ho);
	const char *prot = ho->container[0] ? NULL : protected_holder(ho, me);
	char desc[1024];

	if (gh_holders_describe(ho, desc, sizeof(desc)) < 0)
		return -ENAMETOOLONG;
	if (prot)
		return gh_refusal_add(&h->refusals, GH_REFUSAL_HOLDER, "held by %s (%s: gpu-hook never kills or stops "
				      "it; close the device in it yourself)", desc, prot);
	if (system_unit && gh_strv_contains(&h->services, ho->unit))
		return 0;
	if (h->pol.holders == GH_HOLDERS_STOP_UNIT && system_unit && gh_services_valid_name(ho->unit)) {
		if (gh_strv_add(&h->services, ho->unit) < 0 || gh_strv_add(&h->services_known, ho->unit) < 0)
			return -ENOMEM;
		return 0;
	}
	if (h->pol.holders == GH_HOLDERS_KILL && !ho->container[0])
		return kill_holder(ctx, h, ho, desc);
	return gh_refusal_add(&h->refusals, GH_REFUSAL_HOLDER, "held by %s%s", desc,
			      ho->container[0] ? " (stop the container first)" :
			      in_user_manager(ho) ? " (a user session or a unit of one: gpu-hook cannot stop and "
						    "restart it; stop it yourself)" :
			      h->pol.holders == GH_HOLDERS_REFUSE ? " (stop it, or set holders = stop-unit)" : "");
}

int gh_host_holders_classify(struct gh_ctx *ctx, struct gh_host *h)
{
	struct self me;
	int r = 0;

	read_self(ctx, &me);
	for (unsigned i = 0; i < h->holders.n && r >= 0; i++)
		r = classify(ctx, h, &h->holders.v[i], &me);
	return r;
}
