/*
 * weft — engine lifecycle, submission, thread control and statistics
 * (docs/design.md E2, E4, E7). The contract is in lib/engine/engine.h.
 */
#include "engine/engine.h"

#include "engine/affinity.h"
#include "engine/context.h"
#include "engine/engine_fork.h"
#include "engine/observer.h"
#include "engine/worker_loop.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/cpu.h"
#include "base/fork.h"
#include "base/futex.h"
#include "base/membarrier.h"
#include "base/probes.h"
#include "base/proc_thread.h"

void weft__engine_set_limit(weft__engine *e, int limit) {
  /* Under the mutex, where a spawner checks the limit and counts its new
   * thread in `live` (spawn_locked): a caller that reads `live` after this
   * (adjust_poolsize, to shrink to the new max) sees every thread started
   * against the old limit, and a spawn after it sees the new one. */
  pthread_mutex_lock(&e->mu);
  int old = weft__xchg_relaxed(&e->soft, limit);
  /* An add, not a store: grants change the same word concurrently (E9);
   * a callback engine keeps INT_MAX here (see core.h). */
  if (!e->cfg.limit) weft__fetch_add_relaxed(&e->limit_value, limit - old);
  pthread_mutex_unlock(&e->mu);
}

void weft__engine_set_elastic(weft__engine *e, const weft__elastic_config *c) {
  weft__store_relaxed(&e->elastic, c->elastic ? 1 : 0);
  int hard = c->hard > 0 ? c->hard : e->capacity;
  weft__store_relaxed(&e->hard, hard < e->capacity ? hard : e->capacity);
  weft__store_relaxed(&e->min_live, c->min_live > 0 ? c->min_live : 0);
  weft__store_relaxed(&e->keep_alive_ns, c->keep_alive_ns);
  weft__store_relaxed(&e->trim_heap, c->trim_heap ? 1 : 0);
}

void weft__engine_set_min(weft__engine *e, int min_live) {
  /* Under the mutex, where try_reap reads it with `live` to reserve an
   * exit: a caller that reads `live` after this (adjust_poolsize, to start
   * the threads min wants) sees every exit reserved against the old min. */
  pthread_mutex_lock(&e->mu);
  weft__store_relaxed(&e->min_live, min_live > 0 ? min_live : 0);
  pthread_mutex_unlock(&e->mu);
}

void weft__engine_forgive_debt(weft__engine *e, int floor) {
  /* Under the mutex, as the payers pay (debt and live together); shrinkers
   * add without it, hence the CAS. No look at the debt before the lock: a
   * payer between its debt CAS and its `live -= 1` (both under the mutex)
   * would be seen neither owing nor gone, and the resize would start no
   * thread for it (models/resize_bounds.pml -DMUTANT_FORGIVE_LOOKS_FIRST).
   * adjust_poolsize is rare; the mutex is cheap there. */
  pthread_mutex_lock(&e->mu);
  int debt = weft__load_relaxed(&e->shrink_debt);
  for (;;) {
    int spare = weft__load_relaxed(&e->live) - floor; /* threads that may still leave */
    int cut = debt - (spare > 0 ? spare : 0);
    if (cut <= 0 || weft__cas_relaxed(&e->shrink_debt, &debt, debt - cut)) break;
  }
  pthread_mutex_unlock(&e->mu);
}

