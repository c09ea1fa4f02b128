/* SPDX-License-Identifier: MIT */
#ifndef GH_CTX_H
#define GH_CTX_H

#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <syslog.h>

/*
 * The context of one run: the root every system path is prefixed with, the
 * dry-run flag, the log sink, the ops table and what a run learns on the way
 * (the node a migration comes from, the PCI functions to read in a child).
 * Opaque: read and set through the functions below.
 */
struct gh_ctx;

/* priority is a syslog priority (LOG_ERR .. LOG_DEBUG). */
typedef void (*gh_log_fn)(void *data, int priority, const char *fmt, va_list ap);

/*
 * Everything that acts on the running system goes through this table: the
 * kernel does not honour a fixture root (libkmod hard-codes /sys/module, a
 * sysfs write binds a real device, a pid names a real process). The hook
 * installs the real ops for "/" and the simulator (sim.c) for any other
 * root; unit tests install the simulator or their own fakes. Each op is a
 * plain synchronous call: the executor runs it in a timeboxed child.
 */
struct gh_ops {
	/* One write() of value to a system path (sysfs attribute). 0 or -errno. */
	int (*write)(struct gh_ctx *ctx, const char *path, const char *value);
	/* systemctl <verb> <unit>: 0, or -errno, or -(exit status) of systemctl. */
	int (*service)(struct gh_ctx *ctx, const char *verb, const char *unit);
	/*
	 * A signal to a process pinned by pidfd (pidfd_send_signal; never by bare
	 * number on the real system). pid names it in a fixture, where pidfd is -1.
	 */
	int (*signal)(struct gh_ctx *ctx, pid_t pid, int pidfd, int sig);
	/* 0, or -errno; "not loaded" is -ENOENT, "builtin" is -EEXIST. */
	int (*module_remove)(struct gh_ctx *ctx, const char *name);
	/* 0 when loaded or already loaded, or -errno. */
	int (*module_load)(struct gh_ctx *ctx, const char *name);
	int (*set_affinity)(struct gh_ctx *ctx, pid_t tid, const cpu_set_t *set);
	int (*get_affinity)(struct gh_ctx *ctx, pid_t tid, cpu_set_t *set);
	/* sched_setscheduler: SCHED_FIFO or SCHED_RR with a priority. */
	int (*set_sched)(struct gh_ctx *ctx, pid_t tid, int policy, int priority);
	/*
	 * A program run directly (no shell, no PATH lookup): argv[0] is its
	 * absolute system path. 0, or -errno, or -(exit status). The simulator
	 * runs nothing: it records the argv in the tree.
	 */
	int (*run)(struct gh_ctx *ctx, char *const argv[]);
};

int gh_ctx_new(const char *root, struct gh_ctx **out);
void gh_ctx_free(struct gh_ctx *ctx);
void gh_ctx_set_log_fn(struct gh_ctx *ctx, gh_log_fn fn, void *data);
void gh_ctx_set_log_priority(struct gh_ctx *ctx, int priority);
void gh_ctx_set_ops(struct gh_ctx *ctx, const struct gh_ops *ops, void *data);
int gh_ctx_set_migrated_from(struct gh_ctx *ctx, const char *node);
/* The hook sets it once from --dry-run; the library reads it here and nowhere else. */
void gh_ctx_set_dry_run(struct gh_ctx *ctx, bool dry_run);

/* The fixture root without a trailing slash; "" for the running system ("/"). */
const char *gh_ctx_root(const struct gh_ctx *ctx);
bool gh_ctx_dry_run(const struct gh_ctx *ctx);
int gh_ctx_log_priority(const struct gh_ctx *ctx);
/* NULL until gh_ctx_set_ops. */
const struct gh_ops *gh_ctx_ops(const struct gh_ctx *ctx);
void *gh_ctx_ops_data(const struct gh_ctx *ctx);
/* PVE_MIGRATED_FROM, "" when not migrating. */
const char *gh_ctx_migrated_from(const struct gh_ctx *ctx);

/*
 * PCI functions a journal holds: their locked reads go to a child
 * (gh_pci_suspect). Past GH_CTX_PCI_SUSPECTS_MAX every function is one.
 */
#define GH_CTX_PCI_SUSPECTS_MAX 64
void gh_ctx_add_pci_suspect(struct gh_ctx *ctx, const char *addr);
bool gh_ctx_pci_suspect(const struct gh_ctx *ctx, const char *addr);

void gh_log(const struct gh_ctx *ctx, int priority, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define gh_err(ctx, ...) gh_log((ctx), LOG_ERR, __VA_ARGS__)
#define gh_warn(ctx, ...) gh_log((ctx), LOG_WARNING, __VA_ARGS__)
#define gh_notice(ctx, ...) gh_log((ctx), LOG_NOTICE, __VA_ARGS__)
#define gh_info(ctx, ...) gh_log((ctx), LOG_INFO, __VA_ARGS__)
#define gh_dbg(ctx, ...) gh_log((ctx), LOG_DEBUG, __VA_ARGS__)

#endif
