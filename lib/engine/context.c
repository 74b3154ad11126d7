/*
 * weft — the submitter's context, carried with its work (lib/engine/context.h
 * has the design and the contract; include/weft/context.h the public API).
 *
 * A wrapper is one node of the node cache (lib/engine/node_cache.h):
 *   task:  run = ctx_task_run, cancel = ctx_task_cancel (never NULL, so a
 *          wrapper is never mistaken for a task batch, lib/engine/engine.h)
 *   data:  the inner task, the context, the hooks table in effect at capture
 * A bound fn/arg pair (IWorker and Team do) is a node whose data holds fn,
 * arg, the context and the table; bound_run is the fn passed on.
 * A pool's call in context (weft__context_submit_call) is the call's own node:
 *   task:  run = weft__context_call_run, cancel = the owner's
 *   data:  fn, the context, arg, the owner's pointer | the table's slot
 * one node and no inner task where a wrapped call takes two and two runs.
 *
 * One frame per run, on the C stack: the thread's previous context and
 * spare node, restored after the leave hook, so runs nest (a LockWorker's
 * inline work, weft_context_call inside a task, a reactor drained from a
 * task) and a thread is back to its own context after each.
 */
#include "engine/context.h"

#include <stddef.h>

#include "base/atomic.h"
#include "engine/node_cache.h"
#include "engine/submit.h"

/* The hooks table in effect, or'd with its slot (below; 0 if it got
 * none); 0: no table. Release store in set_hooks, acquire load at capture:
 * a capture that sees the word sees the table the caller filled before
 * publishing it, and the slot's store. */
static _Atomic uintptr_t hooks_in_effect;

/* Slots 1..WEFT__HOOK_SLOTS - 1: each table set_hooks installs takes one,
 * for good (a table must outlive the tasks that captured it, so a slot's
 * table is never replaced), while slots are left. A call in context
 * (weft__context_submit_call) records the slot in the low bits of its
 * owner's pointer, where its node has no room for the table's pointer. A
 * table without a slot (the eighth distinct one a process installs) is
 * carried by wrappers, as before slots. */
#define WEFT__HOOK_SLOTS 8u
static _Atomic(const weft_context_hooks *) hook_slot[WEFT__HOOK_SLOTS];
_Static_assert(_Alignof(weft_context_hooks) >= WEFT__HOOK_SLOTS, "a slot fits a table's low bits");

static const weft_context_hooks *hooks_of(uintptr_t word) {
  return (const weft_context_hooks *)(word & ~(uintptr_t)(WEFT__HOOK_SLOTS - 1));
}

/* The calling thread's current context, and the node of the wrapper it is
 * running while that node may still carry the task's completion, are
 * weft__tls.context and weft__tls.context_spare (lib/engine/thread_state.h). */
/* While work runs set aside (aside_begin, no hook), the thread's own
 * context, which the hooks still take for current; NULL otherwise. A leave
 * inside that work whose previous context is the set-aside NULL tells the
 * hooks this one instead: it is the context their view must come back to,
 * and it comes back, without a hook, when the set-aside work returns. Told
 * NULL, the hooks' view stayed NULL while weft's came back to the thread's
 * own (test_context `set_aside_item_entering_a_context_keeps_the_hooks_view`).
 * Only set-asides write it (aside_begin, and weft__context_ref_take for the
 * submit it brackets): enter and leave read it in the hook's branch. */
static _Thread_local void *tls_aside_own __attribute__((tls_model("initial-exec")));

typedef struct ctx_wrap {
  weft__task *inner;
  void *ctx;
  const weft_context_hooks *hooks;
} ctx_wrap;
typedef struct ctx_bound {
  weft_fn fn;
  void *arg;
  void *ctx;
  const weft_context_hooks *hooks;
} ctx_bound;
_Static_assert(sizeof(ctx_wrap) <= sizeof(((weft__node *)0)->data), "node payload too small");
_Static_assert(sizeof(ctx_bound) <= sizeof(((weft__node *)0)->data), "node payload too small");

static ctx_wrap *wrap_of(weft__node *n) { return (ctx_wrap *)(void *)n->data; }
static ctx_bound *bound_of(weft__node *n) { return (ctx_bound *)(void *)n->data; }

/* ---------------------------------------------------- the current context */

static void switch_to(void *ctx) {
  weft__tls.context = ctx;
  uintptr_t route = weft__tls.route & ~WEFT__ROUTE_CONTEXT;
  weft__tls.route = ctx ? route | WEFT__ROUTE_CONTEXT : route;
}

