/*
 * weft — the reactor's loop, lifecycle and completion queue.
 *
 * Completion queue contract (lib/engine/mpsc.h underneath):
 *   producers: any thread (call_from_thread, pool workers finishing a
 *              deferToThread); wait-free push.
 *   consumer:  the reactor thread only (run, drain, destroy).
 *   wake-ups:  a producer writes the eventfd only if its push found the queue
 *              empty AND the loop may be asleep. One write per burst.
 *   progress:  push is wait-free (one exchange, one store; the first push of
 *              a burst adds a fence, and if the loop may be asleep two
 *              counter RMWs and one write(2)); the drain is lock-free except
 *              across a producer stalled between its exchange and its link
 *              store (the loop then polls instead of sleeping until it
 *              finishes).
 *   lifetime:  a producer's last access to r is its link store, or, if it
 *              writes the eventfd, the decrement of `pushers` after the
 *              write (weft__reactor_push); destroy drains, then waits for
 *              pushers == 0.
 *   sources:   the queue is liburcu's wfcqueue / Vyukov's intrusive MPSC
 *              (lib/engine/mpsc.h); the sleeping flag + eventfd is the shape of
 *              libuv's uv_async_send "pending" flag and Tokio's driver
 *              unpark, with the Dekker argument below.
 *
 * No lost wake-up (Dekker with two seq_cst fences, the shape of design.md E5):
 *   producer P:  push(n) [xchg on tail]   ; fence(seq_cst) ; s = sleeping
 *   loop L:      sleeping = 1             ; fence(seq_cst) ; e = queue empty?
 * By the fences, either L's emptiness check sees P's exchange (L does not
 * block), or P reads sleeping == 1 (P writes the eventfd, epoll_wait returns).
 * Only the push that finds the queue empty checks: any later push lands
 * behind a node L has not consumed yet, whose pusher did (or will do) the
 * check after its own exchange, and L never blocks while that node is queued
 * (linked or not: the emptiness check reads the tail).
 * Calls pushed from the reactor thread see sleeping == 0 and write nothing;
 * the loop finds them in its pre-sleep check and polls instead of blocking.
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/block_cache.h"
#include "base/clock.h"
#include "engine/context.h"
#include "engine/submit_window.h"
#include "engine/work_claim.h"
#include "loop/reactor_state.h"

/* ---------------------------------------------------------------- helpers */

static void wake_write(weft_reactor *r) {
  uint64_t one = 1;
  ssize_t n;
  do {
    n = write(r->evfd, &one, sizeof one);
  } while (n < 0 && errno == EINTR);
  /* EAGAIN: the counter is saturated, so a wake-up is pending anyway. */
}

static weft_work *work_of_task(weft__task *t) {
  return (weft_work *)(void *)((char *)t - offsetof(weft_work, weft_private_));
}

/* ------------------------------------------------------------- producers */

/*
 * The push: weft__mpsc_push's two steps (lib/engine/mpsc.h) with the wake check of
 * the first push of a burst placed so that the usual push touches no shared
 * counter and the node a sleeping loop is woken for is visible when it wakes:
 *   1. exchange the tail: the node is now in the queue for every emptiness
 *      check (the loop will not sleep while it is there), but not yet
 *      visible to pop();
 *   2. first push of a burst only: fence and read `sleeping` (the Dekker
 *      argument of the file comment needs the exchange, not the link);
 *   3. link: the store that makes the node visible.
 *   4. only if the loop may be asleep: write the eventfd.
 * The link is a producer's last access to r, except in case 4, where the
 * producer is counted in `pushers` from before its link to after its write,
 * and weft_reactor_destroy, having drained the queue (unlinked nodes count
 * as queued), waits for that count to reach zero. Linking after the write
 * instead would leave the woken loop looking at a hidden node (an extra
 * eventfd round trip per wake-up on attached reactors); the first version
 * counted every producer, two RMWs on a shared line per push (~15% of the
 * W3 profile).
 */
/* Steps 2-4 (the inline weft__reactor_push, lib/loop/reactor_state.h, did
 * step 1 and found the queue empty: node is the first of a burst). */
void weft__reactor_push_first(weft_reactor *r, weft__task *node) {
  weft__task *old = &r->queue.head;
  /* First of a burst. seq_cst fence: orders our exchange before the read of
   * `sleeping`; pairs with the fence in loop_once/attach/drain after the
   * loop sets sleeping = 1 (Dekker, see the file comment). */
  weft__fence_seq_cst();
  if (!weft__load_relaxed(&r->sleeping)) {
    weft__mpsc_push_link(old, node); /* our last access to r */
    return;
  }
  /* Relaxed: the link's release store below publishes the increment with
   * the node, so the thread that consumed it (and then destroys r) sees it. */
  weft__fetch_add_relaxed(&r->pushers, 1);
  weft__mpsc_push_link(old, node);
  weft__fetch_add_relaxed(&r->wakeups, 1);
  wake_write(r);
  /* Release: our accesses to r happen before destroy's acquire load of
   * pushers reads zero (weft__reactor_quiesce_pushers). */
  weft__fetch_sub_acq_rel(&r->pushers, 1);
}

typedef struct plain_call {
  weft__task task;
  weft_fn fn;
  void *arg;
} plain_call;

