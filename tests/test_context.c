/*
 * The submitter's context follows its work (weft/context.h): one case per
 * submit path. Each checks, inside the work and inside its completion, that
 * the context current when the work was submitted is weft's current context
 * and the one the enter hook made current; that the running thread gets its
 * own context back afterwards (leave called, a worker back to none); that
 * nested submits inherit; that cancelled work releases; and that at
 * quiescence every retain has its release and every enter its leave.
 * Synchronisation by latches and counters, never by sleeping.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/engine.h"           /* weft__engine_is_closed */
#include "pool/threadpool_impl.h" /* weft__threadpool_engine */
#include "test_sync.h"
#include "weft/weft.h"

/* ------------------------------------------------------------- the hooks */

typedef struct tctx {
  const char *name;
  atomic_int retains, releases, enters, leaves;
} tctx;

/* What the enter/leave hooks say is current on this thread: the user's own
 * machinery (a trace id in thread-local storage) that the hooks switch. */
static _Thread_local tctx *view;
static atomic_int bad_nesting;

static void h_retain(void *c) { atomic_fetch_add(&((tctx *)c)->retains, 1); }
static void h_release(void *c) { atomic_fetch_add(&((tctx *)c)->releases, 1); }
static void h_enter(void *c) {
  atomic_fetch_add(&((tctx *)c)->enters, 1);
  view = c;
}
static void h_leave(void *c, void *previous) {
  if (view != c) atomic_fetch_add(&bad_nesting, 1);
  atomic_fetch_add(&((tctx *)c)->leaves, 1);
  view = previous;
}
static const weft_context_hooks hooks = {h_retain, h_release, h_enter, h_leave};

static int setup(void **state) {
  (void)state;
  atomic_store(&bad_nesting, 0);
  view = NULL;
  weft_context_set(NULL);
  return weft_context_set_hooks(&hooks);
}
static int teardown(void **state) {
  (void)state;
  weft_context_set(NULL);
  view = NULL;
  return weft_context_set_hooks(NULL);
}

/* Every retain released, every enter left, properly nested. */
static void assert_quiescent(tctx *c) {
  assert_int_equal(atomic_load(&c->retains), atomic_load(&c->releases));
  assert_int_equal(atomic_load(&c->enters), atomic_load(&c->leaves));
  assert_int_equal(atomic_load(&bad_nesting), 0);
}

/* A check made where the work or a completion runs: `want` is current for
 * weft and for the hooks (NULL: no context at all). */
typedef struct probe {
  tctx *want;
  atomic_int ok, bad;
  latch *done; /* counted down after each check, if set */
} probe;

static void check(probe *p) {
  if (weft_context_current() == (void *)p->want && view == p->want) atomic_fetch_add(&p->ok, 1);
  else atomic_fetch_add(&p->bad, 1);
  if (p->done) latch_count_down(p->done);
}
static void check_task(void *arg) { check(arg); }
static void assert_probe(probe *p, int ok) {
  assert_int_equal(atomic_load(&p->bad), 0);
  assert_int_equal(atomic_load(&p->ok), ok);
}

static void quiet_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)err;
  (void)what;
}

/* A pool with exactly one thread, so consecutive tasks share it. */
static weft_threadpool *one_thread_pool(int start) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  o.strict_cap = 1;
  o.log = quiet_log;
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  if (start) assert_int_equal(weft_threadpool_start(tp), 0);
  return tp;
}

/* ------------------------------------------------------------ ThreadPool */

static void threadpool_call_in_thread(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  latch done;
  latch_init(&done, 2);
  probe in_a = {.want = &a, .done = &done}, after = {.want = NULL, .done = &done};
  weft_threadpool *tp = one_thread_pool(1);
  assert_null(weft_context_set(&a));
  assert_ptr_equal(weft_context_current(), &a);
  assert_int_equal(weft_threadpool_call_in_thread(tp, check_task, &in_a), 0);
  assert_ptr_equal(weft_context_set(NULL), &a);
  /* Same thread, no context: the worker was given its own (none) back. */
  assert_int_equal(weft_threadpool_call_in_thread(tp, check_task, &after), 0);
  latch_wait(&done);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_threadpool_destroy(tp);
  assert_probe(&in_a, 1);
  assert_probe(&after, 1);
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_int_equal(atomic_load(&a.enters), 1);
  assert_quiescent(&a);
  latch_destroy(&done);
}

/* Twisted's test_callbackContext: the callable and onResult share the
 * submitter's context. */
static int call_check(void *arg, void **result) {
  check(arg);
  *result = arg;
  return 0;
}
static void result_check(void *ctx, int status, void *result) {
  probe *p = ctx;
  if (status != 0 || result != (void *)p) atomic_fetch_add(&p->bad, 1);
  check(p);
}

static void threadpool_with_callback(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  latch done;
  latch_init(&done, 2);
  probe p = {.want = &a, .done = &done};
  weft_threadpool *tp = one_thread_pool(1);
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, result_check, &p, call_check, &p), 0);
  weft_context_set(NULL);
  latch_wait(&done);
  weft_threadpool_destroy(tp);
  assert_probe(&p, 2);
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_quiescent(&a);
  latch_destroy(&done);
}

typedef struct work_probe {
  weft_work req;
  probe p;
  int status;
} work_probe;
static void work_check(weft_work *req) { check(&((work_probe *)req)->p); }
static void after_check(weft_work *req, int status) {
  work_probe *w = (work_probe *)req;
  w->status = status;
  check(&w->p);
}

static void threadpool_queue_work(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  latch done;
  latch_init(&done, 2);
  work_probe w = {.p = {.want = &a, .done = &done}, .status = 1};
  weft_threadpool *tp = one_thread_pool(1);
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_queue_work(tp, &w.req, work_check, after_check), 0);
  weft_context_set(NULL);
  latch_wait(&done);
  weft_threadpool_destroy(tp);
  assert_int_equal(w.status, 0);
  assert_probe(&w.p, 2);
  assert_quiescent(&a);
  latch_destroy(&done);
}

/* A request whose after_cb frees it, submitted in a context: the submit
 * must not touch the request once the pool has it (ASan reports a write
 * after free otherwise; every request is told exactly once). */
static atomic_long freed_after;
static void work_nothing(weft_work *req) { (void)req; }
static void after_free(weft_work *req, int status) {
  (void)status;
  free(req);
  atomic_fetch_add(&freed_after, 1);
}
static void threadpool_queue_work_after_frees(void **state) {
  (void)state;
  enum { N = 50000 };
  tctx a = {.name = "a"};
  weft_threadpool *tp = one_thread_pool(2);
  atomic_store(&freed_after, 0);
  weft_context_set(&a);
  for (int i = 0; i < N; i++) {
    weft_work *req = malloc(sizeof *req);
    assert_non_null(req);
    assert_int_equal(weft_threadpool_queue_work(tp, req, work_nothing, after_free), 0);
  }
  weft_context_set(NULL);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_threadpool_destroy(tp);
  assert_int_equal(atomic_load(&freed_after), N);
  assert_quiescent(&a);
}

/* Work submitted from inside work inherits its context (Twisted: the
 * worker's innermost context is the captured one while func runs). */
typedef struct nest {
  weft_threadpool *tp;
  probe outer, inner;
  work_probe w;
} nest;
static void nest_outer(void *arg) {
  nest *n = arg;
  check(&n->outer);
  if (weft_threadpool_call_in_thread(n->tp, check_task, &n->inner) != 0)
    atomic_fetch_add(&n->inner.bad, 1);
  if (weft_threadpool_queue_work(n->tp, &n->w.req, work_check, after_check) != 0)
    atomic_fetch_add(&n->w.p.bad, 1);
}

static void threadpool_nested_inherit(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  latch done;
  latch_init(&done, 4);
  nest n = {.outer = {.want = &a, .done = &done},
            .inner = {.want = &a, .done = &done},
            .w = {.p = {.want = &a, .done = &done}}};
  weft_threadpool *tp = one_thread_pool(1);
  n.tp = tp;
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_call_in_thread(tp, nest_outer, &n), 0);
  weft_context_set(NULL);
  latch_wait(&done);
  weft_threadpool_destroy(tp);
  assert_probe(&n.outer, 1);
  assert_probe(&n.inner, 1);
  assert_probe(&n.w.p, 2);
  assert_int_equal(atomic_load(&a.retains), 3); /* one per task */
  assert_quiescent(&a);
  latch_destroy(&done);
}

