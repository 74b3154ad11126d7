/*
 * A ThreadPool's thread count against its bounds when adjust_poolsize
 * races the threads' own comings and goings, and adjust_poolsize's answer.
 *   (a) a shrink debt left on busy workers outlives a later resize that
 *       raised min: the pool ends below min;
 *   (b) a keep-alive reap reserved against the min it read before
 *       adjust_poolsize raised it: the pool ends below min;
 *   (c) a spawn checked the max before adjust_poolsize lowered it: a
 *       strict-cap pool ends above max;
 *   (d) adjust_poolsize answers WEFT_EAGAIN ("none could be started")
 *       after it started threads;
 *   (e) a returned grant's shrink (settling after a resize under grants)
 *       called the log hook under the engine's shrink mutex: a hook that
 *       creates a lane waited for ever on the pool's mutex, held by a
 *       resize waiting for the shrink mutex;
 *   (f) the last worker paid a shrink debt and left while a stop closed
 *       the pool: the thread it would start for the task queued meanwhile
 *       was refused, and the stop cancelled that task, though the pool had
 *       a thread when the task was queued and when the stop began;
 *   (g) the same, the worker leaving after the stop had dropped the
 *       pool's limit to 0 but before it closed the pool;
 *   (h) a worker told to leave has left the searching count; a submitter
 *       that then finds nobody searching starts a thread for its task, a
 *       stop's close lands before that start takes the engine mutex, and
 *       the start is refused; the leaver, live at the close, exits without
 *       starting one: the stop cancelled the task. The same with a worker
 *       that pays a shrink debt, and with one whose keep-alive ran out;
 *   (i) as (g), with an adjust_poolsize on another thread while the stop
 *       is held before its close: the resize pushed the limit of a pool
 *       no longer started (0) into the engine, and the worker's hand-off
 *       found no room.
 *
 * Nothing sleeps to wait for another thread: the waits are on the
 * observer hook (a worker parked), on a counting thread factory (a thread
 * left), on gates, and, to see a thread blocked on the engine mutex, on a
 * wrapped pthread_mutex_lock that notes a lock finding it held (and, for
 * (e) to (h), holds a flagged thread at a given lock); (h) also holds the
 * submitter in the engine's limit callback.
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
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/core.h"
#include "engine/engine.h"
#include "engine/observer.h"
#include "pool/threadpool_impl.h"
#include "test_sync.h"
#include "weft/weft.h"

#define HANG_GUARD_S 30

/* ----------------------------------------------------- events and exits */

/* Every event the tests wait for (a worker parked, a pool thread left)
 * bumps ev_n under ev_mu and broadcasts ev_cv: a waiter re-checks its
 * condition after each, so no change is missed. */
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cv = PTHREAD_COND_INITIALIZER;
static int g_exits; /* under ev_mu */
static _Atomic int g_made;

static void bump(int exit) {
  pthread_mutex_lock(&ev_mu);
  if (exit) g_exits++;
  pthread_cond_broadcast(&ev_cv);
  pthread_mutex_unlock(&ev_mu);
}

static void on_event(weft__event ev) {
  if (ev == WEFT__EVENT_PARKED) bump(0);
}

/* Wait until pred(arg) holds, re-checked at every event; fail past the guard. */
static void wait_until(bool (*pred)(void *), void *arg, const char *what) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += HANG_GUARD_S;
  pthread_mutex_lock(&ev_mu);
  while (!pred(arg)) {
    if (pthread_cond_timedwait(&ev_cv, &ev_mu, &dl) == ETIMEDOUT && !pred(arg)) {
      pthread_mutex_unlock(&ev_mu);
      fail_msg("hang guard: %s", what);
    }
  }
  pthread_mutex_unlock(&ev_mu);
}

/* The pool's threads come from this factory: it counts each thread's exit
 * (after it left the pool's loop), and, while g_hold is set, holds the
 * creation (the engine mutex with it: the factory runs under it) until
 * g_release opens. */
typedef struct tramp {
  void *(*start)(void *);
  void *arg;
} tramp;

static void *counted_start(void *p) {
  tramp t = *(tramp *)p;
  free(p);
  void *r = t.start(t.arg);
  bump(1);
  return r;
}

static _Atomic int g_hold;
static _Atomic int g_fail_next; /* set: the next creation fails */
static sync_t g_in_factory, g_release;

static int counting_factory(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                            const char *name) {
  (void)ctx;
  (void)name;
  if (atomic_exchange(&g_hold, 0)) {
    count_up(&g_in_factory);
    gate_wait(&g_release);
  }
  if (atomic_exchange(&g_fail_next, 0)) return WEFT_EAGAIN;
  tramp *t = malloc(sizeof *t);
  if (!t) return WEFT_ENOMEM;
  *t = (tramp){start, arg};
  if (pthread_create(thread, NULL, counted_start, t) != 0) {
    free(t);
    return WEFT_EAGAIN;
  }
  atomic_fetch_add(&g_made, 1);
  return 0;
}

static bool all_made_left(void *arg) {
  (void)arg;
  return g_exits == atomic_load(&g_made);
}

/* Teardown: every thread made so far has left (detached ones included). */
static int settle(void **state) {
  (void)state;
  wait_until(all_made_left, NULL, "every pool thread left");
  weft__observer_set(NULL);
  return 0;
}

static weft_threadpool *make_pool(int min, int max, unsigned keep_alive_ms) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = min;
  o.max_threads = max;
  o.keep_alive_ms = keep_alive_ms;
  o.spin_us = 1;
  o.name = "races";
  o.thread_factory = counting_factory;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  return tp;
}

/* Quiet: every live thread parked, no debt owed, every thread made but
 * the live ones gone (under ev_mu, from wait_until). */
static bool quiet(void *arg) {
  weft__engine *e = weft__threadpool_engine(arg);
  int live = weft__load_relaxed(&e->live);
  return weft__load_relaxed(&e->parked) == live && weft__load_relaxed(&e->shrink_debt) == 0 &&
         g_exits == atomic_load(&g_made) - live;
}

/* ------------------------------------------ (a) a debt that outlives its max */

