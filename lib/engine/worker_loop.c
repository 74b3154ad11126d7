/*
 * weft — the engine's worker loop (docs/design.md E4): local ring, inject
 * batch, steal; then search (spin) and park (E5).
 *
 * Contract: weft__engine_worker_main runs on each engine thread; everything
 * here touches only the worker's own ring as owner, other rings as a thief,
 * the inject queue under its try-lock, and the ctl word through
 * engine/park.c. No lock, no allocation. (It returns node-cache nodes freed
 * by tasks, lib/engine/node_cache.h, every WEFT__NODE_BATCH tasks and before it
 * idles: the one tie to the pool layer.)
 */
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "engine/worker_loop.h"

#include "base/alloc.h"
#include "base/clock.h"
#include "base/probes.h"
#include "base/proc_thread.h"
#include "base/thread_name.h"
#include "engine/affinity.h"
#include "engine/core.h"
#include "engine/engine.h"
#include "engine/node_cache.h"
#include "engine/park.h"
#include "engine/spawn.h"
#include "engine/worker_stats.h"

/* Every Nth task the inject queue is polled before the local ring, so that
 * work a task keeps submitting to its own ring cannot starve foreign
 * submitters (Go's schedtick % 61). */
#define WEFT__INJECT_INTERVAL 61u
#define WEFT__BATCH_MAX (WEFT__RING_CAP / 2)
#define WEFT__SPIN_PAUSE_ROUNDS 6 /* 1+2+…+32 pauses, then sched_yield */


/* Tasks whose mean run time is above this take their injected work one task
 * at a time (batch_tasks_long). */
#define WEFT__LONG_TASK_TICKS (5u * WEFT__TICKS_PER_US)

/* A worker running long tasks on an oversubscribed pool gives up its CPU
 * between two tasks once it has run this long since it last did
 * (yield_between_tasks), if it spent at least WEFT__YIELD_CPU_NS of it on
 * a CPU. */
#define WEFT__YIELD_TICKS (300u * WEFT__TICKS_PER_US)
#define WEFT__YIELD_CPU_NS 150000u

/* Under the inject try-lock: did the tasks we ran since our previous inject
 * batch take, on average, longer than WEFT__LONG_TASK_TICKS each?
 *
 * Why: a batch moves up to 128/min(live, CPUs) + 1 tasks into our ring, where only we
 * and thieves can reach them. With short tasks that is the point (one
 * try-lock per batch, not per task). With long ones it saves nothing
 * measurable and costs latency: when the pool has more runnable threads
 * than cores, a worker preempted in the middle of its first task keeps the
 * rest of its batch for a whole time slice, while running workers prefer
 * new injected work to stealing (docs/performance.md, "CPU-heavy tasks and
 * oversubscription": 96-100% of W14's tail tasks had waited in a ring, for
 * 5-8 ms, its owner preempted for 84-89% of it). A worker running long tasks
 * therefore takes one injected task at a time, as a shared-queue pool does,
 * and the rest stay in the inject queue for whichever worker runs next.
 * (5 µs: at that length the try-lock a batch saves per task is about 1% of
 * the task.)
 *
 * `executed` is read from our own slot (its ring.executed): the loop stores it after every task
 * (the monitor reads it too), so it is current whenever we look for work.
 *
 * How: one tick read per batch, never per task: the time since the previous
 * batch divided by the tasks run since. Time the worker spent descheduled
 * counts as task time, so a preempted run of short tasks can look long: the
 * next batch (one task) then measures again and corrects it. Idle time does
 * not count: going idle clears the stamp (worker main loop), and the first
 * batch after it only stamps, keeping the last verdict. */
static bool batch_tasks_long(weft__eworker *w) {
  uint64_t now = weft__ticks();
  uint64_t executed = weft__load_relaxed(&w->ring.executed); /* our own counter */
  if (w->batch_ticks != 0) {
    uint64_t ran = executed - w->batch_executed;
    if (ran == 0) return w->long_tasks; /* nothing to judge by: keep the stamp */
    /* A clock that stepped back (another CPU's TSC) reads as short. */
    bool was = w->long_tasks;
    w->long_tasks = now > w->batch_ticks && now - w->batch_ticks > ran * WEFT__LONG_TASK_TICKS;
    /* The engine's hint for notify (E5.1, eager wake), written on a change
     * only. Relaxed: a hint, ordered with nothing. */
    if (w->long_tasks != was) weft__store_relaxed(&w->e->long_tasks, w->long_tasks);
  }
  w->batch_ticks = now;
  w->batch_executed = executed;
  return w->long_tasks;
}

