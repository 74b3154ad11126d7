/*
 * One-call offload with the result on the loop: weft_reactor_queue_work /
 * weft_reactor_cancel_work (uv_queue_work / uv_cancel), the Deferred path
 * with its callbacks given up front (weft_defer_to_thread*_then), and
 * weft_deferred_cancel removing work that has not started.
 * Synchronisation by gates and counters, never by sleeping.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "weft/threads.h"
#include "test_sync.h"

/* ------------------------------------------------------ queue_work basics */

typedef struct offload_test {
  weft_reactor *r;
  int n, told, bad;
  weft_reactor_work *reqs;
  atomic_int ran;
  int in_cancel;   /* set while weft_reactor_cancel_work runs */
  sync_t gate, started;
  weft_reactor_work blocker;
  int blocker_status;
  int cancelled;
} offload_test;

static void plain_work(weft_reactor_work *req) {
  offload_test *t = req->data;
  if (weft_reactor_is_in_io_thread(t->r)) atomic_fetch_add(&t->ran, 1000000); /* wrong thread */
  atomic_fetch_add(&t->ran, 1);
}

static void plain_after(weft_reactor_work *req, int status) {
  offload_test *t = req->data;
  if (!weft_reactor_is_in_io_thread(t->r) || status != 0 || t->in_cancel) t->bad++;
  if (++t->told == t->n) weft_reactor_stop(t->r);
}

static void submit_all(void *arg) {
  offload_test *t = arg;
  for (int i = 0; i < t->n; i++) {
    t->reqs[i].data = t;
    assert_int_equal(weft_reactor_queue_work(t->r, &t->reqs[i], plain_work, plain_after), 0);
  }
}

static void queue_work_round_trip(void **state) {
  (void)state;
  offload_test t = {.n = 1000};
  t.reqs = calloc((size_t)t.n, sizeof *t.reqs);
  assert_non_null(t.reqs);
  assert_int_equal(weft_reactor_create(&t.r), 0);
  assert_int_equal(weft_reactor_call_when_running(t.r, submit_all, &t), 0);
  assert_int_equal(weft_reactor_run(t.r), 0);
  assert_int_equal(t.told, t.n);
  assert_int_equal(t.bad, 0);
  assert_int_equal(atomic_load(&t.ran), t.n);
  /* After shutdown: refused, nothing accepted. */
  weft_reactor_work late = {0};
  assert_int_equal(weft_reactor_queue_work(t.r, &late, plain_work, plain_after), WEFT_ESHUTDOWN);
  assert_int_equal(weft_reactor_destroy(t.r), 0);
  free(t.reqs);
}

/* ---------------------------------------------------------- cancel on loop */

/* Queued before the reactor runs (the pool exists, not started yet), so
 * every cancel finds its request still queued, whatever the pool's size. */
static void kept_after(weft_reactor_work *req, int status) {
  offload_test *t = req->data;
  t->blocker_status = status;
  if (!weft_reactor_is_in_io_thread(t->r)) t->bad++;
  /* It ran: too late to cancel. */
  if (weft_reactor_cancel_work(t->r, req) != WEFT_EBUSY) t->bad++;
  if (++t->told == t->n + 1) weft_reactor_stop(t->r);
}

static void cancelled_after(weft_reactor_work *req, int status) {
  offload_test *t = req->data;
  if (!weft_reactor_is_in_io_thread(t->r) || t->in_cancel) t->bad++;
  if (status == WEFT_ECANCELED) t->cancelled++;
  if (++t->told == t->n + 1) weft_reactor_stop(t->r);
}

static void queue_work_cancel(void **state) {
  (void)state;
  offload_test t = {.n = 100};
  t.reqs = calloc((size_t)t.n, sizeof *t.reqs);
  assert_non_null(t.reqs);
  assert_int_equal(weft_reactor_create(&t.r), 0);
  for (int i = 0; i < t.n; i++) {
    t.reqs[i].data = &t;
    assert_int_equal(weft_reactor_queue_work(t.r, &t.reqs[i], plain_work, cancelled_after), 0);
  }
  t.blocker.data = &t;
  assert_int_equal(weft_reactor_queue_work(t.r, &t.blocker, plain_work, kept_after), 0);
  t.in_cancel = 1;
  for (int i = 0; i < t.n; i++) assert_int_equal(weft_reactor_cancel_work(t.r, &t.reqs[i]), 0);
  assert_int_equal(weft_reactor_cancel_work(t.r, &t.reqs[0]), WEFT_EALREADY);
  t.in_cancel = 0;
  assert_int_equal(t.told, 0); /* never inside the cancel */
  assert_int_equal(weft_reactor_run(t.r), 0);
  assert_int_equal(t.told, t.n + 1);
  assert_int_equal(t.cancelled, t.n);
  assert_int_equal(t.blocker_status, 0);
  assert_int_equal(t.bad, 0);
  assert_int_equal(atomic_load(&t.ran), 1); /* only the kept one ran */
  assert_int_equal(weft_reactor_destroy(t.r), 0);
  free(t.reqs);
}

