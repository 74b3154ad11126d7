/**
 * @file
 * @brief weft — the reactor: an epoll event loop with Twisted's thread APIs
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
 * fork(2): in the child, a reactor inherited from the parent is stopped
 * (run, stop, attach, detach, drain, add_reader/add_writer: WEFT_ESTATE), its queue
 * holds none of the parent's calls, and destroy frees it without firing the
 * shutdown triggers (docs/threading-howto.md, "Fork").
 *
 * call_from_thread: wait-free enqueue on an intrusive MPSC queue, FIFO per
 * calling thread. At most one eventfd write per burst: only the push that
 * finds the queue empty while the loop may be asleep writes. The loop drains
 * the whole queue each wake-up. Calls made from the reactor thread itself
 * run on the next iteration. Calls still queued when the reactor stopped run
 * in weft_reactor_destroy (on the destroying thread): nothing is dropped.
 * So shutdown (run's return, detach, destroy) drains until the queue is
 * empty, calls queued by those calls included: a call that queues itself
 * again keeps it going for ever, and must stop once weft_reactor_running()
 * is 0; so must other threads that keep calling call_from_thread as fast as
 * the loop runs the calls (the drain finds the queue never empty).
 */
#ifndef WEFT_REACTOR_H
#define WEFT_REACTOR_H

#include "common.h"
#include "threadpool.h"
#include "work.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief A reactor (opaque). */
typedef struct weft_reactor weft_reactor;

/**
 * @brief Create a reactor (not running yet).
 * @param out Receives the reactor (the caller's; NULL on failure).
 * @return 0, or #WEFT_EINVAL (out is NULL), #WEFT_ENOMEM (out of memory, or
 *   the epoll or eventfd descriptor could not be created).
 */
WEFT_API int weft_reactor_create(weft_reactor **out);
/**
 * @brief Free r.
 *
 * If it never ran and "shutdown" never fired, the shutdown triggers fire now
 * (the pool is released); also if "shutdown" was fired by hand but the
 * reactor's pool was made after that (its stop is a shutdown trigger): every
 * trigger then runs again, the user's included. Threads blocked in weft_blocking_call_from_thread()
 * are released (#WEFT_ESHUTDOWN); queued thread calls run here, on the
 * destroying thread. A call_from_thread whose call is already queued when
 * destroy starts is waited for (it may still be waking the loop); any other
 * call_from_thread, and every weft_reactor_stop, must have returned before
 * destroy starts: a call under way, or a new one, once destroy has begun is
 * a use after free (destroy your own pools and join your threads first).
 *
 * @param r The reactor; NULL is ignored (returns 0).
 * @return 0 (r is freed), or #WEFT_EBUSY while run() is active or the
 *   reactor is attached, or from a callback that a drain, a firing of
 *   triggers or this destroy runs (the outer call still uses r), or while
 *   the reactor's pool cannot be released: from a callback of that pool's
 *   own stop (the pool stopped through its handle), or from one of its
 *   threads; the pool still hands completions to r, which stays (stopped,
 *   its shutdown done) for a destroy once that stop has returned.
 */
WEFT_API int weft_reactor_destroy(weft_reactor *r);

/**
 * @brief Run the loop in the calling thread until stop.
 * @param r The reactor.
 * @return 0 once the loop stopped and shutdown ran, or #WEFT_ESTATE if it
 *   already ran or is running (or is attached), or from a trigger of a
 *   system event that is firing (weft_reactor_fire_system_event), #WEFT_EINVAL
 *   on NULL.
 */
WEFT_API int weft_reactor_run(weft_reactor *r);
/**
 * @brief Ask the loop to stop (any thread).
 * @param r The reactor.
 * @return 0, or #WEFT_ESTATE if not running or already stopping (Twisted's
 *   ReactorNotRunning), #WEFT_EINVAL on NULL.
 */
WEFT_API int weft_reactor_stop(weft_reactor *r);
/**
 * @brief isInIOThread.
 * @param r The reactor.
 * @return 1 on the reactor thread, else 0 (0 for NULL).
 */
