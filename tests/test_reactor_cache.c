/*
 * The reactor's cache of deferToThread blocks (lib/base/block_cache.h,
 * docs/reactor.md, "Round trips without allocation: the block cache"):
 * blocks are reused, the steady state allocates nothing, the cache is
 * bounded, a Deferred may outlive its reactor (its block is then freed, on
 * any thread ordered after the destroy), allocation failures are reported,
 * and weft_replace_allocator refuses while any block lives.
 *
 * The reactor is attached to the test thread and drained by hand after
 * poll(2) on its fd: every wait is on a real event, never a sleep.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/block_cache.h"
#include "loop/reactor_state.h"
#include "weft/weft.h"

/* ------------------------------------------ a per-thread fault allocator */

/* Fail this thread's t_fail_at-th next allocation (1: the next; 0: none). */
static _Thread_local int t_fail_at;
static _Thread_local long t_allocs; /* allocations made by this thread */

static int fail_now(void) {
  if (t_fail_at > 0 && --t_fail_at == 0) return 1;
  t_allocs++;
  return 0;
}
static void *f_malloc(size_t n) { return fail_now() ? NULL : malloc(n); }
static void *f_calloc(size_t n, size_t s) { return fail_now() ? NULL : calloc(n, s); }

/* ------------------------------------------------------------- fixture */

typedef struct fx {
  weft_reactor *r;
  weft_threadpool *tp;
  int fd;
  long fired;
} fx;

static int identity(void *arg, void **result) {
  *result = arg;
  return 0;
}

static int count_fired(void *ctx, weft_result *res) {
  fx *f = ctx;
  f->fired++;
  if (res->failure) weft_failure_unref(weft_result_take_failure(res));
  return 0;
}

static void fx_open(fx *f) {
  f->fired = 0;
  assert_int_equal(weft_reactor_create(&f->r), 0);
  assert_int_equal(weft_threadpool_create(&f->tp, 1, 1, "cache"), 0);
  assert_int_equal(weft_threadpool_start(f->tp), 0);
  assert_int_equal(weft_reactor_attach(f->r, &f->fd), 0);
}

/* Own pool first (its workers push into the reactor), then the reactor. */
static void fx_close(fx *f) {
  assert_int_equal(weft_threadpool_destroy(f->tp), 0);
  assert_int_equal(weft_reactor_detach(f->r), 0);
  assert_int_equal(weft_reactor_destroy(f->r), 0);
}

static weft_deferred *submit(fx *f, void *arg) {
  weft_deferred *d = NULL;
  assert_int_equal(weft_defer_to_thread_pool(f->r, f->tp, identity, arg, &d), 0);
  assert_non_null(d);
  assert_int_equal(weft_deferred_add_both(d, count_fired, f), 0);
  return d;
}

static void wait_fired(fx *f, long n) {
  while (f->fired < n) {
    struct pollfd p = {.fd = f->fd, .events = POLLIN};
    assert_true(poll(&p, 1, -1) >= 0 || errno == EINTR);
    assert_true(weft_reactor_drain(f->r) >= 0);
  }
}

/* ----------------------------------------------------------------- tests */

/* A released round trip's block is the next one's (LIFO, warm). */
static void blocks_are_reused(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  weft_deferred *d1 = submit(&f, (void *)1);
  wait_fired(&f, 1);
  void *v = NULL;
  assert_int_equal(weft_deferred_result(d1, &v, NULL), 0);
  assert_ptr_equal(v, (void *)1);
  assert_int_equal(f.r->rt_cache->nfree, 0); /* d1 still held by us */
  weft_deferred *old = d1;
  weft_deferred_unref(d1);
  assert_int_equal(f.r->rt_cache->nfree, 1);
  weft_deferred *d2 = submit(&f, (void *)2);
  assert_ptr_equal(d2, old);
  assert_int_equal(f.r->rt_cache->nfree, 0);
  weft_deferred_unref(d2); /* weft keeps the in-flight reference */
  wait_fired(&f, 2);
  assert_int_equal(f.r->rt_cache->nfree, 1); /* back when the trip ended */
  fx_close(&f);
}

/* Once warm, round trips allocate nothing on the reactor thread. */
static void steady_state_allocates_nothing(void **state) {
  (void)state;
  assert_int_equal(weft_replace_allocator(f_malloc, f_calloc, free), 0);
  fx f;
  fx_open(&f);
  enum { IN_FLIGHT = 64, ROUNDS = 20 };
  weft_deferred *d[IN_FLIGHT];
  for (int i = 0; i < IN_FLIGHT; i++) d[i] = submit(&f, NULL);
  wait_fired(&f, IN_FLIGHT);
  for (int i = 0; i < IN_FLIGHT; i++) weft_deferred_unref(d[i]);
  long before = t_allocs;
  for (int round = 0; round < ROUNDS; round++) {
    for (int i = 0; i < IN_FLIGHT; i++) weft_deferred_unref(submit(&f, NULL));
    wait_fired(&f, (long)IN_FLIGHT * (round + 2));
  }
  assert_int_equal(t_allocs, before);
  /* With the cache warm, a failing allocator does not matter. */
  t_fail_at = 1;
  weft_deferred_unref(submit(&f, NULL));
  assert_int_equal(t_fail_at, 1); /* not consumed */
  t_fail_at = 0;
  wait_fired(&f, (long)IN_FLIGHT * (ROUNDS + 1) + 1);
  fx_close(&f);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
}

