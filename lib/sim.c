/* SPDX-License-Identifier: MIT */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"
#include "fs.h"
#include "pci.h"
#include "pciid.h"
#include "services.h"

/* The NVIDIA graph and the drivers modules register (kernel.md). */
static const struct {
	const char *module, *driver, *dep;
} known[] = {
	{ "nvidia", "nvidia", NULL },
	{ "nvidia_modeset", NULL, "nvidia" },
	{ "nvidia_drm", NULL, "nvidia_modeset" },
	{ "nvidia_uvm", NULL, "nvidia" },
	{ "nvidia_peermem", NULL, "nvidia" },
	{ "snd_hda_intel", "snd_hda_intel", NULL },
	{ "vfio_pci", "vfio-pci", NULL },
	{ "i2c_nvidia_gpu", "nvidia-gpu", NULL },
	{ "xhci_pci", "xhci_hcd", NULL },
};

const char *gh_sim_module_driver(const char *module)
{
	for (size_t i = 0; i < GH_ARRAY_SIZE(known); i++)
		if (!strcmp(known[i].module, module))
			return known[i].driver;
	return NULL;
}

static int link_device(struct gh_ctx *ctx, const char *addr, const char *drv)
{
	char target[PATH_MAX];
	int r;

	if (gh_util_format(target, sizeof(target), "../../../../devices/pci0000:00/%s", addr) < 0)
		return -ENAMETOOLONG;
	r = gh_fs_symlink(ctx, target, "/sys/bus/pci/drivers/%s/%s", drv, addr);
	if (r < 0 && r != -EEXIST)
		return r;
	if (gh_util_format(target, sizeof(target), "../../../bus/pci/drivers/%s", drv) < 0)
		return -ENAMETOOLONG;
	gh_fs_remove(ctx, "/sys/bus/pci/devices/%s/driver", addr);
	r = gh_fs_symlink(ctx, target, "/sys/bus/pci/devices/%s/driver", addr);
	/* vfio-pci makes the group's node when it binds a member. */
	if (r >= 0 && !strcmp(drv, "vfio-pci")) {
		char grp[32];

		if (gh_fs_link_base(ctx, grp, sizeof(grp), "/sys/bus/pci/devices/%s/iommu_group", addr) >= 0 &&
		    gh_fs_mkdir(ctx, 0755, "/dev/vfio") >= 0 && gh_fs_exists(ctx, "/dev/vfio/%s", grp) <= 0)
			r = gh_fs_write_file(ctx, "", "/dev/vfio/%s", grp);
	}
	return r;
}

static int unlink_device(struct gh_ctx *ctx, const char *addr, const char *drv)
{
	gh_fs_remove(ctx, "/sys/bus/pci/drivers/%s/%s", drv, addr);
	return gh_fs_remove(ctx, "/sys/bus/pci/devices/%s/driver", addr);
}

/*
 * The simulator acts out the kernel on a fixture tree only: under the real
 * root (gh_ctx_root ""), its writes would land in this machine's /sys, /proc
 * and /run. Every op refuses there, whoever calls it.
 */
bool gh_sim_on_fixture(const struct gh_ctx *ctx)
{
	return gh_ctx_root(ctx)[0] != '\0';
}

static int sim_bind(struct gh_ctx *ctx, const char *addr, const char *drv)
{
	struct gh_pci_dev d = { 0 };
	int r = gh_pci_read(ctx, addr, &d);

	if (r < 0)
		return r == -ENOENT ? -ENODEV : r;
	if (d.driver[0])
		r = -EBUSY;
	else if ((d.override[0] && strcmp(d.override, drv)) || gh_fs_exists(ctx, "/sys/bus/pci/drivers/%s", drv) <= 0)
		r = -ENODEV;
	else
		r = link_device(ctx, addr, drv);
	gh_pci_dev_free(&d);
	return r;
}

/* The driver a reprobe would pick: the override, else the class default. */
static int sim_probe(struct gh_ctx *ctx, const char *addr)
{
	struct gh_pci_dev d = { 0 };
	const char *drv;
	int r = gh_pci_read(ctx, addr, &d);

	if (r < 0)
		return r == -ENOENT ? -ENODEV : r;
	drv = d.override[0] ? d.override : gh_pci_default_driver(&d);
	r = 0;
	/* Like the kernel: success even when no driver takes it. */
	if (!d.driver[0] && drv && gh_fs_exists(ctx, "/sys/bus/pci/drivers/%s", drv) > 0)
		r = link_device(ctx, addr, drv);
	gh_pci_dev_free(&d);
	return r;
}