WEFT_API int weft_reactor_is_in_io_thread(const weft_reactor *r);
/**
 * @brief Whether the loop runs.
 * @param r The reactor.
 * @return 1 while the loop runs, from the start of its startup (its
 *   "before startup" triggers see 1) until stop begins the shutdown (Twisted's `running` stays true through the
 *   "before shutdown" triggers; here it is 0 in all of them), else 0 (0 for
 *   NULL).
 */
WEFT_API int weft_reactor_running(const weft_reactor *r);

/* ------------------------------------------------------- from other threads */

/**
 * @brief callFromThread(fn, arg): run fn(arg) on the reactor thread; any
 * thread.
 *
 * Allocates one small node (see the _req variant,
 * weft_reactor_call_from_thread_req()).
 *
 * @param r   The reactor.
 * @param fn  The call.
 * @param arg Its argument.
 * @return 0, or #WEFT_EINVAL on NULL r or fn, #WEFT_ENOMEM.
 */
WEFT_API int weft_reactor_call_from_thread(weft_reactor *r, weft_fn fn, void *arg);
/**
 * @brief The allocation-free callFromThread; any thread.
 *
 * req is caller-owned storage (weft/work.h rules); cb(req) runs on the
 * reactor thread, after which req is the caller's again. Allocates nothing
 * and never fails on valid arguments, unless a context is current
 * (weft/context.h): carrying it takes a node.
 *
 * @param r   The reactor.
 * @param req The request.
 * @param cb  Runs on the reactor thread with req.
 * @return 0, or #WEFT_EINVAL on NULL r, req or cb, #WEFT_ENOMEM if a context
 *   is current and its node cannot be had.
 */
WEFT_API int weft_reactor_call_from_thread_req(weft_reactor *r, weft_work *req,
                                               weft_work_cb cb);

/* ----------------------------------------------------------------- timers */

/** @brief Identifies a delayed call; 0 is never a valid id. */
typedef uint64_t weft_timer_id;

/**
 * @brief callLater(seconds, fn, arg). Reactor thread.
 *
 * Fires on time under weft_reactor_run() and on an attached reactor (its fd
 * turns readable when a timer is due: weft_reactor_attach()).
 *
 * The deadline is now + seconds on CLOCK_MONOTONIC (Twisted: the wall
 * clock; docs/twisted-mapping.md). As in Twisted's runUntilCurrent, each
 * pass runs the due calls after the queued thread calls, earliest deadline
 * first and, for the same deadline, in the order made (Twisted: the heap's
 * order); a call made by a call from a thread joins the pass that follows,
 * one made by a timer of the pass waits for the next pass, even if due.
 *
 * A call made once no loop will serve the reactor again (after run()
 * returned, after detach) is accepted and never runs: destroy frees it, as
 * a DelayedCall of a stopped Twisted reactor never fires. Unlike
 * weft_reactor_call_when_running(), it is not refused (a timer made
 * before run() waits for it).
 *
 * @param r       The reactor.
 * @param seconds The delay; a negative delay counts as 0.
 * @param fn      The call.
 * @param arg     Its argument.
 * @param id      Receives an id that cancels it (weft_reactor_cancel_call());
 *                0 on failure; may be NULL.
 * @return 0, or #WEFT_EINVAL on NULL r or fn or a NaN delay, #WEFT_ENOMEM.
 */
WEFT_API int weft_reactor_call_later(weft_reactor *r, double seconds, weft_fn fn,
                                     void *arg, weft_timer_id *id);
/**
 * @brief Cancel a delayed call. Reactor thread.
 * @param r  The reactor.
 * @param id The id from weft_reactor_call_later().
 * @return 0, or #WEFT_EALREADY if it already ran, is running (a call that
 *   cancels itself: Twisted's AlreadyCalled) or was cancelled (stale ids
 *   are safe), #WEFT_EINVAL on NULL r or id 0.
 */
WEFT_API int weft_reactor_cancel_call(weft_reactor *r, weft_timer_id id);

