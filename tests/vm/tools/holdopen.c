/* SPDX-License-Identifier: MIT */
/*
 * holdopen [--name COMM] [--ignore-term] FILE...: opens each FILE read-write
 * and holds them until SIGTERM, as nvidia-persistenced holds /dev/nvidiactl
 * and /dev/nvidia<N> (nvidia-persistenced.c opens both and sleeps in its main
 * loop) and a display manager's X server holds the card's framebuffer. With
 * --ignore-term it outlives SIGTERM: a unit that will not stop, until
 * systemd's TimeoutStopSec sends SIGKILL. The systemd guest's units run it.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int i = 1;

	for (; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--ignore-term"))
			signal(SIGTERM, SIG_IGN);
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			prctl(PR_SET_NAME, argv[++i], 0, 0, 0);
		else
			break;
	}
	if (i >= argc) {
		fprintf(stderr, "usage: holdopen [--name COMM] [--ignore-term] FILE...\n");
		return 2;
	}
	for (; i < argc; i++)
		if (open(argv[i], O_RDWR | O_CLOEXEC) < 0) {
			perror(argv[i]);
			return 1;
		}
	for (;;)
		pause();
}
