/* SPDX-License-Identifier: MIT */
#include "watch.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs.h"
#include "timebox.h"
#include "vms.h"

/* A record is a few hundred bytes; more is not ours. */
#define RECORD_MAX 4096
#define BOUND_MAX (24ULL * 3600ULL)

static const char *const reason_names[] = { "start", "reboot" };
static const char *const verdict_names[] = { "disarmed", "vm-runs", "still-locked", "give-back" };

const char *gh_watch_reason_name(enum gh_watch_reason r)
{
	return (unsigned)r < sizeof(reason_names) / sizeof(reason_names[0]) ? reason_names[r] : "?";
}

const char *gh_watch_verdict_name(enum gh_watch_verdict v)
{
	return (unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0]) ? verdict_names[v] : "?";
}

int gh_watch_config_locked(struct gh_ctx *ctx, unsigned vmid)
{
	int fd, r = 0;

	/*
	 * PVE's lock_file_full opens the file for append and takes LOCK_EX. A
	 * shared, non-blocking try from our own open file tells whether anyone
	 * holds it; it is released at once, so a qm command is never delayed.
	 */
	fd = gh_fs_open(ctx, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, "/var/lock/qemu-server/lock-%u.conf",
			vmid);
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		r = errno == EWOULDBLOCK ? 1 : -errno;
	close(fd);
	return r;
}

int gh_watch_reboot_requested(struct gh_ctx *ctx, unsigned vmid)
{
	int r = gh_fs_exists(ctx, "/run/qemu-server/%u.reboot", vmid);

	return r < 0 ? r : r > 0;
}

int gh_watch_token(char *buf, size_t size)
{
	unsigned char raw[GH_WATCH_TOKEN_LEN / 2];
	size_t got = 0;

	if (size < GH_WATCH_TOKEN_LEN + 1)
		return -ENOBUFS;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

static bool valid_token(const char *s)
{
	size_t n = strlen(s);

	if (n != GH_WATCH_TOKEN_LEN)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int gh_watch_save(struct gh_ctx *ctx, const struct gh_watch *w)
{
	struct json_object *o = json_object_new_object();
	const char *text;
	char name[32];
	int r;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "vmid", json_object_new_int64(w->vmid));
	json_object_object_add(o, "reason", json_object_new_string(gh_watch_reason_name(w->reason)));
	json_object_object_add(o, "pid", json_object_new_int64(w->pid));
	json_object_object_add(o, "armed", json_object_new_int64(w->armed));
	json_object_object_add(o, "bound_s", json_object_new_int64(w->bound_s));
	json_object_object_add(o, "reboot_s", json_object_new_int64(w->reboot_s));
	json_object_object_add(o, "token", json_object_new_string(w->token));
	text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	snprintf(name, sizeof(name), "%u.watch", w->vmid);
	/* No fsync: /run is tmpfs, and a reboot clears the record together with what it guards. */
	r = gh_fs_write_atomic(ctx, "/run/gpu-hook", name, text, strlen(text), false);
	json_object_put(o);
	if (r < 0)
		gh_err(ctx, "cannot write the watcher record /run/gpu-hook/%u.watch: %s", w->vmid, strerror(-r));
	return r;
}

static int get_uint(struct json_object *o, const char *key, unsigned long long max, unsigned long long *out)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 0 || (unsigned long long)n > max)
		return -EINVAL;
	*out = (unsigned long long)n;
	return 0;
}

static int parse_record(const char *text, struct gh_watch *w)
{
	struct json_object *o = json_tokener_parse(text), *v;
	unsigned long long n;
	const char *s;
	int r = -EINVAL;

	memset(w, 0, sizeof(*w));
	if (!o || !json_object_is_type(o, json_type_object))
		goto out;
	if (get_uint(o, "vmid", 999999999ULL, &n) < 0)
		goto out;
	w->vmid = (unsigned)n;
	if (get_uint(o, "pid", 4194304ULL, &n) < 0)
		goto out;
	w->pid = (pid_t)n;
	if (get_uint(o, "armed", (unsigned long long)INT64_MAX, &n) < 0)
		goto out;
	w->armed = (long long)n;
	if (get_uint(o, "bound_s", BOUND_MAX, &n) < 0)
		goto out;
	w->bound_s = (unsigned)n;
	if (get_uint(o, "reboot_s", BOUND_MAX, &n) < 0)
		goto out;
	w->reboot_s = (unsigned)n;
	if (!json_object_object_get_ex(o, "reason", &v) || !(s = json_object_get_string(v)))
		goto out;
	if (!strcmp(s, "start"))
		w->reason = GH_WATCH_START;
	else if (!strcmp(s, "reboot"))
		w->reason = GH_WATCH_REBOOT;
	else
		goto out;
	if (!json_object_object_get_ex(o, "token", &v) || !(s = json_object_get_string(v)) || !valid_token(s))
		goto out;
	snprintf(w->token, sizeof(w->token), "%s", s);
	r = 0;
out:
	json_object_put(o);
	return r;
}

