/*
 * weft_threadpool_cancel_work (uv_cancel semantics) and
 * weft_threadpool_stop_timeout: a queued request that is cancelled never
 * runs and its owner is told WEFT_ECANCELED exactly once; a cancel racing
 * the start of its request gives exactly one of the two outcomes; a stop
 * with a deadline cancels what is queued, reports what still runs, and
 * loses nothing. Synchronisation by gates and latches, never by sleeping.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "engine/submit_window.h"
#include "pool/threadpool_impl.h"
#include "weft/context.h"
#include "weft/threadpool.h"
#include "test_sync.h"

/* One request and what happened to it. */
typedef struct job {
  weft_work req;
  atomic_int ran;    /* work_cb calls */
  atomic_int told;   /* after_cb calls */
  atomic_int status; /* after_cb's status */
  sync_t *gate;      /* work_cb waits here when set */
  sync_t *started;   /* work_cb counts itself here when set */
  latch *done;       /* after_cb counts down when set */
} job;

static void job_work(weft_work *req) {
  job *j = (job *)req;
  atomic_fetch_add(&j->ran, 1);
  if (j->started) count_up(j->started);
  if (j->gate) gate_wait(j->gate);
}

static void job_after(weft_work *req, int status) {
  job *j = (job *)req;
  atomic_store(&j->status, status);
  atomic_fetch_add(&j->told, 1);
  if (j->done) latch_count_down(j->done);
}

/* One thread, and never more: the strict cap, so that no stand-in thread
 * (the elastic pool's answer to a blocked worker) takes queued work while
 * the test holds the only worker. */
static weft_threadpool *one_thread_pool(void) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 1;
  o.name = "cancel";
  o.strict_cap = 1;
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  return tp;
}

/* A blocker that occupies the pool's only thread until its gate opens. */
static void start_blocker(weft_threadpool *tp, job *b, sync_t *gate, sync_t *started) {
  memset(b, 0, sizeof *b);
  b->gate = gate;
  b->started = started;
  assert_int_equal(weft_threadpool_queue_work(tp, &b->req, job_work, job_after), 0);
}

/* A started one-thread pool whose only thread is held in a blocker's
 * work_cb until gate_open(&h->gate). */
typedef struct held_pool {
  weft_threadpool *tp;
  sync_t gate, started;
  job blocker;
} held_pool;
static void held_pool_begin(held_pool *h) {
  h->tp = one_thread_pool();
  assert_int_equal(weft_threadpool_start(h->tp), 0);
  sync_init(&h->gate);
  sync_init(&h->started);
  start_blocker(h->tp, &h->blocker, &h->gate, &h->started);
  count_wait(&h->started, 1);
}
/* Once every thread is joined: `cancelled` of the pool's counters, which
 * add up (submitted == executed + cancelled); then destroy. */
static void held_pool_end(held_pool *h, uint64_t cancelled) {
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(h->tp, &c), 0);
  assert_int_equal(c.cancelled, cancelled);
  assert_int_equal(c.submitted, c.executed + c.cancelled);
  assert_int_equal(weft_threadpool_destroy(h->tp), 0);
  sync_fini(&h->gate);
  sync_fini(&h->started);
}

/* 10,000 queued requests cancelled while the only worker is blocked: none
 * runs, each owner is told once, the counters account for all of them. */
