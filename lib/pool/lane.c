/*
 * weft — lanes (weft/lane.h): classes of work in one ThreadPool, each
 * holding at most `limit` of the pool's threads.
 *
 * Contract
 *   submit (weft_lane_call_in_thread*): any thread, concurrently, pool
 *     threads and lane tasks included. Wait-free when the lane has room
 *     (one add on the lane's count, then the pool's own submit); when it is
 *     full, one add, one MPSC push (lib/engine/mpsc.h) and the kick below.
 *   finish (a lane task returns, or is cancelled): one subtract; when tasks
 *     wait, one add and the kick.
 *   kick: lock-free; the thread that holds the baton hands waiting tasks to
 *     the pool, the others leave them to it. A baton holder that finds the
 *     first waiting task's producer between its two push steps (WOULDBLOCK)
 *     spins until it links (two adjacent stores, no user code between them).
 *   close / stats: any thread.
 *
 * The admission protocol (models/lane.pml checks it, with mutants):
 *   n     tasks of the lane admitted (handed to the pool, or owed a hand-off)
 *         or waiting; never decremented below 0.
 *   due   hand-offs owed to waiting tasks and not yet made.
 *   baton 1 while a thread pops the waiting queue (its single consumer).
 *
 *   submit:  if fetch_add(n, 1) < limit, the task is admitted: pool submit.
 *            Else push it on `waiting`, then kick.
 *   finish:  if fetch_sub(n, 1) > limit, a waiting task (pushed, or about to
 *            be: its submitter counted itself before our subtract) takes
 *            the slot: due += 1, then kick.
 *   kick:    loop { fence; if due == 0 or nothing linked in waiting: return;
 *            take the baton (CAS 0 -> 1) or return; while due > 0 and a task
 *            pops: due -= 1, hand it to the pool; release the baton }.
 *   Hence the number of the lane's tasks in the pool (queued or running) is
 *   min(n, limit) minus hand-offs in progress: never more than limit
 *   (invariant: admitted = min(n, limit) after every step of submit and
 *   finish). The lost-wake-up race (a submitter queues because the lane is
 *   full while the last running task sees no waiting task and leaves) is the
 *   Dekker pair below: the submitter's link store and the finisher's due add
 *   are each followed by a seq_cst fence and a load of the other, so at least
 *   one of them sees both and kicks; a kick that loses the baton CAS leaves
 *   its work to the holder, which loops again after its release (the same
 *   pair between the release and the loser's write).
 *   FIFO: waiting tasks are handed to the pool in push order. A submit is
 *   admitted directly only when n < limit, so no task waits unowed then (n
 *   counts an owed task until it finishes); it can overtake an owed task
 *   whose hand-off is still in progress only when two of the lane's tasks
 *   finish meanwhile, so never with limit 1: the lane's tasks then run one
 *   at a time, in submission order (from one submitter).
 *
 * Stop: a hand-off made on one of the pool's threads goes to that thread's
 * ring even once a stop has closed the pool (weft__engine_submit_continuation:
 * the thread runs its ring before it can exit), so weft_threadpool_stop runs
 * what waits in a lane, one slot at a time, as it runs the pool's own queue.
 * A hand-off the pool refuses (stop_timeout, or made on another thread while
 * the pool is closed: the stopping thread cancelling the pool's queue, a
 * submit racing the stop) cancels the task here (its owner is told
 * WEFT_ECANCELED) and frees its slot, which hands off the next one: nothing
 * is dropped silently. stop_timeout also sweeps each lane
 * (weft__lane_sweep): with its flag set, a kick cancels every waiting
 * task, owed or not, so the tasks waiting behind one that outlives the
 * deadline are cancelled by the stop, not when that task returns (an
 * un-owed one gives back the due its cancel's release adds; models/lane.pml
 * -DSWEEP, with two mutants).
 *
 * Context (weft/context.h): a task submitted by a thread with a current
 * context is wrapped at the lane's door (lane_submit_in_context), because a
 * waiting task is handed to the pool by another thread, in whatever context
 * that thread's own task has; hand-offs and a wrapped task's admission
 * submit untagged, so nothing captures a second context.
 *
 * Lifetime: a lane belongs to its pool (threadpool.c links it, and frees it
 * after the pool's threads are joined): a finishing task may still be in the
 * kick after it gave its slot back, so the lane cannot be freed while the
 * pool runs; weft_lane_close only refuses new work.
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "engine/context.h"
#include "engine/engine.h"
#include "engine/mpsc.h"
#include "engine/node_cache.h"
#include "engine/observer.h"
#include "pool/lane_impl.h"
#include "pool/threadpool_impl.h"
#include "weft/lane.h"

struct weft_lane {
  /* The waiting queue first: weft__mpsc is cache-aligned (its head and tail
   * on lines of their own). */
  weft__mpsc waiting;
  /* The counters every lane task touches, on their own line. */
  WEFT_CACHE_ALIGNED _Atomic long n;
  _Atomic long due;
  _Atomic int baton;
  _Atomic int running, peak;
  _Atomic uint64_t submitted, completed, cancelled;
  /* Read-only after create (closed: set once). */
  WEFT_CACHE_ALIGNED weft_threadpool *tp;
  weft__engine *e;
  int limit;
  _Atomic int closed;
  /* Set in a fork child only, by its only thread (weft__lane_fork_child):
   * a plain bool, never written where another thread could read it. */
  bool fork_copy;
  char *name;
  weft_lane *next_in_pool; /* threadpool.c's list, under the pool's mutex */
};

