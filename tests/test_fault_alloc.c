/*
 * Allocation failure at every site. A counting allocator installed with
 * weft_replace_allocator() fails the k-th allocation (mode "once") or every
 * allocation from the k-th on (mode "from"); k sweeps from 1 until a whole
 * scenario runs without reaching k. In every run: each call returns 0 or an
 * error code, nothing crashes, no weft object stays alive (and, in the ASan
 * build, LSan finds no leak), and every accepted task is accounted for
 * exactly once: it ran, or its owner was told WEFT_ECANCELED.
 *
 * Scenarios: (1) ThreadPool: work queued before start, start, more work of
 * all three kinds, stop, destroy; a second pool never started (destroy
 * cancels). (1b) Lanes: the same with a lane limited to 1 in front of the
 * pool (most tasks wait in the lane). (2) Reactor + deferToThread: N Deferreds from the reactor thread,
 * stop when every observed one fired; each accepted Deferred must have fired.
 * (3) Reactor thread APIs with a context current (fault_accounting.h):
 * call_multiple_in_thread, defer_to_thread_then, reactor_queue_work,
 * call_in_thread, and from another thread call_from_thread(_req) and
 * blocking_call_from_thread; every accepted completion runs once and every
 * context retain is released. (4) Workers with a context current: a
 * LockWorker with a re-entrant do(), a Team (LockWorker coordinator), a
 * weft_pool() team. (5) blocking_call_from_thread from the only thread of
 * the reactor's pool, waiting for a deferToThread on that pool (the
 * elastic stand-in): it completes, or fails with a documented code, never
 * hangs. (6) Team of ThreadWorkers. Return codes are checked against the
 * headers (start: 0 or WEFT_EAGAIN; run: 0).
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
#include <time.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/core.h"       /* sizeof(weft__eworker) */
#include "engine/node_cache.h" /* WEFT__SLAB_NODES */
#include "engine/observer.h"   /* a stop that joins: WEFT__EVENT_STOP_WATCH */
#include "test_fork_safety.h"
#include "test_sync.h"
#include "weft/weft.h"

/* ------------------------------------------------------ counting allocator */

enum { MODE_OFF, MODE_ONCE, MODE_FROM };
static atomic_long g_count;     /* allocations seen since reset */
static atomic_long g_fail_at;   /* 1-based index of the allocation to fail */
static atomic_int g_mode;
static atomic_long g_injected;  /* failures injected since reset */

static atomic_size_t g_fail_size; /* fail one allocation of exactly this size */

static int should_fail_size(size_t size) {
  size_t want = atomic_load(&g_fail_size);
  if (want == 0 || size != want) return 0;
  return atomic_compare_exchange_strong(&g_fail_size, &want, 0);
}

/* A thread that never sees a failure (the stopper below). */
static _Thread_local int t_spared;
/* Set: the next injected failure first stops this pool, on a thread of its
 * own, and waits for that stop (a stop that completes while a submit seeks
 * memory). */
static _Atomic(weft_threadpool *) g_stop_on_fail;
static void *stop_on_fail_main(void *tp) {
  t_spared = 1;
  if (weft_threadpool_stop(tp) != 0) abort();
  return NULL;
}
/* The same for a team: the next injected failure first quits it, on a
 * thread of its own, and waits for that quit. */
static _Atomic(weft_team *) g_quit_on_fail;
static void *quit_on_fail_main(void *t) {
  t_spared = 1;
  if (weft_team_quit(t) != 0) abort();
  return NULL;
}
static void stop_on_fail(void) {
  weft_team *team = atomic_exchange(&g_quit_on_fail, NULL);
  if (team) {
    pthread_t th;
    if (pthread_create(&th, NULL, quit_on_fail_main, team) != 0 || pthread_join(th, NULL) != 0)
      abort();
  }
  weft_threadpool *tp = atomic_exchange(&g_stop_on_fail, NULL);
  if (!tp) return;
  pthread_t th;
  if (pthread_create(&th, NULL, stop_on_fail_main, tp) != 0 || pthread_join(th, NULL) != 0) abort();
}

static int should_fail(void) {
  if (t_spared) return 0;
  long n = atomic_fetch_add(&g_count, 1) + 1;
  int mode = atomic_load(&g_mode);
  long k = atomic_load(&g_fail_at);
  if ((mode == MODE_ONCE && n == k) || (mode == MODE_FROM && n >= k)) {
    atomic_fetch_add(&g_injected, 1);
    stop_on_fail();
    return 1;
  }
  return 0;
}
static void *fault_malloc(size_t n) { return should_fail_size(n) || should_fail() ? NULL : malloc(n); }
static void *fault_calloc(size_t n, size_t m) {
  return should_fail_size(n * m) || should_fail() ? NULL : calloc(n, m);
}
static void fault_free(void *p) { free(p); }

static void arm(int mode, long k) {
  atomic_store(&g_count, 0);
  atomic_store(&g_injected, 0);
  atomic_store(&g_fail_at, k);
  atomic_store(&g_mode, mode);
}
static void disarm(void) { atomic_store(&g_mode, MODE_OFF); }

/* ------------------------------------------------------- scenario: pool */

#include "fault_accounting.h"

#define REQS 8
static weft_work g_reqs[2][REQS];

static int pool_create(weft_threadpool **tp, int min, int max) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = min;
  o.max_threads = max;
  o.name = "fault";
  o.log = pool_log;
  o.spin_us = 1;
  return weft_threadpool_create_ex(tp, &o);
}

/* Submit `n` of each kind; count what was accepted. */
static void submit_mix(weft_threadpool *tp, weft_work *reqs, int n) {
  for (int i = 0; i < n; i++) {
    int rc = weft_threadpool_call_in_thread(tp, task_fn, NULL);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
    rc = weft_threadpool_call_in_thread_with_callback(tp, on_result, NULL, call_fn, NULL);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
    rc = weft_threadpool_queue_work(tp, &reqs[i], work_fn, after_fn);
    assert_int_equal(rc, 0); /* allocation-free by contract */
    atomic_fetch_add(&g_acc.accepted, 1);
  }
}

static void scenario_pool(void) {
  memset(&g_acc, 0, sizeof g_acc);
  int n = REQS / 2;
  weft_threadpool *tp = NULL;
  int rc = pool_create(&tp, 1, 3);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) {
    submit_mix(tp, g_reqs[0], n);                 /* backlog before start */
    rc = weft_threadpool_start(tp);
    if (!(rc == 0 || rc == WEFT_EAGAIN)) fail_msg("start: %d", rc);
    submit_mix(tp, g_reqs[0] + n, n);
    rc = weft_threadpool_adjust_poolsize(tp, 2, 4);
    if (!(rc == 0 || rc == WEFT_EAGAIN)) fail_msg("adjust: %d", rc);
    rc = weft_threadpool_stop(tp);
    assert_true(rc == 0);
    assert_int_equal(weft_threadpool_destroy(tp), 0);
  }
  weft_threadpool *never = NULL;
  rc = pool_create(&never, 2, 2);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) {
    submit_mix(never, g_reqs[1], n);
    assert_int_equal(weft_threadpool_destroy(never), 0); /* cancels everything */
  }
  int acc = atomic_load(&g_acc.accepted), ran = atomic_load(&g_acc.ran),
      can = atomic_load(&g_acc.cancelled);
  if (acc != ran + can || atomic_load(&g_acc.other) != 0)
    fail_msg("accepted %d != ran %d + cancelled %d (other failures %d)", acc, ran, can,
             atomic_load(&g_acc.other));
}

/* ------------------------------------------------------ scenario: lanes */

/* Submit n tasks of both kinds to a lane; count what was accepted. */
static void submit_lane(weft_lane *l, int n) {
  for (int i = 0; i < n; i++) {
    int rc = weft_lane_call_in_thread(l, task_fn, NULL);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
    rc = weft_lane_call_in_thread_with_callback(l, on_result, NULL, call_fn, NULL);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
  }
}

/* A lane limited to 1 (most of its tasks wait in it) on a pool: tasks before
 * start, after start, stop, destroy; and a pool never started, whose
 * destroy cancels what the pool and the lane hold. */
