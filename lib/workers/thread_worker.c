/*
 * weft — ThreadWorker: one thread running its tasks in FIFO order.
 *
 * Contract
 *   do():    any thread, concurrently. Takes a node from the worker's
 *            lock-free recycling pool (worker_slab.h), pushes it on a
 *            wait-free MPSC queue (lib/engine/mpsc.h), and makes a system call
 *            (futex wake) only if the thread is asleep: no syscall while the
 *            thread is awake.
 *   thread:  the only consumer; runs tasks one at a time (exclusive, FIFO in
 *            enqueue order, hence FIFO per submitting thread).
 *   quit():  the base (worker_base.h) sets QUIT, then, once no do() is in
 *            flight, runs tw_quit which pushes the stop marker. So the marker
 *            is the last node ever pushed: a do() racing quit() was either
 *            admitted before QUIT (its node is pushed before the marker and
 *            runs) or gets WEFT_EQUIT. Nothing accepted is lost.
 *
 * Sleeping (the liburcu workqueue's futex protocol, urcu/workqueue.c: "-1
 * means sleeping"; here 1 means sleeping): the futex word `sleeping`.
 *   thread, idle:  sleeping = 1; fence(seq_cst)            [F1]
 *                  if queue has a visible node: sleeping = 0, go on
 *                  else while sleeping == 1: futex_wait(&sleeping, 1)
 *   submitter:     push (link store, release); fence(seq_cst)        [F2]
 *                  if sleeping == 1 and xchg(sleeping, 0) == 1: futex_wake
 * Dekker pair F1/F2: each side stores, fences, then loads what the other
 * stored, so at least one sees the other: either the thread sees the node and
 * does not sleep, or the submitter sees sleeping == 1 and wakes it. Of all
 * submitters, only the one whose exchange takes the 1 calls futex_wake. A
 * submitter stalled between its exchange and its link store (mpsc.h) hides
 * the node; the thread may then sleep, but that submitter runs F2 after its
 * link store and wakes it. (If the hidden node follows one the pop had to
 * put back, has_visible sees that one and the thread polls instead of
 * sleeping until the submitter links: CPU for as long as the stall lasts,
 * nothing lost.) futex_wait(&sleeping, 1) returns at once if the
 * word is already 0, so a wake between the check and the wait is not lost.
 *
 * Lifetime: two references, the owner's (dropped by weft_worker_release)
 * and the thread's (dropped when it has run the stop marker and is about to
 * return). The last one frees the worker. Release from inside one of the
 * worker's own tasks is therefore fine.
 *
 * The thread handle: detached once, in create, right after the factory
 * returns, and never touched again. Detached, not joined: joining could wait
 * for an unbounded backlog, and the Team releases workers from inside its
 * coordinator, possibly on the very thread being released. Why in create:
 * at that point the thread provably exists (it exits only after popping the
 * stop marker, which only ops->quit pushes, and nobody holds the worker
 * yet), so the pthread_t names a live thread whatever the factory did with
 * it. The first version detached in release instead, after quit: by then
 * the thread may have run its backlog, popped the marker and exited, and
 * the pthread_t is valid only if the thread was still joinable. A factory
 * that had detached it (the old comment here allowed for that), or any
 * second detach/join of the handle, made that call a use of a freed
 * descriptor: glibc keeps a few exited threads' stacks cached (the call
 * then returns EINVAL, or detaches an unrelated new thread that reused the
 * descriptor) and unmaps the rest (SIGSEGV in pthread_detach, the crash
 * torture_team saw 3 times, docs/reliability.md). models/thread_worker.pml
 * checks the handle's life (MUTANT_DETACH_AT_RELEASE).
 */

#include "base/alloc.h"
#include "base/atomic.h"
#include "base/debug.h"
#include "base/fork.h"
#include "base/futex.h"
#include "base/probes.h"
#include "engine/mpsc.h"
#include "workers/thread_worker.h"
#include "workers/worker_base.h"
#include "workers/worker_slab.h"

