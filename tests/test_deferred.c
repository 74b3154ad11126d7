/*
 * weft_deferred / weft_failure: the callback chain (Twisted's Deferred
 * semantics needed by the thread APIs), ownership and the unhandled hook.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loop/completion.h"
#include "weft/deferred.h"

/* ------------------------------------------------------------- helpers */

typedef struct log_ {
  char ev[32][24];
  int n;
} log_;

static void log_add(log_ *l, const char *what) {
  if (l->n < 32) strncpy(l->ev[l->n++], what, 23);
}

static int g_unhandled;
static int g_unhandled_code;
static void count_unhandled(void *ctx, weft_failure *f) {
  (void)ctx;
  g_unhandled++;
  g_unhandled_code = weft_failure_code(f);
}

static int setup(void **state) {
  (void)state;
  g_unhandled = 0;
  g_unhandled_code = 0;
  weft_set_unhandled_failure_hook(count_unhandled, NULL);
  return 0;
}

static int add_one(void *ctx, weft_result *r) {
  log_add(ctx, "cb");
  weft_result_set_value(r, (void *)((intptr_t)r->value + 1));
  return 0;
}

static int record_eb(void *ctx, weft_result *r) {
  log_add(ctx, weft_failure_check(r->failure, WEFT_ECANCELED) ? "eb-cancel" : "eb");
  return 0; /* pass the failure on */
}

static int recover(void *ctx, weft_result *r) {
  log_add(ctx, "recover");
  weft_result_set_value(r, (void *)(intptr_t)100);
  return 0;
}

static int raise_einval(void *ctx, weft_result *r) {
  (void)r;
  log_add(ctx, "raise");
  return WEFT_EINVAL;
}

static int return_failure(void *ctx, weft_result *r) {
  log_add(ctx, "return-failure");
  weft_result_set_failure(r, weft_failure_new(WEFT_EFAILED, "returned"));
  return 0;
}

static int consume(void *ctx, weft_result *r) {
  log_add(ctx, "consume");
  weft_failure_unref(weft_result_take_failure(r));
  return 0;
}

static intptr_t value_of(weft_deferred *d) {
  void *v = NULL;
  weft_failure *f = NULL;
  assert_int_equal(weft_deferred_result(d, &v, &f), 0);
  assert_null(f);
  return (intptr_t)v;
}

/* --------------------------------------------------------------- tests */

static void failure_basics(void **state) {
  (void)state;
  weft_failure *f = weft_failure_new(WEFT_EINVAL, "bad thing");
  assert_int_equal(weft_failure_code(f), WEFT_EINVAL);
  assert_string_equal(weft_failure_message(f), "bad thing");
  assert_true(weft_failure_check(f, WEFT_EINVAL));
  assert_false(weft_failure_check(f, WEFT_EFAILED));
  assert_ptr_equal(weft_failure_ref(f), f);
  weft_failure_unref(f);
  weft_failure_unref(f);
  weft_failure *g = weft_failure_new(5, NULL); /* non-negative → EFAILED */
  assert_int_equal(weft_failure_code(g), WEFT_EFAILED);
  assert_string_equal(weft_failure_message(g), weft_strerror(WEFT_EFAILED));
  weft_failure_unref(g);
  int freed = 0;
  weft_failure *h = weft_failure_new_data(WEFT_EFAILED, "x", &freed, NULL);
  assert_ptr_equal(weft_failure_data(h), &freed);
  weft_failure_unref(h);
  weft_failure_unref(NULL);
  assert_int_equal(weft_failure_code(NULL), WEFT_EINVAL);
}

static void callback_chain_in_order(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  assert_false(weft_deferred_called(d));
  for (int i = 0; i < 10; i++) assert_int_equal(weft_deferred_add_callback(d, add_one, &l), 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(weft_deferred_result(d, NULL, NULL), WEFT_ESTATE);
  assert_int_equal(weft_deferred_callback(d, (void *)(intptr_t)1), 0);
  assert_true(weft_deferred_called(d));
  assert_int_equal(l.n, 10);
  assert_int_equal(value_of(d), 11);
  /* added after firing: runs at once */
  assert_int_equal(weft_deferred_add_callback(d, add_one, &l), 0);
  assert_int_equal(value_of(d), 12);
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 0);
}

static void fire_twice_is_already_called(void **state) {
  (void)state;
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  assert_int_equal(weft_deferred_callback(d, NULL), 0);
  assert_int_equal(weft_deferred_callback(d, NULL), WEFT_EALREADY);
  assert_int_equal(weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, NULL)), WEFT_EALREADY);
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 0);
}

