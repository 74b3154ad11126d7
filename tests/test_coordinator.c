/*
 * The lock-free coordinator: FIFO, re-entrant do() queued behind the current
 * item, quit semantics, release from inside an item, and many concurrent
 * producers: every item runs exactly once, never two at once (an atomic
 * in-flight counter), FIFO per producer. The bounded drain: a do() that
 * found the coordinator idle returns after WEFT__COORD_DRAIN_BUDGET items
 * while another thread is submitting, and that thread drains the rest.
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
#include "test_sync.h"
#include "workers/coordinator.h"
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
  THREAD_CHECK_EQ(weft__fetch_add_acq_rel(&g_in_flight, 1), 0); /* a producer's drain */
  g_reentrant_ran++;
  weft__fetch_sub_acq_rel(&g_in_flight, 1);
}

static void stress_item(void *arg) {
  long id = (long)(intptr_t)arg;
  /* acq_rel: the counter must show any overlap of two items. */
  /* Items run on the producer threads that drain: THREAD_CHECK. */
  THREAD_CHECK_EQ(weft__fetch_add_acq_rel(&g_in_flight, 1), 0); /* never two at once */
  THREAD_CHECK_EQ(weft__fetch_add_relaxed(&g_ran[id], 1), 0);   /* exactly once */
  long p = id / g_per, seq = id % g_per;
  THREAD_CHECK_EQ(g_next_seq[p], seq); /* FIFO per producer; plain data: exclusion */
  g_next_seq[p]++;
  if (seq % 64 == 0) /* re-entrant do() from inside an item */
    THREAD_CHECK_EQ(weft_worker_do(g_c, reentrant_item, NULL), 0);
  weft__fetch_add_relaxed(&g_ran_total, 1);
  weft__fetch_sub_acq_rel(&g_in_flight, 1);
}

static void *producer(void *arg) {
  long base = (long)(intptr_t)arg * g_per;
  pthread_barrier_wait(&g_bar);
  for (long i = 0; i < g_per; i++)
    THREAD_CHECK_EQ(weft_worker_do(g_c, stress_item, (void *)(intptr_t)(base + i)), 0);
  return NULL;
}

static void many_producers_exclusive_exactly_once(void **state) {
  (void)state;
  g_per = 200000;
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
  /* how often the bounded drain handed over (timing-dependent: printed) */
  print_message("%d producers x %ld do(): %llu drains ended by a hand-off\n", PRODUCERS, g_per,
                (unsigned long long)weft__coordinator_handoffs(g_c));
  weft_worker_release(g_c);
  pthread_barrier_destroy(&g_bar);
  free((void *)g_ran);
}

/* ------------------------------------------------------- bounded drain */

#define BACKLOG (3 * (long)WEFT__COORD_DRAIN_BUDGET)

typedef struct bd_item {
  weft__task task; /* for the submitter's split submit */
  long id;
} bd_item;

static pthread_t g_drainer;
static long g_bd_next;        /* items: next expected id (exclusion protects it) */
static long g_bd_by_drainer;  /* items the do() caller ran */
static long g_bd_by_other;    /* items the submitter ran */
static latch g_bd_go, g_bd_backlogged, g_bd_announced, g_bd_finish;
static bd_item g_bd_last;

static void bd_run(long id) {
  /* Run by the do() caller (the test's thread) or the submitter thread. */
  THREAD_CHECK_EQ(id, g_bd_next); /* FIFO and exactly once */
  g_bd_next++;
  if (pthread_equal(pthread_self(), g_drainer)) g_bd_by_drainer++;
  else g_bd_by_other++;
}
static void bd_fn(void *arg) { bd_run((long)(intptr_t)arg); }
static void bd_task_run(weft__task *t) { bd_run(((bd_item *)t)->id); }

/* The do() caller's own item: while it runs, the submitter queues BACKLOG
 * items behind it, then stops between its announce and its count step (it
 * "keeps submitting"). */