/* min 1, max 3, three workers held in tasks. adjust_poolsize(1, 1) owes
 * two threads (nobody is idle to quit now: the debt, paid when they go
 * idle). adjust_poolsize(3, 3) then raises min and max to the three the
 * pool has: nothing is above max any more and nothing below min, so it
 * starts or stops nothing, and returns 0. When the tasks end, the two
 * units of the first call's debt are still owed and two workers pay them:
 * the pool ends with one thread and min 3. */
static void debt_outlives_a_resize_that_raised_min(void **state) {
  (void)state;
  weft__observer_set(on_event);
  weft_threadpool *tp = make_pool(1, 3, 0); /* keep-alive 0: nothing leaves by itself */
  weft__engine *e = weft__threadpool_engine(tp);
  sync_t started, gate;
  sync_init(&started);
  sync_init(&gate);
  gated g = {&gate, &started, NULL};
  for (int i = 0; i < 3; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&started, 3); /* three busy workers (max 3) */
  assert_int_equal(weft_threadpool_workers(tp), 3);

  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 1, 1), 0);
  assert_int_equal(weft__load_relaxed(&e->shrink_debt), 2); /* owed by the busy ones */
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 3, 3), 0);
  assert_int_equal(weft_threadpool_workers(tp), 3); /* min 3, max 3: nothing to do */

  gate_open(&gate);
  wait_until(quiet, tp, "every thread parked or gone");
  int workers = weft_threadpool_workers(tp), min = weft_threadpool_min(tp);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&started);
  sync_fini(&gate);
  if (workers < min) fail_msg("the pool ended with %d threads, below its min %d", workers, min);
}

/* ------------------------- (a2) a block that began during the resize */

/* A resize below the thread count while no grant is out marks nothing, and
 * shrinks to max plus the grants its floor reads. A block that begins
 * between the two (weft_blocking_begin's grant; a worker is parked, so it
 * starts no stand-in) is counted by the floor, which keeps a thread for it;
 * its end must shrink that thread away (the settle), or the pool stays
 * above max for good with keep-alive 0. max 3 -> 2, three threads: one
 * runs the task that blocks, held after the shrink's look (SHRINK_OVER)
 * until its begin has taken the grant. */
static sync_t bd_begin, bd_begun, bd_end;
static _Atomic int bd_armed;
static void bd_event(weft__event ev) {
  int one = 1;
  if (ev == WEFT__EVENT_SHRINK_OVER && atomic_compare_exchange_strong(&bd_armed, &one, 0)) {
    gate_open(&bd_begin);
    count_wait(&bd_begun, 1);
  }
  on_event(ev);
}
static void bd_task(void *arg) {
  sync_t *started = arg;
  count_up(started);
  gate_wait(&bd_begin);
  (void)weft_blocking_begin();
  count_up(&bd_begun);
  gate_wait(&bd_end);
  (void)weft_blocking_end();
}
static void block_begun_during_a_resize_settles(void **state) {
  (void)state;
  sync_init(&bd_begin);
  sync_init(&bd_begun);
  sync_init(&bd_end);
  sync_t started;
  sync_init(&started);
  weft__observer_set(bd_event);
  weft_threadpool *tp = make_pool(3, 3, 0); /* keep-alive 0: nothing leaves by itself */
  wait_until(quiet, tp, "the three threads parked");
  assert_int_equal(weft_threadpool_workers(tp), 3);
  assert_int_equal(weft_threadpool_call_in_thread(tp, bd_task, &started), 0);
  count_wait(&started, 1);
  atomic_store(&bd_armed, 1);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 0, 2), 0);
  assert_int_equal(atomic_load(&bd_armed), 0); /* the premise: the block began in the shrink */
  gate_open(&bd_end);
  wait_until(quiet, tp, "every thread parked or gone");
  int workers = weft_threadpool_workers(tp);
  weft_threadpool_stats st;
  assert_int_equal(weft_threadpool_stats_get(tp, &st), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&started);
  sync_fini(&bd_begin);
  sync_fini(&bd_begun);
  sync_fini(&bd_end);
  assert_int_equal(st.created_blocked, 0); /* no stand-in: the thread kept is an old one */
  assert_int_equal(st.grants, 0);
  if (workers != 2) fail_msg("the pool ended with %d threads, max 2", workers);
}

/* --------------------------------------- (b) a reap that read the old min */

/* Who waits for the engine mutex, seen without polling: pthread_mutex_lock
 * is wrapped (tests/resize_races.cmake; libweft is linked statically, so
 * its locks come here too). A lock of the watched mutex that finds it held
 * notes the locking thread's kernel tid in g_blocked before it blocks, and
 * in g_acquired once it has the mutex; both under ev_mu, with a bump. */
#define MAX_NOTED 16
static pthread_mutex_t *_Atomic g_watch_mu;
static int g_blocked[MAX_NOTED], g_nblocked;   /* under ev_mu */
static int g_acquired[MAX_NOTED], g_nacquired; /* under ev_mu */

static void note(int *list, int *n, int tid) {
  pthread_mutex_lock(&ev_mu); /* not the watched one */
  if (*n < MAX_NOTED) list[(*n)++] = tid;
  pthread_cond_broadcast(&ev_cv);
  pthread_mutex_unlock(&ev_mu);
}

/* A pool thread flagged (tl_hold_shrink) is held at its second lock of the
 * engine mutex after it took the engine's shrink mutex: in shrink_to, after
 * it popped an entry of the idle stack, before the mutex under which it
 * tells that entry to leave. It counts itself in g_shrink_held and waits
 * for g_shrink_go. */
static weft__engine *_Atomic g_hold_e;
static weft_threadpool *_Atomic g_hold_tp; /* (i): the pool the helper resizes */
static _Thread_local int tl_hold_shrink, tl_in_shrink, tl_mu_locks;
static sync_t g_shrink_held, g_shrink_go;

static void hold_in_shrink(pthread_mutex_t *m) {
  weft__engine *e = atomic_load(&g_hold_e);
  if (!e) return;
  if (m == &e->shrink_mu) {
    tl_in_shrink = 1;
    tl_mu_locks = 0;
  } else if (m == &e->mu && tl_in_shrink && ++tl_mu_locks == 2) {
    tl_hold_shrink = 0; /* once */
    count_up(&g_shrink_held);
    bump(0); /* for wait_until */
    gate_wait(&g_shrink_go);
  }
}

