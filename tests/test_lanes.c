/*
 * Lanes (weft/lane.h): a lane never holds more threads than its limit, keeps
 * its tasks in FIFO order, leaves the other lanes running while it is
 * saturated, counts a blocked task against itself, cancels what waits in it
 * when the pool stops, and its statistics are exact at quiescence.
 *
 * Saturation is real: the lane's tasks wait at a gate until the test has
 * looked. Every wait is on a latch or a counter, never a timed pause.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "engine/core.h"
#include "engine/observer.h"
#include "pool/threadpool_impl.h"
#include "weft/weft.h"
#include "test_sync.h"

/* A pool of `threads` threads at a hard cap (no stand-ins: the saturation
 * tests count threads), started. */
static weft_threadpool *pool_of(int threads, weft_log_fn log, void *log_ctx) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = threads;
  o.max_threads = threads;
  o.strict_cap = 1;
  o.log = log;
  o.log_ctx = log_ctx;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  return tp;
}

static weft_lane *lane_of(weft_threadpool *tp, const char *name, int limit) {
  weft_lane_options o;
  weft_lane_options_init(&o);
  o.name = name;
  o.limit = limit;
  weft_lane *l = NULL;
  assert_int_equal(weft_lane_create(tp, &o, &l), 0);
  assert_non_null(l);
  return l;
}

static void count_down_task(void *arg) { latch_count_down(arg); }
static void count_up_task(void *arg) { count_up(arg); }
static void *stop_pool(void *tp) {
  if (weft_threadpool_stop(tp) != 0) abort();
  return NULL;
}
static void noop(void *arg) { (void)arg; }

/* Counts the log hook's reports (cancelled plain tasks, failures). */
typedef struct log_count {
  pthread_mutex_t mu;
  int reports, cancelled;
} log_count;
static void counting_log(void *ctx, int err, const char *what) {
  (void)what;
  log_count *c = ctx;
  pthread_mutex_lock(&c->mu);
  c->reports++;
  if (err == WEFT_ECANCELED) c->cancelled++;
  pthread_mutex_unlock(&c->mu);
}

/* ------------------------------------------------------------ the limit */

/* Six tasks that block at a gate in a lane limited to 2 of 8 threads: two
 * start, and after a task of another lane has run on a third thread (so
 * free threads existed all along), still only two have. */
static void lane_never_exceeds_its_limit(void **state) {
  (void)state;
  enum { SLOW = 6 };
  weft_threadpool *tp = pool_of(8, NULL, NULL);
  weft_lane *slow = lane_of(tp, "slow", 2), *fast = lane_of(tp, "fast", 8);
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  gated g = {&gate, &started, &done};
  for (int i = 0; i < SLOW; i++) assert_int_equal(weft_lane_call_in_thread(slow, gated_task, &g), 0);
  count_wait(&started, 2);
  latch ran;
  latch_init(&ran, 1);
  assert_int_equal(weft_lane_call_in_thread(fast, count_down_task, &ran), 0);
  latch_wait(&ran);
  assert_int_equal(count_get(&started), 2);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(slow, &s), 0);
  assert_int_equal(s.limit, 2);
  assert_int_equal(s.running, 2);
  assert_int_equal(s.queued, SLOW - 2);
  assert_int_equal(s.peak_running, 2);
  gate_open(&gate);
  count_wait(&done, SLOW);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_lane_stats_get(slow, &s), 0);
  assert_int_equal(s.peak_running, 2);
  assert_int_equal(s.running, 0);
  assert_int_equal(s.queued, 0);
  assert_int_equal(s.completed, SLOW);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  latch_destroy(&ran);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&done);
}

/* A meeting of n tasks: each counts itself in and waits for the others, so
 * n threads that each took one have all returned from what they ran
 * before. */
typedef struct meeting {
  sync_t *arrived;
  int n;
} meeting;
static void meet_task(void *arg) {
  meeting *m = arg;
  count_up(m->arrived);
  count_wait(m->arrived, m->n);
}

/* The limit holds across a drain and a refill (weft/lane.h: a lane never
 * holds more than `limit` of the pool's threads). Limit 1, 2 threads: A
 * runs and returns with nothing waiting, so its release finds the lane
 * exactly full and owes no hand-off; the two threads then meet, so the one
 * that ran A has finished that release. B holds the slot at a gate, C is
 * submitted to the lane, then D straight to the pool: D runs on the free
 * thread while C waits in the lane. Fails if A's release left a hand-off
 * owed (lane_release counting `before == limit` as a waiter, lane.c): C's
 * submit then hands it to the pool at once, ahead of D in the inject queue
 * (FIFO), the free thread runs C beside B, and C has run once D has. */
