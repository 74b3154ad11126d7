/*
 * weft — twisted.internet.threads: deferToThreadPool, deferToThread,
 * callMultipleInThread, blockingCallFromThread.
 *
 * deferToThread round trip, one block (the Deferred's extra space), taken
 * from the reactor's block cache, so the steady state allocates nothing:
 *   reactor thread: take Deferred+round_trip, take the in-flight reference,
 *                   weft_threadpool_queue_work(&rt->work)
 *   pool thread:    work_cb runs fn; after_cb pushes the request's own node
 *                   on the reactor's completion queue (at most one eventfd
 *                   write per burst)
 *   reactor thread: the node fires the Deferred, drops the in-flight
 *                   reference; the last reference puts the block back.
 * A request the pool cancels (destroyed before it ran) takes the same path
 * with WEFT_ECANCELED, so every Deferred fires exactly once.
 *
 * blockingCallFromThread waiter contract: a heap record shared by the
 * blocked caller and the reactor side (refcount 2). Exactly one "finish"
 * wins (CAS on `finished`): the reactor delivering the result, or the
 * reactor's shutdown releasing every registered waiter with WEFT_ESHUTDOWN.
 * The caller sleeps on a futex word; finish stores it with release after
 * writing the outcome, the caller reads it with acquire.
 */
#include <stdio.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "base/block_cache.h"
#include "base/futex.h"
#include "engine/context.h"
#include "engine/core.h"
#include "engine/join_wait.h"
#include "engine/task.h"
#include "engine/work_claim.h"
#include "loop/completion.h"
#include "loop/deferred_impl.h"
#include "loop/reactor_state.h"
#include "weft/threadpool.h"
#include "weft/threads.h"

/* ------------------------------------------------------ deferToThreadPool */

/* The block after the Deferred header (its "extra" space), so the Deferred
 * is found by subtraction. The reactor writes fn/arg at submit, the worker
 * reads them and writes the result and status, the reactor reads those
 * back. The completion node is the request's own private task: after_cb
 * owns the request again (weft/work.h), as call_from_thread_req does.
 * `r` is the reactor whose cache the block belongs to, written once when
 * the block is made (a block never leaves its cache's reactor).
 *
 * One line for everything the worker writes: the trip starts on a cache
 * line (blocks are line-aligned, the header a whole number of lines,
 * lib/loop/deferred_impl.h), and its first 64 bytes hold the request (the
 * claim word and the completion node, which the worker and the reactor's
 * push write), the result (in work.data, which weft's queue never touches:
 * the request is this module's own) and the status; fn, arg and r, which
 * the worker only reads, are on the next line. Before, the trip began at
 * an arbitrary offset and the worker's stores fell on two or three lines,
 * one of them shared with the Deferred header the reactor writes: each
 * worker's push (an exchange, a full barrier) waited for those lines'
 * ownership. W3 at 1 thread, 16 alternations of long cells in the same
 * minutes (`weft_bench --wb-scale=long --wb-workloads=W3 --wb-sizes=1,2
 * --wb-impls=weft --benchmark_repetitions=5`): medians 11.22 -> 14.56 M
 * completions/s (1 thread), 7.98 -> 9.88 (2); the same instructions per
 * round trip (`perf/callgrind.sh 100000 rt`: 405.2 -> 405.1).
 *
 * A trip submitted while the reactor thread has a current context
 * (weft/context.h) carries that context in `ctx`, written at submit (ctx.ctx
 * is read only by the in-context callbacks, which that submit chose): the
 * work runs in it on the worker and the Deferred fires in it on the
 * reactor, with no wrapper node around the request or its completion. */
typedef struct round_trip {
  weft_work work;     /* the pool's request, then the reactor's node; its
                       * data holds the result */
  int status;         /* with the request: the worker's line */
  weft_call_fn fn;
  void *arg;
  weft_reactor *r;
  weft__context_ref ctx; /* in-context trips only */
} round_trip;

_Static_assert(offsetof(round_trip, work) == 0, "the callbacks cast the request to its trip");
_Static_assert(offsetof(round_trip, status) + sizeof(int) <= 64,
               "what the worker writes stays on the trip's first line");