static void plain_call_run(weft__task *t) {
  plain_call *c = (plain_call *)t;
  weft_fn fn = c->fn;
  void *arg = c->arg;
  weft__free(c);
  fn(arg);
}

/* The caller has a current context: the call is wrapped in it
 * (lib/engine/context.h). */
static __attribute__((noinline)) int call_from_thread_in_context(weft_reactor *r,
                                                                 plain_call *c) {
  weft__task *t = weft__context_wrap(&c->task);
  if (t == NULL) {
    weft__free(c);
    return WEFT_ENOMEM;
  }
  weft__reactor_push(r, t);
  return WEFT_OK;
}

WEFT_API int weft_reactor_call_from_thread(weft_reactor *r, weft_fn fn, void *arg) {
  if (r == NULL || fn == NULL) return WEFT_EINVAL;
  plain_call *c = weft__malloc(sizeof *c);
  if (c == NULL) return WEFT_ENOMEM;
  c->task.run = plain_call_run;
  c->task.cancel = NULL; /* the reactor queue never cancels: it always runs */
  c->fn = fn;
  c->arg = arg;
  if (WEFT_UNLIKELY(weft__context_active())) return call_from_thread_in_context(r, c);
  weft__reactor_push(r, &c->task);
  return WEFT_OK;
}

static void req_call_run(weft__task *t) {
  weft_work *req = work_of_task(t);
  weft__work_priv(req)->work(req);
}

/* The caller has a current context: the request is wrapped in it. */
static __attribute__((noinline)) int call_req_in_context(weft_reactor *r, weft__task *t) {
  if ((t = weft__context_wrap(t)) == NULL) return WEFT_ENOMEM;
  weft__reactor_push(r, t);
  return WEFT_OK;
}

/* A worker's hand-back of a request (W3's weft_qw): a leaf on its common
 * path, no frame (the push's rare part and the context's are calls out). */
WEFT_API int weft_reactor_call_from_thread_req(weft_reactor *r, weft_work *req, weft_work_cb cb) {
  /* Kept apart: combined, gcc tests two of them with setcc/or. */
  if (WEFT_UNLIKELY(r == NULL)) return WEFT_EINVAL;
  WEFT__KEEP_APART();
  if (WEFT_UNLIKELY(req == NULL)) return WEFT_EINVAL;
  WEFT__KEEP_APART();
  if (WEFT_UNLIKELY(cb == NULL)) return WEFT_EINVAL;
  weft__work_private *p = weft__work_priv(req);
  p->task.run = req_call_run;
  p->task.cancel = NULL;
  p->work = cb;
  weft__store_relaxed(&p->after, NULL);
  weft__work_set_owner(p, r);
  if (WEFT_UNLIKELY(weft__context_active())) return call_req_in_context(r, &p->task);
  weft__reactor_push(r, &p->task);
  return WEFT_OK;
}

/* Bounded, so a burst of round trips does not pin its peak memory for the
 * reactor's lifetime: 4,096 blocks of ~350 bytes is ~1.4 MiB at most. */
#define RT_CACHE_MAX_FREE 4096

struct weft__block_cache *weft__reactor_round_trip_cache(weft_reactor *r, size_t block_size) {
  if (r->rt_cache == NULL) r->rt_cache = weft__block_cache_create(block_size, RT_CACHE_MAX_FREE);
  return r->rt_cache;
}

/* -------------------------------------------------------------- consumer */

/* Run the calls queued now; calls they queue wait for the next iteration
 * (Twisted's runUntilCurrent bound). Returns how many ran. wait: a producer
 * between its exchange and its link (WOULDBLOCK) is waited for instead of
 * ending the drain, so every call queued before it began runs (budget
 * permitting); the nodes behind such a producer are hidden until it links. */
static int drain_snapshot_ex(weft_reactor *r, int max, bool wait) {
  /* Acquire: pairs with the producers' tail exchange, so `last` is a node
   * whose fields were written before it was pushed. */
  weft__task *last = weft__load_acquire(&r->queue.tail);
  if (last == &r->queue.head) return 0;
  int n = 0;
  /* The calls these completions make to pools (a pipelined server's next
   * deferToThread) reach each pool as one push when the snapshot is done
   * (lib/engine/submit_window.h), not one push per call. The first completion's
   * calls go straight to the pool: a lone completion (sequential round
   * trips) gains nothing from a window and would wait for the end of the
   * drain; the window opens once a second one is there. */
  weft__submit_window window;
  bool windowed = false;
  for (;;) {
    weft__task *t = weft__mpsc_pop(&r->queue);
    if (t == NULL || t == WEFT__MPSC_WOULDBLOCK) {
      if (WEFT_UNLIKELY(wait && t != NULL)) {
        weft__cpu_relax(); /* the producer links next */
        continue;
      }
      break;
    }
    if (n == 1) windowed = weft__submit_window_open(&window);
    int was_last = (t == last); /* compare before run(): it may free t */
    /* A call queued with no context runs in none, though the loop thread
     * has one (a drain called inside weft_context_call, say): one test of
     * the thread's route word per call when it has none. */
    if (WEFT_UNLIKELY(weft__context_active())) weft__context_run_task_outside(t);
    else t->run(t);
    n++;
    /* drain_cut: t detached, and the shutdown ran what was queued, `last`
     * included; what follows was queued after it (weft_reactor_detach).
     * One test of the three or-ed: 1.1-1.5 instructions per round trip
     * where a third branch cost 2.3-2.9 (perf/callgrind.sh rt rtqw). */
    if ((was_last | (n == max) | r->drain_cut) != 0) break;
  }
  if (windowed) weft__submit_window_close(&window);
  if (n) {
    weft__add_single_writer(&r->completions, (uint64_t)n);
    weft__add_single_writer(&r->drains, 1);
  }
  return n;
}

