/*
 * weft_threadpool: Twisted's test_threadpool.py cases 31–48 (numbers in
 * the test names) ported to C, plus weft's own contract
 * (errors, shutdown, sizing, names). docs/cases-threadpool.md maps each case.
 * Synchronisation is by gates and counters (mutex + condvar), never sleeps.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "pool/threadpool_impl.h"
#include "weft/context.h"
#include "weft/threadpool.h"

/* ------------------------------------------------------------ sync helpers */

#include "test_check.h"
#include "test_sync.h"

/* A task that counts itself on `done`, after waiting on `gate` if set. */

/* A thread factory that counts creations and keeps the names it was given. */
typedef struct factory_log {
  pthread_mutex_t mu;
  int created;
  int fail_after; /* < 0: never fail */
  char names[64][64];
} factory_log;

static int counting_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                            const char *name) {
  factory_log *f = ctx;
  pthread_mutex_lock(&f->mu);
  if (f->fail_after >= 0 && f->created >= f->fail_after) {
    pthread_mutex_unlock(&f->mu);
    return -1;
  }
  if (f->created < 64) snprintf(f->names[f->created], sizeof f->names[0], "%s", name);
  f->created++;
  pthread_mutex_unlock(&f->mu);
  return weft__thread_create_named(NULL, t, start, arg, name);
}

static void factory_init(factory_log *f, int fail_after) {
  memset(f, 0, sizeof *f);
  pthread_mutex_init(&f->mu, NULL);
  f->fail_after = fail_after;
}

static weft_threadpool *make_pool_ex(int min, int max, const char *name, factory_log *f,
                                     int strict_cap) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = min;
  o.max_threads = max;
  o.name = name;
  o.strict_cap = strict_cap;
  if (f) {
    o.thread_factory = counting_factory;
    o.thread_factory_ctx = f;
  }
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  return tp;
}
static weft_threadpool *make_pool(int min, int max, const char *name, factory_log *f) {
  return make_pool_ex(min, max, name, f, 0);
}
/* Twisted's hard cap: never a thread above max, even while tasks block (the
 * elastic default may stand in for a blocked worker). For the tests that
 * hold tasks on a gate and count threads or rely on which thread runs what. */
static weft_threadpool *make_strict_pool(int min, int max, const char *name, factory_log *f) {
  return make_pool_ex(min, max, name, f, 1);
}

/* Log hook that counts. */
typedef struct log_count {
  sync_t s;
  int last_err;
} log_count;
static void counting_log(void *ctx, int err, const char *what) {
  (void)what;
  log_count *l = ctx;
  pthread_mutex_lock(&l->s.mu);
  l->last_err = err;
  pthread_mutex_unlock(&l->s.mu);
  count_up(&l->s);
}

/* --------------------------------------------------------------- cases */

static void case31_attributes(void **state) {
  (void)state;
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create(&tp, 12, 22, NULL), 0);
  assert_int_equal(weft_threadpool_min(tp), 12);
  assert_int_equal(weft_threadpool_max(tp), 22);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

static void case32_start(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 5, "s0", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_threads_created(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);

  tp = make_pool(3, 10, "s3", NULL);
  assert_int_equal(weft_threadpool_threads_created(tp), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_threads_created(tp), 3);
  assert_int_equal(weft_threadpool_workers(tp), 3);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* The count of threads ever created is 64 bits inside and an int outside:
 * past INT_MAX creations (a long-lived pool whose keep-alive lets threads
 * go and come back) the cast turned it negative, which reads as an error
 * code (weft/threadpool.h: negative only for a NULL pool). It saturates. */
static void threads_created_saturates(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 5, "many", NULL);
  weft__engine *e = weft__threadpool_engine(tp);
  weft__store_relaxed(&e->spawns, (uint64_t)INT_MAX + 2u);
  assert_int_equal(weft_threadpool_threads_created(tp), INT_MAX);
  weft__store_relaxed(&e->spawns, UINT64_MAX);
  assert_int_equal(weft_threadpool_threads_created(tp), INT_MAX);
  weft__store_relaxed(&e->spawns, 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

static void case33_adjusting_when_stopped(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 5, "adj", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 2, WEFT_KEEP), 0);
  assert_int_equal(weft_threadpool_threads_created(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* 34, 35: Twisted checks with weakrefs that the pool no longer references
 * fn and arg (and, with a callback, onResult) once they ran. What a weft
 * pool holds for a task is the node that carries fn, arg, on_result and ctx
 * (lib/engine/node_cache.h): the pool has let go of them when that node is
 * given back to the submitter's node cache, which weft does before fn runs
 * (34) and before on_result runs (35). The probe observes it: the submitter
 * notes which slab its node came from and how many nodes it had handed out
 * of that slab; inside the task, that count must equal the slab's
 * given-back count plus the running worker's own unflushed batch (the pool
 * has one thread, strict cap; every earlier task of this file has finished
 * and its pool's threads, which flush on exit, are gone).
 * A pool that kept the node while fn or on_result runs sees one node short.
 * ASan adds the other half: the task frees and poisons its own argument
 * (and on_result its ctx), so any later use by the pool is reported. */
#include "engine/node_cache.h"

typedef struct node_probe {
  sync_t ready;          /* the submitter has filled slab and handed */
  weft__node_slab *slab; /* the slab of the task's node */
  uint32_t handed;       /* nodes the submitter had handed out of it */
  uint32_t back;         /* nodes of it given back, seen inside the task */
} node_probe;

static void probe_init(node_probe *p) {
  memset(p, 0, sizeof *p);
  sync_init(&p->ready);
}

/* The submitter, right after the submit: its node is the last one handed out
 * of its cache's current slab. */
static void probe_after_submit(node_probe *p) {
  weft__node_cache *c = weft__tls.node_cache;
  p->slab = c->cur;
  p->handed = (uint32_t)(c->next - c->cur->nodes);
  gate_open(&p->ready);
}

/* In the task, on the worker thread that runs it. */
static void probe_in_task(node_probe *p) {
  gate_wait(&p->ready);
  uint32_t back = weft__load_acquire(&p->slab->returned);
  if (weft__tls_node_pending.slab == p->slab) back += weft__tls_node_pending.n;
  p->back = back;
}

static void probe_check(node_probe *p, const char *where) {
  if (p->back != p->handed)
    fail_msg("the pool still holds the task's node %s: %u of %u nodes back", where,
             (unsigned)p->back, (unsigned)p->handed);
  sync_fini(&p->ready);
}

typedef struct owned_arg {
  sync_t *done;
  node_probe *probe;
  char payload[32];
} owned_arg;

static void frees_its_arg(void *arg) {
  owned_arg *a = arg;
  sync_t *done = a->done;
  probe_in_task(a->probe);
  memset(a, 0xab, sizeof *a);
  free(a);
  count_up(done);
}

static void case34_thread_creation_arguments(void **state) {
  (void)state;
  factory_log f;
  factory_init(&f, -1);
  weft_threadpool *tp = make_strict_pool(0, 1, "args", &f);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(f.created, 0);
  sync_t done;
  sync_init(&done);
  node_probe probes[3];
  for (int i = 0; i < 3; i++) {
    owned_arg *a = malloc(sizeof *a);
    a->done = &done;
    a->probe = &probes[i];
    probe_init(&probes[i]);
    assert_int_equal(weft_threadpool_call_in_thread(tp, frees_its_arg, a), 0);
    probe_after_submit(&probes[i]);
  }
  count_wait(&done, 3);
  assert_int_equal(f.created, 1);
  for (int i = 0; i < 3; i++) probe_check(&probes[i], "while fn runs");
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&done);
}

/* 35: with a callback, the pool has let go of fn and arg (fn freed arg) and
 * of on_result and ctx by the time on_result runs, and ctx may be freed by
 * on_result itself. */
typedef struct cb_ctx {
  sync_t *done;
  node_probe *probe;
} cb_ctx;

static int frees_arg_returns(void *arg, void **result) {
  free(arg);
  *result = (void *)"result";
  return 0;
}

static void frees_ctx_on_result(void *ctx, int status, void *result) {
  cb_ctx *c = ctx;
  sync_t *done = c->done;
  probe_in_task(c->probe);
  THREAD_CHECK_EQ(status, 0); /* on the pool thread: no cmocka */
  THREAD_CHECK(result != NULL && strcmp((const char *)result, "result") == 0);
  memset(c, 0xab, sizeof *c);
  free(c);
  count_up(done);
}

static void case35_callback_arguments(void **state) {
  (void)state;
  weft_threadpool *tp = make_strict_pool(0, 1, "cbargs", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t done;
  sync_init(&done);
  node_probe probes[3];
  for (int i = 0; i < 3; i++) {
    cb_ctx *c = calloc(1, sizeof *c);
    c->done = &done;
    c->probe = &probes[i];
    probe_init(&probes[i]);
    assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, frees_ctx_on_result, c,
                                                                  frees_arg_returns, malloc(16)),
                     0);
    probe_after_submit(&probes[i]);
  }
  count_wait(&done, 3);
  for (int i = 0; i < 3; i++) probe_check(&probes[i], "while on_result runs");
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&done);
}

