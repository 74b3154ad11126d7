/*
 * weft — weft_reactor_queue_work: uv_queue_work on the reactor's pool, the
 * result on the reactor thread, with no allocation per request.
 *
 * One request, two queues, no copy:
 *   reactor thread: weft_threadpool_queue_work(&req->weft_work_) on the
 *                   reactor's pool
 *   pool thread:    offload_work runs work_cb; offload_after (the pool's
 *                   after_cb: 0, or WEFT_ECANCELED from a cancel or a stop)
 *                   records the status in the inner request's data word and
 *                   pushes the inner request's own task node on the
 *                   reactor's completion queue — the pool handed the
 *                   request back, so the node is free (as deferToThread's
 *                   round trip does, lib/loop/threads.c)
 *   reactor thread: offload_complete calls after_cb(req, status).
 * The push cannot fail, so after_cb runs exactly once for every accepted
 * request. The completion queue's release/acquire pair (lib/engine/mpsc.h)
 * publishes the status and what work_cb wrote to the reactor thread.
 */
#include <stdint.h>

#include "engine/context.h"
#include "engine/core.h"
#include "engine/task.h"
#include "engine/work_claim.h"
#include "loop/reactor_state.h"

/* The private layout of weft_reactor_work's weft_private_ (as
 * weft__work_private is weft_work's). */
typedef struct offload_private {
  weft_reactor_work_cb work;
  weft_reactor_after_cb after;
  weft_reactor *r;
} offload_private;
_Static_assert(sizeof(offload_private) <= sizeof(((weft_reactor_work *)0)->weft_private_),
               "weft_reactor_work private area too small");

static offload_private *priv(weft_reactor_work *req) {
  return (offload_private *)(void *)req->weft_private_;
}

static weft_reactor_work *outer_of(weft_work *w) {
  return (weft_reactor_work *)(void *)((char *)w - offsetof(weft_reactor_work, weft_work_));
}

static void offload_work(weft_work *w) {
  weft_reactor_work *req = outer_of(w);
  priv(req)->work(req);
}

static void offload_complete(weft__task *t) {
  weft_work *w = (weft_work *)(void *)((char *)t - offsetof(weft_work, weft_private_));
  weft_reactor_work *req = outer_of(w);
  int status = (int)(intptr_t)w->data;
  priv(req)->after(req, status);
}

static void offload_after(weft_work *w, int status) {
  weft_reactor_work *req = outer_of(w);
  w->data = (void *)(intptr_t)status;
  weft__task *node = &weft__work_priv(w)->task;
  node->run = offload_complete;
  node->cancel = NULL; /* the reactor's queue never cancels: it always runs */
  weft__reactor_push(priv(req)->r, weft__context_for_completion(node));
}

WEFT_API int weft_reactor_queue_work(weft_reactor *r, weft_reactor_work *req,
                                     weft_reactor_work_cb work_cb,
                                     weft_reactor_after_cb after_cb) {
  if (req == NULL) return WEFT_EINVAL;
  offload_private *p = priv(req);
  /* A request that is queued again keeps its last reactor and claim word
   * until this call succeeds: a refusal before the pool's own (below) must
   * not leave them, or cancel_work would answer for the last run (0: an
   * after_cb that never comes). No reactor: cancel_work answers EINVAL. */
  p->r = NULL;
  if (r == NULL || work_cb == NULL || after_cb == NULL) return WEFT_EINVAL;
  weft_threadpool *tp;
  int rc = weft_reactor_get_thread_pool(r, &tp);
  if (rc != 0) return rc;
  p->work = work_cb;
  p->after = after_cb;
  p->r = r;
  return weft_threadpool_queue_work(tp, &req->weft_work_, offload_work, offload_after);
}

WEFT_API int weft_reactor_cancel_work(weft_reactor *r, weft_reactor_work *req) {
  if (r == NULL || req == NULL) return WEFT_EINVAL;
  if (priv(req)->r != r) return WEFT_EINVAL;
  /* A fork child's copy of the reactor: req is the parent's, and the
   * child's copy of the pool never hands it back (no after_cb comes here,
   * whatever its claim says: queued, or running on a parent's thread), so
   * the answer is the one for a request never queued, as
   * weft_threadpool_cancel_work's in a child (lib/pool/cancel.c). It
   * answered 0 or WEFT_EBUSY, promises of an after_cb (test_fork
   * child_cancel_of_a_parents_reactor_request). The pool itself is not
   * read: the child's shutdown may have freed its copy. */
  weft__work_private *p = weft__work_priv(&req->weft_work_);
  if (weft__load_relaxed(&r->forked)) {
    if (weft__engine_current_worker() == NULL) return WEFT_EINVAL;
    /* On a pool thread (a fork inside a pool task): that task's own
     * request, if it is one, may still complete here, and it has started
     * (a reactor request runs none of the program's code before its
     * work_cb): a started claim answers as usual (WEFT_EBUSY). A claim
     * still clear, or taken by a cancel, is a parent's request that nothing
     * here runs or hands back (nothing is queued in the child: queue_work
     * answers WEFT_ESHUTDOWN): WEFT_EINVAL, as the pool's cancel answers
     * for a queued one there (its engine counts as stopped). It answered 0
     * (test_fork child_in_a_pool_task_cancels_a_parents_reactor_request). */
    if ((weft__load_relaxed(&p->owner) & WEFT__WORK_BITS) != WEFT__WORK_CLAIMED) return WEFT_EINVAL;
  }
  /* The request's words alone: the pool may already be released (shutdown),
   * the request is still valid (its after_cb has not run: the caller's
   * rule). One that queue_work refused (claim clear, the refusal's mark:
   * lib/engine/task.h) is not ours to promise an after_cb for. */
  if ((weft__load_relaxed(&p->owner) & WEFT__WORK_CLAIMED) == 0 && weft__task_refused(&p->task))
    return WEFT_EINVAL;
  int rc = weft__work_claim_cancel(p);
  /* Claimed without a cancel by the pool's refusal of a submit this call
   * raced (lib/pool/threadpool.c, queue_work_not_accepted): its mark shows
   * now. */
  if (rc == WEFT_EBUSY && weft__task_refused(&p->task)) return WEFT_EINVAL;
  return rc;
}
