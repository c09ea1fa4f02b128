/* SPDX-License-Identifier: MIT */
#ifndef GH_MAPPING_H
#define GH_MAPPING_H

/*
 * /etc/pve/mapping/pci.cfg (pve-guest-common PVE/Mapping/PCI.pm): a bare id
 * line starts a section, tab-indented "key value" lines follow, "map"
 * repeats, a blank line ends it, '#' lines are comments.
 */

#include <stdbool.h>
#include <stdio.h>

#include "ctx.h"
#include "pciid.h"
#include "util.h"

#define GH_MAP_PATHS_MAX 16

struct gh_map_entry {
	int line;
	char node[64];
	struct gh_pciid paths[GH_MAP_PATHS_MAX];	/* domain required by PVE */
	unsigned n_paths;
	unsigned vendor, device;		/* id=vvvv:dddd */
	bool has_subsystem;
	unsigned sub_vendor, sub_device;	/* subsystem-id= */
	int iommugroup;				/* -1 when not given */
};

struct gh_mapping {
	int line;
	char id[128];
	bool mdev, live_migration;
	struct gh_map_entry *maps;
	unsigned n_maps;
	struct gh_strv errors;	/* "name:line: message" for this mapping's lines */
};

struct gh_mapping_file {
	struct gh_mapping *v;
	unsigned n;
	struct gh_strv errors;	/* lines that belong to no mapping */
};

/*
 * Proxmox users with Mapping.Modify edit this file, and a broken entry of one
 * mapping must not stop a VM that uses another (PVE itself skips bad
 * entries). So the parser logs nothing: every problem is kept as
 * "name:line: message", with the mapping whose lines it is on, or with the
 * file when it belongs to none (a bad id's section, a stray property line).
 * A mapping defined twice keeps its first definition, marked bad. 0, or
 * -EIO / -ENOMEM when the file could not be read.
 */
/* On failure out owns nothing (lib/README.md); after success, gh_mapping_free. */
int gh_mapping_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_mapping_file *out);
/*
 * Logs the problems of mapping id (NULL: of every mapping and of the file)
 * as errors. -EINVAL when there was any, else 0.
 */
int gh_mapping_report(struct gh_ctx *ctx, const struct gh_mapping_file *mf, const char *id);
/* /etc/pve/mapping/pci.cfg through the root seam; -ENOENT (not logged) when absent. */
/* Owns nothing on failure, as gh_mapping_parse. */
int gh_mapping_load(struct gh_ctx *ctx, struct gh_mapping_file *out);
const struct gh_mapping *gh_mapping_find(const struct gh_mapping_file *mf, const char *id);
void gh_mapping_free(struct gh_mapping_file *mf);

#endif