int weft__engine_create(weft__engine **out, const weft__engine_config *cfg) {
  if (!out || !cfg || cfg->capacity <= 0 || cfg->capacity > 0xfffe)
    return WEFT_EINVAL;
  weft__engine *e = weft__calloc_aligned(sizeof *e);
  if (!e) return WEFT_ENOMEM;
  e->slots = weft__calloc((size_t)cfg->capacity, sizeof *e->slots);
  e->prefix = weft__strdup(cfg->name_prefix ? cfg->name_prefix : "weft");
  if (!e->slots || !e->prefix || pthread_mutex_init(&e->mu, NULL) != 0) {
    weft__free(e->slots);
    weft__free(e->prefix);
    weft__free_aligned(e);
    return WEFT_ENOMEM;
  }
  if (pthread_mutex_init(&e->shrink_mu, NULL) != 0) {
    pthread_mutex_destroy(&e->mu);
    weft__free(e->slots);
    weft__free(e->prefix);
    weft__free_aligned(e);
    return WEFT_ENOMEM;
  }
  e->cfg = *cfg;
  e->cfg.name_prefix = e->prefix;
  e->capacity = cfg->capacity;
  /* The CPUs the pool's workers run on: the process's, or its pinning
   * plan's if fewer (a SET or a list; NONE's plan is the creator's mask).
   * They decide how many workers run at once: the inject batch's share,
   * the yield between long tasks (more live workers than these CPUs), the
   * monitor's pace and the blocking burst. With the process's count a pool
   * of 4 pinned to 2 of 16 CPUs never yielded, and its long tasks were
   * preempted mid-task (docs/performance.md, "Yielding between long
   * tasks"). */
  e->ncpu = weft__cpu_count();
  if (cfg->affinity && cfg->affinity->n > 0 && cfg->affinity->n < e->ncpu)
    e->ncpu = cfg->affinity->n;
  weft__prefetch_init();
  e->prefetchw = weft__cpu_has_prefetchw;
  weft__inject_init(&e->inject);
  weft__store_relaxed(&e->ctl, 0);
  weft__store_relaxed(&e->long_tasks, 0);
  weft__store_relaxed(&e->sole, weft__membarrier_ready()); /* E5.4 */
  /* With a limit callback the inline notify fast path must never decide "at
   * the limit" from this word: INT_MAX sends it to notify_slow, which asks
   * the callback. */
  weft__store_relaxed(&e->limit_value,
                      cfg->limit ? INT_MAX : (cfg->monitor_start ? WEFT__UNARMED_BIAS : 0));
  /* Until the pool layer says otherwise (set_elastic): a fixed-cap engine
   * whose valve is its slot count and whose idle threads never exit. */
  weft__store_relaxed(&e->hard, e->capacity);
  /* No monitor to arm: the saturated submit path's test says "armed". */
  weft__store_relaxed(&e->monitor_armed, cfg->monitor_start ? 0 : 1);
  e->thread_main = weft__engine_worker_main;
  if (weft__engine_fork_register(e) != 0) { /* fork handlers could not be installed */
    pthread_mutex_destroy(&e->shrink_mu);
    pthread_mutex_destroy(&e->mu);
    weft__free(e->slots);
    weft__free(e->prefix);
    weft__free_aligned(e);
    return WEFT_ENOMEM;
  }
  weft__object_created();
  *out = e;
  return WEFT_OK;
}

static int grow(weft__engine *e, int n, int reason, bool closing, bool log) {
  if (n <= 0) return 0;
  /* A reaped worker's entry stays linked in the idle stack until a pop
   * finds it, and holds its slot until then (E9.3). A notify pops every
   * entry before it starts a thread; a grow pops none, so each thread it
   * started took a new slot while reaped entries held the old ones: a pool
   * that never had more than one thread at once used one more slot (2.4
   * KiB, kept until destroy) per start_a_worker after a reap, and once all
   * 4096 were used every creation failed (test_elastic
   * grow_reuses_a_reaped_workers_slot). Unlink them first when the free
   * slots would not do (the parked workers above them are woken, search,
   * and park again: an extra wake-up is always safe, E5.1). Outside the
   * mutex: the wakes may notify. After the close every entry was popped
   * (wake_all). */
  if (!closing && weft__engine_slots_held_by_reaped(e, n)) weft__engine_unlink_idle(e);
  pthread_mutex_lock(&e->mu);
  /* After close only a stand-in for a blocked worker starts (the worker's
   * own, weft__engine_grow_closing; the stop's before its joins,
   * stand_in_for_blocked; or the stop's while it joins, join_watching), and
   * only until stop's joins are done (`stopped` is set after them). */
  if (weft__load_relaxed(&e->closed) && (!closing || weft__load_relaxed(&e->stopped))) {
    pthread_mutex_unlock(&e->mu);
    return WEFT_EQUIT;
  }
  int live = weft__load_relaxed(&e->live);
  int room = weft__engine_spawn_bound(e, closing) - live;
  int k = n < room ? n : room;
  if (k <= 0) {
    weft__engine_note_refusal(e, live);
    pthread_mutex_unlock(&e->mu);
    return 0;
  }
  /* Count all k new threads as searching up front: the first one to find
   * work must not see searching == 0 and start a thread of its own while we
   * are still starting the others (Twisted's grow creates exactly k). */
  weft__fetch_add_seq_cst(&e->ctl, (uint64_t)k); /* seq_cst: as start_searching */
  int created = 0, failed = 0;
  for (int i = 0; i < k; i++) {
    if ((closing ? weft__engine_spawn_closing_locked(e, reason) : weft__engine_spawn_locked(e, reason)) == 0)
      created++;
    else failed++;
  }
  pthread_mutex_unlock(&e->mu);
  /* Outside the mutex: E5.3 may notify, and notify may start a thread;
   * the log hook may read the statistics. */
  if (failed > 0 && log) weft__engine_log_failures(e);
  for (int i = 0; i < failed; i++) weft__engine_stop_searching(e);
  if (failed > 0) weft__engine_arm_monitor(e); /* it retries while work waits (E9.5) */
  if (created == 0 && failed > 0) return WEFT_EAGAIN;
  return created;
}

