/*
 * fork(2) while another pool thread is at an idle<->busy edge
 * of its busy-time stamps (the busy_seq sequence count is odd there). The
 * child has only the forking thread; the slot's count stays odd for ever,
 * and weft_threadpool_worker_stats / weft_threadpool_dump_stats, which
 * retry while a count is odd, spin for ever in the child, where
 * introspection is documented to work (docs/threading-howto.md, "Fork").
 *
 * The moment is made deterministic by interposing clock_gettime (linked
 * with -Wl,--wrap=clock_gettime, tests/fork_busy_edge.cmake): the edge
 * reads the clock inside its write, and the wrapper holds a pool thread
 * there (its count odd) until the test has forked.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "engine/core.h"
#include "test_sync.h"
#include "weft/weft.h"

static atomic_int g_hold_edge;
static sync_t g_at_edge, g_edge_release;

#ifdef WEFT_WRAP_CLOCK
int __real_clock_gettime(clockid_t c, struct timespec *ts);
int __wrap_clock_gettime(clockid_t c, struct timespec *ts);
int __wrap_clock_gettime(clockid_t c, struct timespec *ts) {
  if (atomic_load(&g_hold_edge)) {
    weft__eworker *w = weft__thread_worker();
    /* A pool thread inside a busy-time write (its count odd). */
    if (w && (weft__load_relaxed(&w->busy_seq) & 1u) && atomic_exchange(&g_hold_edge, 0)) {
      count_up(&g_at_edge);
      gate_wait(&g_edge_release);
    }
  }
  return __real_clock_gettime(c, ts);
}
#endif

static void nop_task(void *arg) { (void)arg; }

static void fork_at_a_busy_edge_then_worker_stats(void **state) {
  (void)state;
#ifndef WEFT_WRAP_CLOCK
  skip();
#endif
  sync_init(&g_at_edge);
  sync_init(&g_edge_release);
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create(&tp, 1, 1, "edgefork"), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  /* The next edge a pool thread reaches (taking this task, or going idle
   * after it) holds it inside the write. */
  atomic_store(&g_hold_edge, 1);
  assert_int_equal(weft_threadpool_call_in_thread(tp, nop_task, NULL), 0);
  count_wait(&g_at_edge, 1);
  pid_t pid = fork();
  if (pid == 0) {
    /* The child: introspection; a hang is ended by the alarm. */
    alarm(5);
    static weft_worker_stats ws[4];
    size_t n = 0;
    if (weft_threadpool_worker_stats(tp, ws, 4, &n) != 0) _exit(1);
    if (n != 1 || ws[0].live != 0) _exit(2);
    _exit(0);
  }
  assert_true(pid > 0);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  gate_open(&g_edge_release);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&g_at_edge);
  sync_fini(&g_edge_release);
  if (WIFSIGNALED(st))
    fail_msg("the child's weft_threadpool_worker_stats did not return (killed by signal %d)",
             WTERMSIG(st));
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fork_at_a_busy_edge_then_worker_stats),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
