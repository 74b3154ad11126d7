/*
 * The memory worker (Twisted's createMemoryWorker; spec cases 6-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "weft/worker.h"

static int done[8];
static int ndone;

static void append(void *arg) { done[ndone++] = (int)(intptr_t)arg; }

/* case 6: test_createWorkerAndPerform */
static void create_worker_and_perform(void **state) {
  (void)state;
  weft_worker *w;
  ndone = 0;
  assert_int_equal(weft_memory_worker_create(&w), 0);
  assert_int_equal(weft_worker_do(w, append, (void *)3), 0);
  assert_int_equal(weft_worker_do(w, append, (void *)4), 0);
  assert_int_equal(ndone, 0); /* do() only queues */
  assert_int_equal(weft_memory_worker_perform(w), 1);
  assert_int_equal(ndone, 1);
  assert_int_equal(done[0], 3);
  assert_int_equal(weft_memory_worker_perform(w), 1);
  assert_int_equal(ndone, 2);
  assert_int_equal(done[1], 4);
  weft_worker_release(w);
}

/* case 7: test_quitQuits */
static void quit_quits(void **state) {
  (void)state;
  weft_worker *w;
  ndone = 0;
  assert_int_equal(weft_memory_worker_create(&w), 0);
  assert_int_equal(weft_worker_do(w, append, (void *)7), 0);
  assert_int_equal(weft_worker_quit(w), 0);
  assert_true(weft_worker_is_quit(w));
  assert_int_equal(weft_worker_do(w, append, (void *)8), WEFT_EQUIT);
  assert_int_equal(weft_worker_quit(w), WEFT_EQUIT);
  assert_int_equal(weft_memory_worker_perform(w), 1);
  assert_int_equal(ndone, 1);
  assert_int_equal(done[0], 7);
  assert_int_equal(weft_memory_worker_perform(w), 0);
  assert_int_equal(weft_memory_worker_perform(w), 0); /* stays at 0 */
  weft_worker_release(w);
}

/* case 8: test_performWhenNothingToDoYet */
static void perform_when_nothing_to_do(void **state) {
  (void)state;
  weft_worker *w;
  assert_int_equal(weft_memory_worker_create(&w), 0);
  assert_int_equal(weft_memory_worker_perform(w), 0);
  weft_worker_release(w);
}

/* Bad input gets an error, never a crash. */
static void bad_input(void **state) {
  (void)state;
  weft_worker *w;
  assert_int_equal(weft_memory_worker_create(NULL), WEFT_EINVAL);
  assert_int_equal(weft_memory_worker_perform(NULL), WEFT_EINVAL);
  assert_int_equal(weft_coordinator_create(&w), 0);
  assert_int_equal(weft_memory_worker_perform(w), WEFT_EINVAL); /* not a memory worker */
  weft_worker_release(w);
  assert_int_equal(weft_memory_worker_create(&w), 0);
  assert_int_equal(weft_worker_do(w, NULL, NULL), WEFT_EINVAL);
  /* Release with work still queued: freed, nothing run. */
  assert_int_equal(weft_worker_do(w, append, (void *)1), 0);
  weft_worker_release(w);
}

/* Many items: nodes recycle through the pool, FIFO kept across chunk growth. */
static long next_expected;
static void check_seq(void *arg) {
  assert_int_equal((long)(intptr_t)arg, next_expected);
  next_expected++;
}

static void many_items_fifo(void **state) {
  (void)state;
  weft_worker *w;
  assert_int_equal(weft_memory_worker_create(&w), 0);
  for (int round = 0; round < 3; round++) {
    next_expected = 0;
    for (long i = 0; i < 5000; i++)
      assert_int_equal(weft_worker_do(w, check_seq, (void *)(intptr_t)i), 0);
    int n = 0;
    while (weft_memory_worker_perform(w)) n++;
    assert_int_equal(n, 5000);
    assert_int_equal(next_expected, 5000);
  }
  weft_worker_release(w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(create_worker_and_perform),
      cmocka_unit_test(quit_quits),
      cmocka_unit_test(perform_when_nothing_to_do),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(many_items_fifo),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
