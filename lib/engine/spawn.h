/*
 * weft — starting and retiring engine threads (lib/engine/spawn.c; E4.1).
 * Contract: spawn_locked under e->mu, by whoever counted the new thread as
 * searching (E5.1 notify, grow); worker_exited by the exiting thread itself
 * (it takes the mutex only briefly, see below); join_slot by the slot's one
 * joiner.
 */
#ifndef WEFT_ENGINE_SPAWN_H
#define WEFT_ENGINE_SPAWN_H

#include <stdint.h>

#include "engine/core.h"

/* Start one thread (under e->mu); the caller has counted it as searching.
 * reason: WEFT__MADE_*. 0, WEFT_EQUIT (closed), WEFT_EAGAIN (at the limit,
 * no slot, or the factory failed: creation then backs off), WEFT_ENOMEM. */
int weft__engine_spawn_locked(weft__engine *e, int reason);
/* The most live threads a spawn may make: the limit, or, for a stand-in
 * for a blocked worker once e is closed (the worker's own or the stop's),
 * the valve alone (the stopping pool's limit is 0, and the blocked worker
 * it stands in for is what the limit would have made room for). Under
 * e->mu, as spawn_locked. */
static inline int weft__engine_spawn_bound(weft__engine *e, bool closing) {
  return closing ? weft__load_relaxed(&e->hard) : weft__engine_limit(e);
}
/* After the close (E7): whether a worker of e, on its way out, starts the
 * one closing thread for work it sees queued (park.c notify_slow's closed
 * branch says why; worker_exited does it too, as its last chance): the
 * caller is a worker of e, no thread is live, and the limit allows one
 * (work queued at a limit of 0 is the stop's to cancel). Read before a
 * claim and again under e->mu, where the answer decides. */
static inline bool weft__engine_may_spawn_closing(weft__engine *e) {
  return weft__engine_in_worker(e) && weft__load_relaxed(&e->live) == 0 &&
         weft__engine_limit(e) > 0;
}
/* The same for a stand-in for a blocked worker once e is closed, before its
 * stop has joined every thread (weft__engine_grow_closing, the stop's
 * stand_in_for_blocked and join_watching; models/stop_join.pml,
 * stop_stand_in.pml): EXITED slots are left to stop's join. reason:
 * WEFT__MADE_BLOCKED (an announced block) or WEFT__MADE_STALL (a wait
 * the stop saw). */
int weft__engine_spawn_closing_locked(weft__engine *e, int reason);
/* Whether fewer than n slots below hw are free for a new thread while some
 * are held by reaped workers' entries still linked in the idle stack
 * (E9.3): weft__engine_unlink_idle frees those. A snapshot, without the
 * mutex (spawn_locked decides under it). Any thread. */
bool weft__engine_slots_held_by_reaped(weft__engine *e, int n);
/* A creation failed recently: no new attempt until its backoff has passed
 * (E9.5). Any thread. */
bool weft__engine_spawn_backing_off(weft__engine *e);
/* The thread exits: mark its slot. Under e->mu it looks (with a factory)
 * whether the factory detached it, and while the pool is open detaches
 * itself and stores JOINED; once closed it stores EXITED after the mutex
 * for stop's join, having first started one closing thread if it sees work
 * queued and no thread live (weft__engine_may_spawn_closing). A spawner
 * that joins an EXITED slot under the mutex never waits for a thread that
 * needs it. */
void weft__engine_worker_exited(weft__engine *e, weft__eworker *w);
/* Join the thread of slot w, read LIVE or EXITED under e->mu by the one
 * joiner the slot has (stop, or a spawner reusing an EXITED slot): wait
 * until it has made its last store to the slot, until deadline_ns at most
 * (the monotonic clock, weft__now_ns; UINT64_MAX: no limit), then
 * pthread_join it unless it is detached (a factory may hand over detached
 * threads). 0, or ETIMEDOUT with the thread still there (join again
 * later). */
int weft__engine_join_slot(weft__eworker *w, uint64_t deadline_ns);
/* Report a failure nobody else can be told of: the config's log hook, or
 * stderr. */
void weft__engine_log(weft__engine *e, int err, const char *what);
/* Report the creation failures weft__engine_spawn_locked counted; call it
 * after releasing e->mu (never under it: the log hook is user code). Does
 * nothing while the calling thread defers logs (below): the failures stay
 * counted for the deferring caller's own call. */
void weft__engine_log_failures(weft__engine *e);
/* Defer (true) or stop deferring (false) this thread's
 * weft__engine_log_failures: around work done under a lock the log hook
 * may take (weft__engine_grow_unlogged). Nests. */
void weft__engine_defer_logs(bool on);

#endif /* WEFT_ENGINE_SPAWN_H */