/* A pool thread flagged (tl_hold_pay) is held at its first lock of the
 * engine mutex while a shrink debt is owed: an idle worker about to pay it
 * (pay_shrink_debt; or ensure_monitor's, earlier on the same idle path, if
 * its monitor is gone). It counts itself in g_pay_held and waits for
 * g_pay_go. */
static _Thread_local int tl_hold_pay;
static sync_t g_pay_held, g_pay_go;

/* The thread flagged (tl_hold_stop) is held at its first lock of the
 * engine mutex after it began to join the workers (a stop: e->joiner is
 * itself) and before the engine is closed: in the stop's close. It counts
 * itself in g_stop_held and waits for g_stop_go. */
static _Thread_local int tl_hold_stop;
static sync_t g_stop_held, g_stop_go;

static void hold_in_stop(pthread_mutex_t *m) {
  weft__engine *e = atomic_load(&g_hold_e);
  if (!e || m != &e->mu || !e->joining || !pthread_equal(e->joiner, pthread_self()) ||
      weft__load_relaxed(&e->closed))
    return;
  tl_hold_stop = 0; /* once */
  count_up(&g_stop_held);
  gate_wait(&g_stop_go);
}

static void hold_at_pay(pthread_mutex_t *m) {
  weft__engine *e = atomic_load(&g_hold_e);
  if (!e || m != &e->mu || weft__load_relaxed(&e->shrink_debt) <= 0) return;
  tl_hold_pay = 0; /* once */
  count_up(&g_pay_held);
  gate_wait(&g_pay_go);
}

/* (h): a pool thread flagged (tl_hold_exit, by its task) is held at its
 * first lock of the engine mutex once it is uncounted (live 0): the exit's
 * (weft__engine_worker_exited). It counts itself in g_exit_held and waits
 * for g_exit_go. The thread flagged tl_note_closed (a stop) counts itself
 * in g_closed_seen at its first lock of the engine mutex after the close
 * (its first join pass), and goes on. */
static _Thread_local int tl_hold_exit, tl_note_closed;
static sync_t g_exit_held, g_exit_go, g_closed_seen;

static void hold_at_exit(pthread_mutex_t *m) {
  weft__engine *e = atomic_load(&g_hold_e);
  if (!e || m != &e->mu || weft__load_relaxed(&e->live) != 0) return;
  tl_hold_exit = 0; /* once */
  count_up(&g_exit_held);
  gate_wait(&g_exit_go);
}

static void note_closed(pthread_mutex_t *m) {
  weft__engine *e = atomic_load(&g_hold_e);
  if (!e || m != &e->mu || !weft__load_relaxed(&e->closed)) return;
  tl_note_closed = 0; /* once */
  count_up(&g_closed_seen);
}

int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m) {
  if (tl_hold_shrink) hold_in_shrink(m);
  if (tl_hold_pay) hold_at_pay(m);
  if (tl_hold_stop) hold_in_stop(m);
  if (tl_hold_exit) hold_at_exit(m);
  if (tl_note_closed) note_closed(m);
  if (m == NULL || m != atomic_load(&g_watch_mu)) return __real_pthread_mutex_lock(m);
  if (pthread_mutex_trylock(m) == 0) return 0;
  int tid = (int)syscall(SYS_gettid);
  note(g_blocked, &g_nblocked, tid);
  int rc = __real_pthread_mutex_lock(m);
  note(g_acquired, &g_nacquired, tid);
  return rc;
}

static void watch_mutex(pthread_mutex_t *m) {
  pthread_mutex_lock(&ev_mu);
  g_nblocked = g_nacquired = 0;
  pthread_mutex_unlock(&ev_mu);
  atomic_store(&g_watch_mu, m);
}

static bool noted(const int *list, int n, int tid) {
  for (int i = 0; i < n; i++)
    if (list[i] == tid) return true;
  return false;
}

/* wait_until predicates over a thread's kernel tid (under ev_mu). */
typedef struct who {
  _Atomic int tid; /* 0 until known */
  _Atomic int done; /* the thread's call returned (set before a bump) */
} who;
static bool blocked_or_done(void *arg) {
  who *w = arg;
  int tid = atomic_load(&w->tid);
  return atomic_load(&w->done) || (tid > 0 && noted(g_blocked, g_nblocked, tid));
}
static bool acquired(void *arg) {
  who *w = arg;
  return noted(g_acquired, g_nacquired, atomic_load(&w->tid));
}

static void *start_a_worker_thread(void *arg) {
  (void)weft_threadpool_start_a_worker(arg);
  return NULL;
}

typedef struct adjuster {
  weft_threadpool *tp;
  who w;
  _Atomic int rc;
} adjuster;

static void *adjust_thread(void *arg) {
  adjuster *a = arg;
  atomic_store(&a->w.tid, (int)syscall(SYS_gettid));
  atomic_store(&a->rc, weft_threadpool_adjust_poolsize(a->tp, 2, WEFT_KEEP));
  atomic_store(&a->w.done, 1);
  bump(0);
  return NULL;
}

/* min 0, max 2, keep-alive 20 ms. Worker A runs a task and parks. A
 * start_a_worker's creation is held in the factory, under the engine
 * mutex (live 2). A's keep-alive runs out: it reads min (0) and live (2),
 * and waits for the mutex to reserve its exit. Meanwhile adjust_poolsize
 * raises min to 2: the pool has two threads (A and the one being made),
 * so it starts none. The creation finishes; A takes the mutex, reserves
 * its exit against the min it read before (0), and leaves: the pool ends
 * with one thread and min 2, until some load makes more. */
