/*
 * weft_threadpool_cancel_work racing the stop that cancels the request.
 *
 * cancel.c reads the request's claim (clear: queued), then asks
 * weft__engine_stopped(). If the stop cancels the request (its after_cb
 * gets WEFT_ECANCELED) and completes between those two reads, the cancel
 * answers WEFT_EINVAL -- "never queued, no after_cb will come" -- for a
 * request whose after_cb has run; the header promises WEFT_EALREADY for
 * "a stop cancelled it".
 *
 * The interleaving is made exact with the linker's --wrap on
 * weft__engine_stopped (tests/cancel_stop_race.cmake): on the cancelling
 * thread the wrapper first runs weft_threadpool_stop to completion on
 * another thread, then answers.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "weft/weft.h"

bool __real_weft__engine_stopped(weft__engine *e);

static _Thread_local int run_stop_first; /* the cancelling thread's request */
static weft_threadpool *g_tp;
static int g_stop_rc = 1;

static void *stop_pool(void *arg) {
  (void)arg;
  g_stop_rc = weft_threadpool_stop(g_tp);
  return NULL;
}

bool __wrap_weft__engine_stopped(weft__engine *e);
bool __wrap_weft__engine_stopped(weft__engine *e) {
  if (run_stop_first) {
    run_stop_first = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, stop_pool, NULL) != 0) abort();
    pthread_join(t, NULL);
  }
  return __real_weft__engine_stopped(e);
}

typedef struct outcome {
  int ran, after_ok, after_cancelled;
} outcome;
static void work_cb(weft_work *req) { ((outcome *)req->data)->ran++; }
static void after_cb(weft_work *req, int status) {
  outcome *o = req->data;
  if (status == 0) o->after_ok++;
  else if (status == WEFT_ECANCELED) o->after_cancelled++;
}

static void cancel_meets_a_stop_that_cancelled_it(void **state) {
  (void)state;
  outcome out = {0};
  weft_work req;
  memset(&req, 0, sizeof req);
  req.data = &out;
  /* Never started: req waits in the backlog; the stop cancels it. */
  assert_int_equal(weft_threadpool_create(&g_tp, 0, 1, "race"), 0);
  assert_int_equal(weft_threadpool_queue_work(g_tp, &req, work_cb, after_cb), 0);
  run_stop_first = 1;
  int c = weft_threadpool_cancel_work(g_tp, &req);
  run_stop_first = 0;
  assert_int_equal(g_stop_rc, 0);
  assert_int_equal(out.ran, 0);
  assert_int_equal(out.after_cancelled, 1); /* the stop told the owner */
  assert_int_equal(out.after_ok, 0);
  /* weft/threadpool.h: WEFT_EALREADY, "a stop cancelled it (its after_cb
   * got WEFT_ECANCELED)"; WEFT_EINVAL would say it was never queued. */
  assert_int_equal(c, WEFT_EALREADY);
  assert_int_equal(weft_threadpool_destroy(g_tp), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cancel_meets_a_stop_that_cancelled_it),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