static void lane_limit_holds_after_a_release_at_the_limit(void **state) {
  (void)state;
  weft_threadpool *tp = pool_of(2, NULL, NULL);
  weft_lane *l = lane_of(tp, "refilled", 1);
  latch a_ran, d_ran;
  latch_init(&a_ran, 1);
  latch_init(&d_ran, 1);
  assert_int_equal(weft_lane_call_in_thread(l, count_down_task, &a_ran), 0);
  latch_wait(&a_ran);
  sync_t arrived;
  sync_init(&arrived);
  meeting m = {&arrived, 2};
  assert_int_equal(weft_threadpool_call_in_thread(tp, meet_task, &m), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, meet_task, &m), 0);
  count_wait(&arrived, 2); /* both threads: A's release is done */
  sync_t gate, started, done, c_ran;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  sync_init(&c_ran);
  gated g = {&gate, &started, &done};
  assert_int_equal(weft_lane_call_in_thread(l, gated_task, &g), 0);
  count_wait(&started, 1); /* B holds the lane's slot */
  assert_int_equal(weft_lane_call_in_thread(l, count_up_task, &c_ran), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, count_down_task, &d_ran), 0);
  latch_wait(&d_ran);
  int c_early = count_get(&c_ran); /* 0: C still waits in the lane */
  weft_lane_stats mid, s;
  assert_int_equal(weft_lane_stats_get(l, &mid), 0);
  gate_open(&gate);
  count_wait(&done, 1);
  count_wait(&c_ran, 1); /* handed over by B's release */
  assert_int_equal(weft_threadpool_stop(tp), 0);
  /* Checked once the pool is stopped: a failure leaves no task at a gate. */
  assert_int_equal(c_early, 0);
  assert_int_equal(mid.running, 1);
  assert_int_equal(mid.queued, 1);
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.completed, 3);
  assert_int_equal(s.peak_running, 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  latch_destroy(&a_ran);
  latch_destroy(&d_ran);
  sync_fini(&arrived);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&done);
  sync_fini(&c_ran);
}

/* A hand-off that is not a finishing task's own goes to the submitter's
 * ring and must wake a parked worker (E5.1; weft__engine_submit_continuation
 * notifies unless `next`). The window: a lane submit has counted itself past
 * the limit and not yet pushed its task (the observer's LANE_COUNTED holds
 * it there); the slot's holder X finishes, owes a hand-off with nothing
 * visible, and its thread parks. The submit then pushes Y and hands it off
 * itself, to its own thread's ring, where S (the submitting task) then waits
 * for Y. Only the parked thread can run Y: without the wake S waits until
 * its hang guard and Y runs only after S gave up. */
static sync_t g_lane_parks;  /* PARKED events */
static sync_t g_lane_events; /* every event */
static atomic_int g_lane_hold;
static sync_t *g_lane_gate;
static weft_threadpool *g_lane_tp;
static void lane_observer(weft__event ev) {
  if (ev == WEFT__EVENT_PARKED) count_up(&g_lane_parks);
  if (ev == WEFT__EVENT_LANE_COUNTED && atomic_exchange(&g_lane_hold, 0)) {
    int parks = count_get(&g_lane_parks);
    gate_open(g_lane_gate);           /* X returns: its release owes a hand-off */
    count_wait(&g_lane_parks, parks + 1); /* X's thread parked, nothing to take */
    /* And the monitor disarmed (armed if the pool's start was refused a
     * thread while its workers were still starting): an armed monitor
     * wakes a parked worker for stranded work, which would hide a missing
     * wake. Disarmed, only an arm wakes it, and only a refused spawn arms. */
    weft__engine *e = weft__threadpool_engine(g_lane_tp);
    for (;;) {
      int seen = count_get(&g_lane_events);
      if (atomic_load(&e->monitor_armed) == 0) break;
      count_wait(&g_lane_events, seen + 1); /* its ticks are events */
    }
  }
  if (ev != WEFT__EVENT_LANE_COUNTED) count_up(&g_lane_events);
}

/* count_wait with a hang guard; false once it passed. */
static bool count_wait_guarded(sync_t *c, int n, int seconds) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += seconds;
  bool ok = true;
  pthread_mutex_lock(&c->mu);
  while (c->count < n && ok) ok = pthread_cond_timedwait(&c->cv, &c->mu, &dl) == 0;
  pthread_mutex_unlock(&c->mu);
  return ok;
}

typedef struct handoff_submitter {
  weft_lane *l;
  sync_t y_ran, s_done;
  int submit_rc;
  bool y_in_time;
} handoff_submitter;
static void handoff_submitter_task(void *arg) {
  handoff_submitter *h = arg;
  atomic_store(&g_lane_hold, 1);
  h->submit_rc = weft_lane_call_in_thread(h->l, count_up_task, &h->y_ran);
  h->y_in_time = count_wait_guarded(&h->y_ran, 1, 30);
  count_up(&h->s_done);
}

static void lane_hand_off_to_own_ring_wakes_a_parked_worker(void **state) {
  (void)state;
  sync_init(&g_lane_parks);
  sync_init(&g_lane_events);
  weft__observer_set(lane_observer);
  weft_threadpool *tp = pool_of(2, NULL, NULL);
  g_lane_tp = tp;
  weft_lane *l = lane_of(tp, "handoff", 1);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  gated x = {&gate, &started, NULL};
  g_lane_gate = &gate;
  assert_int_equal(weft_lane_call_in_thread(l, gated_task, &x), 0);
  count_wait(&started, 1); /* X holds the lane's slot */
  handoff_submitter h = {.l = l};
  sync_init(&h.y_ran);
  sync_init(&h.s_done);
  assert_int_equal(weft_threadpool_call_in_thread(tp, handoff_submitter_task, &h), 0);
  count_wait(&h.s_done, 1);
  count_wait(&h.y_ran, 1); /* ran, if late */
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft__observer_set(NULL);
  assert_int_equal(h.submit_rc, 0);
  assert_true(h.y_in_time);
  assert_int_equal(atomic_load(&g_lane_hold), 0); /* the window was held */
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&h.y_ran);
  sync_fini(&h.s_done);
}

/* The other lanes keep running: a pool of 3 threads, a lane limited to 2
 * whose tasks all block. On a single FIFO pool the third thread would take
 * the third blocking task and the fast one would never run (this test would
 * hang); here it runs while the slow ones are blocked. */
