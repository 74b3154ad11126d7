/*
 * Submit windows (lib/engine/submit_window.h): tasks a thread submits while it has
 * a window open stay in the window until it flushes (at close, at its bound,
 * when it moves to another engine, or when its own thread closes the
 * engine), then reach the engine in one push, in order; an engine stopped
 * from another thread waits for the window and its tasks are cancelled
 * there (owner told), never lost and never touched after the engine is
 * freed (ASan would see it); and the reactor's drains use windows without
 * changing what a round trip delivers.
 * No sleeps: every wait is a latch, a counter, or the engine's own stop.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/submit_window.h"
#include "engine/thread_state.h"
#include "test_check.h"
#include "test_sync.h"
#include "weft/threads.h"

#define K 10

typedef struct job {
  weft__task task;
  int id;
} job;

static job g_jobs[WEFT__WINDOW_MAX + 8];
static _Atomic int g_order[WEFT__WINDOW_MAX + 8];
static _Atomic int g_ran, g_cancelled;
static sync_t g_done; /* counts runs and cancels */

static void job_run(weft__task *t) {
  int at = atomic_fetch_add(&g_ran, 1);
  atomic_store(&g_order[at], ((job *)t)->id);
  count_up(&g_done);
}

/* Runs on whichever thread cancels: a window's flush, or an engine's stop
 * or destroy, which the tests below also call from another thread. */
static void job_cancel(weft__task *t, int status) {
  (void)t;
  THREAD_CHECK_EQ(status, WEFT_ECANCELED);
  atomic_fetch_add(&g_cancelled, 1);
  count_up(&g_done);
}

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < (int)(sizeof g_jobs / sizeof g_jobs[0]); i++) {
    g_jobs[i].id = i;
    g_jobs[i].task.run = job_run;
    g_jobs[i].task.cancel = job_cancel;
  }
  atomic_store(&g_ran, 0);
  atomic_store(&g_cancelled, 0);
  sync_init(&g_done);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sync_fini(&g_done);
  return 0;
}

/* One worker, so FIFO is visible in the run order. */
static weft__engine *make_engine(void) {
  weft__engine_config cfg = {.name_prefix = "win", .spin_us = 20, .capacity = 4};
  weft__engine *e = NULL;
  assert_int_equal(weft__engine_create(&e, &cfg), 0);
  weft__engine_set_limit(e, 1);
  assert_int_equal(weft__engine_grow(e, 1, WEFT__MADE_GROW), 1);
  return e;
}

static uint64_t pushed(weft__engine *e) { return weft__inject_pushed(&e->inject); }

static void held_until_close_then_in_order(void **state) {
  (void)state;
  weft__engine *e = make_engine();
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  for (int i = 0; i < K; i++) assert_int_equal(weft__engine_submit(e, &g_jobs[i].task), 0);
  /* Nothing has reached the engine: no count, nothing ran. */
  assert_int_equal(pushed(e), 0);
  assert_int_equal(atomic_load(&g_ran), 0);
  weft__submit_window_close(&w);
  assert_int_equal(pushed(e), K); /* one push of the whole chain */
  count_wait(&g_done, K);
  for (int i = 0; i < K; i++) assert_int_equal(atomic_load(&g_order[i]), i);
  assert_int_equal(weft__engine_destroy(e), 0);
  assert_int_equal(atomic_load(&g_cancelled), 0);
}

static void flushes_at_its_bound(void **state) {
  (void)state;
  weft__engine *e = make_engine();
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  for (int i = 0; i < (int)WEFT__WINDOW_MAX - 1; i++)
    assert_int_equal(weft__engine_submit(e, &g_jobs[i].task), 0);
  assert_int_equal(pushed(e), 0);
  assert_int_equal(weft__engine_submit(e, &g_jobs[WEFT__WINDOW_MAX - 1].task), 0);
  assert_int_equal(pushed(e), WEFT__WINDOW_MAX); /* the bound flushed it */
  assert_int_equal(weft__engine_submit(e, &g_jobs[WEFT__WINDOW_MAX].task), 0);
  assert_int_equal(pushed(e), WEFT__WINDOW_MAX);
  weft__submit_window_close(&w);
  assert_int_equal(pushed(e), WEFT__WINDOW_MAX + 1);
  count_wait(&g_done, WEFT__WINDOW_MAX + 1);
  for (int i = 0; i <= (int)WEFT__WINDOW_MAX; i++) assert_int_equal(atomic_load(&g_order[i]), i);
  assert_int_equal(weft__engine_destroy(e), 0);
}

