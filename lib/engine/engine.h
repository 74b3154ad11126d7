/*
 * weft — the work-stealing engine: a set of worker threads with per-worker
 * run rings (lib/engine/ring.h), one inject queue for foreign submitters
 * (lib/engine/inject.h), work stealing, and the ctl-word parking protocol
 * (docs/design.md E2–E7). weft_threadpool (lib/pool/threadpool.c) and weft_pool
 * (lib/pool/pool_team.c) are thin policy layers over it.
 *
 * Contract
 *   submit:               any thread, concurrently. Wait-free on the task's
 *                         path (one counter add that also reads the closed
 *                         bit, one exchange, one store)
 *                         plus the notify check (E5.1), which makes a system
 *                         call only when no worker is awake to take the work.
 *   grow / shrink / close / stop / stats: any thread, concurrently; the
 *                         control plane (thread creation, joining) is
 *                         serialised by one mutex that no task path takes,
 *                         except a notify that must start a thread.
 *   stop / destroy:       not from one of the engine's own threads
 *                         (WEFT_EDEADLK).
 *   Every accepted task gets exactly one run() or cancel(WEFT_ECANCELED),
 *   so every task has a cancel callback (a NULL one marks a task batch,
 *   lib/engine/task_batch.h).
 *
 * File map: engine.c (lifecycle, submit, threads, statistics),
 * engine/park.c (E5: ctl word, notify, park), engine/worker_loop.c (E4: the
 * worker loop, inject batches, stealing).
 */
#ifndef WEFT_ENGINE_H
#define WEFT_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/atomic.h"
#include "engine/inject.h"
#include "base/probes.h"
#include "base/thread_name.h"
#include "engine/ring.h"
#include "engine/submit_window.h"
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
  int capacity;     /* most threads ever alive at once (slot count) */
} weft__engine_config;

/* Slot states (control plane, under the engine mutex). */
enum { WEFT__SLOT_FREE, WEFT__SLOT_LIVE, WEFT__SLOT_EXITED, WEFT__SLOT_JOINED };

/* E5 futex word values. */
enum { WEFT__WAKE_ASLEEP = 0, WEFT__WAKE_NOTIFIED = 1, WEFT__WAKE_EXIT = 2 };

typedef struct weft__eworker {
  weft__ring ring;
  /* Parking (E5): written by notifiers. */
  WEFT_CACHE_ALIGNED _Atomic uint32_t wake;
  _Atomic uint32_t next_idle; /* 1 + index of the worker below us in the idle stack */
  /* Owner-written statistics (relaxed load+store, never an RMW). */
  WEFT_CACHE_ALIGNED _Atomic int busy;
  _Atomic uint64_t executed, steals, stolen, parks, overflowed, local_submits;
  /* Owner-private. */
  uint32_t rng;
  bool searching;
  /* Control plane (under the engine mutex). */
  uint32_t index;
  _Atomic int state;
  pthread_t thread;
  weft__engine *e;
  char short_name[16]; /* set before the thread starts */
} weft__eworker;

struct weft__engine {
  weft__inject inject;
  /* E5 ctl word: [tag:32 | top:16 | searching:16]. */
  WEFT_CACHE_ALIGNED _Atomic uint64_t ctl;
  WEFT_CACHE_ALIGNED _Atomic int live;        /* busy + idle threads (Twisted's workers) */
  _Atomic int shrink_debt;                    /* Team._toShrink */
  _Atomic int closed;                         /* no new work; workers drain and exit */
  _Atomic int limit_value; /* the limit when cfg.limit is NULL; INT_MAX with a
                            * callback, so notify's fast path defers to notify_slow */
  _Atomic uint32_t hw;                        /* slots ever used: scan bound */
  /* Submit windows holding tasks for us (lib/engine/submit_window.h); stop waits
   * for zero. Its own line: the reactor's windows change it every drain. */
  WEFT_CACHE_ALIGNED _Atomic int windows;
  /* Task batches for the windows' flushes (lib/engine/task_batch.h, E8.1): made by
   * the first flush (under mu), freed by destroy; bit i of batch_free set:
   * batch_pool[i] is free. */
  _Atomic(struct weft__batch *) batch_pool;
  _Atomic uint64_t batch_free;
  _Atomic uint64_t spawns, spawn_failures, unparks, cancelled; /* slow paths only */
  weft__eworker **slots;                      /* [capacity], filled lazily, freed at destroy */
  int capacity;
  pthread_mutex_t mu;                         /* control plane */
  weft__engine_config cfg;
  char *prefix;
};

