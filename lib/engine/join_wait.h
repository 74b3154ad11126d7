/*
 * weft — a worker that waits for another thread, and that thread joining
 * the worker's engine (lib/engine/join_wait.c).
 *
 * A pool task in weft_blocking_call_from_thread() waits for the reactor's
 * thread; a weft_threadpool_stop() (or destroy) of that pool on the
 * reactor's thread, from one of its callbacks, joins the task's thread: each
 * would wait for the other for ever (Twisted hangs the same way). The
 * waiter registers here, naming the thread it waits for; the join tells the
 * waiters that wait for the joining thread to give up (WEFT_EDEADLK), and a
 * waiter that comes while such a join is under way gives up at once.
 *
 * Contract
 *   weft__engine_join_wait_begin / _end: on one of e's workers (the waiter),
 *     in pairs; at most one wait per worker at a time.
 *   weft__engine_join_begin / _end: the thread that is about to join e's
 *     workers without a deadline (weft_threadpool_stop), in pairs, one such
 *     join of e at a time (the pool serialises its stops).
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
  pthread_t on;                          /* the thread the worker waits for */
  /* A join of the engine by `on` began: end the wait (it would never end).
   * Called under e->mu, on `on`, before weft__engine_join_wait_end. */
  void (*release)(struct weft__join_waiter *w);
} weft__join_waiter;

/* Register w, a wait of the calling worker of e for thread w->on. Under
 * e->mu, enter(ctx, joining) starts the wait and returns 0, or refuses it
 * (non-zero); `joining` says that w->on is joining e now: enter must then
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
