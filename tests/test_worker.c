/*
 * The weft_worker base: Twisted's Quit flag (spec cases 1-5, ported through
 * the base quit state of a user-defined worker), the ops-table contract, and
 * the race of do() against quit(): ops->quit runs exactly once, after every
 * admitted do_work, and every refused do() got WEFT_EQUIT.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/atomic.h"
#include "test_check.h"
#include "weft/worker.h"

typedef struct counting_worker {
  weft_worker base;
  _Atomic long do_calls;
  _Atomic long do_after_quit; /* do_work calls that started after ops->quit */
  _Atomic int quit_calls;
  _Atomic int closed;
  _Atomic int released;
  weft_worker *self_quit_target;
} counting_worker;

static int cw_do(weft_worker *w, weft_fn fn, void *arg) {
  counting_worker *c = (counting_worker *)w;
  if (weft__load_acquire(&c->closed)) weft__fetch_add_relaxed(&c->do_after_quit, 1);
  weft__fetch_add_relaxed(&c->do_calls, 1);
  fn(arg);
  return 0;
}

static int cw_quit(weft_worker *w) {
  counting_worker *c = (counting_worker *)w;
  weft__fetch_add_relaxed(&c->quit_calls, 1);
  weft__store_release(&c->closed, 1);
  return 0;
}

static _Atomic int released_before_quit; /* ops->release before ops->quit returned */
static void cw_release(weft_worker *w) {
  counting_worker *c = (counting_worker *)w;
  if (!weft__load_acquire(&c->closed)) weft__fetch_add_relaxed(&released_before_quit, 1);
  weft__fetch_add_relaxed(&c->released, 1);
}

static const weft_worker_ops cw_ops = {cw_do, cw_quit, cw_release};

static void cw_init(counting_worker *c) {
  weft__store_relaxed(&c->do_calls, 0);
  weft__store_relaxed(&c->do_after_quit, 0);
  weft__store_relaxed(&c->quit_calls, 0);
  weft__store_relaxed(&c->closed, 0);
  weft__store_relaxed(&c->released, 0);
  assert_int_equal(weft_worker_init(&c->base, &cw_ops), 0);
}

static void nop(void *arg) { (void)arg; }

/* case 1: test_isInitiallySet — a new worker is not quit */
static void is_initially_unset(void **state) {
  (void)state;
  counting_worker c;
  cw_init(&c);
  assert_int_equal(weft_worker_is_quit(&c.base), 0);
}

/* case 2: test_setSetsSet */
static void quit_sets_flag(void **state) {
  (void)state;
  counting_worker c;
  cw_init(&c);
  assert_int_equal(weft_worker_quit(&c.base), 0);
  assert_int_equal(weft_worker_is_quit(&c.base), 1);
  assert_int_equal(weft__load_relaxed(&c.quit_calls), 1);
}

/* case 3: test_checkDoesNothing — do() before quit is accepted */
static void check_does_nothing(void **state) {
  (void)state;
  counting_worker c;
  cw_init(&c);
  assert_int_equal(weft_worker_do(&c.base, nop, NULL), 0);
  assert_int_equal(weft__load_relaxed(&c.do_calls), 1);
}

/* case 4: test_checkAfterSetRaises */
static void check_after_set_raises(void **state) {
  (void)state;
  counting_worker c;
  cw_init(&c);
  assert_int_equal(weft_worker_quit(&c.base), 0);
  assert_int_equal(weft_worker_do(&c.base, nop, NULL), WEFT_EQUIT);
  assert_int_equal(weft__load_relaxed(&c.do_calls), 0);
}

/* case 5: test_setTwiceRaises */
static void set_twice_raises(void **state) {
  (void)state;
  counting_worker c;
  cw_init(&c);
  assert_int_equal(weft_worker_quit(&c.base), 0);
  assert_int_equal(weft_worker_quit(&c.base), WEFT_EQUIT);
  assert_int_equal(weft__load_relaxed(&c.quit_calls), 1);
}