static void other_lanes_run_while_one_is_saturated(void **state) {
  (void)state;
  enum { SLOW = 10, FAST = 50 };
  weft_threadpool *tp = pool_of(3, NULL, NULL);
  weft_lane *slow = lane_of(tp, "disk", 2), *fast = lane_of(tp, "dns", 3);
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  gated g = {&gate, &started, &done};
  for (int i = 0; i < SLOW; i++) assert_int_equal(weft_lane_call_in_thread(slow, gated_task, &g), 0);
  count_wait(&started, 2);
  latch ran;
  latch_init(&ran, FAST);
  for (int i = 0; i < FAST; i++)
    assert_int_equal(weft_lane_call_in_thread(fast, count_down_task, &ran), 0);
  latch_wait(&ran); /* while the slow lane's two tasks are blocked */
  assert_int_equal(count_get(&started), 2);
  gate_open(&gate);
  count_wait(&done, SLOW); /* a stop now would cancel what waits in the lane */
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(fast, &s), 0);
  assert_int_equal(s.completed, FAST);
  assert_int_equal(s.peak_running, 1); /* one thread was free for it */
  assert_int_equal(weft_lane_stats_get(slow, &s), 0);
  assert_int_equal(s.completed, SLOW);
  assert_int_equal(s.peak_running, 2);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  latch_destroy(&ran);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&done);
}

/* ---------------------------------------------------------------- order */

typedef struct order_log {
  pthread_mutex_t mu;
  int seen[64];
  int n;
} order_log;
typedef struct order_task {
  order_log *log;
  int index;
  sync_t *gate;
  latch *all;
} order_task;
static void record_order(void *arg) {
  order_task *t = arg;
  if (t->gate) gate_wait(t->gate);
  pthread_mutex_lock(&t->log->mu);
  t->log->seen[t->log->n++] = t->index;
  pthread_mutex_unlock(&t->log->mu);
  latch_count_down(t->all);
}

/* With limit 1, the lane's tasks run one at a time in submission order,
 * on a pool of 4 threads that would otherwise run them side by side. */
static void lane_is_fifo(void **state) {
  (void)state;
  enum { N = 64 };
  weft_threadpool *tp = pool_of(4, NULL, NULL);
  weft_lane *l = lane_of(tp, "ordered", 1);
  order_log log = {.n = 0};
  pthread_mutex_init(&log.mu, NULL);
  sync_t gate;
  sync_init(&gate);
  latch all;
  latch_init(&all, N);
  order_task tasks[N];
  for (int i = 0; i < N; i++) {
    tasks[i] = (order_task){&log, i, i == 0 ? &gate : NULL, &all};
    assert_int_equal(weft_lane_call_in_thread(l, record_order, &tasks[i]), 0);
  }
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.queued, N - 1); /* the first holds the lane at its gate */
  gate_open(&gate);
  latch_wait(&all); /* a stop now would cancel what waits in the lane */
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(log.n, N);
  for (int i = 0; i < N; i++) assert_int_equal(log.seen[i], i);
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.peak_running, 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pthread_mutex_destroy(&log.mu);
  latch_destroy(&all);
  sync_fini(&gate);
}

/* weft_threadpool_stop runs what waits in a lane, as it runs the pool's
 * own queue: the stop closes the pool while the lane's first task holds its
 * only slot at a gate; the others still run, one at a time, in order. */
static void stop_runs_what_waits_in_a_lane(void **state) {
  (void)state;
  enum { N = 32 };
  weft_threadpool *tp = pool_of(4, NULL, NULL);
  weft_lane *l = lane_of(tp, "drained", 1);
  order_log log = {.n = 0};
  pthread_mutex_init(&log.mu, NULL);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  latch all;
  latch_init(&all, N);
  order_task tasks[N];
  for (int i = 0; i < N; i++) {
    tasks[i] = (order_task){&log, i, i == 0 ? &gate : NULL, &all};
    assert_int_equal(weft_lane_call_in_thread(l, record_order, &tasks[i]), 0);
  }
  pthread_t stopper;
  assert_int_equal(pthread_create(&stopper, NULL, stop_pool, tp), 0);
  /* The stop has closed the pool once a submit is refused (each accepted
   * one is waited for: the loop ends when the stop's close is seen). */
  int pings = 0;
  while (weft_threadpool_call_in_thread(tp, count_up_task, &started) == 0) count_wait(&started, ++pings);
  assert_int_equal(weft_lane_call_in_thread(l, noop, NULL), WEFT_EQUIT);
  gate_open(&gate);
  pthread_join(stopper, NULL);
  assert_int_equal(log.n, N);
  for (int i = 0; i < N; i++) assert_int_equal(log.seen[i], i);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.completed, N);
  assert_int_equal(s.cancelled, 0);
  assert_int_equal(s.peak_running, 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pthread_mutex_destroy(&log.mu);
  latch_destroy(&all);
  sync_fini(&gate);
  sync_fini(&started);
}

/* -------------------------------------------------- the elastic pool */

typedef struct blocker {
  sync_t *gate, *started, *done;
} blocker;
static void blocking_task(void *arg) {
  blocker *b = arg;
  weft_blocking_begin();
  count_up(b->started);
  gate_wait(b->gate);
  weft_blocking_end();
  count_up(b->done);
}

/* A lane task inside weft_blocking_begin still counts against its lane: the
 * elastic pool (max 1) stands in for it, and the stand-in runs a task of
 * the pool, not the lane's second task (submitted before it). */
