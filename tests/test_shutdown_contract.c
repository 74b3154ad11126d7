/*
 * The shutdown contract (include/weft/threadpool.h, docs/design.md E7):
 * every accepted task either runs, exactly once, or its owner is told, exactly
 * once, that it never will: after_cb / on_result get WEFT_ECANCELED, a task
 * without an owner callback is reported to the log hook, a Deferred errbacks
 * with WEFT_ECANCELED. stop() runs what is queued when workers exist.
 * Synchronisation: latches and gates (mutex + condition variable) only.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "weft/weft.h"

#include "test_check.h"

typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open, arrived;
} gate;

static void gate_init(gate *g) {
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  g->open = 0;
  g->arrived = 0;
}
static void gate_pass(gate *g) { /* arrive, then wait until open */
  pthread_mutex_lock(&g->mu);
  g->arrived++;
  pthread_cond_broadcast(&g->cv);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}
static void gate_wait_arrived(gate *g, int n) {
  pthread_mutex_lock(&g->mu);
  while (g->arrived < n) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}
static void gate_open(gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = 1;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}
static void gate_destroy(gate *g) {
  pthread_mutex_destroy(&g->mu);
  pthread_cond_destroy(&g->cv);
}

/* ------------------------------------------------------------- accounting */

#define MAXT 4096
static atomic_int g_ran[MAXT], g_cancel[MAXT], g_other[MAXT];
static atomic_int g_next_id;
static atomic_int g_log_cancel;

static void reset(void) {
  for (int i = 0; i < MAXT; i++) {
    atomic_store(&g_ran[i], 0);
    atomic_store(&g_cancel[i], 0);
    atomic_store(&g_other[i], 0);
  }
  atomic_store(&g_next_id, 0);
  atomic_store(&g_log_cancel, 0);
}

static void log_hook(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) atomic_fetch_add(&g_log_cancel, 1);
}

static void fn_task(void *arg) { atomic_fetch_add(&g_ran[(intptr_t)arg], 1); }
static int fn_call(void *arg, void **result) {
  atomic_fetch_add(&g_ran[(intptr_t)arg], 1);
  *result = arg;
  return 0;
}
static void fn_result(void *ctx, int status, void *result) {
  intptr_t id = (intptr_t)ctx;
  if (status == WEFT_ECANCELED) {
    THREAD_CHECK(result == NULL); /* on_result: a pool thread, or stop's or destroy's */
    atomic_fetch_add(&g_cancel[id], 1);
  } else if (status != 0 || (intptr_t)result != id) {
    atomic_fetch_add(&g_other[id], 1);
  }
}
static weft_work g_reqs[MAXT];
static void fn_work(weft_work *req) { atomic_fetch_add(&g_ran[(intptr_t)req->data], 1); }
static void fn_after(weft_work *req, int status) {
  intptr_t id = (intptr_t)req->data;
  if (status == WEFT_ECANCELED) atomic_fetch_add(&g_cancel[id], 1);
  else if (status != 0) atomic_fetch_add(&g_other[id], 1);
}

/* kinds: 0 call_in_thread (owner: the log), 1 with_callback, 2 queue_work
 * with after, 3 queue_work without after (owner: the log). Returns the id or
 * the error. */
static int submit(weft_threadpool *tp, int kind) {
  int id = atomic_fetch_add(&g_next_id, 1);
  THREAD_CHECK(id < MAXT); /* also called from spawner, a pool task */
  int rc;
  switch (kind) {
  case 0: rc = weft_threadpool_call_in_thread(tp, fn_task, (void *)(intptr_t)id); break;
  case 1:
    rc = weft_threadpool_call_in_thread_with_callback(tp, fn_result, (void *)(intptr_t)id, fn_call,
                                                      (void *)(intptr_t)id);
    break;
  case 2:
    g_reqs[id].data = (void *)(intptr_t)id;
    rc = weft_threadpool_queue_work(tp, &g_reqs[id], fn_work, fn_after);
    break;
  default:
    g_reqs[id].data = (void *)(intptr_t)id;
    rc = weft_threadpool_queue_work(tp, &g_reqs[id], fn_work, NULL);
    break;
  }
  if (rc != 0) {
    atomic_store(&g_ran[id], -1000); /* not accepted: excluded below */
    return rc;
  }
  return id;
}

/* Every accepted task: ran once and was not cancelled, or was cancelled once
 * (owner told) and did not run; log-owned cancels are counted in total. */
typedef struct tally {
  int accepted, ran, cancelled_owner, log_owned_unrun;
} tally;

