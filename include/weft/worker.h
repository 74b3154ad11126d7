/**
 * @file
 * @brief weft — the worker layer: Twisted's twisted._threads in C.
 *
 * | Object             | Twisted and behaviour |
 * |--------------------|-----------------------|
 * | weft_worker        | IWorker: do(task), quit(). User-extensible through an ops table. |
 * | weft_thread_worker | ThreadWorker: one thread, FIFO, exclusive; lock-free queue. |
 * | weft_lock_worker   | LockWorker: runs work inline under a lock, re-entrant calls trampolined. |
 * | weft_coordinator   | a lock-free exclusive worker: wait-free enqueue, whoever finds it idle drains it. Team's default coordinator. |
 * | weft_memory_worker | createMemoryWorker(): deterministic worker + perform(), for tests. |
 * | weft_team          | Team: do, grow, shrink, quit, statistics. |
 * | weft_pool          | pool(currentLimit, threadFactory): a Team of thread workers on weft's work-stealing engine. |
 *
 * Thread-safety: every weft_worker_* and weft_team_* call may be made from any
 * thread, concurrently, unless its comment says otherwise (as IWorker demands).
 * Ownership: objects returned through an `out` pointer belong to the caller,
 * who gives them back with weft_worker_release() / weft_team_destroy().
 */
#ifndef WEFT_WORKER_H
#define WEFT_WORKER_H

#include <pthread.h>
#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- IWorker */

/** @brief A worker (IWorker); see struct weft_worker. */
typedef struct weft_worker weft_worker;

/**
 * @brief The operations of a worker: write your own worker.
 *
 * Embed a weft_worker as the first member of your struct, fill an ops table
 * and call weft_worker_init(). weft enforces the AlreadyQuit contract around
 * the ops: a do() either is admitted before quit() (its do_work runs) or gets
 * #WEFT_EQUIT; ops->quit is called exactly once, when no admitted do() is
 * still in flight — possibly after weft_worker_quit() returned, on the thread
 * of the last such do() — so do_work is never called after ops->quit started
 * (docs/worker-layer.md).
 */
typedef struct weft_worker_ops {
  /**
   * @brief Perform fn(arg) some time, on some thread.
   * @param self The worker.
   * @param fn   The task.
   * @param arg  Its argument.
   * @return 0 or a negative code (weft_worker_do() returns it). A negative
   *   code means fn has not run and never will: the caller (a Team among
   *   them) takes the task back. Once fn may run, or has run inline,
   *   do_work must return 0, and report a failure that follows (a lock it
   *   could not release) by other means: a Team that is told the task was
   *   refused after it ran gives it to another worker and releases this
   *   one while the task's completion still refers to it.
   */
  int (*do_work)(weft_worker *self, weft_fn fn, void *arg);
  /**
   * @brief Free resources, reject future work. Work already accepted still runs.
   * @param self The worker.
   * @return 0 or a negative code. The code is not reported: ops->quit may run
   * later, on the thread of the last do() in flight, after
   * weft_worker_quit() returned 0; report failures from here yourself.
   */
  int (*quit)(weft_worker *self);
  /**
   * @brief The owner's last reference is gone. Called once, after ops->quit
   * has returned: by weft_worker_release(), or, when a do() was still in
   * flight then, by that do()'s thread right after the deferred ops->quit.
   * So it may free the worker (no weft call touches it afterwards). May be
   * NULL.
   * @param self The worker.
   */
  void (*release)(weft_worker *self);
} weft_worker_ops;

/** @brief A worker: embed it as the first member of your own worker struct. */
struct weft_worker {
  const weft_worker_ops *ops; /**< the worker's operations, set by weft_worker_init() */
  int state_private_;         /**< weft's, accessed atomically */
};

/**
 * @brief Initialise an embedded worker.
 * @param w   The worker, embedded in the caller's struct.
 * @param ops Its operations; must outlive the worker.
 * @return 0, or #WEFT_EINVAL if w, ops, ops->do_work or ops->quit is NULL.
 */
