/* SPDX-License-Identifier: MIT */
/*
 * fake-kvm [ARGS...]: a QEMU stand-in for the lifecycle scenarios. It only
 * lives: gpu-hook (lib/vms.c, as qemu-server's check_running) knows a VM's
 * QEMU by its pid file, a command name ending in "kvm" and "-pidfile PATH"
 * among its arguments, all of which this process shows.
 */
#include <unistd.h>

int main(void)
{
	for (;;)
		pause();
}
