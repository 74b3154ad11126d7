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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/cpu.h"
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
   * core_rank: how many distinct cores of the same package come before,
   * each counted once, at its lowest listed CPU (thread 0). Two passes,
   * O(n^2): counting "lowest listed" inside the second made it O(n^3),
   * seconds of pool creation at 1,024 CPUs. */
  for (int i = 0; i < n; i++) {
    k[i].thread = 0;
    for (int j = 0; j < i; j++)
      if (k[j].package == k[i].package && k[j].core == k[i].core) k[i].thread++;
  }
  for (int i = 0; i < n; i++) {
    k[i].core_rank = 0;
    for (int j = 0; j < n; j++)
      if (k[j].thread == 0 && k[j].package == k[i].package && k[j].core < k[i].core)
        k[i].core_rank++;
  }
  if (policy == WEFT_AFFINITY_COMPACT) qsort(k, (size_t)n, sizeof *k, cmp_compact);
  else if (policy == WEFT_AFFINITY_SCATTER) qsort(k, (size_t)n, sizeof *k, cmp_scatter);
}

/* The plan of the CPUs set in `want` (bytes, bits: its size), ordered by
 * policy. */
static int plan_of(const cpu_set_t *want, size_t bytes, int bits, int policy,
                   weft__affinity **out) {
  int n = CPU_COUNT_S(bytes, want);
  if (n == 0) return WEFT_EINVAL;
  weft__affinity *a = weft__malloc(sizeof *a + (size_t)n * sizeof a->cpu[0]);
  cpu_key *k = weft__malloc((size_t)n * sizeof *k);
  if (!a || !k) {
    weft__free(a);
    weft__free(k);
    return WEFT_ENOMEM;
  }
  int m = 0;
  for (int c = 0; c < bits && m < n; c++)
    if (CPU_ISSET_S(c, bytes, want)) k[m++].cpu = c;
  if (policy != WEFT_AFFINITY_NONE) order(k, n, policy);
  a->policy = policy;
  a->n = n;
  a->top = 0;
  for (int i = 0; i < n; i++) {
    a->cpu[i] = k[i].cpu;
    if (a->cpu[i] > a->top) a->top = a->cpu[i];
  }
  weft__free(k);
  *out = a;
  return WEFT_OK;
}

int weft__affinity_make(const weft_affinity *opt, weft__affinity **out) {
  *out = NULL;
  int policy = (int)opt->policy;
  if (policy != WEFT_AFFINITY_NONE && policy != WEFT_AFFINITY_SET &&
      policy != WEFT_AFFINITY_COMPACT && policy != WEFT_AFFINITY_SCATTER)
    return WEFT_EINVAL;
  /* What is wrong whatever the CPUs is refused before any mask is made: an
   * option answered WEFT_ENOMEM with no memory for one is WEFT_EINVAL with
   * memory (weft/threadpool.h, weft_affinity). */
  if (policy != WEFT_AFFINITY_NONE) {
    if (opt->ncpus > 0 && !opt->cpus) return WEFT_EINVAL;
    if (policy == WEFT_AFFINITY_SET && opt->ncpus == 0) return WEFT_EINVAL;
    for (size_t i = 0; i < opt->ncpus; i++)
      if (opt->cpus[i] < 0) return WEFT_EINVAL;
  }
  size_t bytes;
  int bits;
  cpu_set_t *allowed = weft__cpu_mask_get(&bytes, &bits);
  if (policy == WEFT_AFFINITY_NONE) {
    /* The creator's CPUs (the list is ignored). Unreadable: no plan, the
     * threads inherit as before; only memory is worth failing for, the
     * mask's as the plan's (without it the pool's threads would inherit
     * whichever mask their creator has: test_affinity
     * none_without_memory_for_the_mask_is_enomem). */
    if (!allowed && errno == ENOMEM) return WEFT_ENOMEM;
    int r = allowed ? plan_of(allowed, bytes, bits, policy, out) : WEFT_OK;
    if (allowed) CPU_FREE(allowed);
    return r == WEFT_ENOMEM ? r : WEFT_OK;
  }
  int r = WEFT_EINVAL;
  cpu_set_t *want = NULL;
  if (!allowed) {
    /* No memory for the mask is WEFT_ENOMEM, as for the plan's (a valid
     * option answered WEFT_EINVAL under memory pressure); a mask the kernel
     * will not tell cannot be checked against: WEFT_EINVAL. */
    if (errno == ENOMEM) r = WEFT_ENOMEM;
    goto out;
  }
  /* Every listed CPU is checked before the chosen set's mask is made, for
   * the same reason. */
  for (size_t i = 0; i < opt->ncpus; i++) {
    int c = opt->cpus[i];
    if (c >= bits || !CPU_ISSET_S(c, bytes, allowed)) goto out;
  }
  /* The chosen set, as a mask: duplicates collapse, so the list may be of
   * any length. */
  want = CPU_ALLOC(bits);
  if (!want) {
    r = WEFT_ENOMEM;
    goto out;
  }
  CPU_ZERO_S(bytes, want);
  if (opt->ncpus == 0) CPU_OR_S(bytes, want, want, allowed);
  for (size_t i = 0; i < opt->ncpus; i++) CPU_SET_S(opt->cpus[i], bytes, want);
  r = plan_of(want, bytes, bits, policy, out);
out:
  if (want) CPU_FREE(want);
  if (allowed) CPU_FREE(allowed);
  return r;
}

