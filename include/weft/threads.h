/**
 * @file
 * @brief weft — twisted.internet.threads in C: run work in a thread pool and
 * get the result back on the reactor thread as a Deferred, and the reverse
 * (blocking_call_from_thread).
 *
 * Threading: weft_defer_to_thread*, weft_call_multiple_in_thread are called
 * on the reactor thread (or, before the reactor runs, on the thread that will
 * run it); the Deferreds they return fire on the reactor thread.
 * weft_blocking_call_from_thread is for any thread except the reactor's.
 *
 * The work function is a weft_call_fn (weft/common.h): return 0 and store a
 * value in `*result` (the Deferred's callback gets it), or return a negative
 * code — `*result` may then hold a weft_failure* the errback receives
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

/**
 * @brief deferToThreadPool(reactor, pool, fn, arg): `*out` gets a Deferred
 * (the caller's reference) fired on r's thread with fn's result.
 *
 * One block per call (the Deferred carries the pool request and the
 * completion node), taken from a cache the reactor keeps, so once warm
 * nothing is allocated. If pool is destroyed before fn could run, the
 * Deferred errbacks with #WEFT_ECANCELED. With a pool of your own, destroy
 * the pool before the reactor: its workers deliver results into the
 * reactor's queue.
 *
 * Called from a callback the reactor runs while it drains its completions
 * (a Deferred's callback, a call_from_thread call) after the first of the
 * drain, the call reaches the pool with the others that drain makes, in one
 * hand-off, once the drain's snapshot has run (at most 64 calls later);
 * stopping the pool on the reactor thread hands them over first. So a
 * callback must never wait for a call made during the same drain, by
 * itself or by an earlier callback of that drain (docs/design.md E8). The same holds for weft_threadpool_call_in_thread*
 * and _queue_work made there.
 *
 * @param r    The reactor whose thread fires the Deferred.
 * @param pool The pool fn runs in.
 * @param fn   The work function (see the file's description).
 * @param arg  Its argument.
 * @param out  Receives the Deferred (the caller's reference).
 * @return 0, or an error (nothing submitted, `*out` NULL):
 *   - #WEFT_EINVAL a NULL argument;
 *   - #WEFT_ENOMEM out of memory;
 *   - #WEFT_EQUIT  the pool is stopped (Twisted's Deferred would never fire;
 *     also when out of memory then).
 */
WEFT_API int weft_defer_to_thread_pool(weft_reactor *r, weft_threadpool *pool,
                                       weft_call_fn fn, void *arg,
                                       weft_deferred **out);
/**
 * @brief deferToThread: weft_defer_to_thread_pool() on the reactor's pool
 * (weft_reactor_get_thread_pool()).
 * @param r   The reactor.
 * @param fn  The work function.
 * @param arg Its argument.
 * @param out Receives the Deferred (the caller's reference).
 * @return 0, or the errors of weft_defer_to_thread_pool(), or
 *   #WEFT_ESHUTDOWN once the reactor is shutting down.
 */
WEFT_API int weft_defer_to_thread(weft_reactor *r, weft_call_fn fn, void *arg,
                                  weft_deferred **out);

/**
 * @brief deferToThreadPool with the first callback pair given up front.
 *
 * The pair is stored in the Deferred (in a slot it always has) before fn is
 * submitted, so nothing can fail once the call returned 0 — unlike
 * weft_defer_to_thread_pool() followed by weft_deferred_add_both(), whose
 * add could in principle fail after the work was accepted. callback(ctx, r)
 * gets fn's value, errback(ctx, r) its failure (#WEFT_ECANCELED if the work
 * was cancelled or its pool destroyed first); either may be NULL
 * (pass-through), not both. They run on r's thread, as the first entries of
 * the Deferred's chain.
 *
 * weft_deferred_cancel() on the Deferred (for this call and for
 * weft_defer_to_thread_pool()): if fn has not started it never runs (the
 * pool drops the request, as weft_threadpool_cancel_work()); either way the
 * Deferred errbacks #WEFT_ECANCELED at once and a late result is dropped:
 * a late failure is released, a late value is not touched (weft does not
 * know what it is). Twisted's garbage collector frees it; in C a fn whose
 * value owns memory and whose Deferred may be cancelled must free it some
 * other way (its own record of what it handed out, or a value that owns
 * nothing).
 *
 * @param r        The reactor whose thread the callbacks run on (call on it).
 * @param pool     The pool fn runs in.
 * @param fn       The work (weft_call_fn rules, see the file comment).
 * @param arg      fn's argument.
 * @param callback Run with the value (may be NULL).
 * @param errback  Run with the failure (may be NULL).
 * @param ctx      Both callbacks' context.
 * @param out      Receives the Deferred (the caller's reference), or NULL:
 *                 then weft keeps none and the callbacks still run.
 * @return 0; #WEFT_EINVAL (NULL r, pool, fn, or both callbacks),
 *         #WEFT_ENOMEM, #WEFT_EQUIT (pool stopped): nothing was submitted
 *         and neither callback will run.
 */
