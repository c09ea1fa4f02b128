/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"
#include "fs.h"
#include "isolate-int.h"

const char *const gh_isolate_units[] = { "system.slice", "user.slice", "init.scope", NULL };

static struct json_object *load(struct gh_ctx *ctx)
{
	char *data = NULL;
	size_t len = 0;
	struct json_object *o;
	int r = gh_fs_read_input(ctx, 0, GH_FS_CONF_MAX, &data, &len, NULL, GH_ISOLATE_STATE);

	if (r < 0) {
		errno = -r;
		return NULL;
	}
	o = json_tokener_parse(data);
	free(data);
	if (!o || !json_object_is_type(o, json_type_object)) {
		gh_err(ctx, "%s: not a JSON object", GH_ISOLATE_STATE);
		json_object_put(o);
		errno = EINVAL;
		return NULL;
	}
	return o;
}

static int save(struct gh_ctx *ctx, struct json_object *st)
{
	const char *s = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	int r = gh_fs_mkdir(ctx, 0700, "/run/gpu-hook");

	/* The journal of isolation: on disk before any change it records. */
	if (r >= 0)
		r = gh_fs_write_atomic(ctx, "/run/gpu-hook", "isolation.json", s, strlen(s), true);
	if (r < 0)
		gh_err(ctx, "%s: %s", GH_ISOLATE_STATE, strerror(-r));
	return r;
}

/* What status shows: how many IRQs moved, which the kernel kept. Not needed to undo anything. */
static void note_report(struct json_object *st, const struct gh_iso_view *v, const struct gh_iso_acts *a,
			const struct gh_strv *skipped, unsigned moved)
{
	struct json_object *rep = json_object_new_object();
	unsigned gov = 0, scopes = 0;
	char list[256] = "";

	for (size_t i = 0; i < a->n; i++) {
		gov += a->v[i].kind == GH_ISO_OPT && !strcmp(a->v[i].value, "performance") &&
		       strstr(a->v[i].target, "scaling_governor");
		scopes += a->v[i].kind == GH_ISO_UNIT && strstr(a->v[i].target, ".scope") &&
			  strcmp(a->v[i].target, "init.scope") && !strcmp(a->v[i].value, v->hk_list);
	}
	if (gh_strv_join(skipped, " ", list, sizeof(list)) < 0)
		snprintf(list, sizeof(list), "%zu IRQs", skipped->n);
	json_object_object_add(rep, "irqs_moved", json_object_new_int64(moved));
	json_object_object_add(rep, "irqs_skipped", json_object_new_int64((int64_t)skipped->n));
	json_object_object_add(rep, "skipped", json_object_new_string(list));
	json_object_object_add(rep, "governors", json_object_new_int64(gov));
	json_object_object_add(rep, "scopes", json_object_new_int64(scopes));
	json_object_object_add(st, "report", rep);
}

/* Everything made to say what st says: housekeeping CPUs while any VM is listed, the saved values after. */
static int apply(struct gh_ctx *ctx, struct json_object *st)
{
	struct gh_iso_view v;
	struct gh_iso_acts a = { 0 };
	struct gh_strv skipped = { 0 };
	unsigned moved = 0;
	char list[256];
	int r = gh_iso_view_init(ctx, st, &v);

	if (r >= 0)
		r = gh_iso_build(ctx, &v, &a);
	if (r >= 0)
		r = gh_iso_run(ctx, &a, &skipped, &moved);
	if (skipped.n && gh_strv_join(&skipped, " ", list, sizeof(list)) >= 0)
		gh_info(ctx, "isolation: kernel-managed IRQs keep their affinity (EIO): %s", list);
	if (r >= 0 && v.any) {
		note_report(st, &v, &a, &skipped, moved);
		r = save(ctx, st);
	}
	gh_strv_free(&skipped);
	gh_iso_acts_free(&a);
	return r;
}