static void reap_against_a_stale_min(void **state) {
  (void)state;
  weft__observer_set(on_event);
  sync_init(&g_in_factory);
  sync_init(&g_release);
  pthread_mutex_lock(&ev_mu);
  int exits_before = g_exits;
  pthread_mutex_unlock(&ev_mu);
  weft_threadpool *tp = make_pool(0, 2, 20);
  weft__engine *e = weft__threadpool_engine(tp);
  sync_t started, gate, done;
  sync_init(&started);
  sync_init(&gate);
  sync_init(&done);
  gated g = {&gate, &started, &done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&started, 1); /* A runs it: the monitor is up (A made it at its start) */
  assert_int_equal(weft_threadpool_workers(tp), 1);
  weft__eworker *a = e->slots[0];
  who wa = {weft__load_relaxed(&a->tid), 0};
  assert_true(atomic_load(&wa.tid) > 0);
  watch_mutex(&e->mu);

  /* The next creation holds the engine mutex in the factory. */
  atomic_store(&g_hold, 1);
  pthread_t h;
  assert_int_equal(pthread_create(&h, NULL, start_a_worker_thread, tp), 0);
  count_wait(&g_in_factory, 1);
  assert_int_equal(weft__load_relaxed(&e->live), 2);

  /* A finishes, parks, and after its keep-alive waits for the mutex. */
  gate_open(&gate);
  count_wait(&done, 1);
  wait_until(blocked_or_done, &wa, "A waits for the engine mutex");

  /* min 2 from another thread: the pool has two threads, nothing to
   * start. It returns at once, or waits for the mutex the creation holds. */
  adjuster adj = {.tp = tp};
  pthread_t j;
  assert_int_equal(pthread_create(&j, NULL, adjust_thread, &adj), 0);
  wait_until(blocked_or_done, &adj.w, "the adjusting thread returns or waits for the mutex");

  /* The creation goes on; A (and the adjust, if it waits) get the mutex. */
  gate_open(&g_release);
  pthread_join(h, NULL);
  pthread_join(j, NULL);
  assert_int_equal(atomic_load(&adj.rc), 0);
  assert_int_equal(weft_threadpool_min(tp), 2);
  /* A has the mutex once; our own lock then follows its reservation (or
   * its decision to stay), and A either left or waits again. */
  wait_until(acquired, &wa, "A takes the engine mutex");
  atomic_store(&g_watch_mu, NULL);
  pthread_mutex_lock(&e->mu);
  pthread_mutex_unlock(&e->mu);
  wait_until(quiet, tp, "every thread parked or gone");
  pthread_mutex_lock(&ev_mu);
  bool stayed = g_exits == exits_before;
  pthread_mutex_unlock(&ev_mu);
  int workers = weft_threadpool_workers(tp), min = weft_threadpool_min(tp);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&started);
  sync_fini(&gate);
  sync_fini(&done);
  if (workers < min)
    fail_msg("A %s; the pool has %d threads, below its min %d", stayed ? "stayed" : "left",
             workers, min);
}

/* ------------------------------------------ (c) a spawn that read the old max */

/* weft's allocator (weft_replace_allocator, set in main): libc's, except
 * that a calloc made on a thread whose t_hold_calloc is set waits, once,
 * at g_calloc_release (after counting itself in g_in_calloc). */
static _Thread_local int t_hold_calloc;
static sync_t g_in_calloc, g_calloc_release;
static void *hook_malloc(size_t n) { return malloc(n); }
static void hook_free(void *p) { free(p); }
static void *hook_calloc(size_t n, size_t size) {
  if (t_hold_calloc) {
    t_hold_calloc = 0;
    count_up(&g_in_calloc);
    gate_wait(&g_calloc_release);
  }
  return calloc(n, size);
}

/* start_a_worker on a thread whose first weft allocation (the new
 * thread's worker slot, under the engine mutex) is held. */
static void *held_start_a_worker(void *arg) {
  t_hold_calloc = 1;
  (void)weft_threadpool_start_a_worker(arg);
  t_hold_calloc = 0;
  return NULL;
}

typedef struct resizer {
  weft_threadpool *tp;
  int min, max;
  who w;
  _Atomic int rc;
} resizer;

static void *resize_thread(void *arg) {
  resizer *a = arg;
  atomic_store(&a->w.tid, (int)syscall(SYS_gettid));
  atomic_store(&a->rc, weft_threadpool_adjust_poolsize(a->tp, a->min, a->max));
  atomic_store(&a->w.done, 1);
  bump(0);
  return NULL;
}

/* A strict-cap pool (Twisted's hard cap: never more than max_threads
 * threads), min 0, max 3, two workers held in tasks. start_a_worker
 * checks the limit (3) under the engine mutex and, before it counts the
 * new thread, allocates its worker slot (held here). Meanwhile
 * adjust_poolsize lowers max to 2: it counts two threads, nothing above
 * max, and returns. The creation goes on: three threads, max 2, and the
 * third, idle, never leaves (keep-alive 0). */
static void spawn_against_a_stale_max(void **state) {
  (void)state;
  weft__observer_set(on_event);
  sync_init(&g_in_calloc);
  sync_init(&g_calloc_release);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 3;
  o.keep_alive_ms = 0;
  o.strict_cap = 1;
  o.spin_us = 1;
  o.name = "races";
  o.thread_factory = counting_factory;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  weft__engine *e = weft__threadpool_engine(tp);
  sync_t started, gate;
  sync_init(&started);
  sync_init(&gate);
  gated g = {&gate, &started, NULL};
  for (int i = 0; i < 2; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&started, 2);
  assert_int_equal(weft_threadpool_workers(tp), 2);

  pthread_t h;
  assert_int_equal(pthread_create(&h, NULL, held_start_a_worker, tp), 0);
  count_wait(&g_in_calloc, 1); /* past the limit check, the thread not yet counted */

  resizer rs = {.tp = tp, .min = WEFT_KEEP, .max = 2};
  watch_mutex(&e->mu);
  pthread_t j;
  assert_int_equal(pthread_create(&j, NULL, resize_thread, &rs), 0);
  wait_until(blocked_or_done, &rs.w, "the resizing thread returns or waits for the mutex");
  atomic_store(&g_watch_mu, NULL);

  gate_open(&g_calloc_release);
  pthread_join(h, NULL);
  pthread_join(j, NULL);
  assert_int_equal(atomic_load(&rs.rc), 0);
  assert_int_equal(weft_threadpool_max(tp), 2);
  gate_open(&gate);
  wait_until(quiet, tp, "every thread parked or gone");
  int workers = weft_threadpool_workers(tp), max = weft_threadpool_max(tp);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&started);
  sync_fini(&gate);
  if (workers > max)
    fail_msg("the strict-cap pool ended with %d threads, above its max %d", workers, max);
}

/* ------------------------------ (d) EAGAIN from a resize that started threads */

static _Atomic int g_fail_next; /* the next factory call fails */
static int failing_once_factory(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                                const char *name) {
  if (atomic_exchange(&g_fail_next, 0)) return WEFT_EAGAIN;
  return counting_factory(ctx, thread, start, arg, name);
}

