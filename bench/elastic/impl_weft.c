/*
 * weft_elastic_bench — weft's ThreadPool through the public API:
 * weft_threadpool_create_ex with the cell's (min, max), start,
 * weft_threadpool_call_in_thread, weft_threadpool_destroy.
 *
 * Today max is a hard cap (Twisted's): the baseline that the elastic pool
 * (issue 20) is measured against. The cell's max plays the role of "soft".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <weft/threadpool.h>

#include "eb.h"

/*
 * ---- ELASTIC OPTIONS (issue 20): the one place to wire them ------------
 * The elastic pool will take more than (min, max): a hard valve, a
 * keep-alive, a blocking-detection switch. The harness passes them as
 * environment variables so the driver needs no change when they land:
 *   WEFT_EB_HARD          threads allowed past soft (the valve)
 *   WEFT_EB_KEEPALIVE_MS  idle time before a surplus thread exits
 *   WEFT_EB_DETECT        1/0: stand in for blocked workers
 * When weft_threadpool_options gains those fields, set them in
 * weft_elastic_options() below. Until then a cell that asks for one fails
 * (it is not silently measured as the fixed pool under an elastic label).
 */
static int weft_elastic_options(weft_threadpool_options *o) {
  static const char *const knobs[] = {"WEFT_EB_HARD", "WEFT_EB_KEEPALIVE_MS",
                                      "WEFT_EB_DETECT"};
  (void)o;
  for (size_t i = 0; i < sizeof knobs / sizeof knobs[0]; i++) {
    if (getenv(knobs[i]) != NULL) {
      fprintf(stderr, "weft_elastic_bench: %s is set but this weft has no elastic "
                      "options yet (issue 20)\n", knobs[i]);
      return -ENOTSUP;
    }
  }
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
