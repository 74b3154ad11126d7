/*
 * weft — how many CPUs this process may use: the calling thread's affinity
 * mask (of any size: weft__cpu_mask_get), bounded by
 * the tightest cgroup CPU quota on the process's path (lib/base/cgroup_cpu.c;
 * a container limited to 1.5 CPUs counts 2), as Go 1.25 sizes GOMAXPROCS.
 * Read when asked, never polled.
 */
#include "base/cpu.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/cgroup_cpu.h"
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
    if (err != EINVAL) return NULL;
  }
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


/* The default valve (E9.4): a quarter of the available memory at 80 KiB a
 * thread (64 KiB of committed stack, as .NET budgets, plus the kernel's
 * 16 KiB), half of RLIMIT_NPROC (the limit itself, not what the user's
 * other threads and processes leave of it), at most 4096. */
int weft__thread_valve_default(void) {
  long long valve = 4096;
  FILE *f = fopen("/proc/meminfo", "re");
  if (f) {
    char line[128];
    unsigned long long kb;
    while (fgets(line, sizeof line, f)) {
      if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
        long long by_mem = (long long)(kb / 4 / 80);
        if (by_mem < valve) valve = by_mem;
        break;
      }
    }
    fclose(f);
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NPROC, &rl) == 0) valve = weft__thread_valve_by_nproc(valve, rl.rlim_cur);
  return valve < 1 ? 1 : (int)valve;
}

long long weft__thread_valve_by_nproc(long long valve, rlim_t nproc) {
  if (nproc == RLIM_INFINITY) return valve;
  /* Compared as rlim_t: a limit of 2^63 or more is positive there, and cast
   * to long long first it was negative, which made the valve 1. */
  rlim_t half = nproc / 2;
  return half < (rlim_t)valve ? (long long)half : valve;
}
