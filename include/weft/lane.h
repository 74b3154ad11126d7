/**
 * @file
 * @brief weft — lanes: classes of work inside one ThreadPool, each with its
 * own concurrency limit, so that a flood of slow work in one lane cannot
 * take every thread from the others.
 *
 * libuv's most reported thread-pool problem is slow work (file system calls
 * on a slow disk) occupying every thread and starving fast work (DNS
 * lookups) queued behind it. A lane holds at most its @c limit threads of
 * its pool at once: a lane task is handed to the pool only while fewer than
 * @c limit of the lane's tasks are in the pool (queued there or running);
 * the others wait in the lane, in submission order, and each lane task that
 * finishes hands the next waiting one to the pool. With a slow lane limited
 * to 2 of a pool's 8 threads, the other 6 keep serving the other lanes.
 *
 * Lanes are created on a pool and belong to it: weft_threadpool_destroy()
 * frees them. weft_lane_close() refuses new work (#WEFT_EQUIT); what the
 * lane already holds still runs. A lane costs nothing to the pool's own
 * submits (weft_threadpool_call_in_thread() and the rest do not look at
 * lanes), and a lane task that does not wait costs, beside the pool's
 * submit, an add and a subtract on the lane's count and a few relaxed adds
 * to its statistics, all on the lane's own cache line.
 *
 * With the elastic pool (the default), a lane task that blocks
 * (weft_blocking_begin(), or seen off-CPU by the pool's monitor) still counts
 * against its lane: the pool may start a thread to stand in for it, and that
 * thread serves the other lanes, never a second task of the same lane
 * beyond its limit.
 *
 * So a lane task must not wait for a task submitted after it to its own
 * lane (from inside it or from elsewhere) while the lane is at its limit:
 * that task gets a slot only when one of the lane's tasks in the pool
 * returns, and the wait never ends, idle threads or not (not detected;
 * weft_threadpool_stop() waits with it). weft_threadpool_stop_timeout()
 * cancels the later task (its on_result gets #WEFT_ECANCELED), which may
 * end the wait. Wait on tasks of another lane, or of the pool itself.
 *
 * A lane task runs in its submitter's context (weft/context.h), like any
 * pool task, even when it waited in the lane and another thread's finishing
 * task handed it to the pool.
 *
 * There are no priorities between lanes: the pool runs the tasks handed to
 * it in its own order (FIFO from one submitter, work stealing between its
 * threads). A lane's limit is what protects the others; a latency-critical
 * lane is one whose neighbours' limits leave it threads.
 *
 * Stop: weft_threadpool_stop() runs what the lanes hold, as it runs the
 * pool's own queue: a lane's waiting tasks are handed to the pool one slot
 * at a time by its finishing tasks, on the pool's threads, and the stop
 * waits for them (the limit holds during the stop too). Where nothing can
 * run them (a pool with no thread) and at weft_threadpool_stop_timeout(),
 * which cancels queued work (those behind a task that outlives its deadline
 * included, before it returns), they are cancelled through their cancel path
 * (on_result with #WEFT_ECANCELED; a plain weft_lane_call_in_thread() task
 * is reported to the pool's log hook), never dropped silently. docs/threading-howto.md, "Lanes", has an example;
 * lib/pool/lane.c opens with the admission protocol (models/lane.pml).
 *
 * Thread-safety: every call may be made from any thread, concurrently,
 * including from the pool's own threads and from inside a lane task.
 */
#ifndef WEFT_LANE_H
#define WEFT_LANE_H

#include <stdint.h>
#include "common.h"
#include "threadpool.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A lane of a weft_threadpool (opaque; the pool owns it). */
typedef struct weft_lane weft_lane;

/** @brief Options of weft_lane_create(); start from weft_lane_options_init(). */
typedef struct weft_lane_options {
  /** The lane's name (copied), for weft_lane_name() and diagnostics;
   *  NULL: the lane's address. */
  const char *name;
  /** How many of the lane's tasks may be in the pool at once (queued there
   *  or running), >= 1. Default 1. A limit above the pool's max_threads is
   *  allowed: the pool's own limit then applies. */
  int limit;
} weft_lane_options;

/**
 * @brief Fill o with the defaults (name NULL, limit 1).
 * @param o The options to fill; NULL is ignored.
 */
WEFT_API void weft_lane_options_init(weft_lane_options *o);

/**
 * @brief Create a lane on a pool (started or not).
 *
 * The lane belongs to tp: weft_threadpool_destroy() frees it, after the
 * pool's threads are joined. A lane is meant to stand for a class of work
 * (the disk, the resolver), made once: a closed lane's memory is held until
 * the pool is destroyed.
 *
 * @param tp   The pool.
 * @param o    The options (read during the call only).
 * @param out  Receives the lane (NULL on failure).
 * @return 0, or:
 *   - #WEFT_EINVAL tp, o or out is NULL, or o->limit < 1;
 *   - #WEFT_EQUIT  the pool was stopped (also when out of memory then);
 *   - #WEFT_ENOMEM out of memory.
 */
