/*
 * weft — futex wait/wake on a 32-bit atomic word.
 *
 * Built on liburcu's urcu/futex.h (futex_async: the raw syscall on Linux, a
 * compatible fallback elsewhere, linked from liburcu-common, so LGPL code is
 * only called, never inlined beyond its header's syscall wrapper).
 *
 * Protocol every user follows (and the reason no wake-up is lost): the waiter
 * re-reads the word after announcing itself and calls weft__futex_wait(w, v)
 * only with the value v it saw; the kernel compares *w with v atomically with
 * queueing the waiter, so a waker that changes *w before calling
 * weft__futex_wake makes the wait return at once. Spurious returns happen:
 * callers always loop on their own condition.
 */
#ifndef WEFT_FUTEX_H
#define WEFT_FUTEX_H

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <urcu/futex.h>

/* Sleep while *word == expected (or until a wake or a signal). */
static inline void weft__futex_wait(_Atomic uint32_t *word, uint32_t expected) {
  (void)futex_async((int32_t *)(void *)word, FUTEX_WAIT, (int32_t)expected, NULL, NULL, 0);
}

/* As weft__futex_wait, giving up after timeout (relative). Returns 0, or
 * ETIMEDOUT when the timeout expired. */
static inline int weft__futex_wait_timeout(_Atomic uint32_t *word, uint32_t expected,
                                           const struct timespec *timeout) {
  int r = futex_async((int32_t *)(void *)word, FUTEX_WAIT, (int32_t)expected, timeout, NULL, 0);
  return (r < 0 && errno == ETIMEDOUT) ? ETIMEDOUT : 0;
}

/* Wake up to n threads sleeping on word. */
static inline void weft__futex_wake(_Atomic uint32_t *word, int n) {
  (void)futex_async((int32_t *)(void *)word, FUTEX_WAKE, n, NULL, NULL, 0);
}

#endif /* WEFT_FUTEX_H */
