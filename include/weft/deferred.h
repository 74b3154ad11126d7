/**
 * @file
 * @brief weft — Deferred and Failure: twisted.internet.defer.Deferred and
 * twisted.python.failure.Failure in C, the subset the thread APIs need.
 *
 * Thread-safety: none, as in Twisted. A Deferred lives on one thread (the
 * reactor's); weft's thread APIs only ever fire it there. Failures are
 * refcounted atomically and may be handed between threads.
 *
 * The callback signature. Every callback and errback is
 *
 * @code
 * int cb(void *ctx, weft_result *r);
 * @endcode
 *
 * r holds the current result: r->value (success) or r->failure (non-NULL:
 * the chain is on the errback side). The callback replaces the result in
 * place and returns 0:
 *   - leave r alone: the result passes through unchanged;
 *   - weft_result_set_value(r, v): the next step is a callback with v
 *     (an errback doing this recovers from the failure);
 *   - weft_result_set_failure(r, f): the next step is an errback with f;
 *   - weft_result_set_deferred(r, d): the chain pauses until d fires and
 *     then continues with d's result (Twisted's chaining);
 *
 * or returns a negative WEFT_E* code: that is "raising" — the result becomes
 * a new failure with that code (the previous result is dropped).
 *
 * The failures weft makes itself (a raised WEFT_E* code, a cancel's
 * #WEFT_ECANCELED, errback(NULL)'s #WEFT_EFAILED, a refused chain's) keep
 * their code when out of memory: a shared static failure of that code
 * stands in, its message weft_strerror()'s.
 *
 * Ownership.
 *   - Values are opaque to weft: never copied, never freed. Whoever produces
 *     a value and whoever consumes it agree on its lifetime.
 *   - A weft_result owns one reference to its failure. weft_result_set_*
 *     drop the previous failure; weft_result_take_failure moves it out.
 *   - weft_deferred_errback and weft_result_set_failure consume the caller's
 *     reference to the failure, even when they return an error. Twisted's
 *     idioms in C:
 *       re-raise (an errback that lets the failure go on): leave r alone
 *       and return 0;
 *       forward it to another Deferred (d1.addErrback(d2.errback)): the
 *       result keeps its reference, so give d2 a reference of its own,
 *         weft_deferred_errback(d2, weft_failure_ref(r->failure));
 *       then handle it in d1 (weft_result_set_value(r, NULL)) or let it go
 *       on; passing r->failure without the ref frees it twice.
 *   - A Deferred is refcounted; the creator holds the first reference and
 *     gives it back with weft_deferred_unref. weft keeps its own references
 *     while it needs one (a thread result in flight; the Deferred an inner
 *     one will resume, held by that inner one), so the creator may unref at
 *     any time. The outer Deferred does not hold the inner one it waits on:
 *     an unfired inner Deferred whose last reference goes is destroyed, and
 *     the outer stays paused (Twisted's outer keeps it alive).
 *     References are plain counts: ref/unref on the reactor thread while the
 *     Deferred's reactor exists; a Deferred kept after weft_reactor_destroy
 *     may be released by any one thread at a time that is ordered after
 *     that destroy returned.
 *   - When the last reference goes and the chain ended on a failure nobody
 *     handled, the unhandled-failure hook is called (default: a line on
 *     stderr, Twisted's "Unhandled error in Deferred").
 *   - Callback contexts belong to the caller: weft never frees them. A
 *     Deferred destroyed before it fired never runs its callbacks.
 */
#ifndef WEFT_DEFERRED_H
#define WEFT_DEFERRED_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- Failure */

/** @brief A Failure (opaque, refcounted). */
typedef struct weft_failure weft_failure;

/**
 * @brief Optional destructor for a failure's payload.
 * @param data The payload given to weft_failure_new_data().
 */
typedef void (*weft_free_data_fn)(void *data);

/**
 * @brief A new failure.
 * @param code    A negative WEFT_E* or any negative code of the caller's; 0
 *                or positive becomes #WEFT_EFAILED.
 * @param message The message (copied); NULL means weft_strerror(code).
 * @return The failure (the caller's reference). Never NULL: when memory is
 *   exhausted it returns a shared static failure with code #WEFT_ENOMEM.
 */
