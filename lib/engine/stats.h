/*
 * weft — the engine's statistics (lib/engine/stats.c). Any thread, no
 * lock; approximate while the pool runs, exact at quiescence.
 */
#ifndef WEFT_ENGINE_STATS_H
#define WEFT_ENGINE_STATS_H

#include "engine/core.h"

int weft__engine_live(weft__engine *e);
/* The CPUs the pool runs on (core.h: ncpu; fixed at create). */
int weft__engine_cpus(weft__engine *e);
int weft__engine_busy(weft__engine *e);
uint64_t weft__engine_backlog(weft__engine *e);
/* Tasks taken so far, over every slot (each worker's own count, stored
 * after every task): the progress signal of the elastic monitor and of a
 * stop's watch over waiting workers. */
uint64_t weft__engine_completed(weft__engine *e);
/* Every submit from now on is refused (WEFT_EQUIT). */
bool weft__engine_is_closed(weft__engine *e);

typedef struct weft__engine_counters {
  uint64_t submitted, executed, cancelled, steals, stolen, parks, unparks, spawns,
      spawn_failures;
} weft__engine_counters;
void weft__engine_counters_get(weft__engine *e, weft__engine_counters *out);

#endif /* WEFT_ENGINE_STATS_H */