static void scenario_lanes(void) {
  memset(&g_acc, 0, sizeof g_acc);
  weft_lane_options lo;
  weft_lane_options_init(&lo);
  lo.name = "fault";
  for (int started = 1; started >= 0; started--) {
    weft_threadpool *tp = NULL;
    int rc = pool_create(&tp, 1, 3);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc != 0) continue;
    weft_lane *l = NULL;
    rc = weft_lane_create(tp, &lo, &l);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) {
      submit_lane(l, 3);
      if (started) {
        rc = weft_threadpool_start(tp);
        if (!(rc == 0 || rc == WEFT_EAGAIN)) fail_msg("lane start: %d", rc);
        submit_lane(l, 3);
        assert_int_equal(weft_threadpool_stop(tp), 0);
      }
    }
    assert_int_equal(weft_threadpool_destroy(tp), 0);
  }
  int acc = atomic_load(&g_acc.accepted), ran = atomic_load(&g_acc.ran),
      can = atomic_load(&g_acc.cancelled);
  if (acc != ran + can || atomic_load(&g_acc.other) != 0)
    fail_msg("accepted %d != ran %d + cancelled %d (other failures %d)", acc, ran, can,
             atomic_load(&g_acc.other));
}

/* ---------------------------------------------------- scenario: reactor */


static int work_in_thread(void *arg, void **result) {
  (void)arg;
  *result = (void *)(intptr_t)7;
  return 0;
}


static void on_running(void *arg) {
  rx_state *st = arg;
  for (int i = 0; i < DEFERS; i++) {
    weft_deferred *d = NULL;
    int rc = weft_defer_to_thread(st->r, work_in_thread, NULL, &d);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc != 0) {
      assert_null(d);
      continue;
    }
    st->ds[st->nds++] = d;
    if (weft_deferred_add_both(d, on_fired, st) == 0) st->observed++;
  }
  st->all_submitted = 1;
  /* A task accepted while no worker exists and none can be started (every
   * allocation fails from k on) waits for the next submit or for stop(),
   * which cancels it (E7): nothing retries the thread creation on its own.
   * Stop now in that case; the check after destroy still demands that every
   * accepted Deferred fired (with WEFT_ECANCELED). */
  weft_threadpool *tp = NULL;
  if (st->nds > 0 && weft_reactor_get_thread_pool(st->r, &tp) == 0 &&
      weft_threadpool_workers(tp) == 0 && !st->stop_called) {
    st->stop_called = 1;
    st->stranded = 1;
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
  int rc = weft_reactor_create(&st.r);
  if (!(rc == 0 || rc == WEFT_ENOMEM)) fail_msg("create: %d", rc);
  if (rc != 0) return;
  rc = weft_reactor_call_when_running(st.r, on_running, &st);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) {
    rc = weft_reactor_run(st.r);
    if (rc != 0) fail_msg("run: %d", rc);
  }
  assert_int_equal(weft_reactor_destroy(st.r), 0);
  /* Every accepted Deferred fired: with the value, or with a failure. */
  for (int i = 0; i < st.nds; i++) {
    if (!weft_deferred_called(st.ds[i]))
      fail_msg("deferred %d of %d never fired (ran: %d)", i, st.nds, rc);
    weft_deferred_unref(st.ds[i]);
  }
}

/* ------------------------------------------------------------ scenario: Team */

/* A Team with the default coordinator and ThreadWorkers (up to 3). Creation
 * failures mean "no worker"; the team backlogs. Quit, then destroy (retried
 * while it says WEFT_EBUSY, as documented). Every accepted task ran or was
 * reported with WEFT_ECANCELED. ThreadWorkers are freed by their own exiting
 * threads, so this scenario does not check for live objects. */
static void team_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
  else if (err != WEFT_ENOMEM) {
    fprintf(stderr, "team log: %s: %s\n", weft_err_name(err), what);
    atomic_fetch_add(&g_acc.other, 1);
  }
}

static void scenario_team(void) {
  memset(&g_acc, 0, sizeof g_acc);
  atomic_store(&g_team_workers, 0);
  weft_team *t = NULL;
  int rc = weft_team_create(&t, NULL, team_create_worker, NULL, team_log, NULL);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc != 0) return;
  for (int i = 0; i < 12; i++) {
    rc = weft_team_do(t, task_fn, NULL);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
    if (i == 4) (void)weft_team_grow(t, 2); /* fewer workers under ENOMEM: fine */
  }
  rc = weft_team_quit(t);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  team_destroy_and_check(t);
}



/* ------------------------------------------------------------- the sweep */

static void assert_nothing_alive(void) {
  assert_int_equal(weft_replace_allocator(NULL, NULL, NULL), 0);
}

static int g_check_alive = 1;

static long sweep(void (*scenario)(void), int mode, const char *name) {
  disarm();
  arm(MODE_OFF, 0);
  scenario();
  long sites = atomic_load(&g_count);
  if (g_check_alive) assert_nothing_alive();
  long k;
  for (k = 1; k <= 100000; k++) {
    arm(mode, k);
    scenario();
    long injected = atomic_load(&g_injected);
    disarm();
    if (g_check_alive) assert_nothing_alive();
    if (injected == 0) break; /* the scenario made fewer than k allocations */
  }
  printf("# %s, mode %s: %ld allocations in a clean run, swept k = 1..%ld\n", name,
         mode == MODE_ONCE ? "fail-once" : "fail-from", sites, k - 1);
  return k - 1;
}

/* ------------------------------ node reuse when no new slab can be had */

static sync_t g_reuse_ran;
static void reuse_task(void *arg) {
  (void)arg;
  count_up(&g_reuse_ran);
}

/* A node cache grows to a minimum size before it reuses nodes
 * (lib/engine/node_cache.c), but when a new slab cannot be allocated it restarts
 * a slab that has come back: call_in_thread succeeds, it does not fail
 * with WEFT_ENOMEM while free nodes exist. Runs first, so that the main
 * thread's cache starts empty: 2 * WEFT__SLAB_NODES submits use up both of
 * its slabs and, once the pool's worker has exited (it flushes its count
 * of returned nodes), both slabs are free. */
static void node_reuse_on_enomem(void **s) {
  (void)s;
  enum { N = 2 * WEFT__SLAB_NODES };
  sync_init(&g_reuse_ran);
  weft_threadpool *a = NULL, *b = NULL;
  assert_int_equal(pool_create(&a, 1, 1), 0);
  assert_int_equal(weft_threadpool_start(a), 0);
  for (int i = 0; i < N; i++)
    assert_int_equal(weft_threadpool_call_in_thread(a, reuse_task, NULL), 0);
  count_wait(&g_reuse_ran, N);
  assert_int_equal(weft_threadpool_stop(a), 0); /* its worker returns the nodes */
  assert_int_equal(weft_threadpool_destroy(a), 0);
  assert_int_equal(pool_create(&b, 1, 1), 0);
  assert_int_equal(weft_threadpool_start(b), 0);
  arm(MODE_FROM, 1); /* every allocation fails from here */
  int rc = weft_threadpool_call_in_thread(b, reuse_task, NULL);
  long injected = atomic_load(&g_injected);
  disarm();
  assert_int_equal(rc, 0);
  assert_true(injected >= 1); /* the cache did try for a new slab */
  count_wait(&g_reuse_ran, N + 1);
  assert_int_equal(weft_threadpool_stop(b), 0);
  assert_int_equal(weft_threadpool_destroy(b), 0);
  sync_fini(&g_reuse_ran);
}

/* ------------------ a stopped pool's answer when no node can be had */

/* A submit to a stopped pool answers WEFT_EQUIT (the header's "after
 * stop"), also when the submitting thread's node cache is empty and no
 * memory is left: the node is taken before the engine looks at the closed
 * bit (the fast path), so the out-of-memory answer looks at it too.
 * Fails with WEFT_ENOMEM without that look. A thread of its own, so its
 * node cache starts empty. */