WEFT_API int weft_worker_init(weft_worker *w, const weft_worker_ops *ops);
/**
 * @brief IWorker.do: perform fn(arg) some time, on some thread.
 * @param w   The worker.
 * @param fn  The task.
 * @param arg Its argument.
 * @return 0 if the task was accepted, or:
 *   - #WEFT_EQUIT  after quit;
 *   - #WEFT_EINVAL on NULL w or fn;
 *   - #WEFT_ENOMEM, for any worker (your own included, before its do_work
 *     is called), when the calling thread has a current context and the
 *     node that binds it to fn/arg cannot be had (weft/context.h); a
 *     worker that was quit answers #WEFT_EQUIT then too;
 *   - whatever the worker's do_work returns (weft's workers:
 *     #WEFT_ENOMEM; a LockWorker also returns its lock's acquire failure).
 */
WEFT_API int weft_worker_do(weft_worker *w, weft_fn fn, void *arg);
/**
 * @brief IWorker.quit.
 * @param w The worker.
 * @return 0, or #WEFT_EQUIT on the second call, #WEFT_EINVAL on NULL w.
 */
WEFT_API int weft_worker_quit(weft_worker *w);
/**
 * @brief Drop the caller's reference. Quits the worker first if it was not
 * quit. NULL is ignored.
 * @param w The worker, or NULL.
 */
WEFT_API void weft_worker_release(weft_worker *w);
/**
 * @brief Whether the worker was quit.
 * @param w The worker.
 * @return 1 once quit was called, else 0 (0 for NULL).
 */
WEFT_API int weft_worker_is_quit(const weft_worker *w);

/* ------------------------------------------------------------ thread hooks */

/**
 * @brief Thread factory hook (Twisted's threadFactory).
 *
 * Create a thread running start(arg), store it in `*thread`, return 0 or a
 * negative code (the caller then reports #WEFT_EAGAIN). The hook may name the
 * thread, pin it, size its stack. NULL means pthread_create +
 * pthread_setname_np.
 *
 * @param ctx    The factory context given with the hook.
 * @param thread Receives the new thread.
 * @param start  The thread's start routine.
 * @param arg    Its argument.
 * @param name   The thread's intended name.
 * @return 0, or a negative code if the thread was not created.
 *
 * A pool calls it while it holds its own locks: it must create the thread
 * and return, and must not call into weft: not into the pool or team it
 * creates for, nor into another pool, team or reactor (a submit there may
 * start a thread and take that pool's lock while this one is held: a
 * fork() on a third thread, whose handlers take the pools' locks in their
 * own order, would then wait for ever), and must not fork.
 * For a ThreadPool the thread may be handed over detached (created so, or
 * detached right after): it is then never joined; the pool waits for its
 * last store to its slot instead.
 */
typedef int (*weft_thread_factory_fn)(void *ctx, pthread_t *thread,
                                      void *(*start)(void *), void *arg,
                                      const char *name);

/**
 * @brief The default factory, for hooks that want to wrap it:
 * pthread_create, then pthread_setname_np with the name shortened to the 15
 * bytes Linux keeps: its first bytes and its whole `-<n>` suffix, so a
 * pool's threads stay distinct (a naming failure is not an error).
 * @param ctx    Unused.
 * @param thread Receives the new thread.
 * @param start  The thread's start routine.
 * @param arg    Its argument.
 * @param name   The thread's name; NULL or empty: not named.
 * @return 0, or:
 *   - #WEFT_EINVAL thread or start is NULL;
 *   - #WEFT_ENOMEM pthread_create ran out of memory;
 *   - #WEFT_EAGAIN pthread_create failed otherwise.
 */
WEFT_API int weft_default_thread_factory(void *ctx, pthread_t *thread,
                                         void *(*start)(void *), void *arg,
                                         const char *name);

/* ------------------------------------------------------------ ThreadWorker */

/**
 * @brief ThreadWorker: one thread, started now, running the worker's tasks
 * in FIFO order.
 *
 * Its queue is lock-free; the thread sleeps when idle, and a submitter makes
 * no system call while the thread is awake. quit() lets queued work finish
 * and the thread exit. The thread is detached as soon as the factory returns
 * (never joined: the Team releases workers from inside its coordinator,
 * possibly on that very thread), and weft never uses its pthread_t again;
 * the worker is freed by whichever comes last, release() or the thread's
 * exit after its queued work. A factory must return a joinable thread (weft
 * detaches it; glibc tolerates one already detached, ThreadSanitizer does
 * not).
 *
 * fork(2): the worker's thread does not exist in a child; there its do()
 * answers #WEFT_EQUIT (docs/threading-howto.md, "Fork"), also when out of
 * memory then (a context current, no node to bind it).
 *
 * @param out         Receives the worker (the caller's; NULL on failure).
 * @param factory     The thread factory; may be NULL.
 * @param factory_ctx Its context.
 * @param name        The thread's name; NULL means "weft-worker".
 * @return 0, or:
 *   - #WEFT_EAGAIN the thread could not be created;
 *   - #WEFT_ENOMEM out of memory;
 *   - #WEFT_EINVAL out is NULL.
 */