static void cancelled_check(void *ctx, int status, void *result) {
  probe *p = ctx;
  if (status != WEFT_ECANCELED || result != NULL) atomic_fetch_add(&p->bad, 1);
  check(p);
}

/* Cancelled before it ran: the callbacks that say so run in the context,
 * on the stopping thread, which then has its own context back; every
 * context is released. */
static void threadpool_cancelled(void **state) {
  (void)state;
  tctx a = {.name = "a"}, b = {.name = "b"};
  probe never = {.want = &a}, told = {.want = &a};
  work_probe w = {.p = {.want = &a}, .status = 0};
  weft_threadpool *tp = one_thread_pool(0); /* never started: all backlog */
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_call_in_thread(tp, check_task, &never), 0);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, cancelled_check, &told, call_check, &never), 0);
  assert_int_equal(weft_threadpool_queue_work(tp, &w.req, work_check, after_check), 0);
  assert_int_equal(atomic_load(&a.retains), 3);
  weft_context_set(&b);
  weft_threadpool_stop(tp);
  assert_ptr_equal(weft_context_current(), &b); /* the stopping thread's own */
  weft_threadpool_destroy(tp);
  assert_probe(&never, 0); /* no work ran */
  assert_probe(&told, 1); /* on_result: WEFT_ECANCELED, in a */
  assert_int_equal(w.status, WEFT_ECANCELED);
  assert_int_equal(atomic_load(&w.p.ok), 1); /* after_cb only, in a */
  assert_int_equal(atomic_load(&a.releases), 3);
  assert_int_equal(atomic_load(&b.retains), 0);
  assert_quiescent(&a);
}

/* weft_threadpool_cancel_work wins: the worker that takes the request tells
 * after_cb, in the submitter's context. */
static void threadpool_cancel_work(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  gated g = {.gate = &gate, .started = &started};
  latch done;
  latch_init(&done, 1);
  work_probe w = {.p = {.want = &a, .done = &done}, .status = 0};
  weft_threadpool *tp = one_thread_pool(1);
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&started, 1); /* the only thread is busy */
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_queue_work(tp, &w.req, work_check, after_check), 0);
  weft_context_set(NULL);
  assert_int_equal(weft_threadpool_cancel_work(tp, &w.req), 0);
  gate_open(&gate);
  latch_wait(&done);
  weft_threadpool_destroy(tp);
  assert_int_equal(w.status, WEFT_ECANCELED);
  assert_probe(&w.p, 1);
  assert_quiescent(&a);
  sync_fini(&gate);
  sync_fini(&started);
  latch_destroy(&done);
}

/* --------------------------------------------------------- Team, workers */

static int limit_two(void *ctx) {
  (void)ctx;
  return 2;
}

static void pool_team_do(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  latch done;
  latch_init(&done, 1);
  probe p = {.want = &a, .done = &done};
  weft_team *team;
  assert_int_equal(weft_pool(&team, limit_two, NULL, NULL, NULL, "ctx"), 0);
  weft_context_set(&a);
  assert_int_equal(weft_team_do(team, check_task, &p), 0);
  weft_context_set(NULL);
  latch_wait(&done);
  assert_int_equal(weft_team_quit(team), 0);
  while (weft_team_destroy(team) == WEFT_EBUSY) sched_yield(); /* the task may still be returning */
  assert_probe(&p, 1);
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_quiescent(&a);
  latch_destroy(&done);
}

/* The generic Team on memory workers, run step by step on this thread: the
 * coordinator's steps run in whatever context this thread has (b), the
 * task in the one it was submitted in (a). */
typedef struct mem_team {
  weft_worker *workers[4];
  int n, refuse;
} mem_team;
static weft_worker *mem_create(void *ctx) {
  mem_team *m = ctx;
  if (m->refuse || m->n == 4) return NULL;
  weft_worker *w;
  if (weft_memory_worker_create(&w) != 0) return NULL;
  m->workers[m->n++] = w;
  return w;
}
static void perform_all(weft_worker *coord, mem_team *m) {
  for (int progress = 1; progress;) {
    progress = 0;
    while (weft_memory_worker_perform(coord) == 1) progress = 1;
    for (int i = 0; i < m->n; i++)
      while (weft_memory_worker_perform(m->workers[i]) == 1) progress = 1;
  }
}

static void generic_team_do(void **state) {
  (void)state;
  tctx a = {.name = "a"}, b = {.name = "b"};
  probe p = {.want = &a};
  mem_team m = {.n = 0};
  weft_worker *coord;
  assert_int_equal(weft_memory_worker_create(&coord), 0);
  weft_team *team;
  assert_int_equal(weft_team_create(&team, coord, mem_create, &m, quiet_log, NULL), 0);
  weft_context_set(&a);
  assert_int_equal(weft_team_do(team, check_task, &p), 0);
  weft_context_set(&b);
  perform_all(coord, &m);
  assert_ptr_equal(weft_context_current(), &b);
  assert_ptr_equal(view, &b); /* leave restored the previous one */
  assert_probe(&p, 1);
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_int_equal(atomic_load(&b.retains), 0); /* the team's own hops capture nothing */
  weft_context_set(NULL);
  view = NULL;
  assert_int_equal(weft_team_quit(team), 0);
  while (weft_memory_worker_perform(coord) == 1) {
  } /* quits and releases the idle worker (the team owns it) */
  assert_int_equal(weft_team_destroy(team), 0);
  assert_quiescent(&a);
}

/* A task backlogged when the team is destroyed never runs: its context is
 * released all the same; so is one left in a released memory worker. */
static void generic_team_backlog_released(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  probe p = {.want = &a};
  mem_team m = {.refuse = 1};
  weft_worker *coord;
  assert_int_equal(weft_memory_worker_create(&coord), 0);
  weft_team *team;
  assert_int_equal(weft_team_create(&team, coord, mem_create, &m, quiet_log, NULL), 0);
  weft_context_set(&a);
  assert_int_equal(weft_team_do(team, check_task, &p), 0);
  weft_context_set(NULL);
  perform_all(coord, &m); /* no worker: backlogged */
  assert_int_equal(weft_team_quit(team), 0);
  perform_all(coord, &m);
  assert_int_equal(weft_team_destroy(team), 0);
  assert_probe(&p, 0);
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_quiescent(&a);

  weft_worker *mw;
  assert_int_equal(weft_memory_worker_create(&mw), 0);
  weft_context_set(&a);
  assert_int_equal(weft_worker_do(mw, check_task, &p), 0);
  weft_context_set(NULL);
  weft_worker_release(mw); /* never performed */
  assert_int_equal(atomic_load(&a.retains), 2);
  assert_quiescent(&a);
}

static void thread_worker_do(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  latch done;
  latch_init(&done, 2);
  probe in_a = {.want = &a, .done = &done}, after = {.want = NULL, .done = &done};
  weft_worker *w;
  assert_int_equal(weft_thread_worker_create(&w, NULL, NULL, "ctx"), 0);
  weft_context_set(&a);
  assert_int_equal(weft_worker_do(w, check_task, &in_a), 0);
  weft_context_set(NULL);
  assert_int_equal(weft_worker_do(w, check_task, &after), 0); /* same thread, after */
  latch_wait(&done);
  weft_worker_release(w);
  assert_probe(&in_a, 1);
  assert_probe(&after, 1);
  assert_quiescent(&a);
  latch_destroy(&done);
}

/* LockWorker: inline, and trampolined from inside a work item, each in the
 * context of its own do(). */
typedef struct lw_case {
  weft_worker *w;
  tctx *b;
  probe outer, inner;
} lw_case;
static void lw_submit_inner(void *arg) {
  lw_case *c = arg;
  if (weft_worker_do(c->w, check_task, &c->inner) != 0) atomic_fetch_add(&c->inner.bad, 1);
}
static void lw_outer(void *arg) {
  lw_case *c = arg;
  check(&c->outer);
  weft_context_call(c->b, lw_submit_inner, c); /* queued, runs after lw_outer */
}

