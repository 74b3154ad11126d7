/*
 * weft_threadpool_worker_stats: one entry per worker slot; the slots' sums
 * are the pool's totals once it is quiet (also after a thread exits and a
 * new one reuses its slot); live and busy flags are facts the test makes
 * true with gates.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "weft/context.h"
#include "weft/threadpool.h"
#include "weft/work.h"

#include "test_sync.h"

static weft_threadpool *make_pool(int min, int max, const char *name) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = min;
  o.max_threads = max;
  o.name = name;
  /* The tests hold workers at gates (an opaque block) and count slots: the
   * elastic pool would stand in for them (docs/design.md E9). */
  o.strict_cap = 1;
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  return tp;
}

static void count_task(void *arg) { count_up(arg); }

/* The sums over slots equal the pool's counters (all of them that are kept
 * per worker). */
static void assert_sums(weft_threadpool *tp, size_t expect_slots, uint64_t expect_executed) {
  weft_worker_stats v[16];
  size_t n = 0;
  assert_int_equal(weft_threadpool_worker_stats(tp, v, 16, &n), 0);
  assert_int_equal(n, expect_slots);
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  uint64_t executed = 0, steals = 0, stolen = 0, parks = 0;
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(v[i].index, (int)i);
    executed += v[i].executed;
    steals += v[i].steals;
    stolen += v[i].stolen;
    parks += v[i].parks;
  }
  assert_int_equal(executed, c.executed);
  assert_int_equal(executed, expect_executed);
  assert_int_equal(steals, c.steals);
  assert_int_equal(stolen, c.stolen);
  assert_int_equal(parks, c.parks);
}

static void per_worker_sums_match_totals(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(2, 2, "ws");
  assert_int_equal(weft_threadpool_start(tp), 0);
  /* Two gated tasks hold both threads: both slots are live and busy. */
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  gated g = {&gate, &started, &done};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&started, 2);
  weft_worker_stats v[4];
  size_t n = 0;
  assert_int_equal(weft_threadpool_worker_stats(tp, v, 4, &n), 0);
  assert_int_equal(n, 2);
  for (size_t i = 0; i < 2; i++) {
    assert_int_equal(v[i].live, 1);
    assert_int_equal(v[i].busy, 1);
    assert_int_equal(v[i].cpu, -1); /* no affinity option */
    assert_memory_equal(v[i].name, "PoolThread-ws-", 14);
  }
  assert_true(v[0].serial != v[1].serial);
  assert_string_not_equal(v[0].name, v[1].name);
  /* busy_ns counts the spell under way (the tasks have not returned), and
   * does not go back. */
  weft_worker_stats again[4];
  assert_int_equal(weft_threadpool_worker_stats(tp, again, 4, &n), 0);
  for (size_t i = 0; i < 2; i++) {
    assert_true(v[i].busy_ns > 0);
    assert_true(again[i].busy_ns >= v[i].busy_ns);
  }
  /* A smaller array: *n still says how many slots there are, and nothing
   * past cap is written. */
  weft_worker_stats one[2];
  memset(one, 0x5a, sizeof one);
  assert_int_equal(weft_threadpool_worker_stats(tp, one, 1, &n), 0);
  assert_int_equal(n, 2);
  assert_int_equal(one[0].index, 0);
  unsigned char untouched[sizeof one[1]];
  memset(untouched, 0x5a, sizeof untouched);
  assert_memory_equal(&one[1], untouched, sizeof untouched);
  assert_int_equal(weft_threadpool_worker_stats(tp, NULL, 0, &n), 0);
  assert_int_equal(n, 2);
  gate_open(&gate);
  enum { N = 20000 };
  for (int i = 0; i < N; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, count_task, &done), 0);
  count_wait(&done, N + 2);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  /* Quiet: every thread joined, so the sums are exact. */
  assert_sums(tp, 2, N + 2);
  assert_int_equal(weft_threadpool_worker_stats(tp, v, 4, &n), 0);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(v[i].live, 0);
    assert_int_equal(v[i].busy, 0);
  }
  /* Both threads were busy (blocked in a gated task) before they idled. */
  assert_true(v[0].busy_ns > 0 && v[1].busy_ns > 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&done);
}

/* A thread exits and a new one starts: the slots' sums stay the totals. */
static void sums_survive_thread_exit(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(1, 1, "reuse");
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t done;
  sync_init(&done);
  for (int round = 0; round < 3; round++) {
    for (int i = 0; i < 100; i++)
      assert_int_equal(weft_threadpool_call_in_thread(tp, count_task, &done), 0);
    count_wait(&done, 100 * (round + 1));
    assert_int_equal(weft_threadpool_stop_a_worker(tp), 0);
    /* The quitting thread is uncounted when it leaves (or at once if
     * parked); a new one may start only then, as the pool's max is 1. */
    while (weft_threadpool_workers(tp) != 0) sched_yield();
    assert_int_equal(weft_threadpool_start_a_worker(tp), 0);
  }
  assert_int_equal(weft_threadpool_threads_created(tp), 4);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  weft_worker_stats v[8];
  size_t n = 0;
  assert_int_equal(weft_threadpool_worker_stats(tp, v, 8, &n), 0);
  /* Slots are reused when free: at most one per thread ever created. */
  assert_true(n >= 1 && n <= 4);
  assert_sums(tp, n, 300);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&done);
}

