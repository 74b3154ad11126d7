/*
 * The misuse table (docs/misuse.md): every public entry-point family called
 * with bad input or in the wrong state returns its documented error code and
 * never crashes. Public API only (weft/weft.h).
 *
 * Cases that need a thread to call back into the pool synchronise with a
 * latch (mutex + condition variable), never with sleeps.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "weft/weft.h"

/* ------------------------------------------------------------- helpers */

#include "test_sync.h"

static void noop(void *arg) { (void)arg; }
static void noop_work(weft_work *req) { (void)req; }
static void noop_io(void *ctx, int fd, int events) {
  (void)ctx;
  (void)fd;
  (void)events;
}
static int call_ok(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return 0;
}
/* Counts the pool log hook's WEFT_ECANCELED reports (an owner-less task
 * cancelled); every pool of these tests logs here, quietly. */
static int g_logged_cancels;
static void quiet_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) g_logged_cancels++;
}

static weft_threadpool *new_pool(int min, int max) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = min;
  o.max_threads = max;
  o.name = "misuse";
  o.log = quiet_log;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_non_null(tp);
  return tp;
}

/* ------------------------------------------------------- ThreadPool: args */

static void pool_create_null_out(void **s) {
  (void)s;
  assert_int_equal(weft_threadpool_create(NULL, 1, 2, "x"), WEFT_EINVAL);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  assert_int_equal(weft_threadpool_create_ex(NULL, &o), WEFT_EINVAL);
}

static void pool_create_null_options(void **s) {
  (void)s;
  weft_threadpool *tp = (weft_threadpool *)(uintptr_t)1;
  assert_int_equal(weft_threadpool_create_ex(&tp, NULL), WEFT_EINVAL);
}

static void pool_create_negative_min(void **s) {
  (void)s;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create(&tp, -1, 4, "x"), WEFT_EINVAL);
  assert_null(tp);
}

static void pool_create_min_gt_max(void **s) {
  (void)s;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create(&tp, 5, 2, "x"), WEFT_EINVAL);
  assert_null(tp);
}

/* A negative valve is a negative size (weft/common.h, WEFT_EINVAL): it was
 * taken for 0 ("derived") without a word, so a valve computed with an
 * overflow silently became the memory-derived one. */