static void errback_side_and_back(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  weft_deferred_add_callback(d, add_one, &l);       /* skipped: failure */
  weft_deferred_add_errback(d, record_eb, &l);      /* eb */
  weft_deferred_add_callback(d, add_one, &l);       /* skipped */
  weft_deferred_add_errback(d, recover, &l);        /* back to callbacks: 100 */
  weft_deferred_add_errback(d, record_eb, &l);      /* skipped */
  weft_deferred_add_callback(d, add_one, &l);       /* 101 */
  weft_deferred_add_callback(d, return_failure, &l);/* errback side */
  weft_deferred_add_callback(d, add_one, &l);       /* skipped */
  weft_deferred_add_errback(d, recover, &l);        /* 100 */
  weft_deferred_add_callback(d, raise_einval, &l);  /* "raising": failure EINVAL */
  weft_deferred_add_errback(d, record_eb, &l);
  assert_int_equal(weft_deferred_errback(d, weft_failure_new(WEFT_EFAILED, "boom")), 0);
  const char *want[] = {"eb", "recover", "cb", "return-failure", "recover", "raise", "eb"};
  assert_int_equal(l.n, 7);
  for (int i = 0; i < 7; i++) assert_string_equal(l.ev[i], want[i]);
  weft_failure *f = NULL;
  assert_int_equal(weft_deferred_result(d, NULL, &f), 0);
  assert_int_equal(weft_failure_code(f), WEFT_EINVAL);
  weft_deferred_unref(d);
  /* it ended on an unhandled failure: reported once, at destruction */
  assert_int_equal(g_unhandled, 1);
  assert_int_equal(g_unhandled_code, WEFT_EINVAL);
}

static void add_both_sees_both(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *d;
  assert_int_equal(weft_fail(&d, weft_failure_new(WEFT_ECANCELED, NULL)), 0);
  assert_int_equal(weft_deferred_add_both(d, record_eb, &l), 0);
  assert_int_equal(weft_deferred_add_both(d, consume, &l), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.ev[0], "eb-cancel");
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 0); /* consumed */
  assert_int_equal(weft_succeed(&d, (void *)(intptr_t)4), 0);
  assert_int_equal(weft_deferred_add_both(d, add_one, &l), 0);
  assert_int_equal(value_of(d), 5);
  weft_deferred_unref(d);
}

/* ---- chaining */

typedef struct chain_ctx {
  weft_deferred *inner;
  log_ *l;
} chain_ctx;

static int return_inner(void *ctx, weft_result *r) {
  chain_ctx *c = ctx;
  log_add(c->l, "return-inner");
  return weft_result_set_deferred(r, c->inner);
}

static void chaining_pauses_until_inner_fires(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *outer, *inner;
  assert_int_equal(weft_deferred_create(&outer), 0);
  assert_int_equal(weft_deferred_create(&inner), 0);
  chain_ctx c = {inner, &l};
  weft_deferred_add_callback(outer, return_inner, &c);
  weft_deferred_add_callback(outer, add_one, &l);
  weft_deferred_callback(outer, NULL);
  assert_true(weft_deferred_paused(outer));
  assert_int_equal(weft_deferred_result(outer, NULL, NULL), WEFT_ESTATE);
  assert_int_equal(l.n, 1);
  weft_deferred_unref(outer); /* the inner's continuation keeps outer alive */
  weft_deferred_ref(outer);   /* (take it back to inspect it) */
  /* the inner fires: outer resumes with its result */
  weft_deferred_callback(inner, (void *)(intptr_t)41);
  weft_deferred_unref(inner);
  assert_false(weft_deferred_paused(outer));
  assert_int_equal(value_of(outer), 42);
  weft_deferred_unref(outer);
  assert_int_equal(g_unhandled, 0);
}

static void chaining_to_fired_deferred_takes_result(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *outer, *inner;
  assert_int_equal(weft_deferred_create(&outer), 0);
  assert_int_equal(weft_fail(&inner, weft_failure_new(WEFT_EFAILED, "inner")), 0);
  chain_ctx c = {inner, &l};
  weft_deferred_add_callback(outer, return_inner, &c);
  weft_deferred_add_errback(outer, consume, &l);
  weft_deferred_callback(outer, NULL);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.ev[1], "consume");
  /* the inner's failure moved to the outer: the inner holds nothing */
  void *v = (void *)1;
  weft_failure *f = (weft_failure *)1;
  assert_int_equal(weft_deferred_result(inner, &v, &f), 0);
  assert_null(f);
  assert_null(v);
  weft_deferred_unref(inner);
  weft_deferred_unref(outer);
  assert_int_equal(g_unhandled, 0);
}

static int return_self(void *ctx, weft_result *r) { return weft_result_set_deferred(r, ctx); }

static void chaining_to_self_fails(void **state) {
  (void)state;
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  weft_deferred_add_callback(d, return_self, d);
  weft_deferred_callback(d, NULL);
  weft_failure *f = NULL;
  assert_int_equal(weft_deferred_result(d, NULL, &f), 0);
  assert_int_equal(weft_failure_code(f), WEFT_EINVAL);
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 1);
}

static void chained_inner_destroyed_unfired(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *outer, *inner;
  assert_int_equal(weft_deferred_create(&outer), 0);
  assert_int_equal(weft_deferred_create(&inner), 0);
  chain_ctx c = {inner, &l};
  weft_deferred_add_callback(outer, return_inner, &c);
  weft_deferred_callback(outer, NULL);
  assert_true(weft_deferred_paused(outer));
  weft_deferred_unref(inner); /* dies unfired: gives back its hold on outer */
  assert_true(weft_deferred_paused(outer));
  weft_deferred_cancel(outer); /* nothing to cancel any more; no crash */
  weft_deferred_unref(outer);  /* freed (ASan checks no leak) */
}

/* A chain of 100,000 Deferreds, each waiting on the next, unwinds without
 * recursion (a recursive version overflows the C stack here). */
