/*
 * weft — carrying the submitter's context with a task (include/weft/context.h
 * is the public side; lib/engine/context.c implements both).
 *
 * The thread's current context lives in context.c's thread-local storage;
 * while it is not NULL, bit WEFT__ROUTE_CONTEXT of weft__tls.route is set
 * (lib/engine/thread_state.h). The submit paths already test that word, so a
 * thread without a context pays nothing; one with a context goes to the
 * routed path, which calls in here to capture it:
 *   - an engine task (any weft__engine_submit: ThreadPool, weft_pool, the
 *     reactor's pool) or a reactor completion node is wrapped in a node from
 *     the node cache that holds the inner task, the context and the hooks in
 *     effect (weft__context_wrap);
 *   - a fn/arg pair (IWorker do, Team do) is bound into such a node
 *     (weft__context_bind);
 *   - a pool's fn/arg call (weft_threadpool_call_in_thread) carries the
 *     context in its own node (weft__context_submit_call), no wrapper.
 * The wrapper's run and cancel make the context current and call the enter
 * hook, run or cancel the inner task, call leave, restore the thread's
 * previous context, and release. While it runs, its own node is kept as the
 * thread's spare: a completion the task pushes to a reactor
 * (weft__context_for_completion) takes that node instead of a new one, so
 * the completion of a round trip needs no allocation and cannot fail.
 *
 * Contract: every function here acts on the calling thread's state only;
 * wrappers may run, and be cancelled, on any thread. The hooks table pointer
 * is the only shared datum (an atomic, set with release, read with acquire).
 */
#ifndef WEFT_ENGINE_CONTEXT_H
#define WEFT_ENGINE_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/debug.h"
#include "engine/core.h"
#include "engine/task.h"
#include "engine/thread_state.h"
#include "weft/context.h"

struct weft__node;

/* Does the calling thread have a current context? One test of the route
 * word, which the submit paths load anyway. */
static inline bool weft__context_active(void) {
  return (weft__tls.route & WEFT__ROUTE_CONTEXT) != 0;
}

/* t wrapped so that it runs (or is cancelled) in the calling thread's
 * current context, which is retained; NULL on ENOMEM (t untouched). Only
 * with weft__context_active(). */
weft__task *weft__context_wrap(weft__task *t);
/* Undo a wrap whose task was not accepted: release, free the node. Returns
 * the inner task. */
weft__task *weft__context_unwrap(weft__task *wrapper);

/* A completion node t pushed by the calling thread (a reactor completion of
 * the task it runs), wrapped in the context of the task being run: in that
 * task's own wrapper node when it is free (retained through the task's
 * hooks table: the completion is the task's), else in a new node for the
 * current context. Reached only while the thread has a current context
 * (weft__context_for_completion): a task that set its context to NULL
 * sends its completion without one. Never fails: with neither a spare node nor memory, t is
 * returned as it is and the completion runs without the context. */
weft__task *weft__context_wrap_completion(weft__task *t);

static inline weft__task *weft__context_for_completion(weft__task *t) {
  if (WEFT_UNLIKELY(weft__context_active())) return weft__context_wrap_completion(t);
  return t;
}

/* Cancel t with the calling thread's context suspended: t is another
 * task's (a lane's waiting task, refused while the thread runs a task of its
 * own, or cancels one, in that task's context). A wrapped t is cancelled
 * as it is: it enters its own context and restores the thread's, so its
 * leave hook is told the context that comes back. A task that captured
 * none is told in none: the surrounding context's enter/leave hooks are
 * not called around it, only the current context (weft_context_current,
 * what a submit from the callback captures) and the spare node are set
 * aside. */
void weft__context_cancel_outside(weft__task *t, int status);

/* Run fn(arg), an item some other do() queued (a coordinator's drain, a
 * LockWorker's trampoline), with the calling thread's context set aside as
 * weft__context_cancel_outside does: a pair bound to a context runs in it,
 * a plain pair (its submitter had none) in none, never in the context of
 * the thread that happens to run it. */
void weft__context_run_outside(weft_fn fn, void *arg);