typedef struct stopped_submit {
  weft_threadpool *tp;
  int call, callback;
  long injected;
} stopped_submit;
static int never_called(void *arg, void **result) {
  (void)arg;
  (void)result;
  return 0;
}
static void *stopped_submit_main(void *arg) {
  stopped_submit *ss = arg;
  arm(MODE_FROM, 1); /* every allocation fails from here */
  ss->call = weft_threadpool_call_in_thread(ss->tp, reuse_task, NULL);
  ss->callback = weft_threadpool_call_in_thread_with_callback(ss->tp, NULL, NULL, never_called, NULL);
  ss->injected = atomic_load(&g_injected);
  disarm();
  return NULL;
}
static void stopped_pool_out_of_memory_answers_equit(void **s) {
  (void)s;
  weft_threadpool *tp = NULL;
  assert_int_equal(pool_create(&tp, 1, 1), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  stopped_submit ss = {.tp = tp};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, stopped_submit_main, &ss), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_true(ss.injected >= 2); /* the premise: both found no node */
  assert_int_equal(ss.call, WEFT_EQUIT);
  assert_int_equal(ss.callback, WEFT_EQUIT);
  /* deferToThreadPool onto it from a reactor with no round-trip block yet. */
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_deferred *d = (weft_deferred *)&d;
  arm(MODE_FROM, 1);
  int rc = weft_defer_to_thread_pool(r, tp, never_called, NULL, &d);
  long injected = atomic_load(&g_injected);
  disarm();
  assert_true(injected >= 1); /* the premise: no block */
  assert_int_equal(rc, WEFT_EQUIT);
  assert_null(d);
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* callMultipleInThread onto the reactor's pool, stopped through its handle:
 * WEFT_EQUIT (weft/threads.h: the errors of submitting to the pool), also
 * when the copy of the call list cannot be allocated, as the other submits
 * answer then (test stopped_pool_out_of_memory_answers_equit): the copy is
 * made before the pool looks at its stop. Fails with WEFT_ENOMEM without
 * that look. */
static int multiple_never_called(void *arg, void **result) {
  (void)arg;
  (void)result;
  atomic_fetch_add(&g_injected, 1000); /* never: the pool is stopped */
  return 0;
}
static void call_multiple_on_a_stopped_pool_out_of_memory_answers_equit(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_reactor_get_thread_pool(r, &tp), 0);
  (void)weft_threadpool_stop(tp);
  assert_int_equal(weft_threadpool_joined(tp), 1);
  const weft_call calls[2] = {{multiple_never_called, NULL}, {multiple_never_called, NULL}};
  assert_int_equal(weft_call_multiple_in_thread(r, calls, 2), WEFT_EQUIT); /* with memory */
  arm(MODE_FROM, 1); /* every allocation fails from here */
  int rc = weft_call_multiple_in_thread(r, calls, 2);
  long injected = atomic_load(&g_injected);
  disarm();
  assert_true(injected >= 1 && injected < 1000); /* the premise: no copy */
  assert_int_equal(rc, WEFT_EQUIT);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* The same with a context current: the submit's own node is had (the
 * thread's cache holds one), the context's wrapper node is not. A stopped
 * pool answers WEFT_EQUIT all the same (weft/threadpool.h: "also when out
 * of memory then"); the wrapper's failure answered WEFT_ENOMEM, as if the
 * pool could have taken the task. A thread of its own: its node cache
 * starts empty, and a never-started pool holds all of its first slab's
 * nodes but one. */
typedef struct ctx_stopped_submit {
  weft_threadpool *tp, *holder;
  int callback, queued;
  long injected;
  weft_work req;
} ctx_stopped_submit;
static void never_worked(weft_work *req) { (void)req; }
static void *ctx_stopped_submit_main(void *arg) {
  ctx_stopped_submit *cs = arg;
  static char a_context;
  for (int i = 0; i < WEFT__SLAB_NODES - 1; i++)
    if (weft_threadpool_call_in_thread(cs->holder, reuse_task, NULL) != 0) return NULL;
  weft_context_set(&a_context);
  arm(MODE_FROM, 1); /* every allocation fails from here */
  cs->callback = weft_threadpool_call_in_thread_with_callback(cs->tp, NULL, NULL, never_called, NULL);
  cs->queued = weft_threadpool_queue_work(cs->tp, &cs->req, never_worked, NULL);
  cs->injected = atomic_load(&g_injected);
  disarm();
  weft_context_set(NULL);
  return NULL;
}
static void stopped_pool_out_of_memory_for_a_context_answers_equit(void **s) {
  (void)s;
  ctx_stopped_submit cs = {.callback = 1, .queued = 1};
  assert_int_equal(pool_create(&cs.tp, 1, 1), 0);
  assert_int_equal(weft_threadpool_start(cs.tp), 0);
  assert_int_equal(weft_threadpool_stop(cs.tp), 0);
  assert_int_equal(pool_create(&cs.holder, 0, 1), 0); /* never started: keeps the nodes */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, ctx_stopped_submit_main, &cs), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_true(cs.injected >= 1); /* the premise: a node was wanted and not had */
  assert_int_equal(cs.callback, WEFT_EQUIT);
  assert_int_equal(cs.queued, WEFT_EQUIT);
  assert_int_equal(weft_threadpool_destroy(cs.holder), 0); /* cancels what it holds */
  assert_int_equal(weft_threadpool_destroy(cs.tp), 0);
}

/* A lane submit looks at its lane and pool at the door, then takes its
 * nodes: a stop that closes the pool while a node is sought (here: when
 * the allocation that would give one fails) leaves a stopped pool, and
 * the answer is WEFT_EQUIT, as with memory (weft/lane.h), and as the
 * pool's own submits answer then, not WEFT_ENOMEM. Three ways: the task's
 * node (no node left), a callback's result node (one left) and the
 * context's wrapper (one left, a context current); each on a lane of a
 * never-started pool of its own, stopped by the failing allocation. A
 * thread of its own: its node cache is emptied into a never-started
 * holder pool first, then given one node at a time. Fails with
 * WEFT_ENOMEM without the look after the failure (lane.c,
 * lane_no_memory). */
typedef struct lane_stopped_submit {
  weft_threadpool *holder, *tp[3];
  weft_lane *lane[3];
  int rc[3], hooked[3];
} lane_stopped_submit;
static void lane_never_told(void *ctx, int status, void *result) {
  (void)ctx;
  (void)status;
  (void)result;
  abort(); /* never accepted */
}
/* One node left in the calling thread's cache: a new slab (with memory),
 * all of its nodes but one taken by the holder. */
static int leave_one_node(weft_threadpool *holder) {
  disarm();
  for (int i = 0; i < WEFT__SLAB_NODES - 1; i++)
    if (weft_threadpool_call_in_thread(holder, reuse_task, NULL) != 0) return -1;
  arm(MODE_FROM, 1);
  return 0;
}
static void *lane_stopped_submit_main(void *arg) {
  lane_stopped_submit *ls = arg;
  static char a_context;
  arm(MODE_FROM, 1); /* every allocation fails from here */
  /* No node left: the holder takes them all. */
  for (long i = 0; i < 100L * WEFT__SLAB_NODES; i++)
    if (weft_threadpool_call_in_thread(ls->holder, reuse_task, NULL) != 0) break;
  atomic_store(&g_stop_on_fail, ls->tp[0]);
  ls->rc[0] = weft_lane_call_in_thread(ls->lane[0], reuse_task, NULL);
  ls->hooked[0] = atomic_load(&g_stop_on_fail) == NULL;
  if (leave_one_node(ls->holder) != 0) return NULL;
  atomic_store(&g_stop_on_fail, ls->tp[1]);
  ls->rc[1] = weft_lane_call_in_thread_with_callback(ls->lane[1], lane_never_told, NULL,
                                                      never_called, NULL);
  ls->hooked[1] = atomic_load(&g_stop_on_fail) == NULL;
  if (leave_one_node(ls->holder) != 0) return NULL;
  weft_context_set(&a_context);
  atomic_store(&g_stop_on_fail, ls->tp[2]);
  ls->rc[2] = weft_lane_call_in_thread(ls->lane[2], reuse_task, NULL);
  ls->hooked[2] = atomic_load(&g_stop_on_fail) == NULL;
  weft_context_set(NULL);
  atomic_store(&g_stop_on_fail, NULL);
  disarm();
  return NULL;
}
static void lane_submit_out_of_memory_on_a_stopped_pool_answers_equit(void **s) {
  (void)s;
  lane_stopped_submit ls = {.rc = {1, 1, 1}};
  assert_int_equal(pool_create(&ls.holder, 0, 1), 0); /* never started: keeps the nodes */
  weft_lane_options lo;
  weft_lane_options_init(&lo);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(pool_create(&ls.tp[i], 0, 1), 0); /* never started: no thread allocates */
    assert_int_equal(weft_lane_create(ls.tp[i], &lo, &ls.lane[i]), 0);
  }
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, lane_stopped_submit_main, &ls), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  for (int i = 0; i < 3; i++) {
    assert_true(ls.hooked[i]); /* the premise: a node was sought and the pool stopped then */
    assert_int_equal(weft_threadpool_joined(ls.tp[i]), 1);
    assert_int_equal(ls.rc[i], WEFT_EQUIT);
    weft_lane_stats st;
    assert_int_equal(weft_lane_stats_get(ls.lane[i], &st), 0);
    assert_int_equal(st.submitted, 0);
    assert_int_equal(weft_threadpool_destroy(ls.tp[i]), 0);
  }
  assert_int_equal(weft_threadpool_destroy(ls.holder), 0); /* cancels what it holds */
}

