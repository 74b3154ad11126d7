/*
 * weft — ThreadPool (twisted.python.threadpool) on the engine.
 *
 * Policy only: the engine does the work. Twisted's currentLimit() becomes the
 * engine's limit callback (max while started, else 0), so work submitted
 * before start or at the limit waits in the engine's queues (the backlog),
 * and a submit that finds no idle worker starts a thread if below the limit
 * (engine E5.1). start/stop/adjust_poolsize are serialised by `mu`; submits
 * never take it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "base/cpu.h"
#include "base/fork.h"
#include "engine/affinity.h"
#include "engine/context.h"
#include "engine/engine.h"
#include "engine/join_wait.h"
#include "engine/monitor.h"
#include "engine/node_cache.h"
#include "engine/stop_deadline.h"
#include "engine/work_claim.h"
#include "pool/lane_impl.h"
#include "pool/threadpool_impl.h"
#include "pool/threadpool_stats.h"
#include "weft/threadpool.h"

/* Slots for threads: max_threads is at most WEFT_THREADPOOL_MAX_THREADS,
 * and threads standing in for blocked ones (E9) may go past it up to the
 * valve, which is at most this. */
#define WEFT__POOL_CAPACITY 4096

/* A task's two callbacks in weft__task's order (run, cancel): the submit
 * paths copy them into the task as one 16-byte pair (tp_set_ops). */
typedef struct tp_task_ops {
  void (*run)(weft__task *t);
  void (*cancel)(weft__task *t, int status);
} tp_task_ops;
_Static_assert(offsetof(weft__task, cancel) == offsetof(weft__task, run) + sizeof(void (*)(void)) &&
                   sizeof(tp_task_ops) == 2 * sizeof(void (*)(void)),
               "run and cancel are adjacent, as in tp_task_ops");

struct weft_threadpool {
  weft__engine *e;
  /* The callbacks of call_in_thread's nodes and of queue_work's requests,
   * set once by create. Read from here, on the line the submit reads `e`
   * from, not written as code addresses: a 16-byte load and store (two
   * instructions) instead of two lea and two stores, which a constant pair
   * would be folded back into (tp_set_ops): call 99.8 -> 98.2, work 91.1 ->
   * 90.0, tree 147.6 -> 145.6 instructions per task (perf/callgrind.sh). */
  tp_task_ops call_ops, work_ops;
  _Atomic int min, max;
  _Atomic int started, joined;
  pthread_mutex_t mu; /* start / stop / adjust_poolsize */
  /* Under mu: a stop_timeout returned WEFT_ETIMEDOUT and left threads in a
   * task; the next stop (or destroy) joins them. */
  int stop_pending;
  /* The valve as configured (hard_threads, or derived), before it is
   * raised to max: adjust_poolsize sets the engine's to the greater of it
   * and the new max, so a max raised and lowered again leaves the valve
   * where the program put it (set once by create; read under mu). */
  int hard_base;
  weft_log_fn log;
  void *log_ctx;
  char *name;
  weft__affinity *affinity; /* the engine's pinning plan; NULL: none */
  weft__fork_hook fork_hook; /* the fork handlers at the end of this file */
  weft_lane *lanes;          /* under mu: the pool's lanes (lib/pool/lane.c), freed by destroy */
  /* Set by stop_timeout before it closes the engine: lanes cancel what
   * waits in them instead of handing it to the closing pool (lane.c). */
  _Atomic int deadline_stop;
  /* Lane tasks a closed pool refused at their hand-off and cancelled
   * (lane.c): stop_timeout's report counts those of its own call.
   * Relaxed: a statistic. */
  _Atomic uint64_t lane_refused;
  /* 1 in a fork child (tp_fork_child): the pool is a closed copy, and every
   * request it holds is the parent's (cancel.c). The child's only thread
   * writes it: relaxed. */
  _Atomic int fork_copy;
};

static int tp_fork_register(weft_threadpool *tp);
static void call_run(weft__task *t);
static void call_cancel(weft__task *t, int status);
static void work_run(weft__task *t);
static void work_cancel(weft__task *t, int status);

/* t's run and cancel = *ops, one 16-byte copy (SSE on x86-64). */
__attribute__((always_inline)) static inline void tp_set_ops(weft__task *t,
                                                            const tp_task_ops *ops) {
  memcpy((char *)t + offsetof(weft__task, run), ops, sizeof *ops);
}

/* The payloads of call_in_thread* nodes (weft__node.data, four words: a
 * node is one cache line). */
typedef struct tp_call {
  weft_fn fn;
  void *arg;
  weft_threadpool *tp;
} tp_call;
typedef struct tp_callback {
  weft_call_fn call;
  void *arg;
  weft_result_fn on_result;
  /* on_result's context, or, without on_result, the pool whose log hook
   * hears of failures. */
  void *ctx_or_tp;
} tp_callback;
_Static_assert(sizeof(tp_call) <= sizeof(((weft__node *)0)->data), "node payload too small");
_Static_assert(sizeof(tp_callback) <= sizeof(((weft__node *)0)->data), "node payload too small");

static tp_call *payload(weft__node *n) { return (tp_call *)(void *)n->data; }
static tp_callback *cb_payload(weft__node *n) { return (tp_callback *)(void *)n->data; }

static void tp_log(weft_threadpool *tp, int err, const char *what) {
  if (tp->log) tp->log(tp->log_ctx, err, what);
  else fprintf(stderr, "weft: %s: %s\n", what, weft_strerror(err));
}

/* currentLimit(): max while started, else 0 (Twisted's ThreadPool). Both
 * change only under tp->mu, which then pushes the value into the engine (a
 * plain load on the submit path instead of a callback). Once a stop has
 * begun (joined, also under tp->mu) the limit is the stop's: stop keeps it
 * at max for the hand-offs of its drain, stop_timeout sets 0. A resize
 * then records the sizes and leaves it: pushing "not started" (0) here let
 * an adjust_poolsize between a stop's start and its close take the room a
 * leaving worker needs to hand the queued work on, and the stop cancelled
 * work the started pool had accepted (test_resize_races
 * resize_during_a_stop_keeps_the_hand_off). */
static void tp_update_limit(weft_threadpool *tp) {
  if (weft__load_relaxed(&tp->joined)) return;
  weft__engine_set_limit(tp->e, weft__load_relaxed(&tp->started) ? weft__load_relaxed(&tp->max) : 0);
}

