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
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *vcpu(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
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