WEFT_API int weft_thread_worker_create(weft_worker **out,
                                       weft_thread_factory_fn factory,
                                       void *factory_ctx, const char *name);

/* ------------------------------------------------------------- LockWorker */

/**
 * @brief The lock a LockWorker runs under.
 *
 * acquire/release return 0 or a negative code; a failure from acquire is
 * returned by do() (the work did not run); a failure from release, once the
 * work ran, is written to stderr and do() returns 0. NULL ops mean an
 * internal pthread mutex.
 */
typedef struct weft_lock_ops {
  /**
   * @brief Take the lock.
   * @param lock The lock given to weft_lock_worker_create().
   * @return 0 or a negative code.
   */
  int (*acquire)(void *lock);
  /**
   * @brief Give the lock back.
   * @param lock The lock given to weft_lock_worker_create().
   * @return 0 or a negative code.
   */
  int (*release)(void *lock);
} weft_lock_ops;

/**
 * @brief LockWorker: runs work inline in the calling thread while holding
 * the lock.
 *
 * Work that calls do() on the same worker from inside a work item is queued
 * and run by the outer call after the current item, still under the lock
 * (Twisted's trampolining). quit() drops the lock reference: the lock is no
 * longer used once the work in progress finishes.
 *
 * @param out      Receives the worker (the caller's; NULL on failure).
 * @param lock_ops The lock's operations; NULL means an internal pthread mutex.
 * @param lock     The lock passed to lock_ops (unused with NULL lock_ops).
 * @return 0, or:
 *   - #WEFT_EINVAL out is NULL, or lock_ops lacks acquire or release;
 *   - #WEFT_ENOMEM out of memory (or the mutex could not be initialised).
 */
WEFT_API int weft_lock_worker_create(weft_worker **out,
                                     const weft_lock_ops *lock_ops, void *lock);

/* ------------------------------------------------------- lock-free coordinator */

/**
 * @brief An exclusive worker without a lock; Team's default coordinator.
 *
 * do() is a wait-free enqueue; whichever thread finds the coordinator idle
 * drains it, running items one at a time in FIFO order, never two at once.
 * Re-entrant do() from inside an item is queued behind it.
 *
 * @param out Receives the worker (the caller's; NULL on failure).
 * @return 0, or #WEFT_EINVAL (out is NULL), #WEFT_ENOMEM.
 */
WEFT_API int weft_coordinator_create(weft_worker **out);

/* ---------------------------------------------------------- MemoryWorker */

/**
 * @brief createMemoryWorker(): a deterministic worker, for tests.
 *
 * do() only queues; weft_memory_worker_perform() runs the queued items. Not
 * for concurrent use.
 *
 * @param out Receives the worker (the caller's; NULL on failure).
 * @return 0, or #WEFT_EINVAL (out is NULL), #WEFT_ENOMEM.
 */
WEFT_API int weft_memory_worker_create(weft_worker **out);
/**
 * @brief perform(): run the oldest item queued on a memory worker, in the
 * calling thread, in the context its do() captured (weft/context.h): an
 * item queued with none runs with none current, the calling thread's own
 * context set aside for it.
 * @param w A worker from weft_memory_worker_create().
 * @return 1 if an item ran; 0 when nothing is queued or when the quit marker
 *   is reached (it stays at 0 for ever after); #WEFT_EINVAL if w is NULL or
 *   not a memory worker.
 */
WEFT_API int weft_memory_worker_perform(weft_worker *w);

/* ------------------------------------------------------------------- Team */

/** @brief A Team (opaque): from weft_team_create() or weft_pool(). */
typedef struct weft_team weft_team;

