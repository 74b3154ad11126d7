/*
 * weft — starting engine threads and marking their exit (docs/design.md
 * E4.1; the contract is in lib/engine/spawn.h). Control plane: under the
 * engine mutex, never on a task's path except an E5.1 notify that must
 * start a thread.
 */
#include "engine/spawn.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/debug.h"
#include "base/futex.h"
#include "base/membarrier.h"
#include "base/thread_name.h"
#include "engine/park.h"

void weft__engine_log(weft__engine *e, int err, const char *what) {
  if (e->cfg.log) {
    e->cfg.log(e->cfg.log_ctx, err, what);
    return;
  }
  fprintf(stderr, "weft: %s: %s\n", what, weft_strerror(err));
}

/* Nesting depth of weft__engine_defer_logs(true) on this thread. */
static _Thread_local int logs_deferred;

void weft__engine_defer_logs(bool on) { logs_deferred += on ? 1 : -1; }

void weft__engine_log_failures(weft__engine *e) {
  if (logs_deferred) return; /* counted: the deferring caller logs them */
  for (int n = weft__xchg_relaxed(&e->unlogged_failures, 0); n > 0; n--)
    weft__engine_log(e, WEFT_EAGAIN, "thread factory failed to create a pool thread");
  for (int n = weft__xchg_relaxed(&e->unlogged_nomem, 0); n > 0; n--)
    weft__engine_log(e, WEFT_ENOMEM, "no memory for a pool thread's slot");
  for (int n = weft__xchg_relaxed(&e->unlogged_noslot, 0); n > 0; n--)
    weft__engine_log(e, WEFT_EAGAIN, "no free slot for a pool thread (all held by threads on their way out)");
  for (int n = weft__xchg_relaxed(&e->unlogged_monitor, 0); n > 0; n--)
    weft__engine_log(e, WEFT_EAGAIN, "could not start the pool's monitor thread");
  for (int n = weft__xchg_relaxed(&e->unlogged_monitor_nomem, 0); n > 0; n--)
    weft__engine_log(e, WEFT_ENOMEM, "no memory for the pool's monitor");
}

/* Creation failures back off (E9.5): no attempt before retry_at, the
 * delay doubling from 10 ms to 1 s; the monitor retries while work waits. */
#define WEFT__RETRY_MIN_NS 10000000u
#define WEFT__RETRY_MAX_NS 1000000000u
#define WEFT__KEEP_ALIVE_MAX_NS 60000000000u

bool weft__engine_spawn_backing_off(weft__engine *e) {
  uint64_t at = weft__load_relaxed(&e->retry_at_ns);
  return at != 0 && weft__now_ns() < at;
}

static void creation_failed(weft__engine *e) {
  uint64_t d = weft__load_relaxed(&e->retry_delay_ns);
  d = d == 0 ? WEFT__RETRY_MIN_NS : (d * 2 > WEFT__RETRY_MAX_NS ? WEFT__RETRY_MAX_NS : d * 2);
  weft__store_relaxed(&e->retry_delay_ns, d);
  weft__store_relaxed(&e->retry_at_ns, weft__now_ns() + d);
  weft__fetch_add_relaxed(&e->spawn_failures, 1);
  WEFT_PROBE(create_failed, e, d);
}

bool weft__engine_slots_held_by_reaped(weft__engine *e, int n) {
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  int free = 0;
  bool held = false;
  for (uint32_t i = 0; i < hw && free < n; i++) {
    weft__eworker *w = e->slots[i];
    /* Acquire: as spawn_locked's loads (worker_exited's and the popper's
     * releases). */
    int st = weft__load_acquire(&w->state);
    if (st != WEFT__SLOT_JOINED && st != WEFT__SLOT_FREE) continue;
    if (weft__load_acquire(&w->linked_exit) == 0) free++;
    else held = true;
  }
  return held && free < n;
}

/* Under e->mu. The caller counted the new thread as searching in ctl.
 * closing: a worker's stand-in while a stop joins (grow_closing). */
