/*
 * weft — how many CPUs this process may use: the calling thread's affinity
 * mask (of any size: weft__cpu_mask_get), bounded by
 * the tightest cgroup CPU quota on the process's path (lib/base/cgroup_cpu.c;
 * a container limited to 1.5 CPUs counts 2), as Go 1.25 sizes GOMAXPROCS;
 * and how many threads an elastic pool may reach (the valve, E9.4), from
 * the memory left (MemAvailable and the cgroups' memory limits,
 * lib/base/cgroup_memory.c) and RLIMIT_NPROC. Read when asked, never polled.
 */
#include "base/cpu.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/cgroup_cpu.h"
#include "base/cgroup_memory.h"
#include "weft/threadpool.h"

cpu_set_t *weft__cpu_mask_get(size_t *bytes, int *bits) {
  /* The kernel's mask is nr_cpu_ids bits and sched_getaffinity refuses a
   * shorter buffer (EINVAL): a plain cpu_set_t (1024) fails on a kernel
   * built for more CPUs. Doubling stops at 4M CPUs. */
  for (int n = CPU_SETSIZE; n <= (1 << 22); n *= 2) {
    cpu_set_t *set = CPU_ALLOC(n);
    if (!set) return NULL;
    size_t size = CPU_ALLOC_SIZE(n);
    if (sched_getaffinity(0, size, set) == 0) {
      *bytes = size;
      *bits = (int)(size * 8);
      return set;
    }
    int err = errno;
    CPU_FREE(set);
    if (err != EINVAL) {
      errno = err; /* the caller tells no memory from a refusal (affinity.c) */
      return NULL;
    }
  }
  errno = EINVAL;
  return NULL;
}

int weft__cpu_count(void) {
  int n = 0;
  size_t bytes;
  int bits;
  cpu_set_t *set = weft__cpu_mask_get(&bytes, &bits);
  if (set) {
    n = CPU_COUNT_S(bytes, set);
    CPU_FREE(set);
  }
  if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (n <= 0) n = 1;
  int q = weft__cgroup_cpu_limit("/proc/self/cgroup", "/proc/self/mountinfo");
  if (q > 0 && q < n) n = q;
  return n;
}

WEFT_API int weft_cpu_count(void) { return weft__cpu_count(); }

unsigned long long weft__memory_available(const char *meminfo, const char *proc_cgroup,
                                          const char *mountinfo) {
  unsigned long long avail = ULLONG_MAX;
  FILE *f = fopen(meminfo, "re");
  if (f) {
    char line[128];
    unsigned long long kb;
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
        if (kb <= ULLONG_MAX / 1024) avail = kb * 1024; /* else malformed: no figure */
        break;
      }
    }
    fclose(f);
  }
  /* MemAvailable is the host's; a container's limit is only in its
   * cgroups (lib/base/cgroup_memory.c). */
  unsigned long long room = weft__cgroup_memory_headroom(proc_cgroup, mountinfo);
  return room < avail ? room : avail;
}

long long weft__thread_valve_by_memory(long long valve, unsigned long long avail) {
  /* A quarter of it at 80 KiB a thread: the other three quarters are the
   * program's, and each thread's 64 KiB of committed stack (as .NET
   * budgets) plus the kernel's 16 KiB is what a blocked stand-in costs. */
  unsigned long long by_mem = avail / 4 / (80 * 1024);
  return by_mem < (unsigned long long)valve ? (long long)by_mem : valve;
}

/* The default valve (E9.4): a quarter of the available memory (the host's
 * MemAvailable, bounded by what every cgroup level above the process has
 * left below its memory limit) at 80 KiB a thread, half of RLIMIT_NPROC
 * (the limit itself, not what the user's other threads and processes leave
 * of it), at most 4096, at least 1. */
int weft__thread_valve_default(void) {
  struct rlimit rl;
  rlim_t nproc = getrlimit(RLIMIT_NPROC, &rl) == 0 ? rl.rlim_cur : RLIM_INFINITY;
  return weft__thread_valve_of("/proc/meminfo", "/proc/self/cgroup", "/proc/self/mountinfo", nproc);
}

int weft__thread_valve_of(const char *meminfo, const char *proc_cgroup, const char *mountinfo,
                          rlim_t nproc) {
  long long valve =
      weft__thread_valve_by_memory(4096, weft__memory_available(meminfo, proc_cgroup, mountinfo));
  valve = weft__thread_valve_by_nproc(valve, nproc);
  return valve < 1 ? 1 : (int)valve;
}

long long weft__thread_valve_by_nproc(long long valve, rlim_t nproc) {
  if (nproc == RLIM_INFINITY) return valve;
  /* Compared as rlim_t: a limit of 2^63 or more is positive there, and cast
   * to long long first it was negative, which made the valve 1. */
  rlim_t half = nproc / 2;
  return half < (rlim_t)valve ? (long long)half : valve;
}
