/*
 * weft — weft_pool(): Twisted's pool(currentLimit, threadFactory) as a Team
 * backed by the engine (lib/engine/engine.h) instead of a coordinator plus one
 * ThreadWorker per thread. Team semantics map as follows:
 *   do        → engine submit (a worker that is idle takes it; with none idle
 *               a thread starts if current_limit() allows; else backlog). The
 *               backlog is one FIFO queue: a thread started while tasks wait
 *               (the limit was raised) runs the oldest, not this do()'s task
 *               as Twisted's new worker does (docs/twisted-mapping.md)
 *   grow(n)   → start up to n threads (bounded by current_limit())
 *   shrink(n) → parked workers quit now, the rest as debt (Team._toShrink)
 *   quit      → reject new work; workers drain the backlog, then exit
 *   destroy   → quit; WEFT_EBUSY while a worker runs a task or another
 *               thread's submit window holds tasks for it; else join every
 *               thread, cancel (log WEFT_ECANCELED) what never ran
 * Contract: every call from any thread, concurrently; destroy not from a
 * pool thread (WEFT_EDEADLK).
 */
#include <string.h>

#include "base/alloc.h"
#include "engine/affinity.h"
#include "engine/engine.h"
#include "engine/monitor.h"
#include "engine/node_cache.h"
#include "workers/team_impl.h"

typedef struct pool_team {
  weft_team base; /* first: weft_team * ↔ pool_team * */
  weft__engine *e;
  /* Its creator's CPUs (a WEFT_AFFINITY_NONE plan, engine/affinity.h), which
   * each thread takes when it starts, as a ThreadPool's do: a thread
   * inherits the mask of whichever thread's do() starts it, and a pinned
   * pool worker's do() confined the team's thread (and its monitor) to that
   * worker's one CPU for good. NULL if the kernel would not tell. */
  weft__affinity *affinity;
  weft_limit_fn limit;
  void *limit_ctx;
  _Atomic int quit;
  /* destroy's caller only: destroy is freeing the team. The tasks its
   * engine_destroy cancels call user code on this thread (a context's
   * release and leave hooks, weft/context.h), and a weft_team_destroy from
   * there would stop the engine again inside the outer stop's cancel loop
   * (it waited for ever on the push the outer loop had popped) and free
   * the team under it: it answers WEFT_EBUSY, as a coordinator team's does
   * (team.c). A plain bool: only the destroying thread reads it, as the
   * contract lets no other call on the team overlap destroy. */
  bool destroying;
} pool_team;

typedef struct pool_call {
  weft_fn fn;
  void *arg;
  pool_team *team;
} pool_call;
_Static_assert(sizeof(pool_call) <= sizeof(((weft__node *)0)->data), "node payload too small");

static int pool_limit(void *ctx) {
  pool_team *p = ctx;
  return p->limit(p->limit_ctx);
}

static void pool_run(weft__task *t) {
  weft__node *n = (weft__node *)t;
  pool_call *c = (pool_call *)(void *)n->data;
  weft_fn fn = c->fn;
  void *arg = c->arg;
  weft__node_put_in_worker(n); /* tasks run on engine workers (node_cache.h) */
  fn(arg);
}

static void pool_cancel(weft__task *t, int status) {
  weft__node *n = (weft__node *)t;
  pool_team *p = ((pool_call *)(void *)n->data)->team;
  weft__node_put(n);
  weft__engine_log(p->e, status, "weft_pool: task cancelled, never ran");
}

/* No node for a do(): a team quit since the door's look answers
 * WEFT_EQUIT, as the engine's submit would with memory (weft/worker.h:
 * "after quit"; the pool's weft__threadpool_no_memory), and so does the
 * closed copy a child of fork inherits (its engine refuses), else
 * WEFT_ENOMEM. Relaxed: as the door's look. */
static __attribute__((noinline)) int pool_no_memory(pool_team *p) {
  return weft__load_relaxed(&p->quit) || weft__engine_is_closed(p->e) ? WEFT_EQUIT : WEFT_ENOMEM;
}

static int pool_do(weft_team *t, weft_fn fn, void *arg) {
  pool_team *p = (pool_team *)t;
  if (weft__load_relaxed(&p->quit)) return WEFT_EQUIT;
  weft__node *n = weft__node_get();
  if (!n) return pool_no_memory(p);
  n->task.run = pool_run;
  n->task.cancel = pool_cancel;
  pool_call *c = (pool_call *)(void *)n->data;
  c->fn = fn;
  c->arg = arg;
  c->team = p;
  int r = weft__engine_submit(p->e, &n->task);
  if (r != 0) weft__node_put(n);
  return r;
}

static int pool_grow(weft_team *t, int n) {
  pool_team *p = (pool_team *)t;
  if (weft__load_relaxed(&p->quit)) return WEFT_EQUIT;
  int r = weft__engine_grow(p->e, n, WEFT__MADE_GROW);
  return r < 0 ? r : WEFT_OK;
}