static int sim_write(struct gh_ctx *ctx, const char *path, const char *value)
{
	char a[64], b[64], v[128];
	size_t len = strlen(value);

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (!len || len >= sizeof(v))
		return len ? -EINVAL : 0;
	memcpy(v, value, len + 1);
	if (v[len - 1] == '\n')
		v[--len] = '\0';
	if (sscanf(path, "/sys/bus/pci/devices/%63[^/]/%63s", a, b) == 2 && !strcmp(b, "driver_override")) {
		if (!gh_pciid_is_addr(a) || gh_fs_exists(ctx, "/sys/bus/pci/devices/%s", a) <= 0)
			return -ENOENT;
		return gh_fs_write_file(ctx, len ? value : "(null)\n", "/sys/devices/pci0000:00/%s/driver_override", a);
	}
	if (!strcmp(path, "/sys/bus/pci/drivers_probe"))
		return gh_pciid_is_addr(v) ? sim_probe(ctx, v) : -ENODEV;
	if (sscanf(path, "/sys/bus/pci/drivers/%63[^/]/%63s", a, b) == 2) {
		char cur[64] = "";

		if (gh_fs_exists(ctx, "/sys/bus/pci/drivers/%s", a) <= 0)
			return -ENOENT;
		if (!strcmp(b, "remove_id") || !strcmp(b, "new_id"))
			return 0;
		if (!gh_pciid_is_addr(v))
			return -ENODEV;
		if (!strcmp(b, "bind"))
			return sim_bind(ctx, v, a);
		if (strcmp(b, "unbind"))
			return -EINVAL;
		gh_fs_link_base(ctx, cur, sizeof(cur), "/sys/bus/pci/devices/%s/driver", v);
		if (strcmp(cur, a))
			return -ENODEV;
		return unlink_device(ctx, v, a);
	}
	if (sscanf(path, "/sys/bus/platform/drivers/%63[^/]/%63s", a, b) == 2 && !strcmp(b, "unbind")) {
		char cur[64] = "";

		gh_fs_link_base(ctx, cur, sizeof(cur), "/sys/bus/platform/devices/%s/driver", v);
		if (strcmp(cur, a))
			return -ENODEV;
		return gh_fs_remove(ctx, "/sys/bus/platform/devices/%s/driver", v);
	}
	if (gh_fs_exists(ctx, "%s", path) <= 0)
		return -ENOENT;
	return gh_fs_write_file(ctx, value, "%s", path);
}

static int sim_module_remove(struct gh_ctx *ctx, const char *name)
{
	struct gh_strv holders = { 0 }, drivers = { 0 }, mods = { 0 };
	int r;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (gh_fs_exists(ctx, "/sys/module/%s", name) <= 0)
		return -ENOENT;
	if (gh_fs_exists(ctx, "/sys/module/%s/initstate", name) <= 0)
		return -EEXIST;
	r = gh_fs_list(ctx, &holders, "/sys/module/%s/holders", name);
	if (r >= 0 && holders.n)
		r = -EAGAIN;
	gh_strv_free(&holders);
	if (r < 0)
		return r;
	r = gh_fs_list(ctx, &drivers, "/sys/bus/pci/drivers");
	for (size_t i = 0; i < drivers.n && r >= 0; i++) {
		char mod[64];
		struct gh_strv devs = { 0 };

		if (gh_fs_link_base(ctx, mod, sizeof(mod), "/sys/bus/pci/drivers/%s/module", drivers.v[i]) < 0 ||
		    strcmp(mod, name))
			continue;
		/* Unloading a driver's module unbinds every device it had. */
		r = gh_fs_list(ctx, &devs, "/sys/bus/pci/drivers/%s", drivers.v[i]);
		for (size_t k = 0; k < devs.n && r >= 0; k++)
			if (gh_pciid_is_addr(devs.v[k]))
				r = gh_fs_remove(ctx, "/sys/bus/pci/devices/%s/driver", devs.v[k]);
		gh_strv_free(&devs);
		if (r >= 0)
			r = gh_fs_remove_tree(ctx, "/sys/bus/pci/drivers/%s", drivers.v[i]);
	}
	gh_strv_free(&drivers);
	r = r < 0 ? r : gh_fs_list(ctx, &mods, "/sys/module");
	for (size_t i = 0; i < mods.n && r >= 0; i++)
		if (gh_fs_exists(ctx, "/sys/module/%s/holders/%s", mods.v[i], name) > 0)
			r = gh_fs_remove(ctx, "/sys/module/%s/holders/%s", mods.v[i], name);
	gh_strv_free(&mods);
	return r < 0 ? r : gh_fs_remove_tree(ctx, "/sys/module/%s", name);
}