static void moving_to_another_engine_flushes(void **state) {
  (void)state;
  weft__engine *a = make_engine(), *b = make_engine();
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  for (int i = 0; i < 3; i++) assert_int_equal(weft__engine_submit(a, &g_jobs[i].task), 0);
  assert_int_equal(pushed(a), 0);
  assert_int_equal(weft__engine_submit(b, &g_jobs[3].task), 0);
  assert_int_equal(pushed(a), 3);
  assert_int_equal(pushed(b), 0);
  weft__submit_window_close(&w);
  assert_int_equal(pushed(b), 1);
  count_wait(&g_done, 4);
  assert_int_equal(weft__engine_destroy(a), 0);
  assert_int_equal(weft__engine_destroy(b), 0);
}

/* stop on the window's own thread: what the window holds was submitted
 * before the stop, so it runs (stop runs queued work), nothing is cancelled,
 * and later submits are refused. */
static void stop_on_the_window_thread_runs_what_it_holds(void **state) {
  (void)state;
  weft__engine *e = make_engine();
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  for (int i = 0; i < K; i++) assert_int_equal(weft__engine_submit(e, &g_jobs[i].task), 0);
  assert_int_equal(weft__engine_stop(e), 0);
  assert_int_equal(atomic_load(&g_ran), K);
  assert_int_equal(atomic_load(&g_cancelled), 0);
  assert_int_equal(weft__engine_submit(e, &g_jobs[K].task), WEFT_EQUIT);
  weft__submit_window_close(&w);
  assert_int_equal(weft__engine_destroy(e), 0);
}

/* Another thread that ends the engine (stop or destroy), then opens
 * `returned`. */
typedef struct ender {
  weft__engine *e;
  int (*end)(weft__engine *);
  sync_t returned;
} ender;

static void *end_thread(void *arg) {
  ender *d = arg;
  THREAD_CHECK_EQ(d->end(d->e), 0); /* not the test's thread: no cmocka */
  gate_open(&d->returned);
  return NULL;
}

/* destroy from another thread while our window holds tasks for the engine:
 * it waits for the window (the engine is freed only after our flush, or
 * ASan reports the flush), and the flush, finding the engine closed,
 * cancels every held task with WEFT_ECANCELED. */
static void destroy_elsewhere_waits_and_the_flush_cancels(void **state) {
  (void)state;
  weft__engine *e = make_engine();
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  for (int i = 0; i < K; i++) assert_int_equal(weft__engine_submit(e, &g_jobs[i].task), 0);
  ender d = {.e = e, .end = weft__engine_destroy};
  sync_init(&d.returned);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, end_thread, &d), 0);
  /* Polls engine state, not time: the destroyer cannot free e before our
   * flush, so reading it here is safe exactly when the protocol is. */
  while (!weft__engine_is_closed(e)) sched_yield();
  assert_int_equal(weft__engine_submit(e, &g_jobs[K].task), WEFT_EQUIT);
  assert_int_equal(atomic_load(&g_ran) + atomic_load(&g_cancelled), 0);
  weft__submit_window_close(&w);
  gate_wait(&d.returned);
  pthread_join(th, NULL);
  sync_fini(&d.returned);
  assert_int_equal(atomic_load(&g_cancelled), K);
  assert_int_equal(atomic_load(&g_ran), 0);
}

/* The same with stop, then the statistics: tasks the window accepted and
 * the flush cancelled count as submitted, so submitted = executed +
 * cancelled holds once joined (they were counted as cancelled only). */