static void blocked_task_counts_against_its_lane(void **state) {
  (void)state;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  weft_lane *l = lane_of(tp, "db", 1);
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  blocker b = {&gate, &started, &done};
  assert_int_equal(weft_lane_call_in_thread(l, blocking_task, &b), 0);
  count_wait(&started, 1);
  assert_int_equal(weft_lane_call_in_thread(l, blocking_task, &b), 0);
  latch ran;
  latch_init(&ran, 1);
  assert_int_equal(weft_threadpool_call_in_thread(tp, count_down_task, &ran), 0);
  latch_wait(&ran); /* on the stand-in */
  assert_int_equal(count_get(&started), 1);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.running, 1);
  assert_int_equal(s.queued, 1);
  gate_open(&gate);
  count_wait(&done, 2);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.completed, 2);
  assert_int_equal(s.peak_running, 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  latch_destroy(&ran);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&done);
}

/* --------------------------------------------------------- cancellation */

typedef struct outcome {
  pthread_mutex_t mu;
  int ok, cancelled, other;
} outcome;
static void record_outcome(void *ctx, int status, void *result) {
  (void)result;
  outcome *o = ctx;
  pthread_mutex_lock(&o->mu);
  if (status == 0) o->ok++;
  else if (status == WEFT_ECANCELED) o->cancelled++;
  else o->other++;
  pthread_mutex_unlock(&o->mu);
}
static int succeed(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return 0;
}
static int gated_call(void *arg, void **result) {
  gated_task(arg);
  *result = NULL;
  return 0;
}

/* Tasks waiting in a lane when the pool stops are cancelled through their
 * cancel path: on_result gets WEFT_ECANCELED, a plain task is reported to
 * the log hook. stop_timeout(0) closes the pool while the lane's running
 * task holds its slot: the tasks waiting behind it are cancelled by the
 * call itself (before, only once that task returned), and counted in its
 * report. */
static void waiting_tasks_are_cancelled_at_stop(void **state) {
  (void)state;
  enum { WAITING = 5, PLAIN = 3 };
  log_count lc = {.reports = 0};
  pthread_mutex_init(&lc.mu, NULL);
  weft_threadpool *tp = pool_of(2, counting_log, &lc);
  weft_lane *l = lane_of(tp, "slow", 1);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  gated g = {&gate, &started, NULL};
  outcome out = {.ok = 0};
  pthread_mutex_init(&out.mu, NULL);
  assert_int_equal(weft_lane_call_in_thread_with_callback(l, record_outcome, &out, gated_call, &g), 0);
  count_wait(&started, 1);
  for (int i = 0; i < WAITING; i++)
    assert_int_equal(weft_lane_call_in_thread_with_callback(l, record_outcome, &out, succeed, NULL), 0);
  for (int i = 0; i < PLAIN; i++)
    assert_int_equal(weft_lane_call_in_thread(l, noop, NULL), 0); /* never runs */
  weft_threadpool_stop_report rep;
  assert_int_equal(weft_threadpool_stop_timeout(tp, 0, &rep), WEFT_ETIMEDOUT);
  assert_int_equal(rep.running, 1); /* the gated task's thread; idle ones are not tasks */
  assert_int_equal(rep.cancelled, WAITING + PLAIN);
  pthread_mutex_lock(&out.mu);
  assert_int_equal(out.cancelled, WAITING); /* told already: the gate is still shut */
  assert_int_equal(out.ok, 0);
  pthread_mutex_unlock(&out.mu);
  pthread_mutex_lock(&lc.mu);
  assert_int_equal(lc.cancelled, PLAIN);
  pthread_mutex_unlock(&lc.mu);
  weft_lane_stats mid;
  assert_int_equal(weft_lane_stats_get(l, &mid), 0);
  assert_int_equal(mid.queued, 0);
  assert_int_equal(mid.running, 1);
  assert_int_equal(weft_lane_call_in_thread(l, noop, NULL), WEFT_EQUIT);
  gate_open(&gate);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* joins the thread that cancels them */
  assert_int_equal(out.ok, 1);
  assert_int_equal(out.cancelled, WAITING);
  assert_int_equal(out.other, 0);
  assert_int_equal(lc.cancelled, PLAIN);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.submitted, 1 + WAITING + PLAIN);
  assert_int_equal(s.completed, 1);
  assert_int_equal(s.cancelled, WAITING + PLAIN);
  assert_int_equal(s.queued, 0);
  assert_int_equal(s.running, 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pthread_mutex_destroy(&out.mu);
  pthread_mutex_destroy(&lc.mu);
  sync_fini(&gate);
  sync_fini(&started);
}

/* A lane submit the call's sweep cannot see: it has counted itself past the
 * limit (LANE_COUNTED) and not yet pushed its task when stop_timeout(0)
 * sweeps, closes and returns. The submit then pushes and is accepted (0);
 * its own kick sees the sweep's flag and cancels the task at once, on the
 * submitting thread: never run, its owner told WEFT_ECANCELED, counted as
 * cancelled though not in the call's report (threadpool.h says so). The
 * late thread's task then ends and hands nothing on. */
typedef struct late_submit {
  weft_lane *l;
  outcome *out;
  sync_t counted, go, done;
  atomic_int hold;
  int rc;
  pthread_t self;
} late_submit;
static late_submit *g_late;
static void late_submit_observer(weft__event ev) {
  late_submit *ls = g_late;
  if (ev != WEFT__EVENT_LANE_COUNTED || ls == NULL || !atomic_exchange(&ls->hold, 0)) return;
  count_up(&ls->counted);
  count_wait(&ls->go, 1);
}
static pthread_t g_told_on;
static void record_outcome_thread(void *ctx, int status, void *result) {
  g_told_on = pthread_self();
  record_outcome(ctx, status, result);
}
static void *late_submitter(void *arg) {
  late_submit *ls = arg;
  ls->self = pthread_self();
  ls->rc = weft_lane_call_in_thread_with_callback(ls->l, record_outcome_thread, ls->out, succeed, NULL);
  count_up(&ls->done);
  return NULL;
}

