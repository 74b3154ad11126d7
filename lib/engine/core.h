/*
 * weft — the engine's shared state: the engine and worker structs, the E5
 * ctl word's layout, and the few one-line helpers every engine file needs.
 * No functions of its own: each operation lives in the file of its step
 * (lib/engine/README.md has the map), and every such file includes this one,
 * so the files of the engine depend on this header and never on each other
 * in a circle.
 */
#ifndef WEFT_ENGINE_CORE_H
#define WEFT_ENGINE_CORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/atomic.h"
#include "base/fork.h"
#include "base/probes.h"
#include "engine/inject.h"
#include "engine/ring.h"
#include "engine/task.h"
#include "engine/thread_state.h"
#include "weft/worker.h"

typedef struct weft__engine weft__engine;

/* How many threads may be live now (Twisted's currentLimit). */
typedef int (*weft__limit_fn)(void *ctx);

typedef struct weft__engine_config {
  const char *name_prefix; /* threads are "<prefix>-<n>", n = creation counter */
  weft_thread_factory_fn factory; /* NULL: weft__thread_create_named */
  void *factory_ctx;
  weft__limit_fn limit; /* NULL: the value set with weft__engine_set_limit */
  void *limit_ctx;
  weft_log_fn log; /* NULL: stderr */
  void *log_ctx;
  unsigned spin_us; /* idle search before parking */
  /* The elastic monitor (lib/engine/monitor.h), installed by the pool layer
   * that wants one; NULL: the engine never grows past its limit by itself.
   * start runs under the engine mutex when a worker finds none running
   * (disarmed) or a saturation arms it (lib/engine/park.c); stop runs once,
   * in stop, after close. */
  int (*monitor_start)(weft__engine *e);
  void (*monitor_stop)(weft__engine *e);
  /* The monitor never reports the pool stuck at its cap (weft_pool: it has
   * no log hook, and Twisted's pool() no such report; its monitor is there
   * to retry a failed creation, E9.5). */
  bool monitor_quiet;
  int capacity;     /* most threads ever alive at once (slot count) */
  const struct weft__affinity *affinity; /* NULL: no pinning (engine/affinity.h); the caller's */
} weft__engine_config;

/* Slot states (control plane, under the engine mutex). */
enum { WEFT__SLOT_FREE, WEFT__SLOT_LIVE, WEFT__SLOT_EXITED, WEFT__SLOT_JOINED };

/* Added to limit_value while the monitor is not armed (E9.2). */
#define WEFT__UNARMED_BIAS (1 << 29)

/* E5 futex word values. TIMEDOUT is the parked worker's own: it reaped
 * itself after its keep-alive (E9.3) and is still linked in the idle stack
 * until a popper finds it (a popper's exchange that returns TIMEDOUT unlinks
 * it instead of waking it). */
enum { WEFT__WAKE_ASLEEP = 0, WEFT__WAKE_NOTIFIED = 1, WEFT__WAKE_EXIT = 2, WEFT__WAKE_TIMEDOUT = 3 };

/* Why a thread was created or left (E9.6): weft_threadpool_stats reports
 * each count. */
enum {
  WEFT__MADE_DEMAND,  /* work waited, nobody idle, below soft (Twisted's rule) */
  WEFT__MADE_GROW,    /* asked for: start, min, adjust_poolsize, start_a_worker */
  WEFT__MADE_BLOCKED, /* stands in for a worker in weft_blocking_begin */
  WEFT__MADE_STALL,   /* stands in for a worker seen off-CPU (the monitor, a stop's watch) */
  WEFT__MADE_N
};
enum {
  WEFT__LEFT_KEEPALIVE, /* idle past its keep-alive */
  WEFT__LEFT_SHRINK,    /* told to quit: adjust_poolsize, stop_a_worker */
  WEFT__LEFT_SHUTDOWN,  /* stop */
  WEFT__LEFT_N
};