/* 36: no pickling in C. What survives a "round trip" is the configuration:
 * create_ex copies everything it is given (the options struct and the name
 * may be reused or freed at once). */
static void case36_persistence(void **state) {
  (void)state;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 7;
  o.max_threads = 20;
  char *name = strdup("persist");
  o.name = name;
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  free(name);
  memset(&o, 0, sizeof o);
  assert_int_equal(weft_threadpool_min(tp), 7);
  assert_int_equal(weft_threadpool_max(tp), 20);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* 37: 10 calls on a default pool all run, and the synchronized method is
 * never entered concurrently. Twisted's Synchronization.run is wrapped by
 * threadable.synchronize (one lock around the whole method); inside, it
 * tries its own lock without blocking, and a try that fails means another
 * call is inside the method at the same moment: the wrapper did not
 * serialise them. The same here: `wrapper` is the synchronize lock, the
 * check a pthread_mutex_trylock of `lock`, which nothing else holds, so it
 * fails only on an overlap (and the wrapper's removal makes it fail: the
 * pool runs the calls on several threads at once). Every fifth run holds
 * `lock` over a few yields, as Twisted's sleep(0.0002) does, to widen the
 * window an overlap would be seen in; it waits for nothing. */
typedef struct synced {
  pthread_mutex_t wrapper, lock;
  atomic_int failures;
  int runs; /* under lock */
  sync_t *done;
} synced;

static void synced_body(synced *s) {
  if (pthread_mutex_trylock(&s->lock) == 0) {
    if (s->runs % 5 == 0)
      for (int i = 0; i < 100; i++) sched_yield();
    pthread_mutex_unlock(&s->lock);
  } else {
    atomic_fetch_add(&s->failures, 1);
  }
  /* Twisted's way to wake the test, with a blocking acquire. */
  pthread_mutex_lock(&s->lock);
  s->runs++;
  pthread_mutex_unlock(&s->lock);
}

static void synced_run(void *arg) {
  synced *s = arg;
  pthread_mutex_lock(&s->wrapper); /* threadable.synchronize */
  synced_body(s);
  pthread_mutex_unlock(&s->wrapper);
  count_up(s->done);
}

static void case37_call_in_thread(void **state) {
  (void)state;
  weft_threadpool *tp;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  assert_int_equal(o.min_threads, 5);
  assert_int_equal(o.max_threads, 20);
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t done;
  sync_init(&done);
  synced s = {.done = &done};
  pthread_mutex_init(&s.wrapper, NULL);
  pthread_mutex_init(&s.lock, NULL);
  atomic_init(&s.failures, 0);
  for (int i = 0; i < 10; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, synced_run, &s), 0);
  count_wait(&done, 10);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(s.runs, 10);
  if (atomic_load(&s.failures) != 0)
    fail_msg("run() re-entered %d times", atomic_load(&s.failures));
  pthread_mutex_destroy(&s.wrapper);
  pthread_mutex_destroy(&s.lock);
  sync_fini(&done);
}

/* 38: a failing task queued before start is logged exactly once, and stop
 * waits for it. */
static int fails(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return WEFT_EFAILED;
}

static void case38_call_in_thread_exception(void **state) {
  (void)state;
  log_count lc = {0};
  sync_init(&lc.s);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  o.log = counting_log;
  o.log_ctx = &lc;
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, NULL, NULL, fails, NULL), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(count_get(&lc.s), 1);
  assert_int_equal(lc.last_err, WEFT_EFAILED);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&lc.s);
}

/* 39, 40, 42: on_result gets fn's status and result, in fn's thread. */
typedef struct cb_record {
  sync_t done;
  int status;
  void *result;
  pthread_t fn_thread, cb_thread;
} cb_record;

static int returns_test(void *arg, void **result) {
  cb_record *r = arg;
  r->fn_thread = pthread_self();
  *result = (void *)"test";
  return 0;
}

static int fails_with_detail(void *arg, void **result) {
  cb_record *r = arg;
  r->fn_thread = pthread_self();
  *result = (void *)"NewError";
  return WEFT_EFAILED;
}

