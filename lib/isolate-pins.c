/* SPDX-License-Identifier: MIT */
/*
 * The VMs' thread pins across AllowedCPUs= changes. The first AllowedCPUs=
 * makes systemd enable the cpuset controller, which moves every task of
 * qemu.slice into a new cpuset, and every AllowedCPUs= of a scope updates
 * its cpuset; before Linux 6.2 both cpuset_attach() and
 * update_tasks_cpumask() (kernel/cgroup/cpuset.c) set each task's affinity
 * to the cpuset's effective CPUs, forgetting a sched_setaffinity pin (6.2
 * keeps it in user_cpus_ptr and reapplies it). So the masks are read
 * before the units change, and a thread that was pinned inside its scope
 * (its mask not the scope's whole set) gets its pin back, cut to the new
 * set. A thread is known by its tid and start time, so a tid reused
 * meanwhile is not touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"
#include "fs.h"
#include "holders.h"
#include "isolate-int.h"

#define QEMU_SLICE "/sys/fs/cgroup/qemu.slice"

/*
 * The CPUs a scope's tasks may use: its cpuset.cpus.effective; without
 * the cpuset controller there (no file) those of the nearest cpuset above,
 * qemu.slice's, else the root's: every online CPU.
 */
static int scope_cpus(struct gh_ctx *ctx, const char *scope, cpu_set_t *set)
{
	char buf[1024];
	const char *bad;
	unsigned ncpus;
	int r = gh_fs_read_str(ctx, buf, sizeof(buf), QEMU_SLICE "/%s/cpuset.cpus.effective", scope);

	if (r == -ENOENT)
		r = gh_fs_read_str(ctx, buf, sizeof(buf), QEMU_SLICE "/cpuset.cpus.effective");
	if (r == -ENOENT || (r >= 0 && !gh_util_trim(buf)[0]))
		return gh_iso_online(ctx, set, &ncpus);
	if (r < 0)
		return r;
	return gh_cpulist_parse(gh_util_trim(buf), set, &bad) < 0 ? -EINVAL : 0;
}

/* /proc/<pid>/task/<tid>/stat field 22. */
static int thread_start(struct gh_ctx *ctx, pid_t pid, pid_t tid, unsigned long long *start)
{
	int fd = gh_fs_open(ctx, O_RDONLY | O_DIRECTORY | O_CLOEXEC, "/proc/%d/task/%d", (int)pid, (int)tid);
	int r;

	if (fd < 0)
		return fd;
	r = gh_holders_proc_stat_at(fd, start, NULL);
	close(fd);
	return r;
}

static int save_process(struct gh_ctx *ctx, struct gh_iso_pins *p, pid_t pid, size_t scope)
{
	struct gh_strv tids = { 0 };
	int r = gh_fs_list(ctx, &tids, "/proc/%d/task", (int)pid);

	for (size_t i = 0; i < tids.n && r >= 0; i++) {
		struct gh_iso_thread t = { .pid = pid, .scope = scope };
		unsigned long v;

		/* A thread gone meanwhile, or one unreadable, is not watched. */
		if (gh_util_parse_ulong(tids.v[i], 10, INT32_MAX, &v) < 0)
			continue;
		t.tid = (pid_t)v;
		if (thread_start(ctx, pid, t.tid, &t.start) < 0 ||
		    gh_ctx_ops(ctx)->get_affinity(ctx, t.tid, &t.mask) < 0)
			continue;
		struct gh_iso_thread *grown = gh_util_grow(p->v, p->n, sizeof(*p->v));

		if (!grown) {
			r = -ENOMEM;
			break;
		}
		p->v = grown;
		p->v[p->n++] = t;
	}
	gh_strv_free(&tids);
	return r == -ENOENT ? 0 : r;
}

static int save_scope(struct gh_ctx *ctx, struct gh_iso_pins *p, size_t scope)
{
	char *data = NULL, *save = NULL;
	size_t len;
	int r = gh_fs_read_input(ctx, 0, GH_FS_PROC_MAX, &data, &len, NULL, QEMU_SLICE "/%s/cgroup.procs",
				 p->scopes.v[scope]);

	for (char *l = r >= 0 ? strtok_r(data, "\n", &save) : NULL; l && r >= 0; l = strtok_r(NULL, "\n", &save)) {
		unsigned long pid;

		if (gh_util_parse_ulong(l, 10, INT32_MAX, &pid) >= 0)
			r = save_process(ctx, p, (pid_t)pid, scope);
	}
	free(data);
	return r == -ENOENT ? 0 : r;
}

