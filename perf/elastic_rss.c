/*
 * perf/elastic_rss.c — the process's resident memory before a burst of
 * blocking tasks on an elastic pool (min 0, max 2), at the burst's peak,
 * and once the idle pool has reaped every thread (docs/performance.md,
 * "Elastic").
 *
 *   weft_elastic_rss [tasks [fanout [keep_alive_ms [trim]]]]
 *     tasks          10 ms sleeps in the burst (default 10 000)
 *     fanout         0: the main thread submits every sleep (W6's burst;
 *                    only main owns a node cache). k > 0: main submits
 *                    tasks / k parents, each of which submits k sleeps from
 *                    its worker, so the workers own node caches too, and
 *                    give them back when they are reaped (default 0)
 *     keep_alive_ms  the pool's keep-alive (default 1000)
 *     trim           1: also print VmRSS after glibc's malloc_trim(0), which
 *                    hands free heap pages back (what weft freed, and
 *                    everything else free)
 *
 * Prints VmRSS (kB, from /proc/self/status) before, the largest seen while
 * the burst runs (sampled every 10 ms) and after: when the pool is back to
 * 0 threads, plus 200 ms. A measurement, not a test: it sleeps to wait.
 * glibc keeps freed memory in its arenas (one per thread that allocated, up
 * to 8 per CPU, each keeping its top 128 KiB), so what weft frees shows in
 * VmRSS only with few arenas (MALLOC_ARENA_MAX=1) and a trim.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <weft/weft.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static weft_threadpool *g_tp;
static atomic_long g_done;
static long g_fanout;

/* A line of /proc/self/status, in kB: VmRSS (all resident pages, the C
 * library's code included) or RssAnon (the process's own memory: heap,
 * stacks, arenas). */
static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  size_t n = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, n) == 0) kb = atol(line + n);
  if (f) fclose(f);
  return kb;
}
static long rss_kb(void) { return status_kb("VmRSS:"); }
static long anon_kb(void) { return status_kb("RssAnon:"); }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void sleeper(void *arg) {
  (void)arg;
  sleep_ms(10);
  atomic_fetch_add(&g_done, 1);
}

static void parent(void *arg) {
  (void)arg;
  for (long i = 0; i < g_fanout; i++)
    if (weft_threadpool_call_in_thread(g_tp, sleeper, NULL) != 0) abort();
}

static int threads(void) {
  weft_threadpool_stats s;
  weft_threadpool_stats_get(g_tp, &s);
  return s.threads;
}

int main(int argc, char **argv) {
  long tasks = argc > 1 ? atol(argv[1]) : 10000;
  g_fanout = argc > 2 ? atol(argv[2]) : 0;
  long keep_alive = argc > 3 ? atol(argv[3]) : 1000;
  int trim = argc > 4 && atoi(argv[4]);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 2;
  o.keep_alive_ms = (unsigned)keep_alive;
  if (weft_threadpool_create_ex(&g_tp, &o) != 0 || weft_threadpool_start(g_tp) != 0) return 1;
  sleep_ms(100);
  long before = rss_kb(), anon_before = anon_kb();
  if (g_fanout > 0) {
    for (long i = 0; i < tasks / g_fanout; i++)
      if (weft_threadpool_call_in_thread(g_tp, parent, NULL) != 0) return 2;
    tasks = tasks / g_fanout * g_fanout;
  } else {
    for (long i = 0; i < tasks; i++)
      if (weft_threadpool_call_in_thread(g_tp, sleeper, NULL) != 0) return 2;
  }
  long peak = 0, anon_peak = 0;
  int peak_threads = 0;
  while (atomic_load(&g_done) < tasks) {
    long r = rss_kb();
    int t = threads();
    long a = anon_kb();
    if (r > peak) peak = r;
    if (a > anon_peak) anon_peak = a;
    if (t > peak_threads) peak_threads = t;
    sleep_ms(10);
  }
  long ms = 0;
  while (threads() > 0) {
    sleep_ms(10);
    ms += 10;
  }
  sleep_ms(200);
  weft_threadpool_stats st;
  weft_threadpool_stats_get(g_tp, &st);
  printf("tasks %ld fanout %ld keep-alive %ld ms: RSS before %ld kB, peak %ld kB (%d threads), "
         "after %ld kB (0 threads, %.2f s after the burst); RssAnon %ld / %ld / %ld kB; "
         "heap trims %llu",
         tasks, g_fanout, keep_alive, before, peak, peak_threads, rss_kb(), (ms + 200) / 1000.0,
         anon_before, anon_peak, anon_kb(), (unsigned long long)st.heap_trims);
#ifdef __GLIBC__
  if (trim) {
    malloc_trim(0);
    printf(", %ld kB after malloc_trim", rss_kb());
  }
#else
  (void)trim;
#endif
  printf("\n");
  weft_threadpool_destroy(g_tp);
  return 0;
}
