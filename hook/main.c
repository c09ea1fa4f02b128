/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hook.h"
#include "modules.h"
#include "sim.h"
#include "util.h"
#include "vmconf.h"

static int cmd_help(const struct gh_cmd *cmd, struct gh_opts *o);
static int cmd_version(const struct gh_cmd *cmd, struct gh_opts *o);

/* "<vmid> <phase>" is matched before this table; see find_phase(). */
static const struct gh_cmd commands[] = {
	{ "status", gh_cmd_status, "status [<vmid>] [--json] [--root DIR]",
	  "show the GPU functions, their drivers, overrides and IOMMU groups, and any wedged card" },
	{ "recover", gh_cmd_recover, "recover [<vmid>|manual] [--root DIR] [-v]",
	  "give back what an unfinished or crashed handoff left behind, from /run/gpu-hook" },
	{ "to-vfio", gh_cmd_to_vfio, "to-vfio <address>... [--dry-run] [--json] [--root DIR] [-v]",
	  "hand PCI functions to vfio-pci by hand (same engine as pre-start)" },
	{ "to-host", gh_cmd_to_host, "to-host <address>... [--dry-run] [--json] [--root DIR] [-v]",
	  "give PCI functions back to their host drivers by hand (same engine as post-stop)" },
	{ "check", gh_cmd_check, "check [<vmid>...] [--json] [--root DIR]",
	  "read-only: IOMMU, module configuration, console, and each VM's group and hookscript" },
	{ "install", gh_cmd_install, "install <vmid> [-s|--storage NAME] [--dry-run] [--root DIR]",
	  "copy the running gpu-hook into a snippets storage (default: local; directories and file must be root's) "
	  "and wire it to the VM with qm set" },
	{ "uninstall", gh_cmd_uninstall, "uninstall <vmid> [--dry-run] [--root DIR]",
	  "remove the VM's hookscript line (qm set --delete hookscript)" },
	{ "watch", gh_cmd_watch, "watch <vmid> <token> [--root DIR]",
	  "internal: the watcher a pre-start under Proxmox's config lock leaves behind (see gpu-hook(8))" },
	{ "help", cmd_help, "help [<command>]", "show this help, or a command's" },
	{ "version", cmd_version, "version", "print the version" },
};

static const struct gh_cmd phase_cmd = {
	"<vmid> <phase>", gh_cmd_phase, "<vmid> pre-start|post-start|pre-stop|post-stop [--dry-run] [--json] [--root DIR] [-v]",
	"a hookscript phase: pre-start GPU to vfio-pci, post-start pin vCPUs (and isolate them), post-stop GPU back",
};

static const char *const phases[] = { "pre-start", "post-start", "pre-stop", "post-stop" };

void gh_hook_usage(FILE *f, const struct gh_cmd *cmd)
{
	if (cmd) {
		fprintf(f, "usage: gpu-hook %s\n  %s\n", cmd->usage, cmd->desc);
		return;
	}
	fprintf(f,
		"usage: gpu-hook <vmid> <phase> [--dry-run] [--json] [--root DIR] [-v]\n"
		"       gpu-hook <command> [options]\n\n"
		"Hands an NVIDIA GPU between the Proxmox host and a VM (a Proxmox VE hookscript).\n\n"
		"  %-16s %s\n", "<vmid> <phase>", phase_cmd.desc);
	fprintf(f, "  %-16s %s\n", "", "(--dry-run prints the plan with each step's deadline, or the reasons to refuse; changes nothing)");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].desc);
	fprintf(f,
		"\nOptions:\n"
		"  -n, --dry-run     print what would be done; change nothing\n"
		"  -j, --json        print JSON on stdout\n"
		"  -r, --root DIR    read and write the host under DIR instead of / (fixture trees; runs no program)\n"
		"  -v, --verbose     log debug lines\n"
		"  -h, --help        this help; 'gpu-hook help <command>' for one command\n"
		"  -V, --version     print the version\n\n"
		"Exit status: 0 done (or nothing to do), 1 failed or refused, 2 usage error.\n"
		"Wire it to a VM: 'hookscript: local:snippets/gpu-hook' in /etc/pve/qemu-server/<vmid>.conf.\n");
}

static int cmd_help(const struct gh_cmd *cmd, struct gh_opts *o)
{
	(void)cmd;
	if (o->argc > 0) {
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
			if (!strcmp(o->argv[0], commands[i].name)) {
				gh_hook_usage(stdout, &commands[i]);
				return GH_EXIT_OK;
			}
		}
		for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++) {
			if (!strcmp(o->argv[0], phases[i]) || !strcmp(o->argv[0], "phase")) {
				gh_hook_usage(stdout, &phase_cmd);
				return GH_EXIT_OK;
			}
		}
		fprintf(stderr, "gpu-hook: no help for unknown command '%s'\n", o->argv[0]);
		return GH_EXIT_USAGE;
	}
	gh_hook_usage(stdout, NULL);
	return GH_EXIT_OK;
}

static int cmd_version(const struct gh_cmd *cmd, struct gh_opts *o)
{
	(void)cmd;
	(void)o;
	printf("gpu-hook %s\n", GH_VERSION);
	return GH_EXIT_OK;
}

