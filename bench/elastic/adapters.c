/*
 * weft_elastic_bench — the peers' adapters: the textbook pthread pool
 * (bench/pthread_pool.c), tokio_like, libuv (uv_queue_work) and GLib
 * (GThreadPool). Each allocates what its library needs per task; none waits
 * for the work (the harness counts completions, eb.h).
 */
#include <errno.h>
#include <stdlib.h>

#include "../pthread_pool.h"
#include "eb.h"
#include "tokio_like.h"

/* ---- the textbook pthread pool: max threads, all started at create ------ */
static int pt_create(void **out, const eb_config *cfg) {
  return ptpool_create((ptpool **)out, cfg->max);
}
static int pt_submit(void *pool, eb_fn fn, void *arg) { return ptpool_submit(pool, fn, arg); }
static void pt_destroy(void *pool) { ptpool_destroy(pool); }
const eb_impl eb_impl_pthread = {"pthread", pt_create, pt_submit, pt_destroy};

/* ---- tokio_like: cap = max, keep-alive 10 s (EB_TOKIO_KEEPALIVE_MS) ---- */
static int tk_create(void **out, const eb_config *cfg) {
  long ka = 10000;
  const char *e = getenv("EB_TOKIO_KEEPALIVE_MS");
  if (e != NULL)
    ka = atol(e);
  return tokio_like_create((tokio_like **)out, cfg->max, ka);
}
static int tk_submit(void *pool, eb_fn fn, void *arg) { return tokio_like_spawn(pool, fn, arg); }
static void tk_destroy(void *pool) { tokio_like_destroy(pool); }
const eb_impl eb_impl_tokio_like = {"tokio_like", tk_create, tk_submit, tk_destroy};

typedef struct eb_call {
  eb_fn fn;
  void *arg;
} eb_call;

/* ---- libuv: the size is UV_THREADPOOL_SIZE, read once per process (the
 * driver sets it in the child's environment). uv_queue_work may only be
 * called on the loop's thread: the cell's main thread is that thread; it
 * runs the loop (after_work_cb frees the request) at destroy. ------------- */
#ifdef EB_HAVE_LIBUV
#include <uv.h>

typedef struct uv_call {
  uv_work_t req; /* first: after_cb gets its address */
  eb_call call;
} uv_call;

static void uvc_work(uv_work_t *req) {
  uv_call *c = (uv_call *)req;
  c->call.fn(c->call.arg);
}
static void uvc_after(uv_work_t *req, int status) {
  (void)status;
  free(req);
}
static int uv_create(void **out, const eb_config *cfg) {
  (void)cfg;
  *out = uv_default_loop();
  return *out != NULL ? 0 : -ENOMEM;
}
static int uv_submit(void *pool, eb_fn fn, void *arg) {
  uv_call *c = malloc(sizeof *c);
  if (c == NULL)
    return -ENOMEM;
  c->call.fn = fn;
  c->call.arg = arg;
  int rc = uv_queue_work(pool, &c->req, uvc_work, uvc_after);
  if (rc != 0)
    free(c);
  return rc;
}
static void uv_destroy(void *pool) {
  uv_run(pool, UV_RUN_DEFAULT); /* every after_work_cb */
  uv_loop_close(pool);
}
const eb_impl eb_impl_libuv = {"libuv", uv_create, uv_submit, uv_destroy};
#endif

/* ---- GLib: g_thread_pool_new(max, exclusive = FALSE), default idle knobs */
#ifdef EB_HAVE_GLIB
#include <glib.h>

static void gl_task(gpointer data, gpointer user) {
  (void)user;
  eb_call *c = data;
  c->fn(c->arg);
  free(c);
}
static int gl_create(void **out, const eb_config *cfg) {
  GError *err = NULL;
  GThreadPool *p = g_thread_pool_new(gl_task, NULL, cfg->max, FALSE, &err);
  if (p == NULL) {
    g_clear_error(&err);
    return -EAGAIN;
  }
  *out = p;
  return 0;
}
static int gl_submit(void *pool, eb_fn fn, void *arg) {
  eb_call *c = malloc(sizeof *c);
  if (c == NULL)
    return -ENOMEM;
  c->fn = fn;
  c->arg = arg;
  GError *err = NULL;
  if (!g_thread_pool_push(pool, c, &err)) {
    g_clear_error(&err);
    free(c);
    return -EAGAIN;
  }
  return 0;
}
static void gl_destroy(void *pool) { g_thread_pool_free(pool, FALSE, TRUE); }
const eb_impl eb_impl_glib = {"glib", gl_create, gl_submit, gl_destroy};
#endif