void weft__affinity_free(weft__affinity *a) { weft__free(a); }

/* Pin the calling thread to one CPU of a's plan (only >= 0) or to all of
 * them (only < 0). 0, WEFT_ENOMEM, or pthread_setaffinity_np's error. */
static int pin_self(const weft__affinity *a, int only) {
  size_t bytes = CPU_ALLOC_SIZE(a->top + 1);
  cpu_set_t *set = CPU_ALLOC(a->top + 1);
  if (!set) return WEFT_ENOMEM;
  CPU_ZERO_S(bytes, set);
  if (only >= 0) CPU_SET_S(only, bytes, set);
  else for (int i = 0; i < a->n; i++) CPU_SET_S(a->cpu[i], bytes, set);
  int r = pthread_setaffinity_np(pthread_self(), bytes, set);
  CPU_FREE(set);
  return r;
}

void weft__affinity_apply(weft__engine *e, weft__eworker *w) {
  const weft__affinity *a = e->cfg.affinity;
  if (!a) return;
  if (a->policy == WEFT_AFFINITY_NONE && e->cfg.factory) return; /* the factory's choice */
  /* SET and NONE: every CPU of the plan; COMPACT and SCATTER: one each. */
  bool all = a->policy == WEFT_AFFINITY_SET || a->policy == WEFT_AFFINITY_NONE;
  int pinned = !all ? a->cpu[w->index % (uint32_t)a->n]
                    : (a->n == 1 && a->policy == WEFT_AFFINITY_SET ? a->cpu[0] : -1);
  int r = pin_self(a, all ? -1 : pinned);
  if (r == WEFT_ENOMEM) {
    weft__engine_log(e, WEFT_ENOMEM, "weft_threadpool: could not pin a worker to its CPUs");
    return;
  }
  if (r != 0) {
    /* The CPUs went away (hot-unplug, a cpuset change) since the pool was
     * made: the thread runs where it may, and the owner hears of it (not
     * for NONE, which pins nothing the owner asked for). Its one CPU gone
     * (COMPACT, SCATTER), it runs on the plan's others: left as it is, it
     * kept the mask of whichever thread created it, most often a sibling
     * worker that had pinned itself to its own CPU, so the two shared that
     * one CPU for good while the rest of the plan stayed free
     * (test_affinity a_failed_pin_runs_on_the_plan). */
    if (!all) (void)pin_self(a, -1);
    weft__store_relaxed(&w->pinned_cpu, 0);
    if (a->policy != WEFT_AFFINITY_NONE)
      weft__engine_log(e, WEFT_EINVAL, "weft_threadpool: could not pin a worker to its CPUs");
    return;
  }
  weft__store_relaxed(&w->pinned_cpu, pinned + 1); /* statistics: read by worker_stats */
}

void weft__affinity_apply_monitor(weft__engine *e) {
  const weft__affinity *a = e->cfg.affinity;
  /* A failure leaves it where its creator may run: a monitor's CPU is no
   * promise. */
  if (a) (void)pin_self(a, -1);
}