static void queue_work_misuse(void **state) {
  (void)state;
  weft_reactor *r, *other;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_create(&other), 0);
  weft_reactor_work req = {0};
  assert_int_equal(weft_reactor_queue_work(NULL, &req, plain_work, plain_after), WEFT_EINVAL);
  assert_int_equal(weft_reactor_queue_work(r, NULL, plain_work, plain_after), WEFT_EINVAL);
  assert_int_equal(weft_reactor_queue_work(r, &req, NULL, plain_after), WEFT_EINVAL);
  assert_int_equal(weft_reactor_queue_work(r, &req, plain_work, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_cancel_work(NULL, &req), WEFT_EINVAL);
  assert_int_equal(weft_reactor_cancel_work(r, NULL), WEFT_EINVAL);
  /* Queued on r (never run: r never runs; destroy tells the owner). */
  offload_test t = {.n = 1};
  t.r = r;
  req.data = &t;
  assert_int_equal(weft_reactor_queue_work(r, &req, plain_work, plain_after), 0);
  assert_int_equal(weft_reactor_cancel_work(other, &req), WEFT_EINVAL);
  /* Refused by other's stopped pool: not ours to promise an after_cb for. */
  weft_threadpool *otp;
  assert_int_equal(weft_reactor_get_thread_pool(other, &otp), 0);
  assert_int_equal(weft_threadpool_stop(otp), 0);
  weft_reactor_work refused = {0};
  assert_int_equal(weft_reactor_queue_work(other, &refused, plain_work, plain_after), WEFT_EQUIT);
  assert_int_equal(weft_reactor_cancel_work(other, &refused), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(other), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
  /* The pool was released during destroy's shutdown: the request ran or
   * was cancelled, and its after_cb ran exactly once, in destroy. */
  assert_int_equal(t.told, 1);
}

/* A request queued again from its own after_cb, on a reactor whose
 * shutdown has begun (ESHUTDOWN): cancel_work must answer EINVAL ("one whose
 * queue_work failed"), not 0 for the last run, which promised an after_cb
 * that never comes. The first run was cancelled by the pool's stop. */
static weft_reactor *rq_r;
static int rq_afters, rq_requeue = 99, rq_cancel = 99;
static void rq_work(weft_reactor_work *req) { (void)req; }
static void rq_after(weft_reactor_work *req, int status) {
  (void)status;
  if (++rq_afters == 1) {
    rq_requeue = weft_reactor_queue_work(rq_r, req, rq_work, rq_after);
    rq_cancel = weft_reactor_cancel_work(rq_r, req);
  }
}
static void rq_go(void *arg) {
  weft_reactor_suggest_thread_pool_size(rq_r, 0); /* stays queued; the stop cancels it */
  if (weft_reactor_queue_work(rq_r, arg, rq_work, rq_after) != 0) rq_afters = -100;
  weft_reactor_stop(rq_r);
}

static void requeue_refused_then_cancel(void **state) {
  (void)state;
  static weft_reactor_work req;
  assert_int_equal(weft_reactor_create(&rq_r), 0);
  assert_int_equal(weft_reactor_call_when_running(rq_r, rq_go, &req), 0);
  assert_int_equal(weft_reactor_run(rq_r), 0);
  assert_int_equal(weft_reactor_destroy(rq_r), 0);
  assert_int_equal(rq_afters, 1);
  assert_int_equal(rq_requeue, WEFT_ESHUTDOWN);
  assert_int_equal(rq_cancel, WEFT_EINVAL);
}

/* ------------------------------------------- Deferred: cancel, _then */

typedef struct dtest {
  weft_reactor *r;
  sync_t gate, started;
  atomic_int second_ran;
  int first_value, first_fired;
  int second_code, second_fired;
  int fired_total;
} dtest;

static int blocking_fn(void *arg, void **result) {
  dtest *t = arg;
  count_up(&t->started);
  gate_wait(&t->gate);
  *result = (void *)(intptr_t)42;
  return 0;
}

static int second_fn(void *arg, void **result) {
  dtest *t = arg;
  atomic_fetch_add(&t->second_ran, 1);
  *result = NULL;
  return 0;
}

static int first_value(void *ctx, weft_result *r) {
  dtest *t = ctx;
  t->first_fired++;
  t->first_value = (int)(intptr_t)r->value;
  weft_reactor_stop(t->r);
  return 0;
}

static int second_failed(void *ctx, weft_result *r) {
  dtest *t = ctx;
  t->second_fired++;
  t->second_code = weft_failure_code(r->failure);
  weft_failure_unref(weft_result_take_failure(r));
  return 0;
}

static int second_value(void *ctx, weft_result *r) {
  (void)r;
  dtest *t = ctx;
  t->second_fired += 100; /* must not happen */
  return 0;
}

/* weft_deferred_cancel on a defer_to_thread Deferred whose work has not
 * started (queued before the reactor runs: its pool is not started yet):
 * the work never runs; the Deferred errbacks once, at once. */
static void deferred_cancel_removes_work(void **state) {
  (void)state;
  dtest t = {0};
  sync_init(&t.gate);
  sync_init(&t.started);
  gate_open(&t.gate); /* blocking_fn does not block here */
  assert_int_equal(weft_reactor_create(&t.r), 0);
  weft_deferred *d1, *d2;
  assert_int_equal(weft_defer_to_thread(t.r, second_fn, &t, &d2), 0);
  assert_int_equal(weft_deferred_add_callbacks(d2, second_value, &t, second_failed, &t), 0);
  assert_int_equal(weft_defer_to_thread_then(t.r, blocking_fn, &t, first_value, NULL, &t, &d1), 0);
  assert_int_equal(weft_deferred_cancel(d2), 0);
  assert_int_equal(t.second_fired, 1); /* errbacked at once */
  assert_int_equal(t.second_code, WEFT_ECANCELED);
  weft_deferred_unref(d2);
  weft_deferred_unref(d1);
  assert_int_equal(weft_reactor_run(t.r), 0); /* the pool is stopped and joined here */
  assert_int_equal(t.first_fired, 1);
  assert_int_equal(t.first_value, 42);
  assert_int_equal(t.second_fired, 1);
  assert_int_equal(atomic_load(&t.second_ran), 0);
  assert_int_equal(weft_reactor_destroy(t.r), 0);
  sync_fini(&t.gate);
  sync_fini(&t.started);
}

static int failing_fn(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return WEFT_EFAILED;
}

static int then_failed(void *ctx, weft_result *r) {
  dtest *t = ctx;
  t->second_fired++;
  t->second_code = weft_failure_code(r->failure);
  weft_failure_unref(weft_result_take_failure(r));
  if (++t->fired_total == 2) weft_reactor_stop(t->r);
  return 0;
}

static int then_value(void *ctx, weft_result *r) {
  dtest *t = ctx;
  t->first_fired++;
  t->first_value = (int)(intptr_t)r->value;
  if (++t->fired_total == 2) weft_reactor_stop(t->r);
  return 0;
}

static int value_fn(void *arg, void **result) {
  (void)arg;
  *result = (void *)(intptr_t)7;
  return 0;
}

static void then_both(void *arg) {
  dtest *t = arg;
  /* No Deferred kept: the callbacks run all the same. */
  assert_int_equal(weft_defer_to_thread_then(t->r, value_fn, NULL, then_value, then_failed, t, NULL), 0);
  weft_deferred *d;
  assert_int_equal(weft_defer_to_thread_then(t->r, failing_fn, NULL, then_value, then_failed, t, &d), 0);
  assert_non_null(d);
  weft_deferred_unref(d);
}

static void defer_then_callbacks(void **state) {
  (void)state;
  dtest t = {0};
  assert_int_equal(weft_reactor_create(&t.r), 0);
  assert_int_equal(weft_reactor_call_when_running(t.r, then_both, &t), 0);
  assert_int_equal(weft_reactor_run(t.r), 0);
  assert_int_equal(t.first_fired, 1);
  assert_int_equal(t.first_value, 7);
  assert_int_equal(t.second_fired, 1);
  assert_int_equal(t.second_code, WEFT_EFAILED);
  assert_int_equal(weft_reactor_destroy(t.r), 0);
}

static void defer_then_misuse(void **state) {
  (void)state;
  dtest t = {0};
  weft_deferred *d = (weft_deferred *)&t;
  assert_int_equal(weft_reactor_create(&t.r), 0);
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create(&tp, 0, 1, "stopped"), 0);
  assert_int_equal(weft_defer_to_thread_pool_then(t.r, tp, value_fn, NULL, NULL, NULL, &t, &d),
                   WEFT_EINVAL);
  assert_null(d);
  assert_int_equal(weft_defer_to_thread_pool_then(NULL, tp, value_fn, NULL, then_value, NULL, &t, &d),
                   WEFT_EINVAL);
  assert_int_equal(weft_defer_to_thread_pool_then(t.r, tp, NULL, NULL, then_value, NULL, &t, &d),
                   WEFT_EINVAL);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_defer_to_thread_pool_then(t.r, tp, value_fn, NULL, then_value, then_failed,
                                                  &t, &d),
                   WEFT_EQUIT);
  assert_null(d);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(weft_reactor_destroy(t.r), 0);
  assert_int_equal(t.first_fired + t.second_fired, 0); /* nothing ran */
}