static void flush_cancels_count_as_submitted(void **state) {
  (void)state;
  weft__engine *e = make_engine();
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  for (int i = 0; i < K; i++) assert_int_equal(weft__engine_submit(e, &g_jobs[i].task), 0);
  ender d = {.e = e, .end = weft__engine_stop};
  sync_init(&d.returned);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, end_thread, &d), 0);
  while (!weft__engine_is_closed(e)) sched_yield(); /* engine state, as above */
  weft__submit_window_close(&w);
  gate_wait(&d.returned);
  pthread_join(th, NULL);
  sync_fini(&d.returned);
  weft__engine_counters c;
  weft__engine_counters_get(e, &c);
  assert_int_equal(c.cancelled, K);
  assert_int_equal(c.executed, 0);
  assert_int_equal(c.submitted, c.executed + c.cancelled);
  assert_int_equal(weft__engine_destroy(e), 0);
  assert_int_equal(atomic_load(&g_cancelled), K);
}

/* A flush that finds its engine closed tells each owner, and an owner may
 * send its work elsewhere from the cancel callback, through the same
 * window: the task it resubmits to another engine is held like any other
 * and reaches that engine at the window's close; neither engine is left
 * counting the window (stop would wait for ever on the second, and the
 * first would read one below zero). */
static weft__engine *g_fallback_engine;
static job g_fallback[K];
static int g_fallback_rc[K];

static void job_cancel_falls_back(weft__task *t, int status) {
  THREAD_CHECK_EQ(status, WEFT_ECANCELED); /* as job_cancel */
  int id = ((job *)t)->id;
  atomic_fetch_add(&g_cancelled, 1);
  g_fallback_rc[id] = weft__engine_submit(g_fallback_engine, &g_fallback[id].task);
  count_up(&g_done);
}

static void flush_cancel_callbacks_may_submit_elsewhere(void **state) {
  (void)state;
  weft__engine *e1 = make_engine();
  weft__engine *e2 = make_engine();
  g_fallback_engine = e2;
  for (int i = 0; i < K; i++) {
    g_jobs[i].task.cancel = job_cancel_falls_back;
    g_fallback[i] = (job){.task = {.run = job_run, .cancel = job_cancel}, .id = 100 + i};
    g_fallback_rc[i] = -1;
  }
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  for (int i = 0; i < K; i++) assert_int_equal(weft__engine_submit(e1, &g_jobs[i].task), 0);
  ender d = {.e = e1, .end = weft__engine_stop};
  sync_init(&d.returned);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, end_thread, &d), 0);
  while (!weft__engine_is_closed(e1)) sched_yield(); /* engine state, as above */
  weft__submit_window_close(&w);
  gate_wait(&d.returned);
  pthread_join(th, NULL);
  sync_fini(&d.returned);
  for (int i = 0; i < K; i++) assert_int_equal(g_fallback_rc[i], 0);
  assert_int_equal(atomic_load(&e1->windows), 0);
  assert_int_equal(atomic_load(&e2->windows), 0);
  count_wait(&g_done, 2 * K); /* K cancels, then the K resubmitted tasks run on e2 */
  assert_int_equal(atomic_load(&g_cancelled), K);
  assert_int_equal(atomic_load(&g_ran), K);
  assert_int_equal(weft__engine_stop(e2), 0); /* waited for ever on a leaked count */
  weft__engine_counters c;
  weft__engine_counters_get(e2, &c);
  assert_int_equal(c.submitted, K);
  assert_int_equal(c.executed, K);
  assert_int_equal(weft__engine_destroy(e2), 0);
  assert_int_equal(weft__engine_destroy(e1), 0);
}

static void closed_engine_refuses(void **state) {
  (void)state;
  weft__engine *e = make_engine();
  assert_int_equal(weft__engine_stop(e), 0);
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  assert_int_equal(weft__engine_submit(e, &g_jobs[0].task), WEFT_EQUIT);
  weft__submit_window_close(&w);
  assert_int_equal(weft__engine_destroy(e), 0);
  assert_int_equal(atomic_load(&g_ran) + atomic_load(&g_cancelled), 0);
}

static _Atomic int g_worker_open = -1;
static void try_open_on_worker(weft__task *t) {
  weft__submit_window w;
  atomic_store(&g_worker_open, weft__submit_window_open(&w) ? 1 : 0);
  job_run(t);
}

/* A thread that already routes its submits opens no window: a nested open
 * joins the outer window, and an engine worker keeps its own ring. */
