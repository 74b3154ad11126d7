/*
 * weft — the CPU count pools size themselves by (lib/base/cpu.c).
 */
#ifndef WEFT_BASE_CPU_H
#define WEFT_BASE_CPU_H

#include <sched.h>
#include <stddef.h>
#include <sys/resource.h>

/* The calling thread's affinity mask, whatever the kernel's CPU count (a
 * cpu_set_t holds 1024): CPU_ALLOC'ed, free it with CPU_FREE; *bytes is its
 * size for the CPU_*_S macros, *bits the CPUs it can name. NULL when out of
 * memory or refused. */
cpu_set_t *weft__cpu_mask_get(size_t *bytes, int *bits);

/* The CPUs this process may use: the calling thread's affinity mask, bounded by the
 * tightest cgroup CPU quota from the process's cgroup up (v2 cpu.max, v1
 * cpu.cfs_quota_us), rounded up. At least 1. */
int weft__cpu_count(void);
/* The default valve of an elastic pool: how many threads this machine can
 * afford (memory and RLIMIT_NPROC), at most 4096. */
int weft__thread_valve_default(void);
/* valve (>= 0) bounded by half of an RLIMIT_NPROC value (RLIM_INFINITY: no
 * bound): weft__thread_valve_default's second step, apart for the tests. */
long long weft__thread_valve_by_nproc(long long valve, rlim_t nproc);

#endif /* WEFT_BASE_CPU_H */
