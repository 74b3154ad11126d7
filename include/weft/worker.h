/*
 * weft — the worker layer: Twisted's twisted._threads in C.
 *
 *   weft_worker         IWorker: do(task), quit(). User-extensible through an ops table.
 *   weft_thread_worker  ThreadWorker: one thread, FIFO, exclusive; lock-free queue.
 *   weft_lock_worker    LockWorker: runs work inline under a lock, re-entrant calls trampolined.
 *   weft_coordinator    a lock-free exclusive worker: wait-free enqueue, whoever finds it
 *                       idle drains it. Team's default coordinator.
 *   weft_memory_worker  createMemoryWorker(): deterministic worker + perform(), for tests.
 *   weft_team           Team: do, grow, shrink, quit, statistics.
 *   weft_pool           pool(currentLimit, threadFactory): a Team of thread workers on
 *                       weft's work-stealing engine.
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

typedef struct weft_worker weft_worker;

/*
 * Write your own worker: embed a weft_worker as the first member of your
 * struct, fill an ops table and call weft_worker_init(). weft enforces the
 * AlreadyQuit contract around the ops: a do() either is admitted before
 * quit() (its do_work runs) or gets WEFT_EQUIT; ops->quit is called exactly
 * once, when no admitted do() is still in flight — possibly after
 * weft_worker_quit() returned, on the thread of the last such do() — so
 * do_work is never called after ops->quit started (docs/worker-layer.md).
 */
typedef struct weft_worker_ops {
  /* Perform fn(arg) some time, on some thread. 0 or a negative code. */
  int (*do_work)(weft_worker *self, weft_fn fn, void *arg);
  /* Free resources, reject future work. Work already accepted still runs. */
  int (*quit)(weft_worker *self);
  /* The owner's last reference is gone (after quit, or never started).
   * May be NULL. */
  void (*release)(weft_worker *self);
} weft_worker_ops;

struct weft_worker {
  const weft_worker_ops *ops;
  int state_private_; /* weft's, accessed atomically */
};

/* Initialise an embedded worker. WEFT_EINVAL if w, ops, ops->do_work or ops->quit is NULL. */
WEFT_API int weft_worker_init(weft_worker *w, const weft_worker_ops *ops);
/* IWorker.do. WEFT_EQUIT after quit, WEFT_EINVAL on NULL w or fn. */
WEFT_API int weft_worker_do(weft_worker *w, weft_fn fn, void *arg);
/* IWorker.quit. WEFT_EQUIT on the second call. */
WEFT_API int weft_worker_quit(weft_worker *w);
/* Drop the caller's reference. Quits the worker first if it was not quit.
 * NULL is ignored. */
WEFT_API void weft_worker_release(weft_worker *w);
/* 1 once quit was called, else 0. */
WEFT_API int weft_worker_is_quit(const weft_worker *w);

/* ------------------------------------------------------------ thread hooks */

/*
 * Thread factory hook (Twisted's threadFactory): create a thread running
 * start(arg), store it in *thread, return 0 or a negative code (the caller
 * then reports WEFT_EAGAIN). name is the thread's intended name; the hook
 * may name it, pin it, size its stack. NULL means pthread_create +
 * pthread_setname_np.
 */
typedef int (*weft_thread_factory_fn)(void *ctx, pthread_t *thread,
                                      void *(*start)(void *), void *arg,
                                      const char *name);

/* The default factory, for hooks that want to wrap it. */
WEFT_API int weft_default_thread_factory(void *ctx, pthread_t *thread,
                                         void *(*start)(void *), void *arg,
                                         const char *name);

/* ------------------------------------------------------------ ThreadWorker */

/*
 * One thread, started now, running the worker's tasks in FIFO order. Its
 * queue is lock-free; the thread sleeps when idle, and a submitter makes no
 * system call while the thread is awake. quit() lets queued work finish and
 * the thread exit. The thread is detached as soon as the factory returns
 * (never joined: the Team releases workers from inside its coordinator,
 * possibly on that very thread), and weft never uses its pthread_t again;
 * the worker is freed by whichever comes last, release() or the thread's
 * exit after its queued work. A factory must return a joinable thread
 * (weft detaches it; glibc tolerates one already detached, ThreadSanitizer
 * does not). factory may be NULL. WEFT_EAGAIN if the thread could
 * not be created, WEFT_ENOMEM.
 */
WEFT_API int weft_thread_worker_create(weft_worker **out,
                                       weft_thread_factory_fn factory,
                                       void *factory_ctx, const char *name);

