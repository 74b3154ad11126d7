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

/* Accept t: it will run, or be cancelled with WEFT_ECANCELED. WEFT_EQUIT
 * once closed (t untouched). E2 push + E5.1 notify. */
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
  if (WEFT_UNLIKELY(!weft__inject_count_push(&e->inject, 1))) return WEFT_EQUIT;
  WEFT_PROBE(submit, e, t);
  weft__inject_push_chain(&e->inject, t, t);
  weft__engine_notify_after_inject(e); /* E5.1, after the exchange (E2) */
  return WEFT_OK;
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