/* What isolation needs of the host before anything: its online CPUs, cgroup v2, systemd 244. */
static int host_ready(struct gh_ctx *ctx, cpu_set_t *on, char *why, size_t why_size)
{
	unsigned ncpus, sd;
	int r;

	why[0] = '\0';
	if ((r = gh_iso_online(ctx, on, &ncpus)) < 0)
		return r;
	if (gh_fs_exists(ctx, "/sys/fs/cgroup/cgroup.controllers") <= 0) {
		gh_util_format(why, why_size, "no cgroup v2 (/sys/fs/cgroup/cgroup.controllers missing)");
		return -EPERM;
	}
	/* Unknown (no library found) is not refused: systemctl itself fails then, and that is undone. */
	if (gh_isolate_systemd_version(ctx, &sd) >= 0 && sd < GH_ISOLATE_SYSTEMD_MIN) {
		gh_util_format(why, why_size, "systemd %u is older than %u (no AllowedCPUs=)", sd,
			       GH_ISOLATE_SYSTEMD_MIN);
		return -EPERM;
	}
	return 0;
}

/*
 * The refusals, before any change: the VM's CPUs overlap another isolated
 * VM's (others), or fewer housekeeping CPUs than housekeeping_min would stay.
 */
static int fits(const cpu_set_t *on, const cpu_set_t *others, const struct gh_isolate_req *req, char *why,
		size_t why_size)
{
	unsigned min = req->housekeeping_min ? req->housekeeping_min : 1;
	cpu_set_t ov, iso, hk;
	char list[1024];

	CPU_AND(&ov, others, &req->cpus);
	if (CPU_COUNT(&ov)) {
		gh_cpulist_format(&ov, list, sizeof(list));
		gh_util_format(why, why_size, "CPUs %s are already isolated for another VM", list);
		return -EPERM;
	}
	CPU_OR(&iso, others, &req->cpus);
	CPU_XOR(&hk, on, &iso);
	CPU_AND(&hk, &hk, on);
	if ((unsigned)CPU_COUNT(&hk) < min) {
		gh_util_format(why, why_size, "%d housekeeping CPUs left, housekeeping_min is %u", CPU_COUNT(&hk), min);
		return -EPERM;
	}
	return 0;
}

/* A new state: the slices' and the writeback mask's values before the first isolated VM. */
static int fresh(struct gh_ctx *ctx, const struct gh_isolate_req *req, struct json_object **out)
{
	struct json_object *st = json_object_new_object(), *sv = gh_iso_obj(st, "saved", true);
	char buf[1024];
	int r;

	gh_iso_obj(st, "vms", true);
	for (size_t i = 0; req->slices && gh_isolate_units[i]; i++) {
		if ((r = gh_iso_read_cpus(ctx, gh_isolate_units[i], buf, sizeof(buf))) < 0) {
			gh_err(ctx, "/sys/fs/cgroup/%s/cpuset.cpus: %s", gh_isolate_units[i], strerror(-r));
			json_object_put(st);
			return r;
		}
		json_object_object_add(sv, gh_isolate_units[i], json_object_new_string(buf));
	}
	if (req->writeback && gh_fs_read_str(ctx, buf, sizeof(buf), GH_ISOLATE_WRITEBACK) >= 0)
		json_object_object_add(sv, "writeback", json_object_new_string(buf));
	*out = st;
	return 0;
}

static void drop_vm(struct json_object *st, const char *key)
{
	static const char *const per_vm[] = { "vms", "devs", "perf" };
	struct json_object *sv = gh_iso_obj(st, "saved", false), *o;

	for (size_t i = 0; i < sizeof(per_vm) / sizeof(per_vm[0]); i++)
		if ((o = gh_iso_obj(st, per_vm[i], false)))
			json_object_object_del(o, key);
	/* Its scope ends with it; a later VM of that number gets a new one. */
	if (sv && (o = gh_iso_obj(sv, "scopes", false)))
		json_object_object_del(o, key);
}

/* The VM entered in st with what it asked for, and every value it will change saved in st. */
static int enter_vm(struct gh_ctx *ctx, struct json_object *st, const struct gh_isolate_req *req, const char *key,
		    const char *list)
{
	int r = 0;

	json_object_object_add(gh_iso_obj(st, "vms", true), key, json_object_new_string(list));
	if (req->governor)
		json_object_object_add(gh_iso_obj(st, "perf", true), key, json_object_new_string(list));
	if (req->irqs && req->devs && req->devs->n) {
		struct json_object *arr = json_object_new_array();

		for (size_t i = 0; i < req->devs->n; i++)
			json_object_array_add(arr, json_object_new_string(req->devs->v[i]));
		json_object_object_add(gh_iso_obj(st, "devs", true), key, arr);
	}
	if (req->irqs)
		r = gh_irq_record(ctx, st);
	if (r >= 0 && req->governor)
		r = gh_cpufreq_record(ctx, st, &req->cpus);
	if (r >= 0 && req->scopes)
		r = gh_iso_scopes_record(ctx, st);
	return r;
}

