/* SPDX-License-Identifier: MIT */
#include "mapping.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fs.h"
#include "util.h"
#include "propstr.h"
#include "text.h"

#define GH_MAPPING_LINE_MAX ((ssize_t)64 * 1024)

struct mparse {
	struct gh_text t;
	struct gh_mapping_file *out;
	bool oom;
	/* The section being read: open until a blank line; cur NULL when its header was bad. */
	bool in_section;
	struct gh_mapping *cur;
	bool seen_description, seen_mdev, seen_migration;
	/* The map entry being read. */
	struct gh_map_entry *e;
	bool bad, has_id;
};

/* The parser's sink: each problem kept with the mapping whose lines it is on. */
static void keep(struct gh_text *t, const char *msg)
{
	struct mparse *mp = t->data;

	if (gh_strv_push(mp->cur ? &mp->cur->errors : &mp->out->errors, msg) < 0)
		mp->oom = true;
}

static bool lhex4(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* "vvvv:dddd", lowercase hex as PVE writes ids. */
static int parse_idpair(const char *s, unsigned *a, unsigned *b)
{
	unsigned long x, y;
	char l[5], r[5];

	if (strlen(s) != 9 || s[4] != ':' || !lhex4(s) || !lhex4(s + 5))
		return -EINVAL;
	memcpy(l, s, 4);
	l[4] = '\0';
	memcpy(r, s + 5, 5);
	if (gh_util_parse_ulong(l, 16, 0xffff, &x) < 0 || gh_util_parse_ulong(r, 16, 0xffff, &y) < 0)
		return -EINVAL;
	*a = (unsigned)x;
	*b = (unsigned)y;
	return 0;
}

static void path_fail(void *data, const char *msg)
{
	struct mparse *mp = data;

	gh_text_err(&mp->t, "map: %s", msg);
	mp->bad = true;
}

static int map_prop(void *data, const char *key, const char *value)
{
	struct mparse *mp = data;
	struct gh_map_entry *e = mp->e;
	char esc[96];

	if (!strcmp(key, "node")) {
		/* A host name, compared with ours. */
		if (strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != strlen(value) ||
		    gh_util_copy(e->node, sizeof(e->node), value) < 0) {
			gh_text_err(&mp->t, "map: invalid node '%s'", gh_util_escape(value, esc, sizeof(esc)));
			mp->bad = true;
		}
	} else if (!strcmp(key, "path")) {
		/* Unlike hostpciN's host=, the domain is required. */
		gh_propstr_pci_ids(value, true, "path", e->paths, GH_MAP_PATHS_MAX, &e->n_paths, path_fail, mp);
	} else if (!strcmp(key, "id") || !strcmp(key, "subsystem-id")) {
		bool sub = key[0] == 's';

		if (parse_idpair(value, sub ? &e->sub_vendor : &e->vendor, sub ? &e->sub_device : &e->device) < 0) {
			gh_text_err(&mp->t, "map: invalid %s '%s' (expected vvvv:dddd, lowercase hex)", key,
				    gh_util_escape(value, esc, sizeof(esc)));
			mp->bad = true;
		} else {
			*(sub ? &e->has_subsystem : &mp->has_id) = true;
		}
	} else if (!strcmp(key, "iommugroup")) {
		unsigned long g;

		if (gh_util_parse_ulong(value, 10, INT_MAX, &g) < 0) {
			gh_text_err(&mp->t, "map: invalid iommugroup '%s'", gh_util_escape(value, esc, sizeof(esc)));
			mp->bad = true;
		} else {
			e->iommugroup = (int)g;
		}
	} else if (strcmp(key, "description")) {
		gh_text_err(&mp->t, "map: unknown property '%s'", gh_util_escape(key, esc, sizeof(esc)));
		mp->bad = true;
	}
	return 0;
}

static void parse_map(struct mparse *mp, struct gh_mapping *m, const char *value)
{
	struct gh_map_entry *v = gh_util_grow(m->maps, m->n_maps, sizeof(*v));
	char why[256], esc[96];
	int r;

	if (!v) {
		gh_text_err(&mp->t, "out of memory");
		return;
	}
	m->maps = v;
	mp->e = &v[m->n_maps];
	memset(mp->e, 0, sizeof(*mp->e));
	mp->e->iommugroup = -1;
	mp->e->line = mp->t.line;
	mp->bad = mp->has_id = false;
	r = gh_propstr_parse_why(value, NULL, map_prop, mp, why, sizeof(why));
	if (r == -ENOMEM) {
		gh_text_err(&mp->t, "out of memory");
		return;
	}
	if (r < 0) {
		gh_text_err(&mp->t, "map: cannot parse '%s': %s", gh_util_escape(value, esc, sizeof(esc)), why);
		return;
	}
	if (mp->bad)
		return;
	if (!mp->e->node[0] || !mp->e->n_paths || !mp->has_id) {
		gh_text_err(&mp->t, "map: node, path and id are required (missing:%s%s%s)",
			    mp->e->node[0] ? "" : " node", mp->e->n_paths ? "" : " path", mp->has_id ? "" : " id");
		return;
	}
	m->n_maps++;
}

static void parse_bool(struct mparse *mp, const char *key, const char *value, bool *seen, bool *out)
{
	char esc[96];
	int b = gh_propstr_bool(value);

	if (*seen) {
		gh_text_err(&mp->t, "%s given twice", key);
		return;
	}
	*seen = true;
	if (b < 0)
		gh_text_err(&mp->t, "%s: expected a boolean, not '%s'", key, gh_util_escape(value, esc, sizeof(esc)));
	else
		*out = b;
}

/* SectionConfig's property line: blanks, a key, blanks, the value. */
static void parse_prop(struct mparse *mp, struct gh_mapping *m, char *line)
{
	char *key = line + strspn(line, " \t"), *value;
	char esc[96];

	value = key + strcspn(key, " \t");
	if (*value)
		*value++ = '\0';
	value = gh_util_trim(value);
	if (!strcmp(key, "map")) {
		parse_map(mp, m, value);
	} else if (!strcmp(key, "mdev")) {
		parse_bool(mp, key, value, &mp->seen_mdev, &m->mdev);
	} else if (!strcmp(key, "live-migration-capable")) {
		parse_bool(mp, key, value, &mp->seen_migration, &m->live_migration);
	} else if (!strcmp(key, "description")) {
		if (mp->seen_description)
			gh_text_err(&mp->t, "description given twice");
		mp->seen_description = true;
	} else {
		gh_text_err(&mp->t, "unknown property '%s'", gh_util_escape(key, esc, sizeof(esc)));
	}
}

static void parse_header(struct mparse *mp, struct gh_mapping_file *out, char *line)
{
	const char *id = gh_util_trim(line);
	struct gh_mapping *v;
	char esc[96];

	mp->in_section = true;
	mp->cur = NULL;
	mp->seen_description = mp->seen_mdev = mp->seen_migration = false;
	if (!gh_propstr_configid(id, sizeof(v->id))) {
		gh_text_err(&mp->t, "invalid mapping id '%s' (a letter, then letters, digits, '_' or '-')",
			    gh_util_escape(id, esc, sizeof(esc)));
		return;
	}
	if (gh_mapping_find(out, id)) {
		/* PVE keeps one of the two: which one is not for us to guess, so a VM using it is refused. */
		mp->cur = (struct gh_mapping *)gh_mapping_find(out, id);
		gh_text_err(&mp->t, "mapping '%s' defined twice", id);
		mp->cur = NULL;
		return;
	}
	v = gh_util_grow(out->v, out->n, sizeof(*v));
	if (!v) {
		gh_text_err(&mp->t, "out of memory");
		return;
	}
	out->v = v;
	mp->cur = &v[out->n++];
	memset(mp->cur, 0, sizeof(*mp->cur));
	mp->cur->line = mp->t.line;
	memcpy(mp->cur->id, id, strlen(id) + 1);
}

int gh_mapping_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_mapping_file *out)
{
	struct mparse mp = { .t = { .ctx = ctx, .f = f, .name = name, .max = GH_MAPPING_LINE_MAX, .sink = keep },
			     .out = out };
	char *line, esc[96];
	size_t len;

	mp.t.data = &mp;
	memset(out, 0, sizeof(*out));
	while (gh_text_next(&mp.t, &line, &len) > 0) {
		if (!*gh_util_trim(line)) {
			mp.in_section = false;
			mp.cur = NULL;
			continue;
		}
		if (line[0] == '#')
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (!mp.in_section)
				gh_text_err(&mp.t, "property line outside a section (a section starts with its id at "
						   "column 0)");
			else if (mp.cur)
				parse_prop(&mp, mp.cur, line);
			continue;
		}
		/* PVE ignores such a line and reads on into the open section: say so rather than guess. */
		if (mp.in_section) {
			gh_text_err(&mp.t, "'%s' at column 0 inside a section (a blank line must end the section first)",
				    gh_util_escape(line, esc, sizeof(esc)));
			continue;
		}
		parse_header(&mp, out, line);
	}
	gh_text_done(&mp.t);
	if (ferror(f) || mp.oom) {
		gh_err(ctx, "%s: %s", name, mp.oom ? "out of memory" : "read error");
		gh_mapping_free(out);
		return mp.oom ? -ENOMEM : -EIO;
	}
	return 0;
}

