/*
 * call_later against Twisted's runUntilCurrent (twisted/internet/base.py),
 * with CLOCK_MONOTONIC held still (reactor_clock.cmake wraps
 * clock_gettime): every deadline taken while the clock is held is the same
 * number, as on a coarse clock, so the order below comes from the rules
 * alone, not from the nanoseconds between two calls.
 *   - a call made by a call from a thread joins the timer pass that follows
 *     in the same iteration (Twisted inserts new calls at the start of the
 *     timer phase); one made by a timer waits for the next pass, even when
 *     it is due at once (Twisted's _newTimedCalls);
 *   - calls with the same deadline run in the order they were made (in
 *     Twisted, whose heap compares the deadline alone, their order is the
 *     heap's: docs/twisted-mapping.md);
 *   - cancelling the call that is running answers WEFT_EALREADY
 *     (AlreadyCalled);
 *   - a stop from a timer lets the rest of the due timers of that pass run,
 *     then "shutdown" fires; a call the stopping timer made never runs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <cmocka.h>

#include "weft/reactor.h"

/* ------------------------------------------------------- the held clock */

int __real_clock_gettime(clockid_t id, struct timespec *ts);
static int held; /* the test's thread only: the reactor runs on it */
static struct timespec held_at;

int __wrap_clock_gettime(clockid_t id, struct timespec *ts) {
  if (held && id == CLOCK_MONOTONIC) {
    *ts = held_at;
    return 0;
  }
  return __real_clock_gettime(id, ts);
}

static void hold_clock(void) {
  __real_clock_gettime(CLOCK_MONOTONIC, &held_at);
  held = 1;
}

static void release_clock(void) { held = 0; }

/* ------------------------------------------------------------ the record */

#define MAX_EVENTS 64
typedef struct rec {
  weft_reactor *r;
  const char *name[MAX_EVENTS];
  uint64_t iteration[MAX_EVENTS];
  int n;
  weft_timer_id self; /* the id of the call that cancels itself */
} rec;

static rec g;

static uint64_t iteration(void) {
  weft_reactor_stats st;
  assert_int_equal(weft_reactor_stats_get(g.r, &st), 0);
  return st.iterations;
}

static void note(const char *name) {
  assert_true(g.n < MAX_EVENTS);
  g.name[g.n] = name;
  g.iteration[g.n++] = iteration();
}

static int index_of(const char *name) {
  for (int i = 0; i < g.n; i++)
    if (strcmp(g.name[i], name) == 0) return i;
  return -1;
}

static void stop_it(void *arg) {
  (void)arg;
  note("stop");
  assert_int_equal(weft_reactor_stop(g.r), 0);
}

/* ----------------------------------- calls made during and before a pass */

static void from_cft_timer(void *arg) { (void)arg; note("from-cft"); }

static void cft(void *arg) {
  (void)arg;
  note("cft");
  assert_int_equal(weft_reactor_call_later(g.r, 0, from_cft_timer, NULL, NULL), 0);
}

static void nested(void *arg) {
  (void)arg;
  note("nested");
  assert_int_equal(weft_reactor_stop(g.r), 0);
}

static void t1(void *arg) {
  (void)arg;
  note("t1");
  assert_int_equal(weft_reactor_call_later(g.r, 0, nested, NULL, NULL), 0);
  /* running: AlreadyCalled */
  assert_int_equal(weft_reactor_cancel_call(g.r, g.self), WEFT_EALREADY);
}

static void t2(void *arg) { (void)arg; note("t2"); }

static void a_call_made_by_a_timer_waits_for_the_next_pass(void **state) {
  (void)state;
  memset(&g, 0, sizeof g);
  assert_int_equal(weft_reactor_create(&g.r), 0);
  hold_clock();
  assert_int_equal(weft_reactor_call_from_thread(g.r, cft, NULL), 0);
  assert_int_equal(weft_reactor_call_later(g.r, 0, t1, NULL, &g.self), 0);
  assert_int_equal(weft_reactor_call_later(g.r, 0, t2, NULL, NULL), 0);
  assert_int_equal(weft_reactor_run(g.r), 0);
  release_clock();
  /* cft, then the pass: t1, t2 and the call cft made, all due and all in
   * one iteration; the call t1 made, as due as they are, in a later one */
  assert_int_equal(g.n, 5);
  const char *want[] = {"cft", "t1", "t2", "from-cft", "nested"};
  for (int i = 0; i < 5; i++) assert_string_equal(g.name[i], want[i]);
  for (int i = 1; i < 4; i++) assert_int_equal(g.iteration[i], g.iteration[0]);
  assert_true(g.iteration[4] > g.iteration[3]);
  assert_int_equal(weft_reactor_destroy(g.r), 0);
}

