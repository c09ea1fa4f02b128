/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixture.h"
#include "host.h"
#include "policy.h"

static int parse(struct fx *fx, const char *text, struct gh_policy *p)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int r;

	ck_assert_ptr_nonnull(f);
	r = gh_policy_parse(fx->ctx, f, "p.ini", p);
	fclose(f);
	return r;
}

/* Policy files as an administrator leaves them: root's (or ours, unprivileged), 0644. */
static void policy_file(struct fx *fx, const char *path, const char *text)
{
	fx_file(fx, path, "%s", text);
	fx_chmod(fx, path, 0644);
}

START_TEST(defaults)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_int_eq(fx->n_errors, 0);
	ck_assert_uint_eq(p.services.n, 2);
	ck_assert_str_eq(p.services.v[0], "nvidia-persistenced.service");
	ck_assert_str_eq(p.services.v[1], "display-manager.service");
	ck_assert_int_eq(p.holders, GH_HOLDERS_REFUSE);
	ck_assert_int_eq(p.console, GH_CONSOLE_AUTO);
	ck_assert(p.restore);
	ck_assert_uint_eq(p.timeout_ms, 10000);
	ck_assert_uint_eq(p.module_timeout_ms, 60000);
	ck_assert_uint_eq(p.service_timeout_ms, 60000);
	ck_assert_uint_eq(p.wait_ms, 5000);
	ck_assert_int_eq(p.sched_policy, SCHED_OTHER);
	ck_assert_int_eq(p.sched_priority, 0);
	ck_assert_uint_eq(p.n_devices, 0);
	ck_assert_uint_eq(p.n_drivers, 0);
	ck_assert_uint_eq(p.n_vcpus, 0);
	ck_assert(!p.others_set);
	ck_assert_int_eq(CPU_COUNT(&p.others), 0);
	ck_assert_uint_eq(p.files.n, 0);
	ck_assert_str_eq(gh_policy_holders_name(p.holders), "refuse");
	ck_assert_str_eq(gh_policy_holders_name(GH_HOLDERS_KILL), "kill");
	ck_assert_str_eq(gh_policy_holders_name(GH_HOLDERS_STOP_UNIT), "stop-unit");
	ck_assert_str_eq(gh_policy_console_name(p.console), "auto");
	ck_assert_str_eq(gh_policy_console_name(GH_CONSOLE_DETACH), "detach");
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