static int pool_shrink(weft_team *t, int n) {
  pool_team *p = (pool_team *)t;
  if (weft__load_relaxed(&p->quit)) return WEFT_EQUIT;
  return weft__engine_shrink(p->e, n);
}

static int pool_quit(weft_team *t) {
  pool_team *p = (pool_team *)t;
  int expected = 0;
  /* Relaxed CAS: only decides which caller quits; the engine's close
   * carries the ordering. */
  if (!weft__cas_relaxed(&p->quit, &expected, 1)) return WEFT_EQUIT;
  weft__engine_close(p->e);
  return WEFT_OK;
}

static int pool_statistics(weft_team *t, weft_team_statistics *out) {
  pool_team *p = (pool_team *)t;
  int live = weft__engine_live(p->e), busy = weft__engine_busy(p->e);
  out->idle_workers = live > busy ? live - busy : 0;
  out->busy_workers = busy;
  out->backlogged_work = (size_t)weft__engine_backlog(p->e);
  return WEFT_OK;
}

static int pool_destroy(weft_team *t) {
  pool_team *p = (pool_team *)t;
  if (weft__engine_in_worker(p->e)) return WEFT_EDEADLK;
  if (p->destroying) return WEFT_EBUSY; /* from a callback of this destroy */
  weft__store_relaxed(&p->quit, 1);
  (void)weft__engine_close(p->e); /* quit: no new work; the backlog drains */
  /* weft_team_destroy's contract: WEFT_EBUSY, nothing freed, while workers
   * still run tasks, and destroy never blocks. After the close each thread
   * drains what it can see and leaves (uncounting itself), so a thread
   * still counted may yet run the backlog: one started or woken that has
   * not taken its first task is not busy, and stop would wait for it to
   * run everything. Once none is left, stop only joins threads that have
   * left and cancels what no thread can run. */
  if (weft__engine_busy(p->e) > 0 || weft__engine_live(p->e) > 0) return WEFT_EBUSY;
  /* A reactor drain on another thread may still hold, in its submit
   * window, tasks a callback gave us (that do() has returned): the stop
   * below would wait for the drain to end, which may be never (a later
   * callback of it that waits for this destroy). Its flush cancels them
   * (we are closed); until then answer WEFT_EBUSY (test_pool_destroy_window). */
  if (weft__engine_windows_held(p->e)) return WEFT_EBUSY;
  p->destroying = true; /* never reset: p is freed below */
  weft__engine_destroy(p->e);
  weft__affinity_free(p->affinity);
  weft__free(p);
  return WEFT_OK;
}

static const weft__team_vtbl pool_vtbl = {
    .do_work = pool_do,
    .grow = pool_grow,
    .shrink = pool_shrink,
    .quit = pool_quit,
    .statistics = pool_statistics,
    .destroy = pool_destroy,
};

WEFT_API int weft_pool(weft_team **out, weft_limit_fn current_limit, void *limit_ctx,
                       weft_thread_factory_fn factory, void *factory_ctx, const char *name) {
  if (!out) return WEFT_EINVAL;
  *out = NULL; /* on every failure (weft/common.h) */
  if (!current_limit) return WEFT_EINVAL;
  pool_team *p = weft__calloc(1, sizeof *p);
  if (!p) return WEFT_ENOMEM;
  p->base.vt = &pool_vtbl;
  p->limit = current_limit;
  p->limit_ctx = limit_ctx;
  int r = weft__affinity_make(&(weft_affinity){WEFT_AFFINITY_NONE, NULL, 0}, &p->affinity);
  if (r != 0) { /* WEFT_ENOMEM: a NONE option is never invalid */
    weft__free(p);
    return r;
  }
  weft__engine_config cfg = {
      .name_prefix = name ? name : "weft-pool",
      .factory = factory,
      .factory_ctx = factory_ctx,
      .limit = pool_limit,
      .limit_ctx = p,
      .spin_us = 50,
      .capacity = 1024,
      /* The monitor retries a thread creation that failed once its back-off
       * has passed, while work waits (E9.5): without it a do() whose thread
       * could not be made, with no thread in the team, waited for the next
       * do() (test_fault_thread weft_pool_creation_failure_retried). Never
       * elastic here (no weft__engine_set_elastic): it makes no stand-ins. */
      .monitor_start = weft__engine_monitor_start,
      .monitor_stop = weft__engine_monitor_stop,
      .monitor_quiet = true,
      .affinity = p->affinity,
  };
  r = weft__engine_create(&p->e, &cfg);
  if (r != 0) {
    weft__affinity_free(p->affinity);
    weft__free(p);
    return r;
  }
  *out = &p->base;
  return WEFT_OK;
}