/* weft_lane_create on a stopped pool answers WEFT_EQUIT (weft/lane.h), also
 * when no memory is left: the lane and its name are made before the pool
 * is looked at. Both allocations: the lane's (every one fails) and its
 * name's (the second fails). Fails with WEFT_ENOMEM without the look
 * (lane.c, lane_create_no_memory). */
static void lane_create_out_of_memory_on_a_stopped_pool_answers_equit(void **s) {
  (void)s;
  weft_threadpool *tp = NULL;
  assert_int_equal(pool_create(&tp, 0, 1), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_lane_options lo;
  weft_lane_options_init(&lo);
  lo.name = "late";
  for (long k = 1; k <= 2; k++) {
    weft_lane *l = (weft_lane *)&l;
    arm(MODE_ONCE, k);
    int rc = weft_lane_create(tp, &lo, &l);
    long injected = atomic_load(&g_injected);
    disarm();
    assert_int_equal(injected, 1); /* the premise: that allocation failed */
    assert_int_equal(rc, WEFT_EQUIT);
    assert_null(l);
  }
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* weft_team_do on a weft_pool() team looks at the quit flag at the door,
 * then takes the task's node: a quit on another thread while the node is
 * sought (here: when the allocation that would give one fails) leaves a
 * quit team, and the answer is WEFT_EQUIT, as with memory (the engine's
 * submit refuses a closed engine; weft/worker.h "after quit"), not
 * WEFT_ENOMEM. A thread of its own, its node cache emptied into a
 * never-started holder pool first. A limit of 0: the team makes no thread.
 * Fails with WEFT_ENOMEM without the look after the failure (pool_team.c,
 * pool_no_memory). */
static int zero_limit(void *ctx) {
  (void)ctx;
  return 0;
}
typedef struct team_quit_submit {
  weft_threadpool *holder;
  weft_team *team;
  int rc, hooked;
} team_quit_submit;
static void team_never_runs(void *arg) {
  (void)arg;
  abort(); /* never accepted */
}
static void *team_quit_submit_main(void *arg) {
  team_quit_submit *ts = arg;
  arm(MODE_FROM, 1); /* every allocation fails from here */
  for (long i = 0; i < 100L * WEFT__SLAB_NODES; i++) /* no node left */
    if (weft_threadpool_call_in_thread(ts->holder, reuse_task, NULL) != 0) break;
  atomic_store(&g_quit_on_fail, ts->team);
  ts->rc = weft_team_do(ts->team, team_never_runs, NULL);
  ts->hooked = atomic_load(&g_quit_on_fail) == NULL;
  atomic_store(&g_quit_on_fail, NULL);
  disarm();
  return NULL;
}
static void pool_team_do_out_of_memory_after_quit_answers_equit(void **s) {
  (void)s;
  team_quit_submit ts = {.rc = 1};
  assert_int_equal(pool_create(&ts.holder, 0, 1), 0); /* never started: keeps the nodes */
  assert_int_equal(weft_pool(&ts.team, zero_limit, NULL, NULL, NULL, "fault"), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, team_quit_submit_main, &ts), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_true(ts.hooked); /* the premise: a node was sought and the team quit then */
  assert_int_equal(ts.rc, WEFT_EQUIT);
  weft_team_statistics st;
  assert_int_equal(weft_team_statistics_get(ts.team, &st), 0);
  assert_int_equal(st.backlogged_work, 0);
  assert_int_equal(weft_team_destroy(ts.team), 0);
  assert_int_equal(weft_threadpool_destroy(ts.holder), 0); /* cancels what it holds */
}

/* weft_blocking_call_from_thread while "shutdown" is fired by hand: the
 * firing refuses new waiters until its triggers have run (weft/reactor.h,
 * weft_reactor_fire_system_event: WEFT_ESHUTDOWN), also when no memory is
 * left for the call's record (the first allocation fails) or for the node
 * that carries the caller's context (a context current, the thread's node
 * cache emptied into a never-started holder pool, and every allocation
 * after the record's failing). The record is taken before the registration looks, and the look
 * at the door sees only a reactor stopping, not a firing. A trigger of
 * the firing makes the calls on a thread of its own and waits for them.
 * Fails with WEFT_ENOMEM without the look after the failure (threads.c,
 * bc_no_memory). */
typedef struct bc_firing {
  weft_reactor *r;
  weft_threadpool *holder; /* with ctx: takes every node of the thread's cache */
  int mode;
  long k;
  int ctx;
  int rc;
  long injected;
} bc_firing;
static int bc_never_called(void *ctx, weft_result *r) {
  (void)ctx;
  (void)r;
  abort(); /* refused */
}
static void *bc_firing_main(void *arg) {
  bc_firing *b = arg;
  static char a_context;
  if (b->ctx) {
    arm(MODE_FROM, 1); /* no node left: the holder takes them all */
    for (long i = 0; i < 100L * WEFT__SLAB_NODES; i++)
      if (weft_threadpool_call_in_thread(b->holder, reuse_task, NULL) != 0) break;
    weft_context_set(&a_context);
  }
  if (b->mode != MODE_OFF) arm(b->mode, b->k);
  b->rc = weft_blocking_call_from_thread(b->r, bc_never_called, NULL, NULL, NULL);
  b->injected = atomic_load(&g_injected);
  disarm();
  if (b->ctx) weft_context_set(NULL);
  return NULL;
}
static void bc_firing_trigger(void *arg) {
  pthread_t th;
  if (pthread_create(&th, NULL, bc_firing_main, arg) != 0 || pthread_join(th, NULL) != 0) abort();
}
static void blocking_call_out_of_memory_during_a_shutdown_firing_answers_eshutdown(void **s) {
  (void)s;
  /* with memory; no memory for the record; the record had, no wrapper */
  weft_threadpool *holder = NULL;
  assert_int_equal(pool_create(&holder, 0, 1), 0); /* never started: keeps the nodes */
  bc_firing cases[3] = {{.mode = MODE_OFF}, {.mode = MODE_FROM, .k = 1},
                        {.mode = MODE_FROM, .k = 2, .ctx = 1, .holder = holder}};
  for (int i = 0; i < 3; i++) {
    weft_reactor *r = NULL;
    assert_int_equal(weft_reactor_create(&r), 0);
    cases[i].r = r;
    cases[i].rc = 1;
    weft_trigger_id id = 0;
    assert_int_equal(
        weft_reactor_add_trigger(r, WEFT_DURING, WEFT_SHUTDOWN, bc_firing_trigger, &cases[i], &id),
        0);
    assert_int_equal(weft_reactor_fire_system_event(r, WEFT_SHUTDOWN), 0);
    assert_int_equal(weft_reactor_remove_trigger(r, id), 0);
    if (cases[i].mode != MODE_OFF) assert_true(cases[i].injected >= 1); /* the premise */
    assert_int_equal(cases[i].rc, WEFT_ESHUTDOWN);
    assert_int_equal(weft_reactor_destroy(r), 0);
  }
  assert_int_equal(weft_threadpool_destroy(holder), 0); /* cancels what it holds */
}

/* The same on a pool thread while the reactor's thread stops that pool
 * (a reactor callback's weft_threadpool_stop, which joins the thread):
 * the wait is refused with WEFT_EDEADLK (weft/threads.h), also when no
 * record can be had. The task waits until the stop has begun joining (the
 * observer's STOP_WATCH: an elastic pool's stop that waits on its live
 * thread), then calls with every allocation failing. Fails with
 * WEFT_ENOMEM without bc_no_memory's look (the engine's join, under its
 * mutex, as the registration's). */
static sync_t g_bcj_started, g_bcj_go;
static weft_reactor *g_bcj_r;
static weft_threadpool *g_bcj_tp;
static int g_bcj_rc = 1, g_bcj_stop_rc = 1;
static long g_bcj_injected;
static void bcj_on_event(weft__event ev) {
  if (ev == WEFT__EVENT_STOP_WATCH) gate_open(&g_bcj_go);
}
static void bcj_task(void *arg) {
  (void)arg;
  count_up(&g_bcj_started);
  gate_wait(&g_bcj_go);
  arm(MODE_FROM, 1); /* every allocation fails from here */
  g_bcj_rc = weft_blocking_call_from_thread(g_bcj_r, bc_never_called, NULL, NULL, NULL);
  g_bcj_injected = atomic_load(&g_injected);
  disarm();
}
static void bcj_on_running(void *arg) {
  (void)arg;
  count_wait(&g_bcj_started, 1);
  weft__observer_set(bcj_on_event);
  g_bcj_stop_rc = weft_threadpool_stop(g_bcj_tp); /* joins the task's thread */
  weft__observer_set(NULL);
  (void)weft_reactor_stop(g_bcj_r);
}
static void blocking_call_out_of_memory_in_a_pool_its_reactor_stops_answers_edeadlk(void **s) {
  (void)s;
  sync_init(&g_bcj_started);
  sync_init(&g_bcj_go);
  assert_int_equal(weft_reactor_create(&g_bcj_r), 0);
  assert_int_equal(pool_create(&g_bcj_tp, 1, 1), 0); /* elastic: its stop watches */
  assert_int_equal(weft_threadpool_start(g_bcj_tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread(g_bcj_tp, bcj_task, NULL), 0);
  assert_int_equal(weft_reactor_call_when_running(g_bcj_r, bcj_on_running, NULL), 0);
  assert_int_equal(weft_reactor_run(g_bcj_r), 0);
  assert_int_equal(g_bcj_stop_rc, 0);
  assert_true(g_bcj_injected >= 1); /* the premise: no record */
  assert_int_equal(g_bcj_rc, WEFT_EDEADLK);
  assert_int_equal(weft_threadpool_destroy(g_bcj_tp), 0);
  assert_int_equal(weft_reactor_destroy(g_bcj_r), 0);
  sync_fini(&g_bcj_started);
  sync_fini(&g_bcj_go);
}

/* weft_reactor_add_reader / add_writer of a descriptor epoll refuses (a
 * regular file: EPERM) is WEFT_EINVAL (weft/reactor.h: "a bad fd"), also
 * when no memory is left for its entry: the reactor's table grows before
 * epoll is asked, and its failure answered WEFT_ENOMEM. A socket's add is
 * still WEFT_ENOMEM then. Fails with WEFT_ENOMEM without the look
 * (reactor_io.c, add_no_memory). */
static void io_fn_never(void *ctx, int fd, int events) {
  (void)ctx;
  (void)fd;
  (void)events;
}
static void add_reader_of_a_file_out_of_memory_answers_einval(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  FILE *file = tmpfile();
  assert_non_null(file);
  int fd = fileno(file);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  arm(MODE_FROM, 1); /* every allocation fails from here */
  int reader = weft_reactor_add_reader(r, fd, io_fn_never, NULL);
  int writer = weft_reactor_add_writer(r, fd, io_fn_never, NULL);
  int sock = weft_reactor_add_reader(r, sv[0], io_fn_never, NULL);
  long injected = atomic_load(&g_injected);
  disarm();
  assert_true(injected >= 3); /* the premise: no entry each time */
  assert_int_equal(reader, WEFT_EINVAL);
  assert_int_equal(writer, WEFT_EINVAL);
  assert_int_equal(sock, WEFT_ENOMEM);
  /* with memory: the same answer for the file */
  assert_int_equal(weft_reactor_add_reader(r, fd, io_fn_never, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(r), 0);
  fclose(file);
  close(sv[0]);
  close(sv[1]);
}

/* In a child of fork, an inherited ThreadWorker's do() and a weft_pool()
 * team's do() answer WEFT_EQUIT (weft/worker.h, "fork(2)";
 * docs/threading-howto.md, "Fork"), also when no memory is left: for the
 * node that binds a current context (the worker's) or for the task's node
 * (the team's), each taken before the refusal is looked at. The forking
 * thread is one of its own whose node cache was emptied into a
 * never-started holder pool; the child makes both calls with every
 * allocation failing (so it allocates nothing, as a child under a
 * sanitizer must not) and exits with what they answered. Fails with
 * WEFT_ENOMEM without the looks (worker.c worker_do_in_context,
 * pool_team.c pool_no_memory). */
static void fork_noop(void *arg) { (void)arg; }
typedef struct fork_child_do {
  weft_threadpool *holder;
  weft_worker *w;
  weft_team *team;
  int status; /* the child's exit status; -1: no child */
} fork_child_do;
static int fork_child_calls(fork_child_do *f) {
  static char a_context;
  int team_rc = weft_team_do(f->team, fork_noop, NULL); /* no context: the task's node */
  weft_context_set(&a_context);
  int worker_rc = weft_worker_do(f->w, fork_noop, NULL); /* the binding's node */
  weft_context_set(NULL);
  long injected = atomic_load(&g_injected);
  if (injected < 2) return 3;     /* the premise: both sought memory */
  if (team_rc != WEFT_EQUIT) return team_rc == WEFT_ENOMEM ? 4 : 5;
  if (worker_rc != WEFT_EQUIT) return worker_rc == WEFT_ENOMEM ? 6 : 7;
  return 0;
}
static void *fork_child_do_main(void *arg) {
  fork_child_do *f = arg;
  arm(MODE_FROM, 1); /* every allocation fails from here (in the child too) */
  for (long i = 0; i < 100L * WEFT__SLAB_NODES; i++) /* no node left */
    if (weft_threadpool_call_in_thread(f->holder, reuse_task, NULL) != 0) break;
  arm(MODE_FROM, 1);
  pid_t pid = fork();
  if (pid == 0) _exit(fork_child_calls(f));
  disarm();
  int status = 0;
  if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status))
    f->status = WEXITSTATUS(status);
  return NULL;
}
static void fork_child_do_out_of_memory_answers_equit(void **s) {
  (void)s;
  if (WEFT_TEST_TSAN) skip(); /* a child of a threaded process: TSan's die_after_fork */
  fork_child_do f = {.status = -1};
  assert_int_equal(pool_create(&f.holder, 0, 1), 0); /* never started: keeps the nodes */
  assert_int_equal(weft_thread_worker_create(&f.w, NULL, NULL, "forkdo"), 0);
  assert_int_equal(weft_pool(&f.team, zero_limit, NULL, NULL, NULL, "forkdo"), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, fork_child_do_main, &f), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(f.status, 0);
  assert_int_equal(weft_worker_quit(f.w), 0);
  weft_worker_release(f.w);
  assert_int_equal(weft_team_destroy(f.team), 0);
  assert_int_equal(weft_threadpool_destroy(f.holder), 0); /* cancels what it holds */
}

/* weft_reactor_suggest_thread_pool_size below the min of the pool the
 * reactor's options would make is WEFT_EINVAL (weft/reactor.h: the codes of
 * weft_threadpool_adjust_poolsize, EINVAL below the pool's min), also when
 * that pool cannot be made: it is made before the size is looked at, and
 * its failure answered WEFT_ENOMEM. Every allocation fails; no pool is left
 * (a size at the min is still WEFT_ENOMEM then). Fails with WEFT_ENOMEM
 * without the look (reactor_pool.c). */
static void suggest_below_min_out_of_memory_answers_einval(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_threadpool_options o;
  weft_reactor_thread_pool_options_init(&o);
  o.min_threads = 2;
  o.max_threads = 4;
  assert_int_equal(weft_reactor_set_thread_pool_options(r, &o), 0);
  arm(MODE_FROM, 1); /* every allocation fails from here */
  int below = weft_reactor_suggest_thread_pool_size(r, 1);
  long injected = atomic_load(&g_injected);
  int at_min = weft_reactor_suggest_thread_pool_size(r, 2);
  disarm();
  assert_true(injected >= 1); /* the premise: the pool could not be made */
  assert_int_equal(below, WEFT_EINVAL);
  assert_int_equal(at_min, WEFT_ENOMEM);
  weft_threadpool *tp = (weft_threadpool *)&tp;
  /* with memory: the same answer, the pool made */
  assert_int_equal(weft_reactor_suggest_thread_pool_size(r, 1), WEFT_EINVAL);
  assert_int_equal(weft_reactor_get_thread_pool(r, &tp), 0);
  assert_int_equal(weft_threadpool_min(tp), 2);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* The failures a Deferred makes itself keep the code the headers promise
 * when no memory is left for them: a cancel errbacks WEFT_ECANCELED
 * (weft/deferred.h, weft_canceller_fn), a callback that returns a code
 * "raises" a failure with that code, errback(NULL) is WEFT_EFAILED, a
 * callback returning its own Deferred fails WEFT_EINVAL, and a round trip
 * whose pool was destroyed before fn ran errbacks WEFT_ECANCELED
 * (weft/threads.h). Each failure is made while every allocation fails;
 * each was the static WEFT_ENOMEM failure without weft__failure_of
 * (failure.c). */
static int record_code(void *ctx, weft_result *r) {
  *(int *)ctx = weft_failure_code(r->failure);
  weft_result_set_value(r, NULL); /* handled */
  return 0;
}
static int raise_ebusy(void *ctx, weft_result *r) {
  (void)ctx;
  (void)r;
  return WEFT_EBUSY;
}
static int return_itself(void *ctx, weft_result *r) {
  weft_result_set_deferred(r, ctx);
  return 0;
}
static int dtp_never_runs(void *arg, void **result) {
  (void)arg;
  (void)result;
  abort(); /* its pool is destroyed before it can run */
}
static void deferred_failures_out_of_memory_keep_their_codes(void **s) {
  (void)s;
  int cancelled = 0, raised = 0, failed = 0, chained = 0, round_trip = 0;
  long injected[5];
  weft_deferred *d[4] = {NULL, NULL, NULL, NULL};
  for (int i = 0; i < 4; i++) assert_int_equal(weft_deferred_create(&d[i]), 0);
  assert_int_equal(weft_deferred_add_errback(d[0], record_code, &cancelled), 0);
  assert_int_equal(weft_deferred_add_callback(d[1], raise_ebusy, NULL), 0);
  assert_int_equal(weft_deferred_add_errback(d[1], record_code, &raised), 0);
  assert_int_equal(weft_deferred_add_errback(d[2], record_code, &failed), 0);
  assert_int_equal(weft_deferred_add_callback(d[3], return_itself, d[3]), 0);
  assert_int_equal(weft_deferred_add_errback(d[3], record_code, &chained), 0);
  arm(MODE_FROM, 1); /* every allocation fails from here */
  assert_int_equal(weft_deferred_cancel(d[0]), 0);
  injected[0] = atomic_load(&g_injected);
  arm(MODE_FROM, 1);
  assert_int_equal(weft_deferred_callback(d[1], NULL), 0);
  injected[1] = atomic_load(&g_injected);
  arm(MODE_FROM, 1);
  assert_int_equal(weft_deferred_errback(d[2], NULL), 0);
  injected[2] = atomic_load(&g_injected);
  arm(MODE_FROM, 1);
  assert_int_equal(weft_deferred_callback(d[3], NULL), 0);
  injected[3] = atomic_load(&g_injected);
  disarm();
  /* The round trip: accepted by a pool never started, which its destroy
   * cancels; the completion fires the Deferred in the reactor's destroy. */
  weft_reactor *r = NULL;
  weft_threadpool *tp = NULL;
  weft_deferred *rt = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(pool_create(&tp, 0, 1), 0);
  assert_int_equal(weft_defer_to_thread_pool(r, tp, dtp_never_runs, NULL, &rt), 0);
  assert_int_equal(weft_deferred_add_errback(rt, record_code, &round_trip), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  arm(MODE_FROM, 1);
  assert_int_equal(weft_reactor_destroy(r), 0);
  injected[4] = atomic_load(&g_injected);
  disarm();
  for (int i = 0; i < 5; i++) assert_true(injected[i] >= 1); /* the premise: no memory */
  assert_int_equal(cancelled, WEFT_ECANCELED);
  assert_int_equal(raised, WEFT_EBUSY);
  assert_int_equal(failed, WEFT_EFAILED);
  assert_int_equal(chained, WEFT_EINVAL);
  assert_int_equal(round_trip, WEFT_ECANCELED);
  for (int i = 0; i < 4; i++) weft_deferred_unref(d[i]);
  weft_deferred_unref(rt);
}

/* ------------------------- a worker's slot that cannot be allocated */

/* E9.5 for the slot allocation: a pool (1, 2) whose one thread is held at
 * a gate gets a second task; the thread that would run it needs a new
 * slot, and that allocation fails once. The creation backs off and the
 * monitor retries it, so the second task runs while the first is still
 * held, with nothing else submitted. Fails (the hang guard) if the failure
 * strands the task until the first thread is free. */
static sync_t g_slot_gate, g_slot_started, g_slot_ran;
static atomic_int g_slot_nomem_logged;
static void slot_log(void *ctx, int err, const char *what) {
  (void)ctx;
  if (err == WEFT_ENOMEM && strstr(what, "slot") != NULL) atomic_fetch_add(&g_slot_nomem_logged, 1);
}
static void slot_gated_task(void *arg) {
  (void)arg;
  count_up(&g_slot_started);
  gate_wait(&g_slot_gate);
}
static void slot_count_task(void *arg) {
  (void)arg;
  count_up(&g_slot_ran);
}

static void slot_enomem_retried(void **s) {
  (void)s;
  sync_init(&g_slot_gate);
  sync_init(&g_slot_started);
  sync_init(&g_slot_ran);
  atomic_store(&g_slot_nomem_logged, 0);
  weft_threadpool *tp = NULL;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 2;
  o.name = "fault";
  o.log = slot_log; /* the failure is the program's to hear of */
  o.spin_us = 1;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, slot_gated_task, NULL), 0);
  count_wait(&g_slot_started, 1);
  /* weft__calloc_aligned's block for a new slot (lib/base/alloc.c). */
  atomic_store(&g_fail_size, sizeof(weft__eworker) + WEFT_CACHELINE + sizeof(void *));
  assert_int_equal(weft_threadpool_call_in_thread(tp, slot_count_task, NULL), 0);
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 30;
  pthread_mutex_lock(&g_slot_ran.mu);
  int rc = 0;
  while (g_slot_ran.count < 1 && rc == 0) rc = pthread_cond_timedwait(&g_slot_ran.cv, &g_slot_ran.mu, &dl);
  int ran = g_slot_ran.count;
  pthread_mutex_unlock(&g_slot_ran.mu);
  size_t left = atomic_exchange(&g_fail_size, 0);
  weft_threadpool_stats st;
  assert_int_equal(weft_threadpool_stats_get(tp, &st), 0);
  gate_open(&g_slot_gate);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(left, 0); /* the failure was injected */
  assert_true(st.create_failures >= 1);
  assert_int_equal(atomic_load(&g_slot_nomem_logged), 1); /* told once, with WEFT_ENOMEM */
  assert_int_equal(ran, 1); /* ran while the first task was held */
  sync_fini(&g_slot_gate);
  sync_fini(&g_slot_started);
  sync_fini(&g_slot_ran);
}

static int install(void **s) {
  (void)s;
  weft_set_unhandled_failure_hook(quiet_unhandled, NULL);
  return weft_replace_allocator(fault_malloc, fault_calloc, fault_free) == 0 ? 0 : -1;
}

static void pool_fail_once(void **s) {
  (void)s;
  assert_true(sweep(scenario_pool, MODE_ONCE, "threadpool") > 0);
}
static void pool_fail_from(void **s) {
  (void)s;
  assert_true(sweep(scenario_pool, MODE_FROM, "threadpool") > 0);
}
static void lanes_fail_once(void **s) {
  (void)s;
  assert_true(sweep(scenario_lanes, MODE_ONCE, "lanes") > 0);
}
static void lanes_fail_from(void **s) {
  (void)s;
  assert_true(sweep(scenario_lanes, MODE_FROM, "lanes") > 0);
}
static void reactor_fail_once(void **s) {
  (void)s;
  assert_true(sweep(scenario_reactor, MODE_ONCE, "reactor+deferToThread") > 0);
}
static void reactor_fail_from(void **s) {
  (void)s;
  assert_true(sweep(scenario_reactor, MODE_FROM, "reactor+deferToThread") > 0);
}

static void reactor_mix_fail_once(void **s) {
  (void)s;
  assert_true(sweep(scenario_reactor_mix, MODE_ONCE, "reactor thread APIs + contexts") > 0);
}
static void reactor_mix_fail_from(void **s) {
  (void)s;
  assert_true(sweep(scenario_reactor_mix, MODE_FROM, "reactor thread APIs + contexts") > 0);
}


/* ------------------------------------------- scenario: workers + contexts */

/* With a context current (each do() binds it to a node): a Team with a
 * LockWorker coordinator and a MemoryWorker as its only worker, a
 * LockWorker whose work does a re-entrant do(), a weft_pool() team, and a
 * coordinator worker. Every accepted task ran or was reported cancelled,
 * each context retain has its release, and nothing stays alive. */
static weft_worker *g_wk_lock;
static void wk_outer(void *arg) {
  (void)arg;
  atomic_fetch_add(&g_acc.ran, 1);
  int rc = weft_worker_do(g_wk_lock, task_fn, NULL); /* queued behind us */
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
}
/* The team's only worker: queues, runs what it queued when the test calls
 * wk_perform() or when it quits (accepted work still runs); allocates
 * nothing. `gone` once the team released it. */
static struct {
  weft_worker base;
  weft_fn fn[64];
  void *arg[64];
  int head, tail, given, gone;
} g_wk;
static int wk_q_do(weft_worker *self, weft_fn fn, void *arg) {
  (void)self;
  assert_true(g_wk.tail - g_wk.head < 64);
  g_wk.fn[g_wk.tail % 64] = fn;
  g_wk.arg[g_wk.tail % 64] = arg;
  g_wk.tail++;
  return 0;
}
static void wk_perform(void) {
  while (!g_wk.gone && g_wk.head < g_wk.tail) {
    int i = g_wk.head++ % 64;
    g_wk.fn[i](g_wk.arg[i]);
  }
}
static int wk_q_quit(weft_worker *self) {
  (void)self;
  while (g_wk.head < g_wk.tail) {
    int i = g_wk.head++ % 64;
    g_wk.fn[i](g_wk.arg[i]);
  }
  return 0;
}
static void wk_q_release(weft_worker *self) {
  (void)self;
  g_wk.gone = 1;
}
static const weft_worker_ops g_wk_ops = {wk_q_do, wk_q_quit, wk_q_release};
static weft_worker *wk_create_q(void *ctx) {
  (void)ctx;
  if (g_wk.given) return NULL;
  g_wk.given = 1;
  return &g_wk.base;
}
static int wk_limit(void *ctx) {
  (void)ctx;
  return 1;
}
static void wk_team_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
}

static void scenario_workers_ctx(void) {
  memset(&g_acc, 0, sizeof g_acc);
  atomic_store(&g_ctx_retained, 0);
  atomic_store(&g_ctx_released, 0);
  assert_int_equal(weft_context_set_hooks(&g_ctx_hooks), 0);
  void *prev = weft_context_set(&g_ctx_token);
  int rc;
  /* A LockWorker with a re-entrant do(). */
  g_wk_lock = NULL;
  rc = weft_lock_worker_create(&g_wk_lock, NULL, NULL);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) {
    for (int i = 0; i < 2; i++) {
      rc = weft_worker_do(g_wk_lock, wk_outer, NULL);
      assert_true(rc == 0 || rc == WEFT_ENOMEM);
      if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
    }
    assert_int_equal(weft_worker_quit(g_wk_lock), 0);
    weft_worker_release(g_wk_lock);
  }
  /* A Team: LockWorker coordinator, one queueing worker. */
  weft_worker *coord = NULL;
  memset(&g_wk, 0, sizeof g_wk);
  assert_int_equal(weft_worker_init(&g_wk.base, &g_wk_ops), 0);
  rc = weft_lock_worker_create(&coord, NULL, NULL);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) {
    weft_team *t = NULL;
    rc = weft_team_create(&t, coord, wk_create_q, NULL, wk_team_log, NULL);
    assert_true(rc == 0 || rc == WEFT_ENOMEM);
    if (rc == 0) {
      coord = NULL; /* the team's now */
      for (int i = 0; i < 4; i++) {
        rc = weft_team_do(t, task_fn, NULL);
        assert_true(rc == 0 || rc == WEFT_ENOMEM);
        if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
        wk_perform();
      }
      rc = weft_team_quit(t);
      assert_true(rc == 0 || rc == WEFT_ENOMEM);
      while ((rc = weft_team_destroy(t)) == WEFT_EBUSY) wk_perform();
      assert_int_equal(rc, 0);
    }
  }
  if (coord) {
    (void)weft_worker_quit(coord);
    weft_worker_release(coord);
  }
  if (g_wk.given && !g_wk.gone) fail_msg("team: its worker was never released");
  /* A weft_pool() team. */
  weft_team *p = NULL;
  rc = weft_pool(&p, wk_limit, NULL, NULL, NULL, "fault-wk");
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) {
    for (int i = 0; i < 4; i++) {
      rc = weft_team_do(p, task_fn, NULL);
      assert_true(rc == 0 || rc == WEFT_ENOMEM);
      if (rc == 0) atomic_fetch_add(&g_acc.accepted, 1);
    }
    assert_int_equal(weft_team_quit(p), 0);
    while ((rc = weft_team_destroy(p)) == WEFT_EBUSY) sched_yield();
    assert_int_equal(rc, 0);
  }
  weft_context_set(prev);
  assert_int_equal(weft_context_set_hooks(NULL), 0);
  /* weft_pool's cancels go to stderr: count only what ran there. */
  int acc = atomic_load(&g_acc.accepted), ran = atomic_load(&g_acc.ran),
      can = atomic_load(&g_acc.cancelled);
  if (ran + can > acc || atomic_load(&g_acc.other) != 0)
    fail_msg("workers: accepted %d < ran %d + cancelled %d", acc, ran, can);
  if (atomic_load(&g_ctx_retained) != atomic_load(&g_ctx_released))
    fail_msg("workers: contexts %d retained, %d released", atomic_load(&g_ctx_retained),
             atomic_load(&g_ctx_released));
}
static void workers_ctx_fail_once(void **s) {
  (void)s;
  assert_true(sweep(scenario_workers_ctx, MODE_ONCE, "workers + contexts") > 0);
}
static void workers_ctx_fail_from(void **s) {
  (void)s;
  assert_true(sweep(scenario_workers_ctx, MODE_FROM, "workers + contexts") > 0);
}

