// SPDX-License-Identifier: GPL-2.0
/*
 * Test stub of nvidia-modeset.ko: depends on nvidia, is depended on by
 * nvidia-drm, owns /dev/nvidia-modeset, and holds each GPU's usage count
 * for nvidia-drm as the real NVKMS does.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/mutex.h>

int nvidia_stub_ping(void);
int nvidia_stub_set_modeset_callbacks(void (*probe)(int), void (*remove)(int));
int nvidia_stub_dev_get(int minor);
void nvidia_stub_dev_put(int minor);
unsigned int nvidia_stub_gpu_mask(void);

static DEFINE_MUTEX(nvkms_lock);
/* nvidia-drm has its devices (nvKms->allocateDevice), and which GPUs they hold. */
static bool allocated;
static unsigned int held;

int nvidia_modeset_stub_ping(void)
{
	return nvidia_stub_ping();
}
EXPORT_SYMBOL(nvidia_modeset_stub_ping);

/*
 * nvidia-drm's nv_drm_dev_load() -> nvKms->allocateDevice() ->
 * nvkms_open_gpu() -> nvidia_dev_get(): every GPU on nvidia at nvidia-drm's
 * load gets a usage count that stays until nvidia-drm unloads.
 */
int nvkms_stub_allocate_devices(void)
{
	unsigned int mask;
	int minor;

	mutex_lock(&nvkms_lock);
	allocated = true;
	mask = nvidia_stub_gpu_mask();
	for (minor = 0; minor < 32; minor++)
		if ((mask & (1u << minor)) && !(held & (1u << minor)) && nvidia_stub_dev_get(minor) == 0)
			held |= 1u << minor;
	mutex_unlock(&nvkms_lock);
	return 0;
}
EXPORT_SYMBOL(nvkms_stub_allocate_devices);

/* nv_drm_dev_unload() -> nvKms->freeDevice() -> nvkms_close_gpu() -> nvidia_dev_put(). */
void nvkms_stub_free_devices(void)
{
	int minor;

	mutex_lock(&nvkms_lock);
	for (minor = 0; minor < 32; minor++)
		if (held & (1u << minor))
			nvidia_stub_dev_put(minor);
	held = 0;
	allocated = false;
	mutex_unlock(&nvkms_lock);
}
EXPORT_SYMBOL(nvkms_stub_free_devices);

/* The probe callback of nvidia_modeset_set_callbacks(): a GPU that comes back is opened again. */
static void nvkms_stub_probe(int minor)
{
	mutex_lock(&nvkms_lock);
	if (allocated && !(held & (1u << minor)) && nvidia_stub_dev_get(minor) == 0)
		held |= 1u << minor;
	mutex_unlock(&nvkms_lock);
}

/*
 * The remove callback, reached through nvidia_modeset_remove() from
 * nv_pci_remove() on drivers with per-GPU removal: NVKMS frees that GPU's
 * device, so its usage count no longer blocks the removal.
 */
static void nvkms_stub_remove(int minor)
{
	mutex_lock(&nvkms_lock);
	if (held & (1u << minor)) {
		nvidia_stub_dev_put(minor);
		held &= ~(1u << minor);
	}
	mutex_unlock(&nvkms_lock);
}

static const struct file_operations fops = { .owner = THIS_MODULE, .llseek = noop_llseek };
static struct miscdevice dev = { .minor = MISC_DYNAMIC_MINOR, .name = "nvidia-modeset", .fops = &fops };

static int __init nvm_init(void)
{
	int r = misc_register(&dev);

	if (r < 0)
		return r;
	return nvidia_stub_set_modeset_callbacks(nvkms_stub_probe, nvkms_stub_remove);
}

static void __exit nvm_exit(void)
{
	nvidia_stub_set_modeset_callbacks(NULL, NULL);
	misc_deregister(&dev);
}

module_init(nvm_init);
module_exit(nvm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-hook test stub of nvidia-modeset.ko");
