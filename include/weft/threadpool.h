/**
 * @file
 * @brief weft — ThreadPool: twisted.python.threadpool.ThreadPool in C, on
 * weft's work-stealing engine.
 *
 * Lifecycle: create (no thread yet; work submitted now is backlogged) →
 * start (grows to min, then to the backlog, bounded by max) → stop (runs the
 * work already queued, joins every thread; a stopped pool cannot be
 * restarted, as in Twisted) → destroy.
 *
 * Thread-safety: every call may be made from any thread, concurrently (Twisted
 * asks for a single caller thread; weft does not). stop and destroy may not be
 * called from one of the pool's own threads (WEFT_EDEADLK).
 *
 * Deliberate differences from Twisted (docs/twisted-mapping.md has them all):
 *   - submitting after stop returns WEFT_EQUIT instead of being ignored;
 *   - stop with backlog but no worker runs nothing and reports each task to
 *     its owner with WEFT_ECANCELED instead of dropping it silently;
 *   - thread names carry a creation counter, so they never repeat;
 *   - a failed thread creation never loses the task (Twisted raises out of
 *     callInThread and drops it);
 *   - a submit made on a weft reactor's thread while it drains completions
 *     reaches the pool with that drain's others, in one hand-off, when the
 *     drain's snapshot has run (weft/threads.h, docs/design.md E8).
 *
 * When a task is accepted (return 0) it will run, or its owner is told
 * WEFT_ECANCELED (after_cb / on_result; a plain call_in_thread task, which
 * has no owner callback, is reported to the log hook). Precisely:
 *   - before start, and at the limit (max busy threads), it waits in the
 *     backlog (FIFO from one submitter outside the pool, as in Twisted:
 *     a pool of one thread starts its tasks in that order; with more
 *     threads the order in which they start is approximate, since a thread
 *     takes a batch of tasks at a time and the others may steal from it or
 *     take later ones while it is descheduled; a pool task's own submits
 *     are FIFO up to its ring's 256 tasks, and those past it, which go to
 *     the shared queue, may run after later ones: docs/design.md E4);
 *   - if the pool is started, no thread is idle, the pool is below max and
 *     the thread cannot be created (the factory fails, out of memory), the
 *     task is still accepted into the backlog: it runs when a thread exists
 *     (the next submit, start_a_worker or adjust_poolsize retries the
 *     creation); if none ever does, stop/destroy cancel it;
 *   - stop runs everything queued when at least one thread exists, then
 *     joins every thread; what no thread ran is cancelled. A task submitted
 *     from a reactor drain's callback waits, with the drain's other calls,
 *     until that drain's snapshot has run (weft/threads.h): if another
 *     thread's stop closes the pool meanwhile, it is cancelled, as a submit
 *     after the stop began would be refused.
 * Submit costs: one exchange and one counter add on shared lines, plus a
 * fence and a load; a system call only when no thread is awake to take the
 * task (a parked one is woken, or a new one started). No allocation per task
 * once the per-thread node cache is warm (queue_work never allocates, but
 * for a context's wrapper: weft/context.h).
 *
 * fork(2): in the child, a pool inherited from the parent is a closed copy
 * (submits, start and stop return WEFT_EQUIT; the parent's queued tasks
 * neither run nor are cancelled there) that destroy frees without joining;
 * docs/threading-howto.md, "Fork", has the whole contract.
 *
 * Threads are named `PoolThread-<name>-<n>`, n = creation counter; the
 * factory hook gets that name (its `PoolThread-<name>` part cut to 234
 * bytes, so that the whole `-<n>` always fits), the default factory gives
 * pthread_setname_np its first bytes and the whole `-<n>` suffix (15 bytes).
 */
#ifndef WEFT_THREADPOOL_H
#define WEFT_THREADPOOL_H

#include <stdint.h>
#include <stdio.h>
#include "common.h"
#include "work.h"
#include "worker.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A ThreadPool (opaque). */
typedef struct weft_threadpool weft_threadpool;

/** @brief Passed for min or max to adjust_poolsize: keep the current value (None). */
#define WEFT_KEEP (-1)

