/*
 * weft — CPU affinity plans (lib/engine/affinity.h).
 *
 * The CPUs to choose from: the option's list, or, when it gives none, the
 * CPUs the creating thread may run on (sched_getaffinity, which already
 * reflects a cpuset cgroup and taskset). Their order:
 *   compact  by (package, core, hardware thread): consecutive slots fill a
 *            core's hardware threads, then the next core of the package;
 *   scatter  by (hardware thread, core, package interleaved): one slot per
 *            physical core first, alternating packages, before any core
 *            gets a second.
 * Topology comes from /sys/devices/system/cpu/cpuN/topology (read once per
 * CPU at pool creation); without it each CPU counts as its own core of
 * package 0, and both orders are ascending CPU numbers.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "engine/affinity.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "engine/spawn.h"

typedef struct cpu_key {
  int cpu, package, core, thread, core_rank;
} cpu_key;

static int read_topology(int cpu, const char *what) {
  char path[96];
  snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, what);
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  int v = -1;
  if (fscanf(f, "%d", &v) != 1) v = -1;
  fclose(f);
  return v;
}

static int cmp_compact(const void *a, const void *b) {
  const cpu_key *x = a, *y = b;
  if (x->package != y->package) return x->package < y->package ? -1 : 1;
  if (x->core != y->core) return x->core < y->core ? -1 : 1;
  return x->cpu < y->cpu ? -1 : x->cpu > y->cpu;
}

static int cmp_scatter(const void *a, const void *b) {
  const cpu_key *x = a, *y = b;
  if (x->thread != y->thread) return x->thread < y->thread ? -1 : 1;
  if (x->core_rank != y->core_rank) return x->core_rank < y->core_rank ? -1 : 1;
  if (x->package != y->package) return x->package < y->package ? -1 : 1;
  return x->cpu < y->cpu ? -1 : x->cpu > y->cpu;
}

/* Put keys[0..n-1] (ascending CPU numbers) in the policy's order. */
static void order(cpu_key *k, int n, int policy) {
  for (int i = 0; i < n; i++) {
    k[i].package = read_topology(k[i].cpu, "physical_package_id");
    k[i].core = read_topology(k[i].cpu, "core_id");
    if (k[i].package < 0 || k[i].core < 0) { /* no topology: a core per CPU */
      k[i].package = 0;
      k[i].core = k[i].cpu;
    }
  }
  /* thread: how many listed CPUs of the same core come before this one;
   * core_rank: how many distinct cores of the same package come before. */
  for (int i = 0; i < n; i++) {
    k[i].thread = 0;
    k[i].core_rank = 0;
    for (int j = 0; j < i; j++)
      if (k[j].package == k[i].package && k[j].core == k[i].core) k[i].thread++;
    for (int j = 0; j < n; j++) {
      if (k[j].package != k[i].package || k[j].core >= k[i].core) continue;
      bool first = true; /* count each core once: its lowest listed CPU */
      for (int m = 0; m < j; m++)
        if (k[m].package == k[j].package && k[m].core == k[j].core) first = false;
      if (first) k[i].core_rank++;
    }
  }
  if (policy == WEFT_AFFINITY_COMPACT) qsort(k, (size_t)n, sizeof *k, cmp_compact);
  else if (policy == WEFT_AFFINITY_SCATTER) qsort(k, (size_t)n, sizeof *k, cmp_scatter);
}

int weft__affinity_make(const weft_affinity *opt, weft__affinity **out) {
  *out = NULL;
  int policy = (int)opt->policy;
  if (policy == WEFT_AFFINITY_NONE) return WEFT_OK;
  if (policy != WEFT_AFFINITY_SET && policy != WEFT_AFFINITY_COMPACT &&
      policy != WEFT_AFFINITY_SCATTER)
    return WEFT_EINVAL;
  if (opt->ncpus > 0 && !opt->cpus) return WEFT_EINVAL;
  if (policy == WEFT_AFFINITY_SET && opt->ncpus == 0) return WEFT_EINVAL;
  if (opt->ncpus > CPU_SETSIZE) return WEFT_EINVAL;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return WEFT_EINVAL;
  /* The chosen set, as a mask: duplicates collapse. */
  cpu_set_t want;
  CPU_ZERO(&want);
  if (opt->ncpus == 0) {
    want = allowed;
  } else {
    for (size_t i = 0; i < opt->ncpus; i++) {
      int c = opt->cpus[i];
      if (c < 0 || c >= CPU_SETSIZE || !CPU_ISSET(c, &allowed)) return WEFT_EINVAL;
      CPU_SET(c, &want);
    }
  }
  int n = CPU_COUNT(&want);
  if (n == 0) return WEFT_EINVAL;
  weft__affinity *a = weft__malloc(sizeof *a + (size_t)n * sizeof a->cpu[0]);
  cpu_key *k = weft__malloc((size_t)n * sizeof *k);
  if (!a || !k) {
    weft__free(a);
    weft__free(k);
    return WEFT_ENOMEM;
  }
  int m = 0;
  for (int c = 0; c < CPU_SETSIZE && m < n; c++)
    if (CPU_ISSET(c, &want)) k[m++].cpu = c;
  order(k, n, policy);
  a->policy = policy;
  a->n = n;
  for (int i = 0; i < n; i++) a->cpu[i] = k[i].cpu;
  weft__free(k);
  *out = a;
  return WEFT_OK;
}

void weft__affinity_free(weft__affinity *a) { weft__free(a); }

void weft__affinity_apply(weft__engine *e, weft__eworker *w) {
  const weft__affinity *a = e->cfg.affinity;
  if (!a) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  int pinned = -1;
  if (a->policy == WEFT_AFFINITY_SET) {
    for (int i = 0; i < a->n; i++) CPU_SET(a->cpu[i], &set);
    if (a->n == 1) pinned = a->cpu[0];
  } else {
    pinned = a->cpu[w->index % (uint32_t)a->n];
    CPU_SET(pinned, &set);
  }
  int r = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
  if (r != 0) {
    /* The CPUs went away (hot-unplug, a cpuset change) since the pool was
     * made: the thread runs where it may, and the owner hears of it. */
    weft__store_relaxed(&w->pinned_cpu, 0);
    weft__engine_log(e, WEFT_EINVAL, "weft_threadpool: could not pin a worker to its CPUs");
    return;
  }
  weft__store_relaxed(&w->pinned_cpu, pinned + 1); /* statistics: read by worker_stats */
}