WEFT_API void weft_threadpool_options_init(weft_threadpool_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->min_threads = 5;
  o->max_threads = 20;
  o->spin_us = 50;
  o->keep_alive_ms = 10000;
  o->trim_heap = 1;
}

WEFT_API int weft_threadpool_create_ex(weft_threadpool **out, const weft_threadpool_options *o) {
  if (!out) return WEFT_EINVAL;
  *out = NULL; /* on every failure (weft/common.h) */
  if (!o) return WEFT_EINVAL;
  /* A negative valve is a negative size, not "derived" (that is 0). */
  if (o->min_threads < 0 || o->max_threads < o->min_threads || o->hard_threads < 0)
    return WEFT_EINVAL;
  weft__affinity *affinity = NULL;
  int ar = weft__affinity_make(&o->affinity, &affinity);
  if (ar != 0) return ar;
  weft_threadpool *tp = weft__calloc(1, sizeof *tp);
  if (!tp) {
    weft__affinity_free(affinity);
    return WEFT_ENOMEM;
  }
  tp->affinity = affinity;
  char buf[64];
  const char *name = o->name;
  if (!name || !*name) { /* Twisted: name or id(self) */
    snprintf(buf, sizeof buf, "%p", (void *)tp);
    name = buf;
  }
  tp->name = weft__strdup(name);
  size_t plen = strlen(name) + sizeof "PoolThread-";
  char *prefix = weft__malloc(plen);
  if (!tp->name || !prefix || pthread_mutex_init(&tp->mu, NULL) != 0) {
    weft__free(prefix);
    weft__free(tp->name);
    weft__affinity_free(tp->affinity);
    weft__free(tp);
    return WEFT_ENOMEM;
  }
  snprintf(prefix, plen, "PoolThread-%s", name);
  int max = o->max_threads > WEFT_THREADPOOL_MAX_THREADS ? WEFT_THREADPOOL_MAX_THREADS
                                                         : o->max_threads;
  weft__store_relaxed(&tp->min, o->min_threads < max ? o->min_threads : max);
  weft__store_relaxed(&tp->max, max);
  tp->log = o->log;
  tp->log_ctx = o->log_ctx;
  tp->call_ops = (tp_task_ops){call_run, call_cancel};
  tp->work_ops = (tp_task_ops){work_run, work_cancel};
  weft__engine_config cfg = {
      .name_prefix = prefix,
      .factory = o->thread_factory,
      .factory_ctx = o->thread_factory_ctx,
      .limit = NULL, /* tp_update_limit */
      .log = o->log,
      .log_ctx = o->log_ctx,
      .spin_us = o->spin_us,
      .capacity = WEFT__POOL_CAPACITY,
      .monitor_start = weft__engine_monitor_start,
      .monitor_stop = weft__engine_monitor_stop,
      .affinity = tp->affinity,
  };
  int r = weft__engine_create(&tp->e, &cfg);
  weft__free(prefix);
  if (r == 0 && (r = tp_fork_register(tp)) != 0) weft__engine_destroy(tp->e);
  if (r != 0) {
    pthread_mutex_destroy(&tp->mu);
    weft__free(tp->name);
    weft__affinity_free(tp->affinity);
    weft__free(tp);
    return r;
  }
  tp->hard_base = o->hard_threads > 0 ? o->hard_threads : weft__thread_valve_default();
  if (tp->hard_base > WEFT__POOL_CAPACITY) tp->hard_base = WEFT__POOL_CAPACITY;
  weft__elastic_config ec = {
      .elastic = !o->strict_cap,
      .hard = tp->hard_base,
      .min_live = weft__load_relaxed(&tp->min),
      .keep_alive_ns = (uint64_t)o->keep_alive_ms * 1000000u,
      .trim_heap = o->trim_heap,
  };
  if (ec.hard < max) ec.hard = max; /* the valve never cuts below max */
  weft__engine_set_elastic(tp->e, &ec);
  *out = tp;
  return WEFT_OK;
}

WEFT_API int weft_threadpool_create(weft_threadpool **out, int min_threads, int max_threads,
                                    const char *name) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = min_threads;
  o.max_threads = max_threads;
  o.name = name;
  return weft_threadpool_create_ex(out, &o);
}

/* Under tp->mu, started: a thread for each queued task, up to the limit
 * (start, and a resize that raised max: work queued while the pool could
 * run none must not wait for the next submit). r: the error so far.
 * backlog, idle: the queued tasks and the threads not in a task before
 * resize_locked ran, which started `grown` threads for min. Each idle
 * thread, old or new, takes a queued task first: Twisted's start grows to
 * min (adjustPoolsize), each new worker taking a backlogged task, then by
 * the backlog left, so it ends with max(min, backlog) threads, not min more
 * (test_threadpool work_before_starting_with_min). Counted before the
 * resize: the threads it starts begin taking tasks at once, and a count
 * after it would depend on how far they got. */
static int grow_for_backlog_locked(weft_threadpool *tp, int r, uint64_t backlog, int idle,
                                   int grown) {
  uint64_t takers = (uint64_t)(idle > 0 ? idle : 0) + (uint64_t)(grown > 0 ? grown : 0);
  backlog = backlog > takers ? backlog - takers : 0;
  if (backlog > 0) {
    int n = backlog > (uint64_t)WEFT_THREADPOOL_MAX_THREADS ? WEFT_THREADPOOL_MAX_THREADS
                                                            : (int)backlog;
    int g = weft__engine_grow_unlogged(tp->e, n, WEFT__MADE_DEMAND); /* logged after mu */
    if (g < 0 && r == 0) r = g;
    /* The threads for min could not be made, these could: threads were
     * started, which WEFT_EAGAIN ("none could be") would deny. */
    else if (g > 0 && r == WEFT_EAGAIN) r = WEFT_OK;
  }
  return r;
}

/* Under tp->mu, started: shrink above max, grow below min (adjustPoolsize).
 * Returns the first grow error, or 0. */