static void cancel_queued_while_blocked(void **state) {
  (void)state;
  enum { N = 10000 };
  weft_threadpool *tp = one_thread_pool();
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  job blocker;
  start_blocker(tp, &blocker, &gate, &started);
  count_wait(&started, 1);
  job *jobs = calloc(N, sizeof *jobs);
  assert_non_null(jobs);
  latch done;
  latch_init(&done, N);
  for (int i = 0; i < N; i++) {
    jobs[i].done = &done;
    assert_int_equal(weft_threadpool_queue_work(tp, &jobs[i].req, job_work, job_after), 0);
  }
  for (int i = 0; i < N; i++) assert_int_equal(weft_threadpool_cancel_work(tp, &jobs[i].req), 0);
  /* A second cancel of a cancelled request: the first one won. */
  assert_int_equal(weft_threadpool_cancel_work(tp, &jobs[0].req), WEFT_EALREADY);
  /* The running blocker cannot be cancelled. */
  assert_int_equal(weft_threadpool_cancel_work(tp, &blocker.req), WEFT_EBUSY);
  gate_open(&gate);
  latch_wait(&done); /* the worker skips them, telling each owner */
  assert_int_equal(weft_threadpool_stop(tp), 0);
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&jobs[i].ran), 0);
    assert_int_equal(atomic_load(&jobs[i].told), 1);
    assert_int_equal(atomic_load(&jobs[i].status), WEFT_ECANCELED);
  }
  assert_int_equal(atomic_load(&blocker.ran), 1);
  assert_int_equal(atomic_load(&blocker.told), 1);
  assert_int_equal(atomic_load(&blocker.status), 0);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(c.submitted, N + 1);
  assert_int_equal(c.executed, 1);
  assert_int_equal(c.cancelled, N);
  /* Slot by slot too: the worker skipped the N it took, it ran one. */
  weft_worker_stats ws[4];
  size_t slots = 0;
  assert_int_equal(weft_threadpool_worker_stats(tp, ws, 4, &slots), 0);
  assert_true(slots >= 1 && slots <= 4);
  uint64_t ran = 0;
  for (size_t i = 0; i < slots; i++) ran += ws[i].executed;
  assert_int_equal(ran, 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  latch_destroy(&done);
  sync_fini(&gate);
  sync_fini(&started);
  free(jobs);
}

/* A cancelled request still in the queue when the pool is destroyed (never
 * started): told once, by the destroy, never run. */
static void cancelled_request_at_destroy(void **state) {
  (void)state;
  weft_threadpool *tp = one_thread_pool();
  job a = {0}, b = {0};
  assert_int_equal(weft_threadpool_queue_work(tp, &a.req, job_work, job_after), 0);
  assert_int_equal(weft_threadpool_queue_work(tp, &b.req, job_work, job_after), 0);
  assert_int_equal(weft_threadpool_cancel_work(tp, &a.req), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(atomic_load(&a.ran), 0);
  assert_int_equal(atomic_load(&a.told), 1);
  assert_int_equal(atomic_load(&a.status), WEFT_ECANCELED);
  assert_int_equal(atomic_load(&b.ran), 0);
  assert_int_equal(atomic_load(&b.told), 1);
  assert_int_equal(atomic_load(&b.status), WEFT_ECANCELED);
}

/* A cancel racing the start of its request: exactly one outcome each. */
static void cancel_races_start(void **state) {
  (void)state;
  enum { N = 20000 };
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create(&tp, 2, 2, "race"), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  job *jobs = calloc(N, sizeof *jobs);
  int *rc = calloc(N, sizeof *rc);
  assert_non_null(jobs);
  assert_non_null(rc);
  latch done;
  latch_init(&done, N);
  for (int i = 0; i < N; i++) {
    jobs[i].done = &done;
    assert_int_equal(weft_threadpool_queue_work(tp, &jobs[i].req, job_work, job_after), 0);
    rc[i] = 1; /* not cancelled (yet) */
    /* Cancel the one submitted just now, or one a few back: some are still
     * queued, some have started. The jobs stay allocated to the end, so a
     * cancel after the after_cb is a valid call (WEFT_EBUSY). */
    if (i % 7 == 0) rc[i] = weft_threadpool_cancel_work(tp, &jobs[i].req);
    else if (i % 7 == 3) rc[i - 2] = weft_threadpool_cancel_work(tp, &jobs[i - 2].req);
  }
  latch_wait(&done);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  int cancelled = 0, busy = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&jobs[i].told), 1);
    if (rc[i] == 0) {
      cancelled++;
      assert_int_equal(atomic_load(&jobs[i].ran), 0);
      assert_int_equal(atomic_load(&jobs[i].status), WEFT_ECANCELED);
    } else {
      if (rc[i] == WEFT_EBUSY) busy++;
      else assert_int_equal(rc[i], 1);
      assert_int_equal(atomic_load(&jobs[i].ran), 1);
      assert_int_equal(atomic_load(&jobs[i].status), 0);
    }
  }
  printf("cancel vs start: %d cancelled, %d had started\n", cancelled, busy);
  latch_destroy(&done);
  free(jobs);
  free(rc);
}

/* The cancelling thread races the pool's threads head on: another thread
 * cancels every request as soon as it is published. */
typedef struct racer {
  weft_threadpool *tp;
  job *jobs;
  int n;
  atomic_int published;
  int *rc;
} racer;