static void open_is_refused_when_routed(void **state) {
  (void)state;
  weft__submit_window outer, inner;
  assert_true(weft__submit_window_open(&outer));
  assert_false(weft__submit_window_open(&inner));
  weft__submit_window_close(&outer);
  weft__engine *e = make_engine();
  g_jobs[0].task.run = try_open_on_worker;
  assert_int_equal(weft__engine_submit(e, &g_jobs[0].task), 0);
  count_wait(&g_done, 1);
  assert_int_equal(atomic_load(&g_worker_open), 0);
  assert_int_equal(weft__engine_destroy(e), 0);
}

/* ------------------------------------------------- through the reactor */

typedef struct rloop {
  weft_reactor *r;
  weft_threadpool *tp;
  int fired, on_reactor, ok;
  int stop_pool; /* the submitting callback stops the pool right after */
} rloop;

static int echo(void *arg, void **result) {
  *result = arg;
  return 0;
}

static int on_result(void *ctx, weft_result *res) {
  rloop *l = ctx;
  l->fired++;
  l->on_reactor += weft_reactor_is_in_io_thread(l->r);
  l->ok += res->failure == NULL && res->value == (void *)l;
  if (l->fired == K) weft_reactor_stop(l->r);
  return 0;
}

static void nothing(void *arg) { (void)arg; }

/* Runs in a drain (call_from_thread), after another call of the same
 * snapshot: the reactor has opened its window, and the K submits share it. */
static void submit_k(void *arg) {
  rloop *l = arg;
  assert_non_null(weft__thread_window());
  for (int i = 0; i < K; i++) {
    weft_deferred *d = NULL;
    assert_int_equal(weft_defer_to_thread_pool(l->r, l->tp, echo, l, &d), 0);
    assert_int_equal(weft_deferred_add_callback(d, on_result, l), 0);
    weft_deferred_unref(d);
  }
  /* Stopping the pool here flushes our window first: the K calls run. */
  if (l->stop_pool) assert_int_equal(weft_threadpool_stop(l->tp), 0);
}

static void reactor_round_trips(int stop_pool) {
  rloop l = {.stop_pool = stop_pool};
  assert_int_equal(weft_reactor_create(&l.r), 0);
  assert_int_equal(weft_threadpool_create(&l.tp, 0, 2, "winr"), 0);
  assert_int_equal(weft_threadpool_start(l.tp), 0);
  /* The first completion of a drain runs without a window (a lone one
   * gains nothing from it); the second opens it. */
  assert_int_equal(weft_reactor_call_from_thread(l.r, nothing, NULL), 0);
  assert_int_equal(weft_reactor_call_from_thread(l.r, submit_k, &l), 0);
  assert_int_equal(weft_reactor_run(l.r), 0);
  assert_int_equal(l.fired, K);
  assert_int_equal(l.on_reactor, K);
  assert_int_equal(l.ok, K);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(l.tp, &c), 0);
  assert_int_equal(c.cancelled, 0);
  assert_int_equal(weft_threadpool_destroy(l.tp), 0);
  assert_int_equal(weft_reactor_destroy(l.r), 0);
}

static void reactor_drain_submits_through_a_window(void **state) {
  (void)state;
  reactor_round_trips(0);
}

static void reactor_callback_stops_the_pool_after_submitting(void **state) {
  (void)state;
  reactor_round_trips(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(held_until_close_then_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(flushes_at_its_bound, setup, teardown),
      cmocka_unit_test_setup_teardown(moving_to_another_engine_flushes, setup, teardown),
      cmocka_unit_test_setup_teardown(stop_on_the_window_thread_runs_what_it_holds, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(destroy_elsewhere_waits_and_the_flush_cancels, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(flush_cancels_count_as_submitted, setup, teardown),
      cmocka_unit_test_setup_teardown(flush_cancel_callbacks_may_submit_elsewhere, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(closed_engine_refuses, setup, teardown),
      cmocka_unit_test_setup_teardown(open_is_refused_when_routed, setup, teardown),
      cmocka_unit_test(reactor_drain_submits_through_a_window),
      cmocka_unit_test(reactor_callback_stops_the_pool_after_submitting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
