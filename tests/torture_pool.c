/*
 * torture_pool — ThreadPool torture in the style of ck's and liburcu's
 * validate programs: every accepted task is accounted for exactly once.
 *
 *   torture_pool SUBMITTERS ITERATIONS ROUNDS MAX_THREADS [SECONDS]
 *
 * Each round makes a pool and lets SUBMITTERS threads submit ITERATIONS tasks
 * each, of the three kinds (call_in_thread, call_in_thread_with_callback,
 * queue_work); one task in four spawns two children from inside the worker
 * (local ring pushes, so idle workers steal). Meanwhile a churn thread
 * resizes the pool (adjust_poolsize, start_a_worker, stop_a_worker), and on
 * odd rounds a stopper thread stops the pool halfway through (stop/submit
 * race: late submits get WEFT_EQUIT). At the end of a round every task id
 * that was accepted must have run once or been cancelled once (owner told),
 * every refused id never ran. With SECONDS > 0 rounds repeat until that much
 * time has passed (scripts/soak.sh). With WEFT_TORTURE_SPAWN_FAIL=N in the
 * environment, one pool-thread creation in N fails (a thread factory hook),
 * so rounds also run short of workers or with none at all. Exit status 0 on
 * success; on a violation it prints the task and exits 1.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/weft.h"

#define CHILDREN 2

#include "test_sync.h"

/* ------------------------------------------------------------ the round */

enum { ACC_NO = 0, ACC_YES = 1, ACC_REFUSED = 2 };

typedef struct round_state {
  weft_threadpool *tp;
  int submitters, iterations, max_threads;
  long cap;                    /* ids available */
  atomic_long next_id;
  _Atomic unsigned char *accepted;
  atomic_int *ran, *cancelled;
  unsigned char *kind;
  weft_work *reqs;
  atomic_long log_cancels, refused, top_refused, other_errors;
  atomic_int submitters_done;
  /* Tasks accepted and not finished (a parent finishes after submitting its
   * children). Rounds without a racing stopper wait for it to reach 0 before
   * stop(), so a lost wake-up hangs the round instead of being rescued by
   * stop's drain. */
  atomic_long outstanding;
  pthread_mutex_t idle_mu;
  pthread_cond_t idle_cv;
  latch halfway;               /* submitter 0 at half its work */
  pthread_barrier_t start;
} round_state;

static round_state *g;

static void fail(const char *what, long id) {
  fprintf(stderr, "torture_pool: FAILED: %s (task %ld)\n", what, id);
  exit(1);
}

static long new_id(void) {
  long id = atomic_fetch_add(&g->next_id, 1);
  if (id >= g->cap) fail("id space exhausted (test bug)", id);
  return id;
}

static int submit_one(long id, unsigned seed);

static void poke_waiter(void) {
  pthread_mutex_lock(&g->idle_mu);
  pthread_cond_broadcast(&g->idle_cv);
  pthread_mutex_unlock(&g->idle_mu);
}

static void task_finished(void) {
  if (atomic_fetch_sub(&g->outstanding, 1) == 1) poke_waiter();
}

static void run_body(long id) {
  if (atomic_fetch_add(&g->ran[id], 1) != 0) fail("ran twice", id);
  if (id % 4 == 0 && g->kind[id] != 9) { /* spawn children from inside the worker */
    for (int c = 0; c < CHILDREN; c++) submit_one(new_id(), (unsigned)id * 31u + (unsigned)c);
  }
  task_finished();
}

static void t_task(void *arg) { run_body((long)(intptr_t)arg); }
static int t_call(void *arg, void **result) {
  run_body((long)(intptr_t)arg);
  *result = arg;
  return 0;
}
static void t_result(void *ctx, int status, void *result) {
  long id = (long)(intptr_t)ctx;
  if (status == WEFT_ECANCELED) {
    if (atomic_fetch_add(&g->cancelled[id], 1) != 0) fail("cancelled twice", id);
    task_finished();
  } else if (status != 0 || result != ctx) {
    atomic_fetch_add(&g->other_errors, 1);
  }
}
static void t_work(weft_work *req) { run_body((long)(intptr_t)req->data); }
static void t_after(weft_work *req, int status) {
  long id = (long)(intptr_t)req->data;
  if (status == WEFT_ECANCELED) {
    if (atomic_fetch_add(&g->cancelled[id], 1) != 0) fail("cancelled twice", id);
    task_finished();
  } else if (status != 0) {
    atomic_fetch_add(&g->other_errors, 1);
  }
}
static void t_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) {
    atomic_fetch_add(&g->log_cancels, 1);
    task_finished();
  }
  else if (err != WEFT_EAGAIN) atomic_fetch_add(&g->other_errors, 1);
}

