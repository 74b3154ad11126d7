/*
 * ThreadWorker (spec cases 22-23 with a real thread instead of Twisted's
 * FakeThread/FakeQueue), FIFO, naming, factory failure, the sleep/wake path,
 * lifetime (release before the backlog ran, release from its own task, the
 * thread handle detached at creation and never used again), and do() racing
 * quit() from many threads.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "test_size.h"

#include "base/atomic.h"
#include "test_check.h"
#include "workers/thread_worker.h"
#include "weft/worker.h"

/* A latch: wait until a count is reached. */
typedef struct latch {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  long n;
} latch;
static latch g_latch = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
static void latch_reset(void) {
  pthread_mutex_lock(&g_latch.mu);
  g_latch.n = 0;
  pthread_mutex_unlock(&g_latch.mu);
}
static void latch_add(void) {
  pthread_mutex_lock(&g_latch.mu);
  g_latch.n++;
  pthread_cond_broadcast(&g_latch.cv);
  pthread_mutex_unlock(&g_latch.mu);
}
static void latch_wait(long n) {
  pthread_mutex_lock(&g_latch.mu);
  while (g_latch.n < n) pthread_cond_wait(&g_latch.cv, &g_latch.mu);
  pthread_mutex_unlock(&g_latch.mu);
}

static void latch_task(void *arg) {
  (void)arg;
  latch_add();
}

/* A gate a task can block on until the test opens it. */
static pthread_mutex_t g_gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_gate_cv = PTHREAD_COND_INITIALIZER;
static int g_gate_open;
static void gate_task(void *arg) {
  (void)arg;
  latch_add(); /* "I am running" */
  pthread_mutex_lock(&g_gate_mu);
  while (!g_gate_open) pthread_cond_wait(&g_gate_cv, &g_gate_mu);
  pthread_mutex_unlock(&g_gate_mu);
}
static void gate_set(int open) {
  pthread_mutex_lock(&g_gate_mu);
  g_gate_open = open;
  pthread_cond_broadcast(&g_gate_cv);
  pthread_mutex_unlock(&g_gate_mu);
}

static int g_started;
static pthread_t g_thread;
static int recording_factory(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                             const char *name) {
  (void)ctx;
  g_started++;
  int r = weft_default_thread_factory(NULL, thread, start, arg, name);
  g_thread = *thread;
  return r;
}

static int failing_factory(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                           const char *name) {
  (void)ctx, (void)thread, (void)start, (void)arg, (void)name;
  return WEFT_EAGAIN;
}

static pthread_t g_ran_on;
static void record_thread(void *arg) {
  (void)arg;
  g_ran_on = pthread_self();
  latch_add();
}

/* case 22: test_startsThreadAndPerformsWork */
static void starts_thread_and_performs_work(void **state) {
  (void)state;
  weft_worker *w;
  g_started = 0;
  latch_reset();
  assert_int_equal(weft_thread_worker_create(&w, recording_factory, NULL, "t22"), 0);
  assert_int_equal(g_started, 1); /* the constructor started exactly one thread */
  assert_int_equal(weft_worker_do(w, record_thread, NULL), 0);
  latch_wait(1);
  assert_true(pthread_equal(g_ran_on, g_thread));
  assert_false(pthread_equal(g_ran_on, pthread_self()));
  weft_worker_release(w);
}

/* case 23: test_quitPreventsFutureCalls */
static void quit_prevents_future_calls(void **state) {
  (void)state;
  weft_worker *w;
  assert_int_equal(weft_thread_worker_create(&w, NULL, NULL, NULL), 0);
  assert_int_equal(weft_worker_quit(w), 0);
  assert_int_equal(weft_worker_quit(w), WEFT_EQUIT);
  assert_int_equal(weft_worker_do(w, record_thread, NULL), WEFT_EQUIT);
  weft_worker_release(w);
}

static long g_next;
static void fifo_task(void *arg) {
  THREAD_CHECK_EQ((long)(intptr_t)arg, g_next); /* on the worker thread, the only writer */
  g_next++;
  latch_add();
}

static void fifo_from_one_producer(void **state) {
  (void)state;
  weft_worker *w;
  long n = 200000;
  g_next = 0;
  latch_reset();
  assert_int_equal(weft_thread_worker_create(&w, NULL, NULL, "fifo"), 0);
  for (long i = 0; i < n; i++) assert_int_equal(weft_worker_do(w, fifo_task, (void *)(intptr_t)i), 0);
  latch_wait(n);
  weft_worker_release(w);
}

