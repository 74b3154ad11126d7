/*
 * weft — the reactor's private state, shared by lib/loop/reactor*.c.
 *
 * Cross-thread fields (the completion queue, the sleeping flag, the state,
 * the counters, the blocked-caller list) are atomics or under block_lock;
 * everything else belongs to the reactor thread.
 */
#ifndef WEFT_REACTOR_IMPL_H
#define WEFT_REACTOR_IMPL_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "base/atomic.h"
#include "base/fork.h"
#include "engine/mpsc.h"
#include "loop/completion.h"
#include "weft/reactor.h"

enum reactor_state { R_NEW = 0, R_RUNNING = 1, R_STOPPING = 2, R_STOPPED = 3 };

/* stop_requested: 0, or where the stop came from (weft_reactor_stop; a
 * fork's child stores STOP_IN_LOOP). A stop from another thread gets one
 * more pass of the loop before the shutdown (reactor.c, loop_once). */
enum reactor_stop { STOP_IN_LOOP = 1, STOP_FROM_THREAD = 2 };

typedef struct weft__timer_slot {
  double when;
  uint64_t seq;       /* insertion order: ties and "added during this run" */
  weft_fn fn;
  void *arg;
  uint32_t gen;       /* from the timer's seq, 0 while free: stale ids miss (reactor_timer.c) */
  int32_t heap_index; /* -1 when free */
  uint32_t next_free;
} weft__timer_slot;

typedef struct weft__fd_entry {
  weft_io_fn rfn, wfn;
  void *rctx, *wctx;
  uint32_t mask; /* events registered with epoll */
  uint32_t gen;  /* bumped when the fd loses its last callback (reactor_io.c) */
} weft__fd_entry;

struct epoll_event;

typedef struct weft__trigger {
  weft_trigger_id id;
  weft_fn fn; /* NULL: removed */
  void *arg;
} weft__trigger;

typedef struct weft__trigger_list {
  weft__trigger *v;
  size_t len, cap;
} weft__trigger_list;