/* ------------------------------------------------------------- LockWorker */

/*
 * The lock a LockWorker runs under. acquire/release return 0 or a negative
 * code; a failure from acquire is returned by do(). NULL ops mean an internal
 * pthread mutex.
 */
typedef struct weft_lock_ops {
  int (*acquire)(void *lock);
  int (*release)(void *lock);
} weft_lock_ops;

/*
 * Runs work inline in the calling thread while holding the lock; work that
 * calls do() on the same worker from inside a work item is queued and run by
 * the outer call after the current item, still under the lock (Twisted's
 * trampolining). quit() drops the lock reference: the lock is no longer used
 * once the work in progress finishes.
 */
WEFT_API int weft_lock_worker_create(weft_worker **out,
                                     const weft_lock_ops *lock_ops, void *lock);

/* ------------------------------------------------------- lock-free coordinator */

/*
 * An exclusive worker without a lock. do() is a wait-free enqueue; whichever
 * thread finds the coordinator idle drains it, running items one at a time in
 * FIFO order, never two at once. Re-entrant do() from inside an item is
 * queued behind it. Team's default coordinator.
 */
WEFT_API int weft_coordinator_create(weft_worker **out);

/* ---------------------------------------------------------- MemoryWorker */

/*
 * A deterministic worker: do() only queues. weft_memory_worker_perform()
 * runs the oldest queued item in the calling thread and returns 1, or returns
 * 0 when nothing is queued or when the quit marker is reached (it stays at 0
 * for ever after). Not for concurrent use.
 */
WEFT_API int weft_memory_worker_create(weft_worker **out);
WEFT_API int weft_memory_worker_perform(weft_worker *w);

/* ------------------------------------------------------------------- Team */

typedef struct weft_team weft_team;

typedef struct weft_team_statistics {
  int idle_workers;           /* Statistics.idleWorkerCount */
  int busy_workers;           /* Statistics.busyWorkerCount */
  size_t backlogged_work;     /* Statistics.backloggedWorkCount */
} weft_team_statistics;

/*
 * createWorker: return a new worker the team may use, or NULL when no more
 * workers may be created (limit reached, or resources exhausted).
 */
typedef weft_worker *(*weft_create_worker_fn)(void *ctx);

/*
 * A Team (Twisted semantics): idle worker first, else create one, else
 * backlog (FIFO). coordinator NULL means a new weft_coordinator owned by the
 * team; otherwise the team takes ownership of it. log_fn (may be NULL) is
 * told of failures, like logException. The team releases every worker it
 * created once the worker is quit.
 */
WEFT_API int weft_team_create(weft_team **out, weft_worker *coordinator,
                              weft_create_worker_fn create_worker,
                              void *create_ctx, weft_log_fn log_fn,
                              void *log_ctx);

/* Team.do: WEFT_EQUIT after quit. */
WEFT_API int weft_team_do(weft_team *t, weft_fn fn, void *arg);
/* Team.grow(n): create up to n workers (fewer if create_worker says no). */
WEFT_API int weft_team_grow(weft_team *t, int n);
/* Team.shrink(n): quit n workers, idle ones now, busy ones when they next go
 * idle. n < 0 means all (Twisted's shrink(None)). */
WEFT_API int weft_team_shrink(weft_team *t, int n);
/* Team.quit: reject new work; idle workers quit now; busy ones finish, drain
 * the backlog, then quit. WEFT_EQUIT on the second call. */
WEFT_API int weft_team_quit(weft_team *t);
/* A snapshot; safe from any thread. */
WEFT_API int weft_team_statistics_get(weft_team *t, weft_team_statistics *out);
/*
 * Free the team. Quits it first if needed. Work still backlogged with no
 * worker left to run it is not run: each such task is reported to log_fn with
 * WEFT_ECANCELED. WEFT_EBUSY (nothing freed) while workers still run tasks;
 * call it again after they finished.
 */
WEFT_API int weft_team_destroy(weft_team *t);

/* -------------------------------------------------------------------- pool */

/* currentLimit(): how many workers may exist now. Re-read on every creation. */
typedef int (*weft_limit_fn)(void *ctx);

/*
 * pool(currentLimit, threadFactory): a Team of thread workers running on
 * weft's engine (per-worker lock-free run queues, work stealing, futex
 * parking). factory may be NULL. Its threads are named "<name>-<n>".
 */
WEFT_API int weft_pool(weft_team **out, weft_limit_fn current_limit,
                       void *limit_ctx, weft_thread_factory_fn factory,
                       void *factory_ctx, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_WORKER_H */
