/*
 * torture_reactor — reactor round trips under load, every call accounted for
 * exactly once.
 *
 *   torture_reactor THREADS CALLS CHAINS CHAIN_LENGTH [SECONDS]
 *
 * THREADS foreign threads each make CALLS call_from_thread calls (checked on
 * the reactor thread: exactly once and FIFO per calling thread), every 64th
 * of them a blocking_call_from_thread whose result is checked. On the reactor
 * thread CHAINS deferToThread chains run CHAIN_LENGTH round trips each: each
 * Deferred's callback submits the next; each work function, on a pool
 * thread, also makes a call_from_thread back (worker → loop). The reactor
 * stops once every count is complete; a lost call hangs the program (the
 * ctest timeout fails it), a duplicate or reordered one fails at once.
 * With SECONDS > 0 whole runs repeat until that much time has passed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft/weft.h"

static int n_threads, n_calls, n_chains, chain_len;

typedef struct state {
  weft_reactor *r;
  pthread_barrier_t go;
  /* reactor-thread-only counters */
  long *next_seq;           /* per foreign thread: next expected sequence */
  long foreign_done, chain_steps, chains_done, worker_calls, blocking_done;
  int stopping;
  atomic_long worker_calls_sent;
} state;

static state S;

static void fail(const char *what, long v) {
  fprintf(stderr, "torture_reactor: FAILED: %s (%ld)\n", what, v);
  exit(1);
}

static void maybe_stop(void) {
  long want_worker = (long)n_chains * chain_len;
  if (!S.stopping && S.foreign_done == (long)n_threads * n_calls && S.chains_done == n_chains &&
      S.worker_calls == want_worker) {
    S.stopping = 1;
    if (weft_reactor_stop(S.r) != 0) fail("stop", 0);
  }
}

/* ---------------------------------------------------- foreign threads */

typedef struct call_msg {
  int thread;
  long seq;
} call_msg;

static void on_foreign_call(void *arg) {
  call_msg *m = arg;
  if (!weft_reactor_is_in_io_thread(S.r)) fail("call_from_thread ran off the reactor thread", m->seq);
  if (m->seq != S.next_seq[m->thread]) fail("call_from_thread out of order or duplicated", m->seq);
  S.next_seq[m->thread]++;
  S.foreign_done++;
  free(m);
  maybe_stop();
}

static int blocking_fn(void *ctx, weft_result *res) {
  weft_result_set_value(res, (void *)((intptr_t)ctx * 2));
  S.blocking_done++;
  return 0;
}

static void *foreign(void *arg) {
  int me = (int)(intptr_t)arg;
  pthread_barrier_wait(&S.go);
  for (long i = 0; i < n_calls; i++) {
    if (i % 64 == 63) {
      void *v = NULL;
      int rc = weft_blocking_call_from_thread(S.r, blocking_fn, (void *)(intptr_t)(i + 1), &v, NULL);
      if (rc != 0 || (intptr_t)v != (i + 1) * 2) fail("blocking_call_from_thread", rc);
    }
    call_msg *m = malloc(sizeof *m);
    if (!m) fail("out of memory", i);
    m->thread = me;
    m->seq = i;
    int rc = weft_reactor_call_from_thread(S.r, on_foreign_call, m);
    if (rc != 0) fail("call_from_thread", rc);
  }
  return NULL;
}

/* --------------------------------------------------------- the chains */

static void on_worker_call(void *arg) {
  (void)arg;
  S.worker_calls++;
  maybe_stop();
}

static int chain_work(void *arg, void **result) {
  if (weft_reactor_is_in_io_thread(S.r)) fail("work ran on the reactor thread", 0);
  atomic_fetch_add(&S.worker_calls_sent, 1);
  if (weft_reactor_call_from_thread(S.r, on_worker_call, NULL) != 0) fail("worker call", 0);
  *result = (void *)((intptr_t)arg + 1);
  return 0;
}

typedef struct chain {
  long step;
} chain;

static int chain_next(void *ctx, weft_result *res);

