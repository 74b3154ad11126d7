/*
 * Task batches (lib/engine/task_batch.h, design.md E8.1): a submit window's flush
 * reaches the engine as one batch node. Each task in it runs exactly once,
 * in order on a single worker; a batch is split between workers and waits
 * in part in `held`; the 64-batch pool runs out and the flush falls back to
 * a chain; stop cancels what queued batches still hold; every batch goes
 * back to the pool. No sleeps: latches and the engine's own stop.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/submit_window.h"
#include "engine/task_batch.h"
#include "test_sync.h"

#define NJOBS 8192

typedef struct job {
  weft__task task;
  int id;
} job;

static job g_jobs[NJOBS];
static _Atomic int g_runs[NJOBS], g_cancels[NJOBS];
static _Atomic int g_order[NJOBS];
static _Atomic int g_ran;
static sync_t g_done; /* counts runs and cancels */

static void job_run(weft__task *t) {
  job *j = (job *)t;
  atomic_fetch_add(&g_runs[j->id], 1);
  atomic_store(&g_order[atomic_fetch_add(&g_ran, 1)], j->id);
  count_up(&g_done);
}

static void job_cancel(weft__task *t, int status) {
  assert_int_equal(status, WEFT_ECANCELED);
  atomic_fetch_add(&g_cancels[((job *)t)->id], 1);
  count_up(&g_done);
}

static int setup(void **state) {
  (void)state;
  for (int i = 0; i < NJOBS; i++) {
    g_jobs[i].id = i;
    g_jobs[i].task.run = job_run;
    g_jobs[i].task.cancel = job_cancel;
    atomic_store(&g_runs[i], 0);
    atomic_store(&g_cancels[i], 0);
  }
  atomic_store(&g_ran, 0);
  sync_init(&g_done);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  sync_fini(&g_done);
  return 0;
}

static weft__engine *make_engine(int workers) {
  weft__engine_config cfg = {.name_prefix = "batch", .spin_us = 20, .capacity = 8};
  weft__engine *e = NULL;
  assert_int_equal(weft__engine_create(&e, &cfg), 0);
  weft__engine_set_limit(e, workers);
  if (workers > 0) assert_int_equal(weft__engine_grow(e, workers, WEFT__MADE_GROW), workers);
  return e;
}

/* Submit jobs [from, from + n) through one window (n <= WEFT__WINDOW_MAX). */
static void submit_window(weft__engine *e, int from, int n) {
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  for (int i = from; i < from + n; i++) assert_int_equal(weft__engine_submit(e, &g_jobs[i].task), 0);
  weft__submit_window_close(&w);
}

static int batches_free(weft__engine *e) {
  return __builtin_popcountll(atomic_load(&e->batch_free));
}

static void each_ran_once(int n) {
  for (int i = 0; i < n; i++) {
    assert_int_equal(atomic_load(&g_runs[i]), 1);
    assert_int_equal(atomic_load(&g_cancels[i]), 0);
  }
}

/* One worker: a full window is one batch, run in submit order. */
static void one_batch_in_order(void **state) {
  (void)state;
  weft__engine *e = make_engine(1);
  submit_window(e, 0, WEFT__WINDOW_MAX);
  assert_non_null(atomic_load(&e->batch_pool));
  count_wait(&g_done, WEFT__WINDOW_MAX);
  for (int i = 0; i < (int)WEFT__WINDOW_MAX; i++) assert_int_equal(atomic_load(&g_order[i]), i);
  each_ran_once(WEFT__WINDOW_MAX);
  assert_int_equal(weft__engine_stop(e), 0);
  assert_int_equal(batches_free(e), WEFT__BATCH_POOL); /* it went back */
  assert_int_equal(weft__engine_destroy(e), 0);
}

/* No worker yet: 64 windows take every batch, the 65th and 66th flush as
 * chains; the backlog counts tasks, held or not. Then workers start and run
 * each task once, batches and chains in FIFO order (one worker). */
static void pool_runs_out_then_chains(void **state) {
  (void)state;
  weft__engine *e = make_engine(0);
  const int per = 4, windows = (int)WEFT__BATCH_POOL + 2;
  for (int k = 0; k < windows; k++) submit_window(e, k * per, per);
  assert_int_equal(batches_free(e), 0);
  assert_int_equal((int)weft__engine_backlog(e), windows * per);
  weft__engine_set_limit(e, 1);
  assert_int_equal(weft__engine_grow(e, 1, WEFT__MADE_GROW), 1);
  count_wait(&g_done, windows * per);
  for (int i = 0; i < windows * per; i++) assert_int_equal(atomic_load(&g_order[i]), i);
  each_ran_once(windows * per);
  assert_int_equal(weft__engine_stop(e), 0);
  assert_int_equal(batches_free(e), WEFT__BATCH_POOL);
  assert_int_equal(weft__engine_destroy(e), 0);
}

/* Nobody ever runs them: stop cancels every task each queued batch (and
 * chain) holds, once, and the batches go back. */
static void stop_cancels_what_batches_hold(void **state) {
  (void)state;
  weft__engine *e = make_engine(0);
  for (int k = 0; k < 3; k++) submit_window(e, k * (int)WEFT__WINDOW_MAX, WEFT__WINDOW_MAX);
  submit_window(e, 3 * (int)WEFT__WINDOW_MAX, 1); /* a lone task: a plain node */
  const int n = 3 * (int)WEFT__WINDOW_MAX + 1;
  assert_int_equal(weft__engine_stop(e), 0);
  assert_int_equal(count_get(&g_done), n);
  for (int i = 0; i < n; i++) {
    assert_int_equal(atomic_load(&g_runs[i]), 0);
    assert_int_equal(atomic_load(&g_cancels[i]), 1);
  }
  assert_int_equal(batches_free(e), WEFT__BATCH_POOL);
  assert_int_equal(weft__engine_destroy(e), 0);
}

/* Two workers, three flushing threads: batches are split between the
 * workers (a worker takes backlog/live + 1, the rest waits in `held`) and
 * stolen from rings; the pool runs out now and then. Each task once. */
typedef struct flusher {
  weft__engine *e;
  int from, count;
} flusher;

static void *flush_main(void *arg) {
  flusher *f = arg;
  for (int i = f->from; i < f->from + f->count; i += (int)WEFT__WINDOW_MAX) {
    int n = f->from + f->count - i;
    submit_window(f->e, i, n < (int)WEFT__WINDOW_MAX ? n : (int)WEFT__WINDOW_MAX);
  }
  return NULL;
}

static void split_between_workers_each_once(void **state) {
  (void)state;
  weft__engine *e = make_engine(2);
  enum { T = 3 };
  pthread_t th[T];
  flusher f[T];
  int per = NJOBS / T;
  for (int t = 0; t < T; t++) {
    f[t] = (flusher){e, t * per, per};
    assert_int_equal(pthread_create(&th[t], NULL, flush_main, &f[t]), 0);
  }
  for (int t = 0; t < T; t++) pthread_join(th[t], NULL);
  count_wait(&g_done, T * per);
  each_ran_once(T * per);
  assert_int_equal(weft__engine_stop(e), 0);
  assert_int_equal(batches_free(e), WEFT__BATCH_POOL);
  assert_null(atomic_load(&e->inject.held));
  assert_int_equal(weft__engine_destroy(e), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(one_batch_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown(pool_runs_out_then_chains, setup, teardown),
      cmocka_unit_test_setup_teardown(stop_cancels_what_batches_hold, setup, teardown),
      cmocka_unit_test_setup_teardown(split_between_workers_each_once, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