static void *cancel_thread(void *arg) {
  racer *r = arg;
  for (int i = 0; i < r->n; i++) {
    while (atomic_load(&r->published) <= i) sched_yield();
    r->rc[i] = weft_threadpool_cancel_work(r->tp, &r->jobs[i].req);
  }
  return NULL;
}

static void cancel_races_start_other_thread(void **state) {
  (void)state;
  enum { N = 20000 };
  racer r = {.n = N};
  assert_int_equal(weft_threadpool_create(&r.tp, 1, 1, "race2"), 0);
  assert_int_equal(weft_threadpool_start(r.tp), 0);
  r.jobs = calloc(N, sizeof *r.jobs);
  r.rc = calloc(N, sizeof *r.rc);
  assert_non_null(r.jobs);
  assert_non_null(r.rc);
  latch done;
  latch_init(&done, N);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, cancel_thread, &r), 0);
  for (int i = 0; i < N; i++) {
    r.jobs[i].done = &done;
    assert_int_equal(weft_threadpool_queue_work(r.tp, &r.jobs[i].req, job_work, job_after), 0);
    atomic_store(&r.published, i + 1);
  }
  pthread_join(th, NULL);
  latch_wait(&done);
  assert_int_equal(weft_threadpool_destroy(r.tp), 0);
  int cancelled = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&r.jobs[i].told), 1);
    if (r.rc[i] == 0) {
      cancelled++;
      assert_int_equal(atomic_load(&r.jobs[i].ran), 0);
      assert_int_equal(atomic_load(&r.jobs[i].status), WEFT_ECANCELED);
    } else {
      assert_int_equal(r.rc[i], WEFT_EBUSY);
      assert_int_equal(atomic_load(&r.jobs[i].ran), 1);
      assert_int_equal(atomic_load(&r.jobs[i].status), 0);
    }
  }
  printf("cancel thread vs worker: %d of %d cancelled\n", cancelled, N);
  latch_destroy(&done);
  free(r.jobs);
  free(r.rc);
}

/* A request queued again from its own after_cb while another thread keeps
 * cancelling it (both allowed: weft/threadpool.h). Every submission ends
 * once: it ran (status 0) or was cancelled (WEFT_ECANCELED), and the
 * cancels that answered 0 are the cancelled ones. The cancel read the
 * request's after_cb with a plain load while the after_cb's queue_work
 * wrote it (a data race, reported by the ThreadSanitizer run; found by
 * review). */
typedef struct reuse {
  weft_threadpool *tp;
  weft_work req;
  int left;           /* submissions still to make; the after_cb's thread */
  atomic_int runs, cancelled_told, afters, done;
  atomic_int won;     /* cancels that answered 0 */
  sync_t finished;
} reuse;
static reuse g_reuse;

static void reuse_work(weft_work *req) {
  (void)req;
  atomic_fetch_add(&g_reuse.runs, 1);
  for (volatile int i = 0; i < 2000; i++) {
  } /* long enough for the canceller to meet the request running */
}

static void reuse_after(weft_work *req, int status) {
  atomic_fetch_add(&g_reuse.afters, 1);
  if (status == WEFT_ECANCELED) atomic_fetch_add(&g_reuse.cancelled_told, 1);
  if (--g_reuse.left > 0) {
    if (weft_threadpool_queue_work(g_reuse.tp, req, reuse_work, reuse_after) == 0) return;
  }
  atomic_store(&g_reuse.done, 1);
  gate_open(&g_reuse.finished);
}

static void *reuse_canceller(void *arg) {
  (void)arg;
  while (!atomic_load(&g_reuse.done)) {
    int rc = weft_threadpool_cancel_work(g_reuse.tp, &g_reuse.req);
    if (rc == 0) atomic_fetch_add(&g_reuse.won, 1);
    else if (rc != WEFT_EBUSY && rc != WEFT_EALREADY) atomic_store(&g_reuse.won, -1000000);
  }
  return NULL;
}

