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
   * queued, so a clear claim is a refusal too. The mark outlives a refusal
   * for ENOMEM if the request is then queued through a worker's ring or a
   * submit window: its cancel answers WEFT_EINVAL and the request runs, its
   * after_cb coming as for any request whose cancel failed. */
  weft__engine *e = weft__threadpool_engine(tp);
  if ((weft__load_relaxed(&p->owner) & WEFT__WORK_CLAIMED) == 0 &&
      (weft__task_refused_by(&p->task, e) || weft__engine_stopped(e)))
    return WEFT_EINVAL;
  return weft__work_claim_cancel(p);
}
