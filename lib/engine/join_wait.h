/*
 * weft — a worker that waits for another thread, and that thread joining
 * the worker's engine (lib/engine/join_wait.c).
 *
 * A pool task in weft_blocking_call_from_thread() waits for the reactor's
 * thread; a weft_threadpool_stop() (or destroy) of that pool on the
 * reactor's thread, from one of its callbacks, joins the task's thread: each
 * would wait for the other for ever (Twisted hangs the same way). Every
 * such wait of a worker registers here, with a question (waits_for) rather
 * than a thread: the reactor may have no thread yet when the wait begins
 * (a task that waits before weft_reactor_run), and learns it later. The
 * join tells the waiters that wait for the joining thread to give up
 * (WEFT_EDEADLK), and a waiter that comes while such a join is under way
 * gives up at once.
 *
 * Contract
 *   weft__engine_join_wait_begin / _end: on one of e's workers (the waiter),
 *     in pairs; at most one wait per worker at a time.
 *   weft__engine_join_begin / _end: the thread that is about to join e's
 *     workers (weft_threadpool_stop, and stop_timeout: with its deadline),
 *     in pairs, one such join of e at a time (the pool serialises its
 *     stops).
 *   Both under e->mu, which orders a wait's registration against a join's
 *   start: either the join sees the waiter, or the waiter sees the join.
 */
#ifndef WEFT_ENGINE_JOIN_WAIT_H
#define WEFT_ENGINE_JOIN_WAIT_H

#include <pthread.h>
#include <stdbool.h>

struct weft__engine;

typedef struct weft__join_waiter {
  struct weft__join_waiter *next, *prev; /* e's waiters, under e->mu */
  bool linked;                           /* under e->mu */
  /* Whether the worker waits for thread t. Asked under e->mu: by the
   * registration, on the worker, with t = e->joiner while a join is under
   * way (w->linked false: the waiter may consult what its wait holds
   * alive); by a join, on the joining thread, with t = that thread, for
   * each registered w (w->linked true: w's wait may have been ended by
   * then, and what it waited on be gone). The thread waited for need not
   * be known when the wait begins (a reactor that has not run yet has no
   * thread): the answer may turn from false to true, once; it must be true
   * at a join by t, and at a registration during it, if t became the thread
   * waited for before it began the join. Must not take e->mu. */
  bool (*waits_for)(struct weft__join_waiter *w, pthread_t t);
  /* A join of the engine by a thread w waits for began: end the wait (it
   * would never end). Called under e->mu, on that thread, before
   * weft__engine_join_wait_end. */
  void (*release)(struct weft__join_waiter *w);
} weft__join_waiter;

/* Register w, a wait of the calling worker of e (w->waits_for and
 * w->release set). Under e->mu, enter(ctx, joining) starts the wait and
 * returns 0, or refuses it (non-zero); `joining` says that a thread w
 * waits for is joining e now: enter must then
 * refuse, with WEFT_EDEADLK or a refusal of its own that comes first. enter
 * must not take e->mu. w is registered if enter returned 0; returns enter's
 * result. */
int weft__engine_join_wait_begin(struct weft__engine *e, weft__join_waiter *w,
                                 int (*enter)(void *ctx, bool joining), void *ctx);
/* The wait is over (whoever ended it): unregister w. */
void weft__engine_join_wait_end(struct weft__engine *e, weft__join_waiter *w);

/* The calling thread begins to join e's workers: the waits for it end now
 * (their release), and later ones are refused, until weft__engine_join_end. */
void weft__engine_join_begin(struct weft__engine *e);
void weft__engine_join_end(struct weft__engine *e);

/* In a child of fork (its only thread, from the engine's child handler):
 * the waiters were other threads, which do not exist here. */
void weft__engine_join_fork_child(struct weft__engine *e);

#endif /* WEFT_ENGINE_JOIN_WAIT_H */
