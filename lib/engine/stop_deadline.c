/*
 * weft — stop with a deadline (weft_threadpool_stop_timeout).
 *
 * Contract
 *   weft__engine_stop_deadline: any thread but the engine's own, one stop at
 *   a time (the pool serialises them), concurrently with submits (refused
 *   from the close on) and with the workers.
 *   1. close: submits are refused, idle workers are woken and leave; the
 *      elastic pool's monitor is stopped and joined.
 *   2. Submit windows with tasks for e flush (a closed engine cancels what
 *      they hold) — the same wait as weft__engine_stop.
 *   3. The stopping thread cancels everything queued: the inject queue
 *      (under its try-lock, as weft__engine_stop does) and every worker's
 *      ring (as a thief, into a scratch ring of its own), so work queued
 *      behind a blocked worker's task is cancelled now, not when that task
 *      returns. Nothing new can be queued (closed) but a lane's hand-off
 *      to its own worker, and idle workers do not steal while the sweep
 *      runs (`sweeping`: else one that went idle could steal from a ring
 *      the sweep has not reached and run it). A task a worker takes
 *      before the sweep reaches it (a steal already under way included)
 *      runs (it is then running, or ran): the workers' per-task loop pays
 *      nothing for stop_timeout.
 *   4. Each thread is joined with the deadline as limit, in passes until
 *      one joins nothing (a stand-in may start after a pass went by) or
 *      finds a thread late. A thread neither gone nor busy at the deadline
 *      (woken by the close and on its way out, or one that took a task and
 *      has not yet stored busy) is given the grace below, so every thread
 *      ends up joined or late. All joined: weft__engine_stop finishes (its
 *      E7 pass finds the queues empty and no thread to join).
 *      Some late: they stay as they are (their slot and ring stay valid:
 *      nothing is freed), WEFT_ETIMEDOUT; a later weft__engine_stop (or
 *      destroy) joins them. Their tasks' owners are told as usual when they
 *      end.
 *   Accounting: every accepted task runs (counted in executed when its
 *   thread's run of tasks ends) or is cancelled (cancelled), exactly once;
 *   once every thread is joined, submitted == executed + cancelled.
 *   *running is the number of threads left late, not of tasks: one whose
 *   grace ran out may hold no task, and what late threads run after the
 *   call is in no figure of it: a task that a lane hands to a late thread's
 *   ring after the sweep (and, outside the engine, a lane task whose submit
 *   was between its count and its push during the sweep: its own kick
 *   cancels it, test_lanes), and a stand-in a late thread's task starts after
 *   the last pass read hw, with the task it takes (models/stop_deadline.pml
 *   -DSTRICT_RUNNING shows the interleaving). The later stop joins them all.
 */
#include "engine/stop_deadline.h"

#include <pthread.h>
#include <sched.h>

#include "base/clock.h"
#include "base/fork.h"
#include "engine/engine.h"
#include "engine/observer.h"


/* The skips so far: requests that weft_threadpool_cancel_work() had won,
 * taken by a thread that runs tasks (a worker) and told instead of run
 * (weft__engine_count_skipped, core.h). They are in e->cancelled, but they
 * are the cancel's, not the call's: a worker that reaches one while the
 * call waits for a window (step 2) or for its own join (step 4) tells its
 * owner during the call. Relaxed: statistics, as stats.c reads them; a skip
 * under way when the call reads its baseline or its final count may fall
 * on either side of it (the report is clamped at 0). */
static uint64_t skipped_so_far(weft__engine *e) {
  /* And those a cancelling thread told, the call's sweep among them
   * (won_told, core.h): also the cancel's, not the call's. */
  uint64_t n = weft__load_relaxed(&e->skipped) + weft__load_relaxed(&e->won_told);
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  for (uint32_t i = 0; i < hw; i++) n += weft__load_relaxed(&e->slots[i]->skipped);
  return n;
}

/* Cancel what every worker's ring holds, stealing it (step 3). */
static void cancel_rings(weft__engine *e) {
  weft__ring scratch; /* ours alone (2 KiB of stack) */
  weft__ring_init(&scratch);
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  for (uint32_t i = 0; i < hw; i++) {
    weft__ring *victim = &e->slots[i]->ring;
    while (!weft__ring_empty(victim)) {
      uint32_t n;
      weft__task *t = weft__ring_steal_into(victim, &scratch, &n);
      if (t == NULL) { /* another thief (or the owner) is at it */
        sched_yield();
        continue;
      }
      unsigned long gen = weft__fork_generation();
      weft__engine_cancel_task(e, t);
      /* The scratch ring is ours: in a child that a callback forked, what
       * it still holds is the parent's (as submit_window.c's flush). */
      while (weft__fork_generation() == gen && (t = weft__ring_pop(&scratch)) != NULL)
        weft__engine_cancel_task(e, t);
    }
  }
}