static int spawn_locked(weft__engine *e, int reason, bool closing) {
  if (weft__load_relaxed(&e->closed) && !closing) return WEFT_EQUIT;
  int live = weft__load_relaxed(&e->live);
  if (live >= weft__engine_spawn_bound(e, closing)) {
    weft__engine_note_refusal(e, live);
    return WEFT_EAGAIN;
  }
  uint32_t hw = weft__load_relaxed(&e->hw);
  uint32_t idx = hw;
  for (uint32_t i = 0; i < hw; i++) {
    /* Acquire: pairs with worker_exited's release. */
    int st = weft__load_acquire(&e->slots[i]->state);
    /* Closing: stop joins EXITED slots (outside the mutex), so a join here
     * could be its second; the slot is left to it. */
    if (st == WEFT__SLOT_EXITED && !closing) {
      (void)weft__engine_join_slot(e->slots[i], UINT64_MAX); /* it has left its loop */
      weft__store_relaxed(&e->slots[i]->state, WEFT__SLOT_JOINED);
      st = WEFT__SLOT_JOINED;
    }
    /* A worker that reaped itself stays linked in the idle stack until a
     * popper unlinks it (E9.3); its slot is reused only after that.
     * Acquire: pairs with the popper's release store. */
    if ((st == WEFT__SLOT_JOINED || st == WEFT__SLOT_FREE) &&
        weft__load_acquire(&e->slots[i]->linked_exit) == 0) {
      idx = i;
      break;
    }
  }
  if (idx >= (uint32_t)e->capacity) {
    /* Every slot is held by a thread on its way out (or a reaped entry not
     * yet popped): back off, and the monitor retries (E9.5, models/reap.pml). */
    creation_failed(e);
    weft__fetch_add_relaxed(&e->unlogged_noslot, 1); /* logged after the mutex */
    return WEFT_EAGAIN;
  }
  weft__eworker *w = e->slots[idx];
  if (!w) {
    w = weft__calloc_aligned(sizeof *w);
    if (!w) {
      creation_failed(e); /* backs off; the monitor retries (E9.5) */
      weft__fetch_add_relaxed(&e->unlogged_nomem, 1); /* logged after the mutex, as below */
      return WEFT_ENOMEM;
    }
    weft__ring_init(&w->ring);
    w->index = idx;
    w->e = e;
    w->rng = 0x9e3779b9u ^ (idx * 0x85ebca6bu) ^ 1u;
    e->slots[idx] = w;
  }
  /* Ring indices are kept across reuse: a thief may still be reading them. */
  weft__store_relaxed(&w->busy, 0);
  weft__store_relaxed(&w->stop_made, closing && reason == WEFT__MADE_STALL);
  weft__store_relaxed(&w->detached, 0); /* the thread says at its start */
  weft__store_relaxed(&w->gone, 0);
  weft__store_relaxed(&w->wake, WEFT__WAKE_ASLEEP);
  weft__store_relaxed(&w->state, WEFT__SLOT_LIVE);
  if (idx == hw) {
    /* E5.4: a second slot ends the sole worker's fence-free notify. Its
     * pushes so far may still sit in its CPU's store buffer; membarrier
     * drains them (or the worker reads sole == 0 and fences) before the new
     * thread exists to scan for them, and before hw says 2 to the monitor's
     * disarm (monitor.c). models/sole.pml. */
    if (hw >= 1 && weft__load_relaxed(&e->sole)) {
      weft__store_relaxed(&e->sole, 0);
      weft__membarrier();
    }
    weft__store_release(&e->hw, hw + 1); /* release: publishes slots[idx] to scanners */
  }
  char name[256];
  uint64_t serial = weft__load_relaxed(&e->spawns) + weft__load_relaxed(&e->spawn_failures);
  uint64_t serial_was = w->serial; /* the slot's latest thread's, if the factory fails */
  /* The prefix gives way, never the counter: names stay distinct however
   * long the pool's name (20 digits, the dash and the terminator). */
  snprintf(name, sizeof name, "%.*s-%llu", (int)(sizeof name - 22), e->prefix,
           (unsigned long long)serial);
  w->serial = serial;
  weft__thread_short_name(name, w->short_name);
  /* Counted before the thread starts: it may run a task (and a reader see
   * its effects) before the factory returns. */
  weft__fetch_add_relaxed(&e->live, 1);
  weft__fetch_add_relaxed(&e->spawns, 1);
  weft__fetch_add_relaxed(&e->made[reason], 1); /* statistics */
  /* Without a factory in the config the thread names itself first thing
   * (worker_loop.c), so it is created unnamed: naming it from here too is
   * an open, a write and a close of /proc/self/task/<tid>/comm on the path
   * of the submit or weft_blocking_begin that starts it. */
  int r = e->cfg.factory ? e->cfg.factory(e->cfg.factory_ctx, &w->thread, e->thread_main, w, name)
                         : weft__thread_create_named(NULL, &w->thread, e->thread_main, w, NULL);
  if (r != 0) {
    weft__fetch_sub_relaxed(&e->made[reason], 1);
    weft__fetch_sub_relaxed(&e->spawns, 1);
    weft__fetch_sub_relaxed(&e->live, 1);
    weft__store_relaxed(&w->state, WEFT__SLOT_JOINED);
    /* No thread used the slot: the per-worker statistics (read under the
     * mutex) show its latest thread's serial, and a new slot is no slot
     * ever used. hw goes back only to what it was (we hold the mutex, the
     * only place it grows); scanners that read the larger value still find
     * the slot allocated (slots are freed at destroy), empty and JOINED,
     * and the next spawn takes it again. `sole` stays cleared. */
    w->serial = serial_was;
    /* Release: pairs with the scanners' acquire loads of hw, as the store
     * above; the slots below hw were published before our mutex. */
    if (idx == hw) weft__store_release(&e->hw, hw);
    creation_failed(e);
    /* Logged by the caller once the mutex is released: the log hook is the
     * program's, and may read the pool's statistics (which take it). */
    weft__fetch_add_relaxed(&e->unlogged_failures, 1);
    return WEFT_EAGAIN;
  }
  weft__store_relaxed(&e->retry_delay_ns, 0);
  weft__store_relaxed(&e->retry_at_ns, 0);
  /* Regret (E9.3): a thread made soon after one timed out means the
   * keep-alive is too short for this load: double it, up to 60 s. */
  uint64_t ka = weft__load_relaxed(&e->keep_alive_ns);
  uint64_t reaped_at = weft__load_relaxed(&e->last_reap_ns);
  uint64_t now = weft__now_ns();
  /* A keep-alive set above the cap is the program's: regret never shortens it. */
  if (ka != 0 && ka < WEFT__KEEP_ALIVE_MAX_NS && reaped_at != 0 && now - reaped_at < ka) {
    weft__store_relaxed(&e->keep_alive_ns, ka > WEFT__KEEP_ALIVE_MAX_NS / 2 ? WEFT__KEEP_ALIVE_MAX_NS : ka * 2);
    weft__store_relaxed(&e->last_reap_ns, 0);
  }
  WEFT_PROBE(grow, e, weft__load_relaxed(&e->live));
  return WEFT_OK;
}