typedef struct weft__eworker {
  weft__ring ring;
  /* Parking (E5): written by notifiers. */
  WEFT_CACHE_ALIGNED _Atomic uint32_t wake;
  _Atomic uint32_t next_idle; /* 1 + index of the worker below us in the idle stack */
  /* Owner-written statistics (relaxed load+store, never an RMW); the count
   * of tasks run is ring.executed (lib/engine/ring.h says why there). */
  WEFT_CACHE_ALIGNED _Atomic int busy;
  _Atomic uint64_t steals, stolen, parks, overflowed, local_submits;
  _Atomic uint64_t skipped; /* tasks taken and cancelled, not run (count_skipped) */
  /* Read by the monitor (E9.2) and by a stop's watch (engine.c,
   * stand_in_wanted): the thread's id for /proc, and whether the worker is
   * inside weft_blocking_begin/end (owner-written). */
  _Atomic int tid;
  _Atomic int blocking;
  /* A stand-in the stop started for workers that wait (engine.c,
   * join_watching): set under mu by each spawn into the slot, read by the
   * stop, which counts its own stand-ins against the waiting workers. */
  _Atomic int stop_made;
  /* The thread's exit, for whoever joins the slot (weft__engine_join_slot):
   * `detached` is 1 for a thread that a factory handed over detached
   * (nobody may pthread_join it), stored by the thread at its start and
   * again at its exit; `gone` is its last store to the slot, a futex word.
   * Both reset under mu by the spawn that fills the slot. */
  _Atomic int detached;
  _Atomic uint32_t gone;
  /* Set by the worker before it reaps itself, cleared by the popper that
   * unlinks it from the idle stack (E9.3): a slot is reused only when 0. */
  _Atomic int linked_exit;
  /* Busy time, stamped at the idle<->busy edges only, under a sequence
   * count (odd while an edge writes them) that readers retry on
   * (engine/worker_stats.h). */
  _Atomic uint64_t busy_ns, busy_since;
  _Atomic uint32_t busy_seq;
  _Atomic int pinned_cpu; /* 1 + the CPU the thread pinned itself to, 0: none */
  /* Owner-private. */
  uint32_t rng;
  bool searching;
  /* Inject batch sizing (lib/engine/worker_loop.c, batch_tasks_long): the
   * ticks and executed count at our last inject batch (batch_ticks 0: none
   * since we last went idle), and whether the tasks run since looked long. */
  bool long_tasks;
  uint64_t batch_ticks, batch_executed;
  uint64_t yield_ticks;  /* when we last looked at yielding between tasks (worker_loop.c) ... */
  uint64_t yield_cpu_ns; /* ... and our thread's CPU time then */
  int block_depth;   /* nested weft_blocking_begin */
  bool block_grant;  /* this block raised the limit (E9.1) */
  /* Control plane (under the engine mutex). */
  uint32_t index;
  _Atomic int state;
  pthread_t thread;
  weft__engine *e;
  char short_name[16]; /* set before the thread starts */
  uint64_t serial;     /* the creation counter in the thread's name; under mu */
} weft__eworker;

