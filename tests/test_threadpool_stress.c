/*
 * ThreadPool stress: many submitting threads, more worker threads than cores,
 * stealing, and a thread that keeps resizing the pool; every task must run
 * exactly once (a per-task counter array checked to be exactly 1).
 *
 * ctest runs a reduced form. The acceptance form —
 *   WEFT_STRESS_FULL=1 ./test_threadpool_stress
 * — pushes 10^7 tasks through a 64-thread pool from 4 submitters while
 * another thread calls adjust_poolsize, and prints the wall time.
 * Synchronisation: stop() (which drains and joins) and pthread_join; no
 * sleeps, no timing in any assertion.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "weft/threadpool.h"

#define SUBMITTERS 4

static _Atomic unsigned char *g_seen;
static weft_work *g_reqs;
static long g_tasks;
static weft_threadpool *g_tp;
static _Atomic int g_submitters_done;
static _Atomic long g_resizes;
static _Atomic long g_resize_eagain;

/* Completion is awaited before stop: a lost wake-up (work queued while every
 * worker sleeps) then hangs the test instead of being rescued by stop. */
static _Atomic long g_done;
static pthread_mutex_t g_done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_done_cv = PTHREAD_COND_INITIALIZER;

static void mark(long id) {
  atomic_fetch_add_explicit(&g_seen[id], 1, memory_order_relaxed);
  if (atomic_fetch_add(&g_done, 1) + 1 == g_tasks) {
    pthread_mutex_lock(&g_done_mu);
    pthread_cond_broadcast(&g_done_cv);
    pthread_mutex_unlock(&g_done_mu);
  }
}

static void call_task(void *arg) { mark((long)(intptr_t)arg); }

static int callback_task(void *arg, void **result) {
  *result = arg;
  return 0;
}
static void on_result(void *ctx, int status, void *result) {
  (void)ctx;
  if (status == 0) mark((long)(intptr_t)result);
}

static void work_task(weft_work *req) { mark((long)(req - g_reqs)); }

static void *submitter(void *arg) {
  long k = (long)(intptr_t)arg;
  for (long id = k; id < g_tasks; id += SUBMITTERS) {
    int r;
    switch (id % 3) {
      case 0: r = weft_threadpool_call_in_thread(g_tp, call_task, (void *)(intptr_t)id); break;
      case 1:
        r = weft_threadpool_call_in_thread_with_callback(g_tp, on_result, NULL, callback_task,
                                                         (void *)(intptr_t)id);
        break;
      default: r = weft_threadpool_queue_work(g_tp, &g_reqs[id], work_task, NULL); break;
    }
    if (r != 0) {
      fprintf(stderr, "submit %ld failed: %s\n", id, weft_err_name(r));
      abort();
    }
  }
  atomic_fetch_add(&g_submitters_done, 1);
  return NULL;
}

/* Keeps resizing while the submitters run: shrink idle and busy workers,
 * grow back, drop max below the live count, raise it again. */