int weft__engine_grow(weft__engine *e, int n, int reason) { return grow(e, n, reason, false, true); }

int weft__engine_grow_unlogged(weft__engine *e, int n, int reason) {
  /* The caller holds a lock the log hook may take (the pool's mutex): a
   * failure the notify after the grow meets (stop_searching → notify_slow,
   * once the back-off has run out) waits in the count for the caller's
   * weft__engine_log_failures too, as the grow's own do. Found by review. */
  weft__engine_defer_logs(true);
  int r = grow(e, n, reason, false, false);
  weft__engine_defer_logs(false);
  return r;
}

int weft__engine_grow_closing(weft__engine *e) {
  weft_assert_internal(weft__engine_in_worker(e)); /* models/stop_join.pml: a live worker */
  return grow(e, 1, WEFT__MADE_BLOCKED, true, true);
}

/*
 * Settling after a resize under grants (docs/design.md E9.3). The flag and
 * every decision on it are under e->mu, with the grants read there too;
 * a grant's return lowers `grants` before it takes the mutex. So either
 * the return's section comes first, and the resize's shrink, whose floor
 * is read under the mutex after the flag's section, already sees the
 * grant gone; or the return sees the flag and shrinks for itself. No
 * count to lose: each shrink goes to the level the grants out then allow.
 * A grant made after the mark (or after the last return's clear) is the
 * floor's to mark: every floor read that counts grants marks in its own
 * section (floor_at_limit_locked).
 */
void weft__engine_settle_after_resize(weft__engine *e) {
  pthread_mutex_lock(&e->mu);
  if (weft__load_relaxed(&e->grants) > 0) e->settling = 1;
  pthread_mutex_unlock(&e->mu);
}

void weft__engine_grants_returned(weft__engine *e) {
  pthread_mutex_lock(&e->mu);
  int settling = e->settling;
  /* The last grant back: this shrink is the last the resize needs. */
  if (settling && weft__load_relaxed(&e->grants) <= 0) e->settling = 0;
  pthread_mutex_unlock(&e->mu);
  if (!settling) return;
  /* The floor is the limit with the grants still out, never below min,
   * read under the mutex by shrink_to (WEFT__FLOOR_AT_LIMIT), where
   * set_limit and set_min store them. A parked thread quits now, else the
   * next one to go idle (debt): often the worker whose block just ended.
   * A failed creation the shrink meets (it pops a reaped worker's entry,
   * hands its searching claim on, and the notify after it may start a
   * thread) is logged after it, as a resize's are (resize_locked): the
   * shrink holds shrink_mu, and the log hook may create a lane, which
   * takes the pool's mutex, held by a resize that waits for shrink_mu
   * (test_resize_races log_hook_not_under_the_shrink_mutex). */
  weft__engine_defer_logs(true);
  (void)weft__engine_shrink_to(e, -1, WEFT__FLOOR_AT_LIMIT);
  weft__engine_defer_logs(false);
  weft__engine_log_failures(e);
}