static int drain_snapshot(weft_reactor *r, int max) { return drain_snapshot_ex(r, max, false); }

/* Everything, including calls queued by the calls (shutdown, destroy). */
static void drain_all(weft_reactor *r) {
  while (!weft__mpsc_empty(&r->queue)) {
    if (drain_snapshot(r, INT_MAX) == 0) weft__cpu_relax(); /* a producer mid-push */
  }
}

/* ------------------------------------------------------------- lifecycle */

WEFT_API int weft_reactor_create(weft_reactor **out) {
  if (out == NULL) return WEFT_EINVAL;
  *out = NULL;
  weft_reactor *r = weft__calloc_aligned(sizeof *r);
  if (r == NULL) return WEFT_ENOMEM;
  weft__mpsc_init(&r->queue);
  r->evfd = -1;
  r->tfd = -1;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (r->epfd < 0 || r->evfd < 0) goto fail;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = r->evfd};
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev) != 0) goto fail;
  if (pthread_mutex_init(&r->block_lock, NULL) != 0) goto fail;
  /* Everything the fork child handler reads is set before the reactor is
   * in the fork registry: a fork on another thread may run the handler on
   * it as soon as it is registered (it walks the waiter list). */
  r->blocked.next = r->blocked.prev = &r->blocked;
  weft__timers_init(r);
  if (weft__reactor_fork_register(r) != 0) {
    pthread_mutex_destroy(&r->block_lock);
    goto fail;
  }
  r->next_trigger_id = 1;
  weft__object_created();
  *out = r;
  return WEFT_OK;
fail:
  if (r->epfd >= 0) close(r->epfd);
  if (r->evfd >= 0) close(r->evfd);
  weft__free_aligned(r);
  return WEFT_ENOMEM;
}

/* b learns r's io thread (once; under block_lock). Release: publishes
 * io_thread; pairs with the acquire of io_known in the waiter's engine
 * (threads.c, bc_waits_for), on a thread that may hold no lock of r. */
static void blocked_learn_io_thread(weft__blocked *b, pthread_t t) {
  b->io_thread = t;
  weft__store_release(&b->io_known, 1);
}

static void set_io_thread(weft_reactor *r) {
  /* Under block_lock, with the waiters already registered: each learns the
   * thread now, and one that registers later finds has_io_thread set under
   * the same lock (weft__reactor_block). So a waiter registered before the
   * run (a pool task's blockingCallFromThread) is known to wait for this
   * thread before any callback of this run can stop its pool. */
  pthread_t self = pthread_self();
  pthread_mutex_lock(&r->block_lock);
  r->io_thread = self;
  /* Release: publishes io_thread; pairs with the acquire in is_in_io_thread. */
  weft__store_release(&r->has_io_thread, 1);
  for (weft__blocked *b = r->blocked.next; b != &r->blocked; b = b->next)
    if (!weft__load_relaxed(&b->io_known)) blocked_learn_io_thread(b, self);
  pthread_mutex_unlock(&r->block_lock);
}

void weft__reactor_blocked_init(weft_reactor *r, weft__blocked *b) {
  b->next = b->prev = NULL;
  atomic_init(&b->io_known, 0);
  /* Acquire: pairs with set_io_thread's release, so io_thread is complete. */
  if (weft__load_acquire(&r->has_io_thread)) blocked_learn_io_thread(b, r->io_thread);
}

WEFT_API int weft_reactor_is_in_io_thread(const weft_reactor *r) {
  if (r == NULL) return 0;
  /* Acquire: pairs with set_io_thread's release, so io_thread is complete. */
  if (!weft__load_acquire((atomic_int *)&r->has_io_thread)) return 0;
  return pthread_equal(r->io_thread, pthread_self()) != 0;
}

WEFT_API int weft_reactor_running(const weft_reactor *r) {
  return r != NULL && weft__load_relaxed((atomic_int *)&r->state) == R_RUNNING;
}

void weft__reactor_release_blocked(weft_reactor *r) {
  pthread_mutex_lock(&r->block_lock);
  while (r->blocked.next != &r->blocked) {
    weft__blocked *b = r->blocked.next;
    b->next->prev = b->prev;
    b->prev->next = b->next;
    b->next = b->prev = NULL;
    b->release(b);
  }
  pthread_mutex_unlock(&r->block_lock);
}