static void record_result(void *ctx, int status, void *result) {
  cb_record *r = ctx;
  r->status = status;
  r->result = result;
  r->cb_thread = pthread_self();
  count_up(&r->done);
}

static void case39_40_42_call_in_thread_with_callback(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 2, "cb", NULL);
  cb_record ok = {0}, bad = {0};
  sync_init(&ok.done);
  sync_init(&bad.done);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, record_result, &ok, returns_test, &ok), 0);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, record_result, &bad, fails_with_detail, &bad), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  count_wait(&ok.done, 1);
  count_wait(&bad.done, 1);
  assert_int_equal(ok.status, 0);
  assert_string_equal((const char *)ok.result, "test");
  assert_true(pthread_equal(ok.fn_thread, ok.cb_thread)); /* 42 */
  assert_int_equal(bad.status, WEFT_EFAILED);                /* 40 */
  assert_string_equal((const char *)bad.result, "NewError");
  assert_true(pthread_equal(bad.fn_thread, bad.cb_thread));
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&ok.done);
  sync_fini(&bad.done);
}

/* 41: C callbacks cannot raise; the intent: a callback that got (ok, NULL)
 * does not break the pool, the next task on the same single thread runs. */
static int returns_null(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  return 0;
}

static void case41_exception_in_on_result(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 1, "cb1", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  cb_record r = {0};
  sync_init(&r.done);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, record_result, &r, returns_null, NULL), 0);
  count_wait(&r.done, 1);
  assert_int_equal(r.status, 0);
  assert_null(r.result);
  sync_t done;
  sync_init(&done);
  gated g = {.done = &done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&done, 1);
  assert_int_equal(weft_threadpool_threads_created(tp), 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&r.done);
  sync_fini(&done);
}

/* 43: Twisted's test_callbackContext: the context current when
 * callInThreadWithCallback is called is the context func and onResult run
 * in (weft/context.h). Each of 16 submissions is made under a context of its
 * own (weft_context_set, the ctx43 itself), 16 in flight at once on 4
 * threads; fn and on_result each record weft_context_current(), and both
 * must be their submission's. The callback arguments are checked as well:
 * the `ctx` and `arg` given at each submission reach that submission's
 * on_result and fn, and only them; fn returns a result of its own (an
 * address inside its arg, not the arg) and a status that depends on the
 * submission, so on_result can tell whether the result, the status and the
 * ctx it got belong to the same submission. A pool that mixed up, lost or
 * repeated a task's context, ctx, arg or result fails here. */
#define CASE43_TASKS 16
typedef struct ctx43 {
  pthread_mutex_t mu;
  int calls;          /* on_result calls with this ctx */
  int status;
  const void *result; /* what on_result got */
  const void *context; /* weft_context_current() in on_result */
  pthread_t cb_thread;
  sync_t *started, *gate, *done;
} ctx43;
typedef struct arg43 {
  ctx43 *owner; /* the ctx submitted with this arg */
  int status;   /* what fn returns: 0, or WEFT_EFAILED for odd submissions */
  char token;   /* fn's result is &token */
  const void *context; /* weft_context_current() in fn */
  pthread_t fn_thread;
} arg43;

static int ctx43_fn(void *arg, void **result) {
  arg43 *a = arg;
  a->fn_thread = pthread_self();
  a->context = weft_context_current();
  count_up(a->owner->started);
  gate_wait(a->owner->gate); /* the first four hold every thread */
  *result = &a->token;
  return a->status;
}

static void ctx43_on_result(void *ctx, int status, void *result) {
  ctx43 *c = ctx;
  pthread_mutex_lock(&c->mu);
  c->calls++;
  c->status = status;
  c->result = result;
  c->cb_thread = pthread_self();
  c->context = weft_context_current();
  pthread_mutex_unlock(&c->mu);
  count_up(c->done);
}

static void case43_callback_context(void **state) {
  (void)state;
  weft_threadpool *tp = make_strict_pool(0, 4, "ctx", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t started, gate, done;
  sync_init(&started);
  sync_init(&gate);
  sync_init(&done);
  static ctx43 ctxs[CASE43_TASKS];
  static arg43 args[CASE43_TASKS];
  for (int i = 0; i < CASE43_TASKS; i++) {
    memset(&ctxs[i], 0, sizeof ctxs[i]);
    memset(&args[i], 0, sizeof args[i]);
    pthread_mutex_init(&ctxs[i].mu, NULL);
    ctxs[i].status = 1; /* no weft_call_fn status */
    ctxs[i].started = &started;
    ctxs[i].gate = &gate;
    ctxs[i].done = &done;
    args[i].owner = &ctxs[i];
    args[i].status = i % 2 ? WEFT_EFAILED : 0;
  }
  for (int i = 0; i < CASE43_TASKS; i++) {
    weft_context_set(&ctxs[i]); /* this submission's context */
    assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, ctx43_on_result, &ctxs[i],
                                                                  ctx43_fn, &args[i]),
                     0);
  }
  assert_ptr_equal(weft_context_set(NULL), &ctxs[CASE43_TASKS - 1]);
  count_wait(&started, 4); /* four tasks hold the four threads */
  assert_int_equal(weft_threadpool_working(tp), 4);
  gate_open(&gate);
  count_wait(&done, CASE43_TASKS);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  for (int i = 0; i < CASE43_TASKS; i++) {
    ctx43 *c = &ctxs[i];
    if (c->calls != 1) fail_msg("ctx %d reached on_result %d times", i, c->calls);
    if (c->result != &args[i].token)
      fail_msg("ctx %d did not get its own submission's result", i);
    assert_int_equal(c->status, args[i].status);
    assert_true(pthread_equal(args[i].fn_thread, c->cb_thread)); /* as case 42 */
    if (args[i].context != c || c->context != c)
      fail_msg("submission %d: fn or on_result ran outside its submitter's context", i);
    pthread_mutex_destroy(&c->mu);
  }
  sync_fini(&started);
  sync_fini(&gate);
  sync_fini(&done);
}

/* 44: work queued before start runs after start. */
static void case44_existing_work(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 1, "existing", NULL);
  sync_t done;
  sync_init(&done);
  gated g = {.done = &done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  assert_int_equal(weft_threadpool_queue_size(tp), 1);
  assert_int_equal(weft_threadpool_threads_created(tp), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  count_wait(&done, 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&done);
}

/* 45: workers / waiters / working through a task's life. */
static void case45_worker_state_transition(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 1, "state", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_workers(tp), 0);
  assert_int_equal(weft_threadpool_waiters(tp), 0);
  assert_int_equal(weft_threadpool_working(tp), 0);
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  gated g = {.gate = &gate, .started = &started, .done = &done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&started, 1);
  assert_int_equal(weft_threadpool_workers(tp), 1);
  assert_int_equal(weft_threadpool_waiters(tp), 0);
  assert_int_equal(weft_threadpool_working(tp), 1);
  gate_open(&gate);
  count_wait(&done, 1);
  /* Twisted polls until the worker reports idle; so do we (no timing). */
  while (weft_threadpool_waiters(tp) != 1) sched_yield();
  assert_int_equal(weft_threadpool_working(tp), 0);
  assert_int_equal(weft_threadpool_workers(tp), 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&done);
}