START_TEST(every_key_and_override)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	policy_file(fx, "/etc/gpu-hook/gpu-hook.ini",
		    "; defaults\n# for every VM\n[handoff]\nholders = stop-unit\ntimeout = 20s\nservices = a.service\n"
		    "console = detach\n[drivers]\n0000:01:00.1 = snd_hda_intel\n0000:02:00.0 = nouveau\n"
		    "[pinning]\nwait = 2s\nothers = 0-1\n");
	policy_file(fx, "/etc/gpu-hook/111.ini",
		    "[handoff]\ndevices = 01:00.0, 0000:01:00.1 02:00\n"
		    "services = nvidia-persistenced.service,sddm.service  getty@tty1.service\n"
		    "console = keep\nrestore = no\ntimeout = 2500ms\n"
		    "[drivers]\n01:00.1 = snd_hda_codec_x\n0000:01:00.0 = nvidia\n"
		    "[pinning]\nvcpus = 7,6,4-5\nothers = 0-3\nsched = fifo:10\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0600);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_int_eq(fx->n_errors, 0);
	/* From gpu-hook.ini, not overridden. */
	ck_assert_int_eq(p.holders, GH_HOLDERS_STOP_UNIT);
	ck_assert_uint_eq(p.wait_ms, 2000);
	ck_assert_str_eq(gh_policy_driver_for(&p, "0000:02:00.0"), "nouveau");
	/* Overridden by 111.ini, key by key. */
	ck_assert_int_eq(p.console, GH_CONSOLE_KEEP);
	ck_assert(!p.restore);
	ck_assert_uint_eq(p.timeout_ms, 2500);
	ck_assert_uint_eq(p.services.n, 3);
	ck_assert_str_eq(p.services.v[0], "nvidia-persistenced.service");
	ck_assert_str_eq(p.services.v[1], "sddm.service");
	ck_assert_str_eq(p.services.v[2], "getty@tty1.service");
	ck_assert(!gh_strv_contains(&p.services, "a.service"));
	ck_assert_uint_eq(p.n_devices, 3);
	ck_assert_int_eq(p.devices[0].func, 0);
	ck_assert_int_eq(p.devices[1].func, 1);
	ck_assert_uint_eq(p.devices[2].bus, 2);
	ck_assert_int_eq(p.devices[2].func, -1);
	ck_assert_uint_eq(p.n_drivers, 3);
	ck_assert_str_eq(gh_policy_driver_for(&p, "0000:01:00.1"), "snd_hda_codec_x");
	ck_assert_str_eq(gh_policy_driver_for(&p, "0000:01:00.0"), "nvidia");
	ck_assert_ptr_null(gh_policy_driver_for(&p, "0000:03:00.0"));
	ck_assert_ptr_null(gh_policy_driver_for(&p, "01:00.0"));
	ck_assert_uint_eq(p.n_vcpus, 4);
	ck_assert_int_eq(p.vcpus[0], 7);
	ck_assert_int_eq(p.vcpus[1], 6);
	ck_assert_int_eq(p.vcpus[2], 4);
	ck_assert_int_eq(p.vcpus[3], 5);
	ck_assert(p.others_set);
	ck_assert_int_eq(CPU_COUNT(&p.others), 4);
	ck_assert(CPU_ISSET(3, &p.others));
	ck_assert(!CPU_ISSET(4, &p.others));
	ck_assert_int_eq(p.sched_policy, SCHED_FIFO);
	ck_assert_int_eq(p.sched_priority, 10);
	ck_assert_uint_eq(p.files.n, 2);
	ck_assert_str_eq(p.files.v[0], "/etc/gpu-hook/gpu-hook.ini");
	ck_assert_str_eq(p.files.v[1], "/etc/gpu-hook/111.ini");
	gh_policy_free(&p);

	/* An empty services line means none; another VM sees only the defaults file. */
	policy_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nservices =\n[pinning]\nsched = rr:99\nwait = 0\n");
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_uint_eq(p.services.n, 0);
	ck_assert_int_eq(p.sched_policy, SCHED_RR);
	ck_assert_int_eq(p.sched_priority, 99);
	ck_assert_uint_eq(p.wait_ms, 0);
	gh_policy_free(&p);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 112, &p), 0);
	ck_assert_uint_eq(p.services.n, 1);
	ck_assert_str_eq(p.services.v[0], "a.service");
	ck_assert_uint_eq(p.files.n, 1);
	gh_policy_free(&p);
	/* vmid 0: the defaults file only. */
	ck_assert_int_eq(gh_policy_load(fx->ctx, 0, &p), 0);
	ck_assert_uint_eq(p.timeout_ms, 20000);
	ck_assert_uint_eq(p.files.n, 1);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