/* The payloads of a lane task's node (weft__node.data: four words). A
 * callback task needs five: on_result and ctx go in a second node. */
typedef struct lane_call {
  weft_fn fn;
  void *arg;
  weft_lane *lane;
} lane_call;
typedef struct lane_callback {
  weft_call_fn call;
  void *arg;
  weft_lane *lane;
  weft__node *result; /* holds a lane_result; NULL without on_result */
} lane_callback;
typedef struct lane_result {
  weft_result_fn on_result;
  void *ctx;
} lane_result;
_Static_assert(sizeof(lane_call) <= sizeof(((weft__node *)0)->data), "node payload too small");
_Static_assert(sizeof(lane_callback) <= sizeof(((weft__node *)0)->data), "node payload too small");
_Static_assert(sizeof(lane_result) <= sizeof(((weft__node *)0)->data), "node payload too small");

static lane_call *call_of(weft__node *n) { return (lane_call *)(void *)n->data; }
static lane_callback *callback_of(weft__node *n) { return (lane_callback *)(void *)n->data; }
static lane_result *result_of(weft__node *n) { return (lane_result *)(void *)n->data; }

/* ------------------------------------------------------------- admission */

static void lane_kick(weft_lane *l, bool finishing);

/* Give the pool a waiting task. On one of the pool's threads (a lane task
 * finishing, or submitting) the task continues that thread's work: its ring
 * takes it even while a stop closes the pool, and the thread runs it before
 * it can exit, so weft_threadpool_stop runs what waits in a lane as it runs
 * the pool's own queue. next: a finishing task's first hand-off, which the
 * thread runs right after (no other thread is woken for it; the slot passes
 * from one task of the lane to the next on the same thread). Elsewhere, or
 * during a stop_timeout, a stopping pool refuses it and it is cancelled
 * here: its cancel callback tells the owner and frees the slot
 * (lane_release), which hands off the next one. */
static void lane_hand_off(weft_lane *l, weft__task *t, bool next) {
  int r;
  if (weft__engine_in_worker(l->e) && !weft__threadpool_deadline_stop(l->tp))
    r = weft__engine_submit_continuation(l->e, t, next);
  else
    r = weft__engine_submit_untagged(l->e, t); /* t carries its submitter's context */
  if (r != 0) {
    weft__threadpool_count_lane_refused(l->tp);
    /* This thread may be inside another task's context (the task that just
     * finished or was cancelled, or a submitter's): t was submitted in its
     * own, or in none. A destroy from its callback is refused: we go on
     * with the lane when it returns. */
    weft__threadpool_cancel_lane_task(l->tp, t);
  }
}

/* A task of the lane has finished (ran: finishing) or was cancelled: its
 * slot goes to the next waiting task, if any. */
