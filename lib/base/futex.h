/*
 * weft — futex wait/wake on a 32-bit atomic word.
 *
 * The raw Linux futex(2) system call, process-private (FUTEX_*_PRIVATE: every
 * word weft sleeps on lives in its own process's memory, so the kernel can
 * key the wait queue on the address alone instead of looking up the page).
 *
 * Why not liburcu's urcu/futex.h, which weft used before: on Linux its
 * futex_async() is this same syscall, inlined from the header; the only thing
 * it brought from the library is a fallback (compat_futex_async in
 * liburcu-common, a mutex + condition variable) for kernels without futex and
 * for the spurious ENOSYS of old mips/parisc kernels. weft is Linux-only (its
 * reactor sleeps on epoll and wakes through an eventfd) and every caller
 * below loops on its own condition, so a spurious return is harmless. That
 * one unused fallback made liburcu (LGPL) a link-time and packaging
 * dependency of libweft and of every consumer's pkg-config flags; without
 * it libweft.so needs nothing but libc (README "Dependencies").
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
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"

static inline long weft__futex_(_Atomic uint32_t *word, int op, uint32_t val,
                                const struct timespec *timeout) {
  return syscall(SYS_futex, (uint32_t *)(void *)word, op, val, timeout, NULL, 0);
}

/* Sleep while *word == expected (or until a wake or a signal). */
static inline void weft__futex_wait(_Atomic uint32_t *word, uint32_t expected) {
  (void)weft__futex_(word, FUTEX_WAIT_PRIVATE, expected, NULL);
}

/* As weft__futex_wait, giving up after timeout (relative). Returns 0, or
 * ETIMEDOUT when the timeout expired. */
static inline int weft__futex_wait_timeout(_Atomic uint32_t *word, uint32_t expected,
                                           const struct timespec *timeout) {
  long r = weft__futex_(word, FUTEX_WAIT_PRIVATE, expected, timeout);
  return (r < 0 && errno == ETIMEDOUT) ? ETIMEDOUT : 0;
}

/* Sleep while *word == expected, until deadline_ns on weft__now_ns's
 * clock: ETIMEDOUT, without sleeping, once the deadline has passed; else 0
 * after the wait ends (a wake, a signal, the time). The caller loops: it
 * re-reads its word and calls again with the same deadline, so a wait cut
 * short (a signal handler without SA_RESTART) goes on with the time left,
 * never a whole timeout again. */
static inline int weft__futex_wait_until(_Atomic uint32_t *word, uint32_t expected,
                                         uint64_t deadline_ns) {
  uint64_t now = weft__now_ns();
  if (now >= deadline_ns) return ETIMEDOUT;
  uint64_t left = deadline_ns - now;
  struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
  (void)weft__futex_wait_timeout(word, expected, &ts);
  return 0;
}

/* Wake up to n threads sleeping on word. */
static inline void weft__futex_wake(_Atomic uint32_t *word, int n) {
  (void)weft__futex_(word, FUTEX_WAKE_PRIVATE, (uint32_t)n, NULL);
}

#endif /* WEFT_FUTEX_H */
