/*
 * Tests that fork: what a forked child may do under the sanitizers
 * (test_fork.c, test_fork_handler_order.c), and running a function in a
 * child (test_membarrier.c, test_proc_thread.c).
 *
 * Sanitizer runtimes before LLVM 18 are not fork-safe themselves: a child
 * of a threaded process can deadlock inside the runtime's own allocator,
 * whatever the program does. ASan installs fork handlers for it only since
 * LLVM 18 (llvm-project PR 75290); with clang 14's TSan, a child that
 * allocated and started a thread hung in TSan's metadata allocator (its
 * spin lock held by a parent thread at the fork) once in a few hundred
 * forks, die_after_fork=0 notwithstanding. In such builds the children make
 * only calls that neither allocate nor free (refused submits through
 * queue_work, start, stop, the reactor's state checks); the rest of the
 * contract is checked in the plain build.
 */
#ifndef WEFT_TEST_FORK_SAFETY_H
#define WEFT_TEST_FORK_SAFETY_H

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_TEST_ASAN 1
#endif
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(WEFT_TEST_TSAN)
#define WEFT_TEST_TSAN 1
#endif
#ifndef WEFT_TEST_TSAN
#define WEFT_TEST_TSAN 0
#endif

#if (defined(WEFT_TEST_ASAN) || WEFT_TEST_TSAN) &&                     \
    ((defined(__clang__) && __clang_major__ < 18) ||                    \
     (!defined(__clang__) && defined(__GNUC__) && __GNUC__ < 14))
#define CHILD_MAY_ALLOCATE 0
#else
#define CHILD_MAY_ALLOCATE 1
#endif

#include <sys/wait.h>
#include <unistd.h>

/* Runs fn in a forked child and returns the child's exit code (fn's
 * return); the test fails if the child did not exit normally. Include
 * cmocka.h first. */
static inline int run_in_child(int (*fn)(void)) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) _exit(fn());
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  return WEXITSTATUS(status);
}

#endif /* WEFT_TEST_FORK_SAFETY_H */