/* --------------------------------------------------------------- file I/O */

/** @brief The events passed to a weft_io_fn, or-ed together. */
enum {
  WEFT_READABLE = 1, /**< the descriptor is readable (a reader is called) */
  WEFT_WRITABLE = 2, /**< the descriptor is writable (a writer is called) */
  WEFT_IOERR = 4     /**< error or hang-up on the descriptor (with either) */
};
/**
 * @brief A reader's or writer's callback, on the reactor thread.
 * @param ctx    The context given when it was added.
 * @param fd     The descriptor.
 * @param events #WEFT_READABLE | #WEFT_WRITABLE | #WEFT_IOERR.
 */
typedef void (*weft_io_fn)(void *ctx, int fd, int events);

/**
 * @brief addReader: call fn when fd is readable (replaces a previous reader
 * of fd). Reactor thread; works under weft_reactor_run() and on an attached
 * reactor alike.
 * @param r   The reactor.
 * @param fd  The descriptor.
 * @param fn  The callback.
 * @param ctx Its context.
 * @return 0, or:
 *   - #WEFT_EINVAL on a bad fd (epoll refuses it, or it is one of the
 *     reactor's own; a regular file or a directory also when out of
 *     memory then), NULL r or fn;
 *   - #WEFT_ESTATE in a child of fork (docs/threading-howto.md, "Fork");
 *   - #WEFT_ENOMEM out of memory, or epoll's limit of watched descriptors
 *     reached (ENOSPC, /proc/sys/fs/epoll/max_user_watches).
 */
WEFT_API int weft_reactor_add_reader(weft_reactor *r, int fd, weft_io_fn fn, void *ctx);
/**
 * @brief addWriter: call fn when fd is writable (replaces a previous writer
 * of fd). Reactor thread; works under weft_reactor_run() and on an attached
 * reactor alike.
 * @param r   The reactor.
 * @param fd  The descriptor.
 * @param fn  The callback.
 * @param ctx Its context.
 * @return 0, or:
 *   - #WEFT_EINVAL on a bad fd (epoll refuses it, or it is one of the
 *     reactor's own; a regular file or a directory also when out of
 *     memory then), NULL r or fn;
 *   - #WEFT_ESTATE in a child of fork (docs/threading-howto.md, "Fork");
 *   - #WEFT_ENOMEM out of memory, or epoll's limit of watched descriptors
 *     reached (ENOSPC, /proc/sys/fs/epoll/max_user_watches).
 */
WEFT_API int weft_reactor_add_writer(weft_reactor *r, int fd, weft_io_fn fn, void *ctx);
/**
 * @brief removeReader. Reactor thread.
 *
 * Remove a descriptor's reader and writer before closing it: a descriptor
 * whose open file is shared (a dup, a forked child's copy) stays in the
 * epoll set after close, and its events keep the loop busy. Once its last
 * callback is removed, events already read for it are not delivered, even
 * to a new descriptor that takes its number in the same round.
 * @param r  The reactor.
 * @param fd The descriptor.
 * @return 0, or #WEFT_EALREADY if fd has no reader, #WEFT_EINVAL on NULL r
 *   or a negative fd.
 */
WEFT_API int weft_reactor_remove_reader(weft_reactor *r, int fd);
/**
 * @brief removeWriter. Reactor thread.
 * @param r  The reactor.
 * @param fd The descriptor.
 * @return 0, or #WEFT_EALREADY if fd has no writer, #WEFT_EINVAL on NULL r
 *   or a negative fd.
 */
WEFT_API int weft_reactor_remove_writer(weft_reactor *r, int fd);

/* ---------------------------------------------------- system event triggers */

/** @brief The phase of a system event a trigger runs in. */
typedef enum weft_phase {
  WEFT_BEFORE = 0, /**< "before" */
  WEFT_DURING = 1, /**< "during" */
  WEFT_AFTER = 2   /**< "after" */
} weft_phase;
/** @brief A system event. */
typedef enum weft_event {
  WEFT_STARTUP = 0, /**< "startup": fired when the reactor starts running */
  WEFT_SHUTDOWN = 1 /**< "shutdown": fired when the reactor stops */
} weft_event;
/** @brief Identifies a system event trigger, for weft_reactor_remove_trigger(). */
typedef uint64_t weft_trigger_id;