START_TEST(values)
{
	static const struct {
		const char *text;
		unsigned timeout_ms, wait_ms;
		int holders, console, restore;
	} cases[] = {
		{ "[handoff]\ntimeout = 10\n", 10000, 5000, GH_HOLDERS_REFUSE, GH_CONSOLE_AUTO, 1 },
		{ "[handoff]\ntimeout = 1s\n", 1000, 5000, GH_HOLDERS_REFUSE, GH_CONSOLE_AUTO, 1 },
		{ "[handoff]\ntimeout = 300\n", 300000, 5000, GH_HOLDERS_REFUSE, GH_CONSOLE_AUTO, 1 },
		{ "[handoff]\ntimeout = 1000ms\nholders = kill\n", 1000, 5000, GH_HOLDERS_KILL, GH_CONSOLE_AUTO, 1 },
		{ "[handoff]\nrestore = yes\nconsole = auto\n", 10000, 5000, GH_HOLDERS_REFUSE, GH_CONSOLE_AUTO, 1 },
		{ "[handoff]\nrestore = false\n", 10000, 5000, GH_HOLDERS_REFUSE, GH_CONSOLE_AUTO, 0 },
		{ "[pinning]\nwait = 250ms\n", 10000, 250, GH_HOLDERS_REFUSE, GH_CONSOLE_AUTO, 1 },
		{ "[pinning]\nwait = 60\n", 10000, 60000, GH_HOLDERS_REFUSE, GH_CONSOLE_AUTO, 1 },
		/* inih trims, and takes "; ..." after a blank as a comment. */
		{ "  [handoff]  \n\tholders=stop-unit   ; units only\n", 10000, 5000, GH_HOLDERS_STOP_UNIT,
		  GH_CONSOLE_AUTO, 1 },
		{ "\xef\xbb\xbf[handoff]\r\nconsole = detach\r\n", 10000, 5000, GH_HOLDERS_REFUSE, GH_CONSOLE_DETACH, 1 },
		{ "", 10000, 5000, GH_HOLDERS_REFUSE, GH_CONSOLE_AUTO, 1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *fx = fx_new();
		struct gh_policy p;

		ck_assert_int_eq(gh_policy_init(&p), 0);
		ck_assert_msg(parse(fx, cases[i].text, &p) == 0, "case %zu:\n%s", i, fx->log);
		ck_assert_uint_eq(p.timeout_ms, cases[i].timeout_ms);
		ck_assert_uint_eq(p.wait_ms, cases[i].wait_ms);
		ck_assert_int_eq(p.holders, cases[i].holders);
		ck_assert_int_eq(p.console, cases[i].console);
		ck_assert_int_eq(p.restore, cases[i].restore);
		ck_assert_uint_eq(p.files.n, 1);
		ck_assert_str_eq(p.files.v[0], "p.ini");
		gh_policy_free(&p);
		fx_free(fx);
	}
}
END_TEST

static void expect_error(const char *text, const char *message)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	ck_assert_int_eq(gh_policy_init(&p), 0);
	ck_assert_int_eq(parse(fx, text, &p), -EINVAL);
	ck_assert_msg(fx_log_has(fx, message), "expected \"%s\" in log:\n%s", message, fx->log);
	ck_assert_msg(fx->n_errors == 1, "one error expected for:\n%s\nlog:\n%s", text, fx->log);
	ck_assert_uint_eq(p.files.n, 0);
	gh_policy_free(&p);
	fx_free(fx);
}

static void expect_deadlines(const char *text, unsigned step_ms, unsigned module_ms, unsigned service_ms)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	ck_assert_int_eq(gh_policy_init(&p), 0);
	ck_assert_msg(parse(fx, text, &p) == 0, "%s\n%s", text, fx->log);
	ck_assert_uint_eq(p.timeout_ms, step_ms);
	ck_assert_uint_eq(p.module_timeout_ms, module_ms);
	ck_assert_uint_eq(p.service_timeout_ms, service_ms);
	gh_policy_free(&p);
	fx_free(fx);
}

/* module_timeout and service_timeout: the syntax of timeout, 1 s to 600 s, each on its own. */
START_TEST(module_and_service_timeouts)
{
	expect_deadlines("[handoff]\nmodule_timeout = 90s\n", 10000, 90000, 60000);
	expect_deadlines("[handoff]\nservice_timeout = 120\n", 10000, 60000, 120000);
	expect_deadlines("[handoff]\nmodule_timeout = 1000ms\nservice_timeout = 600s\ntimeout = 2s\n", 2000, 1000, 600000);
	expect_deadlines("[handoff]\ntimeout = 300s\nmodule_timeout = 1s\n", 300000, 1000, 60000);
	expect_error("[handoff]\nmodule_timeout = 0\n", "p.ini:2: module_timeout: expected a duration from 1s to 600s");
	expect_error("[handoff]\n\nservice_timeout = 601s\n",
		     "p.ini:3: service_timeout: expected a duration from 1s to 600s (\"60s\", \"90000ms\"), not '601s'");
	expect_error("[handoff]\nmodule_timeout = 999ms\n", "p.ini:2: module_timeout: expected a duration");
	expect_error("[handoff]\nservice_timeout = 11m\n", "p.ini:2: service_timeout: expected a duration");
	expect_deadlines("[handoff]\nservice_timeout = 2m\n", 10000, 60000, 120000);
	expect_error("[handoff]\nmodule_timeout = -5\n", "p.ini:2: module_timeout: expected a duration");
	expect_error("[handoff]\nservice_timeout =\n", "p.ini:2: service_timeout: expected a duration");
	/* Only [handoff] knows them. */
	expect_error("[pinning]\nmodule_timeout = 60s\n", "p.ini:2: unknown key 'module_timeout' in [pinning]");
}
END_TEST

