/* SPDX-License-Identifier: MIT */
#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "journal-int.h"
#include "timebox.h"
#include "vmconf.h"

#define JOURNAL_MAX ((size_t)1024 * 1024)

static const char *const status_names[] = {
	[GH_J_PENDING] = "pending", [GH_J_RUNNING] = "running", [GH_J_DONE] = "done",
	[GH_J_FAILED] = "failed",   [GH_J_WEDGED] = "wedged",   [GH_J_UNDONE] = "undone",
	[GH_J_SKIPPED] = "skipped",
};
_Static_assert(GH_ARRAY_SIZE(status_names) == GH_J_MAX, "a status without a name");

const char *gh_journal_status_name(enum gh_jstatus s)
{
	return (size_t)s < GH_ARRAY_SIZE(status_names) ? status_names[s] : "unknown";
}

int gh_journal_init(struct gh_journal *j, const char *key, unsigned vmid, const char *phase,
		    const struct gh_host *h, const struct gh_plan *p)
{
	memset(j, 0, sizeof(*j));
	if (gh_util_copy(j->key, sizeof(j->key), key) < 0 || gh_util_copy(j->phase, sizeof(j->phase), phase) < 0)
		return -EINVAL;
	j->vmid = vmid;
	if (h->n_f > GH_JOURNAL_DEV_MAX)
		return -E2BIG;
	for (unsigned i = 0; i < h->n_f; i++) {
		struct gh_jdev *d = &j->dev[j->n_dev++];
		const struct gh_func *f = &h->f[i];

		memcpy(d->addr, f->dev.addr, sizeof(d->addr));
		memcpy(d->host_driver, f->host_driver, sizeof(d->host_driver));
		memcpy(d->override, f->dev.override, sizeof(d->override));
		d->vendor = f->dev.vendor;
		d->device = f->dev.device;
		d->iommu_group = f->dev.iommu_group;
	}
	if (p->n) {
		j->steps = calloc(p->n, sizeof(*j->steps));
		j->status = calloc(p->n, sizeof(*j->status));
		if (!j->steps || !j->status) {
			gh_journal_free(j);
			return -ENOMEM;
		}
		memcpy(j->steps, p->v, p->n * sizeof(*j->steps));
	}
	j->n_steps = p->n;
	return 0;
}

void gh_journal_free(struct gh_journal *j)
{
	free(j->steps);
	free(j->status);
	memset(j, 0, sizeof(*j));
}

struct gh_jdev *gh_journal_dev(struct gh_journal *j, const char *addr)
{
	for (unsigned i = 0; i < j->n_dev; i++)
		if (!strcmp(j->dev[i].addr, addr))
			return &j->dev[i];
	return NULL;
}