static tally check_exactly_once(int kinds_with_log_owner_mask) {
  (void)kinds_with_log_owner_mask;
  tally t = {0};
  int n = atomic_load(&g_next_id);
  for (int i = 0; i < n; i++) {
    int r = atomic_load(&g_ran[i]), c = atomic_load(&g_cancel[i]);
    if (r < 0) continue;
    t.accepted++;
    assert_int_equal(atomic_load(&g_other[i]), 0);
    if (r > 1 || c > 1 || (r && c)) fail_msg("task %d: ran %d times, cancelled %d times", i, r, c);
    if (r) t.ran++;
    else if (c) t.cancelled_owner++;
    else t.log_owned_unrun++;
  }
  /* A task with no owner callback that never ran was reported to the log. */
  assert_int_equal(t.log_owned_unrun, atomic_load(&g_log_cancel));
  return t;
}

static weft_threadpool *pool(int min, int max) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = min;
  o.max_threads = max;
  o.name = "contract";
  o.log = log_hook;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  return tp;
}

/* ------------------------------------------------------------------ cases */

static void destroy_never_started_cancels_all(void **s) {
  (void)s;
  reset();
  weft_threadpool *tp = pool(2, 4);
  for (int i = 0; i < 40; i++) assert_true(submit(tp, i % 4) >= 0);
  assert_int_equal(weft_threadpool_queue_size(tp), 40);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  tally t = check_exactly_once(0);
  assert_int_equal(t.accepted, 40);
  assert_int_equal(t.ran, 0);
  assert_int_equal(t.cancelled_owner + t.log_owned_unrun, 40);
}

static void stop_with_no_worker_cancels(void **s) {
  (void)s;
  reset();
  weft_threadpool *tp = pool(0, 0); /* started, but may never have a thread */
  assert_int_equal(weft_threadpool_start(tp), 0);
  for (int i = 0; i < 20; i++) assert_true(submit(tp, i % 4) >= 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  tally t = check_exactly_once(0);
  assert_int_equal(t.ran, 0);
  assert_int_equal(t.cancelled_owner + t.log_owned_unrun, 20);
  assert_int_equal(submit(tp, 1), WEFT_EQUIT); /* closed */
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  check_exactly_once(0); /* destroy told nobody twice */
}

static void stop_runs_everything_queued(void **s) {
  (void)s;
  reset();
  weft_threadpool *tp = pool(2, 2);
  for (int i = 0; i < 100; i++) assert_true(submit(tp, i % 4) >= 0); /* before start */
  assert_int_equal(weft_threadpool_start(tp), 0);
  for (int i = 0; i < 1000; i++) assert_true(submit(tp, i % 4) >= 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  tally t = check_exactly_once(0);
  assert_int_equal(t.accepted, 1100);
  assert_int_equal(t.ran, 1100); /* workers existed: nothing cancelled */
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

typedef struct stopper {
  weft_threadpool *tp;
  int rc;
} stopper;
static void *stop_thread(void *arg) {
  stopper *st = arg;
  st->rc = weft_threadpool_stop(st->tp);
  return NULL;
}

static gate g_gate;
static void blocker(void *arg) {
  (void)arg;
  gate_pass(&g_gate);
}

/* Accepted while the pool is open, refused once a stop has closed it; the
 * accepted ones must run like the rest of the backlog. */
static void probe_task(void *arg) { atomic_fetch_add((atomic_int *)arg, 1); }

/* Submit probes until one is refused: then the pool is closed (a stop has
 * begun). Returns how many were accepted; the refusal must be WEFT_EQUIT. */
static int probe_until_closed(weft_threadpool *tp, atomic_int *ran) {
  int accepted = 0, rc;
  while ((rc = weft_threadpool_call_in_thread(tp, probe_task, ran)) == 0) {
    accepted++;
    sched_yield(); /* the stopper needs a core to close the pool */
  }
  THREAD_CHECK_EQ(rc, WEFT_EQUIT);
  return accepted;
}

/* A stop on a thread of its own (st, th), and this thread's probes until it
 * has closed the pool: the stop is then under way. Returns the probes
 * accepted before the close (they must run like the rest). */
static int stop_begun(weft_threadpool *tp, stopper *st, pthread_t *th, atomic_int *probes_ran) {
  *st = (stopper){.tp = tp, .rc = 1};
  assert_int_equal(pthread_create(th, NULL, stop_thread, st), 0);
  atomic_init(probes_ran, 0);
  return probe_until_closed(tp, probes_ran);
}

/* Workers are held inside tasks while a backlog builds and another thread
 * calls stop(); once the stop has closed the pool (a submit is refused),
 * the gate opens: stop must run the whole backlog. */
static void stop_while_busy_drains_backlog(void **s) {
  (void)s;
  reset();
  gate_init(&g_gate);
  weft_threadpool *tp = pool(2, 2);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, blocker, NULL), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, blocker, NULL), 0);
  gate_wait_arrived(&g_gate, 2); /* both workers are busy */
  for (int i = 0; i < 400; i++) assert_true(submit(tp, i % 4) >= 0);
  /* The stop is under way while both workers are still held: probes (not in
   * the tally) are accepted until it closes the pool. */
  stopper st;
  pthread_t th;
  atomic_int probes_ran;
  int probes = stop_begun(tp, &st, &th, &probes_ran);
  assert_int_equal(submit(tp, 0), WEFT_EQUIT); /* closed: excluded from the tally */
  gate_open(&g_gate);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(st.rc, 0);
  tally t = check_exactly_once(0);
  assert_int_equal(t.accepted, 400);
  assert_int_equal(t.ran, 400);
  assert_int_equal(atomic_load(&probes_ran), probes);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  gate_destroy(&g_gate);
}