WEFT_API int weft_reactor_fire_system_event(weft_reactor *r, weft_event event) {
  if (r == NULL || (unsigned)event > WEFT_SHUTDOWN) return WEFT_EINVAL;
  /* Fired from one of its own triggers: every trigger would run again, and
   * the one that fired would fire again, until the stack ran out (Twisted's
   * firing consumes its triggers, so there the nested firing finds the
   * rest). Refused; the firing under way goes on. */
  if (r->event_firing[event]) return WEFT_EBUSY;
  r->event_firing[event] = 1;
  if (event == WEFT_SHUTDOWN) {
    r->shutdown_fired = 1;
    /* The pool is stopped by a shutdown trigger; its threads must not be
     * left waiting on this thread: those waiting are released, and none may
     * start waiting until the triggers have run (weft__reactor_block). */
    pthread_mutex_lock(&r->block_lock);
    r->shutdown_firing++;
    pthread_mutex_unlock(&r->block_lock);
    weft__reactor_release_blocked(r);
    r->depth_thread = pthread_self();
    weft__fetch_add_relaxed(&r->drain_depth, 1);
    weft__triggers_fire(r, event);
    pthread_mutex_lock(&r->block_lock);
    r->shutdown_firing--;
    pthread_mutex_unlock(&r->block_lock);
    r->event_firing[event] = 0;
    /* Release, and last: a trigger may have detached, and a destroy polled
     * on another thread frees r once it reads 0 (acquire). */
    weft__fetch_sub_release(&r->drain_depth, 1);
    return WEFT_OK;
  }
  /* a trigger's destroy answers WEFT_EBUSY */
  r->depth_thread = pthread_self();
  weft__fetch_add_relaxed(&r->drain_depth, 1);
  weft__triggers_fire(r, event);
  r->event_firing[event] = 0;
  weft__fetch_sub_release(&r->drain_depth, 1); /* last access: as above */
  return WEFT_OK;
}

WEFT_API int weft_reactor_call_when_running(weft_reactor *r, weft_fn fn, void *arg) {
  if (r == NULL || fn == NULL) return WEFT_EINVAL;
  if (weft_reactor_running(r)) {
    fn(arg);
    return WEFT_OK;
  }
  /* Stopping or stopped: a startup trigger would never fire (a stopped
   * reactor cannot run again). */
  if (weft__load_relaxed(&r->state) >= R_STOPPING) return WEFT_ESHUTDOWN;
  return weft_reactor_add_trigger(r, WEFT_DURING, WEFT_STARTUP, fn, arg, NULL);
}


/* Under block_lock: new waiters are refused (WEFT_ESHUTDOWN). The state
 * only moves to STOPPING under block_lock, so a caller that registers while
 * this is false is released by that transition. */
static bool block_refused_locked(weft_reactor *r) {
  return weft__load_relaxed(&r->state) >= R_STOPPING || r->shutdown_firing;
}

int weft__reactor_block(weft_reactor *r, weft__blocked *b, weft__task *node) {
  pthread_mutex_lock(&r->block_lock);
  if (block_refused_locked(r)) {
    pthread_mutex_unlock(&r->block_lock);
    return WEFT_ESHUTDOWN;
  }
  b->next = &r->blocked;
  b->prev = r->blocked.prev;
  b->prev->next = b;
  r->blocked.prev = b;
  /* has_io_thread is stored under block_lock (set_io_thread): either the
   * run's set_io_thread walked the list before we linked b (we see the
   * thread here) or it will find b linked. io_known is b's own (this
   * thread wrote it in weft__reactor_blocked_init). */
  if (!weft__load_relaxed(&b->io_known) && weft__load_relaxed(&r->has_io_thread))
    blocked_learn_io_thread(b, r->io_thread);
  weft__reactor_push(r, node);
  pthread_mutex_unlock(&r->block_lock);
  return WEFT_OK;
}

int weft__reactor_block_refused(weft_reactor *r) {
  pthread_mutex_lock(&r->block_lock);
  bool refused = block_refused_locked(r);
  pthread_mutex_unlock(&r->block_lock);
  return refused ? WEFT_ESHUTDOWN : WEFT_OK;
}

void weft__reactor_unblock(weft_reactor *r, weft__blocked *b) {
  pthread_mutex_lock(&r->block_lock);
  if (b->next != NULL) {
    b->next->prev = b->prev;
    b->prev->next = b->next;
    b->next = b->prev = NULL;
  }
  pthread_mutex_unlock(&r->block_lock);
}

int weft__reactor_stopping(weft_reactor *r) {
  return weft__load_relaxed(&r->state) >= R_STOPPING;
}

static void enter_stopping(weft_reactor *r) {
  pthread_mutex_lock(&r->block_lock);
  weft__store_relaxed(&r->state, R_STOPPING); /* ordered by block_lock */
  pthread_mutex_unlock(&r->block_lock);
  weft__reactor_release_blocked(r);
}

/* Shutdown: release blocked callers first (the pool stop below joins their
 * threads), fire the triggers (the pool is stopped and drained), then run
 * the completions the pool's last tasks queued. */
