/* SPDX-License-Identifier: MIT */
#ifndef GH_VMCONF_H
#define GH_VMCONF_H

/*
 * A Proxmox VM config (/etc/pve/qemu-server/<vmid>.conf): only the live
 * section (everything before the first "[...]" header), '#' description
 * lines ignored. Parsed from a FILE * and a name for messages; each problem
 * is kept as "name:line: message" with the field it is in, parsing goes on,
 * and the caller reports them for the fields it reads: a Proxmox user can
 * set a VM's name, tags or cores while it runs, and a field the phase does
 * not read must never keep the card from the host.
 */

#include <stdbool.h>
#include <stdio.h>

#include "ctx.h"
#include "pciid.h"

#define GH_HOSTPCI_MAX 16
#define GH_HOSTPCI_IDS_MAX 16
#define GH_VMCONF_PROBLEMS_MAX 16

/* The fields a caller reads (gh_vmconf_report): problems there fail, the others only warn. */
enum {
	GH_VMCONF_HOSTPCI = 1u << 0,	/* hostpci0..15 */
	GH_VMCONF_AFFINITY = 1u << 1,
	GH_VMCONF_VCPUS = 1u << 2,	/* sockets, cores, vcpus */
	GH_VMCONF_HOOKSCRIPT = 1u << 3,
	GH_VMCONF_OTHER = 1u << 4,	/* name, lock, template, the description, every other key */
	GH_VMCONF_ALL = (1u << 5) - 1,	/* also the field of a line whose key cannot be told */
};

struct gh_vmconf_problem {
	unsigned field;			/* GH_VMCONF_* */
	char msg[400];			/* "name:line: message" */
};

struct gh_hostpci {
	bool present;
	int line;			/* line in the config */
	struct gh_pciid ids[GH_HOSTPCI_IDS_MAX];	/* host=, ';'-separated */
	unsigned n_ids;
	char mapping[128];		/* mapping=<id>, "" when host= is used */
	char mdev[64];			/* mdev=<type>, "" when none */
	bool keep;			/* driver=keep */
	bool pcie, xvga;
};

struct gh_vmconf {
	unsigned vmid;
	char name[128];			/* the VM's name: */
	struct gh_hostpci hostpci[GH_HOSTPCI_MAX];
	char affinity[256];		/* "" when unset; checked as a cpulist */
	unsigned sockets, cores, vcpus;	/* 0 when unset */
	char hookscript[256];
	char lock[32];
	bool template_;

	struct gh_vmconf_problem problems[GH_VMCONF_PROBLEMS_MAX];
	unsigned n_problems;		/* kept in problems[] */
	unsigned n_lost, lost_fields;	/* found beyond those, and their fields */
};

/* Parses and reports with every field read (GH_VMCONF_ALL): 0, -EINVAL or -EIO. */
int gh_vmconf_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_vmconf *out);
/* Parses, keeping the problems unreported: 0 or -EIO (logged). */
int gh_vmconf_read(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_vmconf *out);
/*
 * Logs the problems: in a field of uses at LOG_ERR, the others as warnings
 * saying they are ignored. -EINVAL when any was in uses, else 0.
 */
int gh_vmconf_report(struct gh_ctx *ctx, const struct gh_vmconf *vm, unsigned uses);
/*
 * Opens /etc/pve/qemu-server/<vmid>.conf, or with ctx->migrated_from set
 * /etc/pve/nodes/<node>/qemu-server/<vmid>.conf, through the root seam and
 * reads it (gh_vmconf_read). -ENOENT (logged) when there is no such VM.
 */
int gh_vmconf_open(struct gh_ctx *ctx, unsigned vmid, struct gh_vmconf *out);
/* gh_vmconf_open, then gh_vmconf_report with every field read (GH_VMCONF_ALL). */
int gh_vmconf_load(struct gh_ctx *ctx, unsigned vmid, struct gh_vmconf *out);
/* sockets x cores, or vcpus when set; the defaults are 1. */
unsigned gh_vmconf_vcpus(const struct gh_vmconf *vm);
/* A vmid as Proxmox allows it: 100 .. 999999999, digits only. 0 or -EINVAL. */
int gh_vmconf_parse_vmid(const char *s, unsigned *vmid);

#endif
