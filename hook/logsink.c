/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>

#include "hook.h"
#include "util.h"

static char sink_tag[128];
static bool sink_syslog;

void gh_logsink_open(const char *tag, bool use_syslog)
{
	if (snprintf(sink_tag, sizeof(sink_tag), "%s", tag) >= (int)sizeof(sink_tag))
		sink_tag[sizeof(sink_tag) - 1] = '\0';
	/* PVE reads stdout and stderr through separate pipes: one stream keeps the order. */
	setvbuf(stderr, NULL, _IOLBF, 0);
	/*
	 * With no syslog socket (a rescue shell, a bare initramfs, the bench
	 * guest) glibc's syslog() makes a socket and fails to connect once per
	 * line: stderr alone then. Connected once, at open, otherwise.
	 */
	struct stat st;

	sink_syslog = use_syslog && stat("/dev/log", &st) == 0 && S_ISSOCK(st.st_mode);
	if (sink_syslog)
		openlog("gpu-hook", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void gh_logsink_fn(void *data, int priority, const char *fmt, va_list ap)
{
	char line[2048], out[sizeof(line) + sizeof(sink_tag) + sizeof("gpu-hook[]: warning: \n")];
	const char *level = "";

	(void)data;
	if (gh_util_vformat(line, sizeof(line), fmt, ap) < 0)
		return;
	if (priority <= LOG_ERR)
		level = "error: ";
	else if (priority == LOG_WARNING)
		level = "warning: ";
	/* One write, formatted here: stderr is unbuffered. out holds the longest line, tag and level. */
	if (gh_util_format(out, sizeof(out), "gpu-hook[%s]: %s%s\n", sink_tag, level, line) == 0)
		fputs(out, stderr);
	if (sink_syslog)
		syslog(priority, "[%s] %s%s", sink_tag, level, line);
}

void gh_logsink_close(void)
{
	if (sink_syslog)
		closelog();
	sink_syslog = false;
}
