/*
 * Observer: a hook the library calls when one of its own threads has done
 * something that no caller-visible event reports and that a test must wait
 * for: a worker has parked (it is on the idle stack and counted in
 * `parks`), or is about to (it found no work and still counts as searching:
 * a test that holds it there submits into E5.2's window, where only the
 * parker's re-check can see the task), the elastic monitor has ended a pass of its loop (a tick, a
 * pass that found the pool unsaturated), or it has disarmed (its grants
 * given back; it sleeps until the next arm), or, disarmed, it has looked
 * at whether to leave after a keep-alive (and stayed or left), or a stop that joins
 * has looked at whether its workers all wait (and started a stand-in or
 * not). Two are a caller's steps, not a pool thread's: a lane submit that
 * found the lane full has counted itself and not yet pushed its task to
 * wait (the window in which a release owes a hand-off with nothing
 * visible), and a shrink that found nobody parked and has not yet added
 * its debt (workers that park now never look at the debt; a
 * ThreadPool's resize calls it under the pool's mutex, so a hook that
 * blocks there holds every other resize, start and stop), and a shrink to
 * a floor that found threads above it and has not yet popped one (a reap
 * meanwhile leaves one fewer above it); a test holds the caller there. One is a Team worker's: it has parked the
 * idle-and-pending step its coordinator refused, after which it must not
 * touch the team (destroy may free it at once); a test destroys the team
 * there.
 * A test that waits for "every thread parked" or "ten monitor ticks"
 * re-reads the statistics at each event instead of polling them with
 * pauses.
 *
 * Internal: the symbol is hidden, so a program cannot set it; tests link
 * the static library. Unset, it costs a load and a branch on the park
 * path, the monitor's, a shrink's, a lane submit's path to its waiting
 * queue and a refused Team step's, never on a task's path (callgrind: the
 * hot path is unchanged).
 *
 * Contract: set and cleared by any thread at any time. The hook runs on the
 * pool's threads (and on the callers above: a stopper, a lane submitter, a
 * shrinker), concurrently with itself, after the event's counters are
 * stored; it must not call into the pool, and it may be called once more
 * after it is cleared (a thread that loaded it before the clear). Events of
 * every engine in the process reach the one hook: a waiter re-reads its own
 * pool's state after each.
 */
#ifndef WEFT_ENGINE_OBSERVER_H
#define WEFT_ENGINE_OBSERVER_H

#include "base/atomic.h"

typedef enum weft__event {
  WEFT__EVENT_PARKED,       /* a worker is on the idle stack, counted */
  WEFT__EVENT_MONITOR_PASS, /* the monitor ended a pass (a tick, an idle pass) */
  WEFT__EVENT_MONITOR_DISARMED, /* the monitor disarmed, its grants given back */
  WEFT__EVENT_STOP_WATCH,   /* a stop that joins looked at its waiting workers */
  WEFT__EVENT_MONITOR_LOOKED, /* a disarmed monitor's keep-alive ran out: it stayed or left */
  WEFT__EVENT_STOP_PASS,    /* a deadline stop's join pass has read its slot count */
  WEFT__EVENT_LANE_COUNTED, /* a lane submit counted past the limit, not yet pushed to wait */
  WEFT__EVENT_SHRINK_OWES,  /* a shrink found nobody parked, its debt not yet added */
  WEFT__EVENT_TEAM_STEP_PARKED, /* a Team worker parked its refused step: its last touch */
  WEFT__EVENT_PARKING,      /* a worker found no work and is about to park, still searching */
  WEFT__EVENT_SHRINK_OVER,  /* a shrink to a floor found threads above it, before its pop */
} weft__event;

typedef void (*weft__observer_fn)(weft__event ev);

extern _Atomic(weft__observer_fn) weft__observer;

/* Acquire: pairs with weft__observer_set's release, so the hook's own state,
 * made before it was set, is seen by the thread that calls it. */
static inline void weft__observe(weft__event ev) {
  weft__observer_fn fn = weft__load_acquire(&weft__observer);
  if (fn) fn(ev);
}

/* Release: publishes what the hook reads (pairs with weft__observe). NULL
 * clears it. */
void weft__observer_set(weft__observer_fn fn);

#endif