/* shrink_to's floor for WEFT__FLOOR_AT_LIMIT, under e->mu: the limit with
 * the grants out, and never below min. Only a ThreadPool engine holds
 * threads for a resize (settling): an engine with a limit callback
 * (weft_pool) keeps every thread here rather than call user code under
 * the mutex. A floor that counts grants keeps a thread for each: it marks
 * the engine settling in the same section, with the grants it counted
 * (one load: `grants` changes without the mutex), so that each of their
 * returns shrinks on (weft__engine_grants_returned). The resize's mark
 * before its shrink and the last return's clear are in earlier sections:
 * a grant made after either (a weft_blocking_begin that found a worker
 * parked starts no stand-in) was kept by this floor and went back to a
 * clear flag, and the pool stayed above the new max, for good with
 * keep-alive 0 (models/settle.pml -DBEGIN -DMUTANT_NO_FLOOR_MARK). */
static int floor_at_limit_locked(weft__engine *e) {
  if (e->cfg.limit) return INT_MAX;
  int grants = weft__load_relaxed(&e->grants);
  if (grants > 0) e->settling = 1;
  int f = weft__load_relaxed(&e->soft) + grants;
  int min = weft__load_relaxed(&e->min_live);
  return f > min ? f : min;
}

/* Threads above a shrink's floor, under e->mu: `live` after the debt
 * already owed (its payers pay under the mutex), less the floor. Under the
 * mutex, as try_reap reserves: no creation is in flight (spawn_locked
 * counts one in `live` before its factory runs and uncounts it if that
 * fails), so `live` holds only real threads. */
static int over_floor_locked(weft__engine *e, int floor) {
  int f = floor == WEFT__FLOOR_AT_LIMIT ? floor_at_limit_locked(e) : floor;
  if (f == INT_MAX) return 0;
  return weft__load_relaxed(&e->live) - weft__load_relaxed(&e->shrink_debt) - f;
}

int weft__engine_shrink(weft__engine *e, int n) { return weft__engine_shrink_to(e, n, INT_MIN); }

static int shrink_to_floor(weft__engine *e, int n, int floor);

int weft__engine_shrink_to(weft__engine *e, int n, int floor) {
  if (floor == INT_MIN) return shrink_to_floor(e, n, floor);
  /* A shrink to a floor reads the floor and uncounts threads in separate
   * steps: another at the same time would take the same surplus, and the
   * two together the pool below the floor, below min too
   * (models/settle.pml -DMUTANT_SHRINKS_AT_ONCE). One at a time. */
  pthread_mutex_lock(&e->shrink_mu);
  int r = shrink_to_floor(e, n, floor);
  pthread_mutex_unlock(&e->shrink_mu);
  return r;
}

