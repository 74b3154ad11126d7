/*
 * torture_team — Team torture: exactly-once accounting under resize churn.
 *
 *   torture_team SUBMITTERS ITERATIONS ROUNDS [SECONDS]
 *
 * Even rounds use weft_team_create with ThreadWorkers (up to 4) and the
 * default lock-free coordinator; odd rounds use weft_pool() (the engine)
 * with a current_limit the churn thread moves between 1 and 4. SUBMITTERS
 * threads call weft_team_do ITERATIONS times each; one task in four calls
 * weft_team_do again from inside its worker (re-entrant). A churn thread
 * grows and shrinks the team and reads its statistics. Every round waits
 * until every accepted task finished before it quits the team (a lost
 * wake-up hangs the round), then quits and destroys it (retrying while
 * destroy says WEFT_EBUSY, as documented). Every task id must run exactly
 * once; none may be reported cancelled, since workers exist throughout.
 *
 * WEFT_TORTURE_CHURN_OPS=N: resize operations per round (default 200; 0: no
 * limit, the churn thread grows and shrinks in a tight loop, without
 * yielding, until the submitters are done). Unlimited churn used to hold a submitter inside
 * weft_team_do for ever (the coordinator's drain had no bound); with the
 * bounded drain the role moves to the churn thread instead.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/weft.h"

typedef struct round_state {
  weft_team *team;
  int submitters, iterations;
  long cap;
  atomic_long next_id, outstanding, log_cancels, log_other;
  atomic_int *ran;
  _Atomic unsigned char *accepted;
  atomic_int submitters_done, workers_made, limit;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_barrier_t go;
} round_state;

static round_state *g;

static void fail(const char *what, long v) {
  fprintf(stderr, "torture_team: FAILED: %s (%ld)\n", what, v);
  exit(1);
}

static void poke(void) {
  pthread_mutex_lock(&g->mu);
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

static void submit(void);

static void task(void *arg) {
  long id = (long)(intptr_t)arg;
  if (atomic_fetch_add(&g->ran[id], 1) != 0) fail("ran twice", id);
  if (id % 4 == 0) submit(); /* re-entrant do() from inside a worker */
  if (atomic_fetch_sub(&g->outstanding, 1) == 1) poke();
}

static void submit(void) {
  long id = atomic_fetch_add(&g->next_id, 1);
  if (id >= g->cap) fail("id space exhausted (test bug)", id);
  atomic_fetch_add(&g->outstanding, 1);
  int rc = weft_team_do(g->team, task, (void *)(intptr_t)id);
  if (rc != 0) fail("weft_team_do", rc);
  atomic_store(&g->accepted[id], 1);
}

static void team_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) atomic_fetch_add(&g->log_cancels, 1);
  else atomic_fetch_add(&g->log_other, 1);
}

/* The generic Team creates a worker whenever none is idle, as long as
 * create_worker says yes: a counting wrapper around a ThreadWorker keeps at
 * most `limit` alive (Twisted's pool() does the same with len(workers)). */
typedef struct counted_worker {
  weft_worker base;
  weft_worker *inner;
  atomic_int released;             /* a second release is a Team bug */
  struct counted_worker *next_dead; /* quarantine: freed at the end of the run */
} counted_worker;

static atomic_int g_live_workers;
static _Atomic(counted_worker *) g_dead;

/* After release a wrapper's ops table is swapped for one that fails: a Team
 * (or the worker base) that touches a worker after releasing it is caught. */
static int dead_do(weft_worker *w, weft_fn fn, void *arg) {
  (void)w;
  (void)fn;
  (void)arg;
  fail("do() on a worker after its release", 0);
  return 0;
}
static int dead_quit(weft_worker *w) {
  (void)w;
  fail("quit() on a worker after its release", 0);
  return 0;
}
static void dead_release(weft_worker *w) {
  (void)w;
  fail("release() twice", 0);
}
static const weft_worker_ops dead_ops = {dead_do, dead_quit, dead_release};

static int cw_do(weft_worker *w, weft_fn fn, void *arg) {
  return weft_worker_do(((counted_worker *)w)->inner, fn, arg);
}
static int cw_quit(weft_worker *w) { return weft_worker_quit(((counted_worker *)w)->inner); }
static void cw_release(weft_worker *w) {
  counted_worker *c = (counted_worker *)w;
  if (atomic_fetch_add(&c->released, 1) != 0) fail("the Team released a worker twice", 0);
  weft_worker_release(c->inner);
  c->inner = NULL;
  c->base.ops = &dead_ops;
  atomic_fetch_sub(&g_live_workers, 1);
  /* Kept (not freed) until the end, so that a use after release by the
   * Team reads a wrapper marked released instead of recycled memory. */
  counted_worker *head = atomic_load(&g_dead);
  do {
    c->next_dead = head;
  } while (!atomic_compare_exchange_weak(&g_dead, &head, c));
}
static const weft_worker_ops cw_ops = {cw_do, cw_quit, cw_release};

static weft_worker *make_thread_worker(void *ctx) {
  (void)ctx;
  if (atomic_fetch_add(&g_live_workers, 1) >= atomic_load(&g->limit)) {
    atomic_fetch_sub(&g_live_workers, 1);
    return NULL;
  }
  counted_worker *c = calloc(1, sizeof *c);
  if (!c || weft_thread_worker_create(&c->inner, NULL, NULL, "torture-team") != 0 ||
      weft_worker_init(&c->base, &cw_ops) != 0) {
    if (c && c->inner) weft_worker_release(c->inner);
    free(c);
    atomic_fetch_sub(&g_live_workers, 1);
    return NULL;
  }
  atomic_fetch_add(&g->workers_made, 1);
  return &c->base;
}