WEFT_API weft_failure *weft_failure_new(int code, const char *message);
/**
 * @brief As weft_failure_new(), carrying data.
 * @param code      As weft_failure_new().
 * @param message   As weft_failure_new().
 * @param data      The payload (weft_failure_data()).
 * @param free_data Frees data when the last reference goes; may be NULL.
 * @return The failure (the caller's reference). If memory is exhausted, data
 *   is freed at once and the static #WEFT_ENOMEM failure is returned.
 */
WEFT_API weft_failure *weft_failure_new_data(int code, const char *message,
                                             void *data,
                                             weft_free_data_fn free_data);
/**
 * @brief Take a new reference to f. NULL-safe.
 * @param f The failure, or NULL.
 * @return f.
 */
WEFT_API weft_failure *weft_failure_ref(weft_failure *f);
/**
 * @brief Drop a reference to f; the last one frees it. NULL-safe.
 * @param f The failure, or NULL.
 */
WEFT_API void weft_failure_unref(weft_failure *f);
/**
 * @brief The failure's code.
 * @param f The failure.
 * @return Its code (negative), or #WEFT_EINVAL on NULL.
 */
WEFT_API int weft_failure_code(const weft_failure *f);
/**
 * @brief The failure's message.
 * @param f The failure.
 * @return The message, valid while f is; "(no failure)" for NULL.
 */
WEFT_API const char *weft_failure_message(const weft_failure *f);
/**
 * @brief The failure's payload.
 * @param f The failure.
 * @return The data given to weft_failure_new_data(); NULL if none, or for NULL.
 */
WEFT_API void *weft_failure_data(const weft_failure *f);
/**
 * @brief Failure.check.
 * @param f    The failure.
 * @param code The code to compare with.
 * @return 1 if f's code is code, else 0 (0 for NULL).
 */
WEFT_API int weft_failure_check(const weft_failure *f, int code);

/* ----------------------------------------------------------------- Result */

/** @brief A Deferred (opaque, refcounted). */
typedef struct weft_deferred weft_deferred;

/** @brief The current result of a callback chain, handed to each callback. */
typedef struct weft_result {
  void *value;            /**< success value; meaningful when failure is NULL */
  weft_failure *failure;  /**< owned reference; non-NULL: errback side */
  /** private: a Deferred returned by a callback (chaining) */
  weft_deferred *chained_private_;
} weft_result;

/**
 * @brief Make the result a success with value: the next step is a callback.
 *
 * Drops the previous failure (an errback doing this recovers from it).
 *
 * @param r     The result; NULL is ignored.
 * @param value The new value.
 */
WEFT_API void weft_result_set_value(weft_result *r, void *value);
/**
 * @brief Make the result a failure: the next step is an errback with f.
 *
 * Consumes the caller's reference to f (even if r is NULL); drops the
 * previous failure.
 *
 * @param r The result.
 * @param f The failure; NULL becomes a #WEFT_EFAILED failure.
 */
WEFT_API void weft_result_set_failure(weft_result *r, weft_failure *f);
/**
 * @brief Pause the chain until d fires; it then continues with d's result
 * (Twisted's chaining). Takes a new reference to d.
 *
 * Where the chain cannot wait on d, it goes on at once with a failure
 * instead: #WEFT_EINVAL if d is the Deferred whose callback returns it,
 * #WEFT_EDEADLK if d waits, through fired and paused Deferreds, on that
 * Deferred (the wait would close a circle that never fires), #WEFT_ENOMEM
 * if the wait cannot be recorded on d (out of memory).
 *
 * @param r The result.
 * @param d The Deferred to wait for.
 * @return 0, or #WEFT_EINVAL if r or d is NULL.
 */
WEFT_API int weft_result_set_deferred(weft_result *r, weft_deferred *d);
/**
 * @brief Move the failure out; the result becomes value NULL.
 * @param r The result.
 * @return The failure (the caller owns it), or NULL if there was none (or r
 *   is NULL).
 */