/* The state start would write: loaded or new, refusals checked, the VM entered. Nothing changed. */
static int prepare(struct gh_ctx *ctx, const struct gh_isolate_req *req, struct json_object **out, char *why,
		   size_t why_size)
{
	cpu_set_t on, iso;
	char key[16], list[1024];
	struct json_object *st;
	int r;

	if ((r = host_ready(ctx, &on, why, why_size)) < 0)
		return r;
	st = load(ctx);
	if (!st && errno != ENOENT)
		return -errno;
	if (!st && (r = fresh(ctx, req, &st)) < 0)
		return r;
	snprintf(key, sizeof(key), "%u", req->vmid);
	drop_vm(st, key);
	r = gh_iso_union(ctx, st, "vms", &iso);
	if (r >= 0)
		r = fits(&on, &iso, req, why, why_size);
	if (r >= 0)
		r = gh_cpulist_format(&req->cpus, list, sizeof(list));
	if (r >= 0)
		r = enter_vm(ctx, st, req, key, list);
	if (r < 0) {
		json_object_put(st);
		return r;
	}
	*out = st;
	return 0;
}

int gh_isolate_start(struct gh_ctx *ctx, const struct gh_isolate_req *req, char *why, size_t why_size)
{
	struct json_object *st = NULL;
	int r = prepare(ctx, req, &st, why, why_size);

	if (r < 0)
		return r;
	r = save(ctx, st);
	if (r >= 0)
		r = apply(ctx, st);
	json_object_put(st);
	if (r < 0)
		gh_isolate_stop(ctx, req->vmid);
	return r;
}

/*
 * IRQs that appeared since the last change (MSI vectors a guest enabled
 * after its post-start, a hotplugged device) are saved and steered at any
 * later change, when IRQs are moved at all.
 */
static int record_new_irqs(struct gh_ctx *ctx, struct json_object *st)
{
	return gh_iso_saved(st, NULL, "irq_default") ? gh_irq_record(ctx, st) : 0;
}

int gh_isolate_stop(struct gh_ctx *ctx, unsigned vmid)
{
	char key[16];
	struct json_object *st = load(ctx), *vms;
	int r;

	if (!st)
		return errno == ENOENT ? 0 : -errno;
	snprintf(key, sizeof(key), "%u", vmid);
	drop_vm(st, key);
	vms = gh_iso_obj(st, "vms", false);
	r = record_new_irqs(ctx, st);
	/* The state is written first, so a crash below is finished by the next stop or recover. */
	if (r >= 0)
		r = save(ctx, st);
	if (r >= 0)
		r = apply(ctx, st);
	if (r >= 0 && (!vms || json_object_object_length(vms) == 0)) {
		r = gh_fs_remove(ctx, GH_ISOLATE_STATE);
		if (r == -ENOENT)
			r = 0;
	}
	json_object_put(st);
	return r;
}

static int to_lines(struct gh_ctx *ctx, struct json_object *st, struct gh_strv *steps, struct gh_strv *undo)
{
	struct gh_iso_view v;
	struct gh_iso_acts a = { 0 };
	char line[2400];
	int r = gh_iso_view_init(ctx, st, &v);

	if (r >= 0)
		r = gh_iso_build(ctx, &v, &a);
	for (size_t i = 0; i < a.n && r >= 0; i++) {
		r = gh_iso_describe(&a.v[i], line, sizeof(line));
		if (r >= 0)
			r = gh_strv_push(steps, line);
		if (r >= 0)
			r = gh_strv_push(undo, a.v[i].undo);
	}
	gh_iso_acts_free(&a);
	return r;
}

int gh_isolate_plan(struct gh_ctx *ctx, const struct gh_isolate_req *req, struct gh_strv *steps,
		    struct gh_strv *undo, char *why, size_t why_size)
{
	struct json_object *st = NULL;
	int r = prepare(ctx, req, &st, why, why_size);

