/*
 * weft — Deferred and Failure: twisted.internet.defer.Deferred and
 * twisted.python.failure.Failure in C, the subset the thread APIs need.
 *
 * Thread-safety: none, as in Twisted. A Deferred lives on one thread (the
 * reactor's); weft's thread APIs only ever fire it there. Failures are
 * refcounted atomically and may be handed between threads.
 *
 * The callback signature. Every callback and errback is
 *
 *     int cb(void *ctx, weft_result *r);
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
 * or returns a negative WEFT_E* code: that is "raising" — the result becomes
 * a new failure with that code (the previous result is dropped).
 *
 * Ownership.
 *   - Values are opaque to weft: never copied, never freed. Whoever produces
 *     a value and whoever consumes it agree on its lifetime.
 *   - A weft_result owns one reference to its failure. weft_result_set_*
 *     drop the previous failure; weft_result_take_failure moves it out.
 *   - weft_deferred_errback and weft_result_set_failure consume the caller's
 *     reference to the failure, even when they return an error.
 *   - A Deferred is refcounted; the creator holds the first reference and
 *     gives it back with weft_deferred_unref. weft keeps its own references
 *     while it needs one (a thread result in flight, a chained Deferred
 *     waiting on another), so the creator may unref at any time.
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

typedef struct weft_failure weft_failure;

/* Optional destructor for a failure's payload. */
typedef void (*weft_free_data_fn)(void *data);

/*
 * A new failure with code (a negative WEFT_E* or any negative code of the
 * caller's; 0 or positive becomes WEFT_EFAILED) and a message (copied; NULL
 * means weft_strerror(code)). Never returns NULL: when memory is exhausted it
 * returns a shared static failure with code WEFT_ENOMEM.
 */
WEFT_API weft_failure *weft_failure_new(int code, const char *message);
/* As weft_failure_new, carrying data, freed by free_data (may be NULL) when
 * the last reference goes. If memory is exhausted, data is freed at once and
 * the static WEFT_ENOMEM failure is returned. */
WEFT_API weft_failure *weft_failure_new_data(int code, const char *message,
                                             void *data,
                                             weft_free_data_fn free_data);
WEFT_API weft_failure *weft_failure_ref(weft_failure *f);  /* NULL-safe */
WEFT_API void weft_failure_unref(weft_failure *f);         /* NULL-safe */
WEFT_API int weft_failure_code(const weft_failure *f);     /* WEFT_EINVAL on NULL */
WEFT_API const char *weft_failure_message(const weft_failure *f);
WEFT_API void *weft_failure_data(const weft_failure *f);
/* Failure.check: 1 if f's code is code, else 0. */
WEFT_API int weft_failure_check(const weft_failure *f, int code);

/* ----------------------------------------------------------------- Result */

typedef struct weft_deferred weft_deferred;

typedef struct weft_result {
  void *value;            /* success value; meaningful when failure is NULL */
  weft_failure *failure;  /* owned reference; non-NULL: errback side */
  /* private: a Deferred returned by a callback (chaining) */
  weft_deferred *chained_private_;
} weft_result;

WEFT_API void weft_result_set_value(weft_result *r, void *value);
/* Consumes the caller's reference to f (NULL becomes a WEFT_EFAILED failure). */
WEFT_API void weft_result_set_failure(weft_result *r, weft_failure *f);
/* Pause the chain until d fires; takes a new reference to d. WEFT_EINVAL if
 * r or d is NULL. */
WEFT_API int weft_result_set_deferred(weft_result *r, weft_deferred *d);
/* Move the failure out (the caller owns it); the result becomes value NULL. */
WEFT_API weft_failure *weft_result_take_failure(weft_result *r);

typedef int (*weft_callback_fn)(void *ctx, weft_result *r);

/* --------------------------------------------------------------- Deferred */

/* Called by weft_deferred_cancel on an unfired Deferred. It may fire d; if it
 * does not, d is errbacked with a WEFT_ECANCELED failure afterwards. */
typedef void (*weft_canceller_fn)(void *ctx, weft_deferred *d);

WEFT_API int weft_deferred_create(weft_deferred **out);
WEFT_API int weft_deferred_create_with_canceller(weft_deferred **out,
                                                 weft_canceller_fn canceller,
                                                 void *ctx);
/* succeed(value) / fail(failure): already fired. fail consumes f (NULL
 * becomes a WEFT_EFAILED failure). WEFT_ENOMEM: *out is NULL (f released). */
WEFT_API int weft_succeed(weft_deferred **out, void *value);
WEFT_API int weft_fail(weft_deferred **out, weft_failure *f);

WEFT_API weft_deferred *weft_deferred_ref(weft_deferred *d); /* NULL-safe */
WEFT_API void weft_deferred_unref(weft_deferred *d);         /* NULL-safe */

/*
 * addCallbacks(cb, eb): append a pair; if d has fired, the chain runs now.
 * cb or eb NULL means pass-through on that side. WEFT_ENOMEM (nothing
 * added; the pair never runs), WEFT_EINVAL on NULL d or both NULL.
 */
WEFT_API int weft_deferred_add_callbacks(weft_deferred *d, weft_callback_fn cb,
                                         void *cb_ctx, weft_callback_fn eb,
                                         void *eb_ctx);
WEFT_API int weft_deferred_add_callback(weft_deferred *d, weft_callback_fn cb,
                                        void *ctx);
WEFT_API int weft_deferred_add_errback(weft_deferred *d, weft_callback_fn eb,
                                       void *ctx);
WEFT_API int weft_deferred_add_both(weft_deferred *d, weft_callback_fn fn,
                                    void *ctx);

/* Fire with a value. WEFT_EALREADY if d already fired (except once after a
 * cancel without canceller: that firing is swallowed and returns 0). */
WEFT_API int weft_deferred_callback(weft_deferred *d, void *value);
/* Fire with a failure (consumed; NULL becomes WEFT_EFAILED). Same returns. */
WEFT_API int weft_deferred_errback(weft_deferred *d, weft_failure *f);
/* Deferred.cancel(): see weft_canceller_fn. If d is waiting on a chained
 * Deferred, that one is cancelled. No effect on a fired, idle Deferred. */
WEFT_API int weft_deferred_cancel(weft_deferred *d);

/* 1 if d has fired (Twisted's d.called), else 0. */
WEFT_API int weft_deferred_called(const weft_deferred *d);
/* 1 while d waits on a chained Deferred, else 0. */
WEFT_API int weft_deferred_paused(const weft_deferred *d);
/*
 * Peek at the current result of a fired Deferred that is not paused:
 * returns 0 and fills value / failure (a borrowed pointer; may be NULL
 * pointers to skip), or WEFT_ESTATE if there is no result yet.
 */
WEFT_API int weft_deferred_result(const weft_deferred *d, void **value,
                                  weft_failure **failure);

/* Unhandled-failure hook: called (on the thread dropping the last reference)
 * with the failure of a Deferred destroyed while holding one. NULL restores
 * the default (stderr). Process-wide; set it before creating Deferreds. */
typedef void (*weft_unhandled_fn)(void *ctx, weft_failure *f);
WEFT_API void weft_set_unhandled_failure_hook(weft_unhandled_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_DEFERRED_H */
