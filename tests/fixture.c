/* SPDX-License-Identifier: MIT */
#include "fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vms.h"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fixture: %s %s: %s\n", what, path, strerror(errno));
	abort();
}

static void capture(void *data, int priority, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

static void capture(void *data, int priority, const char *fmt, va_list ap)
{
	struct fx *fx = data;
	char line[4096];
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	size_t len;

	if (n < 0)
		return;
	len = strlen(line);
	fx->log = realloc(fx->log, fx->log_len + len + 2);
	if (!fx->log)
		abort();
	memcpy(fx->log + fx->log_len, line, len);
	fx->log_len += len;
	fx->log[fx->log_len++] = '\n';
	fx->log[fx->log_len] = '\0';
	if (priority <= LOG_ERR)
		fx->n_errors++;
	if (getenv("GH_TEST_VERBOSE"))
		fprintf(stderr, "log<%d>: %s\n", priority, line);
}

struct fx *fx_new(void)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	if (!fx)
		abort();
	snprintf(fx->root, sizeof(fx->root), "%s/gh-fx-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(fx->root))
		die("mkdtemp", fx->root);
	if (gh_ctx_new(fx->root, &fx->ctx) < 0)
		abort();
	gh_ctx_set_log_fn(fx->ctx, capture, fx);
	gh_ctx_set_log_priority(fx->ctx, LOG_DEBUG);
	fx->log = calloc(1, 1);
	return fx;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void fx_free(struct fx *fx)
{
	if (!fx)
		return;
	if (!getenv("GH_TEST_KEEP"))
		nftw(fx->root, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	gh_ctx_free(fx->ctx);
	free(fx->log);
	free(fx);
}

const char *fx_path(struct fx *fx, const char *path)
{
	static char buf[PATH_MAX];

	if (snprintf(buf, sizeof(buf), "%s%s", fx->root, path) >= (int)sizeof(buf))
		abort();
	return buf;
}

static void mkparents(const char *full)
{
	char buf[PATH_MAX];
	char *p;

	snprintf(buf, sizeof(buf), "%s", full);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			die("mkdir", buf);
		*p = '/';
	}
}

void fx_mkdir(struct fx *fx, const char *path)
{
	char full[PATH_MAX];

	snprintf(full, sizeof(full), "%s%s/", fx->root, path);
	mkparents(full);
}

void fx_file(struct fx *fx, const char *path, const char *fmt, ...)
{
	char full[PATH_MAX];
	va_list ap;
	FILE *f;

	snprintf(full, sizeof(full), "%s%s", fx->root, path);
	mkparents(full);
	f = fopen(full, "we");
	if (!f)
		die("fopen", full);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0)
		die("fclose", full);
}

void fx_link(struct fx *fx, const char *path, const char *target)
{
	char full[PATH_MAX];

	snprintf(full, sizeof(full), "%s%s", fx->root, path);
	mkparents(full);
	unlink(full);
	if (symlink(target, full) < 0)
		die("symlink", full);
}

void fx_chmod(struct fx *fx, const char *path, unsigned mode)
{
	if (chmod(fx_path(fx, path), mode) < 0)
		die("chmod", path);
}

void fx_rm(struct fx *fx, const char *path)
{
	const char *full = fx_path(fx, path);
	struct stat st;

	if (lstat(full, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode))
		nftw(full, rm_one, 32, FTW_DEPTH | FTW_PHYS);
	else
		unlink(full);
}

void fx_driver(struct fx *fx, const char *driver, const char *module)
{
	char p[PATH_MAX], t[PATH_MAX];

	snprintf(p, sizeof(p), "/sys/bus/pci/drivers/%s", driver);
	fx_mkdir(fx, p);
	if (module) {
		snprintf(p, sizeof(p), "/sys/bus/pci/drivers/%s/module", driver);
		snprintf(t, sizeof(t), "../../../../module/%s", module);
		fx_link(fx, p, t);
		snprintf(p, sizeof(p), "/sys/module/%s", module);
		fx_mkdir(fx, p);
	}
}

void fx_pci_attr(struct fx *fx, const char *addr, const char *attr, const char *value)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/sys/devices/pci0000:00/%s/%s", addr, attr);
	fx_file(fx, p, "%s\n", value);
}