#define DEEP 100000
static weft_deferred *g_deep[DEEP + 1];

static int return_next(void *ctx, weft_result *r) {
  long i = (long)(intptr_t)ctx;
  return weft_result_set_deferred(r, g_deep[i + 1]);
}

static void deep_chain_unwinds_iteratively(void **state) {
  (void)state;
  for (long i = 0; i <= DEEP; i++) assert_int_equal(weft_deferred_create(&g_deep[i]), 0);
  for (long i = 0; i < DEEP; i++) weft_deferred_add_callback(g_deep[i], return_next, (void *)(intptr_t)i);
  for (long i = 0; i < DEEP; i++) weft_deferred_callback(g_deep[i], NULL);
  assert_true(weft_deferred_paused(g_deep[0]));
  weft_deferred_callback(g_deep[DEEP], (void *)(intptr_t)42);
  assert_int_equal(value_of(g_deep[0]), 42);
  for (long i = 0; i <= DEEP; i++) weft_deferred_unref(g_deep[i]);
}

/* Cancelling the outermost of a chain of 400,000 paused Deferreds cancels
 * the innermost, and the cancellation reaches the outermost: without
 * recursion (one level per link overflowed the stack at about 300,000). */
#define DEEP_CANCEL 400000
static weft_deferred **g_cdeep;

static int return_next_c(void *ctx, weft_result *r) {
  long i = (long)(intptr_t)ctx;
  return weft_result_set_deferred(r, g_cdeep[i + 1]);
}

static void deep_chain_cancel_iteratively(void **state) {
  (void)state;
  g_cdeep = calloc(DEEP_CANCEL + 1, sizeof *g_cdeep);
  assert_non_null(g_cdeep);
  for (long i = 0; i <= DEEP_CANCEL; i++) assert_int_equal(weft_deferred_create(&g_cdeep[i]), 0);
  for (long i = 0; i < DEEP_CANCEL; i++)
    weft_deferred_add_callback(g_cdeep[i], return_next_c, (void *)(intptr_t)i);
  for (long i = 0; i < DEEP_CANCEL; i++) weft_deferred_callback(g_cdeep[i], NULL);
  assert_true(weft_deferred_paused(g_cdeep[0]));
  assert_int_equal(weft_deferred_cancel(g_cdeep[0]), 0);
  assert_false(weft_deferred_paused(g_cdeep[0]));
  weft_failure *f = NULL;
  assert_int_equal(weft_deferred_result(g_cdeep[0], NULL, &f), 0);
  assert_non_null(f);
  assert_int_equal(weft_failure_code(f), WEFT_ECANCELED);
  for (long i = 0; i <= DEEP_CANCEL; i++) weft_deferred_unref(g_cdeep[i]);
  free(g_cdeep);
}

/* A chain of 400,000 Deferreds, each waiting on the next, whose innermost
 * is dropped unfired: every waiter's last reference goes with it, one
 * destroy per link, without recursion (one level per link overflowed the
 * stack at about 300,000). Each waiter was given an unfired callback of its
 * own whose dispose counts it, so the test sees every link freed. */
static long g_disposed;
static void count_dispose(void *ctx) {
  (void)ctx;
  g_disposed++;
}
static int never_runs(void *ctx, weft_result *r) {
  (void)ctx;
  (void)r;
  return 0;
}

static void deep_chain_destroys_iteratively(void **state) {
  (void)state;
  g_cdeep = calloc(DEEP_CANCEL + 1, sizeof *g_cdeep);
  assert_non_null(g_cdeep);
  for (long i = 0; i <= DEEP_CANCEL; i++) assert_int_equal(weft_deferred_create(&g_cdeep[i]), 0);
  for (long i = 0; i < DEEP_CANCEL; i++) {
    weft_deferred_add_callback(g_cdeep[i], return_next_c, (void *)(intptr_t)i);
    /* after the pause: never runs, disposed when its Deferred goes */
    assert_int_equal(weft__deferred_add_both_owned(g_cdeep[i], never_runs, NULL, count_dispose), 0);
  }
  for (long i = 0; i < DEEP_CANCEL; i++) weft_deferred_callback(g_cdeep[i], NULL);
  assert_true(weft_deferred_paused(g_cdeep[0]));
  g_disposed = 0;
  for (long i = 0; i < DEEP_CANCEL; i++) weft_deferred_unref(g_cdeep[i]); /* entries hold them */
  assert_int_equal(g_disposed, 0);
  weft_deferred_unref(g_cdeep[DEEP_CANCEL]);
  assert_int_equal(g_disposed, DEEP_CANCEL);
  free(g_cdeep);
}

/* Inside a destroy (here: the unhandled hook of another Deferred's), the
 * last reference to an unfired Deferred goes: it is only queued, and its
 * waiter's waiting_on must no longer lead to it, or a cancel of the waiter
 * from the same hook refs it back from the dead (Debug: the refs check;
 * ASan: use after free). The waiter is cancelled as a Deferred that waits
 * on nothing: it stays paused, as when its inner goes (chain_dispose). */
