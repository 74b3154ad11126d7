/*
 * The fork registry (lib/base/fork.c): hooks of different objects come and
 * go on different threads. Unregistering a hook writes its neighbours'
 * links (under the registry's mutex), so the hook beside it, unregistered
 * on another thread, must read its own links under that mutex too: two
 * pools (or reactors) destroyed at once on two threads are next to each
 * other in their rank's list. Read outside it, the check whether a hook is
 * registered at all was a data race with the neighbour's unlink (reported
 * by ThreadSanitizer; a plain build passes either way).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>

#include <cmocka.h>

#include "base/fork.h"

static void nop(weft__fork_hook *h) { (void)h; }

static weft__fork_hook g_first, g_second;
/* Relaxed on both sides on purpose: the first thread's unlink must not be
 * ordered before the second thread's unregister by anything but the
 * registry's own mutex (a mutex or a release store here would order it for
 * ThreadSanitizer and hide the race). It only makes the order certain. */
static atomic_int g_first_done;

static void *unregister_first(void *arg) {
  (void)arg;
  weft__fork_unregister(&g_first); /* writes g_second.prev */
  atomic_store_explicit(&g_first_done, 1, memory_order_relaxed);
  return NULL;
}

static void *unregister_second(void *arg) {
  (void)arg;
  while (!atomic_load_explicit(&g_first_done, memory_order_relaxed)) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  weft__fork_unregister(&g_second); /* reads g_second.prev */
  return NULL;
}

static void neighbours_unregistered_on_two_threads(void **state) {
  (void)state;
  weft__fork_hook *hooks[2] = {&g_first, &g_second};
  for (int i = 0; i < 2; i++) {
    hooks[i]->rank = WEFT__FORK_RANK_POOL; /* no pool exists: the two are neighbours */
    hooks[i]->prepare = hooks[i]->parent = hooks[i]->child = nop;
    assert_int_equal(weft__fork_register(hooks[i]), 0);
  }
  assert_ptr_equal(g_second.prev, &g_first);
  pthread_t a, b;
  assert_int_equal(pthread_create(&b, NULL, unregister_second, NULL), 0);
  assert_int_equal(pthread_create(&a, NULL, unregister_first, NULL), 0);
  assert_int_equal(pthread_join(a, NULL), 0);
  assert_int_equal(pthread_join(b, NULL), 0);
  assert_null(g_first.prev);
  assert_null(g_second.prev);
  /* The list is whole again: both can come back, in either order. */
  assert_int_equal(weft__fork_register(&g_second), 0);
  assert_int_equal(weft__fork_register(&g_first), 0);
  assert_ptr_equal(g_first.prev, &g_second);
  weft__fork_unregister(&g_second);
  weft__fork_unregister(&g_first);
  assert_null(g_first.next);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(neighbours_unregistered_on_two_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
