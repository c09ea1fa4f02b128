/* SPDX-License-Identifier: MIT */
/*
 * fake-kvm [ARGS...]: a QEMU stand-in for the lifecycle scenarios. It only
 * lives: gpu-hook (lib/vms.c, as qemu-server's check_running) knows a VM's
 * QEMU by its pid file, a command name ending in "kvm" and "-pidfile PATH"
 * among its arguments, all of which this process shows.
 * With "-smp N" it also starts N threads named "CPU i/KVM", as QEMU with
 * debug-threads=on names its vCPU threads (qemu_thread_create in
 * mttcg/kvm_start_vcpu_thread), for post-start pinning; then, as QEMU does,
 * it writes its pid to the -pidfile once its vCPUs exist.
 * Each "-device vfio-pci,host=ADDR,..." opens ADDR through VFIO (all groups
 * in one container, as QEMU's vfio_get_group/vfio_connect_container) and
 * enables one MSI vector (INTx without MSI) with an eventfd, as QEMU does
 * when the guest driver enables MSI (vfio_msi_enable ->
 * VFIO_DEVICE_SET_IRQS): the host kernel then has an IRQ named
 * "vfio-msi[0](ADDR)" (vfio_msi_set_vector_signal) for as long as this runs.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <libgen.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void *vcpu(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static int container = -1;
static struct {
	char path[128];
	int fd;
} groups[8];
static int n_groups;

static int vfio_irq(int dev, unsigned index)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = index };
	char buf[sizeof(struct vfio_irq_set) + sizeof(int)];
	struct vfio_irq_set *set = (struct vfio_irq_set *)buf;
	int efd;

	if (ioctl(dev, VFIO_DEVICE_GET_IRQ_INFO, &info) < 0 || !info.count)
		return -1;
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0)
		return -1;
	set->argsz = sizeof(buf);
	set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	set->index = index;
	set->start = 0;
	set->count = 1;
	memcpy(set->data, &efd, sizeof(int));
	return ioctl(dev, VFIO_DEVICE_SET_IRQS, set);
}

/* "vfio-pci,host=0000:01:00.0,id=hostpci0.0,...": the device open, its interrupt enabled. */
static int vfio_device(const char *spec)
{
	const char *h = strstr(spec, "host=");
	char addr[32], link[128], target[256];
	ssize_t n;
	int group, dev;

	if (strncmp(spec, "vfio-pci,", 9) || !h)
		return 0;
	snprintf(addr, sizeof(addr), "%.*s", (int)strcspn(h + 5, ","), h + 5);
	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", addr);
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	snprintf(link, sizeof(link), "/dev/vfio/%s", basename(target));
	if (container < 0 && (container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC)) < 0)
		return -1;
	/* A group opens once (vfio_group_fops_open: EBUSY): its other functions reuse the fd. */
	group = -1;
	for (int i = 0; i < n_groups; i++)
		if (!strcmp(groups[i].path, link))
			group = groups[i].fd;
	if (group < 0) {
		if (n_groups == 8 || (group = open(link, O_RDWR | O_CLOEXEC)) < 0)
			return -1;
		snprintf(groups[n_groups].path, sizeof(groups[n_groups].path), "%s", link);
		groups[n_groups++].fd = group;
		if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
			return -1;
		/* The first group sets the IOMMU model; later ones join it (EBUSY then). */
		ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU);
	}
	dev = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, addr);
	if (dev < 0)
		return -1;
	if (vfio_irq(dev, VFIO_PCI_MSI_IRQ_INDEX) < 0 && vfio_irq(dev, VFIO_PCI_INTX_IRQ_INDEX) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *pidfile = NULL;
	long smp = 0;

	for (int i = 1; i + 1 < argc; i++) {
		if (!strcmp(argv[i], "-pidfile"))
			pidfile = argv[i + 1];
		else if (!strcmp(argv[i], "-smp"))
			smp = strtol(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "-device") && vfio_device(argv[i + 1]) < 0) {
			fprintf(stderr, "fake-kvm: -device %s: %m\n", argv[i + 1]);
			return 1;
		}
	}
	for (long i = 0; i < smp && i < 64; i++) {
		pthread_t t;
		char name[16];

		if (pthread_create(&t, NULL, vcpu, NULL))
			return 1;
		snprintf(name, sizeof(name), "CPU %ld/KVM", i);
		pthread_setname_np(t, name);
	}
	if (smp > 0 && pidfile) {
		FILE *f = fopen(pidfile, "we");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f))
			return 1;
	}
	for (;;)
		pause();
}
