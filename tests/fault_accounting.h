/*
 * Exactly-once accounting shared by the fault-injection tests: every
 * accepted task must end up in `ran` or `cancelled` (its owner told
 * WEFT_ECANCELED), never in `other` and never nowhere. Include it after
 * <cmocka.h> (its checks use cmocka's assertions).
 */
#ifndef WEFT_TEST_FAULT_ACCOUNTING_H
#define WEFT_TEST_FAULT_ACCOUNTING_H

#include <sched.h>
#include <stdatomic.h>

#include "weft/threadpool.h"

static struct {
  atomic_int accepted, ran, cancelled, other;
} g_acc;

static void task_fn(void *arg) {
  (void)arg;
  atomic_fetch_add(&g_acc.ran, 1);
}
static int call_fn(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  atomic_fetch_add(&g_acc.ran, 1);
  return 0;
}
static void on_result(void *ctx, int status, void *result) {
  (void)ctx;
  (void)result;
  if (status == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
  else if (status != 0) atomic_fetch_add(&g_acc.other, 1);
}
static void work_fn(weft_work *req) {
  (void)req;
  atomic_fetch_add(&g_acc.ran, 1);
}
static void after_fn(weft_work *req, int status) {
  (void)req;
  if (status == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
  else if (status != 0) atomic_fetch_add(&g_acc.other, 1);
}
/* call_in_thread tasks have no owner callback: a cancel goes to the log. */
static void pool_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
}

/* The Team scenario's worker creator: ThreadWorkers (thread factory
 * g_team_factory, NULL for the default), at most 3, a creation failure
 * meaning "no worker" (the team backlogs). */
#include "weft/worker.h"

static atomic_int g_team_workers;
static weft_thread_factory_fn g_team_factory;
static weft_worker *team_create_worker(void *ctx) {
  (void)ctx;
  if (atomic_load(&g_team_workers) >= 3) return NULL;
  weft_worker *w = NULL;
  if (weft_thread_worker_create(&w, g_team_factory, NULL, "fault-team") != 0) return NULL;
  atomic_fetch_add(&g_team_workers, 1);
  return w;
}

/* Destroy a quit Team (retried while it says WEFT_EBUSY, as documented),
 * then check that every accepted task ran or was reported cancelled. */
static void team_destroy_and_check(weft_team *t) {
  int rc;
  while ((rc = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(rc, 0);
  int acc = atomic_load(&g_acc.accepted), ran = atomic_load(&g_acc.ran),
      can = atomic_load(&g_acc.cancelled);
  if (acc != ran + can || atomic_load(&g_acc.other) != 0)
    fail_msg("team: accepted %d != ran %d + cancelled %d (other %d)", acc, ran, can,
             atomic_load(&g_acc.other));
}

/* The reactor scenario: Deferreds from defer_to_thread, each observed once;
 * the reactor stops once every observed Deferred fired. */
#include "weft/deferred.h"
#include "weft/reactor.h"

#define DEFERS 6
typedef struct rx_state {
  weft_reactor *r;
  weft_deferred *ds[DEFERS];
  int nds, observed, fired, all_submitted, stop_called, stranded;
} rx_state;

static void maybe_stop(rx_state *st) {
  if (st->all_submitted && st->fired == st->observed && !st->stop_called) {
    st->stop_called = 1;
    (void)weft_reactor_stop(st->r);
  }
}
static int on_fired(void *ctx, weft_result *res) {
  rx_state *st = ctx;
  if (res->failure) weft_failure_unref(weft_result_take_failure(res));
  st->fired++;
  maybe_stop(st);
  return 0;
}

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "weft/context.h"
#include "weft/threads.h"

/* ----------------------------- scenario: reactor thread APIs + contexts */

/* Every reactor entry point that allocates, with a context current (so each
 * submit also captures it, and the completions carry it back): from the
 * reactor thread call_multiple_in_thread, defer_to_thread_then,
 * reactor_queue_work, call_in_thread; from a plain thread call_from_thread,
 * call_from_thread_req and blocking_call_from_thread. Checks: each accepted
 * completion ran exactly once, each context retain has its release, nothing
 * stays alive. */
static atomic_int g_ctx_retained, g_ctx_released;
static void ctx_retain(void *c) {
  (void)c;
  atomic_fetch_add(&g_ctx_retained, 1);
}
static void ctx_release(void *c) {
  (void)c;
  atomic_fetch_add(&g_ctx_released, 1);
}
static const weft_context_hooks g_ctx_hooks = {ctx_retain, ctx_release, NULL, NULL};
static int g_ctx_token;

typedef struct mx_state {
  weft_reactor *r;
  pthread_t th;
  int th_started;
  atomic_int expect, done; /* completions accepted / run */
  weft_reactor_work rw[3];
  weft_work fw[3];
  weft_work stop_req;
} mx_state;

static void mx_stop_req(weft_work *req) { (void)weft_reactor_stop(req->data); }
static int mx_call(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return 0;
}
static int mx_cb(void *ctx, weft_result *res) {
  mx_state *st = ctx;
  if (res->failure) weft_failure_unref(weft_result_take_failure(res));
  atomic_fetch_add(&st->done, 1);
  return 0;
}
static void mx_rwork(weft_reactor_work *req) { (void)req; }
static void mx_rafter(weft_reactor_work *req, int status) {
  (void)status;
  mx_state *st = req->data;
  atomic_fetch_add(&st->done, 1);
}
static void mx_fn(void *arg) {
  mx_state *st = arg;
  atomic_fetch_add(&st->done, 1);
}
static void mx_req_cb(weft_work *req) {
  mx_state *st = req->data;
  atomic_fetch_add(&st->done, 1);
}
static int mx_blocking(void *arg, weft_result *res) {
  (void)arg;
  (void)res;
  return 0;
}
static void *mx_thread(void *arg) {
  mx_state *st = arg;
  void *prev = weft_context_set(&g_ctx_token);
  int rc = weft_reactor_call_from_thread(st->r, mx_fn, st);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) atomic_fetch_add(&st->expect, 1);
  for (int i = 0; i < 3; i++) {
    st->fw[i].data = st;
    rc = weft_reactor_call_from_thread_req(st->r, &st->fw[i], mx_req_cb);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) atomic_fetch_add(&st->expect, 1);
  }
  void *v = NULL;
  weft_failure *f = NULL;
  rc = weft_blocking_call_from_thread(st->r, mx_blocking, NULL, &v, &f);
  assert_true(rc == 0 || rc == WEFT_ENOMEM || rc == WEFT_ESHUTDOWN);
  if (f) weft_failure_unref(f);
  weft_context_set(prev);
  /* The stop, allocation-free (no context current): queued after ours. */
  st->stop_req.data = st->r;
  assert_int_equal(weft_reactor_call_from_thread_req(st->r, &st->stop_req, mx_stop_req), 0);
  return NULL;
}

static void mx_on_running(void *arg) {
  mx_state *st = arg;
  void *prev = weft_context_set(&g_ctx_token);
  weft_call calls[2] = {{mx_call, NULL}, {mx_call, NULL}};
  int rc = weft_call_multiple_in_thread(st->r, calls, 2);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  for (int i = 0; i < 2; i++) {
    rc = weft_defer_to_thread_then(st->r, mx_call, NULL, mx_cb, mx_cb, st, NULL);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) atomic_fetch_add(&st->expect, 1);
  }
  for (int i = 0; i < 3; i++) {
    st->rw[i].data = st;
    rc = weft_reactor_queue_work(st->r, &st->rw[i], mx_rwork, mx_rafter);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) atomic_fetch_add(&st->expect, 1);
  }
  rc = weft_reactor_call_in_thread(st->r, task_fn, NULL);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  weft_context_set(prev);
  /* The plain thread; if it cannot be made, stop here. */
  if (pthread_create(&st->th, NULL, mx_thread, st) == 0) st->th_started = 1;
  else (void)weft_reactor_stop(st->r);
}

