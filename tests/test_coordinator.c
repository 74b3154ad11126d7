/*
 * The lock-free coordinator: FIFO, re-entrant do() queued behind the current
 * item, quit semantics, release from inside an item, and many concurrent
 * producers: every item runs exactly once, never two at once (an atomic
 * in-flight counter), FIFO per producer.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "atomic.h"
#include "coordinator.h"
#include "weft/worker.h"

static weft_worker *g_c;
static long g_log[16];
static int g_nlog;

static void append(void *arg) { g_log[g_nlog++] = (long)(intptr_t)arg; }

static void runs_inline_when_idle(void **state) {
  (void)state;
  g_nlog = 0;
  assert_int_equal(weft_coordinator_create(&g_c), 0);
  assert_int_equal(weft_worker_do(g_c, append, (void *)1), 0);
  assert_int_equal(g_nlog, 1); /* the idle coordinator was drained by the caller */
  assert_int_equal(weft_worker_do(g_c, append, (void *)2), 0);
  assert_int_equal(g_nlog, 2);
  weft_worker_release(g_c);
}

static void reenter(void *arg) {
  long depth = (long)(intptr_t)arg;
  g_log[g_nlog++] = depth;
  if (depth < 3) {
    assert_int_equal(weft_worker_do(g_c, reenter, (void *)(intptr_t)(depth + 1)), 0);
    assert_int_equal(weft_worker_do(g_c, append, (void *)(intptr_t)(100 + depth)), 0);
    g_log[g_nlog++] = -depth; /* the queued items have not run yet */
  }
}

static void reentrant_do_is_queued_fifo(void **state) {
  (void)state;
  g_nlog = 0;
  assert_int_equal(weft_coordinator_create(&g_c), 0);
  assert_int_equal(weft_worker_do(g_c, reenter, (void *)1), 0);
  long expect[] = {1, -1, 2, -2, 101, 3, 102};
  assert_int_equal(g_nlog, 7);
  for (int i = 0; i < 7; i++) assert_int_equal(g_log[i], expect[i]);
  weft_worker_release(g_c);
}

static void quit_inside(void *arg) {
  (void)arg;
  assert_int_equal(weft_worker_do(g_c, append, (void *)7), 0); /* accepted before quit */
  assert_int_equal(weft_worker_quit(g_c), 0);
  assert_int_equal(weft_worker_do(g_c, append, (void *)8), WEFT_EQUIT);
}

static void quit_semantics(void **state) {
  (void)state;
  g_nlog = 0;
  assert_int_equal(weft_coordinator_create(&g_c), 0);
  assert_int_equal(weft_worker_do(g_c, quit_inside, NULL), 0);
  assert_int_equal(g_nlog, 1); /* the item queued before quit still ran */
  assert_int_equal(g_log[0], 7);
  assert_int_equal(weft_worker_quit(g_c), WEFT_EQUIT);
  assert_int_equal(weft_worker_do(g_c, append, (void *)9), WEFT_EQUIT);
  weft_worker_release(g_c);
}

static void release_inside(void *arg) {
  (void)arg;
  assert_int_equal(weft_worker_do(g_c, append, (void *)5), 0);
  weft_worker_release(g_c); /* frees once the drain is over */
}

static void release_from_inside_item(void **state) {
  (void)state;
  g_nlog = 0;
  assert_int_equal(weft_coordinator_create(&g_c), 0);
  assert_int_equal(weft_worker_do(g_c, release_inside, NULL), 0);
  assert_int_equal(g_nlog, 1);
}

static void bad_input(void **state) {
  (void)state;
  assert_int_equal(weft_coordinator_create(NULL), WEFT_EINVAL);
  assert_int_equal(weft_coordinator_create(&g_c), 0);
  assert_int_equal(weft_worker_do(g_c, NULL, NULL), WEFT_EINVAL);
  assert_true(weft__is_coordinator(g_c));
  weft_worker_release(g_c);
}

/* ------------------------------------------------------------- stress */

#define PRODUCERS 4
static long g_per;
static _Atomic int g_in_flight;
static _Atomic long g_ran_total;
static long g_next_seq[PRODUCERS]; /* touched only by items: exclusion protects it */
static _Atomic int *g_ran;
static pthread_barrier_t g_bar;

static long g_reentrant_ran; /* plain data: exclusion protects it */
static void reentrant_item(void *arg) {
  (void)arg;
  assert_int_equal(weft__fetch_add_acq_rel(&g_in_flight, 1), 0);
  g_reentrant_ran++;
  weft__fetch_sub_acq_rel(&g_in_flight, 1);
}

static void stress_item(void *arg) {
  long id = (long)(intptr_t)arg;
  /* acq_rel: the counter must show any overlap of two items. */
  assert_int_equal(weft__fetch_add_acq_rel(&g_in_flight, 1), 0); /* never two at once */
  assert_int_equal(weft__fetch_add_relaxed(&g_ran[id], 1), 0); /* exactly once */
  long p = id / g_per, seq = id % g_per;
  assert_int_equal(g_next_seq[p], seq); /* FIFO per producer; plain data: exclusion */
  g_next_seq[p]++;
  if (seq % 64 == 0) /* re-entrant do() from inside an item */
    assert_int_equal(weft_worker_do(g_c, reentrant_item, NULL), 0);
  weft__fetch_add_relaxed(&g_ran_total, 1);
  weft__fetch_sub_acq_rel(&g_in_flight, 1);
}

static void *producer(void *arg) {
  long base = (long)(intptr_t)arg * g_per;
  pthread_barrier_wait(&g_bar);
  for (long i = 0; i < g_per; i++)
    assert_int_equal(weft_worker_do(g_c, stress_item, (void *)(intptr_t)(base + i)), 0);
  return NULL;
}

static void many_producers_exclusive_exactly_once(void **state) {
  (void)state;
  g_per = getenv("WEFT_TEST_CONFIG") ? 20000 : 200000;
  g_ran = calloc((size_t)(PRODUCERS * g_per), sizeof *g_ran);
  assert_non_null(g_ran);
  for (int p = 0; p < PRODUCERS; p++) g_next_seq[p] = 0;
  weft__store_relaxed(&g_ran_total, 0);
  g_reentrant_ran = 0;
  assert_int_equal(weft_coordinator_create(&g_c), 0);
  pthread_barrier_init(&g_bar, NULL, PRODUCERS);
  pthread_t th[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++)
    assert_int_equal(pthread_create(&th[p], NULL, producer, (void *)(intptr_t)p), 0);
  for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
  /* Every do() has returned, so no drain is in progress: all items ran. */
  assert_int_equal(weft__load_acquire(&g_ran_total), PRODUCERS * g_per);
  for (int p = 0; p < PRODUCERS; p++) assert_int_equal(g_next_seq[p], g_per);
  assert_int_equal(g_reentrant_ran, PRODUCERS * ((g_per + 63) / 64));
  weft_worker_release(g_c);
  pthread_barrier_destroy(&g_bar);
  free((void *)g_ran);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(runs_inline_when_idle),
      cmocka_unit_test(reentrant_do_is_queued_fifo),
      cmocka_unit_test(quit_semantics),
      cmocka_unit_test(release_from_inside_item),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(many_producers_exclusive_exactly_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
