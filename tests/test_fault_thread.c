/*
 * Thread creation fails. Two ways in: the thread-factory hook
 * (weft_threadpool_options.thread_factory, weft_thread_worker_create's
 * factory) returning an error, and pthread_create itself, interposed at link
 * time (tests/fault.cmake: -Wl,--wrap=pthread_create) so that libweft's own
 * default factories fail too. Each creation attempt is counted; the k-th
 * fails (mode "once") or every one from the k-th on (mode "from"); k sweeps
 * from 1 until a scenario runs without reaching k. Every call returns 0 or an
 * error code, nothing crashes or hangs, no weft object stays alive, and every
 * accepted task ran or its owner was told WEFT_ECANCELED.
 *
 * Scenarios: ThreadPool, reactor + deferToThread, the reactor's thread APIs
 * with a context current (fault_accounting.h), a lane on a pool, a
 * weft_pool() team (with one failure every accepted task runs without
 * another call: E9.5), blockingCallFromThread from the only thread of the
 * reactor's pool (the stand-in's creation may fail), a task that announces
 * a block on its own queued child after a stop has begun (the stop's
 * stand-in may fail), ThreadWorker, Team.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "engine/observer.h"
#include "test_sync.h"
#include "weft/weft.h"

/* ------------------------------------------------------ failure injection */

enum { MODE_OFF, MODE_ONCE, MODE_FROM };
static atomic_long g_attempts, g_fail_at, g_injected;
static atomic_int g_mode;

static int creation_should_fail(void) {
  int mode = atomic_load(&g_mode);
  if (mode == MODE_OFF) return 0;
  long n = atomic_fetch_add(&g_attempts, 1) + 1;
  long k = atomic_load(&g_fail_at);
  if ((mode == MODE_ONCE && n == k) || (mode == MODE_FROM && n >= k)) {
    atomic_fetch_add(&g_injected, 1);
    return 1;
  }
  return 0;
}
static void arm(int mode, long k) {
  atomic_store(&g_attempts, 0);
  atomic_store(&g_injected, 0);
  atomic_store(&g_fail_at, k);
  atomic_store(&g_mode, mode);
}
static long disarm(void) {
  atomic_store(&g_mode, MODE_OFF);
  return atomic_load(&g_attempts);
}

static int g_use_hook; /* 1: failing_factory; 0: the default (pthread_create, wrapped) */

#ifdef WEFT_FAULT_WRAP
/* Every pthread_create of this program (libweft's included) lands here. */
int __real_pthread_create(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*start)(void *),
                          void *arg);
/* While set, every pthread_create made by libweft itself (not through a
 * factory hook that calls __real_pthread_create: the elastic monitor's
 * thread) fails; g_raw_failed counts them. */
static atomic_int g_fail_raw;
static atomic_long g_raw_failed;
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*start)(void *),
                          void *arg) {
  if (atomic_load(&g_fail_raw)) {
    atomic_fetch_add(&g_raw_failed, 1);
    return EAGAIN;
  }
  if (!g_use_hook && creation_should_fail()) return EAGAIN;
  return __real_pthread_create(t, a, start, arg);
}
#endif

/* The factory hook: wraps the default factory, fails on demand. */
static int failing_factory(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                           const char *name) {
  (void)ctx;
  if (creation_should_fail()) return WEFT_EAGAIN;
  return weft_default_thread_factory(NULL, thread, start, arg, name);
}

static void assert_nothing_alive(void) {
  assert_int_equal(weft_replace_allocator(NULL, NULL, NULL), 0);
}

/* ------------------------------------------------------- pool scenario */

#include "fault_accounting.h"

#define REQS 16
static weft_work g_reqs[REQS];

static void submit_mix(weft_threadpool *tp, weft_work *reqs, int n) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(weft_threadpool_call_in_thread(tp, task_fn, NULL), 0);
    assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, on_result, NULL, call_fn, NULL),
                     0);
    assert_int_equal(weft_threadpool_queue_work(tp, &reqs[i], work_fn, after_fn), 0);
    atomic_fetch_add(&g_acc.accepted, 3);
  }
}

static void scenario_pool(void) {
  memset(&g_acc, 0, sizeof g_acc);
  int n = REQS / 4;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 2;
  o.max_threads = 3;
  o.name = "fault-thread";
  o.log = pool_log;
  o.spin_us = 1;
  if (g_use_hook) o.thread_factory = failing_factory;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0); /* creates no thread */
  submit_mix(tp, g_reqs, n);
  int rc = weft_threadpool_start(tp);
  assert_true(rc == 0 || rc == WEFT_EAGAIN);
  assert_int_equal(weft_threadpool_started(tp), 1); /* started even with no thread */
  submit_mix(tp, g_reqs + n, n);
  rc = weft_threadpool_adjust_poolsize(tp, 3, 4);
  assert_true(rc == 0 || rc == WEFT_EAGAIN);
  rc = weft_threadpool_start_a_worker(tp);
  assert_true(rc == 0 || rc == WEFT_EAGAIN);
  submit_mix(tp, g_reqs + 2 * n, n);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  int acc = atomic_load(&g_acc.accepted), ran = atomic_load(&g_acc.ran),
      can = atomic_load(&g_acc.cancelled);
  if (acc != ran + can || atomic_load(&g_acc.other) != 0)
    fail_msg("accepted %d != ran %d + cancelled %d (other %d)", acc, ran, can,
             atomic_load(&g_acc.other));
  if (atomic_load(&g_injected) > 0) assert_true(c.spawn_failures > 0);
}

