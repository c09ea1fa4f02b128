/* SPDX-License-Identifier: MIT */
#ifndef GH_TEXT_H
#define GH_TEXT_H

/*
 * What the line-based parsers share (the VM config, pci.cfg, the policy,
 * storage.cfg): one reader that numbers the lines, takes off "\n" or "\r\n"
 * and passes over a line that is too long or not text, and one reporter of
 * "name:line: message". As doas -C does, a parser reports every error of a
 * file and goes on; t->errors counts them and the parser fails at the end.
 */

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "ctx.h"

struct gh_text {
	struct gh_ctx *ctx;
	FILE *f;
	const char *name;	/* the file, for messages */
	ssize_t max;		/* longest line taken, its newline counted; 0: any */
	bool bytes;		/* any bytes but NUL (storage.cfg); else UTF-8 without control bytes */
	/*
	 * Where a message goes ("name:line: message"): NULL logs it at LOG_ERR;
	 * a parser that keeps its problems for later sets its own, with data.
	 */
	void (*sink)(struct gh_text *t, const char *msg);
	void *data;
	int line;		/* the line last read, from 1 */
	int errors;		/* reported so far */
	char *buf;		/* the reader's */
	size_t cap;
};

/* Reports "name:line: message" for the line last read, and counts it. */
void gh_text_err(struct gh_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The next line: 1 with *line (t's, until the next call) and *len, without
 * its "\n" or "\r\n"; 0 at the end of the file or on a read error (ferror
 * tells which). A line longer than t->max ("line too long") or not text
 * (gh_text_line_problem) is reported and passed over.
 */
int gh_text_next(struct gh_text *t, char **line, size_t *len);
/* Frees the reader's buffer; t can read again. */
void gh_text_done(struct gh_text *t);
/*
 * A line of len bytes: NULL when it is text (UTF-8 by RFC 3629, tabs but no
 * other control bytes), else what is wrong ("NUL byte in line", "control
 * character in line", "line is not valid UTF-8").
 */
const char *gh_text_line_problem(const char *line, size_t len);

#endif
