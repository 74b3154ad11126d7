/*
 * weft — the engine's inject queue: foreign submitters → workers
 * (docs/design.md E2).
 *
 * Contract
 *   count_push:        any thread, before its push_chain: one RMW on
 *                      `pushed` that also reads the closed bit (refused once
 *                      set_closed ran). Wait-free.
 *   push_chain:        any thread, concurrently. Wait-free (lib/engine/mpsc.h: one
 *                      exchange, one store); the caller counted its nodes.
 *   try_lock / pop / unlock: a worker takes the single-consumer side with a
 *                      try-lock; a worker that fails it goes stealing instead.
 *   backlog / has_visible: any thread; snapshots.
 *   Nodes are tasks or task batches (lib/engine/task_batch.h). Counts are in
 *   tasks. A batch the consumer took only part of waits in `held`, ahead of
 *   the queue, for the next try-lock holder.
 */
#ifndef WEFT_INJECT_H
#define WEFT_INJECT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/atomic.h"
#include "base/debug.h"
#include "base/prefetch.h"
#include "engine/mpsc.h"
#include "engine/task_batch.h"

typedef struct weft__inject {
  weft__mpsc q;
  /* [closed:1 | nodes pushed, ever:63]. The closed bit shares the word with
   * the count so that a foreign submit counts itself and learns whether it
   * may push in one RMW: every submit's add is ordered before or after
   * close's fetch_or in the word's modification order, so it either sees
   * the bit and backs out or is included in every value stop reads later. */
  WEFT_CACHE_ALIGNED _Atomic uint64_t pushed;
  /* Task batches pushed, ever (lib/engine/task_batch.h). While it equals
   * batches_out no batch is queued, and the chain walk needs no test per
   * node (weft__inject_pop_into). Its own line: the consumer reads it on
   * every batch, and on `pushed`'s line (which every foreign submit RMWs)
   * that read would move the line away from the submitter once per batch;
   * here it changes only when a submit window flushes. */
  WEFT_CACHE_ALIGNED _Atomic uint64_t batches_in;
  WEFT_CACHE_ALIGNED _Atomic uint32_t consumer_busy;
  _Atomic uint64_t popped; /* tasks popped, ever; written under the try-lock */
  /* A batch popped but not yet emptied: written under the try-lock, read by
   * anyone (visibility checks). Its tasks come before the queue's. */
  _Atomic(weft__task *) held;
  uint64_t batches_out; /* batches popped from the queue, ever; under the try-lock */
} weft__inject;

#define WEFT__INJECT_CLOSED (UINT64_C(1) << 63)

static inline uint64_t weft__inject_count_of(uint64_t pushed) {
  return pushed & ~WEFT__INJECT_CLOSED;
}

static inline void weft__inject_init(weft__inject *in) {
  weft__mpsc_init(&in->q);
  weft__store_relaxed(&in->pushed, 0);
  weft__store_relaxed(&in->consumer_busy, 0);
  weft__store_relaxed(&in->popped, 0);
  weft__store_relaxed(&in->held, NULL);
  weft__store_relaxed(&in->batches_in, 0);
  in->batches_out = 0;
}

/* Count n nodes the caller is about to push; false (nothing counted) once
 * the queue is closed. The add's flags give the answer: bit 63 is the sign
 * of the new value (lock add; js on x86, no separate load). */
__attribute__((always_inline)) static inline bool weft__inject_count_push(weft__inject *in,
                                                                           uint64_t n) {
  /* Relaxed: the count and the bit are one word, so the RMW's place in its
   * modification order alone decides (see `pushed`); the node's contents
   * are published by the push's link store, not by this. */
  if (WEFT_UNLIKELY((int64_t)(weft__fetch_add_relaxed(&in->pushed, n) + n) < 0)) {
    /* Not sharing the add's address with it: no lea before the add
     * (atomic.h, WEFT__FORGET): call 98.2 -> 96.8, work 90.0 -> 89.1
     * instructions per task (perf/callgrind.sh). */
    WEFT__FORGET(in);
    weft__fetch_sub_relaxed(&in->pushed, n); /* refused: stop may wait for this to go */
    return false;
  }
  return true;
}