/* E4 inject_pop_batch(k): the first task is returned, up to k-1 more go to
 * our ring. *more: work is left visible for others (notify). `queue_all`:
 * the first goes into the ring too, ahead of the others (the periodic poll:
 * behind what the ring holds, so FIFO is kept); NULL is then returned. */
static weft__task *inject_batch(weft__engine *e, weft__eworker *w, uint32_t room, bool queue_all,
                                bool *more) {
  weft__inject *in = &e->inject;
  if (!weft__inject_has_visible(in) || !weft__inject_try_lock(in)) return NULL;
  /* Our share: a full batch split among the workers that can run at once
   * (the live ones, at most one per CPU, as Go's globrunqget divides by
   * GOMAXPROCS), plus one. Not Go's backlog / workers + 1: the backlog is
   * `pushed - popped`, and `pushed` is the line every foreign submit RMWs; a
   * worker that keeps up takes a task or two per batch, so reading it per
   * batch stalled the submitter once per task (figures: docs/performance.md,
   * "Inject batch size"). Not split among more workers than CPUs: with 8
   * workers on 2 cores only about 2 run at a time, and a share of 17 made
   * W1's batches 4 times as many as at 2 workers for no gain (109.5 against
   * 103.0 instructions per task under callgrind: docs/performance.md,
   * "Oversubscription"). More than a fair share costs nothing lasting: the
   * ring is stealable (E3), and long tasks take one at a time (above). */
  uint64_t k = 1;
  /* With no room (the periodic poll, one task in every
   * WEFT__INJECT_INTERVAL) the share is 1 whatever the pool's size: not
   * computed: inject_batch's own lines 1.66 -> 1.54 instructions per
   * task (perf/callgrind.sh; its medians, call 95.6 -> 93.9 and work 86.8
   * -> 85.8, moved more than that with callgrind's interleaving). */
  if (room != 0) {
    int live = weft__load_relaxed(&e->live);
    if (live > e->ncpu) live = e->ncpu;
    k = live > 1 ? WEFT__BATCH_MAX / (uint64_t)live + 1 : WEFT__BATCH_MAX;
    if (k > room + 1) k = room + 1;
    if (k > 1 && batch_tasks_long(w)) k = 1;
  }
  /* A batch taken in part comes first; a popped batch is expanded (E8.1). */
  weft__task *first = weft__load_relaxed(&in->held); /* ours under the try-lock */
  if (!first) {
    first = weft__inject_pop(in);
    weft__inject_note_popped(in, first);
  }
  uint32_t n = 0;
  if (first) {
    /* The rest go straight into our ring's free slots, published with one
     * tail store (room was checked against head.steal by the caller). */
    weft__ring *r = &w->ring;
    uint32_t tail = weft__load_relaxed(&r->tail);
    uint32_t rest = tail + queue_all; /* where the others go */
    if (WEFT_UNLIKELY(weft__task_is_batch(first))) {
      weft__batch *b = weft__batch_of(first);
      /* Invariant: a batch in the queue or held has a task left. */
      weft_assert_hot(b->next < b->n);
      first = b->task[b->next++];
      n = 1 + weft__inject_take_from_batch(in, b, r->slot, WEFT__RING_MASK, rest,
                                           (uint32_t)k - 1, e->prefetchw);
    } else {
      n = 1 + weft__inject_pop_into(in, r->slot, WEFT__RING_MASK, rest, (uint32_t)k - 1);
    }
    if (queue_all) {
      weft__store_relaxed(&r->slot[tail & WEFT__RING_MASK], first);
      first = NULL;
      tail++; /* published with the others below */
    }
    /* Release: publishes the slots to our pop and to thieves (E3 push). */
    if (n > 1 || queue_all) weft__store_release(&r->tail, tail + n - 1);
    weft__inject_count_popped(in, n);
    WEFT_PROBE3(inject_batch, e, n, queue_all); /* one nop per batch */
  }
  *more = n > 1 || weft__inject_has_visible(in);
  weft__inject_unlock(in);
  return first;
}