/* Tasks that submit more tasks while stop() drains: each nested submit is
 * refused (WEFT_EQUIT) or accepted and then accounted like any other. Both
 * happen, whatever the scheduling: the roots that the two workers run first
 * submit while the pool is open, then wait at a gate that opens only once a
 * stop (on another thread) has closed the pool; the spawners that run after
 * that are refused. (Without the gate the stop closed the pool before any
 * spawner ran: every nested submit was refused.) */
#define NEST_DEPTH 20
static weft_threadpool *g_tp;
static atomic_int g_nested_refused;
static gate g_nest_gate;
static void spawner(void *arg) { /* a pool thread */
  int depth = (int)(intptr_t)arg;
  if (depth <= 0) return;
  for (int k = 0; k < 2; k++) {
    int id = submit(g_tp, k % 4);
    if (id == WEFT_EQUIT) atomic_fetch_add(&g_nested_refused, 1);
    else THREAD_CHECK(id >= 0);
  }
  int rc = weft_threadpool_call_in_thread(g_tp, spawner, (void *)(intptr_t)(depth - 1));
  THREAD_CHECK(rc == 0 || rc == WEFT_EQUIT);
  if (depth == NEST_DEPTH) gate_pass(&g_nest_gate); /* a root: hold until closed */
}

static void nested_submits_during_stop(void **s) {
  (void)s;
  reset();
  atomic_store(&g_nested_refused, 0);
  gate_init(&g_nest_gate);
  g_tp = pool(2, 3);
  assert_int_equal(weft_threadpool_start(g_tp), 0);
  for (int i = 0; i < 8; i++)
    assert_int_equal(weft_threadpool_call_in_thread(g_tp, spawner, (void *)(intptr_t)NEST_DEPTH), 0);
  gate_wait_arrived(&g_nest_gate, 2); /* two roots have submitted, pool open */
  stopper st;
  pthread_t th;
  atomic_int probes_ran;
  int probes = stop_begun(g_tp, &st, &th, &probes_ran);
  gate_open(&g_nest_gate);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(st.rc, 0);
  tally t = check_exactly_once(0);
  assert_int_equal(t.ran, t.accepted); /* workers existed until the end */
  assert_true(t.accepted >= 2 * 2);    /* the held roots' submits, at least */
  assert_true(atomic_load(&g_nested_refused) > 0); /* the roots run after the close */
  assert_int_equal(atomic_load(&probes_ran), probes);
  assert_int_equal(weft_threadpool_destroy(g_tp), 0);
  gate_destroy(&g_nest_gate);
}

/* ---------------------------------------------------------------- Deferred */

static int deferred_work(void *arg, void **result) {
  *result = arg;
  return 0;
}

typedef struct outcome {
  int value_calls, error_calls, error_code;
} outcome;
static int record(void *ctx, weft_result *r) {
  outcome *o = ctx;
  if (r->failure) {
    o->error_calls++;
    o->error_code = weft_failure_code(r->failure);
    weft_failure_unref(weft_result_take_failure(r));
  } else {
    o->value_calls++;
  }
  return 0;
}

/* The pool is destroyed before the work ran: the Deferred errbacks with
 * WEFT_ECANCELED on the reactor thread (here: inside reactor destroy, which
 * runs the completions still queued). */
static void deferred_errbacks_when_pool_destroyed(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_threadpool *tp = pool(1, 1); /* never started */
  weft_deferred *d[5];
  outcome o[5];
  memset(o, 0, sizeof o);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(weft_defer_to_thread_pool(r, tp, deferred_work, NULL, &d[i]), 0);
    assert_int_equal(weft_deferred_add_both(d[i], record, &o[i]), 0);
  }
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(weft_deferred_called(d[i]), 1);
    assert_int_equal(o[i].value_calls, 0);
    assert_int_equal(o[i].error_calls, 1);
    assert_int_equal(o[i].error_code, WEFT_ECANCELED);
    weft_deferred_unref(d[i]);
  }
}

