/*
 * weft — the engine's parking protocol (docs/design.md E5): wake a worker
 * only when nobody is awake to take the work.
 *
 * Contract
 *   notify:          any thread, after publishing work (E5.1).
 *   park:            the worker itself, while counted as searching (E5.2).
 *   start/stop_searching: the worker itself (E5.3).
 *   wake_all / wake_one: any thread (close, shrink).
 *   Lock-free: every loop is a CAS on `ctl` that fails only when another
 *   thread changed it. The futex wait is the only blocking step.
 *
 * State: `ctl` = [tag:32 | top:16 | searching:16]. Parked workers form a
 * Treiber stack through `next_idle` (top = 1 + index, 0 = empty); `tag`
 * counts every change of top (ABA guard). A parked worker never leaves the
 * stack by itself: whoever pops it counts it as searching in the same CAS, so
 * the stack and the count cannot disagree.
 * Sources: Go runtime proc.go ("Worker thread parking/unparking": spinning Ms,
 * wakep only when nobody spins, the last spinner wakes the next); Tokio
 * multi_thread/idle.rs (searching count, transition_worker_from_searching).
 * The no-lost-wake-up argument is in design.md E5 and models/park.pml.
 *
 * Why not concurrencykit's ck_stack for the idle stack: the stack is only
 * part of `ctl`. Parking (push + stop searching) and waking (pop + count as
 * searching) must each be one CAS, so that the stack and the count cannot
 * disagree and a notifier's read of `ctl` sees both; ck_stack_pop_mpmc guards
 * ABA with a {pointer, generation} pair (cmpxchg16b) and carries no count,
 * so it would need a second word and a second RMW on every park and wake.
 * Here the whole state is one 64-bit word: top as a 16-bit index, the
 * searching count and the tag beside it. ck_pr's inline-asm atomics would
 * also be invisible to ThreadSanitizer (lib/ring.h). Not a performance
 * choice: there is no ck equivalent to measure.
 */
#include <stdio.h>

#include "debug.h"
#include "engine.h"
#include "futex.h"
#include "probes.h"

static bool may_spawn(weft__engine *e) {
  if (weft__load_relaxed(&e->closed)) return false;
  return weft__load_relaxed(&e->live) < weft__engine_limit(e);
}

/* Wake w after it was popped from the idle stack. */
static void wake_worker(weft__engine *e, weft__eworker *w, uint32_t how) {
  /* Release: pairs with the load_acquire of `wake` in park; the parker sees
   * our pop (and, for an exit request, the live count change) afterwards. */
  weft__store_release(&w->wake, how);
  weft__futex_wake(&w->wake, 1);
  weft__fetch_add_relaxed(&e->unparks, 1); /* statistics */
  WEFT_PROBE(unpark, e, w->index);
}

/* E5.1 notify, after weft__engine_notify's fence and ctl read (s). */
void weft__engine_notify_slow(weft__engine *e, uint64_t s) {
  for (;;) {
    if (WEFT__CTL_SEARCHING(s) > 0) return; /* an awake searcher will see the work */
    uint32_t top = WEFT__CTL_TOP(s);
    if (top == 0) {
      /* E5.1 spawn: nobody parked, nobody searching: every live worker is
       * busy. Twisted: create a worker if below the limit. */
      if (!may_spawn(e)) return; /* the first worker to finish finds the work */
      /* seq_cst CAS: claim the new thread as a searcher (coalesces concurrent
       * notifiers: they now see searching > 0). */
      if (!weft__cas_seq_cst(&e->ctl, &s, s + 1)) continue;
      pthread_mutex_lock(&e->mu);
      int r = weft__engine_spawn_locked(e);
      pthread_mutex_unlock(&e->mu);
      if (r == 0) return;
      /* Undo the claim. A worker that parked meanwhile saw searching > 0 in
       * its re-check and relied on us: if one is parked now, wake it. */
      s = weft__fetch_sub_seq_cst(&e->ctl, 1) - 1; /* seq_cst: as the claim */
      if (WEFT__CTL_SEARCHING(s) > 0 || WEFT__CTL_TOP(s) == 0) return;
      continue;
    }
    /* Invariant: top names an existing slot, never ourselves twice. */
    weft_assert_internal(top <= (uint32_t)e->capacity && e->slots[top - 1] != NULL);
    weft__eworker *w = e->slots[top - 1];
    uint32_t nx = weft__load_relaxed(&w->next_idle);
    /* seq_cst CAS: pop w and count it as searching in one step (E5.1). */
    if (weft__cas_seq_cst(&e->ctl, &s, WEFT__CTL_PACK(WEFT__CTL_TAG(s) + 1, nx, 1))) {
      wake_worker(e, w, WEFT__WAKE_NOTIFIED);
      return;
    }
  }
}

