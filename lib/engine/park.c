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
 * also be invisible to ThreadSanitizer (lib/engine/ring.h). Not a performance
 * choice: there is no ck equivalent to measure.
 */
#include <stdio.h>

#include "base/clock.h"
#include "base/debug.h"
#include "base/futex.h"
#include "base/probes.h"
#include "engine/observer.h"
#include "engine/park.h"
#include "engine/spawn.h"

static bool may_spawn(weft__engine *e) {
  if (weft__load_relaxed(&e->closed)) return false;
  int live = weft__load_relaxed(&e->live);
  int limit = weft__engine_limit(e);
  if (live >= limit) {
    weft__engine_note_refusal(e, live);
    /* Saturated: someone must watch for stalls (E9.2). Not while the pool
     * may run nothing at all (not started, or sized to 0): no worker can
     * be stuck, and a monitor would tick for nothing until a start. */
    if (limit > 0 || live > 0) weft__engine_arm_monitor(e);
    return false;
  }
  if (WEFT_UNLIKELY(weft__engine_spawn_backing_off(e))) {
    weft__engine_arm_monitor(e); /* it retries when the backoff has passed (E9.5) */
    return false;
  }
  return true;
}

/* Wake w after it was popped from the idle stack. False if w had reaped
 * itself (E9.3): it is gone, and our pop has unlinked it instead. */
bool weft__engine_wake_popped(weft__engine *e, weft__eworker *w, uint32_t how) {
  /* acq_rel exchange. Release: pairs with the load_acquire of `wake` in
   * park; the parker sees our pop (and, for an exit request, what the
   * shrinker did) afterwards. Acquire: pairs with the reaper's release CAS
   * to TIMEDOUT, so its linked_exit store is visible before we clear it.
   * Exactly one of the two changes ASLEEP: the parker's CAS or this. */
  uint32_t prev = weft__xchg_acq_rel(&w->wake, how);
  if (WEFT_UNLIKELY(prev == WEFT__WAKE_TIMEDOUT)) {
    /* Release: the slot is off the idle stack before a spawner, which loads
     * linked_exit with acquire, reuses it. */
    weft__store_release(&w->linked_exit, 0);
    return false;
  }
  weft__fetch_sub_relaxed(&e->parked, 1); /* E5.5: awake again (a bound) */
  weft__futex_wake(&w->wake, 1);
  weft__fetch_add_relaxed(&e->unparks, 1); /* statistics */
  WEFT_PROBE(unpark, e, w->index);
  return true;
}

/* E5.1, eager: with searchers awake, a notify wakes nobody (they will see
 * the work), unless the pool's tasks are long, a worker is parked, the
 * pool holds no more threads than its limit (soft, or the limit callback)
 * and the inject queue holds more tasks than there are searchers.
 *
 * Why: a searcher takes one task; a task that arrives while it is still
 * waking (a futex wake-up on another CPU is 50-100 us on the VM) waits for
 * it to take the first and wake the next (E5.3's chain): one wake-up
 * latency per queued task, in series. With ~1 us tasks that is the right
 * trade: the searcher is back for the next task within microseconds, and
 * waking a worker per submit would wake the whole pool for nothing. With
 * long tasks (the workers' batch verdict, > 5 us each) the searcher is
 * gone for the task's length, and the pthread pool's wake per submit is
 * what starts the next task soonest. W14's open loop (Poisson arrivals at
 * 60% of the CPUs, 100 us jobs, docs/performance.md "The open loop") at
 * pool 8, in the same processes: start p50 205-232 us against 318-324 us,
 * p99 0.81-0.82x the pthread pool's against 0.95-0.98x. An extra wake-up
 * is always safe: the woken worker is counted as searching and parks again
 * if it finds nothing (models/ctl.pml lets notify choose either way).
 *
 * Only while the inject queue holds more tasks than there are searchers:
 * a wake for a task a searcher takes anyway finds nothing and parks again,
 * two futex calls and two context switches for nothing. Without this test
 * the HTTP server's scenario (b) (64 threads whose requests sleep 1-5 ms)
 * lost 6-11% of its requests (0.89 and 0.94x the pthread pool's against
 * 1.02-1.03x for the tree before).
 *
 * Not above the limit: threads there stand in for blocked workers (E9),
 * and waking them eagerly runs more tasks into whatever blocks them, which
 * the monitor then reads as more blocking: W12 (tasks that wait for one of
 * 16 permits) at (0,2), where every thread past 2 is a stand-in, took 29-57
 * and 29-39 threads in two runs with the eager wake on above the limit,
 * 29-35 with it off there, as before it (its bound: 42). */