/* Free slots in our ring (owner view). */
static uint32_t ring_room(weft__ring *r) {
  /* Acquire: as in weft__ring_push (a thief's copy is done before reuse). */
  uint64_t h = weft__load_acquire(&r->head);
  return WEFT__RING_CAP - (weft__load_relaxed(&r->tail) - weft__ring_steal(h));
}

/* E3 steal: victims in random order, each once. */
static weft__task *steal(weft__engine *e, weft__eworker *w, bool *more) {
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release of a new slot */
  if (hw <= 1) return NULL;
  /* A stop with a deadline cancels what is queued: an idle worker that
   * stole from a ring the sweep has not reached would run it instead.
   * Relaxed: a steal that misses the flag was under way before the sweep
   * (a task taken just before it, which runs, as the contract says). */
  if (WEFT_UNLIKELY(weft__load_relaxed(&e->sweeping))) return NULL;
  w->rng ^= w->rng << 13;
  w->rng ^= w->rng >> 17;
  w->rng ^= w->rng << 5;
  uint32_t start = w->rng % hw;
  for (uint32_t i = 0; i < hw; i++) {
    uint32_t v = (start + i) % hw;
    if (v == w->index) continue;
    weft__eworker *victim = e->slots[v];
    if (!victim || weft__ring_empty(&victim->ring)) continue;
    uint32_t n;
    weft__task *t = weft__ring_steal_into(&victim->ring, &w->ring, &n);
    if (!t) continue;
    weft__add_single_writer(&w->steals, 1);
    weft__add_single_writer(&w->stolen, n);
    WEFT_PROBE(steal, e, n);
    /* Work left behind: our copies, or the victim's other half (its owner
     * may be blocked in a long task: someone else must come for it). */
    *more = n > 1 || !weft__ring_empty(&victim->ring);
    return t;
  }
  return NULL;
}

/* After a task that came from the inject queue or a steal (the batch
 * path, not the per-task ring loop): while this worker's tasks are long
 * (batch_tasks_long) and the pool has more live workers than CPUs, give
 * the CPU up between two tasks, at most once per WEFT__YIELD_TICKS.
 *
 * Why: with more runnable workers than cores the kernel preempts each one
 * at the end of its time slice, which falls in the middle of a task; that
 * task then waits off-CPU for a round of the other runnable threads (the
 * event loop that waits for its answer among them) while queued tasks are
 * taken by other workers. A shared-queue pthread pool's workers sleep on
 * its condition variable often enough not to meet this; weft's never do
 * while work waits. Yielding at a task boundary moves the preemption to
 * where no started task waits: W14's response p99 (submit to completion on
 * the loop) went from 1.4-1.8x the pthread pool's to 0.6x; every 100 us it
 * cost pool 4 some throughput (0.92-0.96x), every 1 ms it kept less of the
 * gain (0.85-0.91x); 300 us: 0.97-1.08x jobs/s (docs/performance.md,
 * "CPU-heavy tasks and oversubscription"). sched_yield with nobody else
 * runnable returns at once.
 *
 * Only a worker that used the CPU for at least half of those 300 us
 * yields: tasks that block (sleep, I/O) look long too, but their worker
 * gives the CPU up while it waits and is not preempted mid-task. Yielding
 * after each of them cost the HTTP server's scenario (b) (64 threads
 * sleeping 1-5 ms) a tenth of its requests (0.89-0.93x pthread, 1.04x
 * without the yield). One thread-CPU-clock read (a system call) per
 * 300 us of long tasks. */
static void yield_between_tasks(weft__engine *e, weft__eworker *w) {
  if (!w->long_tasks || weft__load_relaxed(&e->live) <= e->ncpu) return;
  uint64_t now = weft__ticks();
  if (now - w->yield_ticks < WEFT__YIELD_TICKS) return;
  uint64_t cpu = weft__thread_cpu_ns();
  bool on_cpu = cpu - w->yield_cpu_ns >= WEFT__YIELD_CPU_NS;
  w->yield_cpu_ns = cpu;
  w->yield_ticks = now;
  if (!on_cpu) return;
  sched_yield();
  w->yield_ticks = weft__ticks();
}

