/* SPDX-License-Identifier: MIT */
#include "text.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void gh_text_err(struct gh_text *t, const char *fmt, ...)
{
	char msg[1024], line[PATH_MAX + 1100];
	va_list ap;

	/* Values in messages are escaped and bounded, so a cut here loses nothing useful. */
	va_start(ap, fmt);
	gh_util_vformat(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "%s:%d: %s", t->name, t->line, msg);
	t->errors++;
	if (t->sink)
		t->sink(t, line);
	else
		gh_err(t->ctx, "%s", line);
}

/* Length of the UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or > U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	size_t len;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1fu;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0fu;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (len > avail)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

const char *gh_text_line_problem(const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *)line;

	for (size_t i = 0; i < len;) {
		size_t n;

		/* Printable ASCII, nearly every byte of a config, is one test. */
		if (s[i] >= 0x20 && s[i] < 0x7f) {
			i++;
			continue;
		}
		if (!s[i])
			return "NUL byte in line";
		if ((s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') || s[i] == 0x7f)
			return "control character in line";
		n = utf8_seq(s + i, len - i);
		if (!n)
			return "line is not valid UTF-8";
		i += n;
	}
	return NULL;
}

int gh_text_next(struct gh_text *t, char **line, size_t *len)
{
	ssize_t n;

	while ((n = getline(&t->buf, &t->cap, t->f)) >= 0) {
		const char *problem;

		t->line++;
		if (t->max && n > t->max) {
			gh_text_err(t, "line too long (%zd bytes, at most %zd)", n, t->max);
			continue;
		}
		if (n && t->buf[n - 1] == '\n')
			t->buf[--n] = '\0';
		/* PVE's \s*$ takes a CR at the end too. */
		if (n && t->buf[n - 1] == '\r')
			t->buf[--n] = '\0';
		if (t->bytes)
			problem = memchr(t->buf, '\0', (size_t)n) ? "NUL byte in line" : NULL;
		else
			problem = gh_text_line_problem(t->buf, (size_t)n);
		if (problem) {
			gh_text_err(t, "%s", problem);
			continue;
		}
		*line = t->buf;
		*len = (size_t)n;
		return 1;
	}
	return 0;
}

void gh_text_done(struct gh_text *t)
{
	free(t->buf);
	t->buf = NULL;
	t->cap = 0;
}