static void dump_has_worker_lines(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(1, 1, "dumpw");
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t done;
  sync_init(&done);
  assert_int_equal(weft_threadpool_call_in_thread(tp, count_task, &done), 0);
  count_wait(&done, 1);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  FILE *f = tmpfile();
  assert_non_null(f);
  assert_int_equal(weft_threadpool_dump_stats(tp, f), 0);
  rewind(f);
  char buf[512];
  for (int i = 0; i < 5; i++) assert_non_null(fgets(buf, sizeof buf, f)); /* Twisted's 3, engine, elastic */
  assert_non_null(fgets(buf, sizeof buf, f));
  assert_memory_equal(buf, "worker 0: PoolThread-dumpw-0 live=0 busy=0 cpu=-1 executed=1 ",
                      strlen("worker 0: PoolThread-dumpw-0 live=0 busy=0 cpu=-1 executed=1 "));
  assert_null(fgets(buf, sizeof buf, f));
  fclose(f);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&done);
}

/* A slot's busy_ns never goes down: the two stamps of a busy spell are read
 * as one pair (worker_stats.h). A reader between the worker's two stores at
 * an edge took the previous spell's stamp for the current one and counted
 * that spell and the idle gap after it twice, then dropped back. One worker
 * goes busy and idle 2,000 times (one short task at a time) while this
 * thread reads the statistics without pause. */
static atomic_int g_bs_stop;
static void short_busy_task(void *arg) {
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do clock_gettime(CLOCK_MONOTONIC, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < 20000L);
  count_up(arg);
}
typedef struct bs_feed {
  weft_threadpool *tp;
  sync_t done;
  int refused; /* read by the test's thread after the join (cmocka asserts only there) */
} bs_feed;
/* One task at a time: the next is submitted once the last has run, so the
 * worker finds nothing in between and goes idle (the busy->idle edge), then
 * takes the next (the idle->busy edge). */
static void *bs_feeder(void *arg) {
  bs_feed *f = arg;
  for (int i = 0; i < 2000; i++) {
    if (weft_threadpool_call_in_thread(f->tp, short_busy_task, &f->done) != 0) {
      f->refused++;
      break;
    }
    count_wait(&f->done, i + 1);
  }
  atomic_store(&g_bs_stop, 1);
  return NULL;
}

static void busy_ns_never_goes_down(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(1, 1, "busyns");
  assert_int_equal(weft_threadpool_start(tp), 0);
  bs_feed f = {.tp = tp};
  sync_init(&f.done);
  atomic_store(&g_bs_stop, 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, bs_feeder, &f), 0);
  uint64_t last = 0;
  long reads = 0, drops = 0;
  while (!atomic_load(&g_bs_stop)) {
    weft_worker_stats ws[1];
    size_t n = 0;
    assert_int_equal(weft_threadpool_worker_stats(tp, ws, 1, &n), 0);
    if (n >= 1) {
      if (ws[0].busy_ns < last) {
        if (drops < 5) printf("drop of %llu ns\n", (unsigned long long)(last - ws[0].busy_ns));
        drops++;
      }
      last = ws[0].busy_ns;
      reads++;
    }
  }
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(f.refused, 0);
  printf("busy_ns: %ld reads, %ld went down\n", reads, drops);
  assert_int_equal(drops, 0);
  assert_true(reads > 0);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&f.done);
}

