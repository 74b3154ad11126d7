/*
 * weft — ThreadPool: twisted.python.threadpool.ThreadPool in C, on weft's
 * work-stealing engine.
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
 *     backlog (FIFO from one submitter), as in Twisted;
 *   - if the pool is started, no thread is idle, the pool is below max and
 *     the thread cannot be created (the factory fails, out of memory), the
 *     task is still accepted into the backlog: it runs when a thread exists
 *     (the next submit, start_a_worker or adjust_poolsize retries the
 *     creation); if none ever does, stop/destroy cancel it;
 *   - stop runs everything queued when at least one thread exists, then
 *     joins every thread; what no thread ran is cancelled.
 * Submit costs: one exchange and one counter add on shared lines, plus a
 * fence and a load; a system call only when no thread is awake to take the
 * task (a parked one is woken, or a new one started). No allocation per task
 * once the per-thread node cache is warm (queue_work never allocates).
 *
 * fork(2): in the child, a pool inherited from the parent is a closed copy
 * (submits, start and stop return WEFT_EQUIT; the parent's queued tasks
 * neither run nor are cancelled there) that destroy frees without joining;
 * docs/threading-howto.md, "Fork", has the whole contract.
 *
 * Threads are named "PoolThread-<name>-<n>", n = creation counter; the
 * factory hook gets that full name, the default factory gives
 * pthread_setname_np its first bytes and the whole "-<n>" suffix (15 bytes).
 */
#ifndef WEFT_THREADPOOL_H
#define WEFT_THREADPOOL_H

#include <stdio.h>
#include "common.h"
#include "work.h"
#include "worker.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_threadpool weft_threadpool;

/* Passed for min or max to adjust_poolsize: keep the current value (None). */
#define WEFT_KEEP (-1)

/* Upper bound on threads in one pool (max is clamped to it). Threads told to
 * quit but not yet exited count against it too: adjust_poolsize may answer
 * WEFT_EAGAIN under extreme resize churn until they are gone. */
#define WEFT_THREADPOOL_MAX_THREADS 1024