static int shrink_to_floor(weft__engine *e, int n, int floor) {
  if (weft__load_relaxed(&e->closed)) return WEFT_EQUIT;
  if (n < 0) n = weft__load_relaxed(&e->live);
  for (int i = 0; i < n; i++) {
    /* The floor against threads that left on their own since the caller
     * counted (E9.3 reaps): they are part of its n, so the live count
     * after the debt already owed is what is still above the floor. A
     * reap after this look is caught by the look again at the uncount
     * below. */
    int over = INT_MAX;
    if (floor != INT_MIN) {
      pthread_mutex_lock(&e->mu);
      over = over_floor_locked(e, floor);
      pthread_mutex_unlock(&e->mu);
      if (over > 0) weft__observe(WEFT__EVENT_SHRINK_OVER); /* test_engine holds us here */
    }
    if (over <= 0) break;
    if (n - i > over) n = i + over;
    /* An idle (parked) worker quits now: uncount it before releasing it, so
     * `workers` drops at once as in Twisted's _quitIdlers. The live count can
     * only drop here for a worker we popped, so it cannot go negative. */
    uint64_t s = weft__load_acquire(&e->ctl); /* acquire: next_idle, as in notify */
    bool popped = false;
    while (WEFT__CTL_TOP(s) != 0) {
      weft__eworker *w = e->slots[WEFT__CTL_TOP(s) - 1];
      uint32_t nx = weft__load_relaxed(&w->next_idle);
      /* seq_cst CAS: pop + count as searching, as in E5.1. */
      if (weft__cas_seq_cst(&e->ctl, &s,
                            WEFT__CTL_PACK(WEFT__CTL_TAG(s) + 1, nx, WEFT__CTL_SEARCHING(s) + 1))) {
        /* Uncounted before the exchange that releases it: once the worker
         * sees EXIT it may leave and give back its searching claim at
         * once, and a notifier that then finds nobody searching must not
         * read a live count that still holds it (it would take the pool
         * for full and start nobody: a stranded task). */
        /* Under the mutex, from the uncount to its undo below: a spawner
         * checks `live` against the valve under it, and must not start a
         * thread on the one-low count of a worker that had reaped itself
         * (that would pass the valve by one when we give the count back). */
        pthread_mutex_lock(&e->mu);
        if (floor != INT_MIN && over_floor_locked(e, floor) <= 0) {
          /* The floor again, where the uncount is: since the look above a
           * worker may have reaped itself (it reserves under this mutex),
           * and taking one more would leave the pool below its floor, below
           * min when the floor is min (models/resize_bounds.pml -DFLOOR
           * -DMUTANT_SHRINK_STALE_FLOOR). Our pop is then a notify's: the
           * worker wakes as a searcher and parks again; an entry that had
           * reaped itself is unlinked and its searching claim given back. */
          pthread_mutex_unlock(&e->mu);
          if (!weft__engine_wake_popped(e, w, WEFT__WAKE_NOTIFIED)) weft__engine_stop_searching(e);
          return WEFT_OK;
        }
        weft__fetch_sub_relaxed(&e->live, 1);
        weft__fetch_sub_relaxed(&e->parked, 1); /* E5.5: as live */
        /* acq_rel exchange, as in weft__engine_wake_popped. Release: the
         * worker sees the exit request, and the counts above, after our
         * pop. Acquire: pairs with the reaper's release CAS to TIMEDOUT
         * (its linked_exit store). */
        uint32_t prev = weft__xchg_acq_rel(&w->wake, WEFT__WAKE_EXIT);
        if (WEFT_UNLIKELY(prev == WEFT__WAKE_TIMEDOUT)) {
          /* It had reaped itself (E9.3) and uncounted itself from live and
           * parked: give our counts back (meanwhile they read one low to
           * lock-free readers, a notifier that then asks a spawner, which
           * re-checks under the mutex). Our pop unlinked it. Release: as
           * in wake_popped (the slot is off the stack before a spawner
           * reuses it). Leave the searching count we claimed for it as a
           * searcher leaves, and look for the next parked worker. */
          weft__fetch_add_relaxed(&e->live, 1);
          weft__fetch_add_relaxed(&e->parked, 1);
          pthread_mutex_unlock(&e->mu);
          weft__store_release(&w->linked_exit, 0);
          weft__engine_stop_searching(e);
          s = weft__load_acquire(&e->ctl); /* acquire: as above */
          continue;
        }
        pthread_mutex_unlock(&e->mu);
        weft__futex_wake(&w->wake, 1);
        popped = true;
        break;
      }
    }
    if (popped) continue;
    /* Nobody parked: the rest is debt, paid by the next workers that go idle
     * (Team._toShrink; added at once, so a huge n costs no loop). seq_cst:
     * pairs with the parker's fence (E5.2 checks the debt after its push). */
    int rest = n - i;
    weft__observe(WEFT__EVENT_SHRINK_OWES); /* test_elastic holds us here */
    if (floor != INT_MIN) {
      /* The floor again, under the mutex with the add, as at a pop's
       * uncount: a reap since the look took part of the surplus, and a
       * debt for all of it would have the payers take the pool below its
       * floor (models/resize_bounds.pml -DFLOOR -DMUTANT_DEBT_STALE_FLOOR). */
      pthread_mutex_lock(&e->mu);
      int now = over_floor_locked(e, floor);
      if (rest > now) rest = now;
    }
    if (rest > 0) {
      int debt = weft__load_relaxed(&e->shrink_debt);
      int sum;
      do { /* saturate at INT_MAX, also against a concurrent shrink's add */
        sum = rest < INT_MAX - debt ? debt + rest : INT_MAX;
      } while (!weft__cas_seq_cst(&e->shrink_debt, &debt, sum));
    }
    if (floor != INT_MIN) pthread_mutex_unlock(&e->mu);
    if (rest <= 0) break;
    weft__fence_seq_cst(); /* debt before the ctl read; pairs with E5.2's fence */
    weft__engine_wake_one(e, WEFT__WAKE_NOTIFIED); /* a worker that parked meanwhile pays it */
    break;
  }
  return WEFT_OK;
}