/** @brief A Team's statistics (weft_team_statistics_get()). */
typedef struct weft_team_statistics {
  int idle_workers;           /**< Statistics.idleWorkerCount */
  int busy_workers;           /**< Statistics.busyWorkerCount */
  size_t backlogged_work;     /**< Statistics.backloggedWorkCount */
} weft_team_statistics;

/**
 * @brief createWorker: make a new worker the team may use.
 * @param ctx The context given to weft_team_create().
 * @return A new worker, or NULL when no more workers may be created (limit
 *   reached, or resources exhausted). A worker that weft_worker_init() never
 *   set up counts as NULL (log_fn hears #WEFT_EINVAL; the team does not
 *   touch it again).
 */
typedef weft_worker *(*weft_create_worker_fn)(void *ctx);

/**
 * @brief A Team (Twisted semantics): idle worker first, else create one,
 * else backlog (FIFO).
 *
 * The worker a do() finds (idle, or made now) runs that do()'s task; the
 * backlog runs as workers recycle, oldest first. A task backlogged again
 * because its worker's do() failed goes before a later do()'s.
 *
 * The team releases every worker it created once the worker is quit.
 *
 * fork(2): a task that forks and returns in the child ends there without
 * the team's step after it (its worker idle again, taking the next
 * backlogged task): that step is the parent's. The child's copy hands none
 * of the parent's backlog to a worker and tells log_fn nothing; the worker
 * stays counted busy (docs/threading-howto.md, "Fork"). A do() in a child
 * drops the inherited idle workers that refuse it (log_fn hears of each:
 * a ThreadWorker's thread is the parent's) and then makes a worker for the
 * task (one per do()), where otherwise a task whose worker's do() failed
 * waits for the next do() or grow.
 *
 * @param out           Receives the team (the caller's; NULL on failure).
 * @param coordinator   NULL means a new weft_coordinator owned by the team;
 *                      otherwise the team takes ownership of it.
 * @param create_worker createWorker; must not be NULL.
 * @param create_ctx    Its context.
 * @param log_fn        Told of failures, like logException; may be NULL. It may
 *                      be called from several threads at once (the coordinator,
 *                      a worker finishing a task, a thread that quits the team).
 * @param log_ctx       Its context.
 * @return 0, or:
 *   - #WEFT_EINVAL out or create_worker is NULL, or the coordinator was
 *     never set up by weft_worker_init();
 *   - #WEFT_EQUIT  the coordinator given was already quit;
 *   - #WEFT_ENOMEM out of memory.
 */
WEFT_API int weft_team_create(weft_team **out, weft_worker *coordinator,
                              weft_create_worker_fn create_worker,
                              void *create_ctx, weft_log_fn log_fn,
                              void *log_ctx);

/**
 * @brief Team.do: run fn(arg) on one of the team's workers.
 * @param t   The team.
 * @param fn  The task.
 * @param arg Its argument.
 * @return 0 if the task was accepted (an accepted task runs, or, if a
 *   quit() on another thread finished the team before the task reached the
 *   coordinator, is reported to log_fn with #WEFT_ECANCELED:
 *   docs/worker-layer.md), or:
 *   - #WEFT_EQUIT  after quit (a weft_pool() team: also when out of
 *     memory then, and in a child of fork);
 *   - #WEFT_EINVAL on NULL t or fn;
 *   - #WEFT_ENOMEM out of memory;
 *   - the coordinator's do() error (weft_team_create's coordinator
 *     refused the step: the task was not accepted).
 */
WEFT_API int weft_team_do(weft_team *t, weft_fn fn, void *arg);
/**
 * @brief Team.grow(n): create up to n workers (fewer if create_worker says
 * no).
 * @param t The team.
 * @param n How many workers to add; 0 or more.
 * @return 0, or:
 *   - #WEFT_EINVAL on NULL t or n < 0;
 *   - #WEFT_EQUIT  after quit;
 *   - #WEFT_ENOMEM out of memory;
 *   - #WEFT_EAGAIN (a weft_pool() team) no thread at all could be created;
 *   - the coordinator's do() error (nothing was done).
 */
WEFT_API int weft_team_grow(weft_team *t, int n);
/**
 * @brief Team.shrink(n): quit n workers, idle ones now, busy ones when they
 * next go idle.
 * @param t The team.
 * @param n How many workers to quit; n < 0 means all (Twisted's
 *          shrink(None)).
 * @return 0, or #WEFT_EINVAL on NULL t, #WEFT_EQUIT after quit,
 *   #WEFT_ENOMEM, or the coordinator's do() error (nothing was done).
 */
