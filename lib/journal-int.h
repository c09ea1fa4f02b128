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
 * starts is noted while json-c prints it.
 */

#include <sys/types.h>

#include "journal.h"

struct json_object;

struct gh_jslots {
	int fd;			/* the file the last full save wrote (O_CLOEXEC), or -1 */
	pid_t owner;		/* the process that opened fd: a forked child never writes through it */
	dev_t dev;		/* fd's file, to compare with what the path names now */
	ino_t ino;
	unsigned n_dev;		/* slot 0: complete; 1..n_dev: wedged; then the steps */
	unsigned n;
	size_t *off;		/* where each slot starts in the text; SIZE_MAX: not printed */
	unsigned char *val;	/* what each slot holds in the file */
};

/* Slots of a new tree made from j (gh_journal_to_json); on failure the tree prints as before, no slots. */
int gh_jslots_attach(struct gh_jslots *s, struct json_object *tree, const struct gh_journal *j);
/* After a full save of j as text: keeps a descriptor on the file if it is exactly that text. */
int gh_jslots_keep(struct gh_ctx *ctx, struct gh_jslots *s, const struct gh_journal *j, const char *text,
		   size_t len);
/* Writes what changed since the last save in place: 0, or -errno and a full save is needed. */
int gh_jslots_write(struct gh_ctx *ctx, struct gh_jslots *s, const struct gh_journal *j);
/* The descriptor closed (the file is about to be replaced or removed); the offsets stay. */
void gh_jslots_drop(struct gh_jslots *s);
/* Everything released; the tree the slots were attached to must be gone already. */
void gh_jslots_free(struct gh_jslots *s);

#endif