/* The scene both late-submit cases set up: X (gated) holds a limit-1
 * lane's slot; a second thread (`submitter`) submits Y to the lane and is
 * held by the observer once the lane counted Y, before Y is pushed. */
typedef struct late_scene {
  sync_t gate, started;
  gated x;
  outcome xo, yo;
  late_submit ls;
  pthread_t th;
} late_scene;

static void late_scene_start(late_scene *sc, weft_lane *l, void *(*submitter)(void *)) {
  memset(sc, 0, sizeof *sc);
  sync_init(&sc->gate);
  sync_init(&sc->started);
  sc->x = (gated){&sc->gate, &sc->started, NULL};
  pthread_mutex_init(&sc->xo.mu, NULL);
  pthread_mutex_init(&sc->yo.mu, NULL);
  assert_int_equal(weft_lane_call_in_thread_with_callback(l, record_outcome, &sc->xo, gated_call, &sc->x), 0);
  count_wait(&sc->started, 1); /* X holds the lane's slot */
  sc->ls.l = l;
  sc->ls.out = &sc->yo;
  sync_init(&sc->ls.counted);
  sync_init(&sc->ls.go);
  sync_init(&sc->ls.done);
  atomic_store(&sc->ls.hold, 1);
  g_late = &sc->ls;
  weft__observer_set(late_submit_observer);
  assert_int_equal(pthread_create(&sc->th, NULL, submitter, &sc->ls), 0);
  count_wait(&sc->ls.counted, 1); /* Y counted, not pushed */
}

static void late_scene_fini(late_scene *sc) {
  pthread_mutex_destroy(&sc->xo.mu);
  pthread_mutex_destroy(&sc->yo.mu);
  sync_fini(&sc->gate);
  sync_fini(&sc->started);
  sync_fini(&sc->ls.counted);
  sync_fini(&sc->ls.go);
  sync_fini(&sc->ls.done);
}

static void lane_submit_unseen_by_stop_timeout_is_cancelled(void **state) {
  (void)state;
  weft_threadpool *tp = pool_of(1, NULL, NULL);
  weft_lane *l = lane_of(tp, "late", 1);
  late_scene sc;
  late_scene_start(&sc, l, late_submitter);
  weft_threadpool_stop_report rep;
  assert_int_equal(weft_threadpool_stop_timeout(tp, 0, &rep), WEFT_ETIMEDOUT);
  assert_int_equal(rep.running, 1); /* X's thread */
  assert_int_equal(rep.cancelled, 0); /* Y was nowhere to sweep */
  count_up(&sc.ls.go);
  count_wait(&sc.ls.done, 1);
  assert_int_equal(pthread_join(sc.th, NULL), 0);
  weft__observer_set(NULL);
  g_late = NULL;
  assert_int_equal(sc.ls.rc, 0); /* accepted: counted before the close */
  pthread_mutex_lock(&sc.yo.mu);
  assert_int_equal(sc.yo.cancelled, 1); /* told already, X still running */
  assert_int_equal(sc.yo.ok, 0);
  pthread_mutex_unlock(&sc.yo.mu);
  assert_true(pthread_equal(g_told_on, sc.ls.self)); /* by its submitter's kick */
  gate_open(&sc.gate);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* joins X's thread */
  assert_int_equal(sc.xo.ok, 1);
  assert_int_equal(sc.yo.cancelled, 1);
  assert_int_equal(sc.yo.ok + sc.yo.other, 0);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.submitted, 2);
  assert_int_equal(s.completed, 1);
  assert_int_equal(s.cancelled, 1);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(c.submitted, c.executed + c.cancelled);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  late_scene_fini(&sc);
}

/* The same late submit, and its owner's callback, told WEFT_ECANCELED by
 * that submit's own kick, destroys the pool. The submit is still inside the
 * lane (its kick goes on with the lane after the callback returns), so the
 * destroy must not free the pool and its lanes under it: WEFT_EDEADLK, as
 * for a destroy from a callback of the pool's own stop (docs/misuse.md row
 * 75). It freed them: the kick then used the freed lane (ASan:
 * heap-use-after-free in lane_kick). Every pool thread is joined first
 * (stop after the timed-out stop_timeout), so nothing but the late submit
 * still uses the pool. */
static weft_threadpool *g_late_destroy_tp;
static int g_late_destroy_rc;
static void destroy_pool_when_told(void *ctx, int status, void *result) {
  record_outcome(ctx, status, result);
  g_late_destroy_rc = weft_threadpool_destroy(g_late_destroy_tp);
}
static void *late_destroying_submitter(void *arg) {
  late_submit *ls = arg;
  ls->rc = weft_lane_call_in_thread_with_callback(ls->l, destroy_pool_when_told, ls->out, succeed, NULL);
  count_up(&ls->done);
  return NULL;
}