#define TW_SPIN 128 /* empty-queue polls before sleeping */

typedef struct thread_worker {
  weft_worker base;
  _Atomic int refs;
  _Atomic int owner_released; /* WEFT_DEBUG: release exactly once */
  weft__task stop; /* the stop marker (Twisted's _stop), embedded */
  /* weft__fork_generation() when the thread was made: in a child of a later
   * fork the thread does not exist, and do() is refused (tw_do). */
  unsigned long fork_gen;
  weft__slab nodes;
  weft__mpsc q;
  WEFT_CACHE_ALIGNED _Atomic uint32_t sleeping; /* futex word: 1 asleep, 0 awake */
  _Atomic uint64_t sleeps;
  _Atomic uint64_t wakes;
} thread_worker;

typedef struct tw_node {
  weft__task task;
  weft_fn fn;
  void *arg;
} tw_node;

static void tw_free(thread_worker *tw) {
  weft__slab_destroy(&tw->nodes);
  weft__free_aligned(tw);
  weft__object_destroyed();
}

static void tw_unref(thread_worker *tw) {
  /* acq_rel: release publishes this side's last accesses; acquire (for the
   * side that frees) pairs with the other side's release. */
  int old = weft__fetch_sub_acq_rel(&tw->refs, 1);
  weft_assert_internal(old >= 1); /* an extra unref would free a live worker */
  if (old == 1) tw_free(tw);
}

/* After a push: wake the thread if it is (about to be) asleep. */
static void tw_notify(thread_worker *tw) {
  /* [F2] orders our link store (in weft__mpsc_push) before the load of
   * `sleeping`; pairs with the thread's fence [F1] in tw_sleep. */
  weft__fence_seq_cst();
  if (weft__load_relaxed(&tw->sleeping) == 1 &&
      /* acq_rel: one submitter takes the 1; release orders our push before
       * the thread's acquire load of `sleeping` in its wait loop. */
      weft__xchg_acq_rel(&tw->sleeping, 0) == 1) {
    weft__fetch_add_relaxed(&tw->wakes, 1);
    weft__futex_wake(&tw->sleeping, 1);
  }
}

static void tw_sleep(thread_worker *tw) {
  weft__store_relaxed(&tw->sleeping, 1);
  /* [F1] orders the store of 1 before the queue re-check; pairs with [F2]. */
  weft__fence_seq_cst();
  if (weft__mpsc_has_visible(&tw->q)) {
    weft__store_relaxed(&tw->sleeping, 0); /* a racing waker's futex_wake is then spurious */
    return;
  }
  weft__fetch_add_relaxed(&tw->sleeps, 1);
  /* Acquire: pairs with the waker's xchg (release), so the node it pushed is
   * visible to the pop that follows. */
  while (weft__load_acquire(&tw->sleeping) == 1) weft__futex_wait(&tw->sleeping, 1);
}

static void *tw_main(void *arg) {
  thread_worker *tw = arg;
  unsigned idle = 0;
  for (;;) {
    weft__task *t = weft__mpsc_pop(&tw->q);
    if (t == NULL || t == WEFT__MPSC_WOULDBLOCK) {
      if (++idle < TW_SPIN) weft__cpu_relax();
      else {
        tw_sleep(tw);
        idle = 0;
      }
      continue;
    }
    idle = 0;
    if (t == &tw->stop) break;
    tw_node *n = (tw_node *)t;
    weft_fn fn = n->fn;
    void *fa = n->arg;
    weft__slab_put(&tw->nodes, n);
    WEFT_PROBE(start, tw, fa);
    fn(fa);
    WEFT_PROBE(finish, tw, fa);
    /* fn forked and returned in the child: what is queued behind it is
     * the parent's, which runs it; run here too it would run twice. Leave
     * the loop and end, as a pool's thread does (docs/threading-howto.md,
     * "Fork"); the worker's memory stays with the child, as the parent's
     * threads' do. A relaxed load of one word per item. */
    if (WEFT_UNLIKELY(weft__fork_generation() != tw->fork_gen)) return NULL;
  }
  tw_unref(tw);
  return NULL;
}