static int submit_one(long id, unsigned seed) {
  int kind = (int)(seed % 3u);
  g->kind[id] = (unsigned char)kind;
  void *arg = (void *)(intptr_t)id;
  int rc;
  atomic_fetch_add(&g->outstanding, 1);
  if (kind == 0) rc = weft_threadpool_call_in_thread(g->tp, t_task, arg);
  else if (kind == 1) rc = weft_threadpool_call_in_thread_with_callback(g->tp, t_result, arg, t_call, arg);
  else {
    g->reqs[id].data = arg;
    rc = weft_threadpool_queue_work(g->tp, &g->reqs[id], t_work, t_after);
  }
  if (rc == 0) {
    atomic_store(&g->accepted[id], ACC_YES);
  } else if (rc == WEFT_EQUIT) {
    atomic_store(&g->accepted[id], ACC_REFUSED);
    atomic_fetch_add(&g->refused, 1);
    task_finished();
  } else {
    fail("submit returned an unexpected code", id);
  }
  return rc;
}

static void *submitter(void *arg) {
  int me = (int)(intptr_t)arg;
  unsigned seed = 0x9e3779b9u * (unsigned)(me + 1);
  pthread_barrier_wait(&g->start);
  for (int i = 0; i < g->iterations; i++) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    if (submit_one(new_id(), seed) == WEFT_EQUIT) atomic_fetch_add(&g->top_refused, 1);
    if (me == 0 && i == g->iterations / 2) latch_count_down(&g->halfway);
  }
  if (me == 0 && g->iterations < 2) latch_count_down(&g->halfway);
  atomic_fetch_add(&g->submitters_done, 1);
  poke_waiter();
  return NULL;
}

static void *churn(void *arg) {
  (void)arg;
  unsigned seed = 12345u;
  pthread_barrier_wait(&g->start);
  while (atomic_load(&g->submitters_done) < g->submitters) {
    seed = seed * 1103515245u + 12345u;
    int max = 1 + (int)((seed >> 8) % (unsigned)g->max_threads);
    int min = (int)((seed >> 16) % (unsigned)(max + 1));
    int rc = weft_threadpool_adjust_poolsize(g->tp, min, max);
    if (rc != 0 && rc != WEFT_EQUIT && rc != WEFT_EAGAIN) fail("adjust_poolsize", rc);
    switch ((seed >> 24) % 4u) {
    case 0: (void)weft_threadpool_start_a_worker(g->tp); break;
    case 1: (void)weft_threadpool_stop_a_worker(g->tp); break;
    default: break;
    }
    (void)weft_threadpool_workers(g->tp);
    (void)weft_threadpool_queue_size(g->tp);
  }
  /* Leave the pool able to finish its backlog. */
  (void)weft_threadpool_adjust_poolsize(g->tp, 1, g->max_threads);
  return NULL;
}

static void *stopper(void *arg) {
  (void)arg;
  pthread_barrier_wait(&g->start);
  latch_wait(&g->halfway);
  int rc = weft_threadpool_stop(g->tp);
  if (rc != 0) fail("stop from a foreign thread", rc);
  return NULL;
}

typedef struct totals {
  long accepted, ran, cancelled, refused;
} totals;

static atomic_uint g_spawn_counter;
static unsigned g_spawn_fail_every; /* 0: never */
static atomic_long g_spawn_failures;

static int flaky_factory(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                         const char *name) {
  (void)ctx;
  if (g_spawn_fail_every && atomic_fetch_add(&g_spawn_counter, 1) % g_spawn_fail_every == 0) {
    atomic_fetch_add(&g_spawn_failures, 1);
    return WEFT_EAGAIN;
  }
  return weft_default_thread_factory(NULL, thread, start, arg, name);
}

static void start_thread(pthread_t *t, void *(*fn)(void *), void *arg) {
  if (pthread_create(t, NULL, fn, arg) != 0) fail("pthread_create for a test thread", 0);
}

