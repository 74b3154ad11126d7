/*
 * weft — intrusive MPSC queue of weft__task nodes: wait-free push, FIFO.
 *
 * Contract
 *   push / push_chain:  any number of threads, concurrently with each other and
 *                       with the consumer. Wait-free: one exchange, one store.
 *   pop:                one consumer at a time (callers serialise it themselves:
 *                       an owner thread, or a try-lock). Lock-free for the
 *                       consumer except across a producer stalled between its
 *                       two steps (see WOULDBLOCK).
 *   empty / has_visible: any thread; a snapshot.
 *   Order: FIFO in the order of the producers' exchanges, hence FIFO per
 *   producer thread.
 *
 * Algorithm: the wait-free concurrent queue of liburcu's wfcqueue (Desnoyers,
 * Jiangshan; after Vyukov's intrusive MPSC node queue): a permanent dummy head
 * node, producers exchange the tail and then link the old tail to the new node.
 * We do not call cds_wfcq_* itself: without _LGPL_SOURCE each enqueue would be
 * an out-of-line call into the LGPL shared library, and its atomics are not
 * visible to ThreadSanitizer, so every task hand-off would be reported as a
 * race in the TSan run. This is ~60 lines of C11 atomics instead.
 * concurrencykit has no intrusive wait-free MPSC queue: ck_fifo_mpmc is the
 * Michael-Scott queue (a CAS loop and cmpxchg16b per enqueue, an entry
 * allocated beside each value), and its ck_pr atomics are inline asm on
 * x86-64, as invisible to TSan as liburcu's.
 *
 * The stall: a producer that has exchanged the tail but not yet stored the
 * link hides its node and everything pushed after it. pop() then returns
 * WEFT__MPSC_WOULDBLOCK and the consumer must not assume the queue is empty
 * for ever: every user of this queue has the producer do its wake-up check
 * *after* the link store, so the consumer is told again once the nodes are
 * visible (docs/design.md E2, E5).
 */
#ifndef WEFT_MPSC_H
#define WEFT_MPSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/atomic.h"
#include "engine/task.h"

typedef struct weft__mpsc {
  WEFT_CACHE_ALIGNED weft__task head; /* permanent dummy; head.next = first node */
  WEFT_CACHE_ALIGNED _Atomic(weft__task *) tail; /* last node, or &head when empty */
  char pad_[WEFT_CACHELINE - sizeof(void *)];
} weft__mpsc;

#define WEFT__MPSC_WOULDBLOCK ((weft__task *)(uintptr_t)1)

static inline void weft__mpsc_init(weft__mpsc *q) {
  weft__store_relaxed(&q->head.next, NULL);
  weft__store_relaxed(&q->tail, &q->head);
}

/*
 * A push in its two steps, for a caller that must act between them (the
 * reactor's wake check, lib/loop/reactor.c). push_exchange puts the chain ending
 * in last (linked through ->next; last->next is set to NULL here) at the
 * tail: from then on every emptiness check (weft__mpsc_empty) counts them,
 * but pop() cannot reach them. push_link makes them reachable. Every
 * push_exchange must be followed by its push_link, by the same thread and
 * soon: until then the nodes pushed after it are hidden too (WOULDBLOCK).
 * Returns the previous tail, to pass to push_link; it is &q->head when the
 * queue was empty before this push.
 */
static inline weft__task *weft__mpsc_push_exchange(weft__mpsc *q, weft__task *last) {
  weft__store_relaxed(&last->next, NULL);
  /* seq_cst exchange. Release: our NULL store to last->next (and the caller's
   * writes to the nodes) happen before a later producer, which acquires the
   * tail here, stores into last->next. Acquire: pairs with the previous
   * producer's release (and with the consumer's CAS that reset the tail), so
   * our store into old->next lands after their initialising stores.
   * seq_cst (more than acq_rel): the engine's foreign submit uses this
   * exchange as its publish in the E5.1 Dekker, reading ctl with a seq_cst
   * load right after and no fence (lib/engine/park.h notify_after_inject); it
   * pairs with the fences after the park CAS (E5.2) and the searching
   * decrement (E5.3), whose re-checks load the tail. On x86 the exchange is
   * a locked instruction whatever the order. */
  return weft__xchg_seq_cst(&q->tail, last);
}

static inline void weft__mpsc_push_link(weft__task *old, weft__task *first) {
  /* Release: publishes the nodes' contents; pairs with the load_acquire of
   * ->next in pop(). */
  weft__store_release(&old->next, first);
}

/*
 * Append first..last (already linked through ->next; last->next is set to
 * NULL here). Returns true if the queue was empty before this push — the
 * "was empty" hint a consumer that sleeps uses to be woken once per burst.
 */
static inline bool weft__mpsc_push_chain(weft__mpsc *q, weft__task *first, weft__task *last) {
  weft__task *old = weft__mpsc_push_exchange(q, last);
  weft__mpsc_push_link(old, first);
  return old == &q->head;
}

static inline bool weft__mpsc_push(weft__mpsc *q, weft__task *t) {
  return weft__mpsc_push_chain(q, t, t);
}

/* Nothing pushed and not popped, counting pushes still in progress. */
static inline bool weft__mpsc_empty(weft__mpsc *q) {
  /* Acquire loads: a consumer on another thread re-checking before it sleeps
   * must see a node whose link store it is ordered after (the seq_cst fence
   * of the caller's protocol does the Dekker part; see design.md E5.2). */
  return weft__load_acquire(&q->head.next) == NULL &&
         weft__load_acquire(&q->tail) == &q->head;
}

/* At least one node is linked and can be popped now. */
static inline bool weft__mpsc_has_visible(weft__mpsc *q) {
  /* Acquire: pairs with the producer's store_release of the link. */
  return weft__load_acquire(&q->head.next) != NULL;
}

/* Single consumer. Returns the oldest node, NULL if empty, or
 * WEFT__MPSC_WOULDBLOCK if a producer is between its two steps. */
static inline weft__task *weft__mpsc_pop(weft__mpsc *q) {
  /* Acquire: pairs with the producer's store_release of the link, so the
   * node's fields (run, cancel, payload) are visible. */
  weft__task *node = weft__load_acquire(&q->head.next);
  if (node == NULL) {
    return weft__load_acquire(&q->tail) == &q->head ? NULL : WEFT__MPSC_WOULDBLOCK;
  }
  /* Acquire: as above, for the successor's fields. */
  weft__task *next = weft__load_acquire(&node->next);
  if (next == NULL) {
    /* node looks like the last one: detach it by moving the tail back to
     * the dummy. head.next is cleared first; producers only ever store into
     * the node they got from the tail, so once the CAS succeeds the next
     * producer stores into head.next (after acquiring our release). */
    weft__store_relaxed(&q->head.next, NULL);
    weft__task *expected = node;
    /* acq_rel CAS. Release: our head.next = NULL happens before the next
     * producer's store into head.next (it acquires the tail in its exchange).
     * Acquire: pairs with producers' exchanges. */
    if (weft__cas_acq_rel(&q->tail, &expected, &q->head)) return node;
    /* A producer got node as its old tail and is about to link after it. */
    next = weft__load_acquire(&node->next); /* acquire: pairs with that link store */
    if (next == NULL) {
      weft__store_relaxed(&q->head.next, node); /* put it back; retry later */
      return WEFT__MPSC_WOULDBLOCK;
    }
  }
  weft__store_relaxed(&q->head.next, next);
  return node;
}

#endif /* WEFT_MPSC_H */