static void destroy_from_a_late_submits_cancel_is_refused(void **state) {
  (void)state;
  weft_threadpool *tp = pool_of(1, NULL, NULL);
  g_late_destroy_tp = tp;
  g_late_destroy_rc = 1;
  weft_lane *l = lane_of(tp, "late-destroy", 1);
  late_scene sc;
  late_scene_start(&sc, l, late_destroying_submitter);
  weft_threadpool_stop_report rep;
  assert_int_equal(weft_threadpool_stop_timeout(tp, 0, &rep), WEFT_ETIMEDOUT);
  gate_open(&sc.gate);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* joins X's thread */
  assert_int_equal(sc.xo.ok, 1);
  count_up(&sc.ls.go); /* Y pushes; its kick cancels it: the callback destroys */
  count_wait(&sc.ls.done, 1);
  assert_int_equal(pthread_join(sc.th, NULL), 0);
  weft__observer_set(NULL);
  g_late = NULL;
  assert_int_equal(sc.ls.rc, 0);
  assert_int_equal(sc.yo.cancelled, 1);
  assert_int_equal(g_late_destroy_rc, WEFT_EDEADLK); /* the submit still used the lane */
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0); /* the lane is still there */
  assert_int_equal(s.submitted, 2);
  assert_int_equal(s.cancelled, 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  late_scene_fini(&sc);
}

/* stop_timeout's report counts every task the call cancelled: the one in
 * the pool's backlog, and those waiting in a lane behind it, which the
 * closed pool refuses at their hand-off (they never reach the engine). */
static void stop_timeout_reports_lane_cancels(void **state) {
  (void)state;
  enum { N = 5 };
  log_count lc = {.reports = 0};
  pthread_mutex_init(&lc.mu, NULL);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = o.max_threads = 1;
  o.log = counting_log;
  o.log_ctx = &lc;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0); /* never started */
  weft_lane *l = lane_of(tp, "one", 1);
  for (int i = 0; i < N; i++) assert_int_equal(weft_lane_call_in_thread(l, noop, NULL), 0);
  weft_threadpool_stop_report rep;
  assert_int_equal(weft_threadpool_stop_timeout(tp, 1000, &rep), 0);
  assert_int_equal(rep.cancelled, N);
  assert_int_equal(rep.running, 0);
  assert_int_equal(lc.cancelled, N);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pthread_mutex_destroy(&lc.mu);
}

/* A pool never started: the lane's first tasks wait in the pool's backlog,
 * the rest in the lane; destroy cancels both kinds, each exactly once. */
static void destroy_cancels_backlog_and_lane(void **state) {
  (void)state;
  enum { N = 7 };
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create(&tp, 0, 4, "unstarted"), 0);
  weft_lane *l = lane_of(tp, "slow", 2);
  outcome out = {.ok = 0};
  pthread_mutex_init(&out.mu, NULL);
  for (int i = 0; i < N; i++)
    assert_int_equal(weft_lane_call_in_thread_with_callback(l, record_outcome, &out, succeed, NULL), 0);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.queued, N - 2);
  assert_int_equal(weft_threadpool_queue_size(tp), 2); /* the lane's limit */
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(out.cancelled, N);
  assert_int_equal(out.ok, 0);
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.cancelled, N);
  assert_int_equal(s.queued, 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pthread_mutex_destroy(&out.mu);
}

/* ----------------------------------------------------------- statistics */

typedef struct submitter {
  weft_lane *lane;
  int n;
  sync_t *go;
  outcome *out;
  latch *ran;
} submitter;
static int count_down_call(void *arg, void **result) {
  latch_count_down(arg);
  *result = NULL;
  return 0;
}
static void *submit_many(void *arg) {
  submitter *s = arg;
  gate_wait(s->go);
  for (int i = 0; i < s->n; i++) {
    int r = (i & 1) ? weft_lane_call_in_thread_with_callback(s->lane, record_outcome, s->out,
                                                             count_down_call, s->ran)
                    : weft_lane_call_in_thread(s->lane, count_down_task, s->ran);
    if (r != 0) abort();
  }
  return NULL;
}

/* Two submitters and the pool's four threads race on a lane limited to 3
 * (hand-offs from finishing tasks, direct admissions, the baton): at
 * quiescence every counter is exact and the peak never passed the limit. */
static void stats_exact_at_quiescence(void **state) {
  (void)state;
  enum { PER = 4000, SUBMITTERS = 2 };
  weft_threadpool *tp = pool_of(4, NULL, NULL);
  weft_lane *l = lane_of(tp, "busy", 3);
  outcome out = {.ok = 0};
  pthread_mutex_init(&out.mu, NULL);
  sync_t go;
  sync_init(&go);
  pthread_t th[SUBMITTERS];
  latch ran;
  latch_init(&ran, SUBMITTERS * PER);
  submitter sub = {l, PER, &go, &out, &ran};
  for (int i = 0; i < SUBMITTERS; i++) assert_int_equal(pthread_create(&th[i], NULL, submit_many, &sub), 0);
  gate_open(&go);
  for (int i = 0; i < SUBMITTERS; i++) pthread_join(th[i], NULL);
  latch_wait(&ran); /* a stop before would cancel what waits in the lane */
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.submitted, SUBMITTERS * PER);
  assert_int_equal(s.completed, SUBMITTERS * PER);
  assert_int_equal(s.cancelled, 0);
  assert_int_equal(s.running, 0);
  assert_int_equal(s.queued, 0);
  assert_true(s.peak_running >= 1 && s.peak_running <= 3);
  assert_int_equal(out.ok, SUBMITTERS * PER / 2);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pthread_mutex_destroy(&out.mu);
  latch_destroy(&ran);
  sync_fini(&go);
}

/* A lane task submits to its own lane (the hand-off runs on a pool thread,
 * inside the lane): a chain of N, one at a time. */