static weft_deferred *g_qinner, *g_qwaiter;
static int g_qcancel = 99;
static int chain_to_qinner(void *ctx, weft_result *r) {
  (void)ctx;
  return weft_result_set_deferred(r, g_qinner);
}
static void hook_drops_and_cancels(void *ctx, weft_failure *f) {
  (void)ctx;
  (void)f;
  if (!g_qinner) return;
  weft_deferred_unref(g_qinner); /* its last reference: queued */
  g_qinner = NULL;
  g_qcancel = weft_deferred_cancel(g_qwaiter);
}

static void queued_deferred_cannot_be_reached(void **state) {
  (void)state;
  weft_set_unhandled_failure_hook(hook_drops_and_cancels, NULL);
  assert_int_equal(weft_deferred_create(&g_qinner), 0);
  assert_int_equal(weft_deferred_create(&g_qwaiter), 0);
  assert_int_equal(weft_deferred_add_callback(g_qwaiter, chain_to_qinner, NULL), 0);
  assert_int_equal(weft_deferred_callback(g_qwaiter, NULL), 0);
  assert_true(weft_deferred_paused(g_qwaiter));
  weft_deferred *x;
  assert_int_equal(weft_fail(&x, weft_failure_new(WEFT_EFAILED, "unhandled")), 0);
  weft_deferred_unref(x); /* the hook runs inside this destroy */
  assert_null(g_qinner);
  assert_int_not_equal(g_qcancel, 99);
  assert_true(weft_deferred_paused(g_qwaiter)); /* waits on nothing, for ever */
  weft_deferred_unref(g_qwaiter);
  weft_set_unhandled_failure_hook(count_unhandled, NULL);
}

/* Two Deferreds whose callbacks return each other: the second chain_to
 * would close a circle (0 waits on 1, and 1 would wait on 0), which never
 * fires and holds both for ever (Twisted forms it). weft fails 1 with
 * WEFT_EDEADLK instead; 1's chain goes on with that failure, and 0, which
 * waits on 1, resumes with it. Both end unpaused and nothing is leaked. */
/* The result's failure code, or 1 for a value; handled either way. */
static int code_of(void *ctx, weft_result *r) {
  *(int *)ctx = r->failure ? weft_failure_code(r->failure) : 1;
  weft_result_set_value(r, NULL); /* handled */
  return 0;
}

static weft_deferred *g_cyc[2];
static int return_other(void *ctx, weft_result *r) {
  return weft_result_set_deferred(r, g_cyc[(intptr_t)ctx]);
}

static void a_circle_is_refused(void **state) {
  (void)state;
  int end0 = 0;
  assert_int_equal(weft_deferred_create(&g_cyc[0]), 0);
  assert_int_equal(weft_deferred_create(&g_cyc[1]), 0);
  weft_deferred_add_callback(g_cyc[0], return_other, (void *)(intptr_t)1);
  weft_deferred_add_callback(g_cyc[1], return_other, (void *)(intptr_t)0);
  weft_deferred_add_both(g_cyc[0], code_of, &end0);
  weft_deferred_callback(g_cyc[0], NULL); /* 0 waits on 1 */
  assert_true(weft_deferred_paused(g_cyc[0]));
  weft_deferred_callback(g_cyc[1], NULL); /* 1 would wait on 0 */
  assert_false(weft_deferred_paused(g_cyc[0]));
  assert_false(weft_deferred_paused(g_cyc[1]));
  assert_int_equal(end0, WEFT_EDEADLK); /* 0 resumed with 1's failure */
  weft_failure *f = NULL;
  assert_int_equal(weft_deferred_result(g_cyc[1], NULL, &f), 0);
  assert_null(f); /* moved on to 0, which handled it */
  assert_int_equal(weft_deferred_cancel(g_cyc[0]), 0); /* fired: nothing to do */
  weft_deferred_unref(g_cyc[0]);
  weft_deferred_unref(g_cyc[1]);
  assert_int_equal(g_unhandled, 0);
}

/* The circle through a running Deferred: A's first callback fires B; B's
 * callback returns A, which is running, so B waits for A's chain to end;
 * A's next callback returns B. Twisted takes A's intermediate result there
 * and completes both; weft, which waits for a running Deferred's final
 * result (docs/twisted-mapping.md), would have made A and B wait on each
 * other. A fails with WEFT_EDEADLK instead and both complete. */
static weft_deferred *g_ra, *g_rb;
static int a_fires_b(void *ctx, weft_result *r) {
  (void)ctx;
  (void)r;
  weft_deferred_callback(g_rb, (void *)(intptr_t)2);
  return 0;
}
static int b_returns_a(void *ctx, weft_result *r) {
  (void)ctx;
  return weft_result_set_deferred(r, g_ra);
}
static int a_returns_b(void *ctx, weft_result *r) {
  (void)ctx;
  return weft_result_set_deferred(r, g_rb);
}