struct weft_reactor {
  /* --- written by any thread */
  weft__mpsc queue;                     /* completions / thread calls */
  WEFT_CACHE_ALIGNED atomic_int sleeping; /* 1: the loop may block in epoll_wait */
  atomic_int state;                     /* enum reactor_state */
  atomic_int stop_requested;
  /* Written only by producers that write the eventfd (weft__reactor_push),
   * on a line of their own: the loop stores `sleeping` on every drain, and
   * three RMWs per wake-up on its line would take it away each time. */
  WEFT_CACHE_ALIGNED _Atomic uint64_t wakeups; /* eventfd writes by producers */
  /* producers between their link and the end of their eventfd write */
  atomic_int pushers;
  /* --- written by the reactor thread, read by anyone (relaxed counters) */
  WEFT_CACHE_ALIGNED _Atomic uint64_t completions;
  _Atomic uint64_t drains;
  _Atomic uint64_t iterations;
  /* Set once (run or attach: set_io_thread), under block_lock, which also
   * tells the registered blocking_call_from_thread waiters (weft__blocked) */
  atomic_int has_io_thread;
  pthread_t io_thread;
  /* --- reactor thread only */
  uint64_t polled_ticks; /* weft__ticks() at the busy path's last poll (reactor.c) */
  int epfd;
  int evfd;
  int tfd; /* timerfd for an attached reactor's timers; -1 until attach */
  int hosted;
  /* attach is firing "startup": a detach from one of its triggers answers
   * WEFT_ESTATE (the rest of the startup, call_when_running's calls
   * included, would run after the shutdown, and attach would hand out the
   * fd of a stopped reactor). */
  int attaching;
  weft__timer_slot *slots;
  uint32_t nslots, slot_cap, free_head;
  uint32_t *heap;
  size_t heap_len;
  uint64_t timer_seq;
  weft__fd_entry *fds;
  int nfds;
  /* The epoll batch being dispatched, if any: an fd that loses its last
   * callback is blanked in it, so that an event read for it does not reach
   * a new descriptor with the same number (reactor_io.c). */
  struct epoll_event *io_batch;
  int io_batch_n;
  weft__trigger_list triggers[2][3];
  /* Firings of trigger lists under way (nested: a trigger that fires an
   * event), and whether a removal during one left a tombstone to sweep when
   * the outermost ends (reactor_trigger.c). Reactor thread only. */
  int triggers_firing, triggers_tombstones;
  /* Which events are firing now (weft_reactor_fire_system_event): a
   * trigger that fires its own event is refused with WEFT_EBUSY, since
   * weft's firings do not consume triggers and it would recurse until the
   * stack ran out. Reactor thread only. */
  unsigned char event_firing[2];
  uint64_t next_trigger_id;
  int shutdown_fired;
  /* Under block_lock: a "shutdown" firing by weft_reactor_fire_system_event
   * is under way (its triggers stop the pool and join its threads, so no
   * pool thread may start waiting on this thread meanwhile). */
  int shutdown_firing;
  /* The reactor thread's own: drains under way (destroy's, an attached
   * reactor's drain), firings of system events under way, and destroy
   * under way; destroy from a callback they run answers WEFT_EBUSY (the
   * outer call still uses r). A child of fork whose thread is not the one
   * that holds them (depth_thread) resets drain_depth (reactor_fork.c:
   * nobody there ends them).
   * Atomic: a destroy polled on another thread reads it (acquire); the
   * decrement that ends a drain or a firing is that frame's last access to
   * r (release), as shutdown_sequence's store of R_STOPPED is run's. */
  _Atomic int drain_depth;
  /* The thread whose frames hold drain_depth while it is above 0 (set at
   * each increment; the reactor thread, or the one thread that fires the
   * events of a reactor that never ran): a child of fork tells by it
   * whether those frames are its own (reactor_fork.c). */
  pthread_t depth_thread;
  /* The reactor thread's own: an attached reactor's weft_reactor_drain_ex
   * is under way (a drain from its callbacks is refused). Reset with
   * drain_depth in a child of fork. */
  int in_drain;
  /* The reactor thread's own: a callback of the attached drain under way
   * detached; that drain's loop stops (drain_snapshot): what was queued
   * after the shutdown runs in destroy. Reset when the drain returns. */
  int drain_cut;
  int destroying;
  /* The thread in weft_reactor_destroy while destroying is set: a child of
   * fork whose forking thread is another ends that destroy (reactor_fork.c). */
  pthread_t destroy_thread;
  weft_threadpool *pool;
  /* The pool its stop trigger could not destroy (WEFT_EDEADLK: the trigger
   * ran inside a callback of that pool's own stop), freed at the end of
   * the shutdown or in destroy (weft__reactor_pool_release_kept). More than
   * one when such stops nest (a callback of the kept pool's stop stops the
   * next pool, whose callback fires "shutdown" again): the first here, the
   * others in kept_more. */
  weft_threadpool *pool_kept;
  weft_threadpool **kept_more;
  size_t kept_more_len, kept_more_cap;
  weft_trigger_id pool_start_id, pool_stop_id;
  struct weft__reactor_pool_options *pool_options; /* NULL: the defaults (reactor_pool_options.c) */
  struct weft__block_cache *rt_cache; /* deferToThread blocks; made on first use */
  /* --- blocking_call_from_thread callers, under block_lock */
  pthread_mutex_t block_lock;
  weft__blocked blocked; /* sentinel of a circular list */
  /* --- fork (reactor_fork.c) */
  weft__fork_hook fork_hook;
  atomic_int forked; /* 1 in a child of fork */
};

#define WEFT__NO_FREE UINT32_MAX

/* reactor_timer.c */
void weft__timers_init(weft_reactor *r);
void weft__timers_free(weft_reactor *r);
/* A fork's child: the pending calls are the parent's, which runs them;
 * forget them (their ids read as run). */
void weft__timers_forget_all(weft_reactor *r);
int weft__timers_run_due(weft_reactor *r);  /* returns how many ran */
int weft__timers_timeout_ms(weft_reactor *r); /* -1: none pending */

/* The earliest pending timer's deadline (CLOCK_MONOTONIC seconds): 1, or 0
 * when none is pending. */
int weft__timers_earliest(weft_reactor *r, double *when);

/* reactor_hosted.c: an attached reactor's timerfd and epoll pass */
int weft__hosted_setup(weft_reactor *r);
void weft__hosted_free(weft_reactor *r);
void weft__hosted_arm(weft_reactor *r);  /* timerfd := earliest timer */
void weft__hosted_poll(weft_reactor *r); /* ready fds of the set: dispatch */
/* Reset the wake-up eventfd (a read; EINTR retried). Reactor thread. */
static inline void weft__reactor_wake_read(weft_reactor *r) {
  uint64_t v;
  ssize_t n;
  do {
    n = read(r->evfd, &v, sizeof v);
  } while (n < 0 && errno == EINTR);
}

