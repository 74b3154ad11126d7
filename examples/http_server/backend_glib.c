/*
 * http_server — the GLib backend: a GThreadPool (exclusive, `threads`
 * threads) runs the jobs; results come back through a GAsyncQueue and an
 * eventfd written on every push, which the libevent base watches (GLib's own
 * way back, g_main_context_invoke, needs a GMainLoop, and this server's loop
 * is libevent's).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <event2/event.h>
#include <glib.h>

#include "backend.h"

struct hs_backend {
  GThreadPool *pool;
  GAsyncQueue *results;
  int efd;
  struct event *readable;
  hs_done_fn done;
  void *ctx;
};

static void gl_work(gpointer data, gpointer user) { /* pool thread */
  hs_job *job = data;
  hs_backend *b = user;
  hs_job_run(job);
  g_async_queue_push(b->results, job);
  uint64_t one = 1;
  ssize_t rc = write(b->efd, &one, sizeof one); /* EAGAIN: already readable */
  (void)rc;
}

static void run_results(hs_backend *b) { /* loop thread */
  hs_job *job;
  while ((job = g_async_queue_try_pop(b->results)) != NULL)
    b->done(job, b->ctx);
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
  (void)what;
  uint64_t v;
  ssize_t rc = read(fd, &v, sizeof v); /* nonblocking; resets the count */
  (void)rc;
  run_results(arg);
}

static int hs_gl_submit(hs_backend *b, hs_job *job) {
  /* FALSE means a new thread could not be started, and the job is queued
   * all the same (GLib's documentation): it will run and be answered, so
   * telling the server it failed would answer it twice. */
  (void)g_thread_pool_push(b->pool, job, NULL);
  return 0;
}

static void hs_gl_destroy(hs_backend *b) {
  if (b == NULL)
    return;
  if (b->pool != NULL)
    g_thread_pool_free(b->pool, FALSE, TRUE); /* run the queue, wait */
  if (b->results != NULL) {
    run_results(b); /* what the loop had not taken yet */
    g_async_queue_unref(b->results);
  }
  if (b->readable != NULL)
    event_free(b->readable);
  if (b->efd >= 0)
    close(b->efd);
  free(b);
}

static int hs_gl_create(hs_backend **out, struct event_base *base, int threads,
                        const char *variant, hs_done_fn done, void *ctx) {
  if (variant != NULL)
    return -EINVAL;
  hs_backend *b = calloc(1, sizeof *b);
  if (b == NULL)
    return -ENOMEM;
  b->done = done;
  b->ctx = ctx;
  b->results = g_async_queue_new();
  b->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (b->efd < 0) {
    int err = -errno;
    hs_gl_destroy(b);
    return err;
  }
  b->readable = event_new(base, b->efd, EV_READ | EV_PERSIST, on_readable, b);
  if (b->readable == NULL || event_add(b->readable, NULL) != 0) {
    hs_gl_destroy(b);
    return -ENOMEM;
  }
  GError *err = NULL;
  b->pool = g_thread_pool_new(gl_work, b, threads, TRUE, &err);
  if (b->pool == NULL) {
    g_clear_error(&err);
    hs_gl_destroy(b);
    return -EAGAIN;
  }
  *out = b;
  return 0;
}

const hs_backend_ops hs_backend_glib = {"glib", hs_gl_create, hs_gl_submit,
                                        hs_gl_destroy};
