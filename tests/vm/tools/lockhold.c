/* SPDX-License-Identifier: MIT */
/*
 * lockhold FILE: takes an exclusive flock on FILE (created for append, as
 * pve-common's lock_file_full opens a config lock), prints "locked" and holds
 * it until killed. The guest's busybox has no flock applet; the watcher
 * scenarios play qemu-server's vm_start and qm cleanup with this.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: lockhold FILE\n");
		return 2;
	}
	fd = open(argv[1], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		perror(argv[1]);
		return 1;
	}
	printf("locked\n");
	fflush(stdout);
	for (;;)
		pause();
}