static const char *module_of(const char *driver)
{
	if (!strcmp(driver, "nvidia-gpu"))
		return "i2c_nvidia_gpu";
	if (!strcmp(driver, "vfio-pci"))
		return "vfio_pci";
	if (!strcmp(driver, "pcieport") || !strcmp(driver, "xhci_hcd"))
		return NULL;
	return driver;
}

void fx_pci(struct fx *fx, const char *addr, unsigned vendor, unsigned device, unsigned class,
	    const char *driver, int group)
{
	char dev[PATH_MAX], p[PATH_MAX], t[PATH_MAX];

	snprintf(dev, sizeof(dev), "/sys/devices/pci0000:00/%s", addr);
	snprintf(p, sizeof(p), "%s/vendor", dev);
	fx_file(fx, p, "0x%04x\n", vendor);
	snprintf(p, sizeof(p), "%s/device", dev);
	fx_file(fx, p, "0x%04x\n", device);
	snprintf(p, sizeof(p), "%s/class", dev);
	fx_file(fx, p, "0x%06x\n", class);
	snprintf(p, sizeof(p), "%s/subsystem_vendor", dev);
	fx_file(fx, p, "0x%04x\n", vendor);
	snprintf(p, sizeof(p), "%s/subsystem_device", dev);
	fx_file(fx, p, "0x%04x\n", device);
	snprintf(p, sizeof(p), "%s/driver_override", dev);
	fx_file(fx, p, "(null)\n");
	snprintf(p, sizeof(p), "%s/power_state", dev);
	fx_file(fx, p, "D0\n");
	if ((class >> 16) == 0x03) {
		snprintf(p, sizeof(p), "%s/boot_vga", dev);
		fx_file(fx, p, "0\n");
	}
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s", addr);
	snprintf(t, sizeof(t), "../../../devices/pci0000:00/%s", addr);
	fx_link(fx, p, t);
	if (group >= 0) {
		snprintf(p, sizeof(p), "%s/iommu_group", dev);
		snprintf(t, sizeof(t), "../../../kernel/iommu_groups/%d", group);
		fx_link(fx, p, t);
		snprintf(p, sizeof(p), "/sys/kernel/iommu_groups/%d/devices/%s", group, addr);
		snprintf(t, sizeof(t), "../../../../devices/pci0000:00/%s", addr);
		fx_link(fx, p, t);
	}
	if (driver) {
		fx_driver(fx, driver, module_of(driver));
		snprintf(p, sizeof(p), "%s/driver", dev);
		snprintf(t, sizeof(t), "../../../bus/pci/drivers/%s", driver);
		fx_link(fx, p, t);
		snprintf(p, sizeof(p), "/sys/bus/pci/drivers/%s/%s", driver, addr);
		snprintf(t, sizeof(t), "../../../../devices/pci0000:00/%s", addr);
		fx_link(fx, p, t);
	}
}

void fx_module(struct fx *fx, const char *name, int refcnt, ...)
{
	char p[PATH_MAX];
	const char *h;
	va_list ap;

	snprintf(p, sizeof(p), "/sys/module/%s/initstate", name);
	fx_file(fx, p, "live\n");
	snprintf(p, sizeof(p), "/sys/module/%s/refcnt", name);
	fx_file(fx, p, "%d\n", refcnt);
	snprintf(p, sizeof(p), "/sys/module/%s/holders", name);
	fx_mkdir(fx, p);
	va_start(ap, refcnt);
	while ((h = va_arg(ap, const char *))) {
		char t[PATH_MAX];

		snprintf(p, sizeof(p), "/sys/module/%s/holders/%s", name, h);
		snprintf(t, sizeof(t), "../../%s", h);
		fx_link(fx, p, t);
	}
	va_end(ap);
}

