/* SPDX-License-Identifier: MIT */
/*
 * Maps a device node and closes its fd, as a CUDA or NVML process may do with
 * /dev/nvidiaN:
 *   map-hold PATH
 * Prints "mapped" once only the mapping is left (no fd in /proc/<pid>/fd,
 * a line in /proc/<pid>/maps), then waits for a signal. The mapping keeps
 * the file, and so the driver's usage count, until the process exits.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	void *p;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: map-hold PATH\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("map-hold: open");
		return 1;
	}
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("map-hold: mmap");
		return 1;
	}
	close(fd);
	printf("mapped\n");
	fflush(stdout);
	for (;;)
		pause();
}
