/*
 * weft — ThreadPool's per-worker statistics (weft_threadpool_worker_stats)
 * and their lines in dumpStats.
 */
#include <stdio.h>

#include "base/alloc.h"
#include "engine/worker_stats.h"
#include "pool/threadpool_impl.h"
#include "pool/threadpool_stats.h"

WEFT_API int weft_threadpool_worker_stats(weft_threadpool *tp, weft_worker_stats *out, size_t cap,
                                          size_t *n) {
  if (!tp || !n || (!out && cap > 0)) return WEFT_EINVAL;
  weft__engine_worker_stats(weft__threadpool_engine(tp), out, cap, n);
  return WEFT_OK;
}

void weft__threadpool_dump_workers(weft_threadpool *tp, void (*sink)(void *ctx, const char *line),
                                   void *ctx) {
  /* A small array on the stack covers most pools; a larger one is
   * allocated, and without memory the lines are left out. */
  weft_worker_stats local[8];
  weft_worker_stats *v = local;
  size_t n = 0;
  weft__engine *e = weft__threadpool_engine(tp);
  weft__engine_worker_stats(e, v, 8, &n);
  if (n > 8) {
    weft_worker_stats *big = weft__calloc(n, sizeof *big);
    if (!big) return;
    size_t cap = n;
    weft__engine_worker_stats(e, big, cap, &n);
    if (n > cap) n = cap; /* slots added meanwhile: shown next time */
    v = big;
  }
  char line[256];
  for (size_t i = 0; i < n; i++) {
    const weft_worker_stats *s = &v[i];
    snprintf(line, sizeof line,
             "worker %d: %s live=%d busy=%d cpu=%d executed=%llu steals=%llu stolen=%llu "
             "parks=%llu busy_ms=%llu",
             s->index, s->name, s->live, s->busy, s->cpu, (unsigned long long)s->executed,
             (unsigned long long)s->steals, (unsigned long long)s->stolen,
             (unsigned long long)s->parks, (unsigned long long)(s->busy_ns / 1000000u));
    sink(ctx, line);
  }
  if (v != local) weft__free(v);
}
