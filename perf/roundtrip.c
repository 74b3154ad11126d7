/*
 * The Twisted-shaped round trip, alone: N weft_defer_to_thread_pool round
 * trips with K in flight on a reactor and a 1-worker pool; each Deferred's
 * callback (on the reactor thread) submits the next call, as
 * bench/impl_weft.cpp's W3 does.
 *
 *   weft_roundtrip N [K [W [qw|ctx]]]  default N = 100000, K = 1000, W = 1 worker
 *     qw: the allocation-free reference instead (queue_work, the worker hands
 *     the request back with call_from_thread_req; bench's weft_qw), to see
 *     what the Deferred machinery costs on top of the bare round trip.
 *     ctx: the Deferred round trip from a reactor thread with a current
 *     context (weft/context.h, no hooks), as a server that sets a request's
 *     context around its handling: what carrying it costs.
 *
 * Instructions per round trip on the reactor side (callgrind serialises the
 * threads; the inclusive cost of rt_complete is the whole reactor-side trip:
 * fire the Deferred, run its callback, submit the next call, free the block):
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/rt.cg ./weft_roundtrip 100000
 *   callgrind_annotate --inclusive=yes /tmp/rt.cg | grep -E 'rt_complete|queue_work|rt_after'
 *   divide by N (`bash perf/callgrind.sh 100000 rt rtqw` does all of it).
 * The worker side: rt_work + rt_after inclusive (rt_after is the push back).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/context.h"
#include "weft/threads.h"

typedef struct loop {
  weft_reactor *r;
  weft_threadpool *tp;
  long total, submitted, completed;
  int err;
} loop;

static int work(void *arg, void **result) {
  *result = arg;
  return 0;
}

static int submit(loop *l);

static int done(void *ctx, weft_result *res) {
  loop *l = ctx;
  l->completed++;
  if (res->failure != NULL && l->err == 0) l->err = weft_failure_code(res->failure);
  weft_result_set_value(res, NULL);
  if (l->err == 0 && l->submitted < l->total) submit(l);
  if (l->completed == l->submitted) weft_reactor_stop(l->r);
  return 0;
}

static int submit(loop *l) {
  weft_deferred *d = NULL;
  int rc = weft_defer_to_thread_pool(l->r, l->tp, work, l, &d);
  if (rc == 0) {
    rc = weft_deferred_add_callbacks(d, done, l, done, l);
    weft_deferred_unref(d);
  }
  if (rc != 0) l->err = rc;
  else l->submitted++;
  return rc;
}

/* ---- the bare reference: queue_work -> call_from_thread_req */
typedef struct qw_req {
  weft_work req; /* first: the callbacks get this address back */
  loop *l;
} qw_req;

static void qw_done(weft_work *w);
static void qw_work(weft_work *w) {
  qw_req *q = (qw_req *)w;
  weft_reactor_call_from_thread_req(q->l->r, w, qw_done);
}
static void qw_done(weft_work *w) {
  qw_req *q = (qw_req *)w;
  loop *l = q->l;
  l->completed++;
  if (l->err == 0 && l->submitted < l->total) {
    int rc = weft_threadpool_queue_work(l->tp, w, qw_work, NULL);
    if (rc != 0) l->err = rc;
    else l->submitted++;
  }
  if (l->completed == l->submitted) weft_reactor_stop(l->r);
}

typedef struct start {
  loop *l;
  long k;
  qw_req *reqs; /* qw mode */
  int ctx;      /* ctx mode */
} start;

static int request_context; /* ctx mode: the context the submits are made in */

static void on_start(void *arg);
static void on_start_in_context(void *arg) {
  start *s = arg;
  s->ctx = 0;
  on_start(s);
}

static void on_start(void *arg) {
  start *s = arg;
  /* The first submits in the context, as a server handles a request in its
   * own: each Deferred's callbacks then run in it, and their submits
   * capture it again. */
  if (s->ctx) {
    weft_context_call(&request_context, on_start_in_context, s);
    return;
  }
  for (long i = 0; i < s->k && s->l->submitted < s->l->total; i++) {
    if (s->reqs) {
      s->reqs[i].l = s->l;
      if (weft_threadpool_queue_work(s->l->tp, &s->reqs[i].req, qw_work, NULL) != 0) break;
      s->l->submitted++;
    } else if (submit(s->l) != 0) {
      break;
    }
  }
  if (s->l->submitted == 0) weft_reactor_stop(s->l->r);
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  long k = argc > 2 ? atol(argv[2]) : 1000;
  int w = argc > 3 ? atoi(argv[3]) : 1;
  int qw = argc > 4 && strcmp(argv[4], "qw") == 0;
  int ctx = argc > 4 && strcmp(argv[4], "ctx") == 0;
  if (argc > 4 && !qw && !ctx) {
    fprintf(stderr, "usage: weft_roundtrip N [K [W [qw|ctx]]]\n");
    return 2;
  }
  loop l = {0};
  l.total = n;
  if (weft_threadpool_create(&l.tp, w, w, "rt") != 0 || weft_threadpool_start(l.tp) != 0) return 1;
  if (weft_reactor_create(&l.r) != 0) return 1;
  start s = {&l, k, NULL, ctx};
  if (qw && (s.reqs = calloc((size_t)(k > 0 ? k : 1), sizeof *s.reqs)) == NULL) return 1;
  if (weft_reactor_call_when_running(l.r, on_start, &s) != 0) return 1;
  if (weft_reactor_run(l.r) != 0) return 1;
  weft_reactor_stats st;
  weft_reactor_stats_get(l.r, &st);
  weft_reactor_destroy(l.r);
  weft_threadpool_destroy(l.tp);
  free(s.reqs);
  fprintf(stderr,
          "roundtrip: %ld of %ld completed, err %d; reactor: %llu wakeups, %llu drains, "
          "%llu iterations\n",
          l.completed, n, l.err, (unsigned long long)st.wakeups, (unsigned long long)st.drains,
          (unsigned long long)st.iterations);
  return l.completed == n && l.err == 0 ? 0 : 3;
}