static weft__task *find_task(weft__engine *e, weft__eworker *w, bool inject_first, bool *more) {
  *more = false;
  weft__task *t;
  if (WEFT_UNLIKELY(inject_first)) {
    /* Fairness: foreign work must not wait behind a ring that a task keeps
     * refilling. One task, as Go's schedtick poll takes: more would feed a
     * ring that overflows back into the inject queue (W5's spawning tree
     * moved 128-task halves to and fro: -20% throughput). It goes behind
     * what the ring holds now, so the order of earlier inject batches in
     * the ring is kept; only a full ring makes it jump the queue. */
    t = inject_batch(e, w, 0, ring_room(&w->ring) != 0, more);
    if (t) return t;
  }
  t = weft__ring_pop(&w->ring);
  if (t) return t;
  t = inject_batch(e, w, ring_room(&w->ring), false, more);
  if (t) return t;
  return steal(e, w, more);
}

/* The probes take the engine from w->e (a memory operand, no instruction):
 * keeping `e` in a register across the busy loop cost it a spilled pointer. */
__attribute__((always_inline)) static inline void run_task(weft__eworker *w, weft__task *t) {
  WEFT_PROBE(start, w->e, t);
  t->run(t); /* t belongs to its owner from here on */
  WEFT_PROBE(finish, w->e, t);
}

/* E9.3: a thread that left after its keep-alive and found the pool back at
 * its floor unmaps the node cache's spare slabs and, with trim_heap, hands
 * the heap's free pages back (the caches that the burst's threads freed
 * sit in glibc's arenas until a trim): the pool is idle now, so the arena
 * locks the trim takes cost nobody. The spares go back at every such exit:
 * a thread that reserved its exit before the one that brought the pool to
 * its floor may give its slabs back after that one's release (one mutex
 * when there are none). The heap trim is at most once a second; relaxed,
 * the stamp orders nothing, a lost race skips a trim. */
static void trim_at_floor(weft__engine *e) {
  if (weft__load_relaxed(&e->live) > weft__load_relaxed(&e->min_live)) return;
  weft__node_spares_release();
  uint64_t now = weft__now_ns(), last = weft__load_relaxed(&e->trimmed_ns);
  if (last != 0 && now - last < 1000000000u) return;
  if (!weft__cas_relaxed(&e->trimmed_ns, &last, now)) return;
  if (!weft__load_relaxed(&e->trim_heap)) return;
  weft__heap_trim();
  weft__fetch_add_relaxed(&e->heap_trims, 1); /* statistics */
  WEFT_PROBE(heap_trim, e, weft__load_relaxed(&e->live));
}

/* Pay one unit of shrink debt, if any is owed (E4.1): true if this worker
 * is to leave. The payment (the debt's CAS and `live -= 1`) is under the
 * mutex: whoever reads `live` and the debt under it (shrink_to's floor,
 * try_reap's reservation against min, a spawner's valve check) sees it
 * whole. Paid outside it, a payer between the two was counted neither as
 * debt nor as gone: a second shrink_to took one thread more than its
 * floor allows, and a keep-alive reap in that window left the pool below
 * min (models/shrink_debt.pml -DMUTANT_EXIT_UNLOCKED). Only when a debt is
 * seen, so an idle worker's usual look costs one load.
 *
 * A payer that leaves debt behind wakes one parked worker to pay the next
 * unit (a chain, as E5.3's): a shrink that found nobody parked wakes one,
 * and workers that parked before its add never look at the debt again,
 * so with a debt of 2 the second would sleep while owed
 * (-DMUTANT_NO_CHAIN). seq_cst fence: orders the CAS before the ctl read in
 * wake_one; pairs with the fence after the park CAS (E5.2), which a
 * parker follows with its own look at the debt. */
static bool pay_shrink_debt(weft__engine *e) {
  if (WEFT_LIKELY(weft__load_relaxed(&e->shrink_debt) <= 0)) return false;
  pthread_mutex_lock(&e->mu);
  int debt = weft__load_relaxed(&e->shrink_debt);
  bool paid = false;
  /* Relaxed CAS: the mutex orders it with the readers above; a shrinker
   * adds without the mutex, hence the CAS. */
  while (debt > 0 && !(paid = weft__cas_relaxed(&e->shrink_debt, &debt, debt - 1))) {
  }
  if (paid) weft__fetch_sub_relaxed(&e->live, 1);
  pthread_mutex_unlock(&e->mu);
  if (!paid) return false;
  weft__fetch_add_relaxed(&e->left[WEFT__LEFT_SHRINK], 1); /* statistics */
  if (debt - 1 > 0) {
    weft__fence_seq_cst();
    weft__engine_wake_one(e, WEFT__WAKE_NOTIFIED);
  }
  return true;
}

