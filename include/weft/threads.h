/*
 * weft — twisted.internet.threads in C: run work in a thread pool and get the
 * result back on the reactor thread as a Deferred, and the reverse
 * (blocking_call_from_thread).
 *
 * Threading: weft_defer_to_thread*, weft_call_multiple_in_thread are called
 * on the reactor thread (or, before the reactor runs, on the thread that will
 * run it); the Deferreds they return fire on the reactor thread.
 * weft_blocking_call_from_thread is for any thread except the reactor's.
 *
 * The work function is a weft_call_fn (weft/common.h): return 0 and store a
 * value in *result (the Deferred's callback gets it), or return a negative
 * code — *result may then hold a weft_failure* the errback receives
 * (ownership passes to weft); left NULL, a failure with that code is made.
 */
#ifndef WEFT_THREADS_H
#define WEFT_THREADS_H

#include "common.h"
#include "deferred.h"
#include "reactor.h"
#include "threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * deferToThreadPool(reactor, pool, fn, arg). *out gets a Deferred (the
 * caller's reference) fired on r's thread with fn's result. One block per
 * call (the Deferred carries the pool request and the completion node),
 * taken from a cache the reactor keeps, so once warm nothing is allocated.
 * If pool is destroyed before fn could run, the Deferred errbacks with
 * WEFT_ECANCELED. Errors (nothing submitted, *out NULL): WEFT_EINVAL,
 * WEFT_ENOMEM, WEFT_EQUIT (the pool is stopped — Twisted's Deferred would
 * never fire). With a pool of your own, destroy the pool before the reactor:
 * its workers deliver results into the reactor's queue.
 * Called from a callback the reactor runs while it drains its completions
 * (a Deferred's callback, a call_from_thread call) after the first of the
 * drain, the call reaches the pool with the others that drain makes, in
 * one hand-off, once the drain's snapshot has run (at most 64 calls later); stopping the pool on the
 * reactor thread hands them over first. So a callback must never wait for
 * a call it submitted in the same callback (docs/design.md E8). The same
 * holds for weft_threadpool_call_in_thread* and _queue_work made there.
 */
WEFT_API int weft_defer_to_thread_pool(weft_reactor *r, weft_threadpool *pool,
                                       weft_call_fn fn, void *arg,
                                       weft_deferred **out);
/* deferToThread: the same on the reactor's pool (weft_reactor_get_thread_pool).
 * WEFT_ESHUTDOWN once the reactor is shutting down. */
WEFT_API int weft_defer_to_thread(weft_reactor *r, weft_call_fn fn, void *arg,
                                  weft_deferred **out);

/* One step of weft_call_multiple_in_thread. */
typedef struct weft_call {
  weft_call_fn fn;
  void *arg;
} weft_call;

/*
 * callMultipleInThread: run calls[0..n) one after another in one thread of
 * the reactor's pool. The first call returning a negative code stops the
 * sequence; its failure is logged (stderr). The list is copied.
 */
WEFT_API int weft_call_multiple_in_thread(weft_reactor *r, const weft_call *calls,
                                          size_t n);

/*
 * blockingCallFromThread(reactor, fn, arg): run fn(arg, &result) on the
 * reactor thread (weft_callback_fn rules, weft/deferred.h: it may set a value,
 * a failure, or a Deferred to wait for) and wait for the outcome.
 * Returns 0 and *value; or the failure's code, with the failure in *failure
 * (the caller's reference; pass NULL to drop it). value/failure may be NULL.
 * Never hangs on a dead reactor, unlike Twisted (twisted#10124):
 *   WEFT_EDEADLK   called on the reactor thread itself;
 *   WEFT_ESHUTDOWN the reactor is stopping or stopped, or began to shut down
 *                  while we waited (the waiter is released; a result that
 *                  arrives later is dropped).
 */
WEFT_API int weft_blocking_call_from_thread(weft_reactor *r, weft_callback_fn fn,
                                            void *arg, void **value,
                                            weft_failure **failure);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_THREADS_H */
