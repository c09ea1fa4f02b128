/* SPDX-License-Identifier: MIT */
/*
 * Trust boundary: the file Proxmox runs as root at every VM start. install
 * refuses a snippets directory, a directory above it or a target file that is
 * not root's or that group or others can write; check flags an installed
 * hookscript that is a symlink, writable by others, or not this gpu-hook;
 * install copies the running binary itself, never what its path names now;
 * and --root runs nothing of the tree (qm is recorded, not executed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

static const char record_path[] = "/run/gpu-hook/executed";

/* The example host with a qm that, if it ever ran, would leave a marker outside the tree. */
static struct fx *host(char *marker, size_t size)
{
	struct fx *fx = fx_new();

	fx_example_host(fx);
	snprintf(marker, size, "%s.qm-ran", fx->root);
	unlink(marker);
	fx_file(fx, "/usr/sbin/qm", "#!/bin/sh\necho \"$@\" > '%s'\n", marker);
	fx_chmod(fx, "/usr/sbin/qm", 0755);
	return fx;
}

static void done(struct fx *fx, const char *marker)
{
	unlink(marker);
	fx_free(fx);
}

/* A whole small file, NUL-terminated; "" when absent. */
static void slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? 0 : read(fd, buf, size - 1);

	buf[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
}

/* 1 when both files hold the same bytes. */
static int same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "re"), *fb = fopen(b, "re");
	int ca, cb, same = fa && fb;

	while (same && (ca = getc(fa)) == (cb = getc(fb)))
		if (ca == EOF)
			break;
	if (same && ca != cb)
		same = 0;
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

/* install is refused with every word of the message; nothing in the tree changed, nothing ran or was recorded. */
static void expect_refused(struct fx *fx, const char *marker, const char *const *words)
{
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before = fx_tree_digest(fx->root);

	fx_run_hook(r, NULL, "install", "111", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 1, "install exited %d: %s", r->status, r->err);
	for (const char *const *w = words; *w; w++)
		ck_assert_msg(strstr(r->err, *w), "\"%s\" not in: %s", *w, r->err);
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);
	ck_assert_int_eq(access(fx_path(fx, record_path), F_OK), -1);
	ck_assert_int_eq(access(marker, F_OK), -1);
	free(r);
}

/* One mode changed in the example host, then install refused with every word. */
static void refused_after_chmod(const char *path, unsigned mode, const char *const *words)
{
	char marker[4200];
	struct fx *fx = host(marker, sizeof(marker));

	fx_chmod(fx, path, mode);
	expect_refused(fx, marker, words);
	done(fx, marker);
}

START_TEST(snippets_dir_world_writable)
{
	static const char *const words[] = { "refusing to install", "/var/lib/vz/snippets is writable by others",
					     "mode 0777", "chmod go-w /var/lib/vz/snippets", NULL };

	refused_after_chmod("/var/lib/vz/snippets", 0777, words);
}
END_TEST

START_TEST(snippets_dir_not_roots)
{
	static const char *const words[] = { "/var/lib/vz/snippets is owned by uid 1000", "mode 0755",
					     "chown root:root /var/lib/vz/snippets", NULL };
	char marker[4200];
	struct fx *fx;

	if (geteuid() != 0) {
		printf("install trust: not root, ownership check skipped\n");
		return;
	}
	fx = host(marker, sizeof(marker));
	ck_assert_int_eq(chown(fx_path(fx, "/var/lib/vz/snippets"), 1000, 1000), 0);
	expect_refused(fx, marker, words);
	done(fx, marker);
}
END_TEST

START_TEST(target_group_writable)
{
	static const char *const words[] = { "/var/lib/vz/snippets/gpu-hook is writable by group", "mode 0775",
					     "chmod go-w /var/lib/vz/snippets/gpu-hook", NULL };

	refused_after_chmod("/var/lib/vz/snippets/gpu-hook", 0775, words);
}
END_TEST

/* As sshd's StrictModes: every directory up to the top counts; sticky world-writable is writable. */
START_TEST(parent_world_writable)
{
	static const char *const sticky[] = { "/var/lib is writable by others", "mode 1777", "chmod go-w /var/lib",
					      NULL };
	static const char *const var[] = { "/var is writable by group", "mode 0775", NULL };
	char marker[4200];
	struct fx *fx = host(marker, sizeof(marker));

	fx_chmod(fx, "/var/lib", 01777);
	expect_refused(fx, marker, sticky);
	fx_chmod(fx, "/var/lib", 0755);
	fx_chmod(fx, "/var", 0775);
	expect_refused(fx, marker, var);
	/* A snippets directory that does not exist yet is judged by where it would be made. */
	fx_rm(fx, "/var/lib/vz/snippets/gpu-hook");
	fx_rm(fx, "/var/lib/vz/snippets");
	expect_refused(fx, marker, var);
	ck_assert_int_eq(access(fx_path(fx, "/var/lib/vz/snippets"), F_OK), -1);
	done(fx, marker);
}
END_TEST