/* 46: three tasks block on an event; a fourth that sets it must get a thread
 * of its own (here: even if one worker grabbed all four in one batch). */
static void set_gate(void *arg) { gate_open(arg); }

static void case46_synchronization(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 10, "race", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t warm;
  sync_init(&warm);
  gated w = {.done = &warm};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &w), 0);
  count_wait(&warm, 1);
  for (int round = 0; round < 20; round++) {
    sync_t gate, done;
    sync_init(&gate);
    sync_init(&done);
    gated g = {.gate = &gate, .done = &done};
    for (int i = 0; i < 3; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
    assert_int_equal(weft_threadpool_call_in_thread(tp, set_gate, &gate), 0);
    count_wait(&done, 3);
    sync_fini(&gate);
    sync_fini(&done);
  }
  assert_true(weft_threadpool_threads_created(tp) <= 10);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&warm);
}

/* 47 / 48: work before start creates no thread; start creates one per
 * backlogged task, bounded by max. The tasks do nothing, as Twisted's
 * (lambda: None): start's grow makes exactly min(backlog, max) threads in
 * one step, so the count after start is exact. (Tasks that blocked at a
 * gate would be stood in for by the elastic pool, docs/design.md E9: an
 * opaque block is what it watches for.) With min > 0, Twisted's start grows
 * to min first (adjustPoolsize), each new worker taking a backlogged task,
 * and then by what is still backlogged: max(min, backlog) threads, bounded
 * by max, not min more on top (weft made min + backlog). */
static void noop_task(void *arg) { count_up(arg); }

static void work_before_start(int min, int max, int tasks, int expect) {
  factory_log f;
  factory_init(&f, -1);
  weft_threadpool *tp = make_pool(min, max, "before", &f);
  sync_t done;
  sync_init(&done);
  for (int i = 0; i < tasks; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, noop_task, &done), 0);
  assert_int_equal(f.created, 0);
  assert_int_equal(weft_threadpool_queue_size(tp), tasks);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(f.created, expect);
  assert_int_equal(weft_threadpool_threads_created(tp), expect);
  count_wait(&done, tasks);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(f.created, expect);
  sync_fini(&done);
}

static void case47_work_before_starting(void **state) {
  (void)state;
  work_before_start(0, 10, 5, 5);
}

static void case48_too_much_work_before_starting(void **state) {
  (void)state;
  work_before_start(0, 10, 50, 10);
}

static void work_before_starting_with_min(void **state) {
  (void)state;
  work_before_start(2, 20, 5, 5);   /* Twisted: 5 (weft made 7) */
  work_before_start(5, 20, 10, 10); /* 10 (weft made 15) */
  work_before_start(5, 20, 3, 5);   /* min: 5 */
  work_before_start(5, 20, 30, 20); /* max: 20 */
}

/* The same for adjust_poolsize raising max (and min) over work queued while
 * the pool could run none: one thread per queued task, min included. */
static void adjust_over_backlog_with_min(void **state) {
  (void)state;
  factory_log f;
  factory_init(&f, -1);
  weft_threadpool *tp = make_pool_ex(0, 0, "adjust", &f, 1);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t done;
  sync_init(&done);
  for (int i = 0; i < 5; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, noop_task, &done), 0);
  assert_int_equal(f.created, 0);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 3, 20), 0);
  assert_int_equal(f.created, 5); /* weft made 8 */
  count_wait(&done, 5);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(f.created, 5);
  sync_fini(&done);
}

/* ------------------------------------------------------- weft's contract */