int weft__engine_stop_deadline(weft__engine *e, uint64_t timeout_ns, uint64_t *cancelled,
                               int *running) {
  *cancelled = 0;
  *running = 0;
  if (weft__engine_in_worker(e)) return WEFT_EDEADLK;
  uint64_t deadline = weft__now_ns() + timeout_ns;
  uint64_t before = weft__load_relaxed(&e->cancelled);
  uint64_t skipped_before = skipped_so_far(e);
  (void)weft__engine_close(e); /* WEFT_EQUIT: closed before (a plain stop); fine */
  /* As weft__engine_stop: the monitor may be growing the pool; after close
   * its grows are refused; join it, so nothing starts a thread behind us
   * (a later stop's call finds none). */
  if (e->cfg.monitor_stop) e->cfg.monitor_stop(e);
  /* Step 2, as weft__engine_stop: seq_cst pairs with a window's seq_cst
   * registration (lib/engine/submit_window.c). */
  while (weft__load_seq_cst(&e->windows) != 0) sched_yield();
  weft__engine_cancel_injected(e, false); /* the final stop waits for pushes still linking */
  weft__store_relaxed(&e->sweeping, 1); /* idle workers steal no more (worker_loop.c) */
  cancel_rings(e);
  /* Every ring swept: what a ring holds now was taken before the sweep
   * reached it (a steal under way) or queued since (a lane's hand-off),
   * and runs either way, so idle workers may steal it again: a task that
   * waits for it behind its owner must not hold the final stop (relaxed:
   * a flag the workers poll). */
  weft__store_relaxed(&e->sweeping, 0);
  /* Step 4: join until the deadline (weft__engine_join_slot: a thread a
   * factory handed over detached is waited for, not joined), in passes, as
   * weft__engine_stop joins: after the sweep a thread starts only as a
   * stand-in of a live worker that blocks with work visible (work that
   * reached a ring after the sweep: a lane's hand-off that read the
   * deadline flag before we set it, a steal under way), into a joined slot
   * or a new one, which a pass that has read hw or gone past the slot does
   * not see. So the passes go on, each with the deadline, until one joins
   * nothing (no thread was live during it, none is left to start another)
   * or one finds a thread late. With one pass such a stand-in was joined
   * by weft__engine_stop below, which has no deadline: the call waited for
   * its task (test_elastic stop_timeout_joins_a_late_stand_in;
   * models/stop_join.pml's "one pass" mutant is the same fault). */
  int late = 0, grace_ms = 1000;
  for (bool joined = true; joined && late == 0;) {
    joined = false;
    pthread_mutex_lock(&e->mu);
    uint32_t hw = weft__load_relaxed(&e->hw);
    pthread_mutex_unlock(&e->mu);
    weft__observe(WEFT__EVENT_STOP_PASS);
    for (uint32_t i = 0; i < hw; i++) {
      weft__eworker *w = e->slots[i];
      /* Under the mutex: a worker that blocks after the sweep may start a
       * stand-in into a joined slot (weft__engine_grow_closing), and its
       * state reads LIVE before its thread id is stored; the mutex covers
       * both. */
      pthread_mutex_lock(&e->mu);
      int st = weft__load_acquire(&w->state); /* acquire: pairs with worker_exited */
      pthread_mutex_unlock(&e->mu);
      if (st != WEFT__SLOT_LIVE && st != WEFT__SLOT_EXITED) continue;
      int rc = weft__engine_join_slot(w, deadline);
      /* Not joined and not in a task: a worker the close woke that has not
       * left yet (its way out holds no task: the queues are swept), or one
       * that took a task just before the sweep (a steal under way, a submit
       * still linking when the inject queue was swept) and has not yet set
       * `busy`. Wait a millisecond at a time until it has left or shows
       * busy, so that such a task is reported as running rather than waited
       * for by the stop below. Relaxed: `busy` is the owner's flag, set
       * before it runs a task it took. The call spends a second on this at
       * most, over all its threads and passes (a thread stuck outside a
       * task, in the log hook, is the one that could use it up); a thread
       * neither gone nor busy when it is spent counts as late (the later
       * stop joins it). */
      for (; rc != 0 && !weft__load_relaxed(&w->busy) && grace_ms > 0; grace_ms--) {
        rc = weft__engine_join_slot(w, weft__now_ns() + 1000000u);
      }
      if (rc == 0) {
        pthread_mutex_lock(&e->mu);
        weft__store_relaxed(&w->state, WEFT__SLOT_JOINED);
        pthread_mutex_unlock(&e->mu);
        joined = true;
      } else {
        late++; /* still in a task (or not gone after a second): a later stop joins it */
      }
    }
  }
  int rc = WEFT_OK;
  if (late == 0) {
    (void)weft__engine_stop(e); /* joins the leavers; its E7 pass sweeps */
  } else {
    rc = WEFT_ETIMEDOUT;
  }
  /* The call's cancels: the engine's count during the call, less the
   * skips of requests a won cancel_work had decided (skipped_so_far). */
  uint64_t skipped = skipped_so_far(e) - skipped_before;
  uint64_t all = weft__load_relaxed(&e->cancelled) - before;
  *cancelled = all > skipped ? all - skipped : 0;
  *running = late;
  return rc;
}