static void a_circle_through_a_running_deferred_is_refused(void **state) {
  (void)state;
  int a_end = 0, b_end = 0;
  assert_int_equal(weft_deferred_create(&g_ra), 0);
  assert_int_equal(weft_deferred_create(&g_rb), 0);
  weft_deferred_add_callback(g_ra, a_fires_b, NULL);
  weft_deferred_add_callback(g_ra, a_returns_b, NULL);
  weft_deferred_add_both(g_ra, code_of, &a_end);
  weft_deferred_add_callback(g_rb, b_returns_a, NULL);
  weft_deferred_add_both(g_rb, code_of, &b_end);
  weft_deferred_callback(g_ra, (void *)(intptr_t)1);
  assert_false(weft_deferred_paused(g_ra));
  assert_false(weft_deferred_paused(g_rb));
  assert_int_equal(a_end, WEFT_EDEADLK);
  assert_int_equal(b_end, 1); /* A's final result, handled: a value */
  weft_deferred_unref(g_ra);
  weft_deferred_unref(g_rb);
  assert_int_equal(g_unhandled, 0);
}

static int log_value(void *ctx, weft_result *r) {
  log_add(ctx, r->value ? "inner-before" : "inner-after-none");
  return 0;
}

static void continuation_order_depth_first(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *outer, *inner;
  assert_int_equal(weft_deferred_create(&outer), 0);
  assert_int_equal(weft_deferred_create(&inner), 0);
  chain_ctx c = {inner, &l};
  weft_deferred_add_callback(inner, log_value, &l);  /* before the continuation */
  weft_deferred_add_callback(outer, return_inner, &c);
  weft_deferred_add_callback(outer, add_one, &l);
  weft_deferred_callback(outer, NULL);               /* continuation appended */
  weft_deferred_add_callback(inner, log_value, &l);  /* after it */
  weft_deferred_callback(inner, (void *)(intptr_t)1);
  /* inner's first callback, then the outer's chain, then inner's rest —
   * which sees None: the result moved to the outer (Twisted's order) */
  const char *want[] = {"return-inner", "inner-before", "cb", "inner-after-none"};
  assert_int_equal(l.n, 4);
  for (int i = 0; i < 4; i++) assert_string_equal(l.ev[i], want[i]);
  assert_int_equal(value_of(outer), 2);
  weft_deferred_unref(inner);
  weft_deferred_unref(outer);
}

/* ---- cancellation */

static void cancel_without_canceller(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  weft_deferred_add_errback(d, record_eb, &l);
  weft_deferred_add_errback(d, consume, &l);
  assert_int_equal(weft_deferred_cancel(d), 0);
  assert_true(weft_deferred_called(d));
  assert_string_equal(l.ev[0], "eb-cancel");
  /* the late firing is swallowed once, then AlreadyCalled again */
  assert_int_equal(weft_deferred_callback(d, NULL), 0);
  assert_int_equal(weft_deferred_callback(d, NULL), WEFT_EALREADY);
  /* cancelling a fired Deferred does nothing */
  assert_int_equal(weft_deferred_cancel(d), 0);
  assert_int_equal(l.n, 2);
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 0);
}

static int g_canceller_calls;
static void canceller_fires(void *ctx, weft_deferred *d) {
  (void)ctx;
  g_canceller_calls++;
  weft_deferred_callback(d, (void *)(intptr_t)7);
}
static void canceller_does_nothing(void *ctx, weft_deferred *d) {
  (void)ctx;
  (void)d;
  g_canceller_calls++;
}

static void cancel_with_canceller(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *d;
  g_canceller_calls = 0;
  assert_int_equal(weft_deferred_create_with_canceller(&d, canceller_fires, NULL), 0);
  weft_deferred_cancel(d);
  assert_int_equal(g_canceller_calls, 1);
  assert_int_equal(value_of(d), 7);
  weft_deferred_unref(d);

  assert_int_equal(weft_deferred_create_with_canceller(&d, canceller_does_nothing, NULL), 0);
  weft_deferred_add_errback(d, record_eb, &l);
  weft_deferred_add_errback(d, consume, &l);
  weft_deferred_cancel(d);
  assert_int_equal(g_canceller_calls, 2);
  assert_string_equal(l.ev[0], "eb-cancel");
  /* with a canceller the later firing is an error, as in Twisted */
  assert_int_equal(weft_deferred_callback(d, NULL), WEFT_EALREADY);
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 0);
}

/* weft/deferred.h: weft_deferred_cancel has "no effect on a fired, idle
 * Deferred", and a canceller is "called by weft_deferred_cancel() on an
 * unfired Deferred". So after a firing the cancel calls no canceller, and
 * a second firing is still an error (WEFT_EALREADY) that leaves the result
 * as it was, with a canceller or without. Fails if the cancel acts on the
 * fired Deferred (deferred.c, weft_deferred_cancel without its `called`
 * check): the canceller runs, or, without one, the cancel arms the swallow
 * of a late firing and the second firing answers 0. */
static void cancel_of_a_fired_deferred_does_nothing(void **state) {
  (void)state;
  weft_deferred *d;
  g_canceller_calls = 0;
  assert_int_equal(weft_deferred_create_with_canceller(&d, canceller_does_nothing, NULL), 0);
  assert_int_equal(weft_deferred_callback(d, (void *)(intptr_t)1), 0);
  assert_int_equal(weft_deferred_cancel(d), 0);
  assert_int_equal(g_canceller_calls, 0);
  assert_int_equal(weft_deferred_callback(d, (void *)(intptr_t)2), WEFT_EALREADY);
  assert_int_equal(value_of(d), 1);
  weft_deferred_unref(d);

  assert_int_equal(weft_deferred_create(&d), 0);
  assert_int_equal(weft_deferred_callback(d, (void *)(intptr_t)1), 0);
  assert_int_equal(weft_deferred_cancel(d), 0);
  assert_int_equal(weft_deferred_callback(d, (void *)(intptr_t)2), WEFT_EALREADY);
  assert_int_equal(value_of(d), 1);
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 0);
}

