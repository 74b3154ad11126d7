/*
 * weft — shared declarations: export macro, error codes, callback types.
 *
 * Error convention (libuv's): every fallible call returns int, 0 on success or
 * a negative WEFT_E* code. weft_strerror() describes a code. No function aborts
 * on bad input, on ENOMEM or on a failed thread creation.
 */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(WEFT_STATIC_DEFINE)
#define WEFT_API
#elif defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

/* Error codes. Stable: new codes are only ever appended. */
enum weft_errno {
  WEFT_OK = 0,
  WEFT_EINVAL = -1,     /* bad argument: NULL handle or function, min > max, negative size */
  WEFT_ENOMEM = -2,     /* out of memory; nothing was changed */
  WEFT_EQUIT = -3,      /* AlreadyQuit: the worker, team or pool was quit or stopped */
  WEFT_EAGAIN = -4,     /* a thread could not be created; the call had no effect */
  WEFT_EBUSY = -5,      /* the object is still in use */
  WEFT_EDEADLK = -6,    /* the call would deadlock (joining oneself, waiting on one's own loop) */
  WEFT_ECANCELED = -7,  /* accepted work that will never run, or a cancelled Deferred */
  WEFT_EALREADY = -8,   /* AlreadyCalled: a Deferred fired twice */
  WEFT_ETIMEDOUT = -9,  /* a timed wait expired */
  WEFT_ESHUTDOWN = -10, /* the reactor is stopping or has stopped */
  WEFT_EFAILED = -11,   /* a work function reported failure; see its weft_failure */
  WEFT_ENOTSUP = -12,   /* not supported on this platform or build */
  WEFT_ESTATE = -13     /* the object is in the wrong state for this call */
};

/* A short English description of err ("unknown error" for unknown codes). */
WEFT_API const char *weft_strerror(int err);
/* The symbolic name of err, e.g. "WEFT_EQUIT". */
WEFT_API const char *weft_err_name(int err);

/* The library's version as "MAJOR.MINOR.PATCH", and as WEFT_VERSION_HEX. */
WEFT_API const char *weft_version(void);
WEFT_API unsigned weft_version_hex(void);

/* A plain task: what IWorker.do() and callInThread() take. */
typedef void (*weft_fn)(void *arg);

/*
 * A work function that reports an outcome, as Twisted's callInThreadWithCallback
 * expects. Return 0 for success and store the result in *result; return a
 * negative code for failure (*result may then carry failure details owned by
 * the convention of the caller — the threads module expects a weft_failure*
 * or NULL).
 */
typedef int (*weft_call_fn)(void *arg, void **result);

/* onResult(ok, result): status 0 is success, negative is failure. */
typedef void (*weft_result_fn)(void *ctx, int status, void *result);

/*
 * Error hook (Twisted's logException / log.err). err is the failure code,
 * what a short static description of where it happened. Called from whatever
 * thread saw the failure; must be thread-safe.
 */
typedef void (*weft_log_fn)(void *ctx, int err, const char *what);

/*
 * Replace the allocator used for every internal allocation (like
 * uv_replace_allocator). Call before any other weft function, or when no weft
 * object exists. Any argument NULL keeps the current function. Returns
 * WEFT_EBUSY if weft objects are alive, WEFT_EINVAL on a partial set where
 * malloc and free would not match.
 */
typedef void *(*weft_malloc_fn)(size_t size);
typedef void *(*weft_calloc_fn)(size_t n, size_t size);
typedef void (*weft_free_fn)(void *ptr);
WEFT_API int weft_replace_allocator(weft_malloc_fn m, weft_calloc_fn c, weft_free_fn f);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_COMMON_H */
