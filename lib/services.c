/* SPDX-License-Identifier: MIT */
#include "services.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "fs.h"
#include "util.h"

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
	for (size_t i = 0; i < GH_ARRAY_SIZE(suffixes); i++) {
		size_t sl = strlen(suffixes[i]);

		if (len > sl && !strcmp(unit + len - sl, suffixes[i]))
			return true;
	}
	return false;
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

int gh_services_is_active(struct gh_ctx *ctx, const char *unit)
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