WEFT_API weft_failure *weft_result_take_failure(weft_result *r);

/**
 * @brief A callback or errback (see the file's description).
 * @param ctx The context given when it was added.
 * @param r   The current result, to replace in place.
 * @return 0, or a negative WEFT_E* code: "raising" — the result becomes a new
 *   failure with that code.
 */
typedef int (*weft_callback_fn)(void *ctx, weft_result *r);

/* --------------------------------------------------------------- Deferred */

/**
 * @brief A canceller: called by weft_deferred_cancel() on an unfired
 * Deferred.
 *
 * It may fire d; if it does not, d is errbacked with a #WEFT_ECANCELED
 * failure afterwards. A cancel of d made while its canceller runs (a
 * canceller that cancels every pending request of a group, d's own
 * included) returns 0 at once and calls nothing: d's cancel is already
 * under way. Twisted calls the canceller again there: a canceller that
 * always cancels d recurses until Python's recursion limit, one whose
 * nested cancel comes through other work runs twice.
 *
 * @param ctx The context given to weft_deferred_create_with_canceller().
 * @param d   The Deferred being cancelled.
 */
typedef void (*weft_canceller_fn)(void *ctx, weft_deferred *d);

/**
 * @brief A new, unfired Deferred.
 * @param out Receives it (the caller's reference; NULL on failure).
 * @return 0, or #WEFT_EINVAL (out is NULL), #WEFT_ENOMEM.
 */
WEFT_API int weft_deferred_create(weft_deferred **out);
/**
 * @brief A new, unfired Deferred with a canceller.
 * @param out       Receives it (the caller's reference; NULL on failure).
 * @param canceller Called by weft_deferred_cancel() (see weft_canceller_fn).
 * @param ctx       Its context.
 * @return 0, or #WEFT_EINVAL (out is NULL), #WEFT_ENOMEM.
 */
WEFT_API int weft_deferred_create_with_canceller(weft_deferred **out,
                                                 weft_canceller_fn canceller,
                                                 void *ctx);
/**
 * @brief succeed(value): a Deferred already fired with value.
 * @param out   Receives it (the caller's reference).
 * @param value The value.
 * @return 0, or #WEFT_ENOMEM (`*out` is NULL), #WEFT_EINVAL (out is NULL).
 */
WEFT_API int weft_succeed(weft_deferred **out, void *value);
/**
 * @brief fail(failure): a Deferred already fired with f.
 * @param out Receives it (the caller's reference).
 * @param f   The failure, consumed; NULL becomes a #WEFT_EFAILED failure.
 * @return 0, or #WEFT_ENOMEM (`*out` is NULL; f released), #WEFT_EINVAL (out
 *   is NULL; f released).
 */
WEFT_API int weft_fail(weft_deferred **out, weft_failure *f);

/**
 * @brief Take a new reference to d. NULL-safe.
 * @param d The Deferred, or NULL.
 * @return d.
 */
WEFT_API weft_deferred *weft_deferred_ref(weft_deferred *d);
/**
 * @brief Drop a reference to d; the last one frees it (see the file's
 * ownership rules). NULL-safe.
 * @param d The Deferred, or NULL.
 */
WEFT_API void weft_deferred_unref(weft_deferred *d);

/**
 * @brief addCallbacks(cb, eb): append a pair; if d has fired, the chain runs
 * now.
 * @param d      The Deferred.
 * @param cb     The callback; NULL means pass-through on that side.
 * @param cb_ctx cb's context.
 * @param eb     The errback; NULL means pass-through on that side.
 * @param eb_ctx eb's context.
 * @return 0, or #WEFT_ENOMEM (nothing added; the pair never runs),
 *   #WEFT_EINVAL on NULL d or both NULL.
 */
WEFT_API int weft_deferred_add_callbacks(weft_deferred *d, weft_callback_fn cb,
                                         void *cb_ctx, weft_callback_fn eb,
                                         void *eb_ctx);