static void count_task(void *arg) { count_up(arg); }
static void quiet_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)err;
  (void)what;
}

/* A started pool with max 0 holds three tasks in its backlog. adjust_-
 * poolsize(1, 3): the thread min wants cannot be made (the factory fails
 * once), then the backlog's three are. The header: WEFT_EAGAIN when
 * "threads were wanted and none could be started"; three were started
 * (and ran the tasks), yet the call answers WEFT_EAGAIN. */
static void resize_that_started_threads_answers_eagain(void **state) {
  (void)state;
  weft__observer_set(on_event);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 0;
  o.spin_us = 1;
  o.name = "races";
  o.thread_factory = failing_once_factory;
  o.log = quiet_log; /* the one failed creation */
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t ran;
  sync_init(&ran);
  for (int i = 0; i < 3; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, count_task, &ran), 0);
  assert_int_equal(weft_threadpool_queue_size(tp), 3); /* max 0: nothing runs */
  atomic_store(&g_fail_next, 1);
  int rc = weft_threadpool_adjust_poolsize(tp, 1, 3);
  count_wait(&ran, 3); /* started threads ran them */
  weft_threadpool_stats st;
  assert_int_equal(weft_threadpool_stats_get(tp, &st), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&ran);
  assert_true(st.created_grow + st.created_demand >= 1);
  if (rc != 0)
    fail_msg("adjust_poolsize answered %d although it started %llu threads", rc,
             (unsigned long long)(st.created_grow + st.created_demand));
}

/* ------------------- (e) the log hook under the engine's shrink mutex */

/* The log hook may create lanes (weft/threadpool.h), which takes the
 * pool's mutex. A grant that goes back after a resize under grants shrinks
 * the pool (weft__engine_grants_returned) holding the engine's shrink
 * mutex; a failed creation met on the way (the shrink pops a reaped
 * worker's entry, hands its searching claim on, and the notify that
 * follows starts a thread) was logged there, under that mutex. Meanwhile
 * an adjust_poolsize that shrinks holds the pool's mutex and waits for the
 * shrink mutex: the hook's lane creation waits for the pool's mutex, and
 * the two wait for each other for ever.
 *
 * min 0, max 2, keep-alive 1 ms. A worker holds task A at a gate; task B
 * announces a block (a grant) and its stand-in R, with nothing to do,
 * reaps itself: its entry stays on the idle stack. adjust_poolsize(0, 1)
 * marks the pool settling (2 threads, max 1, a grant out). B ends its
 * block: its grant goes back and it shrinks the pool to max, pops R's
 * entry and is held (the wrapped lock) before the mutex under which it
 * tells the entry to leave. adjust_poolsize(0, 3) makes room, a task T
 * is queued (B's claim counts as a searcher, so T's submit wakes nobody),
 * and the next creation fails. Released, B finds R gone, leaves its
 * searching claim, sees T, starts a thread for it: the creation fails and
 * the hook hears of it. The hook starts an adjust_poolsize(0, 1), waits
 * until it returns or waits for the shrink mutex, and creates a lane. */
static weft_threadpool *_Atomic g_hook_tp;
static _Atomic int g_hook_armed, g_hook_lane_rc = 99;
static adjuster g_hook_adj;
static who g_hook_w;

static void *lower_max_thread(void *arg) {
  adjuster *a = arg;
  atomic_store(&a->w.tid, (int)syscall(SYS_gettid));
  atomic_store(&a->rc, weft_threadpool_adjust_poolsize(a->tp, 0, 1));
  atomic_store(&a->w.done, 1);
  bump(0);
  return NULL;
}

/* On a pool thread: no cmocka here. Waits are bounded by the guard. */
static bool hook_wait(bool (*pred)(void *), void *arg) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += HANG_GUARD_S;
  bool ok = true;
  pthread_mutex_lock(&ev_mu);
  while (!pred(arg) && ok) ok = pthread_cond_timedwait(&ev_cv, &ev_mu, &dl) == 0 || pred(arg);
  pthread_mutex_unlock(&ev_mu);
  return ok;
}

static void lane_creating_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)err;
  (void)what;
  if (!atomic_exchange(&g_hook_armed, 0)) return;
  weft_threadpool *tp = atomic_load(&g_hook_tp);
  watch_mutex(&weft__threadpool_engine(tp)->shrink_mu);
  pthread_t x;
  if (pthread_create(&x, NULL, lower_max_thread, &g_hook_adj) != 0) abort();
  (void)hook_wait(blocked_or_done, &g_hook_adj.w);
  weft_lane_options lo;
  weft_lane_options_init(&lo);
  weft_lane *l = NULL;
  atomic_store(&g_hook_lane_rc, weft_lane_create(tp, &lo, &l)); /* the pool's mutex */
  pthread_join(x, NULL);
  atomic_store(&g_hook_w.done, 1);
  bump(0);
}

/* Task B: announces a block, waits at its gate, and ends the block flagged
 * for the hold (its grant's return shrinks the pool). */
typedef struct block_end_task_arg {
  sync_t *began, *gate, *done;
} block_end_task_arg;
static void block_end_task(void *arg) {
  block_end_task_arg *b = arg;
  if (weft_blocking_begin() != 0) abort();
  count_up(b->began);
  gate_wait(b->gate);
  tl_hold_shrink = 1;
  if (weft_blocking_end() != 0) abort();
  tl_hold_shrink = 0;
  count_up(b->done);
}

static bool shrink_held(void *arg) {
  (void)arg;
  return count_get(&g_shrink_held) >= 1;
}

static bool reaped_one(void *arg) { return g_exits >= *(int *)arg; }
static bool hook_returned(void *arg) { return atomic_load(&((who *)arg)->done) != 0; }