/* ENOMEM for the cache itself, then for a block: reported, nothing leaks,
 * and the next call works. */
static void allocation_failures_are_reported(void **state) {
  (void)state;
  assert_int_equal(weft_replace_allocator(f_malloc, f_calloc, free), 0);
  fx f;
  fx_open(&f);
  weft_deferred *d = (weft_deferred *)&f; /* must be reset to NULL */
  t_fail_at = 1; /* the cache */
  assert_int_equal(weft_defer_to_thread_pool(f.r, f.tp, identity, NULL, &d), WEFT_ENOMEM);
  assert_null(d);
  assert_null(f.r->rt_cache);
  t_fail_at = 2; /* the cache is made, its first block is not */
  d = (weft_deferred *)&f;
  assert_int_equal(weft_defer_to_thread_pool(f.r, f.tp, identity, NULL, &d), WEFT_ENOMEM);
  assert_null(d);
  assert_non_null(f.r->rt_cache);
  assert_int_equal(f.r->rt_cache->nfree, 0);
  assert_int_equal(t_fail_at, 0);
  weft_deferred_unref(submit(&f, (void *)3));
  wait_fired(&f, 1);
  fx_close(&f);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
}

/* A refused submit (stopped pool) gives its block back to the cache. */
static void refused_submit_returns_the_block(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  weft_deferred_unref(submit(&f, NULL));
  wait_fired(&f, 1);
  assert_int_equal(f.r->rt_cache->nfree, 1);
  assert_int_equal(weft_threadpool_stop(f.tp), 0);
  weft_deferred *d = NULL;
  assert_int_equal(weft_defer_to_thread_pool(f.r, f.tp, identity, NULL, &d), WEFT_EQUIT);
  assert_null(d);
  assert_int_equal(f.r->rt_cache->nfree, 1);
  fx_close(&f);
}

/* More blocks out than the cache keeps: the extra ones are freed when they
 * come back (ASan's leak check sees the rest freed by destroy). */
static void the_cache_is_bounded(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  enum { N = 4096 + 100 };
  weft_deferred **d = malloc(N * sizeof *d);
  assert_non_null(d);
  for (int i = 0; i < N; i++) d[i] = submit(&f, NULL);
  wait_fired(&f, N);
  for (int i = 0; i < N; i++) weft_deferred_unref(d[i]);
  free(d);
  assert_int_equal(f.r->rt_cache->nfree, 4096);
  assert_int_equal(f.r->rt_cache->max_free, 4096);
  fx_close(&f);
}

/* Deferreds kept after weft_reactor_destroy: still readable, their blocks
 * freed when the last reference goes — here on two other threads at once,
 * started after the destroy. weft_replace_allocator refuses until then. */
typedef struct half {
  weft_deferred **d;
  int n;
} half;

static void *release_half(void *arg) {
  half *h = arg;
  for (int i = 0; i < h->n; i++) weft_deferred_unref(h->d[i]);
  return NULL;
}

static void deferreds_outlive_their_reactor(void **state) {
  (void)state;
  fx f;
  fx_open(&f);
  enum { N = 200 };
  weft_deferred *d[N];
  for (int i = 0; i < N; i++) d[i] = submit(&f, (void *)(intptr_t)(i + 1));
  wait_fired(&f, N);
  weft_deferred_unref(submit(&f, NULL)); /* one block on the free list too */
  wait_fired(&f, N + 1);
  fx_close(&f); /* the reactor is gone; the cache is orphaned */
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), WEFT_EBUSY);
  for (int i = 0; i < N; i++) {
    void *v = NULL;
    assert_int_equal(weft_deferred_result(d[i], &v, NULL), 0);
    assert_ptr_equal(v, (void *)(intptr_t)(i + 1));
  }
  weft_deferred_ref(d[0]); /* ref/unref still work on an orphaned block */
  weft_deferred_unref(d[0]);
  half a = {d, N / 2}, b = {d + N / 2, N - N / 2};
  pthread_t ta, tb;
  assert_int_equal(pthread_create(&ta, NULL, release_half, &a), 0);
  assert_int_equal(pthread_create(&tb, NULL, release_half, &b), 0);
  assert_int_equal(pthread_join(ta, NULL), 0);
  assert_int_equal(pthread_join(tb, NULL), 0);
  /* The last block freed the cache: no weft object is left. */
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
}

/* The cache of a reactor that never made one: destroy is fine. */
static void unused_reactor(void **state) {
  (void)state;
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_null(r->rt_cache);
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(blocks_are_reused),
      cmocka_unit_test(steady_state_allocates_nothing),
      cmocka_unit_test(allocation_failures_are_reported),
      cmocka_unit_test(refused_submit_returns_the_block),
      cmocka_unit_test(the_cache_is_bounded),
      cmocka_unit_test(deferreds_outlive_their_reactor),
      cmocka_unit_test(unused_reactor),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
