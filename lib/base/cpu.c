/*
 * weft — how many CPUs this process may use: the affinity mask, bounded by
 * the cgroup v2 CPU quota when one is set (a container limited to 1.5 CPUs
 * counts 2), as Go 1.25 sizes GOMAXPROCS. Read when asked, never polled.
 */
#include "base/cpu.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
  unsigned long long quota = strtoull(q, NULL, 10);
  if (quota == 0) return 0;
  return (int)((quota + period - 1) / period);
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