int weft__engine_close(weft__engine *e) {
  /* Our own submit window's tasks for e were submitted before this close:
   * they go in first, and run like any other queued task. */
  weft__engine_flush_own_window(e);
  pthread_mutex_lock(&e->mu);
  int was = weft__load_relaxed(&e->closed);
  /* seq_cst store: pairs with the parker's fence (E5.2 checks closed after
   * its push). Foreign submits look at the closed bit of `pushed` instead,
   * set right after: one word, so no fence pairs with them (inject.h). */
  if (!was) {
    weft__store_seq_cst(&e->closed, 1);
    (void)weft__inject_set_closed(&e->inject);
  }
  pthread_mutex_unlock(&e->mu);
  if (was) return WEFT_EQUIT;
  weft__fence_seq_cst(); /* closed before the ctl read in wake_all; pairs with E5.2's fence */
  weft__engine_wake_all(e);
  return WEFT_OK;
}

/* Cancel what the inject queue holds (E7), under its try-lock. all: keep
 * going until every counted push has been popped (stop: submits that raced
 * with close may still be linking their node); else stop at the first empty
 * pop (stop_deadline's early sweep: its final stop waits for the rest). */
void weft__engine_cancel_injected(weft__engine *e, bool all) {
  weft__inject *in = &e->inject;
  while (!weft__inject_try_lock(in)) sched_yield(); /* a worker holds it for one batch */
  for (;;) {
    weft__task *t = weft__load_relaxed(&in->held); /* ours under the try-lock */
    if (t) weft__store_relaxed(&in->held, NULL);
    else {
      t = weft__inject_pop(in);
      weft__inject_note_popped(in, t);
    }
    if (t && weft__task_is_batch(t)) {
      /* E8.1: every task the batch still holds. */
      weft__batch *b = weft__batch_of(t);
      uint32_t i = b->next, n = b->n;
      weft__inject_count_popped(in, n - i);
      /* Returned after its tasks are read: a free batch may be taken by a
       * flush (none runs during a stop's sweep today, which waits for the
       * windows; this keeps it safe without that ordering). */
      (void)weft__engine_cancel_tasks(e, b->task + i, n - i);
      weft__batch_return(b);
      continue;
    }
    if (t) {
      weft__inject_count_popped(in, 1);
      weft__engine_cancel_task(e, t);
      continue;
    }
    if (!all) break;
    /* Every submit counted before the closed bit is in this count (one word,
     * inject.h); a refused one adds and subtracts again, and waits us a yield. */
    if (weft__inject_pushed(in) == weft__load_relaxed(&in->popped)) break;
    sched_yield(); /* a submitter is between its exchange and its link store */
  }
  weft__inject_unlock(in);
}

/* The task's cancel runs outside the calling thread's context: a task
 * that captured one is a wrapper, which enters it; one that captured none
 * is told in none (weft/context.h), whatever the stopping thread's is (it
 * was the stopping thread's, and the owner's submits from its callback
 * captured it; test_context cancelled_by_a_stop_told_in_no_context). */
void weft__engine_cancel_task(weft__engine *e, weft__task *t) {
  weft__fetch_add_relaxed(&e->cancelled, 1); /* statistics */
  weft__context_cancel_outside(t, WEFT_ECANCELED);
}

/* A callback may fork and return in the child (a reactor loop that goes on
 * there): the fork generation tells this loop so (test_fork
 * fork_in_a_cancel_from_a_window_flush). */
bool weft__engine_cancel_tasks(weft__engine *e, weft__task *const *ts, uint32_t n) {
  unsigned long gen = weft__fork_generation();
  for (uint32_t i = 0; i < n; i++) {
    weft__engine_cancel_task(e, ts[i]);
    if (WEFT_UNLIKELY(weft__fork_generation() != gen)) return false;
  }
  return true;
}

/* After the close: blocks announced while the pool still looked open (a
 * begin that did not see the close) may have no stand-in, since the open
 * pool's way to one (a grant above a limit the stop lowered to 0, or the
 * monitor, which the stop joins) can make none now. If every live worker
 * is inside a block and work is queued, what they wait for may be that
 * work: start one thread for it, bounded by the valve. Its tasks that
 * block in turn see the close and start their own (weft_blocking_begin).
 * The fence: the stop's half of the Dekker with begin's seq_cst increment
 * of `blocked` and load of `closed` (models/stop_stand_in.pml). */
