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
 * memory (errno ENOMEM) or refused (errno: sched_getaffinity's). */
cpu_set_t *weft__cpu_mask_get(size_t *bytes, int *bits);

/* The CPUs this process may use: the calling thread's affinity mask, bounded by the
 * tightest cgroup CPU quota from the process's cgroup up (v2 cpu.max, v1
 * cpu.cfs_quota_us), rounded up. At least 1. */
int weft__cpu_count(void);
/* The default valve of an elastic pool: how many threads this process can
 * afford (the memory weft__memory_available finds, and RLIMIT_NPROC), at
 * most 4096, at least 1. */
int weft__thread_valve_default(void);
/* weft__thread_valve_default from the files and the RLIMIT_NPROC value
 * given (the real ones: /proc/meminfo, /proc/self/cgroup,
 * /proc/self/mountinfo, getrlimit's), so that a test can pass fakes. */
int weft__thread_valve_of(const char *meminfo, const char *proc_cgroup, const char *mountinfo,
                          rlim_t nproc);
/* The memory this process may still use, in bytes: MemAvailable from
 * meminfo (/proc/meminfo), bounded by the least headroom of its cgroups
 * (weft__cgroup_memory_headroom, given proc_cgroup and mountinfo); the
 * paths are the tests' to choose. ULLONG_MAX when neither can be read. */
unsigned long long weft__memory_available(const char *meminfo, const char *proc_cgroup,
                                          const char *mountinfo);
/* valve (>= 0) bounded by a quarter of avail bytes at 80 KiB a thread:
 * weft__thread_valve_default's first step, apart for the tests. */
long long weft__thread_valve_by_memory(long long valve, unsigned long long avail);
/* valve (>= 0) bounded by half of an RLIMIT_NPROC value (RLIM_INFINITY: no
 * bound): weft__thread_valve_default's second step, apart for the tests. */
long long weft__thread_valve_by_nproc(long long valve, rlim_t nproc);

#endif /* WEFT_BASE_CPU_H */
