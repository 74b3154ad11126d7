/*
 * weft — the memory this process's cgroups leave it (lib/base/cgroup_memory.c).
 */
#ifndef WEFT_BASE_CGROUP_MEMORY_H
#define WEFT_BASE_CGROUP_MEMORY_H

/* The least headroom, in bytes, of the cgroups that bind this process:
 * limit - usage (0 where usage has reached the limit) at every level from
 * the process's cgroup up to the root of the mount that shows it, on
 * cgroup v2 (memory.max, "max" for none, and memory.current) and on a v1
 * "memory" hierarchy (memory.limit_in_bytes, whose "none" is a huge
 * number such as 9223372036854771712, and memory.usage_in_bytes). The
 * levels, mounts and files are found as weft__cgroup_cpu_limit finds them
 * (lib/base/cgroup_cpu.h); proc_cgroup and mountinfo name the files to read
 * (/proc/self/cgroup and /proc/self/mountinfo; a test passes its own).
 * ULLONG_MAX when no level sets a limit or none can be read: a level whose
 * limit or usage is missing or malformed counts as no limit, so the answer
 * can only lower what the caller takes from MemAvailable.
 *
 * Out of memory (the walk's state, or stdio's, cannot be allocated) it
 * answers ULLONG_MAX too, as the CPU reader does and for the same reasons
 * (its header): the valve is then MemAvailable's, what it was before
 * cgroups were read, and a pool created while malloc fails meets
 * WEFT_ENOMEM in its own allocations, or counts the thread creations that
 * fail and backs off (design.md E9.5). */
unsigned long long weft__cgroup_memory_headroom(const char *proc_cgroup, const char *mountinfo);

#endif /* WEFT_BASE_CGROUP_MEMORY_H */
