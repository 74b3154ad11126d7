/*
 * LockWorker (spec cases 24-30) with Twisted's FakeLock ported: acquiring a
 * held fake lock reports WEFT_EDEADLK (WouldDeadlock), releasing an unheld
 * one WEFT_ESTATE (ThreadError).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "test_check.h"
#include "workers/lock_worker.h"
#include "weft/worker.h"

typedef struct fake_lock {
  int held;
  int acquires;
  void (*on_acquire)(void);
} fake_lock;

static int fake_acquire(void *l) {
  fake_lock *f = l;
  if (f->held) return WEFT_EDEADLK;
  f->held = 1;
  f->acquires++;
  if (f->on_acquire) f->on_acquire();
  return 0;
}

static int fake_release(void *l) {
  fake_lock *f = l;
  if (!f->held) return WEFT_ESTATE;
  f->held = 0;
  return 0;
}

static const weft_lock_ops fake_ops = {fake_acquire, fake_release};

static fake_lock g_lock;
static weft_worker *g_w;

static int setup(void **state) {
  (void)state;
  g_lock = (fake_lock){0, 0, NULL};
  return weft_lock_worker_create(&g_w, &fake_ops, &g_lock);
}

static int teardown(void **state) {
  (void)state;
  weft_worker_release(g_w);
  return 0;
}

/* case 24: test_fakeDeadlock */
static void fake_deadlock(void **state) {
  (void)state;
  fake_lock l = {0, 0, NULL};
  assert_int_equal(fake_acquire(&l), 0);
  assert_int_equal(fake_acquire(&l), WEFT_EDEADLK);
}

/* case 25: test_fakeDoubleRelease */
static void fake_double_release(void **state) {
  (void)state;
  fake_lock l = {0, 0, NULL};
  assert_int_equal(fake_release(&l), WEFT_ESTATE);
  assert_int_equal(fake_acquire(&l), 0);
  assert_int_equal(fake_release(&l), 0);
  assert_int_equal(fake_release(&l), WEFT_ESTATE);
}

static int g_held_during[4];
static int g_depth, g_depths[4], g_n;

static void note_held(void *arg) {
  (void)arg;
  g_held_during[g_n] = g_lock.held;
  g_depths[g_n] = g_depth;
  g_n++;
}

/* case 26: test_doExecutesImmediatelyWithLock */
static void do_executes_immediately_with_lock(void **state) {
  (void)state;
  g_n = 0;
  assert_int_equal(weft_worker_do(g_w, note_held, NULL), 0);
  assert_int_equal(g_n, 1); /* synchronously */
  assert_int_equal(g_held_during[0], 1);
  assert_int_equal(g_lock.held, 0); /* released afterwards */
}

static void nested_level(void *arg) {
  int first = arg != NULL;
  g_depth++;
  g_held_during[g_n] = g_lock.held;
  g_depths[g_n] = g_depth;
  g_n++;
  if (first) assert_int_equal(weft_worker_do(g_w, nested_level, NULL), 0); /* deferred */
  g_depth--;
}

/* case 27: test_doUnwindsReentrancy */
static void do_unwinds_reentrancy(void **state) {
  (void)state;
  g_n = 0;
  g_depth = 0;
  assert_int_equal(weft_worker_do(g_w, nested_level, (void *)1), 0);
  assert_int_equal(g_n, 2);
  assert_int_equal(g_depths[0], 1); /* nesting levels [1, 1] */
  assert_int_equal(g_depths[1], 1);
  assert_int_equal(g_held_during[0], 1); /* lock held [True, True] */
  assert_int_equal(g_held_during[1], 1);
  assert_int_equal(g_lock.acquires, 1); /* without re-acquiring */
  assert_int_equal(g_lock.held, 0);
}

/* Re-entrant work runs in the order it was submitted (Twisted's deque):
 * the first level queues A then B, A queues C: A, B, C, all at depth 1. */
static char g_order[8];
static int g_order_n;
static void order_note(char c) {
  g_order[g_order_n] = c;
  g_depths[g_order_n] = g_depth; /* 1: run by the outermost do(), not nested */
  g_order_n++;
}
static void order_c(void *arg) {
  (void)arg;
  g_depth++;
  order_note('C');
  g_depth--;
}
static void order_a(void *arg) {
  (void)arg;
  g_depth++;
  order_note('A');
  assert_int_equal(weft_worker_do(g_w, order_c, NULL), 0);
  g_depth--;
}
static void order_b(void *arg) {
  (void)arg;
  g_depth++;
  order_note('B');
  g_depth--;
}
static void order_first(void *arg) {
  (void)arg;
  g_depth++;
  assert_int_equal(weft_worker_do(g_w, order_a, NULL), 0);
  assert_int_equal(weft_worker_do(g_w, order_b, NULL), 0);
  g_depth--;
}

static void reentrant_work_runs_fifo(void **state) {
  (void)state;
  g_order_n = 0;
  g_depth = 0;
  assert_int_equal(weft_worker_do(g_w, order_first, NULL), 0);
  assert_int_equal(g_order_n, 3);
  assert_memory_equal(g_order, "ABC", 3);
  for (int i = 0; i < 3; i++) assert_int_equal(g_depths[i], 1);
}

/* case 28: test_quit — quit drops the lock reference */
static void quit_drops_lock(void **state) {
  (void)state;
  assert_ptr_equal(weft__lock_worker_lock(g_w), &g_lock);
  assert_int_equal(weft_worker_quit(g_w), 0);
  assert_null(weft__lock_worker_lock(g_w));
  assert_int_equal(weft_worker_quit(g_w), WEFT_EQUIT);
  assert_int_equal(weft_worker_do(g_w, note_held, NULL), WEFT_EQUIT);
}