static int tw_do(weft_worker *w, weft_fn fn, void *arg) {
  thread_worker *tw = (thread_worker *)w;
  /* A child of a fork since the thread was made: no thread of this process
   * would ever pop the node, so the work would be lost without a word.
   * Refused as a pool inherited by the child refuses submits
   * (docs/threading-howto.md, "Fork"); a Team drops the worker and makes
   * a new one. */
  if (WEFT_UNLIKELY(weft__fork_generation() != tw->fork_gen)) return WEFT_EQUIT;
  tw_node *n = weft__slab_get(&tw->nodes);
  if (!n) return WEFT_ENOMEM;
  n->task.run = NULL; /* the thread calls fn directly */
  n->task.cancel = NULL;
  n->fn = fn;
  n->arg = arg;
  weft__mpsc_push(&tw->q, &n->task);
  WEFT_PROBE(submit, tw, arg);
  tw_notify(tw);
  return 0;
}

static int tw_quit(weft_worker *w) {
  thread_worker *tw = (thread_worker *)w;
  /* The thread cannot exit before it pops the marker, so its reference keeps
   * tw alive for this increment; ours keeps it alive through tw_notify,
   * which runs after the marker is visible. Relaxed: no ordering needed to
   * take a reference while another is held. */
  weft__fetch_add_relaxed(&tw->refs, 1);
  weft__mpsc_push(&tw->q, &tw->stop);
  tw_notify(tw);
  tw_unref(tw);
  return 0;
}

static void tw_release(weft_worker *w) {
  thread_worker *tw = (thread_worker *)w;
  /* The thread was detached in create: nothing here may touch its handle
   * (the thread may be gone). Relaxed: a debug check of one caller's bug. */
  int twice = weft__xchg_relaxed(&tw->owner_released, 1);
  weft_assert_internal(twice == 0); /* a second release frees a live worker */
  (void)twice;
  tw_unref(tw);
}

static const weft_worker_ops tw_ops = {tw_do, tw_quit, tw_release};

bool weft__thread_worker_forked(const weft_worker *w) {
  return w->ops == &tw_ops &&
         weft__fork_generation() != ((const thread_worker *)(const void *)w)->fork_gen;
}

WEFT_API int weft_thread_worker_create(weft_worker **out, weft_thread_factory_fn factory,
                                       void *factory_ctx, const char *name) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  thread_worker *tw = weft__calloc_aligned(sizeof *tw);
  if (!tw) return WEFT_ENOMEM;
  weft_worker_init(&tw->base, &tw_ops);
  weft__store_relaxed(&tw->refs, 2); /* owner + thread */
  weft__slab_init(&tw->nodes, sizeof(tw_node));
  weft__mpsc_init(&tw->q);
  weft__store_relaxed(&tw->sleeping, 0);
  weft__store_relaxed(&tw->owner_released, 0);
  weft__store_relaxed(&tw->sleeps, 0);
  weft__store_relaxed(&tw->wakes, 0);
  tw->fork_gen = weft__fork_generation();
  weft__object_created();
  if (!factory) factory = weft_default_thread_factory;
  /* pthread_create (inside the factory) orders all the above before the
   * thread's first instruction. */
  pthread_t thread;
  if (factory(factory_ctx, &thread, tw_main, tw, name ? name : "weft-worker") != 0) {
    tw_free(tw);
    return WEFT_EAGAIN;
  }
  /* The one use of the handle, while the thread provably runs (see the
   * header). EINVAL if the factory detached it already: fine. */
  (void)pthread_detach(thread);
  *out = &tw->base;
  return 0;
}

uint64_t weft__thread_worker_sleeps(weft_worker *w) {
  return weft__load_relaxed(&((thread_worker *)w)->sleeps);
}
uint64_t weft__thread_worker_wakes(weft_worker *w) {
  return weft__load_relaxed(&((thread_worker *)w)->wakes);
}