static void bad_input(void **state) {
  (void)state;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create(&tp, -1, 5, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_create(&tp, 6, 5, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_create(NULL, 0, 5, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_create_ex(&tp, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_start(NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_stop(NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_destroy(NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_call_in_thread(NULL, gated_task, NULL), WEFT_EINVAL);
  assert_true(weft_threadpool_workers(NULL) < 0);
  assert_true(weft_threadpool_queue_size(NULL) < 0);
  assert_int_equal(weft_threadpool_create(&tp, 1, 3, "bad"), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_queue_work(tp, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 4, WEFT_KEEP), WEFT_EINVAL); /* 4 > 3 */
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, -2, WEFT_KEEP), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, WEFT_KEEP, 0), WEFT_EINVAL); /* 1 > 0 */
  assert_int_equal(weft_threadpool_min(tp), 1);
  assert_int_equal(weft_threadpool_max(tp), 3);
  assert_int_equal(weft_threadpool_counters_get(tp, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_dump_stats(tp, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

static void stop_rules(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(1, 2, "stop", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_start(tp), 0); /* idempotent */
  assert_int_equal(weft_threadpool_threads_created(tp), 1);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_joined(tp), 1);
  assert_int_equal(weft_threadpool_started(tp), 0);
  assert_int_equal(weft_threadpool_stop(tp), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_start(tp), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, NULL), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_start_a_worker(tp), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_stop_a_worker(tp), WEFT_EQUIT);
  assert_int_equal(weft_threadpool_workers(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* stop runs everything queued (tasks waiting behind busy workers). The
 * backlog must still be there when the stop closes the pool, or the test
 * only shows that workers run their queue: a strict cap, so nothing stands
 * in for the two held workers and runs it early; the stop on a thread of
 * its own; and the gate opened only once the pool is closed (a submit is
 * refused). Submits accepted before the close are queued work too. */
static void *stopper_main(void *arg) {
  return (void *)(intptr_t)weft_threadpool_stop((weft_threadpool *)arg);
}

static void stop_drains_backlog(void **state) {
  (void)state;
  weft_threadpool *tp = make_strict_pool(0, 2, "drain", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  gated blocker = {.gate = &gate, .started = &started, .done = &done};
  gated plain = {.done = &done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &blocker), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &blocker), 0);
  count_wait(&started, 2);
  for (int i = 0; i < 100; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &plain), 0);
  pthread_t stopper;
  assert_int_equal(pthread_create(&stopper, NULL, stopper_main, tp), 0);
  /* The stop waits for the held workers; once it has closed the pool,
   * submits are refused. Until then each accepted one joins the backlog. */
  int extra = 0, rc;
  while ((rc = weft_threadpool_call_in_thread(tp, gated_task, &plain)) == 0) {
    extra++;
    sched_yield();
  }
  assert_int_equal(rc, WEFT_EQUIT);
  assert_int_equal(count_get(&done), 0); /* the whole backlog waits for the stop */
  gate_open(&gate);
  void *stop_rc;
  assert_int_equal(pthread_join(stopper, &stop_rc), 0);
  assert_int_equal((int)(intptr_t)stop_rc, 0);
  assert_int_equal(count_get(&done), 102 + extra);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(c.executed, 102 + extra);
  assert_int_equal(c.submitted, 102 + extra); /* the refused one is not counted */
  assert_int_equal(c.cancelled, 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&done);
}

/* Never started: destroy cancels the backlog, each owner told ECANCELED. */
typedef struct after_rec {
  int work_runs, after_calls, status;
} after_rec;
static void work_cb(weft_work *req) { ((after_rec *)req->data)->work_runs++; }
static void after_cb(weft_work *req, int status) {
  after_rec *r = req->data;
  r->after_calls++;
  r->status = status;
}

static void destroy_cancels_backlog(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 4, "cancel", NULL);
  weft_work reqs[5];
  after_rec recs[5] = {{0}};
  for (int i = 0; i < 5; i++) {
    reqs[i].data = &recs[i];
    assert_int_equal(weft_threadpool_queue_work(tp, &reqs[i], work_cb, after_cb), 0);
  }
  cb_record r = {0};
  sync_init(&r.done);
  assert_int_equal(weft_threadpool_call_in_thread_with_callback(tp, record_result, &r, returns_test, &r), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(recs[i].work_runs, 0);
    assert_int_equal(recs[i].after_calls, 1);
    assert_int_equal(recs[i].status, WEFT_ECANCELED);
  }
  assert_int_equal(count_get(&r.done), 1);
  assert_int_equal(r.status, WEFT_ECANCELED);
  sync_fini(&r.done);
}

/* queue_work runs work then after(0) in the worker. */
static void queue_work_runs(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 2, "qw", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  weft_work reqs[64];
  after_rec recs[64] = {{0}};
  for (int i = 0; i < 64; i++) {
    reqs[i].data = &recs[i];
    assert_int_equal(weft_threadpool_queue_work(tp, &reqs[i], work_cb, after_cb), 0);
  }
  assert_int_equal(weft_threadpool_stop(tp), 0);
  for (int i = 0; i < 64; i++) {
    assert_int_equal(recs[i].work_runs, 1);
    assert_int_equal(recs[i].after_calls, 1);
    assert_int_equal(recs[i].status, 0);
  }
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* stop / destroy from a pool thread: WEFT_EDEADLK, and in_pool_thread. */
typedef struct self_stop {
  weft_threadpool *tp;
  int stop_rc, destroy_rc, inside;
  sync_t done;
} self_stop;
static void stop_self(void *arg) {
  self_stop *s = arg;
  s->stop_rc = weft_threadpool_stop(s->tp);
  s->destroy_rc = weft_threadpool_destroy(s->tp);
  s->inside = weft_threadpool_in_pool_thread(s->tp);
  count_up(&s->done);
}

static void stop_from_pool_thread(void **state) {
  (void)state;
  self_stop s = {0};
  sync_init(&s.done);
  s.tp = make_pool(0, 1, "self", NULL);
  assert_int_equal(weft_threadpool_start(s.tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread(s.tp, stop_self, &s), 0);
  count_wait(&s.done, 1);
  assert_int_equal(s.stop_rc, WEFT_EDEADLK);
  assert_int_equal(s.destroy_rc, WEFT_EDEADLK);
  assert_int_equal(s.inside, 1);
  assert_int_equal(weft_threadpool_in_pool_thread(s.tp), 0);
  assert_int_equal(weft_threadpool_destroy(s.tp), 0);
  sync_fini(&s.done);
}

/* Names: "PoolThread-<name>-<n>" with n the creation counter; full name to
 * the factory, the 15-byte short name keeps the suffix. */
static void thread_names(void **state) {
  (void)state;
  factory_log f;
  factory_init(&f, -1);
  weft_threadpool *tp = make_pool(3, 3, "twisted.internet.reactor", &f);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(f.created, 3);
  assert_string_equal(f.names[0], "PoolThread-twisted.internet.reactor-0");
  assert_string_equal(f.names[2], "PoolThread-twisted.internet.reactor-2");
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 0, 1), 0);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 2, 2), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  /* n never repeats after a shrink (Twisted reuses it; weft does not). */
  for (int i = 0; i < f.created; i++)
    for (int j = i + 1; j < f.created; j++) assert_string_not_equal(f.names[i], f.names[j]);
  char s[16];
  weft__thread_short_name("PoolThread-twisted.internet.reactor-12", s);
  assert_string_equal(s, "PoolThread-t-12");
  weft__thread_short_name("short-1", s);
  assert_string_equal(s, "short-1");
  weft__thread_short_name("PoolThread-0x55d0c1a2b3c4-100", s);
  assert_int_equal(strlen(s), 15);
  assert_string_equal(s + 11, "-100");
}

/* The default factory names the OS thread with the short form. */
typedef struct name_probe {
  char name[16];
  sync_t done;
} name_probe;
static void read_own_name(void *arg) {
  name_probe *p = arg;
  pthread_getname_np(pthread_self(), p->name, sizeof p->name);
  count_up(&p->done);
}

static void default_factory_names(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 1, "twisted.internet.reactor", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  name_probe p;
  memset(&p, 0, sizeof p);
  sync_init(&p.done);
  assert_int_equal(weft_threadpool_call_in_thread(tp, read_own_name, &p), 0);
  count_wait(&p.done, 1);
  assert_string_equal(p.name, "PoolThread-tw-0");
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&p.done);
}

/* However long the pool's name, each thread's name keeps its counter: the
 * name a factory hook is given ends in "-<n>", and the public default
 * factory, which such a hook may wrap, keeps that suffix in the 15 bytes
 * the OS takes. (A 300-byte name lost the counter: every thread was named
 * alike, and the default factory kept only the first 15 bytes.) */
typedef struct name_log {
  pthread_mutex_t mu;
  int n;
  char given_tail[4][8];
  char os[4][16];
} name_log;
static int wrapping_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                            const char *name) {
  name_log *l = ctx;
  int r = weft_default_thread_factory(NULL, t, start, arg, name);
  if (r != 0) return r;
  pthread_mutex_lock(&l->mu);
  if (l->n < 4) {
    size_t len = strlen(name);
    snprintf(l->given_tail[l->n], sizeof l->given_tail[l->n], "%s", name + (len > 2 ? len - 2 : 0));
    pthread_getname_np(*t, l->os[l->n], sizeof l->os[l->n]);
    l->n++;
  }
  pthread_mutex_unlock(&l->mu);
  return 0;
}

static void long_pool_name_keeps_the_counter(void **state) {
  (void)state;
  char longname[301];
  memset(longname, 'a', 300);
  longname[300] = '\0';
  name_log l;
  memset(&l, 0, sizeof l);
  pthread_mutex_init(&l.mu, NULL);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 2;
  o.max_threads = 2;
  o.name = longname;
  o.thread_factory = wrapping_factory;
  o.thread_factory_ctx = &l;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.given_tail[0], "-0");
  assert_string_equal(l.given_tail[1], "-1");
  assert_int_equal(strlen(l.os[0]), 15);
  assert_string_equal(l.os[0] + 13, "-0");
  assert_string_equal(l.os[1] + 13, "-1");
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  pthread_mutex_destroy(&l.mu);
}

/* Factory failure: WEFT_EAGAIN, never abort; work is still accepted and runs
 * once a thread can be created. */
static void factory_failure(void **state) {
  (void)state;
  factory_log f;
  factory_init(&f, 0);
  weft_threadpool *tp = make_pool(2, 4, "fail", &f);
  assert_int_equal(weft_threadpool_start(tp), WEFT_EAGAIN);
  assert_int_equal(weft_threadpool_workers(tp), 0);
  sync_t done;
  sync_init(&done);
  gated g = {.done = &done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  assert_int_equal(weft_threadpool_queue_size(tp), 1);
  pthread_mutex_lock(&f.mu);
  f.fail_after = -1;
  pthread_mutex_unlock(&f.mu);
  assert_int_equal(weft_threadpool_start_a_worker(tp), 0);
  count_wait(&done, 1);
  weft_threadpool_counters c;
  weft_threadpool_counters_get(tp, &c);
  assert_true(c.spawn_failures >= 2);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&done);
}

/* adjust_poolsize: shrink idle now, busy on completion; grow to min. */
static void adjust_poolsize_rules(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(4, 8, "size", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_workers(tp), 4);
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  gated g = {.gate = &gate, .started = &started, .done = &done};
  for (int i = 0; i < 2; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&started, 2);
  /* max 1: 3 must go; the idle ones (parked or searching) go first. */
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 0, 1), 0);
  assert_int_equal(weft_threadpool_min(tp), 0);
  assert_int_equal(weft_threadpool_max(tp), 1);
  gate_open(&gate);
  count_wait(&done, 2);
  while (weft_threadpool_workers(tp) != 1) sched_yield();
  /* grow back to min. */
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 3, 5), 0);
  assert_int_equal(weft_threadpool_workers(tp), 3);
  assert_int_equal(weft_threadpool_stop_a_worker(tp), 0);
  while (weft_threadpool_workers(tp) != 2) sched_yield();
  assert_int_equal(weft_threadpool_start_a_worker(tp), 0);
  assert_int_equal(weft_threadpool_workers(tp), 3);
  weft_threadpool_counters c;
  weft_threadpool_counters_get(tp, &c);
  assert_int_equal(c.spawns, (uint64_t)weft_threadpool_threads_created(tp));
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&done);
}