START_TEST(bad_values)
{
	expect_error("[handoff]\ntimeout = 0\n", "p.ini:2: timeout: expected a duration from 1s to 300s");
	expect_error("[handoff]\ntimeout = 999ms\n", "timeout: expected a duration");
	expect_error("[handoff]\ntimeout = 301s\n", "timeout: expected a duration");
	expect_error("[handoff]\ntimeout = 10m\n", "timeout: expected a duration");
	expect_error("[handoff]\ntimeout = -1\n", "timeout: expected a duration");
	expect_error("[handoff]\ntimeout = 10 s\n", "timeout: expected a duration");
	expect_error("[handoff]\nholders = Kill\n", "p.ini:2: holders: expected refuse, stop-unit or kill, not 'Kill'");
	expect_error("[handoff]\nconsole = off\n", "console: expected auto, detach or keep, not 'off'");
	expect_error("[handoff]\nrestore = perhaps\n", "restore: expected yes or no, not 'perhaps'");
	expect_error("[handoff]\ndevices = 01:00.0 ../../etc\n", "p.ini:2: devices: invalid PCI id '../../etc'");
	expect_error("[handoff]\ndevices = 0A:00.0\n", "devices: invalid PCI id '0A:00.0'");
	expect_error("[handoff]\nservices = sshd\n", "p.ini:2: services: invalid unit name 'sshd'");
	expect_error("[handoff]\nservices = system.slice\n", "services: invalid unit name 'system.slice'");
	expect_error("[handoff]\nservices = a.service;rm\n", "services: invalid unit name 'a.service;rm'");
	expect_error("[handoff]\nservices = ../x.service\n", "services: invalid unit name '../x.service'");
	expect_error("[drivers]\n01:00 = nvidia\n", "p.ini:2: [drivers]: '01:00' is not a PCI function address");
	expect_error("[drivers]\n0000:01:00.8 = nvidia\n", "[drivers]: '0000:01:00.8' is not a PCI function address");
	expect_error("[drivers]\n0000:01:00.1 = bad/name\n", "p.ini:2: [drivers]: invalid driver name 'bad/name'");
	expect_error("[drivers]\n0000:01:00.1 =\n", "[drivers]: invalid driver name ''");
	expect_error("[pinning]\nvcpus = 1,1\n", "p.ini:2: vcpus: invalid CPU list at '1'");
	expect_error("[pinning]\nvcpus = 0-1024\n", "vcpus: invalid CPU list at '0-1024'");
	expect_error("[pinning]\nothers = 3-1\n", "others: invalid CPU list at '3-1'");
	expect_error("[pinning]\nsched = fifo:100\n", "p.ini:2: sched: expected other, fifo:N or rr:N");
	expect_error("[pinning]\nsched = rr:0\n", "sched: expected other");
	expect_error("[pinning]\nsched = idle\n", "sched: expected other");
	expect_error("[pinning]\nwait = 61s\n", "wait: expected a duration up to 60s");
	expect_error("[handoff]\nfrobnicate = 1\n", "p.ini:2: unknown key 'frobnicate' in [handoff]");
	expect_error("[pinning]\nservices = x.service\n", "unknown key 'services' in [pinning]");
	expect_error("holders = kill\n", "p.ini:1: key 'holders' outside a section");
	expect_error("[Handoff]\nholders = kill\n", "p.ini:1: unknown section [Handoff]");
	expect_error("[handoff\nholders = kill\n", "p.ini:1: cannot parse section header '[handoff'");
	expect_error("[handoff]\nholders: kill\n", "p.ini:2: cannot parse line 'holders: kill' (expected key = value)");
	expect_error("[handoff]\n= kill\n", "p.ini:2: no key before '='");
	expect_error("[handoff]\nholders = kill\x01\n", "p.ini:2: control character in line");
}
END_TEST

/* modeset_hold: refuse by default, reload when asked, a per-VM file over the global one. */
START_TEST(modeset_hold_key)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_int_eq(p.modeset_hold, GH_MODESET_HOLD_REFUSE);
	gh_policy_free(&p);
	policy_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\nmodeset_hold = reload\n");
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_int_eq(p.modeset_hold, GH_MODESET_HOLD_RELOAD);
	gh_policy_free(&p);
	policy_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nmodeset_hold = refuse\n");
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), 0);
	ck_assert_int_eq(p.modeset_hold, GH_MODESET_HOLD_REFUSE);
	gh_policy_free(&p);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 112, &p), 0);
	ck_assert_int_eq(p.modeset_hold, GH_MODESET_HOLD_RELOAD);
	gh_policy_free(&p);
	fx_free(fx);
	expect_error("[handoff]\nmodeset_hold = Reload\n", "p.ini:2: modeset_hold: expected refuse or reload, not 'Reload'");
	expect_error("[handoff]\n\nmodeset_hold = yes\n", "p.ini:3: modeset_hold: expected refuse or reload, not 'yes'");
	expect_error("[handoff]\nmodeset_hold =\n", "modeset_hold: expected refuse or reload, not ''");
}
END_TEST

