/*
 * weft — the monotonic clock in nanoseconds, and the process CPU clock the
 * elastic pool's monitor reads (lib/engine/elastic.c). vDSO calls: no
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

/* CPU time used by every thread of the process. */
static inline uint64_t weft__process_cpu_ns(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* WEFT_BASE_CLOCK_H */