static bool searchers_suffice(weft__engine *e, uint64_t s) {
  if (WEFT__CTL_SEARCHING(s) == 0) return false;
  if (WEFT__CTL_TOP(s) == 0 || !weft__load_relaxed(&e->long_tasks)) return true;
  if (weft__load_relaxed(&e->live) > weft__engine_limit_base(e)) return true;
  /* Only for what the searchers cannot take: more tasks in the inject
   * queue than searchers awake (a snapshot; the chain above remains). */
  return weft__inject_backlog(&e->inject) <= WEFT__CTL_SEARCHING(s);
}

/* E5.5: a parked worker is not woken while as many workers are awake as
 * the limit allows (soft + grants): above the limit, a thread stands in for
 * a blocked worker only, and the monitor (E9.2), armed here, judges that
 * as it judges a thread's creation; it then raises the limit and wakes
 * parked workers before it starts any (lib/engine/monitor.c, tick).
 *
 * Why: after a burst, the threads above `soft` stay parked until their
 * keep-alive runs out (E9.3). Under a trickle the loop now and then falls
 * behind and submits a pile of due tasks at once; every notify then woke
 * another parked thread (E5.3's chain: one per queued task), and each
 * woken thread renewed its keep-alive. W10t (a 200-thread burst, then
 * 1 000 tasks/s of 1 ms) kept 6-25 threads in the trickle's last 0.5 s at
 * (0,2) where the bound is 8 (docs/performance.md, "Elastic").
 *
 * Only with a monitor that is armed now: one that could not start leaves
 * the pool as a fixed-cap pool, which wakes whoever is parked. Relaxed
 * counts: a stale read wakes one thread more, or declines one wake more;
 * the monitor's re-check before it disarms wakes a parked worker for work
 * that waits with nobody searching (models/decline.pml). */
static bool surplus_declines(weft__engine *e) {
  if (!e->cfg.monitor_start || !weft__load_relaxed(&e->elastic) || weft__load_relaxed(&e->closed))
    return false;
  int limit = weft__engine_limit(e);
  if (weft__load_relaxed(&e->live) <= limit || weft__engine_awake(e) < limit) return false;
  weft__engine_arm_monitor(e);
  /* Relaxed: 1 after our arm or another's (the monitor's disarm re-checks
   * saturation, E9.2), 0 after a start that failed just now (ours, in this
   * thread) or a disarm since: then wake as before. */
  return weft__load_relaxed(&e->monitor_armed) != 0;
}