static void lane_release(weft_lane *l, bool finishing) {
  /* acq_rel: the counter's modification order is the admission order; the
   * task's writes happen before the next task's admission, which acquires
   * here (in the kick or the submit that reads our value). */
  long before = weft__fetch_sub_acq_rel(&l->n, 1);
  if (before <= l->limit) return; /* nobody waits for this slot */
  /* seq_cst: our due add is the finisher's half of the Dekker pair with a
   * submitter's link store (the kick's fence follows it). */
  weft__fetch_add_seq_cst(&l->due, 1);
  lane_kick(l, finishing);
}

/* A stop_timeout is under way (or done): the kick cancels every waiting
 * task, owed or not (weft__lane_sweep). Relaxed: the stopper stores the
 * flag before its own kick's seq_cst fence, and a submitter's kick loads
 * it after its link store and that same fence: of the two, one sees the
 * other's write (store-buffering with fences), so a task pushed while the
 * stopper sweeps is cancelled by one of them. */
static bool lane_sweeping(const weft_lane *l) {
  return weft__threadpool_deadline_stop(l->tp);
}

/* Hand waiting tasks to the pool while hand-offs are owed (module comment);
 * under a stop_timeout's sweep, cancel all of them. finishing: called by a
 * task that ran and is returning (lane_release). */
static void lane_kick(weft_lane *l, bool finishing) {
  for (;;) {
    /* Orders our write (a submitter's link store, a finisher's due add, or
     * the holder's baton release) before the loads of due, the queue and
     * the baton: pairs with this same fence in the other party's kick (the
     * Dekker pair of the module comment). */
    weft__fence_seq_cst();
    if (weft__load_relaxed(&l->due) <= 0 && !lane_sweeping(l)) return;
    if (!weft__mpsc_has_visible(&l->waiting)) return; /* its producer kicks after linking */
    int free_baton = 0;
    /* acquire: the previous holder's pops (head.next stores) happen before
     * ours; pairs with its release store below. */
    if (!weft__cas_acquire(&l->baton, &free_baton, 1)) return; /* the holder loops again */
    bool wouldblock = false;
    for (;;) {
      bool owed = weft__load_relaxed(&l->due) > 0;
      if (!owed && !lane_sweeping(l)) break;
      weft__task *t = weft__mpsc_pop(&l->waiting);
      if (t == NULL) break;
      if (t == WEFT__MPSC_WOULDBLOCK) {
        wouldblock = true;
        break;
      }
      if (owed) {
        weft__fetch_sub_relaxed(&l->due, 1); /* only the baton holder subtracts */
        lane_hand_off(l, t, finishing); /* under the sweep: refused, cancelled */
        finishing = false; /* a second one goes to another thread */
      } else {
        /* The sweep, and t holds no slot: cancel it. Its cancel callback
         * releases as for a slot (n down, and a due for the next waiting
         * task, since n was above the limit); t had none, so that due is
         * taken back. If instead another task's release made t the owed
         * one and has yet to add its due, due dips below 0 until it does
         * (a signed count; nothing hands off on due <= 0).
         * models/lane.pml -DSWEEP checks this. */
        weft__threadpool_count_lane_refused(l->tp);
        weft__threadpool_cancel_lane_task(l->tp, t); /* as in lane_hand_off */
        weft__fetch_sub_relaxed(&l->due, 1);
      }
    }
    /* seq_cst store (release and more): our pops happen before the next
     * holder's (pairs with its acquire CAS), and the store is the holder's
     * half of the Dekker pair with a loser's write (the fence above, next
     * iteration). */
    weft__store_seq_cst(&l->baton, 0);
    if (wouldblock) sched_yield(); /* a producer is between its two push steps */
  }
}

/* Accept t into the lane (t's run and cancel are set; wrapped: t already
 * carries the submitter's context, so no submit may capture another). */
