/* SPDX-License-Identifier: MIT */
#ifndef GH_HOOK_H
#define GH_HOOK_H

#include <stdbool.h>
#include <stdio.h>

#include "ctx.h"

/* Exit codes are decided here, in hook/, and nowhere else. */
enum { GH_EXIT_OK = 0, GH_EXIT_FAIL = 1, GH_EXIT_USAGE = 2 };

struct gh_opts {
	const char *root;
	bool dry_run;
	bool json;
	int verbose;
	bool help;
	const char *storage;	/* install --storage */
	/* positionals after the command word */
	int argc;
	char **argv;
};

struct gh_cmd {
	const char *name;
	int (*fn)(const struct gh_cmd *cmd, struct gh_opts *o);
	const char *usage;
	const char *desc;
};

/* logsink.c: stderr (line-buffered) and syslog, prefixed "gpu-hook[<tag>]: ". */
void gh_logsink_open(const char *tag, bool use_syslog);
void gh_logsink_fn(void *data, int priority, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void gh_logsink_close(void);

/* main.c: a context on opts->root with the log sink installed; NULL after logging why. */
struct gh_ctx *gh_hook_ctx(const struct gh_opts *o, const char *tag);
void gh_hook_usage(FILE *f, const struct gh_cmd *cmd);
/* main.c: the vmid argument arg, or false after printing why it is none (a usage error, exit 2). */
bool gh_hook_vmid(const char *arg, unsigned *vmid);

int gh_cmd_phase(const struct gh_cmd *cmd, struct gh_opts *o);
int gh_cmd_status(const struct gh_cmd *cmd, struct gh_opts *o);
int gh_cmd_check(const struct gh_cmd *cmd, struct gh_opts *o);
int gh_cmd_install(const struct gh_cmd *cmd, struct gh_opts *o);
int gh_cmd_uninstall(const struct gh_cmd *cmd, struct gh_opts *o);
int gh_cmd_recover(const struct gh_cmd *cmd, struct gh_opts *o);
int gh_cmd_to_vfio(const struct gh_cmd *cmd, struct gh_opts *o);
int gh_cmd_to_host(const struct gh_cmd *cmd, struct gh_opts *o);
int gh_cmd_watch(const struct gh_cmd *cmd, struct gh_opts *o);

/* cmd-watch.c: starts the detached watcher for vmid and writes its record (lib/watch.h). 0 or -errno, logged. */
enum gh_watch_reason;
int gh_hook_watch_arm(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid, enum gh_watch_reason reason);
/* cmd-phase.c: post-stop's way back for vmid, the global lock already held. An exit code. */
int gh_hook_give_back(struct gh_ctx *ctx, const struct gh_opts *o, unsigned vmid);

#endif