static int read_record(struct gh_ctx *ctx, int fd, unsigned vmid, struct gh_watch *w)
{
	char text[RECORD_MAX + 1];
	struct stat st;
	size_t off = 0;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		goto bad;
	for (;;) {
		ssize_t n = read(fd, text + off, RECORD_MAX - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		off += (size_t)n;
		if (off == RECORD_MAX)
			goto bad;
	}
	text[off] = '\0';
	if (strlen(text) == off && parse_record(text, w) == 0 && w->vmid == vmid)
		return 0;
bad:
	gh_err(ctx, "/run/gpu-hook/%u.watch: corrupt watcher record: ignored", vmid);
	return -EINVAL;
}

static int open_record(struct gh_ctx *ctx, unsigned vmid)
{
	return gh_fs_open(ctx, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY, "/run/gpu-hook/%u.watch", vmid);
}

int gh_watch_load(struct gh_ctx *ctx, unsigned vmid, struct gh_watch *w)
{
	int fd = open_record(ctx, vmid), r;

	if (fd < 0)
		return fd;
	r = read_record(ctx, fd, vmid, w);
	close(fd);
	return r;
}

int gh_watch_disarm(struct gh_ctx *ctx, unsigned vmid)
{
	int r = gh_fs_remove(ctx, "/run/gpu-hook/%u.watch", vmid);

	return r == -ENOENT ? 0 : r;
}

int gh_watch_waiting(struct gh_ctx *ctx, unsigned vmid)
{
	int fd = open_record(ctx, vmid), r = 0;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		r = errno == EWOULDBLOCK ? 1 : -errno;
	close(fd);
	return r;
}

int gh_watch_list(struct gh_ctx *ctx, struct gh_strv *vmids)
{
	struct gh_strv names = { 0 };
	int r = gh_fs_list(ctx, &names, "/run/gpu-hook");

	for (size_t i = 0; i < names.n && r >= 0; i++) {
		const char *s = names.v[i];
		size_t len = strlen(s), digits = strspn(s, "0123456789");

		if (len > 6 && len < 16 && digits == len - 6 && !strcmp(s + digits, ".watch"))
			r = gh_strv_push(vmids, s);
	}
	for (size_t i = 0; i < vmids->n; i++)
		vmids->v[i][strspn(vmids->v[i], "0123456789")] = '\0';
	gh_strv_free(&names);
	return r;
}

int gh_watch_attach(struct gh_ctx *ctx, unsigned vmid, const char *token, struct gh_watch *w, int *fd)
{
	int r;

	*fd = open_record(ctx, vmid);
	if (*fd < 0)
		return *fd;
	r = read_record(ctx, *fd, vmid, w);
	if (r >= 0 && strcmp(w->token, token))
		r = -ESTALE;
	if (r >= 0 && flock(*fd, LOCK_SH) < 0)
		r = -errno;
	if (r < 0) {
		close(*fd);
		*fd = -1;
	}
	return r;
}

/* The record at the path is still the one this watcher holds open. */
static bool still_ours(struct gh_ctx *ctx, const struct gh_watch *w, int fd)
{
	struct stat a, b;

	return fstat(fd, &a) == 0 && gh_fs_stat(ctx, &b, "/run/gpu-hook/%u.watch", w->vmid) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

static void nap(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int gh_watch_wait(struct gh_ctx *ctx, const struct gh_watch *w, int fd, unsigned poll_ms,
		  enum gh_watch_verdict *v)
{
	unsigned long long start = gh_timebox_now_ms();

	if (!poll_ms)
		poll_ms = 1;
	/* A reboot's new start comes a second after post-stop: it replaces this record in its pre-start. */
	while (w->reason == GH_WATCH_REBOOT && gh_timebox_now_ms() - start < (unsigned long long)w->reboot_s * 1000) {
		if (!still_ours(ctx, w, fd)) {
			*v = GH_WATCH_DISARMED;
			return 0;
		}
		nap(poll_ms);
	}
	start = gh_timebox_now_ms();
	for (;;) {
		int locked;

		if (!still_ours(ctx, w, fd)) {
			*v = GH_WATCH_DISARMED;
			return 0;
		}
		locked = gh_watch_config_locked(ctx, w->vmid);
		if (locked < 0)
			return locked;
		if (!locked) {
			*v = GH_WATCH_GIVE_BACK;
			return 0;
		}
		if (gh_timebox_now_ms() - start >= (unsigned long long)w->bound_s * 1000) {
			*v = GH_WATCH_STILL_LOCKED;
			return 0;
		}
		nap(poll_ms);
	}
}

int gh_watch_decide(struct gh_ctx *ctx, const struct gh_watch *w, int fd, enum gh_watch_verdict *v)
{
	pid_t pid;
	int r;

	if (!still_ours(ctx, w, fd)) {
		*v = GH_WATCH_DISARMED;
		return 0;
	}
	r = gh_vms_pid(ctx, w->vmid, &pid);
	if (r == 0) {
		*v = GH_WATCH_VM_RUNS;
		return gh_watch_disarm(ctx, w->vmid);
	}
	if (r != -ENOENT)
		return r;
	*v = GH_WATCH_GIVE_BACK;
	return 0;
}