static void cancel_races_reuse_from_after(void **state) {
  (void)state;
  enum { N = 5000 };
  memset(&g_reuse, 0, sizeof g_reuse);
  sync_init(&g_reuse.finished);
  g_reuse.left = N;
  assert_int_equal(weft_threadpool_create(&g_reuse.tp, 2, 2, "reuse"), 0);
  assert_int_equal(weft_threadpool_start(g_reuse.tp), 0);
  assert_int_equal(weft_threadpool_queue_work(g_reuse.tp, &g_reuse.req, reuse_work, reuse_after), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, reuse_canceller, NULL), 0);
  gate_wait(&g_reuse.finished);
  pthread_join(th, NULL);
  assert_int_equal(weft_threadpool_destroy(g_reuse.tp), 0);
  assert_int_equal(atomic_load(&g_reuse.afters), N);
  assert_int_equal(atomic_load(&g_reuse.runs) + atomic_load(&g_reuse.cancelled_told), N);
  assert_int_equal(atomic_load(&g_reuse.won), atomic_load(&g_reuse.cancelled_told));
  printf("cancel vs reuse: %d of %d cancelled\n", atomic_load(&g_reuse.won), N);
  sync_fini(&g_reuse.finished);
}

static void cancel_misuse(void **state) {
  (void)state;
  weft_threadpool *tp = one_thread_pool(), *other = one_thread_pool();
  job a = {0}, b = {0};
  assert_int_equal(weft_threadpool_cancel_work(NULL, &a.req), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_cancel_work(tp, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_queue_work(tp, &a.req, job_work, job_after), 0);
  /* Submitted to another pool. */
  assert_int_equal(weft_threadpool_cancel_work(other, &a.req), WEFT_EINVAL);
  /* Without after_cb nobody could be told. */
  assert_int_equal(weft_threadpool_queue_work(tp, &b.req, job_work, NULL), 0);
  assert_int_equal(weft_threadpool_cancel_work(tp, &b.req), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  /* Refused by a stopped pool: not submitted, so not ours to cancel (0
   * would promise an after_cb that never comes). */
  job c = {0};
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_queue_work(tp, &c.req, job_work, job_after), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_cancel_work(tp, &c.req), WEFT_EINVAL);
  /* One that ran before the stop is the caller's again: not cancellable. */
  assert_true(weft_threadpool_cancel_work(tp, &a.req) != 0);
  /* Reused and refused for a bad argument: not queued, so not ours either
   * (it kept the owner and claim of its earlier run: WEFT_EBUSY before). */
  assert_int_equal(weft_threadpool_queue_work(tp, &a.req, NULL, job_after), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_cancel_work(tp, &a.req), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(weft_threadpool_destroy(other), 0);
  assert_int_equal(atomic_load(&a.ran), 1);
  assert_int_equal(atomic_load(&b.ran), 1);
  assert_int_equal(atomic_load(&c.ran), 0);
  assert_int_equal(atomic_load(&c.told), 0);
}

/* Cancels that lose to the start leave the claim as it is: a request that
 * runs, or ran, answers WEFT_EBUSY to every cancel, never WEFT_EALREADY
 * (which says an earlier cancel won and after_cb got WEFT_ECANCELED). The
 * losing cancel used to set the CANCELLED bit all the same, so the second
 * cancel of a running request, and any cancel after it ran, answered
 * WEFT_EALREADY while its after_cb got 0. */
static void cancel_of_a_started_request_stays_busy(void **state) {
  (void)state;
  weft_threadpool *tp = one_thread_pool();
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  latch done;
  latch_init(&done, 1);
  job r;
  start_blocker(tp, &r, &gate, &started);
  r.done = &done;
  count_wait(&started, 1); /* work_cb runs */
  int rc[3];
  rc[0] = weft_threadpool_cancel_work(tp, &r.req);
  rc[1] = weft_threadpool_cancel_work(tp, &r.req);
  gate_open(&gate);
  latch_wait(&done); /* after_cb(0) ran: the request is ours again */
  rc[2] = weft_threadpool_cancel_work(tp, &r.req);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  for (int i = 0; i < 3; i++) assert_int_equal(rc[i], WEFT_EBUSY);
  assert_int_equal(atomic_load(&r.ran), 1);
  assert_int_equal(atomic_load(&r.told), 1);
  assert_int_equal(atomic_load(&r.status), 0);
  latch_destroy(&done);
  sync_fini(&gate);
  sync_fini(&started);
}

static void probe_task(void *arg) { atomic_fetch_add((atomic_int *)arg, 1); }

static void *stopper_main(void *arg) {
  return (void *)(intptr_t)weft_threadpool_stop((weft_threadpool *)arg);
}

/* A request refused while a stop is still under way (the pool is closed,
 * its worker not yet joined): cancel_work must not promise an after_cb. */
static void cancel_refused_during_stop(void **state) {
  (void)state;
  weft_threadpool *tp = one_thread_pool();
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  job blocker, c = {0};
  start_blocker(tp, &blocker, &gate, &started);
  count_wait(&started, 1);
  pthread_t stopper;
  assert_int_equal(pthread_create(&stopper, NULL, stopper_main, tp), 0);
  /* The stop waits for the blocker; once it has closed the pool, submits
   * are refused. Accepted probes before that run after the blocker. */
  atomic_int probes;
  atomic_init(&probes, 0);
  while (weft_threadpool_call_in_thread(tp, probe_task, &probes) == 0) sched_yield();
  assert_int_equal(weft_threadpool_queue_work(tp, &c.req, job_work, job_after), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_cancel_work(tp, &c.req), WEFT_EINVAL);
  gate_open(&gate);
  void *rc;
  assert_int_equal(pthread_join(stopper, &rc), 0);
  assert_int_equal((int)(intptr_t)rc, 0);
  assert_int_equal(weft_threadpool_cancel_work(tp, &c.req), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(atomic_load(&c.ran), 0);
  assert_int_equal(atomic_load(&c.told), 0);
  assert_int_equal(atomic_load(&blocker.told), 1);
  sync_fini(&gate);
  sync_fini(&started);
}

/* A cancel on another thread that meets a queue_work the pool is refusing
 * (a stop under way): the cancel finds the request with its owner set and
 * its claim clear, before the refusal's mark. A context's retain hook, which
 * the submit calls in that window (lib/engine/submit.c, submit_in_context),
 * holds the submitter there until the other thread's cancel has returned.
 * That cancel wins the claim and answers 0, a promise of
 * after_cb(WEFT_ECANCELED): the submit keeps it (0, the owner told once, the
 * work never run). It used to answer WEFT_EQUIT with no after_cb ever, and
 * a later cancel WEFT_EALREADY. */
typedef struct window_race {
  weft_threadpool *tp;
  job *c;
  sync_t in_window, cancelled;
  atomic_int armed;
  atomic_int cancel_rc;
} window_race;
static window_race *g_race;

static void race_retain(void *ctx) {
  (void)ctx;
  window_race *w = g_race;
  if (!w || !atomic_exchange(&w->armed, 0)) return;
  count_up(&w->in_window);
  gate_wait(&w->cancelled);
}
static void race_release(void *ctx) { (void)ctx; }
static const weft_context_hooks race_hooks = {race_retain, race_release, NULL, NULL};

static void *race_canceller(void *arg) {
  window_race *w = arg;
  count_wait(&w->in_window, 1);
  atomic_store(&w->cancel_rc, weft_threadpool_cancel_work(w->tp, &w->c->req));
  gate_open(&w->cancelled);
  return NULL;
}

static void cancel_racing_a_refused_queue_work(void **state) {
  (void)state;
  weft_threadpool *tp = one_thread_pool();
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  job blocker, c = {0};
  start_blocker(tp, &blocker, &gate, &started);
  count_wait(&started, 1);
  pthread_t stopper;
  assert_int_equal(pthread_create(&stopper, NULL, stopper_main, tp), 0);
  atomic_int probes;
  atomic_init(&probes, 0);
  while (weft_threadpool_call_in_thread(tp, probe_task, &probes) == 0) sched_yield();
  /* The pool is closed, its stop waits for the blocker. */
  window_race w = {.tp = tp, .c = &c};
  sync_init(&w.in_window);
  sync_init(&w.cancelled);
  atomic_init(&w.armed, 1);
  atomic_init(&w.cancel_rc, 1);
  g_race = &w;
  assert_int_equal(weft_context_set_hooks(&race_hooks), 0);
  pthread_t canceller;
  assert_int_equal(pthread_create(&canceller, NULL, race_canceller, &w), 0);
  static int ctx;
  void *prev = weft_context_set(&ctx);
  int q = weft_threadpool_queue_work(tp, &c.req, job_work, job_after);
  weft_context_set(prev);
  int told_in_call = atomic_load(&c.told); /* before the stop ends */
  assert_int_equal(pthread_join(canceller, NULL), 0);
  assert_int_equal(weft_context_set_hooks(NULL), 0);
  g_race = NULL;
  gate_open(&gate);
  void *rc;
  assert_int_equal(pthread_join(stopper, &rc), 0);
  assert_int_equal((int)(intptr_t)rc, 0);
  int again = weft_threadpool_cancel_work(tp, &c.req);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(atomic_load(&w.cancel_rc), 0); /* it won the claim */
  assert_int_equal(q, 0);                         /* accepted and cancelled */
  assert_int_equal(told_in_call, 1);              /* the promise kept, once */
  assert_int_equal(atomic_load(&c.status), WEFT_ECANCELED);
  assert_int_equal(again, WEFT_EALREADY);
  assert_int_equal(atomic_load(&c.ran), 0);
  assert_int_equal(atomic_load(&c.told), 1);
  assert_int_equal(atomic_load(&blocker.told), 1);
  sync_fini(&w.in_window);
  sync_fini(&w.cancelled);
  sync_fini(&gate);
  sync_fini(&started);
}

/* ------------------------------------------------------------ stop_timeout */

static atomic_int logged_cancels;
static void count_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) atomic_fetch_add(&logged_cancels, 1);
}

static void plain_task(void *arg) { atomic_fetch_add((atomic_int *)arg, 1); }

/* A task blocked past the deadline: ETIMEDOUT, the queued ones cancelled
 * (their owners told), the running one reported; released afterwards and
 * joined by destroy. Nothing lost. */
static void stop_timeout_blocked_task(void **state) {
  (void)state;
  enum { Q = 10, P = 5 };
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 1;
  o.strict_cap = 1; /* no stand-in for the blocked worker */
  o.log = count_log;
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  atomic_store(&logged_cancels, 0);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  job blocker, jobs[Q];
  memset(jobs, 0, sizeof jobs);
  /* Queued before start: the worker takes the blocker with the others in
   * one batch, so they wait in its ring behind the blocked task. */
  start_blocker(tp, &blocker, &gate, &started);
  for (int i = 0; i < Q; i++)
    assert_int_equal(weft_threadpool_queue_work(tp, &jobs[i].req, job_work, job_after), 0);
  atomic_int plain_ran = 0;
  for (int i = 0; i < P; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, plain_task, &plain_ran), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  count_wait(&started, 1);
  weft_threadpool_stop_report rep;
  int rc = weft_threadpool_stop_timeout(tp, 10, &rep);
  assert_int_equal(rc, WEFT_ETIMEDOUT);
  printf("stop_timeout: cancelled %llu, running %d\n", (unsigned long long)rep.cancelled,
         rep.running);
  assert_int_equal(rep.running, 1);
  assert_int_equal(rep.cancelled, Q + P);
  for (int i = 0; i < Q; i++) {
    assert_int_equal(atomic_load(&jobs[i].ran), 0);
    assert_int_equal(atomic_load(&jobs[i].told), 1);
    assert_int_equal(atomic_load(&jobs[i].status), WEFT_ECANCELED);
  }
  assert_int_equal(atomic_load(&logged_cancels), P);
  assert_int_equal(atomic_load(&plain_ran), 0);
  /* The sweep decided them: a cancel now cannot promise another after_cb
   * (it answered 0 while a thread was left running). */
  for (int i = 0; i < Q; i++)
    assert_int_equal(weft_threadpool_cancel_work(tp, &jobs[i].req), WEFT_EALREADY);
  for (int i = 0; i < Q; i++) assert_int_equal(atomic_load(&jobs[i].told), 1);
  /* Stopped: submits are refused. */
  job late = {0};
  assert_int_equal(weft_threadpool_queue_work(tp, &late.req, job_work, job_after), WEFT_EQUIT);
  assert_int_equal(atomic_load(&blocker.told), 0); /* still running */
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(c.submitted, 1 + Q + P);
  assert_int_equal(c.executed + c.cancelled + (uint64_t)rep.running, c.submitted);
  gate_open(&gate);
  assert_int_equal(weft_threadpool_destroy(tp), 0); /* joins the thread left running */
  assert_int_equal(atomic_load(&blocker.ran), 1);
  assert_int_equal(atomic_load(&blocker.told), 1);
  assert_int_equal(atomic_load(&blocker.status), 0);
  sync_fini(&gate);
  sync_fini(&started);
}

/* report->cancelled is what the call cancelled, not every cancel made
 * while it ran: a request that weft_threadpool_cancel_work() won (it
 * answered 0: its cancel) and that the pool's thread takes out of the
 * queue, and tells, while the call waits for a submit window to flush, is
 * in no figure of the report. The window (held open on this thread, as a
 * reactor drain whose callback blocks would) is what holds the call after
 * its close; what it held is the call's: the flush finds the pool closed
 * and cancels it. The report counted both (the engine's whole count of
 * cancels during the call, the worker's skip of the claimed request
 * included). */
typedef struct stopper {
  weft_threadpool *tp;
  weft_threadpool_stop_report rep;
  int rc;
} stopper;
static void *stopper_thread(void *arg) {
  stopper *s = arg;
  s->rc = weft_threadpool_stop_timeout(s->tp, 60000, &s->rep);
  return NULL;
}
static void stop_timeout_report_leaves_out_a_won_cancel(void **state) {
  (void)state;
  held_pool h;
  held_pool_begin(&h);
  weft_threadpool *tp = h.tp;
  /* Queued behind the blocker, then cancelled: its owner is told when the
   * pool's thread reaches it. */
  latch won_told;
  latch_init(&won_told, 1);
  job won = {.done = &won_told};
  assert_int_equal(weft_threadpool_queue_work(tp, &won.req, job_work, job_after), 0);
  assert_int_equal(weft_threadpool_cancel_work(tp, &won.req), 0);
  /* A window on this thread holds one request for tp. */
  weft__submit_window w;
  assert_true(weft__submit_window_open(&w));
  job held = {0};
  assert_int_equal(weft_threadpool_queue_work(tp, &held.req, job_work, job_after), 0);
  stopper s = {.tp = tp};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, stopper_thread, &s), 0);
  /* Closed: the call has taken its baseline and waits for our window. */
  while (!weft__engine_is_closed(weft__threadpool_engine(tp))) sched_yield();
  gate_open(&h.gate);
  latch_wait(&won_told); /* the pool's thread took it and told its owner */
  assert_int_equal(atomic_load(&won.status), WEFT_ECANCELED);
  assert_int_equal(atomic_load(&won.ran), 0);
  weft__submit_window_close(&w); /* the flush cancels what it held; the call goes on */
  assert_int_equal(atomic_load(&held.told), 1);
  assert_int_equal(atomic_load(&held.status), WEFT_ECANCELED);
  pthread_join(th, NULL);
  assert_int_equal(s.rc, 0);
  assert_int_equal(s.rep.running, 0);
  assert_int_equal(s.rep.cancelled, 1); /* held; not won */
  held_pool_end(&h, 2);
  latch_destroy(&won_told);
}