/* Refuse every later count_push (close; once). Returns the count of nodes
 * pushed or being pushed until now. */
static inline uint64_t weft__inject_set_closed(weft__inject *in) {
  /* seq_cst: for count_push alone relaxed would do (one word); stop's load
   * of the engine's submit-window count comes next, and this pairs with a
   * window's seq_cst registration and load of `pushed`
   * (lib/engine/submit_window.c, store-buffering shape). */
  return weft__inject_count_of(weft__fetch_or_seq_cst(&in->pushed, WEFT__INJECT_CLOSED));
}

/* Nodes counted by count_push (or added by a worker's overflow) so far. */
static inline uint64_t weft__inject_pushed(weft__inject *in) {
  return weft__inject_count_of(weft__load_relaxed(&in->pushed));
}

/* Append a chain of nodes. The caller has counted them first (count_push,
 * or a worker's relaxed add for its ring's overflow), and runs the notify
 * check (E5.1) after. */
static inline void weft__inject_push_chain(weft__inject *in, weft__task *first, weft__task *last) {
  /* The push's tail exchange is seq_cst (lib/engine/mpsc.h): for a foreign submit
   * it is the publishing step of E5.1 (weft__engine_notify_after_inject). */
  weft__mpsc_push_chain(&in->q, first, last);
}

/* A flush is about to push a task batch (before its push_chain). */
static inline void weft__inject_count_batch(weft__inject *in) {
  /* Relaxed: the push that follows publishes it (its link's release); a
   * consumer that reaches the batch through that link reads the count after
   * its acquire load of the link, so it sees this add (pop_into relies on
   * it). */
  weft__fetch_add_relaxed(&in->batches_in, 1);
}

/* Under the try-lock: t was just popped from the queue (not taken from
 * `held`); count it if it is a batch. */
static inline void weft__inject_note_popped(weft__inject *in, weft__task *t) {
  if (t && WEFT_UNLIKELY(weft__task_is_batch(t))) in->batches_out++;
}

static inline bool weft__inject_has_visible(weft__inject *in) {
  /* Relaxed (held): written by the try-lock holder before its unlock
   * (release) and before the E5.1 notify it then makes (fence). */
  return weft__mpsc_has_visible(&in->q) || weft__load_relaxed(&in->held) != NULL;
}

/* A node is linked, or a push has exchanged the tail and will link soon:
 * the E5.2/E5.3 re-checks use this, not has_visible, because a foreign
 * submit reads ctl before its link store is known to be visible. */
static inline bool weft__inject_maybe_nonempty(weft__inject *in) {
  /* Acquire: pairs with the link's store_release. seq_cst: the tail load is
   * the re-check's half of the Dekker with the producer's seq_cst exchange
   * and ctl load (after the re-checker's seq_cst fence). */
  return weft__load_acquire(&in->q.head.next) != NULL ||
         weft__load_seq_cst(&in->q.tail) != &in->q.head ||
         weft__load_relaxed(&in->held) != NULL; /* relaxed: as in has_visible */
}

/* Nodes pushed and not yet popped (approximate while others run). */
static inline uint64_t weft__inject_backlog(weft__inject *in) {
  uint64_t popped = weft__load_relaxed(&in->popped);
  uint64_t pushed = weft__inject_pushed(in);
  return pushed > popped ? pushed - popped : 0;
}

static inline bool weft__inject_try_lock(weft__inject *in) {
  if (weft__load_relaxed(&in->consumer_busy)) return false;
  /* Acquire: pairs with the previous consumer's store_release in unlock, so
   * its updates of the queue's head happen before our pops. */
  return weft__xchg_acquire(&in->consumer_busy, 1) == 0;
}

static inline void weft__inject_unlock(weft__inject *in) {
  /* Release: pairs with the next consumer's exchange in try_lock. */
  weft__store_release(&in->consumer_busy, 0);
}

/* Under the try-lock: the oldest node, or NULL (empty, or a push in progress
 * hides the rest: its pusher notifies once it is visible, E2). */
static inline weft__task *weft__inject_pop(weft__inject *in) {
  weft__task *t = weft__mpsc_pop(&in->q);
  return t == WEFT__MPSC_WOULDBLOCK ? NULL : t;
}

