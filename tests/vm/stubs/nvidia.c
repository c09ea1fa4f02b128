// SPDX-License-Identifier: GPL-2.0
/*
 * Test stub of NVIDIA's nvidia.ko for gpu-hook's real-kernel tests. It binds
 * QEMU's "edu" device (1234:11e8) as the GPU, function 0 only, with the
 * driver name, device nodes and /proc files the real driver has, and the
 * per-GPU usage count that makes the real remove() wait.
 */
#include <linux/atomic.h>
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/version.h>

#define NV_MAJOR 195
#define NV_CTL_MINOR 255
#define NV_MAX_GPUS 8

/* remove() sleeps this long first, uninterruptibly: a remove() that takes its time for any reason. */
static unsigned int remove_delay_ms;
module_param(remove_delay_ms, uint, 0644);
/* probe() fails with -EIO: a GPU that does not come up again after a handoff. */
static bool fail_probe;
module_param(fail_probe, bool, 0644);
/*
 * The driver version, shown in /proc/driver/nvidia/version. It decides
 * whether remove() asks nvidia-modeset to let go of the GPU first (per-GPU
 * removal: 580.94.06 and later, except 580.95.05).
 */
static char *nv_version = "580.105.08";
module_param(nv_version, charp, 0444);

/* One GPU, as nv_linux_state_t keeps it: usage_count is what nv_pci_remove() waits on. */
struct nv_gpu {
	struct pci_dev *pdev;
	struct proc_dir_entry *dir;
	atomic_t usage;
	bool removing;
};

static struct class *nv_class;
static struct proc_dir_entry *proc_gpus;
static struct nv_gpu gpus[NV_MAX_GPUS];
/* LOCK_NV_LINUX_DEVICES(): the GPU table, against opens and probe/remove. */
static DEFINE_MUTEX(nv_devices_lock);
static bool per_gpu_removal;

/* nvidia_modeset_set_callbacks() (nv.c): what nvidia-modeset registers for probe and remove. */
static void (*modeset_probe_cb)(int minor);
static void (*modeset_remove_cb)(int minor);

int nvidia_stub_ping(void)
{
	return 0;
}
EXPORT_SYMBOL(nvidia_stub_ping);

int nvidia_stub_set_modeset_callbacks(void (*probe)(int), void (*remove)(int))
{
	mutex_lock(&nv_devices_lock);
	modeset_probe_cb = probe;
	modeset_remove_cb = remove;
	mutex_unlock(&nv_devices_lock);
	return 0;
}
EXPORT_SYMBOL(nvidia_stub_set_modeset_callbacks);

/*
 * nvidia_dev_get() / nvidia_dev_put() (nv.c), which nvidia-modeset's
 * nvkms_open_gpu() / nvkms_close_gpu() call: a kernel client's reference
 * counts in the GPU's usage count like an open of /dev/nvidiaN.
 */
int nvidia_stub_dev_get(int minor)
{
	int r = -ENODEV;

	if (minor < 0 || minor >= NV_MAX_GPUS)
		return -EINVAL;
	mutex_lock(&nv_devices_lock);
	if (gpus[minor].pdev && !gpus[minor].removing) {
		atomic_inc(&gpus[minor].usage);
		r = 0;
	}
	mutex_unlock(&nv_devices_lock);
	return r;
}
EXPORT_SYMBOL(nvidia_stub_dev_get);

void nvidia_stub_dev_put(int minor)
{
	if (minor >= 0 && minor < NV_MAX_GPUS)
		atomic_dec(&gpus[minor].usage);
}
EXPORT_SYMBOL(nvidia_stub_dev_put);

/* Minors of the GPUs bound now, as a bit mask: nvidia-drm's load opens each of them. */
unsigned int nvidia_stub_gpu_mask(void)
{
	unsigned int mask = 0;
	int minor;

	mutex_lock(&nv_devices_lock);
	for (minor = 0; minor < NV_MAX_GPUS; minor++)
		if (gpus[minor].pdev && !gpus[minor].removing)
			mask |= 1u << minor;
	mutex_unlock(&nv_devices_lock);
	return mask;
}
EXPORT_SYMBOL(nvidia_stub_gpu_mask);