/* ---------------------------------------------------- reactor scenario */


static int work_in_thread(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return 0;
}
static void on_running(void *arg) {
  rx_state *st = arg;
  for (int i = 0; i < DEFERS; i++) {
    weft_deferred *d = NULL;
    int rc = weft_defer_to_thread(st->r, work_in_thread, NULL, &d);
    assert_int_equal(rc, 0);
    st->ds[st->nds++] = d;
    assert_int_equal(weft_deferred_add_both(d, on_fired, st), 0);
    st->observed++;
  }
  st->all_submitted = 1;
  /* No worker and none can be started: the work waits for stop() (E7). */
  weft_threadpool *tp = NULL;
  if (weft_reactor_get_thread_pool(st->r, &tp) == 0 && weft_threadpool_workers(tp) == 0 &&
      !st->stop_called) {
    st->stop_called = 1;
    (void)weft_reactor_stop(st->r);
  }
  maybe_stop(st);
}
static void quiet_unhandled(void *ctx, weft_failure *f) {
  (void)ctx;
  (void)f;
}

static void scenario_reactor(void) {
  rx_state st;
  memset(&st, 0, sizeof st);
  assert_int_equal(weft_reactor_create(&st.r), 0);
  assert_int_equal(weft_reactor_call_when_running(st.r, on_running, &st), 0);
  int rc = weft_reactor_run(st.r);
  assert_true(rc == 0 || rc == WEFT_EAGAIN);
  assert_int_equal(weft_reactor_destroy(st.r), 0);
  for (int i = 0; i < st.nds; i++) {
    if (!weft_deferred_called(st.ds[i])) fail_msg("deferred %d of %d never fired", i, st.nds);
    weft_deferred_unref(st.ds[i]);
  }
}

/* ---------------------------------------------------- ThreadWorker scenario */

static void scenario_thread_worker(void) {
  weft_worker *w = NULL;
  int rc = weft_thread_worker_create(&w, g_use_hook ? failing_factory : NULL, NULL, "fault-tw");
  if (rc != 0) {
    assert_int_equal(rc, WEFT_EAGAIN);
    assert_null(w);
    return;
  }
  /* A released ThreadWorker is freed by its exiting thread: wait for the
   * last task so that the thread is at its end, as far as the API lets us. */
  assert_int_equal(weft_worker_quit(w), 0);
  weft_worker_release(w);
}

/* ------------------------------------------------------------ Team scenario */

/* A Team (default lock-free coordinator) whose workers are ThreadWorkers
 * made through the failing factory: a failed creation means "no worker",
 * and the team backlogs. Quit, then destroy (WEFT_EBUSY, as documented,
 * while workers still finish; retried). Every accepted task ran or was
 * reported to the log hook with WEFT_ECANCELED. */
static void team_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
  else atomic_fetch_add(&g_acc.other, 1);
}

static void scenario_team(void) {
  memset(&g_acc, 0, sizeof g_acc);
  atomic_store(&g_team_workers, 0);
  g_team_factory = g_use_hook ? failing_factory : NULL;
  weft_team *t = NULL;
  assert_int_equal(weft_team_create(&t, NULL, team_create_worker, NULL, team_log, NULL), 0);
  for (int i = 0; i < 12; i++) {
    assert_int_equal(weft_team_do(t, task_fn, NULL), 0);
    atomic_fetch_add(&g_acc.accepted, 1);
    if (i == 4) assert_true(weft_team_grow(t, 2) >= 0);
    if (i == 8) assert_true(weft_team_shrink(t, 1) >= 0);
  }
  assert_int_equal(weft_team_quit(t), 0);
  team_destroy_and_check(t);
}

/* ------------------------------------------------------------- the sweep */

static long sweep(void (*scenario)(void), int mode, const char *name, int check_alive) {
  arm(MODE_OFF, 0);
  atomic_store(&g_mode, MODE_ONCE);
  atomic_store(&g_fail_at, 0); /* count without failing */
  scenario();
  long sites = disarm();
  long k;
  for (k = 1; k <= 10000; k++) {
    arm(mode, k);
    scenario();
    long injected = atomic_load(&g_injected);
    disarm();
    if (check_alive) assert_nothing_alive();
    if (injected == 0) break;
  }
  printf("# %s, %s, mode %s: %ld creations in a clean run, swept k = 1..%ld\n", name,
         g_use_hook ? "factory hook" : "pthread_create", mode == MODE_ONCE ? "fail-once" : "fail-from",
         sites, k - 1);
  return k - 1;
}

