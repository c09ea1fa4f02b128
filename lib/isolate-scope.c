/* SPDX-License-Identifier: MIT */
/*
 * The other VMs: Proxmox VE runs each VM in qemu.slice/<vmid>.scope
 * (PVE::Systemd::enter_systemd_scope), and qemu.slice itself holds the
 * isolated VMs too, so each scope that is not an isolated VM's own is
 * narrowed to the housekeeping CPUs, its previous AllowedCPUs saved.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "isolate-int.h"
#include "journal.h"
#include "vmconf.h"

/* "105.scope": 1 with the vmid text in key. */
static int scope_vm(const char *name, char *key, size_t size)
{
	const char *dot = strrchr(name, '.');
	unsigned vmid;

	if (!dot || strcmp(dot, ".scope") || (size_t)(dot - name) >= size)
		return 0;
	memcpy(key, name, (size_t)(dot - name));
	key[dot - name] = '\0';
	return gh_vmconf_parse_vmid(key, &vmid) >= 0;
}

int gh_iso_scopes_record(struct gh_ctx *ctx, struct json_object *st)
{
	struct json_object *saved = gh_iso_obj(st, "saved", true), *vms = gh_iso_obj(st, "vms", true);
	struct json_object *scopes = gh_iso_obj(saved, "scopes", true);
	struct gh_strv names = { 0 };
	char key[32], cg[64], buf[1024];
	int r = gh_fs_list(ctx, &names, "/sys/fs/cgroup/qemu.slice");

	for (size_t i = 0; i < names.n && r >= 0; i++) {
		if (!scope_vm(names.v[i], key, sizeof(key)) || json_object_object_get_ex(vms, key, NULL) ||
		    json_object_object_get_ex(scopes, key, NULL))
			continue;
		r = gh_util_format(cg, sizeof(cg), "qemu.slice/%s", names.v[i]);
		if (r >= 0)
			r = gh_iso_read_cpus(ctx, cg, buf, sizeof(buf));
		if (r >= 0)
			json_object_object_add(scopes, key, json_object_new_string(buf));
		else
			gh_err(ctx, "/sys/fs/cgroup/%s/cpuset.cpus: %s", cg, strerror(-r));
	}
	gh_strv_free(&names);
	return r;
}

int gh_iso_scopes_build(struct gh_ctx *ctx, const struct gh_iso_view *v, struct gh_iso_acts *a)
{
	struct json_object *sv = gh_iso_obj(v->st, "saved", false), *vms = gh_iso_obj(v->st, "vms", false);
	struct json_object *scopes = sv ? gh_iso_obj(sv, "scopes", false) : NULL;
	char unit[48], undo[1200];
	int r = 0;

	if (!scopes)
		return 0;
	json_object_object_foreach(scopes, k, prev)
	{
		const char *p = json_object_get_string(prev);
		bool narrow = v->any && !(vms && json_object_object_get_ex(vms, k, NULL));

		r = gh_util_format(unit, sizeof(unit), "%s.scope", k);
		/* A VM that stopped took its scope along: nothing to narrow or give back. */
		if (r < 0 || gh_fs_exists(ctx, "/sys/fs/cgroup/qemu.slice/%s", unit) <= 0)
			continue;
		gh_util_format(undo, sizeof(undo), "AllowedCPUs=%s when no isolated VM is left%s", p,
			       p[0] ? "" : " (unrestricted)");
		r = gh_iso_act_add(a, GH_ISO_UNIT, unit, narrow ? v->hk_list : p, undo);
		if (r < 0)
			break;
	}
	return r < 0 ? r : 0;
}

/*
 * systemctl --version would say it, but ops->run returns no output and the
 * version must be testable on a fixture. Every systemd since 231 ships its
 * private library as libsystemd-shared-<version>[.<minor>...].so, in
 * /usr/lib/systemd (Arch, Fedora lib64) or /usr/lib/<triplet>/systemd
 * (Debian 12 and so Proxmox VE 8; /lib is /usr/lib there): the file name
 * carries the version of the systemd installed, without running anything.
 */
static int version_in(struct gh_ctx *ctx, const char *dir, unsigned *best)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "%s", dir);

	for (size_t i = 0; i < names.n; i++) {
		const char *p = names.v[i];
		char *end;
		unsigned long v;

		if (strncmp(p, "libsystemd-shared-", 18))
			continue;
		v = strtoul(p + 18, &end, 10);
		if (end != p + 18 && (*end == '.' || *end == '-') && v < 100000 && v > *best)
			*best = (unsigned)v;
	}
	gh_strv_free(&names);
	return r;
}

int gh_isolate_systemd_version(struct gh_ctx *ctx, unsigned *version)
{
	static const char *const dirs[] = { "/usr/lib/systemd", "/usr/lib64/systemd", "/lib/systemd" };
	struct gh_strv lib = { 0 };
	char dir[300];

	*version = 0;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		version_in(ctx, dirs[i], version);
	gh_fs_list(ctx, &lib, "/usr/lib");
	for (size_t i = 0; i < lib.n; i++) {
		if (strstr(lib.v[i], "-linux-") &&
		    gh_util_format(dir, sizeof(dir), "/usr/lib/%s/systemd", lib.v[i]) >= 0)
			version_in(ctx, dir, version);
	}
	gh_strv_free(&lib);
	return *version ? 0 : -ENOENT;
}

/* The VM's PCI functions, for its own interrupts: what gpu-hook handed over, and hostpciN host= slots. */
void gh_isolate_vm_devs(struct gh_ctx *ctx, unsigned vmid, struct gh_strv *devs)
{
	struct gh_journal j;
	struct gh_vmconf vm;
	char key[16], addr[32];

	snprintf(key, sizeof(key), "%u", vmid);
	if (gh_journal_load(ctx, key, &j) >= 0) {
		for (unsigned i = 0; i < j.n_dev; i++)
			gh_strv_add(devs, j.dev[i].addr);
		gh_journal_free(&j);
	}
	if (gh_vmconf_open(ctx, vmid, &vm) < 0)
		return;
	for (size_t i = 0; i < GH_HOSTPCI_MAX; i++) {
		for (unsigned k = 0; vm.hostpci[i].present && k < vm.hostpci[i].n_ids; k++) {
			const struct gh_pciid *id = &vm.hostpci[i].ids[k];
			int n = id->func < 0 ? snprintf(addr, sizeof(addr), "%04x:%02x:%02x.", id->domain, id->bus, id->slot)
					     : snprintf(addr, sizeof(addr), "%04x:%02x:%02x.%x", id->domain, id->bus,
							id->slot, (unsigned)id->func);

			if (n > 0 && (size_t)n < sizeof(addr))
				gh_strv_add(devs, addr);
		}
	}
}
