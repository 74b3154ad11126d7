/*
 * weft — the parking protocol (docs/design.md E5; lib/engine/park.c): the
 * inline notify fast path every publish of work ends with, and the slow
 * paths it falls back to.
 */
#ifndef WEFT_ENGINE_PARK_H
#define WEFT_ENGINE_PARK_H

#include "engine/core.h"

/* E5.1 after the fence and the ctl read, when the fast path cannot decide. */
void weft__engine_notify_slow(weft__engine *e, uint64_t s);
/* E5.2; true: the worker reaped itself after its keep-alive (E9.3). */
bool weft__engine_park(weft__engine *e, weft__eworker *w);
/* Wake w, just popped off the idle stack with `how` (E5.1); false if w had
 * reaped itself (E9.3): the pop unlinked it, and the popper must undo the
 * searching count it claimed for w. */
bool weft__engine_wake_popped(weft__engine *e, weft__eworker *w, uint32_t how);
/* E9.3, the parked worker itself after its keep-alive: 0 if it may leave
 * (it is uncounted and marked TIMEDOUT), else how long to wait before it
 * tries again (at min, exit pacing, or a wake won the race). */
uint64_t weft__engine_try_reap(weft__engine *e, weft__eworker *w, uint64_t now);
void weft__engine_start_searching(weft__engine *e);      /* running → searching */
void weft__engine_stop_searching(weft__engine *e);       /* E5.3 */
void weft__engine_wake_all(weft__engine *e);             /* close: pop every parked worker */
/* E9.3: take the idle stack's entries down to the deepest reaped one off
 * at once, as that many pops: a reaped worker's entry is unlinked (its slot
 * free again), a parked worker woken as a searcher; the entries below stay.
 * Any thread; a grow about to start threads while reaped entries hold the
 * slots it would reuse. */
void weft__engine_unlink_idle(weft__engine *e);
/* Pop one parked worker and wake it with `how`; false if none parked. */
bool weft__engine_wake_one(weft__engine *e, uint32_t how);
/* The pool is saturated, or a creation is backing off: make sure the
 * elastic monitor, if the engine has one, watches it (E9.2). Any thread. */
void weft__engine_arm_monitor(weft__engine *e);
/* A worker of e is live: if the engine has a monitor to start and none
 * runs, start it now, disarmed (it sleeps until a saturation arms it),
 * while a thread can still be made (E9.2: it stays while the pool has
 * threads). A worker calls this when it starts and when it goes idle; one
 * relaxed load when the monitor runs. */
void weft__engine_ensure_monitor(weft__engine *e);
/* Any task visible in the inject queue or a ring (E5.2 re-check). */
bool weft__engine_work_visible(weft__engine *e);


/* E5.1 notify, called after publishing work. The fast path decides the two
 * common cases inline: a searcher is awake (coalesce), or every worker is
 * busy and the pool is at its limit (the first to finish finds the work). */
__attribute__((always_inline)) static inline void weft__engine_notify_decide(weft__engine *e,
                                                                           uint64_t s);
__attribute__((always_inline)) static inline void weft__engine_notify(weft__engine *e) {
  /* E5.4: the engine's only worker keeps a compiler barrier only, which
   * keeps its publish before the load of `sole` in program order; whoever
   * could pair with it (the spawner of a second worker, the monitor's
   * disarm) calls membarrier(2) instead (lib/base/membarrier.h,
   * models/sole.pml). The callers are workers of e publishing work, and
   * threads that leave the searching count or park (stop_searching, park's
   * re-check), which reach this after a seq_cst fence of their own: for
   * them the fence skipped here was never needed. */
  weft__fence_signal();
  if (!weft__load_relaxed(&e->sole))
    /* seq_cst fence: orders the caller's publish (ring tail store, inject
     * link store) before the ctl read below; pairs with the fence after the
     * park CAS in E5.2 and after the fetch_sub in E5.3 (Dekker). */
    weft__fence_seq_cst();
  /* Acquire: pairs with the parker's seq_cst CAS, so its next_idle store is
   * visible to notify_slow when it pops that worker. */
  weft__engine_notify_decide(e, weft__load_acquire(&e->ctl));
}

/* E5.1 after weft__inject_push_chain: its seq_cst exchange is the publish,
 * so no fence; the re-checks look at the tail (weft__inject_maybe_nonempty).
 * models/inject.pml checks this order (notify before the link is visible). */
__attribute__((always_inline)) static inline void weft__engine_notify_after_inject(weft__engine *e) {
  /* seq_cst load: the producer's half of the Dekker, after the seq_cst
   * exchange; pairs with the fences after the park CAS (E5.2) and the
   * searching decrement (E5.3). Acquire as in notify (next_idle). */
  weft__engine_notify_decide(e, weft__load_seq_cst(&e->ctl));
}

__attribute__((always_inline)) static inline void weft__engine_notify_decide(weft__engine *e,
                                                                           uint64_t s) {
  /* Nobody searching and nobody parked (top and searching both 0: one test)
   * is the common case of a busy pool; at its limit, nobody to wake. */
  if ((uint32_t)s == 0) {
    /* seq_cst load (a plain load on x86): the submitter's half of the
     * monitor's disarm Dekker (E9.2): after our publish, either we see the
     * unarmed bias and take the slow path, which arms, or the monitor's
     * re-check after its bias add sees our work. While the monitor is not
     * armed the bias keeps this test false. */
    if (weft__load_relaxed(&e->live) >= weft__load_seq_cst(&e->limit_value)) return;
  } else if ((uint32_t)s <= 0xffffu) {
    /* top == 0 (the low 32 bits are top:16 | searching:16; one compare,
     * where WEFT__CTL_TOP's shift costs gcc a move and a shift): searching,
     * nobody parked. An awake searcher will see the work. */
    return;
  } else if (WEFT__CTL_SEARCHING(s) > 0 && !weft__load_relaxed(&e->long_tasks)) {
    /* Parked workers too: with long tasks one of them is woken as well
     * (E5.1, eager: lib/engine/park.c, searchers_suffice). */
    return;
  }
  weft__engine_notify_slow(e, s);
}

#endif /* WEFT_ENGINE_PARK_H */