/** How a pool pins its worker threads to CPUs (weft_threadpool_options.affinity). */
typedef enum weft_affinity_policy {
  WEFT_AFFINITY_NONE = 0, /**< no pinning: a thread runs where its creator may (default) */
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
 * Every listed CPU must be one the creating thread may run on, and below
 * CPU_SETSIZE (1024): otherwise creation fails with WEFT_EINVAL, as it does
 * for an empty SET or an unknown policy. The list is copied.
 */
typedef struct weft_affinity {
  weft_affinity_policy policy; /**< WEFT_AFFINITY_NONE by default */
  const int *cpus;             /**< CPU numbers; may be NULL when ncpus is 0 */
  size_t ncpus;                /**< how many; 0: the creating thread's CPUs (not for SET) */
} weft_affinity;

typedef struct weft_threadpool_options {
  int min_threads;                        /* default 5, as Twisted */
  int max_threads;                        /* default 20 */
  const char *name;                       /* copied; NULL: the pool's address */
  weft_thread_factory_fn thread_factory;  /* NULL: pthread_create */
  void *thread_factory_ctx;
  weft_log_fn log;                        /* failures with nobody to tell; NULL: stderr */
  void *log_ctx;
  unsigned spin_us;                       /* idle search before parking; default 50 */
  weft_affinity affinity;                 /* CPU pinning of the workers; default none */
} weft_threadpool_options;

/* Fill o with the defaults above. */
WEFT_API void weft_threadpool_options_init(weft_threadpool_options *o);

/* ThreadPool(min, max, name). WEFT_EINVAL if min < 0 or min > max, or (_ex)
 * for an invalid affinity option (weft_affinity). */
WEFT_API int weft_threadpool_create(weft_threadpool **out, int min_threads,
                                    int max_threads, const char *name);
WEFT_API int weft_threadpool_create_ex(weft_threadpool **out,
                                       const weft_threadpool_options *opts);

/* start(): idempotent while running; WEFT_EQUIT after stop. WEFT_EAGAIN if no
 * thread at all could be created (the pool is still started). */
WEFT_API int weft_threadpool_start(weft_threadpool *tp);
/* stop(): run queued work, join all threads. WEFT_EQUIT the second time,
 * WEFT_EDEADLK from a pool thread. */
WEFT_API int weft_threadpool_stop(weft_threadpool *tp);
/* Stop if needed, then free. Work that can no longer run is cancelled: its
 * owner is told WEFT_ECANCELED. WEFT_EDEADLK from a pool thread (nothing freed).
 * destroy is the last call on tp: no other thread may still be inside (or
 * later enter) a call on it — after stop, other threads' submits return
 * WEFT_EQUIT, so stop, let them see it, then destroy. */
WEFT_API int weft_threadpool_destroy(weft_threadpool *tp);

/* callInThread(fn, arg). WEFT_EQUIT after stop, WEFT_EINVAL on NULL. */
WEFT_API int weft_threadpool_call_in_thread(weft_threadpool *tp, weft_fn fn,
                                            void *arg);
/*
 * callInThreadWithCallback(onResult, fn, arg). on_result(ctx, status, result)
 * runs in the worker thread right after fn, with fn's status and result;
 * with WEFT_ECANCELED (result NULL) if the pool is destroyed before the task
 * could run. on_result may be NULL: a failure is then sent to the log hook.
 */
WEFT_API int weft_threadpool_call_in_thread_with_callback(
    weft_threadpool *tp, weft_result_fn on_result, void *ctx, weft_call_fn fn,
    void *arg);
/* The allocation-free submit: the caller owns req (see weft/work.h). */
WEFT_API int weft_threadpool_queue_work(weft_threadpool *tp, weft_work *req,
                                        weft_work_cb work,
                                        weft_after_work_cb after);

/* adjustPoolsize(min, max); WEFT_KEEP keeps a value. WEFT_EINVAL (nothing
 * changed) if the result has min < 0 or min > max. While started: above max,
 * idle threads quit now and busy ones when they next go idle; below min,
 * threads are started (WEFT_EAGAIN if none could be). */
WEFT_API int weft_threadpool_adjust_poolsize(weft_threadpool *tp,
                                             int min_threads, int max_threads);
/* startAWorker(): one more thread if started and below max (else a no-op,
 * 0); WEFT_EAGAIN if its creation failed. stopAWorker(): an idle thread quits
 * now, else the next one to go idle (debt, as Twisted's shrink). Both
 * WEFT_EQUIT after stop. */
WEFT_API int weft_threadpool_start_a_worker(weft_threadpool *tp);
WEFT_API int weft_threadpool_stop_a_worker(weft_threadpool *tp);

/* Introspection: snapshots, safe from any thread. Negative on NULL tp. */
WEFT_API int weft_threadpool_min(const weft_threadpool *tp);
WEFT_API int weft_threadpool_max(const weft_threadpool *tp);
WEFT_API int weft_threadpool_workers(weft_threadpool *tp);  /* idle + busy */
WEFT_API int weft_threadpool_working(weft_threadpool *tp);  /* busy */
WEFT_API int weft_threadpool_waiters(weft_threadpool *tp);  /* idle */
WEFT_API long weft_threadpool_queue_size(weft_threadpool *tp); /* backlog */
WEFT_API int weft_threadpool_started(const weft_threadpool *tp);
WEFT_API int weft_threadpool_joined(const weft_threadpool *tp);
/* Number of threads ever created (Twisted's len(threads)). */
WEFT_API int weft_threadpool_threads_created(const weft_threadpool *tp);

/* Engine counters, for benchmarks and perf work. Monotonic, approximate
 * while the pool runs. */
typedef struct weft_threadpool_counters {
  uint64_t submitted;      /* tasks accepted */
  uint64_t executed;       /* tasks run */
  uint64_t cancelled;      /* tasks reported WEFT_ECANCELED */
  uint64_t steals;         /* successful steal operations */
  uint64_t stolen;         /* tasks moved by them */
  uint64_t parks;          /* futex waits entered */
  uint64_t unparks;        /* futex wakes issued */
  uint64_t spawns;         /* threads started */
  uint64_t spawn_failures; /* thread creations that failed */
} weft_threadpool_counters;
WEFT_API int weft_threadpool_counters_get(weft_threadpool *tp,
                                          weft_threadpool_counters *out);

/**
 * One worker slot's statistics (weft_threadpool_worker_stats).
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
  char name[64];     /**< that thread's name, "PoolThread-<name>-<serial>" (truncated) */
  uint64_t executed; /**< tasks run by the slot's threads */
  uint64_t steals;   /**< successful steal operations */
  uint64_t stolen;   /**< tasks moved by them */
  uint64_t parks;    /**< futex waits entered */
  uint64_t busy_ns;  /**< time spent busy (between finding work after an idle
                      *   spell and going idle again), in nanoseconds */
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

/* dumpStats(): three lines, "waiters: N", "workers: N" (busy), "total: N"
 * (threads ever created), then one line of engine counters, then one line
 * per worker slot (weft_threadpool_worker_stats): "worker <index>: <name>
 * live=N busy=N cpu=N executed=N steals=N stolen=N parks=N busy_ms=N". */
WEFT_API int weft_threadpool_dump_stats(weft_threadpool *tp, FILE *out);
typedef void (*weft_log_line_fn)(void *ctx, const char *line);
WEFT_API int weft_threadpool_dump_stats_log(weft_threadpool *tp,
                                            weft_log_line_fn fn, void *ctx);

/* 1 if the calling thread is one of tp's threads, else 0. */
WEFT_API int weft_threadpool_in_pool_thread(const weft_threadpool *tp);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_THREADPOOL_H */