/**
 * @brief addSystemEventTrigger. Triggers of one phase run in the order added.
 * @param r     The reactor.
 * @param phase The phase.
 * @param event The event.
 * @param fn    The trigger.
 * @param arg   Its argument.
 * @param id    Receives its id (never 0), 0 on failure; may be NULL.
 * @return 0, or #WEFT_EINVAL (NULL r or fn, unknown phase or event),
 *   #WEFT_ENOMEM.
 */
WEFT_API int weft_reactor_add_trigger(weft_reactor *r, weft_phase phase,
                                      weft_event event, weft_fn fn, void *arg,
                                      weft_trigger_id *id);
/**
 * @brief removeSystemEventTrigger.
 * @param r  The reactor.
 * @param id The id from weft_reactor_add_trigger().
 * @return 0, or #WEFT_EALREADY for an unknown or already removed id,
 *   #WEFT_EINVAL on NULL r or id 0.
 */
WEFT_API int weft_reactor_remove_trigger(weft_reactor *r, weft_trigger_id id);
/**
 * @brief fireSystemEvent: run the before, during and after triggers of event
 * now.
 *
 * Unlike Twisted, whose firing consumes each trigger (it runs once), every
 * firing runs every trigger still registered for the event, the reactor's
 * own included: firing "shutdown" by hand, then letting the reactor shut
 * down, runs the shutdown triggers twice, and firing "startup" by hand runs
 * the call_when_running functions again. A trigger that frees its argument
 * should remove itself (weft_reactor_remove_trigger) or be fired once.
 *
 * Firing "shutdown" also releases threads blocked in
 * weft_blocking_call_from_thread() (#WEFT_ESHUTDOWN), since the pool they run
 * on is stopped by it, and refuses new such calls until its triggers have
 * run.
 *
 * A trigger may fire the other event; firing the event that is firing now
 * (from one of its own triggers, at any depth) is refused with
 * #WEFT_EBUSY and runs nothing: every trigger would run again, the one that
 * fired included, until the stack ran out. This covers the reactor's own
 * firings: a shutdown trigger that fires "shutdown" while the reactor shuts
 * down gets #WEFT_EBUSY.
 *
 * @param r     The reactor.
 * @param event The event.
 * @return 0, #WEFT_EBUSY if @p event is firing now, or #WEFT_EINVAL on NULL r
 *   or an unknown event.
 */
WEFT_API int weft_reactor_fire_system_event(weft_reactor *r, weft_event event);
/**
 * @brief callWhenRunning: now if running, else as a "during startup" trigger.
 * @param r   The reactor.
 * @param fn  The call.
 * @param arg Its argument.
 * @return 0, or #WEFT_EINVAL on NULL r or fn, #WEFT_ENOMEM,
 *   #WEFT_ESHUTDOWN once the reactor is stopping or stopped (it would
 *   never run).
 */
WEFT_API int weft_reactor_call_when_running(weft_reactor *r, weft_fn fn, void *arg);

/* ------------------------------------------------------------ thread pool */

/**
 * @brief getThreadPool: the reactor's pool.
 *
 * Created on first use as ThreadPool(0, 10, "weft.reactor"), started when
 * the reactor runs, stopped and released during shutdown.
 *
 * @param r   The reactor.
 * @param out Receives the pool (the reactor's, not the caller's); may be NULL.
 * @return 0, or:
 *   - #WEFT_ESHUTDOWN once shutdown has begun;
 *   - #WEFT_EINVAL on NULL r, or when the pool is created on a thread that
 *     may not run on a CPU the options of
 *     weft_reactor_set_thread_pool_options() list (they were checked
 *     against the thread that set them; a pool's CPU list is checked
 *     against the thread that creates it, weft_affinity): every call that
 *     creates the pool (call_in_thread, deferToThread, queue_work) answers
 *     it then;
 *   - #WEFT_ENOMEM the pool could not be created.
 */
