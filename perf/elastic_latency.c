/*
 * perf/elastic_latency.c — how soon a queued task starts when every worker
 * of a pool (min 0, max 2) is blocked: opaque (both workers in read() on
 * empty pipes, seen by the monitor) or announced (the same, inside
 * weft_blocking_begin/end). Prints min / mean / max over the runs.
 *
 *   weft_elastic_latency [announce 0|1] [runs]
 *
 * A measurement, not a test: the figures depend on the machine's load.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <weft/weft.h>

static int pfd[2][2];
static atomic_int blocked_in;
static atomic_long started_ns;
static int announce;
static long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000L + t.tv_nsec; }
static void blocker(void *a) {
  long i = (long)a; char c;
  if (announce) weft_blocking_begin();
  atomic_fetch_add(&blocked_in, 1);
  if (read(pfd[i][0], &c, 1) < 0) perror("read");
  if (announce) weft_blocking_end();
}
static void probe(void *a) { (void)a; atomic_store(&started_ns, now_ns()); }
int main(int argc, char **argv) {
  announce = argc > 1 && atoi(argv[1]);
  long best = 1L << 60, worst = 0, sum = 0; int reps = argc > 2 ? atoi(argv[2]) : 20;
  for (int r = 0; r < reps; r++) {
    weft_threadpool_options o; weft_threadpool_options_init(&o); o.min_threads = 0; o.max_threads = 2;
    weft_threadpool *tp; weft_threadpool_create_ex(&tp, &o); weft_threadpool_start(tp);
    if (pipe(pfd[0]) != 0 || pipe(pfd[1]) != 0) return 1;
    atomic_store(&blocked_in, 0); atomic_store(&started_ns, 0);
    weft_threadpool_call_in_thread(tp, blocker, (void *)0L);
    weft_threadpool_call_in_thread(tp, blocker, (void *)1L);
    while (atomic_load(&blocked_in) < 2) usleep(100);
    usleep(20000); /* both are in read() */
    long t0 = now_ns();
    weft_threadpool_call_in_thread(tp, probe, NULL);
    while (atomic_load(&started_ns) == 0) usleep(50);
    long d = atomic_load(&started_ns) - t0; sum += d; if (d < best) best = d; if (d > worst) worst = d;
    if (write(pfd[0][1], "x", 1) != 1 || write(pfd[1][1], "x", 1) != 1) return 1;
    weft_threadpool_destroy(tp);
    close(pfd[0][0]); close(pfd[0][1]); close(pfd[1][0]); close(pfd[1][1]);
  }
  printf("%s: queued task starts after: min %.3f ms, mean %.3f ms, max %.3f ms (%d runs)\n",
         announce ? "announced (weft_blocking_begin)" : "opaque (read())", best / 1e6, sum / 1e6 / reps, worst / 1e6, reps);
}