static char g_name[32];
static void get_name(void *arg) {
  (void)arg;
  pthread_getname_np(pthread_self(), g_name, sizeof g_name);
  latch_add();
}

static void default_factory_truncates_name(void **state) {
  (void)state;
  weft_worker *w;
  latch_reset();
  assert_int_equal(weft_thread_worker_create(&w, NULL, NULL, "abcdefghijklmnopqrstuvwxyz"), 0);
  assert_int_equal(weft_worker_do(w, get_name, NULL), 0);
  latch_wait(1);
  assert_string_equal(g_name, "abcdefghijklmno");
  weft_worker_release(w);
}

static void factory_failure_is_eagain(void **state) {
  (void)state;
  weft_worker *w = (weft_worker *)1;
  assert_int_equal(weft_thread_worker_create(&w, failing_factory, NULL, "x"), WEFT_EAGAIN);
  assert_null(w);
  assert_int_equal(weft_thread_worker_create(NULL, NULL, NULL, "x"), WEFT_EINVAL);
}

/* quit + release while the thread is blocked with a backlog: everything
 * queued before quit still runs, then the thread frees the worker. */
static void release_before_backlog_ran(void **state) {
  (void)state;
  weft_worker *w;
  latch_reset();
  gate_set(0);
  assert_int_equal(weft_thread_worker_create(&w, NULL, NULL, "backlog"), 0);
  assert_int_equal(weft_worker_do(w, gate_task, NULL), 0);
  latch_wait(1);
  for (int i = 0; i < 100; i++) assert_int_equal(weft_worker_do(w, latch_task, NULL), 0);
  assert_int_equal(weft_worker_quit(w), 0);
  weft_worker_release(w); /* owner gone; the thread still owns it */
  gate_set(1);
  latch_wait(101);
}

static weft_worker *g_self;
static void release_self(void *arg) {
  (void)arg;
  weft_worker_release(g_self);
  latch_add();
}

static void release_from_own_task(void **state) {
  (void)state;
  latch_reset();
  assert_int_equal(weft_thread_worker_create(&g_self, NULL, NULL, "self"), 0);
  assert_int_equal(weft_worker_do(g_self, release_self, NULL), 0);
  latch_wait(1);
}

/* The thread sleeps when idle and a do() wakes it. */
static void sleeps_and_wakes(void **state) {
  (void)state;
  weft_worker *w;
  latch_reset();
  assert_int_equal(weft_thread_worker_create(&w, NULL, NULL, "sleepy"), 0);
  uint64_t seen = 0;
  for (int round = 1; round <= 5; round++) {
    /* Until it has gone to sleep again since the last do() (it must: the
     * queue is empty). Polling, not timing: nothing depends on how long. */
    while (weft__thread_worker_sleeps(w) <= seen) sched_yield();
    seen = weft__thread_worker_sleeps(w);
    assert_int_equal(weft_worker_do(w, latch_task, NULL), 0);
    latch_wait(round);
  }
  assert_true(weft__thread_worker_wakes(w) >= 1);
  weft_worker_release(w);
}

/* Many producers race quit(): each accepted task runs exactly once, each
 * refused do() got WEFT_EQUIT. */
#define PRODUCERS 4
static weft_worker *g_w;
static _Atomic long g_accepted;
static _Atomic int *g_ran;
static long g_per;
static pthread_barrier_t g_bar;

static void stress_task(void *arg) {
  THREAD_CHECK_EQ(weft__fetch_add_relaxed(&g_ran[(long)(intptr_t)arg], 1), 0); /* exactly once */
  latch_add();
}

static void *producer(void *arg) {
  long base = (long)(intptr_t)arg * g_per;
  pthread_barrier_wait(&g_bar);
  for (long i = 0; i < g_per; i++) {
    int r = weft_worker_do(g_w, stress_task, (void *)(intptr_t)(base + i));
    if (r == 0) weft__fetch_add_relaxed(&g_accepted, 1);
    else THREAD_CHECK_EQ(r, WEFT_EQUIT);
  }
  return NULL;
}