/* The reactor pool's thread factory (NULL: the default). */
static weft_thread_factory_fn g_mx_factory;
static void scenario_reactor_mix(void) {
  mx_state *st = calloc(1, sizeof *st);
  assert_non_null(st);
  atomic_store(&g_ctx_retained, 0);
  atomic_store(&g_ctx_released, 0);
  assert_int_equal(weft_context_set_hooks(&g_ctx_hooks), 0);
  int rc = weft_reactor_create(&st->r);
  if (!(rc == 0 || rc == WEFT_ENOMEM)) fail_msg("create: %d", rc);
  if (rc == 0 && g_mx_factory) {
    weft_threadpool_options o;
    weft_reactor_thread_pool_options_init(&o);
    o.thread_factory = g_mx_factory;
    assert_int_equal(weft_reactor_set_thread_pool_options(st->r, &o), 0);
  }
  if (rc == 0) {
    rc = weft_reactor_call_when_running(st->r, mx_on_running, st);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) {
      rc = weft_reactor_run(st->r);
      if (rc != 0) fail_msg("run: %d", rc);
    }
    if (st->th_started) pthread_join(st->th, NULL);
    assert_int_equal(weft_reactor_destroy(st->r), 0);
    if (atomic_load(&st->expect) != atomic_load(&st->done))
      fail_msg("reactor mix: %d completions accepted, %d ran", atomic_load(&st->expect),
               atomic_load(&st->done));
  }
  assert_int_equal(weft_context_set_hooks(NULL), 0);
  if (atomic_load(&g_ctx_retained) != atomic_load(&g_ctx_released))
    fail_msg("contexts: %d retained, %d released", atomic_load(&g_ctx_retained),
             atomic_load(&g_ctx_released));
  free(st);
}

/* blockingCallFromThread from the only thread of the reactor's pool (both
 * fault tests): the reactor call waits for a deferToThread on that same
 * pool, which only the announced wait's stand-in can run. */
#include "weft/threads.h"
typedef struct bcp_state {
  weft_reactor *r;
  atomic_int rc_seen, done;
  int timed_out;
} bcp_state;
static int bcp_leaf(void *arg, void **result) {
  (void)arg;
  *result = (void *)(intptr_t)42;
  return 0;
}
static int bcp_on_reactor(void *arg, weft_result *res) {
  bcp_state *st = arg;
  weft_deferred *d = NULL;
  int rc = weft_defer_to_thread(st->r, bcp_leaf, NULL, &d);
  if (rc != 0) {
    weft_result_set_failure(res, weft_failure_new(rc, NULL));
    return 0;
  }
  rc = weft_result_set_deferred(res, d);
  weft_deferred_unref(d);
  return rc;
}
/* The pool task's call: records 1 in rc_seen for the round trip's value
 * (42), else the error, then done. Each test then stops the reactor its own
 * way. */
static void bcp_call_and_record(bcp_state *st) {
  void *v = NULL;
  weft_failure *f = NULL;
  int rc = weft_blocking_call_from_thread(st->r, bcp_on_reactor, st, &v, &f);
  if (f) weft_failure_unref(f);
  atomic_store(&st->rc_seen, rc == 0 && v == (void *)(intptr_t)42 ? 1 : rc);
  atomic_store(&st->done, 1);
}

#endif /* WEFT_TEST_FAULT_ACCOUNTING_H */