/* A request whose cancel_work won, still queued when a stop with a
 * deadline sweeps the queue: the sweep tells its owner (once), and the
 * report leaves it out, as it leaves out one a pool thread tells (above):
 * it was the cancel's. Without the count of such requests the report said
 * 1. */
static void stop_timeout_report_leaves_out_a_won_cancel_it_sweeps(void **state) {
  (void)state;
  held_pool h;
  held_pool_begin(&h);
  job won = {0};
  assert_int_equal(weft_threadpool_queue_work(h.tp, &won.req, job_work, job_after), 0);
  assert_int_equal(weft_threadpool_cancel_work(h.tp, &won.req), 0);
  weft_threadpool_stop_report rep;
  assert_int_equal(weft_threadpool_stop_timeout(h.tp, 0, &rep), WEFT_ETIMEDOUT);
  assert_int_equal(rep.running, 1);
  assert_int_equal(rep.cancelled, 0);
  assert_int_equal(atomic_load(&won.told), 1); /* by the sweep, on this thread */
  assert_int_equal(atomic_load(&won.status), WEFT_ECANCELED);
  assert_int_equal(atomic_load(&won.ran), 0);
  gate_open(&h.gate);
  assert_int_equal(weft_threadpool_stop(h.tp), 0);
  assert_int_equal(atomic_load(&won.told), 1);
  held_pool_end(&h, 1);
}

