/*
 * The ck_ring pool's hot path, alone, for instruction counting beside weft's
 * perf/hotpath.c: N tasks from one foreign thread (main) through a ckpool
 * of THREADS workers (default 1), then destroy (drain + join).
 *
 *   ckring_hotpath N [THREADS]
 *
 * Instructions per task: perf/callgrind.sh N ckring, i.e.
 * (Ir(N) - Ir(0)) / N under valgrind --tool=callgrind, as for weft.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ckring_pool.h"

static volatile uint64_t g_sum;

static void task(void *arg) { g_sum += (uintptr_t)arg; }

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  ckpool *p;
  if (ckpool_create(&p, threads) != 0) return 1;
  for (long i = 0; i < n; i++)
    if (ckpool_submit(p, task, (void *)(uintptr_t)1) != 0) return 2;
  long backoffs, spills;
  ckpool_full_counts(p, &backoffs, &spills);
  ckpool_destroy(p);
  fprintf(stderr, "ckring_hotpath: %ld tasks sum=%llu full-ring backoffs=%ld spills=%ld\n", n,
          (unsigned long long)g_sum, backoffs, spills);
  return threads > 1 || g_sum == (uint64_t)n ? 0 : 3;
}