static void stand_in_for_blocked(weft__engine *e) {
  if (!weft__load_relaxed(&e->elastic)) return;
  weft__fence_seq_cst(); /* closed (stored by the close) before the loads below */
  int blocked = (int)weft__load_relaxed(&e->blocked);
  if (blocked <= 0 || blocked < weft__load_relaxed(&e->live)) return;
  if (!weft__engine_work_visible(e)) return;
  (void)grow(e, 1, WEFT__MADE_BLOCKED, true, true); /* a failure: the stop waits, as before a close */
}

/* How often a stop that waits on a worker looks for workers that all wait
 * (join_watching): at first, and after any progress. */
#define STOP_WATCH_NS 10000000u     /* 10 ms: the monitor's STALL_NS */
#define STOP_WATCH_MAX_NS 1000000000u

/* Whether the workers' waits call for one more stand-in: every live worker
 * is in a task and work is queued, and more of them are off their CPU
 * (inside a weft_blocking_begin, or in a state other than 'R' in /proc)
 * than the stop has stand-ins live: what they wait for may be that work,
 * and each stand-in is for one waiting worker (the monitor's rule: stand-ins
 * never exceed the blocked count), so a pool with one sleeping task and a
 * backlog of CPU-bound ones gets one, not a thread a period up to the
 * valve. A worker whose state /proc cannot tell (none mounted) does not
 * count: without it the stop waits, as before. Relaxed loads: a snapshot,
 * acted on only after a whole watch period without a completion, and an
 * extra stand-in is safe (it runs queued work or finds none and leaves). */
static bool stand_in_wanted(weft__engine *e) {
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  int off_cpu = 0, made = 0;
  for (uint32_t i = 0; i < hw; i++) {
    weft__eworker *w = e->slots[i];
    if (weft__load_relaxed(&w->state) != WEFT__SLOT_LIVE) continue;
    if (!weft__load_relaxed(&w->busy)) return false; /* it takes the queued work */
    if (weft__load_relaxed(&w->stop_made)) made++;
    char st = weft__load_relaxed(&w->blocking) ? 'S' : weft__proc_thread_state(weft__load_relaxed(&w->tid));
    if (st != 0 && st != 'R') off_cpu++;
  }
  return off_cpu > made && weft__engine_work_visible(e);
}

/* The stop's join of one thread. In an open elastic pool a task that waits
 * without saying so (no weft_blocking_begin) for work queued behind it gets
 * a stand-in from the monitor, which sees its worker off its CPU; the stop
 * has joined the monitor, so it keeps that watch itself while it waits:
 * whenever a period passes with no completion and stand_in_wanted says
 * so, it starts one stand-in (bounded by the valve), and the next period
 * is twice as long (up to 1 s); a completion starts the periods again at
 * 10 ms. It starts one only while it waits on a live thread, which this
 * pass then joins: another pass follows, which joins the stand-in too
 * (models/stop_join.pml, the stop's start). A strict pool never grows,
 * closed or open: its stop waits, as Twisted's does. */
static void join_watching(weft__engine *e, weft__eworker *w) {
  if (!weft__load_relaxed(&e->elastic)) {
    (void)weft__engine_join_slot(w, UINT64_MAX);
    return;
  }
  uint64_t period = STOP_WATCH_NS, seen = weft__engine_completed(e);
  for (;;) {
    if (weft__engine_join_slot(w, weft__now_ns() + period) == 0) return;
    uint64_t now = weft__engine_completed(e);
    if (now != seen) {
      seen = now;
      period = STOP_WATCH_NS;
    } else if (stand_in_wanted(e)) {
      (void)grow(e, 1, WEFT__MADE_STALL, true, true); /* counted in made[STALL]; refused: waits on */
      period = period * 2 < STOP_WATCH_MAX_NS ? period * 2 : STOP_WATCH_MAX_NS;
    }
    weft__observe(WEFT__EVENT_STOP_WATCH);
  }
}