int gh_iso_pins_save(struct gh_ctx *ctx, struct gh_iso_pins *p)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, QEMU_SLICE);

	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < names.n && r >= 0; i++) {
		size_t len = strlen(names.v[i]), k = p->scopes.n;
		cpu_set_t *eff;

		if (len < 7 || strcmp(names.v[i] + len - 6, ".scope"))
			continue;
		eff = gh_util_grow(p->eff, k, sizeof(*p->eff));
		if (!eff || gh_strv_push(&p->scopes, names.v[i]) < 0) {
			p->eff = eff ? eff : p->eff;
			r = -ENOMEM;
			break;
		}
		p->eff = eff;
		CPU_ZERO(&p->eff[k]);
		/* What cannot be read is not watched: only memory stops the rest. */
		if (scope_cpus(ctx, names.v[i], &p->eff[k]) >= 0 && save_scope(ctx, p, k) == -ENOMEM)
			r = -ENOMEM;
	}
	gh_strv_free(&names);
	/* Without the cgroup tree there is nothing to keep. */
	return r == -ENOMEM ? r : 0;
}

/*
 * 1 when its pin went back on, 2 when none of its CPUs is left (it stays
 * on the kernel's), 0 when there is nothing to do: unchanged, gone, its
 * tid reused (another start time), or unpinned (it had its scope's whole
 * set, and the kernel gave it the new one).
 */
static int fix_one(struct gh_ctx *ctx, const struct gh_iso_thread *t, const cpu_set_t *old, const cpu_set_t *now)
{
	cpu_set_t mask, want;
	unsigned long long start;

	if (CPU_EQUAL(&t->mask, old) || gh_ctx_ops(ctx)->get_affinity(ctx, t->tid, &mask) < 0 ||
	    CPU_EQUAL(&mask, &t->mask) || thread_start(ctx, t->pid, t->tid, &start) < 0 || start != t->start)
		return 0;
	CPU_AND(&want, &t->mask, now);
	if (!CPU_COUNT(&want))
		return 2;
	if (CPU_EQUAL(&want, &mask))
		return 0;
	return gh_ctx_ops(ctx)->set_affinity(ctx, t->tid, &want) < 0 ? 0 : 1;
}

void gh_iso_pins_restore(struct gh_ctx *ctx, const struct gh_iso_pins *p)
{
	char *const sync_argv[] = { (char *)GH_ISOLATE_SYSTEMCTL, (char *)"--quiet", (char *)"is-active",
				    (char *)"init.scope", NULL };
	unsigned n[3] = { 0 };
	cpu_set_t now;
	size_t scope = SIZE_MAX;
	bool have = false;

	/*
	 * systemd answers set-property before it realizes the cgroups (its
	 * manager loop dispatches the cgroup realize queue before the next bus
	 * message): one more call to PID 1 returns once the controller and
	 * cpuset changes, and so the kernel's resets, are done. Its answer
	 * does not matter.
	 */
	if (p->n)
		gh_ctx_ops(ctx)->run(ctx, sync_argv);
	for (size_t i = 0; i < p->n; i++) {
		const struct gh_iso_thread *t = &p->v[i];

		if (t->scope != scope) {
			scope = t->scope;
			have = scope_cpus(ctx, p->scopes.v[scope], &now) >= 0;
		}
		if (have)
			n[fix_one(ctx, t, &p->eff[scope], &now)]++;
	}
	if (n[1])
		gh_info(ctx, "isolation: re-applied %u thread pins the cpuset reset (kernels before 6.2)", n[1]);
	if (n[2])
		gh_info(ctx, "isolation: %u pinned threads have none of their CPUs left in their scope's cpuset: "
			     "left on the cpuset's CPUs", n[2]);
}

void gh_iso_pins_free(struct gh_iso_pins *p)
{
	free(p->v);
	free(p->eff);
	gh_strv_free(&p->scopes);
	memset(p, 0, sizeof(*p));
}