_Static_assert(WEFT__DEFERRED_HEADER_SIZE % 64 == 0, "the trip starts on a line");

static inline weft_deferred *rt_deferred(round_trip *rt) {
  return (weft_deferred *)(void *)((char *)rt - WEFT__DEFERRED_HEADER_SIZE);
}

static void rt_call(void *arg) {
  round_trip *rt = arg;
  rt->status = rt->fn(rt->arg, &rt->work.data);
}

static void rt_work(weft_work *req) {
  round_trip *rt = (round_trip *)req;
  rt->work.data = NULL;
  rt_call(rt);
}

static void rt_complete(weft__task *t);
static void rt_complete_in_context(weft__task *t);

/* The request's node, made the reactor's completion node: run by `run`. */
static inline weft__task *rt_completion(round_trip *rt, int status, void (*run)(weft__task *t)) {
  if (status != 0) { /* never ran: cancelled, or the pool was destroyed first */
    rt->status = status;
    rt->work.data = NULL;
  }
  weft__task *node = &weft__work_priv(&rt->work)->task;
  node->run = run;
  node->cancel = NULL; /* the reactor queue never cancels */
  return node;
}

static void rt_after(weft_work *req, int status) {
  round_trip *rt = (round_trip *)req;
  weft__task *node = rt_completion(rt, status, rt_complete);
  /* The push publishes rt's fields to the reactor (the queue's release /
   * acquire pair, lib/engine/mpsc.h). After it the request is the reactor's.
   * In the submitter's context, if the work ran in one. */
  weft__reactor_push(rt->r, weft__context_for_completion(node));
}

/* A trip that carries its context (above): the work in it, and the
 * completion, which takes it along, pushed as it is. */
static void rt_work_in_context(weft_work *req) {
  round_trip *rt = (round_trip *)req;
  rt->work.data = NULL;
  weft__context_ref_call(&rt->ctx, rt_call, rt);
}
static void rt_after_in_context(weft_work *req, int status) {
  round_trip *rt = (round_trip *)req;
  weft__reactor_push(rt->r, rt_completion(rt, status, rt_complete_in_context));
}

/* Ask for the next queued completion's lines now, so that their misses
 * overlap with this completion's work instead of stalling the next one (the
 * Deferred header's first line was the largest reactor-side stall in the W3
 * profile). The next node is most likely another round trip; if it is not,
 * these are two useless prefetches, which never fault. Integer arithmetic:
 * the addresses are hints, never dereferenced. */
static inline void rt_prefetch_next(weft_reactor *r) {
  /* Relaxed: a hint only; the drain's pop does the acquire. */
  uintptr_t next = (uintptr_t)weft__load_relaxed(&r->queue.head.next);
  if (next == 0) return;
  uintptr_t trip = next - offsetof(weft_work, weft_private_) - offsetof(round_trip, work);
  __builtin_prefetch((const void *)next);
  __builtin_prefetch((const void *)(trip - WEFT__DEFERRED_HEADER_SIZE));
}

/* The work failed (status < 0) or never ran: its failure, or a new one. */
static __attribute__((noinline)) void rt_complete_failed(round_trip *rt) {
  weft_failure *f = rt->work.data ? (weft_failure *)rt->work.data
                                  : weft__failure_of(rt->status, NULL);
  weft__deferred_fire_release(rt_deferred(rt), NULL, f);
}

static inline round_trip *rt_of_completion(weft__task *t) {
  return (round_trip *)(void *)((char *)t - offsetof(weft_work, weft_private_));
}

static void rt_complete(weft__task *t) {
  round_trip *rt = rt_of_completion(t);
  rt_prefetch_next(rt->r);
  if (WEFT_UNLIKELY(rt->status < 0)) {
    rt_complete_failed(rt);
    return;
  }
  /* Fire, then drop the in-flight reference. If it is the last, the block
   * goes back to the reactor's cache, warm for the next submit. */
  weft__deferred_fire_release(rt_deferred(rt), rt->work.data, NULL);
}

static void rt_fire(void *t) { rt_complete(t); }

/* The Deferred fires in the context the trip carries, which is released
 * after the leave hook. Copied first: the fire may give the block back to
 * the cache, and the next submit may reuse it at once. */
