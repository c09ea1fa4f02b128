// SPDX-License-Identifier: GPL-2.0
/* Test stub of nvidia-modeset.ko: depends on nvidia, is depended on by nvidia-drm, owns /dev/nvidia-modeset. */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

int nvidia_stub_ping(void);

int nvidia_modeset_stub_ping(void)
{
	return nvidia_stub_ping();
}
EXPORT_SYMBOL(nvidia_modeset_stub_ping);

static const struct file_operations fops = { .owner = THIS_MODULE, .llseek = noop_llseek };
static struct miscdevice dev = { .minor = MISC_DYNAMIC_MINOR, .name = "nvidia-modeset", .fops = &fops };

static int __init nvm_init(void)
{
	nvidia_stub_ping();
	return misc_register(&dev);
}

static void __exit nvm_exit(void)
{
	misc_deregister(&dev);
}

module_init(nvm_init);
module_exit(nvm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-hook test stub of nvidia-modeset.ko");