/* weft_worker_do on a worker of the program's own with a context current:
 * the binding node comes from weft, so with no memory for it the call
 * answers WEFT_ENOMEM before the worker's do_work is called (weft/worker.h
 * lists it for every worker, not only weft's own), and every binding that
 * was accepted still releases its context when it runs. */
static struct {
  weft_worker base;
  weft_fn *fn;
  void **arg;
  int n, cap;
} g_own;
static int own_do(weft_worker *self, weft_fn fn, void *arg) {
  (void)self;
  if (g_own.n == g_own.cap) return WEFT_EAGAIN; /* never: the test's bound */
  g_own.fn[g_own.n] = fn;
  g_own.arg[g_own.n] = arg;
  g_own.n++;
  return 0;
}
static int own_quit(weft_worker *self) {
  (void)self;
  return 0;
}
static const weft_worker_ops g_own_ops = {own_do, own_quit, NULL};
/* The own worker with room for far more tasks than any node cache holds,
 * given tasks from a thread with a context current while no allocation
 * succeeds, until the cached nodes run out: returns do's answer then (its
 * context left current and allocations failing; *prev the context before). */
static int own_worker_fill_in_context(void **prev) {
  memset(&g_own, 0, sizeof g_own);
  g_own.cap = 1 << 16;
  g_own.fn = malloc(sizeof *g_own.fn * (size_t)g_own.cap);
  g_own.arg = malloc(sizeof *g_own.arg * (size_t)g_own.cap);
  assert_non_null(g_own.fn);
  assert_non_null(g_own.arg);
  assert_int_equal(weft_worker_init(&g_own.base, &g_own_ops), 0);
  atomic_store(&g_ctx_retained, 0);
  atomic_store(&g_ctx_released, 0);
  assert_int_equal(weft_context_set_hooks(&g_ctx_hooks), 0);
  *prev = weft_context_set(&g_ctx_token);
  arm(MODE_FROM, 1);
  int rc;
  while ((rc = weft_worker_do(&g_own.base, task_fn, NULL)) == 0) {
  }
  return rc;
}
static void own_worker_do_enomem_in_context(void **s) {
  (void)s;
  void *prev;
  int rc = own_worker_fill_in_context(&prev);
  disarm();
  weft_context_set(prev);
  assert_int_equal(rc, WEFT_ENOMEM);
  assert_true(g_own.n < g_own.cap); /* do_work never saw the refused one */
  assert_int_equal(atomic_load(&g_ctx_retained), g_own.n);
  for (int i = 0; i < g_own.n; i++) g_own.fn[i](g_own.arg[i]); /* bound: releases */
  assert_int_equal(atomic_load(&g_ctx_released), g_own.n);
  assert_int_equal(weft_context_set_hooks(NULL), 0);
  assert_int_equal(weft_worker_quit(&g_own.base), 0);
  weft_worker_release(&g_own.base);
  free(g_own.fn);
  free(g_own.arg);
}