static void rt_complete_in_context(weft__task *t) {
  weft__context_ref ref = rt_of_completion(t)->ctx;
  weft__context_ref_call(&ref, rt_fire, t);
  weft__context_ref_release(&ref);
}

/* weft_deferred_cancel on an unfired round trip (reactor thread): the
 * request is still the pool's, or its completion waits in the reactor's
 * queue, so the block is alive (the in-flight reference). If the work has
 * not started it never will (lib/engine/work_claim.h): the pool hands the
 * request back with WEFT_ECANCELED, and its completion, finding the
 * Deferred fired by the cancel, is swallowed. If it started, the cancel
 * fires the Deferred all the same and the late result is swallowed
 * (Twisted's cancel without canceller). */
static void rt_cancel(void *ctx, weft_deferred *d) {
  (void)d;
  round_trip *rt = ctx;
  (void)weft__work_claim_cancel(weft__work_priv(&rt->work));
}

/* The pool refused the request: the block is still ours; give both
 * references back (the block returns to the cache) and clear *out. */
static __attribute__((noinline)) int rt_submit_failed(weft_deferred **out, int rc) {
  weft_deferred *d = *out;
  *out = NULL;
  weft_deferred_unref(d);
  weft_deferred_unref(d);
  return rc;
}

/* The work queued for rt, in the reactor thread's current context if it has
 * one: carried by rt itself (ctx, above). The submit is made with the
 * thread's context set aside (no hook), or the pool would wrap the request
 * in it a second time. Other owners' callbacks may run in between (a
 * drain's submit window flushed for another pool, which closed: its tasks
 * are cancelled here); the set-aside keeps the hooks' view for them. */
static __attribute__((noinline)) int rt_queue_in_context(weft_threadpool *pool, round_trip *rt) {
  void *aside = weft__context_ref_take(&rt->ctx);
  int rc = weft_threadpool_queue_work(pool, &rt->work, rt_work_in_context, rt_after_in_context);
  weft__context_ref_resume(&rt->ctx, aside);
  if (rc != 0) weft__context_ref_release(&rt->ctx);
  return rc;
}

static inline int rt_queue(weft_threadpool *pool, round_trip *rt) {
  if (WEFT_UNLIKELY(weft__context_active())) return rt_queue_in_context(pool, rt);
  return weft_threadpool_queue_work(pool, &rt->work, rt_work, rt_after);
}

/* Submit a block taken and initialised by the caller (*out is set already,
 * so that only `out` is live across the call: d is *out again after it). */
static inline int rt_submit(weft_deferred *d, weft_threadpool *pool, weft_call_fn fn, void *arg,
                            weft_deferred **out) {
  /* Two references: the caller's (*out) and the one in flight, which
   * rt_complete drops. */
  weft__deferred_init_warm(d, 2);
  round_trip *rt = weft__deferred_extra_of(d);
  rt->fn = fn;
  rt->arg = arg;
  *out = d;
  int rc = rt_queue(pool, rt);
  if (WEFT_UNLIKELY(rc != 0)) return rt_submit_failed(out, rc);
  return WEFT_OK;
}

/* No block for a round trip (or no copy of callMultipleInThread's list): a
 * stopped pool's answer is WEFT_EQUIT, as it is with memory (the memory is
 * taken before the pool looks), else WEFT_ENOMEM. */
static int rt_no_memory(weft_threadpool *pool) {
  return weft_threadpool_joined(pool) == 1 ? WEFT_EQUIT : WEFT_ENOMEM;
}

/* No block on the free list (or no cache yet): make one, initialised in
 * full, its trip's reactor set, and submit it. Out of line, so the warm
 * path keeps few registers. */