static int resize_locked(weft_threadpool *tp, int *grown) {
  int max = weft__load_relaxed(&tp->max), min = weft__load_relaxed(&tp->min);
  int live = weft__engine_live(tp->e);
  /* Keep-alive exits are not under tp->mu: shrink to the target, not by a
   * count that a reap may have made stale. A shrink that pops a reaped
   * worker hands its searching claim on, and the notify that follows may
   * start a thread and meet a failure: its report waits for the caller's
   * weft__engine_log_failures after tp->mu, as the grow's do (the log hook
   * may take tp->mu). */
  weft__engine_defer_logs(true);
  /* The grants' threads stay while they are out, and each that goes back
   * shrinks the pool on (weft__engine_settle_after_resize, marked before
   * the shrink), so a pool resized while workers were blocked ends at its
   * new max once they return, as busy threads above max do. The shrink
   * asks for the whole surplus over max; its floor, max plus the grants
   * read under the engine mutex after the mark, keeps the grants' threads.
   * Grants read here instead would miss one that goes back between the
   * read and the mark (models/settle.pml -DMUTANT_KEEP_STALE). */
  if (live > max) {
    weft__engine_settle_after_resize(tp->e); /* no-op with no grants out */
    weft__engine_shrink_to(tp->e, live - max, WEFT__FLOOR_AT_LIMIT);
  }
  weft__engine_defer_logs(false);
  live = weft__engine_live(tp->e);
  *grown = 0;
  if (live < min) {
    int r = weft__engine_grow_unlogged(tp->e, min - live, WEFT__MADE_GROW); /* logged after mu */
    int now = weft__engine_live(tp->e);
    *grown = now > live ? now - live : 0;
    if (r < 0) return r;
  }
  return WEFT_OK;
}

/* Under tp->mu, started: resize_locked, then grow_for_backlog_locked with
 * the backlog and idle threads counted before it. */
static int resize_for_backlog_locked(weft_threadpool *tp) {
  uint64_t backlog = weft__engine_backlog(tp->e);
  int idle = weft__engine_live(tp->e) - weft__engine_busy(tp->e);
  int grown = 0;
  int r = resize_locked(tp, &grown);
  return grow_for_backlog_locked(tp, r, backlog, idle, grown);
}

WEFT_API int weft_threadpool_start(weft_threadpool *tp) {
  if (!tp) return WEFT_EINVAL;
  pthread_mutex_lock(&tp->mu);
  if (weft__load_relaxed(&tp->joined)) {
    pthread_mutex_unlock(&tp->mu);
    return WEFT_EQUIT;
  }
  weft__store_relaxed(&tp->started, 1);
  tp_update_limit(tp);
  int r = resize_for_backlog_locked(tp);
  pthread_mutex_unlock(&tp->mu);
  /* Failed creations reach the log hook now, not under mu: the hook may
   * call what takes it (weft_lane_create, the statistics). */
  weft__engine_log_failures(tp->e);
  if (r == WEFT_EAGAIN && weft__engine_live(tp->e) > 0) r = WEFT_OK; /* some threads exist */
  return r;
}

/* The pools whose stop or destroy the calling thread is running, innermost
 * first: the tasks that stop cancels tell their owners on this thread
 * (after_cb, on_result, a lane's callback), and a destroy of one of those
 * pools from one of them would free it under the outer call (and, before
 * that, wait for ever on the inject queue's consumer lock that the outer
 * stop holds). A chain, not one pool: a callback of A's stop may stop B,
 * and one of B's callbacks destroy A. Frames live on the stack of the call
 * that pushed them. */
typedef struct stopping_frame {
  const weft_threadpool *tp;
  const struct stopping_frame *outer;
} stopping_frame;
static _Thread_local const stopping_frame *tls_stopping;

static bool stopping_here(const weft_threadpool *tp) {
  for (const stopping_frame *f = tls_stopping; f; f = f->outer)
    if (f->tp == tp) return true;
  return false;
}

static void stopping_push(stopping_frame *f, const weft_threadpool *tp) {
  f->tp = tp;
  f->outer = tls_stopping;
  tls_stopping = f;
}

static void stopping_pop(const stopping_frame *f) { tls_stopping = f->outer; }

/* A lane cancels one of its tasks on whatever thread it is on (lane.c: a
 * hand-off a stopping pool refused, or a stop_timeout's sweep, by a late
 * submit's own kick): the owner's callback runs inside that lane call, which
 * goes on with the lane (and the pool) after the callback returns. A destroy
 * of tp from the callback answers WEFT_EDEADLK, as from one its own stop
 * runs; it freed the lane under the kick. Only on the cancel path. */
void weft__threadpool_cancel_lane_task(weft_threadpool *tp, weft__task *t) {
  stopping_frame f;
  stopping_push(&f, tp);
  weft__context_cancel_outside(t, WEFT_ECANCELED);
  stopping_pop(&f);
}

/* The stop joins the pool's threads: a thread of the
 * pool that waits for this one (a task in weft_blocking_call_from_thread
 * while we are the reactor's thread) would wait for ever, and we for it.
 * The join releases such waits (WEFT_EDEADLK) and refuses new ones
 * (lib/engine/join_wait.h). */
static int engine_stop_as(weft_threadpool *tp) {
  stopping_frame f;
  stopping_push(&f, tp);
  weft__engine_join_begin(tp->e);
  int r = weft__engine_stop(tp->e);
  weft__engine_join_end(tp->e);
  stopping_pop(&f);
  return r;
}

WEFT_API int weft_threadpool_stop(weft_threadpool *tp) {
  if (!tp) return WEFT_EINVAL;
  if (weft__engine_in_worker(tp->e)) return WEFT_EDEADLK;
  /* Tasks our own submit window holds were submitted before this stop: they
   * reach the pool while its limit still lets them start a thread. */
  weft__engine_flush_own_window(tp->e);
  pthread_mutex_lock(&tp->mu);
  if (weft__load_relaxed(&tp->joined)) {
    int pending = tp->stop_pending; /* threads a stop_timeout left: join them */
    tp->stop_pending = 0;
    pthread_mutex_unlock(&tp->mu);
    if (!pending) return WEFT_EQUIT;
    int r = engine_stop_as(tp);
    weft__node_flush();
    return r;
  }
  weft__store_relaxed(&tp->joined, 1);
  weft__store_relaxed(&tp->started, 0);
  /* The engine's limit stays at max through the stop (its close, in
   * engine_stop_as, refuses every start but a stand-in's and a leaver's).
   * Dropped to 0 here, a worker leaving the pool (told to by
   * stop_a_worker or a resize) found no room to start the thread that
   * hands on work queued meanwhile (lib/engine/park.c, notify_slow: its
   * inline path stops at the limit, before the closed branch), and the
   * stop cancelled work that the pool, started and with a thread, had
   * accepted (test_resize_races leaver_hands_on_during_a_stop). */
  pthread_mutex_unlock(&tp->mu);
  int r = engine_stop_as(tp);
  weft__node_flush(); /* nodes of cancelled tasks go home now */
  return r;
}

