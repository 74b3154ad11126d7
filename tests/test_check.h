/*
 * Checks on a thread that is not the test's own: a pool thread running a
 * task, a producer, a reactor thread, a callback. cmocka's assert_* may
 * fail only on the test's main thread (elsewhere its longjmp lands on the
 * wrong stack: the binary exits with no message and the file's remaining
 * tests never run). These print the failed condition with its place and
 * abort(), which ctest reports as a failure of the test binary.
 */
#ifndef WEFT_TEST_CHECK_H
#define WEFT_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define THREAD_CHECK(cond)                                                              \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      fprintf(stderr, "%s:%d: check failed off the test's thread: %s\n", __FILE__,    \
              __LINE__, #cond);                                                         \
      abort();                                                                          \
    }                                                                                   \
  } while (0)

/* a == b, both printed as long long on failure. */
#define THREAD_CHECK_EQ(a, b)                                                           \
  do {                                                                                  \
    long long thread_check_a_ = (long long)(a), thread_check_b_ = (long long)(b);       \
    if (thread_check_a_ != thread_check_b_) {                                           \
      fprintf(stderr, "%s:%d: check failed off the test's thread: %s == %s (%lld != %lld)\n", \
              __FILE__, __LINE__, #a, #b, thread_check_a_, thread_check_b_);            \
      abort();                                                                          \
    }                                                                                   \
  } while (0)

#endif /* WEFT_TEST_CHECK_H */