static __attribute__((noinline)) int rt_submit_new_block(weft_reactor *r, weft_threadpool *pool,
                                                         weft_call_fn fn, void *arg,
                                                         weft_deferred **out) {
  weft__block_cache *cache = r->rt_cache;
  if (cache == NULL) {
    cache = weft__reactor_round_trip_cache(r, WEFT__DEFERRED_HEADER_SIZE + sizeof(round_trip));
    if (cache == NULL) goto nomem;
  }
  weft_deferred *d = weft__block_cache_get_slow(cache); /* the free list is empty */
  if (d == NULL) goto nomem;
  weft__deferred_init(d, cache, 0); /* rt_submit sets refs and called */
  round_trip *rt = weft__deferred_extra_of(d);
  rt->r = r;
  /* For the block's lifetime (destroy keeps a cached block's canceller). */
  d->canceller = rt_cancel;
  d->canceller_ctx = rt;
  return rt_submit(d, pool, fn, arg, out);
nomem:
  *out = NULL;
  return rt_no_memory(pool);
}

WEFT_API int weft_defer_to_thread_pool(weft_reactor *r, weft_threadpool *pool, weft_call_fn fn,
                                       void *arg, weft_deferred **out) {
  if (out == NULL) return WEFT_EINVAL;
  if (r == NULL || pool == NULL || fn == NULL) {
    *out = NULL;
    return WEFT_EINVAL;
  }
  /* On the reactor thread (the contract), so its block cache is ours. A
   * block from the free list is clean (lib/loop/deferred_impl.h). */
  weft__block_cache *cache = r->rt_cache;
  weft_deferred *d = cache != NULL ? weft__block_cache_pop(cache) : NULL;
  if (WEFT_UNLIKELY(d == NULL)) return rt_submit_new_block(r, pool, fn, arg, out);
  return rt_submit(d, pool, fn, arg, out);
}

WEFT_API int weft_defer_to_thread(weft_reactor *r, weft_call_fn fn, void *arg,
                                  weft_deferred **out) {
  if (out) *out = NULL;
  if (r == NULL || fn == NULL || out == NULL) return WEFT_EINVAL;
  weft_threadpool *tp;
  int rc = weft_reactor_get_thread_pool(r, &tp);
  if (rc != 0) return rc;
  return weft_defer_to_thread_pool(r, tp, fn, arg, out);
}

_Static_assert(INLINE_ENTRIES >= 1, "defer_to_thread_pool_then needs an inline callback slot");

WEFT_API int weft_defer_to_thread_pool_then(weft_reactor *r, weft_threadpool *pool,
                                            weft_call_fn fn, void *arg,
                                            weft_callback_fn callback, weft_callback_fn errback,
                                            void *ctx, weft_deferred **out) {
  if (out) *out = NULL;
  if (r == NULL || pool == NULL || fn == NULL || (callback == NULL && errback == NULL))
    return WEFT_EINVAL;
  /* A block of the reactor's cache, as weft_defer_to_thread_pool takes. */
  weft__block_cache *cache = r->rt_cache;
  if (cache == NULL) {
    cache = weft__reactor_round_trip_cache(r, WEFT__DEFERRED_HEADER_SIZE + sizeof(round_trip));
    if (cache == NULL) return rt_no_memory(pool);
  }
  weft_deferred *d = weft__block_cache_pop(cache);
  if (d == NULL) {
    d = weft__block_cache_get_slow(cache);
    if (d == NULL) return rt_no_memory(pool);
    weft__deferred_init(d, cache, 0);
    round_trip *nrt = weft__deferred_extra_of(d);
    nrt->r = r;
    d->canceller = rt_cancel;
    d->canceller_ctx = nrt;
  }
  weft__deferred_init_warm(d, 2); /* ours, and the one in flight */
  round_trip *rt = weft__deferred_extra_of(d);
  rt->fn = fn;
  rt->arg = arg;
  /* The pair goes into the block's first inline slot (a clean block has
   * none used, deferred_impl.h) before the work is submitted: nothing about
   * it can fail once the work is accepted. */
  int rc = weft_deferred_add_callbacks(d, callback, ctx, errback, ctx);
  if (rc == 0) rc = rt_queue(pool, rt);
  if (rc != 0) { /* nothing submitted: the pair never runs */
    weft_deferred_unref(d);
    weft_deferred_unref(d);
    return rc;
  }
  if (out) *out = d;
  else weft_deferred_unref(d); /* the callbacks run all the same */
  return WEFT_OK;
}