static void report(struct gh_ctx *ctx, const struct gh_strv *errors, int *n)
{
	for (size_t i = 0; i < errors->n; i++)
		gh_err(ctx, "%s", errors->v[i]);
	*n += (int)errors->n;
}

int gh_mapping_report(struct gh_ctx *ctx, const struct gh_mapping_file *mf, const char *id)
{
	int n = 0;

	if (!id)
		report(ctx, &mf->errors, &n);
	for (unsigned i = 0; i < mf->n; i++)
		if (!id || !strcmp(mf->v[i].id, id))
			report(ctx, &mf->v[i].errors, &n);
	return n ? -EINVAL : 0;
}

int gh_mapping_load(struct gh_ctx *ctx, struct gh_mapping_file *out)
{
	/* A pmxcfs file, so never a link (see gh_vmconf_load). No mappings is the usual case: the caller decides. */
	FILE *f = gh_fs_fopen_input(ctx, 0, GH_FS_CONF_MAX, NULL, "/etc/pve/mapping/pci.cfg");
	int r;

	memset(out, 0, sizeof(*out));
	if (!f)
		return -errno;
	r = gh_mapping_parse(ctx, f, "/etc/pve/mapping/pci.cfg", out);
	fclose(f);
	return r;
}

const struct gh_mapping *gh_mapping_find(const struct gh_mapping_file *mf, const char *id)
{
	if (!mf || !id)
		return NULL;
	for (unsigned i = 0; i < mf->n; i++)
		if (!strcmp(mf->v[i].id, id))
			return &mf->v[i];
	return NULL;
}

void gh_mapping_free(struct gh_mapping_file *mf)
{
	if (!mf)
		return;
	for (unsigned i = 0; i < mf->n; i++) {
		free(mf->v[i].maps);
		gh_strv_free(&mf->v[i].errors);
	}
	gh_strv_free(&mf->errors);
	free(mf->v);
	mf->v = NULL;
	mf->n = 0;
}
