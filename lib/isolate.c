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
#include "isolate.h"

const char *const gh_isolate_units[] = { "system.slice", "user.slice", "init.scope", NULL };

/* A cgroup's cpuset.cpus: "" when nothing restricts it (the cgroup v2 default). */
static int read_cpus(struct gh_ctx *ctx, const char *unit, char *buf, size_t size)
{
	int r = gh_fs_read_str(ctx, buf, size, "/sys/fs/cgroup/%s/cpuset.cpus", unit);

	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r < 0 ? r : 0;
}

static int online(struct gh_ctx *ctx, cpu_set_t *set, unsigned *ncpus)
{
	char buf[256];
	const char *bad = NULL;
	int r = gh_fs_read_str(ctx, buf, sizeof(buf), "/sys/devices/system/cpu/online");

	if (r < 0) {
		gh_err(ctx, "/sys/devices/system/cpu/online: %s", strerror(-r));
		return r;
	}
	if (gh_cpulist_parse(buf, set, &bad) < 0) {
		gh_err(ctx, "/sys/devices/system/cpu/online: not a CPU list at '%s'", bad);
		return -EINVAL;
	}
	*ncpus = 0;
	for (unsigned c = 0; c < GH_CPU_MAX; c++)
		if (CPU_ISSET(c, set))
			*ncpus = c + 1;
	return 0;
}

int gh_isolate_format_mask(const cpu_set_t *set, unsigned ncpus, char *buf, size_t size)
{
	unsigned groups = ncpus ? (ncpus + 31) / 32 : 1;
	size_t len = 0;

	for (unsigned g = groups; g-- > 0;) {
		unsigned long w = 0;

		for (unsigned b = 0; b < 32; b++)
			if (g * 32 + b < GH_CPU_MAX && CPU_ISSET(g * 32 + b, set))
				w |= 1ul << b;
		int n = snprintf(buf + len, size - len, "%s%08lx", g + 1 < groups ? "," : "", w);

		if (n < 0 || (size_t)n >= size - len)
			return -ENOSPC;
		len += (size_t)n;
	}
	return 0;
}

