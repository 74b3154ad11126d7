/*
 * perf/lanes_latency.c — what a lane's limit buys: the submit-to-start
 * latency of 1 µs tasks on a pool of 8 threads, with and without a flood of
 * 10 ms tasks beside them (docs/performance.md, "Lanes").
 *
 *   weft_lanes_latency [reps [fast_tasks [interval_us [slow_tasks]]]]
 *                      defaults: 5, 4000, 50, 400
 *
 * Scenarios, each on a fresh pool (8 threads, strict cap: the premise is 8
 * threads, so the elastic pool's stand-ins for the sleeping tasks are off):
 *   pool alone     the fast tasks through weft_threadpool_call_in_thread
 *   lane alone     the fast tasks in a lane (limit 8)
 *   lane + flood   the same, after `slow_tasks` 10 ms tasks (nanosleep) were
 *                  put in a slow lane limited to 2
 *   FIFO + flood   the same mix on the pool itself, no lanes
 * One submitter thread puts a fast task in every interval_us (nanosleep
 * between submits, so it leaves the CPUs to the pool); each fast task spins
 * for 1 µs and records when it started. The slow flood lasts about as long
 * as the fast submits, or longer (400 tasks: 2 s in a lane of 2, 500 ms on
 * 8 threads; 4000 submits 50 µs apart take about 0.4 s, nanosleep's
 * overshoot included), and what is left of it is cancelled by
 * stop_timeout(0).
 * Prints p50 / p90 / p99 / max in µs and the pool's futex wakes (unparks),
 * each the median over the reps.
 * A measurement, not a test: the figures depend on the machine's load.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <weft/weft.h>

enum { SCENARIOS = 4, STATS = 5 };
static const char *const names[SCENARIOS] = {"pool alone", "lane alone", "lane + flood",
                                             "FIFO + flood"};

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

static long *submitted_at, *latency;
static atomic_int fast_done;

static void fast_task(void *arg) {
  long i = (long)arg;
  long start = now_ns();
  latency[i] = start - submitted_at[i];
  while (now_ns() - start < 1000) {
  }
  atomic_fetch_add(&fast_done, 1);
}

static void slow_task(void *arg) {
  (void)arg;
  struct timespec ten_ms = {0, 10 * 1000 * 1000};
  nanosleep(&ten_ms, NULL);
}

static void quiet(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)err;
  (void)what; /* the flood's cancelled tail */
}

