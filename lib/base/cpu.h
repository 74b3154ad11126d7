/*
 * weft — the CPU count pools size themselves by (lib/base/cpu.c).
 */
#ifndef WEFT_BASE_CPU_H
#define WEFT_BASE_CPU_H

/* The CPUs this process may use: the affinity mask, bounded by the cgroup
 * v2 CPU quota (cpu.max) when one is set. At least 1. */
int weft__cpu_count(void);

#endif /* WEFT_BASE_CPU_H */