static void shutdown_sequence(weft_reactor *r) {
  enter_stopping(r);
  weft_reactor_fire_system_event(r, WEFT_SHUTDOWN);
  weft__reactor_pool_release_kept(r); /* its completions drain below */
  drain_all(r);
  weft__store_relaxed(&r->sleeping, 0);
  if (r->hosted) {
    /* Detach: the fd the host may watch until destroy turns readable no
     * more for the reactor's own reasons (docs/lifecycle.md). The timerfd
     * is disarmed (the state is STOPPING: no timer runs from now on), and
     * the eventfd reset: a write made while the host loop was asleep (a
     * detach outside a drain) was for calls the shutdown just ran, and no
     * push writes it from now on (sleeping is 0). The reset comes after
     * the writes of producers that read sleeping == 1 before that store
     * (weft__hosted_detach waits for them): made after it, one would leave
     * the fd readable for good (test_reactor_detach_late_write).
     * seq_cst fence: pairs with the producers' fence
     * (weft__reactor_push_first). A producer that read sleeping == 1
     * exchanged the tail before its fence, so the drain after ours finds
     * its node; the node's link (a release, after the producer's relaxed
     * increment of `pushers`) makes the increment visible to the wait.
     * It also pairs with weft_reactor_stop's fence between its count and
     * its re-read of the state (weft__reactor_stop_enter): either the
     * wait sees that stop's count, or the stop sees R_STOPPING (stored
     * before this fence) and does not write. */
    weft__fence_seq_cst();
    drain_all(r);
    weft__hosted_detach(r);
  }
  /* Release: the run's (or detach's) last access to r; pairs with the
   * acquire load in weft_reactor_destroy, which may run on another thread
   * once run has returned, or poll while it finishes (WEFT_EBUSY until this
   * store): everything above happens before its reads and its free. Found
   * by review (TSan: destroy's read of drain_depth, and its free, against
   * this thread's drain). */
  weft__store_release(&r->state, R_STOPPED);
}

/* Before sleeping after a busy drain, look at the queue a little longer:
 * with results streaming in, the next one usually lands within
 * microseconds, and catching it here saves the producer's eventfd write and
 * our epoll round trip (the coalescing the stats make visible). Spin first,
 * then yield, so pool threads sharing our CPU get to finish their tasks. */
#define BUSY_SPINS 256
#define BUSY_YIELDS 16

static int busy_wait_for_work(weft_reactor *r) {
  for (int i = 0; i < BUSY_SPINS + BUSY_YIELDS; i++) {
    /* Linked, not merely exchanged: the first push of a burst fences before
     * it links (weft__reactor_push), and returning on its exchange alone
     * sends the caller into a drain that finds nothing and then through
     * the sleep path (an epoll or eventfd round trip). */
    if (weft__mpsc_has_visible(&r->queue)) return 1;
    if (i < BUSY_SPINS) weft__cpu_relax();
    else sched_yield();
  }
  return 0;
}

/* Loop rounds that find completions by busy-waiting skip epoll; each of
 * them reads the tick counter (one rdtsc), and once POLL_EVERY_TICKS have
 * passed since the last such poll, it polls (without sleeping) so that
 * ready readers and writers get their turn within about a millisecond,
 * however long a round takes. (The sleeping path's epoll_wait does not
 * reset the stamp: no tick read there, at worst one early poll.) A poll
 * every 64 rounds instead put a 1.5 us system call into W2's p99 (0.55 us
 * -> 2.0 us, one round trip in 64). Reading the counter only every 64
 * rounds held a ready reader back for 64 rounds, however slow: 64
 * completions of 100 ms each kept it waiting 6.4 s (test_reactor
 * reader_not_held_back_by_slow_completions). */
#define POLL_EVERY_TICKS (1000u * WEFT__TICKS_PER_US)

static void dispatch(weft_reactor *r, struct epoll_event *evs, int n) {
  struct epoll_event *saved;
  int saved_n;
  weft__io_batch_begin(r, evs, n, &saved, &saved_n);
  for (int i = 0; i < n; i++) {
    if (evs[i].data.fd == r->evfd) {
      weft__reactor_wake_read(r);
    } else {
      weft__io_dispatch(r, evs[i].data.fd, evs[i].events);
    }
    /* A callback forked and returned in the child: the rest of the batch
     * is the parent's to handle (reactor_fork.c). */
    if (WEFT_UNLIKELY(weft__load_relaxed(&r->forked))) break;
  }
  weft__io_batch_end(r, saved, saved_n);
}

