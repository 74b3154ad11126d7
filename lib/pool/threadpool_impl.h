/*
 * weft — what the pool layer's other files need of a weft_threadpool: its
 * engine, its log hook, its list of lanes. struct weft_threadpool itself
 * stays private to threadpool.c.
 */
#ifndef WEFT_POOL_THREADPOOL_IMPL_H
#define WEFT_POOL_THREADPOOL_IMPL_H

#include "engine/engine.h"
#include "weft/threadpool.h"

/* The engine under tp (never NULL for a created pool). */
weft__engine *weft__threadpool_engine(const weft_threadpool *tp);

/* tp is a fork child's copy of a parent's pool (its requests are the
 * parent's: no after_cb comes for them here). */
bool weft__threadpool_fork_copy(const weft_threadpool *tp);

/* The request whose after_cb the calling thread runs to tell it that a
 * cancel took it (a worker's skip), or NULL. */
weft_work *weft__threadpool_telling(void);

/* Report err to tp's log hook (stderr without one). */
void weft__threadpool_log(weft_threadpool *tp, int err, const char *what);

/* A submit that found no memory for what it queues: WEFT_EQUIT once the
 * pool is stopped (the answer it would have had with memory: the memory
 * is taken before the engine looks), else WEFT_ENOMEM. */
int weft__threadpool_no_memory(weft_threadpool *tp);

/* 1 once weft_threadpool_stop_timeout began: queued work is cancelled, not
 * run (a relaxed read: a hand-off that misses it runs its task). */
int weft__threadpool_deadline_stop(const weft_threadpool *tp);

/* A lane task tp refused at its hand-off is being cancelled (lane.c). */
void weft__threadpool_count_lane_refused(weft_threadpool *tp);

/* Cancel lane task t (WEFT_ECANCELED to its owner, outside this thread's
 * context) so that a weft_threadpool_destroy(tp) from its callback answers
 * WEFT_EDEADLK: the lane call that cancels it still uses the lane. */
void weft__threadpool_cancel_lane_task(weft_threadpool *tp, weft__task *t);

/* Link lane l into tp (lib/pool/lane.c): weft_threadpool_destroy frees it.
 * 0, or WEFT_EQUIT once tp was stopped (l not linked). */
struct weft_lane;
int weft__threadpool_add_lane(weft_threadpool *tp, struct weft_lane *l);

#endif /* WEFT_POOL_THREADPOOL_IMPL_H */
