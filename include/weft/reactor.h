/*
 * weft — the reactor: an epoll event loop with Twisted's thread APIs
 * (IReactorFromThreads, IReactorInThreads, IReactorThreads, system event
 * triggers, callLater), and a completion queue other event loops can poll.
 *
 * Thread-safety:
 *   - any thread, any time while r exists: weft_reactor_call_from_thread*,
 *     weft_reactor_stop, weft_reactor_is_in_io_thread, weft_reactor_running,
 *     weft_reactor_stats_get;
 *   - everything else: the reactor thread (the one in weft_reactor_run, or
 *     the one that attached it to a foreign loop), or any single thread
 *     before the reactor runs.
 *
 * Lifecycle: create → run (fires "startup" triggers, starts the thread pool,
 * loops until stop) → stop (fires "shutdown": before, during — the pool is
 * stopped, drained and released here —, after; run returns) → destroy.
 * A stopped reactor cannot run again (Twisted's ReactorNotRestartable).
 *
 * fork(2): in the child, a reactor inherited from the parent is stopped
 * (run, stop, attach, detach, add_reader/add_writer: WEFT_ESTATE), its queue
 * holds none of the parent's calls, and destroy frees it without firing the
 * shutdown triggers (docs/threading-howto.md, "Fork").
 *
 * call_from_thread: wait-free enqueue on an intrusive MPSC queue, FIFO per
 * calling thread. At most one eventfd write per burst: only the push that
 * finds the queue empty while the loop may be asleep writes. The loop drains
 * the whole queue each wake-up. Calls made from the reactor thread itself
 * run on the next iteration. Calls still queued when the reactor stopped run
 * in weft_reactor_destroy (on the destroying thread): nothing is dropped.
 */
#ifndef WEFT_REACTOR_H
#define WEFT_REACTOR_H

#include "common.h"
#include "threadpool.h"
#include "work.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_reactor weft_reactor;

WEFT_API int weft_reactor_create(weft_reactor **out);
/* Free r. If it never ran and "shutdown" never fired, the shutdown triggers
 * fire now (the pool is released). Threads blocked in
 * weft_blocking_call_from_thread are released (WEFT_ESHUTDOWN); queued
 * thread calls run here, on the destroying thread. A thread that is still
 * inside call_from_thread when destroy starts is waited for; starting new
 * calls on r once destroy has begun is a use after free (destroy your own
 * pools and join your threads first). WEFT_EBUSY while run() is active or the
 * reactor is attached. NULL is ignored (returns 0). */
WEFT_API int weft_reactor_destroy(weft_reactor *r);

/* Run the loop in the calling thread until stop. WEFT_ESTATE if it already
 * ran or is running; WEFT_EINVAL on NULL. */
WEFT_API int weft_reactor_run(weft_reactor *r);
/* Ask the loop to stop (any thread). WEFT_ESTATE if not running or already
 * stopping (Twisted's ReactorNotRunning). */
WEFT_API int weft_reactor_stop(weft_reactor *r);
/* 1 on the reactor thread (isInIOThread), else 0. */
WEFT_API int weft_reactor_is_in_io_thread(const weft_reactor *r);
/* 1 while the loop runs (between startup and the end of shutdown). */
WEFT_API int weft_reactor_running(const weft_reactor *r);

/* ------------------------------------------------------- from other threads */

/* callFromThread(fn, arg): allocates one small node (see the _req variant).
 * WEFT_EINVAL on NULL r/fn, WEFT_ENOMEM. */
WEFT_API int weft_reactor_call_from_thread(weft_reactor *r, weft_fn fn, void *arg);
/*
 * The allocation-free variant: req is caller-owned storage (weft/work.h
 * rules); cb(req) runs on the reactor thread, after which req is the
 * caller's again. Never fails on valid arguments.
 */
WEFT_API int weft_reactor_call_from_thread_req(weft_reactor *r, weft_work *req,
                                               weft_work_cb cb);

/* ----------------------------------------------------------------- timers */

typedef uint64_t weft_timer_id; /* 0 is never a valid id */

/* callLater(seconds, fn, arg); *id (may be NULL) cancels it. Reactor thread. */
WEFT_API int weft_reactor_call_later(weft_reactor *r, double seconds, weft_fn fn,
                                     void *arg, weft_timer_id *id);
/* 0, or WEFT_EALREADY if it already ran or was cancelled (stale ids are safe). */
WEFT_API int weft_reactor_cancel_call(weft_reactor *r, weft_timer_id id);

/* --------------------------------------------------------------- file I/O */

/* events passed to the callback: WEFT_READABLE | WEFT_WRITABLE | WEFT_IOERR */
enum { WEFT_READABLE = 1, WEFT_WRITABLE = 2, WEFT_IOERR = 4 };
typedef void (*weft_io_fn)(void *ctx, int fd, int events);

/* addReader / addWriter (replace a previous registration of the same kind)
 * and their removals. Reactor thread. WEFT_EINVAL on a bad fd (epoll refuses
 * it), WEFT_ESTATE on an attached (foreign-loop) reactor or in a child of
 * fork (docs/threading-howto.md, "Fork"); removing what is not
 * registered returns WEFT_EALREADY. */
