/*
 * weft — per-worker statistics: a snapshot of every slot (the contract is
 * in lib/engine/worker_stats.h). Control plane: under the engine mutex, so
 * a slot's name and serial are not read while a spawner rewrites them.
 */
#include "engine/worker_stats.h"

#include <stdio.h>
#include <string.h>

void weft__engine_worker_stats(weft__engine *e, weft_worker_stats *out, size_t cap, size_t *n) {
  uint64_t now = weft__now_ns();
  pthread_mutex_lock(&e->mu);
  uint32_t hw = weft__load_relaxed(&e->hw); /* written under mu */
  for (uint32_t i = 0; i < hw && i < cap; i++) {
    weft__eworker *w = e->slots[i];
    weft_worker_stats *s = &out[i];
    memset(s, 0, sizeof *s);
    s->index = (int)i;
    s->live = weft__load_relaxed(&w->state) == WEFT__SLOT_LIVE;
    s->busy = s->live && weft__load_relaxed(&w->busy);
    s->cpu = weft__load_relaxed(&w->pinned_cpu) - 1;
    s->serial = w->serial;
    snprintf(s->name, sizeof s->name, "%s-%llu", e->prefix, (unsigned long long)w->serial);
    /* Every task it took, less those it cancelled instead (count_skipped). */
    uint64_t took = weft__load_relaxed(&w->ring.executed), skipped = weft__load_relaxed(&w->skipped);
    s->executed = took > skipped ? took - skipped : 0;
    s->steals = weft__load_relaxed(&w->steals);
    s->stolen = weft__load_relaxed(&w->stolen);
    s->parks = weft__load_relaxed(&w->parks);
    s->busy_ns = weft__load_relaxed(&w->busy_ns);
    if (s->busy) { /* the current busy spell so far */
      uint64_t since = weft__load_relaxed(&w->busy_since);
      if (since != 0 && now > since) s->busy_ns += now - since;
    }
  }
  pthread_mutex_unlock(&e->mu);
  *n = hw;
}