int weft__engine_spawn_locked(weft__engine *e, int reason) { return spawn_locked(e, reason, false); }

int weft__engine_spawn_closing_locked(weft__engine *e, int reason) {
  return spawn_locked(e, reason, true);
}

/* Under e->mu, by a worker of e on its way out once e is closed: start one
 * closing thread if work is queued that no thread is left to run. 1 if
 * none was wanted, 0 if one started, else the failed spawn's error (the
 * caller undoes the searching count claimed for it).
 *
 * Why: a task accepted while the pool was open can be left with nobody.
 * A worker told to leave (a shrink's pop, a shrink debt) has left `live`
 * and, on its way out, the searching count; a submitter that then finds
 * nobody searching starts a thread for its task (notify_slow), the close
 * lands before that start takes the mutex, and, no worker of e, it is
 * refused and undoes its claim. The leaver's own hand-off (E5.3) either
 * saw nothing yet or saw the submitter's claim and relied on it, so it
 * started nothing: the stop joined the leaver, live at the close, and
 * cancelled the task (models/stop_leaver.pml without -DCOALESCED;
 * test_resize_races *_exits_after_a_refused_start). A reaped worker
 * (E9.3) that the submitter popped and found gone is the same case. So a
 * worker on its way out looks once more, here, where the close is decided
 * for it: `closed` is stored under this mutex, and so is every start (live
 * is counted by spawn_locked under it). The test is notify_slow's closed
 * branch's (weft__engine_may_spawn_closing: no thread live, a limit above
 * 0), plus work visible, as E5.3's re-check asks: only one thread starts
 * (the next exit sees live 1), and none for a queue a live thread drains.
 * Relaxed loads: a worker's own `live -= 1` (should_exit's is outside the
 * mutex) comes before its section here, so of the workers that leave, the
 * last through this mutex reads every one of theirs and, after the others'
 * unlocks, any work they saw.
 *
 * Our slot is still LIVE (EXITED is stored after the mutex): the stop has
 * not yet joined us, so its next pass joins the new thread too, and no
 * thread starts after its last pass (models/stop_join.pml's argument).
 * Closing: EXITED slots are the stop's to join, never reused here. */