static void hook_pool_once(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_pool, MODE_ONCE, "threadpool", 1) > 0);
}
static void hook_pool_from(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_pool, MODE_FROM, "threadpool", 1) > 0);
}
static void hook_thread_worker(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_thread_worker, MODE_ONCE, "thread worker", 0) > 0);
}

static void hook_team_once(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_team, MODE_ONCE, "team of thread workers", 0) > 0);
}
static void hook_team_from(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_team, MODE_FROM, "team of thread workers", 0) > 0);
}

static void hook_always_fails(void **s) {
  (void)s;
  g_use_hook = 1;
  arm(MODE_FROM, 1);
  memset(&g_acc, 0, sizeof g_acc);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 2;
  o.thread_factory = failing_factory;
  o.log = pool_log;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), WEFT_EAGAIN);
  assert_int_equal(weft_threadpool_workers(tp), 0);
  submit_mix(tp, g_reqs, 2);
  assert_int_equal(weft_threadpool_start_a_worker(tp), WEFT_EAGAIN);
  assert_int_equal(weft_threadpool_threads_created(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  disarm();
  assert_int_equal(atomic_load(&g_acc.ran), 0);
  assert_int_equal(atomic_load(&g_acc.cancelled), 6);
  weft_worker *w = NULL;
  arm(MODE_FROM, 1);
  assert_int_equal(weft_thread_worker_create(&w, failing_factory, NULL, "x"), WEFT_EAGAIN);
  disarm();
  assert_null(w);
  assert_nothing_alive();
}

#ifdef WEFT_FAULT_WRAP
static void pthread_pool_once(void **s) {
  (void)s;
  g_use_hook = 0;
  assert_true(sweep(scenario_pool, MODE_ONCE, "threadpool", 1) > 0);
}
static void pthread_pool_from(void **s) {
  (void)s;
  g_use_hook = 0;
  assert_true(sweep(scenario_pool, MODE_FROM, "threadpool", 1) > 0);
}
static void pthread_reactor_once(void **s) {
  (void)s;
  g_use_hook = 0;
  assert_true(sweep(scenario_reactor, MODE_ONCE, "reactor+deferToThread", 1) > 0);
}
static void pthread_reactor_from(void **s) {
  (void)s;
  g_use_hook = 0;
  assert_true(sweep(scenario_reactor, MODE_FROM, "reactor+deferToThread", 1) > 0);
}
static void pthread_thread_worker(void **s) {
  (void)s;
  g_use_hook = 0;
  assert_true(sweep(scenario_thread_worker, MODE_ONCE, "thread worker", 0) > 0);
}
#endif

#ifdef WEFT_FAULT_WRAP
/* The monitor's thread cannot start (every try fails while the chain
 * runs, the first one at the first worker's start). A chain of tasks each
 * announces a block: the first max(8, 4 x CPUs) get immediate grants and
 * stand-ins; the next one's stand-in is the monitor's to make, and there
 * is none. Nothing else would make it while every worker blocks: that
 * begin takes a grant as in the burst, so its child still runs (it waited
 * for ever). The workers start through a factory that calls the real
 * pthread_create, so the failure lands on the monitor's start and nowhere
 * else. */
static int real_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                        const char *name) {
  (void)ctx;
  (void)name;
  return __real_pthread_create(t, NULL, start, arg) != 0 ? WEFT_EAGAIN : 0;
}

typedef struct mchain {
  weft_threadpool *tp;
  int burst, child_ran, timed_out, refused;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int release, done;
} mchain;
static mchain g_mc;

static void mc_child(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_mc.mu);
  g_mc.child_ran = 1;
  pthread_cond_broadcast(&g_mc.cv);
  pthread_mutex_unlock(&g_mc.mu);
}

/* On a pool thread: submit mc_child and wait (30 s hang guard) until it
 * ran; then done. Called and returns with g_mc.mu unlocked. */
static void mc_child_and_wait(void) {
  if (weft_threadpool_call_in_thread(g_mc.tp, mc_child, NULL) != 0) g_mc.refused = 1;
  struct timespec dl; /* a hang guard: the pass condition is the child's run */
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 30;
  pthread_mutex_lock(&g_mc.mu);
  while (!g_mc.child_ran && !g_mc.timed_out)
    if (pthread_cond_timedwait(&g_mc.cv, &g_mc.mu, &dl) != 0) g_mc.timed_out = 1;
  g_mc.release = 1;
  g_mc.done = 1;
  pthread_cond_broadcast(&g_mc.cv);
  pthread_mutex_unlock(&g_mc.mu);
}