WEFT_API int weft_reactor_add_reader(weft_reactor *r, int fd, weft_io_fn fn, void *ctx);
WEFT_API int weft_reactor_add_writer(weft_reactor *r, int fd, weft_io_fn fn, void *ctx);
WEFT_API int weft_reactor_remove_reader(weft_reactor *r, int fd);
WEFT_API int weft_reactor_remove_writer(weft_reactor *r, int fd);

/* ---------------------------------------------------- system event triggers */

typedef enum weft_phase { WEFT_BEFORE = 0, WEFT_DURING = 1, WEFT_AFTER = 2 } weft_phase;
typedef enum weft_event { WEFT_STARTUP = 0, WEFT_SHUTDOWN = 1 } weft_event;
typedef uint64_t weft_trigger_id;

/* addSystemEventTrigger. Triggers of one phase run in the order added. */
WEFT_API int weft_reactor_add_trigger(weft_reactor *r, weft_phase phase,
                                      weft_event event, weft_fn fn, void *arg,
                                      weft_trigger_id *id);
/* 0, or WEFT_EALREADY for an unknown or already removed id. */
WEFT_API int weft_reactor_remove_trigger(weft_reactor *r, weft_trigger_id id);
/* fireSystemEvent: run the before, during and after triggers of event now
 * (as often as it is called, like Twisted). Firing "shutdown" also releases
 * threads blocked in weft_blocking_call_from_thread (WEFT_ESHUTDOWN), since
 * the pool they run on is stopped by it. */
WEFT_API int weft_reactor_fire_system_event(weft_reactor *r, weft_event event);
/* callWhenRunning: now if running, else as a "during startup" trigger. */
WEFT_API int weft_reactor_call_when_running(weft_reactor *r, weft_fn fn, void *arg);

/* ------------------------------------------------------------ thread pool */

/* getThreadPool: the reactor's pool, created on first use as
 * ThreadPool(0, 10, "weft.reactor"), started when the reactor runs, stopped
 * and released during shutdown. WEFT_ESHUTDOWN once shutdown has begun. */
WEFT_API int weft_reactor_get_thread_pool(weft_reactor *r, weft_threadpool **out);
/**
 * Fill o with the reactor pool's defaults: weft_threadpool_options_init's,
 * with min 0, max 10 and the name "weft.reactor".
 *
 * @param o  the options to fill (NULL is ignored)
 */
WEFT_API void weft_reactor_thread_pool_options_init(weft_threadpool_options *o);
/**
 * The options the reactor's pool will be created with (its sizes, name,
 * thread factory, log hook, spin, CPU affinity), instead of
 * weft_reactor_thread_pool_options_init's. Reactor thread, before the pool
 * exists: before the first weft_reactor_get_thread_pool,
 * weft_reactor_call_in_thread or deferToThread, or before run.
 *
 * @param r  the reactor
 * @param o  the options; copied (the name and the CPU list too)
 * @return 0; WEFT_EINVAL on NULL, min < 0, min > max or an invalid affinity
 *         option (weft_affinity); WEFT_ESTATE if the pool already exists or
 *         shutdown has begun; WEFT_ENOMEM
 */
WEFT_API int weft_reactor_set_thread_pool_options(weft_reactor *r,
                                                  const weft_threadpool_options *o);
/* suggestThreadPoolSize: sets the pool's max. */
WEFT_API int weft_reactor_suggest_thread_pool_size(weft_reactor *r, int size);
/* callInThread(fn, arg) on the reactor's pool (creating it if needed).
 * Reactor thread; other threads can use the weft_threadpool it returns from
 * weft_reactor_get_thread_pool, which stays valid until shutdown. */
WEFT_API int weft_reactor_call_in_thread(weft_reactor *r, weft_fn fn, void *arg);

/* ------------------------------------------------- use from a foreign loop */

/*
 * Run weft's completions on someone else's event loop (libuv, libevent...).
 * attach makes the calling thread the reactor thread, fires "startup" (the
 * pool starts) and returns a file descriptor that becomes readable when
 * completions are waiting; on readable, call weft_reactor_drain. detach fires
 * "shutdown" (the pool is stopped and drained; its last completions run
 * inside detach) and leaves the reactor stopped. Timers and file readers are
 * only served by weft_reactor_run.
 */
WEFT_API int weft_reactor_attach(weft_reactor *r, int *fd);
/* Run the queued completions (and due timers) on the calling thread, which
 * must be the attaching one (else WEFT_ESTATE). Returns how many ran (>= 0).
 * Keeps draining briefly while results keep arriving; whatever is left after
 * that leaves the fd readable, so the host loop calls again. */
WEFT_API int weft_reactor_drain(weft_reactor *r);
WEFT_API int weft_reactor_detach(weft_reactor *r);

/* --------------------------------------------------------------- counters */

typedef struct weft_reactor_stats {
  uint64_t wakeups;       /* eventfd writes made by call_from_thread */
  uint64_t completions;   /* thread calls run from the queue */
  uint64_t drains;        /* queue drains that ran at least one call */
  uint64_t iterations;    /* loop iterations */
} weft_reactor_stats;
WEFT_API int weft_reactor_stats_get(const weft_reactor *r, weft_reactor_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_REACTOR_H */