WEFT_API int weft_defer_to_thread_pool_then(weft_reactor *r, weft_threadpool *pool,
                                            weft_call_fn fn, void *arg,
                                            weft_callback_fn callback,
                                            weft_callback_fn errback, void *ctx,
                                            weft_deferred **out);
/**
 * @brief weft_defer_to_thread_pool_then() on the reactor's pool.
 *
 * @param r        The reactor (call on its thread).
 * @param fn       The work.
 * @param arg      fn's argument.
 * @param callback Run with the value (may be NULL).
 * @param errback  Run with the failure (may be NULL).
 * @param ctx      Both callbacks' context.
 * @param out      Receives the Deferred, or NULL.
 * @return As weft_defer_to_thread_pool_then(), and #WEFT_ESHUTDOWN once the
 *         reactor is shutting down.
 */
WEFT_API int weft_defer_to_thread_then(weft_reactor *r, weft_call_fn fn, void *arg,
                                       weft_callback_fn callback,
                                       weft_callback_fn errback, void *ctx,
                                       weft_deferred **out);

/** @brief One step of weft_call_multiple_in_thread(). */
typedef struct weft_call {
  weft_call_fn fn; /**< the work function; must not be NULL */
  void *arg;       /**< its argument */
} weft_call;

/**
 * @brief callMultipleInThread: run calls[0..n) one after another in one
 * thread of the reactor's pool.
 *
 * The first call returning a negative code stops the sequence; its failure
 * goes to the log hook of the reactor's pool
 * (weft_reactor_set_thread_pool_options(); stderr without one), as do calls
 * that never ran because the pool was stopped first.
 *
 * @param r     The reactor.
 * @param calls The calls; the list is copied.
 * @param n     How many.
 * @return 0, or:
 *   - #WEFT_EINVAL NULL r, NULL calls with n > 0, or a call's fn NULL;
 *   - #WEFT_ENOMEM out of memory;
 *   - the errors of weft_reactor_get_thread_pool() (#WEFT_ESHUTDOWN) and of
 *     submitting to the pool (#WEFT_EQUIT, the pool stopped; also when out
 *     of memory then).
 */
WEFT_API int weft_call_multiple_in_thread(weft_reactor *r, const weft_call *calls,
                                          size_t n);

/**
 * @brief blockingCallFromThread(reactor, fn, arg): run fn(arg, &result) on
 * the reactor thread and wait for the outcome.
 *
 * fn follows the weft_callback_fn rules (weft/deferred.h): it may set a
 * value, a failure, or a Deferred to wait for. Never hangs on a dead
 * reactor, unlike Twisted (twisted#10124). A reactor that has not run yet
 * is waited for: a call made before weft_reactor_run() or attach from the
 * thread that will run it waits for ever, as in Twisted (weft cannot know
 * which thread will run the reactor until one does).
 *
 * @param r       The reactor.
 * @param fn      Runs on the reactor thread.
 * @param arg     Its context.
 * @param value   Receives the value; may be NULL.
 * @param failure Receives the failure (the caller's reference); may be
 *                NULL: the failure is then dropped.
 * @return 0 and `*value`; or the failure's code, with the failure in
 *   `*failure`; or:
 *   - #WEFT_EDEADLK   called on the reactor thread itself; or, on a
 *                     thread of a weft_threadpool, the reactor thread
 *                     began to stop that pool (weft_threadpool_stop(),
 *                     stop_timeout or destroy from a reactor callback, a
 *                     startup trigger included), which joins this thread:
 *                     the wait is
 *                     released (fn never runs if it had not yet; a wait
 *                     begun before the reactor ran too), or refused while
 *                     that stop is under way (also when out of memory
 *                     then);
 *   - #WEFT_ESHUTDOWN the reactor is stopping or stopped, or is firing
 *     "shutdown" (weft_reactor_fire_system_event()), also when out of
 *     memory then; or it began to shut down while we waited (the waiter is
 *     released; a result that arrives later is dropped);
 *   - #WEFT_ECANCELED fn returned a Deferred that was then released
 *     without firing (it never can; Twisted's caller waits for ever);
 *   - #WEFT_EINVAL    NULL r or fn;
 *   - #WEFT_ENOMEM    out of memory.
 */
WEFT_API int weft_blocking_call_from_thread(weft_reactor *r, weft_callback_fn fn,
                                            void *arg, void **value,
                                            weft_failure **failure);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_THREADS_H */