WEFT_API int weft_defer_to_thread_then(weft_reactor *r, weft_call_fn fn, void *arg,
                                       weft_callback_fn callback, weft_callback_fn errback,
                                       void *ctx, weft_deferred **out) {
  if (out) *out = NULL;
  if (r == NULL || fn == NULL || (callback == NULL && errback == NULL)) return WEFT_EINVAL;
  weft_threadpool *tp;
  int rc = weft_reactor_get_thread_pool(r, &tp);
  if (rc != 0) return rc;
  return weft_defer_to_thread_pool_then(r, tp, fn, arg, callback, errback, ctx, out);
}

/* --------------------------------------------------- callMultipleInThread */

typedef struct multiple {
  weft_work work;
  weft_log_fn log; /* the reactor's pool's log hook (NULL: stderr) */
  void *log_ctx;
  size_t n;
  weft_call calls[];
} multiple;

/* Twisted sends the failure to its log observers: here the pool's log hook,
 * as a call_in_thread failure with nobody to tell goes. */
static void multiple_log(const multiple *m, int err, const char *what) {
  if (m->log) m->log(m->log_ctx, err, what);
  else fprintf(stderr, "weft: %s\n", what);
}

static void multiple_work(weft_work *req) {
  multiple *m = req->data;
  for (size_t i = 0; i < m->n; i++) {
    void *result = NULL;
    int rc = m->calls[i].fn(m->calls[i].arg, &result);
    if (rc < 0) {
      weft_failure *f = result;
      int code = f ? weft_failure_code(f) : rc;
      char line[256];
      snprintf(line, sizeof line, "call_multiple_in_thread: call %zu of %zu failed: %s: %s", i + 1,
               m->n, weft_err_name(code), f ? weft_failure_message(f) : weft_strerror(rc));
      multiple_log(m, code, line);
      weft_failure_unref(f);
      break; /* Twisted: the exception stops the remaining calls */
    }
  }
}

static void multiple_after(weft_work *req, int status) {
  multiple *m = req->data;
  /* An empty list cancelled: no call never ran, nothing to report (it was
   * "0 calls never ran", an ECANCELED with no lost work behind it). */
  if (status != 0 && m->n > 0) {
    char line[128];
    snprintf(line, sizeof line, "call_multiple_in_thread: %zu calls never ran: %s", m->n,
             weft_strerror(status));
    multiple_log(m, status, line);
  }
  weft__free(m);
}

WEFT_API int weft_call_multiple_in_thread(weft_reactor *r, const weft_call *calls, size_t n) {
  if (r == NULL || (calls == NULL && n > 0)) return WEFT_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (calls[i].fn == NULL) return WEFT_EINVAL;
  weft_threadpool *tp;
  int rc = weft_reactor_get_thread_pool(r, &tp);
  if (rc != 0) return rc;
  multiple *m = weft__malloc(sizeof *m + n * sizeof(weft_call));
  if (m == NULL) return rt_no_memory(tp); /* the copy is made before the pool looks */
  m->work.data = m;
  weft__reactor_pool_log(r, &m->log, &m->log_ctx);
  m->n = n;
  for (size_t i = 0; i < n; i++) m->calls[i] = calls[i];
  rc = weft_threadpool_queue_work(tp, &m->work, multiple_work, multiple_after);
  if (rc != 0) weft__free(m);
  return rc;
}

/* ------------------------------------------------- blockingCallFromThread */

typedef struct blocking_call {
  weft__blocked link;      /* the reactor's waiter list */
  weft__join_waiter joinw; /* on a pool thread: its engine's waiter list */
  weft__task node;         /* the call_from_thread node */
  atomic_int refs;         /* the caller + the reactor side */
  atomic_int finished;     /* 0 → 1 by the one finish that wins */
  _Atomic uint32_t done;   /* futex word: 1 once the outcome is written */
  int status;
  void *value;
  weft_failure *failure;
  weft_reactor *r;
  weft_callback_fn fn;
  void *arg;
} blocking_call;

static void bc_unref(blocking_call *bc) {
  /* acq_rel: the last holder sees the other's writes before freeing;
   * pairs with the other holder's fetch_sub. */
  if (weft__fetch_sub_acq_rel(&bc->refs, 1) == 1) weft__free(bc);
}