WEFT_API int weft_threadpool_stop_timeout(weft_threadpool *tp, long timeout_ms,
                                          weft_threadpool_stop_report *report) {
  if (report) memset(report, 0, sizeof *report);
  if (!tp || timeout_ms < 0) return WEFT_EINVAL;
  if (weft__engine_in_worker(tp->e)) return WEFT_EDEADLK;
  weft__engine_flush_own_window(tp->e); /* submitted before this stop: cancelled by it */
  pthread_mutex_lock(&tp->mu);
  if (weft__load_relaxed(&tp->joined) && !tp->stop_pending) {
    pthread_mutex_unlock(&tp->mu);
    return WEFT_EQUIT;
  }
  tp->stop_pending = 0; /* ours to join now */
  /* Before the flag: a pool thread's lane kick that sees it cancels the
   * lane's waiting tasks at once, and those are this call's to report
   * (read after the store, such a kick's cancels fell into the baseline;
   * found by review, 1-2 runs in 100). */
  uint64_t lane_refused = weft__load_relaxed(&tp->lane_refused);
  /* relaxed: a lane hand-off that misses it runs its task, as one a pool
   * thread took just before the sweep (lane.c, lane_hand_off). */
  weft__store_relaxed(&tp->deadline_stop, 1);
  weft__store_relaxed(&tp->joined, 1);
  weft__store_relaxed(&tp->started, 0);
  weft__engine_set_limit(tp->e, 0); /* everything queued is cancelled: no hand-off */
  pthread_mutex_unlock(&tp->mu);
  uint64_t cancelled;
  int running;
  /* Clamped to ~31 years, so the nanoseconds fit in 64 bits. */
  uint64_t ms = (uint64_t)timeout_ms > 1000000000000u ? 1000000000000u : (uint64_t)timeout_ms;
  stopping_frame f;
  stopping_push(&f, tp);
  /* It joins the pool's threads too: a task waiting for this thread (as in
   * engine_stop_as) would keep its thread until the deadline, and leave it
   * running. Released the same way (WEFT_EDEADLK), it ends and is joined. */
  weft__engine_join_begin(tp->e);
  int r = weft__engine_stop_deadline(tp->e, ms * 1000000u, &cancelled, &running);
  weft__engine_join_end(tp->e);
  /* What waits in a lane behind a task still running is queued work too:
   * cancelled now, not when that task returns. The list only grows, at its
   * head, under mu: read the head under it, walk without it (user
   * callbacks run). */
  pthread_mutex_lock(&tp->mu);
  weft_lane *lanes = tp->lanes;
  pthread_mutex_unlock(&tp->mu);
  for (weft_lane *l = lanes; l; l = *weft__lane_next(l)) weft__lane_sweep(l);
  stopping_pop(&f);
  if (r == WEFT_ETIMEDOUT) {
    pthread_mutex_lock(&tp->mu);
    tp->stop_pending = 1;
    pthread_mutex_unlock(&tp->mu);
  }
  weft__node_flush(); /* nodes of cancelled tasks go home now */
  if (report) {
    /* The engine's cancels, and the lane tasks refused at a hand-off during
     * this call (they never reached the engine). */
    report->cancelled = cancelled + (weft__load_relaxed(&tp->lane_refused) - lane_refused);
    report->running = running;
  }
  return r;
}

WEFT_API int weft_threadpool_destroy(weft_threadpool *tp) {
  if (!tp) return WEFT_EINVAL;
  if (weft__engine_in_worker(tp->e)) return WEFT_EDEADLK;
  /* From a cancel callback of this pool's own stop or destroy. */
  if (stopping_here(tp)) return WEFT_EDEADLK;
  (void)weft_threadpool_stop(tp);
  weft__fork_unregister(&tp->fork_hook);
  /* Every thread is joined: no lane task can be inside its lane any more. */
  for (weft_lane *l = tp->lanes, *next; l; l = next) {
    next = *weft__lane_next(l);
    weft__lane_free(l);
  }
  stopping_frame f;
  stopping_push(&f, tp); /* engine_destroy cancels what is left */
  weft__engine_destroy(tp->e);
  stopping_pop(&f);
  pthread_mutex_destroy(&tp->mu);
  weft__free(tp->name);
  weft__affinity_free(tp->affinity);
  weft__free(tp);
  return WEFT_OK;
}

/* ------------------------------------------------------------- submitting */

static __attribute__((noinline)) void call_run_slow(weft__node *n, weft_fn fn, void *arg) {
  weft__node_put_in_worker_slow(n);
  fn(arg);
}

static void call_run(weft__task *t) {
  weft__node *n = (weft__node *)t;
  tp_call *c = payload(n);
  weft_fn fn = c->fn;
  void *arg = c->arg;
  /* The node goes back before fn runs: the pool keeps no reference to
   * fn/arg (Twisted case 34). Both ways end in a tail call, no frame.
   * Tasks run only on engine workers, whose loop flushes the batch
   * (node_cache.h). */
  if (WEFT_UNLIKELY(!weft__node_try_put_in_worker(n))) {
    call_run_slow(n, fn, arg);
    return;
  }
  fn(arg);
}

/* A call_in_thread task cancelled: its pool's log hook hears of it. */
static void call_cancelled(void *tp, int status) {
  tp_log(tp, status, "weft_threadpool_call_in_thread: task cancelled, never ran");
}

static void call_cancel(weft__task *t, int status) {
  weft__node *n = (weft__node *)t;
  weft_threadpool *tp = payload(n)->tp;
  weft__node_put(n);
  call_cancelled(tp, status);
}

static void callback_run(weft__task *t) {
  weft__node *n = (weft__node *)t;
  tp_callback c = *cb_payload(n);
  weft__node_put_in_worker(n); /* dropped before on_result (Twisted case 35) */
  void *result = NULL;
  int status = c.call(c.arg, &result);
  if (c.on_result) c.on_result(c.ctx_or_tp, status, result);
  else if (status < 0)
    tp_log(c.ctx_or_tp, status, "weft_threadpool_call_in_thread_with_callback: work failed");
}

static void callback_cancel(weft__task *t, int status) {
  weft__node *n = (weft__node *)t;
  tp_callback c = *cb_payload(n);
  weft__node_put(n);
  if (c.on_result) c.on_result(c.ctx_or_tp, status, NULL);
  else tp_log(c.ctx_or_tp, status, "weft_threadpool_call_in_thread_with_callback: task cancelled");
}

/* The uncommon ways of submit_node, out of line so that its fast path (a
 * foreign thread, accepted) needs no stack frame. */
