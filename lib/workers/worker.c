/*
 * weft — the IWorker base: argument checks and the AlreadyQuit protocol
 * (worker_base.h) around a user-extensible ops table.
 *
 * Concurrency: every function here may be called from any thread; the state
 * word is the only shared datum and every transition is one atomic RMW, so
 * do() and quit() are wait-free apart from the implementation's ops.
 */
#include "workers/worker_base.h"

#include "base/atomic.h"
#include "engine/context.h"
#include "workers/thread_worker.h"

/* The public struct declares the word as a plain int (the header stays free
 * of <stdatomic.h> for C++ users); it is only ever accessed as an atomic. */
_Static_assert(sizeof(_Atomic int) == sizeof(int) && _Alignof(_Atomic int) == _Alignof(int),
               "weft_worker.state_private_ must be usable as an _Atomic int");

static inline _Atomic int *state_of(const weft_worker *w) {
  return (_Atomic int *)(void *)(uintptr_t)&w->state_private_;
}

/*
 * Exactly one thread runs ops->quit: after QUIT is set the count only goes
 * down (enter() never increments a quit worker), so it reaches 0 at most
 * once after quit: the decrement that takes QUIT|1 to QUIT|0 closes, or
 * quit() itself if it found the count at 0. A thread never touches w after
 * its last RMW on the state word unless it is the closer: once the count is
 * 0 no do() touches w again (team destroy checks exactly that; w itself is
 * freed only through release, below), so the closer
 * reads w->ops before its RMW, and every ops->quit makes its own last access
 * safe (thread worker: a reference; coordinator, lock worker: the fin word).
 *
 * ops->release runs after ops->quit has returned, whichever comes first:
 * the release or a do() still in flight when the owner released, whose
 * leave then closes (a user worker whose release frees it would otherwise
 * be quit after being freed). Both parties set a bit with one RMW after
 * their part (release: RELEASED after quit(); the closer: CLOSED after
 * ops->quit); the one that finds the other's bit calls ops->release. Model:
 * models/worker_release.pml.
 */

/* The closer's part: ops->quit, then ops->release if the owner has
 * released already (else the release calls it). */
static void worker_close(weft_worker *w, const weft_worker_ops *ops) {
  ops->quit(w);
  /* acq_rel: release publishes ops->quit's effects to the releaser that
   * reads CLOSED (it may free w); acquire pairs with release's RMW, so
   * whatever the owner did before releasing happens before ops->release
   * here. */
  int s = weft__fetch_or_acq_rel(state_of(w), WEFT__WQ_CLOSED);
  if ((s & WEFT__WQ_RELEASED) && ops->release) ops->release(w);
}

int weft__worker_enter(weft_worker *w) {
  int s = weft__load_relaxed(state_of(w));
  do {
    if (s & WEFT__WQ_QUIT) return WEFT_EQUIT;
    /* acq_rel: the increment and the QUIT test are one step (the point at
     * which a do() is ordered against quit()); acquire pairs with quit()'s
     * fetch_or, release keeps the word's RMW chain a release sequence. */
  } while (!weft__cas_weak_acq_rel(state_of(w), &s, s + WEFT__WQ_ONE));
  return 0;
}

void weft__worker_leave(weft_worker *w) {
  const weft_worker_ops *ops = w->ops; /* before the RMW: see above */
  /* acq_rel: release publishes this do()'s effects (its enqueue) to the
   * closer (pairs with the acquire of whichever RMW closes); acquire lets
   * this thread be the closer after a quit() elsewhere. */
  int s = weft__fetch_sub_acq_rel(state_of(w), WEFT__WQ_ONE);
  if (WEFT_UNLIKELY((s & ~WEFT__WQ_RELEASED) == (WEFT__WQ_QUIT | WEFT__WQ_ONE))) worker_close(w, ops);
}

int weft__worker_inflight(const weft_worker *w) {
  /* Acquire: pairs with leave()'s release, so a caller that sees 0 sees
   * every effect of the do() calls that have left. */
  return weft__load_acquire(state_of(w)) / WEFT__WQ_ONE;
}

WEFT_API int weft_worker_init(weft_worker *w, const weft_worker_ops *ops) {
  if (!w || !ops || !ops->do_work || !ops->quit) return WEFT_EINVAL;
  w->ops = ops;
  weft__store_relaxed(state_of(w), 0);
  return 0;
}

int weft__worker_do_plain(weft_worker *w, weft_fn fn, void *arg) {
  int r = weft__worker_enter(w);
  if (r) return r;
  r = w->ops->do_work(w, fn, arg);
  weft__worker_leave(w);
  return r;
}

/* The caller has a current context: fn/arg carry it (lib/engine/context.h). */
static __attribute__((noinline)) int worker_do_in_context(weft_worker *w, weft_fn fn, void *arg) {
  int r = weft__context_bind(&fn, &arg);
  /* No node for the binding, which is taken before the quit bit is looked
   * at: a quit worker answers WEFT_EQUIT all the same, as it would with
   * memory (weft/worker.h; a stopped pool does the same, engine/submit.c),
   * and so does a ThreadWorker inherited by a child of fork (its do()
   * refuses there: weft/worker.h, "fork(2)").
   * Relaxed, as weft_worker_is_quit: a quit() that happens-before this do()
   * is seen; one racing it may be seen or not, either answer is right. */
  if (r) return weft_worker_is_quit(w) || weft__thread_worker_forked(w) ? WEFT_EQUIT : r;
  r = weft__worker_do_plain(w, fn, arg);
  if (r) weft__context_discard(fn, arg);
  return r;
}

WEFT_API int weft_worker_do(weft_worker *w, weft_fn fn, void *arg) {
  if (!w || !fn || !w->ops) return WEFT_EINVAL;
  if (WEFT_UNLIKELY(weft__context_active())) return worker_do_in_context(w, fn, arg);
  return weft__worker_do_plain(w, fn, arg);
}

WEFT_API int weft_worker_quit(weft_worker *w) {
  if (!w || !w->ops) return WEFT_EINVAL;
  /* acq_rel: pairs with enter()'s fetch_add (a do() admitted before this is
   * seen in the count; one after it sees QUIT) and with leave()'s fetch_sub. */
  const weft_worker_ops *ops = w->ops; /* before the RMW: see above */
  int s = weft__fetch_or_acq_rel(state_of(w), WEFT__WQ_QUIT);
  if (s & WEFT__WQ_QUIT) return WEFT_EQUIT;
  if ((s & ~WEFT__WQ_RELEASED) == 0) worker_close(w, ops); /* nobody in flight: close now */
  return 0;
}

WEFT_API void weft_worker_release(weft_worker *w) {
  if (!w || !w->ops) return;
  const weft_worker_ops *ops = w->ops;
  (void)weft_worker_quit(w); /* WEFT_EQUIT when already quit: fine */
  /* acq_rel: pairs with worker_close's RMW (see there). Once CLOSED is
   * seen, ops->quit has returned: release now; else the closer will. */
  int s = weft__fetch_or_acq_rel(state_of(w), WEFT__WQ_RELEASED);
  if ((s & WEFT__WQ_CLOSED) && ops->release) ops->release(w);
}

WEFT_API int weft_worker_is_quit(const weft_worker *w) {
  if (!w) return 0;
  return (weft__load_relaxed(state_of(w)) & WEFT__WQ_QUIT) != 0;
}