/* Returns 1 if this call delivered the outcome; 0 if another finish won
 * (then the caller keeps ownership of f). Every finisher holds the
 * reactor-side reference, or runs on the reactor thread while the node or
 * the Deferred entry that holds it is still pending (release(), from the
 * shutdown on that thread), so bc outlives the wake below even if the
 * waiter returns and drops its own reference at once. A release from
 * another thread would not hold it (models/blocking_call.pml
 * -DFOREIGN_STOPPER: the wake then names freed memory; harmless for a
 * FUTEX_WAKE_PRIVATE, which keys on the address, -DWAKE_ADDRESS_ONLY). */
static int bc_finish(blocking_call *bc, int status, void *value, weft_failure *f) {
  int expected = 0;
  /* relaxed CAS: it only elects the writer; the outcome is published by the
   * release store of `done` below. */
  if (!weft__cas_relaxed(&bc->finished, &expected, 1)) return 0;
  bc->status = status;
  bc->value = value;
  bc->failure = f;
  /* Release: publishes status/value/failure; pairs with the waiter's
   * load_acquire of `done`. */
  weft__store_release(&bc->done, 1);
  weft__futex_wake(&bc->done, 1);
  return 1;
}

/* The reactor-side finishes (on the reactor thread, where r is alive)
 * unregister the waiter themselves, so the woken caller never touches r
 * again: the reactor may be destroyed the moment the caller returns. If the
 * waiter was already released at shutdown, its link is gone and r may be
 * too (a Deferred outliving its reactor): touch nothing. */
static int bc_finish_reactor_side(blocking_call *bc, int status, void *value, weft_failure *f) {
  if (weft__load_relaxed(&bc->finished)) return 0;
  weft__reactor_unblock(bc->r, &bc->link);
  return bc_finish(bc, status, value, f);
}

static void bc_release(weft__blocked *b) { /* reactor shutdown, under block_lock */
  blocking_call *bc = (blocking_call *)(void *)((char *)b - offsetof(blocking_call, link));
  bc_finish(bc, WEFT_ESHUTDOWN, NULL, NULL);
}

/* A stop of the caller's pool began on the reactor thread, from one of its
 * callbacks (lib/engine/join_wait.h): that thread joins ours and will not
 * run the call before we return. Under the engine's mutex, on the reactor
 * thread, which holds the reactor-side reference as bc_finish says: the
 * waiter has not returned (it unregisters from the engine first), and r is
 * alive (it runs; a shutdown, on this thread, would have finished bc). */
static void bc_join_release(weft__join_waiter *w) {
  blocking_call *bc = (blocking_call *)(void *)((char *)w - offsetof(blocking_call, joinw));
  bc_finish_reactor_side(bc, WEFT_EDEADLK, NULL, NULL);
}

/* Whether the caller waits for thread t: the reactor's io thread, once the
 * reactor has one (weft__blocked.io_known: learnt at the registration if
 * the reactor has run already, else by the run's set_io_thread for every
 * waiter registered with the reactor by then).
 *
 * At a join (w linked) the answer is read from bc->link, never from bc->r:
 * the reactor may have released the wait and been destroyed since. At the
 * registration (w not yet linked; on the caller's thread, which holds r
 * alive) it is learnt again from r first, under e->mu.
 *
 * The answers that matter are always complete:
 *  - at a join by the reactor's thread T (weft__engine_join_begin, under
 *    e->mu): T set the io thread (set_io_thread, under block_lock) before
 *    it ran the callback that stops the pool. A waiter registered with the
 *    reactor before that learnt T there, on T, sequenced before the join;
 *    one registered after learnt it in weft__reactor_block, under
 *    block_lock, inside its own critical section of e->mu, which happens
 *    before the join's;
 *  - at a registration while T joins (e->joining, e->joiner == T): T set
 *    the io thread before its join_begin's critical section of e->mu, and
 *    ours comes after it (it saw `joining`), so the acquire of
 *    has_io_thread below sees it. Learnt before e->mu it might not be
 *    (models/join_wait.pml -DMUTANT_LEARN_BEFORE_LOCK). If the joiner is
 *    not T, false is right whatever we know.
 * Acquire: pairs with the release store of io_known (reactor.c,
 * blocked_learn_io_thread), made on T while the joiner may be another
 * thread, so io_thread is complete when compared. */