typedef struct chain {
  weft_lane *lane;
  _Atomic int left;
  latch *done;
} chain;
static void chain_step(void *arg) {
  chain *c = arg;
  if (atomic_fetch_sub(&c->left, 1) > 1) {
    if (weft_lane_call_in_thread(c->lane, chain_step, c) != 0) abort();
  } else {
    latch_count_down(c->done);
  }
}
static void lane_task_submits_to_its_lane(void **state) {
  (void)state;
  weft_threadpool *tp = pool_of(2, NULL, NULL);
  weft_lane *l = lane_of(tp, "chain", 1);
  latch done;
  latch_init(&done, 1);
  chain c = {l, 1000, &done};
  assert_int_equal(weft_lane_call_in_thread(l, chain_step, &c), 0);
  latch_wait(&done);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.completed, 1000);
  assert_int_equal(s.peak_running, 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  latch_destroy(&done);
}

/* ------------------------------------------------------------- context */

typedef struct ctx_seen {
  pthread_mutex_t mu;
  void *seen[8];
  int n;
  sync_t *gate;
  latch *all;
} ctx_seen;
static void record_context(void *arg) {
  ctx_seen *c = arg;
  if (c->gate) {
    sync_t *g = c->gate;
    pthread_mutex_lock(&c->mu);
    c->gate = NULL; /* only the first task waits */
    pthread_mutex_unlock(&c->mu);
    gate_wait(g);
  }
  pthread_mutex_lock(&c->mu);
  c->seen[c->n++] = weft_context_current();
  pthread_mutex_unlock(&c->mu);
  latch_count_down(c->all);
}

/* Each task runs in its submitter's context, though all but the first wait
 * in the lane and are handed to the pool by the task before them, which
 * runs in another context (a hand-off must not capture the hand-off
 * thread's context). */
static void tasks_keep_their_submitters_context(void **state) {
  (void)state;
  enum { N = 4 };
  static int ctx[N];
  weft_threadpool *tp = pool_of(2, NULL, NULL);
  weft_lane *l = lane_of(tp, "ctx", 1);
  sync_t gate;
  sync_init(&gate);
  latch all;
  latch_init(&all, N);
  ctx_seen c = {.n = 0, .gate = &gate, .all = &all};
  pthread_mutex_init(&c.mu, NULL);
  for (int i = 0; i < N; i++) {
    void *before = weft_context_set(&ctx[i]);
    assert_int_equal(weft_lane_call_in_thread(l, record_context, &c), 0);
    weft_context_set(before);
  }
  gate_open(&gate);
  latch_wait(&all);
  for (int i = 0; i < N; i++) assert_ptr_equal(c.seen[i], &ctx[i]); /* FIFO: in order */
  assert_null(weft_context_current());
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pthread_mutex_destroy(&c.mu);
  latch_destroy(&all);
  sync_fini(&gate);
}

/* --------------------------------------------------------------- misuse */

/* A lane task cancelled at stop in its submitter's context A frees its
 * slot, and the lane's next task, which captured no context, is refused
 * and cancelled right there, on the same thread: its owner is told in no
 * context, not in A (it saw A, inside A's task). */
static void *g_ctx_seen[2];
static int g_ctx_seen_n[2];
static int g_ctx_status[2];
static void record_lane_context(void *ctx, int status, void *result) {
  (void)result;
  int i = (int)(intptr_t)ctx;
  g_ctx_seen[i] = weft_context_current();
  g_ctx_seen_n[i]++;
  g_ctx_status[i] = status;
}
static int never_runs(void *arg, void **result) {
  (void)arg;
  (void)result;
  abort();
}

static void refused_waiting_task_cancelled_in_its_own_context(void **state) {
  (void)state;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 1;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0); /* never started */
  weft_lane *l = lane_of(tp, "ctx", 1);
  static int context_a;
  memset(g_ctx_seen_n, 0, sizeof g_ctx_seen_n);
  assert_null(weft_context_set(&context_a));
  assert_int_equal(weft_lane_call_in_thread_with_callback(l, record_lane_context, (void *)(intptr_t)0, never_runs, NULL), 0);
  assert_ptr_equal(weft_context_set(NULL), &context_a);
  assert_int_equal(weft_lane_call_in_thread_with_callback(l, record_lane_context, (void *)(intptr_t)1, never_runs, NULL), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* cancels the first; the second is refused */
  assert_int_equal(g_ctx_seen_n[0], 1);
  assert_int_equal(g_ctx_seen_n[1], 1);
  assert_int_equal(g_ctx_status[0], WEFT_ECANCELED);
  assert_int_equal(g_ctx_status[1], WEFT_ECANCELED);
  assert_ptr_equal(g_ctx_seen[0], &context_a);
  assert_null(g_ctx_seen[1]);
  assert_null(weft_context_current());
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* A lane task that waits for a task submitted after it to its own lane,
 * the lane at its limit (docs/misuse.md row 89): the later task gets a
 * slot only when one of the lane's tasks in the pool returns, so the wait
 * cannot end by itself, though the pool has an idle thread (weft/lane.h
 * says so). stop_timeout cancels the later task: its on_result, told
 * WEFT_ECANCELED by the call, ends the wait. */
typedef struct successor_wait {
  weft_lane *l;
  sync_t queued, told;
  atomic_int status;
} successor_wait;
static void successor_told(void *ctx, int status, void *result) {
  (void)result;
  successor_wait *sw = ctx;
  atomic_store(&sw->status, status);
  count_up(&sw->told);
}
static void wait_for_successor(void *arg) {
  successor_wait *sw = arg;
  if (weft_lane_call_in_thread_with_callback(sw->l, successor_told, sw, succeed, NULL) != 0) abort();
  count_up(&sw->queued);
  count_wait(&sw->told, 1);
}

static void lane_task_waiting_for_its_successor(void **state) {
  (void)state;
  weft_threadpool *tp = pool_of(2, NULL, NULL);
  successor_wait sw = {.l = lane_of(tp, "self-waiting", 1)};
  sync_init(&sw.queued);
  sync_init(&sw.told);
  atomic_init(&sw.status, 1);
  assert_int_equal(weft_lane_call_in_thread(sw.l, wait_for_successor, &sw), 0);
  count_wait(&sw.queued, 1);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(sw.l, &s), 0);
  assert_int_equal(s.running, 1);
  assert_int_equal(s.queued, 1); /* behind the task that waits for it */
  assert_int_equal(weft_threadpool_waiters(tp), 1); /* with a thread idle */
  assert_int_equal(count_get(&sw.told), 0);
  weft_threadpool_stop_report rep;
  assert_int_equal(weft_threadpool_stop_timeout(tp, 0, &rep), WEFT_ETIMEDOUT);
  assert_int_equal(rep.cancelled, 1);
  assert_int_equal(count_get(&sw.told), 1); /* by the call, before it returned */
  assert_int_equal(atomic_load(&sw.status), WEFT_ECANCELED);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* the waiting task returned */
  assert_int_equal(weft_lane_stats_get(sw.l, &s), 0);
  assert_int_equal(s.completed, 1);
  assert_int_equal(s.cancelled, 1);
  assert_int_equal(s.submitted, 2);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&sw.queued);
  sync_fini(&sw.told);
}

