/*
 * weft — a reactor across fork(2) (lib/base/fork.h has the registry).
 *
 * The prepare handler holds block_lock across the fork. In the child:
 *   - the reactor is stopped (state R_STOPPED, stop requested): run,
 *     attach, stop and detach return WEFT_ESTATE, get_thread_pool and
 *     call_in_thread WEFT_ESHUTDOWN; a loop that goes on in the child (fork
 *     inside a reactor callback) leaves at its next iteration and runs its
 *     shutdown sequence there (its shutdown triggers fire in the child);
 *   - the child's copies of the epoll, eventfd and timerfd descriptors are
 *     closed (the parent's stay open: the epoll set and the timerfd are
 *     shared between the two, and nothing the child does may change the
 *     parent's): adding a reader or writer, and drain, return WEFT_ESTATE;
 *   - the completion queue and the pending timed calls are emptied: they
 *     are the parent's, which runs them; a callback that forked and returns
 *     in the child ends the loop's dispatch of its epoll batch, and a
 *     trigger that did ends its firing (reactor_trigger.c). Calls made in the child with
 *     call_from_thread are accepted and run in weft_reactor_destroy, on the
 *     destroying thread, like calls made after any stop;
 *   - threads blocked in blocking_call_from_thread do not exist here: their
 *     records are released (WEFT_ESHUTDOWN) and the list emptied, so that
 *     a Deferred of theirs that fires or dies in the child touches nothing
 *     of the reactor; nor does the reactor's thread, unless it forked: a
 *     drain, a firing of triggers or the dispatch of an epoll batch under
 *     way there ends (drain_depth is reset, the batch forgotten), and so
 *     does a destroy under way on another thread (the child may destroy
 *     its copy); a firing is the forking thread's own when it holds it,
 *     reactor thread or not (a reactor that never ran has none);
 *   - destroy frees everything, and destroys the reactor's pool (a child
 *     copy, freed without joining) without firing the shutdown triggers:
 *     they are the parent's.
 */
#include <stddef.h>
#include <unistd.h>

#include "base/fork.h"
#include "loop/reactor_state.h"

static weft_reactor *reactor_of(weft__fork_hook *h) {
  return (weft_reactor *)(void *)((char *)h - offsetof(weft_reactor, fork_hook));
}

static void prepare(weft__fork_hook *h) { pthread_mutex_lock(&reactor_of(h)->block_lock); }
static void parent(weft__fork_hook *h) { pthread_mutex_unlock(&reactor_of(h)->block_lock); }

static void child(weft__fork_hook *h) {
  weft_reactor *r = reactor_of(h);
  pthread_mutex_unlock(&r->block_lock);
  /* The child's only thread: relaxed stores, nobody else to see them. */
  weft__store_relaxed(&r->forked, 1);
  weft__store_relaxed(&r->state, R_STOPPED);
  weft__store_relaxed(&r->stop_requested, 1);
  weft__mpsc_init(&r->queue);
  weft__store_relaxed(&r->sleeping, 0); /* a push never writes the (closed) eventfd */
  weft__store_relaxed(&r->pushers, 0);
  /* A drain or a firing of triggers under way on another thread of the
   * parent (the reactor's own) has no thread here to end it: the child's
   * destroy would answer WEFT_EBUSY for ever. On the thread that holds
   * them (a fork inside a callback) the depth is ours, and unwinds as we
   * return: the reactor's thread, or, for a firing, the thread that fires
   * (a reactor that never ran has no reactor thread: zeroed there, the
   * firing's end took the counts below zero, and the child's next firing
   * let a trigger's destroy free r under it). */
  int ours = weft__load_relaxed(&r->drain_depth) > 0
                 ? pthread_equal(r->depth_thread, pthread_self()) != 0
                 : weft_reactor_is_in_io_thread(r);
  /* So does a destroy under way on another thread (registered still: it
   * has freed nothing): the child's copy is its own to destroy. */
  if (r->destroying && !pthread_equal(r->destroy_thread, pthread_self())) r->destroying = 0;
  if (!ours) {
    weft__store_relaxed(&r->drain_depth, 0);
    r->in_drain = 0;
    r->drain_cut = 0;
    r->triggers_firing = 0; /* its tombstones go at the next firing's end */
    r->event_firing[0] = r->event_firing[1] = 0;
    /* So does an epoll batch under dispatch there: an array on that
     * thread's stack, which the child may unmap or reuse. A reader removed
     * here blanked its entries through this pointer (test_fork
     * fork_while_a_reader_runs: SIGSEGV). */
    r->io_batch = NULL;
    r->io_batch_n = 0;
  }
  /* No thread waits in blocking_call_from_thread here, but each waiter's
   * record is copied, and the Deferred its call returned may fire or die
   * in the child, after a destroy too: released (finished, WEFT_ESHUTDOWN;
   * its futex wake finds nobody), its finish touches nothing of r
   * (threads.c). Emptying the list instead left them unfinished: a finish
   * unlinked itself from the (maybe freed) reactor. The lock was taken by
   * prepare across the fork, so the list is whole. */
  weft__reactor_release_blocked(r);
  /* Pending timed calls are the parent's too (a loop that goes on after a
   * fork inside a callback must not run them here). */
  weft__timers_forget_all(r);
  if (r->epfd >= 0) close(r->epfd);
  if (r->evfd >= 0) close(r->evfd);
  /* The timerfd is the same open file in both processes: a child that set
   * it would move or cancel the parent's attached timer. */
  if (r->tfd >= 0) close(r->tfd);
  r->epfd = r->evfd = r->tfd = -1;
}

int weft__reactor_fork_register(weft_reactor *r) {
  r->fork_hook.rank = WEFT__FORK_RANK_REACTOR;
  r->fork_hook.prepare = prepare;
  r->fork_hook.parent = parent;
  r->fork_hook.child = child;
  return weft__fork_register(&r->fork_hook);
}

void weft__reactor_fork_unregister(weft_reactor *r) { weft__fork_unregister(&r->fork_hook); }

void weft__reactor_fork_release_pool(weft_reactor *r) {
  if (!weft__load_relaxed(&r->forked) || r->pool == NULL) return;
  weft_threadpool *tp = r->pool;
  r->pool = NULL;
  (void)weft_threadpool_destroy(tp); /* the child's copy: nothing to join */
}