struct gh_ctx *gh_hook_ctx(const struct gh_opts *o, const char *tag)
{
	const char *migrated = getenv("PVE_MIGRATED_FROM");
	struct gh_ctx *ctx;
	char resolved[PATH_MAX];
	/* "--root /." or "//" is the running system: it gets the real ops, never the simulator's writes. */
	bool real_root = !strcmp(o->root, "/") || (realpath(o->root, resolved) && !strcmp(resolved, "/"));
	int prio = o->verbose ? LOG_DEBUG : LOG_INFO;
	int r;

	/* A fixture run is not the host's business: no syslog under --root. */
	gh_logsink_open(tag, real_root);
	r = gh_ctx_new(real_root ? "/" : o->root, &ctx);
	if (r < 0) {
		fprintf(stderr, "gpu-hook[%s]: error: --root %s: %s\n", tag, o->root,
			r == -EINVAL ? "must be an absolute path" : strerror(-r));
		return NULL;
	}
	gh_ctx_set_log_fn(ctx, gh_logsink_fn, NULL);
	gh_ctx_set_log_priority(ctx, prio);
	/* A fixture root never reaches the running kernel: the simulator acts on the tree instead. */
	gh_ctx_set_ops(ctx, real_root ? &gh_modules_real_ops : &gh_sim_ops, NULL);
	gh_ctx_set_dry_run(ctx, o->dry_run);
	if (migrated && migrated[0] && gh_ctx_set_migrated_from(ctx, migrated) < 0) {
		gh_err(ctx, "PVE_MIGRATED_FROM=\"%.64s\" is not a node name", migrated);
		gh_ctx_free(ctx);
		return NULL;
	}
	return ctx;
}

static bool is_phase(const char *s)
{
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]); i++)
		if (!strcmp(s, phases[i]))
			return true;
	return false;
}

bool gh_hook_vmid(const char *arg, unsigned *vmid)
{
	char esc[64];

	if (gh_vmconf_parse_vmid(arg, vmid) == 0)
		return true;
	fprintf(stderr, "gpu-hook: invalid vmid \"%s\" (expected a number from 100 to 999999999)\n",
		gh_util_escape(arg, esc, sizeof(esc)));
	return false;
}

/* The options into o; -1 to go on, else the exit code (a usage error, or --version done). */
static int parse_options(int argc, char **argv, struct gh_opts *o, char *root_buf)
{
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "root", required_argument, NULL, 'r' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "storage", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "njr:vhVs:", longopts, NULL)) != -1) {
		switch (c) {
		case 'n':
			o->dry_run = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'r':
			/* A fixture tree given relative to the working directory. */
			if (optarg[0] != '/' && realpath(optarg, root_buf)) {
				o->root = root_buf;
			} else if (optarg[0] != '/') {
				fprintf(stderr, "gpu-hook: --root %s: %s\n", optarg, strerror(errno));
				return GH_EXIT_USAGE;
			} else {
				o->root = optarg;
			}
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			o->help = true;
			break;
		case 'V':
			return cmd_version(NULL, o);
		case 's':
			o->storage = optarg;
			break;
		default:
			if (optopt)
				fprintf(stderr, "gpu-hook: option -%c: %s\n", optopt,
					strchr("rs", optopt) ? "needs an argument" : "unknown option");
			else
				fprintf(stderr, "gpu-hook: unknown or incomplete option '%s'\n", argv[optind - 1]);
			fprintf(stderr, "Try 'gpu-hook --help'.\n");
			return GH_EXIT_USAGE;
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return -1;
}

int main(int argc, char **argv)
{
	struct gh_opts o = { .root = "/" };
	char root_buf[PATH_MAX];
	const struct gh_cmd *cmd = NULL;
	int rc;

	/*
	 * A run lives for milliseconds and its exit returns every page: glibc's
	 * trimming of the heap top on free() (128 KiB by default) is page-table
	 * work for nothing. One trim at the end of a post-stop, after libkmod's
	 * loads, cost 4.7 ms of its 62 ms under TCG.
	 */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	rc = parse_options(argc, argv, &o, root_buf);

	if (rc >= 0)
		return rc;
	if (o.argc == 0) {
		gh_hook_usage(o.help ? stdout : stderr, NULL);
		return o.help ? GH_EXIT_OK : GH_EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(o.argv[0], commands[i].name))
			cmd = &commands[i];
	/* Only install has a storage; elsewhere it would be silently ignored. */
	if (o.storage && (!cmd || cmd->fn != gh_cmd_install)) {
		fprintf(stderr, "gpu-hook: --storage is an option of install only\nTry 'gpu-hook --help'.\n");
		return GH_EXIT_USAGE;
	}
	if (cmd) {
		o.argc--;
		o.argv++;
		if (o.help) {
			gh_hook_usage(stdout, cmd);
			return GH_EXIT_OK;
		}
		return cmd->fn(cmd, &o);
	}
	if (o.argc >= 2 && is_phase(o.argv[1])) {
		if (o.help) {
			gh_hook_usage(stdout, &phase_cmd);
			return GH_EXIT_OK;
		}
		return gh_cmd_phase(&phase_cmd, &o);
	}
	if (o.argc >= 2 && !gh_vmconf_parse_vmid(o.argv[0], &(unsigned){ 0 })) {
		fprintf(stderr, "gpu-hook: unknown phase '%.64s' (expected pre-start, post-start, pre-stop or "
				"post-stop)\n", o.argv[1]);
		return GH_EXIT_USAGE;
	}
	fprintf(stderr, "gpu-hook: unknown command '%.64s'\nTry 'gpu-hook --help'.\n", o.argv[0]);
	return GH_EXIT_USAGE;
}