static __attribute__((noinline)) int submit_node_refused(weft__node *n, int r) {
  weft__node_put(n);
  return r;
}

static __attribute__((noinline)) int submit_node_routed(weft_threadpool *tp, weft__node *n) {
  int r = weft__engine_submit_routed_fast(tp->e, &n->task);
  if (r != 0) weft__node_put(n);
  return r;
}

__attribute__((always_inline)) static inline int submit_node(weft_threadpool *tp,
                                                            weft__node *n) {
  /* A worker's own ring, or a submit window (lib/engine/thread_state.h). */
  if (WEFT_UNLIKELY(weft__tls.route != 0)) return submit_node_routed(tp, n);
  weft_assert_hot(n->task.cancel != NULL); /* engine.h: batches alone have none */
  int r = weft__engine_submit_foreign(tp->e, &n->task);
  if (WEFT_UNLIKELY(r != 0)) return submit_node_refused(n, r);
  return r;
}

static void call_cancel_in_context(weft__task *t, int status) {
  weft__context_call_cancel(t, status, call_cancelled);
}

/* A call whose thread routes its submits (submit_node_routed's case for
 * call_in_thread): with a current context the call's own node carries it
 * (lib/engine/context.h, weft__context_submit_call), a node and a run less
 * than wrapping it (`perf/callgrind.sh 100000 callctx`; docs/performance.md,
 * "Instructions per task"); the wrapper where the hooks table in effect has
 * no slot (call_unslotted). Each way is a tail call (no frame), and the
 * node is filled once, by the way taken. */
__attribute__((always_inline)) static inline void call_fill(weft_threadpool *tp, weft__node *n,
                                                           weft_fn fn, void *arg) {
  tp_set_ops(&n->task, &tp->call_ops); /* call_run, call_cancel */
  tp_call *c = payload(n);
  c->fn = fn;
  c->arg = arg;
  c->tp = tp;
}
static int call_unslotted(void *tp, weft__node *n, weft_fn fn, void *arg) {
  call_fill(tp, n, fn, arg);
  return submit_node_routed(tp, n);
}
static const weft__ctx_call_ops call_in_context_ops = {call_cancel_in_context, call_unslotted};
static __attribute__((noinline)) int call_submit_routed(weft_threadpool *tp, weft__node *n,
                                                        weft_fn fn, void *arg) {
  if (weft__context_active())
    return weft__context_submit_call(tp->e, n, fn, arg, tp, &call_in_context_ops);
  call_fill(tp, n, fn, arg);
  return submit_node_routed(tp, n);
}

__attribute__((always_inline)) static inline int call_submit(weft_threadpool *tp, weft__node *n,
                                                             weft_fn fn, void *arg) {
  /* As submit_node, with the context's own way on the routed side. */
  if (WEFT_UNLIKELY(weft__tls.route != 0)) return call_submit_routed(tp, n, fn, arg);
  call_fill(tp, n, fn, arg);
  int r = weft__engine_submit_foreign(tp->e, &n->task);
  if (WEFT_UNLIKELY(r != 0)) return submit_node_refused(n, r);
  return r;
}

int weft__threadpool_no_memory(weft_threadpool *tp) {
  return weft__engine_is_closed(tp->e) ? WEFT_EQUIT : WEFT_ENOMEM;
}

/* The node cache missed (first use, or a slab refill): kept out of line so
 * the fast path below makes no call that needs a stack frame. */
static __attribute__((noinline)) int call_in_thread_slow(weft_threadpool *tp, weft_fn fn,
                                                         void *arg) {
  weft__node *n = weft__node_get_slow();
  if (!n) return weft__threadpool_no_memory(tp);
  return call_submit(tp, n, fn, arg);
}

WEFT_API int weft_threadpool_call_in_thread(weft_threadpool *tp, weft_fn fn, void *arg) {
  if (WEFT_UNLIKELY(!tp) || WEFT_UNLIKELY(!fn)) return WEFT_EINVAL;
  weft__node *n = NULL; /* gcc -Og: maybe-uninitialized; no code at -O2 */
  if (WEFT_UNLIKELY(!weft__node_try_get(&n))) return call_in_thread_slow(tp, fn, arg);
  return call_submit(tp, n, fn, arg);
}

WEFT_API int weft_threadpool_call_in_thread_with_callback(weft_threadpool *tp,
                                                          weft_result_fn on_result, void *ctx,
                                                          weft_call_fn fn, void *arg) {
  if (!tp || !fn) return WEFT_EINVAL;
  weft__node *n = weft__node_get();
  if (!n) return weft__threadpool_no_memory(tp);
  n->task.run = callback_run;
  n->task.cancel = callback_cancel;
  tp_callback *c = cb_payload(n);
  c->call = fn;
  c->arg = arg;
  c->on_result = on_result;
  c->ctx_or_tp = on_result ? ctx : (void *)tp;
  return submit_node(tp, n);
}

static weft_work *work_of(weft__task *t) {
  return (weft_work *)(void *)((char *)t - offsetof(weft_work, weft_private_));
}

static __attribute__((noinline)) void work_run_after(weft_work *req, weft__work_private *p) {
  weft_after_work_cb after = weft__load_relaxed(&p->after);
  p->work(req);
  after(req, 0);
}

/* The request whose after_cb this thread runs to tell it that a cancel
 * took it (work_skip, queue_work_not_accepted: both off the accepted
 * path), NULL outside: a child forked inside that after_cb answers that
 * request's cancel as the parent does (cancel.c). Only compared, never
 * read through. */
static _Thread_local weft_work *tls_telling;

weft_work *weft__threadpool_telling(void) { return tls_telling; }

static void tell_cancelled(weft_work *req, weft_after_work_cb after) {
  weft_work *outer = tls_telling;
  tls_telling = req;
  after(req, WEFT_ECANCELED); /* req is the owner's from here */
  tls_telling = outer;
}

/* A cancel won the request (lib/engine/work_claim.h): it never runs; its
 * owner is told here, once. */
static __attribute__((noinline)) void work_skip(weft_work *req, weft__work_private *p) {
  weft_threadpool *tp = weft__work_owner(p);
  weft__engine_count_skipped(tp->e);
  weft_after_work_cb after = weft__load_relaxed(&p->after);
  if (after) tell_cancelled(req, after);
  else tp_log(tp, WEFT_ECANCELED, "weft_threadpool_queue_work: request cancelled, never ran");
}