static void log_hook_not_under_the_shrink_mutex(void **state) {
  (void)state;
  weft__observer_set(on_event);
  sync_init(&g_shrink_held);
  sync_init(&g_shrink_go);
  pthread_mutex_lock(&ev_mu);
  int reaped = g_exits + 1;
  pthread_mutex_unlock(&ev_mu);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 2;
  o.keep_alive_ms = 1;
  o.spin_us = 1;
  o.name = "races";
  o.thread_factory = counting_factory;
  o.log = lane_creating_log;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  weft__engine *e = weft__threadpool_engine(tp);
  atomic_store(&g_hook_tp, tp);
  g_hook_adj = (adjuster){.tp = tp};

  sync_t a_started, a_gate, b_began, b_gate, b_done, ran;
  sync_init(&a_started);
  sync_init(&a_gate);
  sync_init(&b_began);
  sync_init(&b_gate);
  sync_init(&b_done);
  sync_init(&ran);
  gated a = {&a_gate, &a_started, NULL};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &a), 0);
  count_wait(&a_started, 1);
  block_end_task_arg b = {&b_began, &b_gate, &b_done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, block_end_task, &b), 0);
  count_wait(&b_began, 1);
  /* B's stand-in R had nothing to do: it reaps itself after 1 ms, and its
   * entry stays on the idle stack. */
  wait_until(reaped_one, &reaped, "B's stand-in reaped itself");
  assert_int_equal(weft__load_relaxed(&e->live), 2);
  uint32_t top = WEFT__CTL_TOP(weft__load_relaxed(&e->ctl));
  assert_true(top != 0);
  assert_int_equal(weft__load_relaxed(&e->slots[top - 1]->linked_exit), 1);

  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 0, 1), 0); /* settling: a grant out */
  atomic_store(&g_hold_e, e);
  gate_open(&b_gate); /* B's grant goes back: it shrinks to max, held after its pop */
  wait_until(shrink_held, NULL, "B held in its shrink");
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 0, 3), 0); /* room for a thread */
  assert_int_equal(weft_threadpool_call_in_thread(tp, count_task, &ran), 0);
  atomic_store(&g_fail_next, 1);
  atomic_store(&g_hook_armed, 1);
  gate_open(&g_shrink_go);
  wait_until(hook_returned, &g_hook_w,
             "the log hook returned (its lane creation waits for the pool's mutex, held by an "
             "adjust_poolsize that waits for the shrink mutex the hook's caller holds)");
  atomic_store(&g_hold_e, NULL);
  atomic_store(&g_watch_mu, NULL);
  assert_int_equal(atomic_load(&g_hook_lane_rc), 0);
  assert_int_equal(atomic_load(&g_hook_adj.rc), 0);

  gate_open(&a_gate);
  count_wait(&b_done, 1);
  count_wait(&ran, 1);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&a_started);
  sync_fini(&a_gate);
  sync_fini(&b_began);
  sync_fini(&b_gate);
  sync_fini(&b_done);
  sync_fini(&ran);
}

/* ------------------------- (f) a debt paid while a stop closes the pool */

/* Task A: counts itself started, waits at its gate, then flags its thread
 * for the hold before it goes idle. */
static void pay_later_task(void *arg) {
  gated *g = arg;
  count_up(g->started);
  gate_wait(g->gate);
  tl_hold_pay = 1;
}

static _Atomic int g_b_status;
static int b_fn(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return 0;
}
static void b_result(void *ctx, int status, void *result) {
  (void)ctx;
  (void)result;
  atomic_store(&g_b_status, status);
}

/* The stop waits on the held worker (it joins it): its watch opens the
 * gate. The stop has closed the pool by then. */
static void open_pay_on_stop_watch(weft__event ev) {
  if (ev == WEFT__EVENT_STOP_WATCH) gate_open(&g_pay_go);
  on_event(ev);
}

/* The scene of (f) and (g): a pool of one thread W whose task T owes a
 * shrink debt (stop_a_worker while T runs); T ends and W, idle, is held
 * on its way to pay (g_pay_held). */
typedef struct pay_scene {
  weft_threadpool *tp;
  weft__engine *e;
  sync_t started, gate;
  gated a;
} pay_scene;

static void pay_scene_start(pay_scene *sc) {
  sync_init(&g_pay_held);
  sync_init(&g_pay_go);
  sc->tp = make_pool(0, 1, 0);
  sc->e = weft__threadpool_engine(sc->tp);
  sync_init(&sc->started);
  sync_init(&sc->gate);
  sc->a = (gated){&sc->gate, &sc->started, NULL};
  assert_int_equal(weft_threadpool_call_in_thread(sc->tp, pay_later_task, &sc->a), 0);
  count_wait(&sc->started, 1);
  assert_int_equal(weft_threadpool_stop_a_worker(sc->tp), 0);
  assert_int_equal(weft__load_relaxed(&sc->e->shrink_debt), 1); /* owed by the busy W */
  atomic_store(&g_hold_e, sc->e);
  gate_open(&sc->gate);
  count_wait(&g_pay_held, 1); /* W idle, about to pay */
}

static void pay_scene_fini(pay_scene *sc) {
  sync_fini(&sc->started);
  sync_fini(&sc->gate);
  sync_fini(&g_pay_held);
  sync_fini(&g_pay_go);
}

/* min 0, max 1: worker W runs A; stop_a_worker finds nobody idle and owes
 * one thread. A ends; W, idle, finds nothing and is held before it pays.
 * B is queued (no thread started for it: W is the one the pool may have,
 * and it is searching). The stop closes the pool, then W pays the debt and
 * leaves; as it leaves it sees B and would start a thread for it, which
 * the close refused: the stop then cancelled B (WEFT_ECANCELED), though
 * the pool had a thread all along. "stop runs everything queued when at
 * least one thread exists" (weft/threadpool.h): B must run. */
static void debt_paid_during_a_stop_leaves_no_task_behind(void **state) {
  (void)state;
  weft__observer_set(on_event);
  pay_scene sc;
  pay_scene_start(&sc);
  weft_threadpool *tp = sc.tp;
  assert_int_equal(weft__load_relaxed(&sc.e->live), 1);

  atomic_store(&g_b_status, 1);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, b_result, NULL, b_fn, NULL), 0);
  weft__observer_set(open_pay_on_stop_watch);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft__observer_set(on_event);
  atomic_store(&g_hold_e, NULL);
  int status = atomic_load(&g_b_status);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pay_scene_fini(&sc);
  if (status != 0)
    fail_msg("the task queued before the stop was told %s, not run", weft_err_name(status));
}

/* ------------------- (g) a worker that leaves between a stop's steps */