/* Reactor shutdown stops its pool, which runs the queued work: every
 * Deferred fires with its value, once, by the time run returns. The work
 * waits at a gate that a helper thread opens only once the shutdown's stop
 * has closed the pool (a probe submit is refused), so the stop begins while
 * the work is still queued or running, however the threads are scheduled. */
#define RX_N 64
typedef struct rx {
  weft_reactor *r;
  weft_threadpool *tp;
  weft_deferred *d[RX_N];
  outcome o[RX_N];
  gate queued; /* opened by the reactor thread: the work is queued */
  gate work;   /* the work waits here until the pool is closed */
  atomic_int probes_ran;
  int probes;
} rx;
static gate *g_rx_work;
static int rx_work(void *arg, void **result) { /* a pool thread */
  gate_pass(g_rx_work);
  *result = arg;
  return 0;
}
static void *rx_opener(void *arg) {
  rx *x = arg;
  gate_pass(&x->queued);
  x->probes = probe_until_closed(x->tp, &x->probes_ran);
  gate_open(&x->work);
  return NULL;
}
static void rx_running(void *arg) {
  rx *x = arg;
  for (int i = 0; i < RX_N; i++) {
    assert_int_equal(weft_defer_to_thread(x->r, rx_work, (void *)(intptr_t)(i + 1), &x->d[i]), 0);
    assert_int_equal(weft_deferred_add_both(x->d[i], record, &x->o[i]), 0);
  }
  assert_int_equal(weft_reactor_get_thread_pool(x->r, &x->tp), 0);
  gate_open(&x->queued);
  assert_int_equal(weft_reactor_stop(x->r), 0); /* the work is still queued or held */
}

static void reactor_shutdown_runs_queued_work(void **s) {
  (void)s;
  rx *x = calloc(1, sizeof *x);
  assert_non_null(x);
  gate_init(&x->queued);
  gate_init(&x->work);
  g_rx_work = &x->work;
  atomic_init(&x->probes_ran, 0);
  assert_int_equal(weft_reactor_create(&x->r), 0);
  pthread_t opener;
  assert_int_equal(pthread_create(&opener, NULL, rx_opener, x), 0);
  assert_int_equal(weft_reactor_call_when_running(x->r, rx_running, x), 0);
  assert_int_equal(weft_reactor_run(x->r), 0);
  assert_int_equal(pthread_join(opener, NULL), 0);
  /* By the time run returns, not at destroy: the shutdown sequence stops the
   * pool, then drains the completions it made. The pool had workers (they
   * held the work at the gate): nothing was cancelled. */
  for (int i = 0; i < RX_N; i++) {
    assert_int_equal(weft_deferred_called(x->d[i]), 1);
    assert_int_equal(x->o[i].error_calls, 0);
    assert_int_equal(x->o[i].value_calls, 1);
  }
  assert_int_equal(atomic_load(&x->probes_ran), x->probes);
  assert_int_equal(weft_reactor_destroy(x->r), 0);
  for (int i = 0; i < RX_N; i++) weft_deferred_unref(x->d[i]);
  gate_destroy(&x->queued);
  gate_destroy(&x->work);
  free(x);
}

/* A Team with no worker: destroy reports each backlogged task (ECANCELED). */
static int g_team_cancels;
static void team_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) g_team_cancels++;
}
static weft_worker *no_worker(void *ctx) {
  (void)ctx;
  return NULL;
}
static void team_destroy_reports_backlog(void **s) {
  (void)s;
  weft_team *t = NULL;
  g_team_cancels = 0;
  assert_int_equal(weft_team_create(&t, NULL, no_worker, NULL, team_log, NULL), 0);
  for (int i = 0; i < 7; i++) assert_int_equal(weft_team_do(t, fn_task, (void *)(intptr_t)0), 0);
  weft_team_statistics st;
  assert_int_equal(weft_team_statistics_get(t, &st), 0);
  assert_int_equal(st.backlogged_work, 7);
  assert_int_equal(weft_team_destroy(t), 0);
  assert_int_equal(g_team_cancels, 7);
}

static void quiet_unhandled(void *ctx, weft_failure *f) {
  (void)ctx;
  (void)f;
}

int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  weft_set_unhandled_failure_hook(quiet_unhandled, NULL);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(destroy_never_started_cancels_all),
      cmocka_unit_test(stop_with_no_worker_cancels),
      cmocka_unit_test(stop_runs_everything_queued),
      cmocka_unit_test(stop_while_busy_drains_backlog),
      cmocka_unit_test(nested_submits_during_stop),
      cmocka_unit_test(deferred_errbacks_when_pool_destroyed),
      cmocka_unit_test(reactor_shutdown_runs_queued_work),
      cmocka_unit_test(team_destroy_reports_backlog),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