WEFT_API int weft_reactor_get_thread_pool(weft_reactor *r, weft_threadpool **out);
/**
 * @brief Fill o with the reactor pool's defaults: weft_threadpool_options_init's,
 * with min 0, max 10 and the name "weft.reactor".
 *
 * @param o  the options to fill (NULL is ignored)
 */
WEFT_API void weft_reactor_thread_pool_options_init(weft_threadpool_options *o);
/**
 * @brief The options the reactor's pool will be created with (its sizes, name,
 * thread factory, log hook, spin, CPU affinity), instead of
 * weft_reactor_thread_pool_options_init's. Reactor thread, before the pool
 * exists: before the first weft_reactor_get_thread_pool,
 * weft_reactor_call_in_thread or deferToThread, or before run.
 *
 * @param r  the reactor
 * @param o  the options; copied (the name and the CPU list too)
 * @return 0; WEFT_EINVAL on NULL, min < 0, min > max, hard_threads < 0 or an invalid affinity
 *         option (weft_affinity); WEFT_ESTATE if the pool already exists or
 *         shutdown has begun; WEFT_ENOMEM
 */
WEFT_API int weft_reactor_set_thread_pool_options(weft_reactor *r,
                                                  const weft_threadpool_options *o);
/**
 * @brief suggestThreadPoolSize: sets the pool's max (creating the pool if
 * needed).
 * @param r    The reactor.
 * @param size The new maximum.
 * @return 0, or #WEFT_EINVAL on NULL r or size < 0, or the codes of
 *   weft_reactor_get_thread_pool() (#WEFT_ESHUTDOWN, #WEFT_ENOMEM) and
 *   weft_threadpool_adjust_poolsize() (#WEFT_EINVAL if size is below the
 *   pool's min, also when out of memory to create the pool then: the min
 *   its options give it; #WEFT_EAGAIN).
 */
WEFT_API int weft_reactor_suggest_thread_pool_size(weft_reactor *r, int size);
/**
 * @brief callInThread(fn, arg) on the reactor's pool (creating it if
 * needed).
 *
 * Reactor thread; other threads can use the weft_threadpool it returns from
 * weft_reactor_get_thread_pool(), which stays valid until shutdown.
 *
 * @param r   The reactor.
 * @param fn  The task.
 * @param arg Its argument.
 * @return 0, or the codes of weft_reactor_get_thread_pool() and
 *   weft_threadpool_call_in_thread(): #WEFT_EINVAL, #WEFT_ESHUTDOWN,
 *   #WEFT_EQUIT, #WEFT_ENOMEM.
 */
WEFT_API int weft_reactor_call_in_thread(weft_reactor *r, weft_fn fn, void *arg);

/* ------------------------------------------- offload, result on the loop */

/** @brief A caller-owned offload request (see struct weft_reactor_work). */
typedef struct weft_reactor_work weft_reactor_work;
/**
 * @brief The work: runs in a thread of the reactor's pool.
 * @param req The request that was queued.
 */
typedef void (*weft_reactor_work_cb)(weft_reactor_work *req);
/**
 * @brief The completion: runs on the reactor thread, exactly once per
 * accepted request.
 * @param req    The request; the caller's again.
 * @param status 0 after work_cb ran, or #WEFT_ECANCELED if it never will
 *               (weft_reactor_cancel_work() won, or the pool was stopped
 *               before a thread took it).
 */
typedef void (*weft_reactor_after_cb)(weft_reactor_work *req, int status);

/** @brief A caller-owned offload request (libuv's uv_work_t). It carries
 *  every node the round trip needs: nothing is allocated per request. */
struct weft_reactor_work {
  void *data; /**< the caller's; weft never reads or writes it */
  /** private: weft's, do not touch (the pool's request, then the node that
   *  carries the completion) */
  weft_work weft_work_;
  /** private: weft's, do not touch */
  void *weft_private_[3];
};