/* ---------------------------------------------------------------- engine.c */
int weft__engine_create(weft__engine **out, const weft__engine_config *cfg);
/* The limit, for engines created with cfg.limit NULL (any thread). */
void weft__engine_set_limit(weft__engine *e, int limit);
static inline int weft__engine_limit(weft__engine *e) {
  return e->cfg.limit ? e->cfg.limit(e->cfg.limit_ctx) : weft__load_relaxed(&e->limit_value);
}
/* Exactly one of t's run() or cancel(): here, cancel(WEFT_ECANCELED). */
void weft__engine_cancel_task(weft__engine *e, weft__task *t);
/* submit from one of e's own threads: to the worker's ring. */
int weft__engine_submit_local(weft__engine *e, weft__eworker *w, weft__task *t);
/* Start up to n threads, bounded by the limit. Returns the number started
 * (>= 0), WEFT_EAGAIN if a creation failed and none started, WEFT_EQUIT
 * once closed. */
int weft__engine_grow(weft__engine *e, int n);
/* Quit n workers (n < 0: all live): parked ones now, others when they next
 * find nothing to do (debt). WEFT_EQUIT once closed. */
int weft__engine_shrink(weft__engine *e, int n);
/* Reject new work; workers drain what is queued, then exit. Non-blocking.
 * WEFT_EQUIT the second time. */
int weft__engine_close(weft__engine *e);
/* close (if needed), join every thread, cancel what no worker ran.
 * WEFT_EDEADLK from an engine thread. */
int weft__engine_stop(weft__engine *e);
/* stop, then free. WEFT_EDEADLK from an engine thread (nothing freed). */
int weft__engine_destroy(weft__engine *e);

int weft__engine_live(weft__engine *e);
int weft__engine_busy(weft__engine *e);
uint64_t weft__engine_backlog(weft__engine *e);
/* Every submit from now on is refused (WEFT_EQUIT). */
bool weft__engine_is_closed(weft__engine *e);

typedef struct weft__engine_counters {
  uint64_t submitted, executed, cancelled, steals, stolen, parks, unparks, spawns,
      spawn_failures;
} weft__engine_counters;
void weft__engine_counters_get(weft__engine *e, weft__engine_counters *out);
void weft__engine_log(weft__engine *e, int err, const char *what);

/* Start one thread (under e->mu); the caller has counted it as searching. */
int weft__engine_spawn_locked(weft__engine *e);
/* The thread exits: mark its slot (takes e->mu). */
void weft__engine_worker_exited(weft__engine *e, weft__eworker *w);
/* Any task visible in the inject queue or a ring (E5.2 re-check). */
bool weft__engine_work_visible(weft__engine *e);

/* A free task batch of e for a window's flush, or NULL (none free, or no
 * memory for the pool): the caller then links a chain. Any thread. */
struct weft__batch *weft__engine_batch_take(weft__engine *e);

/* ----------------------------------------------------------- engine/park.c */
/* ctl word helpers. */
#define WEFT__CTL_SEARCHING(s) ((uint32_t)((s) & 0xffffu))
#define WEFT__CTL_TOP(s) ((uint32_t)(((s) >> 16) & 0xffffu))
#define WEFT__CTL_TAG(s) ((uint32_t)((s) >> 32))
#define WEFT__CTL_PACK(tag, top, searching) \
  (((uint64_t)(uint32_t)(tag) << 32) | ((uint64_t)((top) & 0xffffu) << 16) | ((searching) & 0xffffu))