/**
 * @brief Upper bound on threads in one pool (max is clamped to it).
 *
 * Threads told to quit but not yet exited keep their slot (a pool has
 * 4096) until they are gone: under extreme resize churn a creation may
 * answer #WEFT_EAGAIN meanwhile.
 */
#define WEFT_THREADPOOL_MAX_THREADS 1024

/** How a pool pins its worker threads to CPUs (weft_threadpool_options.affinity). */
typedef enum weft_affinity_policy {
  WEFT_AFFINITY_NONE = 0, /**< no pinning (default): every worker runs where the thread that
                           *   created the pool may, whichever thread starts it; with a
                           *   thread factory of your own, where the factory puts it */
  WEFT_AFFINITY_SET,      /**< every worker may run on any CPU of the set, and only there */
  WEFT_AFFINITY_COMPACT,  /**< worker slot i on one CPU, neighbours close together: a
                           *   core's hardware threads, then the next core of the package */
  WEFT_AFFINITY_SCATTER   /**< worker slot i on one CPU, spread out: one per physical core,
                           *   alternating packages, before any core gets a second */
} weft_affinity_policy;

/**
 * CPU affinity for a pool's workers. Each worker thread pins itself when it
 * starts (so a user thread factory needs to do nothing); with COMPACT and
 * SCATTER, slot i (weft_worker_stats.index) takes the i-th CPU of the
 * policy's order, wrapping around when there are more workers than CPUs,
 * and a thread that replaces an exited one gets its slot's CPU again.
 *
 * The set: cpus[0..ncpus-1], or, for COMPACT and SCATTER with ncpus == 0,
 * the CPUs the thread that creates the pool may run on (sched_getaffinity:
 * a cpuset cgroup, taskset and numactl limits are already applied there).
 * Every listed CPU must be one the creating thread may run on (on a kernel
 * built for more than 1024 CPUs too): otherwise creation fails with
 * WEFT_EINVAL, as it does for an empty SET, a NULL list with ncpus > 0, a
 * negative CPU or an unknown policy (also when out of memory then). The list
 * may repeat CPUs and be of any length; it is copied.
 *
 * A pool pinned to fewer CPUs than the process may use counts only those
 * when it judges how many of its workers run at once: the share of queued
 * tasks a worker takes at a time, the yield between long tasks (with more
 * workers than CPUs), the elastic pool's pace of thread creation.
 */
typedef struct weft_affinity {
  weft_affinity_policy policy; /**< WEFT_AFFINITY_NONE by default */
  const int *cpus;             /**< CPU numbers; may be NULL when ncpus is 0 */
  size_t ncpus;                /**< how many; 0: the creating thread's CPUs (not for SET) */
} weft_affinity;

/** @brief Options of weft_threadpool_create_ex(); start from weft_threadpool_options_init(). */
typedef struct weft_threadpool_options {
  int min_threads;                        /**< default 5, as Twisted; never reaped below */
  int max_threads;                        /**< default 20: threads that may run work at once */
  const char *name;                       /**< copied; NULL: the pool's address */
  weft_thread_factory_fn thread_factory;  /**< NULL: pthread_create. Makes the workers;
                                               the elastic monitor's own thread is made
                                               with pthread_create (docs/reliability.md) */
  void *thread_factory_ctx;               /**< thread_factory's context */
  weft_log_fn log;                        /**< failures with nobody to tell; NULL: stderr.
                                               It may read the pool's statistics and create
                                               lanes; it must not start, stop or resize the
                                               pool (a start or a resize may be what calls it) */
  void *log_ctx;                          /**< log's context */
  unsigned spin_us;                       /**< idle search before parking; default 50 */
  /**
   * 1: Twisted's hard cap, never more than max_threads threads (a pool stuck
   * at it is reported to the log hook once a minute). Default 0: elastic
   * (docs/design.md E9), the pool holds more threads than max_threads only
   * to stand in for workers that are blocked (weft_blocking_begin(), or seen
   * off-CPU by the pool's monitor, or by a stop that waits on them), never
   * more than hard_threads; a stand-in
   * whose block is over leaves after keep_alive_ms idle (with 0, never: it
   * stays idle above max_threads).
   */
  int strict_cap;
  /** The memory valve; 0 (default): derived from the available memory (the
   * host's MemAvailable, bounded by what the process's cgroups have left
   * below their memory limits) and RLIMIT_NPROC, at most 4096; negative:
   * #WEFT_EINVAL at creation; never below
   * max_threads (an adjust_poolsize() max above it raises it while that
   * max holds; a lower max brings it back). */
  int hard_threads;
  /** An idle thread above min_threads exits after this many milliseconds
   * (doubled, up to 60 s, while the pool keeps re-creating threads it
   * released); 0: never, as Twisted. Default 10000. */
  unsigned keep_alive_ms;
  weft_affinity affinity;                 /**< CPU pinning of the workers; default none */
  /**
   * 1 (default): when threads leaving after their keep-alive bring the pool
   * back to min_threads, the last of them hands the C library's free heap
   * pages back to the system (glibc's malloc_trim(0), at most once a
   * second, only while weft uses the default allocator), so an idle
   * pool's resident memory returns close to what it was before a burst.
   * 0: leave that to the program.
   */
  int trim_heap;
} weft_threadpool_options;