/* A link on the way is judged by the directory it sits in too, not only by where it leads. */
START_TEST(link_in_writable_dir)
{
	static const char *const words[] = { "/srv is writable by others", "mode 0777", NULL };
	char marker[4200];
	struct fx *fx = host(marker, sizeof(marker));
	struct fx_run *r = calloc(1, sizeof(*r));

	fx_file(fx, "/etc/pve/storage.cfg", "dir: local\n\tpath /var/lib/vz\n\tcontent snippets\n\n"
		"dir: srv\n\tpath /srv/vz\n\tcontent snippets\n");
	fx_mkdir(fx, "/srv");
	fx_link(fx, "/srv/vz", "../var/lib/vz");
	fx_run_hook(r, NULL, "install", "111", "--storage", "srv", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "install: %s", r->err);
	fx_chmod(fx, "/srv", 0777);
	fx_run_hook(r, NULL, "install", "111", "--storage", "srv", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	for (const char *const *w = words; *w; w++)
		ck_assert_msg(strstr(r->err, *w), "\"%s\" not in: %s", *w, r->err);
	free(r);
	done(fx, marker);
}
END_TEST

START_TEST(clean_installs_and_runs_nothing)
{
	char marker[4200], rec[512];
	struct fx *fx = host(marker, sizeof(marker));
	struct fx_run *r = calloc(1, sizeof(*r));
	unsigned long before = fx_tree_digest(fx->root);
	struct stat st;

	/* --dry-run: nothing recorded, nothing changed. */
	fx_run_hook(r, NULL, "install", "111", "--dry-run", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert_uint_eq(fx_tree_digest(fx->root), before);

	fx_run_hook(r, NULL, "install", "111", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "install: %s", r->err);
	ck_assert_int_eq(lstat(fx_path(fx, "/var/lib/vz/snippets/gpu-hook"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	ck_assert_uint_eq(st.st_uid, geteuid());
	ck_assert(same_file(fx_path(fx, "/var/lib/vz/snippets/gpu-hook"), GH_BINARY));
	ck_assert_int_eq(access(fx_path(fx, "/var/lib/vz/snippets/.gpu-hook.tmp"), F_OK), -1);
	fx_run_hook(r, NULL, "uninstall", "111", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	/* The tree's qm never ran; what would have run is recorded in the tree. */
	ck_assert_msg(access(marker, F_OK) < 0, "--root executed the tree's usr/sbin/qm");
	slurp(fx_path(fx, record_path), rec, sizeof(rec));
	ck_assert_str_eq(rec, "/usr/sbin/qm set 111 --hookscript local:snippets/gpu-hook\n"
			      "/usr/sbin/qm set 111 --delete hookscript\n");

	/* check finds the installed hookscript sound. */
	fx_run_hook(r, NULL, "check", "111", "--root", fx->root, NULL);
	ck_assert_msg(!strstr(r->out, "hookscript"), "check: %s", r->out);
	free(r);
	done(fx, marker);
}
END_TEST

/* One `check 111` run: a problem whose text holds every word. */
static void expect_check(struct fx *fx, const char *const *words)
{
	struct fx_run *r = calloc(1, sizeof(*r));

	fx_run_hook(r, NULL, "check", "111", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 1);
	for (const char *const *w = words; *w; w++)
		ck_assert_msg(strstr(r->out, *w), "\"%s\" not in: %s", *w, r->out);
	free(r);
}

START_TEST(check_flags_the_installed_file)
{
	static const char *const differs[] = { "hookscript /var/lib/vz/snippets/gpu-hook is not this gpu-hook",
					       "differs from the running binary", "compared with the running binary itself",
					       "fix:   gpu-hook install 111", NULL };
	static const char *const link[] = { "is /var/lib/vz/snippets/gpu-hook, a symlink",
					    "fix:   gpu-hook install 111", NULL };
	static const char *const writable[] = { "/var/lib/vz/snippets/gpu-hook is writable by others", "mode 0666",
						"(chmod go-w /var/lib/vz/snippets/gpu-hook)",
						"then (its content may have been changed) gpu-hook install", NULL };
	char marker[4200], real[4200];
	struct fx *fx = host(marker, sizeof(marker));
	struct fx_run *r = calloc(1, sizeof(*r));
	struct stat st;

	/* The example host's stand-in script is not this binary. */
	expect_check(fx, differs);

	fx_run_hook(r, NULL, "install", "111", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	/* A link to an identical copy is still a link: whoever controls its target controls what runs. */
	snprintf(real, sizeof(real), "%s", fx_path(fx, "/var/lib/vz/gpu-hook.real"));
	ck_assert_int_eq(rename(fx_path(fx, "/var/lib/vz/snippets/gpu-hook"), real), 0);
	fx_link(fx, "/var/lib/vz/snippets/gpu-hook", "../gpu-hook.real");
	expect_check(fx, link);
	/* install replaces the link by the binary, leaving its target alone. */
	fx_run_hook(r, NULL, "install", "111", "--root", fx->root, NULL);
	ck_assert_int_eq(r->status, 0);
	ck_assert(same_file(real, GH_BINARY));
	ck_assert_int_eq(lstat(fx_path(fx, "/var/lib/vz/snippets/gpu-hook"), &st), 0);
	ck_assert(S_ISREG(st.st_mode));

	fx_chmod(fx, "/var/lib/vz/snippets/gpu-hook", 0666);
	expect_check(fx, writable);
	free(r);
	done(fx, marker);
}
END_TEST

/* NFS with root_squash hands root's files to nobody: network storage is named before anything is placed. */
START_TEST(network_storage_warns)
{
	static const char *const words[] = { "storage 'nas' is of type nfs", "prefer a local storage", NULL };
	char marker[4200], rec[512];
	struct fx *fx = host(marker, sizeof(marker));
	struct fx_run *r = calloc(1, sizeof(*r));

	fx_file(fx, "/etc/pve/storage.cfg", "dir: local\n\tpath /var/lib/vz\n\tcontent iso,vztmpl,backup,snippets\n\n"
		"nfs: nas\n\texport /tank/pve\n\tserver 192.0.2.10\n\tcontent images,snippets\n");
	fx_run_hook(r, NULL, "install", "111", "--storage", "nas", "--root", fx->root, NULL);
	ck_assert_msg(r->status == 0, "install: %s", r->err);
	for (const char *const *w = words; *w; w++)
		ck_assert_msg(strstr(r->err, *w), "\"%s\" not in: %s", *w, r->err);
	ck_assert(same_file(fx_path(fx, "/mnt/pve/nas/snippets/gpu-hook"), GH_BINARY));
	slurp(fx_path(fx, record_path), rec, sizeof(rec));
	ck_assert_str_eq(rec, "/usr/sbin/qm set 111 --hookscript nas:snippets/gpu-hook\n");
	fx_vmconf(fx, 111, "hostpci0: 01:00,pcie=1,x-vga=1\nhookscript: nas:snippets/gpu-hook\n");
	fx_run_hook(r, NULL, "check", "111", "--root", fx->root, NULL);
	ck_assert_msg(strstr(r->out, "hookscript on another machine (storage 'nas' is of type nfs)"), "%s", r->out);
	free(r);
	done(fx, marker);
}
END_TEST

/*
 * The binary at the running program's path is gone and a file named as
 * readlink(/proc/self/exe) reports it ("<path> (deleted)") stands in its
 * place: install must copy what is running, not what that path names.
 */
START_TEST(copies_the_running_binary)
{
	char marker[4200], exe[4200], fake[4300];
	struct fx *fx = host(marker, sizeof(marker));
	char *argv[] = { (char *)"gpu-hook", (char *)"install", (char *)"111", (char *)"--root", fx->root, NULL };
	extern char **environ;
	int fd, st;
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s.gpu-hook", fx->root);
	snprintf(fake, sizeof(fake), "%s (deleted)", exe);
	ck_assert(system(NULL));
	{
		char cmd[9000];

		snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", GH_BINARY, exe);
		ck_assert_int_eq(system(cmd), 0);
	}
	fd = open(exe, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unlink(exe), 0);
	{
		FILE *f = fopen(fake, "we");

		ck_assert_ptr_nonnull(f);
		fputs("#!/bin/sh\necho not gpu-hook\n", f);
		fclose(f);
		ck_assert_int_eq(chmod(fake, 0755), 0);
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 2);
		fexecve(fd, argv, environ);
		_exit(127);
	}
	close(fd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	unlink(fake);
	ck_assert_int_eq(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 0);
	ck_assert(same_file(fx_path(fx, "/var/lib/vz/snippets/gpu-hook"), GH_BINARY));
	done(fx, marker);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("install_trust");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, snippets_dir_world_writable);
	tcase_add_test(tc, snippets_dir_not_roots);
	tcase_add_test(tc, target_group_writable);
	tcase_add_test(tc, parent_world_writable);
	tcase_add_test(tc, link_in_writable_dir);
	tcase_add_test(tc, clean_installs_and_runs_nothing);
	tcase_add_test(tc, check_flags_the_installed_file);
	tcase_add_test(tc, network_storage_warns);
	tcase_add_test(tc, copies_the_running_binary);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
