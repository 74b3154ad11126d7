/*
 * weft — the memory this process's cgroups leave it, for the default valve
 * (lib/base/cpu.c, design.md E9.4).
 *
 * MemAvailable (/proc/meminfo) is the host's: a container limited to
 * 256 MiB on a 64 GiB host reads tens of GiB there, and a valve sized from
 * it lets the pool start more threads than the container affords, whose
 * stacks the cgroup's OOM killer then answers (no ENOMEM: thread stacks are
 * committed as they are touched). A memory limit binds at every level, as
 * a CPU quota does (a pod's limit above a container that reads "max"), and
 * what a level leaves is its limit less what its whole subtree already
 * uses, so the headroom is taken at each level and the least wins. The
 * levels are walked as for the CPU quota (weft__cgroup_walk).
 *
 * Usage counts page cache, which the kernel reclaims before it kills: the
 * headroom is a low estimate where a container reads or writes many files
 * (taking off memory.stat's inactive_file, as the kubelet's working set
 * does, is not done). Low is the safe side for a cap meant to keep the
 * container alive, and the valve never cuts below max_threads
 * (lib/pool/threadpool.c).
 */
#include "base/cgroup_memory.h"

#include <limits.h>
#include <stdbool.h>

#include "base/cgroup_cpu.h"

/* The least headroom of the levels seen so far, ULLONG_MAX while none. A
 * level whose limit or usage cannot be read sets none; a v1 "no limit"
 * (about 2^63) needs no case of its own, its headroom being far above any
 * MemAvailable it is compared with. */
static void memory_level(void *arg, bool v2, const char *dir) {
  unsigned long long *best = arg;
  char line[128];
  unsigned long long limit, usage;
  if (!weft__cgroup_read_line(dir, v2 ? "memory.max" : "memory.limit_in_bytes", line, sizeof line) ||
      !weft__cgroup_parse_u64(line, &limit)) /* "max": none */
    return;
  if (!weft__cgroup_read_line(dir, v2 ? "memory.current" : "memory.usage_in_bytes", line,
                              sizeof line) ||
      !weft__cgroup_parse_u64(line, &usage))
    return;
  unsigned long long room = usage >= limit ? 0 : limit - usage;
  if (room < *best) *best = room;
}

unsigned long long weft__cgroup_memory_headroom(const char *proc_cgroup, const char *mountinfo) {
  unsigned long long best = ULLONG_MAX;
  /* No memory for the walk leaves best at ULLONG_MAX, "no limit": why, in
   * the header. */
  weft__cgroup_walk(proc_cgroup, mountinfo, "memory", memory_level, &best);
  return best;
}