static void pool_create_negative_valve(void **s) {
  (void)s;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.hard_threads = -1;
  weft_threadpool *tp = (weft_threadpool *)(uintptr_t)1;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), WEFT_EINVAL);
  assert_null(tp);
  /* The reactor's pool options are checked when they are given. */
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_reactor_thread_pool_options_init(&o);
  o.hard_threads = -1;
  assert_int_equal(weft_reactor_set_thread_pool_options(r, &o), WEFT_EINVAL);
  o.hard_threads = 0;
  assert_int_equal(weft_reactor_set_thread_pool_options(r, &o), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

static void ignore_line(void *ctx, const char *line) {
  (void)ctx;
  (void)line;
}

static void pool_null_handle_everywhere(void **s) {
  (void)s;
  weft_work req;
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_start(NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_stop(NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_destroy(NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_call_in_thread(NULL, noop, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(NULL, NULL, NULL, call_ok, NULL),
                   WEFT_EINVAL);
  assert_int_equal(weft_threadpool_queue_work(NULL, &req, noop_work, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_adjust_poolsize(NULL, 1, 2), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_start_a_worker(NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_stop_a_worker(NULL), WEFT_EINVAL);
  assert_true(weft_threadpool_min(NULL) < 0);
  assert_true(weft_threadpool_max(NULL) < 0);
  assert_true(weft_threadpool_workers(NULL) < 0);
  assert_true(weft_threadpool_working(NULL) < 0);
  assert_true(weft_threadpool_waiters(NULL) < 0);
  assert_true(weft_threadpool_queue_size(NULL) < 0);
  assert_true(weft_threadpool_started(NULL) < 0);
  assert_true(weft_threadpool_joined(NULL) < 0);
  assert_true(weft_threadpool_threads_created(NULL) < 0);
  assert_int_equal(weft_threadpool_counters_get(NULL, &c), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_dump_stats(NULL, stderr), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_dump_stats_log(NULL, ignore_line, NULL), WEFT_EINVAL);
  weft_worker_stats ws[1];
  size_t nws = 7;
  assert_int_equal(weft_threadpool_worker_stats(NULL, ws, 1, &nws), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_in_pool_thread(NULL), 0);
}

static void pool_null_function(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(0, 1);
  weft_work req;
  assert_int_equal(weft_threadpool_call_in_thread(tp, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, NULL, NULL, NULL, NULL),
                   WEFT_EINVAL);
  assert_int_equal(weft_threadpool_queue_work(tp, NULL, noop_work, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_queue_work(tp, &req, NULL, NULL), WEFT_EINVAL);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_dump_stats(tp, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_dump_stats_log(tp, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(c.submitted, 0); /* nothing was accepted */
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

static void pool_adjust_min_gt_max_changes_nothing(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(1, 3);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 4, 2), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 5, WEFT_KEEP), WEFT_EINVAL); /* 5 > 3 */
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, WEFT_KEEP, 0), WEFT_EINVAL); /* 1 > 0 */
  assert_int_equal(weft_threadpool_min(tp), 1);
  assert_int_equal(weft_threadpool_max(tp), 3);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

static void pool_adjust_negative(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(1, 3);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, -5, 3), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 0, -7), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_min(tp), 1);
  assert_int_equal(weft_threadpool_max(tp), 3);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* ------------------------------------------------------ ThreadPool: state */

static void pool_submit_after_stop(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(0, 2);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_work req;
  assert_int_equal(weft_threadpool_call_in_thread(tp, noop, NULL), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, NULL, NULL, call_ok, NULL),
                   WEFT_EQUIT);
  assert_int_equal(weft_threadpool_queue_work(tp, &req, noop_work, NULL), WEFT_EQUIT);
  /* Nothing queued or counted: the refused tasks are the caller's. */
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(c.submitted, c.executed + c.cancelled);
  assert_int_equal(c.submitted, 0);
  assert_int_equal(weft_threadpool_queue_size(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* Rows 64-68: lanes (weft/lane.h). */
static void lane_misuse(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(0, 2);
  weft_lane_options o;
  weft_lane_options_init(&o);
  weft_lane *l = (weft_lane *)&o;
  assert_int_equal(weft_lane_create(NULL, &o, &l), WEFT_EINVAL);
  assert_null(l);
  assert_int_equal(weft_lane_create(tp, NULL, &l), WEFT_EINVAL);
  assert_int_equal(weft_lane_create(tp, &o, NULL), WEFT_EINVAL);
  o.limit = 0;
  assert_int_equal(weft_lane_create(tp, &o, &l), WEFT_EINVAL);
  assert_null(l);
  o.limit = 2;
  assert_int_equal(weft_lane_create(tp, &o, &l), 0);
  weft_lane_stats st;
  assert_int_equal(weft_lane_call_in_thread(NULL, noop, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_call_in_thread(l, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_call_in_thread_with_callback(NULL, NULL, NULL, call_ok, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_call_in_thread_with_callback(l, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_stats_get(NULL, &st), WEFT_EINVAL);
  assert_int_equal(weft_lane_stats_get(l, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lane_close(NULL), WEFT_EINVAL);
  assert_null(weft_lane_name(NULL));
  weft_lane *closed;
  assert_int_equal(weft_lane_create(tp, &o, &closed), 0);
  assert_int_equal(weft_lane_close(closed), 0);
  assert_int_equal(weft_lane_close(closed), WEFT_EQUIT);
  assert_int_equal(weft_lane_call_in_thread(closed, noop, NULL), WEFT_EQUIT);
  assert_int_equal(weft_lane_stats_get(closed, &st), 0);
  assert_int_equal(st.submitted, 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_lane_call_in_thread(l, noop, NULL), WEFT_EQUIT);
  assert_int_equal(weft_lane_call_in_thread_with_callback(l, NULL, NULL, call_ok, NULL), WEFT_EQUIT);
  assert_int_equal(weft_lane_stats_get(l, &st), 0);
  assert_int_equal(st.submitted, 0);
  assert_int_equal(weft_lane_create(tp, &o, &l), WEFT_EQUIT);
  assert_null(l);
  assert_int_equal(weft_threadpool_destroy(tp), 0); /* frees both lanes */
}

static void pool_stop_twice(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(1, 2);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

static void pool_start_after_stop(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(1, 2);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_start(tp), 0); /* idempotent while running */
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_start(tp), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

static void pool_stop_never_started(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(1, 2);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, noop, NULL), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

typedef struct inner_call {
  weft_threadpool *tp;
  int stop_rc, destroy_rc, in_pool;
  latch done;
} inner_call;

static void stop_and_destroy_from_inside(void *arg) {
  inner_call *ic = arg;
  ic->in_pool = weft_threadpool_in_pool_thread(ic->tp);
  ic->stop_rc = weft_threadpool_stop(ic->tp);
  ic->destroy_rc = weft_threadpool_destroy(ic->tp);
  latch_count_down(&ic->done);
}

static void pool_stop_destroy_from_worker(void **s) {
  (void)s;
  inner_call ic = {.tp = new_pool(1, 2)};
  latch_init(&ic.done, 1);
  assert_int_equal(weft_threadpool_start(ic.tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread(ic.tp, stop_and_destroy_from_inside, &ic), 0);
  latch_wait(&ic.done);
  assert_int_equal(ic.in_pool, 1);
  assert_int_equal(ic.stop_rc, WEFT_EDEADLK);
  assert_int_equal(ic.destroy_rc, WEFT_EDEADLK);
  assert_int_equal(weft_threadpool_in_pool_thread(ic.tp), 0);
  assert_int_equal(weft_threadpool_stop(ic.tp), 0); /* the pool still works */
  assert_int_equal(weft_threadpool_destroy(ic.tp), 0);
  latch_destroy(&ic.done);
}

static int g_after_status[4];
static int g_after_calls;
static int g_result_status[4];
static int g_result_calls;
static void after_record(weft_work *req, int status) {
  g_after_status[(intptr_t)req->data] = status;
  g_after_calls++;
}
static void on_result_record(void *ctx, int status, void *result) {
  (void)result;
  g_result_status[(intptr_t)ctx] = status;
  g_result_calls++;
}

static void pool_destroy_with_queued_work(void **s) {
  (void)s;
  weft_threadpool *tp = new_pool(0, 2); /* never started: the work stays queued */
  weft_work req[2];
  g_after_calls = g_result_calls = 0;
  g_logged_cancels = 0;
  for (int i = 0; i < 2; i++) {
    req[i].data = (void *)(intptr_t)i;
    assert_int_equal(weft_threadpool_queue_work(tp, &req[i], noop_work, after_record), 0);
    assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, on_result_record,
                                                                  (void *)(intptr_t)i, call_ok,
                                                                  NULL),
                     0);
  }
  assert_int_equal(weft_threadpool_call_in_thread(tp, noop, NULL), 0); /* no owner: logged */
  assert_int_equal(weft_threadpool_queue_size(tp), 5);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(g_logged_cancels, 1); /* the owner-less call_in_thread task, once */
  assert_int_equal(g_after_calls, 2);
  assert_int_equal(g_result_calls, 2);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(g_after_status[i], WEFT_ECANCELED);
    assert_int_equal(g_result_status[i], WEFT_ECANCELED);
  }
}

/* A cancel callback that destroys the pool whose stop or destroy runs it:
 * WEFT_EDEADLK, and the outer call frees the pool (it hung before, spinning
 * on the inject queue's consumer lock that the outer stop held). */
static weft_threadpool *g_reentrant_tp;
static int g_reentrant_rc[2], g_reentrant_n;
static void after_destroys_pool(weft_work *req, int status) {
  (void)req;
  (void)status;
  if (g_reentrant_n < 2) g_reentrant_rc[g_reentrant_n++] = weft_threadpool_destroy(g_reentrant_tp);
}

static void pool_destroy_from_cancel_callback(void **s) {
  (void)s;
  g_reentrant_tp = new_pool(0, 2); /* never started: the work stays queued */
  g_reentrant_n = 0;
  weft_work req[2];
  for (int i = 0; i < 2; i++)
    assert_int_equal(weft_threadpool_queue_work(g_reentrant_tp, &req[i], noop_work, after_destroys_pool), 0);
  assert_int_equal(weft_threadpool_destroy(g_reentrant_tp), 0);
  assert_int_equal(g_reentrant_n, 2);
  assert_int_equal(g_reentrant_rc[0], WEFT_EDEADLK);
  assert_int_equal(g_reentrant_rc[1], WEFT_EDEADLK);
}

/* The same one level down: a callback of A's stop stops B, and one of B's
 * callbacks destroys A, which is still stopping further up this thread
 * (WEFT_EDEADLK; it hung before, on A's inject queue lock, when only the
 * innermost stopping pool was remembered). */
static weft_threadpool *g_nest_a, *g_nest_b;
static int g_nest_stop_b_rc = 99, g_nest_destroy_a_rc = 99;
static void after_stops_b(weft_work *req, int status) {
  (void)req;
  (void)status;
  g_nest_stop_b_rc = weft_threadpool_stop(g_nest_b);
}
static void after_destroys_a(weft_work *req, int status) {
  (void)req;
  (void)status;
  g_nest_destroy_a_rc = weft_threadpool_destroy(g_nest_a);
}

static void pool_destroy_from_a_nested_stops_callback(void **s) {
  (void)s;
  g_nest_a = new_pool(0, 1); /* never started: the work stays queued */
  g_nest_b = new_pool(0, 1);
  weft_work ra, rb;
  assert_int_equal(weft_threadpool_queue_work(g_nest_a, &ra, noop_work, after_stops_b), 0);
  assert_int_equal(weft_threadpool_queue_work(g_nest_b, &rb, noop_work, after_destroys_a), 0);
  assert_int_equal(weft_threadpool_stop(g_nest_a), 0);
  assert_int_equal(g_nest_stop_b_rc, 0);
  assert_int_equal(g_nest_destroy_a_rc, WEFT_EDEADLK);
  assert_int_equal(weft_threadpool_destroy(g_nest_b), 0);
  assert_int_equal(weft_threadpool_destroy(g_nest_a), 0);
}

/* The reactor's pool stopped through its handle; the on_result of a task
 * that stop cancels fires "shutdown" by hand. The reactor's pool stop
 * trigger then destroys the pool from inside that pool's own stop
 * (WEFT_EDEADLK, nothing freed): the reactor keeps the pool and frees it
 * later (here in destroy). It dropped its only reference before, and the
 * pool was never freed (no_object_alive said WEFT_EBUSY). */
static weft_reactor *g_fire_r;
static int g_fire_rc = 99;
static void on_result_fires_shutdown(void *ctx, int status, void *result) {
  (void)ctx;
  (void)result;
  if (status == WEFT_ECANCELED) g_fire_rc = weft_reactor_fire_system_event(g_fire_r, WEFT_SHUTDOWN);
}

static void reactor_pool_kept_when_shutdown_fired_from_its_stop(void **s) {
  (void)s;
  assert_int_equal(weft_reactor_create(&g_fire_r), 0);
  weft_threadpool *tp;
  /* The reactor never ran: its pool has no thread, so its stop cancels. */
  assert_int_equal(weft_reactor_get_thread_pool(g_fire_r, &tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, on_result_fires_shutdown, NULL,
                                                                call_ok, NULL),
                   0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(g_fire_rc, 0);
  assert_int_equal(weft_reactor_destroy(g_fire_r), 0); /* frees the pool it kept */
}

/* The same, nested: inside the callback of that first stop (the pool kept),
 * a second pool of the reactor is stopped through its handle and a callback
 * of its stop fires "shutdown" again. The trigger's destroy of the second
 * pool is refused as well, and the first one cannot be released yet (its
 * stop is still under way below): the reactor kept only one pool and
 * dropped the second, which was never freed (no_object_alive said
 * WEFT_EBUSY; LeakSanitizer reported its memory). */
static int g_nested_fire_rc = 99, g_nested_stop_rc = 99;
static void on_result_fires_shutdown_again(void *ctx, int status, void *result) {
  (void)ctx;
  (void)result;
  if (status == WEFT_ECANCELED)
    g_nested_fire_rc = weft_reactor_fire_system_event(g_fire_r, WEFT_SHUTDOWN);
}
static void on_result_fires_shutdown_then_nests(void *ctx, int status, void *result) {
  (void)ctx;
  (void)result;
  if (status != WEFT_ECANCELED) return;
  g_fire_rc = weft_reactor_fire_system_event(g_fire_r, WEFT_SHUTDOWN); /* keeps the first */
  weft_threadpool *tp2;
  /* A manual firing leaves the reactor usable: a fresh pool (Twisted). */
  if (weft_reactor_get_thread_pool(g_fire_r, &tp2) != 0) return;
  if (weft_threadpool_call_in_thread_with_callback(tp2, on_result_fires_shutdown_again, NULL,
                                                   call_ok, NULL) != 0)
    return;
  g_nested_stop_rc = weft_threadpool_stop(tp2);
}

static void reactor_pools_kept_when_shutdown_fired_from_nested_stops(void **s) {
  (void)s;
  assert_int_equal(weft_reactor_create(&g_fire_r), 0);
  weft_threadpool *tp;
  assert_int_equal(weft_reactor_get_thread_pool(g_fire_r, &tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(
                       tp, on_result_fires_shutdown_then_nests, NULL, call_ok, NULL),
                   0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(g_fire_rc, 0);
  assert_int_equal(g_nested_stop_rc, 0);
  assert_int_equal(g_nested_fire_rc, 0);
  assert_int_equal(weft_reactor_destroy(g_fire_r), 0); /* frees both pools it kept */
}

/* weft_reactor_destroy from a callback of its own pool's stop (the pool
 * stopped through its handle on a reactor that never ran, so the stop
 * cancels what is queued). destroy fired "shutdown", whose trigger's
 * destroy of the pool was refused (inside that pool's stop: kept), and then
 * freed the reactor all the same: the stop went on cancelling the pool's
 * next task, a weft_reactor_queue_work request, whose completion was pushed
 * into the freed reactor (ASan: heap-use-after-free), and the kept pool was
 * never freed. destroy answers WEFT_EBUSY while a pool of the reactor
 * cannot be released (the reactor stays, stopped); one after that stop
 * returned frees both, and the request's after_cb runs there. */
static int g_destroy_in_stop_rc = 99, g_rq_calls, g_rq_status = 99;
static void on_result_destroys_reactor(void *ctx, int status, void *result) {
  (void)ctx;
  (void)result;
  if (status == WEFT_ECANCELED) g_destroy_in_stop_rc = weft_reactor_destroy(g_fire_r);
}
static void noop_reactor_work(weft_reactor_work *req) { (void)req; }
static void count_reactor_after(weft_reactor_work *req, int status) {
  (void)req;
  g_rq_calls++;
  g_rq_status = status;
}

static void reactor_destroy_from_its_pools_stop(void **s) {
  (void)s;
  assert_int_equal(weft_reactor_create(&g_fire_r), 0);
  weft_threadpool *tp;
  assert_int_equal(weft_reactor_get_thread_pool(g_fire_r, &tp), 0);
  /* Cancelled in the order queued: the destroy first, then the request. */
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, on_result_destroys_reactor,
                                                                NULL, call_ok, NULL),
                   0);
  weft_reactor_work req = {0};
  assert_int_equal(weft_reactor_queue_work(g_fire_r, &req, noop_reactor_work, count_reactor_after),
                   0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(g_destroy_in_stop_rc, WEFT_EBUSY);
  assert_int_equal(g_rq_calls, 0); /* its completion waits in the reactor's queue */
  assert_int_equal(weft_reactor_destroy(g_fire_r), 0); /* frees the pool, runs the completion */
  assert_int_equal(g_rq_calls, 1);
  assert_int_equal(g_rq_status, WEFT_ECANCELED);
}

/* The log hook hears of a failed thread creation in start; it may call
 * what takes the pool's mutex (a lane's creation here): start reports after
 * releasing it (the hook ran under it and waited for ever). */
static weft_threadpool *g_log_tp;
static int g_log_lane_rc = 99, g_log_calls;
static int failing_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                           const char *name) {
  (void)ctx, (void)t, (void)start, (void)arg, (void)name;
  return WEFT_EAGAIN;
}
static void log_creates_lane(void *ctx, int err, const char *what) {
  (void)ctx, (void)err, (void)what;
  if (g_log_calls++ > 0) return;
  weft_lane_options lo;
  weft_lane_options_init(&lo);
  lo.name = "from-log";
  weft_lane *l;
  g_log_lane_rc = weft_lane_create(g_log_tp, &lo, &l);
}

static void pool_log_hook_creates_lane(void **s) {
  (void)s;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 2;
  o.thread_factory = failing_factory;
  o.log = log_creates_lane;
  g_log_calls = 0;
  assert_int_equal(weft_threadpool_create_ex(&g_log_tp, &o), 0);
  assert_int_equal(weft_threadpool_start(g_log_tp), WEFT_EAGAIN); /* no thread at all */
  assert_true(g_log_calls >= 1);
  assert_int_equal(g_log_lane_rc, 0);
  assert_int_equal(weft_threadpool_destroy(g_log_tp), 0);
}

/* ------------------------------------------------------- workers and teams */

static void worker_null_args(void **s) {
  (void)s;
  weft_worker w;
  weft_worker_ops ops = {0};
  assert_int_equal(weft_worker_init(NULL, &ops), WEFT_EINVAL);
  assert_int_equal(weft_worker_init(&w, NULL), WEFT_EINVAL);
  assert_int_equal(weft_worker_init(&w, &ops), WEFT_EINVAL); /* do_work, quit NULL */
  assert_int_equal(weft_worker_do(NULL, noop, NULL), WEFT_EINVAL);
  assert_int_equal(weft_worker_quit(NULL), WEFT_EINVAL);
  weft_worker_release(NULL); /* ignored */
  assert_int_equal(weft_thread_worker_create(NULL, NULL, NULL, "x"), WEFT_EINVAL);
  assert_int_equal(weft_lock_worker_create(NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_coordinator_create(NULL), WEFT_EINVAL);
  assert_int_equal(weft_memory_worker_create(NULL), WEFT_EINVAL);
}

static void worker_null_function(void **s) {
  (void)s;
  weft_worker *w = NULL;
  assert_int_equal(weft_coordinator_create(&w), 0);
  assert_int_equal(weft_worker_do(w, NULL, NULL), WEFT_EINVAL);
  weft_worker_release(w);
}

static void check_quit_twice(weft_worker *w) {
  assert_int_equal(weft_worker_is_quit(w), 0);
  assert_int_equal(weft_worker_quit(w), 0);
  assert_int_equal(weft_worker_is_quit(w), 1);
  assert_int_equal(weft_worker_quit(w), WEFT_EQUIT);
  assert_int_equal(weft_worker_do(w, noop, NULL), WEFT_EQUIT);
  weft_worker_release(w);
}

/* A thread factory whose threads count a latch down after their start
 * routine returned: the test then knows the worker's thread is gone (a
 * released ThreadWorker is freed by its exiting thread). */
typedef struct tramp {
  void *(*start)(void *);
  void *arg;
  latch *exited;
} tramp;

static void *tramp_main(void *p) {
  tramp t = *(tramp *)p;
  free(p);
  void *r = t.start(t.arg);
  latch_count_down(t.exited);
  return r;
}

static int tracking_factory(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                            const char *name) {
  (void)name;
  tramp *t = malloc(sizeof *t);
  if (!t) return WEFT_ENOMEM;
  *t = (tramp){start, arg, ctx};
  if (pthread_create(thread, NULL, tramp_main, t) != 0) {
    free(t);
    return WEFT_EAGAIN;
  }
  return 0;
}

static void thread_worker_quit_twice(void **s) {
  (void)s;
  latch exited;
  latch_init(&exited, 1);
  weft_worker *w = NULL;
  assert_int_equal(weft_thread_worker_create(&w, tracking_factory, &exited, "misuse-tw"), 0);
  check_quit_twice(w);
  latch_wait(&exited);
  latch_destroy(&exited);
}

static void lock_worker_quit_twice(void **s) {
  (void)s;
  weft_worker *w = NULL;
  assert_int_equal(weft_lock_worker_create(&w, NULL, NULL), 0);
  check_quit_twice(w);
}

static void coordinator_quit_twice(void **s) {
  (void)s;
  weft_worker *w = NULL;
  assert_int_equal(weft_coordinator_create(&w), 0);
  check_quit_twice(w);
}

static void memory_worker_quit_twice_and_perform(void **s) {
  (void)s;
  weft_worker *w = NULL;
  assert_int_equal(weft_memory_worker_create(&w), 0);
  assert_int_equal(weft_memory_worker_perform(w), 0); /* nothing queued */
  assert_int_equal(weft_memory_worker_perform(NULL), WEFT_EINVAL);
  assert_int_equal(weft_worker_quit(w), 0);
  assert_int_equal(weft_worker_quit(w), WEFT_EQUIT);
  assert_int_equal(weft_worker_do(w, noop, NULL), WEFT_EQUIT);
  assert_int_equal(weft_memory_worker_perform(w), 0);
  weft_worker_release(w);
}

static weft_worker *make_memory_worker(void *ctx) {
  (void)ctx;
  weft_worker *w = NULL;
  return weft_memory_worker_create(&w) == 0 ? w : NULL;
}

static void team_null_args(void **s) {
  (void)s;
  weft_team *t = NULL;
  weft_team_statistics st;
  assert_int_equal(weft_team_create(NULL, NULL, make_memory_worker, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_create(&t, NULL, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_do(NULL, noop, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_grow(NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_team_shrink(NULL, 1), WEFT_EINVAL);
  assert_int_equal(weft_team_quit(NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_statistics_get(NULL, &st), WEFT_EINVAL);
  assert_int_equal(weft_team_destroy(NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_create(&t, NULL, make_memory_worker, NULL, NULL, NULL), 0);
  assert_int_equal(weft_team_do(t, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_statistics_get(t, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_grow(t, -1), WEFT_EINVAL);
  assert_int_equal(weft_team_destroy(t), 0);
}

static void team_quit_twice(void **s) {
  (void)s;
  weft_team *t = NULL;
  assert_int_equal(weft_team_create(&t, NULL, make_memory_worker, NULL, NULL, NULL), 0);
  assert_int_equal(weft_team_quit(t), 0);
  assert_int_equal(weft_team_quit(t), WEFT_EQUIT);
  assert_int_equal(weft_team_do(t, noop, NULL), WEFT_EQUIT);
  assert_int_equal(weft_team_grow(t, 1), WEFT_EQUIT);
  assert_int_equal(weft_team_destroy(t), 0);
}

static int g_team_cancel_logged;
static void team_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) g_team_cancel_logged++;
}
static weft_worker *no_worker(void *ctx) {
  (void)ctx;
  return NULL;
}

static void team_destroy_with_backlog(void **s) {
  (void)s;
  weft_team *t = NULL;
  g_team_cancel_logged = 0;
  assert_int_equal(weft_team_create(&t, NULL, no_worker, NULL, team_log, NULL), 0);
  assert_int_equal(weft_team_do(t, noop, NULL), 0); /* backlogged: no worker can exist */
  assert_int_equal(weft_team_do(t, noop, NULL), 0);
  assert_int_equal(weft_team_destroy(t), 0);
  assert_int_equal(g_team_cancel_logged, 2); /* each dropped task reported */
}

/* log_fn, told of a backlogged task that destroy cancels, destroys the team
 * again: WEFT_EBUSY, and the outer destroy goes on (it freed the team under
 * the outer call before). */
static weft_team *g_reentrant_team;
static int g_team_reentrant_rc, g_team_reentrant_logs;
static void team_log_destroys(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err != WEFT_ECANCELED) return;
  if (g_team_reentrant_logs++ == 0) g_team_reentrant_rc = weft_team_destroy(g_reentrant_team);
}

static void team_destroy_from_log_fn(void **s) {
  (void)s;
  g_team_reentrant_logs = 0;
  g_team_reentrant_rc = 1;
  assert_int_equal(weft_team_create(&g_reentrant_team, NULL, no_worker, NULL, team_log_destroys, NULL), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(weft_team_do(g_reentrant_team, noop, NULL), 0);
  assert_int_equal(weft_team_destroy(g_reentrant_team), 0);
  assert_int_equal(g_team_reentrant_rc, WEFT_EBUSY);
  assert_int_equal(g_team_reentrant_logs, 3); /* every backlogged task, once */
}

/* The same for a weft_pool() team, whose destroy has no log_fn but calls
 * user code all the same: a context's release hook, for each backlogged task
 * it cancels (weft/context.h). Destroying the team from there stopped its
 * engine again inside the outer stop's cancel loop: the inner stop waited
 * for ever for the push the outer loop had just popped (and, had it
 * returned, would have freed the team under the outer call). Now
 * WEFT_EBUSY, and the outer destroy goes on. A limit of 0: no thread ever
 * exists, so destroy has the whole backlog to cancel. The alarm only turns
 * the old hang into a failure instead of the ctest timeout. */
static weft_team *g_ctx_team;
static int g_ctx_team_rc, g_ctx_team_releases;
static int g_limit_zero(void *ctx) {
  (void)ctx;
  return 0;
}
static void ctx_team_retain(void *ctx) { (void)ctx; }
static void ctx_team_release(void *ctx) {
  (void)ctx;
  if (g_ctx_team_releases++ == 0) g_ctx_team_rc = weft_team_destroy(g_ctx_team);
}

static void pool_team_destroy_from_context_release(void **s) {
  (void)s;
  static const weft_context_hooks hooks = {ctx_team_retain, ctx_team_release, NULL, NULL};
  static int ctx;
  g_ctx_team_releases = 0;
  g_ctx_team_rc = 1;
  assert_int_equal(weft_context_set_hooks(&hooks), 0);
  assert_int_equal(weft_pool(&g_ctx_team, g_limit_zero, NULL, NULL, NULL, "ctx"), 0);
  void *prev = weft_context_set(&ctx);
  for (int i = 0; i < 3; i++) assert_int_equal(weft_team_do(g_ctx_team, noop, NULL), 0);
  weft_context_set(prev);
  alarm(60);
  assert_int_equal(weft_team_destroy(g_ctx_team), 0);
  alarm(0);
  assert_int_equal(weft_context_set_hooks(NULL), 0);
  assert_int_equal(g_ctx_team_rc, WEFT_EBUSY);
  assert_int_equal(g_ctx_team_releases, 3); /* every backlogged task, once */
}

static int g_limit_four(void *ctx) {
  (void)ctx;
  return 4;
}

static void pool_team_null_args(void **s) {
  (void)s;
  /* A stale value in *out: a failed create clears it (weft/common.h). */
  weft_team *t = (weft_team *)&t;
  assert_int_equal(weft_pool(NULL, g_limit_four, NULL, NULL, NULL, "x"), WEFT_EINVAL);
  assert_int_equal(weft_pool(&t, NULL, NULL, NULL, NULL, "x"), WEFT_EINVAL);
  assert_null(t);
  weft_threadpool *tp = (weft_threadpool *)&tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, NULL), WEFT_EINVAL);
  assert_null(tp);
}

/* ---------------------------------------------------------------- reactor */

static void reactor_null_args(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  weft_work req;
  weft_reactor_stats st;
  weft_threadpool *tp;
  assert_int_equal(weft_reactor_create(NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_run(NULL), WEFT_EINVAL);
  assert_true(weft_reactor_stop(NULL) < 0);
  assert_int_equal(weft_reactor_call_from_thread(NULL, noop, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_call_from_thread_req(NULL, &req, noop_work), WEFT_EINVAL);
  assert_int_equal(weft_reactor_stats_get(NULL, &st), WEFT_EINVAL);
  assert_int_equal(weft_reactor_get_thread_pool(NULL, &tp), WEFT_EINVAL);
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_call_from_thread(r, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_call_from_thread_req(r, NULL, noop_work), WEFT_EINVAL);
  assert_int_equal(weft_reactor_call_from_thread_req(r, &req, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_call_later(r, 1.0, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_add_trigger(r, WEFT_BEFORE, WEFT_SHUTDOWN, NULL, NULL, NULL),
                   WEFT_EINVAL);
  assert_int_equal(weft_reactor_call_in_thread(r, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_get_thread_pool(r, NULL), 0); /* NULL out: just create the pool */
  assert_int_equal(weft_reactor_stats_get(r, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

static void reactor_destroy_null_ignored(void **s) {
  (void)s;
  assert_int_equal(weft_reactor_destroy(NULL), 0); /* reactor.h: "NULL is ignored (returns 0)" */
}

static void reactor_stop_not_running(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_stop(r), WEFT_ESTATE);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

static void reactor_stale_ids(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_cancel_call(r, 12345), WEFT_EALREADY);
  assert_int_equal(weft_reactor_remove_trigger(r, 12345), WEFT_EALREADY);
  assert_int_equal(weft_reactor_remove_reader(r, 0), WEFT_EALREADY);
  assert_int_equal(weft_reactor_add_reader(r, -1, noop_io, NULL), WEFT_EINVAL);
  weft_timer_id id = 0;
  assert_int_equal(weft_reactor_call_later(r, 100.0, noop, NULL, &id), 0);
  assert_int_equal(weft_reactor_cancel_call(r, id), 0);
  assert_int_equal(weft_reactor_cancel_call(r, id), WEFT_EALREADY); /* cancelled twice */
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* weft/common.h: an output is cleared on every failure. A refused
 * call_later left *id holding what it held before (here the id of a timer
 * still pending): a caller that reuses the variable and later cancels "its"
 * timer took out the other one. */
static void reactor_call_later_failure_clears_id(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_timer_id pending = 0, id;
  assert_int_equal(weft_reactor_call_later(r, 100.0, noop, NULL, &pending), 0);
  id = pending;
  assert_int_equal(weft_reactor_call_later(r, NAN, noop, NULL, &id), WEFT_EINVAL);
  assert_true(id == 0);
  id = pending;
  assert_int_equal(weft_reactor_call_later(r, 1.0, NULL, NULL, &id), WEFT_EINVAL);
  assert_true(id == 0);
  id = pending;
  assert_int_equal(weft_reactor_call_later(NULL, 1.0, noop, NULL, &id), WEFT_EINVAL);
  assert_true(id == 0);
  assert_int_equal(weft_reactor_cancel_call(r, id), WEFT_EINVAL); /* 0 names no timer */
  assert_int_equal(weft_reactor_cancel_call(r, pending), 0);     /* still pending */
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* weft_reactor_add_trigger refused: *id is 0, not what it held (here a
 * live trigger's id, which a later remove would have taken out). */
static void reactor_add_trigger_failure_clears_id(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_trigger_id live = 0, id;
  assert_int_equal(weft_reactor_add_trigger(r, WEFT_DURING, WEFT_STARTUP, noop, NULL, &live), 0);
  assert_true(live != 0);
  id = live;
  assert_int_equal(weft_reactor_add_trigger(r, WEFT_DURING, WEFT_STARTUP, NULL, NULL, &id),
                   WEFT_EINVAL);
  assert_true(id == 0);
  id = live;
  assert_int_equal(weft_reactor_add_trigger(r, (weft_phase)7, WEFT_STARTUP, noop, NULL, &id),
                   WEFT_EINVAL);
  assert_true(id == 0);
  id = live;
  assert_int_equal(weft_reactor_add_trigger(NULL, WEFT_DURING, WEFT_STARTUP, noop, NULL, &id),
                   WEFT_EINVAL);
  assert_true(id == 0);
  assert_int_equal(weft_reactor_remove_trigger(r, id), WEFT_EINVAL); /* 0 names no trigger */
  assert_int_equal(weft_reactor_remove_trigger(r, live), 0);         /* still there */
  assert_int_equal(weft_reactor_destroy(r), 0);
}

typedef struct reactor_case {
  weft_reactor *r;
  int rc_blocking, rc_stop2, rc_run2;
  int late_ran;
} reactor_case;

static int blocking_target(void *ctx, weft_result *res) {
  (void)ctx;
  (void)res;
  return 0;
}

static void on_running(void *arg) {
  reactor_case *rc = arg;
  /* On the reactor thread itself: Twisted deadlocks here, weft refuses. */
  rc->rc_blocking = weft_blocking_call_from_thread(rc->r, blocking_target, NULL, NULL, NULL);
  rc->rc_run2 = weft_reactor_run(rc->r);
  assert_int_equal(weft_reactor_stop(rc->r), 0);
  rc->rc_stop2 = weft_reactor_stop(rc->r);
}

static void late_call(void *arg) { ((reactor_case *)arg)->late_ran++; }

typedef struct blocking_thread_arg {
  weft_reactor *r;
  int rc;
} blocking_thread_arg;

static void *blocking_from_other_thread(void *arg) {
  blocking_thread_arg *a = arg;
  a->rc = weft_blocking_call_from_thread(a->r, blocking_target, NULL, NULL, NULL);
  return NULL;
}

static void reactor_lifecycle_misuse(void **s) {
  (void)s;
  reactor_case rc = {0};
  assert_int_equal(weft_reactor_create(&rc.r), 0);
  assert_int_equal(weft_reactor_call_when_running(rc.r, on_running, &rc), 0);
  assert_int_equal(weft_reactor_run(rc.r), 0);
  assert_int_equal(rc.rc_blocking, WEFT_EDEADLK);
  assert_int_equal(rc.rc_run2, WEFT_ESTATE);   /* run while running */
  assert_int_equal(rc.rc_stop2, WEFT_ESTATE);  /* stop while stopping */
  assert_int_equal(weft_reactor_run(rc.r), WEFT_ESTATE); /* not restartable */
  assert_int_equal(weft_reactor_stop(rc.r), WEFT_ESTATE);
  /* blockingCallFromThread on a stopped reactor: Twisted hangs, weft says so. */
  blocking_thread_arg a = {.r = rc.r, .rc = 1};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, blocking_from_other_thread, &a), 0);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(a.rc, WEFT_ESHUTDOWN);
  /* callFromThread after stop is accepted and runs in destroy: never dropped. */
  assert_int_equal(weft_reactor_call_from_thread(rc.r, late_call, &rc), 0);
  weft_deferred *d = (weft_deferred *)(uintptr_t)1;
  assert_int_equal(weft_defer_to_thread(rc.r, call_ok, NULL, &d), WEFT_ESHUTDOWN);
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_reactor_get_thread_pool(rc.r, &tp), WEFT_ESHUTDOWN);
  assert_int_equal(weft_reactor_destroy(rc.r), 0);
  assert_int_equal(rc.late_ran, 1);
}

static void defer_to_thread_misuse(void **s) {
  (void)s;
  weft_reactor *r = NULL;
  weft_deferred *d = NULL;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_threadpool *tp = new_pool(0, 1);
  assert_int_equal(weft_defer_to_thread(NULL, call_ok, NULL, &d), WEFT_EINVAL);
  assert_int_equal(weft_defer_to_thread(r, NULL, NULL, &d), WEFT_EINVAL);
  assert_int_equal(weft_defer_to_thread(r, call_ok, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_defer_to_thread_pool(r, NULL, call_ok, NULL, &d), WEFT_EINVAL);
  assert_int_equal(weft_call_multiple_in_thread(r, NULL, 2), WEFT_EINVAL);
  assert_int_equal(weft_blocking_call_from_thread(NULL, blocking_target, NULL, NULL, NULL),
                   WEFT_EINVAL);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  d = (weft_deferred *)(uintptr_t)1;
  assert_int_equal(weft_defer_to_thread_pool(r, tp, call_ok, NULL, &d), WEFT_EQUIT);
  assert_null(d);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* --------------------------------------------------------------- Deferred */

static void deferred_fire_twice(void **s) {
  (void)s;
  weft_deferred *d = NULL;
  assert_int_equal(weft_deferred_create(&d), 0);
  assert_int_equal(weft_deferred_callback(d, NULL), 0);
  assert_int_equal(weft_deferred_callback(d, NULL), WEFT_EALREADY);
  assert_int_equal(weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, "x")), WEFT_EALREADY);
  weft_deferred_unref(d);
}

static void deferred_null_args(void **s) {
  (void)s;
  weft_deferred *d = NULL;
  assert_int_equal(weft_deferred_create(NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_add_callbacks(NULL, blocking_target, NULL, NULL, NULL),
                   WEFT_EINVAL);
  assert_int_equal(weft_deferred_callback(NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_cancel(NULL), WEFT_EINVAL);
  assert_int_equal(weft_failure_code(NULL), WEFT_EINVAL);
  weft_deferred_unref(NULL);
  weft_failure_unref(NULL);
  assert_int_equal(weft_deferred_create(&d), 0);
  assert_int_equal(weft_deferred_add_callbacks(d, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_result(d, NULL, NULL), WEFT_ESTATE); /* not fired */
  assert_int_equal(weft_result_set_deferred(NULL, d), WEFT_EINVAL);
  weft_deferred_unref(d);
}

/* ------------------------------------------------------------- process-wide */

static void allocator_misuse(void **s) {
  (void)s;
  assert_int_equal(weft_replace_allocator(malloc, NULL, NULL), WEFT_EINVAL); /* malloc w/o free */
  assert_int_equal(weft_replace_allocator(NULL, NULL, free), WEFT_EINVAL);
  /* calloc must change with free: a libc calloc's blocks freed by another free */
  assert_int_equal(weft_replace_allocator(malloc, NULL, free), WEFT_EINVAL);
  assert_int_equal(weft_replace_allocator(NULL, calloc, NULL), WEFT_EINVAL);
  weft_threadpool *tp = new_pool(0, 1);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), WEFT_EBUSY);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
}

static int misuse_retains, misuse_releases;
static void misuse_retain(void *c) {
  (void)c;
  misuse_retains++;
}
static void misuse_release(void *c) {
  (void)c;
  misuse_releases++;
}
static void misuse_enter(void *c) { (void)c; }
static void misuse_never(void *arg) { (void)arg; }
static void misuse_leave(void *c, void *prev) {
  (void)c;
  (void)prev;
}

/* Rows 62-63: a hooks table with half a pair is refused and the table in
 * effect stays; weft_context_call needs a function. */
static void context_misuse(void **s) {
  (void)s;
  static const weft_context_hooks good = {misuse_retain, misuse_release, NULL, NULL};
  static const weft_context_hooks no_release = {misuse_retain, NULL, misuse_enter, misuse_leave};
  static const weft_context_hooks no_leave = {misuse_retain, misuse_release, misuse_enter, NULL};
  static const weft_context_hooks no_enter = {NULL, NULL, NULL, misuse_leave};
  assert_int_equal(weft_context_set_hooks(&good), 0);
  assert_int_equal(weft_context_set_hooks(&no_release), WEFT_EINVAL);
  assert_int_equal(weft_context_set_hooks(&no_leave), WEFT_EINVAL);
  assert_int_equal(weft_context_set_hooks(&no_enter), WEFT_EINVAL);
  /* `good` is still in effect: a capture retains through it. */
  int ctx;
  misuse_retains = misuse_releases = 0;
  weft_worker *w;
  assert_int_equal(weft_memory_worker_create(&w), 0);
  weft_context_set(&ctx);
  assert_int_equal(weft_worker_do(w, misuse_never, NULL), 0); /* never performed */
  weft_context_set(NULL);
  weft_worker_release(w);
  assert_int_equal(misuse_retains, 1);
  assert_int_equal(misuse_releases, 1);
  assert_int_equal(weft_context_set_hooks(NULL), 0);
  assert_int_equal(weft_context_call(&ctx, NULL, NULL), WEFT_EINVAL);
  assert_null(weft_context_current());
}

static void strerror_unknown(void **s) {
  (void)s;
  assert_non_null(weft_strerror(-9999));
  assert_non_null(weft_strerror(12345));
  assert_non_null(weft_err_name(-9999));
  assert_string_equal(weft_err_name(WEFT_EQUIT), "WEFT_EQUIT");
}

/* After every case no weft object may be alive: weft_replace_allocator with
 * no function changes nothing and says WEFT_EBUSY while one is. */
static int no_object_alive(void **s) {
  (void)s;
  assert_int_equal(weft_replace_allocator(NULL, NULL, NULL), 0);
  return 0;
}

int main(int argc, char **argv) {
  if (argc > 1) cmocka_set_test_filter(argv[1]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(pool_create_null_out, no_object_alive),
      cmocka_unit_test_teardown(pool_create_null_options, no_object_alive),
      cmocka_unit_test_teardown(pool_create_negative_min, no_object_alive),
      cmocka_unit_test_teardown(pool_create_min_gt_max, no_object_alive),
      cmocka_unit_test_teardown(pool_create_negative_valve, no_object_alive),
      cmocka_unit_test_teardown(pool_null_handle_everywhere, no_object_alive),
      cmocka_unit_test_teardown(pool_null_function, no_object_alive),
      cmocka_unit_test_teardown(pool_adjust_min_gt_max_changes_nothing, no_object_alive),
      cmocka_unit_test_teardown(pool_adjust_negative, no_object_alive),
      cmocka_unit_test_teardown(pool_submit_after_stop, no_object_alive),
      cmocka_unit_test_teardown(lane_misuse, no_object_alive),
      cmocka_unit_test_teardown(pool_stop_twice, no_object_alive),
      cmocka_unit_test_teardown(pool_start_after_stop, no_object_alive),
      cmocka_unit_test_teardown(pool_stop_never_started, no_object_alive),
      cmocka_unit_test_teardown(pool_stop_destroy_from_worker, no_object_alive),
      cmocka_unit_test_teardown(pool_destroy_with_queued_work, no_object_alive),
      cmocka_unit_test_teardown(pool_destroy_from_cancel_callback, no_object_alive),
      cmocka_unit_test_teardown(pool_destroy_from_a_nested_stops_callback, no_object_alive),
      cmocka_unit_test_teardown(reactor_pool_kept_when_shutdown_fired_from_its_stop, no_object_alive),
      cmocka_unit_test_teardown(reactor_destroy_from_its_pools_stop, no_object_alive),
      cmocka_unit_test_teardown(reactor_pools_kept_when_shutdown_fired_from_nested_stops,
                                no_object_alive),
      cmocka_unit_test_teardown(pool_log_hook_creates_lane, no_object_alive),
      cmocka_unit_test_teardown(worker_null_args, no_object_alive),
      cmocka_unit_test_teardown(worker_null_function, no_object_alive),
      cmocka_unit_test_teardown(thread_worker_quit_twice, no_object_alive),
      cmocka_unit_test_teardown(lock_worker_quit_twice, no_object_alive),
      cmocka_unit_test_teardown(coordinator_quit_twice, no_object_alive),
      cmocka_unit_test_teardown(memory_worker_quit_twice_and_perform, no_object_alive),
      cmocka_unit_test_teardown(team_null_args, no_object_alive),
      cmocka_unit_test_teardown(team_quit_twice, no_object_alive),
      cmocka_unit_test_teardown(team_destroy_with_backlog, no_object_alive),
      cmocka_unit_test_teardown(team_destroy_from_log_fn, no_object_alive),
      cmocka_unit_test_teardown(pool_team_destroy_from_context_release, no_object_alive),
      cmocka_unit_test_teardown(pool_team_null_args, no_object_alive),
      cmocka_unit_test_teardown(reactor_null_args, no_object_alive),
      cmocka_unit_test_teardown(reactor_destroy_null_ignored, no_object_alive),
      cmocka_unit_test_teardown(reactor_stop_not_running, no_object_alive),
      cmocka_unit_test_teardown(reactor_stale_ids, no_object_alive),
      cmocka_unit_test_teardown(reactor_call_later_failure_clears_id, no_object_alive),
      cmocka_unit_test_teardown(reactor_add_trigger_failure_clears_id, no_object_alive),
      cmocka_unit_test_teardown(reactor_lifecycle_misuse, no_object_alive),
      cmocka_unit_test_teardown(defer_to_thread_misuse, no_object_alive),
      cmocka_unit_test_teardown(deferred_fire_twice, no_object_alive),
      cmocka_unit_test_teardown(deferred_null_args, no_object_alive),
      cmocka_unit_test_teardown(allocator_misuse, no_object_alive),
      cmocka_unit_test_teardown(context_misuse, no_object_alive),
      cmocka_unit_test_teardown(strerror_unknown, no_object_alive),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