struct weft__engine {
  weft__inject inject;
  /* E5 ctl word: [tag:32 | top:16 | searching:16]. */
  WEFT_CACHE_ALIGNED _Atomic uint64_t ctl;
  /* 1 while the workers' latest batch verdict was "long tasks" (worker
   * loop, batch_tasks_long): a notify that sees searchers then still wakes
   * a parked worker (E5.1, eager). A hint, relaxed: the last worker whose
   * verdict changed wrote it. On ctl's line: notify reads it right after
   * ctl, and it changes only when a verdict does. */
  _Atomic int long_tasks;
  /* 1 while the engine has had one worker slot only and membarrier(2)
   * works: that worker's notify needs no fence (E5.4, park.h); the spawner
   * of a second slot clears it and calls membarrier. Relaxed: the
   * membarrier orders it. On ctl's line: notify reads it just before ctl. */
  _Atomic int sole;
  WEFT_CACHE_ALIGNED _Atomic int live;        /* busy + idle threads (Twisted's workers) */
  _Atomic int shrink_debt;                    /* Team._toShrink */
  _Atomic int closed;                         /* no new work; workers drain and exit */
  /* A stop with a deadline is sweeping the rings: idle workers do not
   * steal until it is done (the sweep cancels what is queued;
   * stop_deadline.c). Here, not on
   * the windows' line that drains write: every steal reads it. */
  _Atomic int sweeping;
  /* The word notify's fast path compares the live count with (E5.1):
   * soft + grants when cfg.limit is NULL, plus WEFT__UNARMED_BIAS while the
   * engine has a monitor that is not armed (so the first saturated submit
   * takes the slow path, which arms it: E9.2); INT_MAX with a callback, so
   * the fast path always defers to notify_slow. Changed only by adds
   * (set_limit adds the change of soft, grants and the bias add
   * themselves), so concurrent changes never lose one. */
  _Atomic int limit_value;
  _Atomic uint32_t hw; /* slots ever used (a failed creation gives its new one back): scan bound */
  /* Submit windows holding tasks for us (lib/engine/submit_window.h); stop waits
   * for zero. Its own line: the reactor's windows change it every drain. */
  WEFT_CACHE_ALIGNED _Atomic int windows;
  /* Task batches for the windows' flushes (lib/engine/task_batch.h, E8.1): made by
   * the first flush (under mu), freed by destroy; bit i of batch_free set:
   * batch_pool[i] is free. */
  _Atomic(struct weft__batch *) batch_pool;
  _Atomic uint64_t batch_free;
  _Atomic uint64_t spawns, spawn_failures, unparks, cancelled; /* slow paths only */
  /* Tasks a submit window accepted and cancelled at its flush, the engine
   * closed meanwhile: submitted (statistics), though never pushed. */
  _Atomic uint64_t window_cancelled;
  /* Creation failures counted where they happen (under the mutex), for the
   * log hook to hear after it (weft__engine_log_failures): the thread
   * factory's (or pthread_create's), a worker slot that could not be
   * allocated, no free slot (every one held by a thread on its way out),
   * and the monitor's own thread that could not be started, or whose
   * memory could not be allocated. */
  _Atomic int unlogged_failures, unlogged_nomem, unlogged_noslot, unlogged_monitor,
      unlogged_monitor_nomem;
  /* Set (release) when a stop has joined every thread and cancelled what
   * was queued: every task accepted before has run or been cancelled. */
  _Atomic int stopped;
  /* Elastic sizing (docs/design.md E9: lib/engine/monitor.c, blocking.c,
   * park.c, spawn.c). Slow paths only: a blocking call, a thread's start or
   * exit, the monitor. */
  WEFT_CACHE_ALIGNED _Atomic int soft;  /* set_limit's value (Twisted's max) */
  _Atomic int grants;          /* threads allowed above the limit, standing in for blocked ones */
  _Atomic int grants_explicit; /* the part of grants that weft_blocking_begin made */
  /* A resize lowered the limit while grants were out, and kept their
   * threads (adjust_poolsize shrinks to max + grants; every floor read
   * that counts grants marks it, engine.c floor_at_limit_locked): until the grants are
   * all back, each one that goes back shrinks the pool to the limit with
   * the grants still out (weft__engine_grants_returned), so those threads
   * quit once idle as the resize asked, instead of staying above max (for
   * ever with keep-alive 0). Read and written under `mu` only. */
  int settling;
  _Atomic int blocked;         /* workers inside weft_blocking_begin/end */
  /* Workers parked in the idle stack (E5.5): the parker adds itself before
   * its push, whoever takes it off (a popper that wakes it, the shrinker,
   * the worker that reaps itself) subtracts. Relaxed: a bound that orders
   * nothing; live - parked is the count of workers awake, which notify
   * compares with the limit before it wakes a thread above it. */
  _Atomic int parked;
  _Atomic int hard;            /* the memory valve: never more live threads */
  _Atomic int min_live;        /* never reaped below this many */
  _Atomic int elastic;         /* 0: Twisted's hard cap (strict_cap) */
  _Atomic uint64_t keep_alive_ns;  /* 0: idle threads never exit */
  _Atomic uint64_t last_reap_ns;   /* when a thread last timed out (regret) */
  _Atomic int trim_heap;           /* hand free heap pages back at the floor (E9.3) */
  _Atomic uint64_t trimmed_ns;     /* when a reaped thread last did (pacing) */
  _Atomic uint64_t reap_window_ns; /* exit pacing: the current 100 ms window ... */
  _Atomic int reap_window_n;       /* ... and the exits counted in it */
  _Atomic uint64_t retry_at_ns;    /* no creation before this, after a failure */
  _Atomic uint64_t retry_delay_ns; /* the next backoff step */
  _Atomic uint64_t made[WEFT__MADE_N], left[WEFT__LEFT_N];
  _Atomic uint64_t valve_hits, brakes, monitor_ticks, heap_trims;
  _Atomic int monitor_armed;       /* 1: armed, or no monitor to arm (E9.2) */
  _Atomic uint32_t monitor_word;   /* futex: bumped by every arm and by stop */
  _Atomic uint64_t monitor_retry_ns; /* its start failed: no new try before this */
  uint64_t monitor_retry_gap_ns;     /* under mu: the wait after the last failure (1 s, doubling) */
  struct weft__monitor *_Atomic monitor; /* made and cleared under mu (monitor.h) */
  weft__eworker **slots;                      /* [capacity], filled lazily, freed at destroy */
  int capacity;
  int ncpu; /* CPUs the pool may use, at create (its plan's if fewer): workers that run at once */
  bool prefetchw; /* weft__cpu_has_prefetchw (lib/base/prefetch.h), copied at create */
  pthread_mutex_t mu;                         /* control plane */
  /* Under mu (lib/engine/join_wait.h): workers waiting for another thread
   * (weft_blocking_call_from_thread), and the thread joining the workers
   * without a deadline while `joining` (weft_threadpool_stop). */
  struct weft__join_waiter *join_waiters;
  pthread_t joiner;
  bool joining;
  /* Shrinks to a floor, one at a time (weft__engine_shrink_to: a resize's,
   * a returned grant's): each reads the floor and then uncounts threads in
   * separate steps under `mu`, so two at once would each take the same
   * surplus (models/settle.pml -DMUTANT_SHRINKS_AT_ONCE). Taken before `mu`. */
  pthread_mutex_t shrink_mu;
  /* The loop each new thread runs (lib/engine/worker_loop.c), set by
   * create: thread creation (lib/engine/spawn.c) is reached from the parking
   * protocol, which the loop itself uses, so spawn takes the loop from here
   * instead of naming it. */
  void *(*thread_main)(void *);
  weft__engine_config cfg;
  char *prefix;
  /* Tasks a worker took but cancelled instead of running (a weft_work
   * whose cancel won, lib/engine/work_claim.h): counted in `cancelled` too,
   * and taken out of the workers' executed counts. */
  _Atomic uint64_t skipped;
  /* Requests whose cancel had won that a cancelling thread told rather
   * than a worker (weft__engine_count_won_told): in `cancelled` too. A
   * stop with a deadline leaves them, as it leaves the skips, out of the
   * tasks it reports cancelled (stop_deadline.c). Statistics: relaxed. */
  _Atomic uint64_t won_told;
  weft__fork_hook fork_hook; /* lib/engine/engine_fork.c */
};