/* ---------------------------------------------------- the same deadline */

#define SAME 24
static const char *same_names[SAME] = {
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11",
    "12", "13", "14", "15", "16", "17", "18", "19", "20", "21", "22", "23"};

static void same(void *arg) { note(arg); }

static void same_deadline_calls_run_in_the_order_made(void **state) {
  (void)state;
  memset(&g, 0, sizeof g);
  assert_int_equal(weft_reactor_create(&g.r), 0);
  hold_clock();
  weft_timer_id ids[SAME];
  for (int i = 0; i < SAME; i++)
    assert_int_equal(weft_reactor_call_later(g.r, 0, same, (void *)same_names[i], &ids[i]), 0);
  /* holes in the heap: the others keep their order */
  assert_int_equal(weft_reactor_cancel_call(g.r, ids[3]), 0);
  assert_int_equal(weft_reactor_cancel_call(g.r, ids[10]), 0);
  assert_int_equal(weft_reactor_cancel_call(g.r, ids[0]), 0);
  assert_int_equal(weft_reactor_call_later(g.r, 0, stop_it, NULL, NULL), 0);
  assert_int_equal(weft_reactor_run(g.r), 0);
  release_clock();
  assert_int_equal(g.n, SAME - 3 + 1);
  int k = 0;
  for (int i = 0; i < SAME; i++) {
    if (i == 0 || i == 3 || i == 10) continue;
    assert_string_equal(g.name[k++], same_names[i]);
  }
  assert_string_equal(g.name[k], "stop");
  assert_int_equal(weft_reactor_destroy(g.r), 0);
}

/* ----------------------------------------------------- stop from a timer */

static void never(void *arg) { (void)arg; note("never"); }

static void stopper(void *arg) {
  (void)arg;
  note("stopper");
  assert_int_equal(weft_reactor_call_later(g.r, 0, never, NULL, NULL), 0);
  assert_int_equal(weft_reactor_stop(g.r), 0);
}

static void after_stop(void *arg) { note(arg); }
static void shutdown_trigger(void *arg) { (void)arg; note("shutdown"); }

static void a_stop_from_a_timer_lets_the_due_timers_run(void **state) {
  (void)state;
  memset(&g, 0, sizeof g);
  assert_int_equal(weft_reactor_create(&g.r), 0);
  assert_int_equal(
      weft_reactor_add_trigger(g.r, WEFT_BEFORE, WEFT_SHUTDOWN, shutdown_trigger, NULL, NULL), 0);
  hold_clock();
  assert_int_equal(weft_reactor_call_later(g.r, 0, stopper, NULL, NULL), 0);
  assert_int_equal(weft_reactor_call_later(g.r, 0, after_stop, "a", NULL), 0);
  assert_int_equal(weft_reactor_call_later(g.r, 0, after_stop, "b", NULL), 0);
  assert_int_equal(weft_reactor_run(g.r), 0);
  release_clock();
  assert_int_equal(g.n, 4);
  assert_string_equal(g.name[0], "stopper");
  assert_string_equal(g.name[1], "a");
  assert_string_equal(g.name[2], "b");
  assert_string_equal(g.name[3], "shutdown");
  assert_int_equal(index_of("never"), -1);
  assert_int_equal(weft_reactor_destroy(g.r), 0);
}

/* ------------------------------------------ stop from another thread */

/* weft_reactor_stop on another thread is Twisted's
 * callFromThread(reactor.stop): the stop joins the thread calls of the
 * loop's next pass, and the timed calls due then run before "shutdown".
 * Here the stop comes while a timer of the pass runs, the held clock moved
 * past a second timer's deadline first: that timer, due when stop() was
 * called, ran never (the loop shut down at the end of the pass, whose clock
 * was read before). Barriers, no sleep: the timer lets the thread go and
 * waits until its stop has returned. */
static pthread_barrier_t other_go, other_done;

static void *other_stopper(void *arg) {
  (void)arg;
  pthread_barrier_wait(&other_go);
  assert_int_equal(weft_reactor_stop(g.r), 0);
  pthread_barrier_wait(&other_done);
  return NULL;
}

static void holder(void *arg) {
  (void)arg;
  note("holder");
  held_at.tv_sec += 2; /* two seconds pass: "due" is due now */
  assert_int_equal(weft_reactor_call_later(g.r, 0, after_stop, "made", NULL), 0);
  pthread_barrier_wait(&other_go);
  pthread_barrier_wait(&other_done);
}

