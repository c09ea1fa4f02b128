/* SPDX-License-Identifier: MIT */
#include "mapping.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "fs.h"
#include "util.h"
#include "vmconf.h"

struct mparse {
	struct gh_ctx *ctx;
	const char *name;
	int line, errors;
	struct gh_map_entry *e;
	bool bad;
};

static void merr(struct mparse *mp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void merr(struct mparse *mp, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gh_err(mp->ctx, "%s:%d: %s", mp->name, mp->line, msg);
	mp->errors++;
}

static int parse_idpair(const char *s, unsigned *a, unsigned *b)
{
	unsigned long x, y;
	char l[8], r[8];

	if (strlen(s) != 9 || s[4] != ':')
		return -EINVAL;
	memcpy(l, s, 4);
	l[4] = '\0';
	memcpy(r, s + 5, 5);
	for (int i = 0; i < 4; i++)
		if (isupper((unsigned char)l[i]) || isupper((unsigned char)r[i]))
			return -EINVAL;
	if (gh_util_parse_ulong(l, 16, 0xffff, &x) < 0 || gh_util_parse_ulong(r, 16, 0xffff, &y) < 0)
		return -EINVAL;
	*a = (unsigned)x;
	*b = (unsigned)y;
	return 0;
}

static int map_prop(void *data, const char *key, const char *value)
{
	struct mparse *mp = data;
	struct gh_map_entry *e = mp->e;
	char esc[96];

	if (!strcmp(key, "node")) {
		if (!*value || gh_util_copy(e->node, sizeof(e->node), value) < 0) {
			merr(mp, "map: invalid node '%s'", gh_util_escape(value, esc, sizeof(esc)));
			mp->bad = true;
		}
	} else if (!strcmp(key, "path")) {
		char paths[512], *save = NULL, *p;

		if (strlen(value) >= sizeof(paths)) {
			merr(mp, "map: path list too long");
			mp->bad = true;
			return 0;
		}
		memcpy(paths, value, strlen(value) + 1);
		for (p = strtok_r(paths, ";", &save); p; p = strtok_r(NULL, ";", &save)) {
			struct gh_pciid id;

			/* The mapping schema requires the domain. */
			if (gh_pciid_parse(p, &id) < 0 || !strchr(p, ':') || strchr(p, ':') == strrchr(p, ':')) {
				merr(mp, "map: invalid path '%s' (expected dddd:bb:ss[.f])",
				     gh_util_escape(p, esc, sizeof(esc)));
				mp->bad = true;
				continue;
			}
			if (e->n_paths == GH_MAP_PATHS_MAX) {
				merr(mp, "map: more than %d paths", GH_MAP_PATHS_MAX);
				mp->bad = true;
				break;
			}
			e->paths[e->n_paths++] = id;
		}
	} else if (!strcmp(key, "id")) {
		if (parse_idpair(value, &e->vendor, &e->device) < 0) {
			merr(mp, "map: invalid id '%s' (expected vvvv:dddd)", gh_util_escape(value, esc, sizeof(esc)));
			mp->bad = true;
		}
	} else if (!strcmp(key, "subsystem-id")) {
		if (parse_idpair(value, &e->sub_vendor, &e->sub_device) < 0) {
			merr(mp, "map: invalid subsystem-id '%s'", gh_util_escape(value, esc, sizeof(esc)));
			mp->bad = true;
		}
		e->has_subsystem = true;
	} else if (!strcmp(key, "iommugroup")) {
		unsigned long g;

		if (gh_util_parse_ulong(value, 10, 1000000, &g) < 0) {
			merr(mp, "map: invalid iommugroup '%s'", gh_util_escape(value, esc, sizeof(esc)));
			mp->bad = true;
		}
		e->iommugroup = (int)g;
	} else if (strcmp(key, "description")) {
		merr(mp, "map: unknown property '%s'", gh_util_escape(key, esc, sizeof(esc)));
		mp->bad = true;
	}
	return 0;
}

static void parse_prop(struct mparse *mp, struct gh_mapping *m, char *line)
{
	char *key = line, *value;
	char esc[96];
	int b;

	value = key + strcspn(key, " \t");
	if (*value)
		*value++ = '\0';
	value = gh_util_trim(value);
	if (!strcmp(key, "map")) {
		struct gh_map_entry *v = realloc(m->maps, (m->n_maps + 1) * sizeof(*v));

		if (!v) {
			merr(mp, "out of memory");
			return;
		}
		m->maps = v;
		mp->e = &v[m->n_maps];
		memset(mp->e, 0, sizeof(*mp->e));
		mp->e->iommugroup = -1;
		mp->e->line = mp->line;
		mp->bad = false;
		if (gh_propstr_parse(value, NULL, map_prop, mp) < 0) {
			merr(mp, "map: cannot parse property string");
			return;
		}
		if (!mp->bad && (!mp->e->node[0] || !mp->e->n_paths || !mp->e->vendor)) {
			merr(mp, "map: node, path and id are required");
			return;
		}
		if (!mp->bad)
			m->n_maps++;
	} else if (!strcmp(key, "mdev") || !strcmp(key, "live-migration-capable")) {
		b = gh_propstr_bool(value);
		if (b < 0)
			merr(mp, "%s: expected a boolean, not '%s'", key, gh_util_escape(value, esc, sizeof(esc)));
		else if (!strcmp(key, "mdev"))
			m->mdev = b;
		else
			m->live_migration = b;
	} else if (strcmp(key, "description")) {
		merr(mp, "unknown property '%s'", gh_util_escape(key, esc, sizeof(esc)));
	}
}

int gh_mapping_parse(struct gh_ctx *ctx, FILE *f, const char *name, struct gh_mapping_file *out)
{
	struct mparse mp = { ctx, name, 0, 0, NULL, false };
	struct gh_mapping *cur = NULL;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	memset(out, 0, sizeof(*out));
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *l;

		mp.line++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((size_t)len != strlen(line) || len > 65536) {
			merr(&mp, "%s", len > 65536 ? "line too long" : "NUL byte in line");
			continue;
		}
		l = gh_util_trim(line);
		if (!*l) {
			cur = NULL;
			continue;
		}
		if (l[0] == '#')
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (!cur)
				merr(&mp, "property outside a section");
			else
				parse_prop(&mp, cur, l);
			continue;
		}
		{
			struct gh_mapping *v = realloc(out->v, (out->n + 1) * sizeof(*v));
			char esc[96];

			if (!v) {
				merr(&mp, "out of memory");
				break;
			}
			out->v = v;
			cur = &v[out->n];
			memset(cur, 0, sizeof(*cur));
			cur->line = mp.line;
			if (strspn(l, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(l) ||
			    gh_util_copy(cur->id, sizeof(cur->id), l) < 0) {
				merr(&mp, "invalid mapping id '%s'", gh_util_escape(l, esc, sizeof(esc)));
				cur = NULL;
				continue;
			}
			if (gh_mapping_find(out, l)) {
				merr(&mp, "mapping '%s' defined twice", l);
				cur = NULL;
				continue;
			}
			out->n++;
		}
	}
	free(line);
	if (mp.errors) {
		gh_mapping_free(out);
		return -EINVAL;
	}
	return 0;
}

int gh_mapping_load(struct gh_ctx *ctx, struct gh_mapping_file *out)
{
	FILE *f = gh_fs_fopen(ctx, "/etc/pve/mapping/pci.cfg");
	int r;

	memset(out, 0, sizeof(*out));
	if (!f) {
		r = -errno;
		if (r != -ENOENT)
			gh_err(ctx, "/etc/pve/mapping/pci.cfg: %s", strerror(-r));
		return r;
	}
	r = gh_mapping_parse(ctx, f, "/etc/pve/mapping/pci.cfg", out);
	fclose(f);
	return r;
}

const struct gh_mapping *gh_mapping_find(const struct gh_mapping_file *mf, const char *id)
{
	for (unsigned i = 0; i < mf->n; i++)
		if (!strcmp(mf->v[i].id, id))
			return &mf->v[i];
	return NULL;
}

void gh_mapping_free(struct gh_mapping_file *mf)
{
	for (unsigned i = 0; i < mf->n; i++)
		free(mf->v[i].maps);
	free(mf->v);
	mf->v = NULL;
	mf->n = 0;
}
