/* SPDX-License-Identifier: MIT */
/*
 * holdopen [--name COMM] [--ignore-term | --unload-on-term MODULE] FILE...:
 * opens each FILE read-write and holds them until SIGTERM, as
 * nvidia-persistenced holds /dev/nvidiactl and /dev/nvidia<N>
 * (nvidia-persistenced.c opens both and sleeps in its main loop) and a
 * display manager's X server holds the card's framebuffer. With
 * --ignore-term it outlives SIGTERM: a unit that will not stop, until
 * systemd's TimeoutStopSec sends SIGKILL. The systemd guest's units run it.
 * With --unload-on-term, SIGTERM makes it close the files and unload MODULE
 * (delete_module, as rmmod) before it exits: a module gone between a plan
 * that counted it and the step that unloads it. It prints "unloaded MODULE"
 * or the error.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static volatile sig_atomic_t termed;

static void on_term(int sig)
{
	(void)sig;
	termed = 1;
}

int main(int argc, char **argv)
{
	const char *unload = NULL;
	sigset_t old;
	int fds[16], n = 0, i = 1;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--ignore-term"))
			signal(SIGTERM, SIG_IGN);
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			prctl(PR_SET_NAME, argv[++i], 0, 0, 0);
		else if (!strcmp(argv[i], "--unload-on-term") && i + 1 < argc)
			unload = argv[++i];
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: holdopen [--name COMM] [--ignore-term | --unload-on-term MODULE] FILE...\n");
		return 2;
	}
	/* Unloading a module is for the real-kernel guest only, never this machine's kernel. */
	if (unload && access("/gpu-hook-test-guest", F_OK) != 0) {
		fprintf(stderr, "holdopen: --unload-on-term is a tests/vm guest tool (it unloads a kernel module)\n");
		return 2;
	}
	if (unload) {
		struct sigaction sa = { .sa_handler = on_term };
		sigset_t term;

		/* Blocked until sigsuspend() waits for it: a SIGTERM never falls between the check and the wait. */
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigprocmask(SIG_BLOCK, &term, &old);
		sigaction(SIGTERM, &sa, NULL);
	}
	if (argc - i > 16) {
		fprintf(stderr, "holdopen: at most 16 files\n");
		return 2;
	}
	for (; i < argc; i++)
		if ((fds[n++] = open(argv[i], O_RDWR | O_CLOEXEC)) < 0) {
			perror(argv[i]);
			return 1;
		}
	printf("holding\n");
	fflush(stdout);
	while (!termed)
		if (unload)
			sigsuspend(&old);
		else
			pause();
	while (n > 0)
		close(fds[--n]);
	if (syscall(SYS_delete_module, unload, O_NONBLOCK) < 0)
		printf("cannot unload %s: %s\n", unload, strerror(errno));
	else
		printf("unloaded %s\n", unload);
	fflush(stdout);
	return 0;
}