static void lock_worker_do(void **state) {
  (void)state;
  tctx a = {.name = "a"}, b = {.name = "b"};
  lw_case c = {.b = &b, .outer = {.want = &a}, .inner = {.want = &b}};
  assert_int_equal(weft_lock_worker_create(&c.w, NULL, NULL), 0);
  weft_context_set(&a);
  assert_int_equal(weft_worker_do(c.w, lw_outer, &c), 0);
  assert_ptr_equal(weft_context_current(), &a);
  weft_context_set(NULL);
  weft_worker_release(c.w);
  assert_probe(&c.outer, 1);
  assert_probe(&c.inner, 1);
  assert_quiescent(&a);
  assert_quiescent(&b);
  assert_int_equal(atomic_load(&b.enters), 2); /* weft_context_call, then the inner run */
}


/* A plain item (submitted with no context) that another thread drains from
 * the lock-free coordinator runs in no context, not in the drainer's
 * (context.h: the context current at the submit is the one current while
 * the work runs). Before the fix it ran with the drainer's context Y
 * current, and what it submitted captured Y (a retain of Y for work that
 * was never Y's). Set aside, no hook is called, as for the cancels of
 * weft__context_cancel_outside: weft's current context is what is checked. */
typedef struct plain_probe {
  weft_worker *mw; /* a memory worker: what the item submits stays queued */
  void *seen;
  int ran;
} plain_probe;
static void noop(void *arg) { (void)arg; }
static void plain_item(void *arg) {
  plain_probe *p = arg;
  p->seen = weft_context_current();
  p->ran++;
  if (weft_worker_do(p->mw, noop, NULL) != 0) p->ran = -100; /* captures what is current */
}

typedef struct coord_case {
  weft_worker *w;
  tctx *y;
  latch holding, proceed;
  plain_probe plain;
} coord_case;
static void coord_hold(void *arg) {
  coord_case *c = arg;
  latch_count_down(&c->holding);
  latch_wait(&c->proceed);
}
static void *coord_drainer(void *arg) {
  coord_case *c = arg;
  weft_context_set(c->y);
  if (weft_worker_do(c->w, coord_hold, c) != 0) c->plain.ran = -1000;
  weft_context_set(NULL);
  return NULL;
}

static void coordinator_plain_item_runs_in_no_context(void **state) {
  (void)state;
  tctx y = {.name = "y"};
  coord_case c = {.y = &y};
  c.plain.seen = &c; /* anything but NULL */
  assert_int_equal(weft_coordinator_create(&c.w), 0);
  assert_int_equal(weft_memory_worker_create(&c.plain.mw), 0);
  latch_init(&c.holding, 1);
  latch_init(&c.proceed, 1);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, coord_drainer, &c), 0);
  latch_wait(&c.holding); /* the drainer holds the coordinator, inside its item */
  /* Queued behind coord_hold (the coordinator is busy): the drainer runs it. */
  assert_int_equal(weft_worker_do(c.w, plain_item, &c.plain), 0);
  latch_count_down(&c.proceed);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(c.plain.ran, 1);
  assert_null(c.plain.seen);
  assert_int_equal(atomic_load(&y.retains), 1); /* the drainer's own item only */
  weft_worker_release(c.plain.mw); /* never performed: released */
  weft_worker_release(c.w);
  assert_quiescent(&y);
  latch_destroy(&c.holding);
  latch_destroy(&c.proceed);
}

/* The same drain, the drainer's context Y entered through the hooks
 * (weft_context_call), and the plain item, run set aside, enters a context
 * Z of its own. Z's leave must tell the hooks Y as `previous`, the context
 * that is current again once the item returns: told NULL (the set-aside
 * value, which the hooks never heard of), the hooks' view stayed NULL
 * while weft's current context came back to Y without a hook. */
typedef struct aside_case {
  weft_worker *w;
  tctx *y, *z;
  latch holding, proceed;
  void *current_after, *view_after;
} aside_case;
static void aside_hold(void *arg) {
  aside_case *c = arg;
  latch_count_down(&c->holding);
  latch_wait(&c->proceed);
}
static void aside_plain_item(void *arg) {
  aside_case *c = arg;
  weft_context_call(c->z, noop, NULL);
}
static void aside_body(void *arg) {
  aside_case *c = arg;
  weft_worker_do(c->w, aside_hold, c); /* drains aside_hold, then the plain item */
  c->current_after = weft_context_current();
  c->view_after = view;
}
static void *aside_drainer(void *arg) {
  aside_case *c = arg;
  weft_context_call(c->y, aside_body, c);
  return NULL;
}

static void set_aside_item_entering_a_context_keeps_the_hooks_view(void **state) {
  (void)state;
  tctx y = {.name = "y"}, z = {.name = "z"};
  aside_case c = {.y = &y, .z = &z};
  assert_int_equal(weft_coordinator_create(&c.w), 0);
  latch_init(&c.holding, 1);
  latch_init(&c.proceed, 1);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, aside_drainer, &c), 0);
  latch_wait(&c.holding); /* the drainer holds the coordinator, inside its item */
  assert_int_equal(weft_worker_do(c.w, aside_plain_item, &c), 0); /* queued behind it */
  latch_count_down(&c.proceed);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_ptr_equal(c.current_after, &y);
  assert_ptr_equal(c.view_after, &y); /* NULL before the fix */
  assert_int_equal(atomic_load(&z.enters), 1);
  weft_worker_release(c.w);
  assert_quiescent(&y);
  assert_quiescent(&z);
  latch_destroy(&c.holding);
  latch_destroy(&c.proceed);
}

/* LockWorker: an item queued from inside an item while the thread had no
 * context (weft_context_call(NULL, ...): "runs fn with no context") runs,
 * trampolined, in none; it ran in the outer do()'s context A. */
typedef struct lwp_case {
  weft_worker *w;
  plain_probe plain;
} lwp_case;
static void lwp_submit(void *arg) {
  lwp_case *c = arg;
  if (weft_worker_do(c->w, plain_item, &c->plain) != 0) c->plain.ran = -1000;
}
static void lwp_outer(void *arg) {
  weft_context_call(NULL, lwp_submit, arg); /* queued with no context */
}

static void lock_worker_plain_item_runs_in_no_context(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  lwp_case c;
  c.plain.seen = &c;
  c.plain.ran = 0;
  assert_int_equal(weft_lock_worker_create(&c.w, NULL, NULL), 0);
  assert_int_equal(weft_memory_worker_create(&c.plain.mw), 0);
  weft_context_set(&a);
  assert_int_equal(weft_worker_do(c.w, lwp_outer, &c), 0);
  assert_ptr_equal(weft_context_current(), &a);
  weft_context_set(NULL);
  assert_int_equal(c.plain.ran, 1);
  assert_null(c.plain.seen);
  assert_int_equal(atomic_load(&a.retains), 1); /* the outer do() only */
  weft_worker_release(c.plain.mw);
  weft_worker_release(c.w);
  assert_quiescent(&a);
}

/* MemoryWorker: an item queued with no context and performed by a thread
 * that has one (perform() runs it "in the calling thread") runs in none,
 * as a coordinator's drain and a LockWorker's trampoline run theirs; a
 * bound item (queued in a context) still enters its own. Before the fix
 * perform() called the item directly: it ran with the performer's context
 * Y current, and what it submitted captured Y (a retain of Y for work that
 * was never Y's). */