/*
 * Under the try-lock, after a pop returned a node: move up to `max` more
 * nodes into slots slot[(tail + i) & mask], i = 0.., and return how many.
 * Interior nodes (those with a linked successor) are taken by walking the
 * links and storing head.next once at the end: no producer writes head.next
 * while a node is linked (a producer stores only into the node it got from
 * the tail, and the tail is not the dummy while nodes are present), so the
 * walk is the same sequence of steps as repeated weft__mpsc_pop fast paths
 * (models/inject.pml) without re-reading head.next. The node that looks
 * last goes through the full pop (tail CAS, WOULDBLOCK).
 */
/* Move up to cnt linked interior nodes, starting at *xp, into slot[0..cnt);
 * stops at a node without a successor. Returns the number moved; *xp is the
 * first node not moved. A batch may be among them: pop_into checks. */
static inline uint32_t weft__inject_walk(weft__task **xp, _Atomic(weft__task *) *slot,
                                         uint32_t cnt) {
  weft__task *x = *xp;
  _Atomic(weft__task *) *s = slot, *end = slot + cnt; /* no counter per node */
  /* The odd one first, then two nodes per iteration, x and then y, so that
   * neither pointer is copied into the other each time round (a register
   * move per node), and one end test per pair. Each way out returns on its
   * own: with the pairs first and one exit block for all, gcc kept the
   * exits' values (s + 1, a copy of x) up to date inside the loop, 13
   * instructions per pair instead of 11 (call 96.8 -> 95.6, work 89.1 ->
   * 86.8 instructions per task, perf/callgrind.sh; the walk's lines 7.2 ->
   * 6.2). The nodes are visited and stored in the same order either way. */
  if (cnt & 1u) {
    weft__task *y = weft__load_acquire(&x->next); /* acquire: as below */
    if (!y) return 0;
    weft__store_relaxed(s++, x);
    x = y;
  }
  while (s != end) {
    /* A read prefetch 16 lines past x, once per pair: a guess that the
     * nodes ahead lie in address order, as the node cache hands them out
     * (64-byte nodes) and as an array of requests does. Each link load is
     * otherwise a miss on a line the submitter's core wrote, taken one at a
     * time because each address comes from the load before; the prefetch
     * overlaps those misses. A wrong guess costs a line fetched for nothing
     * (a prefetch never faults). 16 lines, not 8: a worker that keeps up
     * with its submitter walks the nodes just pushed, and 8 ahead is the
     * node the submitter's own write prefetch has just claimed
     * (node_cache.h). Figures: docs/performance.md, "Inject walk
     * prefetch". */
    __builtin_prefetch((const char *)x + 16 * 64, 0, 3);
    /* Acquire (all three loads): pairs with the successor's producer's link store. */
    weft__task *y = weft__load_acquire(&x->next);
    if (!y) break;
    weft__store_relaxed(&s[0], x);
    weft__task *z = weft__load_acquire(&y->next);
    if (!z) {
      *xp = y;
      return (uint32_t)(s - slot) + 1u;
    }
    weft__store_relaxed(&s[1], y);
    s += 2;
    x = z;
  }
  *xp = x;
  return (uint32_t)(s - slot);
}

/* After a walk that moved n nodes into slot[(tail + i) & mask], with batches
 * queued: the first batch among them (it stays at the head, for the next
 * inject batch to expand: a batch is not a task for a ring) ends the run.
 * Returns the count of tasks before it; *xp becomes the batch. */
static inline uint32_t weft__inject_cut_at_batch(_Atomic(weft__task *) *slot, uint32_t mask,
                                                 uint32_t tail, uint32_t n, weft__task **xp) {
  for (uint32_t i = 0; i < n; i++) {
    weft__task *t = weft__load_relaxed(&slot[(tail + i) & mask]);
    if (weft__task_is_batch(t)) {
      *xp = t;
      return i;
    }
  }
  return n;
}