typedef struct frame {
  void *prev;
  weft__node *prev_spare;
  void *prev_aside_own; /* a set-aside's frame only (aside_begin) */
} frame;

static void enter(frame *f, void *ctx, const weft_context_hooks *h, weft__node *spare) {
  f->prev = weft__tls.context;
  f->prev_spare = weft__tls.context_spare;
  switch_to(ctx);
  weft__tls.context_spare = spare;
  if (ctx && h && h->enter) h->enter(ctx);
}

/* enter with no hooks table and a context that is never NULL (a call in
 * context, a carried reference): the route's bit is set without a test. */
__attribute__((always_inline)) static inline void enter_plain(frame *f, void *ctx,
                                                              weft__node *spare) {
  f->prev = weft__tls.context;
  f->prev_spare = weft__tls.context_spare;
  weft__tls.context = ctx;
  weft__tls.context_spare = spare;
  weft__tls.route |= WEFT__ROUTE_CONTEXT;
}

static void leave(const frame *f, void *ctx, const weft_context_hooks *h) {
  if (ctx && h && h->leave) h->leave(ctx, f->prev ? f->prev : tls_aside_own);
  switch_to(f->prev);
  weft__tls.context_spare = f->prev_spare;
}

/* Retain ctx through the table of `word` (a value of hooks_in_effect);
 * returns the table. */
static const weft_context_hooks *retain_with(uintptr_t word, void *ctx) {
  const weft_context_hooks *h = hooks_of(word);
  if (h && h->retain) h->retain(ctx);
  return h;
}

static const weft_context_hooks *capture(void *ctx) {
  /* Acquire: pairs with weft_context_set_hooks' release store. */
  return retain_with(weft__load_acquire(&hooks_in_effect), ctx);
}

static void release(void *ctx, const weft_context_hooks *h) {
  if (h && h->release) h->release(ctx);
}

/* ------------------------------------------------------------ wrappers */

static void ctx_task_run(weft__task *t) {
  weft__node *n = (weft__node *)t;
  ctx_wrap w = *wrap_of(n); /* the node may be handed on by the inner task */
  frame f;
  enter(&f, w.ctx, w.hooks, n);
  w.inner->run(w.inner);
  bool still_ours = weft__tls.context_spare == n; /* compared, never read: it may be queued */
  leave(&f, w.ctx, w.hooks);
  release(w.ctx, w.hooks);
  if (still_ours) weft__node_put(n);
}

static void ctx_task_cancel(weft__task *t, int status) {
  weft__node *n = (weft__node *)t;
  ctx_wrap w = *wrap_of(n);
  frame f;
  enter(&f, w.ctx, w.hooks, n);
  if (w.inner->cancel) w.inner->cancel(w.inner, status);
  bool still_ours = weft__tls.context_spare == n;
  leave(&f, w.ctx, w.hooks);
  release(w.ctx, w.hooks);
  if (still_ours) weft__node_put(n);
}

static weft__task *fill_wrap(weft__node *n, weft__task *inner, void *ctx,
                             const weft_context_hooks *h) {
  n->task.run = ctx_task_run;
  n->task.cancel = ctx_task_cancel;
  ctx_wrap *w = wrap_of(n);
  w->inner = inner;
  w->ctx = ctx;
  w->hooks = h;
  return &n->task;
}

weft__task *weft__context_wrap(weft__task *t) {
  void *ctx = weft__tls.context;
  weft_assert_internal(ctx != NULL); /* the route bit is set only with a context */
  weft__node *n = weft__node_get();
  if (!n) return NULL;
  return fill_wrap(n, t, ctx, capture(ctx));
}

weft__task *weft__context_unwrap(weft__task *wrapper) {
  weft__node *n = (weft__node *)wrapper;
  ctx_wrap w = *wrap_of(n);
  weft__node_put(n);
  release(w.ctx, w.hooks);
  return w.inner;
}

static const weft_context_hooks *running_table(weft__node *n);

weft__task *weft__context_wrap_completion(weft__task *t) {
  weft__node *n = weft__tls.context_spare;
  if (n) {
    /* The running task's own node carries its completion: same context,
     * and a reference of its own, here on the worker, taken through the
     * table the task was captured with, not the one in effect now: the
     * completion is the task's (context.h: that table's hooks, and only
     * those; `release` once the task and its completion are done). The
     * running task releases its own reference when it returns, possibly
     * before the completion runs: with the table in effect now, removed
     * or swapped since the capture, that was the context's last reference,
     * and it was current in a completion never entered (test_context
     * `completion_keeps_its_tasks_table_when_hooks_change`). */
    weft__tls.context_spare = NULL;
    const weft_context_hooks *h = running_table(n);
    void *ctx = wrap_of(n)->ctx;
    if (h && h->retain) h->retain(ctx);
    return fill_wrap(n, t, ctx, h);
  }
  void *ctx = weft__tls.context;
  if (!ctx) return t;
  n = weft__node_get();
  if (!n) return t; /* see context.h: the completion still runs */
  return fill_wrap(n, t, ctx, capture(ctx));
}