/* Shrink debt as Twisted: shrinking below zero makes the next workers run
 * one task and quit. */
static void shrink_debt(void **state) {
  (void)state;
  factory_log f;
  factory_init(&f, -1);
  weft_threadpool *tp = make_pool(0, 1, "debt", &f);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_stop_a_worker(tp), 0); /* debt 1, no worker */
  sync_t done;
  sync_init(&done);
  gated g = {.done = &done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&done, 1);
  while (weft_threadpool_workers(tp) != 0) sched_yield(); /* it paid the debt */
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&done, 2);
  assert_int_equal(f.created, 2);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&done);
}

/* adjust_poolsize shrinks to a target (docs/twisted-mapping.md): threads
 * that already owe a shrink debt count as gone. Twisted's adjustPoolsize
 * adds workers - max to _toShrink each time, busy debtors included: called
 * twice with max 1 while three workers are busy it owes 4 (the pool ends
 * at 0 and the next new thread quits after one task), after stopAWorker
 * adjustPoolsize(max 2) owes 2 (the pool ends at 1, below max), and a
 * later adjustPoolsize that raises min to 2 leaves the debt of 2 (the pool
 * ends at 1, below min; weft forgives what would take it below min). All
 * three workers are held on a gate, so nobody pays before the asserts. */
static int debt_of(weft_threadpool *tp) {
  return atomic_load_explicit(&weft__threadpool_engine(tp)->shrink_debt, memory_order_relaxed);
}

static weft_threadpool *three_busy(sync_t *gate, sync_t *started, sync_t *done, gated *g) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 3;
  o.name = "target";
  o.strict_cap = 1;    /* no stand-in for the gated workers */
  o.keep_alive_ms = 0; /* no idle thread leaves on its own: the counts are the resize's */
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_init(gate);
  sync_init(started);
  sync_init(done);
  *g = (gated){.gate = gate, .started = started, .done = done};
  for (int i = 0; i < 3; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, g), 0);
  count_wait(started, 3);
  assert_int_equal(weft_threadpool_workers(tp), 3);
  return tp;
}

static void release_and_settle(weft_threadpool *tp, sync_t *gate, sync_t *started, sync_t *done,
                               int workers) {
  gate_open(gate);
  count_wait(done, 3);
  /* The debtors leave as they go idle; the rest stay (keep-alive 0). */
  while (debt_of(tp) != 0 || weft_threadpool_workers(tp) != workers) sched_yield();
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(gate);
  sync_fini(started);
  sync_fini(done);
}

static void adjust_poolsize_shrinks_to_a_target(void **state) {
  (void)state;
  sync_t gate, started, done;
  gated g;
  /* Twice max 1: a debt of 2 (Twisted: 4), one thread stays. */
  weft_threadpool *tp = three_busy(&gate, &started, &done, &g);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, WEFT_KEEP, 1), 0);
  assert_int_equal(debt_of(tp), 2);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, WEFT_KEEP, 1), 0);
  assert_int_equal(debt_of(tp), 2);
  assert_int_equal(weft_threadpool_workers(tp), 3);
  release_and_settle(tp, &gate, &started, &done, 1);
  /* stop_a_worker, then max 2: the debtor counts as gone (Twisted: 2). */
  tp = three_busy(&gate, &started, &done, &g);
  assert_int_equal(weft_threadpool_stop_a_worker(tp), 0);
  assert_int_equal(debt_of(tp), 1);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, WEFT_KEEP, 2), 0);
  assert_int_equal(debt_of(tp), 1);
  release_and_settle(tp, &gate, &started, &done, 2);
  /* max 1, then min 2: what would go below min is forgiven (Twisted: 2). */
  tp = three_busy(&gate, &started, &done, &g);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 0, 1), 0);
  assert_int_equal(debt_of(tp), 2);
  assert_int_equal(weft_threadpool_adjust_poolsize(tp, 2, 3), 0);
  assert_int_equal(debt_of(tp), 1);
  release_and_settle(tp, &gate, &started, &done, 2);
}

