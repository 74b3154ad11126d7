/*
 * weft — how many CPUs this process may use: the affinity mask, bounded by
 * the cgroup v2 CPU quota when one is set (a container limited to 1.5 CPUs
 * counts 2), as Go 1.25 sizes GOMAXPROCS. Read when asked, never polled.
 */
#include "base/cpu.h"

#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "weft/threadpool.h"

static int cgroup_cpu_limit(void) {
  /* cgroup v2: "max 100000" or "<quota> <period>" for this process's group
   * (mounted at /sys/fs/cgroup in a container). Unreadable: no limit. */
  FILE *f = fopen("/sys/fs/cgroup/cpu.max", "re");
  if (!f) return 0;
  char q[32] = {0};
  unsigned long long period = 0;
  int n = fscanf(f, "%31s %llu", q, &period);
  fclose(f);
  if (n != 2 || strcmp(q, "max") == 0 || period == 0) return 0;
  if (q[0] < '0' || q[0] > '9') return 0; /* strtoull would take "-1" */
  unsigned long long quota = strtoull(q, NULL, 10);
  if (quota == 0) return 0;
  /* Rounded up without overflow, and clamped: a quota of 2^44 us must not
   * truncate to a small int (the kernel takes quotas that large). */
  unsigned long long cpus = quota / period + (quota % period != 0);
  return cpus > (unsigned long long)INT_MAX ? INT_MAX : (int)cpus;
}

int weft__cpu_count(void) {
  cpu_set_t set;
  int n = 0;
  if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (n <= 0) n = 1;
  int q = cgroup_cpu_limit();
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
  if (getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    long long by_nproc = (long long)rl.rlim_cur / 2;
    if (by_nproc < valve) valve = by_nproc;
  }
  return valve < 1 ? 1 : (int)valve;
}
