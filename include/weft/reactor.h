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
 * On a foreign loop: create → attach → the host calls drain when the fd is
 * readable → detach (the same shutdown) → destroy. docs/lifecycle.md says
 * what runs on which thread at each step.
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

/* callLater(seconds, fn, arg); *id (may be NULL) cancels it. Reactor thread.
 * Fires on time under weft_reactor_run and on an attached reactor (its fd
 * turns readable when a timer is due). */
WEFT_API int weft_reactor_call_later(weft_reactor *r, double seconds, weft_fn fn,
                                     void *arg, weft_timer_id *id);
/* 0, or WEFT_EALREADY if it already ran or was cancelled (stale ids are safe). */
WEFT_API int weft_reactor_cancel_call(weft_reactor *r, weft_timer_id id);

/* --------------------------------------------------------------- file I/O */

/* events passed to the callback: WEFT_READABLE | WEFT_WRITABLE | WEFT_IOERR */
enum { WEFT_READABLE = 1, WEFT_WRITABLE = 2, WEFT_IOERR = 4 };
typedef void (*weft_io_fn)(void *ctx, int fd, int events);

/* addReader / addWriter (replace a previous registration of the same kind)
 * and their removals. Reactor thread; they work under weft_reactor_run and
 * on an attached reactor alike (weft_reactor_attach). WEFT_EINVAL on a bad
 * fd (epoll refuses it, or it is one of the reactor's own); removing what
 * is not registered returns WEFT_EALREADY. */
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
/* suggestThreadPoolSize: sets the pool's max. */
WEFT_API int weft_reactor_suggest_thread_pool_size(weft_reactor *r, int size);
/* callInThread(fn, arg) on the reactor's pool (creating it if needed).
 * Reactor thread; other threads can use the weft_threadpool it returns from
 * weft_reactor_get_thread_pool, which stays valid until shutdown. */
WEFT_API int weft_reactor_call_in_thread(weft_reactor *r, weft_fn fn, void *arg);

/* ------------------------------------------- offload, result on the loop */

typedef struct weft_reactor_work weft_reactor_work;
/** Runs in a thread of the reactor's pool. */
typedef void (*weft_reactor_work_cb)(weft_reactor_work *req);
/** Runs on the reactor thread: status 0 after work_cb ran, or
 *  WEFT_ECANCELED if it never will (weft_reactor_cancel_work won, or the
 *  pool was stopped before a thread took it). req is the caller's again. */
typedef void (*weft_reactor_after_cb)(weft_reactor_work *req, int status);

/** A caller-owned offload request (libuv's uv_work_t). It carries every
 *  node the round trip needs: nothing is allocated per request. */
struct weft_reactor_work {
  void *data; /**< the caller's; weft never reads or writes it */
  /* private: */
  weft_work weft_work_;
  void *weft_private_[3];
};

/**
 * uv_queue_work: run work_cb(req) in a thread of r's pool (created and
 * started as weft_reactor_get_thread_pool does), then after_cb(req, status)
 * on r's thread — in weft_reactor_run, or in weft_reactor_drain on an
 * attached loop. Once this returned 0 nothing can fail: after_cb is called
 * exactly once (with 0, or WEFT_ECANCELED), and no allocation is made on
 * the way. From the call until after_cb, req belongs to weft (do not touch,
 * move or free it). Completions still queued when the reactor stops run in
 * detach or destroy, as call_from_thread calls do. Reactor thread only.
 *
 * @param r        the reactor.
 * @param req      caller-owned storage; reusable after after_cb.
 * @param work_cb  the blocking work (pool thread).
 * @param after_cb the completion (reactor thread).
 * @return 0; WEFT_EINVAL on a NULL argument; WEFT_ESHUTDOWN once the reactor
 *   is shutting down; WEFT_ENOMEM if the pool had to be created and could not
 *   be (nothing was accepted in every error case).
 */
WEFT_API int weft_reactor_queue_work(weft_reactor *r, weft_reactor_work *req,
                                     weft_reactor_work_cb work_cb,
                                     weft_reactor_after_cb after_cb);
/**
 * uv_cancel for weft_reactor_queue_work: if work_cb has not started it
 * never runs, and after_cb(req, WEFT_ECANCELED) runs on the reactor thread
 * later (once the pool hands the request back), never inside this call.
 * Reactor thread.
 *
 * @param r   the reactor req was queued on.
 * @param req the request.
 * @return 0 (cancelled); WEFT_EBUSY if work_cb started (runs or ran: its
 *   after_cb gets 0); WEFT_EALREADY if cancelled before; WEFT_EINVAL on NULL
 *   arguments or a request not queued on r.
 */
WEFT_API int weft_reactor_cancel_work(weft_reactor *r, weft_reactor_work *req);

/* ------------------------------------------------- use from a foreign loop */

/*
 * Run the reactor on someone else's event loop (libuv, libevent...).
 * attach makes the calling thread the reactor thread, fires "startup" (the
 * pool starts) and returns a file descriptor — the reactor's own epoll fd —
 * that becomes readable whenever the reactor has something to do: a
 * completion or call_from_thread call is queued, a call_later timer is due
 * (a timerfd in the set is armed for the earliest one), or a reader/writer
 * fd is ready. On readable, call weft_reactor_drain; the host loop needs to
 * do nothing else (no timeout to compute: timers wake it through the fd).
 * Readers and writers added with weft_reactor_add_reader/_writer work as
 * under weft_reactor_run. detach fires "shutdown" (the pool is stopped and
 * drained; its last completions run inside detach) and leaves the reactor
 * stopped; the host loop must stop watching the fd before destroy closes
 * it. weft_reactor_stop on an attached reactor only wakes the fd: the owner
 * ends it with detach.
 */
WEFT_API int weft_reactor_attach(weft_reactor *r, int *fd);
/* Serve what made the fd readable, on the calling thread, which must be the
 * attaching one (else WEFT_ESTATE): ready readers/writers, then the queued
 * completions, then due timers. Returns how many completions ran (>= 0).
 * Keeps draining briefly while results keep arriving; whatever is left
 * after that leaves the fd readable, so the host loop calls again.
 * weft_reactor_drain(r) is weft_reactor_drain_ex(r, 0, 0). */
WEFT_API int weft_reactor_drain(weft_reactor *r);

/** weft_reactor_drain_ex flag: do not wait (spin or yield) for more
 *  completions after the queue is empty; return at once. */
#define WEFT_DRAIN_NO_SPIN 1u

/**
 * weft_reactor_drain with a budget.
 *
 * @param r               the attached reactor (attaching thread only).
 * @param max_completions at most this many completions run (0: no limit
 *                        beyond the built-in bound of 64 snapshots); what
 *                        is left keeps the fd readable.
 * @param flags           0 or WEFT_DRAIN_NO_SPIN.
 * @return the number of completions run (>= 0); WEFT_EINVAL on NULL r, a
 *   negative budget or an unknown flag; WEFT_ESTATE off the reactor thread.
 */
WEFT_API int weft_reactor_drain_ex(weft_reactor *r, int max_completions, unsigned flags);
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