/* --------------------------------------------------------- bound fn/arg */

static void bound_run(void *arg) {
  weft__node *n = arg;
  ctx_bound b = *bound_of(n);
  weft__node_put(n); /* no reference kept to fn/arg once they run */
  frame f;
  enter(&f, b.ctx, b.hooks, NULL);
  b.fn(b.arg);
  leave(&f, b.ctx, b.hooks);
  release(b.ctx, b.hooks);
}

int weft__context_bind(weft_fn *fn, void **arg) {
  void *ctx = weft__tls.context;
  weft_assert_internal(ctx != NULL);
  weft__node *n = weft__node_get();
  if (!n) return WEFT_ENOMEM;
  ctx_bound *b = bound_of(n);
  b->fn = *fn;
  b->arg = *arg;
  b->ctx = ctx;
  b->hooks = capture(ctx);
  *fn = bound_run;
  *arg = n;
  return WEFT_OK;
}

void weft__context_discard(weft_fn fn, void *arg) {
  if (fn != bound_run) return;
  weft__node *n = arg;
  ctx_bound b = *bound_of(n);
  weft__node_put(n);
  release(b.ctx, b.hooks);
}

/* ------------------------------------------------- a pool's call in context */

static weft__ctx_call *call_of(weft__node *n) { return (weft__ctx_call *)(void *)n->data; }
_Static_assert(sizeof(weft__ctx_call) <= sizeof(((weft__node *)0)->data), "node payload too small");
/* weft__context_wrap_completion takes a running call's node as the running
 * wrapper's, and reads the context where a wrapper keeps it. */
_Static_assert(offsetof(weft__ctx_call, ctx) == offsetof(ctx_wrap, ctx), "ctx where a wrapper has it");

static const weft_context_hooks *call_hooks(uintptr_t owner_slot) {
  uintptr_t slot = owner_slot & (WEFT__HOOK_SLOTS - 1);
  /* Acquire: pairs with the slot's release CAS in set_hooks (the capture
   * that recorded the slot saw it already; the node's publish carries that
   * here too). */
  return slot ? weft__load_acquire(&hook_slot[slot]) : NULL;
}

/* The hooks table the task that runs in n (the calling thread's spare node)
 * was captured with: a wrapper's own, or a call in context's, by its slot
 * (NULL for one captured with no table, call_run_plain's). The node is
 * still the task's (its run is untouched while it runs or is cancelled). */
static const weft_context_hooks *running_table(weft__node *n) {
  if (n->task.run == ctx_task_run) return wrap_of(n)->hooks;
  return call_hooks(call_of(n)->owner_slot);
}

/* A call in its own node, run (told == NULL: fn(arg), on an engine worker)
 * or cancelled (told(owner, status), any thread), in its context: enter,
 * the call, leave, release, the node back unless fn handed it on. Inlined
 * into each caller; a call captured with no table has a shorter body of
 * its own (call_run_plain). */
__attribute__((always_inline)) static inline void call_in_context(
    weft__node *n, const weft_context_hooks *h, void (*told)(void *owner, int status), int status) {
  weft__ctx_call c = *call_of(n); /* the node may be handed on by fn */
  frame f;
  enter(&f, c.ctx, h, n);
  if (told) told((void *)(c.owner_slot & ~(uintptr_t)(WEFT__HOOK_SLOTS - 1)), status);
  else c.fn(c.arg);
  bool still_ours = weft__tls.context_spare == n; /* compared, never read: it may be queued */
  leave(&f, c.ctx, h);
  release(c.ctx, h);
  if (!still_ours) return;
  /* Engine tasks run on engine workers, whose loop flushes the batch
   * (node_cache.h), as the pool's call_run does; a cancel runs anywhere. */
  if (told) weft__node_put(n);
  else weft__node_put_in_worker(n);
}

/* weft__context_call_run of a call captured with no hooks table: enter,
 * fn, leave as call_in_context with no table, written out so that it keeps
 * three values across fn's call (the node, the previous context and spare
 * node) and sets the route's context bit without a test (a call's context
 * is never NULL). */
