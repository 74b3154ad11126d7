/*
 * weft — the routed submit paths (docs/design.md E2, E3 push; the inline
 * foreign path and the contract are in lib/engine/submit.h): a worker's
 * submit to its own ring, and the dispatch on the thread's route.
 */
#include "engine/submit.h"

#include "engine/context.h"

/* The thread has a submit window open, or a current context, or both. */
static __attribute__((noinline)) int submit_tagged(weft__engine *e, weft__task *t,
                                                   uintptr_t route) {
  if (route & WEFT__ROUTE_CONTEXT) return weft__context_submit(e, t);
  return weft__submit_window_add((weft__submit_window *)(route - WEFT__ROUTE_WINDOW), e, t);
}

int weft__engine_submit_routed(weft__engine *e, weft__task *t) {
  uintptr_t route = weft__tls.route;
  if (route & WEFT__ROUTE_TAGS) return submit_tagged(e, t, route);
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

int weft__engine_submit_local(weft__engine *e, weft__eworker *w, weft__task *t) {
  /* The worker drains its ring before it can exit, so closing cannot strand
   * this task; the closed check keeps Twisted's "no work after stop". */
  if (weft__load_relaxed(&e->closed)) return WEFT_EQUIT;
  WEFT_PROBE(submit, e, t);
  uint64_t seen = 0;
  if (!weft__ring_push_seen(&w->ring, t, &seen)) {
    /* E3: a full ring moves half of itself plus t to the inject queue. */
    weft__task *first, *last;
    uint32_t n = WEFT__RING_CAP / 2 + 1;
    if (!weft__ring_take_half(&w->ring, seen, t, &first, &last)) {
      first = last = t;
      n = 1;
    }
    weft__fetch_add_relaxed(&e->inject.pushed, n); /* statistics; nothing races stop here */
    weft__inject_push_chain(&e->inject, first, last);
    weft__add_single_writer(&w->overflowed, n);
  }
  weft__add_single_writer(&w->local_submits, 1);
  weft__engine_notify(e); /* E5.1 */
  return WEFT_OK;
}