/* After a timed-out stop, a plain stop joins the rest (0), then EQUIT. */
static void stop_after_stop_timeout_joins(void **state) {
  (void)state;
  held_pool h;
  held_pool_begin(&h);
  weft_threadpool_stop_report rep;
  assert_int_equal(weft_threadpool_stop_timeout(h.tp, 0, &rep), WEFT_ETIMEDOUT);
  assert_int_equal(rep.running, 1);
  assert_int_equal(rep.cancelled, 0);
  gate_open(&h.gate);
  assert_int_equal(weft_threadpool_stop(h.tp), 0);
  assert_int_equal(atomic_load(&h.blocker.told), 1);
  assert_int_equal(weft_threadpool_stop(h.tp), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_stop_timeout(h.tp, 0, NULL), WEFT_EQUIT);
  held_pool_end(&h, 0);
}

/* An idle pool, stopped with no time at all: nothing is in a task, so 0
 * and nothing running, though the woken workers may not have left yet
 * when the deadline has passed (they are joined, not reported). It
 * returned WEFT_ETIMEDOUT in about 1 run in 15 when those counted. */
static void stop_timeout_idle_pool(void **state) {
  (void)state;
  for (int round = 0; round < 50; round++) {
    weft_threadpool *tp;
    assert_int_equal(weft_threadpool_create(&tp, 4, 4, "idle"), 0);
    assert_int_equal(weft_threadpool_start(tp), 0);
    weft_threadpool_stop_report rep;
    assert_int_equal(weft_threadpool_stop_timeout(tp, 0, &rep), 0);
    assert_int_equal(rep.running, 0);
    assert_int_equal(weft_threadpool_workers(tp), 0);
    assert_int_equal(weft_threadpool_destroy(tp), 0);
  }
}

