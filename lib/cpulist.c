/* SPDX-License-Identifier: MIT */
#include "cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "util.h"

static const char *skip_blanks(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int number(const char **pp, unsigned *out)
{
	const char *p = *pp;
	unsigned long v = 0;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v >= GH_CPU_MAX)
			return -ERANGE;
		p++;
	}
	*out = (unsigned)v;
	*pp = p;
	return 0;
}

/* One item "a", "a-b" or "a-b:used/group" (bitmap_parselist). */
static int item(const char **pp, unsigned *a, unsigned *b, unsigned *used, unsigned *group)
{
	const char *p = skip_blanks(*pp);

	if (number(&p, a) < 0)
		return -EINVAL;
	*b = *a;
	*used = *group = 1;
	if (*p == '-') {
		p++;
		if (number(&p, b) < 0 || *b < *a)
			return -EINVAL;
		if (*p == ':') {
			p++;
			if (number(&p, used) < 0 || *p != '/')
				return -EINVAL;
			p++;
			if (number(&p, group) < 0 || !*used || !*group || *used > *group)
				return -EINVAL;
		}
	}
	*pp = skip_blanks(p);
	return 0;
}

typedef int (*cpu_fn)(void *data, unsigned cpu);

static int walk(const char *s, cpu_fn fn, void *data, const char **bad)
{
	const char *p = s;

	if (!*skip_blanks(p)) {
		*bad = s;
		return -EINVAL;
	}
	for (;;) {
		const char *start = skip_blanks(p);
		unsigned a, b, used, group;

		if (item(&p, &a, &b, &used, &group) < 0) {
			*bad = start;
			return -EINVAL;
		}
		for (unsigned c = a; c <= b; c++) {
			if ((c - a) % group < used && fn(data, c) < 0) {
				*bad = start;
				return -EINVAL;
			}
		}
		if (!*p)
			return 0;
		if (*p != ',') {
			*bad = p;
			return -EINVAL;
		}
		p++;
	}
}

static int add_set(void *data, unsigned cpu)
{
	CPU_SET(cpu, (cpu_set_t *)data);
	return 0;
}

int gh_cpulist_parse(const char *s, cpu_set_t *set, const char **bad)
{
	CPU_ZERO(set);
	return walk(s, add_set, set, bad);
}

struct ordered {
	int *cpus;
	size_t max, n;
	cpu_set_t seen;
};

static int add_ordered(void *data, unsigned cpu)
{
	struct ordered *o = data;

	if (o->n >= o->max || CPU_ISSET(cpu, &o->seen))
		return -EINVAL;
	CPU_SET(cpu, &o->seen);
	o->cpus[o->n++] = (int)cpu;
	return 0;
}

int gh_cpulist_parse_ordered(const char *s, int *cpus, size_t max, size_t *n_out, const char **bad)
{
	struct ordered o = { cpus, max, 0, { { 0 } } };
	int r;

	CPU_ZERO(&o.seen);
	r = walk(s, add_ordered, &o, bad);
	*n_out = r < 0 ? 0 : o.n;
	return r;
}

int gh_cpulist_format(const cpu_set_t *set, char *buf, size_t size)
{
	size_t off = 0;

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	for (int c = 0; c < GH_CPU_MAX; c++) {
		int e = c, r;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < GH_CPU_MAX && CPU_ISSET(e + 1, set))
			e++;
		if (e == c)
			r = gh_util_format(buf + off, size - off, "%s%d", off ? "," : "", c);
		else
			r = gh_util_format(buf + off, size - off, "%s%d-%d", off ? "," : "", c, e);
		if (r < 0)
			return -ENOSPC;
		off += strlen(buf + off);
		c = e;
	}
	return 0;
}
