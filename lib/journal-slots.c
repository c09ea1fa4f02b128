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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

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

size_t gh_jslots_text(bool status, unsigned v, char *buf, size_t size)
{
	if (status)
		return slot_text(buf, size, gh_journal_status_name((enum gh_jstatus)v), true);
	return slot_text(buf, size, v ? "true" : "false", false);
}

static size_t slot_format(const struct gh_jslots *s, unsigned k, unsigned v, char *buf, size_t size)
{
	return gh_jslots_text(k > s->n_dev, v, buf, size);
}

int gh_jslots_init(struct gh_jslots *s, const struct gh_journal *j)
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
	for (unsigned k = 0; k < s->n; k++)
		s->off[k] = SIZE_MAX;
	return 0;
}

int gh_jslots_keep(struct gh_jslots *s, const struct gh_journal *j, int fd, const char *text, size_t len)
{
	struct stat st;

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
	/* The descriptor is the one the text was written through: the file it is on holds that text. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
		return -ESTALE;
	free(s->text);
	s->text = malloc(len);
	if (!s->text)
		return -ENOMEM;
	memcpy(s->text, text, len);
	s->len = len;
	s->fd = fd;
	s->owner = getpid();
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	return 0;
}

/*
 * The kept text from lo to hi, which lies inside one page of the file, in one
 * pwrite() from one page of memory. A SIGKILL cannot tear it: tmpfs writes
 * through generic_perform_write() (mm/filemap.c, shmem_file_write_iter), which
 * faults the source in, checks fatal_signal_pending() and then copies a whole
 * page chunk (copy_folio_from_iter_atomic, committed by shmem_write_end)
 * before it looks at signals again; a kill is acted upon between chunks or on
 * the way back to user space, so a one-page write lands whole or not at all.
 * Several writes are each old or new, which is what recovery needs (a step
 * marked before it runs, whichever of its neighbours).
 */
static int span_pwrite(const struct gh_jslots *s, size_t lo, size_t hi)
{
	static _Alignas(SLOT_PAGE) char page[SLOT_PAGE];
	ssize_t n;

	if (lo / SLOT_PAGE != (hi - 1) / SLOT_PAGE)
		return -EINVAL;
	memcpy(page, s->text + lo, hi - lo);
	n = pwrite(s->fd, page, hi - lo, (off_t)lo);
	return n == (ssize_t)(hi - lo) ? 0 : n < 0 ? -errno : -EIO;
}

/*
 * The new text of every slot that changed, put into the kept text; [*lo, *hi)
 * spans them (empty when none changed). On a failure later the caller makes
 * a full save, which prints the text anew.
 */
static int stage(struct gh_jslots *s, const struct gh_journal *j, size_t *lo, size_t *hi)
{
	*lo = SIZE_MAX;
	*hi = 0;
	for (unsigned k = 0; k < s->n; k++) {
		char buf[SLOT_MAX];
		unsigned v = slot_value(j, k);
		size_t w;

		if (v == s->val[k])
			continue;
		w = slot_format(s, k, v, buf, sizeof(buf));
		if (!w || s->off[k] > s->len || s->len - s->off[k] < w)
			return -EINVAL;
		memcpy(s->text + s->off[k], buf, w);
		if (s->off[k] < *lo)
			*lo = s->off[k];
		if (s->off[k] + w > *hi)
			*hi = s->off[k] + w;
	}
	return 0;
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
	size_t lo, hi;
	int r;

	if (!s->owner || s->owner != getpid() || s->n != 1 + j->n_dev + j->n_steps)
		return -ESTALE;
	r = gh_fs_path(ctx, path, sizeof(path), "/run/gpu-hook/%s.json", j->key);
	if (r < 0)
		return r;
	if (lstat(path, &st) < 0)
		return -errno;
	/* Another file, or this one cut or grown in place: what the slots point at is gone. */
	if (st.st_dev != s->dev || st.st_ino != s->ino || (size_t)st.st_size != s->len)
		return -ESTALE;
	r = stage(s, j, &lo, &hi);
	if (r < 0 || lo == SIZE_MAX)
		return r;
	/*
	 * All in one page, "done" and the next "running" between two steps: one
	 * write, the fixed text between them as it is in the file.
	 */
	if (lo / SLOT_PAGE == (hi - 1) / SLOT_PAGE) {
		r = span_pwrite(s, lo, hi);
		for (unsigned k = 0; k < s->n && r >= 0; k++)
			s->val[k] = (unsigned char)slot_value(j, k);
		return r;
	}
	/*
	 * Else one write a slot, "complete" (slot 0) last when it turns true and
	 * first when it turns false: a kill between two writes never shows it
	 * beside a step that is not done.
	 */
	for (unsigned i = j->complete ? 1 : 0; i < s->n + (j->complete ? 1 : 0); i++) {
		unsigned k = i % s->n, v = slot_value(j, k);
		char buf[SLOT_MAX];

		if (v == s->val[k])
			continue;
		r = span_pwrite(s, s->off[k], s->off[k] + slot_format(s, k, v, buf, sizeof(buf)));
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
	free(s->text);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}
