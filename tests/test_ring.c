/*
 * lib/engine/ring.h: owner push/pop FIFO, full ring, take_half (overflow chain),
 * steal half, a thief's claim in progress, and exactly-once delivery with one
 * owner racing many thieves, also with indices crossing 2^31 and 2^32.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/ring.h"

typedef struct item {
  weft__task task;
  int id;
} item;

static weft__ring *new_ring(void) {
  weft__ring *r = aligned_alloc(64, sizeof *r);
  weft__ring_init(r);
  return r;
}

/* An empty ring whose indices start at `at` (as after `at` tasks): the
 * encoding keeps `real` in head's high word and `steal` in 31 bits of the
 * low one (ring.h), so the wraps at 2^31 and 2^32 are where it could go
 * wrong. */
static weft__ring *new_ring_at(uint32_t at) {
  weft__ring *r = new_ring();
  weft__store_relaxed(&r->head, weft__ring_pack_idle(at));
  weft__store_relaxed(&r->tail, at);
  r->limit = at; /* no room known: the first push looks at head */
  return r;
}

static void push_pop_fifo(void **state) {
  (void)state;
  weft__ring *r = new_ring();
  item it[10];
  assert_true(weft__ring_empty(r));
  assert_null(weft__ring_pop(r));
  for (int i = 0; i < 10; i++) {
    it[i].id = i;
    assert_true(weft__ring_push(r, &it[i].task));
  }
  assert_int_equal(weft__ring_len(r), 10);
  for (int i = 0; i < 10; i++) assert_ptr_equal(weft__ring_pop(r), &it[i].task);
  assert_null(weft__ring_pop(r));
  free(r);
}

/* The push finds room below the limit it saw at its last look at head;
 * the worker's other way into its ring, an inject batch, stores slots and
 * tail itself with room from a fresh head, and may carry tail past that
 * limit. The next push must look again (a signed test), not take "tail
 * differs from the limit" for room: here the ring is full, and such a
 * push would overwrite the oldest task still queued. */
static void push_after_a_batch_passed_the_limit(void **state) {
  (void)state;
  weft__ring *r = new_ring();
  static item it[WEFT__RING_CAP + 101];
  for (unsigned i = 0; i < 200; i++) assert_true(weft__ring_push(r, &it[i].task));
  for (unsigned i = 0; i < 100; i++) assert_ptr_equal(weft__ring_pop(r), &it[i].task);
  /* An inject batch fills the room a fresh head shows (worker_loop.c). */
  uint64_t h = weft__load_acquire(&r->head);
  uint32_t tail = weft__load_relaxed(&r->tail);
  uint32_t room = WEFT__RING_CAP - (tail - weft__ring_steal(h));
  assert_int_equal(room, 156);
  for (uint32_t i = 0; i < room; i++)
    weft__store_relaxed(&r->slot[(tail + i) & WEFT__RING_MASK], &it[200 + (i % 100)].task);
  weft__store_release(&r->tail, tail + room);
  assert_true((int32_t)(r->limit - (tail + room)) < 0); /* past the push's limit */
  uint64_t seen = 0;
  assert_false(weft__ring_push_seen(r, &it[WEFT__RING_CAP + 100].task, &seen)); /* full */
  assert_int_equal(weft__ring_len(r), WEFT__RING_CAP);
  assert_ptr_equal(weft__ring_pop(r), &it[100].task); /* the oldest, not overwritten */
  assert_true(weft__ring_push(r, &it[WEFT__RING_CAP + 100].task)); /* room again */
  free(r);
}

static void full_then_take_half(void **state) {
  (void)state;
  weft__ring *r = new_ring();
  static item it[WEFT__RING_CAP + 1];
  for (unsigned i = 0; i < WEFT__RING_CAP; i++) {
    it[i].id = (int)i;
    assert_true(weft__ring_push(r, &it[i].task));
  }
  uint64_t seen = 0;
  assert_false(weft__ring_push_seen(r, &it[WEFT__RING_CAP].task, &seen)); /* full */
  weft__task *first, *last;
  assert_true(weft__ring_take_half(r, seen, &it[WEFT__RING_CAP].task, &first, &last));
  assert_ptr_equal(last, &it[WEFT__RING_CAP].task);
  /* The chain holds the older half in order, then the new task. */
  weft__task *t = first;
  for (unsigned i = 0; i < WEFT__RING_CAP / 2; i++) {
    assert_ptr_equal(t, &it[i].task);
    t = weft__load_relaxed(&t->next);
  }
  assert_ptr_equal(t, last);
  assert_int_equal(weft__ring_len(r), WEFT__RING_CAP / 2);
  for (unsigned i = WEFT__RING_CAP / 2; i < WEFT__RING_CAP; i++)
    assert_ptr_equal(weft__ring_pop(r), &it[i].task);
  assert_null(weft__ring_pop(r));
  free(r);
}