/* E5.1 after the fence and the ctl read, when the fast path cannot decide. */
void weft__engine_notify_slow(weft__engine *e, uint64_t s);
void weft__engine_park(weft__engine *e, weft__eworker *w); /* E5.2 */
void weft__engine_start_searching(weft__engine *e);      /* running → searching */
void weft__engine_stop_searching(weft__engine *e);       /* E5.3 */
void weft__engine_wake_all(weft__engine *e);             /* close: pop every parked worker */
/* Pop one parked worker and wake it with `how`; false if none parked. */
bool weft__engine_wake_one(weft__engine *e, uint32_t how);

/* --------------------------------------------------------- engine/worker_loop.c */
void *weft__engine_worker_main(void *arg);
/* The engine worker running on this thread (lib/engine/thread_state.h). */
static inline weft__eworker *weft__engine_current_worker(void) { return weft__thread_worker(); }
/* The calling thread is one of e's workers. */
static inline bool weft__engine_in_worker(const weft__engine *e) {
  weft__eworker *w = weft__engine_current_worker();
  return w && w->e == e;
}

/* ------------------------------------------------------ the inline hot path */

/* E5.1 notify, called after publishing work. The fast path decides the two
 * common cases inline: a searcher is awake (coalesce), or every worker is
 * busy and the pool is at its limit (the first to finish finds the work). */
__attribute__((always_inline)) static inline void weft__engine_notify_decide(weft__engine *e,
                                                                           uint64_t s);
__attribute__((always_inline)) static inline void weft__engine_notify(weft__engine *e) {
  /* seq_cst fence: orders the caller's publish (ring tail store, inject link
   * store) before the ctl read below; pairs with the fence after the park
   * CAS in E5.2 and after the fetch_sub in E5.3 (Dekker). */
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
    if (weft__load_relaxed(&e->live) >= weft__load_relaxed(&e->limit_value)) return;
  } else if (WEFT__CTL_SEARCHING(s) > 0) {
    return;
  }
  weft__engine_notify_slow(e, s);
}

/* Accept t: it will run, or be cancelled with WEFT_ECANCELED. WEFT_EQUIT
 * once closed (t untouched). E2 push + E5.1 notify. */
__attribute__((always_inline)) static inline int weft__engine_submit_foreign(weft__engine *e,
                                                                            weft__task *t);
/* weft__engine_submit from a thread whose route is set (lib/engine/thread_state.h):
 * a worker of e submits to its ring, a worker of another engine to e's
 * inject queue, a thread with a submit window open into the window. */
int weft__engine_submit_routed(weft__engine *e, weft__task *t);
__attribute__((always_inline)) static inline int weft__engine_submit(weft__engine *e,
                                                                    weft__task *t) {
  weft_assert_hot(t->cancel != NULL); /* the contract above (batches have none) */
  if (WEFT_UNLIKELY(weft__tls.route != 0)) return weft__engine_submit_routed(e, t);
  return weft__engine_submit_foreign(e, t);
}

/* weft__engine_submit from a thread that routes none of its submits
 * (weft__tls.route == 0, the caller checked): E2 push + E5.1 notify. */
__attribute__((always_inline)) static inline int weft__engine_submit_foreign(weft__engine *e,
                                                                            weft__task *t) {
  /* Count ourselves and read the closed bit in one RMW (E7): either close
   * came first and we back out, or stop waits for our node. */
  if (WEFT_UNLIKELY(!weft__inject_count_push(&e->inject, 1))) return WEFT_EQUIT;
  WEFT_PROBE(submit, e, t);
  weft__inject_push_chain(&e->inject, t, t);
  weft__engine_notify_after_inject(e); /* E5.1, after the exchange (E2) */
  return WEFT_OK;
}

/* The calling thread's submit window holds tasks for e: hand them over now.
 * Called before anything that changes what queued work may expect (close,
 * and the pool's stop before it lowers its limit), so that those tasks are
 * treated as the direct submits they stand for. */
static inline void weft__engine_flush_own_window(weft__engine *e) {
  weft__submit_window *own = weft__thread_window();
  if (WEFT_UNLIKELY(own != NULL) && own->e == e) weft__submit_window_flush(own);
}

#endif /* WEFT_ENGINE_H */