static struct json_object *load(struct gh_ctx *ctx)
{
	char *data = NULL;
	size_t len = 0;
	struct json_object *o;
	int r = gh_fs_read_input(ctx, 0, GH_FS_PROC_MAX, &data, &len, NULL, GH_ISOLATE_STATE);

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

static int set_property(struct gh_ctx *ctx, const char *unit, const char *cpus)
{
	char prop[300];
	char *argv[] = { (char *)GH_ISOLATE_SYSTEMCTL, (char *)"set-property", (char *)"--runtime", (char *)unit,
			 prop, NULL };
	int r = gh_util_format(prop, sizeof(prop), "AllowedCPUs=%s", cpus);

	if (r >= 0)
		r = gh_ctx_ops(ctx)->run(ctx, argv);
	if (r < 0)
		gh_err(ctx, "systemctl set-property --runtime %s %s: %s", unit, prop,
		       r < -255 || r > -1 ? strerror(-r) : "failed");
	else
		gh_info(ctx, "isolation: %s %s", unit, prop);
	return r;
}

static int vms_union(struct gh_ctx *ctx, struct json_object *st, cpu_set_t *out)
{
	struct json_object *vms;

	CPU_ZERO(out);
	if (!json_object_object_get_ex(st, "vms", &vms) || !json_object_is_type(vms, json_type_object))
		return 0;
	json_object_object_foreach(vms, k, v)
	{
		cpu_set_t s;
		const char *bad = NULL;

		if (gh_cpulist_parse(json_object_get_string(v), &s, &bad) < 0) {
			gh_err(ctx, "%s: VM %s: not a CPU list at '%s'", GH_ISOLATE_STATE, k, bad);
			return -EINVAL;
		}
		CPU_OR(out, out, &s);
	}
	return 0;
}

static const char *saved(struct json_object *st, const char *key)
{
	struct json_object *sv, *v;

	if (json_object_object_get_ex(st, "saved", &sv) && json_object_object_get_ex(sv, key, &v))
		return json_object_get_string(v);
	return NULL;
}

/* Everything made to say what st says: housekeeping CPUs while any VM is listed, the saved values after. */
static int apply(struct gh_ctx *ctx, struct json_object *st)
{
	cpu_set_t on, iso, hk;
	unsigned ncpus = 0;
	char list[1024], mask[512];
	struct json_object *vms;
	bool any;
	int r = online(ctx, &on, &ncpus), ret = 0;

	if (r < 0)
		return r;
	if ((r = vms_union(ctx, st, &iso)) < 0)
		return r;
	any = json_object_object_get_ex(st, "vms", &vms) && json_object_object_length(vms) > 0;
	CPU_XOR(&hk, &on, &iso);
	CPU_AND(&hk, &hk, &on);
	if (gh_cpulist_format(&hk, list, sizeof(list)) < 0 || gh_isolate_format_mask(&hk, ncpus, mask, sizeof(mask)) < 0)
		return -ENOSPC;
	for (size_t i = 0; gh_isolate_units[i]; i++) {
		const char *prev = saved(st, gh_isolate_units[i]);

		if (!prev)
			continue;
		r = set_property(ctx, gh_isolate_units[i], any ? list : prev);
		if (r < 0 && !ret)
			ret = r;
	}
	const char *wb = saved(st, "writeback");

	if (wb) {
		r = gh_ctx_ops(ctx)->write(ctx, GH_ISOLATE_WRITEBACK, any ? mask : wb);
		if (r < 0) {
			gh_err(ctx, "%s: %s", GH_ISOLATE_WRITEBACK, strerror(-r));
			if (!ret)
				ret = r;
		}
	}
	return ret;
}

/* What isolation needs of the host before anything: its online CPUs, and cgroup v2. */
static int host_ready(struct gh_ctx *ctx, cpu_set_t *on, unsigned *ncpus, char *why, size_t why_size)
{
	int r;

	why[0] = '\0';
	if ((r = online(ctx, on, ncpus)) < 0)
		return r;
	if (gh_fs_exists(ctx, "/sys/fs/cgroup/cgroup.controllers") <= 0) {
		gh_util_format(why, why_size, "no cgroup v2 (/sys/fs/cgroup/cgroup.controllers missing)");
		return -EPERM;
	}
	return 0;
}

/*
 * The refusals, before any change: the VM's CPUs overlap another isolated
 * VM's (others), or fewer housekeeping CPUs than housekeeping_min would stay.
 * *hk is the housekeeping set with this VM isolated too.
 */
static int fits(const cpu_set_t *on, const cpu_set_t *others, const struct gh_isolate_req *req, cpu_set_t *hk,
		char *why, size_t why_size)
{
	unsigned min = req->housekeeping_min ? req->housekeeping_min : 1;
	cpu_set_t ov, iso;
	char list[1024];

	CPU_AND(&ov, others, &req->cpus);
	if (CPU_COUNT(&ov)) {
		gh_cpulist_format(&ov, list, sizeof(list));
		gh_util_format(why, why_size, "CPUs %s are already isolated for another VM", list);
		return -EPERM;
	}
	CPU_OR(&iso, others, &req->cpus);
	CPU_XOR(hk, on, &iso);
	CPU_AND(hk, hk, on);
	if ((unsigned)CPU_COUNT(hk) < min) {
		gh_util_format(why, why_size, "%d housekeeping CPUs left, housekeeping_min is %u", CPU_COUNT(hk), min);
		return -EPERM;
	}
	return 0;
}

int gh_isolate_start(struct gh_ctx *ctx, const struct gh_isolate_req *req, char *why, size_t why_size)
{
	cpu_set_t on, iso, hk;
	unsigned ncpus = 0;
	char key[16], list[1024], buf[1024];
	struct json_object *st, *vms;
	int r;

	if ((r = host_ready(ctx, &on, &ncpus, why, why_size)) < 0)
		return r;
	st = load(ctx);
	if (!st && errno != ENOENT)
		return -errno;
	if (!st) {
		struct json_object *sv = json_object_new_object();

		st = json_object_new_object();
		json_object_object_add(st, "saved", sv);
		for (size_t i = 0; req->slices && gh_isolate_units[i]; i++) {
			if ((r = read_cpus(ctx, gh_isolate_units[i], buf, sizeof(buf))) < 0) {
				gh_err(ctx, "/sys/fs/cgroup/%s/cpuset.cpus: %s", gh_isolate_units[i], strerror(-r));
				json_object_put(st);
				return r;
			}
			json_object_object_add(sv, gh_isolate_units[i], json_object_new_string(buf));
		}
		if (req->writeback && gh_fs_read_str(ctx, buf, sizeof(buf), GH_ISOLATE_WRITEBACK) >= 0)
			json_object_object_add(sv, "writeback", json_object_new_string(buf));
		json_object_object_add(st, "vms", json_object_new_object());
	}
	if ((r = vms_union(ctx, st, &iso)) < 0)
		goto out;
	json_object_object_get_ex(st, "vms", &vms);
	snprintf(key, sizeof(key), "%u", req->vmid);
	json_object_object_del(vms, key);
	vms_union(ctx, st, &iso);
	if ((r = fits(&on, &iso, req, &hk, why, why_size)) < 0)
		goto out;
	if ((r = gh_cpulist_format(&req->cpus, list, sizeof(list))) < 0)
		goto out;
	json_object_object_add(vms, key, json_object_new_string(list));
	if ((r = save(ctx, st)) < 0)
		goto out;
	r = apply(ctx, st);
	if (r < 0) {
		json_object_put(st);
		gh_isolate_stop(ctx, req->vmid);
		return r;
	}
out:
	json_object_put(st);
	return r;
}

int gh_isolate_stop(struct gh_ctx *ctx, unsigned vmid)
{
	char key[16];
	struct json_object *st = load(ctx), *vms = NULL;
	int r;

	if (!st)
		return errno == ENOENT ? 0 : -errno;
	snprintf(key, sizeof(key), "%u", vmid);
	if (json_object_object_get_ex(st, "vms", &vms))
		json_object_object_del(vms, key);
	/* The state is written first, so a crash below is finished by the next stop or recover. */
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
	r = vms_union(ctx, st, isolated);
	if (r >= 0)
		r = online(ctx, &on, &ncpus);
	if (r >= 0) {
		CPU_XOR(housekeeping, &on, isolated);
		CPU_AND(housekeeping, housekeeping, &on);
		if (json_object_object_get_ex(st, "vms", &vms)) {
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

int gh_isolate_plan(struct gh_ctx *ctx, const struct gh_isolate_req *req, struct gh_strv *steps,
		    struct gh_strv *undo, char *why, size_t why_size)
{
	cpu_set_t on, iso, hk;
	unsigned ncpus = 0;
	char key[16], list[1024], mask[512], prev[1024], line[2400], back[1200];
	struct json_object *st, *vms = NULL;
	int r;

	if ((r = host_ready(ctx, &on, &ncpus, why, why_size)) < 0)
		return r;
	st = load(ctx);
	if (!st && errno != ENOENT)
		return -errno;
	CPU_ZERO(&iso);
	if (st) {
		snprintf(key, sizeof(key), "%u", req->vmid);
		if (json_object_object_get_ex(st, "vms", &vms))
			json_object_object_del(vms, key);
		r = vms_union(ctx, st, &iso);
		if (r < 0)
			goto out;
	}
	if ((r = fits(&on, &iso, req, &hk, why, why_size)) < 0)
		goto out;
	if (gh_cpulist_format(&hk, list, sizeof(list)) < 0 || gh_isolate_format_mask(&hk, ncpus, mask, sizeof(mask)) < 0) {
		r = -ENOSPC;
		goto out;
	}
	r = 0;
	for (size_t i = 0; req->slices && gh_isolate_units[i] && r >= 0; i++) {
		const char *sv = st ? saved(st, gh_isolate_units[i]) : NULL;

		if (!sv && read_cpus(ctx, gh_isolate_units[i], prev, sizeof(prev)) >= 0)
			sv = prev;
		gh_util_format(line, sizeof(line), "systemctl set-property --runtime %s AllowedCPUs=%s",
			       gh_isolate_units[i], list);
		gh_util_format(back, sizeof(back), "AllowedCPUs=%s when no isolated VM is left%s", sv ? sv : "",
			       sv && !sv[0] ? " (unrestricted)" : "");
		r = gh_strv_push(steps, line);
		if (r >= 0)
			r = gh_strv_push(undo, back);
	}
	if (r >= 0 && req->writeback) {
		const char *sv = st ? saved(st, "writeback") : NULL;

		if (!sv && gh_fs_read_str(ctx, prev, sizeof(prev), GH_ISOLATE_WRITEBACK) >= 0)
			sv = prev;
		gh_util_format(line, sizeof(line), "write %s to %s", mask, GH_ISOLATE_WRITEBACK);
		gh_util_format(back, sizeof(back), "write %s when no isolated VM is left", sv ? sv : "?");
		r = gh_strv_push(steps, line);
		if (r >= 0)
			r = gh_strv_push(undo, back);
	}
out:
	json_object_put(st);
	return r;
}
