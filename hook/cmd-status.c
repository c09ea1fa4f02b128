/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "hook.h"
#include "watch.h"
#include "affinity.h"
#include "cpulist.h"
#include "handoff.h"
#include "host.h"
#include "isolate.h"
#include "jsonx.h"
#include "modules.h"
#include "pci.h"
#include "vmconf.h"
#include "vms.h"

static struct json_object *dev_json(const struct gh_pci_dev *d, const char *host_driver, const char *wedged)
{
	struct json_object *o = json_object_new_object();
	char hex[16];

	if (!o)
		return NULL;
	json_object_object_add(o, "address", json_object_new_string(d->addr));
	snprintf(hex, sizeof(hex), "%04x", d->vendor);
	json_object_object_add(o, "vendor", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "%04x", d->device);
	json_object_object_add(o, "device", json_object_new_string(hex));
	snprintf(hex, sizeof(hex), "0x%06x", d->class);
	json_object_object_add(o, "class", json_object_new_string(hex));
	json_object_object_add(o, "driver", gh_json_str_or_null(d->driver));
	json_object_object_add(o, "override", gh_json_str_or_null(d->override));
	json_object_object_add(o, "iommu_group", d->iommu_group >= 0 ? json_object_new_int(d->iommu_group) : NULL);
	json_object_object_add(o, "boot_vga", d->boot_vga >= 0 ? json_object_new_boolean(d->boot_vga) : NULL);
	json_object_object_add(o, "power_state", gh_json_str_or_null(d->power_state));
	if (host_driver)
		json_object_object_add(o, "host_driver", gh_json_str_or_null(host_driver));
	json_object_object_add(o, "wedged", json_object_new_boolean(d->wedged));
	json_object_object_add(o, "wedged_reason", gh_json_str_or_null(wedged));
	return o;
}

static void print_dev(const struct gh_pci_dev *d, const char *host_driver, const char *wedged)
{
	char grp[16] = "-";

	if (d->iommu_group >= 0)
		snprintf(grp, sizeof(grp), "%d", d->iommu_group);
	/* A wedged function's override is unknown: reading it would block with the stuck call. */
	printf("%-13s %04x:%04x 0x%06x %-16s %-10s %-5s", d->addr, d->vendor, d->device, d->class,
	       d->driver[0] ? d->driver : "-", d->wedged ? "?" : d->override[0] ? d->override : "-", grp);
	if (host_driver)
		printf(" %s", host_driver[0] ? host_driver : "-");
	putchar('\n');
	if (wedged)
		printf("  %s\n", wedged);
}

/* One function's row (and its wedged line), as text or JSON. */
static void show_dev(struct gh_ctx *ctx, const struct gh_journals *js, struct json_object *devs,
		     const struct gh_pci_dev *d, const char *host_driver)
{
	char reason[1536];

	if (d->wedged)
		gh_handoff_wedged_reason(ctx, js, d->addr, d->driver, reason, sizeof(reason));
	if (devs)
		json_object_array_add(devs, dev_json(d, host_driver, d->wedged ? reason : NULL));
	else
		print_dev(d, host_driver, d->wedged ? reason : NULL);
}

static void print_header(bool vm)
{
	printf("%-13s %-9s %-8s %-16s %-10s %-5s%s\n", "ADDRESS", "ID", "CLASS", "DRIVER", "OVERRIDE", "GROUP",
	       vm ? " HOST-DRIVER" : "");
}

static int status_modules(struct gh_ctx *ctx, struct json_object *root, bool json)
{
	struct gh_modset set = { 0 };
	struct json_object *mods = NULL;
	int r = gh_modules_stack(ctx, "nvidia", &set);

	if (r < 0)
		return r;
	if (json) {
		mods = json_object_new_array();
		json_object_object_add(root, "modules", mods);
	} else {
		printf("nvidia modules:%s\n", set.n ? "" : " not loaded");
	}
	for (unsigned i = 0; i < set.n; i++) {
		const struct gh_module *m = &set.v[i];

		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "name", json_object_new_string(m->name));
			json_object_object_add(o, "state", json_object_new_string(gh_modules_state_name(m->state)));
			json_object_object_add(o, "refcnt", json_object_new_int(m->refcnt));
			json_object_array_add(mods, o);
		} else {
			printf("  %-16s %-8s refcnt %d\n", m->name, gh_modules_state_name(m->state), m->refcnt);
		}
	}
	gh_modules_free(&set);
	return 0;
}