/* weft_worker_do on a worker that was quit, with a context current and no
 * memory for the binding node: WEFT_EQUIT, as with memory (weft/worker.h:
 * "WEFT_EQUIT after quit"; docs/misuse.md rows 21-24, 93), not WEFT_ENOMEM. The
 * binding was taken before the worker's quit bit was looked at, so a quit
 * worker's caller was told it was out of memory (as a stopped pool's was,
 * test stopped_pool_out_of_memory_for_a_context_answers_equit). */
static void quit_worker_out_of_memory_in_context_answers_equit(void **s) {
  (void)s;
  void *prev;
  int rc = own_worker_fill_in_context(&prev);
  assert_int_equal(rc, WEFT_ENOMEM); /* the premise: no binding node is left */
  assert_int_equal(weft_worker_quit(&g_own.base), 0);
  int n = g_own.n;
  assert_int_equal(weft_worker_do(&g_own.base, task_fn, NULL), WEFT_EQUIT);
  disarm();
  assert_int_equal(weft_worker_do(&g_own.base, task_fn, NULL), WEFT_EQUIT); /* with memory: the same */
  weft_context_set(prev);
  assert_int_equal(g_own.n, n); /* do_work never saw the refused ones */
  for (int i = 0; i < g_own.n; i++) g_own.fn[i](g_own.arg[i]); /* bound: releases */
  /* Every binding taken was released (the refused one with memory too). */
  assert_int_equal(atomic_load(&g_ctx_released), atomic_load(&g_ctx_retained));
  assert_int_equal(weft_context_set_hooks(NULL), 0);
  weft_worker_release(&g_own.base);
  free(g_own.fn);
  free(g_own.arg);
}

