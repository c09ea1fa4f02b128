/* SPDX-License-Identifier: MIT */
#ifndef GH_TEST_FIXTURE_H
#define GH_TEST_FIXTURE_H

/*
 * Fixture roots for the unit suites: a fresh temporary tree per test, laid
 * out the way the kernel and Proxmox lay out the real one, and a context
 * whose log lines are captured for assertions.
 */

#include <check.h>
#include <limits.h>
#include <stdbool.h>

#include "ctx.h"

struct fx {
	char root[PATH_MAX];
	struct gh_ctx *ctx;
	char *log;		/* every captured line, "\n"-terminated */
	size_t log_len;
	int n_errors;		/* lines logged at LOG_ERR */
};

struct fx *fx_new(void);
void fx_free(struct fx *fx);

/* Paths are absolute system paths ("/sys/..."), created under fx->root. */
void fx_file(struct fx *fx, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void fx_link(struct fx *fx, const char *path, const char *target);
void fx_mkdir(struct fx *fx, const char *path);
void fx_chmod(struct fx *fx, const char *path, unsigned mode);
void fx_rm(struct fx *fx, const char *path);
/* Full host path of a system path inside the fixture (static buffer). */
const char *fx_path(struct fx *fx, const char *path);

/*
 * A PCI function with its sysfs attributes, driver link (driver NULL: none),
 * IOMMU group (group < 0: none), the driver's directory and its module link.
 */
void fx_pci(struct fx *fx, const char *addr, unsigned vendor, unsigned device, unsigned class,
	    const char *driver, int group);
void fx_pci_attr(struct fx *fx, const char *addr, const char *attr, const char *value);
/* A driver directory; module NULL for a built-in driver without a module link. */
void fx_driver(struct fx *fx, const char *driver, const char *module);
/* /sys/module/<name> live with refcnt and holders (NULL-terminated). */
void fx_module(struct fx *fx, const char *name, int refcnt, ...);
/*
 * /proc/<pid> with comm, cmdline (spaces become NULs), cgroup path and a stat
 * line (session = pid, start time fx_proc_start(pid)).
 */
void fx_proc(struct fx *fx, int pid, const char *comm, const char *cmdline, const char *cgroup);
unsigned long long fx_proc_start(int pid);
/* Rewrites /proc/<pid>/stat: another process with that number (start time), in session sid. */
void fx_proc_stat(struct fx *fx, int pid, unsigned long long start, int sid);
/*
 * Device nodes: the fixture's node is a link to a real character device of
 * this machine ("/dev/zero"), so that stat() gives a real st_rdev. An fd
 * link to a fixture node's path points at that real device, as the kernel's
 * fd link leads to the open file; fx_proc_fd_text keeps the text as given.
 */
void fx_node(struct fx *fx, const char *path, const char *real);
void fx_proc_fd(struct fx *fx, int pid, int fd, const char *target);
void fx_proc_fd_text(struct fx *fx, int pid, int fd, const char *text);
/* The device and inode columns a maps line shows for a fixture node: "0:5 1049" (hex major:minor). */
const char *fx_node_id(struct fx *fx, const char *path);
/* A sysfs device under a PCI function: <rel>/dev "maj:min" and uevent DEVNAME. */
void fx_sysfs_dev(struct fx *fx, const char *addr, const char *rel, const char *devnum, const char *devname);
void fx_proc_maps(struct fx *fx, int pid, const char *maps);
/* /etc/pve/qemu-server/<vmid>.conf */
void fx_vmconf(struct fx *fx, unsigned vmid, const char *text);

/*
 * The single-GPU host of the README demo: an RTX 4090 at 0000:01:00.0 (VGA
 * on nvidia) + .1 (HDMI audio on snd_hda_intel), group 14, console on
 * nvidia-drm fbdev (fb0, vtcon1), nvidia stack loaded, nvidia-persistenced
 * (pid 900) holding /dev/nvidiactl and /dev/nvidia0, a root port at
 * 0000:00:01.0, hostname pve1, VM 111 with hostpci0: 01:00,pcie=1,x-vga=1.
 * Nodes (fx_node): /dev/nvidia0 = /dev/zero, /dev/nvidiactl = /dev/full,
 * /dev/dri/card0 = /dev/tty and /dev/dri/renderD128 = /dev/ptmx (with their
 * sysfs dev files), /dev/snd/controlC0 = /dev/urandom (under 01:00.1).
 */
void fx_host_single(struct fx *fx);

/* A copy of the shipped example host (conf/example-host) as the fixture. */
void fx_example_host(struct fx *fx);

/* The built gpu-hook, run as a user runs it. */
struct fx_run {
	int status;	/* exit code, or 128 + signal */
	char out[65536];
	char err[65536];
};

/* Arguments NULL-terminated; env may add one "NAME=value". */
void fx_run_hook(struct fx_run *r, const char *env, ...);
void fx_run_argv(struct fx_run *r, const char *env, char **args);
/* The same, killed by SIGALRM (status 128 + 14) after timeout_s seconds; 0: no limit. */
void fx_run_argv_within(struct fx_run *r, const char *env, char **args, unsigned timeout_s);
/* A digest of every path, link target, mode and content under root. */
unsigned long fx_tree_digest(const char *root);

bool fx_log_has(const struct fx *fx, const char *needle);
/* o's member key; the test fails when there is none. */
struct json_object *fx_json_get(struct json_object *o, const char *key);
void fx_log_clear(struct fx *fx);

/* gh_vms_owner_in on a reading of its own (gh_vms_load, ask, gh_vms_free). */
int fx_vms_owner(struct gh_ctx *ctx, unsigned self, const char *addr, unsigned *vmid);

/* Runs a suite with CK_NORMAL output; returns the process exit code. */
int fx_run_suite(Suite *s);

#endif