static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return x < y ? -1 : x > y;
}
static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* One run of scenario s: fills out[STATS] (p50, p90, p99, max in µs; the
 * pool's futex wakes until the fast tasks are done). */
static int run(int s, int fast, int interval_us, int slow, double out[STATS]) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 8;
  o.max_threads = 8;
  o.strict_cap = 1;
  o.name = "lanes";
  o.log = quiet;
  weft_threadpool *tp;
  if (weft_threadpool_create_ex(&tp, &o) != 0 || weft_threadpool_start(tp) != 0) return -1;
  weft_lane_options lo;
  weft_lane_options_init(&lo);
  weft_lane *fast_lane = NULL, *slow_lane = NULL;
  lo.name = "fast";
  lo.limit = 8;
  if (weft_lane_create(tp, &lo, &fast_lane) != 0) return -1;
  lo.name = "slow";
  lo.limit = 2;
  if (weft_lane_create(tp, &lo, &slow_lane) != 0) return -1;
  if (s == 2)
    for (int i = 0; i < slow; i++) weft_lane_call_in_thread(slow_lane, slow_task, NULL);
  if (s == 3)
    for (int i = 0; i < slow; i++) weft_threadpool_call_in_thread(tp, slow_task, NULL);
  atomic_store(&fast_done, 0);
  /* tv_nsec must stay below 10^9: a gap of a second or more has seconds. */
  struct timespec gap = {interval_us / 1000000, (interval_us % 1000000) * 1000L};
  for (long i = 0; i < fast; i++) {
    submitted_at[i] = now_ns();
    int r = s == 0 || s == 3 ? weft_threadpool_call_in_thread(tp, fast_task, (void *)i)
                             : weft_lane_call_in_thread(fast_lane, fast_task, (void *)i);
    if (r != 0) return -1;
    nanosleep(&gap, NULL);
  }
  struct timespec poll = {0, 100 * 1000};
  while (atomic_load(&fast_done) < fast) nanosleep(&poll, NULL);
  weft_threadpool_counters c;
  weft_threadpool_counters_get(tp, &c);
  (void)weft_threadpool_stop_timeout(tp, 0, NULL); /* cancels the flood's tail */
  weft_threadpool_destroy(tp);
  qsort(latency, (size_t)fast, sizeof *latency, cmp_long);
  out[0] = latency[fast / 2] / 1e3;
  out[1] = latency[(long)fast * 90 / 100] / 1e3;
  out[2] = latency[(long)fast * 99 / 100] / 1e3;
  out[3] = latency[fast - 1] / 1e3;
  out[4] = (double)c.unparks; /* futex wakes of parked workers */
  return 0;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 5;
  int fast = argc > 2 ? atoi(argv[2]) : 4000;
  int interval_us = argc > 3 ? atoi(argv[3]) : 50;
  int slow = argc > 4 ? atoi(argv[4]) : 400;
  if (reps < 1 || fast < 100 || interval_us < 0 || slow < 0) {
    fprintf(stderr, "usage: weft_lanes_latency [reps [fast_tasks>=100 [interval_us [slow_tasks]]]]\n");
    return 2;
  }
  submitted_at = calloc((size_t)fast, sizeof *submitted_at);
  latency = calloc((size_t)fast, sizeof *latency);
  double *runs = calloc((size_t)SCENARIOS * STATS * (size_t)reps, sizeof *runs);
  if (!submitted_at || !latency || !runs) return 1;
  /* Reps interleaved (s0 s1 s2 s3, s0 s1 ...), so a change in the
   * machine's load touches every scenario alike. */
  for (int r = 0; r < reps; r++)
    for (int s = 0; s < SCENARIOS; s++) {
      double out[STATS];
      if (run(s, fast, interval_us, slow, out) != 0) {
        fprintf(stderr, "run failed\n");
        return 1;
      }
      for (int k = 0; k < STATS; k++) runs[((size_t)s * STATS + k) * reps + r] = out[k];
    }
  printf("submit-to-start latency of 1 us tasks, pool of 8 threads, %d tasks every %d us, "
         "flood: %d x 10 ms (slow lane limit 2); median of %d reps, us\n",
         fast, interval_us, slow, reps);
  printf("%-14s %10s %10s %10s %10s %8s\n", "scenario", "p50", "p90", "p99", "max", "wakes");
  double med[SCENARIOS][STATS];
  for (int s = 0; s < SCENARIOS; s++) {
    for (int k = 0; k < STATS; k++) {
      double *v = &runs[((size_t)s * STATS + k) * reps];
      qsort(v, (size_t)reps, sizeof *v, cmp_double);
      /* The median: with an even number of reps, the mean of the middle two
       * (v[reps / 2] alone was the upper one). */
      med[s][k] = reps % 2 ? v[reps / 2] : (v[reps / 2 - 1] + v[reps / 2]) / 2;
    }
    printf("%-14s %10.1f %10.1f %10.1f %10.1f %8.0f\n", names[s], med[s][0], med[s][1], med[s][2],
           med[s][3], med[s][4]);
  }
  printf("fast lane p99 with the flood / without: %.2fx; FIFO pool with the flood / lane "
         "alone: %.0fx\n",
         med[2][2] / med[1][2], med[3][2] / med[1][2]);
  free(submitted_at);
  free(latency);
  free(runs);
  return 0;
}