static void mc_link(void *arg) {
  long i = (long)arg;
  weft_blocking_begin();
  pthread_mutex_lock(&g_mc.mu);
  if (i < g_mc.burst) {
    pthread_mutex_unlock(&g_mc.mu);
    if (weft_threadpool_call_in_thread(g_mc.tp, mc_link, (void *)(i + 1)) != 0) g_mc.refused = 1;
    pthread_mutex_lock(&g_mc.mu);
    while (!g_mc.release) pthread_cond_wait(&g_mc.cv, &g_mc.mu);
    pthread_mutex_unlock(&g_mc.mu);
  } else {
    pthread_mutex_unlock(&g_mc.mu);
    mc_child_and_wait();
  }
  weft_blocking_end();
}

static void monitor_start_failure_still_stands_in(void **s) {
  (void)s;
  memset(&g_mc, 0, sizeof g_mc);
  pthread_mutex_init(&g_mc.mu, NULL);
  pthread_cond_init(&g_mc.cv, NULL);
  g_mc.burst = 4 * weft_cpu_count(); /* the engine's burst: max(8, 4 x CPUs) */
  if (g_mc.burst < 8) g_mc.burst = 8;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  o.thread_factory = real_factory;
  assert_int_equal(weft_threadpool_create_ex(&g_mc.tp, &o), 0);
  assert_int_equal(weft_threadpool_start(g_mc.tp), 0);
  atomic_store(&g_raw_failed, 0);
  atomic_store(&g_fail_raw, 1);
  assert_int_equal(weft_threadpool_call_in_thread(g_mc.tp, mc_link, (void *)0L), 0);
  pthread_mutex_lock(&g_mc.mu);
  while (!g_mc.done) pthread_cond_wait(&g_mc.cv, &g_mc.mu);
  pthread_mutex_unlock(&g_mc.mu);
  atomic_store(&g_fail_raw, 0);
  assert_int_equal(weft_threadpool_stop(g_mc.tp), 0);
  assert_true(atomic_load(&g_raw_failed) >= 1); /* the monitor's start took the failure */
  assert_int_equal(g_mc.refused, 0);
  assert_false(g_mc.timed_out);
  assert_int_equal(g_mc.child_ran, 1);
  assert_int_equal(weft_threadpool_destroy(g_mc.tp), 0);
  pthread_mutex_destroy(&g_mc.mu);
  pthread_cond_destroy(&g_mc.cv);
  assert_nothing_alive();
}

/* A worker blocks, without telling weft, on a task it has just queued, and
 * from then on no thread can be made for the monitor. The monitor started
 * with the pool's first worker (it stays while the pool has a thread), so
 * it sees the worker off its CPU and stands in: the child runs. Were the
 * monitor started only by the child's saturated submit, that start would
 * fail, nothing would try it again (no other submit comes, the only worker
 * waits), and the child would wait for ever (the 30 s hang guard). */
static void st_parent(void *arg) {
  (void)arg;
  atomic_store(&g_fail_raw, 1); /* no monitor thread can be made from here on */
  mc_child_and_wait();
}

/* The same after the monitor has looked, disarmed, whether to leave (the
 * observer's event; keep-alive 1 ms): the parent waits at a gate until
 * then. The rule before left at that look whatever the pool held, and the
 * child then waited for ever. The look is counted from this pool alone:
 * earlier tests' monitors were joined by their stops. */
static sync_t g_looks, g_parent_go;
static void on_event(weft__event ev) {
  if (ev == WEFT__EVENT_MONITOR_LOOKED) count_up(&g_looks);
}
static void st_parent_after_look(void *arg) {
  gate_wait(&g_parent_go); /* opened by the test after the look */
  st_parent(arg);
}

/* Until the monitor has looked once; false after a 30 s hang guard. */
static bool wait_look(void) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 30;
  int rc = 0;
  pthread_mutex_lock(&g_looks.mu);
  while (g_looks.count == 0 && rc == 0) rc = pthread_cond_timedwait(&g_looks.cv, &g_looks.mu, &dl);
  bool looked = g_looks.count > 0;
  pthread_mutex_unlock(&g_looks.mu);
  return looked;
}