/* E5.1 notify, after weft__engine_notify's fence and ctl read (s). */
void weft__engine_notify_slow(weft__engine *e, uint64_t s) {
  for (;;) {
    if (searchers_suffice(e, s)) return;
    uint32_t top = WEFT__CTL_TOP(s);
    if (top == 0) {
      /* E5.1 spawn: nobody parked, nobody searching: every live worker is
       * busy. Twisted: create a worker if below the limit. */
      bool closing = WEFT_UNLIKELY(weft__load_relaxed(&e->closed));
      if (!closing && !may_spawn(e)) {
        /* the first worker to finish finds the work; or a close since the
         * look above refused it: the closed branch, below */
        if (!weft__load_relaxed(&e->closed)) return;
        closing = true;
      }
      if (closing) {
        /* Closed (E7): the workers live at the close run what is queued
         * before they leave, but one told to leave (popped by a shrink, or
         * paying a shrink debt) leaves without looking, while work
         * queued meanwhile relied on it (it was counted as searching);
         * its hand-off here is the only one left when it was the last.
         * Refused, the stop cancelled queued work of a pool that had a
         * thread, and a quit Team's backlog went unrun (test_resize_races
         * debt_paid_during_a_stop_leaves_no_task_behind). So a worker of
         * ours that finds no thread left starts one, as a stand-in is
         * started after the close: it has not been joined, so the stop's
         * next pass joins the new thread too (models/stop_join.pml). Only
         * with live 0 (re-read under the mutex): any other live worker
         * drains the queue, or hands it on the same way if it leaves too;
         * and only where the limit allows a thread, as in the open pool:
         * work queued at a limit of 0 is the stop's to cancel (E7,
         * test_engine backlog_and_cancel). */
        if (!weft__engine_may_spawn_closing(e)) return;
      }
      /* seq_cst CAS: claim the new thread as a searcher (coalesces concurrent
       * notifiers: they now see searching > 0). */
      if (!weft__cas_seq_cst(&e->ctl, &s, s + 1)) continue;
      pthread_mutex_lock(&e->mu);
      /* closed again, under the mutex the close stores it under: a close
       * since the look above refuses the open spawn (spawn_locked), and a
       * worker's hand-off must then take the closed branch. */
      if (weft__load_relaxed(&e->closed)) closing = true;
      int r = !closing ? weft__engine_spawn_locked(e, weft__engine_spawn_reason(e))
              : weft__engine_may_spawn_closing(e)
                  ? weft__engine_spawn_closing_locked(e, weft__engine_spawn_reason(e))
                  : WEFT_EQUIT; /* another thread is live (it drains), or not a worker */
      pthread_mutex_unlock(&e->mu);
      if (r == 0) return;
      weft__engine_log_failures(e); /* outside the mutex */
      /* The creation failed and backs off: the monitor retries it while the
       * work waits (E9.5); after the close there is none, and the stop
       * cancels what no thread ran. */
      if (!closing && (r == WEFT_EAGAIN || r == WEFT_ENOMEM)) weft__engine_arm_monitor(e);
      /* Undo the claim. A worker that parked meanwhile saw searching > 0 in
       * its re-check and relied on us: if one is parked now, wake it. */
      s = weft__fetch_sub_seq_cst(&e->ctl, 1) - 1; /* seq_cst: as the claim */
      if (WEFT__CTL_SEARCHING(s) > 0 || WEFT__CTL_TOP(s) == 0) return;
      continue;
    }
    if (surplus_declines(e)) return; /* E5.5: the monitor decides */
    /* Invariant: top names an existing slot, never ourselves twice. */
    weft_assert_internal(top <= (uint32_t)e->capacity && e->slots[top - 1] != NULL);
    weft__eworker *w = e->slots[top - 1];
    uint32_t nx = weft__load_relaxed(&w->next_idle);
    /* seq_cst CAS: pop w and count it as searching in one step (E5.1; one
     * more searcher: an eager wake may find others awake). */
    if (weft__cas_seq_cst(&e->ctl, &s,
                          WEFT__CTL_PACK(WEFT__CTL_TAG(s) + 1, nx, WEFT__CTL_SEARCHING(s) + 1))) {
      if (weft__engine_wake_popped(e, w, WEFT__WAKE_NOTIFIED)) return;
      /* w had reaped itself: undo our claim and look again (pop the next
       * one, or start a thread: w's exit lowered the live count). */
      s = weft__fetch_sub_seq_cst(&e->ctl, 1) - 1; /* seq_cst: as the claim */
      continue;
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
      if (weft__engine_wake_popped(e, w, how)) return true;
      /* A reaped worker (E9.3): leave the count we claimed for it as any
       * searcher leaves (E5.3 re-checks for work), and pop the next. */
      weft__engine_stop_searching(e);
      s = weft__load_acquire(&e->ctl); /* acquire: as above */
    }
  }
}