/* The watchers that pre-starts and reboots left behind (lib/watch.h): waiting, or a stale record. */
static int status_watchers(struct gh_ctx *ctx, struct json_object *root, unsigned only, bool json)
{
	struct json_object *arr = json ? json_object_new_array() : NULL;
	struct gh_strv ids = { 0 };
	int r = gh_watch_list(ctx, &ids);

	if (json)
		json_object_object_add(root, "watchers", arr);
	for (size_t i = 0; r >= 0 && i < ids.n; i++) {
		struct gh_watch w;
		unsigned vmid;
		int waiting;

		if (gh_vmconf_parse_vmid(ids.v[i], &vmid) < 0 || (only && vmid != only) || gh_watch_load(ctx, vmid, &w) < 0)
			continue;
		waiting = gh_watch_waiting(ctx, vmid) > 0;
		if (json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "vmid", json_object_new_int64(vmid));
			json_object_object_add(o, "reason", json_object_new_string(gh_watch_reason_name(w.reason)));
			json_object_object_add(o, "pid", json_object_new_int(w.pid));
			json_object_object_add(o, "armed", json_object_new_int64(w.armed));
			json_object_object_add(o, "bound_s", json_object_new_int64(w.bound_s));
			json_object_object_add(o, "waiting", json_object_new_boolean(waiting));
			json_object_array_add(arr, o);
		} else {
			printf("watcher: VM %u, armed by a %s, pid %d, %s\n", vmid,
			       w.reason == GH_WATCH_REBOOT ? "reboot's post-stop" : "start's pre-start", (int)w.pid,
			       waiting ? "waiting for the start to end" : "not running (stale record; recover removes it)");
		}
	}
	gh_strv_free(&ids);
	return r;
}

/* A running VM's QEMU threads and the CPUs each may run on now. */
/* lib/isolate.h: which VMs hold which CPUs, what the host keeps. */
static int status_isolation(struct gh_ctx *ctx, struct json_object *root, bool json)
{
	cpu_set_t iso, hk;
	struct gh_isolate_counts c;
	char vms[512], list[1024];
	int r = gh_isolate_current(ctx, &iso, &hk, vms, sizeof(vms));

	if (r < 0)
		return r;
	if (gh_cpulist_format(&hk, list, sizeof(list)) < 0)
		list[0] = '\0';
	if (r > 0 && gh_isolate_get_counts(ctx, &c) < 0)
		memset(&c, 0, sizeof(c));
	if (json) {
		struct json_object *o = NULL;

		if (r > 0) {
			o = json_object_new_object();
			json_object_object_add(o, "vms", json_object_new_string(vms));
			json_object_object_add(o, "housekeeping", json_object_new_string(list));
			json_object_object_add(o, "irqs_moved", json_object_new_int64(c.irqs_moved));
			json_object_object_add(o, "irqs_skipped", json_object_new_int64(c.irqs_skipped));
			json_object_object_add(o, "irqs_skipped_list", json_object_new_string(c.skipped));
			json_object_object_add(o, "performance_cpus", json_object_new_int64(c.governors));
			json_object_object_add(o, "other_vm_scopes", json_object_new_int64(c.scopes));
		}
		json_object_object_add(root, "isolation", o);
	} else if (r > 0) {
		printf("isolation: VM:CPUs %s; host on CPUs %s\n", vms, list);
		printf("isolation: IRQs moved %u, kernel-managed kept %u%s%s; performance governor on %u CPUs; "
		       "%u other VMs' scopes narrowed\n", c.irqs_moved, c.irqs_skipped, c.skipped[0] ? ": " : "",
		       c.skipped, c.governors, c.scopes);
	} else {
		printf("isolation: none\n");
	}
	return 0;
}