static void strand_case(bool after_look) {
  memset(&g_mc, 0, sizeof g_mc);
  pthread_mutex_init(&g_mc.mu, NULL);
  pthread_cond_init(&g_mc.cv, NULL);
  atomic_store(&g_raw_failed, 0);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  if (after_look) o.keep_alive_ms = 1;
  o.thread_factory = real_factory;
  assert_int_equal(weft_threadpool_create_ex(&g_mc.tp, &o), 0);
  assert_int_equal(weft_threadpool_start(g_mc.tp), 0);
  if (after_look) {
    sync_init(&g_looks);
    sync_init(&g_parent_go);
    weft__observer_set(on_event);
    assert_int_equal(weft_threadpool_call_in_thread(g_mc.tp, st_parent_after_look, NULL), 0);
    bool looked = wait_look(); /* the monitor, started with the worker, disarmed */
    gate_open(&g_parent_go);
    assert_true(looked);
  } else {
    assert_int_equal(weft_threadpool_call_in_thread(g_mc.tp, st_parent, NULL), 0);
  }
  pthread_mutex_lock(&g_mc.mu);
  while (!g_mc.done) pthread_cond_wait(&g_mc.cv, &g_mc.mu);
  pthread_mutex_unlock(&g_mc.mu);
  atomic_store(&g_fail_raw, 0);
  assert_int_equal(g_mc.refused, 0);
  assert_false(g_mc.timed_out);
  assert_int_equal(g_mc.child_ran, 1);
  weft_threadpool_stats st;
  assert_int_equal(weft_threadpool_stats_get(g_mc.tp, &st), 0);
  assert_true(st.created_stall >= 1); /* the monitor stood in */
  assert_int_equal(weft_threadpool_stop(g_mc.tp), 0);
  assert_int_equal(weft_threadpool_destroy(g_mc.tp), 0);
  pthread_mutex_destroy(&g_mc.mu);
  pthread_cond_destroy(&g_mc.cv);
  if (after_look) {
    weft__observer_set(NULL); /* after the stop: no monitor calls it now */
    sync_fini(&g_looks);
    sync_fini(&g_parent_go);
  }
  assert_nothing_alive();
}

static void unannounced_block_with_no_monitor_thread(void **s) {
  (void)s;
  strand_case(false);
}

static void unannounced_block_after_the_monitor_looked(void **s) {
  (void)s;
  strand_case(true);
}
#endif

/* A weft_pool() team whose only thread's creation fails: the task its do()
 * accepted waits for the retry of E9.5 (docs/design.md), made by the
 * engine's monitor once the back-off has passed, with no other do(), grow or
 * quit to come. Without a monitor nothing made that retry: the task stayed
 * queued with no thread until the next do() or the destroy (which cancelled
 * it), and a caller that waited for it waited for ever (the 30 s hang
 * guard). The factory fails only the first creation. */
static atomic_int g_wp_fails;
static int wp_limit(void *ctx) {
  (void)ctx;
  return 1;
}
static int wp_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                      const char *name) {
  (void)ctx;
  if (atomic_fetch_sub(&g_wp_fails, 1) > 0) return WEFT_EAGAIN;
  return weft_default_thread_factory(NULL, t, start, arg, name);
}
static sync_t g_wp_ran;
static void wp_task(void *arg) {
  (void)arg;
  count_up(&g_wp_ran);
}

static void weft_pool_creation_failure_retried(void **s) {
  (void)s;
  sync_init(&g_wp_ran);
  atomic_store(&g_wp_fails, 1);
  weft_team *t = NULL;
  assert_int_equal(weft_pool(&t, wp_limit, NULL, wp_factory, NULL, "wp-retry"), 0);
  assert_int_equal(weft_team_do(t, wp_task, NULL), 0); /* accepted; its thread fails */
  assert_int_equal(atomic_load(&g_wp_fails), 0);     /* the creation was tried */
  struct timespec dl; /* a hang guard: the pass condition is the task's run */
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 30;
  pthread_mutex_lock(&g_wp_ran.mu);
  while (g_wp_ran.count == 0 && pthread_cond_timedwait(&g_wp_ran.cv, &g_wp_ran.mu, &dl) == 0) {
  }
  int ran = g_wp_ran.count;
  pthread_mutex_unlock(&g_wp_ran.mu);
  assert_int_equal(ran, 1);
  assert_int_equal(weft_team_quit(t), 0);
  int r;
  while ((r = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield(); /* its thread leaves */
  assert_int_equal(r, 0);
  sync_fini(&g_wp_ran);
  assert_nothing_alive();
}


/* ------------------------------------------------------------ lanes scenario */

/* A lane limited to 1 on a pool whose threads may fail to start: tasks
 * before and after start, stop, destroy. A lane's cancels reach the owner's
 * callback or, for call_in_thread, the pool's log (pool_log). */
static void scenario_lanes(void) {
  memset(&g_acc, 0, sizeof g_acc);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 3;
  o.name = "fault-lane";
  o.log = pool_log;
  o.spin_us = 1;
  if (g_use_hook) o.thread_factory = failing_factory;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  weft_lane_options lo;
  weft_lane_options_init(&lo);
  lo.name = "fault";
  weft_lane *l = NULL;
  assert_int_equal(weft_lane_create(tp, &lo, &l), 0);
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < 3; i++) {
      assert_int_equal(weft_lane_call_in_thread(l, task_fn, NULL), 0);
      assert_int_equal(weft_lane_call_in_thread_with_callback(l, on_result, NULL, call_fn, NULL), 0);
      atomic_fetch_add(&g_acc.accepted, 2);
    }
    if (round == 0) {
      int rc = weft_threadpool_start(tp);
      assert_true(rc == 0 || rc == WEFT_EAGAIN);
    }
  }
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  int acc = atomic_load(&g_acc.accepted), ran = atomic_load(&g_acc.ran),
      can = atomic_load(&g_acc.cancelled);
  if (acc != ran + can || atomic_load(&g_acc.other) != 0)
    fail_msg("lanes: accepted %d != ran %d + cancelled %d (other %d)", acc, ran, can,
             atomic_load(&g_acc.other));
}