typedef struct releaser {
  int exits;   /* g_exits to wait for: W has left */
  bool resize; /* adjust_poolsize while the stop is held ((i)) */
} releaser;
static bool exits_reached(void *arg) { return g_exits >= ((releaser *)arg)->exits; }
/* Once the stop is held before its close (and, with `resize`, after an
 * adjust_poolsize to the sizes the pool has), let W go, wait until it has
 * left the pool (its hand-off done), then let the stop go on. */
static _Atomic int g_adjust_rc = 1;
static void *release_worker_then_stop(void *arg) {
  releaser *r = arg;
  count_wait(&g_stop_held, 1);
  if (r->resize)
    atomic_store(&g_adjust_rc,
                 weft_threadpool_adjust_poolsize(atomic_load(&g_hold_tp), WEFT_KEEP, WEFT_KEEP));
  gate_open(&g_pay_go);
  wait_until(exits_reached, &r->exits, "W left");
  gate_open(&g_stop_go);
  return NULL;
}

/* W leaves while the stop is between its start and its close (held at
 * the engine mutex in the close), and has left before the close; B,
 * queued before the stop, must run. */
static void stop_held_while_w_leaves(bool resize) {
  weft__observer_set(on_event);
  sync_init(&g_stop_held);
  sync_init(&g_stop_go);
  pthread_mutex_lock(&ev_mu);
  releaser rel = {g_exits + 1, resize};
  pthread_mutex_unlock(&ev_mu);
  pay_scene sc;
  pay_scene_start(&sc);
  weft_threadpool *tp = sc.tp;
  atomic_store(&g_hold_tp, tp);
  atomic_store(&g_adjust_rc, 1);

  atomic_store(&g_b_status, 1);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, b_result, NULL, b_fn, NULL), 0);
  pthread_t helper;
  assert_int_equal(pthread_create(&helper, NULL, release_worker_then_stop, &rel), 0);
  tl_hold_stop = 1;
  assert_int_equal(weft_threadpool_stop(tp), 0);
  tl_hold_stop = 0;
  pthread_join(helper, NULL);
  atomic_store(&g_hold_e, NULL);
  atomic_store(&g_hold_tp, NULL);
  int status = atomic_load(&g_b_status);
  if (resize) {
    assert_int_equal(atomic_load(&g_adjust_rc), 0);
    assert_int_equal(weft_threadpool_min(tp), 0);
    assert_int_equal(weft_threadpool_max(tp), 1);
  }
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pay_scene_fini(&sc);
  sync_fini(&g_stop_held);
  sync_fini(&g_stop_go);
  if (status != 0)
    fail_msg("the task queued before the stop was told %s, not run", weft_err_name(status));
}

/* As (f), but W leaves while the stop is between its start and its close.
 * The stop had already dropped the engine's limit to 0 (the pool is no
 * longer started): W's hand-off found no room and started no thread for
 * B, the close then let nobody else start one, and the stop cancelled B,
 * which the started pool, with a thread, had accepted. */
static void leaver_hands_on_during_a_stop(void **state) {
  (void)state;
  stop_held_while_w_leaves(false);
}

/* ---------------- (i) a resize between a stop's start and its close */

/* As (g), with an adjust_poolsize on another thread while the stop is
 * between its start and its close (every call may be made concurrently).
 * The pool was no longer started, and the resize pushed the limit of a
 * pool that is not started into the engine: 0, the limit the stop keeps
 * at max for this hand-off. W's hand-off then found no room for B, and
 * the stop cancelled B, which the started pool, with a thread, had
 * accepted. */
static void resize_during_a_stop_keeps_the_hand_off(void **state) {
  (void)state;
  stop_held_while_w_leaves(true);
}

/* ------------- (h) a leaver exits after a submitter's start was refused */

/* The engine's limit callback (an engine made directly, with cfg.limit:
 * weft_pool's kind): 1. The thread flagged tl_hold_limit (the submitter)
 * is held at its first call, which is notify_slow's may_spawn, after its
 * look at `closed` and before its claim: it lets the stopper go and waits
 * until the stopper has closed the engine. */
static _Thread_local int tl_hold_limit;
static sync_t g_stopper_go;

static int hooked_limit(void *ctx) {
  (void)ctx;
  if (tl_hold_limit) {
    tl_hold_limit = 0; /* once */
    gate_open(&g_stopper_go);
    count_wait(&g_closed_seen, 1);
  }
  return 1;
}

/* Task A: counts itself started, flags its thread for the exit hold, and
 * waits at its gate if it has one. */
typedef struct probe_task {
  weft__task task;
  sync_t *started, *gate;
  _Atomic int runs, cancels, status;
} probe_task;
static void flag_exit_task(weft__task *t) {
  probe_task *p = (probe_task *)t;
  tl_hold_exit = 1;
  atomic_fetch_add(&p->runs, 1);
  count_up(p->started);
  if (p->gate) gate_wait(p->gate);
}
static void probe_run(weft__task *t) { atomic_fetch_add(&((probe_task *)t)->runs, 1); }
static void probe_cancel(weft__task *t, int status) {
  probe_task *p = (probe_task *)t;
  atomic_store(&p->status, status);
  atomic_fetch_add(&p->cancels, 1);
}

static void *stopper_thread(void *arg) {
  weft__engine *e = arg;
  gate_wait(&g_stopper_go);
  tl_note_closed = 1;
  (void)weft__engine_stop(e);
  tl_note_closed = 0;
  return NULL;
}

static bool one_parked(void *arg) { return weft__load_relaxed(&((weft__engine *)arg)->parked) == 1; }

/* How L leaves: popped by a shrink while parked; paying a shrink debt as
 * it goes idle after A; or after its keep-alive (E9.3), reaped while
 * parked (it stays on the idle stack until the submit pops it). Or popped
 * by a shrink, and the first thread L starts for B cannot be made. */
enum leave { LEAVE_SHRUNK, LEAVE_DEBT, LEAVE_REAPED, LEAVE_SHRUNK_FAIL_ONCE };

/* An engine with a limit of 1: worker L runs task A, and leaves (`how`);
 * uncounted (live 0) and out of the searching count, with no work in
 * sight, it is held as it takes the engine mutex to mark its exit.
 * B is submitted from this (no pool) thread: nobody is searching (a reaped
 * L, parked, is popped and found gone), so its notify goes to start a
 * thread, and is held at its look at the limit (room for one) while a stop
 * closes the engine; the stop then waits to join L, live at the close.
 * B's start is refused (closed, and not a worker's) and its claim undone.
 * L goes on: it saw the close and left its slot to the stop, which joined
 * it and cancelled B (WEFT_ECANCELED), though a thread existed at the
 * close (models/stop_leaver.pml without -DCOALESCED). B must run, and
 * every searching count claimed for it be given back. With a creation
 * that fails once, L's claim goes back as a searcher's leave, whose
 * re-check sees B and starts the thread (notify_slow's closed branch). */