/**
 * @brief Fill o with the defaults (see weft_threadpool_options).
 * @param o The options to fill; NULL is ignored.
 */
WEFT_API void weft_threadpool_options_init(weft_threadpool_options *o);

/**
 * @brief ThreadPool(min, max, name): a pool with the other options at their
 * defaults.
 * @param out         Receives the pool (the caller's; NULL on failure).
 * @param min_threads The minimum number of threads.
 * @param max_threads The maximum (clamped to #WEFT_THREADPOOL_MAX_THREADS).
 * @param name        The pool's name (copied); NULL: the pool's address.
 * @return 0, or:
 *   - #WEFT_EINVAL if min < 0 or min > max, or out is NULL, or (_ex) for an
 *     invalid affinity option (weft_affinity);
 *   - #WEFT_ENOMEM out of memory.
 */
WEFT_API int weft_threadpool_create(weft_threadpool **out, int min_threads,
                                    int max_threads, const char *name);
/**
 * @brief A pool with every option given.
 * @param out  Receives the pool (the caller's; NULL on failure).
 * @param opts The options (read during the call only).
 * @return 0, or:
 *   - #WEFT_EINVAL out or opts is NULL, min_threads < 0,
 *     min_threads > max_threads, hard_threads < 0 or an invalid affinity
 *     option (weft_affinity);
 *   - #WEFT_ENOMEM out of memory.
 */
WEFT_API int weft_threadpool_create_ex(weft_threadpool **out,
                                       const weft_threadpool_options *opts);

/**
 * @brief start(): idempotent while running.
 * @param tp The pool.
 * @return 0, or:
 *   - #WEFT_EQUIT  after stop;
 *   - #WEFT_EAGAIN if no thread at all could be created (the pool is still
 *     started);
 *   - #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_start(weft_threadpool *tp);
/**
 * @brief stop(): run queued work, join all threads.
 *
 * Queued work may be what a running task waits for. An elastic pool keeps
 * standing in for such tasks while it stops, as it does while open: a task
 * inside weft_blocking_begin() gets a thread at once, and when every
 * worker is in a task, work is queued, nothing completes for 10 ms and more
 * workers are off their CPU than the stop has stand-ins still running (a
 * worker in weft_blocking_begin() counts as off its CPU; otherwise /proc
 * tells, and where it cannot only those count), it starts one more
 * (bounded by hard_threads; the wait between two doubles, up to 1 s). A
 * strict-cap pool
 * never grows: a task that waits for work queued behind it holds the stop,
 * as in Twisted. On a reactor's thread, a task of the pool that waits in
 * weft_blocking_call_from_thread() on that reactor (which cannot run the
 * call while this joins) is released with #WEFT_EDEADLK, even one that
 * began to wait before the reactor ran, and so is one that starts to wait
 * while this joins (weft/threads.h).
 * @param tp The pool.
 * @return 0, or:
 *   - #WEFT_EQUIT   the second time;
 *   - #WEFT_EDEADLK from a pool thread;
 *   - #WEFT_EINVAL  on NULL tp.
 */