static void memory_worker_plain_item_runs_in_no_context(void **state) {
  (void)state;
  tctx y = {.name = "y"}, z = {.name = "z"};
  weft_worker *mw = NULL;
  plain_probe plain = {.seen = &plain};
  assert_int_equal(weft_memory_worker_create(&mw), 0);
  assert_int_equal(weft_memory_worker_create(&plain.mw), 0);
  assert_int_equal(weft_worker_do(mw, plain_item, &plain), 0); /* no context */
  probe bound = {.want = &z};
  weft_context_set(&z);
  assert_int_equal(weft_worker_do(mw, check_task, &bound), 0); /* bound to z */
  weft_context_set(&y);
  assert_int_equal(weft_memory_worker_perform(mw), 1);
  assert_int_equal(weft_memory_worker_perform(mw), 1);
  assert_ptr_equal(weft_context_current(), &y); /* the performer's, back */
  weft_context_set(NULL);
  assert_int_equal(plain.ran, 1);
  assert_null(plain.seen);                       /* was &y */
  assert_int_equal(atomic_load(&y.retains), 0);  /* was 1: the item's submit captured y */
  assert_probe(&bound, 1);
  weft_worker_release(plain.mw); /* never performed: released */
  weft_worker_release(mw);
  assert_quiescent(&y);
  assert_quiescent(&z);
}

/* ---------------------------------------------------------------- reactor */

typedef struct loop_case {
  weft_reactor *r;
  tctx *a;
  probe p;
  latch *done;
  weft_work req;
  weft_reactor_work rw;
  int rw_status;
} loop_case;

static void stop_reactor(void *arg) { weft_reactor_stop(arg); }

static void req_check(weft_work *req) {
  loop_case *c = req->data;
  check(&c->p);
}

static void *caller_thread(void *arg) {
  loop_case *c = arg;
  weft_context_set(c->a);
  if (weft_reactor_call_from_thread(c->r, check_task, &c->p) != 0) atomic_fetch_add(&c->p.bad, 1);
  c->req.data = c;
  if (weft_reactor_call_from_thread_req(c->r, &c->req, req_check) != 0) atomic_fetch_add(&c->p.bad, 1);
  weft_context_set(NULL);
  if (weft_reactor_call_from_thread(c->r, stop_reactor, c->r) != 0) atomic_fetch_add(&c->p.bad, 1);
  return NULL;
}

static void reactor_call_from_thread(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  loop_case c = {.a = &a, .p = {.want = &a}};
  assert_int_equal(weft_reactor_create(&c.r), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, caller_thread, &c), 0);
  assert_int_equal(weft_reactor_run(c.r), 0);
  pthread_join(th, NULL);
  assert_null(weft_context_current()); /* the loop has its own back */
  assert_null(view);
  weft_reactor_destroy(c.r);
  assert_probe(&c.p, 2);
  assert_int_equal(atomic_load(&a.retains), 2);
  assert_quiescent(&a);
}

/* A call queued with no context runs in none, though the thread that drains
 * the reactor has one (context.h: the context current at the submit is the
 * one current while the work runs); a call queued in b runs in b; the
 * drainer's context is its own again afterwards. Before the drain ran plain
 * calls as they were, in the drainer's context x, and what they submitted
 * captured x. */
static void current_is_none(void *arg) {
  atomic_fetch_add((atomic_int *)arg, weft_context_current() == NULL ? 1 : 1000);
}
static void reactor_plain_call_runs_in_no_context(void **state) {
  (void)state;
  tctx x = {.name = "x"}, b = {.name = "b"};
  probe in_b = {.want = &b};
  atomic_int none = 0; /* set aside without a hook: weft's current is checked */
  weft_reactor *r;
  int fd;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  assert_int_equal(weft_reactor_call_from_thread(r, current_is_none, &none), 0);
  weft_context_set(&b);
  assert_int_equal(weft_reactor_call_from_thread(r, check_task, &in_b), 0);
  weft_context_set(NULL);
  assert_int_equal(weft_reactor_call_from_thread(r, current_is_none, &none), 0);
  weft_context_set(&x); /* the drainer's own, set without a hook */
  assert_int_equal(weft_reactor_drain(r), 3);
  assert_ptr_equal(weft_context_current(), &x);
  assert_ptr_equal(view, &x); /* b's leave hook was told x comes back */
  weft_context_set(NULL);
  view = NULL;
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(atomic_load(&none), 2);
  assert_probe(&in_b, 1);
  assert_int_equal(atomic_load(&x.retains), 0);
  assert_quiescent(&b);
}

/* deferToThreadPool: the work in the pool, the Deferred's callbacks on the
 * loop, both in the context the loop had when it submitted; a callback's own
 * deferToThread inherits it. */
static int defer_work(void *arg, void **result) {
  check(arg);
  *result = arg;
  return 0;
}
static int defer_second_cb(void *ctx, weft_result *res) {
  loop_case *c = ctx;
  (void)res;
  check(&c->p);
  weft_reactor_stop(c->r);
  return 0;
}
static int defer_first_cb(void *ctx, weft_result *res) {
  loop_case *c = ctx;
  if (res->value != (void *)&c->p) atomic_fetch_add(&c->p.bad, 1);
  check(&c->p);
  weft_deferred *d;
  if (weft_defer_to_thread(c->r, defer_work, &c->p, &d) != 0) {
    atomic_fetch_add(&c->p.bad, 1);
    weft_reactor_stop(c->r);
    return 0;
  }
  if (weft_deferred_add_callback(d, defer_second_cb, c) != 0) atomic_fetch_add(&c->p.bad, 1);
  weft_deferred_unref(d);
  return 0;
}
static void defer_submit(void *arg) {
  loop_case *c = arg;
  weft_threadpool *tp;
  weft_deferred *d;
  if (weft_reactor_get_thread_pool(c->r, &tp) != 0 ||
      weft_defer_to_thread_pool(c->r, tp, defer_work, &c->p, &d) != 0) {
    atomic_fetch_add(&c->p.bad, 1);
    weft_reactor_stop(c->r);
    return;
  }
  if (weft_deferred_add_callback(d, defer_first_cb, c) != 0) atomic_fetch_add(&c->p.bad, 1);
  weft_deferred_unref(d);
}
static void defer_start(void *arg) {
  loop_case *c = arg;
  weft_context_call(c->a, defer_submit, c); /* the loop is in a only for this call */
}

static void defer_to_thread_pool_case(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  loop_case c = {.a = &a, .p = {.want = &a}};
  assert_int_equal(weft_reactor_create(&c.r), 0);
  assert_int_equal(weft_reactor_call_when_running(c.r, defer_start, &c), 0);
  assert_int_equal(weft_reactor_run(c.r), 0);
  assert_null(weft_context_current());
  assert_null(view);
  weft_reactor_destroy(c.r);
  assert_probe(&c.p, 4); /* work, callback, work, callback */
  assert_quiescent(&a);
}

/* The round trip carries the context in its own block: one reference per
 * trip, taken at the submit and released after the Deferred fired (a
 * wrapper around the request and another around its completion took two);
 * the work and the callback each entered once. */
static int one_trip_cb(void *ctx, weft_result *res) {
  loop_case *c = ctx;
  if (res->value != (void *)&c->p) atomic_fetch_add(&c->p.bad, 1);
  check(&c->p);
  weft_reactor_stop(c->r);
  return 0;
}
static void one_trip_submit(void *arg) {
  loop_case *c = arg;
  weft_deferred *d;
  if (weft_defer_to_thread(c->r, defer_work, &c->p, &d) != 0) {
    atomic_fetch_add(&c->p.bad, 1);
    weft_reactor_stop(c->r);
    return;
  }
  if (weft_deferred_add_callback(d, one_trip_cb, c) != 0) atomic_fetch_add(&c->p.bad, 1);
  weft_deferred_unref(d);
}
static void one_trip_start(void *arg) {
  loop_case *c = arg;
  weft_context_call(c->a, one_trip_submit, c);
}

static void defer_to_thread_pool_takes_one_reference(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  loop_case c = {.a = &a, .p = {.want = &a}};
  assert_int_equal(weft_reactor_create(&c.r), 0);
  assert_int_equal(weft_reactor_call_when_running(c.r, one_trip_start, &c), 0);
  assert_int_equal(weft_reactor_run(c.r), 0);
  assert_null(weft_context_current());
  assert_null(view);
  weft_reactor_destroy(c.r);
  assert_probe(&c.p, 2); /* the work, the callback */
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_int_equal(atomic_load(&a.enters), 3); /* weft_context_call, the work, the callback */
  assert_quiescent(&a);
}