static void one_round(int submitters, int iterations, int max_threads, int race_stop,
                      totals *tot) {
  round_state st;
  memset(&st, 0, sizeof st);
  g = &st;
  st.submitters = submitters;
  st.iterations = iterations;
  st.max_threads = max_threads;
  st.cap = (long)submitters * iterations * (1 + CHILDREN) + 16;
  st.accepted = calloc((size_t)st.cap, sizeof *st.accepted);
  st.ran = calloc((size_t)st.cap, sizeof *st.ran);
  st.cancelled = calloc((size_t)st.cap, sizeof *st.cancelled);
  st.kind = calloc((size_t)st.cap, 1);
  st.reqs = calloc((size_t)st.cap, sizeof *st.reqs);
  if (!st.accepted || !st.ran || !st.cancelled || !st.kind || !st.reqs) fail("out of memory", 0);
  latch_init(&st.halfway, 1);
  pthread_mutex_init(&st.idle_mu, NULL);
  pthread_cond_init(&st.idle_cv, NULL);
  int nthreads = submitters + 1 + (race_stop ? 1 : 0);
  pthread_barrier_init(&st.start, NULL, (unsigned)nthreads);

  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = max_threads;
  o.name = "torture";
  o.log = t_log;
  o.spin_us = 5;
  if (g_spawn_fail_every) o.thread_factory = flaky_factory;
  if (weft_threadpool_create_ex(&st.tp, &o) != 0) fail("create", 0);
  int src = weft_threadpool_start(st.tp);
  if (src != 0 && src != WEFT_EAGAIN) fail("start", src);

  pthread_t th[64 + 2];
  int n = 0;
  for (int i = 0; i < submitters; i++) start_thread(&th[n++], submitter, (void *)(intptr_t)i);
  start_thread(&th[n++], churn, NULL);
  if (race_stop) start_thread(&th[n++], stopper, NULL);
  if (!race_stop && !g_spawn_fail_every) {
    /* Every accepted task must finish with the pool still running. */
    pthread_mutex_lock(&st.idle_mu);
    while (atomic_load(&st.submitters_done) < submitters || atomic_load(&st.outstanding) != 0)
      pthread_cond_wait(&st.idle_cv, &st.idle_mu);
    pthread_mutex_unlock(&st.idle_mu);
  }
  for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
  int rc = weft_threadpool_stop(st.tp);
  if (rc != 0 && !(race_stop && rc == WEFT_EQUIT)) fail("stop", rc);
  if (weft_threadpool_destroy(st.tp) != 0) fail("destroy", 0);

  long ids = atomic_load(&st.next_id), unran_log_owned = 0;
  for (long id = 0; id < ids; id++) {
    int acc = atomic_load(&st.accepted[id]);
    int r = atomic_load(&st.ran[id]), c = atomic_load(&st.cancelled[id]);
    if (acc == ACC_YES) {
      tot->accepted++;
      if (r + c > 1) fail("ran and cancelled", id);
      if (r) tot->ran++;
      else if (c) tot->cancelled++;
      else if (st.kind[id] == 0) unran_log_owned++;
      else fail("accepted task neither ran nor was cancelled (lost)", id);
    } else {
      if (r || c) fail("a refused task ran or was cancelled", id);
      if (acc == ACC_REFUSED) tot->refused++;
      else fail("submit never returned for this id (test bug)", id);
    }
  }
  if (unran_log_owned != atomic_load(&st.log_cancels))
    fail("call_in_thread tasks lost: not run and not reported to the log", unran_log_owned);
  tot->cancelled += unran_log_owned;
  tot->ran += 0;
  if (atomic_load(&st.other_errors)) fail("unexpected error status", atomic_load(&st.other_errors));
  /* Children submitted while the final stop drains may be refused; a
   * submitter is refused only in a round whose pool a stopper closed. */
  if (!race_stop && atomic_load(&st.top_refused)) fail("refusals without a stop", 0);

  pthread_barrier_destroy(&st.start);
  latch_destroy(&st.halfway);
  pthread_mutex_destroy(&st.idle_mu);
  pthread_cond_destroy(&st.idle_cv);
  free(st.accepted);
  free(st.ran);
  free(st.cancelled);
  free(st.kind);
  free(st.reqs);
  g = NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s SUBMITTERS ITERATIONS ROUNDS MAX_THREADS [SECONDS]\n", argv[0]);
    return 2;
  }
  int submitters = atoi(argv[1]), iterations = atoi(argv[2]), rounds = atoi(argv[3]),
      max_threads = atoi(argv[4]);
  double seconds = argc > 5 ? atof(argv[5]) : 0;
  if (submitters < 1 || submitters > 64 || iterations < 1 || rounds < 1 || max_threads < 1) {
    fprintf(stderr, "torture_pool: bad arguments\n");
    return 2;
  }
  const char *sf = getenv("WEFT_TORTURE_SPAWN_FAIL");
  g_spawn_fail_every = sf ? (unsigned)atoi(sf) : 0;
  totals tot = {0};
  double t0 = now_s();
  int r;
  for (r = 0; seconds > 0 ? now_s() - t0 < seconds : r < rounds; r++)
    one_round(submitters, iterations, max_threads, r % 2 == 1, &tot);
  printf("torture_pool: %d rounds, %ld tasks accepted: %ld ran, %ld cancelled (owner told), "
         "%ld refused after stop, 0 lost, %ld thread creations failed, %.1f s\n",
         r, tot.accepted, tot.ran, tot.cancelled, tot.refused, atomic_load(&g_spawn_failures),
         now_s() - t0);
  return 0;
}