static void bad_input(void **state) {
  (void)state;
  counting_worker c;
  weft_worker_ops no_quit = {cw_do, NULL, NULL};
  weft_worker_ops no_do = {NULL, cw_quit, NULL};
  assert_int_equal(weft_worker_init(NULL, &cw_ops), WEFT_EINVAL);
  assert_int_equal(weft_worker_init(&c.base, NULL), WEFT_EINVAL);
  assert_int_equal(weft_worker_init(&c.base, &no_quit), WEFT_EINVAL);
  assert_int_equal(weft_worker_init(&c.base, &no_do), WEFT_EINVAL);
  cw_init(&c);
  assert_int_equal(weft_worker_do(NULL, nop, NULL), WEFT_EINVAL);
  assert_int_equal(weft_worker_do(&c.base, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_worker_quit(NULL), WEFT_EINVAL);
  assert_int_equal(weft_worker_is_quit(NULL), 0);
  weft_worker_release(NULL);
}

/* release quits first, then calls ops->release once. */
static void release_quits_then_releases(void **state) {
  (void)state;
  counting_worker c;
  cw_init(&c);
  weft_worker_release(&c.base);
  assert_int_equal(weft__load_relaxed(&c.quit_calls), 1);
  assert_int_equal(weft__load_relaxed(&c.released), 1);
}

/* release() while a do() is in flight (here, from inside it): quit is
 * deferred to that do()'s return, and so is ops->release, which comes after
 * ops->quit (a worker whose release frees it must not be quit afterwards;
 * models/worker_release.pml). */
static counting_worker g_r;
static void release_self(void *arg) {
  (void)arg;
  weft_worker_release(&g_r.base);
  assert_int_equal(weft__load_relaxed(&g_r.quit_calls), 0);
  assert_int_equal(weft__load_relaxed(&g_r.released), 0); /* deferred too */
}

static void release_inside_do_waits_for_quit(void **state) {
  (void)state;
  cw_init(&g_r);
  weft__store_relaxed(&released_before_quit, 0);
  assert_int_equal(weft_worker_do(&g_r.base, release_self, NULL), 0);
  assert_int_equal(weft__load_relaxed(&g_r.quit_calls), 1);
  assert_int_equal(weft__load_relaxed(&g_r.released), 1);
  assert_int_equal(weft__load_relaxed(&released_before_quit), 0);
}

/* The same with a worker that frees itself in release (ASan: nothing
 * touches it afterwards). */
typedef struct freeing_worker {
  weft_worker base;
  int quit_calls;
} freeing_worker;
static _Atomic int fw_freed;
static int fw_do(weft_worker *w, weft_fn fn, void *arg) {
  (void)w;
  fn(arg);
  return 0;
}
static int fw_quit(weft_worker *w) {
  ((freeing_worker *)w)->quit_calls++;
  return 0;
}
static void fw_release(weft_worker *w) {
  assert_int_equal(((freeing_worker *)w)->quit_calls, 1);
  free(w);
  weft__fetch_add_relaxed(&fw_freed, 1);
}
static const weft_worker_ops fw_ops = {fw_do, fw_quit, fw_release};
static void release_own(void *arg) { weft_worker_release(arg); }

static void release_that_frees_inside_do(void **state) {
  (void)state;
  freeing_worker *f = calloc(1, sizeof *f);
  assert_non_null(f);
  assert_int_equal(weft_worker_init(&f->base, &fw_ops), 0);
  weft__store_relaxed(&fw_freed, 0);
  assert_int_equal(weft_worker_do(&f->base, release_own, f), 0);
  assert_int_equal(weft__load_relaxed(&fw_freed), 1);
}

/* quit() from inside a work item: deferred until that do() returns, so
 * do_work is never called after ops->quit, and quit() does not wait. */
static counting_worker g_c;
static void quit_self(void *arg) {
  (void)arg;
  assert_int_equal(weft_worker_quit(&g_c.base), 0);
  assert_int_equal(weft__load_relaxed(&g_c.quit_calls), 0); /* deferred */
  assert_int_equal(weft_worker_do(&g_c.base, nop, NULL), WEFT_EQUIT);
}

static void quit_inside_do_is_deferred(void **state) {
  (void)state;
  cw_init(&g_c);
  assert_int_equal(weft_worker_do(&g_c.base, quit_self, NULL), 0);
  assert_int_equal(weft__load_relaxed(&g_c.quit_calls), 1);
  assert_int_equal(weft__load_relaxed(&g_c.do_after_quit), 0);
}

/* Many threads call do() while one calls quit(): every do() is accepted or
 * refused, ops->quit is called once, after all accepted do_work calls. */
#define RACERS 4
static _Atomic long g_accepted, g_refused;
static pthread_barrier_t g_bar;

static void *racer(void *arg) {
  (void)arg;
  pthread_barrier_wait(&g_bar);
  for (int i = 0; i < 2000; i++) {
    int r = weft_worker_do(&g_c.base, nop, NULL);
    if (r == 0) weft__fetch_add_relaxed(&g_accepted, 1);
    else {
      THREAD_CHECK_EQ(r, WEFT_EQUIT); /* a racer thread: no cmocka */
      weft__fetch_add_relaxed(&g_refused, 1);
    }
  }
  return NULL;
}

static void do_races_quit(void **state) {
  (void)state;
  int rounds = 100;
  for (int round = 0; round < rounds; round++) {
    cw_init(&g_c);
    weft__store_relaxed(&g_accepted, 0);
    weft__store_relaxed(&g_refused, 0);
    pthread_barrier_init(&g_bar, NULL, RACERS + 1);
    pthread_t th[RACERS];
    for (int i = 0; i < RACERS; i++) assert_int_equal(pthread_create(&th[i], NULL, racer, NULL), 0);
    pthread_barrier_wait(&g_bar);
    assert_int_equal(weft_worker_quit(&g_c.base), 0);
    for (int i = 0; i < RACERS; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&g_bar);
    assert_int_equal(weft__load_relaxed(&g_c.quit_calls), 1);
    assert_int_equal(weft__load_relaxed(&g_c.do_after_quit), 0);
    assert_int_equal(weft__load_relaxed(&g_accepted), weft__load_relaxed(&g_c.do_calls));
    assert_int_equal(weft__load_relaxed(&g_accepted) + weft__load_relaxed(&g_refused), RACERS * 2000);
  }
}

/* ------------------------------------------ out of memory never crashes */

static _Atomic long g_alloc_budget; /* allocations left before failing; <0: unlimited */
static void *fail_malloc(size_t n) {
  if (weft__load_relaxed(&g_alloc_budget) >= 0 && weft__fetch_sub_relaxed(&g_alloc_budget, 1) <= 0)
    return NULL;
  return malloc(n);
}
static void *fail_calloc(size_t k, size_t n) {
  if (weft__load_relaxed(&g_alloc_budget) >= 0 && weft__fetch_sub_relaxed(&g_alloc_budget, 1) <= 0)
    return NULL;
  return calloc(k, n);
}

static _Atomic long g_ran, g_cancelled;
static void count_task(void *arg) {
  (void)arg;
  weft__fetch_add_relaxed(&g_ran, 1);
}
static void count_log(void *ctx, int err, const char *what) {
  (void)ctx, (void)what;
  if (err == WEFT_ECANCELED) weft__fetch_add_relaxed(&g_cancelled, 1);
}
static weft_worker *no_worker(void *ctx) {
  (void)ctx;
  return NULL;
}

/* Fail the k-th allocation for every k until a scenario completes: each
 * call returns WEFT_ENOMEM or succeeds, nothing leaks (ASan), and every
 * accepted task either runs or is reported cancelled. */
static void out_of_memory_never_crashes(void **state) {
  (void)state;
  assert_int_equal(weft_replace_allocator(fail_malloc, fail_calloc, free), 0);
  for (long k = 0; k < 64; k++) {
    weft__store_relaxed(&g_alloc_budget, k);
    weft__store_relaxed(&g_ran, 0);
    long accepted = 0;
    weft_worker *w;
    int r = weft_coordinator_create(&w);
    if (r == 0) {
      for (int i = 0; i < 3; i++) {
        int d = weft_worker_do(w, count_task, NULL);
        assert_true(d == 0 || d == WEFT_ENOMEM);
        accepted += d == 0;
      }
      assert_int_equal(weft__load_relaxed(&g_ran), accepted);
      weft_worker_release(w);
    } else {
      assert_int_equal(r, WEFT_ENOMEM);
    }
    r = weft_lock_worker_create(&w, NULL, NULL);
    if (r == 0) weft_worker_release(w);
    else assert_int_equal(r, WEFT_ENOMEM);
    r = weft_memory_worker_create(&w);
    if (r == 0) {
      int d = weft_worker_do(w, count_task, NULL);
      assert_true(d == 0 || d == WEFT_ENOMEM);
      weft_worker_release(w);
    } else {
      assert_int_equal(r, WEFT_ENOMEM);
    }
    weft_team *t;
    weft__store_relaxed(&g_cancelled, 0);
    r = weft_team_create(&t, NULL, no_worker, NULL, count_log, NULL);
    if (r == 0) {
      long team_accepted = 0;
      for (int i = 0; i < 3; i++) {
        int d = weft_team_do(t, count_task, NULL);
        assert_true(d == 0 || d == WEFT_ENOMEM);
        team_accepted += d == 0;
      }
      assert_int_equal(weft_team_quit(t), 0);
      assert_int_equal(weft_team_destroy(t), 0); /* lock-free coordinator: done inline */
      assert_int_equal(weft__load_relaxed(&g_cancelled), team_accepted);
    } else {
      assert_int_equal(r, WEFT_ENOMEM);
    }
  }
  weft__store_relaxed(&g_alloc_budget, -1);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0); /* nothing left alive */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(is_initially_unset),
      cmocka_unit_test(quit_sets_flag),
      cmocka_unit_test(check_does_nothing),
      cmocka_unit_test(check_after_set_raises),
      cmocka_unit_test(set_twice_raises),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(release_quits_then_releases),
      cmocka_unit_test(release_inside_do_waits_for_quit),
      cmocka_unit_test(release_that_frees_inside_do),
      cmocka_unit_test(quit_inside_do_is_deferred),
      cmocka_unit_test(do_races_quit),
      cmocka_unit_test(out_of_memory_never_crashes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
