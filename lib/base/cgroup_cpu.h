/*
 * weft — the CPU quota of this process's cgroup, and the cgroup walk that
 * finds it (lib/base/cgroup_cpu.c), which the memory limit shares
 * (lib/base/cgroup_memory.c).
 */
#ifndef WEFT_BASE_CGROUP_CPU_H
#define WEFT_BASE_CGROUP_CPU_H

#include <stdbool.h>
#include <stddef.h>

/* The CPU quota that binds this process, rounded up to whole CPUs, or 0
 * when none is set or none can be read. proc_cgroup and mountinfo name the
 * files to read (/proc/self/cgroup and /proc/self/mountinfo; a test passes
 * its own). Every cgroup from the process's own up to the root of the
 * mount that shows it (the shortest such root, which shows the most
 * ancestors, when a hierarchy is mounted more than once) is read, on cgroup v2 (cpu.max) and on a v1 "cpu"
 * hierarchy (cpu.cfs_quota_us / cpu.cfs_period_us); the tightest quota
 * wins.
 *
 * Out of memory (the walk's state, or stdio's, cannot be allocated) it
 * answers 0, "no quota", on purpose: the count then is the affinity
 * mask's, what it was before quotas were read, and a pool sized too large
 * only oversubscribes a quota the kernel still enforces (throttling), while
 * a heap-free reader would mean replacing stdio here as well (fopen and
 * getline allocate) and about 24 KiB of paths that cannot go on the stack
 * of a small-stack thread nor in a static buffer whose lock a fork could
 * leave held. */
int weft__cgroup_cpu_limit(const char *proc_cgroup, const char *mountinfo);

/* The walk itself, for any controller. level is called once for each
 * cgroup directory from the process's cgroup up to the root of the mount
 * that shows it: first on the cgroup v2 hierarchy (v2 true), then on the
 * v1 hierarchy whose mount carries v1_controller ("cpu", "memory"). A
 * hierarchy that cannot be found or reached is not walked; the callback
 * reads what it wants in dir (weft__cgroup_read_line,
 * weft__cgroup_parse_u64) and keeps its own
 * answer in arg. When its state cannot be allocated (ENOMEM) no level is
 * visited; each reader's header says what it answers then. */
typedef void weft__cgroup_level_fn(void *arg, bool v2, const char *dir);
void weft__cgroup_walk(const char *proc_cgroup, const char *mountinfo, const char *v1_controller,
                       weft__cgroup_level_fn *level, void *arg);

/* The first line of dir/name into buf (at most size - 1 bytes); false when
 * it cannot be read. */
bool weft__cgroup_read_line(const char *dir, const char *name, char *buf, size_t size);
/* A decimal without sign, the whole of s up to white space; false if none
 * or past 2^64 - 1 ("max", "-1", " 5", "12x" are not numbers). */
bool weft__cgroup_parse_u64(const char *s, unsigned long long *out);

#endif /* WEFT_BASE_CGROUP_CPU_H */
