/* SPDX-License-Identifier: MIT */
#ifndef GH_CPULIST_H
#define GH_CPULIST_H

/*
 * The kernel's cpulist syntax (Documentation/admin-guide/cgroup-v2.rst,
 * bitmap_parselist): "0-3,8,10-11", ranges with ":used/group" strides
 * ("0-15:2/4"), blanks around items tolerated. Anything else is an error
 * naming the offending text.
 */

#include <sched.h>
#include <stddef.h>

#define GH_CPU_MAX CPU_SETSIZE

/* 0, or -EINVAL with *bad pointing at the offending text in s. */
int gh_cpulist_parse(const char *s, cpu_set_t *set, const char **bad);
/*
 * The same syntax, kept in the order written ("4,5,6,7", "7,6", "8-11"):
 * the i-th CPU for the i-th vCPU. Duplicates are an error. n_out is the count.
 */
int gh_cpulist_parse_ordered(const char *s, int *cpus, size_t max, size_t *n_out, const char **bad);
/* Compact form "0-3,8". 0 or -ENOSPC. */
int gh_cpulist_format(const cpu_set_t *set, char *buf, size_t size);

#endif
