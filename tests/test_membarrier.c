/*
 * membarrier(2) refused for good after start-up (lib/base/membarrier.c): a
 * program that sandboxes itself with a seccomp filter once weft has seen
 * the command work. The barrier must fall back at once, not retry for a
 * second on every call, and ready() must answer false from then on so that
 * a later engine keeps its fences. Each case runs in a child process,
 * because a seccomp filter cannot be taken back.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/membarrier.h"
#include "weft/threadpool.h"

/* Every membarrier(2) call answers ENOSYS from now on; false if this
 * process may not install a filter. */
static bool refuse_membarrier(void) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

/* Exit codes of the child. */
enum { CHILD_OK = 0, CHILD_NO_FILTER = 10, CHILD_STILL_READY = 11, CHILD_POOL = 12 };

static int child(void) {
  if (!refuse_membarrier()) return CHILD_NO_FILTER;
  weft__membarrier(); /* refused: falls back */
  if (weft__membarrier_ready()) return CHILD_STILL_READY;
  /* A pool made now works, its second thread included (the spawn of a
   * second worker is where a sole worker's barrier is called). */
  weft_threadpool *tp;
  if (weft_threadpool_create(&tp, 0, 2, "mb") != 0 || weft_threadpool_start(tp) != 0)
    return CHILD_POOL;
  weft_threadpool_stop(tp);
  weft_threadpool_destroy(tp);
  return CHILD_OK;
}

static void refused_for_good_is_not_retried(void **state) {
  (void)state;
  if (!weft__membarrier_ready()) skip(); /* a kernel without the command */
  weft__membarrier();                    /* works here */
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(child());
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  if (WEXITSTATUS(status) == CHILD_NO_FILTER) skip(); /* no seccomp here */
  assert_int_equal(WEXITSTATUS(status), CHILD_OK);
  assert_true(weft__membarrier_ready()); /* the parent's is untouched */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(refused_for_good_is_not_retried),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
