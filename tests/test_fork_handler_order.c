/*
 * A program's own pthread_atfork handlers, registered before weft made its
 * first object, may call weft (lib/base/fork.c installs its handlers when
 * the library loads). glibc runs prepare handlers in the reverse order of
 * their registration and parent and child handlers in that order, so weft's
 * must come first: then the program's prepare runs before weft takes its
 * locks, and its parent and child handlers after weft has let them go.
 * Installed at the first object instead, weft's came after main's
 * registration below, and a pool made in the child handler waited for ever
 * on a lock the prepare still held. main registers the handlers before the
 * tests run, so that no weft object exists yet; the child has a hang guard.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "weft/threadpool.h"

/* Under a sanitizer that is not fork-safe the child makes only calls that
 * neither allocate nor start a thread (test_fork_safety.h). Those still
 * take the pool's lock, which is the point. */
#include "test_fork_safety.h"

const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return "die_after_fork=0"; }

static int g_active; /* the handlers act only around the test's fork */
static int g_parent_ok;
static weft_threadpool *g_first;

/* A pool made and stopped from a fork handler: every weft lock must be
 * free. */
static int pool_round_trip(void) {
  weft_threadpool *tp;
  if (weft_threadpool_create(&tp, 1, 1, "handler") != 0) return 1;
  if (weft_threadpool_start(tp) != 0) return 2;
  weft_threadpool_stop(tp);
  weft_threadpool_destroy(tp);
  return 0;
}

static void on_parent(void) {
  if (!g_active) return;
  /* Takes the pool's lock (held by weft's prepare until its parent
   * handler), changes nothing. */
  g_parent_ok = weft_threadpool_adjust_poolsize(g_first, 1, 1) == 0 && pool_round_trip() == 0;
}

static void on_child(void) {
  if (!g_active) return;
  alarm(30); /* a hang guard: the calls below waited for ever */
  /* The child's copy is stopped: start takes its lock and refuses. */
  if (weft_threadpool_start(g_first) != WEFT_EQUIT) _exit(5);
  _exit(!CHILD_MAY_ALLOCATE || pool_round_trip() == 0 ? 0 : 3);
}

static void handlers_registered_first_may_call_weft(void **state) {
  (void)state;
  weft_threadpool *tp; /* weft's first object: made after main's registration */
  assert_int_equal(weft_threadpool_create(&tp, 1, 1, "first"), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  g_first = tp;
  g_active = 1;
  alarm(60); /* a hang guard for the parent's handler */
  pid_t pid = fork();
  if (pid == 0) _exit(4); /* on_child exits first */
  alarm(0);
  g_active = 0;
  assert_true(pid > 0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status)); /* not killed by the hang guard */
  assert_int_equal(WEXITSTATUS(status), 0);
  assert_true(g_parent_ok);
  weft_threadpool_stop(tp);
  weft_threadpool_destroy(tp);
}

int main(void) {
  if (pthread_atfork(NULL, on_parent, on_child) != 0) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(handlers_registered_first_may_call_weft),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