WEFT_API int weft_team_shrink(weft_team *t, int n);
/**
 * @brief Team.quit: reject new work; idle workers quit now; busy ones
 * finish, drain the backlog, then quit.
 * @param t The team.
 * @return 0, or #WEFT_EQUIT on the second call, #WEFT_EINVAL on NULL t,
 *   or the coordinator's do() error: the team is quit all the same (new
 *   work is refused) and weft_team_destroy submits the refused step again.
 */
WEFT_API int weft_team_quit(weft_team *t);
/**
 * @brief A snapshot of the team's statistics; safe from any thread.
 * @param t   The team.
 * @param out Receives the snapshot.
 * @return 0, or #WEFT_EINVAL on NULL t or out.
 */
WEFT_API int weft_team_statistics_get(weft_team *t, weft_team_statistics *out);
/**
 * @brief Free the team. Quits it first if needed.
 *
 * Work still backlogged with no worker left to run it is not run: each such
 * task is reported to log_fn with #WEFT_ECANCELED (a weft_pool() team has
 * no log_fn: it writes one line per such task to stderr).
 * Call it once every other thread's call on the team has returned.
 *
 * @param t The team.
 * @return 0 (t is freed), or:
 *   - #WEFT_EBUSY  (nothing freed) while workers still run tasks (for a
 *     weft_pool() team: while its threads, idle ones included, have not all
 *     left yet), or while the coordinator still has team items to run (one that runs them
 *     after its do() returned, such as a thread worker) or is still inside
 *     a do() (a lock worker releasing its lock after a team item), or (a
 *     weft_pool() team) while a reactor drain on another thread still holds
 *     tasks its callbacks gave the team (they reach it, cancelled, when that
 *     drain ends); call it
 *     again after they finished (destroy never blocks). Once it returns 0
 *     the coordinator, and a lock worker's lock, are no longer in use.
 *     Also from a callback of this destroy (log_fn, a worker's release, a context's release hook):
 *     the outer destroy goes on and frees the team;
 *   - #WEFT_EDEADLK (a weft_pool() team; nothing freed) called from one of
 *     the pool's threads;
 *   - #WEFT_EINVAL on NULL t.
 */
WEFT_API int weft_team_destroy(weft_team *t);

/* -------------------------------------------------------------------- pool */

/**
 * @brief currentLimit(): how many workers may exist now. Re-read on every
 * creation, sometimes with the pool's control lock held (as the thread
 * factory is called): it must not call into its own team.
 * @param ctx The context given to weft_pool().
 * @return The number of workers that may exist now.
 */
typedef int (*weft_limit_fn)(void *ctx);

/**
 * @brief pool(currentLimit, threadFactory): a Team of thread workers running
 * on weft's engine (per-worker lock-free run queues, work stealing, futex
 * parking).
 *
 * Its threads are named `<name>-<n>`. Free it with weft_team_destroy().
 * They run where the thread that created the team may, whichever thread's
 * do() starts them (with a thread factory, where the factory puts them), as
 * a WEFT_AFFINITY_NONE ThreadPool's do.
 * Its backlog is one FIFO queue: a thread that a do() starts while tasks
 * wait (the limit was raised since they came) runs the oldest of them, and
 * that do()'s task waits its turn (Twisted's pool() gives the new worker the
 * new task; docs/twisted-mapping.md).
 * Besides them the team has a monitor thread (made with pthread_create,
 * not the factory), which retries a thread creation that failed while work
 * waits, so that an accepted task never waits for the next do() for a
 * thread (docs/design.md E9.5).
 *
 * @param out           Receives the team (the caller's; NULL on failure).
 * @param current_limit currentLimit; must not be NULL.
 * @param limit_ctx     Its context.
 * @param factory       The thread factory; may be NULL.
 * @param factory_ctx   Its context.
 * @param name          The threads' name prefix; NULL means "weft-pool".
 * @return 0, or #WEFT_EINVAL (out or current_limit is NULL), #WEFT_ENOMEM.
 */
WEFT_API int weft_pool(weft_team **out, weft_limit_fn current_limit,
                       void *limit_ctx, weft_thread_factory_fn factory,
                       void *factory_ctx, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_WORKER_H */
