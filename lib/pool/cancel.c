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
  /* Without after_cb nobody could be told the request is returned. */
  if (p->after == NULL) return WEFT_EINVAL;
  /* Once a stop has completed, every request queued on tp has run or been
   * cancelled, so its claim is set: a clear one is a request whose
   * queue_work was refused, which is not ours to promise an after_cb for.
   * (A request refused while a stop is still under way cannot be told from
   * a queued one; its cancel_work returns 0 and no after_cb comes.) */
  if (weft__engine_stopped(weft__threadpool_engine(tp)) &&
      (weft__load_relaxed(&p->owner) & WEFT__WORK_CLAIMED) == 0)
    return WEFT_EINVAL;
  return weft__work_claim_cancel(p);
}
