/*
 * lib/engine/mpsc.h: FIFO per producer, exactly-once delivery with many producers
 * racing one consumer, "was empty" hints, WOULDBLOCK handling.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "engine/mpsc.h"

typedef struct item {
  weft__task task;
  int producer;
  long seq;
} item;

static void empty_queue(void **state) {
  (void)state;
  weft__mpsc q;
  weft__mpsc_init(&q);
  assert_true(weft__mpsc_empty(&q));
  assert_null(weft__mpsc_pop(&q));
  item a = {.producer = 0, .seq = 1}, b = {.producer = 0, .seq = 2};
  assert_true(weft__mpsc_push(&q, &a.task));  /* was empty */
  assert_false(weft__mpsc_push(&q, &b.task)); /* was not */
  assert_false(weft__mpsc_empty(&q));
  assert_ptr_equal(weft__mpsc_pop(&q), &a.task);
  assert_ptr_equal(weft__mpsc_pop(&q), &b.task);
  assert_null(weft__mpsc_pop(&q));
  assert_true(weft__mpsc_empty(&q));
  assert_true(weft__mpsc_push(&q, &a.task)); /* empty again after draining */
  assert_ptr_equal(weft__mpsc_pop(&q), &a.task);
}

static void chain_push(void **state) {
  (void)state;
  weft__mpsc q;
  weft__mpsc_init(&q);
  item it[5];
  for (int i = 0; i < 5; i++) {
    it[i].seq = i;
    if (i) weft__store_relaxed(&it[i - 1].task.next, &it[i].task);
  }
  assert_true(weft__mpsc_push_chain(&q, &it[0].task, &it[4].task));
  for (int i = 0; i < 5; i++) assert_ptr_equal(weft__mpsc_pop(&q), &it[i].task);
  assert_null(weft__mpsc_pop(&q));
}

#define PRODUCERS 4
#define PER_PRODUCER 200000

static weft__mpsc g_q;
static item *g_items;

static void *producer(void *arg) {
  int p = (int)(intptr_t)arg;
  for (long i = 0; i < PER_PRODUCER; i++) {
    item *it = &g_items[p * PER_PRODUCER + i];
    it->producer = p;
    it->seq = i;
    weft__mpsc_push(&g_q, &it->task);
  }
  return NULL;
}

static void many_producers_exactly_once_fifo(void **state) {
  (void)state;
  g_items = calloc(PRODUCERS * PER_PRODUCER, sizeof(item));
  assert_non_null(g_items);
  weft__mpsc_init(&g_q);
  pthread_t th[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++)
    assert_int_equal(pthread_create(&th[p], NULL, producer, (void *)(intptr_t)p), 0);
  long next_seq[PRODUCERS] = {0};
  long got = 0;
  while (got < (long)PRODUCERS * PER_PRODUCER) {
    weft__task *t = weft__mpsc_pop(&g_q);
    if (t == NULL || t == WEFT__MPSC_WOULDBLOCK) {
      weft__cpu_relax();
      continue;
    }
    item *it = (item *)t;
    assert_int_equal(it->seq, next_seq[it->producer]); /* FIFO per producer, no dup, no loss */
    next_seq[it->producer]++;
    got++;
  }
  for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
  assert_null(weft__mpsc_pop(&g_q));
  for (int p = 0; p < PRODUCERS; p++) assert_int_equal(next_seq[p], PER_PRODUCER);
  free(g_items);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(empty_queue),
      cmocka_unit_test(chain_push),
      cmocka_unit_test(many_producers_exactly_once_fifo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
