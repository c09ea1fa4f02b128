/* SPDX-License-Identifier: MIT */
#ifndef GH_POLICY_H
#define GH_POLICY_H

/*
 * Per-VM policy: /etc/gpu-hook/gpu-hook.ini (defaults for every VM), then
 * /etc/gpu-hook/<vmid>.ini over it, parsed with inih. Schema:
 *
 *   [handoff]
 *   devices  = 01:00.0, 0000:01:00.1   ids as in hostpciN; default: hostpci
 *   services = nvidia-persistenced.service display-manager.service
 *   holders  = refuse | stop-unit | kill           (default refuse)
 *   console  = auto | detach | keep                (default auto)
 *   restore  = yes | no                            (default yes)
 *   timeout  = 10s | 2500ms | 10                   (default 10 s, 1..300 s)
 *   start_watch  = 30m    watcher bound on a start under the config lock (10 s..24 h)
 *   reboot_watch = 60s    how long a reboot's post-stop keeps the card for the restart (1 s..60 m)
 *   module_timeout  = 60s    one module load or unload   (default 60 s, 1..600 s)
 *   service_timeout = 60s    one systemctl start or stop (default 60 s, 1..600 s)
 *   modeset_hold = refuse | reload                 (default refuse; see modules.h)
 *   [drivers]
 *   0000:01:00.1 = snd_hda_intel                   host driver per function
 *   [pinning]
 *   vcpus  = 4-7            i-th CPU for vCPU i, in the order written
 *   others = 0-3            emulator and I/O threads
 *   sched  = other | fifo:N | rr:N                 (N 1..99)
 *   wait   = 5s                                    (wait for vCPU threads)
 *   [isolation]          host kept off the VM's CPUs while it runs (lib/isolate.h)
 *   enabled = yes | no                             (default yes once the section is there)
 *   cpus    = 2-7        default: [pinning] vcpus + others
 *   housekeeping_min = 1 CPUs the host keeps at least
 *   slices = yes | no, writeback = yes | no        (default yes)
 *   irqs = no, governor = keep                     (the only values this version supports)
 *
 * Lists take commas and/or blanks. Unknown sections and keys and bad values
 * are errors "file:line: message"; every error is reported, then -EINVAL.
 * A file that is not a regular file, not owned by root (or by the user
 * running gpu-hook) or is writable by group or others is refused, as doas
 * refuses its config.
 */

#include <sched.h>
#include <stdbool.h>
#include <stdio.h>

#include "ctx.h"
#include "pciid.h"
#include "util.h"

#define GH_POLICY_DEVICES_MAX 32
#define GH_POLICY_VCPUS_MAX 1024

enum gh_holders_mode { GH_HOLDERS_REFUSE, GH_HOLDERS_STOP_UNIT, GH_HOLDERS_KILL };
enum gh_console_mode { GH_CONSOLE_AUTO, GH_CONSOLE_DETACH, GH_CONSOLE_KEEP };
/* Two cards on an nvidia driver whose nvidia-drm holds them all: refuse, or reload nvidia-drm around the unbind. */
enum gh_modeset_hold_mode { GH_MODESET_HOLD_REFUSE, GH_MODESET_HOLD_RELOAD };

struct gh_policy_driver {
	char addr[GH_PCI_ADDR_LEN];
	char driver[64];
};

struct gh_policy {
	struct gh_pciid devices[GH_POLICY_DEVICES_MAX];
	unsigned n_devices;		/* 0: the VM's hostpci entries */
	struct gh_policy_driver drivers[GH_POLICY_DEVICES_MAX];
	unsigned n_drivers;
	struct gh_strv services;	/* units, stopped when active */
	enum gh_holders_mode holders;
	enum gh_console_mode console;
	bool restore;
	unsigned timeout_ms;		/* one sysfs write or signal step */
	unsigned module_timeout_ms;	/* one module load or unload */
	unsigned service_timeout_ms;	/* one systemctl start or stop */
	unsigned start_watch_ms;	/* lib/watch.h */
	unsigned reboot_watch_ms;
	enum gh_modeset_hold_mode modeset_hold;
	int vcpus[GH_POLICY_VCPUS_MAX];
	size_t n_vcpus;			/* 0: no explicit map */
	cpu_set_t others;
	bool others_set;
	int sched_policy;		/* SCHED_OTHER, SCHED_FIFO, SCHED_RR */
	int sched_priority;
	unsigned wait_ms;		/* default 5000 */
	bool isolate;			/* an [isolation] section (lib/isolate.h) */
	cpu_set_t iso_cpus;		/* empty: the pinned CPUs */
	unsigned iso_housekeeping_min;	/* default 1 */
	bool iso_slices, iso_writeback;	/* default yes */
	bool iso_irqs, iso_other_vms;	/* default yes */
	bool iso_governor;		/* performance (default) or keep */
	struct gh_strv files;		/* the files that were read, in order */
};

/* The defaults above. */
int gh_policy_init(struct gh_policy *p);
/* Applies one file on top of p. */
/* p stays the caller's, valid, on failure too: free it with gh_policy_free either way. */
int gh_policy_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_policy *p);
/* init + gpu-hook.ini + <vmid>.ini through the root seam; missing files are fine. */
/* On failure p owns nothing (lib/README.md); after success, gh_policy_free. */
int gh_policy_load(struct gh_ctx *ctx, unsigned vmid, struct gh_policy *p);
/* The [drivers] entry for a full address, or NULL. */
const char *gh_policy_driver_for(const struct gh_policy *p, const char *addr);
void gh_policy_free(struct gh_policy *p);
const char *gh_policy_holders_name(enum gh_holders_mode m);
const char *gh_policy_console_name(enum gh_console_mode m);

#endif
