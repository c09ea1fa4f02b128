// SPDX-License-Identifier: GPL-2.0
/* Test stub of nvidia-uvm.ko: depends on nvidia, owns /dev/nvidia-uvm. */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

int nvidia_stub_ping(void);

static const struct file_operations fops = { .owner = THIS_MODULE, .llseek = noop_llseek };
static struct miscdevice dev = { .minor = MISC_DYNAMIC_MINOR, .name = "nvidia-uvm", .fops = &fops };

static int __init uvm_init(void)
{
	nvidia_stub_ping();
	return misc_register(&dev);
}

static void __exit uvm_exit(void)
{
	misc_deregister(&dev);
}

module_init(uvm_init);
module_exit(uvm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-hook test stub of nvidia-uvm.ko");