static void work_run(weft__task *t) {
  weft_work *req = work_of(t);
  weft__work_private *p = weft__work_priv(req);
  if (WEFT_UNLIKELY(!weft__work_claim_start(p))) {
    work_skip(req, p);
    return;
  }
  /* Without after_cb: a bare tail call (req is the caller's again from
   * there), so the common fire-and-forget request costs no stack frame. */
  if (WEFT_LIKELY(weft__load_relaxed(&p->after) == NULL)) {
    p->work(req);
    return;
  }
  work_run_after(req, p);
}

static void work_cancel(weft__task *t, int status) {
  weft_work *req = work_of(t);
  weft__work_private *p = weft__work_priv(req);
  weft_threadpool *tp = weft__work_owner(p);
  /* Decided, before the owner hears of it: a weft_threadpool_cancel_work
   * after this (after a stop_timeout's sweep, say) answers WEFT_EALREADY,
   * not 0, which would promise a second after_cb (work_claim.h; one that
   * races this RMW and wins returns 0, and this after_cb is the one it
   * promised). */
  /* WEFT_EALREADY: a cancel_work had won it; the stop with a deadline
   * whose sweep may be telling it leaves it out of its report. */
  if (weft__work_claim_cancel(p) == WEFT_EALREADY) weft__engine_count_won_told(tp->e);
  weft_after_work_cb after = weft__load_relaxed(&p->after);
  if (after) after(req, status);
  else tp_log(tp, status, "weft_threadpool_queue_work: request cancelled, never ran");
}

/* queue_work refused req for a bad argument: a request that an earlier
 * queue_work left with its owner and claim (one that ran, being reused)
 * must not look queued to weft_threadpool_cancel_work, which answers
 * WEFT_EINVAL for it (weft/threadpool.h). */
static __attribute__((noinline, cold)) int queue_work_refused(weft_work *req) {
  weft__work_set_owner(weft__work_priv(req), NULL);
  return WEFT_EINVAL;
}

/* The engine refused req (closed, or no memory for a context's wrapper)
 * and left its mark on the task (lib/engine/task.h). A
 * weft_threadpool_cancel_work on another thread between queue_work's
 * set_owner and that mark found req queued (its claim clear, no mark) and
 * may have won the claim, answering 0: a promise of
 * after_cb(WEFT_ECANCELED) that no stop or worker would keep, since nothing
 * holds req (say a periodic request re-queued from its after_cb, cancelled
 * by a shutdown that races the pool's stop). This RMW
 * decides against such a cancel: before it, the cancel won, and req counts
 * as accepted and cancelled (the owner is told here, once); after it, the
 * cancel finds the claim taken and, seeing the mark, answers WEFT_EINVAL
 * (cancel.c). acq_rel: release publishes the mark to that later cancel
 * (its acquire load or failed CAS reads our write, then it reads the
 * mark: work_claim.h); acquire pairs with the CAS of a cancel that came
 * first. Off the accepted path: the refusal is the cold branch. */
static __attribute__((noinline, cold)) int queue_work_not_accepted(weft__task *t, int r) {
  weft_work *req = work_of(t);
  weft__work_private *p = weft__work_priv(req);
  uintptr_t old = weft__fetch_or_acq_rel(&p->owner, (uintptr_t)WEFT__WORK_CLAIMED);
  if ((old & WEFT__WORK_CANCELLED) == 0) return r;
  weft_after_work_cb after = weft__load_relaxed(&p->after);
  if (after) tell_cancelled(req, after);
  else
    tp_log(weft__work_owner(p), WEFT_ECANCELED,
           "weft_threadpool_queue_work: request cancelled, never ran");
  return WEFT_OK;
}

/* queue_work from a thread whose route is set (a worker, a submit window):
 * out of line, so that the foreign path below keeps no register across the
 * submit for the refusal. */
static __attribute__((noinline)) int queue_work_routed(weft__engine *e, weft__task *t) {
  int r = weft__engine_submit_routed(e, t);
  if (WEFT_UNLIKELY(r != 0)) return queue_work_not_accepted(t, r);
  return WEFT_OK;
}

WEFT_API int weft_threadpool_queue_work(weft_threadpool *tp, weft_work *req, weft_work_cb work,
                                        weft_after_work_cb after) {
  /* Three tests and branches: kept apart, gcc would combine two of them
   * with setcc/or (more instructions on the path that is always taken). */
  if (WEFT_UNLIKELY(!req)) return WEFT_EINVAL;
  if (WEFT_UNLIKELY(!tp)) return queue_work_refused(req);
  WEFT__KEEP_APART();
  if (WEFT_UNLIKELY(!work)) return queue_work_refused(req);
  weft__work_private *p = weft__work_priv(req);
  /* A refusal's mark (lib/engine/task.h) left by an earlier queue_work of
   * req goes: the ring and submit-window paths never write task.next, and
   * the mark names an engine by its address, which a later engine may
   * reuse; cancel_work would take this queued request for a refused one. */
  weft__store_relaxed(&p->task.next, NULL);
  tp_set_ops(&p->task, &tp->work_ops); /* work_run, work_cancel */
  p->work = work;
  weft__store_relaxed(&p->after, after);
  weft__work_set_owner(p, tp); /* claim clear: queued */
  /* weft__engine_submit, with the refusal handled here: each way out is a
   * tail call or a return, and the refusal branch comes before any call
   * (the task is still in a register there), so the accepted path saves
   * nothing for it (callgrind: work 95.8 with the test after an inlined
   * weft__engine_submit, 86.2 this way). */
  if (WEFT_UNLIKELY(weft__tls.route != 0)) return queue_work_routed(tp->e, &p->task);
  int r = weft__engine_submit_foreign(tp->e, &p->task);
  if (WEFT_UNLIKELY(r != 0)) return queue_work_not_accepted(&p->task, r);
  return WEFT_OK;
}

/* ---------------------------------------------------------------- sizing */