/**
 * @brief addCallback(cb): addCallbacks(cb, pass-through).
 * @param d   The Deferred.
 * @param cb  The callback.
 * @param ctx Its context.
 * @return 0, or #WEFT_ENOMEM, #WEFT_EINVAL on NULL d or cb.
 */
WEFT_API int weft_deferred_add_callback(weft_deferred *d, weft_callback_fn cb,
                                        void *ctx);
/**
 * @brief addErrback(eb): addCallbacks(pass-through, eb).
 * @param d   The Deferred.
 * @param eb  The errback.
 * @param ctx Its context.
 * @return 0, or #WEFT_ENOMEM, #WEFT_EINVAL on NULL d or eb.
 */
WEFT_API int weft_deferred_add_errback(weft_deferred *d, weft_callback_fn eb,
                                       void *ctx);
/**
 * @brief addBoth(fn): fn as both callback and errback.
 * @param d   The Deferred.
 * @param fn  The callback and errback.
 * @param ctx Its context.
 * @return 0, or #WEFT_ENOMEM, #WEFT_EINVAL on NULL d or fn.
 */
WEFT_API int weft_deferred_add_both(weft_deferred *d, weft_callback_fn fn,
                                    void *ctx);

/**
 * @brief Fire with a value.
 * @param d     The Deferred.
 * @param value The value.
 * @return 0, or #WEFT_EALREADY if d already fired (except once after a
 *   cancel without canceller: that firing is swallowed and returns 0),
 *   #WEFT_EINVAL on NULL d.
 */
WEFT_API int weft_deferred_callback(weft_deferred *d, void *value);
/**
 * @brief Fire with a failure.
 * @param d The Deferred.
 * @param f The failure, consumed (even on error); NULL becomes #WEFT_EFAILED.
 * @return The same as weft_deferred_callback(): 0, #WEFT_EALREADY,
 *   #WEFT_EINVAL.
 */
WEFT_API int weft_deferred_errback(weft_deferred *d, weft_failure *f);
/**
 * @brief Deferred.cancel(): see weft_canceller_fn.
 *
 * If d is waiting on a chained Deferred, that one is cancelled (the
 * innermost of a chain of them, however long). No effect on a fired, idle
 * Deferred.
 *
 * @param d The Deferred.
 * @return 0, or #WEFT_EINVAL on NULL d. (The chain d waits on never leads
 *   back to d: weft_result_set_deferred() refuses such a circle.)
 */
WEFT_API int weft_deferred_cancel(weft_deferred *d);

/**
 * @brief Twisted's d.called.
 * @param d The Deferred.
 * @return 1 if d has fired, else 0 (0 for NULL).
 */
WEFT_API int weft_deferred_called(const weft_deferred *d);
/**
 * @brief Whether d waits on a chained Deferred.
 * @param d The Deferred.
 * @return 1 while d waits on a chained Deferred, else 0 (0 for NULL).
 */
WEFT_API int weft_deferred_paused(const weft_deferred *d);
/**
 * @brief Peek at the current result of a fired Deferred that is not paused.
 * @param d       The Deferred.
 * @param value   Receives the value; may be NULL to skip.
 * @param failure Receives the failure (a borrowed pointer; NULL on the
 *                success side); may be NULL to skip.
 * @return 0 (value and failure filled), or #WEFT_ESTATE if there is no
 *   result yet, #WEFT_EINVAL on NULL d.
 */
WEFT_API int weft_deferred_result(const weft_deferred *d, void **value,
                                  weft_failure **failure);

/**
 * @brief Unhandled-failure hook: called (on the thread dropping the last
 * reference) with the failure of a Deferred destroyed while holding one.
 * @param ctx The context given to weft_set_unhandled_failure_hook().
 * @param f   The failure (borrowed: weft drops its reference afterwards).
 */
typedef void (*weft_unhandled_fn)(void *ctx, weft_failure *f);
/**
 * @brief Set the unhandled-failure hook. Process-wide; set it before
 * creating Deferreds.
 * @param fn  The hook; NULL restores the default (a line on stderr).
 * @param ctx Its context.
 */
WEFT_API void weft_set_unhandled_failure_hook(weft_unhandled_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_DEFERRED_H */