static void line_count(void *ctx, const char *line) {
  int *n = ctx;
  if (*n == 0) assert_memory_equal(line, "waiters: ", 9);
  (*n)++;
}

static void dump_stats(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(1, 1, "dump", NULL);
  assert_int_equal(weft_threadpool_start(tp), 0);
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(weft_threadpool_dump_stats(tp, f), 0);
  rewind(f);
  char buf[512];
  assert_non_null(fgets(buf, sizeof buf, f));
  assert_memory_equal(buf, "waiters: ", 9);
  assert_non_null(fgets(buf, sizeof buf, f));
  assert_memory_equal(buf, "workers: ", 9);
  assert_non_null(fgets(buf, sizeof buf, f));
  assert_string_equal(buf, "total: 1\n");
  fclose(f);
  int n = 0;
  assert_int_equal(weft_threadpool_dump_stats_log(tp, line_count, &n), 0);
  assert_int_equal(n, 6); /* Twisted's three, the engine's, the elastic pool's, one per worker slot */
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* Tasks submitted from inside tasks (local ring path), incl. ring overflow. */
typedef struct fan {
  weft_threadpool *tp;
  sync_t done;
} fan;
static void leaf(void *arg) { count_up(&((fan *)arg)->done); }
static void spawner(void *arg) {
  fan *f = arg;
  for (int i = 0; i < 1000; i++) /* a pool thread: no cmocka */
    THREAD_CHECK_EQ(weft_threadpool_call_in_thread(f->tp, leaf, f), 0);
}

static void nested_submit(void **state) {
  (void)state;
  fan f;
  sync_init(&f.done);
  f.tp = make_pool(2, 4, "nest", NULL);
  assert_int_equal(weft_threadpool_start(f.tp), 0);
  for (int i = 0; i < 4; i++) assert_int_equal(weft_threadpool_call_in_thread(f.tp, spawner, &f), 0);
  count_wait(&f.done, 4000);
  assert_int_equal(weft_threadpool_stop(f.tp), 0);
  weft_threadpool_counters c;
  weft_threadpool_counters_get(f.tp, &c);
  assert_int_equal(c.executed, 4004);
  assert_int_equal(c.submitted, 4004);
  assert_int_equal(weft_threadpool_destroy(f.tp), 0);
  sync_fini(&f.done);
}

/* Stealing happens: a task on worker A fills A's own ring (local submits,
 * fewer than a ring holds, so none overflows to the inject queue), then
 * blocks until one of those tasks has run on another thread. With A blocked,
 * the only way another worker can get them is to steal from A's ring, so the
 * test ends only if stealing works, and then the steal counters must show
 * it. No timing: the flooder waits on a counter that a stolen task bumps. */
#define FLOOD 32
typedef struct flood {
  weft_threadpool *tp;
  pthread_t owner;        /* A: the thread that ran the flooder */
  sync_t owner_known;     /* owner is set */
  sync_t elsewhere;       /* children that ran on a thread other than A */
  sync_t done;            /* children that ran */
  _Atomic int submit_errors;
} flood;

static void flood_child(void *arg) {
  flood *f = arg;
  gate_wait(&f->owner_known);
  if (!pthread_equal(pthread_self(), f->owner)) count_up(&f->elsewhere);
  count_up(&f->done);
}

static void flooder(void *arg) {
  flood *f = arg;
  f->owner = pthread_self();
  gate_open(&f->owner_known);
  for (int i = 0; i < FLOOD; i++)
    if (weft_threadpool_call_in_thread(f->tp, flood_child, f) != 0)
      atomic_fetch_add(&f->submit_errors, 1);
  count_wait(&f->elsewhere, 1); /* A is blocked until another worker stole */
}

static void steal_from_a_blocked_owner(void **state) {
  (void)state;
  _Static_assert(FLOOD < WEFT__RING_CAP, "the children fit in the flooder's ring");
  flood f;
  memset(&f, 0, sizeof f);
  sync_init(&f.owner_known);
  sync_init(&f.elsewhere);
  sync_init(&f.done);
  f.tp = make_strict_pool(2, 2, "steal", NULL);
  assert_int_equal(weft_threadpool_start(f.tp), 0);
  assert_int_equal(weft_threadpool_threads_created(f.tp), 2);
  assert_int_equal(weft_threadpool_call_in_thread(f.tp, flooder, &f), 0);
  count_wait(&f.done, FLOOD);
  assert_int_equal(weft_threadpool_stop(f.tp), 0);
  assert_int_equal(atomic_load(&f.submit_errors), 0);
  assert_true(count_get(&f.elsewhere) >= 1);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(f.tp, &c), 0);
  assert_int_equal(c.executed, FLOOD + 1);
  assert_int_equal(c.submitted, FLOOD + 1);
  assert_true(c.steals >= 1);
  assert_true(c.stolen >= 1);
  assert_true(c.stolen >= c.steals);
  assert_int_equal(weft_threadpool_threads_created(f.tp), 2);
  assert_int_equal(weft_threadpool_destroy(f.tp), 0);
  sync_fini(&f.owner_known);
  sync_fini(&f.elsewhere);
  sync_fini(&f.done);
}


/* A thread told to leave (stop_a_worker) while the pool is open detaches
 * itself: a later submit's spawn must not join it under the engine's mutex,
 * where it waits for whatever the thread's exit runs. Here its exit runs a
 * TLS destructor that takes a lock the submitting side holds until the
 * submit returns; with the join the submit waited for ever (the hang guard
 * below fails). */
