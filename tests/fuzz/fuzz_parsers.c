/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer targets for every parser that reads what admins edit by hand or
 * what gpu-hook left behind. One source, one target per GH_FUZZ_TARGET:
 * vmconf, propstr (hostpci property strings), mapping, policy, cpulist,
 * journal. Each must never crash, hang or leak, whatever the bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpulist.h"
#include "journal.h"
#include "mapping.h"
#include "policy.h"
#include "propstr.h"
#include "vmconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct gh_ctx *ctx(void)
{
	static struct gh_ctx *c;

	if (!c && gh_ctx_new("/", &c) < 0)
		abort();
	return c;
}

static int count(void *d, const char *k, const char *v)
{
	(void)k;
	(void)v;
	(*(int *)d)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	FILE *f;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	f = fmemopen(text, size ? size : 1, "r");
	if (!f) {
		free(text);
		return 0;
	}
#if GH_FUZZ_TARGET == 1
	{
		struct gh_vmconf vm;

		gh_vmconf_parse(ctx(), f, "fuzz.conf", &vm);
	}
#elif GH_FUZZ_TARGET == 2
	{
		int n = 0;

		gh_propstr_parse(text, "host", count, &n);
	}
#elif GH_FUZZ_TARGET == 3
	{
		struct gh_mapping_file mf;

		if (gh_mapping_parse(ctx(), f, "pci.cfg", &mf) == 0)
			gh_mapping_free(&mf);
	}
#elif GH_FUZZ_TARGET == 4
	{
		struct gh_policy p;

		if (gh_policy_init(&p) == 0) {
			gh_policy_parse(ctx(), f, "fuzz.ini", &p);
			gh_policy_free(&p);
		}
	}
#elif GH_FUZZ_TARGET == 5
	{
		cpu_set_t set;
		int cpus[64];
		size_t n;
		const char *bad;

		gh_cpulist_parse(text, &set, &bad);
		gh_cpulist_parse_ordered(text, cpus, 64, &n, &bad);
	}
#elif GH_FUZZ_TARGET == 6
	{
		struct gh_journal j;

		/* A journal that parses names only real actions on real-looking targets. */
		if (gh_journal_parse(ctx(), text, "fuzz.json", &j) == 0) {
			for (unsigned i = 0; i < j.n_steps; i++)
				if (j.steps[i].op.action >= GH_ACT_MAX)
					abort();
			gh_journal_free(&j);
		}
	}
#endif
	fclose(f);
	free(text);
	return 0;
}