static int lane_accept(weft_lane *l, weft__task *t, bool wrapped) {
  weft__fetch_add_relaxed(&l->submitted, 1); /* statistics */
  /* acq_rel: see lane_release. */
  long before = weft__fetch_add_acq_rel(&l->n, 1);
  if (WEFT_LIKELY(before < l->limit)) {
    int r = wrapped ? weft__engine_submit_untagged(l->e, t) : weft__engine_submit(l->e, t);
    if (WEFT_UNLIKELY(r != 0)) { /* the pool stopped: not accepted */
      weft__fetch_sub_relaxed(&l->submitted, 1);
      lane_release(l, false);
    }
    return r;
  }
  weft__observe(WEFT__EVENT_LANE_COUNTED); /* test_lanes holds us here */
  /* The link store inside push is the submitter's half of the Dekker pair
   * (the kick's fence follows it). */
  weft__mpsc_push(&l->waiting, t);
  lane_kick(l, false);
  return WEFT_OK;
}

static int lane_refuses(const weft_lane *l);

/* No node for a submit (the task's, its result's or its context's
 * wrapper): a lane that refuses now, closed or its pool stopped since the
 * door's look (weft_lane_call_in_thread), answers WEFT_EQUIT, as it does
 * with memory (weft/lane.h; the pool's weft__threadpool_no_memory), else
 * WEFT_ENOMEM (test_fault_alloc
 * lane_submit_out_of_memory_on_a_stopped_pool_answers_equit: a stop that
 * closes the pool while the node is sought). */
static int lane_no_memory(const weft_lane *l) {
  return lane_refuses(l) ? WEFT_EQUIT : WEFT_ENOMEM;
}

/* The submitter has a current context (weft/context.h): the task carries it
 * from here, wrapped, since a waiting task is handed to the pool later by
 * another thread, in that thread's context. */
static __attribute__((noinline)) int lane_submit_in_context(weft_lane *l, weft__task *t) {
  weft__task *w = weft__context_wrap(t);
  if (!w) return lane_no_memory(l);
  int r = lane_accept(l, w, true);
  if (r != 0) (void)weft__context_unwrap(w);
  return r;
}

static int lane_submit(weft_lane *l, weft__task *t) {
  if (WEFT_UNLIKELY(weft__context_active())) return lane_submit_in_context(l, t);
  return lane_accept(l, t, false);
}

/* --------------------------------------------------------- running a task */

/* The lane tasks this thread is running, innermost first: frames on the
 * running tasks' stacks, linked from lane_enter to lane_leave. Read only by
 * this thread, in a fork's child handler (weft__lane_fork_child), to tell
 * the forking thread's own lane task from the parent's other threads'. */
typedef struct lane_frame {
  weft_lane *lane;
  struct lane_frame *up;
} lane_frame;
static _Thread_local lane_frame *tls_lane_frames __attribute__((tls_model("initial-exec")));

/* In a fork child, every task of the lane that starts or is cancelled is
 * one of the parent's, which the child's books count as never submitted
 * (weft__lane_fork_child): the forking thread went on with it after a fork
 * made before its lane_enter, in the enter hook of the context it captured
 * (weft/context.h), for its run or its cancel. The child's from here on:
 * counted as submitted, so that submitted == completed + cancelled +
 * running holds there (weft/lane.h). A child's closed pool accepts no
 * submit, so no other task can get here. */
static void lane_adopt_in_child(weft_lane *l) {
  if (WEFT_UNLIKELY(l->fork_copy)) weft__fetch_add_relaxed(&l->submitted, 1); /* statistics */
}

static void lane_enter(weft_lane *l, lane_frame *f) {
  lane_adopt_in_child(l);
  f->lane = l;
  f->up = tls_lane_frames;
  tls_lane_frames = f;
  int now = weft__fetch_add_relaxed(&l->running, 1) + 1; /* statistics */
  int peak = weft__load_relaxed(&l->peak);
  while (now > peak && !weft__cas_relaxed(&l->peak, &peak, now)) {
  }
}

static void lane_leave(weft_lane *l, lane_frame *f) {
  tls_lane_frames = f->up;
  weft__fetch_sub_relaxed(&l->running, 1);
  weft__fetch_add_relaxed(&l->completed, 1);
  lane_release(l, true);
}

static void lane_log(weft_lane *l, int err, const char *what) {
  char line[256];
  snprintf(line, sizeof line, "%s (lane %s)", what, l->name);
  weft__threadpool_log(l->tp, err, line);
}