static void *resizer(void *arg) {
  int max_threads = (int)(intptr_t)arg;
  static const int shapes[][2] = {{-1, -1}, {0, 4}, {1, 1}, {8, -1}, {0, 2}, {-1, -1}, {2, 16}};
  unsigned i = 0;
  while (atomic_load(&g_submitters_done) < SUBMITTERS) {
    int min = shapes[i % 7][0], max = shapes[i % 7][1];
    if (min < 0) min = max_threads;
    if (max < 0) max = max_threads;
    if (max > max_threads) max = max_threads;
    if (min > max) min = max;
    int r = weft_threadpool_adjust_poolsize(g_tp, min, max);
    /* EAGAIN is a legal answer under this churn: threads told to quit that
     * have not been scheduled yet still hold their slots (at most
     * WEFT_THREADPOOL_MAX_THREADS threads exist at once). */
    if (r == WEFT_EAGAIN) atomic_fetch_add(&g_resize_eagain, 1);
    else if (r != 0) {
      fprintf(stderr, "adjust_poolsize(%d, %d) failed: %s\n", min, max, weft_err_name(r));
      abort();
    }
    if (i % 5 == 0) weft_threadpool_stop_a_worker(g_tp);
    if (i % 7 == 0) weft_threadpool_start_a_worker(g_tp);
    atomic_fetch_add(&g_resizes, 1);
    i++;
  }
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_stress(long tasks, int threads) {
  g_tasks = tasks;
  g_seen = calloc((size_t)tasks, 1);
  g_reqs = calloc((size_t)tasks, sizeof *g_reqs);
  assert_non_null(g_seen);
  assert_non_null(g_reqs);
  atomic_store(&g_submitters_done, 0);
  atomic_store(&g_resizes, 0);
  atomic_store(&g_resize_eagain, 0);
  atomic_store(&g_done, 0);
  assert_int_equal(weft_threadpool_create(&g_tp, threads, threads, "stress"), 0);
  assert_int_equal(weft_threadpool_start(g_tp), 0);
  double t0 = now_s();
  pthread_t sub[SUBMITTERS], rs;
  pthread_create(&rs, NULL, resizer, (void *)(intptr_t)threads);
  for (int i = 0; i < SUBMITTERS; i++) pthread_create(&sub[i], NULL, submitter, (void *)(intptr_t)i);
  for (int i = 0; i < SUBMITTERS; i++) pthread_join(sub[i], NULL);
  pthread_join(rs, NULL);
  /* Back to full size so the backlog has workers, then drain and join. */
  int r;
  while ((r = weft_threadpool_adjust_poolsize(g_tp, threads, threads)) == WEFT_EAGAIN) sched_yield();
  assert_int_equal(r, 0);
  pthread_mutex_lock(&g_done_mu);
  while (atomic_load(&g_done) < tasks) pthread_cond_wait(&g_done_cv, &g_done_mu);
  pthread_mutex_unlock(&g_done_mu);
  assert_int_equal(weft_threadpool_stop(g_tp), 0);
  double t1 = now_s();
  long bad = 0;
  for (long i = 0; i < tasks; i++)
    if (atomic_load_explicit(&g_seen[i], memory_order_relaxed) != 1) {
      if (bad++ < 5) fprintf(stderr, "task %ld ran %d times\n", i, (int)g_seen[i]);
    }
  weft_threadpool_counters c;
  weft_threadpool_counters_get(g_tp, &c);
  printf("stress: %ld tasks, %d threads max, %d submitters: %.3f s wall (%.0f tasks/s); "
         "resizes=%ld (EAGAIN %ld) spawns=%llu steals=%llu stolen=%llu parks=%llu unparks=%llu\n",
         tasks, threads, SUBMITTERS, t1 - t0, (double)tasks / (t1 - t0), atomic_load(&g_resizes),
         atomic_load(&g_resize_eagain), (unsigned long long)c.spawns, (unsigned long long)c.steals,
         (unsigned long long)c.stolen, (unsigned long long)c.parks,
         (unsigned long long)c.unparks);
  assert_int_equal(bad, 0);
  assert_int_equal(c.executed, (uint64_t)tasks);
  assert_int_equal(c.submitted, (uint64_t)tasks);
  assert_int_equal(c.cancelled, 0);
  assert_int_equal(weft_threadpool_destroy(g_tp), 0);
  free((void *)g_seen);
  free(g_reqs);
}

/* stop racing submitters (E2/E7): every request a submit accepted gets
 * exactly one after_cb (0: ran, WEFT_ECANCELED: cancelled); every request it
 * refused (WEFT_EQUIT) gets none. */
#define RACE_PER_SUBMITTER 20000
static weft_work g_race_reqs[SUBMITTERS][RACE_PER_SUBMITTER];
static _Atomic int g_race_after[SUBMITTERS][RACE_PER_SUBMITTER];
static int g_race_accepted[SUBMITTERS][RACE_PER_SUBMITTER];
static _Atomic long g_race_submitted;

static void race_work(weft_work *req) { (void)req; }
static void race_after(weft_work *req, int status) {
  atomic_fetch_add((_Atomic int *)req->data, status == 0 ? 1 : 1000);
}

static void *race_submitter(void *arg) {
  long k = (long)(intptr_t)arg;
  for (int i = 0; i < RACE_PER_SUBMITTER; i++) {
    g_race_reqs[k][i].data = (void *)&g_race_after[k][i];
    int r = weft_threadpool_queue_work(g_tp, &g_race_reqs[k][i], race_work, race_after);
    if (r == WEFT_EQUIT) break; /* the rest would be refused too */
    if (r != 0) abort();
    g_race_accepted[k][i] = 1;
    atomic_fetch_add(&g_race_submitted, 1);
  }
  return NULL;
}

static void stop_races_submitters(void **state) {
  (void)state;
  memset(g_race_after, 0, sizeof g_race_after);
  memset(g_race_accepted, 0, sizeof g_race_accepted);
  atomic_store(&g_race_submitted, 0);
  assert_int_equal(weft_threadpool_create(&g_tp, 2, 4, "race"), 0);
  assert_int_equal(weft_threadpool_start(g_tp), 0);
  pthread_t sub[SUBMITTERS];
  for (int i = 0; i < SUBMITTERS; i++)
    pthread_create(&sub[i], NULL, race_submitter, (void *)(intptr_t)i);
  /* Stop somewhere in the middle of the submissions (where exactly does
   * not matter: the check below holds for any interleaving). */
  while (atomic_load(&g_race_submitted) < RACE_PER_SUBMITTER) sched_yield();
  assert_int_equal(weft_threadpool_stop(g_tp), 0);
  for (int i = 0; i < SUBMITTERS; i++) pthread_join(sub[i], NULL);
  long ran = 0, cancelled = 0;
  for (int k = 0; k < SUBMITTERS; k++)
    for (int i = 0; i < RACE_PER_SUBMITTER; i++) {
      int a = atomic_load(&g_race_after[k][i]);
      if (g_race_accepted[k][i]) {
        if (a != 1 && a != 1000) fail_msg("accepted request %d/%d: after_cb sum %d", k, i, a);
        if (a == 1) ran++;
        else cancelled++;
      } else if (a != 0) {
        fail_msg("refused request %d/%d got after_cb (%d)", k, i, a);
      }
    }
  weft_threadpool_counters c;
  weft_threadpool_counters_get(g_tp, &c);
  printf("stop race: %ld ran, %ld cancelled, %ld accepted\n", ran, cancelled,
         atomic_load(&g_race_submitted));
  assert_int_equal(ran + cancelled, atomic_load(&g_race_submitted));
  assert_int_equal(c.executed, (uint64_t)ran);
  assert_int_equal(c.cancelled, (uint64_t)cancelled);
  assert_int_equal(weft_threadpool_destroy(g_tp), 0);
}

static void stress_reduced(void **state) {
  (void)state;
  run_stress(300000, 16);
}

static void stress_many_threads(void **state) {
  (void)state;
  run_stress(100000, 64);
}

static void stress_full(void **state) {
  (void)state;
  run_stress(10000000, 64);
}

int main(void) {
  const char *full = getenv("WEFT_STRESS_FULL");
  if (full && strcmp(full, "1") == 0) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(stress_full)};
    return cmocka_run_group_tests(tests, NULL, NULL);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stress_reduced),
      cmocka_unit_test(stress_many_threads),
      cmocka_unit_test(stop_races_submitters),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