/* Wait until no producer is between its link and the end of its eventfd
 * write (weft__reactor_push_first, counted in `pushers`). The caller has
 * drained every node, so each such producer's increment is visible
 * (published by its link). Acquire: pairs with the producers' release
 * decrement, after their write. */
static inline void weft__reactor_quiesce_pushers(weft_reactor *r) {
  while (weft__load_acquire(&r->pushers) != 0) weft__cpu_relax();
}

/* weft_reactor_stop's count in `pushers` (reactor_hosted.c), once it saw
 * the state RUNNING: 1 counted (the caller decrements it after its eventfd
 * write, or when its CAS of stop_requested fails), or 0 when the state is
 * RUNNING no more (a shutdown began: an attached reactor's detach may be
 * past its wait for pushers == 0, and a write now would follow its eventfd
 * reset): not counted, WEFT_ESTATE. Any thread. Out of reactor.c, so that
 * a test can hold a stop between its first look at the state and its
 * count (tests/test_reactor_stop_detach.c). */
int weft__reactor_stop_enter(weft_reactor *r);

/* Detach's end (shutdown_sequence, sleeping 0 and the queue drained after
 * a seq_cst fence): wait for producers still on their way to an eventfd
 * write, disarm the timerfd, reset the eventfd. */
void weft__hosted_detach(weft_reactor *r);

/* reactor_io.c */
void weft__io_dispatch(weft_reactor *r, int fd, uint32_t events);
/* Around the dispatch of an epoll batch (nested dispatches restore the
 * outer batch): entries of an fd whose callbacks all go meanwhile are
 * blanked (data.fd = -1), and weft__io_dispatch skips them. */
void weft__io_batch_begin(weft_reactor *r, struct epoll_event *evs, int n,
                          struct epoll_event **saved, int *saved_n);
void weft__io_batch_end(weft_reactor *r, struct epoll_event *saved, int saved_n);
void weft__io_free(weft_reactor *r);

/* reactor_trigger.c */
void weft__triggers_fire(weft_reactor *r, weft_event event);
/* Entries in one trigger list, tombstones included (tests). */
size_t weft__triggers_len(weft_reactor *r, weft_event event, weft_phase phase);
void weft__triggers_free(weft_reactor *r);

/* reactor_pool.c: destroy the pool kept by a refused stop trigger, if any
 * (kept again if still refused). Reactor thread, or destroy's. */
void weft__reactor_pool_release_kept(weft_reactor *r);
/* A pool is kept still (its release was refused). */
bool weft__reactor_pool_kept_any(const weft_reactor *r);

/* reactor_pool_options.c */
int weft__reactor_pool_create(weft_reactor *r, weft_threadpool **out);
/* The min the pool is created with (the options', clamped as the pool
 * clamps it; 0 by default). */
int weft__reactor_pool_min(const weft_reactor *r);
void weft__reactor_pool_options_free(weft_reactor *r);
/* The log hook (and its context) the reactor's pool was or will be made
 * with: NULL for the defaults. Reactor thread. */
void weft__reactor_pool_log(weft_reactor *r, weft_log_fn *log, void **ctx);

/* reactor_fork.c */
int weft__reactor_fork_register(weft_reactor *r);
void weft__reactor_fork_unregister(weft_reactor *r);
void weft__reactor_fork_release_pool(weft_reactor *r); /* destroy, in a child of fork */

/* reactor.c */
void weft__reactor_release_blocked(weft_reactor *r);

/* The push's first-of-a-burst part (lib/loop/reactor.c, where the whole
 * protocol is described): the exchange found the queue empty. */
void weft__reactor_push_first(weft_reactor *r, weft__task *node);

/*
 * Push a caller-owned node onto r's completion queue; node->run(node) is
 * called on the reactor thread (or by weft_reactor_drain / destroy). Never
 * fails: the queue is unbounded and intrusive. Any thread.
 *
 * Inline, the usual push (behind a node the loop has not taken: exchange,
 * link) leaves its caller a leaf function; out of line it cost
 * weft_reactor_call_from_thread_req a frame and the call (a reactor round
 * trip: `bash perf/callgrind.sh 100000 rtqw`).
 */
__attribute__((always_inline)) static inline void weft__reactor_push(weft_reactor *r,
                                                                    weft__task *node) {
  weft__task *old = weft__mpsc_push_exchange(&r->queue, node);
  if (WEFT_LIKELY(old != &r->queue.head)) {
    weft__mpsc_push_link(old, node); /* our last access to r */
    return;
  }
  weft__reactor_push_first(r, node);
}

#endif /* WEFT_REACTOR_IMPL_H */
