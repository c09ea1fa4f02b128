/* SPDX-License-Identifier: MIT */
#include "install.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs.h"
#include "timebox.h"
#include "vmconf.h"
#include "vms.h"

/* Storage types whose content lives under a directory on this node. */
static const char *const dir_types[] = { "dir", "nfs", "cifs", "cephfs", "glusterfs", "btrfs" };

static bool is_dir_type(const char *t)
{
	for (size_t i = 0; i < GH_ARRAY_SIZE(dir_types); i++)
		if (!strcmp(t, dir_types[i]))
			return true;
	return false;
}

int gh_install_storage_parse(struct gh_ctx *ctx, FILE *f, const char *name, const char *storage,
			     struct gh_storage *out)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, errors = 0;
	bool in = false;

	memset(out, 0, sizeof(*out));
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *l;

		lineno++;
		if (len && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((size_t)len != strlen(line) || len > 4096) {
			gh_err(ctx, "%s:%d: unreadable line", name, lineno);
			errors++;
			continue;
		}
		l = gh_util_trim(line);
		if (!*l || *l == '#')
			continue;
		if (line[0] != ' ' && line[0] != '\t') {
			char type[32], id[128];
			/* "type: id" starts a section. */
			in = sscanf(l, "%31[a-z]: %127s", type, id) == 2 && !strcmp(id, storage);
			if (in) {
				gh_util_copy(out->type, sizeof(out->type), type);
				out->found = true;
				out->line = lineno;
			}
			continue;
		}
		if (!in)
			continue;
		if (!strncmp(l, "path ", 5)) {
			const char *p = gh_util_trim(l + 5);

			if (p[0] != '/' || strstr(p, "..") || gh_util_copy(out->path, sizeof(out->path), p) < 0) {
				gh_err(ctx, "%s:%d: storage %s: invalid path", name, lineno, storage);
				errors++;
			}
		} else if (!strncmp(l, "content ", 8)) {
			char list[512], *save = NULL;

			gh_util_copy(list, sizeof(list), gh_util_trim(l + 8));
			for (char *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save))
				if (!strcmp(gh_util_trim(c), "snippets"))
					out->snippets = true;
		}
	}
	free(line);
	/* Network storages are mounted at /mnt/pve/<id> when no path is given. */
	if (out->found && !out->path[0] && is_dir_type(out->type) && strcmp(out->type, "dir"))
		snprintf(out->path, sizeof(out->path), "/mnt/pve/%s", storage);
	return errors ? -EINVAL : 0;
}

static int find_storage(struct gh_ctx *ctx, const char *storage, struct gh_storage *st)
{
	/* A pmxcfs file, so never a link (see gh_vmconf_load). */
	FILE *f = gh_fs_fopen_input(ctx, 0, GH_FS_CONF_MAX, NULL, "/etc/pve/storage.cfg");
	int r;

	if (!f) {
		r = -errno;
		if (r == -ENOENT)
			gh_err(ctx, "/etc/pve/storage.cfg: %s", strerror(-r));
		return r;
	}
	r = gh_install_storage_parse(ctx, f, "/etc/pve/storage.cfg", storage, st);
	fclose(f);
	if (r < 0)
		return r;
	if (!st->found) {
		gh_err(ctx, "/etc/pve/storage.cfg: no storage named '%s'", storage);
		return -ENOENT;
	}
	if (!is_dir_type(st->type) || !st->path[0]) {
		gh_err(ctx, "/etc/pve/storage.cfg:%d: storage '%s' is of type %s, which holds no snippets directory",
		       st->line, storage, st->type);
		return -EINVAL;
	}
	if (!st->snippets) {
		gh_err(ctx, "/etc/pve/storage.cfg:%d: storage '%s' does not allow snippets: add it to its content "
			    "(pvesm set %s --content <current>,snippets)", st->line, storage, storage);
		return -EINVAL;
	}
	return 0;
}

struct qm_call {
	char exe[PATH_MAX];
	char *argv[8];
};

static int run_qm_child(void *arg)
{
	struct qm_call *q = arg;
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C", NULL };
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execve(q->exe, q->argv, envp);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -errno;
	return WIFEXITED(st) ? -WEXITSTATUS(st) : -EINTR;
}

