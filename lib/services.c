/* SPDX-License-Identifier: MIT */
#include "services.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "fs.h"

bool gh_services_valid_name(const char *unit)
{
	static const char *const suffixes[] = { ".service", ".socket", ".target", ".scope", ".slice" };
	size_t len = unit ? strlen(unit) : 0;

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
	/* An alias such as display-manager.service is a link to the real unit. */
	if (gh_fs_link_base(ctx, target, sizeof(target), "/etc/systemd/system/%s", unit) >= 0 &&
	    gh_services_valid_name(target))
		return gh_util_copy(buf, size, target);
	return gh_util_copy(buf, size, unit);
}

int gh_services_is_active(struct gh_ctx *ctx, const char *unit)
{
	char procs[64];
	int r;

	if (!gh_services_valid_name(unit))
		return -EINVAL;
	r = gh_fs_read_str(ctx, procs, sizeof(procs), "/sys/fs/cgroup/system.slice/%s/cgroup.procs", unit);
	if (r == -ENOENT || r == -ENOTDIR)
		return 0;
	/* -EFBIG: more processes than the buffer holds, so some. */
	if (r == -EFBIG)
		return 1;
	if (r < 0)
		return r;
	return gh_util_trim(procs)[0] != '\0';
}