/* Cancelled before it ran (the pool's only thread held): the errback fires
 * in the canceller's context at once; the request comes back cancelled, and
 * its completion, swallowed, still releases the trip's reference. */
static latch cancel_hold, cancel_held;
static void hold_the_thread(void *arg) {
  (void)arg;
  latch_count_down(&cancel_held);
  latch_wait(&cancel_hold);
}
static int never_runs(void *arg, void **result) {
  atomic_fetch_add(&((probe *)arg)->bad, 1);
  *result = NULL;
  return 0;
}
static int cancelled_eb(void *ctx, weft_result *res) {
  loop_case *c = ctx;
  if (res->failure == NULL || weft_failure_code(res->failure) != WEFT_ECANCELED)
    atomic_fetch_add(&c->p.bad, 1);
  check(&c->p);
  weft_result_set_value(res, NULL); /* handled */
  return 0;
}
typedef struct cancel_case {
  loop_case c;
  weft_threadpool *tp;
} cancel_case;
static void cancel_submit(void *arg) {
  cancel_case *k = arg;
  weft_deferred *d;
  if (weft_defer_to_thread_pool(k->c.r, k->tp, never_runs, &k->c.p, &d) != 0) {
    atomic_fetch_add(&k->c.p.bad, 1);
    return;
  }
  if (weft_deferred_add_errback(d, cancelled_eb, &k->c) != 0) atomic_fetch_add(&k->c.p.bad, 1);
  weft_deferred_cancel(d);
  weft_deferred_unref(d);
}
static void cancel_start(void *arg) {
  cancel_case *k = arg;
  weft_context_call(k->c.a, cancel_submit, k);
  latch_count_down(&cancel_hold); /* the request comes back cancelled */
  weft_reactor_call_from_thread(k->c.r, stop_reactor, k->c.r); /* after its completion */
}

static void defer_to_thread_pool_cancelled_releases(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  cancel_case k = {.c = {.a = &a, .p = {.want = &a}}};
  latch_init(&cancel_hold, 1);
  latch_init(&cancel_held, 1);
  k.tp = one_thread_pool(1);
  assert_int_equal(weft_threadpool_call_in_thread(k.tp, hold_the_thread, NULL), 0);
  latch_wait(&cancel_held);
  assert_int_equal(weft_reactor_create(&k.c.r), 0);
  assert_int_equal(weft_reactor_call_when_running(k.c.r, cancel_start, &k), 0);
  assert_int_equal(weft_reactor_run(k.c.r), 0);
  assert_int_equal(weft_threadpool_stop(k.tp), 0);
  weft_reactor_destroy(k.c.r); /* runs a completion still queued */
  weft_threadpool_destroy(k.tp);
  assert_probe(&k.c.p, 1); /* the errback */
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_quiescent(&a);
  latch_destroy(&cancel_hold);
  latch_destroy(&cancel_held);
}

/* Without hooks the trip still carries the pointer: current in the work and
 * in the callback, and the loop back to none between its callbacks. */
typedef struct bare_trip {
  weft_reactor *r;
  void *ctx;
  void *in_work, *in_cb, *after;
} bare_trip;
static int bare_work(void *arg, void **result) {
  ((bare_trip *)arg)->in_work = weft_context_current();
  *result = arg;
  return 0;
}
static void bare_after(void *arg) {
  bare_trip *b = arg;
  b->after = weft_context_current();
  weft_reactor_stop(b->r);
}
static int bare_cb(void *ctx, weft_result *res) {
  (void)res;
  bare_trip *b = ctx;
  b->in_cb = weft_context_current();
  weft_reactor_call_later(b->r, 0, bare_after, b, NULL);
  return 0;
}
static void bare_submit(void *arg) {
  bare_trip *b = arg;
  weft_deferred *d;
  if (weft_defer_to_thread(b->r, bare_work, b, &d) != 0) {
    weft_reactor_stop(b->r);
    return;
  }
  (void)weft_deferred_add_callback(d, bare_cb, b);
  weft_deferred_unref(d);
}
static void bare_start(void *arg) {
  bare_trip *b = arg;
  weft_context_call(b->ctx, bare_submit, b);
}

static void defer_to_thread_pool_no_hooks_carries_pointer(void **state) {
  (void)state;
  weft_context_set_hooks(NULL);
  tctx a = {.name = "a"};
  bare_trip b = {.ctx = &a, .after = &b};
  assert_int_equal(weft_reactor_create(&b.r), 0);
  assert_int_equal(weft_reactor_call_when_running(b.r, bare_start, &b), 0);
  assert_int_equal(weft_reactor_run(b.r), 0);
  weft_reactor_destroy(b.r);
  assert_ptr_equal(b.in_work, &a);
  assert_ptr_equal(b.in_cb, &a);
  assert_null(b.after);
  assert_null(weft_context_current());
}

/* weft_reactor_queue_work: work in the pool, after_cb on the loop. */
static void rw_work(weft_reactor_work *req) { check(&((loop_case *)req->data)->p); }
static void rw_after(weft_reactor_work *req, int status) {
  loop_case *c = req->data;
  c->rw_status = status;
  check(&c->p);
  weft_reactor_stop(c->r);
}
static void rw_submit(void *arg) {
  loop_case *c = arg;
  c->rw.data = c;
  if (weft_reactor_queue_work(c->r, &c->rw, rw_work, rw_after) != 0) {
    atomic_fetch_add(&c->p.bad, 1);
    weft_reactor_stop(c->r);
  }
}
static void rw_start(void *arg) {
  loop_case *c = arg;
  weft_context_call(c->a, rw_submit, c);
}

static void reactor_queue_work_case(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  loop_case c = {.a = &a, .p = {.want = &a}, .rw_status = 1};
  assert_int_equal(weft_reactor_create(&c.r), 0);
  assert_int_equal(weft_reactor_call_when_running(c.r, rw_start, &c), 0);
  assert_int_equal(weft_reactor_run(c.r), 0);
  assert_null(weft_context_current());
  weft_reactor_destroy(c.r);
  assert_int_equal(c.rw_status, 0);
  assert_probe(&c.p, 2);
  assert_quiescent(&a);
}

/* blockingCallFromThread from a pool thread: the call runs on the loop in
 * the pool task's context; weft_reactor_call_in_thread carried it there. */
static int bc_fn(void *ctx, weft_result *res) {
  (void)res;
  check(ctx);
  return 0;
}
static void bc_task(void *arg) {
  loop_case *c = arg;
  check(&c->p);
  if (weft_blocking_call_from_thread(c->r, bc_fn, &c->p, NULL, NULL) != 0)
    atomic_fetch_add(&c->p.bad, 1);
  weft_reactor_call_from_thread(c->r, stop_reactor, c->r);
}
static void bc_submit(void *arg) {
  loop_case *c = arg;
  if (weft_reactor_call_in_thread(c->r, bc_task, c) != 0) {
    atomic_fetch_add(&c->p.bad, 1);
    weft_reactor_stop(c->r);
  }
}
static void bc_start(void *arg) {
  loop_case *c = arg;
  weft_context_call(c->a, bc_submit, c);
}

static void blocking_call_from_thread_case(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  loop_case c = {.a = &a, .p = {.want = &a}};
  assert_int_equal(weft_reactor_create(&c.r), 0);
  assert_int_equal(weft_reactor_call_when_running(c.r, bc_start, &c), 0);
  assert_int_equal(weft_reactor_run(c.r), 0);
  weft_reactor_destroy(c.r);
  assert_probe(&c.p, 2);
  assert_quiescent(&a);
}

/* ------------------------------------------------------ hooks themselves */

static void current_of_worker(void *arg) {
  void **out = arg;
  *out = weft_context_current();
}

/* Without hooks weft still carries the pointer, and the worker (the
 * pool's only thread) is back to none for the next task. */
static void no_hooks_carries_pointer(void **state) {
  (void)state;
  weft_context_set_hooks(NULL);
  tctx a = {.name = "a"};
  void *seen = NULL, *seen_after = &seen;
  weft_threadpool *tp = one_thread_pool(1);
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_call_in_thread(tp, current_of_worker, &seen), 0);
  weft_context_set(NULL);
  assert_int_equal(weft_threadpool_call_in_thread(tp, current_of_worker, &seen_after), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* ran them; joined */
  weft_threadpool_destroy(tp);
  assert_ptr_equal(seen, &a);
  assert_null(seen_after);
  assert_int_equal(atomic_load(&a.retains) + atomic_load(&a.enters), 0);
}