bool weft__engine_wake_one(weft__engine *e, uint32_t how) {
  /* Acquire: as in notify (next_idle of the top worker). */
  uint64_t s = weft__load_acquire(&e->ctl);
  for (;;) {
    uint32_t top = WEFT__CTL_TOP(s);
    if (top == 0) return false;
    /* Invariant: top names an existing slot, never ourselves twice. */
    weft_assert_internal(top <= (uint32_t)e->capacity && e->slots[top - 1] != NULL);
    weft__eworker *w = e->slots[top - 1];
    uint32_t nx = weft__load_relaxed(&w->next_idle);
    /* seq_cst CAS: pop + count as searching, as in E5.1. */
    if (weft__cas_seq_cst(&e->ctl, &s,
                          WEFT__CTL_PACK(WEFT__CTL_TAG(s) + 1, nx, WEFT__CTL_SEARCHING(s) + 1))) {
      wake_worker(e, w, how);
      return true;
    }
  }
}

void weft__engine_wake_all(weft__engine *e) {
  while (weft__engine_wake_one(e, WEFT__WAKE_NOTIFIED)) {
  }
}

void weft__engine_start_searching(weft__engine *e) {
  /* seq_cst: the count must be visible to a notifier's ctl read before our
   * scans (it then skips the wake and relies on us; E5.2 re-checks). */
  weft__fetch_add_seq_cst(&e->ctl, 1);
}

/* E5.3 searching → running (also used by a searcher that exits). */
void weft__engine_stop_searching(weft__engine *e) {
  /* seq_cst RMW: leaves the searching count; pairs with E5.1's fence. */
  uint64_t s = weft__fetch_sub_seq_cst(&e->ctl, 1);
  /* Invariant: only a counted searcher leaves the count (no underflow into top). */
  weft_assert_internal(WEFT__CTL_SEARCHING(s) >= 1);
  if (WEFT__CTL_SEARCHING(s) != 1) return;
  /* seq_cst fence: orders the decrement before the scan (Dekker with E5.1:
   * a notifier that saw our count skipped its wake; we must see its work). */
  weft__fence_seq_cst();
  if (weft__engine_work_visible(e)) weft__engine_notify(e); /* chained wake */
}

/* E5.2 park. Returns once popped by a notifier; the worker is then counted
 * as searching again. */
void weft__engine_park(weft__engine *e, weft__eworker *w) {
  weft__store_relaxed(&w->wake, WEFT__WAKE_ASLEEP); /* published by the CAS below */
  uint64_t s = weft__load_relaxed(&e->ctl);
  uint64_t next;
  do {
    weft__store_relaxed(&w->next_idle, WEFT__CTL_TOP(s));
    next = WEFT__CTL_PACK(WEFT__CTL_TAG(s) + 1, w->index + 1, WEFT__CTL_SEARCHING(s) - 1);
    /* seq_cst CAS: push + stop searching at once; release publishes
     * next_idle and wake = 0 to the notifier that pops us. */
  } while (!weft__cas_seq_cst(&e->ctl, &s, next));
  /* Invariants: we were counted as searching, and did not push ourselves on
   * top of ourselves (a worker is on the idle stack at most once). */
  weft_assert_internal(WEFT__CTL_SEARCHING(s) >= 1 && WEFT__CTL_TOP(s) != w->index + 1);
  /* seq_cst fence: pairs with E5.1's fence (Dekker): either we see the work
   * below, or the notifier sees our push. */
  weft__fence_seq_cst();
  if (weft__load_relaxed(&e->closed)) {
    weft__engine_wake_all(e); /* stop: nobody may sleep (wakes us too) */
  } else if (weft__load_relaxed(&e->shrink_debt) > 0) {
    weft__engine_wake_one(e, WEFT__WAKE_NOTIFIED); /* someone idle must pay it */
  } else if (weft__engine_work_visible(e)) {
    weft__engine_notify(e);
  }
  weft__add_single_writer(&w->parks, 1); /* owner-only counter */
  WEFT_PROBE(park, e, w->index);
  /* Acquire: pairs with wake_worker's store_release. */
  while (weft__load_acquire(&w->wake) == WEFT__WAKE_ASLEEP)
    weft__futex_wait(&w->wake, WEFT__WAKE_ASLEEP);
}
