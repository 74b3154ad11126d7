/*
 * weft — who gets a queued weft_work: the worker that starts it, or a
 * cancel (uv_cancel's semantics: only a request that has not started can be
 * cancelled).
 *
 * Contract
 *   The request's `owner` word holds its pool (or reactor) and, in its two
 *   low bits, the claim: 0 queued; CLAIMED set by whichever side claims it
 *   first; CANCELLED set with it by a cancel. Submit stores the word with
 *   both bits clear before the request is published (the queue's release
 *   publishes it with the rest of the request).
 *     start  (a worker, once it popped the request): fetch_or(CLAIMED).
 *            The bit was clear: the worker owns the run; work_cb runs.
 *            It was set: a cancel won; work_cb never runs and the owner is
 *            told WEFT_ECANCELED from here (after_cb), once.
 *     cancel (any thread): CLAIMED | CANCELLED set by a CAS while the
 *            CLAIMED bit is clear: the cancel won, the request stays in its
 *            queue until a worker or stop takes it out and tells the owner.
 *            Found set, the word is left as it is: without CANCELLED it
 *            started (WEFT_EBUSY, and so for every later cancel); with
 *            CANCELLED an earlier cancel won (WEFT_EALREADY).
 *   Exactly one side sees the bit clear (both RMW one word, so they are
 *   totally ordered). The cancel writes nothing after its RMW, and the
 *   start path tells the owner only after its own RMW, so neither touches
 *   the request after it was handed back. A request that stop cancels (its
 *   task's cancel callback) is reported once whatever its claim: it never
 *   reached the start step; the callback sets CLAIMED | CANCELLED first, so
 *   that a cancel after it answers WEFT_EALREADY. models/work_cancel.pml
 *   checks this.
 *   Relaxed RMWs on the start path: the word is the only datum the two
 *   sides share; what work_cb and after_cb read was published by the
 *   submit's release. A submit the pool refuses takes the claim too
 *   (CLAIMED alone, after the refusal's mark), so that a cancel racing it
 *   either won first (the submit then tells the owner) or finds the mark
 *   (WEFT_EINVAL): the cancel's load and CAS are acquire/acq_rel for that.
 *   Cost on the start path: one locked bit-test-and-set on the request's
 *   line, which the worker has just read (no extra miss).
 */
#ifndef WEFT_ENGINE_WORK_CLAIM_H
#define WEFT_ENGINE_WORK_CLAIM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/atomic.h"
#include "engine/task.h"

enum {
  WEFT__WORK_CLAIMED = 1,   /* started, or cancelled: decided */
  WEFT__WORK_CANCELLED = 2, /* set with CLAIMED by the cancel that won */
  WEFT__WORK_BITS = 3
};

/* Submit: owner with the claim clear (before the request is published). */
static inline void weft__work_set_owner(weft__work_private *p, void *owner) {
  weft__store_relaxed(&p->owner, (uintptr_t)owner);
}

static inline void *weft__work_owner(weft__work_private *p) {
  return (void *)(weft__load_relaxed(&p->owner) & ~(uintptr_t)WEFT__WORK_BITS);
}

/* The worker's start: true if it owns the run (work_cb may run). A single
 * bit tested: gcc emits `lock bts`. Relaxed: see the contract. */
static inline bool weft__work_claim_start(weft__work_private *p) {
  return (weft__fetch_or_relaxed(&p->owner, (uintptr_t)WEFT__WORK_CLAIMED) &
          (uintptr_t)WEFT__WORK_CLAIMED) == 0;
}

/* The cancel: 0 if it won (work_cb never runs; the owner is told
 * WEFT_ECANCELED when the request leaves its queue), WEFT_EBUSY if the
 * request started (or its submit was refused: the caller reads the mark),
 * WEFT_EALREADY if a cancel won before. A CAS, not a fetch_or: a cancel
 * that loses to the start must leave the word as it is: setting CANCELLED
 * all the same would make every later cancel of a request that ran answer
 * WEFT_EALREADY ("a cancel won, after_cb got WEFT_ECANCELED") for one whose
 * after_cb got 0 (test_cancel cancel_of_a_started_request_stays_busy). */
/* The claim of both cancels below; with any_owner false, only while the
 * word still names owner (else WEFT_EINVAL). Constant arguments: inlined,
 * the test is gone where it is not asked for. */
static inline int weft__work_claim_cancel_if(weft__work_private *p, bool any_owner,
                                             const void *owner) {
  uintptr_t old = weft__load_acquire(&p->owner);
  /* acq_rel (acquire on failure and on the load above), not relaxed: a
   * refused submit's RMW (queue_work_not_accepted, lib/pool/threadpool.c)
   * releases the refusal's mark, which a cancel that finds the claim taken
   * reads after this (WEFT_EINVAL, not WEFT_EBUSY); our release pairs with
   * that RMW's acquire when the cancel comes first. Off the start path. */
  do {
    if (!any_owner && (old & ~(uintptr_t)WEFT__WORK_BITS) != (uintptr_t)owner) return WEFT_EINVAL;
    if (old & WEFT__WORK_CLAIMED) return (old & WEFT__WORK_CANCELLED) ? WEFT_EALREADY : WEFT_EBUSY;
  } while (!weft__cas_acq_rel(&p->owner, &old,
                              old | (uintptr_t)(WEFT__WORK_CLAIMED | WEFT__WORK_CANCELLED)));
  return 0;
}

static inline int weft__work_claim_cancel(weft__work_private *p) {
  return weft__work_claim_cancel_if(p, true, NULL);
}

/* weft__work_claim_cancel for a cancel made on owner's behalf
 * (weft_threadpool_cancel_work's pool): the CAS also requires the word to
 * still name owner, so the claim is decided for owner's submission or not
 * at all. WEFT_EINVAL: req is not owner's any more (its after_cb handed it
 * on, to a reactor or another pool, since the caller looked; a claim
 * clear under a new owner is that owner's to decide). */
static inline int weft__work_claim_cancel_for(weft__work_private *p, const void *owner) {
  return weft__work_claim_cancel_if(p, false, owner);
}

#endif /* WEFT_ENGINE_WORK_CLAIM_H */