/* A task captured under one table is released through that table even if
 * the hooks change before it runs. */
static atomic_int other_calls;
static void o_count(void *c) {
  (void)c;
  atomic_fetch_add(&other_calls, 1);
}
static void o_leave(void *c, void *p) {
  (void)c;
  (void)p;
  atomic_fetch_add(&other_calls, 1);
}
static const weft_context_hooks other_hooks = {o_count, o_count, o_count, o_leave};

static void hooks_swapped_in_flight(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  void *seen = NULL;
  atomic_store(&other_calls, 0);
  weft_threadpool *tp = one_thread_pool(0);
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_call_in_thread(tp, current_of_worker, &seen), 0);
  weft_context_set(NULL);
  assert_int_equal(weft_context_set_hooks(&other_hooks), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* runs the backlog */
  weft_threadpool_destroy(tp);
  assert_ptr_equal(seen, &a);
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_int_equal(atomic_load(&a.enters), 1);
  assert_quiescent(&a);
  assert_int_equal(atomic_load(&other_calls), 0);
}

static void context_call_nests(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  probe p = {.want = &a};
  assert_int_equal(weft_context_call(&a, check_task, &p), 0);
  assert_null(weft_context_current());
  assert_null(view);
  assert_probe(&p, 1);
  assert_int_equal(atomic_load(&a.retains), 0); /* the caller holds it */
  assert_quiescent(&a);
  assert_int_equal(weft_context_call(&a, NULL, NULL), WEFT_EINVAL);
  probe none = {.want = NULL};
  weft_context_set(&a);
  assert_int_equal(weft_context_call(NULL, check_task, &none), 0); /* no context, no hook */
  assert_ptr_equal(weft_context_current(), &a);
  assert_probe(&none, 1);
}

/* A task submitted with no context and cancelled by a stop on a thread
 * whose context is C is told in none (context.h: "a task that captured none
 * is told in none"), as a lane's cancels are: the engine's cancel paths
 * called its cancel in the stopping thread's context, so C was current in
 * the owner's callback and anything it submitted captured C (found by
 * review). */
static int g_cc_seen_ok, g_cc_seen_bad;
static void cc_on_result(void *ctx, int status, void *result) {
  (void)ctx;
  (void)result;
  if (status == WEFT_ECANCELED && weft_context_current() == NULL && view == NULL) g_cc_seen_ok++;
  else g_cc_seen_bad++;
}
static int cc_call(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return 0;
}

static void cancelled_by_a_stop_told_in_no_context(void **state) {
  (void)state;
  g_cc_seen_ok = g_cc_seen_bad = 0;
  tctx c = {.name = "C"};
  weft_threadpool *tp = one_thread_pool(0); /* not started: the tasks wait */
  for (int i = 0; i < 3; i++)
    assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, cc_on_result, NULL, cc_call, NULL), 0);
  void *prev = weft_context_set(&c);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* cancels all three on this thread */
  weft_context_set(prev);
  assert_int_equal(g_cc_seen_bad, 0);
  assert_int_equal(g_cc_seen_ok, 3);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_quiescent(&c);
}


/* A task captured in B and cancelled by a stop made inside context A
 * (entered: the enter hook ran) is told in B, and afterwards A is current
 * again for weft and for the hooks alike: the wrapper's leave hook must be
 * told that A, not NULL, becomes current again. Before the fix the cancel
 * ran with A set aside (NULL current), so leave(B, NULL) set the hooks'
 * view to none while weft restored A silently: the rest of A's work ran
 * with the hooks' view lost, and A's own leave found a view it never set. */
typedef struct so_case {
  weft_threadpool *tp;
  tctx *b;
  void *current_after, *view_after;
  int told_in_b;
} so_case;
static void so_on_result(void *ctx, int status, void *result) {
  so_case *c = ctx;
  (void)result;
  if (status == WEFT_ECANCELED && weft_context_current() == (void *)c->b && view == c->b)
    c->told_in_b++;
}
static void so_stop(void *arg) {
  so_case *c = arg;
  assert_int_equal(weft_threadpool_stop(c->tp), 0); /* cancels B's task here */
  c->current_after = weft_context_current();
  c->view_after = view;
}

static void cancel_inside_an_entered_context_keeps_the_hooks_view(void **state) {
  (void)state;
  tctx a = {.name = "a"}, b = {.name = "b"};
  so_case c = {.b = &b};
  c.tp = one_thread_pool(0); /* not started: the task waits */
  weft_context_set(&b);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(c.tp, so_on_result, &c, cc_call, NULL), 0);
  weft_context_set(NULL);
  assert_int_equal(weft_context_call(&a, so_stop, &c), 0);
  assert_int_equal(weft_threadpool_destroy(c.tp), 0);
  assert_int_equal(c.told_in_b, 1);
  assert_ptr_equal(c.current_after, &a);
  assert_ptr_equal(c.view_after, &a);
  assert_quiescent(&a);
  assert_quiescent(&b);
}


/* The generic Team: a task submitted with no context runs in none, though
 * the thread that runs its worker's step has one (b): Team's do() binds a
 * task to its submitter's context only when there is one, so a plain task
 * ran in whatever context the performing thread had (here a memory worker
 * performed in b; the same with LockWorkers made by create_worker, which
 * run inline on the coordinator's drainer) and captured b for what it
 * submitted. */
static void generic_team_plain_task_runs_in_no_context(void **state) {
  (void)state;
  tctx b = {.name = "b"};
  plain_probe p = {.seen = &p};
  assert_int_equal(weft_memory_worker_create(&p.mw), 0);
  mem_team m = {.n = 0};
  weft_worker *coord;
  assert_int_equal(weft_memory_worker_create(&coord), 0);
  weft_team *team;
  assert_int_equal(weft_team_create(&team, coord, mem_create, &m, quiet_log, NULL), 0);
  assert_int_equal(weft_team_do(team, plain_item, &p), 0); /* no context */
  weft_context_set(&b);
  perform_all(coord, &m);
  weft_context_set(NULL);
  assert_int_equal(p.ran, 1);
  assert_null(p.seen);
  assert_int_equal(atomic_load(&b.retains), 0);
  assert_int_equal(weft_team_quit(team), 0);
  while (weft_memory_worker_perform(coord) == 1) {
  }
  assert_int_equal(weft_team_destroy(team), 0);
  weft_worker_release(p.mw);
  assert_quiescent(&b);
}

/* ------------------------------------- call_in_thread's own node (no wrapper) */

/* call_in_thread carries the context in the call's own node
 * (lib/engine/context.h, weft__context_submit_call). A completion the call
 * sends to a reactor (call_from_thread) is wrapped in the context current
 * in the call, in a node of its own (weft__context_wrap; the call's node is
 * the spare only for the completions the pool's own round trips send,
 * weft__context_for_completion): the completion runs in the context on
 * the loop, retained and released once more, and the call's node goes
 * back once. */
typedef struct spare_case {
  weft_reactor *r;
  probe in_call, in_completion;
  latch sent;
} spare_case;
static void send_completion(void *arg) {
  spare_case *c = arg;
  check(&c->in_call);
  if (weft_reactor_call_from_thread(c->r, check_task, &c->in_completion) != 0)
    atomic_fetch_add(&c->in_completion.bad, 1);
  latch_count_down(&c->sent);
}