WEFT_API int weft_threadpool_adjust_poolsize(weft_threadpool *tp, int min_threads,
                                             int max_threads) {
  if (!tp) return WEFT_EINVAL;
  if (min_threads < WEFT_KEEP || max_threads < WEFT_KEEP) return WEFT_EINVAL;
  pthread_mutex_lock(&tp->mu);
  int min = min_threads == WEFT_KEEP ? weft__load_relaxed(&tp->min) : min_threads;
  int max = max_threads == WEFT_KEEP ? weft__load_relaxed(&tp->max) : max_threads;
  if (min > max) {
    pthread_mutex_unlock(&tp->mu);
    return WEFT_EINVAL;
  }
  if (max > WEFT_THREADPOOL_MAX_THREADS) max = WEFT_THREADPOOL_MAX_THREADS;
  if (min > max) min = max;
  weft__store_relaxed(&tp->min, min);
  weft__store_relaxed(&tp->max, max);
  tp_update_limit(tp);
  weft__engine_set_min(tp->e, min);
  /* The valve never cuts below max, and comes back down with it: raised
   * for good, a max taken up and down again left hard_threads 3 at 10 and
   * stand-ins past what the program allowed. */
  weft__store_relaxed(&tp->e->hard, tp->hard_base > max ? tp->hard_base : max);
  int r = WEFT_OK;
  if (weft__load_relaxed(&tp->started)) {
    /* A shrink debt an earlier call (or stop_a_worker) left on busy
     * workers is owed by threads that `live` still counts, so the resize
     * below would see no thread missing: what of it would take the pool
     * below the new min is forgiven (those threads stay), as the threads
     * min wants would be started. */
    weft__engine_forgive_debt(tp->e, min);
    r = resize_for_backlog_locked(tp);
  }
  pthread_mutex_unlock(&tp->mu);
  weft__engine_log_failures(tp->e); /* as in start: not under mu */
  return r;
}

WEFT_API int weft_threadpool_start_a_worker(weft_threadpool *tp) {
  if (!tp) return WEFT_EINVAL;
  if (weft__load_relaxed(&tp->joined)) return WEFT_EQUIT;
  int r = weft__engine_grow(tp->e, 1, WEFT__MADE_GROW);
  return r < 0 ? r : WEFT_OK;
}

WEFT_API int weft_threadpool_stop_a_worker(weft_threadpool *tp) {
  if (!tp) return WEFT_EINVAL;
  if (weft__load_relaxed(&tp->joined)) return WEFT_EQUIT;
  return weft__engine_shrink(tp->e, 1);
}

/* --------------------------------------------------------- introspection */

WEFT_API int weft_threadpool_min(const weft_threadpool *tp) {
  return tp ? weft__load_relaxed(&((weft_threadpool *)tp)->min) : WEFT_EINVAL;
}
WEFT_API int weft_threadpool_max(const weft_threadpool *tp) {
  return tp ? weft__load_relaxed(&((weft_threadpool *)tp)->max) : WEFT_EINVAL;
}
WEFT_API int weft_threadpool_workers(weft_threadpool *tp) {
  return tp ? weft__engine_live(tp->e) : WEFT_EINVAL;
}
WEFT_API int weft_threadpool_working(weft_threadpool *tp) {
  return tp ? weft__engine_busy(tp->e) : WEFT_EINVAL;
}
WEFT_API int weft_threadpool_waiters(weft_threadpool *tp) {
  if (!tp) return WEFT_EINVAL;
  int idle = weft__engine_live(tp->e) - weft__engine_busy(tp->e);
  return idle > 0 ? idle : 0;
}
WEFT_API long weft_threadpool_queue_size(weft_threadpool *tp) {
  return tp ? (long)weft__engine_backlog(tp->e) : WEFT_EINVAL;
}
WEFT_API int weft_threadpool_started(const weft_threadpool *tp) {
  return tp ? weft__load_relaxed(&((weft_threadpool *)tp)->started) : WEFT_EINVAL;
}
WEFT_API int weft_threadpool_joined(const weft_threadpool *tp) {
  return tp ? weft__load_relaxed(&((weft_threadpool *)tp)->joined) : WEFT_EINVAL;
}
WEFT_API int weft_threadpool_threads_created(const weft_threadpool *tp) {
  if (!tp) return WEFT_EINVAL;
  /* Saturated: cast, a count past INT_MAX read as a (negative) error. */
  uint64_t n = weft__load_relaxed(&tp->e->spawns);
  return n > (uint64_t)INT_MAX ? INT_MAX : (int)n;
}

WEFT_API int weft_threadpool_counters_get(weft_threadpool *tp, weft_threadpool_counters *out) {
  if (!tp || !out) return WEFT_EINVAL;
  weft__engine_counters c;
  weft__engine_counters_get(tp->e, &c);
  out->submitted = c.submitted;
  out->executed = c.executed;
  out->cancelled = c.cancelled;
  out->steals = c.steals;
  out->stolen = c.stolen;
  out->parks = c.parks;
  out->unparks = c.unparks;
  out->spawns = c.spawns;
  out->spawn_failures = c.spawn_failures;
  return WEFT_OK;
}

WEFT_API int weft_threadpool_stats_get(weft_threadpool *tp, weft_threadpool_stats *out) {
  if (!tp || !out) return WEFT_EINVAL;
  memset(out, 0, sizeof *out);
  weft__engine *e = tp->e;
  out->threads = weft__engine_live(e);
  /* Clamped to this snapshot of the count: weft__engine_busy clamps to its
   * own, later read, and threads started between the two made idle
   * negative (found by review: threads 0, busy 2). */
  out->busy = weft__engine_busy(e);
  if (out->busy > out->threads) out->busy = out->threads;
  out->idle = out->threads - out->busy;
  out->blocked = weft__load_relaxed(&e->blocked);
  out->grants = weft__load_relaxed(&e->grants);
  out->min = weft__load_relaxed(&tp->min);
  out->max = weft__load_relaxed(&tp->max);
  out->hard = weft__load_relaxed(&e->hard);
  out->backlog = (long)weft__engine_backlog(e);
  out->keep_alive_ms = (unsigned)(weft__load_relaxed(&e->keep_alive_ns) / 1000000u);
  out->created_demand = weft__load_relaxed(&e->made[WEFT__MADE_DEMAND]);
  out->created_grow = weft__load_relaxed(&e->made[WEFT__MADE_GROW]);
  out->created_blocked = weft__load_relaxed(&e->made[WEFT__MADE_BLOCKED]);
  out->created_stall = weft__load_relaxed(&e->made[WEFT__MADE_STALL]);
  out->exited_keepalive = weft__load_relaxed(&e->left[WEFT__LEFT_KEEPALIVE]);
  out->exited_shrink = weft__load_relaxed(&e->left[WEFT__LEFT_SHRINK]);
  out->exited_shutdown = weft__load_relaxed(&e->left[WEFT__LEFT_SHUTDOWN]);
  out->create_failures = weft__load_relaxed(&e->spawn_failures);
  out->valve_hits = weft__load_relaxed(&e->valve_hits);
  out->brakes = weft__load_relaxed(&e->brakes);
  out->monitor_ticks = weft__load_relaxed(&e->monitor_ticks);
  out->heap_trims = weft__load_relaxed(&e->heap_trims);
  return WEFT_OK;
}