/* A request refused by another reactor's pool (WEFT_EQUIT: the refusal's
 * mark on it), then queued here from a drain's second call (through the
 * submit window, which never writes the task's link): cancel_work must see
 * it queued and cancel it (0, after_cb WEFT_ECANCELED, work never run).
 * Before queue_work cleared the mark it answered WEFT_EINVAL and the work
 * ran. */
typedef struct requeue_test {
  weft_reactor *r;
  weft_reactor_work *req;
  int queue_rc, cancel_rc;
  int afters, after_status;
  atomic_int ran;
} requeue_test;

static void rfq_work(weft_reactor_work *req) {
  requeue_test *t = req->data;
  atomic_fetch_add(&t->ran, 1);
}

static void rfq_after(weft_reactor_work *req, int status) {
  requeue_test *t = req->data;
  t->afters++;
  t->after_status = status;
  weft_reactor_stop(t->r);
}

static void rfq_first(void *arg) { (void)arg; } /* the drain's first call */

static void rfq_second(void *arg) { /* its second: the window is open */
  requeue_test *t = arg;
  t->queue_rc = weft_reactor_queue_work(t->r, t->req, rfq_work, rfq_after);
  t->cancel_rc = weft_reactor_cancel_work(t->r, t->req);
}

static void cancel_after_refusal_elsewhere(void **state) {
  (void)state;
  weft_reactor *other;
  weft_threadpool *otp;
  static weft_reactor_work req;
  requeue_test t = {.queue_rc = 99, .cancel_rc = 99, .after_status = 99};
  req.data = &t;
  t.req = &req;
  /* Refused by other's pool, stopped through its handle. */
  assert_int_equal(weft_reactor_create(&other), 0);
  assert_int_equal(weft_reactor_get_thread_pool(other, &otp), 0);
  assert_int_equal(weft_threadpool_stop(otp), 0);
  assert_int_equal(weft_reactor_queue_work(other, &req, rfq_work, rfq_after), WEFT_EQUIT);
  assert_int_equal(weft_reactor_destroy(other), 0);
  /* Now queued on r, from the second call of r's first drain. Both calls
   * are queued before run, so they are one snapshot. */
  assert_int_equal(weft_reactor_create(&t.r), 0);
  assert_int_equal(weft_reactor_call_from_thread(t.r, rfq_first, &t), 0);
  assert_int_equal(weft_reactor_call_from_thread(t.r, rfq_second, &t), 0);
  assert_int_equal(weft_reactor_run(t.r), 0);
  assert_int_equal(weft_reactor_destroy(t.r), 0);
  assert_int_equal(t.queue_rc, 0);
  /* weft/reactor.h: 0 (cancelled) if work_cb has not started; the window
   * had not even handed it to the pool. */
  assert_int_equal(t.cancel_rc, 0);
  assert_int_equal(t.afters, 1);
  assert_int_equal(t.after_status, WEFT_ECANCELED);
  assert_int_equal(atomic_load(&t.ran), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(queue_work_round_trip),
      cmocka_unit_test(queue_work_cancel),
      cmocka_unit_test(queue_work_misuse),
      cmocka_unit_test(requeue_refused_then_cancel),
      cmocka_unit_test(deferred_cancel_removes_work),
      cmocka_unit_test(defer_then_callbacks),
      cmocka_unit_test(defer_then_misuse),
      cmocka_unit_test(cancel_after_refusal_elsewhere),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
