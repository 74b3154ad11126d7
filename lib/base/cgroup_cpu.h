/*
 * weft — the CPU quota of this process's cgroup (lib/base/cgroup_cpu.c).
 */
#ifndef WEFT_BASE_CGROUP_CPU_H
#define WEFT_BASE_CGROUP_CPU_H

/* The CPU quota that binds this process, rounded up to whole CPUs, or 0
 * when none is set or none can be read. proc_cgroup and mountinfo name the
 * files to read (/proc/self/cgroup and /proc/self/mountinfo; a test passes
 * its own). Every cgroup from the process's own up to the root of the
 * mount that shows it (the shortest such root, which shows the most
 * ancestors, when a hierarchy is mounted more than once) is read, on cgroup v2 (cpu.max) and on a v1 "cpu"
 * hierarchy (cpu.cfs_quota_us / cpu.cfs_period_us); the tightest quota
 * wins. */
int weft__cgroup_cpu_limit(const char *proc_cgroup, const char *mountinfo);

#endif /* WEFT_BASE_CGROUP_CPU_H */
