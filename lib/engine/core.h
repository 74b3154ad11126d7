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
  int capacity;     /* most threads ever alive at once (slot count) */
  const struct weft__affinity *affinity; /* NULL: no pinning (engine/affinity.h); the caller's */
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
  /* Busy time, stamped at the idle<->busy edges only (engine/worker_stats.h). */
  _Atomic uint64_t busy_ns, busy_since;
  _Atomic int pinned_cpu; /* 1 + the CPU the thread pinned itself to, 0: none */
  /* Owner-private. */
  uint32_t rng;
  bool searching;
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
  /* The loop each new thread runs (lib/engine/worker_loop.c), set by
   * create: thread creation (lib/engine/spawn.c) is reached from the parking
   * protocol, which the loop itself uses, so spawn takes the loop from here
   * instead of naming it. */
  void *(*thread_main)(void *);
  weft__engine_config cfg;
  char *prefix;
  weft__fork_hook fork_hook; /* lib/engine/engine_fork.c */
};


/* ctl word helpers (E5): [tag:32 | top:16 | searching:16]. */
#define WEFT__CTL_SEARCHING(s) ((uint32_t)((s) & 0xffffu))
#define WEFT__CTL_TOP(s) ((uint32_t)(((s) >> 16) & 0xffffu))
#define WEFT__CTL_TAG(s) ((uint32_t)((s) >> 32))
#define WEFT__CTL_PACK(tag, top, searching) \
  (((uint64_t)(uint32_t)(tag) << 32) | ((uint64_t)((top) & 0xffffu) << 16) | ((searching) & 0xffffu))

/* How many threads may be live now: the callback, or the value set with
 * weft__engine_set_limit (any thread). */
static inline int weft__engine_limit(weft__engine *e) {
  return e->cfg.limit ? e->cfg.limit(e->cfg.limit_ctx) : weft__load_relaxed(&e->limit_value);
}

/* Exactly one of t's run() or cancel(): here, cancel(WEFT_ECANCELED). */
static inline void weft__engine_cancel_task(weft__engine *e, weft__task *t) {
  weft__fetch_add_relaxed(&e->cancelled, 1); /* statistics */
  t->cancel(t, WEFT_ECANCELED);
}

/* The engine worker running on this thread (lib/engine/thread_state.h). */
static inline weft__eworker *weft__engine_current_worker(void) { return weft__thread_worker(); }
/* The calling thread is one of e's workers. */
static inline bool weft__engine_in_worker(const weft__engine *e) {
  weft__eworker *w = weft__engine_current_worker();
  return w && w->e == e;
}

#endif /* WEFT_ENGINE_CORE_H */
