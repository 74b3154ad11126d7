/*
 * weft — per-worker statistics: the busy-time stamps a worker takes at its
 * idle<->busy edges, and the per-slot snapshot the pool layer reports
 * (weft_threadpool_worker_stats).
 *
 * Cost: nothing per task. A worker reads the clock once when it goes from
 * searching to running (the first task after an idle spell) and once when
 * it goes idle again, where its loop reads the clock anyway to time its
 * spin (lib/engine/worker_loop.c). The counters themselves (executed,
 * steals, stolen, parks) are the engine's existing per-slot ones.
 *
 * Slots, not threads: a slot keeps its counters when its thread exits and
 * a new thread reuses it (lib/engine/spawn.c), so the slots' sums are the
 * pool's totals at any time, and exactly at quiescence.
 */
#ifndef WEFT_ENGINE_WORKER_STATS_H
#define WEFT_ENGINE_WORKER_STATS_H

#include <stddef.h>

#include "base/clock.h"
#include "engine/core.h"
#include "weft/threadpool.h"

/* Idle -> busy edge (the owner). Relaxed: a statistic, read approximately. */
static inline void weft__worker_busy_begin(weft__eworker *w) {
  weft__store_relaxed(&w->busy_since, weft__now_ns());
}

/* Busy -> idle edge (the owner). Returns the time stamp, which the loop
 * also uses to start its spin. */
static inline uint64_t weft__worker_busy_end(weft__eworker *w) {
  uint64_t now = weft__now_ns();
  uint64_t since = weft__load_relaxed(&w->busy_since);
  if (since != 0 && now > since) weft__add_single_writer(&w->busy_ns, now - since);
  return now;
}

/* Fill out[0 .. min(cap, slots)-1] with one entry per slot ever used, in
 * slot order; *n gets the number of slots. Any thread. */
void weft__engine_worker_stats(weft__engine *e, weft_worker_stats *out, size_t cap, size_t *n);

#endif /* WEFT_ENGINE_WORKER_STATS_H */
