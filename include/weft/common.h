/**
 * @file
 * @brief weft — shared declarations: export macro, error codes, callback types.
 *
 * Error convention (libuv's): every fallible call returns int, 0 on success or
 * a negative WEFT_E* code (#weft_errno). weft_strerror() describes a code. No
 * function aborts on bad input, on ENOMEM or on a failed thread creation.
 * A function that creates or returns an object through an `out` parameter
 * sets `*out` to NULL on every failure (when `out` itself is not NULL), so
 * the caller never sees a stale or half-made object.
 */
#ifndef WEFT_COMMON_H
#define WEFT_COMMON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @def WEFT_API
 * @brief Marks a function exported by libweft: default symbol visibility
 * under GCC and Clang; empty when WEFT_STATIC_DEFINE is defined or with other
 * compilers.
 */
#if defined(WEFT_STATIC_DEFINE)
#define WEFT_API
#elif defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

/** @brief Error codes. Stable: new codes are only ever appended. */
enum weft_errno {
  WEFT_OK = 0,          /**< success */
  WEFT_EINVAL = -1,     /**< bad argument: NULL handle or function, min > max, negative size */
  WEFT_ENOMEM = -2,     /**< out of memory; nothing was changed */
  WEFT_EQUIT = -3,      /**< AlreadyQuit: the worker, team or pool was quit or stopped */
  WEFT_EAGAIN = -4,     /**< a thread could not be created; the call had no effect */
  WEFT_EBUSY = -5,      /**< the object is still in use */
  WEFT_EDEADLK = -6,    /**< the call would deadlock (joining oneself, waiting on one's own loop) */
  WEFT_ECANCELED = -7,  /**< accepted work that will never run, or a cancelled Deferred */
  WEFT_EALREADY = -8,   /**< AlreadyCalled: a Deferred fired twice */
  WEFT_ETIMEDOUT = -9,  /**< a timed wait expired */
  WEFT_ESHUTDOWN = -10, /**< the reactor is stopping or has stopped */
  WEFT_EFAILED = -11,   /**< a work function reported failure; see its weft_failure */
  WEFT_ENOTSUP = -12,   /**< not supported on this platform or build */
  WEFT_ESTATE = -13     /**< the object is in the wrong state for this call */
};

/**
 * @brief A short English description of an error code.
 * @param err A WEFT_E* code (or any int).
 * @return A static string; "unknown error" for unknown codes.
 */
WEFT_API const char *weft_strerror(int err);
/**
 * @brief The symbolic name of an error code, e.g. "WEFT_EQUIT".
 * @param err A WEFT_E* code (or any int).
 * @return A static string; "WEFT_E?" for unknown codes.
 */
WEFT_API const char *weft_err_name(int err);

/**
 * @brief The library's version.
 * @return "MAJOR.MINOR.PATCH" (a static string, #WEFT_VERSION_STRING).
 */
WEFT_API const char *weft_version(void);
/**
 * @brief The library's version as a number.
 * @return #WEFT_VERSION_HEX of the library: (MAJOR << 16) | (MINOR << 8) | PATCH.
 */
WEFT_API unsigned weft_version_hex(void);

/**
 * @brief A plain task: what IWorker.do() and callInThread() take.
 * @param arg The argument given with the task.
 */
typedef void (*weft_fn)(void *arg);

/**
 * @brief A work function that reports an outcome, as Twisted's
 * callInThreadWithCallback expects.
 *
 * Return 0 for success and store the result in `*result`; return a negative
 * code for failure (`*result` may then carry failure details owned by the
 * convention of the caller — the threads module expects a weft_failure* or
 * NULL).
 *
 * @param arg    The argument given with the call.
 * @param result Where to store the result (or the failure details).
 * @return 0 for success, or a negative code for failure.
 */
typedef int (*weft_call_fn)(void *arg, void **result);

/**
 * @brief onResult(ok, result): told the outcome of a weft_call_fn.
 * @param ctx    The context given with the callback.
 * @param status 0 is success, negative is failure.
 * @param result The work function's result.
 */
typedef void (*weft_result_fn)(void *ctx, int status, void *result);

/**
 * @brief Error hook (Twisted's logException / log.err).
 *
 * Called from whatever thread saw the failure; must be thread-safe.
 *
 * @param ctx  The context given with the hook.
 * @param err  The failure code.
 * @param what A short static description of where it happened.
 */
typedef void (*weft_log_fn)(void *ctx, int err, const char *what);

/**
 * @brief A malloc replacement (see weft_replace_allocator()).
 * @param size Bytes wanted.
 * @return The memory, or NULL when out of memory.
 */
typedef void *(*weft_malloc_fn)(size_t size);
/**
 * @brief A calloc replacement (see weft_replace_allocator()).
 * @param n    Number of elements.
 * @param size Size of one element.
 * @return Zeroed memory, or NULL when out of memory.
 */
typedef void *(*weft_calloc_fn)(size_t n, size_t size);
/**
 * @brief A free replacement (see weft_replace_allocator()).
 * @param ptr Memory from the matching malloc or calloc, or NULL.
 */
typedef void (*weft_free_fn)(void *ptr);
/**
 * @brief Replace the allocator used for every internal allocation (like
 * uv_replace_allocator).
 *
 * Call before any other weft function, or when no weft object exists and
 * no other thread is inside a weft call: the check below sees an object
 * only once its create has returned, so a replacement while another thread
 * creates one would free that object's first blocks with the wrong free.
 * The three come as a set, since f frees what m and c return: all three,
 * or all NULL (nothing changes).
 *
 * @param m The new malloc, or NULL.
 * @param c The new calloc, or NULL.
 * @param f The new free, or NULL.
 * @return 0 on success, or:
 *   - #WEFT_EBUSY  weft objects are alive;
 *   - #WEFT_EINVAL a partial set (some of m, c and f NULL, not all).
 */
WEFT_API int weft_replace_allocator(weft_malloc_fn m, weft_calloc_fn c, weft_free_fn f);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_COMMON_H */