WEFT_API int weft_threadpool_stop(weft_threadpool *tp);
/** @brief What weft_threadpool_stop_timeout() did. */
typedef struct weft_threadpool_stop_report {
  /** Queued tasks the call cancelled; each owner was told #WEFT_ECANCELED
   *  (after_cb / on_result; a plain call_in_thread task: the log hook). A
   *  request whose weft_threadpool_cancel_work() had won (answered 0) is
   *  that cancel's and not counted, whether the call's sweep or a pool
   *  thread told its owner. */
  uint64_t cancelled;
  /** Threads the call left behind, still in a task (or, past the one
   *  second of grace below, not yet gone): non-zero only with
   *  #WEFT_ETIMEDOUT. They finish and are joined later. A count of
   *  threads, not of tasks: a task one of them hands on, or a stand-in it
   *  starts, after the call looked is not in it. */
  int running;
} weft_threadpool_stop_report;

/**
 * @brief Stop with a deadline.
 *
 * Refuse new work, cancel every queued task (the calling thread takes them
 * out of the pool's queues, including those waiting behind a running task,
 * and tells each owner #WEFT_ECANCELED; a task a pool thread took just
 * before runs), then wait at most @p timeout_ms for the tasks that run and
 * join their threads. Before the sweep it waits, as weft_threadpool_stop()
 * does and without the deadline, for submit windows that hold tasks for tp
 * to flush (a reactor drain on another thread that submits to tp: a
 * callback that blocks inside that drain holds the stop too).
 *
 * Every accepted task runs or is cancelled, exactly once: cancelled by the
 * call (report->cancelled), or run, by now or by the threads it leaves
 * behind (report->running). Two kinds of a lane's tasks are in no figure
 * of the report, their owners told as usual: one whose submit was still
 * adding it when the call swept the lane is cancelled by that submit
 * (which returns 0, after the call), and one those threads hand on after
 * the call is run or cancelled by them. Once every thread is joined the
 * counters satisfy submitted == executed + cancelled.
 *
 * On #WEFT_ETIMEDOUT the pool is stopped (submits return #WEFT_EQUIT) but
 * the threads still in a task are left to finish it (their owners are told
 * as usual); nothing is freed under them. A later weft_threadpool_stop()
 * (returns 0), another stop_timeout, or weft_threadpool_destroy() joins
 * them, waiting as long as they run.
 *
 * A thread that the close woke but that has neither left nor taken a task
 * (one still in the log hook, say) is waited for until it does, up to one
 * second for the whole call; past that it counts in report->running.
 *
 * On a reactor's thread, a task of the pool that waits in
 * weft_blocking_call_from_thread() on that reactor is released with
 * #WEFT_EDEADLK, as by weft_threadpool_stop(): it could not end before the
 * deadline, the reactor being blocked in this call.
 *
 * @param tp         The pool.
 * @param timeout_ms How long running tasks may take, >= 0 (0: do not wait).
 * @param report     Filled in (may be NULL).
 * @return 0 when every thread was joined, or:
 *   - #WEFT_ETIMEDOUT tasks outlived the deadline (report->running);
 *   - #WEFT_EQUIT     the pool was stopped already (and no timed-out stop
 *                     left threads to join);
 *   - #WEFT_EDEADLK   from one of the pool's threads;
 *   - #WEFT_EINVAL    on NULL tp or a negative timeout.
 */
WEFT_API int weft_threadpool_stop_timeout(weft_threadpool *tp, long timeout_ms,
                                          weft_threadpool_stop_report *report);

/**
 * @brief Stop if needed, then free.
 *
 * Work that can no longer run is cancelled: its owner is told
 * #WEFT_ECANCELED. destroy is the last call on tp: no other thread may still
 * be inside (or later enter) a call on it — after stop, other threads'
 * submits return #WEFT_EQUIT, so stop, let them see it, then destroy.
 *
 * @param tp The pool.
 * @return 0 (tp is freed), or #WEFT_EDEADLK from a pool thread or from a
 *   callback that this pool's own stop or destroy runs to report a
 *   cancelled task, directly or further down (a callback of its stop stops
 *   another pool, whose callback destroys this one) (nothing freed: the
 *   outer call frees tp), or from the callback of a lane task that a lane
 *   call on this thread cancels (a submit the stop refused, weft/lane.h:
 *   that call still uses the lane; destroy once it returned),
 *   #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_destroy(weft_threadpool *tp);

/**
 * @brief callInThread(fn, arg): run fn(arg) in a pool thread.
 * @param tp  The pool.
 * @param fn  The task.
 * @param arg Its argument.
 * @return 0 if the task was accepted (see the file's contract), or:
 *   - #WEFT_EQUIT  after stop (also when out of memory then);
 *   - #WEFT_EINVAL on NULL tp or fn;
 *   - #WEFT_ENOMEM out of memory.
 */
