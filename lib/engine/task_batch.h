/*
 * weft — a task batch: up to WEFT__BATCH_SLOTS task pointers that travel
 * through the engine's inject queue as one node (docs/design.md E8.1).
 *
 * Why: a submit window (lib/engine/submit_window.h) hands its tasks to the engine
 * in one push. As a linked chain, the worker that takes them walks it node
 * by node, and each step is a cache miss on a line the submitter wrote: the
 * misses are serial, and in the W3 profile that walk was 72% of a worker's
 * time. A batch is an array: the worker copies the pointers (a few
 * adjacent lines) into its ring and prefetches every task's line at once,
 * so the misses overlap.
 *
 * Contract
 *   weft__batch_take:    any thread (a window's flush), concurrently with
 *                        other takers and with returns. Lock-free (one CAS
 *                        on the pool's free mask per attempt); NULL when
 *                        every batch is in flight (the caller links a chain
 *                        instead).
 *   fill + push:         the taker owns the batch until its push into the
 *                        inject queue publishes it (the push's release).
 *   consume:             the inject queue's consumer, under its try-lock
 *                        (lib/engine/inject.h): `next` moves on as tasks are taken;
 *                        a batch taken in part waits in `inject.held`.
 *   weft__batch_return:  the consumer that took its last task. Release on
 *                        the mask, paired with take's acquire: the reads of
 *                        task[] happen before the next filler's writes.
 *   The pool (WEFT__BATCH_POOL batches) belongs to its engine, is made on
 *   the first window flush and freed by destroy, after stop drained
 *   everything.
 * Source: the bulk hand-offs of the Go runtime (runqputbatch /
 * globrunqputbatch: a batch of goroutines moved at once) and of DPDK's
 * rte_ring bulk enqueue/dequeue: move pointers in bulk, never chase them.
 */
#ifndef WEFT_TASK_BATCH_H
#define WEFT_TASK_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "base/atomic.h"
#include "engine/task.h"

#define WEFT__BATCH_SLOTS 64u
#define WEFT__BATCH_POOL 64u

typedef struct weft__batch {
  weft__task node;      /* its place in the inject queue; run is the marker */
  uint32_t n;           /* tasks in task[] */
  uint32_t next;        /* the first not taken yet (consumer-owned) */
  uint32_t index;       /* its bit in *free_mask */
  _Atomic uint64_t *free_mask;
  weft__task *task[WEFT__BATCH_SLOTS];
} weft__batch;

/* node.run of every batch; never called (a batch is expanded, not run). */
void weft__batch_marker(weft__task *t);

/* A batch is the one node in an engine's inject queue without a cancel
 * callback: every task an engine accepts has one (E7: stop may have to
 * cancel it), and a batch is cancelled task by task instead. A compare with
 * zero needs no address in a register: the chain walk tests every node. */
static inline bool weft__task_is_batch(const weft__task *t) { return t->cancel == NULL; }

static inline weft__batch *weft__batch_of(weft__task *t) { return (weft__batch *)(void *)t; }

/* Make a pool's batches (all free); NULL on ENOMEM. */
weft__batch *weft__batch_pool_create(_Atomic uint64_t *free_mask);

static inline weft__batch *weft__batch_take(weft__batch *pool, _Atomic uint64_t *free_mask) {
  uint64_t f = weft__load_relaxed(free_mask);
  while (f != 0) {
    uint64_t bit = f & (~f + 1);
    /* Acquire CAS: pairs with return's release, so the last consumer's
     * reads of this batch happen before our writes to it. */
    if (weft__cas_acquire(free_mask, &f, f & ~bit)) return &pool[__builtin_ctzll(bit)];
  }
  return NULL;
}

static inline void weft__batch_return(weft__batch *b) {
  /* Release: pairs with take's acquire CAS (see there). */
  weft__fetch_or_release(b->free_mask, UINT64_C(1) << b->index);
}

#endif /* WEFT_TASK_BATCH_H */
