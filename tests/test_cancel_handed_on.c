/*
 * weft_threadpool_cancel_work racing a request that ran and is handed on.
 *
 * A request is the caller's again in its after_cb, which may hand it on at
 * once: back to the loop with weft_reactor_call_from_thread_req (the
 * queue_work round trip of examples/http_server), or to another pool.
 * cancel.c checks that the request belongs to tp, then claims it. If the
 * after_cb hands the request on between the two, the claim met the new
 * owner's clear claim word and won it: the cancel answered 0 ("cancelled:
 * after_cb gets WEFT_ECANCELED") for a request that had run, whose
 * after_cb got 0 and would never be told again (the reactor's callback ran
 * it all the same, or a re-queue with a bad argument left it with no
 * owner), or it cancelled the other pool's submission. The answer must be
 * WEFT_EINVAL: by the time of the claim, req is not tp's.
 *
 * The interleaving is made exact with the linker's --wrap on
 * weft__threadpool_engine (tests/cancel_handed_on.cmake), which cancel.c
 * calls between its owner check and its claim: on the cancelling thread
 * the wrapper lets the pool thread, waiting inside the after_cb, hand the
 * request on, and waits until it has.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "test_sync.h"
#include "weft/weft.h"

weft__engine *__real_weft__threadpool_engine(const weft_threadpool *tp);

static _Thread_local int hand_on_first; /* the cancelling thread's request */
static sync_t g_in_after, g_go, g_handed;

weft__engine *__wrap_weft__threadpool_engine(const weft_threadpool *tp);
weft__engine *__wrap_weft__threadpool_engine(const weft_threadpool *tp) {
  if (hand_on_first) {
    hand_on_first = 0;
    gate_open(&g_go);          /* the pool thread hands req on now */
    count_wait(&g_handed, 1);  /* and has, before the cancel goes on */
  }
  return __real_weft__threadpool_engine(tp);
}

typedef struct outcome {
  atomic_int ran, after_ok, after_cancelled, back;
  weft_reactor *r;       /* hand back to this reactor, or */
  weft_threadpool *next; /* queue again on this pool, or */
  int bad_requeue;       /* queue again without work_cb (refused) */
  int requeue_rc;
} outcome;

static void work_cb(weft_work *req) { atomic_fetch_add(&((outcome *)req->data)->ran, 1); }
static void back_cb(weft_work *req) { atomic_fetch_add(&((outcome *)req->data)->back, 1); }
static void after_cb(weft_work *req, int status);

/* The first after_cb (status 0, pool thread) waits until the cancel has
 * checked the owner, then hands req on; later ones only count. */
static void after_cb(weft_work *req, int status) {
  outcome *o = req->data;
  if (status == WEFT_ECANCELED) {
    atomic_fetch_add(&o->after_cancelled, 1);
    return;
  }
  if (atomic_fetch_add(&o->after_ok, 1) != 0) return;
  count_up(&g_in_after);
  gate_wait(&g_go);
  if (o->r) o->requeue_rc = weft_reactor_call_from_thread_req(o->r, req, back_cb);
  else if (o->bad_requeue) o->requeue_rc = weft_threadpool_queue_work(o->next, req, NULL, after_cb);
  else o->requeue_rc = weft_threadpool_queue_work(o->next, req, work_cb, after_cb);
  count_up(&g_handed);
}

static weft_threadpool *one_thread_pool(const char *name) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 1;
  o.strict_cap = 1;
  o.name = name;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  return tp;
}

static void setup_syncs(void) {
  sync_init(&g_in_after);
  sync_init(&g_go);
  sync_init(&g_handed);
}

static void fini_syncs(void) {
  sync_fini(&g_in_after);
  sync_fini(&g_go);
  sync_fini(&g_handed);
}