/* ------------------------------------------------------- weft_pool scenario */

/* A weft_pool() team (limit 2) whose thread creations fail: do(), grow,
 * then, when a creation can still succeed (fail-once), every accepted task
 * runs without another call (the monitor retries, E9.5); quit, destroy. */
static sync_t g_wps_ran;
static void wps_task(void *arg) {
  (void)arg;
  count_up(&g_wps_ran);
}
static int wps_limit(void *ctx) {
  (void)ctx;
  return 2;
}
static int g_wps_expect_all;
static void scenario_weft_pool(void) {
  sync_init(&g_wps_ran);
  weft_team *t = NULL;
  assert_int_equal(weft_pool(&t, wps_limit, NULL, g_use_hook ? failing_factory : NULL, NULL, "fault-wp"), 0);
  int accepted = 0;
  for (int i = 0; i < 8; i++) {
    assert_int_equal(weft_team_do(t, wps_task, NULL), 0);
    accepted++;
    if (i == 3) {
      int rc = weft_team_grow(t, 1);
      assert_true(rc == 0 || rc == WEFT_EAGAIN);
    }
  }
  if (g_wps_expect_all) {
    struct timespec dl; /* a hang guard: the pass condition is the runs */
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 30;
    pthread_mutex_lock(&g_wps_ran.mu);
    while (g_wps_ran.count < accepted &&
           pthread_cond_timedwait(&g_wps_ran.cv, &g_wps_ran.mu, &dl) == 0) {
    }
    int ran = g_wps_ran.count;
    pthread_mutex_unlock(&g_wps_ran.mu);
    if (ran != accepted) fail_msg("weft_pool: %d of %d accepted tasks ran (k = %ld)", ran, accepted,
                                  atomic_load(&g_fail_at));
  }
  assert_int_equal(weft_team_quit(t), 0);
  int r;
  while ((r = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(r, 0);
  assert_true(count_get(&g_wps_ran) <= accepted);
  sync_fini(&g_wps_ran);
}

static void hook_reactor_mix_once(void **s) {
  (void)s;
  g_use_hook = 1;
  g_mx_factory = failing_factory;
  assert_true(sweep(scenario_reactor_mix, MODE_ONCE, "reactor thread APIs + contexts", 1) > 0);
}
static void hook_reactor_mix_from(void **s) {
  (void)s;
  g_use_hook = 1;
  g_mx_factory = failing_factory;
  assert_true(sweep(scenario_reactor_mix, MODE_FROM, "reactor thread APIs + contexts", 1) > 0);
}
#ifdef WEFT_FAULT_WRAP
static void pthread_reactor_mix_once(void **s) {
  (void)s;
  g_use_hook = 0;
  g_mx_factory = NULL;
  assert_true(sweep(scenario_reactor_mix, MODE_ONCE, "reactor thread APIs + contexts", 1) > 0);
}
static void pthread_reactor_mix_from(void **s) {
  (void)s;
  g_use_hook = 0;
  g_mx_factory = NULL;
  assert_true(sweep(scenario_reactor_mix, MODE_FROM, "reactor thread APIs + contexts", 1) > 0);
}
#endif

static void hook_lanes_once(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_lanes, MODE_ONCE, "lanes", 1) > 0);
}
static void hook_lanes_from(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_lanes, MODE_FROM, "lanes", 1) > 0);
}
static void hook_weft_pool_once(void **s) {
  (void)s;
  g_use_hook = 1;
  g_wps_expect_all = 1;
  assert_true(sweep(scenario_weft_pool, MODE_ONCE, "weft_pool", 1) > 0);
}
static void hook_weft_pool_from(void **s) {
  (void)s;
  g_use_hook = 1;
  g_wps_expect_all = 0;
  assert_true(sweep(scenario_weft_pool, MODE_FROM, "weft_pool", 1) > 0);
}
#ifdef WEFT_FAULT_WRAP
static void pthread_lanes_once(void **s) {
  (void)s;
  g_use_hook = 0;
  assert_true(sweep(scenario_lanes, MODE_ONCE, "lanes", 1) > 0);
}
static void pthread_weft_pool_once(void **s) {
  (void)s;
  g_use_hook = 0;
  g_wps_expect_all = 1;
  assert_true(sweep(scenario_weft_pool, MODE_ONCE, "weft_pool", 1) > 0);
}
static void pthread_weft_pool_from(void **s) {
  (void)s;
  g_use_hook = 0;
  g_wps_expect_all = 0;
  assert_true(sweep(scenario_weft_pool, MODE_FROM, "weft_pool", 1) > 0);
}
#endif