static void call_run_plain(weft__task *t) {
  weft__node *n = (weft__node *)t;
  weft__ctx_call *c = call_of(n);
  weft_fn fn = c->fn;
  void *arg = c->arg;
  frame f;
  enter_plain(&f, c->ctx, n);
  fn(arg); /* the node may be handed on by fn */
  bool still_ours = weft__tls.context_spare == n; /* compared, never read: it may be queued */
  leave(&f, NULL, NULL);
  if (still_ours) weft__node_put_in_worker(n);
}

void weft__context_call_run(weft__task *t) {
  weft__node *n = (weft__node *)t;
  call_in_context(n, call_hooks(call_of(n)->owner_slot), NULL, 0);
}

void weft__context_call_cancel(weft__task *t, int status, void (*told)(void *owner, int status)) {
  weft__node *n = (weft__node *)t;
  call_in_context(n, call_hooks(call_of(n)->owner_slot), told, status);
}

/* Fill n as a call in context and submit it; on a refusal n goes back and
 * the reference taken through h is released. Inlined into both ways of
 * weft__context_submit_call. */
__attribute__((always_inline)) static inline int submit_call(
    weft__engine *e, weft__node *n, weft_fn fn, void *arg, void *owner,
    const weft__ctx_call_ops *ops, void *ctx, uintptr_t word, const weft_context_hooks *h) {
  /* Without hooks the run has less to keep across fn's call. */
  n->task.run = word != 0 ? weft__context_call_run : call_run_plain;
  n->task.cancel = ops->cancel;
  weft__ctx_call *c = call_of(n);
  c->fn = fn;
  c->ctx = ctx;
  c->arg = arg;
  c->owner_slot = (uintptr_t)owner | (word & (WEFT__HOOK_SLOTS - 1));
  /* Past our own route's context: the window, ring or inject queue; a
   * thread with nothing but a context straight to the inject queue. */
  int r = weft__tls.route == WEFT__ROUTE_CONTEXT ? weft__engine_submit_foreign(e, &n->task)
                                                 : weft__engine_submit_untagged(e, &n->task);
  if (WEFT_UNLIKELY(r != 0)) {
    weft__node_put(n);
    release(ctx, h);
  }
  return r;
}

/* With a hooks table in effect: its retain is a call, which the way
 * without a table does not pay for (no frame of saved registers). */
static __attribute__((noinline)) int submit_call_hooked(weft__engine *e, weft__node *n, weft_fn fn,
                                                        void *arg, void *owner,
                                                        const weft__ctx_call_ops *ops, void *ctx,
                                                        uintptr_t word) {
  if (WEFT_UNLIKELY((word & (WEFT__HOOK_SLOTS - 1)) == 0)) return ops->unslotted(owner, n, fn, arg);
  const weft_context_hooks *h = retain_with(word, ctx);
  return submit_call(e, n, fn, arg, owner, ops, ctx, word, h);
}

int weft__context_submit_call(weft__engine *e, weft__node *n, weft_fn fn, void *arg, void *owner,
                              const weft__ctx_call_ops *ops) {
  void *ctx = weft__tls.context;
  weft_assert_internal(ctx != NULL); /* the route bit is set only with a context */
  weft_assert_internal(((uintptr_t)owner & (WEFT__HOOK_SLOTS - 1)) == 0);
  /* Acquire: as in capture(), whose retain this is once the table is
   * known to have a slot. */
  uintptr_t word = weft__load_acquire(&hooks_in_effect);
  if (WEFT_UNLIKELY(word != 0)) return submit_call_hooked(e, n, fn, arg, owner, ops, ctx, word);
  return submit_call(e, n, fn, arg, owner, ops, ctx, 0, NULL);
}

/* ------------------------------------------- a context its owner carries */

void *weft__context_ref_take(weft__context_ref *ref) {
  void *ctx = weft__tls.context;
  weft_assert_internal(ctx != NULL); /* the route bit is set only with a context */
  ref->ctx = ctx;
  ref->hooks = capture(ctx);
  /* Set aside, no hook (as aside_begin): the hooks still take ctx for
   * current, so a leave inside the submit whose previous context is the
   * set-aside NULL tells them ctx (a task in another context that a window
   * flush cancels there; test_context
   * `defer_in_context_flushing_a_closed_pools_window_keeps_the_hooks_view`). */
  void *outer = tls_aside_own;
  tls_aside_own = ctx;
  switch_to(NULL);
  return outer;
}