static void bd_first(void *arg) {
  (void)arg;
  bd_run(0);
  latch_count_down(&g_bd_go);
  latch_wait(&g_bd_backlogged);
  latch_wait(&g_bd_announced);
}

static void *bd_submitter(void *arg) {
  (void)arg;
  latch_wait(&g_bd_go);
  for (long i = 1; i <= BACKLOG; i++)
    THREAD_CHECK_EQ(weft_worker_do(g_c, bd_fn, (void *)(intptr_t)i), 0); /* busy: queued */
  latch_count_down(&g_bd_backlogged);
  g_bd_last.task.run = bd_task_run;
  g_bd_last.task.cancel = NULL;
  g_bd_last.id = BACKLOG + 1;
  THREAD_CHECK_EQ(weft__coordinator_submit_begin(g_c), 0);
  latch_count_down(&g_bd_announced);
  latch_wait(&g_bd_finish); /* the do() caller has returned */
  weft__coordinator_submit_end(g_c, &g_bd_last.task); /* takes the freed role, drains */
  return NULL;
}

static void drain_is_bounded_while_another_thread_submits(void **state) {
  (void)state;
  g_bd_next = g_bd_by_drainer = g_bd_by_other = 0;
  latch_init(&g_bd_go, 1);
  latch_init(&g_bd_backlogged, 1);
  latch_init(&g_bd_announced, 1);
  latch_init(&g_bd_finish, 1);
  assert_int_equal(weft_coordinator_create(&g_c), 0);
  g_drainer = pthread_self();
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, bd_submitter, NULL), 0);
  /* Finds the coordinator idle: drains, but only its budget. */
  assert_int_equal(weft_worker_do(g_c, bd_first, NULL), 0);
  assert_int_equal(g_bd_by_drainer, (long)WEFT__COORD_DRAIN_BUDGET);
  assert_int_equal(g_bd_by_other, 0);
  assert_int_equal(weft__coordinator_handoffs(g_c), 1);
  latch_count_down(&g_bd_finish);
  pthread_join(th, NULL); /* its submit_end drained the rest, its own item last */
  assert_int_equal(g_bd_next, BACKLOG + 2);
  assert_int_equal(g_bd_by_other, BACKLOG + 2 - (long)WEFT__COORD_DRAIN_BUDGET);
  assert_int_equal(g_bd_by_drainer, (long)WEFT__COORD_DRAIN_BUDGET);
  weft_worker_release(g_c);
  latch_destroy(&g_bd_go);
  latch_destroy(&g_bd_backlogged);
  latch_destroy(&g_bd_announced);
  latch_destroy(&g_bd_finish);
}

/* With nobody else submitting the drainer cannot hand off and runs on until
 * the queue is empty (here: a backlog its own item queued). */
static void bd_queue_backlog(void *arg) {
  (void)arg;
  bd_run(0);
  for (long i = 1; i <= BACKLOG; i++)
    assert_int_equal(weft_worker_do(g_c, bd_fn, (void *)(intptr_t)i), 0);
}

static void drain_runs_on_when_nobody_can_take_over(void **state) {
  (void)state;
  g_bd_next = g_bd_by_drainer = g_bd_by_other = 0;
  assert_int_equal(weft_coordinator_create(&g_c), 0);
  g_drainer = pthread_self();
  assert_int_equal(weft_worker_do(g_c, bd_queue_backlog, NULL), 0);
  assert_int_equal(g_bd_by_drainer, BACKLOG + 1);
  assert_int_equal(g_bd_next, BACKLOG + 1);
  weft_worker_release(g_c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(runs_inline_when_idle),
      cmocka_unit_test(reentrant_do_is_queued_fifo),
      cmocka_unit_test(quit_semantics),
      cmocka_unit_test(release_from_inside_item),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(many_producers_exclusive_exactly_once),
      cmocka_unit_test(drain_is_bounded_while_another_thread_submits),
      cmocka_unit_test(drain_runs_on_when_nobody_can_take_over),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