/* Runs req on tp and cancels it while its after_cb hands it on. */
static int cancel_while_handed_on(weft_threadpool *tp, weft_work *req) {
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_queue_work(tp, req, work_cb, after_cb), 0);
  count_wait(&g_in_after, 1); /* it ran; its after_cb waits */
  hand_on_first = 1;
  int c = weft_threadpool_cancel_work(tp, req);
  hand_on_first = 0;
  return c;
}

/* Handed back to the loop (the queue_work round trip): the cancel came too
 * late to stop anything, so it must not promise an after_cb. */
static void cancel_meets_a_hand_back_to_the_loop(void **state) {
  (void)state;
  setup_syncs();
  outcome out;
  memset(&out, 0, sizeof out);
  weft_work req;
  memset(&req, 0, sizeof req);
  req.data = &out;
  assert_int_equal(weft_reactor_create(&out.r), 0);
  weft_threadpool *tp = one_thread_pool("handback");
  int c = cancel_while_handed_on(tp, &req);
  assert_int_equal(weft_threadpool_destroy(tp), 0); /* the after_cb has returned */
  assert_int_equal(out.requeue_rc, 0);
  assert_int_equal(weft_reactor_destroy(out.r), 0); /* runs the queued back_cb */
  assert_int_equal(atomic_load(&out.ran), 1);
  assert_int_equal(atomic_load(&out.after_ok), 1);
  assert_int_equal(atomic_load(&out.back), 1);
  /* 0 would promise an after_cb(WEFT_ECANCELED) that never comes. */
  assert_int_equal(atomic_load(&out.after_cancelled), 0);
  assert_int_equal(c, WEFT_EINVAL);
  fini_syncs();
}

/* Queued again on another pool: that submission is not tp's to cancel. */
static void cancel_meets_a_requeue_on_another_pool(void **state) {
  (void)state;
  setup_syncs();
  outcome out;
  memset(&out, 0, sizeof out);
  weft_work req;
  memset(&req, 0, sizeof req);
  req.data = &out;
  weft_threadpool *tp = one_thread_pool("first");
  out.next = one_thread_pool("second"); /* never started: req waits there */
  int c = cancel_while_handed_on(tp, &req);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(out.requeue_rc, 0);
  assert_int_equal(c, WEFT_EINVAL);
  /* Still the second pool's, queued and not cancelled: its own cancel wins. */
  assert_int_equal(weft_threadpool_cancel_work(out.next, &req), 0);
  assert_int_equal(weft_threadpool_destroy(out.next), 0);
  assert_int_equal(atomic_load(&out.ran), 1);
  assert_int_equal(atomic_load(&out.after_ok), 1);
  assert_int_equal(atomic_load(&out.after_cancelled), 1); /* the second pool's cancel */
  fini_syncs();
}

/* Queued again with a bad argument (no work_cb): queue_work refuses it and
 * clears its owner (docs/misuse.md row 77), and nothing will ever hold it:
 * a cancel that came through the owner check before must not claim the
 * cleared word and promise an after_cb. */
static void cancel_meets_a_refused_bad_requeue(void **state) {
  (void)state;
  setup_syncs();
  outcome out;
  memset(&out, 0, sizeof out);
  weft_work req;
  memset(&req, 0, sizeof req);
  req.data = &out;
  weft_threadpool *tp = one_thread_pool("bad");
  out.next = tp;
  out.bad_requeue = 1;
  int c = cancel_while_handed_on(tp, &req);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(out.requeue_rc, WEFT_EINVAL);
  assert_int_equal(atomic_load(&out.ran), 1);
  assert_int_equal(atomic_load(&out.after_ok), 1);
  assert_int_equal(atomic_load(&out.after_cancelled), 0); /* nobody will tell it */
  assert_int_equal(c, WEFT_EINVAL);
  fini_syncs();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cancel_meets_a_hand_back_to_the_loop),
      cmocka_unit_test(cancel_meets_a_requeue_on_another_pool),
      cmocka_unit_test(cancel_meets_a_refused_bad_requeue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