static int churned_limit(void *ctx) {
  (void)ctx;
  return atomic_load(&g->limit);
}

static void *submitter(void *arg) {
  (void)arg;
  pthread_barrier_wait(&g->go);
  for (int i = 0; i < g->iterations; i++) submit();
  atomic_fetch_add(&g->submitters_done, 1);
  poke();
  return NULL;
}

static long g_churn_ops = 200;
static atomic_long g_churn_done; /* resize/statistics operations, all rounds */

static void *churn(void *arg) {
  (void)arg;
  unsigned seed = 777u;
  pthread_barrier_wait(&g->go);
  /* By default a bounded number of resize operations per round, which keeps
   * the run short; see WEFT_TORTURE_CHURN_OPS above for the tight loop. */
  for (long ops = 0; (g_churn_ops == 0 || ops < g_churn_ops) &&
                     atomic_load(&g->submitters_done) < g->submitters;
       ops++) {
    seed = seed * 1103515245u + 12345u;
    /* unlimited churn: up to 32 workers, so grow items create threads (slow
     * items, enqueued faster than a drainer runs them) */
    atomic_store(&g->limit, 1 + (int)((seed >> 10) % (g_churn_ops ? 4u : 32u)));
    int rc;
    switch ((seed >> 20) % 3u) {
    case 0: rc = weft_team_grow(g->team, 1 + (int)((seed >> 4) % 2u)); break;
    case 1: rc = weft_team_shrink(g->team, 1); break;
    default: {
      weft_team_statistics st;
      rc = weft_team_statistics_get(g->team, &st);
      if (st.idle_workers < 0 || st.busy_workers < 0) fail("negative statistics", 0);
      break;
    }
    }
    if (rc < 0 && rc != WEFT_EAGAIN) fail("grow/shrink/statistics", rc);
    atomic_fetch_add(&g_churn_done, 1);
    if (g_churn_ops != 0) sched_yield(); /* unlimited churn: as fast as it can */
  }
  atomic_store(&g->limit, 4);
  return NULL;
}

static long one_round(int submitters, int iterations, int use_pool) {
  round_state st;
  memset(&st, 0, sizeof st);
  g = &st;
  st.submitters = submitters;
  st.iterations = iterations;
  st.cap = (long)submitters * iterations * 2 + 16;
  st.ran = calloc((size_t)st.cap, sizeof *st.ran);
  st.accepted = calloc((size_t)st.cap, sizeof *st.accepted);
  if (!st.ran || !st.accepted) fail("out of memory", 0);
  atomic_store(&st.limit, 4);
  pthread_mutex_init(&st.mu, NULL);
  pthread_cond_init(&st.cv, NULL);
  pthread_barrier_init(&st.go, NULL, (unsigned)submitters + 1);
  int rc = use_pool ? weft_pool(&st.team, churned_limit, NULL, NULL, NULL, "torture-pool")
                    : weft_team_create(&st.team, NULL, make_thread_worker, NULL, team_log, NULL);
  if (rc != 0) fail("team create", rc);
  pthread_t th[65];
  for (int i = 0; i < submitters; i++)
    if (pthread_create(&th[i], NULL, submitter, NULL) != 0) fail("pthread_create", i);
  if (pthread_create(&th[submitters], NULL, churn, NULL) != 0) fail("pthread_create", -1);
  /* every accepted task finishes while the team is alive */
  pthread_mutex_lock(&st.mu);
  while (atomic_load(&st.submitters_done) < submitters || atomic_load(&st.outstanding) != 0)
    pthread_cond_wait(&st.cv, &st.mu);
  pthread_mutex_unlock(&st.mu);
  for (int i = 0; i <= submitters; i++) pthread_join(th[i], NULL);
  if (weft_team_quit(st.team) != 0) fail("quit", 0);
  while ((rc = weft_team_destroy(st.team)) == WEFT_EBUSY) sched_yield(); /* documented retry */
  if (rc != 0) fail("destroy", rc);
  long ids = atomic_load(&st.next_id);
  for (long id = 0; id < ids; id++)
    if (!atomic_load(&st.accepted[id]) || atomic_load(&st.ran[id]) != 1) fail("task not run exactly once", id);
  if (atomic_load(&st.log_cancels) || atomic_load(&st.log_other)) fail("unexpected log report", 0);
  pthread_barrier_destroy(&st.go);
  pthread_mutex_destroy(&st.mu);
  pthread_cond_destroy(&st.cv);
  free(st.ran);
  free((void *)st.accepted);
  g = NULL;
  return ids;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s SUBMITTERS ITERATIONS ROUNDS [SECONDS]\n", argv[0]);
    return 2;
  }
  int submitters = atoi(argv[1]), iterations = atoi(argv[2]), rounds = atoi(argv[3]);
  double seconds = argc > 4 ? atof(argv[4]) : 0;
  if (submitters < 1 || submitters > 64 || iterations < 1 || rounds < 1) {
    fprintf(stderr, "torture_team: bad arguments\n");
    return 2;
  }
  const char *churn_env = getenv("WEFT_TORTURE_CHURN_OPS");
  if (churn_env) g_churn_ops = atol(churn_env);
  long tasks = 0;
  double t0 = now_s();
  int r;
  for (r = 0; seconds > 0 ? now_s() - t0 < seconds : r < rounds; r++)
    tasks += one_round(submitters, iterations, r % 2);
  for (counted_worker *c = atomic_load(&g_dead), *n; c; c = n) {
    n = c->next_dead;
    free(c);
  }
  printf("torture_team: %d rounds (Team of ThreadWorkers / weft_pool), %ld tasks, each ran "
         "exactly once, 0 lost, %ld churn ops, %.1f s\n", r, tasks, atomic_load(&g_churn_done),
         now_s() - t0);
  return 0;
}