static void call_in_thread_completion_runs_in_its_context(void **state) {
  (void)state;
  tctx a = {.name = "a"};
  spare_case c = {.in_call = {.want = &a}, .in_completion = {.want = &a}};
  latch_init(&c.sent, 1);
  int fd;
  assert_int_equal(weft_reactor_create(&c.r), 0);
  assert_int_equal(weft_reactor_attach(c.r, &fd), 0); /* this thread is the loop */
  weft_threadpool *tp = one_thread_pool(1);
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_call_in_thread(tp, send_completion, &c), 0);
  weft_context_set(NULL);
  latch_wait(&c.sent); /* the completion was pushed before this */
  while (atomic_load(&c.in_completion.ok) + atomic_load(&c.in_completion.bad) == 0)
    assert_true(weft_reactor_drain(c.r) >= 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_threadpool_destroy(tp);
  assert_int_equal(weft_reactor_detach(c.r), 0);
  weft_reactor_destroy(c.r);
  assert_null(weft_context_current());
  assert_null(view);
  assert_probe(&c.in_call, 1);
  assert_probe(&c.in_completion, 1);
  assert_int_equal(atomic_load(&a.retains), 2); /* the call, its completion */
  assert_int_equal(atomic_load(&a.enters), 2);
  assert_quiescent(&a);
  latch_destroy(&c.sent);
}

/* A call cancelled before it ran is logged in its context: the pool's log
 * hook sees it current (for the hooks too), on the destroying thread, which
 * has its own back afterwards. */
static atomic_int log_in_a_ok, log_in_a_bad;
static tctx *log_want;
static void log_in_context(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED && weft_context_current() == (void *)log_want && view == log_want)
    atomic_fetch_add(&log_in_a_ok, 1);
  else atomic_fetch_add(&log_in_a_bad, 1);
}

static void call_in_thread_cancel_logged_in_context(void **state) {
  (void)state;
  tctx a = {.name = "a"}, b = {.name = "b"};
  probe never = {.want = &a};
  atomic_store(&log_in_a_ok, 0);
  atomic_store(&log_in_a_bad, 0);
  log_want = &a;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  o.log = log_in_context;
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0); /* never started */
  weft_context_set(&a);
  assert_int_equal(weft_threadpool_call_in_thread(tp, check_task, &never), 0);
  weft_context_set(&b);
  weft_threadpool_destroy(tp); /* cancels the backlog */
  assert_ptr_equal(weft_context_current(), &b);
  weft_context_set(NULL);
  assert_probe(&never, 0);
  assert_int_equal(atomic_load(&log_in_a_ok), 1);
  assert_int_equal(atomic_load(&log_in_a_bad), 0);
  assert_int_equal(atomic_load(&a.retains), 1);
  assert_int_equal(atomic_load(&b.retains), 0);
  assert_quiescent(&a);
}

/* deferToThreadPool in an entered context A, from a reactor drain whose
 * submit window holds a task for another pool P1, captured in B, while
 * P1's stop (on another thread) waits for that window: the trip's submit
 * (to P2) flushes the window, and P1, closed, has B's task cancelled right
 * there, inside the submit, which runs with A switched off. B's leave hook
 * must be told that A comes back (it does, when the submit returns), as a
 * call_in_thread's submit does (A set aside, lib/engine/context.c
 * aside_begin). It was told NULL: the hooks' view was lost for the rest of
 * A's work, and A's own leave found a view it never set. */
typedef struct flush_case {
  weft_reactor *r;
  weft_threadpool *p1, *p2;
  tctx *a, *b;
  probe told_in_b, in_work;
  void *current_after, *view_after;
  weft_deferred *d;
  pthread_t stopper;
  int rc;
} flush_case;
static void *fc_stop(void *arg) {
  (void)weft_threadpool_stop(arg);
  return NULL;
}
static void fc_told(void *ctx, int status, void *result) {
  (void)result;
  flush_case *c = ctx;
  if (status != WEFT_ECANCELED) atomic_fetch_add(&c->told_in_b.bad, 1);
  check(&c->told_in_b);
}
static void fc_in_b(void *arg) {
  flush_case *c = arg;
  /* Held in the drain's window, for P1. */
  if (weft_threadpool_call_in_thread_with_callback(c->p1, fc_told, c, cc_call, NULL) != 0)
    atomic_fetch_add(&c->told_in_b.bad, 1);
}
static void fc_in_a(void *arg) {
  flush_case *c = arg;
  weft_context_call(c->b, fc_in_b, c);
  if (pthread_create(&c->stopper, NULL, fc_stop, c->p1) != 0) abort();
  /* Closed: the stop waits for our window. */
  while (!weft__engine_is_closed(weft__threadpool_engine(c->p1))) sched_yield();
  c->rc = weft_defer_to_thread_pool(c->r, c->p2, defer_work, &c->in_work, &c->d);
  c->current_after = weft_context_current();
  c->view_after = view;
}
static void fc_noop(void *arg) { (void)arg; }
static void fc_call_in_a(void *arg) {
  flush_case *c = arg;
  weft_context_call(c->a, fc_in_a, c);
}

static void defer_in_context_flushing_a_closed_pools_window_keeps_the_hooks_view(void **state) {
  (void)state;
  tctx a = {.name = "a"}, b = {.name = "b"};
  flush_case c = {.a = &a, .b = &b, .told_in_b = {.want = &b}, .in_work = {.want = &a}, .rc = 1};
  int fd;
  assert_int_equal(weft_reactor_create(&c.r), 0);
  assert_int_equal(weft_reactor_attach(c.r, &fd), 0); /* this thread is the loop */
  c.p1 = one_thread_pool(1);
  c.p2 = one_thread_pool(1);
  /* Two calls: the drain opens its window for the second. */
  assert_int_equal(weft_reactor_call_from_thread(c.r, fc_noop, NULL), 0);
  assert_int_equal(weft_reactor_call_from_thread(c.r, fc_call_in_a, &c), 0);
  assert_true(weft_reactor_drain(c.r) >= 2); /* the trip's completion too, if back already */
  pthread_join(c.stopper, NULL);
  assert_int_equal(c.rc, 0);
  while (atomic_load(&a.releases) < 1) assert_true(weft_reactor_drain(c.r) >= 0); /* the trip */
  weft_deferred_unref(c.d);
  assert_int_equal(weft_threadpool_stop(c.p2), 0);
  weft_threadpool_destroy(c.p2);
  weft_threadpool_destroy(c.p1);
  assert_int_equal(weft_reactor_detach(c.r), 0);
  weft_reactor_destroy(c.r);
  assert_probe(&c.told_in_b, 1); /* cancelled inside the trip's submit, in B */
  assert_probe(&c.in_work, 1);
  assert_ptr_equal(c.current_after, &a);
  assert_ptr_equal(c.view_after, &a); /* was NULL */
  assert_null(weft_context_current());
  assert_null(view);
  assert_int_equal(atomic_load(&a.retains), 1); /* the trip */
  assert_quiescent(&a);                         /* bad_nesting was 1 */
  assert_quiescent(&b);
}

/* A completion is its task's: reactor_queue_work captured in A through a
 * refcounting table H, whose hooks are removed while the work runs. The
 * work's completion (after_cb on the loop) must still run entered through
 * H, with A referenced (context.h: `release` once that task and its
 * completion are done), as a deferToThreadPool's does (its trip holds one
 * reference through both). It took its reference through the table in
 * effect when the work returned, none: the task's own release (when the
 * work returned) dropped A's last reference before the completion ran with
 * A current, and the completion was never entered. */
typedef struct rc_ctx {
  tctx t; /* first: the view's type */
  atomic_int refs;
  latch *task_released; /* counted down at each release */
  int refs_in_after;
  void *current_in_after, *view_in_after;
  weft_reactor *r;
  weft_reactor_work rw;
  latch started, go;
  int after_ran;
} rc_ctx;
static void rc_retain(void *c) {
  atomic_fetch_add(&((rc_ctx *)c)->refs, 1);
  h_retain(c);
}
static void rc_release(void *c) {
  rc_ctx *x = c;
  atomic_fetch_sub(&x->refs, 1);
  h_release(c);
  latch_count_down(x->task_released);
}
static const weft_context_hooks rc_hooks = {rc_retain, rc_release, h_enter, h_leave};
static void rc_work(weft_reactor_work *req) {
  rc_ctx *x = req->data;
  latch_count_down(&x->started);
  latch_wait(&x->go);
}
static void rc_after(weft_reactor_work *req, int status) {
  (void)status;
  rc_ctx *x = req->data;
  x->refs_in_after = atomic_load(&x->refs);
  x->current_in_after = weft_context_current();
  x->view_in_after = view;
  x->after_ran = 1;
}

