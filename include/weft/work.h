/**
 * @file
 * @brief weft — intrusive work requests, the allocation-free way to submit
 * work (the shape of libuv's uv_work_t).
 *
 * The caller owns the storage of a weft_work. Between a successful submit and
 * the moment after_cb is called (or, with after_cb NULL, the moment work_cb
 * starts) the request belongs to weft: do not touch it, move it or free it.
 * A request can be reused once it is returned.
 */
#ifndef WEFT_WORK_H
#define WEFT_WORK_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A work request (see struct weft_work). */
typedef struct weft_work weft_work;

/**
 * @brief The work: runs in a worker thread.
 * @param req The request that was submitted.
 */
typedef void (*weft_work_cb)(weft_work *req);
/**
 * @brief Told that a request is done.
 *
 * Runs in the worker thread right after work_cb with status 0, or — if the
 * request was accepted but will never run — with #WEFT_ECANCELED: its pool
 * was destroyed, stopped with a deadline, or stopped with no thread to run
 * it, before a worker could take it
 * (called in the stopping thread, or in the pool thread that took it); it
 * was submitted from a reactor drain's callback and still waited in that
 * drain's submit window when another thread's stop (or stop_timeout, or
 * destroy) closed the pool (called in the drain's thread); or
 * weft_threadpool_cancel_work() won (called in the pool thread that takes
 * the request out of the queue, in the stopping thread, or, for a cancel
 * that won while queue_work was being refused, in the thread that called
 * queue_work, before it returns 0). Exactly one call per accepted request.
 *
 * @param req    The request that was submitted; the caller's again.
 * @param status 0, or #WEFT_ECANCELED.
 */
typedef void (*weft_after_work_cb)(weft_work *req, int status);

/** @brief A work request: caller-owned storage for one submission. */
struct weft_work {
  void *data; /**< the caller's; weft never reads or writes it */
  /** private: weft's, do not touch */
  void *weft_private_[6];
};

#ifdef __cplusplus
}
#endif
#endif /* WEFT_WORK_H */