WEFT_API int weft_threadpool_call_in_thread(weft_threadpool *tp, weft_fn fn,
                                            void *arg);
/**
 * @brief callInThreadWithCallback(onResult, fn, arg).
 *
 * on_result(ctx, status, result) runs in the worker thread right after fn,
 * with fn's status and result; with #WEFT_ECANCELED (result NULL) if the pool
 * is destroyed before the task could run.
 *
 * @param tp        The pool.
 * @param on_result onResult; may be NULL: a failure is then sent to the log
 *                  hook.
 * @param ctx       on_result's context.
 * @param fn        The work function.
 * @param arg       Its argument.
 * @return 0 if the task was accepted, or:
 *   - #WEFT_EQUIT  after stop (also when out of memory then);
 *   - #WEFT_EINVAL on NULL tp or fn;
 *   - #WEFT_ENOMEM out of memory.
 */
WEFT_API int weft_threadpool_call_in_thread_with_callback(
    weft_threadpool *tp, weft_result_fn on_result, void *ctx, weft_call_fn fn,
    void *arg);
/**
 * @brief The allocation-free submit: the caller owns req (see weft/work.h).
 * @param tp    The pool.
 * @param req   The request; weft's until after runs (or work starts, with
 *              after NULL).
 * @param work  Runs in a pool thread.
 * @param after Runs right after work, or with #WEFT_ECANCELED; may be NULL.
 * @return 0 if the request was accepted, or #WEFT_EQUIT after stop,
 *   #WEFT_EINVAL on NULL tp, req or work, #WEFT_ENOMEM when a context is
 *   current (weft/context.h) and its wrapper node cannot be had (after
 *   stop: #WEFT_EQUIT all the same). One
 *   exception to those refusals: if weft_threadpool_cancel_work() on
 *   another thread claimed req while this call was being refused (it
 *   answered 0), req counts as accepted and cancelled: after (or the log
 *   hook) gets #WEFT_ECANCELED on this thread before this returns 0 (the
 *   pool never held it: no counter and no stop report counts it).
 */
WEFT_API int weft_threadpool_queue_work(weft_threadpool *tp, weft_work *req,
                                        weft_work_cb work,
                                        weft_after_work_cb after);

/**
 * @brief Cancel a queue_work request that has not started (uv_cancel).
 *
 * If it has not started, work_cb never runs and after_cb(req,
 * #WEFT_ECANCELED) is called exactly once, when the request leaves the
 * pool's queue: at once if a thread is free, else when a pool thread
 * reaches it or a stop cancels it — so req still belongs to weft until that
 * after_cb, as for any request. Any thread may call it; req must stay valid
 * for the duration of the call (a request whose after_cb may run on another
 * thread meanwhile must not be freed by that after_cb while a cancel can
 * still be in progress). A cancel racing an after_cb that queues req again
 * decides against whichever submission it meets; if the new one was queued
 * without after_cb, a cancel that wins it answers 0 and its work_cb never
 * runs; with nobody to tell, the pool's log hook reports it.
 *
 * @param tp  The pool req was submitted to.
 * @param req The request.
 * @return 0 (cancelled; after_cb gets #WEFT_ECANCELED), or:
 *   - #WEFT_EBUSY    it started (runs or ran);
 *   - #WEFT_EALREADY an earlier cancel won, or a stop cancelled it (its
 *                    after_cb got #WEFT_ECANCELED);
 *   - #WEFT_EINVAL   NULL arguments, a request not submitted to tp (or
 *                    no longer tp's: its after_cb handed it on, to a
 *                    reactor or another pool, while this call ran), one
 *                    submitted without after_cb (nobody could be told), or
 *                    one whose queue_work failed (it was never queued).
 */