static int status_threads(struct gh_ctx *ctx, struct json_object *root, unsigned vmid, bool json)
{
	struct json_object *arr = NULL;
	struct gh_pinplan pp = { 0 };
	pid_t pid;
	int r = gh_vms_pid(ctx, vmid, &pid);

	if (r == -ENOENT) {
		if (json)
			json_object_object_add(root, "threads", NULL);
		else
			printf("QEMU: not running\n");
		return 0;
	}
	if (r < 0)
		return r;
	r = gh_affinity_threads(ctx, pid, &pp);
	if (r < 0) {
		gh_err(ctx, "cannot list the threads of QEMU pid %d: %s", (int)pid, strerror(-r));
		return r;
	}
	if (json) {
		arr = json_object_new_array();
		json_object_object_add(root, "pid", json_object_new_int(pid));
		json_object_object_add(root, "threads", arr);
	} else {
		printf("QEMU pid %d threads:\n", (int)pid);
	}
	for (unsigned i = 0; i < pp.n; i++) {
		char cpus[256], comm[64];

		if (gh_cpulist_format(&pp.v[i].now, cpus, sizeof(cpus)) < 0)
			snprintf(cpus, sizeof(cpus), "?");
		if (json) {
			struct json_object *t = json_object_new_object();

			json_object_object_add(t, "tid", json_object_new_int(pp.v[i].tid));
			json_object_object_add(t, "name", json_object_new_string(pp.v[i].comm));
			json_object_object_add(t, "cpus", json_object_new_string(cpus));
			json_object_array_add(arr, t);
		} else {
			printf("  %-8d %-20s CPUs %s\n", (int)pp.v[i].tid, gh_util_escape(pp.v[i].comm, comm, sizeof(comm)),
			       cpus);
		}
	}
	gh_affinity_free(&pp);
	return 0;
}

/* Every function worth a look (gh_host_interesting), each with its wedged line. */
static int show_all(struct gh_ctx *ctx, struct json_object *devs, bool json)
{
	struct gh_pci_dev *d = NULL;
	struct gh_journals js;
	unsigned n = 0;
	int r;

	/* gh_host_load reads the journals itself; here every function a journal holds is read in a child. */
	gh_journals_load(ctx, &js);
	gh_journals_mark_suspects(ctx, &js);
	r = gh_host_interesting(ctx, &d, &n);
	if (r < 0)
		gh_err(ctx, "cannot list /sys/bus/pci/devices: %s", strerror(-r));
	else if (!json)
		print_header(false);
	for (unsigned i = 0; i < n; i++)
		show_dev(ctx, &js, devs, &d[i], NULL);
	gh_host_interesting_free(&d, &n);
	gh_journals_free(&js);
	return r;
}

int gh_cmd_status(const struct gh_cmd *cmd, struct gh_opts *o)
{
	struct json_object *root = NULL, *devs = NULL;
	struct gh_host h = { 0 };
	struct gh_ctx *ctx;
	unsigned vmid = 0;
	int rc = GH_EXIT_FAIL, r = 0;

	if (o->argc > 1) {
		gh_hook_usage(stderr, cmd);
		return GH_EXIT_USAGE;
	}
	if (o->argc == 1 && !gh_hook_vmid(o->argv[0], &vmid))
		return GH_EXIT_USAGE;
	ctx = gh_hook_ctx(o, "status");
	if (!ctx)
		return GH_EXIT_FAIL;
	if (o->json) {
		root = json_object_new_object();
		devs = json_object_new_array();
		if (!root || !devs)
			goto out;
		json_object_object_add(root, "vmid", vmid ? json_object_new_int64(vmid) : NULL);
		json_object_object_add(root, "devices", devs);
	}
	if (vmid) {
		r = gh_host_load(ctx, vmid, &h);
		if (r < 0)
			goto out;
		if (!o->json) {
			printf("VM %u (%s): %u function%s\n", vmid, h.vm.name[0] ? h.vm.name : "unnamed", h.n_f,
			       h.n_f == 1 ? "" : "s");
			print_header(true);
		}
		for (unsigned i = 0; i < h.n_f; i++)
			show_dev(ctx, &h.journals, devs, &h.f[i].dev, h.f[i].host_driver);
	} else {
		r = show_all(ctx, devs, o->json);
		if (r < 0)
			goto out;
	}
	if (vmid) {
		r = status_threads(ctx, root, vmid, o->json);
		if (r < 0)
			goto out;
	}
	r = status_modules(ctx, root, o->json);
	if (r >= 0)
		r = status_watchers(ctx, root, vmid, o->json);
	if (r >= 0)
		r = status_isolation(ctx, root, o->json);
	if (r < 0)
		goto out;
	if (o->json)
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY |
								      JSON_C_TO_STRING_NOSLASHESCAPE));
	rc = GH_EXIT_OK;
out:
	json_object_put(root);
	gh_host_free(&h);
	gh_ctx_free(ctx);
	gh_logsink_close();
	return rc;
}