void fx_proc(struct fx *fx, int pid, const char *comm, const char *cmdline, const char *cgroup)
{
	char p[PATH_MAX];
	char *cl = strdup(cmdline ? cmdline : comm);
	FILE *f;

	if (!cl)
		abort();
	snprintf(p, sizeof(p), "/proc/%d/comm", pid);
	fx_file(fx, p, "%s\n", comm);
	snprintf(p, sizeof(p), "/proc/%d/cgroup", pid);
	fx_file(fx, p, "0::%s\n", cgroup ? cgroup : "/init.scope");
	snprintf(p, sizeof(p), "/proc/%d/fd", pid);
	fx_mkdir(fx, p);
	snprintf(p, sizeof(p), "/proc/%d/maps", pid);
	fx_file(fx, p, "%s", "");
	/* A process of its own (not a kernel thread): proc_exe_link names its executable. */
	snprintf(p, sizeof(p), "/proc/%d/exe", pid);
	{
		char exe[PATH_MAX];

		snprintf(exe, sizeof(exe), "/usr/bin/%s", comm);
		fx_link(fx, p, exe);
	}
	snprintf(p, sizeof(p), "/proc/%d/cmdline", pid);
	f = fopen(fx_path(fx, p), "we");
	if (!f)
		die("fopen", p);
	for (char *c = cl; *c; c++)
		if (*c == ' ')
			*c = '\0';
	fwrite(cl, 1, strlen(cmdline ? cmdline : comm) + 1, f);
	fclose(f);
	free(cl);
	fx_proc_stat(fx, pid, fx_proc_start(pid), pid);
}

unsigned long long fx_proc_start(int pid)
{
	return 50000ULL + (unsigned long long)pid;
}

void fx_proc_stat(struct fx *fx, int pid, unsigned long long start, int sid)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/proc/%d/stat", pid);
	fx_file(fx, p, "%d (x) S 1 %d %d 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 %llu 12345678 100\n", pid, sid,
		sid, start);
}

void fx_node(struct fx *fx, const char *path, const char *real)
{
	fx_link(fx, path, real);
}

void fx_proc_fd_text(struct fx *fx, int pid, int fd, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/proc/%d/fd/%d", pid, fd);
	fx_link(fx, p, text);
}

void fx_proc_fd(struct fx *fx, int pid, int fd, const char *target)
{
	char real[PATH_MAX];
	ssize_t n = -1;

	if (!strncmp(target, "/dev/", 5))
		n = readlink(fx_path(fx, target), real, sizeof(real) - 1);
	if (n > 0) {
		real[n] = '\0';
		target = real;
	}
	fx_proc_fd_text(fx, pid, fd, target);
}

const char *fx_node_id(struct fx *fx, const char *path)
{
	static char buf[64];
	struct stat st;

	if (stat(fx_path(fx, path), &st) < 0)
		die("stat", path);
	snprintf(buf, sizeof(buf), "%02x:%02x %llu", major(st.st_dev), minor(st.st_dev),
		 (unsigned long long)st.st_ino);
	return buf;
}

void fx_sysfs_dev(struct fx *fx, const char *addr, const char *rel, const char *devnum, const char *devname)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/sys/devices/pci0000:00/%s/%s/dev", addr, rel);
	fx_file(fx, p, "%s\n", devnum);
	snprintf(p, sizeof(p), "/sys/devices/pci0000:00/%s/%s/uevent", addr, rel);
	fx_file(fx, p, "MAJOR=%.*s\nMINOR=%s\nDEVNAME=%s\n", (int)strcspn(devnum, ":"), devnum,
		strchr(devnum, ':') + 1, devname);
}

void fx_proc_maps(struct fx *fx, int pid, const char *maps)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/proc/%d/maps", pid);
	fx_file(fx, p, "%s", maps);
}

void fx_vmconf(struct fx *fx, unsigned vmid, const char *text)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "/etc/pve/qemu-server/%u.conf", vmid);
	fx_file(fx, p, "%s", text);
}

