/*
 * weft — what threadpool.c needs of a lane (lib/pool/lane.c): the link of
 * the pool's list of its lanes, and freeing one when the pool is destroyed.
 */
#ifndef WEFT_POOL_LANE_IMPL_H
#define WEFT_POOL_LANE_IMPL_H

#include "weft/lane.h"

/* The lane's link in its pool's list (the pool's mutex guards it). */
weft_lane **weft__lane_next(weft_lane *l);
/* Free l: only once no thread can touch it (the pool's threads joined). */
void weft__lane_free(weft_lane *l);
/* weft_threadpool_stop_timeout, once its deadline flag is set and its
 * sweep done: cancel every task that waits in l, owed a slot or not (one
 * behind a task that outlived the deadline would otherwise wait until that
 * task returns). Any thread; if another holds the baton, it does it. */
void weft__lane_sweep(weft_lane *l);
/* In a fork's child (the pool's fork handler, the child's only thread):
 * the tasks waiting in l are the parent's, which runs them; forget them, so
 * that a lane task the forking thread returns from hands nothing off. The
 * statistics keep only the forking thread's own running task of l. */
void weft__lane_fork_child(weft_lane *l);

#endif /* WEFT_POOL_LANE_IMPL_H */
