/* SPDX-License-Identifier: MIT */
#ifndef GH_JOURNAL_INT_H
#define GH_JOURNAL_INT_H

/*
 * Inside the journal: what journal.c (the record, full saves) and
 * journal-slots.c (the saves that change a few bytes in place) share.
 *
 * A slot is a value that changes between two saves of the same record:
 * "complete", each device's "wedged", each step's "status". Each is printed
 * at a fixed width (a status padded with spaces to the longest name, "true "
 * or "false"; JSON allows whitespace after a value, so every reader parses
 * it as before) and never across a page of the file, and where each one
 * starts is noted while the text is printed (journal-print.c): offsets come
 * from the printer, never from searching the text, so no address, unit or
 * process name can be taken for a slot.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "journal.h"

/* A divisor of every Linux page size: a slot that does not cross one of these crosses no page. */
#define SLOT_PAGE 4096
/* Longer than any slot; a buffer of this size aligned to it never crosses a page of memory. */
#define SLOT_MAX 16

struct gh_jslots {
	int fd;			/* the file the last full save wrote (O_CLOEXEC), or -1 */
	pid_t owner;		/* the process that opened fd: a forked child never writes through it */
	dev_t dev;		/* fd's file, to compare with what the path names now */
	ino_t ino;
	unsigned n_dev;		/* slot 0: complete; 1..n_dev: wedged; then the steps */
	unsigned n;
	size_t *off;		/* where each slot starts in the text; SIZE_MAX: not printed */
	unsigned char *val;	/* what each slot holds in the file */
	char *text;		/* the file's text as written, slots included */
	size_t len;
};

/* gh_journal_parse, with nothing logged when quiet (a read that may have met a write). */
int gh_journal_parse_as(struct gh_ctx *ctx, const char *text, const char *name, bool quiet, struct gh_journal *j);
/*
 * One read of a journal's text (gh_journal_load reads the file; a test
 * gives texts of its own): 0 with *text (malloc'd, NUL-terminated) and
 * *len, or -errno.
 */
typedef int gh_journal_reader(void *data, char **text, size_t *len);
/* gh_journal_load, each read of the text made by read. */
int gh_journal_load_with(struct gh_ctx *ctx, const char *key, gh_journal_reader *read, void *data,
			 struct gh_journal *j);

/* Slots for a full save of j, none printed yet; -ENOMEM leaves s without any. */
int gh_jslots_init(struct gh_jslots *s, const struct gh_journal *j);
/* A slot's text: a status (status) or a boolean, padded to its fixed width; the width, 0 when it does not fit. */
size_t gh_jslots_text(bool status, unsigned v, char *buf, size_t size);
/*
 * j as the journal file's text, a newline at the end, its length in *len;
 * where each slot starts goes to s when s is not NULL (gh_jslots_init for
 * j). NULL with errno ENOMEM.
 */
char *gh_journal_print(const struct gh_journal *j, struct gh_jslots *s, size_t *len);
/* After a full save of j as text through fd: keeps fd (closed by drop) when the slots are where s says. */
int gh_jslots_keep(struct gh_jslots *s, const struct gh_journal *j, int fd, const char *text, size_t len);
/* Writes what changed since the last save in place: 0, or -errno and a full save is needed. */
int gh_jslots_write(struct gh_ctx *ctx, struct gh_jslots *s, const struct gh_journal *j);
/* The descriptor closed (the file is about to be replaced or removed); the offsets stay. */
void gh_jslots_drop(struct gh_jslots *s);
/* Everything released. */
void gh_jslots_free(struct gh_jslots *s);

#endif