/* One round of the loop; 1 when the loop is to end (run then shuts down). */
static int loop_once(weft_reactor *r) {
  /* A callback forked and returned in the child: nothing here is the
   * child's to run (lib/loop/reactor_fork.c); its calls run in destroy. */
  if (WEFT_UNLIKELY(weft__load_relaxed(&r->forked))) return 1;
  weft__add_single_writer(&r->iterations, 1);
  /* Acquire: pairs with weft_reactor_stop's release CAS (its pushers count
   * is then visible to the destroy after run returns, and the calls its
   * thread queued before it are linked). */
  int stop = weft__load_acquire(&r->stop_requested);
  /* A stop seen: every call queued before it runs in this drain, which
   * waits out a producer mid-push that hides one. */
  int ran = drain_snapshot_ex(r, INT_MAX, stop != 0);
  weft__timers_run_due(r);
  /* Twisted's runUntilCurrent: the thread calls and the due timed calls,
   * then, if stop() was called, "shutdown": a stop from a reader, a
   * writer, a startup trigger or another thread still lets the calls made
   * before it and the timers due run first; no I/O round after it. */
  if (stop) return 1;
  /* Acquire: as above. */
  stop = weft__load_acquire(&r->stop_requested);
  /* From another thread, during this round: Twisted's
   * callFromThread(reactor.stop), which the next pass runs, then the timed
   * calls due by then: one more pass (the drain and the timers above, no
   * I/O), then the shutdown. (A shutdown at once ran the calls that
   * thread queued before its stop after every shutdown trigger, their
   * pool gone, and never the timers due when it stopped: test_reactor
   * stop_from_another_thread_runs_its_calls_first, test_reactor_clock
   * a_stop_from_another_thread_lets_the_timers_due_then_run.) */
  if (stop == STOP_FROM_THREAD) return 0;
  if (stop) {
    /* From this thread (a call of the drain, a timer): the timed calls its
     * pass made never run (Twisted's shutdown ends that pass); what is
     * queued runs before the shutdown, not after. */
    drain_snapshot_ex(r, INT_MAX, true);
    return 1;
  }
  int timeout = weft__timers_timeout_ms(r);
  /* Also when nothing ran but a node is queued, unlinked: its producer is
   * between its exchange and its link (weft__reactor_push), about to finish. */
  struct epoll_event evs[64];
  bool busy = (ran > 0 || !weft__mpsc_empty(&r->queue)) && timeout != 0;
  if (busy && busy_wait_for_work(r)) {
    /* Completions keep coming: go round again without epoll, but not for
     * ever: readers and writers that are ready get their turn about every
     * millisecond (a poll that does not sleep; `sleeping` stays 0, so
     * producers write no eventfd for it). */
    uint64_t now = weft__ticks();
    if (now - r->polled_ticks < POLL_EVERY_TICKS) return 0;
    r->polled_ticks = now;
    dispatch(r, evs, epoll_wait(r->epfd, evs, 64, 0));
    return 0;
  }
  /* The busy wait found nothing, and took its time: 16 yields, each a
   * scheduler slice on a busy machine (milliseconds). The timeout computed
   * before it would sleep that much past the earliest deadline
   * (test_reactor_clock the_sleep_after_the_busy_wait_keeps_the_deadline). */
  if (busy && timeout > 0) timeout = weft__timers_timeout_ms(r);
  weft__store_relaxed(&r->sleeping, 1);
  /* seq_cst fence: orders sleeping = 1 before the emptiness check; pairs
   * with the producers' fence in weft__reactor_push (file comment). */
  weft__fence_seq_cst();
  if (!weft__mpsc_empty(&r->queue) || weft__load_relaxed(&r->stop_requested)) timeout = 0;
  int n = epoll_wait(r->epfd, evs, 64, timeout);
  weft__store_relaxed(&r->sleeping, 0);
  dispatch(r, evs, n);
  return 0;
}

WEFT_API int weft_reactor_run(weft_reactor *r) {
  if (r == NULL) return WEFT_EINVAL;
  /* From a trigger of a firing by hand (a reactor that never ran): run's
   * own firing of that event would be refused (WEFT_EBUSY), so a startup
   * would skip the rest of its triggers (the pool's start among them) and
   * a shutdown would never stop the pool the run made. */
  if (r->event_firing[WEFT_STARTUP] | r->event_firing[WEFT_SHUTDOWN]) return WEFT_ESTATE;
  int expected = R_NEW;
  if (!weft__cas_relaxed(&r->state, &expected, R_RUNNING)) return WEFT_ESTATE;
  set_io_thread(r);
  weft_reactor_fire_system_event(r, WEFT_STARTUP);
  while (!loop_once(r)) {
  }
  shutdown_sequence(r);
  return WEFT_OK;
}

WEFT_API int weft_reactor_stop(weft_reactor *r) {
  if (r == NULL) return WEFT_EINVAL;
  if (weft__load_relaxed(&r->state) != R_RUNNING) return WEFT_ESTATE;
  /* Counted as a producer (weft__reactor_push, case 4) from before the flag
   * to after the eventfd write: the loop may see the flag, shut down and
   * return before our write, and the destroy that follows must wait for
   * it (weft__reactor_quiesce_pushers) instead of freeing r under us.
   * Refused if an attached reactor's detach (or any shutdown) began since
   * the look above: that detach may have waited for pushers == 0 already,
   * and our write would come after its reset (weft__reactor_stop_enter). */
  if (!weft__reactor_stop_enter(r)) return WEFT_ESTATE;
  int expected = 0;
  /* Release: the increment before the flag; pairs with run's acquire loads
   * of stop_requested, which happen before destroy's load of pushers. */
  if (!weft__cas_release(&r->stop_requested, &expected,
                         weft_reactor_is_in_io_thread(r) ? STOP_IN_LOOP : STOP_FROM_THREAD)) {
    weft__fetch_sub_acq_rel(&r->pushers, 1); /* release: as below */
    return WEFT_ESTATE;
  }
  /* Wake the loop; attached (foreign-loop) reactors just see a spurious
   * readable fd and stop when their owner calls weft_reactor_detach. */
  wake_write(r);
  /* Release: our accesses to r happen before destroy's acquire load of
   * pushers reads zero (weft__reactor_quiesce_pushers). */
  weft__fetch_sub_acq_rel(&r->pushers, 1);
  return WEFT_OK;
}

