/*
 * weft_elastic_bench — weft's ThreadPool through the public API:
 * weft_threadpool_create_ex with the cell's (min, max), start,
 * weft_threadpool_call_in_thread, weft_threadpool_destroy.
 *
 * The pool is elastic (docs/design.md E9): the cell's max is its soft
 * limit, and it grows past it only to stand in for blocked workers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/threadpool.h>

#include "eb.h"

/*
 * The elastic options (docs/design.md E9). A cell's max is the pool's
 * max_threads (the threads that may run at once); the pool is elastic by
 * default. Environment variables override the defaults for one run:
 *   WEFT_EB_HARD          hard_threads (the valve)
 *   WEFT_EB_KEEPALIVE_MS  keep_alive_ms
 *   WEFT_EB_DETECT        0: strict_cap (Twisted's fixed cap), 1: elastic
 */
static int weft_elastic_options(weft_threadpool_options *o) {
  const char *v;
  if ((v = getenv("WEFT_EB_HARD")) != NULL) o->hard_threads = atoi(v);
  if ((v = getenv("WEFT_EB_KEEPALIVE_MS")) != NULL) o->keep_alive_ms = (unsigned)atoi(v);
  if ((v = getenv("WEFT_EB_DETECT")) != NULL) o->strict_cap = atoi(v) == 0;
  return 0;
}

static int weft_create(void **out, const eb_config *cfg) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = cfg->min;
  o.max_threads = cfg->max;
  o.name = "eb";
  int rc = weft_elastic_options(&o);
  if (rc != 0)
    return rc;
  weft_threadpool *tp;
  rc = weft_threadpool_create_ex(&tp, &o);
  if (rc != 0)
    return rc < 0 ? rc : -rc;
  rc = weft_threadpool_start(tp);
  if (rc != 0) {
    weft_threadpool_destroy(tp);
    return rc < 0 ? rc : -rc;
  }
  *out = tp;
  return 0;
}

static int weft_submit(void *pool, eb_fn fn, void *arg) {
  int rc = weft_threadpool_call_in_thread(pool, fn, arg);
  return rc < 0 ? rc : -rc;
}

static void weft_destroy(void *pool) { weft_threadpool_destroy(pool); }

const eb_impl eb_impl_weft = {"weft", weft_create, weft_submit, weft_destroy};