void weft__context_ref_resume(const weft__context_ref *ref, void *outer_aside) {
  switch_to(ref->ctx);
  tls_aside_own = outer_aside;
}

static __attribute__((noinline)) void ref_call_hooked(const weft__context_ref *ref,
                                                      void (*fn)(void *), void *arg) {
  frame f;
  enter(&f, ref->ctx, ref->hooks, NULL); /* no spare: the call owns no node */
  fn(arg);
  leave(&f, ref->ctx, ref->hooks);
}

void weft__context_ref_call(const weft__context_ref *ref, void (*fn)(void *), void *arg) {
  if (WEFT_UNLIKELY(ref->hooks != NULL)) {
    ref_call_hooked(ref, fn, arg);
    return;
  }
  frame f;
  enter_plain(&f, ref->ctx, NULL); /* no spare: the call owns no node */
  fn(arg);
  leave(&f, NULL, NULL);
}

void weft__context_ref_release(const weft__context_ref *ref) { release(ref->ctx, ref->hooks); }

/* Work that is not the calling thread's own (another thread queued it):
 * the thread's context and spare node are set aside for it, without hooks
 * (no context is entered), unless the work enters its own (wrapped): a
 * wrapper restores the thread's context itself, so its leave hook is told
 * the context that really comes back (set aside, it was told NULL while
 * the thread's came back with no hook). False: nothing to set aside. */
static inline bool aside_begin(frame *f, bool wraps_itself) {
  if (wraps_itself || (weft__tls.context == NULL && weft__tls.context_spare == NULL)) return false;
  f->prev_aside_own = tls_aside_own;
  if (weft__tls.context) tls_aside_own = weft__tls.context; /* else: an outer set-aside's */
  enter(f, NULL, NULL, NULL);
  return true;
}

static inline void aside_end(const frame *f) {
  leave(f, NULL, NULL);
  tls_aside_own = f->prev_aside_own;
}

void weft__context_cancel_outside(weft__task *t, int status) {
  frame f;
  bool aside = aside_begin(&f, t->cancel == ctx_task_cancel);
  t->cancel(t, status);
  if (aside) aside_end(&f);
}

void weft__context_run_outside(weft_fn fn, void *arg) {
  frame f;
  bool aside = aside_begin(&f, fn == bound_run);
  fn(arg);
  if (aside) aside_end(&f);
}

void weft__context_run_task_outside(weft__task *t) {
  frame f;
  bool aside = aside_begin(&f, t->run == ctx_task_run);
  t->run(t);
  if (aside) aside_end(&f);
}

/* ------------------------------------------------------------ public API */

/* hooks' slot, taken now if it has none and one is left; 0: none left. */
static uintptr_t slot_of(const weft_context_hooks *hooks) {
  for (uintptr_t i = 1; i < WEFT__HOOK_SLOTS; i++) {
    /* Relaxed: compared only, never dereferenced here. */
    const weft_context_hooks *s = weft__load_relaxed(&hook_slot[i]);
    /* Release: the caller's table before its pointer in the slot; pairs
     * with call_hooks' acquire load. Two installs of one table race for
     * two slots at worst: either is the table's, both are right. */
    if (s == NULL && weft__cas_release(&hook_slot[i], &s, hooks)) return i;
    if (s == hooks) return i;
  }
  return 0;
}

WEFT_API int weft_context_set_hooks(const weft_context_hooks *hooks) {
  if (hooks && (!hooks->retain != !hooks->release || !hooks->enter != !hooks->leave))
    return WEFT_EINVAL;
  uintptr_t word = hooks ? (uintptr_t)hooks | slot_of(hooks) : 0;
  /* Release: publishes the caller's table and its slot; pairs with
   * capture()'s acquire. */
  weft__store_release(&hooks_in_effect, word);
  return WEFT_OK;
}

WEFT_API void *weft_context_set(void *ctx) {
  void *prev = weft__tls.context;
  switch_to(ctx);
  return prev;
}

WEFT_API void *weft_context_current(void) { return weft__tls.context; }

WEFT_API int weft_context_call(void *ctx, weft_fn fn, void *arg) {
  if (!fn) return WEFT_EINVAL;
  /* Acquire: as in capture(); no retain: the caller holds ctx for the call. */
  const weft_context_hooks *h = hooks_of(weft__load_acquire(&hooks_in_effect));
  frame f;
  enter(&f, ctx, h, NULL);
  fn(arg);
  leave(&f, ctx, h);
  return WEFT_OK;
}