int gh_journal_dir(struct gh_ctx *ctx)
{
	struct stat st;
	char p[PATH_MAX];
	int r;

	r = gh_fs_path(ctx, p, sizeof(p), "/run/gpu-hook");
	if (r < 0)
		return r;
	if (lstat(p, &st) < 0) {
		if (errno != ENOENT) {
			r = -errno;
			gh_err(ctx, "/run/gpu-hook: %s", strerror(-r));
			return r;
		}
		r = gh_fs_mkdir(ctx, 0700, "/run/gpu-hook");
		if (r < 0) {
			gh_err(ctx, "cannot create /run/gpu-hook: %s", strerror(-r));
			return r;
		}
		if (lstat(p, &st) < 0) {
			r = -errno;
			gh_err(ctx, "/run/gpu-hook: %s", strerror(-r));
			return r;
		}
	}
	if (!S_ISDIR(st.st_mode)) {
		gh_err(ctx, "/run/gpu-hook is not a directory (a link or a file): refusing to use it");
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077)) {
		gh_err(ctx, "/run/gpu-hook must be owned by uid %u with mode 0700 (it is uid %u, mode %04o): refusing "
			    "to use it", (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/*
 * A journal is named by what gh_handoff_key makes: a VM id, or "manual" for
 * to-vfio. Nothing else in /run/gpu-hook is one: isolation.json is the
 * isolation state, and the watcher's records are not journals either.
 */
bool gh_journal_valid_key(const char *key)
{
	unsigned vmid;

	return !strcmp(key, "manual") || gh_vmconf_parse_vmid(key, &vmid) == 0;
}

/* A copy of src that owns its own steps and statuses. */
static int journal_copy(struct gh_journal *dst, const struct gh_journal *src)
{
	*dst = *src;
	dst->steps = NULL;
	dst->status = NULL;
	if (!src->n_steps)
		return 0;
	dst->steps = malloc(src->n_steps * sizeof(*src->steps));
	dst->status = malloc(src->n_steps * sizeof(*src->status));
	if (!dst->steps || !dst->status) {
		free(dst->steps);
		free(dst->status);
		dst->steps = NULL;
		dst->status = NULL;
		dst->n_steps = 0;
		return -ENOMEM;
	}
	memcpy(dst->steps, src->steps, src->n_steps * sizeof(*src->steps));
	memcpy(dst->status, src->status, src->n_steps * sizeof(*src->status));
	return 0;
}

/*
 * The last journal saved in full: its record (to tell a later save of the
 * same one) and where its changing fields (the statuses, the wedged marks,
 * "complete") are in the file. A phase saves the same record before every
 * step; those saves write the changed fields in place (journal-slots.c),
 * and only a new record, or a file no longer the one written, is printed in
 * full again.
 */
static struct {
	bool kept;
	struct gh_journal j;	/* a copy of the record */
	struct gh_jslots slots;	/* where its changing fields are in the file */
} last = { .slots.fd = -1 };

static bool same_record(const struct gh_journal *a, const struct gh_journal *b)
{
	if (strcmp(a->key, b->key) || a->vmid != b->vmid || strcmp(a->phase, b->phase) || a->n_dev != b->n_dev ||
	    a->n_steps != b->n_steps)
		return false;
	for (unsigned i = 0; i < a->n_dev; i++) {
		const struct gh_jdev *x = &a->dev[i], *y = &b->dev[i];

		if (strcmp(x->addr, y->addr) || strcmp(x->host_driver, y->host_driver) ||
		    strcmp(x->override, y->override) || x->vendor != y->vendor || x->device != y->device ||
		    x->iommu_group != y->iommu_group)
			return false;
	}
	return !a->n_steps || !memcmp(a->steps, b->steps, a->n_steps * sizeof(*a->steps));
}

static void forget_last(void)
{
	gh_journal_free(&last.j);
	gh_jslots_free(&last.slots);
	memset(&last, 0, sizeof(last));
	last.slots.fd = -1;
}

/* j as the last record, with room for its slots; false (nothing kept) without memory for the copy. */
static bool keep_record(const struct gh_journal *j)
{
	forget_last();
	if (journal_copy(&last.j, j) < 0 || gh_jslots_init(&last.slots, j) < 0) {
		/* Saved all the same; every later save is a full one. */
		forget_last();
		return false;
	}
	last.kept = true;
	return true;
}

int gh_journal_save(struct gh_ctx *ctx, const struct gh_journal *j)
{
	char name[40], *text;
	size_t len = 0;
	bool kept;
	int r;

	if (!gh_journal_valid_key(j->key))
		return -EINVAL;
	/* Between two steps: the few bytes that changed, in the file the last full save wrote. */
	if (last.kept && same_record(&last.j, j) && gh_jslots_write(ctx, &last.slots, j) == 0)
		return 0;
	/* A full save: the rename replaces the file the descriptor is on. */
	gh_jslots_drop(&last.slots);
	kept = keep_record(j);
	text = gh_journal_print(j, kept ? &last.slots : NULL, &len);
	if (!text) {
		forget_last();
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "%s.json", j->key);
	/*
	 * Write-ahead: the record of a step is in place before the step runs, so a
	 * run killed in the middle (PVE's timeout, SIGKILL) leaves what the next
	 * run or 'recover' needs. rename() publishes the whole new record to every
	 * later reader once it returns; no fsync: what recovery needs is a record
	 * that outlives the process, not the kernel. /run is a tmpfs (fsync does
	 * nothing there), and a crash or power loss resets the card and the
	 * drivers, so a record kept across a reboot would only describe a host
	 * that is gone.
	 */
	r = gh_fs_write_atomic_open(ctx, "/run/gpu-hook", name, text, len);
	if (r < 0) {
		gh_err(ctx, "cannot write the journal /run/gpu-hook/%s.json: %s", j->key, strerror(-r));
	} else {
		/* Else the next save is a full one. */
		if (!kept || gh_jslots_keep(&last.slots, j, r, text, len) < 0)
			close(r);
		r = 0;
	}
	free(text);
	return r;
}

int gh_journal_remove(struct gh_ctx *ctx, const char *key)
{
	int r;

	if (!gh_journal_valid_key(key))
		return -EINVAL;
	gh_jslots_drop(&last.slots);
	r = gh_fs_remove(ctx, "/run/gpu-hook/%s.json", key);
	return r == -ENOENT ? 0 : r;
}

int gh_journal_list(struct gh_ctx *ctx, struct gh_strv *keys)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/run/gpu-hook");

	for (size_t i = 0; i < names.n && r >= 0; i++) {
		size_t len = strlen(names.v[i]);
		char key[32];

		if (len <= 5 || len - 5 >= sizeof(key) || strcmp(names.v[i] + len - 5, ".json"))
			continue;
		memcpy(key, names.v[i], len - 5);
		key[len - 5] = '\0';
		if (gh_journal_valid_key(key))
			r = gh_strv_push(keys, key);
	}
	gh_strv_free(&names);
	return r;
}

/*
 * The last journal parsed, by its text. A post-stop reads its journal three
 * times under the phase lock (the snapshot of /run/gpu-hook, the host it
 * describes, the way back): the same bytes each time, and json-c's parse
 * and the checks cost about 1 ms each under TCG. Text equal to the last
 * text parsed is the same journal; anything else is parsed afresh.
 */
static struct {
	char *text;
	size_t len;
	struct gh_journal j;
} parsed;

static void parsed_keep(char *text, size_t len, const struct gh_journal *j)
{
	free(parsed.text);
	gh_journal_free(&parsed.j);
	parsed.text = NULL;
	if (journal_copy(&parsed.j, j) == 0) {
		parsed.text = text;
		parsed.len = len;
	} else {
		free(text);
	}
}

/* The text as the journal of key; nothing logged when quiet. */
static int parse_text(struct gh_ctx *ctx, const char *name, const char *key, const char *text, size_t len, bool quiet,
		      struct gh_journal *j)
{
	int r;

	if (strlen(text) != len) {
		if (!quiet)
			gh_err(ctx, "%s: corrupt journal (holds NUL bytes): not acting on it", name);
		return -EINVAL;
	}
	r = gh_journal_parse_as(ctx, text, name, quiet, j);
	if (r >= 0 && strcmp(j->key, key)) {
		if (!quiet)
			gh_err(ctx, "%s: corrupt journal (it names key \"%s\"): not acting on it", name, j->key);
		gh_journal_free(j);
		r = -EINVAL;
	}
	return r;
}

/*
 * A reader without the phase lock (status, check, the watcher) can read a
 * journal while a phase rewrites a slot in it: tmpfs copies a page to the
 * reader with no lock against the writer (shmem_file_read_iter), so a read
 * may hold part of a pwrite(). Such a text is refused by the parser (see
 * journal-int.h and check_journal_slots' torn_slot_is_refused_or_old_or_new);
 * it is read again, quietly: a different text was a write in progress and
 * is parsed instead. The same text twice, or a third read, is the file as
 * it is, and its fault is reported (with the advice to remove the file,
 * which must never follow a write that was only in progress).
 */
#define LOAD_READS 3

int gh_journal_load_with(struct gh_ctx *ctx, const char *key, gh_journal_reader *read, void *data,
			 struct gh_journal *j)
{
	char name[PATH_MAX], *text = NULL, *prev = NULL;
	size_t len = 0, prev_len = 0;
	int r = -EINVAL;

	memset(j, 0, sizeof(*j));
	if (!gh_journal_valid_key(key))
		return -EINVAL;
	snprintf(name, sizeof(name), "/run/gpu-hook/%s.json", key);
	for (unsigned n = 1; n <= LOAD_READS; n++) {
		bool settled;

		r = read(data, &text, &len);
		if (r < 0)
			break;
		if (parsed.text && parsed.len == len && !memcmp(parsed.text, text, len) && !strcmp(parsed.j.key, key)) {
			r = journal_copy(j, &parsed.j);
			break;
		}
		settled = n == LOAD_READS || (prev && prev_len == len && !memcmp(prev, text, len));
		r = parse_text(ctx, name, key, text, len, !settled, j);
		if (r >= 0) {
			parsed_keep(text, len, j);
			text = NULL;
			break;
		}
		if (settled)
			break;
		free(prev);
		prev = text;
		prev_len = len;
		text = NULL;
	}
	free(text);
	free(prev);
	return r;
}

struct file_reader {
	struct gh_ctx *ctx;
	const char *key;
};

static int read_file(void *data, char **text, size_t *len)
{
	const struct file_reader *f = data;

	*len = 0;
	/* Never followed: gpu-hook wrote it, as a file, in a directory only it may write. */
	return gh_fs_read_input(f->ctx, 0, JOURNAL_MAX, text, len, NULL, "/run/gpu-hook/%s.json", f->key);
}

int gh_journal_load(struct gh_ctx *ctx, const char *key, struct gh_journal *j)
{
	struct file_reader f = { ctx, key };

	return gh_journal_load_with(ctx, key, read_file, &f, j);
}

int gh_journal_lock(struct gh_ctx *ctx, unsigned wait_ms, int *fd)
{
	unsigned long long deadline = gh_timebox_now_ms() + wait_ms;
	int r = gh_journal_dir(ctx);

	if (r < 0)
		return r;
	*fd = gh_fs_open(ctx, O_RDWR | O_CREAT | O_NOFOLLOW, "/run/gpu-hook/lock");
	if (*fd < 0) {
		r = *fd;
		gh_err(ctx, "cannot open /run/gpu-hook/lock: %s", strerror(-r));
		return r;
	}
	for (;;) {
		if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			r = -errno;
			break;
		}
		if (gh_timebox_now_ms() >= deadline) {
			r = -EWOULDBLOCK;
			break;
		}
		usleep(20000);
	}
	close(*fd);
	*fd = -1;
	if (r == -EWOULDBLOCK)
		gh_err(ctx, "another gpu-hook run holds /run/gpu-hook/lock (waited %u ms): refusing", wait_ms);
	else
		gh_err(ctx, "cannot lock /run/gpu-hook/lock: %s", strerror(-r));
	return r;
}

void gh_journal_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