/* A group canceller: cancels every Deferred of its group, the one being
 * cancelled included. The nested cancels of d return at once; each
 * canceller runs once. Without the guard the canceller recursed until the
 * stack overflowed. */
typedef struct group {
  weft_deferred *member[3];
  int calls[3];
  int nested_rc;
} group;
static void cancel_group(void *ctx, weft_deferred *d) {
  group *g = ctx;
  for (int i = 0; i < 3; i++)
    if (g->member[i] == d) g->calls[i]++;
  for (int i = 0; i < 3; i++) {
    int rc = weft_deferred_cancel(g->member[i]);
    if (rc != 0) g->nested_rc = rc;
  }
}

static void canceller_cancels_its_own_deferred(void **state) {
  (void)state;
  group g = {{0}, {0}, 0};
  log_ l[3];
  memset(l, 0, sizeof l);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(weft_deferred_create_with_canceller(&g.member[i], cancel_group, &g), 0);
    weft_deferred_add_errback(g.member[i], record_eb, &l[i]);
    weft_deferred_add_errback(g.member[i], consume, &l[i]);
  }
  assert_int_equal(weft_deferred_cancel(g.member[0]), 0);
  assert_int_equal(g.nested_rc, 0);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(g.calls[i], 1); /* each canceller once */
    assert_int_equal(l[i].n, 2); /* cancelled once: eb-cancel, consume */
    assert_string_equal(l[i].ev[0], "eb-cancel");
    assert_int_equal(weft_deferred_called(g.member[i]), 1);
    weft_deferred_unref(g.member[i]);
  }
  assert_int_equal(g_unhandled, 0);
}

/* The nested cancel coming through other work: x's canceller fires y,
 * whose callback cancels x. Twisted 22.4 calls the canceller a second time
 * there (its second y.callback raises AlreadyCalledError); weft runs it
 * once (twisted-mapping.md), and x still errbacks with WEFT_ECANCELED. */
typedef struct relay {
  weft_deferred *x, *y;
  int canceller_calls;
  int y_fire_rc[4];
  int nested_rc;
} relay;
static void canceller_fires_y(void *ctx, weft_deferred *d) {
  relay *rl = ctx;
  (void)d;
  if (rl->canceller_calls < 4)
    rl->y_fire_rc[rl->canceller_calls] = weft_deferred_callback(rl->y, NULL);
  rl->canceller_calls++;
}
static int y_cancels_x(void *ctx, weft_result *r) {
  relay *rl = ctx;
  (void)r;
  rl->nested_rc = weft_deferred_cancel(rl->x);
  return 0;
}

static void canceller_reached_again_through_a_callback_runs_once(void **state) {
  (void)state;
  relay rl = {0};
  log_ l = {0};
  assert_int_equal(weft_deferred_create(&rl.y), 0);
  assert_int_equal(weft_deferred_create_with_canceller(&rl.x, canceller_fires_y, &rl), 0);
  assert_int_equal(weft_deferred_add_callback(rl.y, y_cancels_x, &rl), 0);
  assert_int_equal(weft_deferred_add_errback(rl.x, record_eb, &l), 0);
  assert_int_equal(weft_deferred_add_errback(rl.x, consume, &l), 0);
  assert_int_equal(weft_deferred_cancel(rl.x), 0);
  assert_int_equal(rl.canceller_calls, 1); /* Twisted: 2 */
  assert_int_equal(rl.y_fire_rc[0], 0);
  assert_int_equal(rl.nested_rc, 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.ev[0], "eb-cancel");
  weft_deferred_unref(rl.x);
  weft_deferred_unref(rl.y);
  assert_int_equal(g_unhandled, 0);
}

static void cancel_reaches_chained(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *outer, *inner;
  assert_int_equal(weft_deferred_create(&outer), 0);
  assert_int_equal(weft_deferred_create(&inner), 0);
  chain_ctx c = {inner, &l};
  weft_deferred_add_callback(outer, return_inner, &c);
  weft_deferred_add_errback(outer, record_eb, &l);
  weft_deferred_add_errback(outer, consume, &l);
  weft_deferred_callback(outer, NULL);
  weft_deferred_cancel(outer); /* cancels inner, whose failure flows to outer */
  assert_true(weft_deferred_called(inner));
  assert_false(weft_deferred_paused(outer));
  assert_string_equal(l.ev[1], "eb-cancel");
  weft_deferred_unref(inner);
  weft_deferred_unref(outer);
  assert_int_equal(g_unhandled, 0);
}

/* ---- re-entrancy and ownership */

static int add_more_from_inside(void *ctx, weft_result *r) {
  weft_deferred *d = ctx;
  static log_ inner_log;
  /* appended to the running chain: runs after this one, not recursively */
  weft_deferred_add_callback(d, add_one, &inner_log);
  weft_result_set_value(r, (void *)(intptr_t)10);
  return 0;
}

