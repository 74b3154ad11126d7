/**
 * @file
 * @brief weft — the submitter's context follows its work (Twisted's
 * `context.call` around `callInThread`'s function, a server's request or trace
 * id).
 *
 * Each thread has a current context: an opaque pointer, NULL unless set with
 * weft_context_set() or weft_context_call(). Whatever is current on the
 * thread that submits work is captured with it, by every submit call:
 * weft_threadpool_call_in_thread(), weft_threadpool_call_in_thread_with_callback(),
 * weft_threadpool_queue_work(), weft_worker_do() (ThreadWorker, LockWorker,
 * the coordinator, your own workers), weft_team_do() (Team and weft_pool()),
 * weft_reactor_call_from_thread(), weft_reactor_call_from_thread_req(),
 * weft_reactor_call_in_thread(), weft_reactor_queue_work(),
 * weft_defer_to_thread_pool() and the rest of weft/threads.h. That context is
 * current, and entered, while the work runs, and again while its completion
 * runs: on_result and after_cb in the pool thread; the reactor's after_cb,
 * and a Deferred's callbacks fired by a deferToThread result, on the reactor
 * thread; a cancelled task's callbacks (#WEFT_ECANCELED) wherever they run.
 * Afterwards the thread's own context is current again. Work submitted from
 * inside such work captures the same context, so it follows a whole chain.
 * Work submitted with no context runs with none current, whichever thread
 * runs it (a coordinator's drain, a LockWorker's loop, a MemoryWorker's
 * perform, a reactor's drain on a thread that has a context): that thread's
 * context is set aside for it, without hooks, and is current again
 * afterwards.
 *
 * Hooks (optional, weft_context_set_hooks()) let your own machinery follow:
 * `retain` when a submit captures a context, `release` once that task and its
 * completion are done or cancelled, `enter` / `leave` around each run, on the
 * thread that runs it (set a trace id in your thread-local storage, say).
 * Without hooks weft still carries the pointer, and you keep the object alive
 * until the work is done.
 *
 * Cost: a thread whose current context is NULL submits exactly as it would
 * without this feature (the fast paths test a word they test anyway). A
 * thread with a context takes the routed submit path:
 * weft_threadpool_call_in_thread() carries the context in its own node,
 * weft_defer_to_thread_pool() and its variants in the round trip's own
 * block (one `retain` per round trip), the other submit calls wrap the task
 * in one node from the node cache (no malloc once warm).
 *
 * Differences from Twisted: Twisted captures only the innermost context dict
 * of the caller and runs `onResult` outside it; weft runs the completion in
 * the captured context as well (what a request id needs). Timers
 * (weft_reactor_call_later()) and I/O callbacks do not capture a context.
 *
 * docs/threading-howto.md ("Context that follows the work") has a worked
 * example.
 */
#ifndef WEFT_CONTEXT_H
#define WEFT_CONTEXT_H

#include "common.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief What weft calls as a context travels with work. Any member may be
 * NULL, but `retain` and `release` are set or NULL together, and so are
 * `enter` and `leave`. Every hook may be called from any thread,
 * concurrently, and is never called with a NULL context.
 */
typedef struct weft_context_hooks {
  /**
   * @brief A submit captured ctx (called on the submitting thread, before the
   * task can run; for the completion a running task sends to the reactor,
   * on the thread that runs the task, before the completion can run).
   * @param ctx The captured context.
   */
  void (*retain)(void *ctx);
  /**
   * @brief The task that captured ctx is done: it ran, its completion ran,
   * or it was cancelled. One call per retain.
   * @param ctx The context captured with the task.
   */
  void (*release)(void *ctx);
  /**
   * @brief ctx has just become the current context of the calling thread,
   * to run the work or the completion of a task that captured it.
   * @param ctx The context (weft_context_current() returns it).
   */
  void (*enter)(void *ctx);
  /**
   * @brief ctx stops being current on the calling thread; `previous`
   * becomes current again right after this returns. One call per enter, on
   * the same thread, nested properly.
   *
   * Where ctx was entered inside work that runs with the thread's own
   * context set aside (work another thread submitted with none: the set-aside
   * has no hook), `previous` is the thread's own context: the hooks never
   * heard of the set-aside, and that context is current again, without a
   * hook, when the work returns.
   * @param ctx      The context that was entered.
   * @param previous The thread's context before the enter (often NULL).
   */
  void (*leave)(void *ctx, void *previous);
} weft_context_hooks;

/**
 * @brief Install the hooks (process-wide), or remove them with NULL.
 *
 * May be called at any time, from any thread: each capture records the table
 * in effect when it happens, and that table's hooks — and only those — are
 * called for that task and its completion (whose own retain goes through
 * the task's table too), so retain and release always pair. The table is not
 * copied: it must stay valid until every task captured with it is done (use
 * a static const table).
 *
 * @param hooks The table, or NULL for none.
 * @return 0, or #WEFT_EINVAL if exactly one of retain/release, or exactly
 *   one of enter/leave, is NULL (nothing changed).
 */
WEFT_API int weft_context_set_hooks(const weft_context_hooks *hooks);

/**
 * @brief Make ctx the calling thread's current context; NULL clears it.
 *
 * No hook is called: the caller keeps ctx alive while it is current. Work
 * that sets a context restores the one it found before it returns
 * (`void *prev = weft_context_set(c); ... weft_context_set(prev);`), or uses
 * weft_context_call().
 *
 * @param ctx The new current context, or NULL.
 * @return The previous current context (NULL if none).
 */
WEFT_API void *weft_context_set(void *ctx);

/**
 * @brief The calling thread's current context.
 * @return It, or NULL if none.
 */
WEFT_API void *weft_context_current(void);

/**
 * @brief Twisted's `context.call(ctx, fn, arg)`: run fn(arg) on this thread
 * with ctx current and entered (the enter and leave hooks around it), then
 * restore the previous context. ctx NULL runs fn with no context and calls
 * no hook.
 * @param ctx The context to run fn in, or NULL.
 * @param fn  The function.
 * @param arg Its argument.
 * @return 0, or #WEFT_EINVAL if fn is NULL.
 */
WEFT_API int weft_context_call(void *ctx, weft_fn fn, void *arg);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_CONTEXT_H */