WEFT_API int weft_reactor_destroy(weft_reactor *r) {
  if (r == NULL) return WEFT_OK;
  /* Acquire: pairs with shutdown_sequence's release of R_STOPPED. */
  int st = weft__load_acquire(&r->state);
  if (st == R_RUNNING || st == R_STOPPING) return WEFT_EBUSY;
  /* From a callback that destroy's own drain runs, or that an attached
   * reactor's drain runs (after a detach): the outer call still uses r. */
  /* Acquire: pairs with the release decrement that ends a drain or a
   * firing, on the reactor thread when this one is another (a callback
   * detached, then destroy is polled here). */
  if (r->destroying || weft__load_acquire(&r->drain_depth) > 0) return WEFT_EBUSY;
  r->destroying = 1;
  r->destroy_thread = pthread_self();
  if (st == R_NEW) {
    enter_stopping(r);
    if (!r->shutdown_fired || r->pool != NULL) weft_reactor_fire_system_event(r, WEFT_SHUTDOWN);
    weft__store_relaxed(&r->state, R_STOPPED);
  }
  weft__reactor_pool_release_kept(r);
  /* A pool of r that its stop trigger could not destroy is still in its
   * stop below us (this destroy runs in one of that stop's callbacks: the
   * pool stopped through its handle), or this is one of its threads: it
   * goes on handing completions to r (the after_cb of a queue_work request
   * it cancels next), so r is not freed under it. Refused, as
   * weft_threadpool_destroy is from such a callback; r stays, stopped, for
   * a destroy once that stop has returned. It freed r, and the next
   * completion was pushed into freed memory (test_misuse
   * reactor_destroy_from_its_pools_stop). Not in a child of fork: a pool's
   * copy there runs and cancels nothing. */
  if (weft__reactor_pool_kept_any(r) && !weft__load_relaxed(&r->forked)) {
    r->destroying = 0;
    return WEFT_EBUSY;
  }
  weft__reactor_fork_release_pool(r); /* in a child of fork only */
  /* Nothing accepted is dropped: late calls run here. Once the queue is
   * empty (unlinked nodes count as queued), only producers still finishing
   * an eventfd write touch r, and they are counted. */
  drain_all(r);
  weft__reactor_quiesce_pushers(r);
  /* Out of the fork registry before anything is freed or closed: a fork
   * from another thread from here on would run the child handler on a
   * reactor half gone (a timer heap freed under its length, an fd number
   * closed here and already reused by the parent). */
  weft__reactor_fork_unregister(r);
  /* Every round trip has completed (drained above); Deferreds the user still
   * holds free their blocks when they go (lib/base/block_cache.h). */
  weft__block_cache_orphan(r->rt_cache);
  r->rt_cache = NULL;
  weft__reactor_release_blocked(r);
  weft__timers_free(r);
  weft__io_free(r);
  weft__hosted_free(r);
  weft__triggers_free(r);
  weft__reactor_pool_options_free(r);
  pthread_mutex_destroy(&r->block_lock);
  close(r->epfd);
  close(r->evfd);
  weft__free_aligned(r);
  weft__object_destroyed();
  return WEFT_OK;
}

/* --------------------------------------------------------- foreign loops */

WEFT_API int weft_reactor_attach(weft_reactor *r, int *fd) {
  if (r == NULL || fd == NULL) return WEFT_EINVAL;
  if (weft__load_relaxed(&r->state) != R_NEW) return WEFT_ESTATE;
  /* From a trigger of a firing by hand: as in weft_reactor_run. */
  if (r->event_firing[WEFT_STARTUP] | r->event_firing[WEFT_SHUTDOWN]) return WEFT_ESTATE;
  /* The timerfd (lib/loop/reactor_hosted.c) first: a failure leaves r new. */
  int rc = weft__hosted_setup(r);
  if (rc != 0) return rc;
  int expected = R_NEW;
  if (!weft__cas_relaxed(&r->state, &expected, R_RUNNING)) return WEFT_ESTATE;
  r->hosted = 1;
  weft__hosted_arm(r); /* call_later made before attach */
  set_io_thread(r);
  /* The foreign loop may sleep at any time: every burst must write. */
  weft__store_relaxed(&r->sleeping, 1);
  /* seq_cst fence: pairs with the producers' fence; a push that saw
   * sleeping == 0 before this point is visible to the check below. */
  weft__fence_seq_cst();
  if (!weft__mpsc_empty(&r->queue)) wake_write(r);
  r->attaching = 1;
  weft_reactor_fire_system_event(r, WEFT_STARTUP);
  r->attaching = 0;
  /* A startup trigger forked and returned in the child: the child's copy
   * is stopped and its epoll fd closed (lib/loop/reactor_fork.c); there is
   * no descriptor to watch (it answered 0 with *fd == -1). Refused, as an
   * attach made in the child is (test_fork fork_in_an_attach_startup_trigger). */
  if (WEFT_UNLIKELY(weft__load_relaxed(&r->forked))) return WEFT_ESTATE;
  /* The epoll set: the eventfd, the timerfd, readers and writers. */
  *fd = r->epfd;
  return WEFT_OK;
}

