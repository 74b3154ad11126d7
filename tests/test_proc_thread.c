/*
 * A thread's scheduler state from /proc (lib/base/proc_thread.c), in the
 * process's own PID namespace and in one that kept the outer /proc (as
 * `unshare --pid --fork` without --mount-proc, or a sandbox that binds the
 * host's /proc, makes it): there gettid() names no /proc/self/task/ entry,
 * and a worker that recorded gettid() was never seen off its CPU by the
 * elastic monitor. The namespace case runs in a child and is skipped where
 * the process may not make a PID namespace.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/proc_thread.h"

#include "test_fork_safety.h"

static void own_namespace_is_gettid(void **state) {
  (void)state;
  int tid = weft__proc_thread_self();
  assert_int_equal(tid, (int)syscall(SYS_gettid));
  assert_int_equal(weft__proc_thread_state(tid), 'R'); /* the caller runs */
}

/* Exit codes of the children. */
enum { CHILD_OK = 0, CHILD_NOT_NEW = 10, CHILD_NO_STATE = 11, CHILD_NO_NS = 12, CHILD_LOST = 13 };

/* In a child of ours, so that the namespace is not the test process's: it
 * makes the PID namespace, and its own child is that namespace's pid 1. */
static int in_new_namespace(void) {
  if (unshare(CLONE_NEWPID) != 0) return CHILD_NO_NS; /* not privileged here */
  pid_t pid = fork();
  if (pid < 0) return CHILD_LOST;
  if (pid == 0) {
    if (getpid() != 1) _exit(CHILD_NOT_NEW);
    _exit(weft__proc_thread_state(weft__proc_thread_self()) == 'R' ? CHILD_OK : CHILD_NO_STATE);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return CHILD_LOST;
  return WEXITSTATUS(status);
}

static void pid_namespace_with_the_outer_proc(void **state) {
  (void)state;
  int code = run_in_child(in_new_namespace);
  if (code == CHILD_NO_NS) skip();
  assert_int_equal(code, CHILD_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(own_namespace_is_gettid),
      cmocka_unit_test(pid_namespace_with_the_outer_proc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