/* ------------------------------- blockingCallFromThread from a pool thread */

static void bcp_stop_req(weft_work *req) { (void)weft_reactor_stop(req->data); }
static void bcp_pool_task(void *arg) {
  bcp_state *st = arg;
  bcp_call_and_record(st);
  static weft_work stop_req; /* allocation-free: the stop must arrive */
  stop_req.data = st->r;
  assert_int_equal(weft_reactor_call_from_thread_req(st->r, &stop_req, bcp_stop_req), 0);
}
static void bcp_guard(void *arg) {
  bcp_state *st = arg;
  st->timed_out = 1;
  (void)weft_reactor_stop(st->r);
}
static void bcp_on_running(void *arg) {
  bcp_state *st = arg;
  int rc = weft_reactor_call_later(st->r, 30.0, bcp_guard, st, NULL);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) rc = weft_reactor_call_in_thread(st->r, bcp_pool_task, st);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc != 0) {
    atomic_store(&st->rc_seen, rc);
    (void)weft_reactor_stop(st->r); /* the task, if accepted, is cancelled or has run */
  }
}
static void scenario_blocking_in_pool(void) {
  bcp_state st;
  memset(&st, 0, sizeof st);
  int rc = weft_reactor_create(&st.r);
  if (!(rc == 0 || rc == WEFT_ENOMEM)) fail_msg("create: %d", rc);
  if (rc != 0) return;
  weft_threadpool_options o;
  weft_reactor_thread_pool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  rc = weft_reactor_set_thread_pool_options(st.r, &o);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) rc = weft_reactor_call_when_running(st.r, bcp_on_running, &st);
  assert_true(rc == 0 || rc == WEFT_ENOMEM);
  if (rc == 0) {
    rc = weft_reactor_run(st.r);
    if (rc != 0) fail_msg("run: %d", rc);
  } else {
    atomic_store(&st.rc_seen, WEFT_ENOMEM);
  }
  assert_int_equal(weft_reactor_destroy(st.r), 0);
  if (st.timed_out || (atomic_load(&st.rc_seen) != 1 && atomic_load(&st.rc_seen) != WEFT_ENOMEM &&
                       atomic_load(&st.done)))
    fail_msg("blocking call from a pool thread: %s, rc %d (k = %ld)",
             st.timed_out ? "hung" : "done", atomic_load(&st.rc_seen), atomic_load(&g_fail_at));
}
static void blocking_in_pool_fail_once(void **s) {
  (void)s;
  assert_true(sweep(scenario_blocking_in_pool, MODE_ONCE, "blocking call in pool") > 0);
}

