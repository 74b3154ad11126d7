/*
 * weft — cancelling a queued weft_work (uv_cancel's semantics): the
 * protocol is lib/engine/work_claim.h; the worker's side is work_run in
 * lib/pool/threadpool.c.
 */
#include "engine/engine.h"
#include "engine/task.h"
#include "engine/work_claim.h"
#include "pool/threadpool_impl.h"
#include "weft/threadpool.h"

WEFT_API int weft_threadpool_cancel_work(weft_threadpool *tp, weft_work *req) {
  if (tp == NULL || req == NULL) return WEFT_EINVAL;
  weft__work_private *p = weft__work_priv(req);
  /* Not submitted to tp (or never submitted): nothing of ours to cancel. */
  if (weft__work_owner(p) != (void *)tp) return WEFT_EINVAL;
  /* Without after_cb nobody could be told the request is returned. Relaxed:
   * an after_cb on another thread may be queueing req again meanwhile; the
   * claim below then decides against whichever submission it meets (if
   * that one has no after_cb, the cancel that wins it answers 0 and the
   * work never runs, with nobody to tell: weft/threadpool.h). */
  if (weft__load_relaxed(&p->after) == NULL) return WEFT_EINVAL;
  /* A request queue_work refused (its claim still clear) is not ours to
   * promise an after_cb for: the refusing submit left the engine's mark on
   * it (lib/engine/task.h), and once a stop has completed nothing can be
   * queued, so a clear claim is a refusal too. A later queue_work clears
   * the mark (threadpool.c): a mark names its engine by address, which a
   * pool created after the refusing one was destroyed may reuse. */
  weft__engine *e = weft__threadpool_engine(tp);
  /* A fork child's copy of the pool: req is the parent's, and its after_cb
   * never comes here, whatever its claim says (queued, cancelled by the
   * parent and not yet told, or running on a parent's thread), so the
   * answer is the one for a request never queued (docs/threading-howto.md,
   * "Fork"). A claim the parent's cancel took answered WEFT_EALREADY, one
   * a parent's worker took WEFT_EBUSY: both promise an after_cb. Not all
   * of them when the child's thread is one of the pool's (a fork inside
   * one of its tasks): that task's own after_cb may still run here, so a
   * claim it may hold answers as usual (below). */
  if (weft__threadpool_fork_copy(tp)) {
    if (!weft__engine_in_worker(e)) return WEFT_EINVAL;
    /* On one of the pool's threads: a claim a cancel took is the parent's
     * doing, its after_cb never comes here (the request waits in the
     * parent's queue), unless this thread is telling req of it now (the
     * fork was made in that after_cb, run by the worker that skipped req):
     * WEFT_EINVAL, as off the pool's threads. It answered WEFT_EALREADY
     * (test_fork child_in_a_task_cancels_a_request_the_parent_cancelled).
     * A clear claim answers WEFT_EINVAL below (the copy counts as stopped);
     * a started one WEFT_EBUSY: it may be the forking task's own. */
    uintptr_t claim = weft__load_relaxed(&p->owner) & (uintptr_t)WEFT__WORK_BITS;
    if (claim == (uintptr_t)(WEFT__WORK_CLAIMED | WEFT__WORK_CANCELLED) &&
        weft__threadpool_telling() != req)
      return WEFT_EINVAL;
  }
  if ((weft__load_relaxed(&p->owner) & WEFT__WORK_CLAIMED) == 0) {
    if (weft__task_refused_by(&p->task, e)) return WEFT_EINVAL;
    /* The claim is read again after the stop is seen complete: a stop that
     * cancelled req between the read above and this one set the claim
     * before its release of `stopped` (work_cancel), and the claim below
     * then answers WEFT_EALREADY, as the header says, not WEFT_EINVAL. */
    if (weft__engine_stopped(e) &&
        (weft__load_relaxed(&p->owner) & WEFT__WORK_CLAIMED) == 0)
      return WEFT_EINVAL;
  }
  /* The owner is checked again by the claim's own CAS: since the check
   * above, an after_cb may have handed req on (to a reactor with
   * weft_reactor_call_from_thread_req, or queued it on another pool), and
   * a claim that met the new owner's clear word won it: 0 for a request
   * that had run, whose after_cb would never be told again
   * (test_cancel_handed_on). Answered WEFT_EINVAL, as for a request not
   * submitted to tp. */
  int r = weft__work_claim_cancel_for(p, tp);
  /* The claim was taken without a cancel: req started, or queue_work's
   * refusal took it (queue_work_not_accepted in threadpool.c: a submit this
   * call raced, whose mark the RMW above now shows). */
  if (r == WEFT_EBUSY && weft__task_refused_by(&p->task, e)) return WEFT_EINVAL;
  return r;
}
