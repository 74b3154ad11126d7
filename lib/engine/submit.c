/*
 * weft — the routed submit paths (docs/design.md E2, E3 push; the inline
 * foreign path and the contract are in lib/engine/submit.h): a worker's
 * submit to its own ring, and the dispatch on the thread's route.
 */
#include "engine/submit.h"

#include "engine/context.h"
#include "engine/stats.h"

/* The thread has a current context: t goes wrapped in it
 * (lib/engine/context.h), then where the rest of the route says. */
static int submit_in_context(weft__engine *e, weft__task *t) {
  weft__task *w = weft__context_wrap(t);
  if (!w) {
    weft__task_mark_refused(t, e);
    /* No memory for the wrapper, which is taken before the engine looks at
     * its closed bit: a closed engine answers WEFT_EQUIT all the same, as
     * it would with memory (weft/threadpool.h: "also when out of memory
     * then"), else WEFT_ENOMEM. */
    return weft__engine_is_closed(e) ? WEFT_EQUIT : WEFT_ENOMEM;
  }
  /* t travels wrapped: a mark left from an earlier refusal goes (the ring
   * path below never writes t->next). Before the submit: once w is
   * accepted, t may have run and been freed or queued again. */
  atomic_store_explicit(&t->next, NULL, memory_order_relaxed);
  int r = weft__engine_submit_untagged(e, w);
  if (r != 0) {
    (void)weft__context_unwrap(w);
    weft__task_mark_refused(t, e);
  }
  return r;
}

/* The thread has a submit window open, or a current context, or both. */
static __attribute__((noinline)) int submit_tagged(weft__engine *e, weft__task *t,
                                                   uintptr_t route) {
  if (route & WEFT__ROUTE_CONTEXT) return submit_in_context(e, t);
  return weft__submit_window_add((weft__submit_window *)(route - WEFT__ROUTE_WINDOW), e, t);
}

int weft__engine_submit_routed(weft__engine *e, weft__task *t) {
  uintptr_t route = weft__tls.route;
  if (route & WEFT__ROUTE_TAGS) {
    /* A window and no context (a reactor's drain): the add's fast path. */
    if ((route & WEFT__ROUTE_TAGS) == WEFT__ROUTE_WINDOW &&
        weft__submit_window_try_add((weft__submit_window *)(route - WEFT__ROUTE_WINDOW), e, t))
      return WEFT_OK;
    return submit_tagged(e, t, route);
  }
  weft__eworker *w = (weft__eworker *)route;
  if (w->e == e) return weft__engine_submit_local(e, w, t);
  return weft__engine_submit_foreign(e, t);
}

int weft__engine_submit_untagged(weft__engine *e, weft__task *t) {
  uintptr_t route = weft__tls.route;
  if (route & WEFT__ROUTE_WINDOW)
    return weft__submit_window_add((weft__submit_window *)(route & ~WEFT__ROUTE_TAGS), e, t);
  weft__eworker *w = (weft__eworker *)(route & ~WEFT__ROUTE_TAGS);
  if (w == NULL) return weft__engine_submit_foreign(e, t);
  if (w->e == e) return weft__engine_submit_local(e, w, t);
  return weft__engine_submit_foreign(e, t);
}

__attribute__((noinline)) int weft__engine_submit_overflow(weft__engine *e, weft__eworker *w,
                                                           weft__task *t, uint64_t seen,
                                                           bool notify) {
  weft__task *first, *last;
  uint32_t n = WEFT__RING_CAP / 2 + 1;
  if (!weft__ring_take_half(&w->ring, seen, t, &first, &last)) {
    first = last = t;
    n = 1;
  }
  weft__fetch_add_relaxed(&e->inject.pushed, n); /* statistics; nothing races stop here */
  weft__inject_push_chain(&e->inject, first, last);
  weft__add_single_writer(&w->overflowed, n);
  WEFT_PROBE(submit, e, t);
  weft__add_single_writer(&w->local_submits, 1);
  if (notify) weft__engine_notify(e); /* E5.1 */
  return WEFT_OK;
}

/* noinline: kept a call from submit_routed, as before the continuation
 * shared its body (the routed path's code is unchanged). */
__attribute__((noinline)) int weft__engine_submit_local(weft__engine *e, weft__eworker *w,
                                                        weft__task *t) {
  return weft__engine_submit_own(e, w, t);
}

int weft__engine_submit_continuation(weft__engine *e, weft__task *t, bool next) {
  weft__eworker *w = weft__engine_current_worker();
  if (w == NULL || w->e != e) return WEFT_EQUIT;
  /* No closed check: the worker runs what its ring holds before it can exit
   * (should_exit looks for visible work), so a stop runs t as it runs the
   * tasks queued before it; a deadline stop's sweep may cancel it.
   * next: the caller's task is returning, and the worker pops its ring
   * before it looks anywhere else or parks, so t is never stranded there;
   * waking a parked worker for it (E5.1) would only have it find nothing
   * or take t from us. No context is captured (t carries its own). */
  return weft__engine_submit_to_ring(e, w, t, !next);
}