/* ------------------------------- blockingCallFromThread from a pool thread */

/* The reactor's pool has one thread (max 1). A task on it calls
 * blocking_call_from_thread, whose reactor call waits for a deferToThread
 * on that same pool (twisted#5298): only the stand-in the announced wait
 * gets (E9.1) can run it. Each thread creation may fail once (the task's
 * thread, the stand-in, the monitor's): the round trip still completes,
 * with no other call to retry the creation. A 30 s reactor timer is only a
 * hang guard: the pass condition is the round trip's value. */
static void bcp_stop(void *arg) {
  bcp_state *st = arg;
  (void)weft_reactor_stop(st->r);
}
static void bcp_pool_task(void *arg) {
  bcp_state *st = arg;
  bcp_call_and_record(st);
  assert_int_equal(weft_reactor_call_from_thread(st->r, bcp_stop, st), 0);
}
static void bcp_guard(void *arg) {
  bcp_state *st = arg;
  st->timed_out = 1;
  (void)weft_reactor_stop(st->r);
}
static void bcp_on_running(void *arg) {
  bcp_state *st = arg;
  assert_int_equal(weft_reactor_call_in_thread(st->r, bcp_pool_task, st), 0);
  assert_int_equal(weft_reactor_call_later(st->r, 30.0, bcp_guard, st, NULL), 0);
}
static void scenario_blocking_in_pool(void) {
  bcp_state st;
  memset(&st, 0, sizeof st);
  assert_int_equal(weft_reactor_create(&st.r), 0);
  weft_threadpool_options o;
  weft_reactor_thread_pool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  if (g_use_hook) o.thread_factory = failing_factory;
  assert_int_equal(weft_reactor_set_thread_pool_options(st.r, &o), 0);
  assert_int_equal(weft_reactor_call_when_running(st.r, bcp_on_running, &st), 0);
  int rc = weft_reactor_run(st.r);
  assert_true(rc == 0 || rc == WEFT_EAGAIN);
  assert_int_equal(weft_reactor_destroy(st.r), 0);
  if (st.timed_out || atomic_load(&st.rc_seen) != 1)
    fail_msg("blocking call from a pool thread: %s, rc %d (k = %ld)",
             st.timed_out ? "hung" : "done", atomic_load(&st.rc_seen), atomic_load(&g_fail_at));
}
static void hook_blocking_in_pool_once(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_blocking_in_pool, MODE_ONCE, "blocking call in pool", 1) > 0);
}
#ifdef WEFT_FAULT_WRAP
static void pthread_blocking_in_pool_once(void **s) {
  (void)s;
  g_use_hook = 0;
  assert_true(sweep(scenario_blocking_in_pool, MODE_ONCE, "blocking call in pool", 1) > 0);
}
#endif

#ifdef WEFT_FAULT_WRAP

/* ------------------------------- a stand-in during stop whose creation fails */

/* A pool (1, 1): task A queues B on its own ring, then, once a stop has
 * begun joining (the observer's STOP_WATCH), announces a block and waits for
 * B. Only a stand-in started while the pool stops can run B (E9.1, the
 * stop's stand_in_for_blocked / join_watching); its creation (and any other)
 * may fail once. The stop still returns with B run, A done. A 30 s guard in
 * A is only a hang guard. */
