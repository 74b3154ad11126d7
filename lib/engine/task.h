/*
 * weft — the internal task node every queue in weft carries.
 *
 * One intrusive node type for the engine's inject queue and run rings, the
 * thread worker's queue, the coordinator and the reactor's completion queue,
 * so that a task is never copied and a round trip (submit → run → complete on
 * the loop) moves one node through three queues without an allocation.
 *
 * Ownership: from a successful enqueue until run() or cancel() is called the
 * node belongs to the queue. Exactly one of run() / cancel() is called per
 * accepted node; after that call the queue never touches the node again, so
 * either callback may free or reuse it.
 */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include <stdatomic.h>
#include <stdint.h>
#include "weft/work.h"

typedef struct weft__task weft__task;

struct weft__task {
  _Atomic(weft__task *) next;                 /* queue link; owned by the queue */
  void (*run)(weft__task *t);                 /* execute (in a worker) */
  void (*cancel)(weft__task *t, int status);  /* will never run: tell the owner */
};

/* A task an engine refused (its submit returned an error) carries that
 * engine's address with bit 0 set in `next`, which no queue link has (nodes
 * are aligned), until weft_threadpool_queue_work submits it again (it clears
 * `next` first: the ring and submit-window paths never write it, and a new
 * engine may live at a destroyed one's address). Why: weft_threadpool_cancel_work
 * must tell a request that queue_work refused from a queued one, and the
 * refusals are cold branches of the submit paths, where the store costs the
 * accepted path nothing (clearing the owner in queue_work instead lost its
 * tail call: 7 instructions per task). Relaxed: the refusing submit and a
 * later cancel_work are ordered by the caller, who saw the refusal. */
static inline void weft__task_mark_refused(weft__task *t, const void *engine) {
  atomic_store_explicit(&t->next, (weft__task *)((uintptr_t)engine | 1u), memory_order_relaxed);
}
static inline int weft__task_refused_by(weft__task *t, const void *engine) {
  return atomic_load_explicit(&t->next, memory_order_relaxed) ==
         (weft__task *)((uintptr_t)engine | 1u);
}
/* By any engine: for a caller that cannot reach the engine any more. */
static inline int weft__task_refused(weft__task *t) {
  return ((uintptr_t)atomic_load_explicit(&t->next, memory_order_relaxed) & 1u) != 0;
}

/* The private layout of a public weft_work (see weft/work.h). */
typedef struct weft__work_private {
  weft__task task;
  weft_work_cb work;
  /* Atomic (relaxed, a plain move on x86-64): weft_threadpool_cancel_work
   * reads it from any thread while an after_cb may be queueing the request
   * again, which writes it (found by review: a data race under TSan). */
  _Atomic(weft_after_work_cb) after;
  /* The pool or reactor it was submitted to; its low two bits are the
   * request's claim (lib/engine/work_claim.h): one word, so that a cancel
   * and a worker's start decide their race with one RMW each, and
   * weft_work keeps its size. */
  _Atomic uintptr_t owner;
} weft__work_private;

_Static_assert(sizeof(weft__work_private) <= sizeof(((weft_work *)0)->weft_private_),
               "weft_work private area too small");

static inline weft__work_private *weft__work_priv(weft_work *w) {
  return (weft__work_private *)(void *)w->weft_private_;
}

#endif /* WEFT_TASK_H */