static void bad_arguments(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(0, 1, "bad");
  weft_worker_stats v[1];
  size_t n = 99;
  assert_int_equal(weft_threadpool_worker_stats(NULL, v, 1, &n), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_worker_stats(tp, v, 1, NULL), WEFT_EINVAL);
  assert_int_equal(weft_threadpool_worker_stats(tp, NULL, 1, &n), WEFT_EINVAL);
  /* No thread yet: no slot. */
  assert_int_equal(weft_threadpool_worker_stats(tp, v, 1, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* A name too long for the 64 bytes: the prefix is cut, the serial kept, so
 * the workers' names still differ (they were all the same cut prefix). */
static void long_name_keeps_the_serial(void **state) {
  (void)state;
  char name[201];
  memset(name, 'n', sizeof name - 1);
  name[sizeof name - 1] = '\0';
  weft_threadpool *tp = make_pool(2, 2, name);
  assert_int_equal(weft_threadpool_start(tp), 0); /* min 2: both threads start */
  weft_worker_stats v[2];
  size_t n = 0;
  assert_int_equal(weft_threadpool_worker_stats(tp, v, 2, &n), 0);
  assert_int_equal(n, 2);
  for (size_t i = 0; i < 2; i++) {
    char want[32];
    snprintf(want, sizeof want, "-%llu", (unsigned long long)v[i].serial);
    size_t len = strlen(v[i].name), wl = strlen(want);
    assert_int_equal(len, sizeof v[i].name - 1);
    assert_string_equal(v[i].name + len - wl, want);
  }
  assert_string_not_equal(v[0].name, v[1].name);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

/* weft_threadpool_counters are monotonic (weft/threadpool.h), and so is a
 * slot's `executed`. A request that weft_threadpool_cancel_work won is
 * skipped by the worker that takes it: counted as cancelled, and taken out
 * of that worker's `executed` (count_skipped). The skip was subtracted
 * before the take was counted (the worker counts a task when it returns),
 * so while the request's after_cb ran both counts read one less than just
 * before it: `executed` went from 1 down to 0 and back. The request is
 * queued with a context, whose enter hook runs on the worker after the
 * gated task was counted and before the skip: the reading before. */
typedef struct mono {
  weft_threadpool *tp;
  uint64_t total_before, total_during, slot_before, slot_during;
  int entered, status, read_errors;
  sync_t told;
} mono;
static mono *g_mono;
/* On the pool thread: no cmocka assertion there (the test checks after). */
static void mono_read(uint64_t *total, uint64_t *slot) {
  weft_threadpool_counters c;
  if (weft_threadpool_counters_get(g_mono->tp, &c) != 0) g_mono->read_errors++;
  *total = c.executed;
  weft_worker_stats v[1];
  size_t n = 0;
  if (weft_threadpool_worker_stats(g_mono->tp, v, 1, &n) != 0 || n != 1) g_mono->read_errors++;
  *slot = v[0].executed;
}
static void mono_enter(void *ctx) {
  (void)ctx;
  if (g_mono->entered++ == 0) mono_read(&g_mono->total_before, &g_mono->slot_before);
}
static void mono_leave(void *ctx, void *previous) {
  (void)ctx;
  (void)previous;
}
static const weft_context_hooks mono_hooks = {NULL, NULL, mono_enter, mono_leave};
static void mono_work(weft_work *req) { (void)req; }
static void mono_after(weft_work *req, int status) {
  (void)req;
  g_mono->status = status;
  mono_read(&g_mono->total_during, &g_mono->slot_during);
  count_up(&g_mono->told);
}

static void executed_never_goes_down_at_a_skip(void **state) {
  (void)state;
  weft_threadpool *tp = make_pool(1, 1, "mono");
  assert_int_equal(weft_threadpool_start(tp), 0);
  mono m = {.tp = tp};
  sync_init(&m.told);
  g_mono = &m;
  assert_int_equal(weft_context_set_hooks(&mono_hooks), 0);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  gated g = {&gate, &started, NULL};
  assert_int_equal(weft_threadpool_call_in_thread(tp, gated_task, &g), 0);
  count_wait(&started, 1);
  weft_work req;
  memset(&req, 0, sizeof req);
  static int ctx;
  void *prev = weft_context_set(&ctx);
  assert_int_equal(weft_threadpool_queue_work(tp, &req, mono_work, mono_after), 0);
  weft_context_set(prev);
  assert_int_equal(weft_threadpool_cancel_work(tp, &req), 0); /* behind the gated task */
  gate_open(&gate);
  count_wait(&m.told, 1);
  assert_int_equal(weft_threadpool_stop(tp), 0);
  assert_int_equal(m.entered, 1);
  assert_int_equal(m.status, WEFT_ECANCELED);
  assert_int_equal(m.read_errors, 0);
  assert_int_equal(m.total_before, 1); /* the gated task */
  assert_int_equal(m.slot_before, 1);
  assert_int_equal(m.total_during, 1); /* was 0 */
  assert_int_equal(m.slot_during, 1);  /* was 0 */
  weft_threadpool_counters c;
  assert_int_equal(weft_threadpool_counters_get(tp, &c), 0);
  assert_int_equal(c.executed, 1);
  assert_int_equal(c.cancelled, 1);
  assert_int_equal(c.submitted, 2);
  assert_int_equal(weft_context_set_hooks(NULL), 0);
  g_mono = NULL;
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&gate);
  sync_fini(&started);
  sync_fini(&m.told);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(per_worker_sums_match_totals),
      cmocka_unit_test(long_name_keeps_the_serial),
      cmocka_unit_test(sums_survive_thread_exit),
      cmocka_unit_test(dump_has_worker_lines),
      cmocka_unit_test(busy_ns_never_goes_down),
      cmocka_unit_test(bad_arguments),
      cmocka_unit_test(executed_never_goes_down_at_a_skip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