START_TEST(indented_lines_are_not_continuations)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	/* inih would hand "b.service" to the handler as services again, dropping a.service. */
	ck_assert_int_eq(gh_policy_init(&p), 0);
	ck_assert_int_eq(parse(fx, "[handoff]\nservices = a.service\n    b.service\n", &p), -EINVAL);
	ck_assert(fx_log_has(fx, "p.ini:3: cannot parse line 'b.service'"));
	ck_assert_int_eq(fx->n_errors, 1);
	gh_policy_free(&p);

	fx_log_clear(fx);
	ck_assert_int_eq(gh_policy_init(&p), 0);
	ck_assert_int_eq(parse(fx, "[handoff]\nservices = a.service\n    holders = kill\n", &p), 0);
	ck_assert_uint_eq(p.services.n, 1);
	ck_assert_int_eq(p.holders, GH_HOLDERS_KILL);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

START_TEST(long_lines)
{
	struct fx *fx = fx_new();
	struct gh_policy p;
	char text[2048];
	size_t n;

	/* inih's line buffer is small (200 bytes in Debian's build): a longer line is an error, not two. */
	n = (size_t)snprintf(text, sizeof(text), "[handoff]\nservices = ");
	while (n < 1000)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "unit%zu.service ", n);
	snprintf(text + n, sizeof(text) - n, "\nholders = kill\nfrob = 1\n");
	ck_assert_int_eq(gh_policy_init(&p), 0);
	ck_assert_int_eq(parse(fx, text, &p), -EINVAL);
	ck_assert(fx_log_has(fx, "p.ini:2: line too long"));
	ck_assert(fx_log_has(fx, "p.ini:4: unknown key 'frob'"));
	ck_assert_int_eq(fx->n_errors, 2);
	ck_assert_int_eq(p.holders, GH_HOLDERS_KILL);
	/* The defaults stay: the long line was not applied in part. */
	ck_assert_uint_eq(p.services.n, 2);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

START_TEST(every_error_in_one_run)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	policy_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\ntimeout = forever\n");
	policy_file(fx, "/etc/gpu-hook/111.ini",
		    "[handoff]\nholders = ignore\nfrobnicate = 1\nthis line is junk\n[nosuch]\nx = 1\n"
		    "[drivers]\n01:00 = nvidia\n0000:01:00.1 = bad/name\n"
		    "[pinning]\nvcpus = 1,1\nsched = fifo:100\nservices = x.service\n[bad\ny = 2\n");
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EINVAL);
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/gpu-hook.ini:2: timeout: expected a duration"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:2: holders: expected refuse, stop-unit or kill, not 'ignore'"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:3: unknown key 'frobnicate' in [handoff]"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:4: cannot parse line"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:5: unknown section [nosuch]"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:8: [drivers]: '01:00' is not a PCI function address"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:9: [drivers]: invalid driver name"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:11: vcpus: invalid CPU list"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:12: sched:"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:13: unknown key 'services' in [pinning]"));
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini:14: cannot parse section header"));
	/* Keys in unknown sections (x, y) are not reported a second time. */
	ck_assert_int_eq(fx->n_errors, 11);
	ck_assert_uint_eq(p.files.n, 0);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