static void completion_keeps_its_tasks_table_when_hooks_change(void **state) {
  (void)state;
  latch released;
  latch_init(&released, 1);
  rc_ctx x = {.t = {.name = "a"}, .task_released = &released};
  latch_init(&x.started, 1);
  latch_init(&x.go, 1);
  int fd;
  assert_int_equal(weft_context_set_hooks(&rc_hooks), 0);
  assert_int_equal(weft_reactor_create(&x.r), 0);
  assert_int_equal(weft_reactor_attach(x.r, &fd), 0); /* this thread is the loop */
  x.rw.data = &x;
  weft_context_set(&x);
  assert_int_equal(weft_reactor_queue_work(x.r, &x.rw, rc_work, rc_after), 0);
  weft_context_set(NULL);
  latch_wait(&x.started);
  assert_int_equal(weft_context_set_hooks(NULL), 0); /* removed while the work runs */
  latch_count_down(&x.go);
  latch_wait(&released); /* the task's own release, after the work returned */
  while (!x.after_ran) assert_true(weft_reactor_drain(x.r) >= 0);
  assert_int_equal(x.refs_in_after, 1);     /* was 0: released before it ran */
  assert_ptr_equal(x.current_in_after, &x);
  assert_ptr_equal(x.view_in_after, &x);    /* was NULL: never entered */
  assert_int_equal(weft_reactor_detach(x.r), 0);
  weft_reactor_destroy(x.r);
  assert_int_equal(atomic_load(&x.refs), 0);
  assert_int_equal(atomic_load(&x.t.retains), 2); /* the task, its completion */
  assert_int_equal(atomic_load(&x.t.enters), 2);
  assert_quiescent(&x.t);
  assert_null(weft_context_current());
  assert_null(view);
  latch_destroy(&x.started);
  latch_destroy(&x.go);
  latch_destroy(&released);
}

/* More hooks tables than the slots a call's node can record
 * (lib/engine/context.c: seven): each call is retained, entered, left and
 * released through the table in effect when it was submitted, whichever
 * way it travels (its own node while slots last, a wrapper after). Two sets
 * of hook functions alternate, so a call told through another table than
 * its own counts in the wrong set. Last in the file: slots are taken for
 * the process's life. */
typedef struct tctx2 {
  tctx t; /* set A's counts (h_retain...) */
  atomic_int retains, releases, enters, leaves; /* set B's */
} tctx2;
static void b_retain(void *c) { atomic_fetch_add(&((tctx2 *)c)->retains, 1); }
static void b_release(void *c) { atomic_fetch_add(&((tctx2 *)c)->releases, 1); }
static void b_enter(void *c) {
  atomic_fetch_add(&((tctx2 *)c)->enters, 1);
  view = c;
}
static void b_leave(void *c, void *previous) {
  if (view != c) atomic_fetch_add(&bad_nesting, 1);
  atomic_fetch_add(&((tctx2 *)c)->leaves, 1);
  view = previous;
}

static void hook_tables_past_the_slots_still_pair(void **state) {
  (void)state;
  enum { TABLES = 12 };
  static weft_context_hooks table[TABLES];
  tctx2 c[TABLES];
  probe p[TABLES];
  memset(c, 0, sizeof c);
  weft_threadpool *tp = one_thread_pool(0); /* all wait until every table was used */
  for (int i = 0; i < TABLES; i++) {
    table[i] = (i % 2) ? (weft_context_hooks){b_retain, b_release, b_enter, b_leave} : hooks;
    memset(&p[i], 0, sizeof p[i]);
    p[i].want = &c[i].t;
    assert_int_equal(weft_context_set_hooks(&table[i]), 0);
    weft_context_set(&c[i]);
    assert_int_equal(weft_threadpool_call_in_thread(tp, check_task, &p[i]), 0);
    weft_context_set(NULL);
  }
  assert_int_equal(weft_context_set_hooks(NULL), 0); /* captured tables still apply */
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0); /* runs the backlog */
  weft_threadpool_destroy(tp);
  for (int i = 0; i < TABLES; i++) {
    assert_probe(&p[i], 1);
    atomic_int *own = (i % 2) ? &c[i].retains : &c[i].t.retains;
    atomic_int *other = (i % 2) ? &c[i].t.retains : &c[i].retains;
    assert_int_equal(atomic_load(own), 1);
    assert_int_equal(atomic_load(other), 0);
    assert_int_equal(atomic_load(own + 1), 1);  /* releases */
    assert_int_equal(atomic_load(own + 2), 1);  /* enters */
    assert_int_equal(atomic_load(own + 3), 1);  /* leaves */
    assert_int_equal(atomic_load(other + 1) + atomic_load(other + 2) + atomic_load(other + 3), 0);
  }
  assert_int_equal(atomic_load(&bad_nesting), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(threadpool_call_in_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(threadpool_with_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(threadpool_queue_work, setup, teardown),
      cmocka_unit_test_setup_teardown(threadpool_queue_work_after_frees, setup, teardown),
      cmocka_unit_test_setup_teardown(threadpool_nested_inherit, setup, teardown),
      cmocka_unit_test_setup_teardown(threadpool_cancelled, setup, teardown),
      cmocka_unit_test_setup_teardown(threadpool_cancel_work, setup, teardown),
      cmocka_unit_test_setup_teardown(pool_team_do, setup, teardown),
      cmocka_unit_test_setup_teardown(generic_team_do, setup, teardown),
      cmocka_unit_test_setup_teardown(generic_team_backlog_released, setup, teardown),
      cmocka_unit_test_setup_teardown(thread_worker_do, setup, teardown),
      cmocka_unit_test_setup_teardown(lock_worker_do, setup, teardown),
      cmocka_unit_test_setup_teardown(coordinator_plain_item_runs_in_no_context, setup, teardown),
      cmocka_unit_test_setup_teardown(set_aside_item_entering_a_context_keeps_the_hooks_view, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(lock_worker_plain_item_runs_in_no_context, setup, teardown),
      cmocka_unit_test_setup_teardown(memory_worker_plain_item_runs_in_no_context, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(reactor_call_from_thread, setup, teardown),
      cmocka_unit_test_setup_teardown(reactor_plain_call_runs_in_no_context, setup, teardown),
      cmocka_unit_test_setup_teardown(defer_to_thread_pool_case, setup, teardown),
      cmocka_unit_test_setup_teardown(defer_to_thread_pool_takes_one_reference, setup, teardown),
      cmocka_unit_test_setup_teardown(defer_to_thread_pool_cancelled_releases, setup, teardown),
      cmocka_unit_test_setup_teardown(defer_to_thread_pool_no_hooks_carries_pointer, setup, teardown),
      cmocka_unit_test_setup_teardown(reactor_queue_work_case, setup, teardown),
      cmocka_unit_test_setup_teardown(blocking_call_from_thread_case, setup, teardown),
      cmocka_unit_test_setup_teardown(no_hooks_carries_pointer, setup, teardown),
      cmocka_unit_test_setup_teardown(hooks_swapped_in_flight, setup, teardown),
      cmocka_unit_test_setup_teardown(context_call_nests, setup, teardown),
      cmocka_unit_test_setup_teardown(cancelled_by_a_stop_told_in_no_context, setup, teardown),
      cmocka_unit_test_setup_teardown(cancel_inside_an_entered_context_keeps_the_hooks_view, setup, teardown),
      cmocka_unit_test_setup_teardown(generic_team_plain_task_runs_in_no_context, setup, teardown),
      cmocka_unit_test_setup_teardown(call_in_thread_completion_runs_in_its_context, setup, teardown),
      cmocka_unit_test_setup_teardown(call_in_thread_cancel_logged_in_context, setup, teardown),
      cmocka_unit_test_setup_teardown(
          defer_in_context_flushing_a_closed_pools_window_keeps_the_hooks_view, setup, teardown),
      cmocka_unit_test_setup_teardown(completion_keeps_its_tasks_table_when_hooks_change, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(hook_tables_past_the_slots_still_pair, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
