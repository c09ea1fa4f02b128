/* SPDX-License-Identifier: MIT */
/*
 * Saving a journal between two steps by writing only what changed, in place
 * (journal-int.h): a phase saves before every step, and printing the whole
 * record and renaming a new file over the old one was most of a save (0.5 to
 * 0.8 ms a step under TCG). The first save of a record, and any save this
 * path cannot do, is a full save (journal.c), which notes where the slots are.
 */
#include "journal-int.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <json-c/printbuf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

/* A divisor of every Linux page size: a slot that does not cross one of these crosses no page. */
#define SLOT_PAGE 4096
/* Longer than any slot; a buffer of this size aligned to it never crosses a page of memory. */
#define SLOT_MAX 16

/* The width of a status slot: the longest status name, quoted. */
static size_t status_width(void)
{
	static size_t width;
	size_t w = 0;

	for (int i = 0; !width && i <= GH_J_MAX; i++)
		if (strlen(gh_journal_status_name((enum gh_jstatus)i)) + 2 > w)
			w = strlen(gh_journal_status_name((enum gh_jstatus)i)) + 2;
	if (!width)
		width = w;
	return width;
}

/* A slot's text, padded with spaces: "\"done\"   " or "true " / "false". Its width, or 0 when it does not fit. */
static size_t slot_text(char *buf, size_t size, const char *word, bool quoted)
{
	size_t len = strlen(word), w = quoted ? status_width() : sizeof("false") - 1;

	if (len + (quoted ? 2 : 0) > w || w >= size)
		return 0;
	memset(buf, ' ', w);
	buf[w] = '\0';
	if (quoted) {
		buf[0] = '"';
		memcpy(buf + 1, word, len);
		buf[len + 1] = '"';
	} else {
		memcpy(buf, word, len);
	}
	return w;
}

static unsigned slot_value(const struct gh_journal *j, unsigned k)
{
	if (k == 0)
		return j->complete;
	if (k <= j->n_dev)
		return j->dev[k - 1].wedged;
	return (unsigned)j->status[k - 1 - j->n_dev];
}

static size_t slot_format(const struct gh_jslots *s, unsigned k, unsigned v, char *buf, size_t size)
{
	if (k > s->n_dev)
		return slot_text(buf, size, gh_journal_status_name((enum gh_jstatus)v), true);
	return slot_text(buf, size, v ? "true" : "false", false);
}

/*
 * json-c's printer for a slot's value: the same text slot_format gives, and
 * where it starts. Offsets come from the printer, never from searching the
 * text, so no address, unit or process name can be taken for a slot.
 */
static int slot_print(struct json_object *o, struct printbuf *pb, int level, int flags)
{
	size_t *off = json_object_get_userdata(o);
	bool quoted = json_object_is_type(o, json_type_string);
	char buf[SLOT_MAX];
	size_t w, in_page;

	(void)level;
	(void)flags;
	w = slot_text(buf, sizeof(buf),
		      quoted ? json_object_get_string(o) : json_object_get_boolean(o) ? "true" : "false", quoted);
	if (!w)
		return -1;
	/* Whitespace before a value is JSON too: a slot that would cross a page starts on the next. */
	in_page = (size_t)pb->bpos % SLOT_PAGE;
	if (in_page + w > SLOT_PAGE && printbuf_memset(pb, -1, ' ', (int)(SLOT_PAGE - in_page)) < 0)
		return -1;
	*off = (size_t)pb->bpos;
	return printbuf_memappend(pb, buf, (int)w) < 0 ? -1 : 0;
}

/* The value object of slot k in a tree gh_journal_to_json made; NULL when it is not there. */
static struct json_object *slot_object(struct json_object *tree, unsigned n_dev, unsigned k)
{
	struct json_object *arr, *o = tree, *v;
	bool is_status = k > n_dev;

	if (k > 0) {
		if (!json_object_object_get_ex(tree, is_status ? "steps" : "devices", &arr))
			return NULL;
		o = json_object_array_get_idx(arr, is_status ? k - 1 - n_dev : k - 1);
	}
	if (!o || !json_object_object_get_ex(o, k == 0 ? "complete" : is_status ? "status" : "wedged", &v) ||
	    !json_object_is_type(v, is_status ? json_type_string : json_type_boolean))
		return NULL;
	return v;
}

int gh_jslots_attach(struct gh_jslots *s, struct json_object *tree, const struct gh_journal *j)
{
	gh_jslots_free(s);
	s->n_dev = j->n_dev;
	s->n = 1 + j->n_dev + j->n_steps;
	s->off = calloc(s->n, sizeof(*s->off));
	s->val = calloc(s->n, sizeof(*s->val));
	if (!s->off || !s->val) {
		gh_jslots_free(s);
		return -ENOMEM;
	}
	/* All found before any printer is set: the tree never points at freed offsets. */
	for (unsigned k = 0; k < s->n; k++) {
		if (!slot_object(tree, s->n_dev, k)) {
			gh_jslots_free(s);
			return -EINVAL;
		}
	}
	for (unsigned k = 0; k < s->n; k++)
		json_object_set_serializer(slot_object(tree, s->n_dev, k), slot_print, &s->off[k], NULL);
	for (unsigned k = 0; k < s->n; k++)
		s->off[k] = SIZE_MAX;
	return 0;
}

