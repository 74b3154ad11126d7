/*
 * weft — submitting a task to an engine (lib/engine/submit.c; E2, E3 push):
 * the inline foreign path (count, exchange, link, notify) and the routed
 * paths of threads that are engine workers or hold a submit window.
 */
#ifndef WEFT_ENGINE_SUBMIT_H
#define WEFT_ENGINE_SUBMIT_H

#include "base/debug.h"
#include "engine/core.h"
#include "engine/park.h"
#include "engine/submit_window.h"

/* submit from one of e's own threads: to the worker's ring. */
int weft__engine_submit_local(weft__engine *e, weft__eworker *w, weft__task *t);
/* A task that continues the one the calling worker of e runs (a lane's
 * hand-off, lib/pool/lane.c): to its ring, accepted even once e is closed
 * (a stop runs it, as work queued before the stop). next: the calling task
 * is about to return, so the worker itself runs t next (unless its ring
 * holds others first): no other worker is woken for it. WEFT_EQUIT from any
 * thread that is not one of e's workers. */
int weft__engine_submit_continuation(weft__engine *e, weft__task *t, bool next);

/* Accept t: it will run, or be cancelled with WEFT_ECANCELED. WEFT_EQUIT
 * once closed (t untouched but for its refusal mark, task.h). E2 push +
 * E5.1 notify. */
__attribute__((always_inline)) static inline int weft__engine_submit_foreign(weft__engine *e,
                                                                            weft__task *t);
/* weft__engine_submit from a thread whose route is set (lib/engine/thread_state.h):
 * a worker of e submits to its ring, a worker of another engine to e's
 * inject queue, a thread with a submit window open into the window. */
int weft__engine_submit_routed(weft__engine *e, weft__task *t);
/* weft__engine_submit_routed without capturing the thread's context (for
 * lib/engine/context.c, whose wrapper node has captured it): the window,
 * ring or inject queue the route picks. */
int weft__engine_submit_untagged(weft__engine *e, weft__task *t);
__attribute__((always_inline)) static inline int weft__engine_submit(weft__engine *e,
                                                                    weft__task *t) {
  weft_assert_hot(t->cancel != NULL); /* the contract above (batches have none) */
  if (WEFT_UNLIKELY(weft__tls.route != 0)) return weft__engine_submit_routed(e, t);
  return weft__engine_submit_foreign(e, t);
}

/* weft__engine_submit from a thread that routes none of its submits
 * (weft__tls.route == 0, the caller checked): E2 push + E5.1 notify. */
__attribute__((always_inline)) static inline int weft__engine_submit_foreign(weft__engine *e,
                                                                            weft__task *t) {
  /* Count ourselves and read the closed bit in one RMW (E7): either close
   * came first and we back out, or stop waits for our node. */
  if (WEFT_UNLIKELY(!weft__inject_count_push(&e->inject, 1))) {
    weft__task_mark_refused(t, e);
    return WEFT_EQUIT;
  }
  WEFT_PROBE(submit, e, t);
  weft__inject_push_chain(&e->inject, t, t);
  weft__engine_notify_after_inject(e); /* E5.1, after the exchange (E2) */
  return WEFT_OK;
}

/* weft__engine_submit_to_ring when w's ring was full (head == seen): E3,
 * half of it plus t go to the inject queue (lib/engine/submit.c). Out of
 * line and reached by a tail call, so the common path saves no registers. */
int weft__engine_submit_overflow(weft__engine *e, weft__eworker *w, weft__task *t, uint64_t seen,
                                 bool notify);

/* t onto w's ring (w is the calling thread's worker of e); notify: E5.1
 * after the push (every submit but a continuation the worker runs next). */
__attribute__((always_inline)) static inline int weft__engine_submit_to_ring(weft__engine *e,
                                                                            weft__eworker *w,
                                                                            weft__task *t,
                                                                            bool notify) {
  uint64_t seen = 0;
  if (WEFT_UNLIKELY(!weft__ring_push_seen(&w->ring, t, &seen)))
    return weft__engine_submit_overflow(e, w, t, seen, notify);
  WEFT_PROBE(submit, e, t);
  weft__add_single_writer(&w->local_submits, 1);
  if (notify) weft__engine_notify(e); /* E5.1 */
  return WEFT_OK;
}

/* A task submitted by w, a worker of e, onto its own ring (the body of
 * weft__engine_submit_local). The worker drains its ring before it can
 * exit, so closing cannot strand the task; the closed check keeps Twisted's
 * "no work after stop". */
__attribute__((always_inline)) static inline int weft__engine_submit_own(weft__engine *e,
                                                                       weft__eworker *w,
                                                                       weft__task *t) {
  if (weft__load_relaxed(&e->closed)) {
    weft__task_mark_refused(t, e);
    return WEFT_EQUIT;
  }
  return weft__engine_submit_to_ring(e, w, t, true);
}

/* weft__engine_submit_routed's common case inline: the calling thread is a
 * worker of e (its route is its worker, untagged): what
 * weft__engine_submit_local does, without the calls. Anything else goes
 * the general way. For a task that submits tasks (W5's spawn) this saves
 * two calls and the route's re-dispatch: 163.8 → 146.7 instructions per
 * task, the binary tree's own 30 included (`perf/callgrind.sh 100000
 * tree`; the foreign paths unchanged). */
__attribute__((always_inline)) static inline int weft__engine_submit_routed_fast(weft__engine *e,
                                                                              weft__task *t) {
  uintptr_t route = weft__tls.route;
  weft__eworker *w = (weft__eworker *)route;
  if (WEFT_LIKELY((route & WEFT__ROUTE_TAGS) == 0) && WEFT_LIKELY(w->e == e))
    return weft__engine_submit_own(e, w, t);
  return weft__engine_submit_routed(e, t);
}

/* weft__submit_window_add's common case inline: w already holds tasks for
 * e, which is open, and t does not fill it. false: nothing done, call
 * weft__submit_window_add (registration, the closed refusal, the flush of
 * a full window). Out of line, with its calls, the add saved and restored
 * four registers and the routed dispatch's frame two more: a reactor round
 * trip (queue_work from a drain, call_from_thread_req back) took 227.1
 * instructions, 195.5 with this; the Deferred one 439.4, 408.1
 * (`bash perf/callgrind.sh 100000 rt rtqw`). */
__attribute__((always_inline)) static inline bool weft__submit_window_try_add(
    weft__submit_window *w, weft__engine *e, weft__task *t) {
  uint32_t n = w->n;
  /* Relaxed `closed`: as in weft__submit_window_add (registered windows
   * are waited for by stop, whose close this is only the early refusal of). */
  if (WEFT_UNLIKELY(w->e != e) || WEFT_UNLIKELY(n + 1 >= WEFT__WINDOW_MAX) ||
      WEFT_UNLIKELY(weft__load_relaxed(&e->closed)))
    return false;
  WEFT_PROBE(submit, e, t);
  w->task[n] = t;
  w->n = n + 1;
  return true;
}

/* The calling thread's submit window holds tasks for e: hand them over now.
 * Called before anything that changes what queued work may expect (close,
 * and the pool's stop before it lowers its limit), so that those tasks are
 * treated as the direct submits they stand for. */
static inline void weft__engine_flush_own_window(weft__engine *e) {
  weft__submit_window *own = weft__thread_window();
  if (WEFT_UNLIKELY(own != NULL) && own->e == e) weft__submit_window_flush(own);
}

#endif /* WEFT_ENGINE_SUBMIT_H */