static void lane_call_run(weft__task *t) {
  weft__node *n = (weft__node *)t;
  lane_call c = *call_of(n);
  weft__node_put_in_worker(n); /* the pool keeps no reference to fn/arg */
  lane_frame f;
  lane_enter(c.lane, &f);
  c.fn(c.arg);
  lane_leave(c.lane, &f);
}

static void lane_call_cancel(weft__task *t, int status) {
  weft__node *n = (weft__node *)t;
  weft_lane *l = call_of(n)->lane;
  weft__node_put(n);
  lane_adopt_in_child(l);
  weft__fetch_add_relaxed(&l->cancelled, 1); /* statistics */
  lane_log(l, status, "weft_lane_call_in_thread: task cancelled, never ran");
  lane_release(l, false);
}

static void lane_callback_run(weft__task *t) {
  weft__node *n = (weft__node *)t;
  lane_callback c = *callback_of(n);
  weft__node_put_in_worker(n); /* dropped before on_result (Twisted case 35) */
  lane_result res = {NULL, NULL};
  if (c.result) {
    res = *result_of(c.result);
    weft__node_put_in_worker(c.result);
  }
  lane_frame f;
  lane_enter(c.lane, &f);
  void *value = NULL;
  int status = c.call(c.arg, &value);
  if (res.on_result) res.on_result(res.ctx, status, value);
  else if (status < 0)
    lane_log(c.lane, status, "weft_lane_call_in_thread_with_callback: work failed");
  lane_leave(c.lane, &f);
}

static void lane_callback_cancel(weft__task *t, int status) {
  weft__node *n = (weft__node *)t;
  lane_callback c = *callback_of(n);
  weft__node_put(n);
  lane_result res = {NULL, NULL};
  if (c.result) {
    res = *result_of(c.result);
    weft__node_put(c.result);
  }
  lane_adopt_in_child(c.lane);
  weft__fetch_add_relaxed(&c.lane->cancelled, 1); /* statistics */
  if (res.on_result) res.on_result(res.ctx, status, NULL);
  else lane_log(c.lane, status, "weft_lane_call_in_thread_with_callback: task cancelled");
  lane_release(c.lane, false);
}

/* -------------------------------------------------------------------- API */

/* Refused at the door: closed, or its pool stopped (the engine would refuse
 * a direct submit anyway; a waiting task would be cancelled). */
static int lane_refuses(const weft_lane *l) {
  return weft__load_relaxed(&((weft_lane *)l)->closed) ||
         weft__load_relaxed(&l->e->closed);
}

WEFT_API void weft_lane_options_init(weft_lane_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->limit = 1;
}

WEFT_API int weft_lane_create(weft_threadpool *tp, const weft_lane_options *o, weft_lane **out) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  if (!tp || !o || o->limit < 1) return WEFT_EINVAL;
  weft_lane *l = weft__calloc_aligned(sizeof *l);
  if (!l) return weft__threadpool_no_memory(tp); /* stopped: WEFT_EQUIT, as with memory */
  char buf[32];
  const char *name = o->name;
  if (!name || !*name) {
    snprintf(buf, sizeof buf, "%p", (void *)l);
    name = buf;
  }
  l->name = weft__strdup(name);
  if (!l->name) {
    weft__free_aligned(l);
    return weft__threadpool_no_memory(tp);
  }
  weft__mpsc_init(&l->waiting);
  l->tp = tp;
  l->e = weft__threadpool_engine(tp);
  l->limit = o->limit;
  int r = weft__threadpool_add_lane(tp, l); /* publishes l under the pool's mutex */
  if (r != 0) {
    weft__lane_free(l);
    return r;
  }
  *out = l;
  return WEFT_OK;
}

WEFT_API int weft_lane_call_in_thread(weft_lane *lane, weft_fn fn, void *arg) {
  if (!lane || !fn) return WEFT_EINVAL;
  if (lane_refuses(lane)) return WEFT_EQUIT;
  weft__node *n = weft__node_get();
  if (!n) return lane_no_memory(lane);
  n->task.run = lane_call_run;
  n->task.cancel = lane_call_cancel;
  lane_call *c = call_of(n);
  c->fn = fn;
  c->arg = arg;
  c->lane = lane;
  int r = lane_submit(lane, &n->task);
  if (r != 0) weft__node_put(n);
  return r;
}