/* fd holds exactly text: nothing replaced the file between the rename and the open. */
static int same_text(int fd, const char *text, size_t len, struct stat *st)
{
	char *buf;
	ssize_t n;

	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode) || (size_t)st->st_size != len)
		return -ESTALE;
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	n = pread(fd, buf, len + 1, 0);
	n = n == (ssize_t)len && !memcmp(buf, text, len) ? 0 : n < 0 ? -errno : -ESTALE;
	free(buf);
	return (int)n;
}

int gh_jslots_keep(struct gh_ctx *ctx, struct gh_jslots *s, const struct gh_journal *j, const char *text,
		   size_t len)
{
	struct stat st;
	int fd, r;

	gh_jslots_drop(s);
	if (!s->off || s->n != 1 + j->n_dev + j->n_steps)
		return -EINVAL;
	for (unsigned k = 0; k < s->n; k++) {
		char buf[SLOT_MAX];
		unsigned v = slot_value(j, k);
		size_t w = slot_format(s, k, v, buf, sizeof(buf));

		if (!w || s->off[k] > len || len - s->off[k] < w || memcmp(text + s->off[k], buf, w))
			return -EINVAL;
		s->val[k] = (unsigned char)v;
	}
	fd = gh_fs_open(ctx, O_RDWR | O_NOFOLLOW | O_NOCTTY, "/run/gpu-hook/%s.json", j->key);
	if (fd < 0)
		return fd;
	r = same_text(fd, text, len, &st);
	if (r < 0) {
		close(fd);
		return r;
	}
	s->fd = fd;
	s->owner = getpid();
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

/*
 * One slot, one pwrite() of at most SLOT_MAX bytes inside one page of the
 * file and from one page of memory. A SIGKILL cannot tear it: tmpfs writes
 * through generic_perform_write() (mm/filemap.c, shmem_file_write_iter), which
 * faults the source in, checks fatal_signal_pending() and then copies a whole
 * page chunk (copy_folio_from_iter_atomic, committed by shmem_write_end)
 * before it looks at signals again; a kill is acted upon between chunks or on
 * the way back to user space, so a one-page write lands whole or not at all.
 * Several slots are several writes: each is then old or new, which is what
 * recovery needs (a step marked before it runs, whichever of its neighbours).
 */
static int slot_pwrite(const struct gh_jslots *s, unsigned k, unsigned v)
{
	_Alignas(SLOT_MAX) char buf[SLOT_MAX];
	size_t w = slot_format(s, k, v, buf, sizeof(buf));
	ssize_t n;

	if (!w)
		return -EINVAL;
	n = pwrite(s->fd, buf, w, (off_t)s->off[k]);
	return n == (ssize_t)w ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * The path must still name the file the descriptor is on: the global lock
 * keeps other runs out, but not an administrator's rm or a copy put back.
 * While the descriptor is open its inode cannot be freed, so the same device
 * and inode number is the same file. A reader that does not take the lock
 * (status) may catch a slot half copied: that is never another valid value
 * (tests/check_journal_slots.c tries every mix), the parser refuses the text
 * as a corrupt journal ("unknown status" or not JSON) and acts on nothing,
 * and reading again a moment later gives the whole slot.
 */
int gh_jslots_write(struct gh_ctx *ctx, struct gh_jslots *s, const struct gh_journal *j)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	if (!s->owner || s->owner != getpid() || s->n != 1 + j->n_dev + j->n_steps)
		return -ESTALE;
	r = gh_fs_path(ctx, path, sizeof(path), "/run/gpu-hook/%s.json", j->key);
	if (r < 0)
		return r;
	if (lstat(path, &st) < 0)
		return -errno;
	if (st.st_dev != s->dev || st.st_ino != s->ino)
		return -ESTALE;
	for (unsigned k = 0; k < s->n; k++) {
		unsigned v = slot_value(j, k);

		if (v == s->val[k])
			continue;
		r = slot_pwrite(s, k, v);
		if (r < 0)
			return r;
		s->val[k] = (unsigned char)v;
	}
	return 0;
}

/* A forked child (the timebox worker closes it anyway) neither writes through nor closes the parent's descriptor. */
void gh_jslots_drop(struct gh_jslots *s)
{
	if (s->owner && s->owner == getpid())
		close(s->fd);
	s->owner = 0;
	s->fd = -1;
}

void gh_jslots_free(struct gh_jslots *s)
{
	gh_jslots_drop(s);
	free(s->off);
	free(s->val);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