WEFT_API int weft_lane_create(weft_threadpool *tp, const weft_lane_options *o,
                              weft_lane **out);

/**
 * @brief callInThread(fn, arg) in a lane: fn(arg) runs in a pool thread
 * when the lane has room (at once if fewer than its limit of its tasks are
 * in the pool, else after the tasks submitted to the lane before it).
 *
 * A task cancelled at the pool's stop (a pool with no thread,
 * weft_threadpool_stop_timeout(), or a hand-off that a stop's close refused:
 * one made off the pool's threads, or held in a reactor drain's window) is
 * reported to the pool's log hook with #WEFT_ECANCELED.
 *
 * @param lane The lane.
 * @param fn   The task.
 * @param arg  Its argument.
 * @return 0 if the task was accepted (it runs, or is cancelled as above),
 *   or:
 *   - #WEFT_EQUIT  the lane was closed, or its pool stopped (also when
 *     out of memory then);
 *   - #WEFT_EINVAL lane or fn is NULL;
 *   - #WEFT_ENOMEM out of memory.
 */
WEFT_API int weft_lane_call_in_thread(weft_lane *lane, weft_fn fn, void *arg);

/**
 * @brief callInThreadWithCallback(onResult, fn, arg) in a lane.
 *
 * on_result(ctx, status, result) runs in the pool thread right after fn,
 * with fn's status and result, or with #WEFT_ECANCELED (result NULL) if the
 * task is cancelled at the pool's stop (a pool with no thread,
 * weft_threadpool_stop_timeout(), or a hand-off that a stop's close
 * refused, as for weft_lane_call_in_thread(); then in the thread that
 * cancels it).
 * The lane's slot is given to its next waiting task after on_result
 * returns.
 *
 * @param lane      The lane.
 * @param on_result onResult; may be NULL: a failure is then sent to the
 *                  pool's log hook.
 * @param ctx       on_result's context.
 * @param fn        The work function.
 * @param arg       Its argument.
 * @return 0 if the task was accepted, or:
 *   - #WEFT_EQUIT  the lane was closed, or its pool stopped (also when
 *     out of memory then);
 *   - #WEFT_EINVAL lane or fn is NULL;
 *   - #WEFT_ENOMEM out of memory.
 */
WEFT_API int weft_lane_call_in_thread_with_callback(weft_lane *lane,
                                                    weft_result_fn on_result,
                                                    void *ctx, weft_call_fn fn,
                                                    void *arg);

/**
 * @brief Refuse new work: later submits to the lane return #WEFT_EQUIT.
 *
 * The tasks the lane holds (waiting or in the pool) still run, or are
 * cancelled at the pool's stop, as before. The lane's memory stays valid
 * (weft_lane_stats_get() still answers) until weft_threadpool_destroy().
 *
 * @param lane The lane.
 * @return 0, or #WEFT_EQUIT the second time, #WEFT_EINVAL on NULL lane.
 */
WEFT_API int weft_lane_close(weft_lane *lane);

/**
 * @brief A lane's statistics: a snapshot, safe from any thread, exact at
 * quiescence (nothing running or waiting: submitted == completed +
 * cancelled, running == 0, queued == 0).
 *
 * In a child of fork(2) the lane's tasks that the parent had not finished
 * (running on its threads, queued in the pool, waiting in the lane) are
 * the parent's: the child's copy counts them as never submitted. Only the
 * forking thread's own task of the lane, if it forked inside one, counts
 * as running there; one it forked while starting (in the enter hook of the
 * context the task captured, weft/context.h) counts as submitted there once
 * it runs or is cancelled (docs/threading-howto.md, "Fork").
 */
typedef struct weft_lane_stats {
  int limit;             /**< the lane's limit */
  int running;           /**< the lane's tasks running in a pool thread now */
  int peak_running;      /**< the most that ever ran at once (never above limit) */
  long queued;           /**< tasks waiting in the lane for room */
  uint64_t submitted;    /**< tasks accepted */
  uint64_t completed;    /**< tasks that ran */
  uint64_t cancelled;    /**< tasks cancelled (the pool stopped before they could run) */
} weft_lane_stats;

/**
 * @brief Read a lane's statistics.
 * @param lane The lane.
 * @param out  Receives the snapshot.
 * @return 0, or #WEFT_EINVAL on NULL lane or out.
 */
WEFT_API int weft_lane_stats_get(const weft_lane *lane, weft_lane_stats *out);

/**
 * @brief The lane's name.
 * @param lane The lane.
 * @return The name (valid as long as the lane), or NULL for a NULL lane.
 */
WEFT_API const char *weft_lane_name(const weft_lane *lane);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_LANE_H */