static inline uint32_t weft__inject_pop_into(weft__inject *in, _Atomic(weft__task *) *slot,
                                             uint32_t mask, uint32_t tail, uint32_t max) {
  if (max == 0) return 0;
  uint32_t n = 0;
  /* Acquire: pairs with the producer's store_release of the link (the
   * node's fields are visible). */
  weft__task *x = weft__load_acquire(&in->q.head.next);
  if (x) {
    /* Two contiguous runs of slots (the ring wraps), so the walk needs no
     * index arithmetic per node. */
    uint32_t at = tail & mask, run = mask + 1 - at;
    if (run > max) run = max;
    n = weft__inject_walk(&x, &slot[at], run);
    if (n == run && n < max) n += weft__inject_walk(&x, &slot[0], max - n);
    /* The walk does not test for batches: a batch it passed was counted
     * before its push, and the acquire loads of the links that led to it
     * come before this load, so a count that matches batches_out means
     * none was passed (inject_count_batch). */
    if (WEFT_UNLIKELY(weft__load_relaxed(&in->batches_in) != in->batches_out)) {
      uint32_t cut = weft__inject_cut_at_batch(slot, mask, tail, n, &x);
      if (cut < n) {
        weft__store_relaxed(&in->q.head.next, x); /* the batch is the head again */
        return cut;
      }
    }
    /* Consumer-owned while nodes are linked (see above). */
    if (n) weft__store_relaxed(&in->q.head.next, x);
    if (n == max) return n;
  }
  weft__task *t = weft__inject_pop(in); /* the last node: full protocol */
  weft__inject_note_popped(in, t);
  if (t && WEFT_UNLIKELY(weft__task_is_batch(t))) {
    weft__store_relaxed(&in->held, t); /* the next inject batch expands it */
  } else if (t) {
    weft__store_relaxed(&slot[(tail + n++) & mask], t);
  }
  return n;
}

/*
 * Under the try-lock: take up to `max` tasks from batch b into
 * slot[(tail + i) & mask], prefetching each task's first line for writing
 * (the misses overlap; the worker writes them when it runs the tasks).
 * Returns how many. The batch goes back to its pool once empty; a part
 * left waits in `held`.
 *
 * Why for writing (PREFETCHW where the processor has it, `prefetchw`):
 * batches come from submit windows, a reactor drain's calls, and the
 * tasks they hold write their own line when they run (queue_work's cancel
 * claim, a lock add; the completion's stores before the reactor push's
 * exchange). A read prefetch brings the line shared and leaves each of
 * those writes an ownership request of its own, one after the other at
 * each task's first locked instruction; the write prefetch asks for all of
 * them at once. W3 at 1 thread, long cells, three alternations in the same
 * minutes: weft 8.76 / 10.75 / 4.82 → 13.09 / 13.14 / 10.49 M completions/s,
 * weft_qw 4.81 / 5.01 / 4.36 → 5.76 / 5.66 / 5.81 M; at 2 and 4 threads,
 * W2 and W5 no change beyond the noise (docs/performance.md). */
static inline uint32_t weft__inject_take_from_batch(weft__inject *in, weft__batch *b,
                                                    _Atomic(weft__task *) *slot, uint32_t mask,
                                                    uint32_t tail, uint32_t max,
                                                    bool prefetchw) {
  uint32_t i = b->next, m = b->n - i;
  if (m > max) m = max;
  for (uint32_t j = 0; j < m; j++) {
    weft__task *t = b->task[i + j];
    weft__prefetch_write(t, prefetchw);
    weft__store_relaxed(&slot[(tail + j) & mask], t);
  }
  b->next = i + m;
  if (b->next == b->n) {
    weft__store_relaxed(&in->held, NULL);
    weft__batch_return(b);
  } else {
    weft__store_relaxed(&in->held, &b->node);
  }
  return m;
}

static inline void weft__inject_count_popped(weft__inject *in, uint32_t n) {
  /* Single writer (the try-lock holder): no RMW needed. */
  uint64_t popped = weft__load_relaxed(&in->popped) + n;
  /* Invariant: nothing is popped that was not pushed (counted before the
   * push, so pushed >= popped at every instant). */
  weft_assert_hot(weft__inject_pushed(in) >= popped);
  weft__store_relaxed(&in->popped, popped);
}

#endif /* WEFT_INJECT_H */