static int g_phase2_ran, g_phase2_held;
static void phase2(void *arg) {
  (void)arg;
  g_phase2_ran = 1;
  g_phase2_held = g_lock.held;
}
static void phase1(void *arg) {
  (void)arg;
  assert_int_equal(weft_worker_do(g_w, phase2, NULL), 0);
  assert_int_equal(weft_worker_quit(g_w), 0);
  assert_int_equal(weft_worker_do(g_w, phase2, NULL), WEFT_EQUIT);
  assert_non_null(weft__lock_worker_lock(g_w)); /* still in use */
}

/* case 29: test_quitWhileWorking */
static void quit_while_working(void **state) {
  (void)state;
  g_phase2_ran = g_phase2_held = 0;
  assert_int_equal(weft_worker_do(g_w, phase1, NULL), 0);
  assert_int_equal(g_phase2_ran, 1);
  assert_int_equal(g_phase2_held, 1);
  assert_int_equal(g_lock.held, 0);       /* released at the end ... */
  assert_null(weft__lock_worker_lock(g_w)); /* ... then dropped */
}

/* case 30: test_quitWhileGettingLock. In C the quit check and the admission
 * of a do() are one atomic step, and the lock reference is dropped only when
 * no do() is in flight: a quit() landing while do() is getting the lock does
 * not pull the lock from under it. That do() was admitted first, so it
 * completes under the lock; every later do() gets WEFT_EQUIT, and the lock is
 * not touched after quit took effect. */
static void quit_from_acquire(void) { assert_int_equal(weft_worker_quit(g_w), 0); }

static void quit_while_getting_lock(void **state) {
  (void)state;
  g_n = 0;
  g_lock.on_acquire = quit_from_acquire;
  assert_int_equal(weft_worker_do(g_w, note_held, NULL), 0);
  assert_int_equal(g_n, 1);
  assert_int_equal(g_held_during[0], 1);
  assert_int_equal(g_lock.held, 0);
  assert_null(weft__lock_worker_lock(g_w));
  int acquires = g_lock.acquires;
  assert_int_equal(weft_worker_do(g_w, note_held, NULL), WEFT_EQUIT);
  assert_int_equal(g_lock.acquires, acquires);
}

static void drop_lock_and_count(void *arg) {
  (void)arg;
  g_lock.held = 0;
  g_n++;
}

/* A failing acquire is returned by do() and the work does not run. */
static void acquire_failure_is_returned(void **state) {
  (void)state;
  g_n = 0;
  g_lock.held = 1; /* someone else holds the fake lock */
  assert_int_equal(weft_worker_do(g_w, note_held, NULL), WEFT_EDEADLK);
  assert_int_equal(g_n, 0);
  g_lock.held = 0;
}

/* A failing release after the work ran: do() returns 0 (the work ran, once;
 * an error would read as "not accepted", and a retry would run it twice). */
static void release_failure_after_work_returns_zero(void **state) {
  (void)state;
  g_n = 0;
  g_lock.on_acquire = NULL;
  /* The work itself drops the fake lock, so the worker's release finds it
   * not held and fails (WEFT_ESTATE). */
  assert_int_equal(weft_worker_do(g_w, drop_lock_and_count, NULL), 0);
  assert_int_equal(g_n, 1);
  assert_int_equal(g_lock.held, 0);
}

static void bad_input(void **state) {
  (void)state;
  weft_worker *w;
  weft_lock_ops half = {fake_acquire, NULL};
  assert_int_equal(weft_lock_worker_create(NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_lock_worker_create(&w, &half, &g_lock), WEFT_EINVAL);
}

/* The default (pthread mutex) lock serialises threads; each thread's
 * re-entrant calls stay on its own trampoline. */
#define THREADS 4
#define HAMMER 20000 /* weft_worker_do calls per hammer thread */
static weft_worker *g_mw;
static long g_counter; /* protected by the worker's mutex */
static void inc(void *arg) {
  g_counter++;
  if (arg) THREAD_CHECK_EQ(weft_worker_do(g_mw, inc, NULL), 0); /* trampolined; a hammer thread */
}
static void *hammer(void *arg) {
  (void)arg;
  int n = HAMMER;
  for (int i = 0; i < n; i++) THREAD_CHECK_EQ(weft_worker_do(g_mw, inc, (void *)1), 0);
  return NULL;
}
static void default_mutex_serialises(void **state) {
  (void)state;
  g_counter = 0;
  assert_int_equal(weft_lock_worker_create(&g_mw, NULL, NULL), 0);
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, hammer, NULL), 0);
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  int n = HAMMER;
  assert_int_equal(g_counter, 2L * THREADS * n);
  weft_worker_release(g_mw);
}

/* release from inside a work item: freed once the item's do() returns. */
static void release_self(void *arg) {
  (void)arg;
  weft_worker_release(g_mw);
}
static void release_from_inside(void **state) {
  (void)state;
  assert_int_equal(weft_lock_worker_create(&g_mw, NULL, NULL), 0);
  assert_int_equal(weft_worker_do(g_mw, release_self, NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fake_deadlock),
      cmocka_unit_test(fake_double_release),
      cmocka_unit_test_setup_teardown(do_executes_immediately_with_lock, setup, teardown),
      cmocka_unit_test_setup_teardown(do_unwinds_reentrancy, setup, teardown),

      cmocka_unit_test_setup_teardown(reentrant_work_runs_fifo, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_drops_lock, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_while_working, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_while_getting_lock, setup, teardown),
      cmocka_unit_test_setup_teardown(acquire_failure_is_returned, setup, teardown),
      cmocka_unit_test_setup_teardown(release_failure_after_work_returns_zero, setup, teardown),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(default_mutex_serialises),
      cmocka_unit_test(release_from_inside),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