static weft_threadpool *g_ss_tp;
static sync_t g_ss_a_started, g_ss_go, g_ss_b_ran;
static atomic_int g_ss_b_seen, g_ss_a_refused;
static void ss_on_event(weft__event ev) {
  if (ev == WEFT__EVENT_STOP_WATCH) gate_open(&g_ss_go);
}
static void ss_b(void *arg) {
  (void)arg;
  count_up(&g_ss_b_ran);
}
static void ss_a(void *arg) {
  (void)arg;
  if (weft_threadpool_call_in_thread(g_ss_tp, ss_b, NULL) != 0) atomic_store(&g_ss_a_refused, 1);
  count_up(&g_ss_a_started);
  gate_wait(&g_ss_go);
  (void)weft_blocking_begin();
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 30;
  pthread_mutex_lock(&g_ss_b_ran.mu);
  while (g_ss_b_ran.count == 0 && pthread_cond_timedwait(&g_ss_b_ran.cv, &g_ss_b_ran.mu, &dl) == 0) {
  }
  atomic_store(&g_ss_b_seen, g_ss_b_ran.count);
  pthread_mutex_unlock(&g_ss_b_ran.mu);
  (void)weft_blocking_end();
}
static void *ss_stopper(void *arg) {
  (void)arg;
  assert_int_equal(weft_threadpool_stop(g_ss_tp), 0);
  return NULL;
}
static void scenario_stop_stand_in(void) {
  sync_init(&g_ss_a_started);
  sync_init(&g_ss_go);
  sync_init(&g_ss_b_ran);
  atomic_store(&g_ss_b_seen, 0);
  atomic_store(&g_ss_a_refused, 0);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 1;
  o.name = "fault-ss";
  o.spin_us = 1;
  o.log = pool_log;
  if (g_use_hook) o.thread_factory = failing_factory;
  assert_int_equal(weft_threadpool_create_ex(&g_ss_tp, &o), 0);
  int rc = weft_threadpool_start(g_ss_tp);
  assert_true(rc == 0 || rc == WEFT_EAGAIN);
  assert_int_equal(weft_threadpool_call_in_thread(g_ss_tp, ss_a, NULL), 0);
  /* A starts once a thread could be made (the monitor retries E9.5). */
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 30;
  pthread_mutex_lock(&g_ss_a_started.mu);
  while (g_ss_a_started.count == 0 &&
         pthread_cond_timedwait(&g_ss_a_started.cv, &g_ss_a_started.mu, &dl) == 0) {
  }
  int started = g_ss_a_started.count;
  pthread_mutex_unlock(&g_ss_a_started.mu);
  weft__observer_set(ss_on_event);
  if (!started) gate_open(&g_ss_go); /* fail below; let the stop finish */
  pthread_t s;
  assert_int_equal(__real_pthread_create(&s, NULL, ss_stopper, NULL), 0);
  pthread_join(s, NULL);
  weft__observer_set(NULL);
  assert_int_equal(weft_threadpool_destroy(g_ss_tp), 0);
  if (!started) fail_msg("stop stand-in: A never started (k = %ld)", atomic_load(&g_fail_at));
  assert_int_equal(atomic_load(&g_ss_a_refused), 0);
  if (atomic_load(&g_ss_b_seen) != 1)
    fail_msg("stop stand-in: B did not run while A waited (k = %ld)", atomic_load(&g_fail_at));
  sync_fini(&g_ss_a_started);
  sync_fini(&g_ss_go);
  sync_fini(&g_ss_b_ran);
}
static void hook_stop_stand_in_once(void **s) {
  (void)s;
  g_use_hook = 1;
  assert_true(sweep(scenario_stop_stand_in, MODE_ONCE, "stand-in during stop", 1) > 0);
}
static void pthread_stop_stand_in_once(void **s) {
  (void)s;
  g_use_hook = 0;
  assert_true(sweep(scenario_stop_stand_in, MODE_ONCE, "stand-in during stop", 1) > 0);
}
#endif

static int setup(void **s) {
  (void)s;
  weft_set_unhandled_failure_hook(quiet_unhandled, NULL);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hook_always_fails),
      cmocka_unit_test(hook_pool_once),
      cmocka_unit_test(hook_pool_from),
      cmocka_unit_test(hook_thread_worker),
      cmocka_unit_test(hook_team_once),
      cmocka_unit_test(hook_team_from),
      cmocka_unit_test(weft_pool_creation_failure_retried),
      cmocka_unit_test(hook_reactor_mix_once),
      cmocka_unit_test(hook_reactor_mix_from),
      cmocka_unit_test(hook_lanes_once),
      cmocka_unit_test(hook_lanes_from),
      cmocka_unit_test(hook_weft_pool_once),
      cmocka_unit_test(hook_weft_pool_from),
      cmocka_unit_test(hook_blocking_in_pool_once),
#ifdef WEFT_FAULT_WRAP
      cmocka_unit_test(pthread_pool_once),
      cmocka_unit_test(pthread_pool_from),
      cmocka_unit_test(pthread_reactor_once),
      cmocka_unit_test(pthread_reactor_from),
      cmocka_unit_test(pthread_thread_worker),
      cmocka_unit_test(hook_stop_stand_in_once),
      cmocka_unit_test(pthread_stop_stand_in_once),
      cmocka_unit_test(pthread_reactor_mix_once),
      cmocka_unit_test(pthread_reactor_mix_from),
      cmocka_unit_test(pthread_lanes_once),
      cmocka_unit_test(pthread_weft_pool_once),
      cmocka_unit_test(pthread_weft_pool_from),
      cmocka_unit_test(pthread_blocking_in_pool_once),
      cmocka_unit_test(monitor_start_failure_still_stands_in),
      cmocka_unit_test(unannounced_block_with_no_monitor_thread),
      cmocka_unit_test(unannounced_block_after_the_monitor_looked),
#endif
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
