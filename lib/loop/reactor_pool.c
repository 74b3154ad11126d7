/*
 * weft — the reactor's thread pool (IReactorThreads): created lazily as
 * ThreadPool(0, 10, "weft.reactor"), started by a "during startup" trigger
 * (or at once if the reactor already runs), stopped, drained and released by
 * a "during shutdown" trigger — which also fires on fireSystemEvent("shutdown")
 * without run(), and on destroy of a reactor that never ran.
 * Reactor thread only.
 */
#include <stdio.h>

#include "base/alloc.h"
#include "loop/reactor_state.h"

static void pool_start(void *arg) {
  weft_reactor *r = arg;
  /* One start per pool: weft's firings do not consume their triggers, so
   * this one leaves by itself (a removal during the firing is a tombstone,
   * swept at its end). Left in, each manual startup, shutdown and new pool
   * added one more to the list, and every later startup ran them all. */
  if (r->pool_start_id) (void)weft_reactor_remove_trigger(r, r->pool_start_id);
  r->pool_start_id = 0;
  if (r->pool) (void)weft_threadpool_start(r->pool); /* EAGAIN: retried on submits */
}

/* Keep tp, whose destroy the stop trigger was refused, until a release
 * can free it. Earlier kept pools whose stops have returned go first; one
 * still inside its stop (tp's stop runs in a callback of its stop) stays,
 * and tp is kept beside it: with a single slot tp was dropped and never
 * freed (test_misuse reactor_pools_kept_when_shutdown_fired_from_nested_stops). */
static void pool_keep(weft_reactor *r, weft_threadpool *tp) {
  weft__reactor_pool_release_kept(r);
  if (r->pool_kept == NULL) {
    r->pool_kept = tp;
    return;
  }
  if (r->kept_more_len == r->kept_more_cap) {
    size_t cap = r->kept_more_cap ? r->kept_more_cap * 2 : 4;
    weft_threadpool **v = weft__malloc(cap * sizeof *v);
    if (v == NULL) { /* tp is never freed: say so */
      weft_log_fn log;
      void *ctx;
      weft__reactor_pool_log(r, &log, &ctx);
      const char *what = "reactor: no memory to keep a pool whose stop refused its destroy";
      if (log) log(ctx, WEFT_ENOMEM, what);
      else fprintf(stderr, "weft: %s\n", what);
      return;
    }
    for (size_t i = 0; i < r->kept_more_len; i++) v[i] = r->kept_more[i];
    /* Stored before the old array is freed: a fork from another thread in
     * between leaves the child only live arrays (as reactor_trigger.c). */
    weft_threadpool **old = r->kept_more;
    r->kept_more = v;
    r->kept_more_cap = cap;
    weft__fence_signal();
    weft__free(old);
  }
  r->kept_more[r->kept_more_len++] = tp;
}

static void pool_stop(void *arg) {
  weft_reactor *r = arg;
  if (r->pool_start_id) weft_reactor_remove_trigger(r, r->pool_start_id);
  if (r->pool_stop_id) weft_reactor_remove_trigger(r, r->pool_stop_id);
  r->pool_start_id = r->pool_stop_id = 0;
  weft_threadpool *tp = r->pool;
  r->pool = NULL; /* the reactor keeps no reference (test_stopThreadPool) */
  /* Runs the backlog, joins. WEFT_EDEADLK, nothing freed: this firing runs
   * inside a callback of tp's own stop (a task's on_result that stop
   * cancelled fired "shutdown" by hand), which goes on using tp. Dropped
   * here, nobody could free it: kept, and destroyed once that stop has
   * returned (test_misuse reactor_pool_kept_when_shutdown_fired_from_its_stop). */
  if (tp && weft_threadpool_destroy(tp) != 0) pool_keep(r, tp);
}

void weft__reactor_pool_release_kept(weft_reactor *r) {
  if (r->pool_kept && weft_threadpool_destroy(r->pool_kept) == 0) r->pool_kept = NULL;
  size_t k = 0;
  for (size_t i = 0; i < r->kept_more_len; i++)
    if (weft_threadpool_destroy(r->kept_more[i]) != 0) r->kept_more[k++] = r->kept_more[i];
  r->kept_more_len = k;
  if (k == 0 && r->kept_more != NULL) { /* cleared before the free, as in pool_keep */
    weft_threadpool **old = r->kept_more;
    r->kept_more = NULL;
    r->kept_more_cap = 0;
    weft__fence_signal();
    weft__free(old);
  }
}

bool weft__reactor_pool_kept_any(const weft_reactor *r) {
  return r->pool_kept != NULL || r->kept_more_len > 0;
}

WEFT_API int weft_reactor_get_thread_pool(weft_reactor *r, weft_threadpool **out) {
  if (out) *out = NULL; /* on every failure (weft/common.h) */
  if (r == NULL) return WEFT_EINVAL;
  if (weft__reactor_stopping(r)) return WEFT_ESHUTDOWN;
  if (r->pool == NULL) {
    weft_threadpool *tp;
    int rc = weft__reactor_pool_create(r, &tp); /* ThreadPool(0, 10, "weft.reactor") or options */
    if (rc != 0) return rc;
    rc = weft_reactor_add_trigger(r, WEFT_DURING, WEFT_SHUTDOWN, pool_stop, r, &r->pool_stop_id);
    if (rc != 0) {
      weft_threadpool_destroy(tp);
      return rc;
    }
    r->pool = tp;
    if (weft_reactor_running(r)) {
      (void)weft_threadpool_start(tp);
    } else {
      rc = weft_reactor_add_trigger(r, WEFT_DURING, WEFT_STARTUP, pool_start, r,
                                    &r->pool_start_id);
      if (rc != 0) {
        pool_stop(r);
        return rc;
      }
    }
  }
  if (out) *out = r->pool;
  return WEFT_OK;
}

WEFT_API int weft_reactor_suggest_thread_pool_size(weft_reactor *r, int size) {
  if (size < 0) return WEFT_EINVAL; /* -1 would read as WEFT_KEEP */
  weft_threadpool *tp;
  int rc = weft_reactor_get_thread_pool(r, &tp);
  /* The pool could not be made (no pool here: r->pool is set only once it
   * is): a size below the min it would have had is WEFT_EINVAL, as the
   * adjust below answers with memory, not the creation's WEFT_ENOMEM. */
  if (rc == WEFT_ENOMEM && r->pool == NULL && size < weft__reactor_pool_min(r)) return WEFT_EINVAL;
  if (rc != 0) return rc;
  return weft_threadpool_adjust_poolsize(tp, WEFT_KEEP, size);
}

WEFT_API int weft_reactor_call_in_thread(weft_reactor *r, weft_fn fn, void *arg) {
  if (fn == NULL) return WEFT_EINVAL;
  weft_threadpool *tp;
  int rc = weft_reactor_get_thread_pool(r, &tp);
  if (rc != 0) return rc;
  return weft_threadpool_call_in_thread(tp, fn, arg);
}