static int closed_hand_on_locked(weft__engine *e) {
  if (!weft__load_relaxed(&e->closed) || !weft__engine_may_spawn_closing(e) ||
      !weft__engine_work_visible(e))
    return 1;
  weft_assert_internal(!weft__load_relaxed(&e->stopped)); /* our slot is unjoined */
  /* seq_cst: as start_searching (the new thread starts as a searcher, and
   * leaves the count with E5.3 when it finds the task). */
  weft__fetch_add_seq_cst(&e->ctl, 1);
  return weft__engine_spawn_closing_locked(e, weft__engine_spawn_reason(e));
}

void weft__engine_worker_exited(weft__engine *e, weft__eworker *w) {
  /* A thread that leaves while the pool runs (its keep-alive ran out,
   * E9.3, or a shrink told it to) detaches itself: its stack goes back
   * when it ends, not when a later spawn or stop gets round to joining it,
   * so an idle pool's memory shrinks with its thread count, and no spawn
   * waits under the mutex for its exit to finish (a TLS destructor that
   * took a lock the submitter held hung the submit). Nobody joins it then
   * (JOINED). Under the mutex, against stop: close sets `closed` under it,
   * and stop joins every slot it then reads LIVE or EXITED. Either we
   * detach and store JOINED before the close, or we see `closed` and leave
   * the thread to stop's join: never a join of a detached thread. The
   * spawner that joins EXITED slots under the mutex never waits for us
   * (our slot is LIVE until we store). Nothing that holds the mutex waits
   * for a LIVE slot's thread, so taking it here is safe. Closed, we start
   * one thread first if work is left with nobody to run it
   * (closed_hand_on_locked). */
  pthread_mutex_lock(&e->mu);
  /* A factory may have detached us after it created us: look again now
   * that the factory call that made us has returned (it runs under the
   * mutex; a stand-in or a shrink can end a thread that fast), before we
   * would detach ourselves (a second detach: glibc answers EINVAL,
   * ThreadSanitizer's interceptor aborts). */
  if (e->cfg.factory && !weft__load_relaxed(&w->detached) && weft__thread_self_detached())
    weft__store_relaxed(&w->detached, 1);
  /* A thread its factory detached needs no detach: nobody joins it. */
  if (!weft__load_relaxed(&e->closed) &&
      (weft__load_relaxed(&w->detached) || pthread_detach(pthread_self()) == 0)) {
    weft__store_release(&w->state, WEFT__SLOT_JOINED); /* release: as below */
    pthread_mutex_unlock(&e->mu);
    return;
  }
  int handed = closed_hand_on_locked(e);
  pthread_mutex_unlock(&e->mu);
  if (WEFT_UNLIKELY(handed < 0)) {
    /* The creation failed (logged now, outside the mutex): leave the count
     * we claimed for it as a searcher leaves, as grow does. E5.3's re-check
     * sees the work and notifies as a worker of e (a closing spawn again,
     * once); failed again, the stop cancels what no thread ran (E7). */
    weft__engine_log_failures(e);
    weft__engine_stop_searching(e);
  }
  /* Release: the thread's last uses of its slot happen before a spawner,
   * which loads the state with acquire, joins it and reuses the slot. No
   * mutex: a spawner holding it must never wait for us. */
  weft__store_release(&w->state, WEFT__SLOT_EXITED);
  /* Release: our last store to the slot (detached included), for a joiner
   * that cannot pthread_join a detached thread and waits for this instead
   * (weft__engine_join_slot's acquire). The wake takes the word's address
   * only: the slot may be freed by then, once the joiner has seen it. */
  weft__store_release(&w->gone, 1);
  weft__futex_wake(&w->gone, INT_MAX);
}

int weft__engine_join_slot(weft__eworker *w, uint64_t deadline_ns) {
  /* Acquire: pairs with worker_exited's release of `gone`. */
  while (weft__load_acquire(&w->gone) == 0) {
    if (deadline_ns == UINT64_MAX) {
      weft__futex_wait(&w->gone, 0);
      continue;
    }
    if (weft__futex_wait_until(&w->gone, 0, deadline_ns) == ETIMEDOUT) return ETIMEDOUT;
  }
  /* A joinable thread is joined (its stack goes back; it has made its last
   * store and is on its way out); a detached one has nothing to join. */
  if (!weft__load_relaxed(&w->detached)) pthread_join(w->thread, NULL);
  return 0;
}

