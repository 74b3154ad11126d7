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
    /* The prefix gives way, never the serial (as the thread's own name). */
    char suffix[24];
    int sl = snprintf(suffix, sizeof suffix, "-%llu", (unsigned long long)w->serial);
    int room = (int)sizeof s->name - 1 - sl;
    snprintf(s->name, sizeof s->name, "%.*s%s", room, e->prefix, suffix);
    /* Every task it took, less those it cancelled instead (count_skipped). */
    uint64_t took = weft__load_relaxed(&w->ring.executed);
    /* Pairs with count_skipped's release fence (core.h): a take we see
     * comes with its skip. */
    weft__fence_acquire();
    uint64_t skipped = weft__load_relaxed(&w->skipped);
    s->executed = took > skipped ? took - skipped : 0;
    s->steals = weft__load_relaxed(&w->steals);
    s->stolen = weft__load_relaxed(&w->stolen);
    s->parks = weft__load_relaxed(&w->parks);
    /* The stamps as one pair (worker_stats.h): retry while the owner is
     * at an edge. Acquire load and fence: pair with the owner's release
     * store and fence. */
    uint64_t busy_ns, since;
    for (;;) {
      uint32_t q = weft__load_acquire(&w->busy_seq);
      busy_ns = weft__load_relaxed(&w->busy_ns);
      since = weft__load_relaxed(&w->busy_since);
      weft__fence_acquire();
      if ((q & 1u) == 0 && weft__load_relaxed(&w->busy_seq) == q) break;
      weft__cpu_relax();
    }
    s->busy_ns = busy_ns;
    /* The spell so far; a slot whose thread is gone (a fork's child keeps
     * the parent's slots) has none. */
    if (s->live && since != 0 && now > since) s->busy_ns += now - since;
  }
  pthread_mutex_unlock(&e->mu);
  *n = hw;
}