int weft__engine_stop(weft__engine *e) {
  if (weft__engine_in_worker(e)) return WEFT_EDEADLK;
  weft__engine_close(e);
  /* The monitor may be growing the pool: after close its grows are refused;
   * join it before the workers, so nothing starts a thread behind us. */
  if (e->cfg.monitor_stop) e->cfg.monitor_stop(e);
  stand_in_for_blocked(e);
  /* Other threads' submit windows with tasks for us flush (and, finding the
   * closed bit, cancel them) before we may free anything they touch. The
   * bit was set with a seq_cst RMW in close; seq_cst: pairs with a window's
   * seq_cst registration (lib/engine/submit_window.c). */
  while (weft__load_seq_cst(&e->windows) != 0) sched_yield();
  /* Join every thread. After close (and stand_in_for_blocked above) a
   * thread starts only as a stand-in, into a free slot or a joined one:
   * a worker's when it blocks while work is queued (weft_blocking_begin),
   * or this stop's own while it waits on a live thread (join_watching), a
   * pass that then joins that thread. So the passes go on until one joins
   * nothing: no thread was live during it, and none is left to start
   * another (models/stop_join.pml; one pass, and a stop's stand-in after
   * its passes, are its mutants). */
  uint32_t hw = 0; /* set by the first pass; gcc -Og cannot tell */
  for (bool joined = true; joined;) {
    joined = false;
    pthread_mutex_lock(&e->mu);
    hw = weft__load_relaxed(&e->hw);
    pthread_mutex_unlock(&e->mu);
    for (uint32_t i = 0; i < hw; i++) {
      weft__eworker *w = e->slots[i];
      /* Under the mutex: a stand-in's start writes the slot (LIVE, then its
       * thread id) under it. */
      pthread_mutex_lock(&e->mu);
      int st = weft__load_acquire(&w->state); /* acquire: pairs with worker_exited */
      pthread_mutex_unlock(&e->mu);
      if (st == WEFT__SLOT_LIVE || st == WEFT__SLOT_EXITED) {
        join_watching(e, w);
        pthread_mutex_lock(&e->mu);
        weft__store_relaxed(&w->state, WEFT__SLOT_JOINED);
        pthread_mutex_unlock(&e->mu);
        joined = true;
      }
    }
  }
  /* No stand-in after this point: grow_closing reads `stopped` under the
   * mutex, and only live workers call it, of which there are none; the
   * stop starts its own only during its passes, which are over. */
  /* E7: what no worker ran is cancelled. Rings are empty (workers leave only
   * with an empty ring) unless no worker ever existed. Submits that raced
   * with close may still be linking their node: wait until every counted
   * push has been popped. */
  for (uint32_t i = 0; i < hw; i++) {
    weft__task *t;
    while ((t = weft__ring_pop(&e->slots[i]->ring)) != NULL) weft__engine_cancel_task(e, t);
  }
  weft__engine_cancel_injected(e, true);
  /* Release: the runs and cancels above happen before what a reader of
   * `stopped` concludes (weft__engine_stopped's acquire). */
  weft__store_release(&e->stopped, 1);
  return WEFT_OK;
}

bool weft__engine_windows_held(weft__engine *e) {
  /* seq_cst: as weft__engine_stop's wait, pairs with a window's seq_cst
   * registration (lib/engine/submit_window.c): after our close's seq_cst
   * fetch_or, a window we do not see here sees the closed bit. */
  return weft__load_seq_cst(&e->windows) != 0;
}

bool weft__engine_stopped(weft__engine *e) {
  return weft__load_acquire(&e->stopped) != 0; /* pairs with stop's release */
}

int weft__engine_destroy(weft__engine *e) {
  if (weft__engine_in_worker(e)) return WEFT_EDEADLK;
  weft__engine_stop(e);
  weft__engine_fork_unregister(e);
  weft__free_aligned(weft__load_relaxed(&e->batch_pool)); /* stop drained every batch */
  for (int i = 0; i < e->capacity; i++) weft__free_aligned(e->slots[i]);
  weft__free(e->slots);
  weft__free(e->prefix);
  pthread_mutex_destroy(&e->shrink_mu);
  pthread_mutex_destroy(&e->mu);
  weft__free_aligned(e);
  weft__object_destroyed();
  return WEFT_OK;
}
