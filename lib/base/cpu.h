/*
 * weft — the CPU count pools size themselves by (lib/base/cpu.c).
 */
#ifndef WEFT_BASE_CPU_H
#define WEFT_BASE_CPU_H

/* The CPUs this process may use: the affinity mask, bounded by the
 * tightest cgroup CPU quota from the process's cgroup up (v2 cpu.max, v1
 * cpu.cfs_quota_us), rounded up. At least 1. */
int weft__cpu_count(void);
/* The default valve of an elastic pool: how many threads this machine can
 * afford (memory and RLIMIT_NPROC), at most 4096. */
int weft__thread_valve_default(void);

#endif /* WEFT_BASE_CPU_H */