typedef void (*line_sink)(void *ctx, const char *line);

static void dump(weft_threadpool *tp, line_sink sink, void *ctx) {
  char line[512];
  weft_threadpool_counters c = {0};
  weft_threadpool_counters_get(tp, &c);
  snprintf(line, sizeof line, "waiters: %d", weft_threadpool_waiters(tp));
  sink(ctx, line);
  snprintf(line, sizeof line, "workers: %d", weft_threadpool_working(tp));
  sink(ctx, line);
  snprintf(line, sizeof line, "total: %d", weft_threadpool_threads_created(tp));
  sink(ctx, line);
  snprintf(line, sizeof line,
           "engine: submitted=%llu executed=%llu cancelled=%llu steals=%llu stolen=%llu "
           "parks=%llu unparks=%llu spawns=%llu spawn_failures=%llu backlog=%ld",
           (unsigned long long)c.submitted, (unsigned long long)c.executed,
           (unsigned long long)c.cancelled, (unsigned long long)c.steals,
           (unsigned long long)c.stolen, (unsigned long long)c.parks,
           (unsigned long long)c.unparks, (unsigned long long)c.spawns,
           (unsigned long long)c.spawn_failures, weft_threadpool_queue_size(tp));
  sink(ctx, line);
  weft_threadpool_stats st;
  weft_threadpool_stats_get(tp, &st);
  snprintf(line, sizeof line,
           "elastic: threads=%d idle=%d busy=%d blocked=%d grants=%d min=%d max=%d hard=%d "
           "keep_alive_ms=%u created=%llu/%llu/%llu/%llu (demand/grow/blocked/stall) "
           "exited=%llu/%llu/%llu (keepalive/shrink/shutdown) create_failures=%llu "
           "valve_hits=%llu brakes=%llu monitor_ticks=%llu heap_trims=%llu",
           st.threads, st.idle, st.busy, st.blocked, st.grants, st.min, st.max, st.hard,
           st.keep_alive_ms, (unsigned long long)st.created_demand,
           (unsigned long long)st.created_grow, (unsigned long long)st.created_blocked,
           (unsigned long long)st.created_stall, (unsigned long long)st.exited_keepalive,
           (unsigned long long)st.exited_shrink, (unsigned long long)st.exited_shutdown,
           (unsigned long long)st.create_failures, (unsigned long long)st.valve_hits,
           (unsigned long long)st.brakes, (unsigned long long)st.monitor_ticks,
           (unsigned long long)st.heap_trims);
  sink(ctx, line);
  weft__threadpool_dump_workers(tp, sink, ctx);
}

static void file_sink(void *ctx, const char *line) { fprintf((FILE *)ctx, "%s\n", line); }

WEFT_API int weft_threadpool_dump_stats(weft_threadpool *tp, FILE *out) {
  if (!tp || !out) return WEFT_EINVAL;
  dump(tp, file_sink, out);
  return WEFT_OK;
}

WEFT_API int weft_threadpool_dump_stats_log(weft_threadpool *tp, weft_log_line_fn fn, void *ctx) {
  if (!tp || !fn) return WEFT_EINVAL;
  dump(tp, fn, ctx);
  return WEFT_OK;
}

weft__engine *weft__threadpool_engine(const weft_threadpool *tp) { return tp->e; }

bool weft__threadpool_fork_copy(const weft_threadpool *tp) {
  return weft__load_relaxed(&tp->fork_copy) != 0;
}

void weft__threadpool_log(weft_threadpool *tp, int err, const char *what) { tp_log(tp, err, what); }

int weft__threadpool_deadline_stop(const weft_threadpool *tp) {
  return weft__load_relaxed(&((weft_threadpool *)tp)->deadline_stop);
}

void weft__threadpool_count_lane_refused(weft_threadpool *tp) {
  weft__fetch_add_relaxed(&tp->lane_refused, 1);
}

int weft__threadpool_add_lane(weft_threadpool *tp, weft_lane *l) {
  pthread_mutex_lock(&tp->mu);
  int joined = weft__load_relaxed(&tp->joined);
  if (!joined) {
    *weft__lane_next(l) = tp->lanes;
    tp->lanes = l;
  }
  pthread_mutex_unlock(&tp->mu);
  return joined ? WEFT_EQUIT : WEFT_OK;
}

WEFT_API int weft_threadpool_in_pool_thread(const weft_threadpool *tp) {
  return tp && weft__engine_in_worker(tp->e) ? 1 : 0;
}

/* ------------------------------------------------------------------ fork */

/* lib/base/fork.h: the prepare handler holds tp->mu across a fork (before
 * the engine's mutex: start and adjust_poolsize take them in that order).
 * In the child the pool's threads do not exist: the pool counts as stopped
 * and joined (start, stop, start_a_worker and stop_a_worker return
 * WEFT_EQUIT, as its closed engine does to submits; adjust_poolsize records
 * the sizes and starts nothing), the tasks waiting in its lanes are the
 * parent's (forgotten here), and destroy frees it without joining. */
static weft_threadpool *tp_of_hook(weft__fork_hook *h) {
  return (weft_threadpool *)(void *)((char *)h - offsetof(weft_threadpool, fork_hook));
}
static void tp_fork_prepare(weft__fork_hook *h) { pthread_mutex_lock(&tp_of_hook(h)->mu); }
static void tp_fork_parent(weft__fork_hook *h) { pthread_mutex_unlock(&tp_of_hook(h)->mu); }
static void tp_fork_child(weft__fork_hook *h) {
  weft_threadpool *tp = tp_of_hook(h);
  pthread_mutex_unlock(&tp->mu);
  weft__store_relaxed(&tp->joined, 1); /* the child's only thread: relaxed */
  weft__store_relaxed(&tp->started, 0);
  tp->stop_pending = 0; /* the parent's stop_timeout left threads the child has not */
  weft__store_relaxed(&tp->fork_copy, 1);
  for (weft_lane *l = tp->lanes; l; l = *weft__lane_next(l)) weft__lane_fork_child(l);
}
static int tp_fork_register(weft_threadpool *tp) {
  tp->fork_hook.rank = WEFT__FORK_RANK_POOL;
  tp->fork_hook.prepare = tp_fork_prepare;
  tp->fork_hook.parent = tp_fork_parent;
  tp->fork_hook.child = tp_fork_child;
  return weft__fork_register(&tp->fork_hook);
}