static bool bc_waits_for(weft__join_waiter *w, pthread_t t) {
  blocking_call *bc = (blocking_call *)(void *)((char *)w - offsetof(blocking_call, joinw));
  if (!w->linked) weft__reactor_blocked_init(bc->r, &bc->link); /* in no list yet */
  return weft__load_acquire(&bc->link.io_known) && pthread_equal(bc->link.io_thread, t);
}

typedef struct bc_enter_arg {
  blocking_call *bc;
  weft__task *node;
} bc_enter_arg;

/* A join refuses us, but the reactor's refusal comes first: from a
 * shutdown trigger that stops the pool, the caller hears WEFT_ESHUTDOWN,
 * as without the join (docs/misuse.md, row 36). */
static int bc_enter(void *ctx, bool joining) {
  bc_enter_arg *a = ctx;
  if (joining) {
    int rc = weft__reactor_block_refused(a->bc->r);
    return rc != 0 ? rc : WEFT_EDEADLK;
  }
  return weft__reactor_block(a->bc->r, &a->bc->link, a->node);
}

static int bc_deliver(void *ctx, weft_result *r) {
  blocking_call *bc = ctx;
  void *value = r->failure ? NULL : r->value;
  weft_failure *f = weft_result_take_failure(r); /* consumed: never "unhandled" */
  if (!bc_finish_reactor_side(bc, f ? weft_failure_code(f) : 0, value, f)) weft_failure_unref(f);
  bc_unref(bc);
  return 0;
}

/* The Deferred fn returned died unfired: it can never fire (Twisted's
 * caller would wait for ever). While the reactor runs that is the program
 * dropping it: WEFT_ECANCELED; in its shutdown, the shutdown's code. */
static void bc_dispose(void *ctx) {
  blocking_call *bc = ctx;
  /* Released at shutdown already: the reactor may be gone by now (the
   * Deferred may outlive it), so bc->r is not read. */
  if (!weft__load_relaxed(&bc->finished))
    bc_finish_reactor_side(bc, weft__reactor_stopping(bc->r) ? WEFT_ESHUTDOWN : WEFT_ECANCELED,
                           NULL, NULL);
  bc_unref(bc);
}

static void bc_run(weft__task *t) { /* on the reactor thread */
  blocking_call *bc = (blocking_call *)(void *)((char *)t - offsetof(blocking_call, node));
  if (weft__load_relaxed(&bc->finished) || weft__reactor_stopping(bc->r)) {
    bc_finish_reactor_side(bc, WEFT_ESHUTDOWN, NULL, NULL);
    bc_unref(bc);
    return;
  }
  /* maybeDeferred(fn): succeed(NULL) with fn as its first callback */
  weft_deferred *d;
  int rc = weft_succeed(&d, NULL);
  if (rc == 0) rc = weft_deferred_add_callback(d, bc->fn, bc->arg);
  if (rc == 0) rc = weft__deferred_add_both_owned(d, bc_deliver, bc, bc_dispose);
  if (rc != 0) {
    weft_failure *f = weft_failure_new(rc, NULL);
    if (!bc_finish_reactor_side(bc, rc, NULL, f)) weft_failure_unref(f);
    bc_unref(bc);
  }
  weft_deferred_unref(d);
}

/* bc_enter's refusals, for a wait that cannot begin (no memory): the
 * reactor's first, then a join of our pool by the reactor's thread. */
static int bc_enter_refused(void *ctx, bool joining) {
  int rc = weft__reactor_block_refused(((blocking_call *)ctx)->r);
  return rc != 0 ? rc : joining ? WEFT_EDEADLK : WEFT_ENOMEM;
}

/* No record for the call (or no node to carry the caller's context): what
 * the registration would answer with memory (the record is taken before it
 * looks) — WEFT_ESHUTDOWN from a reactor that refuses waiters now, and on a
 * pool thread WEFT_EDEADLK while the reactor's thread joins our pool —
 * else WEFT_ENOMEM. The look at the door above sees a shutdown under way,
 * not a "shutdown" fired by hand (shutdown_firing), nor one that began
 * since. On a pool thread the look is the registration's own
 * (weft__engine_join_wait_begin, under the engine's mutex), with a record
 * on the stack that it never registers (enter refuses). */