void weft__engine_wake_all(weft__engine *e) {
  while (weft__engine_wake_one(e, WEFT__WAKE_NOTIFIED)) {
  }
}

void weft__engine_unlink_idle(weft__engine *e) {
  /* Acquire: as in notify (the next_idle of every entry, each published by
   * its parker's CAS, which our load reads or follows in ctl's order). */
  uint64_t s = weft__load_acquire(&e->ctl);
  uint32_t cut, rest;
  for (;;) {
    if (WEFT__CTL_TOP(s) == 0) return;
    /* Walk to the deepest reaped entry (linked_exit set: a hint, relaxed;
     * each entry taken is handled below whatever it turns out to be): the
     * entries down to it are taken, the ones below stay as they are.
     * Linked entries' next_idle do not change (a parker writes its own
     * before its push), so if ctl is unchanged at the CAS below (its tag
     * counts every push and pop), the walk read the stack it takes; a walk
     * that raced with pushes and pops may have read anything, and is
     * bounded here and then refused by the CAS. */
    uint32_t n = 0;
    cut = 0;
    rest = 0;
    for (uint32_t i = WEFT__CTL_TOP(s); i != 0 && n <= (uint32_t)e->capacity;) {
      weft__eworker *w = e->slots[i - 1];
      i = weft__load_relaxed(&w->next_idle);
      n++;
      if (weft__load_relaxed(&w->linked_exit)) {
        cut = n;
        rest = i;
      }
    }
    if (n > (uint32_t)e->capacity) {
      s = weft__load_acquire(&e->ctl); /* acquire: as above */
      continue;
    }
    if (cut == 0) return; /* no reaped entry */
    if (WEFT__CTL_SEARCHING(s) + cut > 0xffffu) return; /* no room to count them: leave them */
    /* seq_cst CAS: `cut` pops at once, each entry counted as searching, as
     * E5.1's pop counts one (the stack and the count never disagree); like
     * that pop's CAS it pairs with the parker's seq_cst push CAS and the
     * fence after it (E5.2's re-check), and with notify's ctl read. */
    if (weft__cas_seq_cst(&e->ctl, &s,
                          WEFT__CTL_PACK(WEFT__CTL_TAG(s) + 1, rest, WEFT__CTL_SEARCHING(s) + cut)))
      break;
  }
  /* The entries are ours, as a popper's are: wake each as wake_one does.
   * Its link is read first: a woken worker may park again, and a reaped
   * one's slot be reused, either rewriting it. */
  uint32_t i = WEFT__CTL_TOP(s);
  for (uint32_t k = 0; k < cut; k++) {
    weft__eworker *w = e->slots[i - 1];
    i = weft__load_relaxed(&w->next_idle);
    /* A reaped entry, now unlinked: leave the count claimed for it as any
     * searcher leaves (E5.3), as wake_one does. */
    if (!weft__engine_wake_popped(e, w, WEFT__WAKE_NOTIFIED)) weft__engine_stop_searching(e);
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

/* E5.2 park. Returns false once popped by a notifier (the worker is then
 * counted as searching again), true if it reaped itself after its
 * keep-alive (E9.3: it must leave now, uncounted and still linked). */
bool weft__engine_park(weft__engine *e, weft__eworker *w) {
  /* Still counted searching: a notifier now wakes nobody (E5.1), and only
   * the re-check after the push below finds its task (test_engine
   * parker_sees_a_task_submitted_while_it_searched holds us here). */
  weft__observe(WEFT__EVENT_PARKING);
  weft__store_relaxed(&w->wake, WEFT__WAKE_ASLEEP); /* published by the CAS below */
  /* E5.5: counted parked before the push, so before the fence and re-check
   * below: a notifier that finds no work-taker awake either sees this count
   * or its work is seen by our re-check. */
  weft__fetch_add_relaxed(&e->parked, 1);
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
  weft__observe(WEFT__EVENT_PARKED);
  uint64_t keep_alive = weft__load_relaxed(&e->keep_alive_ns);
  if (keep_alive == 0) {
    /* Acquire: pairs with the popper's exchange (wake_popped's, or
     * shrink_to's WAKE_EXIT in engine.c). */
    while (weft__load_acquire(&w->wake) == WEFT__WAKE_ASLEEP)
      weft__futex_wait(&w->wake, WEFT__WAKE_ASLEEP);
    return false;
  }
  /* E9.3: wait at most the keep-alive, then try to leave for good. */
  uint64_t deadline = weft__now_ns() + keep_alive;
  for (;;) {
    /* Acquire: pairs with the popper's exchange (wake_popped's, or
     * shrink_to's WAKE_EXIT in engine.c). */
    if (weft__load_acquire(&w->wake) != WEFT__WAKE_ASLEEP) return false;
    if (weft__futex_wait_until(&w->wake, WEFT__WAKE_ASLEEP, deadline) != ETIMEDOUT) continue;
    uint64_t now = weft__now_ns();
    uint64_t again = weft__engine_try_reap(e, w, now);
    if (again == 0) return true;
    deadline = now + again;
  }
}

bool weft__engine_work_visible(weft__engine *e) {
  /* A push between its exchange and its link counts (E5.1, E2). */
  if (weft__inject_maybe_nonempty(&e->inject)) return true;
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  for (uint32_t i = 0; i < hw; i++) {
    weft__eworker *w = e->slots[i];
    if (w && !weft__ring_empty(&w->ring)) return true;
  }
  return false;
}

/* E9.3: a parked worker whose keep-alive ran out leaves, unless the pool is
 * at its min, or this 100 ms window has had its share of exits (pacing:
 * max(8, half the surplus), so 200 idle threads go in about half a second
 * and never in one burst; a quarter left 20 of 177 a second after the
 * keep-alive under a trickle). */
#define WEFT__REAP_WINDOW_NS 100000000u
uint64_t weft__engine_try_reap(weft__engine *e, weft__eworker *w, uint64_t now) {
  int min = weft__load_relaxed(&e->min_live);
  int live = weft__load_relaxed(&e->live);
  uint64_t keep_alive = weft__load_relaxed(&e->keep_alive_ns);
  uint64_t stay = keep_alive ? keep_alive : 1000000000u; /* 0 would read as reaped */
  if (live <= min || weft__load_relaxed(&e->closed)) return stay;
  /* Pacing: relaxed, a counter per window; a race lets a few more exits
   * through one window, never fewer. */
  uint64_t win = weft__load_relaxed(&e->reap_window_ns);
  if (now - win >= WEFT__REAP_WINDOW_NS && weft__cas_relaxed(&e->reap_window_ns, &win, now))
    weft__store_relaxed(&e->reap_window_n, 0);
  int allowed = (live - min) / 2;
  if (allowed < 8) allowed = 8;
  if (weft__fetch_add_relaxed(&e->reap_window_n, 1) >= allowed) {
    uint64_t start = weft__load_relaxed(&e->reap_window_ns);
    uint64_t wait = start + WEFT__REAP_WINDOW_NS > now ? start + WEFT__REAP_WINDOW_NS - now : 1000000u;
    return wait + (w->index % 8) * 1000000u; /* spread the retries over 8 ms */
  }
  /* Reserve our exit against min, under the engine mutex: spawn_locked
   * counts a new thread in `live` before its factory runs and uncounts it
   * if the factory fails, all under the mutex, so a reservation made
   * outside it could count on a creation that then fails and leave the
   * pool below min. Reaps are rare and paced; the mutex is the creation's.
   * Relaxed CAS: the live count is a count. The undo below stays under
   * the mutex too: a spawner checks `live` against the valve under it and
   * must not start a thread on our reservation if a notifier's wake then
   * makes us give it back (the pool would pass the valve by one). */
  pthread_mutex_lock(&e->mu);
  /* min again, under the mutex: the one read above may be from before an
   * adjust_poolsize that raised it and then found the threads it wanted
   * (this one among them) already there; it stores min under the mutex
   * (weft__engine_set_min) and reads `live` after, so either it sees our
   * exit and starts a thread for it, or we see its min and stay. */
  min = weft__load_relaxed(&e->min_live);
  live = weft__load_relaxed(&e->live);
  /* `live` still counts the busy workers that will pay a shrink debt
   * (they pay under this mutex): they are as good as gone, so the floor is
   * min above what stays. Reserving against `live > min` alone, a reap and
   * the payers together took the pool below min
   * (models/resize_bounds.pml -DMUTANT_REAP_IGNORES_DEBT). */
  int owed = weft__load_relaxed(&e->shrink_debt);
  if (owed < 0) owed = 0;
  bool reserved = false;
  while (live - owed > min && !(reserved = weft__cas_relaxed(&e->live, &live, live - 1))) {
  }
  if (!reserved) {
    pthread_mutex_unlock(&e->mu);
    return stay;
  }
  weft__store_relaxed(&w->linked_exit, 1);
  /* acq_rel CAS: ASLEEP → TIMEDOUT, the one change of `wake` that is ours.
   * Release: publishes linked_exit = 1 to the popper whose exchange reads
   * TIMEDOUT (it clears it after unlinking us). Acquire: if a notifier won,
   * its pop and wake happen before our return as a woken searcher. */
  uint32_t asleep = WEFT__WAKE_ASLEEP;
  if (!weft__cas_acq_rel(&w->wake, &asleep, WEFT__WAKE_TIMEDOUT)) {
    weft__store_relaxed(&w->linked_exit, 0); /* nobody unlinks us: we were woken */
    weft__fetch_add_relaxed(&e->live, 1);
    pthread_mutex_unlock(&e->mu);
    return 1; /* the caller sees the wake */
  }
  pthread_mutex_unlock(&e->mu);
  weft__fetch_sub_relaxed(&e->parked, 1); /* E5.5: no longer a parked worker (still linked) */
  weft__store_relaxed(&e->last_reap_ns, now);
  weft__fetch_add_relaxed(&e->left[WEFT__LEFT_KEEPALIVE], 1);
  return 0;
}

/* Not tried: its last start failed and the wait after it has not passed. */
#define MONITOR_LATER 1
#define MONITOR_GAP_MIN_NS 1000000000u   /* 1 s after a failed start ... */
#define MONITOR_GAP_MAX_NS 64000000000u  /* ... doubling to 64 s */

/* Under e->mu: start the monitor unless one runs (WEFT_OK), the engine is
 * closed (WEFT_EQUIT) or a failed start is too recent (MONITOR_LATER). The
 * retry stamp is written here, under the mutex, so that stamps land in the
 * order of the starts: one written after the mutex could follow a later
 * start's, and a stale "failed lately" would then keep arms away from a
 * monitor that runs (or a stale 0 let every thread retry at once). The
 * wait doubles while starts keep failing: a pool in a process that can
 * make no more threads tries (and logs) a few times a minute, not every
 * second for ever. */
static int monitor_start_locked(weft__engine *e) {
  if (weft__load_relaxed(&e->monitor) != NULL) return WEFT_OK;
  if (weft__load_relaxed(&e->closed)) return WEFT_EQUIT;
  uint64_t now = weft__now_ns(), retry = weft__load_relaxed(&e->monitor_retry_ns);
  if (retry != 0 && now < retry) return MONITOR_LATER;
  int r = e->cfg.monitor_start(e);
  if (r == WEFT_OK) {
    e->monitor_retry_gap_ns = 0;
    weft__store_relaxed(&e->monitor_retry_ns, 0);
    return WEFT_OK;
  }
  uint64_t gap = e->monitor_retry_gap_ns;
  gap = gap == 0 ? MONITOR_GAP_MIN_NS : (gap >= MONITOR_GAP_MAX_NS / 2 ? MONITOR_GAP_MAX_NS : 2 * gap);
  e->monitor_retry_gap_ns = gap;
  weft__store_relaxed(&e->monitor_retry_ns, now + gap);
  return r;
}

/* After the mutex: count and report a start that failed. */
static void monitor_start_failed(weft__engine *e, int r) {
  if (r == MONITOR_LATER || r == WEFT_EQUIT) return;
  if (r == WEFT_EAGAIN) weft__fetch_add_relaxed(&e->spawn_failures, 1); /* a creation failed */
  weft__fetch_add_relaxed(r == WEFT_ENOMEM ? &e->unlogged_monitor_nomem : &e->unlogged_monitor, 1);
  /* Outside the mutex; a caller under a lock the hook may take defers it
   * (weft__engine_defer_logs) and logs after its unlock. */
  weft__engine_log_failures(e);
}

void weft__engine_ensure_monitor(weft__engine *e) {
  if (!e->cfg.monitor_start || weft__load_relaxed(&e->closed)) return;
  /* Relaxed: only tested against NULL (re-read under the mutex below). */
  if (weft__load_relaxed(&e->monitor) != NULL) return;
  /* A first look at the retry stamp, without the mutex (re-read under it):
   * while starts fail, idle workers do not queue on the mutex. */
  uint64_t retry = weft__load_relaxed(&e->monitor_retry_ns);
  if (retry != 0 && weft__now_ns() < retry) return;
  /* Started, not armed: it sleeps until a saturation arms it, as one that
   * disarmed does (lib/engine/monitor.c, monitor_main), so a pool whose
   * workers block without saturating it gets no stand-in it did not get
   * before. Under the mutex, as arm's start (one monitor at a time). */
  pthread_mutex_lock(&e->mu);
  int r = monitor_start_locked(e);
  pthread_mutex_unlock(&e->mu);
  if (r != WEFT_OK) monitor_start_failed(e, r);
}

void weft__engine_arm_monitor(weft__engine *e) {
  if (!e->cfg.monitor_start) return;
  /* A first look, as in ensure_monitor (re-read under the mutex). */
  uint64_t retry = weft__load_relaxed(&e->monitor_retry_ns);
  if (WEFT_UNLIKELY(retry != 0) && weft__now_ns() < retry) return; /* its start failed lately */
  int z = 0;
  /* seq_cst CAS: pairs with the monitor's disarm (a seq_cst store, a fence,
   * then its re-check of saturation): either it sees our work or we arm. */
  if (!weft__cas_seq_cst(&e->monitor_armed, &z, 1)) return;
  /* The fast path may now decide "at the limit" by itself (E5.1). seq_cst,
   * like the disarm's add it undoes (lib/engine/monitor.c): the word is one
   * side of the disarm Dekker, whose other side is a submitter's seq_cst
   * load in weft__engine_notify_decide. */
  if (!e->cfg.limit) weft__fetch_sub_seq_cst(&e->limit_value, WEFT__UNARMED_BIAS);
  /* Under the mutex: the monitor leaves by itself after a keep-alive
   * disarmed, and clears e->monitor under it (lib/engine/monitor.c). */
  pthread_mutex_lock(&e->mu);
  int r = monitor_start_locked(e);
  if (r == WEFT_OK) {
    weft__fetch_add_relaxed(&e->monitor_word, 1); /* the futex word changes: no lost wake */
    weft__futex_wake(&e->monitor_word, 1);
  } else {
    /* No monitor for now (no memory, no thread): the pool works as a
     * fixed-cap pool, and a saturation after the retry stamp tries again.
     * seq_cst: puts the bias back, as the disarm does (the same Dekker):
     * saturated submits take the slow path again and retry the arm. Both
     * under the mutex: a monitor that a worker starts meanwhile
     * (ensure_monitor) reads `armed` under it at its start, so it sees our
     * arm either not yet made or wholly undone, never armed with the bias
     * put back after it (which would leave two biases once it disarms). */
    if (!e->cfg.limit) weft__fetch_add_seq_cst(&e->limit_value, WEFT__UNARMED_BIAS);
    weft__store_relaxed(&e->monitor_armed, 0);
  }
  pthread_mutex_unlock(&e->mu);
  if (r != WEFT_OK) monitor_start_failed(e, r);
}