	if (r < 0)
		return r;
	r = to_lines(ctx, st, steps, undo);
	json_object_put(st);
	return r;
}

int gh_isolate_refresh(struct gh_ctx *ctx, unsigned vmid, struct gh_strv *steps, struct gh_strv *undo)
{
	struct json_object *st = load(ctx), *vms;
	char key[16];
	int r;

	if (!st)
		return errno == ENOENT ? 0 : -errno;
	snprintf(key, sizeof(key), "%u", vmid);
	vms = gh_iso_obj(st, "vms", false);
	if (!vms || !json_object_object_length(vms) || json_object_object_get_ex(vms, key, NULL)) {
		json_object_put(st);
		return 0;
	}
	r = gh_iso_scopes_record(ctx, st);
	if (r >= 0)
		r = record_new_irqs(ctx, st);
	if (r >= 0 && steps)
		r = to_lines(ctx, st, steps, undo);
	else if (r >= 0 && (r = save(ctx, st)) >= 0)
		r = apply(ctx, st);
	json_object_put(st);
	return r;
}

int gh_isolate_current(struct gh_ctx *ctx, cpu_set_t *isolated, cpu_set_t *housekeeping, char *out, size_t size)
{
	struct json_object *st = load(ctx), *vms;
	cpu_set_t on;
	unsigned ncpus;
	size_t len = 0;
	int r;

	out[0] = '\0';
	CPU_ZERO(isolated);
	CPU_ZERO(housekeeping);
	if (!st)
		return errno == ENOENT ? 0 : -errno;
	r = gh_iso_union(ctx, st, "vms", isolated);
	if (r >= 0)
		r = gh_iso_online(ctx, &on, &ncpus);
	if (r >= 0) {
		CPU_XOR(housekeeping, &on, isolated);
		CPU_AND(housekeeping, housekeeping, &on);
		if ((vms = gh_iso_obj(st, "vms", false))) {
			json_object_object_foreach(vms, k, v)
			{
				int n = snprintf(out + len, size - len, "%s%s:%s", len ? " " : "", k,
						 json_object_get_string(v));

				if (n < 0 || (size_t)n >= size - len)
					break;
				len += (size_t)n;
			}
		}
		r = CPU_COUNT(isolated) > 0;
	}
	json_object_put(st);
	return r;
}

int gh_isolate_get_counts(struct gh_ctx *ctx, struct gh_isolate_counts *c)
{
	struct json_object *st = load(ctx), *rep, *o;

	memset(c, 0, sizeof(*c));
	if (!st)
		return errno == ENOENT ? 0 : -errno;
	if ((rep = gh_iso_obj(st, "report", false))) {
		if (json_object_object_get_ex(rep, "irqs_moved", &o))
			c->irqs_moved = (unsigned)json_object_get_int64(o);
		if (json_object_object_get_ex(rep, "irqs_skipped", &o))
			c->irqs_skipped = (unsigned)json_object_get_int64(o);
		if (json_object_object_get_ex(rep, "governors", &o))
			c->governors = (unsigned)json_object_get_int64(o);
		if (json_object_object_get_ex(rep, "scopes", &o))
			c->scopes = (unsigned)json_object_get_int64(o);
		if (json_object_object_get_ex(rep, "skipped", &o))
			gh_util_copy(c->skipped, sizeof(c->skipped), json_object_get_string(o));
	}
	json_object_put(st);
	return 1;
}

struct json_object *gh_isolate_steps_to_json(unsigned vmid, const struct gh_strv *steps, const struct gh_strv *undo,
					     const char *why)
{
	struct json_object *root = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(root, "vmid", json_object_new_int64(vmid));
	json_object_object_add(root, "phase", json_object_new_string("post-start"));
	json_object_object_add(root, "isolation", arr);
	for (size_t i = 0; i < steps->n; i++) {
		struct json_object *st = json_object_new_object();

		json_object_object_add(st, "description", json_object_new_string(steps->v[i]));
		json_object_object_add(st, "undo", json_object_new_string(undo->v[i]));
		json_object_array_add(arr, st);
	}
	json_object_object_add(root, "refused", why[0] ? json_object_new_string(why) : NULL);
	return root;
}