/**
 * @brief uv_queue_work: work_cb in the reactor's pool, after_cb on the
 * reactor thread.
 *
 * Runs work_cb(req) in a thread of r's pool (created and started as
 * weft_reactor_get_thread_pool() does), then after_cb(req, status) on r's
 * thread — in weft_reactor_run(), or in weft_reactor_drain() on an attached
 * loop. Once this returned 0 nothing can fail: after_cb is called exactly
 * once (with 0, or #WEFT_ECANCELED), and no allocation is made on the way.
 * From the call until after_cb, req belongs to weft (do not touch, move or
 * free it). Completions still queued when the reactor stops run in detach
 * or destroy, as call_from_thread calls do. Reactor thread only.
 *
 * @param r        The reactor.
 * @param req      Caller-owned storage; reusable after after_cb.
 * @param work_cb  The blocking work (pool thread).
 * @param after_cb The completion (reactor thread).
 * @return 0, or (nothing accepted):
 *   - #WEFT_EINVAL    a NULL argument, or the pool had to be created on a
 *                     thread its CPU list does not fit
 *                     (weft_reactor_get_thread_pool());
 *   - #WEFT_ESHUTDOWN the reactor is shutting down;
 *   - #WEFT_EQUIT     the reactor's pool was stopped through its handle
 *                     (weft_reactor_get_thread_pool);
 *   - #WEFT_ENOMEM    the pool had to be created and could not be, or a
 *                     context is current and its node cannot be had.
 */
WEFT_API int weft_reactor_queue_work(weft_reactor *r, weft_reactor_work *req,
                                     weft_reactor_work_cb work_cb,
                                     weft_reactor_after_cb after_cb);
/**
 * @brief uv_cancel for weft_reactor_queue_work(). Reactor thread.
 *
 * If work_cb has not started it never runs, and after_cb(req,
 * #WEFT_ECANCELED) runs on the reactor thread later (once the pool hands
 * the request back), never inside this call.
 *
 * @param r   The reactor req was queued on.
 * @param req The request.
 * @return 0 (cancelled), or:
 *   - #WEFT_EBUSY    work_cb started (runs or ran: its after_cb gets 0);
 *   - #WEFT_EALREADY cancelled before;
 *   - #WEFT_EINVAL   NULL arguments, a request not queued on r, or one
 *                    whose queue_work failed (it was never queued); in a
 *                    child of fork, a request the parent queued (no
 *                    after_cb comes there), but in a child forked inside
 *                    a pool task one that had started answers
 *                    #WEFT_EBUSY (that task's own request may complete
 *                    there) (docs/threading-howto.md, "Fork").
 */
WEFT_API int weft_reactor_cancel_work(weft_reactor *r, weft_reactor_work *req);

/* ------------------------------------------------- use from a foreign loop */

/**
 * @brief Run the reactor on someone else's event loop (libuv, libevent...).
 *
 * attach makes the calling thread the reactor thread, fires "startup" (the
 * pool starts) and returns a file descriptor — the reactor's own epoll fd —
 * that becomes readable whenever the reactor has something to do: a
 * completion or call_from_thread call is queued, a call_later timer is due
 * (a timerfd in the set is armed for the earliest one), or a reader/writer
 * fd is ready. On readable, call weft_reactor_drain(); the host loop needs
 * nothing else (no timeout to compute: timers wake it through the fd).
 * Readers and writers work as under weft_reactor_run().
 * weft_reactor_detach() fires "shutdown" (the pool is stopped and drained;
 * its last completions run inside detach) and leaves the reactor stopped;
 * the host loop must stop watching the fd before destroy closes it.
 * weft_reactor_stop() on an attached reactor only wakes the fd: the owner
 * ends it with detach. docs/lifecycle.md has every step.
 *
 * @param r  The reactor.
 * @param fd Receives the descriptor to watch for readability (the
 *           reactor's: do not close it).
 * @return 0, or #WEFT_ESTATE if the reactor already ran, runs or is
 *   attached, or from a trigger of a system event that is firing, or in a
 *   child of fork (also when one of attach's own "startup" triggers forked
 *   and returned there: *fd is left as it was), #WEFT_EINVAL on NULL r or fd, #WEFT_ENOMEM if its timerfd
 *   could not be made for lack of memory or descriptors, #WEFT_ENOTSUP if
 *   the kernel has no timerfd (the reactor is left as it was in both).
 */
