/*
 * weft — the options the reactor's thread pool is created with
 * (weft_reactor_set_thread_pool_options). Reactor thread only.
 */
#include <string.h>

#include "base/alloc.h"
#include "engine/affinity.h"
#include "loop/reactor_state.h"

struct weft__reactor_pool_options {
  weft_threadpool_options o; /* name and affinity.cpus point into the copies below */
  char *name;
  int *cpus;
};

WEFT_API void weft_reactor_thread_pool_options_init(weft_threadpool_options *o) {
  if (!o) return;
  weft_threadpool_options_init(o);
  o->min_threads = 0;
  o->max_threads = 10;
  o->name = "weft.reactor";
}

void weft__reactor_pool_options_free(weft_reactor *r) {
  struct weft__reactor_pool_options *p = r->pool_options;
  if (!p) return;
  /* Cleared before the frees: a fork from another thread in between must
   * not leave the child options its destroy would free again (as in
   * reactor_trigger.c's add). */
  r->pool_options = NULL;
  weft__fence_signal();
  weft__free(p->name);
  weft__free(p->cpus);
  weft__free(p);
}

WEFT_API int weft_reactor_set_thread_pool_options(weft_reactor *r,
                                                  const weft_threadpool_options *o) {
  if (!r || !o) return WEFT_EINVAL;
  if (r->pool || weft__reactor_stopping(r)) return WEFT_ESTATE;
  if (o->min_threads < 0 || o->max_threads < o->min_threads || o->hard_threads < 0)
    return WEFT_EINVAL;
  /* Checked now, so that the error reaches the caller instead of the first
   * deferToThread, against this thread's CPUs; the pool is made later, on
   * the thread that first needs it (the reactor's), and checked against
   * that one's again (weft_reactor_get_thread_pool: WEFT_EINVAL). */
  weft__affinity *plan = NULL;
  int rc = weft__affinity_make(&o->affinity, &plan);
  if (rc != 0) return rc;
  weft__affinity_free(plan);
  struct weft__reactor_pool_options *p = weft__calloc(1, sizeof *p);
  if (!p) return WEFT_ENOMEM;
  p->o = *o;
  if (o->name) {
    p->name = weft__strdup(o->name);
    p->o.name = p->name;
  }
  /* The CPU list matters (and was validated above) only for a policy that
   * pins: with WEFT_AFFINITY_NONE it may be anything, NULL included. */
  bool list = o->affinity.policy != WEFT_AFFINITY_NONE && o->affinity.ncpus > 0;
  if (list) {
    p->cpus = weft__malloc(o->affinity.ncpus * sizeof *p->cpus);
    if (p->cpus) memcpy(p->cpus, o->affinity.cpus, o->affinity.ncpus * sizeof *p->cpus);
    p->o.affinity.cpus = p->cpus;
  } else {
    p->o.affinity.cpus = NULL;
    p->o.affinity.ncpus = 0;
  }
  if ((o->name && !p->name) || (list && !p->cpus)) {
    weft__free(p->name);
    weft__free(p->cpus);
    weft__free(p);
    return WEFT_ENOMEM;
  }
  weft__reactor_pool_options_free(r);
  r->pool_options = p;
  return WEFT_OK;
}

void weft__reactor_pool_log(weft_reactor *r, weft_log_fn *log, void **ctx) {
  *log = r->pool_options ? r->pool_options->o.log : NULL;
  *ctx = r->pool_options ? r->pool_options->o.log_ctx : NULL;
}

int weft__reactor_pool_min(const weft_reactor *r) {
  if (!r->pool_options) return 0;
  const weft_threadpool_options *o = &r->pool_options->o;
  /* weft_threadpool_create_ex: max clamped, min at most max */
  int max = o->max_threads > WEFT_THREADPOOL_MAX_THREADS ? WEFT_THREADPOOL_MAX_THREADS
                                                         : o->max_threads;
  return o->min_threads < max ? o->min_threads : max;
}

int weft__reactor_pool_create(weft_reactor *r, weft_threadpool **out) {
  if (r->pool_options) return weft_threadpool_create_ex(out, &r->pool_options->o);
  return weft_threadpool_create(out, 0, 10, "weft.reactor");
}