/* "580.94.06+ except 580.95.05, and 580.105.08+": the releases whose nv_pci_remove() calls nvidia_modeset_remove(). */
static bool version_removes_per_gpu(const char *v)
{
	unsigned int a, b, c;
	unsigned long long n;

	if (!v || sscanf(v, "%u.%u.%u", &a, &b, &c) != 3)
		return false;
	n = ((unsigned long long)a << 32) | ((unsigned long long)b << 16) | c;
	if (n == ((580ULL << 32) | (95ULL << 16) | 5))
		return false;
	return n >= ((580ULL << 32) | (94ULL << 16) | 6);
}

/*
 * nvidia_open() -> nv_open_device(): every open of /dev/nvidiaN takes the
 * GPU's usage count; /dev/nvidiactl takes none. The file stays referenced
 * by each of its mmaps, so the count drops only at the last close after the
 * last munmap, as in the real driver (nvidia_close() runs on the final fput).
 */
static int nv_open(struct inode *inode, struct file *file)
{
	unsigned int minor = iminor(inode);
	int r = 0;

	file->private_data = NULL;
	if (minor == NV_CTL_MINOR)
		return 0;
	if (minor >= NV_MAX_GPUS)
		return -ENODEV;
	mutex_lock(&nv_devices_lock);
	/* NV_FLAG_PCI_REMOVE_IN_PROGRESS: a GPU on its way out takes no new clients. */
	if (!gpus[minor].pdev || gpus[minor].removing) {
		r = -ENODEV;
	} else {
		atomic_inc(&gpus[minor].usage);
		file->private_data = &gpus[minor];
	}
	mutex_unlock(&nv_devices_lock);
	return r;
}

static int nv_release(struct inode *inode, struct file *file)
{
	struct nv_gpu *gpu = file->private_data;

	if (gpu)
		atomic_dec(&gpu->usage);
	return 0;
}

static vm_fault_t nv_fault(struct vm_fault *vmf)
{
	return VM_FAULT_SIGBUS;
}

/* A mapping with no pages: enough to keep the file, and so the usage count, alive. */
static const struct vm_operations_struct nv_vm_ops = {
	.fault = nv_fault,
};

static int nv_mmap(struct file *file, struct vm_area_struct *vma)
{
	if (!file->private_data)
		return -EINVAL;
	vma->vm_ops = &nv_vm_ops;
	return 0;
}

/* .owner pins the module while a node is open, as the real one does. */
static const struct file_operations nv_fops = {
	.owner = THIS_MODULE,
	.open = nv_open,
	.release = nv_release,
	.mmap = nv_mmap,
	.llseek = noop_llseek,
};

static int information_show(struct seq_file *m, void *v)
{
	struct pci_dev *pdev = m->private;
	int minor;

	for (minor = 0; minor < NV_MAX_GPUS; minor++)
		if (gpus[minor].pdev == pdev)
			break;
	seq_printf(m, "Model: \t\t Stub GPU (QEMU edu)\nBus Type: \t PCIe\nBus Location: \t %s\nDevice Minor: \t %d\n",
		   pci_name(pdev), minor);
	return 0;
}

/* nv-procfs.c nv_procfs_read_version(): the first line is what tools parse. */
static int version_show(struct seq_file *m, void *v)
{
	seq_printf(m, "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  %s  Release Build  (gpu-hook-stub@qemu)  Thu Jan  1 00:00:00 UTC 2026\n"
		      "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14+deb12u1) \n",
		   nv_version);
	return 0;
}

static int nv_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int minor;

	if (PCI_FUNC(pdev->devfn) != 0)
		return -ENODEV;
	if (fail_probe)
		return -EIO;
	mutex_lock(&nv_devices_lock);
	for (minor = 0; minor < NV_MAX_GPUS && gpus[minor].pdev; minor++)
		;
	if (minor == NV_MAX_GPUS) {
		mutex_unlock(&nv_devices_lock);
		return -ENOSPC;
	}
	gpus[minor].dir = proc_mkdir(pci_name(pdev), proc_gpus);
	if (!gpus[minor].dir) {
		mutex_unlock(&nv_devices_lock);
		return -ENOMEM;
	}
	proc_create_single_data("information", 0444, gpus[minor].dir, information_show, pdev);
	device_create(nv_class, &pdev->dev, MKDEV(NV_MAJOR, minor), NULL, "nvidia%d", minor);
	atomic_set(&gpus[minor].usage, 0);
	gpus[minor].removing = false;
	gpus[minor].pdev = pdev;
	mutex_unlock(&nv_devices_lock);
	/* nvidia_modeset_probe(): a GPU that comes back gets its modeset device again. */
	if (per_gpu_removal && modeset_probe_cb)
		modeset_probe_cb(minor);
	return 0;
}