static __attribute__((noinline)) int bc_no_memory(weft_reactor *r) {
  weft__eworker *me = weft__engine_current_worker();
  if (me == NULL) {
    int rc = weft__reactor_block_refused(r);
    return rc != 0 ? rc : WEFT_ENOMEM;
  }
  blocking_call probe;
  probe.r = r;
  probe.joinw.waits_for = bc_waits_for;
  probe.joinw.release = bc_join_release; /* never: not registered */
  weft__reactor_blocked_init(r, &probe.link);
  return weft__engine_join_wait_begin(me->e, &probe.joinw, bc_enter_refused, &probe);
}

WEFT_API int weft_blocking_call_from_thread(weft_reactor *r, weft_callback_fn fn, void *arg,
                                            void **value, weft_failure **failure) {
  if (value) *value = NULL;
  if (failure) *failure = NULL;
  if (r == NULL || fn == NULL) return WEFT_EINVAL;
  if (weft__reactor_stopping(r)) return WEFT_ESHUTDOWN;
  if (weft_reactor_is_in_io_thread(r)) return WEFT_EDEADLK;
  blocking_call *bc = weft__malloc(sizeof *bc);
  if (bc == NULL) return bc_no_memory(r);
  atomic_init(&bc->refs, 2);
  atomic_init(&bc->finished, 0);
  atomic_init(&bc->done, 0);
  bc->status = 0;
  bc->value = NULL;
  bc->failure = NULL;
  bc->r = r;
  bc->fn = fn;
  bc->arg = arg;
  bc->link.release = bc_release;
  bc->node.run = bc_run;
  bc->node.cancel = NULL;
  weft__task *node = &bc->node;
  if (WEFT_UNLIKELY(weft__context_active()) && (node = weft__context_wrap(node)) == NULL) {
    weft__free(bc);
    return bc_no_memory(r);
  }
  /* On a pool thread the wait is announced (E9.1): the pool stands in for
   * us, so work the reactor's call waits for (a deferToThreadPool onto
   * this very pool) cannot deadlock behind us (twisted#5298). Before the
   * call is queued: the reactor may run it at once, and the work it
   * submits finds the stand-in (or its grant) already there. */
  (void)weft_blocking_begin();
  /* On a pool thread, the wait is also registered with the pool's engine,
   * asking for the reactor's thread (bc_waits_for: known once the reactor
   * runs, also for a wait that began before): a stop of the pool on that
   * thread (from a reactor callback, a startup trigger included) would
   * join us while we wait for it. It releases us instead, or refuses us if
   * it is under way (WEFT_EDEADLK). */
  weft__reactor_blocked_init(r, &bc->link);
  weft__eworker *me = weft__engine_current_worker();
  bool joinable = me != NULL;
  int rc;
  if (joinable) {
    bc->joinw.waits_for = bc_waits_for;
    bc->joinw.release = bc_join_release;
    bc_enter_arg a = {bc, node};
    rc = weft__engine_join_wait_begin(me->e, &bc->joinw, bc_enter, &a);
  } else {
    rc = weft__reactor_block(r, &bc->link, node);
  }
  if (rc != 0) {
    (void)weft_blocking_end();
    if (node != &bc->node) (void)weft__context_unwrap(node);
    weft__free(bc);
    return rc;
  }
  /* Acquire: pairs with bc_finish's release store of `done`. */
  while (weft__load_acquire(&bc->done) == 0) weft__futex_wait(&bc->done, 0);
  if (joinable) weft__engine_join_wait_end(me->e, &bc->joinw); /* before bc may go */
  (void)weft_blocking_end();
  /* Unregistered already (by the finisher): from here on r is not touched. */
  rc = bc->status;
  if (value) *value = bc->value;
  if (failure) *failure = bc->failure;
  else weft_failure_unref(bc->failure);
  bc_unref(bc);
  return rc;
}
