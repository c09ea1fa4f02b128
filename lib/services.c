/* SPDX-License-Identifier: MIT */
#include "services.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs.h"
#include "timebox.h"
#include "util.h"

/* is-active is a query PID 1 answers from memory: a bound for a wedged manager, not a stop's timeout. */
#define QUERY_TIMEOUT_MS 5000

static bool has_suffix(const char *unit, const char *const *suffixes, size_t n)
{
	size_t len = strlen(unit);

	for (size_t i = 0; i < n; i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && !strcmp(unit + len - sl, suffixes[i]))
			return true;
	}
	return false;
}

bool gh_services_valid_name(const char *unit)
{
	static const char *const suffixes[] = { ".service", ".socket", ".target", ".scope", ".slice",
						".timer",   ".mount",  ".automount", ".swap", ".path",
						".device" };
	size_t len = unit ? strlen(unit) : 0;

	/* A leading '-' would reach systemctl as an option. */
	if (!len || len > 255 || unit[0] == '.' || unit[0] == '-')
		return false;
	for (const char *c = unit; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr(":_.\\@-", *c))
			return false;
	return has_suffix(unit, suffixes, GH_ARRAY_SIZE(suffixes));
}

bool gh_services_stoppable_name(const char *unit)
{
	static const char *const suffixes[] = { ".service", ".socket", ".target", ".scope" };

	return gh_services_valid_name(unit) && has_suffix(unit, suffixes, GH_ARRAY_SIZE(suffixes));
}

int gh_services_resolve(struct gh_ctx *ctx, const char *unit, char *buf, size_t size)
{
	char target[256];

	if (!gh_services_valid_name(unit))
		return -EINVAL;
	/*
	 * An alias such as display-manager.service is a link to the real unit
	 * file. A masked unit links to /dev/null: "null" is no unit name, so the
	 * name stays as it is.
	 */
	if (gh_fs_link_base(ctx, target, sizeof(target), "/etc/systemd/system/%s", unit) >= 0 &&
	    gh_services_valid_name(target))
		return gh_util_copy(buf, size, target);
	return gh_util_copy(buf, size, unit);
}

/* 1 when the file has any byte but blanks, 0 when empty or absent, -errno. */
static int has_pids(struct gh_ctx *ctx, const char *slice, const char *unit)
{
	char procs[64];
	int r;

	r = gh_fs_read_str(ctx, procs, sizeof(procs), "/sys/fs/cgroup/%s%s/cgroup.procs", slice, unit);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	/* More pids than the buffer holds: certainly some. */
	if (r == -EFBIG)
		return 1;
	if (r < 0) {
		gh_err(ctx, "cannot read /sys/fs/cgroup/%s%s/cgroup.procs: %s", slice, unit, strerror(-r));
		return r;
	}
	return gh_util_trim(procs)[0] != '\0';
}

/*
 * cgroup v2 keeps processes only in leaves: a unit that delegates (its
 * processes live in sub-cgroups) has an empty cgroup.procs of its own but
 * says "populated 1" in cgroup.events.
 */
static int populated(struct gh_ctx *ctx, const char *slice, const char *unit)
{
	char events[256];
	int r;

	r = gh_fs_read_str(ctx, events, sizeof(events), "/sys/fs/cgroup/%s%s/cgroup.events", slice, unit);
	if (r == -ENOENT || r == -ENOTDIR || r == -EFBIG)
		return 0;
	if (r < 0) {
		gh_err(ctx, "cannot read /sys/fs/cgroup/%s%s/cgroup.events: %s", slice, unit, strerror(-r));
		return r;
	}
	return !strncmp(events, "populated 1", 11) || strstr(events, "\npopulated 1") != NULL;
}

/* Instances live in system-<prefix>.slice, with '-' escaped as in every slice name. */
static int instance_slice(const char *unit, char *buf, size_t size)
{
	const char *at = strchr(unit, '@');
	size_t off;

	if (!at || at == unit)
		return -ENOENT;
	if (gh_util_copy(buf, size, "system.slice/system-") < 0)
		return -ENAMETOOLONG;
	off = strlen(buf);
	for (const char *c = unit; c < at; c++) {
		const char *s = *c == '-' ? "\\x2d" : NULL;
		size_t n = s ? 4 : 1;

		if (off + n + sizeof(".slice/") > size)
			return -ENAMETOOLONG;
		memcpy(buf + off, s ? s : c, n);
		off += n;
	}
	memcpy(buf + off, ".slice/", sizeof(".slice/"));
	return 0;
}

