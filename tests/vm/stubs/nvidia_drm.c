// SPDX-License-Identifier: GPL-2.0
/*
 * Test stub of nvidia-drm.ko with modeset=1 fbdev=1: the firmware
 * framebuffer is kicked out for good (real nvidia-drm does it through the
 * aperture helpers) and a framebuffer "nvidia-drmdrmfb" whose parent is the
 * GPU takes the console. Unloading it leaves the dummy console. With
 * modeset=1 it holds a usage count on every GPU through nvidia-modeset
 * from its load to its unload (nv_drm_dev_load -> nvkms_open_gpu ->
 * nvidia_dev_get), which is what blocks a per-card unbind on older drivers.
 */
#include <linux/delay.h>
#include <linux/aperture.h>
#include <linux/fb.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/vmalloc.h>
#include <linux/version.h>

int nvidia_modeset_stub_ping(void);
int nvkms_stub_allocate_devices(void);
void nvkms_stub_free_devices(void);

static bool modeset = true;
module_param(modeset, bool, 0444);
/* 0: no framebuffer of its own; the firmware framebuffer keeps the console. */
static bool fbdev = true;
module_param(fbdev, bool, 0444);
/*
 * Milliseconds module init sleeps before the GPU comes up: a real load with
 * modeset=1 boots each GPU's GSP firmware (NVIDIA documents 1-3 s per GPU).
 */
static unsigned int load_delay_ms;
module_param(load_delay_ms, uint, 0444);

#define W 640
#define H 480

static struct fb_info *info;
/* fbcon draws text through the pseudo palette of a truecolor framebuffer. */
static u32 palette[16];

static int stub_mmap(struct fb_info *fbi, struct vm_area_struct *vma)
{
	return remap_vmalloc_range(vma, fbi->screen_buffer, vma->vm_pgoff);
}

/* Real DRM fbdev sets the owner to the DRM helpers, so fbcon does not pin nvidia-drm. */
static const struct fb_ops stub_fbops = {
	.owner = NULL,
	.fb_read = fb_sys_read,
	.fb_write = fb_sys_write,
	.fb_fillrect = sys_fillrect,
	.fb_copyarea = sys_copyarea,
	.fb_imageblit = sys_imageblit,
	.fb_mmap = stub_mmap,
};

static struct pci_dev *find_gpu(void)
{
	struct pci_dev *pdev = NULL;

	while ((pdev = pci_get_device(0x1234, 0x11e8, pdev)))
		if (pdev->dev.driver && !strcmp(pdev->dev.driver->name, "nvidia"))
			return pdev;
	return NULL;
}

/* nv_drm_dev_load() logs this for each GPU it brings up (NV_DRM_DEV_LOG_INFO). */
static void log_loads(void)
{
	struct pci_dev *pdev = NULL;

	while ((pdev = pci_get_device(0x1234, 0x11e8, pdev)))
		if (pdev->dev.driver && !strcmp(pdev->dev.driver->name, "nvidia"))
			pr_info("[nvidia-drm] [GPU ID 0x%08x] Loading driver\n",
				(pci_domain_nr(pdev->bus) << 16) | (pdev->bus->number << 8) | PCI_SLOT(pdev->devfn));
}

static int __init drm_init(void)
{
	struct pci_dev *gpu;
	int r;

	nvidia_modeset_stub_ping();
	if (load_delay_ms)
		msleep(load_delay_ms);
	if (!modeset)
		return 0;
	nvkms_stub_allocate_devices();
	log_loads();
	if (!fbdev)
		return 0;
	gpu = find_gpu();
	if (!gpu)
		return 0;
	/* Whole range: under QEMU the firmware framebuffer lives in std-vga's BAR, not the GPU's. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	aperture_remove_conflicting_devices(0, (resource_size_t)-1, "nvidia-drm");
#else
	aperture_remove_conflicting_devices(0, (resource_size_t)-1, true, "nvidia-drm");
#endif
	info = framebuffer_alloc(0, &gpu->dev);
	pci_dev_put(gpu);
	if (!info) {
		nvkms_stub_free_devices();
		return -ENOMEM;
	}
	info->screen_buffer = vmalloc_user(W * H * 4);
	if (!info->screen_buffer) {
		framebuffer_release(info);
		info = NULL;
		nvkms_stub_free_devices();
		return -ENOMEM;
	}
	strscpy(info->fix.id, "nvidia-drmdrmfb", sizeof(info->fix.id));
	info->fix.type = FB_TYPE_PACKED_PIXELS;
	info->fix.visual = FB_VISUAL_TRUECOLOR;
	info->fix.line_length = W * 4;
	info->fix.smem_len = W * H * 4;
	info->var.xres = info->var.xres_virtual = W;
	info->var.yres = info->var.yres_virtual = H;
	info->var.bits_per_pixel = 32;
	info->var.red = (struct fb_bitfield){ 16, 8, 0 };
	info->var.green = (struct fb_bitfield){ 8, 8, 0 };
	info->var.blue = (struct fb_bitfield){ 0, 8, 0 };
	info->var.activate = FB_ACTIVATE_NOW;
	info->fbops = &stub_fbops;
	info->pseudo_palette = palette;
	info->flags = FBINFO_VIRTFB;
	r = register_framebuffer(info);
	if (r < 0) {
		vfree(info->screen_buffer);
		framebuffer_release(info);
		info = NULL;
		nvkms_stub_free_devices();
	}
	return r;
}

static void __exit drm_exit(void)
{
	if (info) {
		unregister_framebuffer(info);
		vfree(info->screen_buffer);
		framebuffer_release(info);
	}
	if (modeset)
		nvkms_stub_free_devices();
}

module_init(drm_init);
module_exit(drm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("gpu-hook test stub of nvidia-drm.ko");
