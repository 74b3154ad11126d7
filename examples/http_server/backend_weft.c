/*
 * http_server — the weft backend: a weft_threadpool with min = max = --threads
 * (weft's default elastic pool: it stands in for jobs that block, as in
 * sleep_us, above max), and a weft
 * reactor attached to the libevent base (weft_reactor_attach gives an fd the
 * base watches; readable → weft_reactor_drain runs the results on the loop
 * thread). Two ways to make the round trip, chosen with --weft-api:
 *
 *   queue_work  (default) the allocation-free pair: weft_threadpool_queue_work
 *               with the job's own weft_work; its after callback, which runs
 *               on the pool thread, hands the same request back with
 *               weft_reactor_call_from_thread_req;
 *   deferred    Twisted's shape: weft_defer_to_thread_pool_then, a Deferred
 *               whose callback (or errback, if the pool was stopped before
 *               the job ran) fires on the loop thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <weft/weft.h>

#include "backend.h"

struct hs_backend {
  weft_reactor *reactor;
  weft_threadpool *pool;
  struct event *readable;
  int deferred; /* 1: weft_defer_to_thread_pool_then, 0: queue_work */
  hs_done_fn done;
  void *ctx;
};

_Static_assert(sizeof(weft_work) + sizeof(hs_backend *) <=
                   sizeof(((hs_job *)0)->backend_space),
               "a weft_work and the backend pointer fit in backend_space");

/* backend_space: the request, then the backend it belongs to. */
static weft_work *job_work(hs_job *job) { return (weft_work *)(void *)job->backend_space; }
static hs_backend **job_backend(hs_job *job) {
  return (hs_backend **)(void *)(job->backend_space + sizeof(weft_work));
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  hs_backend *b = arg;
  weft_reactor_drain(b->reactor);
}

/* ---- queue_work + call_from_thread_req */

static void qw_done(weft_work *w) { /* loop thread */
  hs_job *job = w->data;
  hs_backend *b = *job_backend(job);
  b->done(job, b->ctx);
}

static void qw_work(weft_work *w) { /* pool thread */
  hs_job_run(w->data);
}

static void qw_after(weft_work *w, int status) {
  hs_job *job = w->data;
  hs_backend *b = *job_backend(job);
  if (status == 0) {
    /* Pool thread, right after qw_work: the request is ours again, and
     * goes back to the loop thread as it is. */
    weft_reactor_call_from_thread_req(b->reactor, w, qw_done);
    return;
  }
  /* WEFT_ECANCELED: the pool was destroyed before the job could run; this
   * runs on the destroying thread, the loop's (hs_weft_destroy). */
  job->status = status;
  b->done(job, b->ctx);
}

/* ---- deferToThreadPool */

static int df_work(void *arg, void **result) { /* pool thread */
  hs_job_run(arg);
  *result = arg;
  return 0;
}

static int df_callback(void *ctx, weft_result *r) { /* loop thread */
  hs_job *job = ctx;
  hs_backend *b = *job_backend(job);
  if (r->failure != NULL) {
    job->status = weft_failure_code(r->failure);
    weft_failure_unref(weft_result_take_failure(r)); /* handled */
  }
  b->done(job, b->ctx);
  return 0;
}

static int hs_weft_submit(hs_backend *b, hs_job *job) {
  *job_backend(job) = b;
  if (b->deferred) {
    /* The callbacks come with the submit (one pair for both sides), so a
     * 0 means they will run: there is no moment when the job is with the
     * pool and nobody would be told (a weft_defer_to_thread_pool followed
     * by weft_deferred_add_both has one). No Deferred is kept. */
    int rc = weft_defer_to_thread_pool_then(b->reactor, b->pool, df_work, job, df_callback,
                                            df_callback, job, NULL);
    if (rc != 0)
      return rc == WEFT_ENOMEM ? -ENOMEM : -ESHUTDOWN;
    return 0;
  }
  weft_work *w = job_work(job);
  w->data = job;
  int rc = weft_threadpool_queue_work(b->pool, w, qw_work, qw_after);
  return rc == 0 ? 0 : -ESHUTDOWN;
}

static void hs_weft_destroy(hs_backend *b) {
  if (b == NULL)
    return;
  /* Our own pool goes first: its workers deliver into the reactor's queue.
   * Its backlog runs; the results queued by then run inside detach. */
  weft_threadpool_destroy(b->pool);
  weft_reactor_detach(b->reactor);
  event_free(b->readable);
  weft_reactor_destroy(b->reactor);
  free(b);
}

static int hs_weft_create(hs_backend **out, struct event_base *base, int threads,
                          const char *variant, hs_done_fn done, void *ctx) {
  hs_backend *b = calloc(1, sizeof *b);
  if (b == NULL)
    return -ENOMEM;
  if (variant == NULL || strcmp(variant, "queue_work") == 0)
    b->deferred = 0;
  else if (strcmp(variant, "deferred") == 0)
    b->deferred = 1;
  else {
    free(b);
    return -EINVAL;
  }
  b->done = done;
  b->ctx = ctx;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = threads;
  o.max_threads = threads;
  o.name = "http";
  int fd = -1;
  if (weft_threadpool_create_ex(&b->pool, &o) != 0)
    goto fail;
  if (weft_threadpool_start(b->pool) != 0)
    goto fail;
  if (weft_reactor_create(&b->reactor) != 0)
    goto fail;
  if (weft_reactor_attach(b->reactor, &fd) != 0)
    goto fail;
  b->readable = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, b);
  if (b->readable == NULL || event_add(b->readable, NULL) != 0)
    goto fail;
  *out = b;
  return 0;
fail:
  weft_threadpool_destroy(b->pool);
  if (fd >= 0)
    weft_reactor_detach(b->reactor);
  if (b->readable != NULL)
    event_free(b->readable);
  weft_reactor_destroy(b->reactor);
  free(b);
  return -ENOMEM;
}

const hs_backend_ops hs_backend_weft = {"weft", hs_weft_create, hs_weft_submit,
                                        hs_weft_destroy};
