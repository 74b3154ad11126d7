/*
 * weft — the monotonic clock in nanoseconds, and the process CPU clock the
 * elastic pool's monitor reads (lib/engine/monitor.c). vDSO calls: no
 * system call on Linux for CLOCK_MONOTONIC.
 */
#ifndef WEFT_BASE_CLOCK_H
#define WEFT_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t weft__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A cheap tick counter for a thread to time stretches of its own work
 * (the inject batch's sizing, lib/engine/worker_loop.c): the time-stamp
 * counter on x86-64 (one instruction, no vDSO call; constant-rate on every
 * CPU of the last decade), the monotonic clock in nanoseconds elsewhere.
 * Differences only, taken on one thread; WEFT__TICKS_PER_US says roughly
 * how many make a microsecond (the TSC runs at 2-4 GHz). */
#if defined(__x86_64__)
static inline uint64_t weft__ticks(void) { return __builtin_ia32_rdtsc(); }
#define WEFT__TICKS_PER_US 2500u
#else
static inline uint64_t weft__ticks(void) { return weft__now_ns(); }
#define WEFT__TICKS_PER_US 1000u
#endif

/* CPU time used by every thread of the process. */
static inline uint64_t weft__process_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CPU time used by the calling thread (a system call on Linux: not for a
 * per-task path). */
static inline uint64_t weft__thread_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0) return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* WEFT_BASE_CLOCK_H */