static void steal_half(void **state) {
  (void)state;
  weft__ring *a = new_ring(), *b = new_ring();
  item it[9];
  for (int i = 0; i < 9; i++) {
    it[i].id = i;
    assert_true(weft__ring_push(a, &it[i].task));
  }
  uint32_t n;
  weft__task *t = weft__ring_steal_into(a, b, &n);
  assert_int_equal(n, 5); /* n - n/2 */
  assert_ptr_equal(t, &it[4].task); /* the last stolen runs now */
  assert_int_equal(weft__ring_len(b), 4);
  for (int i = 0; i < 4; i++) assert_ptr_equal(weft__ring_pop(b), &it[i].task);
  for (int i = 5; i < 9; i++) assert_ptr_equal(weft__ring_pop(a), &it[i].task);
  assert_null(weft__ring_steal_into(a, b, &n)); /* empty victim */
  assert_int_equal(n, 0);
  /* Wrap-around: indices keep growing past the capacity. */
  for (int round = 0; round < 100; round++) {
    for (int i = 0; i < 7; i++) assert_true(weft__ring_push(a, &it[i].task));
    t = weft__ring_steal_into(a, b, &n);
    assert_int_equal(n, 4);
    assert_ptr_equal(t, &it[3].task);
    for (int i = 0; i < 3; i++) assert_ptr_equal(weft__ring_pop(b), &it[i].task);
    for (int i = 4; i < 7; i++) assert_ptr_equal(weft__ring_pop(a), &it[i].task);
  }
  free(a);
  free(b);
}

/* A thief's claim in progress (its claim CAS done, its copy not yet: the
 * head it leaves), at indices around both wraps: the owner's pops keep
 * `steal` where the claim left it, so capacity is still measured from it;
 * other thieves and take_half back off; the claim's end (steal = real)
 * gives the slots back. */
static void claim_in_progress_across_wraps(void **state) {
  (void)state;
  static item it[WEFT__RING_CAP + 8];
  /* 0xffffffe8: the owner's pops below carry real past 2^32 while the
   * claim is in progress (the carry out of head's bit 63). */
  const uint32_t starts[] = {0, UINT32_C(0x7ffffff0), UINT32_C(0xfffffff0), UINT32_C(0xffffff80),
                             UINT32_C(0xffffffe8)};
  for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
    uint32_t at = starts[k];
    weft__ring *r = new_ring_at(at), *b = new_ring();
    for (unsigned i = 0; i < 40; i++) assert_true(weft__ring_push(r, &it[i].task));
    /* A thief claimed [at, at + 20) and is copying. */
    weft__store_relaxed(&r->head, weft__ring_pack_claim(at, at + 20));
    assert_int_equal(weft__ring_steal(weft__load_relaxed(&r->head)), at);
    assert_int_equal(weft__ring_len(r), 20);
    /* The owner pops the next 10: real moves, steal stays. */
    for (unsigned i = 20; i < 30; i++) assert_ptr_equal(weft__ring_pop(r), &it[i].task);
    uint64_t h = weft__load_relaxed(&r->head);
    assert_true(weft__ring_claimed(h));
    assert_int_equal(weft__ring_real(h), at + 30);
    assert_int_equal(weft__ring_steal(h), at);
    /* Another thief backs off. */
    uint32_t n = 7;
    assert_null(weft__ring_steal_into(r, b, &n));
    assert_int_equal(n, 0);
    /* Capacity counts from steal: 40 tasks pushed since `at`, so CAP - 40
     * more fit, not CAP - 10; the claimed slots are not overwritten. */
    unsigned pushed = 0;
    uint64_t seen = 0;
    while (weft__ring_push_seen(r, &it[40 + pushed % 8].task, &seen)) pushed++;
    assert_int_equal(pushed, WEFT__RING_CAP - 40);
    assert_true(weft__ring_claimed(seen));
    weft__task *first = NULL, *last = NULL;
    assert_false(weft__ring_take_half(r, seen, &it[0].task, &first, &last)); /* claim in progress */
    for (unsigned i = 0; i < 20; i++)
      assert_ptr_equal(weft__load_relaxed(&r->slot[(at + i) & WEFT__RING_MASK]), &it[i].task);
    /* The claim ends (steal = real): room again, the claim bit gone. */
    h = weft__load_relaxed(&r->head);
    weft__store_relaxed(&r->head, weft__ring_pack_idle(weft__ring_real(h)));
    assert_false(weft__ring_claimed(weft__load_relaxed(&r->head)));
    assert_true(weft__ring_push(r, &it[0].task));
    /* Pops run on across the wrap in FIFO order. */
    for (unsigned i = 30; i < 40; i++) assert_ptr_equal(weft__ring_pop(r), &it[i].task);
    for (unsigned i = 0; i < pushed; i++) assert_ptr_equal(weft__ring_pop(r), &it[40 + i % 8].task);
    assert_ptr_equal(weft__ring_pop(r), &it[0].task);
    assert_null(weft__ring_pop(r));
    /* A real steal across the wrap: half, and the claim bit cleared. */
    for (unsigned i = 0; i < 9; i++) assert_true(weft__ring_push(r, &it[i].task));
    weft__task *t = weft__ring_steal_into(r, b, &n);
    assert_int_equal(n, 5);
    assert_ptr_equal(t, &it[4].task);
    assert_false(weft__ring_claimed(weft__load_relaxed(&r->head)));
    assert_int_equal(weft__ring_len(r), 4);
    free(r);
    free(b);
  }
}