static void chain_submit(chain *c) {
  weft_deferred *d = NULL;
  int rc = weft_defer_to_thread(S.r, chain_work, (void *)(intptr_t)c->step, &d);
  if (rc != 0) fail("defer_to_thread", rc);
  if (weft_deferred_add_both(d, chain_next, c) != 0) fail("add_both", 0);
  weft_deferred_unref(d);
}

static int chain_next(void *ctx, weft_result *res) {
  chain *c = ctx;
  if (res->failure) fail("deferToThread errback", weft_failure_code(res->failure));
  if ((intptr_t)res->value != c->step + 1) fail("wrong deferToThread result", c->step);
  S.chain_steps++;
  if (++c->step < chain_len) chain_submit(c);
  else {
    S.chains_done++;
    maybe_stop();
  }
  return 0;
}

static void on_running(void *arg) {
  chain *chains = arg;
  for (int i = 0; i < n_chains; i++) chain_submit(&chains[i]);
  pthread_barrier_wait(&S.go); /* release the foreign threads */
  maybe_stop();
}

static void one_run(long *totals) {
  memset(&S, 0, sizeof S);
  S.next_seq = calloc((size_t)n_threads, sizeof *S.next_seq);
  chain *chains = calloc((size_t)n_chains + 1, sizeof *chains);
  if (!S.next_seq || !chains) fail("out of memory", 0);
  pthread_barrier_init(&S.go, NULL, (unsigned)n_threads + 1);
  if (weft_reactor_create(&S.r) != 0) fail("reactor create", 0);
  weft_threadpool *tp = NULL;
  if (weft_reactor_get_thread_pool(S.r, &tp) != 0) fail("get pool", 0);
  if (weft_reactor_suggest_thread_pool_size(S.r, 4) != 0) fail("suggest size", 0);
  pthread_t th[64];
  for (int i = 0; i < n_threads; i++)
    if (pthread_create(&th[i], NULL, foreign, (void *)(intptr_t)i) != 0) fail("pthread_create", i);
  if (weft_reactor_call_when_running(S.r, on_running, chains) != 0) fail("call_when_running", 0);
  if (weft_reactor_run(S.r) != 0) fail("run", 0);
  for (int i = 0; i < n_threads; i++) pthread_join(th[i], NULL);
  if (weft_reactor_destroy(S.r) != 0) fail("destroy", 0);
  if (S.chain_steps != (long)n_chains * chain_len) fail("chain steps", S.chain_steps);
  if (S.worker_calls != atomic_load(&S.worker_calls_sent)) fail("worker calls lost", S.worker_calls);
  long want_blocking = (long)n_threads * (n_calls / 64);
  if (S.blocking_done != want_blocking) fail("blocking calls", S.blocking_done);
  totals[0] += S.foreign_done;
  totals[1] += S.chain_steps;
  totals[2] += S.worker_calls;
  totals[3] += S.blocking_done;
  pthread_barrier_destroy(&S.go);
  free(S.next_seq);
  free(chains);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s THREADS CALLS CHAINS CHAIN_LENGTH [SECONDS]\n", argv[0]);
    return 2;
  }
  n_threads = atoi(argv[1]);
  n_calls = atoi(argv[2]);
  n_chains = atoi(argv[3]);
  chain_len = atoi(argv[4]);
  double seconds = argc > 5 ? atof(argv[5]) : 0;
  if (n_threads < 1 || n_threads > 64 || n_calls < 1 || n_chains < 0 || chain_len < 1) {
    fprintf(stderr, "torture_reactor: bad arguments\n");
    return 2;
  }
  long totals[4] = {0};
  double t0 = now_s();
  int runs = 0;
  do {
    one_run(totals);
    runs++;
  } while (seconds > 0 && now_s() - t0 < seconds);
  printf("torture_reactor: %d runs: %ld calls from threads, %ld deferToThread round trips, "
         "%ld worker->loop calls, %ld blocking calls, 0 lost, %.1f s\n",
         runs, totals[0], totals[1], totals[2], totals[3], now_s() - t0);
  return 0;
}