WEFT_API int weft_threadpool_cancel_work(weft_threadpool *tp, weft_work *req);

/**
 * @brief adjustPoolsize(min, max).
 *
 * While started: above max, idle threads quit now and busy ones when they
 * next go idle; below min, threads are started; and tasks queued while the
 * pool could run none get threads up to the new max (Twisted's pool leaves
 * them waiting for the next submit).
 *
 * @param tp          The pool.
 * @param min_threads The new minimum, or #WEFT_KEEP.
 * @param max_threads The new maximum (clamped to
 *                    #WEFT_THREADPOOL_MAX_THREADS), or #WEFT_KEEP.
 * @return 0, or:
 *   - #WEFT_EINVAL (nothing changed) if the result has min < 0 or
 *     min > max, or on NULL tp;
 *   - #WEFT_EAGAIN threads were wanted and none could be started.
 */
WEFT_API int weft_threadpool_adjust_poolsize(weft_threadpool *tp,
                                             int min_threads, int max_threads);
/**
 * @brief startAWorker(): one more thread if started and below max (else a
 * no-op, 0).
 * @param tp The pool.
 * @return 0, or #WEFT_EAGAIN if its creation failed, #WEFT_EQUIT after stop,
 *   #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_start_a_worker(weft_threadpool *tp);
/**
 * @brief stopAWorker(): an idle thread quits now, else the next one to go
 * idle (debt, as Twisted's shrink).
 * @param tp The pool.
 * @return 0, or #WEFT_EQUIT after stop, #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_stop_a_worker(weft_threadpool *tp);

/**
 * @name Introspection
 * Snapshots, safe from any thread. Negative (#WEFT_EINVAL) on NULL tp.
 * @{
 */
/**
 * @brief The minimum number of threads.
 * @param tp The pool.
 * @return min, or #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_min(const weft_threadpool *tp);
/**
 * @brief The maximum number of threads.
 * @param tp The pool.
 * @return max, or #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_max(const weft_threadpool *tp);
/**
 * @brief The threads that exist: idle + busy.
 * @param tp The pool.
 * @return The count, or #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_workers(weft_threadpool *tp);
/**
 * @brief The busy threads.
 * @param tp The pool.
 * @return The count, or #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_working(weft_threadpool *tp);
/**
 * @brief The idle threads.
 * @param tp The pool.
 * @return The count, or #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_waiters(weft_threadpool *tp);
/**
 * @brief The backlog: tasks waiting for a thread.
 * @param tp The pool.
 * @return The count, or #WEFT_EINVAL on NULL tp.
 */
WEFT_API long weft_threadpool_queue_size(weft_threadpool *tp);
/**
 * @brief Whether the pool is started (Twisted's started).
 * @param tp The pool.
 * @return 1 between start and stop, else 0; #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_started(const weft_threadpool *tp);
/**
 * @brief Whether the pool was stopped (Twisted's joined).
 * @param tp The pool.
 * @return 1 once stop was called, else 0; #WEFT_EINVAL on NULL tp.
 */
WEFT_API int weft_threadpool_joined(const weft_threadpool *tp);
/**
 * @brief Number of threads ever created (Twisted's len(threads)).
 * @param tp The pool.
 * @return The count (INT_MAX once it is larger), or #WEFT_EINVAL on NULL
 *   tp.
 */
WEFT_API int weft_threadpool_threads_created(const weft_threadpool *tp);
/** @} */

/**
 * @brief Engine counters, for benchmarks and perf work. Monotonic,
 * approximate while the pool runs.
 */
typedef struct weft_threadpool_counters {
  uint64_t submitted;      /**< tasks accepted */
  uint64_t executed;       /**< tasks run */
  uint64_t cancelled;      /**< tasks reported WEFT_ECANCELED */
  uint64_t steals;         /**< successful steal operations */
  uint64_t stolen;         /**< tasks moved by them */
  uint64_t parks;          /**< futex waits entered */
  uint64_t unparks;        /**< futex wakes issued */
  uint64_t spawns;         /**< threads started */
  uint64_t spawn_failures; /**< thread creations that failed */
} weft_threadpool_counters;
/**
 * @brief Read the engine counters.
 * @param tp  The pool.
 * @param out Receives the counters.
 * @return 0, or #WEFT_EINVAL on NULL tp or out.
 */