static void leaver_exits_after_a_refused_start(enum leave how) {
  weft__observer_set(on_event);
  sync_init(&g_exit_held);
  sync_init(&g_exit_go);
  sync_init(&g_closed_seen);
  sync_init(&g_stopper_go);
  weft__engine_config cfg = {
      .name_prefix = "races",
      .limit = hooked_limit,
      .factory = counting_factory,
      .log = quiet_log, /* LEAVE_SHRUNK_FAIL_ONCE's failed creation */
      .spin_us = 1,
      .capacity = 4,
  };
  weft__engine *e = NULL;
  assert_int_equal(weft__engine_create(&e, &cfg), 0);
  if (how == LEAVE_REAPED)
    weft__engine_set_elastic(e, &(weft__elastic_config){.keep_alive_ns = 1000000}); /* 1 ms */
  sync_t started, gate;
  sync_init(&started);
  sync_init(&gate);
  probe_task a = {.task = {.run = flag_exit_task, .cancel = probe_cancel},
                  .started = &started,
                  .gate = how == LEAVE_DEBT ? &gate : NULL};
  probe_task b = {.task = {.run = probe_run, .cancel = probe_cancel}};
  atomic_store(&g_hold_e, e);
  assert_int_equal(weft__engine_submit(e, &a.task), 0);
  count_wait(&started, 1);
  if (how == LEAVE_SHRUNK || how == LEAVE_SHRUNK_FAIL_ONCE) {
    wait_until(one_parked, e, "L parked after A");
    assert_int_equal(weft__engine_shrink(e, 1), 0); /* pops L: live 0, L told to leave */
  } else if (how == LEAVE_DEBT) {
    assert_int_equal(weft__engine_shrink(e, 1), 0); /* L busy: a debt */
    assert_int_equal(weft__load_relaxed(&e->shrink_debt), 1);
    gate_open(&gate); /* L goes idle and pays it (live 0) */
  }
  count_wait(&g_exit_held, 1); /* L out of the counts, at its exit's lock */
  assert_int_equal(weft__load_relaxed(&e->live), 0);
  assert_int_equal(WEFT__CTL_SEARCHING(weft__load_relaxed(&e->ctl)), 0);

  pthread_t stopper;
  assert_int_equal(pthread_create(&stopper, NULL, stopper_thread, e), 0);
  tl_hold_limit = 1;
  assert_int_equal(weft__engine_submit(e, &b.task), 0); /* accepted before the close */
  tl_hold_limit = 0;
  assert_true(weft__load_relaxed(&e->closed));
  if (how == LEAVE_SHRUNK_FAIL_ONCE) atomic_store(&g_fail_next, 1);
  gate_open(&g_exit_go); /* L marks its exit; the stop joins it */
  pthread_join(stopper, NULL);
  atomic_store(&g_hold_e, NULL);
  bool fail_used = atomic_exchange(&g_fail_next, 0) == 0;
  int searching = (int)WEFT__CTL_SEARCHING(weft__load_relaxed(&e->ctl));
  int runs = atomic_load(&b.runs), cancels = atomic_load(&b.cancels);
  int status = atomic_load(&b.status);
  assert_int_equal(weft__engine_destroy(e), 0);
  sync_fini(&started);
  sync_fini(&gate);
  sync_fini(&g_exit_held);
  sync_fini(&g_exit_go);
  sync_fini(&g_closed_seen);
  sync_fini(&g_stopper_go);
  assert_int_equal(atomic_load(&a.runs), 1);
  if (cancels != 0)
    fail_msg("the task accepted before the stop was told %s, not run", weft_err_name(status));
  assert_int_equal(runs, 1);
  assert_int_equal(searching, 0);
  if (how == LEAVE_SHRUNK_FAIL_ONCE) assert_true(fail_used);
}

static void shrunk_leaver_exits_after_a_refused_start(void **state) {
  (void)state;
  leaver_exits_after_a_refused_start(LEAVE_SHRUNK);
}
static void debt_payer_exits_after_a_refused_start(void **state) {
  (void)state;
  leaver_exits_after_a_refused_start(LEAVE_DEBT);
}
static void reaped_worker_exits_after_a_refused_start(void **state) {
  (void)state;
  leaver_exits_after_a_refused_start(LEAVE_REAPED);
}
static void leaver_retries_a_failed_start_after_a_refused_one(void **state) {
  (void)state;
  leaver_exits_after_a_refused_start(LEAVE_SHRUNK_FAIL_ONCE);
}

int main(void) {
  /* Before any other weft call (weft/common.h): libc's allocator, with a
   * hold for spawn_against_a_stale_max. */
  if (weft_replace_allocator(hook_malloc, hook_calloc, hook_free) != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(spawn_against_a_stale_max, settle),
      cmocka_unit_test_teardown(resize_that_started_threads_answers_eagain, settle),
      cmocka_unit_test_teardown(debt_outlives_a_resize_that_raised_min, settle),
      cmocka_unit_test_teardown(reap_against_a_stale_min, settle),
      cmocka_unit_test_teardown(log_hook_not_under_the_shrink_mutex, settle),
      cmocka_unit_test_teardown(debt_paid_during_a_stop_leaves_no_task_behind, settle),
      cmocka_unit_test_teardown(leaver_hands_on_during_a_stop, settle),
      cmocka_unit_test_teardown(resize_during_a_stop_keeps_the_hand_off, settle),
      cmocka_unit_test_teardown(shrunk_leaver_exits_after_a_refused_start, settle),
      cmocka_unit_test_teardown(debt_payer_exits_after_a_refused_start, settle),
      cmocka_unit_test_teardown(reaped_worker_exits_after_a_refused_start, settle),
      cmocka_unit_test_teardown(leaver_retries_a_failed_start_after_a_refused_one, settle),
      cmocka_unit_test_teardown(block_begun_during_a_resize_settles, settle),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