static void add_callbacks_while_running(void **state) {
  (void)state;
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  weft_deferred_add_callback(d, add_more_from_inside, d);
  weft_deferred_callback(d, NULL);
  assert_int_equal(value_of(d), 11);
  weft_deferred_unref(d);
}

static int unref_inside(void *ctx, weft_result *r) {
  (void)r;
  weft_deferred_unref(ctx); /* drops the creator's last reference mid-chain */
  return 0;
}

static void unref_during_callbacks(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  weft_deferred_add_callback(d, unref_inside, d);
  weft_deferred_add_callback(d, add_one, &l);
  weft_deferred_callback(d, NULL); /* the chain holds a reference while running */
  assert_int_equal(l.n, 1);
}

static void unfired_deferred_destroyed_silently(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  weft_deferred_add_callback(d, add_one, &l);
  weft_deferred_unref(d);
  assert_int_equal(l.n, 0);
  assert_int_equal(g_unhandled, 0);
}

static void bad_arguments(void **state) {
  (void)state;
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_callback(NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_errback(NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_cancel(NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_add_callbacks(NULL, add_one, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_create(&d), 0);
  assert_int_equal(weft_deferred_add_callbacks(d, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_deferred_add_callback(d, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_result_set_deferred(NULL, d), WEFT_EINVAL);
  /* errback(NULL) is a generic failure, like Twisted's errback() */
  assert_int_equal(weft_deferred_errback(d, NULL), 0);
  weft_failure *f = NULL;
  assert_int_equal(weft_deferred_result(d, NULL, &f), 0);
  assert_int_equal(weft_failure_code(f), WEFT_EFAILED);
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 1);
  weft_deferred_unref(NULL);
  assert_null(weft_deferred_ref(NULL));
}

static void many_callbacks_grow_the_chain(void **state) {
  (void)state;
  log_ l = {0};
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  for (int i = 0; i < 1000; i++) assert_int_equal(weft_deferred_add_callback(d, add_one, &l), 0);
  weft_deferred_callback(d, NULL);
  assert_int_equal(value_of(d), 1000);
  weft_deferred_unref(d);
}

/* A free that keeps every block, filled with 0xA5, until quarantine_end: a
 * read of freed memory then sees the poison in any build (ASan reports it
 * too), and the memory stays the test's own. */
typedef union qhead {
  struct {
    union qhead *next;
    size_t size;
  } h;
  max_align_t align;
} qhead;
static qhead *g_quarantine;

static void *q_malloc(size_t size) {
  qhead *h = malloc(sizeof *h + size);
  if (h == NULL) return NULL;
  h->h.size = size;
  return h + 1;
}
static void *q_calloc(size_t n, size_t size) {
  if (size != 0 && n > SIZE_MAX / size) return NULL;
  void *p = q_malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}
static void q_free(void *p) {
  if (p == NULL) return;
  qhead *h = (qhead *)p - 1;
  memset(p, 0xA5, h->h.size);
  h->h.next = g_quarantine;
  g_quarantine = h;
}
static void quarantine_begin(void) {
  assert_int_equal(weft_replace_allocator(q_malloc, q_calloc, q_free), 0);
}
static void quarantine_end(void) {
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
  while (g_quarantine) {
    qhead *h = g_quarantine;
    g_quarantine = h->h.next;
    free(h);
  }
}

/* A request whose failure payload owns the Deferred's only reference: the
 * failure's free_data gives it back. */
typedef struct request {
  weft_deferred *d;
  int freed;
} request;
static void request_free(void *data) {
  request *q = data;
  q->freed = 1;
  weft_deferred_unref(q->d);
}

/* errback consumes the failure even when it answers WEFT_EALREADY; if the
 * failure's free_data drops the last reference to d, errback must not read
 * d afterwards. It did (d->suppress_once after the unref): a use after free
 * that answered 0 from the freed block's contents instead of
 * WEFT_EALREADY. */
static void errback_whose_failure_drops_the_deferred(void **state) {
  (void)state;
  quarantine_begin();
  request q = {NULL, 0};
  assert_int_equal(weft_deferred_create(&q.d), 0);
  assert_int_equal(weft_deferred_callback(q.d, NULL), 0);
  assert_int_equal(
      weft_deferred_errback(q.d, weft_failure_new_data(WEFT_EFAILED, NULL, &q, request_free)),
      WEFT_EALREADY);
  assert_true(q.freed);
  /* The swallowed firing after a cancel without canceller: 0, same rule. */
  request c = {NULL, 0};
  assert_int_equal(weft_deferred_create(&c.d), 0);
  assert_int_equal(weft_deferred_add_errback(c.d, consume, &(log_){0}), 0);
  assert_int_equal(weft_deferred_cancel(c.d), 0);
  assert_int_equal(
      weft_deferred_errback(c.d, weft_failure_new_data(WEFT_EFAILED, NULL, &c, request_free)), 0);
  assert_true(c.freed);
  quarantine_end();
  assert_int_equal(g_unhandled, 0);
}

/* A failure payload that looks at the Deferred when its failure is freed. */
typedef struct onlooker {
  weft_deferred *d;
  int freed;
  int rc;
  void *value;
  weft_failure *seen;
} onlooker;
static void onlooker_free(void *data) {
  onlooker *o = data;
  o->freed++;
  o->rc = weft_deferred_result(o->d, &o->value, &o->seen);
}

static int replace_failure(void *ctx, weft_result *r) {
  weft_result_set_failure(r, ctx);
  return 0;
}
static int recover_42(void *ctx, weft_result *r) {
  (void)ctx;
  weft_result_set_value(r, (void *)(intptr_t)42);
  return 0;
}
static int chain_to_ctx(void *ctx, weft_result *r) {
  return weft_result_set_deferred(r, ctx);
}

/* A result replaced in a callback releases the failure it held; that
 * failure's free_data (user code) may look at the Deferred, and
 * weft_deferred_result must not hand it the failure being freed (a
 * borrowed pointer to freed memory): the result is in its new state before
 * the old failure goes. It was not, for set_failure, set_value, and a
 * callback that returned a Deferred while holding a failure. */
static void freed_failure_is_not_the_result(void **state) {
  (void)state;
  weft_deferred *d;
  assert_int_equal(weft_deferred_create(&d), 0);
  onlooker o1 = {d, 0, 1, NULL, NULL}, o2 = {d, 0, 1, NULL, NULL};
  weft_failure *f2 = weft_failure_new_data(WEFT_EFAILED, "second", &o2, onlooker_free);
  assert_int_equal(weft_deferred_add_errback(d, replace_failure, f2), 0); /* frees f1 */
  assert_int_equal(weft_deferred_add_errback(d, recover_42, NULL), 0);   /* frees f2 */
  assert_int_equal(
      weft_deferred_errback(d, weft_failure_new_data(WEFT_EINVAL, "first", &o1, onlooker_free)),
      0);
  assert_int_equal(o1.freed, 1);
  assert_int_equal(o1.rc, 0);
  assert_ptr_equal(o1.seen, f2); /* not the first failure, being freed */
  assert_int_equal(o2.freed, 1);
  assert_int_equal(o2.rc, 0);
  assert_null(o2.seen);
  assert_int_equal((intptr_t)o2.value, 42);
  weft_deferred_unref(d);

  /* An errback that returns a Deferred: the failure goes before the wait. */
  weft_deferred *inner;
  assert_int_equal(weft_deferred_create(&d), 0);
  assert_int_equal(weft_deferred_create(&inner), 0);
  onlooker o3 = {d, 0, 1, NULL, NULL};
  assert_int_equal(weft_deferred_add_errback(d, chain_to_ctx, inner), 0);
  assert_int_equal(
      weft_deferred_errback(d, weft_failure_new_data(WEFT_EINVAL, "third", &o3, onlooker_free)), 0);
  assert_int_equal(o3.freed, 1);
  assert_null(o3.seen);
  assert_true(weft_deferred_paused(d));
  assert_int_equal(weft_deferred_callback(inner, (void *)(intptr_t)7), 0);
  assert_int_equal(value_of(d), 7);
  weft_deferred_unref(inner);
  weft_deferred_unref(d);
  assert_int_equal(g_unhandled, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(failure_basics, setup),
      cmocka_unit_test_setup(callback_chain_in_order, setup),
      cmocka_unit_test_setup(fire_twice_is_already_called, setup),
      cmocka_unit_test_setup(errback_side_and_back, setup),
      cmocka_unit_test_setup(add_both_sees_both, setup),
      cmocka_unit_test_setup(chaining_pauses_until_inner_fires, setup),
      cmocka_unit_test_setup(chaining_to_fired_deferred_takes_result, setup),
      cmocka_unit_test_setup(chaining_to_self_fails, setup),
      cmocka_unit_test_setup(chained_inner_destroyed_unfired, setup),
      cmocka_unit_test_setup(deep_chain_unwinds_iteratively, setup),
      cmocka_unit_test_setup(continuation_order_depth_first, setup),
      cmocka_unit_test_setup(cancel_without_canceller, setup),
      cmocka_unit_test_setup(cancel_with_canceller, setup),
      cmocka_unit_test_setup(cancel_of_a_fired_deferred_does_nothing, setup),
      cmocka_unit_test_setup(canceller_cancels_its_own_deferred, setup),
      cmocka_unit_test_setup(canceller_reached_again_through_a_callback_runs_once, setup),
      cmocka_unit_test_setup(cancel_reaches_chained, setup),
      cmocka_unit_test_setup(add_callbacks_while_running, setup),
      cmocka_unit_test_setup(unref_during_callbacks, setup),
      cmocka_unit_test_setup(unfired_deferred_destroyed_silently, setup),
      cmocka_unit_test_setup(bad_arguments, setup),
      cmocka_unit_test(deep_chain_cancel_iteratively),
      cmocka_unit_test(deep_chain_destroys_iteratively),
      cmocka_unit_test(queued_deferred_cannot_be_reached),
      cmocka_unit_test_setup(a_circle_is_refused, setup),
      cmocka_unit_test_setup(a_circle_through_a_running_deferred_is_refused, setup),
      cmocka_unit_test_setup(many_callbacks_grow_the_chain, setup),
      cmocka_unit_test_setup(errback_whose_failure_drops_the_deferred, setup),
      cmocka_unit_test_setup(freed_failure_is_not_the_result, setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