/* Nothing runs long: 0, nothing running, the queue cancelled or run. */
static void stop_timeout_in_time(void **state) {
  (void)state;
  enum { N = 1000 };
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create(&tp, 2, 2, "intime"), 0);
  job *jobs = calloc(N, sizeof *jobs);
  assert_non_null(jobs);
  for (int i = 0; i < N; i++)
    assert_int_equal(weft_threadpool_queue_work(tp, &jobs[i].req, job_work, job_after), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  weft_threadpool_stop_report rep;
  /* A generous limit: only a hang guard, nothing blocks. */
  assert_int_equal(weft_threadpool_stop_timeout(tp, 60000, &rep), 0);
  assert_int_equal(rep.running, 0);
  uint64_t ran = 0;
  for (int i = 0; i < N; i++) {
    assert_int_equal(atomic_load(&jobs[i].told), 1);
    ran += (uint64_t)atomic_load(&jobs[i].ran);
    if (!atomic_load(&jobs[i].ran)) assert_int_equal(atomic_load(&jobs[i].status), WEFT_ECANCELED);
  }
  assert_int_equal(ran + rep.cancelled, N);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(c.executed, ran);
  assert_int_equal(c.cancelled, rep.cancelled);
  assert_int_equal(weft_threadpool_stop_timeout(tp, 0, &rep), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  free(jobs);
}

typedef struct in_pool {
  weft_threadpool *tp;
  int rc;
  latch done;
} in_pool;
static void stop_from_inside(void *arg) {
  in_pool *p = arg;
  p->rc = weft_threadpool_stop_timeout(p->tp, 0, NULL);
  latch_count_down(&p->done);
}

static void stop_timeout_misuse(void **state) {
  (void)state;
  weft_threadpool_stop_report rep = {.cancelled = 7, .running = 7};
  assert_int_equal(weft_threadpool_stop_timeout(NULL, 0, &rep), WEFT_EINVAL);
  assert_int_equal(rep.running, 0);
  weft_threadpool *tp = one_thread_pool();
  assert_int_equal(weft_threadpool_stop_timeout(tp, -1, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  in_pool p = {.tp = tp};
  latch_init(&p.done, 1);
  assert_int_equal(weft_threadpool_call_in_thread(tp, stop_from_inside, &p), 0);
  latch_wait(&p.done);
  assert_int_equal(p.rc, WEFT_EDEADLK);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_stop_timeout(tp, 0, NULL), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  latch_destroy(&p.done);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cancel_queued_while_blocked),
      cmocka_unit_test(cancelled_request_at_destroy),
      cmocka_unit_test(cancel_races_start),
      cmocka_unit_test(cancel_races_start_other_thread),
      cmocka_unit_test(cancel_races_reuse_from_after),
      cmocka_unit_test(cancel_misuse),
      cmocka_unit_test(cancel_of_a_started_request_stays_busy),
      cmocka_unit_test(cancel_refused_during_stop),
      cmocka_unit_test(cancel_racing_a_refused_queue_work),
      cmocka_unit_test(stop_timeout_blocked_task),
      cmocka_unit_test(stop_after_stop_timeout_joins),
      cmocka_unit_test(stop_timeout_report_leaves_out_a_won_cancel),
      cmocka_unit_test(stop_timeout_report_leaves_out_a_won_cancel_it_sweeps),
      cmocka_unit_test(stop_timeout_in_time),
      cmocka_unit_test(stop_timeout_idle_pool),
      cmocka_unit_test(stop_timeout_misuse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