static pthread_key_t g_exit_key;
static pthread_mutex_t g_exit_mu = PTHREAD_MUTEX_INITIALIZER;
static sync_t g_exit_entered, g_exit_set, g_exit_submitted;
static void exit_destructor(void *v) {
  (void)v;
  gate_open(&g_exit_entered);
  pthread_mutex_lock(&g_exit_mu); /* held by the test until the submit returns */
  pthread_mutex_unlock(&g_exit_mu);
}
static void set_exit_key(void *arg) {
  (void)arg;
  THREAD_CHECK_EQ(pthread_setspecific(g_exit_key, &g_exit_key), 0);
  gate_open(&g_exit_set);
}
static void exit_noop(void *arg) { (void)arg; }
static void *submit_one(void *arg) {
  THREAD_CHECK_EQ(weft_threadpool_call_in_thread(arg, exit_noop, NULL), 0);
  gate_open(&g_exit_submitted);
  return NULL;
}
static void shrunk_thread_is_not_joined_by_a_submit(void **state) {
  (void)state;
  sync_init(&g_exit_entered);
  sync_init(&g_exit_set);
  sync_init(&g_exit_submitted);
  assert_int_equal(pthread_key_create(&g_exit_key, exit_destructor), 0);
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create(&tp, 1, 1, "exitkey"), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, set_exit_key, NULL), 0);
  gate_wait(&g_exit_set);
  pthread_mutex_lock(&g_exit_mu);
  assert_int_equal(weft_threadpool_stop_a_worker(tp), 0);
  gate_wait(&g_exit_entered); /* the thread has left the pool and runs its exit */
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, submit_one, tp), 0); /* its notify starts a thread */
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 20; /* a hang guard: passing does not wait for it */
  pthread_mutex_lock(&g_exit_submitted.mu);
  int rc = 0;
  while (!g_exit_submitted.open && rc == 0)
    rc = pthread_cond_timedwait(&g_exit_submitted.cv, &g_exit_submitted.mu, &dl);
  int returned = g_exit_submitted.open;
  pthread_mutex_unlock(&g_exit_submitted.mu);
  if (!returned) fail_msg("the submit waited for the exiting thread (joined under the engine's mutex)");
  pthread_mutex_unlock(&g_exit_mu);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(pthread_key_delete(g_exit_key), 0);
  sync_fini(&g_exit_entered);
  sync_fini(&g_exit_set);
  sync_fini(&g_exit_submitted);
}

/* A factory may hand over detached threads (created so, or detached right
 * after): the pool must not join them. Threads that leave (a shrink), slots
 * that a later grow reuses, a stop_timeout and a stop, all with such
 * threads: a join of a detached thread that had exited crashed the spawn
 * that reused its slot (or was a use after free under ASan). */
static int detaching_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                             const char *name) {
  (void)name;
  if (ctx) { /* detached after its creation */
    int r = pthread_create(t, NULL, start, arg);
    if (r == 0) (void)pthread_detach(*t);
    return r == 0 ? 0 : WEFT_EAGAIN;
  }
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
  int r = pthread_create(t, &a, start, arg);
  pthread_attr_destroy(&a);
  return r == 0 ? 0 : WEFT_EAGAIN;
}

static int live_workers(weft_threadpool *tp) {
  weft_worker_stats v[8];
  size_t n = 0;
  assert_int_equal(weft_threadpool_worker_stats(tp, v, 8, &n), 0);
  int live = 0;
  for (size_t i = 0; i < n && i < 8; i++) live += v[i].live;
  return live;
}

static void run_counted(weft_threadpool *tp, int n) {
  sync_t done;
  sync_init(&done);
  gated g = {NULL, NULL, &done};
  for (int i = 0; i < n; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&done, n);
  sync_fini(&done);
}

static void detached_factory_threads_are_not_joined(void **state) {
  (void)state;
  static int late = 1;
  for (int variant = 0; variant < 2; variant++) {
    for (int timed = 0; timed < 2; timed++) {
      weft_threadpool_options o;
      weft_threadpool_options_init(&o);
      o.min_threads = 2;
      o.max_threads = 2;
      o.name = "detached";
      o.thread_factory = detaching_factory;
      o.thread_factory_ctx = variant ? &late : NULL;
      weft_threadpool *tp = NULL;
      assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
      assert_int_equal(weft_threadpool_start(tp), 0);
      run_counted(tp, 32);
      /* Both leave (EXITED), then a grow reuses their slots. */
      assert_int_equal(weft_threadpool_adjust_poolsize(tp, 0, 0), 0);
      while (live_workers(tp) != 0) sched_yield();
      assert_int_equal(weft_threadpool_adjust_poolsize(tp, 2, 2), 0);
      run_counted(tp, 32);
      if (timed) {
        weft_threadpool_stop_report rep;
        assert_int_equal(weft_threadpool_stop_timeout(tp, 10000, &rep), 0);
        assert_int_equal(rep.running, 0);
      } else {
        assert_int_equal(weft_threadpool_stop(tp), 0);
      }
      weft_threadpool_counters c;
      weft_threadpool_counters_get(tp, &c);
      assert_int_equal(c.executed, 64);
      assert_int_equal(weft_threadpool_destroy(tp), 0);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(case31_attributes),
      cmocka_unit_test(detached_factory_threads_are_not_joined),
      cmocka_unit_test(shrunk_thread_is_not_joined_by_a_submit),
      cmocka_unit_test(case32_start),
      cmocka_unit_test(threads_created_saturates),
      cmocka_unit_test(case33_adjusting_when_stopped),
      cmocka_unit_test(case34_thread_creation_arguments),
      cmocka_unit_test(case35_callback_arguments),
      cmocka_unit_test(case36_persistence),
      cmocka_unit_test(case37_call_in_thread),
      cmocka_unit_test(case38_call_in_thread_exception),
      cmocka_unit_test(case39_40_42_call_in_thread_with_callback),
      cmocka_unit_test(case41_exception_in_on_result),
      cmocka_unit_test(case43_callback_context),
      cmocka_unit_test(case44_existing_work),
      cmocka_unit_test(case45_worker_state_transition),
      cmocka_unit_test(case46_synchronization),
      cmocka_unit_test(case47_work_before_starting),
      cmocka_unit_test(case48_too_much_work_before_starting),
      cmocka_unit_test(work_before_starting_with_min),
      cmocka_unit_test(adjust_over_backlog_with_min),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(stop_rules),
      cmocka_unit_test(stop_drains_backlog),
      cmocka_unit_test(destroy_cancels_backlog),
      cmocka_unit_test(queue_work_runs),
      cmocka_unit_test(stop_from_pool_thread),
      cmocka_unit_test(thread_names),
      cmocka_unit_test(default_factory_names),
      cmocka_unit_test(long_pool_name_keeps_the_counter),
      cmocka_unit_test(factory_failure),
      cmocka_unit_test(adjust_poolsize_rules),
      cmocka_unit_test(shrink_debt),
      cmocka_unit_test(adjust_poolsize_shrinks_to_a_target),
      cmocka_unit_test(dump_stats),
      cmocka_unit_test(nested_submit),
      cmocka_unit_test(steal_from_a_blocked_owner),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