WEFT_API int weft_threadpool_counters_get(weft_threadpool *tp,
                                          weft_threadpool_counters *out);

/**
 * @brief One worker slot's statistics (weft_threadpool_worker_stats).
 *
 * A slot is a place for one thread. When a thread exits (stop_a_worker,
 * adjust_poolsize, an idle thread's exit) and a later one is started, the
 * new thread reuses a free slot, and the slot's counters go on from where
 * its previous thread left them. So the sums over all slots are the pool's
 * totals (weft_threadpool_counters_get), exactly once the pool is quiet.
 */
typedef struct weft_worker_stats {
  int index;         /**< slot index, 0-based, stable for the pool's life */
  int live;          /**< 1 if a thread runs in this slot now, else 0 */
  int busy;          /**< 1 if that thread is running tasks now (not idle) */
  int cpu;           /**< the CPU the thread pinned itself to, or -1 (none, or a set) */
  uint64_t serial;   /**< the creation counter of the slot's latest thread */
  char name[64];     /**< that thread's name, "PoolThread-<name>-<serial>" (a long
                      *   name is cut before "-<serial>", which is always kept) */
  uint64_t executed; /**< tasks run by the slot's threads */
  uint64_t steals;   /**< successful steal operations */
  uint64_t stolen;   /**< tasks moved by them */
  uint64_t parks;    /**< futex waits entered */
  uint64_t busy_ns;  /**< time spent busy (between finding work after an idle
                      *   spell and going idle again), in nanoseconds; the
                      *   current spell so far included; never goes down
                      *   from one call to the next */
} weft_worker_stats;

/**
 * Per-worker statistics: one entry per slot the pool has ever used, in slot
 * order (exited threads' slots included, with live = 0).
 *
 * Costs the workers nothing per task: the counters are the ones the pool
 * totals are made of, and busy time is stamped only when a thread goes from
 * idle to busy and back. A snapshot: counters of running threads are
 * approximate while they run.
 *
 * @param tp   the pool
 * @param out  where to write up to cap entries (may be NULL if cap is 0)
 * @param cap  how many entries out holds
 * @param n    receives the number of slots (may exceed cap: call again
 *             with a larger array to get them all)
 * @return 0, or WEFT_EINVAL if tp or n is NULL, or out is NULL with cap > 0
 */
WEFT_API int weft_threadpool_worker_stats(weft_threadpool *tp, weft_worker_stats *out,
                                          size_t cap, size_t *n);


/**
 * @brief dumpStats(): three lines, "waiters: N", "workers: N" (busy),
 * "total: N" (threads ever created), then one line of engine counters, one of elastic
 * statistics (weft_threadpool_stats), and one per worker slot
 * (weft_threadpool_worker_stats): "worker <index>: <name> live=N busy=N
 * cpu=N executed=N steals=N stolen=N parks=N busy_ms=N".
 * @param tp  The pool.
 * @param out Where the lines are written.
 * @return 0, or #WEFT_EINVAL on NULL tp or out.
 */
WEFT_API int weft_threadpool_dump_stats(weft_threadpool *tp, FILE *out);
/**
 * @brief Receives one line of weft_threadpool_dump_stats_log().
 * @param ctx  The context given with the function.
 * @param line The line, without a newline; valid during the call only.
 */
typedef void (*weft_log_line_fn)(void *ctx, const char *line);
/**
 * @brief dumpStats() to a function: the lines of weft_threadpool_dump_stats(),
 * one call each.
 * @param tp  The pool.
 * @param fn  Receives each line.
 * @param ctx fn's context.
 * @return 0, or #WEFT_EINVAL on NULL tp or fn.
 */
WEFT_API int weft_threadpool_dump_stats_log(weft_threadpool *tp,
                                            weft_log_line_fn fn, void *ctx);

/**
 * @brief Elastic statistics: a snapshot, safe from any thread, exact at
 * quiescence (threads == idle + busy; the created_* sum minus the exited_*
 * sum == threads).
 */
