// SPDX-License-Identifier: GPL-2.0
/*
 * Test stub of NVIDIA's nvidia.ko for gpu-hook's real-kernel tests. It binds
 * QEMU's "edu" device (1234:11e8) as the GPU, function 0 only, with the
 * driver name, device nodes and /proc files the real driver has.
 */
#include <linux/delay.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/version.h>

#define NV_MAJOR 195
#define NV_CTL_MINOR 255
#define NV_MAX_GPUS 8

/* remove() sleeps this long, uninterruptibly: nv_pci_remove() waits while the GPU is in use. */
static unsigned int remove_delay_ms;
module_param(remove_delay_ms, uint, 0644);
/* probe() fails with -EIO: a GPU that does not come up again after a handoff. */
static bool fail_probe;
module_param(fail_probe, bool, 0644);

static struct class *nv_class;
static struct proc_dir_entry *proc_gpus;
static struct pci_dev *gpus[NV_MAX_GPUS];
static struct proc_dir_entry *gpu_dirs[NV_MAX_GPUS];

int nvidia_stub_ping(void)
{
	return 0;
}
EXPORT_SYMBOL(nvidia_stub_ping);

static int nv_open(struct inode *inode, struct file *file)
{
	return 0;
}

/* .owner pins the module while a node is open, as the real one does. */
static const struct file_operations nv_fops = {
	.owner = THIS_MODULE,
	.open = nv_open,
	.llseek = noop_llseek,
};

static int information_show(struct seq_file *m, void *v)
{
	struct pci_dev *pdev = m->private;
	int minor;

	for (minor = 0; minor < NV_MAX_GPUS; minor++)
		if (gpus[minor] == pdev)
			break;
	seq_printf(m, "Model: \t\t Stub GPU (QEMU edu)\nBus Type: \t PCIe\nBus Location: \t %s\nDevice Minor: \t %d\n",
		   pci_name(pdev), minor);
	return 0;
}

static int nv_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	int minor;

	if (PCI_FUNC(pdev->devfn) != 0)
		return -ENODEV;
	if (fail_probe)
		return -EIO;
	for (minor = 0; minor < NV_MAX_GPUS && gpus[minor]; minor++)
		;
	if (minor == NV_MAX_GPUS)
		return -ENOSPC;
	gpu_dirs[minor] = proc_mkdir(pci_name(pdev), proc_gpus);
	if (!gpu_dirs[minor])
		return -ENOMEM;
	proc_create_single_data("information", 0444, gpu_dirs[minor], information_show, pdev);
	device_create(nv_class, &pdev->dev, MKDEV(NV_MAJOR, minor), NULL, "nvidia%d", minor);
	gpus[minor] = pdev;
	return 0;
}

static void nv_remove(struct pci_dev *pdev)
{
	int minor;

	if (remove_delay_ms)
		msleep(remove_delay_ms);
	for (minor = 0; minor < NV_MAX_GPUS; minor++) {
		if (gpus[minor] != pdev)
			continue;
		device_destroy(nv_class, MKDEV(NV_MAJOR, minor));
		proc_remove(gpu_dirs[minor]);
		gpus[minor] = NULL;
	}
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
	int r = register_chrdev(NV_MAJOR, "nvidia-frontend", &nv_fops);

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