void fx_host_single(struct fx *fx)
{
	fx_file(fx, "/etc/hostname", "pve1\n");
	fx_pci(fx, "0000:00:01.0", 0x8086, 0xa70d, 0x060400, "pcieport", 2);
	fx_pci(fx, "0000:01:00.0", 0x10de, 0x2684, 0x030000, "nvidia", 14);
	fx_pci(fx, "0000:01:00.1", 0x10de, 0x22ba, 0x040300, "snd_hda_intel", 14);
	fx_pci_attr(fx, "0000:01:00.0", "boot_vga", "1");
	fx_pci_attr(fx, "0000:01:00.0", "subsystem_vendor", "0x1043");
	fx_pci_attr(fx, "0000:01:00.0", "subsystem_device", "0x889c");
	fx_sysfs_dev(fx, "0000:01:00.0", "drm/card0", "5:0", "dri/card0");
	fx_sysfs_dev(fx, "0000:01:00.0", "drm/renderD128", "5:2", "dri/renderD128");
	fx_sysfs_dev(fx, "0000:01:00.1", "sound/card0/controlC0", "1:9", "snd/controlC0");
	fx_node(fx, "/dev/nvidia0", "/dev/zero");
	fx_node(fx, "/dev/nvidiactl", "/dev/full");
	fx_node(fx, "/dev/dri/card0", "/dev/tty");
	fx_node(fx, "/dev/dri/renderD128", "/dev/ptmx");
	fx_node(fx, "/dev/snd/controlC0", "/dev/urandom");
	fx_mkdir(fx, "/sys/devices/pci0000:00/0000:01:00.0/graphics/fb0");
	fx_link(fx, "/sys/class/graphics/fb0", "../../devices/pci0000:00/0000:01:00.0/graphics/fb0");
	fx_link(fx, "/sys/devices/pci0000:00/0000:01:00.0/graphics/fb0/device", "../../../0000:01:00.0");
	fx_file(fx, "/proc/fb", "0 nvidia-drmdrmfb\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon0/name", "(S) dummy device\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon0/bind", "0\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon1/name", "(M) frame buffer device\n");
	fx_file(fx, "/sys/class/vtconsole/vtcon1/bind", "1\n");
	fx_module(fx, "nvidia", 2, "nvidia_modeset", "nvidia_uvm", NULL);
	fx_module(fx, "nvidia_modeset", 1, "nvidia_drm", NULL);
	fx_module(fx, "nvidia_uvm", 0, NULL);
	fx_module(fx, "nvidia_drm", 0, NULL);
	fx_module(fx, "snd_hda_intel", 0, NULL);
	fx_module(fx, "vfio_pci", 0, NULL);
	fx_driver(fx, "vfio-pci", "vfio_pci");
	fx_file(fx, "/proc/driver/nvidia/gpus/0000:01:00.0/information",
		"Model: \t\t NVIDIA GeForce RTX 4090\nDevice Minor: \t 0\nBus Location: \t 0000:01:00.0\n");
	fx_proc(fx, 1, "systemd", "/sbin/init", "/init.scope");
	fx_proc(fx, 900, "nvidia-persiste", "/usr/bin/nvidia-persistenced --user nvpd",
		"/system.slice/nvidia-persistenced.service");
	fx_proc_fd(fx, 900, 3, "/dev/nvidiactl");
	fx_proc_fd(fx, 900, 4, "/dev/nvidia0");
	fx_file(fx, "/sys/fs/cgroup/system.slice/nvidia-persistenced.service/cgroup.procs", "900\n");
	fx_mkdir(fx, "/run");
	fx_mkdir(fx, "/var/run/qemu-server");
	fx_mkdir(fx, "/etc/gpu-hook");
	fx_vmconf(fx, 111,
		  "boot: order=scsi0\ncores: 4\nhookscript: local:snippets/gpu-hook\n"
		  "hostpci0: 01:00,pcie=1,x-vga=1\nmemory: 16384\nname: gpu-vm\nsockets: 1\n");
}

