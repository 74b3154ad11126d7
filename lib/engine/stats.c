/*
 * weft — the engine's statistics (lib/engine/stats.h): sums over the
 * workers' owner-written counters, read without a lock from any thread.
 */
#include "engine/stats.h"

#include <string.h>

int weft__engine_live(weft__engine *e) {
  int n = weft__load_relaxed(&e->live);
  return n < 0 ? 0 : n;
}

int weft__engine_cpus(weft__engine *e) { return e->ncpu; }

int weft__engine_busy(weft__engine *e) {
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  int busy = 0;
  for (uint32_t i = 0; i < hw; i++) {
    weft__eworker *w = e->slots[i];
    if (w && weft__load_relaxed(&w->state) == WEFT__SLOT_LIVE && weft__load_relaxed(&w->busy))
      busy++;
  }
  int live = weft__engine_live(e);
  return busy < live ? busy : live;
}

uint64_t weft__engine_backlog(weft__engine *e) {
  uint64_t n = weft__inject_backlog(&e->inject);
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  for (uint32_t i = 0; i < hw; i++) n += weft__ring_len(&e->slots[i]->ring);
  return n;
}

uint64_t weft__engine_completed(weft__engine *e) {
  uint64_t n = 0;
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  for (uint32_t i = 0; i < hw; i++) n += weft__load_relaxed(&e->slots[i]->ring.executed);
  return n;
}

/* Closed to submits: the inject queue's closed bit, which close sets after
 * `closed`. A thread that has seen it has every later submit refused: its
 * count_push is an RMW on the same word, so by coherence it reads the bit
 * too (relaxed suffices). `closed` alone was seen a step early, and a
 * window flushed in between was still accepted (test_submit_window's
 * destroy_elsewhere case failed 1 run in 300 under TSan). */
bool weft__engine_is_closed(weft__engine *e) {
  return (weft__load_relaxed(&e->inject.pushed) & WEFT__INJECT_CLOSED) != 0;
}

void weft__engine_counters_get(weft__engine *e, weft__engine_counters *out) {
  memset(out, 0, sizeof *out);
  uint64_t overflowed = 0, local = 0, skipped = 0;
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  for (uint32_t i = 0; i < hw; i++) {
    weft__eworker *w = e->slots[i];
    out->executed += weft__load_relaxed(&w->ring.executed);
    /* A skip is stored before its take (count_skipped, core.h): a take we
     * see comes with its skip, and `executed` never reads one over what ran.
     * Pairs with count_skipped's release fence. */
    weft__fence_acquire();
    out->steals += weft__load_relaxed(&w->steals);
    out->stolen += weft__load_relaxed(&w->stolen);
    out->parks += weft__load_relaxed(&w->parks);
    overflowed += weft__load_relaxed(&w->overflowed);
    local += weft__load_relaxed(&w->local_submits);
    skipped += weft__load_relaxed(&w->skipped);
  }
  uint64_t pushed = weft__inject_pushed(&e->inject);
  out->submitted = (pushed > overflowed ? pushed - overflowed : 0) + local +
                   weft__load_relaxed(&e->window_cancelled);
  out->cancelled = weft__load_relaxed(&e->cancelled);
  /* Workers count every task they take; the skipped ones were cancelled. */
  skipped += weft__load_relaxed(&e->skipped);
  out->executed = out->executed > skipped ? out->executed - skipped : 0;
  out->unparks = weft__load_relaxed(&e->unparks);
  out->spawns = weft__load_relaxed(&e->spawns);
  out->spawn_failures = weft__load_relaxed(&e->spawn_failures);
}
