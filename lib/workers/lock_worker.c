/*
 * weft — LockWorker: run work inline in the calling thread while holding a
 * lock; a do() made from inside a work item, on the same thread, is queued
 * and run by the outermost do() after the current item, still under the lock
 * and without re-acquiring it (Twisted's trampolining, _threadworker.py).
 *
 * Contract
 *   do():   any thread. Callers from different threads serialise on the lock
 *           (blocking; the lock is the user's, so this is not lock-free).
 *           Re-entrant calls on the same thread never block: they append to
 *           the thread's trampoline frame for this worker.
 *   quit(): any thread, also from inside a work item. The base (worker_base.h)
 *           defers lw_quit until no do() is in flight, so the lock reference is
 *           dropped only once the work in progress — including items queued
 *           re-entrantly before quit — has finished and released the lock.
 *
 * Twisted keeps "am I inside do() on this thread" in a threading.local per
 * worker; here each thread has a stack of frames (one per active outermost
 * do(), on the C stack) linked from a thread-local pointer, searched for the
 * worker. Depth is the number of distinct lock workers nested on the thread.
 *
 * Mapping of Twisted's exceptions: a work item cannot raise in C, so the
 * "exception discards the trampolined items" path does not exist. A failing
 * lock acquire is returned by do(); a failing release, once the items
 * ran, is written to stderr and do() returns 0 (weft/worker.h: do_work may
 * not fail after the task may have run).
 *
 * Lifetime: freed when both the owner's release and the deferred quit have
 * happened (whichever is second frees), so release from inside an item works.
 */
#include <pthread.h>
#include <stdio.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "base/fork.h"
#include "engine/context.h"
#include "workers/lock_worker.h"
#include "workers/worker_base.h"
#include "workers/worker_slab.h"

#define FIN_CLOSED 1u
#define FIN_RELEASED 2u

typedef struct lw_item {
  struct lw_item *next;
  weft_fn fn;
  void *arg;
} lw_item;

typedef struct lock_worker {
  weft_worker base;
  weft_lock_ops ops;
  _Atomic(void *) lock; /* NULL after quit */
  _Atomic unsigned fin;
  pthread_mutex_t mutex; /* the lock when the user gives none */
  weft__slab items;
} lock_worker;

typedef struct lw_frame {
  lock_worker *lw;
  lw_item *head, *tail; /* work queued re-entrantly, FIFO */
  struct lw_frame *prev;
} lw_frame;

static _Thread_local lw_frame *tls_frames;

static int mutex_acquire(void *m) {
  return pthread_mutex_lock(m) == 0 ? 0 : WEFT_EDEADLK;
}
static int mutex_release(void *m) {
  return pthread_mutex_unlock(m) == 0 ? 0 : WEFT_ESTATE;
}

static lw_frame *find_frame(lock_worker *lw) {
  for (lw_frame *f = tls_frames; f; f = f->prev)
    if (f->lw == lw) return f;
  return NULL;
}

static int lw_do(weft_worker *w, weft_fn fn, void *arg) {
  lock_worker *lw = (lock_worker *)w;
  lw_frame *outer = find_frame(lw);
  if (outer) { /* re-entrant: trampoline */
    lw_item *it = weft__slab_get(&lw->items);
    if (!it) return WEFT_ENOMEM;
    it->next = NULL;
    it->fn = fn;
    it->arg = arg;
    if (outer->tail) outer->tail->next = it;
    else outer->head = it;
    outer->tail = it;
    return 0;
  }
  /* Acquire: pairs with the release store in create. This do() is in flight,
   * so lw_quit (deferred by the base) has not cleared the reference. */
  void *lock = weft__load_acquire(&lw->lock);
  int r = lw->ops.acquire(lock);
  if (r) return r;
  lw_frame f = {lw, NULL, NULL, tls_frames};
  tls_frames = &f;
  /* An item may fork and return in the child: the items queued behind it
   * are the parent's, which its own do() runs, so the child runs none of
   * them (as a ThreadWorker's thread and a coordinator's drain, there);
   * it still releases the lock it holds and returns. */
  const unsigned long gen = weft__fork_generation();
  fn(arg);
  while (f.head && WEFT_LIKELY(weft__fork_generation() == gen)) {
    lw_item *it = f.head;
    f.head = it->next;
    if (!f.head) f.tail = NULL;
    weft_fn ifn = it->fn;
    void *iarg = it->arg;
    weft__slab_put(&lw->items, it);
    /* In the context of the do() that queued it, not in the outer one's. */
    weft__context_run_outside(ifn, iarg);
  }
  tls_frames = f.prev;
  /* The work ran: do() says so (0), whatever the release says. An error
   * here would read as "not accepted" and make a caller (a Team among
   * them) run it again; the release failure is reported instead. */
  int rr = lw->ops.release(lock);
  if (rr) fprintf(stderr, "weft: LockWorker: the lock's release failed: %s\n", weft_strerror(rr));
  return 0;
}

static void lw_free(lock_worker *lw) {
  if (lw->ops.acquire == mutex_acquire) pthread_mutex_destroy(&lw->mutex);
  weft__slab_destroy(&lw->items);
  weft__free_aligned(lw);
  weft__object_destroyed();
}

static int lw_quit(weft_worker *w) {
  lock_worker *lw = (lock_worker *)w;
  weft__store_relaxed(&lw->lock, NULL); /* drop the reference (test case 28) */
  /* acq_rel: pairs with lw_release's fetch_or; the second one frees. */
  if (weft__fetch_or_acq_rel(&lw->fin, FIN_CLOSED) & FIN_RELEASED) lw_free(lw);
  return 0;
}

static void lw_release(weft_worker *w) {
  lock_worker *lw = (lock_worker *)w;
  /* acq_rel: pairs with lw_quit's fetch_or. */
  if (weft__fetch_or_acq_rel(&lw->fin, FIN_RELEASED) & FIN_CLOSED) lw_free(lw);
}

static const weft_worker_ops lw_ops = {lw_do, lw_quit, lw_release};

WEFT_API int weft_lock_worker_create(weft_worker **out, const weft_lock_ops *lock_ops,
                                     void *lock) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  if (lock_ops && (!lock_ops->acquire || !lock_ops->release)) return WEFT_EINVAL;
  lock_worker *lw = weft__calloc_aligned(sizeof *lw); /* the slab head is cache-aligned */
  if (!lw) return WEFT_ENOMEM;
  weft_worker_init(&lw->base, &lw_ops);
  if (lock_ops) {
    lw->ops = *lock_ops;
  } else {
    if (pthread_mutex_init(&lw->mutex, NULL) != 0) {
      weft__free_aligned(lw);
      return WEFT_ENOMEM;
    }
    lw->ops.acquire = mutex_acquire;
    lw->ops.release = mutex_release;
    lock = &lw->mutex;
  }
  weft__store_relaxed(&lw->fin, 0);
  weft__slab_init(&lw->items, sizeof(lw_item));
  /* Release: the worker is handed to other threads by the caller, which
   * orders this anyway; the release documents that do() reads it. */
  weft__store_release(&lw->lock, lock);
  weft__object_created();
  *out = &lw->base;
  return 0;
}

void *weft__lock_worker_lock(weft_worker *w) {
  return weft__load_relaxed(&((lock_worker *)w)->lock);
}