static void team_fail_once(void **s) {
  (void)s;
  g_check_alive = 0;
  assert_true(sweep(scenario_team, MODE_ONCE, "team of thread workers") > 0);
  g_check_alive = 1;
}
static void team_fail_from(void **s) {
  (void)s;
  g_check_alive = 0;
  assert_true(sweep(scenario_team, MODE_FROM, "team of thread workers") > 0);
  g_check_alive = 1;
}

int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(node_reuse_on_enomem), /* first: needs an empty node cache */
      cmocka_unit_test(slot_enomem_retried),
      cmocka_unit_test(stopped_pool_out_of_memory_answers_equit),
      cmocka_unit_test(stopped_pool_out_of_memory_for_a_context_answers_equit),
      cmocka_unit_test(lane_submit_out_of_memory_on_a_stopped_pool_answers_equit),
      cmocka_unit_test(lane_create_out_of_memory_on_a_stopped_pool_answers_equit),
      cmocka_unit_test(call_multiple_on_a_stopped_pool_out_of_memory_answers_equit),
      cmocka_unit_test(pool_team_do_out_of_memory_after_quit_answers_equit),
      cmocka_unit_test(blocking_call_out_of_memory_during_a_shutdown_firing_answers_eshutdown),
      cmocka_unit_test(blocking_call_out_of_memory_in_a_pool_its_reactor_stops_answers_edeadlk),
      cmocka_unit_test(suggest_below_min_out_of_memory_answers_einval),
      cmocka_unit_test(add_reader_of_a_file_out_of_memory_answers_einval),
      cmocka_unit_test(fork_child_do_out_of_memory_answers_equit),
      cmocka_unit_test(deferred_failures_out_of_memory_keep_their_codes),
      cmocka_unit_test(pool_fail_once),
      cmocka_unit_test(pool_fail_from),
      cmocka_unit_test(lanes_fail_once),
      cmocka_unit_test(lanes_fail_from),
      cmocka_unit_test(reactor_fail_once),
      cmocka_unit_test(reactor_fail_from),
      cmocka_unit_test(reactor_mix_fail_once),
      cmocka_unit_test(reactor_mix_fail_from),
      cmocka_unit_test(workers_ctx_fail_once),
      cmocka_unit_test(workers_ctx_fail_from),
      cmocka_unit_test(own_worker_do_enomem_in_context),
      cmocka_unit_test(quit_worker_out_of_memory_in_context_answers_equit),
      cmocka_unit_test(blocking_in_pool_fail_once),
      cmocka_unit_test(team_fail_once),
      cmocka_unit_test(team_fail_from),
  };
  return cmocka_run_group_tests(tests, install, NULL);
}