/* qm from a fixed path under the root, with an argv: no shell. */
static int run_qm(struct gh_ctx *ctx, char **args)
{
	struct qm_call q = { 0 };
	struct gh_timebox tb;
	char line[512] = "qm";
	int r;

	r = gh_fs_path(ctx, q.exe, sizeof(q.exe), "/usr/sbin/qm");
	if (r < 0)
		return r;
	if (access(q.exe, X_OK) < 0) {
		gh_err(ctx, "/usr/sbin/qm: %s (is this a Proxmox VE node?)", strerror(errno));
		return -ENOENT;
	}
	q.argv[0] = (char *)"qm";
	for (int i = 0; i < 6 && args[i]; i++) {
		q.argv[i + 1] = args[i];
		strncat(line, " ", sizeof(line) - strlen(line) - 1);
		strncat(line, args[i], sizeof(line) - strlen(line) - 1);
	}
	if (ctx->dry_run) {
		gh_notice(ctx, "would run: %s", line);
		return 0;
	}
	r = gh_timebox_run(ctx, 60000, run_qm_child, &q, &tb);
	if (r < 0)
		return r;
	if (tb.timed_out) {
		gh_err(ctx, "%s: no answer within 60 s", line);
		return -ETIMEDOUT;
	}
	if (tb.status < 0) {
		gh_err(ctx, "%s failed (exit status %d)", line, -tb.status);
		return -EIO;
	}
	gh_info(ctx, "%s: ok", line);
	return 0;
}

/* Copies self into <path>/snippets/gpu-hook through a temporary file and a rename. */
static int place_binary(struct gh_ctx *ctx, const char *self, const char *dir)
{
	char tmp[PATH_MAX], dst[PATH_MAX], buf[65536];
	int in, out, r = 0;
	ssize_t n;

	if (gh_fs_path(ctx, tmp, sizeof(tmp), "%s/snippets/.gpu-hook.tmp", dir) < 0 ||
	    gh_fs_path(ctx, dst, sizeof(dst), "%s/snippets/gpu-hook", dir) < 0)
		return -ENAMETOOLONG;
	r = ctx->dry_run ? 0 : gh_fs_mkdir(ctx, 0755, "%s/snippets", dir);
	if (r < 0) {
		gh_err(ctx, "cannot create %s/snippets: %s", dir, strerror(-r));
		return r;
	}
	if (ctx->dry_run) {
		gh_notice(ctx, "would copy %s to %s/snippets/gpu-hook (mode 0755)", self, dir);
		return 0;
	}
	in = open(self, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		r = -errno;
		gh_err(ctx, "cannot read %s: %s", self, strerror(-r));
		return r;
	}
	unlink(tmp);
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755);
	if (out < 0) {
		r = -errno;
		close(in);
		gh_err(ctx, "cannot write %s/snippets: %s", dir, strerror(-r));
		return r;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -errno ? -errno : -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	if (r >= 0 && (fchmod(out, 0755) < 0 || fsync(out) < 0))
		r = -errno;
	close(in);
	if (close(out) < 0 && r >= 0)
		r = -errno;
	if (r >= 0 && rename(tmp, dst) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		gh_err(ctx, "cannot place the binary in %s/snippets: %s", dir, strerror(-r));
		return r;
	}
	gh_info(ctx, "placed %s as %s/snippets/gpu-hook", self, dir);
	return 0;
}

int gh_install_hook(struct gh_ctx *ctx, unsigned vmid, const char *storage, const char *self, bool uninstall)
{
	struct gh_storage st;
	char vm[16], ref[192];
	pid_t pid;
	int r;

	if (gh_vms_pid(ctx, vmid, &pid) == 0) {
		gh_err(ctx, "VM %u is running (pid %d): stop it before %s", vmid, (int)pid,
		       uninstall ? "removing its hookscript" : "wiring its hookscript");
		return -EBUSY;
	}
	snprintf(vm, sizeof(vm), "%u", vmid);
	if (uninstall) {
		char *args[] = { (char *)"set", vm, (char *)"--delete", (char *)"hookscript", NULL };

		return run_qm(ctx, args);
	}
	if (!storage || !*storage || strspn(storage, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") !=
						 strlen(storage)) {
		gh_err(ctx, "invalid storage name");
		return -EINVAL;
	}
	r = find_storage(ctx, storage, &st);
	if (r < 0)
		return r;
	r = place_binary(ctx, self, st.path);
	if (r < 0)
		return r;
	if (gh_util_format(ref, sizeof(ref), "%s:snippets/gpu-hook", storage) < 0)
		return -ENAMETOOLONG;
	{
		char *args[] = { (char *)"set", vm, (char *)"--hookscript", ref, NULL };

		return run_qm(ctx, args);
	}
}