static void lane_misuse(void **state) {
  (void)state;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create(&tp, 0, 2, "misuse"), 0);
  weft_lane_options o;
  weft_lane_options_init(&o);
  assert_int_equal(o.limit, 1);
  weft_lane_options_init(NULL); /* ignored */
  weft_lane *l = (weft_lane *)&o; /* must be overwritten with NULL */
  assert_int_equal(weft_lane_create(NULL, &o, &l), WEFT_EINVAL);
  assert_null(l);
  assert_int_equal(weft_lane_create(tp, NULL, &l), WEFT_EINVAL);
  assert_int_equal(weft_lane_create(tp, &o, NULL), WEFT_EINVAL);
  o.limit = 0;
  assert_int_equal(weft_lane_create(tp, &o, &l), WEFT_EINVAL);
  o.limit = -3;
  assert_int_equal(weft_lane_create(tp, &o, &l), WEFT_EINVAL);
  o.limit = 1;
  o.name = NULL; /* named after its address */
  assert_int_equal(weft_lane_create(tp, &o, &l), 0);
  assert_non_null(weft_lane_name(l));
  assert_null(weft_lane_name(NULL));
  assert_int_equal(weft_lane_call_in_thread(NULL, noop, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_call_in_thread(l, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_call_in_thread_with_callback(NULL, NULL, NULL, succeed, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_call_in_thread_with_callback(l, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  weft_lane_stats s;
  assert_int_equal(weft_lane_stats_get(NULL, &s), WEFT_EINVAL);
  assert_int_equal(weft_lane_stats_get(l, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_close(NULL), WEFT_EINVAL);
  /* closed: refused, stats still answer, a second close says so */
  assert_int_equal(weft_lane_close(l), 0);
  assert_int_equal(weft_lane_close(l), WEFT_EQUIT);
  assert_int_equal(weft_lane_call_in_thread(l, noop, NULL), WEFT_EQUIT);
  assert_int_equal(weft_lane_call_in_thread_with_callback(l, NULL, NULL, succeed, NULL), WEFT_EQUIT);
  assert_int_equal(weft_lane_stats_get(l, &s), 0);
  assert_int_equal(s.submitted, 0);
  /* a lane on a stopped pool: refused; no new lane on it */
  weft_lane *open_lane = lane_of(tp, "open", 2);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_lane_call_in_thread(open_lane, noop, NULL), WEFT_EQUIT);
  assert_int_equal(weft_lane_create(tp, &o, &l), WEFT_EQUIT);
  assert_null(l);
  assert_int_equal(weft_threadpool_destroy(tp), 0); /* frees both lanes */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lane_never_exceeds_its_limit),
      cmocka_unit_test(lane_limit_holds_after_a_release_at_the_limit),
      cmocka_unit_test(lane_hand_off_to_own_ring_wakes_a_parked_worker),
      cmocka_unit_test(other_lanes_run_while_one_is_saturated),
      cmocka_unit_test(lane_is_fifo),
      cmocka_unit_test(stop_runs_what_waits_in_a_lane),
      cmocka_unit_test(blocked_task_counts_against_its_lane),
      cmocka_unit_test(waiting_tasks_are_cancelled_at_stop),
      cmocka_unit_test(stop_timeout_reports_lane_cancels),
      cmocka_unit_test(lane_submit_unseen_by_stop_timeout_is_cancelled),
      cmocka_unit_test(destroy_from_a_late_submits_cancel_is_refused),
      cmocka_unit_test(destroy_cancels_backlog_and_lane),
      cmocka_unit_test(stats_exact_at_quiescence),
      cmocka_unit_test(lane_task_submits_to_its_lane),
      cmocka_unit_test(tasks_keep_their_submitters_context),
      cmocka_unit_test(refused_waiting_task_cancelled_in_its_own_context),
      cmocka_unit_test(lane_task_waiting_for_its_successor),
      cmocka_unit_test(lane_misuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