/* Run t, a task another thread queued for this one (a reactor's drain), in
 * the context it was queued in: a wrapped t enters its own; a plain t (its
 * submitter had none) runs with the calling thread's context set aside, as
 * weft__context_run_outside. The drain calls it only while the thread has
 * a context (weft__context_active), so a loop thread without one pays a
 * test per task. */
void weft__context_run_task_outside(weft__task *t);

/* A pool's fn/arg call that carries the context in its own node instead of
 * a wrapper (weft_threadpool_call_in_thread: one node, one run, where a
 * wrapped call takes two of each). The context sits where a wrapper keeps
 * it, so a completion the call sends takes the running node as a wrapper's
 * (weft__context_wrap_completion); the hooks table is recorded by its slot
 * (context.c), in the low bits of the owner's pointer. */
typedef struct weft__ctx_call {
  weft_fn fn;
  void *ctx;
  void *arg;
  uintptr_t owner_slot; /* the owner (8-byte aligned) | the table's slot */
} weft__ctx_call;

/* Submit fn(arg) to e in the calling thread's current context
 * (weft__context_active()), carried in n itself: n's run becomes
 * weft__context_call_run, its cancel `cancel` (which calls
 * weft__context_call_cancel with the owner's way of telling), its payload
 * fn, arg, owner and the context, retained through the table in effect. 0,
 * or a negative code with n freed and nothing retained (the submit was
 * refused), or, when that table has no slot (the eighth distinct table a
 * process installs), with nothing done, what ops->unslotted(owner, n, fn,
 * arg) returns (it submits the call wrapped instead). Six arguments, all in
 * registers: the owner's routed submit passes its own on and makes no
 * frame. */
typedef struct weft__ctx_call_ops {
  void (*cancel)(weft__task *t, int status);
  int (*unslotted)(void *owner, struct weft__node *n, weft_fn fn, void *arg);
} weft__ctx_call_ops;
int weft__context_submit_call(weft__engine *e, struct weft__node *n, weft_fn fn, void *arg,
                              void *owner, const weft__ctx_call_ops *ops);
/* A context its owner carries in a request of its own instead of a wrapper
 * (the reactor's round trip, lib/loop/threads.c, whose block has room for
 * it): the context and the hooks table its reference was taken through (the
 * table, not a slot: retain and release must use the same one). */
typedef struct weft__context_ref {
  void *ctx;
  const weft_context_hooks *hooks;
} weft__context_ref;
/* The calling thread's current context (weft__context_active()), retained
 * into *ref; the thread is then in none, without a hook, until
 * weft__context_ref_resume(ref, returned value), for a submit that must
 * not wrap its task in the context the task carries itself. The context is
 * set aside as for work another thread queued (weft__context_run_outside):
 * the submit may run other owners' callbacks in between (a submit window's
 * flush cancelling what it held for a pool that closed), and a context one
 * of them enters is left telling the hooks that ref's comes back, as it
 * does, on resume. Returns the set-aside it nests in (for resume). */
void *weft__context_ref_take(weft__context_ref *ref);
void weft__context_ref_resume(const weft__context_ref *ref, void *outer_aside);
/* fn(arg) in ref's context: made current with the enter hook, then left and
 * the thread's own restored, as a wrapper runs its task; ref keeps its
 * reference. Any thread. */
void weft__context_ref_call(const weft__context_ref *ref, void (*fn)(void *), void *arg);
/* Drop the reference capture took. */
void weft__context_ref_release(const weft__context_ref *ref);
/* Run fn(arg) in the context, then release it and free the node. An engine
 * task's run: engine workers only (the node goes to the worker's batch). */
void weft__context_call_run(weft__task *t);
/* Cancelled: told(owner, status) in the context, then as run. Any thread. */
void weft__context_call_cancel(weft__task *t, int status, void (*told)(void *owner, int status));

/* Bind fn and arg (through the pointers) to the calling thread's current context (weft__context_active()):
 * on return they are a trampoline and its node, which run the original in
 * the context, then release it. WEFT_ENOMEM: unchanged. */
int weft__context_bind(weft_fn *fn, void **arg);
/* A pair that will never run: if it is a bound one, release its context and
 * free its node; else nothing. */
void weft__context_discard(weft_fn fn, void *arg);

#endif /* WEFT_ENGINE_CONTEXT_H */