/* ctl word helpers (E5): [tag:32 | top:16 | searching:16]. */
#define WEFT__CTL_SEARCHING(s) ((uint32_t)((s) & 0xffffu))
#define WEFT__CTL_TOP(s) ((uint32_t)(((s) >> 16) & 0xffffu))
#define WEFT__CTL_TAG(s) ((uint32_t)((s) >> 32))
#define WEFT__CTL_PACK(tag, top, searching) \
  (((uint64_t)(uint32_t)(tag) << 32) | ((uint64_t)((top) & 0xffffu) << 16) | ((searching) & 0xffffu))

/* The limit before grants: the callback, or the value set with
 * weft__engine_set_limit (soft). */
static inline int weft__engine_limit_base(weft__engine *e) {
  return e->cfg.limit ? e->cfg.limit(e->cfg.limit_ctx) : weft__load_relaxed(&e->soft);
}

/* How many threads may be live now: the base limit plus the grants for
 * blocked workers, never above the valve (any thread). */
static inline int weft__engine_limit(weft__engine *e) {
  int lim = weft__engine_limit_base(e) + weft__load_relaxed(&e->grants);
  int hard = weft__load_relaxed(&e->hard);
  return lim < hard ? lim : hard; /* E9.4: the valve */
}

/* A thread was wanted and none may start: if the valve, not the limit, is
 * what stops it (the base limit plus the grants would allow one more),
 * count a valve hit (statistics; the slow paths only). */