/* One owner pushing and popping, THIEVES stealing; every item taken once. */
#define THIEVES 3
static long g_items_n;
static item *g_items;
static _Atomic int *g_seen;
static weft__ring *g_victim;
static _Atomic int g_owner_done;

static void take(weft__task *t) {
  item *x = (item *)t;
  atomic_fetch_add(&g_seen[x->id], 1);
}

static void *thief(void *arg) {
  (void)arg;
  weft__ring *mine = new_ring();
  for (;;) {
    int done = atomic_load(&g_owner_done);
    uint32_t n;
    weft__task *t = weft__ring_steal_into(g_victim, mine, &n);
    if (t) {
      take(t);
      while ((t = weft__ring_pop(mine)) != NULL) take(t);
    } else if (done && weft__ring_empty(g_victim)) {
      break;
    }
  }
  free(mine);
  return NULL;
}

static void race_owner_thieves_from(uint32_t at) {
  g_items_n = 2000000;
  atomic_store(&g_owner_done, 0);
  g_items = calloc((size_t)g_items_n, sizeof *g_items);
  g_seen = calloc((size_t)g_items_n, sizeof *g_seen);
  g_victim = new_ring_at(at);
  pthread_t th[THIEVES];
  for (int i = 0; i < THIEVES; i++) pthread_create(&th[i], NULL, thief, NULL);
  for (long i = 0; i < g_items_n; i++) {
    g_items[i].id = (int)i;
    uint64_t seen = 0;
    if (!weft__ring_push_seen(g_victim, &g_items[i].task, &seen)) {
      /* full: spill half + the new item, as the engine does (the chain
       * stands for the inject queue), or the new item alone */
      weft__task *first, *last;
      if (weft__ring_take_half(g_victim, seen, &g_items[i].task, &first, &last)) {
        for (weft__task *t = first;; t = weft__load_relaxed(&t->next)) {
          take(t);
          if (t == last) break;
        }
      } else {
        take(&g_items[i].task);
      }
      continue;
    }
    if (i % 3 == 0) {
      weft__task *t = weft__ring_pop(g_victim);
      if (t) take(t);
    }
  }
  atomic_store(&g_owner_done, 1);
  weft__task *t;
  while ((t = weft__ring_pop(g_victim)) != NULL) take(t);
  for (int i = 0; i < THIEVES; i++) pthread_join(th[i], NULL);
  for (long i = 0; i < g_items_n; i++) {
    if (atomic_load(&g_seen[i]) != 1) fail_msg("item %ld taken %d times", i, atomic_load(&g_seen[i]));
  }
  free(g_items);
  free((void *)g_seen);
  free(g_victim);
}

static void race_owner_thieves(void **state) {
  (void)state;
  race_owner_thieves_from(0);
}

/* The same race with its indices crossing 2^31 and 2^32 (ring.h's head
 * encoding). */
static void race_owner_thieves_across_wraps(void **state) {
  (void)state;
  race_owner_thieves_from(UINT32_C(0x80000000) - 1000000);
  race_owner_thieves_from(UINT32_C(0xffffffff) - 1000000);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(push_pop_fifo),
      cmocka_unit_test(full_then_take_half),
      cmocka_unit_test(push_after_a_batch_passed_the_limit),
      cmocka_unit_test(steal_half),
      cmocka_unit_test(claim_in_progress_across_wraps),
      cmocka_unit_test(race_owner_thieves),
      cmocka_unit_test(race_owner_thieves_across_wraps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