START_TEST(untrusted_files_are_refused)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	policy_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\nconsole = keep\n");
	fx_file(fx, "/etc/gpu-hook/111.ini", "[handoff]\nholders = kill\n");
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0664);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini: refusing policy file: writable by group or others"));
	ck_assert_int_eq(fx->n_errors, 1);
	/* Nothing of the refused file was applied. */
	ck_assert_int_eq(p.holders, GH_HOLDERS_REFUSE);
	ck_assert_int_eq(p.console, GH_CONSOLE_KEEP);
	gh_policy_free(&p);

	fx_log_clear(fx);
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0646);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini: refusing policy file: writable by group or others (mode 0646"));
	gh_policy_free(&p);

	/* The defaults file is checked the same way. */
	fx_log_clear(fx);
	fx_chmod(fx, "/etc/gpu-hook/111.ini", 0644);
	fx_chmod(fx, "/etc/gpu-hook/gpu-hook.ini", 0620);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/gpu-hook.ini: refusing policy file: writable by group or others"));
	ck_assert_int_eq(p.holders, GH_HOLDERS_KILL);
	gh_policy_free(&p);
	fx_chmod(fx, "/etc/gpu-hook/gpu-hook.ini", 0644);

	if (geteuid() == 0) {
		fx_log_clear(fx);
		ck_assert_int_eq(chown(fx_path(fx, "/etc/gpu-hook/111.ini"), 1, 1), 0);
		ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
		ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini: refusing policy file: not owned by root (owner uid 1)"));
		gh_policy_free(&p);
	} else {
		printf("policy: not root, ownership check skipped\n");
	}

	/* Not a regular file: a directory, a FIFO (which must not hang the open). */
	fx_log_clear(fx);
	fx_rm(fx, "/etc/gpu-hook/111.ini");
	fx_mkdir(fx, "/etc/gpu-hook/111.ini");
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
	ck_assert(fx_log_has(fx, "/etc/gpu-hook/111.ini: not a regular file (directory)"));
	gh_policy_free(&p);
	fx_rm(fx, "/etc/gpu-hook/111.ini");
	ck_assert_int_eq(mkfifo(fx_path(fx, "/etc/gpu-hook/111.ini"), 0600), 0);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EPERM);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

static void bad_policy(struct fx *fx)
{
	fx_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\ntimeout = forever\n");
	fx_chmod(fx, "/etc/gpu-hook/gpu-hook.ini", 0644);
}

/*
 * The ownership rule of every load (lib/README.md): a failed load leaves its
 * struct owning nothing, and a *_free after that is harmless (under ASan a
 * leak or a double free fails too). The defaults gh_policy_init put in (two
 * services) are gone with the failure.
 */
START_TEST(policy_load_failure_owns_nothing)
{
	struct fx *fx = fx_new();
	struct gh_policy p;

	bad_policy(fx);
	ck_assert_int_eq(gh_policy_load(fx->ctx, 111, &p), -EINVAL);
	ck_assert(fx_log_has(fx, "gpu-hook.ini:2: timeout"));
	ck_assert_ptr_null(p.services.v);
	ck_assert_uint_eq(p.services.n, 0);
	ck_assert_ptr_null(p.files.v);
	gh_policy_free(&p);
	gh_policy_free(&p);
	fx_free(fx);
}
END_TEST

/* A VM whose config reads but whose policy does not: the host holds nothing of either. */
START_TEST(host_load_failure_owns_nothing)
{
	struct fx *fx = fx_new();
	struct gh_host h;

	fx_host_single(fx);
	bad_policy(fx);
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), -EINVAL);
	ck_assert_ptr_null(h.pol.services.v);
	ck_assert_ptr_null(h.f);
	ck_assert_uint_eq(h.n_f, 0);
	ck_assert_ptr_null(h.notes.v);
	ck_assert_ptr_null(h.refusals.v);
	gh_host_free(&h);
	fx_file(fx, "/etc/gpu-hook/gpu-hook.ini", "[handoff]\ntimeout = 5s\n");
	ck_assert_int_eq(gh_host_load(fx->ctx, 111, &h), 0);
	ck_assert_ptr_nonnull(h.pol.services.v);
	ck_assert_uint_ge(h.n_f, 1);
	gh_host_free(&h);
	gh_host_free(&h);
	fx_free(fx);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, defaults);
	tcase_add_test(tc, every_key_and_override);
	tcase_add_test(tc, values);
	tcase_add_test(tc, module_and_service_timeouts);
	tcase_add_test(tc, bad_values);
	tcase_add_test(tc, indented_lines_are_not_continuations);
	tcase_add_test(tc, long_lines);
	tcase_add_test(tc, every_error_in_one_run);
	tcase_add_test(tc, untrusted_files_are_refused);
	tcase_add_test(tc, modeset_hold_key);
	tcase_add_test(tc, policy_load_failure_owns_nothing);
	tcase_add_test(tc, host_load_failure_owns_nothing);
	suite_add_tcase(s, tc);
	return fx_run_suite(s);
}
