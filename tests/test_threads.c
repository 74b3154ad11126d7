/*
 * twisted.internet.threads and the reactor thread APIs on the real pool:
 * Twisted cases 49-72 (docs/cases-reactor.md maps each), cancellation,
 * shutdown releasing blocked callers, and the deferToThread round-trip
 * stress (10^6 with 1,000 in flight when WEFT_STRESS_FULL=1).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "loop/reactor_state.h" /* r->pool: the C equivalent of the weakref checks */
#include "weft/threads.h"
#include "test_check.h"
#include "test_sync.h"

static void stop_it(void *arg) { weft_reactor_stop(arg); }
/* From a pool thread: no cmocka there. */
static void stop_from_thread(weft_reactor *r) {
  THREAD_CHECK_EQ(weft_reactor_call_from_thread(r, stop_it, r), 0);
}

static int g_unhandled;
static void count_unhandled(void *ctx, weft_failure *f) {
  (void)ctx;
  (void)f;
  g_unhandled++;
}
static int setup(void **state) {
  (void)state;
  g_unhandled = 0;
  weft_set_unhandled_failure_hook(count_unhandled, NULL);
  return 0;
}

/* ------------------------------------------------- 49, 65: pool size */

static void suggest_thread_pool_size(void **state) {
  (void)state;
  weft_reactor *r;
  weft_threadpool *tp;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_suggest_thread_pool_size(r, 34), 0);
  assert_int_equal(weft_reactor_get_thread_pool(r, &tp), 0);
  assert_int_equal(weft_threadpool_max(tp), 34);
  assert_int_equal(weft_reactor_suggest_thread_pool_size(r, 4), 0);
  assert_int_equal(weft_threadpool_max(tp), 4);
  assert_int_equal(weft_reactor_suggest_thread_pool_size(r, 17), 0); /* case 65 */
  assert_int_equal(weft_threadpool_max(tp), 17);
  assert_int_equal(weft_threadpool_min(tp), 0); /* Twisted's reactor pool: (0, 10) */
  assert_int_equal(weft_reactor_suggest_thread_pool_size(r, -1), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* -------------------------------- 50, 67, 71, 72: which thread runs what */

typedef struct where {
  weft_reactor *r;
  int in_io_thread_in_pool;   /* -1 until measured */
  int in_io_thread_from_thread;
  int in_io_thread_running;
} where;

static void on_reactor(void *arg) {
  where *w = arg;
  w->in_io_thread_from_thread = weft_reactor_is_in_io_thread(w->r);
  weft_reactor_stop(w->r);
}

static void in_pool(void *arg) {
  where *w = arg;
  w->in_io_thread_in_pool = weft_reactor_is_in_io_thread(w->r);
  /* case 67: callInThread(callFromThread, f) → f on the reactor thread */
  THREAD_CHECK_EQ(weft_reactor_call_from_thread(w->r, on_reactor, w), 0); /* a pool thread */
}

static void check_running(void *arg) {
  where *w = arg;
  w->in_io_thread_running = weft_reactor_is_in_io_thread(w->r);
}

static void call_in_thread_and_back(void **state) {
  (void)state;
  where w = {NULL, -1, -1, -1};
  assert_int_equal(weft_reactor_create(&w.r), 0);
  /* case 72: submitted before run() */
  assert_int_equal(weft_reactor_call_in_thread(w.r, in_pool, &w), 0);
  assert_int_equal(weft_reactor_call_when_running(w.r, check_running, &w), 0);
  assert_int_equal(weft_reactor_run(w.r), 0);
  assert_int_equal(w.in_io_thread_in_pool, 0);      /* 50, 72 */
  assert_int_equal(w.in_io_thread_from_thread, 1);  /* 67 */
  assert_int_equal(w.in_io_thread_running, 1);      /* 71 */
  assert_int_equal(weft_reactor_destroy(w.r), 0);
}

/* --------------------------------------- 51, 52: callFromThread, overflow */

typedef struct cft {
  weft_reactor *r;
  int from_reactor, from_pool;
  long overflow_calls, overflow_ran;
} cft;

static void mark_reactor(void *arg) {
  cft *c = arg;
  c->from_reactor++;
}
static void noop_count(void *arg) {
  cft *c = arg;
  c->overflow_ran++;
}
static void mark_pool_and_stop(void *arg) {
  cft *c = arg;
  c->from_pool++;
  assert_int_equal(c->overflow_ran, c->overflow_calls); /* FIFO from that thread */
  weft_reactor_stop(c->r);
}

static void pool_caller(void *arg) {
  cft *c = arg;
  /* case 52: back-to-back calls never fail (Twisted: waker overflow) */
  for (long i = 0; i < c->overflow_calls; i++)
    THREAD_CHECK_EQ(weft_reactor_call_from_thread(c->r, noop_count, c), 0); /* a pool thread */
  THREAD_CHECK_EQ(weft_reactor_call_from_thread(c->r, mark_pool_and_stop, c), 0);
}

static void start_both(void *arg) {
  cft *c = arg;
  assert_int_equal(weft_reactor_call_from_thread(c->r, mark_reactor, c), 0);
  assert_int_equal(weft_reactor_call_in_thread(c->r, pool_caller, c), 0);
}

static void call_from_thread_both_sides(void **state) {
  (void)state;
  cft c = {0};
  c.overflow_calls = 100000;
  assert_int_equal(weft_reactor_create(&c.r), 0);
  assert_int_equal(weft_reactor_call_when_running(c.r, start_both, &c), 0);
  assert_int_equal(weft_reactor_run(c.r), 0);
  assert_int_equal(c.from_reactor, 1);
  assert_int_equal(c.from_pool, 1);
  assert_int_equal(c.overflow_ran, c.overflow_calls);
  assert_int_equal(weft_reactor_destroy(c.r), 0);
}

/* ------------------------------------------- 53-56: blockingCallFromThread */

typedef struct bcft {
  weft_reactor *r;
  int mode; /* 0 succeed, 1 async success, 2 fail, 3 async fail */
  int rc;
  void *value;
  weft_failure *failure;
  weft_deferred *later;
} bcft;

static void fire_later(void *arg) {
  bcft *b = arg;
  if (b->mode == 1) weft_deferred_callback(b->later, "egg");
  else weft_deferred_errback(b->later, weft_failure_new(WEFT_EFAILED, "spam"));
  weft_deferred_unref(b->later);
}

static int on_reactor_thread_fn(void *ctx, weft_result *r) {
  bcft *b = ctx;
  assert_true(weft_reactor_is_in_io_thread(b->r));
  weft_deferred *d;
  switch (b->mode) {
  case 0:
    assert_int_equal(weft_succeed(&d, "foo"), 0);
    break;
  case 2:
    assert_int_equal(weft_fail(&d, weft_failure_new(WEFT_EFAILED, "bar")), 0);
    break;
  default:
    assert_int_equal(weft_deferred_create(&d), 0);
    b->later = weft_deferred_ref(d);
    assert_int_equal(weft_reactor_call_later(b->r, 0.01, fire_later, b, NULL), 0);
  }
  int rc = weft_result_set_deferred(r, d);
  weft_deferred_unref(d);
  return rc;
}

static void blocking_caller(void *arg) {
  bcft *b = arg;
  b->rc = weft_blocking_call_from_thread(b->r, on_reactor_thread_fn, b, &b->value, &b->failure);
  stop_from_thread(b->r);
}

static void blocking_call_from_thread_cases(void **state) {
  (void)state;
  const char *want_value[] = {"foo", "egg", NULL, NULL};
  const char *want_msg[] = {NULL, NULL, "bar", "spam"};
  for (int mode = 0; mode < 4; mode++) {
    bcft b = {0};
    b.mode = mode;
    assert_int_equal(weft_reactor_create(&b.r), 0);
    assert_int_equal(weft_reactor_call_in_thread(b.r, blocking_caller, &b), 0);
    assert_int_equal(weft_reactor_run(b.r), 0);
    if (want_value[mode]) {
      assert_int_equal(b.rc, 0);
      assert_string_equal(b.value, want_value[mode]);
      assert_null(b.failure);
    } else {
      assert_int_equal(b.rc, WEFT_EFAILED);
      assert_non_null(b.failure);
      assert_string_equal(weft_failure_message(b.failure), want_msg[mode]);
      weft_failure_unref(b.failure);
    }
    assert_int_equal(weft_reactor_destroy(b.r), 0);
  }
  assert_int_equal(g_unhandled, 0); /* the waiter consumed every failure */
}

static int never_called(void *ctx, weft_result *r) {
  (void)ctx;
  (void)r;
  fail_msg("must not run");
  return 0;
}

static void check_deadlock(void *arg) {
  weft_reactor *r = arg;
  void *v = (void *)1;
  assert_int_equal(weft_blocking_call_from_thread(r, never_called, NULL, &v, NULL), WEFT_EDEADLK);
  assert_null(v);
  weft_reactor_stop(r);
}

static void blocking_call_guards(void **state) {
  (void)state;
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_blocking_call_from_thread(NULL, never_called, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_blocking_call_from_thread(r, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_call_when_running(r, check_deadlock, r), 0);
  assert_int_equal(weft_reactor_run(r), 0);
  /* stopped: refused at once instead of hanging */
  assert_int_equal(weft_blocking_call_from_thread(r, never_called, NULL, NULL, NULL), WEFT_ESHUTDOWN);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* fn returns a Deferred that the program then drops unfired while the
 * reactor keeps running: the caller is told WEFT_ECANCELED (it can never
 * fire), not WEFT_ESHUTDOWN (the reactor is not shutting down). */
static weft_reactor *dd_r;
static weft_deferred *dd_d;
static int dd_rc = 99, dd_running = -1;
static void dd_drop(void *arg) {
  (void)arg;
  weft_deferred_unref(dd_d);
  dd_d = NULL;
}
static int dd_fn(void *ctx, weft_result *res) {
  (void)ctx;
  if (weft_deferred_create(&dd_d) != 0) return WEFT_ENOMEM;
  weft_result_set_deferred(res, dd_d); /* the chain waits on it (its own reference) */
  return weft_reactor_call_later(dd_r, 0, dd_drop, NULL, NULL); /* then it goes, unfired */
}
static void *dd_caller(void *arg) {
  (void)arg;
  dd_rc = weft_blocking_call_from_thread(dd_r, dd_fn, NULL, NULL, NULL);
  dd_running = weft_reactor_running(dd_r);
  weft_reactor_call_from_thread(dd_r, (weft_fn)(void *)weft_reactor_stop, dd_r);
  return NULL;
}

static void blocking_call_on_a_dropped_deferred(void **state) {
  (void)state;
  assert_int_equal(weft_reactor_create(&dd_r), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, dd_caller, NULL), 0);
  assert_int_equal(weft_reactor_run(dd_r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(dd_rc, WEFT_ECANCELED);
  assert_int_equal(dd_running, 1);
  assert_int_equal(weft_reactor_destroy(dd_r), 0);
}

/* fn returns a Deferred the program keeps; the reactor shuts down (the
 * caller is released with WEFT_ESHUTDOWN) and is destroyed; the Deferred
 * goes after that, unfired, as weft/deferred.h allows: its entry must not
 * read the freed reactor (ASan: use after free). */
static weft_reactor *ka_r;
static weft_deferred *ka_d;
static int ka_rc = 99;
static int ka_fn(void *ctx, weft_result *res) {
  (void)ctx;
  if (weft_deferred_create(&ka_d) != 0) return WEFT_ENOMEM;
  weft_result_set_deferred(res, ka_d);
  weft_reactor_stop(ka_r);
  return 0;
}
static void *ka_caller(void *arg) {
  (void)arg;
  ka_rc = weft_blocking_call_from_thread(ka_r, ka_fn, NULL, NULL, NULL);
  return NULL;
}

static void blocking_call_deferred_outlives_reactor(void **state) {
  (void)state;
  assert_int_equal(weft_reactor_create(&ka_r), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, ka_caller, NULL), 0);
  assert_int_equal(weft_reactor_run(ka_r), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(ka_rc, WEFT_ESHUTDOWN);
  assert_int_equal(weft_reactor_destroy(ka_r), 0);
  weft_deferred_unref(ka_d); /* unfired, after the reactor */
}

/* Shutdown releases callers blocked on the reactor (twisted#10124 hangs).
 * BLOCKED pool threads each call blocking_call_from_thread with a function
 * that returns a Deferred nobody fires; the last of those functions to run
 * (all the callers are waiting by then) schedules the reactor's stop. */
#define BLOCKED 3
typedef struct release_state {
  weft_reactor *r;
  weft_deferred *never[BLOCKED]; /* what fn returns: never fired */
  int calls;                     /* returns_never runs, reactor thread */
  int rc[BLOCKED];
  int waiters_done;
  pthread_mutex_t mu;
} release_state;

static int returns_never(void *ctx, weft_result *r) {
  release_state *s = ctx;
  assert_true(s->calls < BLOCKED); /* once per blocked caller */
  int i = s->calls++;
  assert_int_equal(weft_deferred_create(&s->never[i]), 0);
  /* fn runs on the reactor: the caller now waits for ever unless released */
  if (s->calls == BLOCKED) assert_int_equal(weft_reactor_call_later(s->r, 0, stop_it, s->r, NULL), 0);
  return weft_result_set_deferred(r, s->never[i]);
}

static void blocked_pool_thread(void *arg) {
  release_state *s = arg;
  int rc = weft_blocking_call_from_thread(s->r, returns_never, s, NULL, NULL);
  pthread_mutex_lock(&s->mu);
  s->rc[s->waiters_done++] = rc;
  pthread_mutex_unlock(&s->mu);
}

static void shutdown_releases_blocked_callers(void **state) {
  (void)state;
  release_state s = {0};
  pthread_mutex_init(&s.mu, NULL);
  assert_int_equal(weft_reactor_create(&s.r), 0);
  for (int i = 0; i < BLOCKED; i++)
    assert_int_equal(weft_reactor_call_in_thread(s.r, blocked_pool_thread, &s), 0);
  /* run returns only if the blocked pool threads were released: the pool is
   * stopped and joined during shutdown */
  assert_int_equal(weft_reactor_run(s.r), 0);
  assert_int_equal(s.calls, BLOCKED);
  assert_int_equal(s.waiters_done, BLOCKED);
  for (int i = 0; i < BLOCKED; i++) {
    assert_int_equal(s.rc[i], WEFT_ESHUTDOWN);
    weft_deferred_unref(s.never[i]); /* dies unfired: the waiter record is freed */
  }
  assert_int_equal(weft_reactor_destroy(s.r), 0);
  pthread_mutex_destroy(&s.mu);
}

/* "shutdown" fired by hand while the reactor runs: its triggers stop the
 * pool and join its threads on the reactor thread, so a pool thread that
 * starts a blockingCallFromThread meanwhile is refused (WEFT_ESHUTDOWN)
 * instead of waiting for a reactor that waits for it (a hang before). */
typedef struct manual_shutdown {
  weft_reactor *r;
  sync_t go, started;
  int rc;
} manual_shutdown;

static void late_blocker(void *arg) {
  manual_shutdown *m = arg;
  count_up(&m->started);
  gate_wait(&m->go); /* opened by a "before shutdown" trigger */
  m->rc = weft_blocking_call_from_thread(m->r, never_called, NULL, NULL, NULL);
}
static void open_go(void *arg) { gate_open(&((manual_shutdown *)arg)->go); }
static void fire_shutdown_by_hand(void *arg) {
  manual_shutdown *m = arg;
  count_wait(&m->started, 1);
  assert_int_equal(weft_reactor_fire_system_event(m->r, WEFT_SHUTDOWN), 0);
  weft_reactor_stop(m->r);
}

static void manual_shutdown_refuses_new_blocked_callers(void **state) {
  (void)state;
  manual_shutdown m = {0};
  m.rc = 1;
  sync_init(&m.go);
  sync_init(&m.started);
  assert_int_equal(weft_reactor_create(&m.r), 0);
  assert_int_equal(weft_reactor_add_trigger(m.r, WEFT_BEFORE, WEFT_SHUTDOWN, open_go, &m, NULL), 0);
  assert_int_equal(weft_reactor_call_in_thread(m.r, late_blocker, &m), 0);
  assert_int_equal(weft_reactor_call_from_thread(m.r, fire_shutdown_by_hand, &m), 0);
  assert_int_equal(weft_reactor_run(m.r), 0);
  assert_int_equal(m.rc, WEFT_ESHUTDOWN);
  assert_int_equal(weft_reactor_destroy(m.r), 0);
  sync_fini(&m.go);
  sync_fini(&m.started);
}

/* A reactor that never runs: destroy releases a thread blocked on it. */
typedef struct never_run {
  weft_reactor *r;
  int rc;
} never_run;

static void *block_on_never_run(void *arg) {
  never_run *n = arg;
  n->rc = weft_blocking_call_from_thread(n->r, never_called, NULL, NULL, NULL);
  return NULL;
}

static int has_blocked(weft_reactor *r) {
  pthread_mutex_lock(&r->block_lock);
  int yes = r->blocked.next != &r->blocked;
  pthread_mutex_unlock(&r->block_lock);
  return yes;
}

static void destroy_releases_blocked_caller(void **state) {
  (void)state;
  never_run n = {NULL, 1};
  assert_int_equal(weft_reactor_create(&n.r), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, block_on_never_run, &n), 0);
  while (!has_blocked(n.r)) sched_yield(); /* until it is registered */
  assert_int_equal(weft_reactor_destroy(n.r), 0); /* its fn never runs */
  pthread_join(t, NULL);
  assert_int_equal(n.rc, WEFT_ESHUTDOWN);
}

/* A reactor callback stops a pool of its own while one of the pool's
 * tasks waits in blockingCallFromThread for the reactor: the stop joins the
 * task's thread, and the task waits for the thread that joins it (Twisted
 * hangs the same way; weft hung too). The stop releases the wait with
 * WEFT_EDEADLK, refuses one the task starts while the stop joins it, and
 * the call never runs. */
typedef struct stop_vs_blocked {
  weft_reactor *r;
  weft_threadpool *tp;
  int rc1, rc2, stop_rc;
  bool with_deadline; /* weft_threadpool_stop_timeout instead of stop */
  weft_threadpool_stop_report report;
  atomic_int fn_ran;
} stop_vs_blocked;

static int svb_fn(void *ctx, weft_result *res) {
  stop_vs_blocked *s = ctx;
  atomic_fetch_add(&s->fn_ran, 1);
  weft_result_set_value(res, s);
  return 0;
}
static void svb_task(void *arg) {
  stop_vs_blocked *s = arg;
  s->rc1 = weft_blocking_call_from_thread(s->r, svb_fn, s, NULL, NULL);
  /* The stop is joining this thread now: a new wait would never end. */
  s->rc2 = weft_blocking_call_from_thread(s->r, svb_fn, s, NULL, NULL);
}
static void svb_stop_pool(void *arg) { /* on the reactor thread */
  stop_vs_blocked *s = arg;
  while (!has_blocked(s->r)) sched_yield(); /* the task waits for us */
  /* A deadline far beyond the test's run: without the release it is what
   * ends the stop (WEFT_ETIMEDOUT, the thread left running). */
  s->stop_rc = s->with_deadline ? weft_threadpool_stop_timeout(s->tp, 30000, &s->report)
                                : weft_threadpool_stop(s->tp);
  assert_int_equal(weft_reactor_stop(s->r), 0);
}

/* before_run: the task begins to wait before the reactor runs, when the
 * reactor has no thread to name; a startup trigger (call_when_running) then
 * stops the pool. The wait learns the reactor's thread when the run sets
 * it, and the stop releases it the same way (this hung: the wait was
 * registered with the reactor alone; models/join_wait.pml, old
 * -DNOT_YET_RUN). */
static void run_stop_vs_blocked(bool before_run, bool with_deadline) {
  stop_vs_blocked s = {0};
  s.rc1 = s.rc2 = s.stop_rc = 1;
  s.with_deadline = with_deadline;
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_threadpool_create(&s.tp, 1, 1, "svb"), 0);
  assert_int_equal(weft_threadpool_start(s.tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread(s.tp, svb_task, &s), 0);
  if (before_run)
    while (!has_blocked(s.r)) sched_yield(); /* the task waits, before the run */
  assert_int_equal(weft_reactor_call_when_running(s.r, svb_stop_pool, &s), 0);
  assert_int_equal(weft_reactor_run(s.r), 0); /* hung here before */
  assert_int_equal(s.stop_rc, 0);
  assert_int_equal(s.report.running, 0);
  assert_int_equal(s.rc1, WEFT_EDEADLK);
  assert_int_equal(s.rc2, WEFT_EDEADLK);
  assert_int_equal(atomic_load(&s.fn_ran), 0); /* the refused calls never ran */
  assert_int_equal(weft_threadpool_destroy(s.tp), 0);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
}

static void stop_from_reactor_releases_blocked_pool_thread(void **state) {
  (void)state;
  run_stop_vs_blocked(false, false);
}

static void stop_from_startup_releases_pool_thread_blocked_before_run(void **state) {
  (void)state;
  run_stop_vs_blocked(true, false);
}

/* The same with a deadline: stop_timeout joins the pool too, and waited out
 * its deadline before (WEFT_ETIMEDOUT, the thread left running). */
static void stop_timeout_from_reactor_releases_blocked_pool_thread(void **state) {
  (void)state;
  run_stop_vs_blocked(false, true);
}

/* ----------------------------------------- 57: callMultipleInThread */

typedef struct multi {
  weft_reactor *r;
  int list[10];
  int n;
  pthread_t thread[10];
  int finished_list_len;
} multi;

typedef struct multi_arg {
  multi *m;
  int i;
} multi_arg;

static int append_i(void *arg, void **result) {
  (void)result;
  multi_arg *a = arg;
  a->m->thread[a->m->n] = pthread_self();
  a->m->list[a->m->n++] = a->i;
  return 0;
}

static void finished(void *arg) {
  multi *m = arg;
  m->finished_list_len = m->n;
  weft_reactor_stop(m->r);
}

static int call_from_thread_finished(void *arg, void **result) {
  (void)result;
  multi *m = arg;
  return weft_reactor_call_from_thread(m->r, finished, m);
}

static int fails_here(void *arg, void **result) {
  (void)arg;
  *result = weft_failure_new(WEFT_EFAILED, "stop here (expected in this test)");
  return WEFT_EFAILED;
}

typedef struct multi_log {
  int calls, err;
  char line[256];
} multi_log;

static void record_multi_log(void *ctx, int err, const char *what) {
  multi_log *l = ctx;
  l->calls++;
  l->err = err;
  snprintf(l->line, sizeof l->line, "%s", what);
}

static void call_multiple(void **state) {
  (void)state;
  multi m = {0};
  multi_arg a[10];
  weft_call calls[11];
  assert_int_equal(weft_reactor_create(&m.r), 0);
  assert_int_equal(weft_reactor_suggest_thread_pool_size(m.r, 8), 0);
  for (int i = 0; i < 10; i++) {
    a[i] = (multi_arg){&m, i};
    calls[i] = (weft_call){append_i, &a[i]};
  }
  calls[10] = (weft_call){call_from_thread_finished, &m};
  assert_int_equal(weft_call_multiple_in_thread(m.r, calls, 11), 0);
  assert_int_equal(weft_reactor_run(m.r), 0);
  assert_int_equal(m.finished_list_len, 10);
  for (int i = 0; i < 10; i++) {
    assert_int_equal(m.list[i], i);
    assert_true(pthread_equal(m.thread[i], m.thread[0])); /* one thread */
  }
  assert_int_equal(weft_reactor_destroy(m.r), 0);

  /* the first failure stops the rest; it goes to the pool's log hook */
  multi m2 = {0};
  assert_int_equal(weft_reactor_create(&m2.r), 0);
  weft_threadpool_options o;
  weft_reactor_thread_pool_options_init(&o);
  multi_log ml = {0};
  o.log = record_multi_log;
  o.log_ctx = &ml;
  assert_int_equal(weft_reactor_set_thread_pool_options(m2.r, &o), 0);
  multi_arg b = {&m2, 5};
  weft_call seq[] = {{append_i, &b}, {fails_here, NULL}, {append_i, &b}};
  assert_int_equal(weft_call_multiple_in_thread(m2.r, seq, 3), 0);
  assert_int_equal(weft_reactor_call_later(m2.r, 0, stop_it, m2.r, NULL), 0);
  assert_int_equal(weft_reactor_run(m2.r), 0); /* the pool stop waits for it */
  assert_int_equal(m2.n, 1);
  /* read after the pool's stop joined its threads */
  assert_int_equal(ml.calls, 1);
  assert_int_equal(ml.err, WEFT_EFAILED);
  assert_non_null(strstr(ml.line, "call 2 of 3 failed"));
  assert_non_null(strstr(ml.line, "stop here"));
  weft_call bad[] = {{NULL, NULL}};
  assert_int_equal(weft_call_multiple_in_thread(m2.r, bad, 1), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(m2.r), 0);
}

/* A list cancelled by the pool's stop before a thread took it: its calls
 * are reported to the pool's log hook, one ECANCELED line for the list; an
 * empty list has no call that never ran and reports nothing (it logged
 * "0 calls never ran", an ECANCELED with no lost work behind it). */
static void call_multiple_cancelled_empty_list_logs_nothing(void **state) {
  (void)state;
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_threadpool_options o;
  weft_reactor_thread_pool_options_init(&o);
  multi_log ml = {0};
  o.log = record_multi_log;
  o.log_ctx = &ml;
  assert_int_equal(weft_reactor_set_thread_pool_options(r, &o), 0);
  /* Before run: the pool exists, not started, so both wait in its backlog
   * and destroy's shutdown cancels them (no thread ever ran). */
  assert_int_equal(weft_call_multiple_in_thread(r, NULL, 0), 0);
  assert_int_equal(ml.calls, 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(ml.calls, 0);

  multi m = {0};
  assert_int_equal(weft_reactor_create(&m.r), 0);
  ml = (multi_log){0};
  assert_int_equal(weft_reactor_set_thread_pool_options(m.r, &o), 0);
  multi_arg a = {&m, 1};
  weft_call one[] = {{append_i, &a}};
  assert_int_equal(weft_call_multiple_in_thread(m.r, one, 1), 0);
  assert_int_equal(weft_call_multiple_in_thread(m.r, NULL, 0), 0);
  assert_int_equal(weft_reactor_destroy(m.r), 0);
  assert_int_equal(m.n, 0); /* never ran */
  assert_int_equal(ml.calls, 1); /* the one-call list only */
  assert_int_equal(ml.err, WEFT_ECANCELED);
  assert_non_null(strstr(ml.line, "1 calls never ran"));
}

/* ------------------------------------- 58-62: deferToThread(Pool) results */

typedef struct xy {
  intptr_t x, y;
} xy;

static int add_xy(void *arg, void **result) {
  xy *p = arg;
  *result = (void *)(p->x + p->y);
  return 0;
}

static int raise_new_error(void *arg, void **result) {
  (void)arg;
  *result = weft_failure_new(WEFT_EFAILED, "NewError");
  return WEFT_EFAILED;
}

static int raise_plain_code(void *arg, void **result) {
  (void)arg;
  (void)result;
  return WEFT_EINVAL; /* no failure object: weft makes one */
}

typedef struct outcome {
  weft_reactor *r;
  intptr_t value;
  int code;
  char msg[32];
  int fired;
  int on_reactor;
} outcome;

static int got_value(void *ctx, weft_result *r) {
  outcome *o = ctx;
  o->fired++;
  o->on_reactor = weft_reactor_is_in_io_thread(o->r);
  o->value = (intptr_t)r->value;
  weft_reactor_stop(o->r);
  return 0;
}

static int got_failure(void *ctx, weft_result *r) {
  outcome *o = ctx;
  o->fired++;
  o->on_reactor = weft_reactor_is_in_io_thread(o->r);
  o->code = weft_failure_code(r->failure);
  strncpy(o->msg, weft_failure_message(r->failure), sizeof o->msg - 1);
  weft_failure_unref(weft_result_take_failure(r));
  weft_reactor_stop(o->r);
  return 0;
}

static void run_one(weft_call_fn fn, void *arg, weft_threadpool *own, outcome *o) {
  assert_int_equal(weft_reactor_create(&o->r), 0);
  weft_deferred *d;
  if (own) assert_int_equal(weft_defer_to_thread_pool(o->r, own, fn, arg, &d), 0);
  else assert_int_equal(weft_defer_to_thread(o->r, fn, arg, &d), 0);
  assert_int_equal(weft_deferred_add_callbacks(d, got_value, o, got_failure, o), 0);
  weft_deferred_unref(d); /* the reactor keeps it alive while in flight */
  assert_int_equal(weft_reactor_run(o->r), 0);
  assert_int_equal(o->fired, 1);
  assert_int_equal(o->on_reactor, 1);
  assert_int_equal(weft_reactor_destroy(o->r), 0);
}

static void defer_to_thread_results(void **state) {
  (void)state;
  xy p = {3, 4};
  outcome o = {0};
  run_one(add_xy, &p, NULL, &o); /* 58 */
  assert_int_equal(o.value, 7);
  memset(&o, 0, sizeof o);
  run_one(raise_new_error, NULL, NULL, &o); /* 59 */
  assert_int_equal(o.code, WEFT_EFAILED);
  assert_string_equal(o.msg, "NewError");
  memset(&o, 0, sizeof o);
  run_one(raise_plain_code, NULL, NULL, &o);
  assert_int_equal(o.code, WEFT_EINVAL);

  weft_threadpool *tp; /* 61, 62: an own ThreadPool(0, 8) */
  assert_int_equal(weft_threadpool_create(&tp, 0, 8, "test-own"), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  memset(&o, 0, sizeof o);
  run_one(add_xy, &p, tp, &o);
  assert_int_equal(o.value, 7);
  memset(&o, 0, sizeof o);
  run_one(raise_new_error, NULL, tp, &o);
  assert_string_equal(o.msg, "NewError");
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_reactor *r;
  weft_deferred *d = (weft_deferred *)1;
  assert_int_equal(weft_reactor_create(&r), 0);
  /* a stopped pool refuses (Twisted's Deferred would never fire) */
  assert_int_equal(weft_defer_to_thread_pool(r, tp, add_xy, &p, &d), WEFT_EQUIT);
  assert_null(d);
  assert_int_equal(weft_defer_to_thread_pool(r, NULL, add_xy, &p, &d), WEFT_EINVAL);
  assert_int_equal(weft_defer_to_thread(r, NULL, NULL, &d), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(g_unhandled, 0);
}

/* 60: a callback returning another deferToThread that fails */
static int divide_by_zero(void *arg, void **result) {
  (void)arg;
  *result = weft_failure_new(WEFT_EFAILED, "ZeroDivisionError");
  return WEFT_EFAILED;
}

static int chain_failing(void *ctx, weft_result *r) {
  outcome *o = ctx;
  weft_deferred *inner;
  assert_int_equal(weft_defer_to_thread(o->r, divide_by_zero, NULL, &inner), 0);
  int rc = weft_result_set_deferred(r, inner);
  weft_deferred_unref(inner);
  return rc;
}

static void failure_after_success(void **state) {
  (void)state;
  outcome o = {0};
  xy p = {1, 1};
  assert_int_equal(weft_reactor_create(&o.r), 0);
  weft_deferred *d;
  assert_int_equal(weft_defer_to_thread(o.r, add_xy, &p, &d), 0);
  weft_deferred_add_callback(d, chain_failing, &o);
  weft_deferred_add_callbacks(d, got_value, &o, got_failure, &o);
  weft_deferred_unref(d);
  assert_int_equal(weft_reactor_run(o.r), 0);
  assert_int_equal(o.fired, 1);
  assert_string_equal(o.msg, "ZeroDivisionError");
  assert_int_equal(weft_reactor_destroy(o.r), 0);
  assert_int_equal(g_unhandled, 0);
}

/* Cancelling an in-flight deferToThread: errback now, the late result is
 * swallowed (Twisted: no canceller). */
typedef struct gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
} gate;

static int wait_gate(void *arg, void **result) {
  gate *g = arg;
  pthread_mutex_lock(&g->mu);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
  *result = (void *)1;
  return 0;
}

static void cancel_in_flight(void **state) {
  (void)state;
  gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
  outcome o = {0};
  assert_int_equal(weft_reactor_create(&o.r), 0);
  weft_deferred *d;
  assert_int_equal(weft_defer_to_thread(o.r, wait_gate, &g, &d), 0);
  assert_int_equal(weft_deferred_add_callbacks(d, got_value, &o, got_failure, &o), 0);
  assert_int_equal(weft_deferred_cancel(d), 0);
  assert_int_equal(o.fired, 1);
  assert_int_equal(o.code, WEFT_ECANCELED);
  weft_deferred_unref(d);
  pthread_mutex_lock(&g.mu);
  g.open = 1;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
  /* run: the result arrives, is swallowed; shutdown drains it */
  assert_int_equal(weft_reactor_call_later(o.r, 0, stop_it, o.r, NULL), 0);
  assert_int_equal(weft_reactor_run(o.r), 0);
  assert_int_equal(o.fired, 1);
  assert_int_equal(weft_reactor_destroy(o.r), 0);
}

/* ------------------------- 63: callInThread before startup never runs */

static void must_not_run(void *arg) { *(int *)arg = 1; }

static void call_before_startup_unexecuted(void **state) {
  (void)state;
  weft_reactor *r;
  int ran = 0;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_call_in_thread(r, must_not_run, &ran), 0);
  assert_int_equal(weft_reactor_destroy(r), 0); /* no thread keeps us alive */
  assert_int_equal(ran, 0);
  /* a deferToThread queued the same way is errbacked, not lost */
  outcome o = {0};
  xy p = {1, 2};
  assert_int_equal(weft_reactor_create(&o.r), 0);
  weft_deferred *d;
  assert_int_equal(weft_defer_to_thread(o.r, add_xy, &p, &d), 0);
  assert_int_equal(weft_deferred_add_errback(d, got_failure, &o), 0);
  weft_deferred_unref(d);
  assert_int_equal(weft_reactor_destroy(o.r), 0);
  assert_int_equal(o.fired, 1);
  assert_int_equal(o.code, WEFT_ECANCELED);
}

/* -------------------------------- 64, 68, 69, 70: the pool's lifetime */

typedef struct life {
  weft_reactor *r;
  weft_threadpool *tp;
  int started_during, joined_during;
} life;

static void check_pool_running(void *arg) {
  life *l = arg;
  l->started_during = weft_threadpool_started(l->tp);
  l->joined_during = weft_threadpool_joined(l->tp);
  weft_reactor_stop(l->r);
}

static void get_thread_pool_lifecycle(void **state) {
  (void)state;
  life l = {0};
  assert_int_equal(weft_reactor_create(&l.r), 0);
  assert_int_equal(weft_reactor_get_thread_pool(l.r, &l.tp), 0); /* 64, 68 */
  assert_false(weft_threadpool_started(l.tp));
  assert_int_equal(weft_reactor_call_when_running(l.r, check_pool_running, &l), 0);
  assert_int_equal(weft_reactor_run(l.r), 0);
  assert_true(l.started_during);
  assert_false(l.joined_during);
  /* after run: stopped, joined and released — the reactor holds nothing */
  assert_null(l.r->pool);
  weft_threadpool *again = (weft_threadpool *)1;
  assert_int_equal(weft_reactor_get_thread_pool(l.r, &again), WEFT_ESHUTDOWN);
  assert_int_equal(weft_reactor_destroy(l.r), 0);
}

static void create_pool_then_stop(void *arg) {
  life *l = arg;
  assert_int_equal(weft_reactor_get_thread_pool(l->r, &l->tp), 0); /* while running */
  l->started_during = weft_threadpool_started(l->tp);
  weft_reactor_stop(l->r);
}

static void pool_created_after_reactor_ran(void **state) { /* 69 */
  (void)state;
  life l = {0};
  assert_int_equal(weft_reactor_create(&l.r), 0);
  assert_int_equal(weft_reactor_call_when_running(l.r, create_pool_then_stop, &l), 0);
  assert_int_equal(weft_reactor_run(l.r), 0);
  assert_true(l.started_during);
  assert_null(l.r->pool);
  assert_int_equal(weft_reactor_destroy(l.r), 0);
}

static void cleanup_pool_before_run(void **state) { /* 70 */
  (void)state;
  life l = {0};
  assert_int_equal(weft_reactor_create(&l.r), 0);
  assert_int_equal(weft_reactor_get_thread_pool(l.r, &l.tp), 0);
  assert_int_equal(weft_reactor_fire_system_event(l.r, WEFT_SHUTDOWN), 0);
  assert_null(l.r->pool);
  /* the reactor still runs once afterwards, with a fresh pool on demand */
  assert_int_equal(weft_reactor_call_when_running(l.r, create_pool_then_stop, &l), 0);
  assert_int_equal(weft_reactor_run(l.r), 0);
  assert_true(l.started_during);
  assert_null(l.r->pool);
  assert_int_equal(weft_reactor_destroy(l.r), 0);
}

/* ------------------------------------------------ round-trip stress */

typedef struct stress {
  weft_reactor *r;
  long total, issued, completed;
  int in_flight_target;
  unsigned char *fired;
  long wrong_thread, double_fired, errors;
} stress;

static int identity(void *arg, void **result) {
  *result = arg;
  return 0;
}

static int stress_done(void *ctx, weft_result *r);

static void stress_issue(stress *s) {
  weft_deferred *d;
  long i = s->issued++;
  int rc = weft_defer_to_thread(s->r, identity, (void *)(intptr_t)i, &d);
  if (rc != 0) {
    s->errors++;
    return;
  }
  if (weft_deferred_add_both(d, stress_done, s) != 0) s->errors++;
  weft_deferred_unref(d);
}

static int stress_done(void *ctx, weft_result *r) {
  stress *s = ctx;
  if (!weft_reactor_is_in_io_thread(s->r)) s->wrong_thread++;
  if (r->failure) {
    s->errors++;
    weft_failure_unref(weft_result_take_failure(r));
  } else {
    long i = (long)(intptr_t)r->value;
    if (s->fired[i]++) s->double_fired++;
  }
  if (++s->completed == s->total) weft_reactor_stop(s->r);
  else if (s->issued < s->total) stress_issue(s);
  return 0;
}

static void stress_start(void *arg) {
  stress *s = arg;
  for (int i = 0; i < s->in_flight_target && s->issued < s->total; i++) stress_issue(s);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void round_trip_stress(void **state) {
  (void)state;
  stress s = {0};
  const char *full = getenv("WEFT_STRESS_FULL");
  s.total = (full && !strcmp(full, "1")) ? 1000000 : 100000;
  s.in_flight_target = 1000;
  s.fired = calloc((size_t)s.total, 1);
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_reactor_call_when_running(s.r, stress_start, &s), 0);
  double t0 = now_s();
  assert_int_equal(weft_reactor_run(s.r), 0);
  double dt = now_s() - t0;
  assert_int_equal(s.errors, 0);
  assert_int_equal(s.wrong_thread, 0);
  assert_int_equal(s.double_fired, 0);
  assert_int_equal(s.completed, s.total);
  for (long i = 0; i < s.total; i++) assert_int_equal(s.fired[i], 1);
  weft_reactor_stats st;
  weft_reactor_stats_get(s.r, &st);
  print_message("    %ld round trips, 1000 in flight: %.3f s (%.0f/s); %llu eventfd writes "
                "for %llu completions (1 per %.0f), %llu drains\n",
                s.total, dt, (double)s.total / dt, (unsigned long long)st.wakeups,
                (unsigned long long)st.completions,
                st.wakeups ? (double)st.completions / (double)st.wakeups : 0.0,
                (unsigned long long)st.drains);
  /* Facts, whatever the scheduling: every round trip's result was a call
   * run from the reactor's queue, each counted drain ran at least one, and
   * only a call that found the queue empty writes the eventfd. */
  assert_true(st.completions >= (uint64_t)s.total);
  assert_true(st.drains >= 1 && st.drains <= st.completions);
  assert_true(st.wakeups <= st.completions); /* never more than one per completion */
  /* The acceptance figure (<= 1 write per 100 completions) depends on how
   * the threads were scheduled, so it is reported, never asserted. */
  print_message("    eventfd writes per 100 completions: %.3f (acceptance figure <= 1: %s)\n",
                st.completions ? 100.0 * (double)st.wakeups / (double)st.completions : 0.0,
                st.wakeups * 100 <= st.completions ? "met" : "NOT met");
  assert_int_equal(weft_reactor_destroy(s.r), 0);
  free(s.fired);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(suggest_thread_pool_size, setup),
      cmocka_unit_test_setup(call_in_thread_and_back, setup),
      cmocka_unit_test_setup(call_from_thread_both_sides, setup),
      cmocka_unit_test_setup(blocking_call_from_thread_cases, setup),
      cmocka_unit_test_setup(blocking_call_guards, setup),
      cmocka_unit_test_setup(blocking_call_on_a_dropped_deferred, setup),
      cmocka_unit_test_setup(blocking_call_deferred_outlives_reactor, setup),
      cmocka_unit_test_setup(shutdown_releases_blocked_callers, setup),
      cmocka_unit_test_setup(manual_shutdown_refuses_new_blocked_callers, setup),
      cmocka_unit_test_setup(destroy_releases_blocked_caller, setup),
      cmocka_unit_test_setup(stop_from_reactor_releases_blocked_pool_thread, setup),
      cmocka_unit_test_setup(stop_from_startup_releases_pool_thread_blocked_before_run, setup),
      cmocka_unit_test_setup(stop_timeout_from_reactor_releases_blocked_pool_thread, setup),
      cmocka_unit_test_setup(call_multiple, setup),
      cmocka_unit_test_setup(call_multiple_cancelled_empty_list_logs_nothing, setup),
      cmocka_unit_test_setup(defer_to_thread_results, setup),
      cmocka_unit_test_setup(failure_after_success, setup),
      cmocka_unit_test_setup(cancel_in_flight, setup),
      cmocka_unit_test_setup(call_before_startup_unexecuted, setup),
      cmocka_unit_test_setup(get_thread_pool_lifecycle, setup),
      cmocka_unit_test_setup(pool_created_after_reactor_ran, setup),
      cmocka_unit_test_setup(cleanup_pool_before_run, setup),
      cmocka_unit_test_setup(round_trip_stress, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