WEFT_API int weft_lane_call_in_thread_with_callback(weft_lane *lane, weft_result_fn on_result,
                                                    void *ctx, weft_call_fn fn, void *arg) {
  if (!lane || !fn) return WEFT_EINVAL;
  if (lane_refuses(lane)) return WEFT_EQUIT;
  weft__node *n = weft__node_get();
  if (!n) return lane_no_memory(lane);
  weft__node *res = NULL;
  if (on_result) {
    res = weft__node_get();
    if (!res) {
      weft__node_put(n);
      return lane_no_memory(lane);
    }
    result_of(res)->on_result = on_result;
    result_of(res)->ctx = ctx;
  }
  n->task.run = lane_callback_run;
  n->task.cancel = lane_callback_cancel;
  lane_callback *c = callback_of(n);
  c->call = fn;
  c->arg = arg;
  c->lane = lane;
  c->result = res;
  int r = lane_submit(lane, &n->task);
  if (r != 0) {
    weft__node_put(n);
    if (res) weft__node_put(res);
  }
  return r;
}

WEFT_API int weft_lane_close(weft_lane *lane) {
  if (!lane) return WEFT_EINVAL;
  /* relaxed: a submit that misses the flag is accepted, as one made just
   * before the close. */
  return weft__xchg_relaxed(&lane->closed, 1) ? WEFT_EQUIT : WEFT_OK;
}

WEFT_API int weft_lane_stats_get(const weft_lane *lane, weft_lane_stats *out) {
  if (!lane || !out) return WEFT_EINVAL;
  weft_lane *l = (weft_lane *)lane;
  memset(out, 0, sizeof *out);
  out->limit = l->limit;
  out->running = weft__load_relaxed(&l->running);
  out->peak_running = weft__load_relaxed(&l->peak);
  long n = weft__load_relaxed(&l->n);
  out->queued = n > l->limit ? n - l->limit : 0;
  out->submitted = weft__load_relaxed(&l->submitted);
  out->completed = weft__load_relaxed(&l->completed);
  out->cancelled = weft__load_relaxed(&l->cancelled);
  return WEFT_OK;
}

WEFT_API const char *weft_lane_name(const weft_lane *lane) { return lane ? lane->name : NULL; }

/* ------------------------------------------------- the pool's side (lane_impl.h) */

weft_lane **weft__lane_next(weft_lane *l) { return &l->next_in_pool; }

void weft__lane_sweep(weft_lane *l) { lane_kick(l, false); }

void weft__lane_fork_child(weft_lane *l) {
  /* The child's only thread: relaxed stores, nobody else to see them. The
   * admitted count keeps the running tasks (the forking one may release
   * its slot here; the others never will), not the waiting ones. */
  weft__mpsc_init(&l->waiting);
  long n = weft__load_relaxed(&l->n);
  if (n > l->limit) weft__store_relaxed(&l->n, (long)l->limit);
  weft__store_relaxed(&l->due, 0);
  weft__store_relaxed(&l->baton, 0);
  /* The statistics' books: the lane's tasks running on the parent's other
   * threads, queued in the pool or waiting here are the parent's; in the
   * child they will neither complete nor be cancelled. Running: only the
   * forking thread's own (its lane_leave here counts it completed);
   * submitted: what the child's books can close, completed + cancelled +
   * those, so that at quiescence submitted == completed + cancelled
   * (weft/lane.h). Counted from the books, not adjusted from `running`:
   * another thread may have been between two of its counts at the fork. */
  int mine = 0;
  for (lane_frame *f = tls_lane_frames; f; f = f->up)
    if (f->lane == l) mine++;
  weft__store_relaxed(&l->running, mine);
  weft__store_relaxed(&l->submitted, weft__load_relaxed(&l->completed) +
                                         weft__load_relaxed(&l->cancelled) + (uint64_t)mine);
  /* A task this thread goes on with that it had not entered yet (it forked
   * in the enter hook of the task's context) is counted when it starts or
   * is cancelled (lane_adopt_in_child). */
  l->fork_copy = true;
}

void weft__lane_free(weft_lane *l) {
  weft__free(l->name);
  weft__free_aligned(l);
}