WEFT_API int weft_reactor_attach(weft_reactor *r, int *fd);
/**
 * @brief Serve what made the attach fd readable, on the calling thread,
 * which must be the attaching one: ready readers/writers, then the queued
 * completions, then due timers.
 *
 * Keeps draining briefly while results keep arriving; whatever is left after
 * that leaves the fd readable, so the host loop calls again.
 * weft_reactor_drain(r) is weft_reactor_drain_ex(r, 0, 0).
 *
 * A callback that detaches ends the drain: no timer runs after the
 * shutdown. After detach, drain answers #WEFT_ESTATE (calls still queued
 * run in destroy). A drain called from a callback that a drain runs (a
 * reader, a writer, a timer, a call from a thread) answers #WEFT_ESTATE
 * too, as one under weft_reactor_run() does: the outer drain goes on.
 *
 * @param r The reactor.
 * @return How many completions ran (>= 0), or #WEFT_ESTATE off the
 *   attaching thread, inside a drain, once detached or in a child of fork,
 *   #WEFT_EINVAL on NULL r.
 */
WEFT_API int weft_reactor_drain(weft_reactor *r);

/** @brief weft_reactor_drain_ex() flag: do not wait (spin or yield) for more
 *  completions once the queue is empty; return at once. */
#define WEFT_DRAIN_NO_SPIN 1u

/**
 * @brief weft_reactor_drain() with a budget.
 *
 * @param r               The attached reactor (attaching thread only).
 * @param max_completions At most this many completions run (0: no limit
 *                        beyond the built-in bound of 64 snapshots); what
 *                        is left keeps the fd readable.
 * @param flags           0 or #WEFT_DRAIN_NO_SPIN.
 * @return The number of completions run (>= 0), or #WEFT_EINVAL on NULL r,
 *   a negative budget or an unknown flag, #WEFT_ESTATE off the reactor
 *   thread, from a callback of a drain, once detached, or in a child of
 *   fork.
 */
WEFT_API int weft_reactor_drain_ex(weft_reactor *r, int max_completions, unsigned flags);
/**
 * @brief Fire "shutdown" and leave the attached reactor stopped; on the
 * attaching thread.
 *
 * From a trigger of a "shutdown" that the program fires by hand
 * (weft_reactor_fire_system_event), the firing under way is not started
 * again (it would run this trigger again): the reactor stops and drains
 * now, and the shutdown triggers after this one (the reactor's pool stop
 * among them) run when the trigger returns, as that firing goes on; calls
 * they queue to the reactor run at weft_reactor_destroy().
 * @param r The reactor.
 * @return 0, or #WEFT_ESTATE if r is not attached and running, this is not
 *   the attaching thread, or attach has not returned yet (a "startup"
 *   trigger that attach fires: detach once it returns), #WEFT_EINVAL on
 *   NULL r.
 */
WEFT_API int weft_reactor_detach(weft_reactor *r);

/* --------------------------------------------------------------- counters */

/** @brief The reactor's counters (weft_reactor_stats_get()). */
typedef struct weft_reactor_stats {
  uint64_t wakeups;       /**< eventfd writes made by call_from_thread */
  uint64_t completions;   /**< thread calls run from the queue */
  uint64_t drains;        /**< queue drains that ran at least one call */
  uint64_t iterations;    /**< loop iterations */
} weft_reactor_stats;
/**
 * @brief Read the reactor's counters; any thread.
 * @param r   The reactor.
 * @param out Receives the counters.
 * @return 0, or #WEFT_EINVAL on NULL r or out.
 */
WEFT_API int weft_reactor_stats_get(const weft_reactor *r, weft_reactor_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_REACTOR_H */