/*
 * nv-pci.c nv_pci_remove(): with per-GPU removal it first calls
 * nvidia_modeset_remove(), so nvidia-modeset (for nvidia-drm) lets go of
 * this GPU; older drivers do not. Then, while the GPU's usage count is not
 * zero, it logs "Attempting to remove device ... with non-zero usage count!"
 * and loops on os_delay(500), forever, with no signal able to end it. The
 * real driver logs once; this one repeats every 30 s so a long wait shows.
 */
static void nv_remove(struct pci_dev *pdev)
{
	unsigned int waited = 0;
	int minor;

	if (remove_delay_ms)
		msleep(remove_delay_ms);
	for (minor = 0; minor < NV_MAX_GPUS; minor++)
		if (gpus[minor].pdev == pdev)
			break;
	if (minor == NV_MAX_GPUS)
		return;
	mutex_lock(&nv_devices_lock);
	gpus[minor].removing = true;
	mutex_unlock(&nv_devices_lock);
	if (per_gpu_removal && modeset_remove_cb)
		modeset_remove_cb(minor);
	while (atomic_read(&gpus[minor].usage) != 0) {
		if (waited % 60 == 0)
			pr_err("NVRM: Attempting to remove device %s with non-zero usage count!\n", pci_name(pdev));
		msleep(500);
		waited++;
	}
	mutex_lock(&nv_devices_lock);
	device_destroy(nv_class, MKDEV(NV_MAJOR, minor));
	proc_remove(gpus[minor].dir);
	gpus[minor].dir = NULL;
	gpus[minor].pdev = NULL;
	gpus[minor].removing = false;
	mutex_unlock(&nv_devices_lock);
}

static const struct pci_device_id nv_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ 0 },
};
MODULE_DEVICE_TABLE(pci, nv_ids);

static struct pci_driver nv_driver = {
	.name = "nvidia",
	.id_table = nv_ids,
	.probe = nv_probe,
	.remove = nv_remove,
};

static int __init nv_init(void)
{
	int r;

	per_gpu_removal = version_removes_per_gpu(nv_version);
	r = register_chrdev(NV_MAJOR, "nvidia-frontend", &nv_fops);
	if (r < 0)
		return r;
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	nv_class = class_create("nvidia");
#else
	nv_class = class_create(THIS_MODULE, "nvidia");
#endif
	if (IS_ERR(nv_class)) {
		unregister_chrdev(NV_MAJOR, "nvidia-frontend");
		return PTR_ERR(nv_class);
	}
	device_create(nv_class, NULL, MKDEV(NV_MAJOR, NV_CTL_MINOR), NULL, "nvidiactl");
	proc_mkdir("driver/nvidia", NULL);
	proc_gpus = proc_mkdir("driver/nvidia/gpus", NULL);
	proc_create_single("driver/nvidia/version", 0444, NULL, version_show);
	r = pci_register_driver(&nv_driver);
	if (r < 0) {
		remove_proc_subtree("driver/nvidia", NULL);
		device_destroy(nv_class, MKDEV(NV_MAJOR, NV_CTL_MINOR));
		class_destroy(nv_class);
		unregister_chrdev(NV_MAJOR, "nvidia-frontend");
	}
	return r;
}

static void __exit nv_exit(void)
{
	pci_unregister_driver(&nv_driver);
	remove_proc_subtree("driver/nvidia", NULL);
	device_destroy(nv_class, MKDEV(NV_MAJOR, NV_CTL_MINOR));
	class_destroy(nv_class);
	unregister_chrdev(NV_MAJOR, "nvidia-frontend");
}

module_init(nv_init);
module_exit(nv_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-hook test stub of nvidia.ko");