static void slurp(int fd, char *buf, size_t size)
{
	size_t off = 0;
	ssize_t n;

	while (off + 1 < size && (n = read(fd, buf + off, size - off - 1)) > 0)
		off += (size_t)n;
	buf[off] = '\0';
}

void fx_run_argv(struct fx_run *r, const char *env, char **args)
{
	fx_run_argv_within(r, env, args, 0);
}

void fx_run_argv_within(struct fx_run *r, const char *env, char **args, unsigned timeout_s)
{
	char *argv[64];
	int out[2], err[2], st, n = 0;
	pid_t pid;

	argv[n++] = (char *)GH_BINARY;
	while (n < 63 && args && args[n - 1])
		argv[n] = args[n - 1], n++;
	argv[n] = NULL;
	ck_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (env)
			putenv((char *)env);
		/* SIGALRM survives execv: a hung run ends as a signal, which the caller counts as a failure. */
		if (timeout_s)
			alarm(timeout_s);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	/* stdout first, then stderr: outputs here stay well under a pipe's buffer. */
	slurp(out[0], r->out, sizeof(r->out));
	slurp(err[0], r->err, sizeof(r->err));
	close(out[0]);
	close(err[0]);
	ck_assert(waitpid(pid, &st, 0) == pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* argv is NULL-terminated; env may add one "NAME=value". */
void fx_run_hook(struct fx_run *r, const char *env, ...)
{
	char *args[63];
	va_list ap;
	int n = 0;

	va_start(ap, env);
	while (n < 62 && (args[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	args[n] = NULL;
	fx_run_argv(r, env, args);
}

/* A digest of every path, link target, mode and content under the root. */
static unsigned long tree_sum;
static size_t tree_root_len;

static int sum_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	unsigned long h = 5381;
	char buf[4096];

	(void)ftw;
	for (const char *c = path + tree_root_len; *c; c++)
		h = h * 33 + (unsigned char)*c;
	h = h * 33 + st->st_mode;
	if (flag == FTW_SL) {
		ssize_t n = readlink(path, buf, sizeof(buf));

		for (ssize_t i = 0; i < n; i++)
			h = h * 33 + (unsigned char)buf[i];
	} else if (flag == FTW_F && S_ISREG(st->st_mode)) {
		/* A FIFO planted by a bad-input case would block the read. */
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t n;

		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			for (ssize_t i = 0; i < n; i++)
				h = h * 33 + (unsigned char)buf[i];
		if (fd >= 0)
			close(fd);
	}
	tree_sum ^= h + 0x9e3779b9 + (tree_sum << 6) + (tree_sum >> 2);
	return 0;
}

unsigned long fx_tree_digest(const char *root)
{
	tree_sum = 0;
	tree_root_len = strlen(root);
	ck_assert_int_eq(nftw(root, sum_one, 32, FTW_PHYS), 0);
	return tree_sum;
}

void fx_example_host(struct fx *fx)
{
	char cmd[PATH_MAX * 2 + 64];

	/* A clone made under umask 002 has group-writable files, which the policy trust check refuses. */
	snprintf(cmd, sizeof(cmd), "cp -a '%s/conf/example-host/.' '%s/' && chmod -R go-w '%s'", GH_SOURCE_DIR,
		 fx->root, fx->root);
	if (system(cmd) != 0)
		abort();
}

struct json_object *fx_json_get(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;

	ck_assert_msg(json_object_object_get_ex(o, key, &v), "missing key %s", key);
	return v;
}

bool fx_log_has(const struct fx *fx, const char *needle)
{
	return strstr(fx->log, needle) != NULL;
}

void fx_log_clear(struct fx *fx)
{
	fx->log_len = 0;
	fx->log[0] = '\0';
	fx->n_errors = 0;
}

int fx_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

int fx_vms_owner(struct gh_ctx *ctx, unsigned self, const char *addr, unsigned *vmid)
{
	struct gh_vms vms;
	int r;

	gh_vms_load(ctx, self, &vms);
	r = gh_vms_owner_in(&vms, addr, vmid);
	gh_vms_free(&vms);
	return r;
}