/* weft_reactor_drain_ex's work, once its checks passed. */
static int drain_attached(weft_reactor *r, int budget, unsigned flags) {
  weft__reactor_wake_read(r); /* reset first: a push after this read writes again */
  /* Awake while we drain: pushes meanwhile need no eventfd write. */
  weft__store_relaxed(&r->sleeping, 0);
  if (r->hosted) weft__hosted_poll(r); /* readers, writers, the timerfd */
  if (weft__load_relaxed(&r->state) != R_RUNNING) return 0; /* a reader or writer detached */
  int n = 0, k, rounds = 0;
  do { /* bounded, so the host loop's other watchers are not starved */
    k = drain_snapshot(r, budget - n);
    n += k;
  } while (n < budget && (k > 0 || !weft__mpsc_empty(&r->queue)) && ++rounds < 64 &&
           !(flags & WEFT_DRAIN_NO_SPIN) && busy_wait_for_work(r) &&
           weft__load_relaxed(&r->state) == R_RUNNING);
  if (weft__load_relaxed(&r->state) != R_RUNNING) {
    /* A callback detached: the shutdown ran; no timer runs after it, as
     * none does after run's. */
    return n;
  }
  weft__timers_run_due(r);
  /* A timer detached: as above, nothing of this drain after the shutdown
   * (no re-arm; and `sleeping`, which the shutdown left 0, stays 0, or a
   * later call_from_thread would write the eventfd and make the fd readable
   * for a host that can only be refused). */
  if (weft__load_relaxed(&r->state) != R_RUNNING) return n;
  weft__hosted_arm(r); /* the next deadline (no-op unless attached) */
  weft__store_relaxed(&r->sleeping, 1);
  /* seq_cst fence: as in loop_once, orders sleeping = 1 before the check;
   * pairs with the producers' fence. A node left behind (pushed after our
   * snapshot, or hidden by a producer mid-push) gets a wake-up from us, so
   * the host loop calls drain again. */
  weft__fence_seq_cst();
  if (!weft__mpsc_empty(&r->queue)) {
    weft__fetch_add_relaxed(&r->wakeups, 1);
    wake_write(r);
  }
  return n;
}

WEFT_API int weft_reactor_drain(weft_reactor *r) {
  return weft_reactor_drain_ex(r, 0, 0);
}

WEFT_API int weft_reactor_drain_ex(weft_reactor *r, int max_completions, unsigned flags) {
  if (r == NULL || max_completions < 0 || (flags & ~(unsigned)WEFT_DRAIN_NO_SPIN) != 0)
    return WEFT_EINVAL;
  if (!weft_reactor_is_in_io_thread(r)) return WEFT_ESTATE;
  /* A child of fork: the timers, readers and queue it would run are the
   * parent's (lib/loop/reactor_fork.c). */
  if (weft__load_relaxed(&r->forked)) return WEFT_ESTATE;
  /* For an attached reactor: under weft_reactor_run, a callback that drains
   * would run the loop's work re-entrantly. */
  if (!r->hosted) return WEFT_ESTATE;
  /* The same from a callback of a drain: it would run the outer drain's
   * completions past the outer's snapshot and budget. */
  if (r->in_drain) return WEFT_ESTATE;
  /* Detached (shut down): its readers, writers and timers run no more;
   * calls still queued run in destroy. */
  if (weft__load_relaxed(&r->state) != R_RUNNING) return WEFT_ESTATE;
  int budget = max_completions > 0 ? max_completions : INT_MAX;
  r->in_drain = 1;
  /* a callback below may detach, not destroy (destroy) */
  r->depth_thread = pthread_self();
  weft__fetch_add_relaxed(&r->drain_depth, 1);
  int n = drain_attached(r, budget, flags);
  r->in_drain = 0;
  r->drain_cut = 0;
  /* Release, and last: a callback may have detached, and a destroy polled
   * on another thread frees r once it reads 0 (acquire). */
  weft__fetch_sub_release(&r->drain_depth, 1);
  return n;
}

WEFT_API int weft_reactor_detach(weft_reactor *r) {
  if (r == NULL) return WEFT_EINVAL;
  if (!r->hosted || weft__load_relaxed(&r->state) != R_RUNNING) return WEFT_ESTATE;
  if (!weft_reactor_is_in_io_thread(r)) return WEFT_ESTATE;
  if (r->attaching) return WEFT_ESTATE; /* from a startup trigger of attach's */
  /* Read before the shutdown: its release store of R_STOPPED is our last
   * access to r unless a drain is under way (which keeps r: drain_depth),
   * and a destroy polled on another thread may free r right after it. */
  int in_drain = r->in_drain;
  shutdown_sequence(r);
  /* From a callback of a drain: the shutdown ran everything queued, the
   * rest of that drain's snapshot included; calls queued from now on are
   * destroy's, so the drain's loop ends with the callback that detached
   * (docs/lifecycle.md). */
  if (in_drain) r->drain_cut = 1;
  return WEFT_OK;
}

/* --------------------------------------------------------------- counters */

WEFT_API int weft_reactor_stats_get(const weft_reactor *r, weft_reactor_stats *out) {
  if (r == NULL || out == NULL) return WEFT_EINVAL;
  weft_reactor *m = (weft_reactor *)r;
  out->wakeups = weft__load_relaxed(&m->wakeups);
  out->completions = weft__load_relaxed(&m->completions);
  out->drains = weft__load_relaxed(&m->drains);
  out->iterations = weft__load_relaxed(&m->iterations);
  return WEFT_OK;
}
