/*
 * weft — waits for a thread that joins the waiter's engine
 * (lib/engine/join_wait.h has the contract).
 */
#include "engine/join_wait.h"

#include "engine/core.h"
#include "weft/common.h"

int weft__engine_join_wait_begin(weft__engine *e, weft__join_waiter *w,
                                 int (*enter)(void *ctx, bool joining), void *ctx) {
  w->linked = false;
  pthread_mutex_lock(&e->mu);
  bool joining = e->joining && w->waits_for(w, e->joiner);
  /* Under the mutex: a join that starts after this sees w (or w's wait
   * never began). */
  int r = enter(ctx, joining);
  if (joining && r == 0) r = WEFT_EDEADLK; /* enter's contract; never started */
  if (r == 0) {
    w->prev = NULL;
    w->next = e->join_waiters;
    if (w->next) w->next->prev = w;
    e->join_waiters = w;
    w->linked = true;
  }
  pthread_mutex_unlock(&e->mu);
  return r;
}

static void unlink_waiter(weft__engine *e, weft__join_waiter *w) {
  if (w->prev) w->prev->next = w->next;
  else e->join_waiters = w->next;
  if (w->next) w->next->prev = w->prev;
  w->next = w->prev = NULL;
  w->linked = false;
}

void weft__engine_join_wait_end(weft__engine *e, weft__join_waiter *w) {
  pthread_mutex_lock(&e->mu);
  if (w->linked) unlink_waiter(e, w);
  pthread_mutex_unlock(&e->mu);
}

void weft__engine_join_begin(weft__engine *e) {
  pthread_t self = pthread_self();
  pthread_mutex_lock(&e->mu);
  e->joiner = self;
  e->joining = true;
  for (weft__join_waiter *w = e->join_waiters, *next; w; w = next) {
    next = w->next;
    if (!w->waits_for(w, self)) continue;
    unlink_waiter(e, w); /* the waiter's end finds it gone */
    w->release(w);
  }
  pthread_mutex_unlock(&e->mu);
}

void weft__engine_join_end(weft__engine *e) {
  pthread_mutex_lock(&e->mu);
  e->joining = false;
  pthread_mutex_unlock(&e->mu);
}

void weft__engine_join_fork_child(weft__engine *e) {
  e->join_waiters = NULL;
  /* A join by the forking thread (a cancel callback of its stop forked)
   * goes on here and ends it; another thread's never will. */
  if (e->joining && !pthread_equal(e->joiner, pthread_self())) e->joining = false;
}