/* Idle searcher: leave for good? (shrink debt, or stop with nothing left). */
static bool should_exit(weft__engine *e) {
  if (pay_shrink_debt(e)) return true;
  if (weft__load_relaxed(&e->closed) && !weft__engine_work_visible(e)) {
    weft__fetch_sub_relaxed(&e->live, 1);
    weft__fetch_add_relaxed(&e->left[WEFT__LEFT_SHUTDOWN], 1); /* statistics */
    return true;
  }
  return false;
}

static void backoff(uint32_t round) {
  if (round < WEFT__SPIN_PAUSE_ROUNDS) {
    for (uint32_t i = 0; i < (1u << round); i++) weft__cpu_relax();
  } else {
    sched_yield();
  }
}

void *weft__engine_worker_main(void *arg) {
  weft__eworker *w = arg;
  weft__engine *e = w->e;
  weft__tls.route = (uintptr_t)w; /* an engine worker: bit 0 clear */
  /* With the default factory the thread names itself too: the creator's
   * pthread_setname_np may land after our first task has run. */
  if (!e->cfg.factory) (void)pthread_setname_np(pthread_self(), w->short_name);
  weft__affinity_apply(e, w); /* the thread pins itself: any factory will do */
  uint64_t executed = weft__load_relaxed(&w->ring.executed); /* the slot's count survives reuse */
  uint64_t flushed_at = executed; /* executed at the last node-cache flush */
  uint32_t countdown = WEFT__INJECT_INTERVAL; /* tasks until the inject queue goes first */
  w->searching = true; /* the spawner counted us as searching */
  uint64_t spin_ns = (uint64_t)e->cfg.spin_us * 1000u;
  uint64_t deadline = 0;
  uint32_t round = 0;
  bool reaped = false;
  weft__store_relaxed(&w->tid, weft__proc_thread_self()); /* for the monitor's /proc reads */
  /* A factory may hand over a detached thread: its joiner must not join it
   * (weft__engine_join_slot; worker_exited looks again, for a factory that
   * detaches after it has created us). */
  if (e->cfg.factory && weft__thread_self_detached()) weft__store_relaxed(&w->detached, 1);
  /* Before our first task: one that blocks waiting on work it queues needs
   * a monitor that already runs (E9.2, lib/engine/monitor.c). */
  weft__engine_ensure_monitor(e);
  for (;;) {
    bool more;
    bool inject_first = countdown <= 1;
    countdown = inject_first ? WEFT__INJECT_INTERVAL : countdown - 1;
    weft__task *t = find_task(e, w, inject_first, &more);
    if (t) {
      if (w->searching) {
        /* Not searching means busy: the flag changes only here and when we
         * start searching, never per task. */
        weft__store_relaxed(&w->busy, 1);
        weft__worker_busy_begin(w); /* busy time: a stamp per edge, not per task */
        w->searching = false;
        weft__engine_stop_searching(e); /* E5.3 (notifies if work is left) */
      } else if (more) {
        weft__engine_notify(e); /* E5.1 for the batch we left visible */
      }
      run_task(w, t);
      yield_between_tasks(e, w);
      /* executed is stored after every task (a plain store, on the line
       * the ring pop's CAS writes: ring.h): the elastic monitor reads it to
       * tell a worker stuck in one task from one that moves on, and counts
       * completions with it (E9.2). */
      weft__store_relaxed(&w->ring.executed, ++executed);
      /* Busy: run our own ring, FIFO, without the searching/batch checks
       * above (they change only when a task comes from elsewhere), until
       * it is empty or the inject poll is due. The ring stays stealable
       * throughout (E3): nothing is taken out of it ahead of running. */
      /* The countdown is kept as the executed count at which the inject
       * poll is due (`last`, in memory), so the loop holds one counter in a
       * register, not two: with the count, the countdown and the pointers
       * the pop uses, gcc ran out of callee-saved registers and paid two
       * spilled loads per task (perf/callgrind.sh; docs/performance.md,
       * "Instructions per task"). */
      uint64_t last = executed + countdown - 1;
      while (executed != last && (t = weft__ring_pop(&w->ring)) != NULL) {
        run_task(w, t);
        weft__store_relaxed(&w->ring.executed, ++executed); /* owner-only counter */
      }
      countdown = (uint32_t)(last - executed);
      /* Freed nodes go home at least every WEFT__NODE_BATCH tasks: the
       * pool's call_run counts them in a per-thread batch, which only a
       * flush adds to their slab (node_cache.h). */
      if (WEFT_UNLIKELY(executed - flushed_at >= WEFT__NODE_BATCH)) {
        weft__node_flush();
        flushed_at = executed;
      }
      continue;
    }
    /* Idle path (E4). */
    if (!w->searching) {
      /* A task returned inside weft_blocking_begin: an idle worker blocks
       * nothing, so its grant goes back now (not per task: the hot loop
       * above stays as it is). */
      if (WEFT_UNLIKELY(w->block_depth != 0)) weft__engine_blocking_abandoned(w);
      weft__node_flush(); /* freed nodes go home before we idle */
      weft__engine_ensure_monitor(e); /* its start failed before: try again (E9.2) */
      w->batch_ticks = 0;  /* idle time is no task's: batch_tasks_long */
      weft__store_relaxed(&w->busy, 0);
      w->searching = true;
      weft__engine_start_searching(e);
      deadline = weft__worker_busy_end(w) + spin_ns; /* one stamp: busy time and the spin */
      round = 0;
    }
    if (should_exit(e)) break;
    if (deadline == 0) {
      deadline = weft__now_ns() + spin_ns;
      round = 0;
    }
    if ((round & 7) != 7 || weft__now_ns() < deadline) {
      backoff(round++);
      continue;
    }
    if (weft__engine_park(e, w)) { /* E5.2; back as a searcher */
      reaped = true; /* E9.3: parked, uncounted, still linked: leave as we are */
      break;
    }
    deadline = 0;
    /* Acquire: pairs with weft__engine_shrink_to's exchange, the only
     * writer of WAKE_EXIT (wake_popped writes NOTIFIED): its uncount of
     * `live` and `parked` is visible before we leave. */
    if (weft__load_acquire(&w->wake) == WEFT__WAKE_EXIT) {
      weft__fetch_add_relaxed(&e->left[WEFT__LEFT_SHRINK], 1); /* statistics */
      break;
    }
  }
  w->searching = false;
  weft__store_relaxed(&w->busy, 0);
  /* Leaving as a searcher: E5.3 hands on any work we can see. A reaped
   * worker was parked, not searching: whoever publishes work after its park
   * pops it, finds it TIMEDOUT and wakes another (E9.3). */
  if (!reaped) weft__engine_stop_searching(e);
  WEFT_PROBE(shrink, e, weft__load_relaxed(&e->live));
  /* Our freed nodes go home. A worker that leaves after its keep-alive
   * gives its node cache back too (the pool had more threads than work
   * for that long); one told to leave parks it for the next thread. */
  if (reaped) {
    weft__node_cache_release();
    trim_at_floor(e);
  } else {
    weft__node_flush();
    /* Told to leave (a resize, stop_a_worker, a debt) into a pool back at
     * its floor: the spares go back, as at a keep-alive exit there
     * (docs/performance.md, "Node memory"). With keep-alive 0 a resize is
     * the only way back, and the spares (up to 64 MiB) stayed mapped for
     * good (test_elastic resize_to_min_gives_spares_back). Not at a stop's
     * exits (closed): that pool is not back at a floor but gone. The heap
     * trim stays the keep-alive exit's (trim_heap). */
    if (!weft__load_relaxed(&e->closed) &&
        weft__load_relaxed(&e->live) <= weft__load_relaxed(&e->min_live))
      weft__node_spares_release();
  }
  /* Detaches itself while the pool is open, told to leave or reaped
   * (spawn.c); after close, stop joins it. */
  weft__engine_worker_exited(e, w);
  weft__tls.route = 0;
  return NULL;
}