static inline void weft__engine_note_refusal(weft__engine *e, int live) {
  int hard = weft__load_relaxed(&e->hard);
  if (live >= hard && weft__engine_limit_base(e) + weft__load_relaxed(&e->grants) > hard) {
    weft__fetch_add_relaxed(&e->valve_hits, 1); /* statistics */
    WEFT_PROBE(valve, e, live);
  }
}

/* Why a thread started now would be made (WEFT__MADE_*): below max, Twisted's
 * demand growth; above it, a stand-in for a blocked worker, announced
 * (weft_blocking_begin's grants) or seen by the monitor. */
static inline int weft__engine_spawn_reason(weft__engine *e) {
  if (weft__load_relaxed(&e->live) < weft__engine_limit_base(e)) return WEFT__MADE_DEMAND;
  return weft__load_relaxed(&e->grants_explicit) > 0 ? WEFT__MADE_BLOCKED : WEFT__MADE_STALL;
}

/* Workers awake (E5.5): live minus parked, never below 0 (two relaxed
 * loads, not one snapshot: a bound, as both counts are). */
static inline int weft__engine_awake(weft__engine *e) {
  int n = weft__load_relaxed(&e->live) - weft__load_relaxed(&e->parked);
  return n > 0 ? n : 0;
}

/* Raise (d > 0) or lower the number of threads allowed above the limit
 * (E9). Relaxed adds: the limit is a bound read with relaxed loads; what a
 * new grant must make visible is published by the notify that follows it. */
static inline void weft__engine_add_grants(weft__engine *e, int d) {
  weft__fetch_add_relaxed(&e->grants, d);
  if (!e->cfg.limit) weft__fetch_add_relaxed(&e->limit_value, d);
}

/* Exactly one of t's run() or cancel(): here, cancel(WEFT_ECANCELED), in
 * no context (lib/engine/engine.c). */
void weft__engine_cancel_task(weft__engine *e, weft__task *t);
/* weft__engine_cancel_task for ts[0..n), in order. false: a cancel callback
 * forked and this is the child, where the rest are the parent's (left
 * alone: the parent tells their owners). */
bool weft__engine_cancel_tasks(weft__engine *e, weft__task *const *ts, uint32_t n);

/* A worker took t and cancels it instead of running it (statistics): the
 * caller then calls t's cancel itself, or tells its owner another way.
 * Counted on the worker's slot, so that its `executed` (every task it
 * took) less its skipped ones is what it ran, slot by slot as in total;
 * e->skipped takes a skip on any other thread.
 * The take is counted here too, with the skip, not when the task returns
 * (the loop then stores the same count again): counted there, the owner's
 * callback (an after_cb with WEFT_ECANCELED) and the context hooks around
 * it read `executed` one lower than just before the skip, against the
 * counters' "monotonic" (weft/threadpool.h; test_worker_stats
 * executed_never_goes_down_at_a_skip). The release fence orders the skip
 * before the take; it pairs with the readers' acquire fence between their
 * load of the take count and their load of the skips (stats.c,
 * worker_stats.c), so that a reader that sees the take sees the skip. */
static inline void weft__engine_count_skipped(weft__engine *e) {
  weft__fetch_add_relaxed(&e->cancelled, 1);
  weft__eworker *w = weft__thread_worker(); /* weft__engine_current_worker, below */
  if (w && w->e == e) {
    weft__add_single_writer(&w->skipped, 1); /* owner-only counters */
    weft__fence_release();
    weft__add_single_writer(&w->ring.executed, 1);
  } else {
    weft__fetch_add_relaxed(&e->skipped, 1);
  }
}

/* A cancelled task's owner was told of a request whose cancel had already
 * won (weft_threadpool_cancel_work answered 0 for it): the cancel's, not
 * the canceller's who took it out of the queue. Any thread. */
static inline void weft__engine_count_won_told(weft__engine *e) {
  weft__fetch_add_relaxed(&e->won_told, 1);
}

/* The engine worker running on this thread (lib/engine/thread_state.h). */
static inline weft__eworker *weft__engine_current_worker(void) { return weft__thread_worker(); }
/* The calling thread is one of e's workers. */
static inline bool weft__engine_in_worker(const weft__engine *e) {
  weft__eworker *w = weft__engine_current_worker();
  return w && w->e == e;
}

#endif /* WEFT_ENGINE_CORE_H */