int gh_services_cgroup_active(struct gh_ctx *ctx, const char *unit)
{
	char slice[320];
	int r;

	if (!gh_services_valid_name(unit))
		return -EINVAL;
	r = has_pids(ctx, "system.slice/", unit);
	if (r == 0)
		r = populated(ctx, "system.slice/", unit);
	if (r == 0 && instance_slice(unit, slice, sizeof(slice)) == 0) {
		r = has_pids(ctx, slice, unit);
		if (r == 0)
			r = populated(ctx, slice, unit);
	}
	return r;
}

/* Sent to the phase's worker (see gh_timebox_call): the name travels inside. */
struct query {
	struct gh_ctx *ctx;
	char unit[256];
};

static int query_in_child(void *arg)
{
	const struct query *q = arg;

	return gh_ctx_ops(q->ctx)->service(q->ctx, "is-active", q->unit);
}

/*
 * systemctl is-active exits 0 for active (and reloading), 3 for every other
 * state and 4 for a unit it does not know. Any other status (1: systemd is
 * not PID 1), no systemctl (-ENOENT) or no ops (-ENOSYS): no manager answered.
 */
static int ask_manager(struct gh_ctx *ctx, const char *unit)
{
	struct query q = { .ctx = ctx };
	struct gh_timebox tb;
	int r;

	if (!gh_ctx_ops(ctx) || !gh_ctx_ops(ctx)->service)
		return -ENOSYS;
	if (gh_util_copy(q.unit, sizeof(q.unit), unit) < 0)
		return -EINVAL;
	r = gh_timebox_call(ctx, QUERY_TIMEOUT_MS, query_in_child, &q, sizeof(q), &tb);
	if (r < 0)
		return r;
	if (tb.timed_out) {
		gh_err(ctx, "systemctl is-active %s: no answer within %u ms", unit, QUERY_TIMEOUT_MS);
		return -ETIMEDOUT;
	}
	if (tb.status == 0)
		return 1;
	if (tb.status == -3 || tb.status == -4)
		return 0;
	return tb.status < 0 ? tb.status : -EIO;
}

/* The system manager's unit search path (systemd.unit(5)), and Debian's /lib from before the merged /usr. */
static bool file_in_unit_dirs(struct gh_ctx *ctx, const char *name)
{
	static const char *const dirs[] = {
		"/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
		"/run/systemd/generator.early", "/etc/systemd/system",	      "/etc/systemd/system.attached",
		"/run/systemd/system",	       "/run/systemd/system.attached", "/run/systemd/generator",
		"/usr/local/lib/systemd/system", "/usr/lib/systemd/system",   "/run/systemd/generator.late",
		"/lib/systemd/system",
	};

	for (size_t i = 0; i < GH_ARRAY_SIZE(dirs); i++)
		if (gh_fs_exists(ctx, "%s/%s", dirs[i], name) > 0)
			return true;
	return false;
}

bool gh_services_unit_file(struct gh_ctx *ctx, const char *unit)
{
	const char *at = strchr(unit, '@'), *dot = strrchr(unit, '.');
	char tmpl[256];

	if (!gh_services_valid_name(unit))
		return false;
	if (file_in_unit_dirs(ctx, unit))
		return true;
	/* getty@tty1.service comes from getty@.service. */
	if (!at || !dot || dot < at ||
	    snprintf(tmpl, sizeof(tmpl), "%.*s%s", (int)(at - unit + 1), unit, dot) >= (int)sizeof(tmpl))
		return false;
	return file_in_unit_dirs(ctx, tmpl);
}

int gh_services_is_active(struct gh_ctx *ctx, const char *unit)
{
	return gh_services_state(ctx, unit, NULL);
}

/*
 * systemd's own answer first: a oneshot unit with RemainAfterExit=yes is
 * "active (exited)" with an empty cgroup, and a stopped unit whose
 * KillMode left processes behind is inactive with a populated one. The
 * cgroup decides only where no manager answers (no systemctl, systemd not
 * PID 1), and is read once.
 */
int gh_services_state(struct gh_ctx *ctx, const char *unit, bool *known)
{
	bool file;
	int cg = 0, r;

	if (known)
		*known = false;
	if (!gh_services_valid_name(unit))
		return -EINVAL;
	/*
	 * Neither a file for systemd to load nor a process in its cgroup: the
	 * unit is not there to run or hold anything, and forking systemctl to
	 * hear so (a few ms on a host, for each listed unit at every pre-start)
	 * is skipped. A transient or generated unit has its file under /run.
	 */
	file = gh_services_unit_file(ctx, unit);
	if (!file) {
		cg = gh_services_cgroup_active(ctx, unit);
		if (cg <= 0)
			return cg;
	}
	r = ask_manager(ctx, unit);
	if (r < 0 && r != -ETIMEDOUT)
		r = cg ? cg : gh_services_cgroup_active(ctx, unit);
	if (known)
		*known = file || r > 0;
	return r;
}
