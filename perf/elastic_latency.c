/*
 * perf/elastic_latency.c — how soon a queued task starts when every worker
 * of a pool (min 0, max 2) is blocked: opaque (both workers in read() on
 * empty pipes, seen by the monitor) or announced (the same, inside
 * weft_blocking_begin/end). Prints min / p50 / p90 / mean / max over the
 * runs.
 *
 *   weft_elastic_latency [mode 0|1|2] [runs]
 *     0  opaque blocking (the monitor must see it)
 *     1  announced blocking (weft_blocking_begin: the stand-in is started
 *        at once, and has parked by the time the task comes, 20 ms later)
 *     2  the floor, without weft: a plain pthread that has slept 20 ms on a
 *        condition variable, on another CPU than the signaller's (CPU 1;
 *        the signaller on CPU 0), signalled; the time until it runs. An
 *        announced stand-in is woken the same way (a futex wake of a
 *        thread parked on another CPU), so this is what the machine allows
 *        mode 1.
 *
 * A measurement, not a test: the figures depend on the machine's load.
 */
#include <pthread.h>
#include <sched.h>
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

/* Mode 2: one thread waits on a condition variable until told. */
static pthread_mutex_t base_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t base_cv = PTHREAD_COND_INITIALIZER;
static int base_go;
static void *base_waiter(void *a) {
  (void)a;
  pthread_mutex_lock(&base_mu);
  while (!base_go) pthread_cond_wait(&base_cv, &base_mu);
  pthread_mutex_unlock(&base_mu);
  atomic_store(&started_ns, now_ns());
  return NULL;
}
static long floor_once(void) {
  pthread_t th;
  base_go = 0;
  atomic_store(&started_ns, 0);
  /* The waiter on another CPU than ours, as a pool's parked worker is (on
   * the signaller's CPU the kernel runs it the moment we sleep, which no
   * pool can count on). */
  pthread_attr_t at;
  pthread_attr_init(&at);
  int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu > 1) {
    cpu_set_t me, other;
    CPU_ZERO(&me);
    CPU_ZERO(&other);
    CPU_SET(0, &me);
    CPU_SET(1, &other);
    (void)pthread_setaffinity_np(pthread_self(), sizeof me, &me);
    (void)pthread_attr_setaffinity_np(&at, sizeof other, &other);
  }
  int rc = pthread_create(&th, &at, base_waiter, NULL);
  pthread_attr_destroy(&at);
  if (rc != 0) return -1;
  usleep(20000); /* it is asleep on the condition variable */
  long t0 = now_ns();
  pthread_mutex_lock(&base_mu);
  base_go = 1;
  pthread_cond_signal(&base_cv);
  pthread_mutex_unlock(&base_mu);
  while (atomic_load(&started_ns) == 0) usleep(50); /* as modes 0 and 1 wait */
  pthread_join(th, NULL);
  return atomic_load(&started_ns) - t0;
}
static int cmp_long(const void *a, const void *b) {
  long x = *(const long *)a, y = *(const long *)b;
  return x < y ? -1 : x > y;
}
int main(int argc, char **argv) {
  int mode = argc > 1 ? atoi(argv[1]) : 0;
  int reps = argc > 2 ? atoi(argv[2]) : 20;
  if (mode < 0 || mode > 2 || reps < 1) {
    fprintf(stderr, "usage: %s [mode 0|1|2] [runs]\n", argv[0]);
    return 2;
  }
  announce = mode == 1;
  long *d = calloc((size_t)reps, sizeof *d), sum = 0;
  if (!d) return 1;
  for (int r = 0; r < reps; r++) {
    if (mode == 2) {
      if ((d[r] = floor_once()) < 0) return 1;
      sum += d[r];
      continue;
    }
    weft_threadpool_options o; weft_threadpool_options_init(&o); o.min_threads = 0; o.max_threads = 2;
    weft_threadpool *tp;
    if (weft_threadpool_create_ex(&tp, &o) != 0 || weft_threadpool_start(tp) != 0) return 1;
    if (pipe(pfd[0]) != 0 || pipe(pfd[1]) != 0) return 1;
    atomic_store(&blocked_in, 0); atomic_store(&started_ns, 0);
    weft_threadpool_call_in_thread(tp, blocker, (void *)0L);
    weft_threadpool_call_in_thread(tp, blocker, (void *)1L);
    while (atomic_load(&blocked_in) < 2) usleep(100);
    usleep(20000); /* both are in read() */
    long t0 = now_ns();
    weft_threadpool_call_in_thread(tp, probe, NULL);
    while (atomic_load(&started_ns) == 0) usleep(50);
    d[r] = atomic_load(&started_ns) - t0; sum += d[r];
    if (write(pfd[0][1], "x", 1) != 1 || write(pfd[1][1], "x", 1) != 1) return 1;
    weft_threadpool_destroy(tp);
    close(pfd[0][0]); close(pfd[0][1]); close(pfd[1][0]); close(pfd[1][1]);
  }
  qsort(d, (size_t)reps, sizeof *d, cmp_long);
  static const char *what[] = {"opaque (read())", "announced (weft_blocking_begin)",
                               "floor (a parked pthread, signalled)"};
  printf("%s: queued task starts after: min %.3f ms, p50 %.3f ms, p90 %.3f ms, mean %.3f ms,"
         " max %.3f ms (%d runs)\n", what[mode], d[0] / 1e6, d[(reps - 1) / 2] / 1e6,
         d[(int)(0.9 * (reps - 1) + 0.5)] / 1e6, sum / 1e6 / reps, d[reps - 1] / 1e6, reps);
  free(d);
  return 0;
}
