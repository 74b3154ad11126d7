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

/* The two stamps change together under busy_seq, a sequence count (the
 * owner writes, readers retry: weft__engine_worker_stats). Without it a
 * reader between two stores took the previous spell's stamp for the
 * current one and counted that spell, and the idle gap after it, twice.
 * Writer: the count made odd, a seq_cst fence, the clock read and the
 * stores, the count made even with a release store (the data before it);
 * the reader's acquire load and fence pair with them (the seqlock of
 * Boehm, "Can seqlocks get along with programming language memory
 * models?", 2012). Two stores and a fence per edge, none per task.
 *
 * Why seq_cst, not release: the fence must also keep the edge's clock read
 * after the odd count is visible (a store, then a load: x86 lets the load
 * run while the store waits in the store buffer). With a release fence the
 * worker read its clock, a reader then read a later clock and the count
 * still even, and reported the spell up to its own clock; the edge then
 * added the spell up to the worker's earlier clock, and the next read was
 * lower: test_worker_stats busy_ns_never_goes_down saw one such drop under
 * the whole suite's load (ctest -j2; none in 40 runs alone), and this is
 * the one order found that allows it. The
 * fence (mfence) with the vDSO's ordered clock read (lfence; rdtsc) is
 * Intel's sequence for a time stamp taken after every earlier store is
 * visible. */
static inline void weft__worker_busy_write_begin(weft__eworker *w, uint32_t *seq) {
  *seq = weft__load_relaxed(&w->busy_seq); /* the owner's own count */
  weft__store_relaxed(&w->busy_seq, *seq + 1);
  /* seq_cst fence: the odd count before the data stores (what the reader's
   * acquire fence pairs with) and before the clock read (above). */
  weft__fence_seq_cst();
}
static inline void weft__worker_busy_write_end(weft__eworker *w, uint32_t seq) {
  weft__store_release(&w->busy_seq, seq + 2);
}

/* Idle -> busy edge (the owner). */
/* The clock is read inside the write: a reader that saw the pair before it
 * read its own clock earlier still, so the spell it added so far never
 * exceeds what the edge then adds (busy_ns never goes down). */
static inline void weft__worker_busy_begin(weft__eworker *w) {
  uint32_t seq;
  weft__worker_busy_write_begin(w, &seq);
  weft__store_relaxed(&w->busy_since, weft__now_ns());
  weft__worker_busy_write_end(w, seq);
}

/* Busy -> idle edge (the owner). Returns the time stamp, which the loop
 * also uses to start its spin. */
static inline uint64_t weft__worker_busy_end(weft__eworker *w) {
  uint64_t since = weft__load_relaxed(&w->busy_since); /* our own */
  uint32_t seq;
  weft__worker_busy_write_begin(w, &seq);
  uint64_t now = weft__now_ns();
  if (since != 0 && now > since) weft__add_single_writer(&w->busy_ns, now - since);
  weft__store_relaxed(&w->busy_since, 0); /* idle: no spell to add */
  weft__worker_busy_write_end(w, seq);
  return now;
}

/* Fill out[0 .. min(cap, slots)-1] with one entry per slot ever used, in
 * slot order; *n gets the number of slots. Any thread. */
void weft__engine_worker_stats(weft__engine *e, weft_worker_stats *out, size_t cap, size_t *n);

#endif /* WEFT_ENGINE_WORKER_STATS_H */