typedef struct weft_threadpool_stats {
  int threads;              /**< live threads (Twisted's workers) */
  int idle;                 /**< threads not running a task */
  int busy;                 /**< threads running a task */
  int blocked;              /**< workers inside weft_blocking_begin()/weft_blocking_end() */
  int grants;               /**< threads allowed above max, standing in for blocked ones */
  int min;                  /**< min_threads */
  int max;                  /**< max_threads */
  int hard;                 /**< the valve */
  long backlog;             /**< tasks waiting */
  unsigned keep_alive_ms;   /**< the keep-alive now (0: never) */
  uint64_t created_demand;  /**< made because work waited, nobody idle, below max */
  uint64_t created_grow;    /**< made by start, min, adjust_poolsize, start_a_worker */
  uint64_t created_blocked; /**< made to stand in for a worker in weft_blocking_begin() */
  uint64_t created_stall;   /**< made to stand in for a worker seen off-CPU, by the monitor
                                 or by a stop waiting on it */
  uint64_t exited_keepalive; /**< left after their keep-alive */
  uint64_t exited_shrink;   /**< told to quit: adjust_poolsize, stop_a_worker */
  uint64_t exited_shutdown; /**< left at stop */
  uint64_t create_failures; /**< thread creations that failed (retried with backoff) */
  uint64_t valve_hits;      /**< growth refused at hard_threads */
  uint64_t brakes;          /**< growth frozen: added threads did not raise throughput */
  uint64_t monitor_ticks;   /**< the monitor's ticks that found the pool saturated (its
                                 other passes, on the way to disarming, are not
                                 counted; 0 for a pool never saturated) */
  uint64_t heap_trims;      /**< heap trims at the floor (weft_threadpool_options.trim_heap) */
} weft_threadpool_stats;
/**
 * @brief Read the elastic statistics (also printed by weft_threadpool_dump_stats()).
 * @param tp  The pool.
 * @param out Receives the snapshot.
 * @return 0, or #WEFT_EINVAL on NULL tp or out.
 */
WEFT_API int weft_threadpool_stats_get(weft_threadpool *tp, weft_threadpool_stats *out);

/**
 * @brief A task tells its pool that it is about to block (a disk, database
 * or DNS call; a wait on another task).
 *
 * Until the matching weft_blocking_end() the pool may start a thread to
 * stand in for it at once (up to a burst of max(8, 4 x CPUs) such threads,
 * then at a paced rate), so that work queued behind it runs and work it
 * waits for cannot deadlock at max. Like Tokio's block_in_place and Java's
 * ManagedBlocker. Pairs nest; only the outermost counts. On a thread that
 * is not a pool thread it does nothing. weft_blocking_call_from_thread()
 * does this itself. Cost: a few relaxed atomic adds, and a thread start
 * when work waits or no other worker is idle to take the next task. A task
 * should end what it began before it returns: a block left open is ended
 * when its worker next goes idle, and until then it counts for the tasks
 * that worker runs next (their first weft_blocking_end() closes it).
 * @return 0.
 */
WEFT_API int weft_blocking_begin(void);
/**
 * @brief The blocking call announced by weft_blocking_begin() is over.
 * @return 0, or #WEFT_ESTATE on a pool thread with no weft_blocking_begin() open
 *   (a block an earlier task on this thread left open counts as open).
 */
WEFT_API int weft_blocking_end(void);

/**
 * @brief The number of CPUs this process may use: the calling thread's
 * affinity mask (a thread pinned by a pool or by the program counts only
 * its own CPUs), bounded
 * by the tightest CPU quota set on the process's cgroup or any cgroup above
 * it that its cgroup mount shows (cgroup v2 cpu.max, or v1 cpu.cfs_quota_us
 * / cpu.cfs_period_us), rounded up to whole CPUs: a systemd unit with
 * CPUQuota=150% counts 2. A container whose mount shows only its own
 * subtree sees no quota set above it. Read at each call. A pool sized to
 * the machine: max_threads = weft_cpu_count().
 * @return At least 1.
 */
WEFT_API int weft_cpu_count(void);

/**
 * @brief Whether the calling thread is one of the pool's threads.
 * @param tp The pool.
 * @return 1 if the calling thread is one of tp's threads, else 0 (0 for NULL).
 */
WEFT_API int weft_threadpool_in_pool_thread(const weft_threadpool *tp);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_THREADPOOL_H */
