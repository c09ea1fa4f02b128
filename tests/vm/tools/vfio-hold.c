/* SPDX-License-Identifier: MIT */
/*
 * Holds a device open through VFIO, as a QEMU that has not exited does:
 *   vfio-hold GROUP ADDR [--hide]
 * Prints "holding" once the device fd is open, then waits for a signal.
 * --hide closes the group fd: the device fd keeps the group in use, but
 * /proc/<pid>/fd no longer names /dev/vfio/GROUP, so no holder scan sees it
 * and vfio-pci's remove() blocks until this process exits.
 */
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int container, group, dev;

	if (argc < 3 || snprintf(path, sizeof(path), "/dev/vfio/%s", argv[1]) >= (int)sizeof(path)) {
		fprintf(stderr, "usage: vfio-hold GROUP ADDR [--hide]\n");
		return 2;
	}
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	group = open(path, O_RDWR | O_CLOEXEC);
	if (container < 0 || group < 0) {
		perror("vfio-hold: open");
		return 1;
	}
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st) < 0 || !(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		fprintf(stderr, "vfio-hold: group %s is not viable\n", argv[1]);
		return 1;
	}
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0 ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		perror("vfio-hold: container");
		return 1;
	}
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[2]);
	if (dev < 0) {
		perror("vfio-hold: VFIO_GROUP_GET_DEVICE_FD");
		return 1;
	}
	if (argc > 3 && !strcmp(argv[3], "--hide"))
		close(group);
	printf("holding\n");
	fflush(stdout);
	pause();
	return 0;
}
