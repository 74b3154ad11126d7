/*
 * weft — submit windows (lib/engine/submit_window.h has the contract).
 *
 * The one cross-thread question is stop racing a window's registration: a
 * window that counted itself in e->windows must see the closed bit if stop
 * did not see its count, and the other way round. Both sides are seq_cst
 * (store-buffering shape, as E5): the window's fetch_add of `windows`
 * before its load of `pushed`, stop's fetch_or of the closed bit before its
 * load of `windows` (weft__engine_stop). Either the window sees the bit and
 * backs out, or stop sees the window and waits for its flush.
 */
#include "engine/submit_window.h"

#include "engine/core.h"
#include "engine/park.h"
#include "engine/task_batch.h"

_Static_assert(WEFT__BATCH_SLOTS == WEFT__WINDOW_MAX, "a batch holds one full window");

bool weft__submit_window_open(weft__submit_window *w) {
  uintptr_t route = weft__tls.route;
  if ((route & ~WEFT__ROUTE_CONTEXT) != 0) return false; /* a worker, or a window open */
  w->e = NULL;
  w->n = 0;
  weft__tls.route = (uintptr_t)w | WEFT__ROUTE_WINDOW | route; /* keeps the context bit */
  return true;
}

void weft__submit_window_close(weft__submit_window *w) {
  while (w->e != NULL) weft__submit_window_flush(w); /* cancel callbacks may add again */
  weft__tls.route &= WEFT__ROUTE_CONTEXT;
}

static bool engine_closed(weft__engine *e) {
  /* seq_cst: the window's half of the registration Dekker (file comment);
   * pairs with the seq_cst fetch_or in weft__inject_set_closed. */
  return (weft__load_seq_cst(&e->inject.pushed) & WEFT__INJECT_CLOSED) != 0;
}

/* A free task batch of e for a flush, or NULL (none free, or no memory for
 * the pool): the caller then links a chain. Any thread. */
static weft__batch *engine_batch_take(weft__engine *e) {
  /* Acquire: pairs with the release store below, so the pool's contents
   * (markers, indices) are visible before we use a batch. */
  weft__batch *pool = weft__load_acquire(&e->batch_pool);
  if (WEFT_UNLIKELY(pool == NULL)) {
    pthread_mutex_lock(&e->mu); /* once per engine: the first flush makes the pool */
    pool = weft__load_relaxed(&e->batch_pool);
    if (pool == NULL && (pool = weft__batch_pool_create(&e->batch_free)) != NULL) {
      weft__store_relaxed(&e->batch_free, UINT64_MAX);
      /* Release: publishes the pool's initialisation (and the mask) to
       * the acquire load above in other threads. */
      weft__store_release(&e->batch_pool, pool);
    }
    pthread_mutex_unlock(&e->mu);
    if (pool == NULL) return NULL; /* ENOMEM: chains, as before batches */
  }
  return weft__batch_take(pool, &e->batch_free);
}

int weft__submit_window_add(weft__submit_window *w, weft__engine *e, weft__task *t) {
  if (WEFT_UNLIKELY(w->e != e)) {
    /* A flush that cancels runs owners' callbacks, which may submit here
     * (to e, or register yet another engine): flush until w is free or e's. */
    while (w->e != NULL && w->e != e) weft__submit_window_flush(w);
  }
  if (WEFT_UNLIKELY(w->e != e)) {
    /* seq_cst: registration before the closed check (file comment); pairs
     * with stop's seq_cst load of windows. */
    weft__fetch_add_seq_cst(&e->windows, 1);
    if (engine_closed(e)) {
      /* Release: as in flush, our reads of e happen before stop frees it. */
      weft__fetch_sub_acq_rel(&e->windows, 1);
      weft__task_mark_refused(t, e);
      return WEFT_EQUIT;
    }
    w->e = e;
  } else if (WEFT_UNLIKELY(weft__load_relaxed(&e->closed))) {
    /* Closed since we registered: refuse as a direct submit would (what
     * the window already holds is cancelled at its flush). */
    weft__task_mark_refused(t, e);
    return WEFT_EQUIT;
  }
  WEFT_PROBE(submit, e, t);
  w->task[w->n] = t;
  if (++w->n >= WEFT__WINDOW_MAX) weft__submit_window_flush(w);
  return WEFT_OK;
}

void weft__submit_window_flush(weft__submit_window *w) {
  weft__engine *e = w->e;
  if (!e) return;
  uint32_t n = w->n;
  w->n = 0;
  w->e = NULL; /* before any callback below: a submit from one registers afresh */
  if (n) {
    if (WEFT_LIKELY(weft__inject_count_push(&e->inject, n))) {
      /* One node for all n: a batch (E8.1), whose worker copies pointers
       * instead of walking a chain; a chain when none is free. */
      weft__batch *b = n > 1 ? engine_batch_take(e) : NULL;
      weft__task *first, *last;
      if (b) {
        b->n = n;
        b->next = 0;
        for (uint32_t i = 0; i < n; i++) b->task[i] = w->task[i];
        first = last = &b->node; /* published by the push (its release) */
        weft__inject_count_batch(&e->inject);
      } else {
        for (uint32_t i = 0; i + 1 < n; i++) weft__store_relaxed(&w->task[i]->next, w->task[i + 1]);
        first = w->task[0];
        last = w->task[n - 1];
      }
      weft__inject_push_chain(&e->inject, first, last);
      weft__engine_notify_after_inject(e); /* E5.1, after the exchange (E2) */
    } else {
      /* Closed after these were accepted: each owner is told (E7). The
       * callbacks may submit again through w: it is emptied and
       * unregistered from here first (e stays counted until the end). */
      weft__task *task[WEFT__WINDOW_MAX];
      for (uint32_t i = 0; i < n; i++) task[i] = w->task[i];
      weft__fetch_add_relaxed(&e->window_cancelled, n); /* submitted, for the statistics */
      /* false: a callback forked and we are the child, whose engine
       * counted no window of ours (w->e was cleared above): none is taken
       * off (engine_fork.c). */
      if (!weft__engine_cancel_tasks(e, task, n)) return;
    }
  }
  /* Release: our last accesses to e happen before weft__engine_stop's
   * acquire load reads the count that lets destroy free e. */
  weft__fetch_sub_acq_rel(&e->windows, 1);
}