static void a_stop_from_another_thread_lets_the_timers_due_then_run(void **state) {
  (void)state;
  memset(&g, 0, sizeof g);
  pthread_barrier_init(&other_go, NULL, 2);
  pthread_barrier_init(&other_done, NULL, 2);
  assert_int_equal(weft_reactor_create(&g.r), 0);
  assert_int_equal(
      weft_reactor_add_trigger(g.r, WEFT_BEFORE, WEFT_SHUTDOWN, shutdown_trigger, NULL, NULL), 0);
  hold_clock();
  assert_int_equal(weft_reactor_call_later(g.r, 0, holder, NULL, NULL), 0);
  assert_int_equal(weft_reactor_call_later(g.r, 1.0, after_stop, "due", NULL), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, other_stopper, NULL), 0);
  assert_int_equal(weft_reactor_run(g.r), 0);
  release_clock();
  pthread_join(t, NULL);
  assert_int_equal(g.n, 4);
  assert_string_equal(g.name[0], "holder");
  assert_string_equal(g.name[1], "due");
  assert_string_equal(g.name[2], "made");
  assert_string_equal(g.name[3], "shutdown");
  assert_int_equal(weft_reactor_destroy(g.r), 0);
  pthread_barrier_destroy(&other_go);
  pthread_barrier_destroy(&other_done);
}

/* --------------------------------------- the sleep after the busy wait */

/* A pass that ran completions looks for more before it sleeps
 * (busy_wait_for_work: 256 pauses, then 16 sched_yield). On a busy machine
 * each yield can hand the CPU away for a scheduler slice, milliseconds: the
 * timeout computed before that wait is stale after it. Here every yield of
 * the reactor's thread moves the held clock on by 100 ms, and each
 * epoll_wait's timeout is checked against the deadline left at the call. */
int __real_sched_yield(void);
int __real_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout);
static int yields_move_clock; /* the test's thread only, as `held` */
static int yields;
static double deadline_s;  /* the held clock's seconds at the timer's deadline */
static int late_sleeps;    /* epoll_waits past the deadline with a timeout */
static int longest_excess; /* ms: timeout minus the deadline left, at worst */

int __wrap_sched_yield(void) {
  if (held && yields_move_clock) {
    yields++;
    held_at.tv_nsec += 100000000L;
    if (held_at.tv_nsec >= 1000000000L) {
      held_at.tv_sec++;
      held_at.tv_nsec -= 1000000000L;
    }
  }
  return __real_sched_yield();
}

int __wrap_epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
  if (held && yields_move_clock) {
    double now = (double)held_at.tv_sec + (double)held_at.tv_nsec * 1e-9;
    double left_ms = (deadline_s - now) * 1000.0;
    if (left_ms <= 0 && timeout != 0) late_sleeps++;
    if (timeout > 0 && timeout - left_ms > longest_excess) longest_excess = (int)(timeout - left_ms);
  }
  return __real_epoll_wait(epfd, events, maxevents, timeout);
}

static void completion(void *arg) { (void)arg; note("completion"); }

static void the_sleep_after_the_busy_wait_keeps_the_deadline(void **state) {
  (void)state;
  memset(&g, 0, sizeof g);
  yields = late_sleeps = longest_excess = 0;
  assert_int_equal(weft_reactor_create(&g.r), 0);
  hold_clock();
  deadline_s = (double)held_at.tv_sec + (double)held_at.tv_nsec * 1e-9 + 1.0;
  /* due in 1 s of the held clock; the 16 yields of one busy wait move it
   * 1.6 s on */
  assert_int_equal(weft_reactor_call_later(g.r, 1.0, stop_it, NULL, NULL), 0);
  /* a completion in the first pass: the loop busy-waits before it sleeps */
  assert_int_equal(weft_reactor_call_from_thread(g.r, completion, NULL), 0);
  yields_move_clock = 1;
  assert_int_equal(weft_reactor_run(g.r), 0);
  yields_move_clock = 0;
  release_clock();
  assert_true(yields > 0); /* the busy wait ran, and moved the clock past the deadline */
  assert_int_equal(g.n, 2);
  assert_string_equal(g.name[0], "completion");
  assert_string_equal(g.name[1], "stop");
  /* It slept with the timeout computed before the wait (1,000 ms, the
   * deadline 600 ms behind it), and the timer ran that much late. */
  assert_int_equal(late_sleeps, 0);
  assert_true(longest_excess <= 1); /* the ceiling of a fraction of a ms */
  assert_int_equal(weft_reactor_destroy(g.r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_call_made_by_a_timer_waits_for_the_next_pass),
      cmocka_unit_test(same_deadline_calls_run_in_the_order_made),
      cmocka_unit_test(a_stop_from_a_timer_lets_the_due_timers_run),
      cmocka_unit_test(a_stop_from_another_thread_lets_the_timers_due_then_run),
      cmocka_unit_test(the_sleep_after_the_busy_wait_keeps_the_deadline),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