static void producers_race_quit(void **state) {
  (void)state;
  int rounds = 20;
  g_per = 10000;
  g_ran = calloc((size_t)(PRODUCERS * g_per), sizeof *g_ran);
  assert_non_null(g_ran);
  for (int round = 0; round < rounds; round++) {
    memset((void *)g_ran, 0, (size_t)(PRODUCERS * g_per) * sizeof *g_ran);
    weft__store_relaxed(&g_accepted, 0);
    latch_reset();
    assert_int_equal(weft_thread_worker_create(&g_w, NULL, NULL, "race"), 0);
    pthread_barrier_init(&g_bar, NULL, PRODUCERS + 1);
    pthread_t th[PRODUCERS];
    for (int p = 0; p < PRODUCERS; p++)
      assert_int_equal(pthread_create(&th[p], NULL, producer, (void *)(intptr_t)p), 0);
    pthread_barrier_wait(&g_bar);
    for (int spin = 0; spin < round * 50; spin++) sched_yield(); /* vary where quit lands */
    assert_int_equal(weft_worker_quit(g_w), 0);
    for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
    weft_worker_release(g_w);
    long accepted = weft__load_relaxed(&g_accepted);
    latch_wait(accepted);
    long ran = 0;
    for (long i = 0; i < PRODUCERS * g_per; i++) ran += weft__load_relaxed(&g_ran[i]);
    assert_int_equal(ran, accepted);
    pthread_barrier_destroy(&g_bar);
  }
  free((void *)g_ran);
}

/* The pthread_t is used once, in create, while the thread provably runs:
 * it is already detached when create returns. A later detach, in release,
 * could meet a thread that had exited and a freed descriptor (the
 * torture_team SIGSEGV, docs/reliability.md). */
static void thread_detached_at_create(void **state) {
  (void)state;
  weft_worker *w;
  g_started = 0;
  latch_reset();
  assert_int_equal(weft_thread_worker_create(&w, recording_factory, NULL, "detached"), 0);
  /* the thread cannot exit before quit: its descriptor is valid here */
  pthread_attr_t attr;
  int detach_state = -1;
  assert_int_equal(pthread_getattr_np(g_thread, &attr), 0);
  assert_int_equal(pthread_attr_getdetachstate(&attr, &detach_state), 0);
  pthread_attr_destroy(&attr);
  assert_int_equal(detach_state, PTHREAD_CREATE_DETACHED);
  assert_int_equal(weft_worker_do(w, record_thread, NULL), 0);
  latch_wait(1);
  weft_worker_release(w);
}

/* A factory that detaches its thread itself and reports when the start
 * routine has returned: release after that point must not touch the handle
 * (the descriptor may already be freed). */
typedef struct tramp {
  void *(*start)(void *);
  void *arg;
} tramp;
static void *tramp_main(void *p) {
  tramp t = *(tramp *)p;
  free(p);
  void *r = t.start(t.arg);
  latch_add(); /* the worker's loop has returned: the thread is exiting */
  return r;
}
static int detaching_factory(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                             const char *name) {
  (void)ctx, (void)name;
  tramp *t = malloc(sizeof *t);
  if (!t) return WEFT_ENOMEM;
  *t = (tramp){start, arg};
  if (pthread_create(thread, NULL, tramp_main, t) != 0) {
    free(t);
    return WEFT_EAGAIN;
  }
  pthread_detach(*thread);
  return 0;
}

static void factory_detached_thread_released_after_exit(void **state) {
  (void)state;
  /* TSan's detach interceptor aborts on a second detach. */
  if (WEFT_TEST_BUILT_WITH_TSAN || weft_test_config_is("tsan")) skip();
  for (int i = 0; i < 8; i++) {
    weft_worker *w;
    latch_reset();
    assert_int_equal(weft_thread_worker_create(&w, detaching_factory, NULL, "fdetach"), 0);
    assert_int_equal(weft_worker_do(w, record_thread, NULL), 0);
    assert_int_equal(weft_worker_quit(w), 0);
    latch_wait(2); /* the task ran and the thread left its loop */
    weft_worker_release(w); /* frees the worker; no pthread call */
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(starts_thread_and_performs_work),
      cmocka_unit_test(quit_prevents_future_calls),
      cmocka_unit_test(fifo_from_one_producer),
      cmocka_unit_test(default_factory_truncates_name),
      cmocka_unit_test(factory_failure_is_eagain),
      cmocka_unit_test(release_before_backlog_ran),
      cmocka_unit_test(release_from_own_task),
      cmocka_unit_test(sleeps_and_wakes),
      cmocka_unit_test(producers_race_quit),
      cmocka_unit_test(thread_detached_at_create),
      cmocka_unit_test(factory_detached_thread_released_after_exit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