static int sim_module_load(struct gh_ctx *ctx, const char *name)
{
	const char *driver = NULL, *dep = NULL;
	struct gh_strv devs = { 0 };
	char target[128];
	int r;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (gh_fs_exists(ctx, "/sys/module/%s", name) > 0)
		return 0;
	for (size_t i = 0; i < GH_ARRAY_SIZE(known); i++) {
		if (!strcmp(known[i].module, name)) {
			driver = known[i].driver;
			dep = known[i].dep;
		}
	}
	if (gh_fs_exists(ctx, "/lib/modules-missing/%s", name) > 0)
		return -ENOENT;
	if (dep) {
		r = sim_module_load(ctx, dep);
		if (r < 0)
			return r;
		if (gh_util_format(target, sizeof(target), "../../%s", name) < 0)
			return -ENAMETOOLONG;
		r = gh_fs_mkdir(ctx, 0755, "/sys/module/%s/holders", dep);
		if (r >= 0)
			r = gh_fs_symlink(ctx, target, "/sys/module/%s/holders/%s", dep, name);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	r = gh_fs_mkdir(ctx, 0755, "/sys/module/%s/holders", name);
	if (r >= 0)
		r = gh_fs_write_file(ctx, "live\n", "/sys/module/%s/initstate", name);
	if (r >= 0)
		r = gh_fs_write_file(ctx, "0\n", "/sys/module/%s/refcnt", name);
	if (r < 0 || !driver)
		return r;
	r = gh_fs_mkdir(ctx, 0755, "/sys/bus/pci/drivers/%s", driver);
	if (r >= 0 && gh_util_format(target, sizeof(target), "../../../../module/%s", name) < 0)
		r = -ENAMETOOLONG;
	if (r >= 0)
		r = gh_fs_symlink(ctx, target, "/sys/bus/pci/drivers/%s/module", driver);
	if (r < 0 && r != -EEXIST)
		return r;
	/* A new driver probes every unbound device that matches it. */
	r = gh_pci_list(ctx, &devs);
	for (size_t i = 0; i < devs.n && r >= 0; i++) {
		struct gh_pci_dev d = { 0 };
		const char *want;

		if (gh_pci_read(ctx, devs.v[i], &d) < 0)
			continue;
		want = d.override[0] ? d.override : gh_pci_default_driver(&d);
		if (!d.driver[0] && want && !strcmp(want, driver))
			r = link_device(ctx, d.addr, driver);
		gh_pci_dev_free(&d);
	}
	gh_strv_free(&devs);
	return r;
}

static int end_process(struct gh_ctx *ctx, const char *pid)
{
	return gh_fs_remove_tree(ctx, "/proc/%s", pid);
}

/*
 * systemctl on a fixture root. A unit is active while its cgroup has
 * processes, or, for a oneshot unit with RemainAfterExit=yes that is
 * "active (exited)" with an empty cgroup, while the fixture file
 * /run/gh-sim/active/<unit> exists: the simulator's stand-in for the state
 * PID 1 keeps in memory. Answers with systemctl is-active's exit statuses.
 */
static int sim_service(struct gh_ctx *ctx, const char *verb, const char *unit)
{
	char procs[256];
	int r;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (!strcmp(verb, "is-active")) {
		r = gh_services_cgroup_active(ctx, unit);
		if (r == 0)
			r = gh_fs_exists(ctx, "/run/gh-sim/active/%s", unit);
		return r < 0 ? r : r > 0 ? 0 : -3;
	}
	if (!strcmp(verb, "stop")) {
		r = gh_fs_remove(ctx, "/run/gh-sim/active/%s", unit);
		if (r < 0 && r != -ENOENT)
			return r;
		r = gh_fs_read_str(ctx, procs, sizeof(procs), "/sys/fs/cgroup/system.slice/%s/cgroup.procs", unit);
		if (r > 0) {
			char *save = NULL;

			for (char *pid = strtok_r(procs, "\n", &save); pid; pid = strtok_r(NULL, "\n", &save))
				end_process(ctx, pid);
		}
		r = gh_fs_remove_tree(ctx, "/sys/fs/cgroup/system.slice/%s", unit);
		return r == -ENOENT ? 0 : r;
	}
	if (!strcmp(verb, "start")) {
		r = gh_fs_mkdir(ctx, 0755, "/sys/fs/cgroup/system.slice/%s", unit);
		return r < 0 ? r : gh_fs_write_file(ctx, "1\n", "/sys/fs/cgroup/system.slice/%s/cgroup.procs", unit);
	}
	return -EINVAL;
}

static int sim_signal(struct gh_ctx *ctx, pid_t pid, int pidfd, int sig)
{
	char p[32];

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	/* The fixture's process of that number; never a real one. */
	(void)pidfd;
	if (gh_fs_exists(ctx, "/proc/%d", (int)pid) <= 0)
		return -ESRCH;
	if (sig == 0)
		return 0;
	snprintf(p, sizeof(p), "%d", (int)pid);
	return end_process(ctx, p);
}

/*
 * The scheduler's state of a fixture thread lives in the fixture's /proc, as
 * the kernel shows it: Cpus_allowed_list in /proc/<pid>/task/<tid>/status,
 * policy and prio in .../sched. A thread id read from a fixture may name a
 * real thread of this machine: sched_setaffinity on it would pin that one.
 */
static int sim_task(struct gh_ctx *ctx, pid_t tid, unsigned long *pid)
{
	struct gh_strv procs = { 0 };
	int r;

	*pid = 0;
	if (tid <= 0)
		return -ESRCH;
	if (gh_fs_exists(ctx, "/proc/%d/task/%d", (int)tid, (int)tid) > 0) {
		*pid = (unsigned long)tid;
		return 0;
	}
	r = gh_fs_list(ctx, &procs, "/proc");
	for (size_t i = 0; i < procs.n && r >= 0 && !*pid; i++)
		if (gh_util_parse_ulong(procs.v[i], 10, INT_MAX, pid) < 0 ||
		    gh_fs_exists(ctx, "/proc/%lu/task/%d", *pid, (int)tid) <= 0)
			*pid = 0;
	gh_strv_free(&procs);
	return r < 0 ? r : *pid ? 0 : -ESRCH;
}

/* The task file with its line for key replaced by line (appended when it had none). */
static int set_task_line(struct gh_ctx *ctx, unsigned long pid, pid_t tid, const char *file, const char *key,
			 const char *line)
{
	char old[4096], out[4096];
	size_t klen = strlen(key), len = 0;
	char *save = NULL;
	int r = gh_fs_read_str(ctx, old, sizeof(old), "/proc/%lu/task/%d/%s", pid, (int)tid, file);

	if (r < 0 && r != -ENOENT)
		return r;
	if (r < 0)
		old[0] = '\0';
	for (char *l = strtok_r(old, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int w;

		if (!strncmp(l, key, klen) && (l[klen] == ':' || l[klen] == ' ' || l[klen] == '\t'))
			continue;
		w = snprintf(out + len, sizeof(out) - len, "%s\n", l);
		if (w < 0 || (size_t)w >= sizeof(out) - len)
			return -EFBIG;
		len += (size_t)w;
	}
	if (gh_util_format(out + len, sizeof(out) - len, "%s\n", line) < 0)
		return -EFBIG;
	return gh_fs_write_file(ctx, out, "/proc/%lu/task/%d/%s", pid, (int)tid, file);
}

/* A cpulist from the tree: 0, or -EINVAL when it is none. */
static int read_cpus(const char *text, cpu_set_t *set)
{
	const char *bad;

	return gh_cpulist_parse(text, set, &bad) < 0 ? -EINVAL : 0;
}

static int sim_online(struct gh_ctx *ctx, cpu_set_t *set)
{
	char buf[1024];
	int r = gh_fs_read_str(ctx, buf, sizeof(buf), "/sys/devices/system/cpu/online");

	return r < 0 ? r : read_cpus(gh_util_trim(buf), set);
}

/* Like sched_setaffinity: the mask is cut to the online CPUs, and none left is -EINVAL. */
static int sim_set_affinity(struct gh_ctx *ctx, pid_t tid, const cpu_set_t *set)
{
	char list[1024], line[1100];
	cpu_set_t mask = *set, online;
	unsigned long pid;
	int r;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	r = sim_task(ctx, tid, &pid);
	if (r < 0)
		return r;
	if (sim_online(ctx, &online) == 0)
		CPU_AND(&mask, &mask, &online);
	if (!CPU_COUNT(&mask))
		return -EINVAL;
	if (gh_cpulist_format(&mask, list, sizeof(list)) < 0 ||
	    gh_util_format(line, sizeof(line), "Cpus_allowed_list:\t%s", list) < 0)
		return -E2BIG;
	return set_task_line(ctx, pid, tid, "status", "Cpus_allowed_list", line);
}

/* What status says, else what a new thread gets: every online CPU. */
static int sim_get_affinity(struct gh_ctx *ctx, pid_t tid, cpu_set_t *set)
{
	char status[4096], *save = NULL;
	unsigned long pid;
	int r;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	r = sim_task(ctx, tid, &pid);
	if (r >= 0)
		r = gh_fs_read_str(ctx, status, sizeof(status), "/proc/%lu/task/%d/status", pid, (int)tid);
	if (r == -ENOENT)
		return sim_online(ctx, set);
	if (r < 0)
		return r;
	for (char *l = strtok_r(status, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (!strncmp(l, "Cpus_allowed_list:", 18))
			return read_cpus(gh_util_trim(l + 18), set);
	return sim_online(ctx, set);
}

/* As /proc/<pid>/task/<tid>/sched shows it: prio is 99 - the real-time priority, 120 for SCHED_OTHER. */
static int sim_set_sched(struct gh_ctx *ctx, pid_t tid, int policy, int priority)
{
	char line[128];
	bool rt = policy == SCHED_FIFO || policy == SCHED_RR;
	unsigned long pid;
	int r;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (rt ? priority < 1 || priority > 99 : policy != SCHED_OTHER || priority)
		return -EINVAL;
	r = sim_task(ctx, tid, &pid);
	if (r >= 0 && gh_util_format(line, sizeof(line), "policy : %d", policy) < 0)
		r = -E2BIG;
	if (r >= 0)
		r = set_task_line(ctx, pid, tid, "sched", "policy", line);
	if (r >= 0 && gh_util_format(line, sizeof(line), "prio : %d", rt ? 99 - priority : 120) < 0)
		r = -E2BIG;
	return r < 0 ? r : set_task_line(ctx, pid, tid, "sched", "prio", line);
}

/*
 * Nothing is executed under a fixture root (the tree's usr/sbin/qm is not the
 * host's, and running the host's would change the host): the argv is
 * appended as one line to /run/gpu-hook/executed in the tree.
 */
static int sim_run(struct gh_ctx *ctx, char *const argv[])
{
	char line[1024] = "", esc[256];
	size_t len = 0;
	ssize_t n;
	int fd;

	if (!gh_sim_on_fixture(ctx))
		return -EPERM;
	if (!argv[0])
		return -EINVAL;
	for (size_t i = 0; argv[i]; i++) {
		int w = snprintf(line + len, sizeof(line) - len, "%s%s", i ? " " : "",
				 gh_util_escape(argv[i], esc, sizeof(esc)));

		if (w < 0 || (size_t)w >= sizeof(line) - len - 1)
			return -E2BIG;
		len += (size_t)w;
	}
	line[len++] = '\n';
	fd = gh_fs_mkdir(ctx, 0700, "/run/gpu-hook");
	if (fd >= 0)
		fd = gh_fs_open(ctx, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY, "/run/gpu-hook/executed");
	if (fd < 0)
		return fd;
	n = write(fd, line, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? (int)n : (size_t)n != len ? -EIO : 0;
}

const struct gh_ops gh_sim_ops = {
	.write = sim_write,
	.service = sim_service,
	.signal = sim_signal,
	.module_remove = sim_module_remove,
	.module_load = sim_module_load,
	.set_affinity = sim_set_affinity,
	.get_affinity = sim_get_affinity,
	.set_sched = sim_set_sched,
	.run = sim_run,
};
