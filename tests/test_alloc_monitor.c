/*
 * weft_replace_allocator after the last object is gone, while a pool's
 * elastic monitor that has just left on its own (its keep-alive ran out
 * with the pool at 0 threads: lib/engine/monitor.c, sleep_disarmed) is
 * still freeing its memory on its detached thread. The pool's destroy has
 * nothing of the monitor's to join then, the live-object count is 0, and
 * the replacement is allowed (weft/common.h): the monitor's blocks, made
 * by the allocator before it, must still be freed by that allocator's
 * free, not the new one's.
 *
 * Deterministic: the observer holds the monitor thread at its "looked and
 * left" event (after it cleared e->monitor, before it frees itself) while
 * the test destroys the pool and replaces the allocator; each allocator's
 * free then counts the frees made on the monitor's thread (a thread-local
 * mark the observer sets there), and the test waits for the three
 * (monitor_free: cand, last_exec, the monitor).
 *
 * And a monitor whose memory cannot be allocated is logged as WEFT_ENOMEM.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "engine/core.h"
#include "engine/observer.h"
#include "pool/threadpool_impl.h"
#include "weft/threadpool.h"

#include "test_sync.h"

static _Thread_local bool tls_monitor; /* set by the observer on the monitor's thread */
static atomic_int frees_a, frees_b;    /* the monitor thread's frees, by allocator */
static latch g_monitor_frees;          /* counted down by those frees */

static void free_a(void *p) {
  if (tls_monitor) {
    atomic_fetch_add(&frees_a, 1);
    latch_count_down(&g_monitor_frees);
  }
  free(p);
}
static void free_b(void *p) {
  if (tls_monitor) {
    atomic_fetch_add(&frees_b, 1);
    latch_count_down(&g_monitor_frees);
  }
  free(p); /* both allocators are libc's underneath: the test itself never crashes */
}

static weft__engine *g_engine;
static sync_t g_left, g_go;
static atomic_int g_held;

static void hold_leaving_monitor(weft__event ev) {
  if (ev != WEFT__EVENT_MONITOR_LOOKED) return;
  /* Left: it cleared e->monitor before the event (it stayed otherwise). */
  if (weft__load_relaxed(&g_engine->monitor) != NULL) return;
  if (atomic_exchange(&g_held, 1)) return;
  tls_monitor = true;
  gate_open(&g_left);
  gate_wait(&g_go);
}

static void task(void *arg) { latch_count_down(arg); }

static void replace_while_a_leaving_monitor_frees_itself(void **state) {
  (void)state;
  assert_int_equal(weft_replace_allocator(malloc, calloc, free_a), 0);
  sync_init(&g_left);
  sync_init(&g_go);
  latch_init(&g_monitor_frees, 3); /* monitor_free: cand, last_exec, the monitor */
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  o.keep_alive_ms = 1; /* the worker idles out, then the monitor leaves */
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  g_engine = weft__threadpool_engine(tp);
  weft__observer_set(hold_leaving_monitor);
  assert_int_equal(weft_threadpool_start(tp), 0);
  latch ran;
  latch_init(&ran, 1);
  /* The worker this starts starts the monitor (weft__engine_ensure_monitor). */
  assert_int_equal(weft_threadpool_call_in_thread(tp, task, &ran), 0);
  latch_wait(&ran);
  gate_wait(&g_left); /* the monitor left, and is held before it frees itself */
  assert_int_equal(weft_threadpool_destroy(tp), 0); /* nothing to join: it left */
  /* No weft object is left: the replacement is allowed. */
  assert_int_equal(weft_replace_allocator(malloc, calloc, free_b), 0);
  gate_open(&g_go);
  latch_wait(&g_monitor_frees);
  weft__observer_set(NULL);
  /* Every block the monitor freed was made by allocator A. */
  assert_int_equal(atomic_load(&frees_b), 0);
  assert_int_equal(atomic_load(&frees_a), 3);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
  latch_destroy(&ran);
}

/* The monitor's memory cannot be allocated at the worker's start (every
 * calloc off the test's thread fails): the log hook hears WEFT_ENOMEM
 * for the monitor, not the WEFT_EAGAIN of a thread that could not be
 * made. */
static pthread_t g_main;
static atomic_int g_fail_off_main;
static void *calloc_c(size_t n, size_t size) {
  if (atomic_load(&g_fail_off_main) && !pthread_equal(pthread_self(), g_main)) return NULL;
  return calloc(n, size);
}

static latch g_monitor_logged;
static atomic_int g_monitor_err;
static void log_monitor(void *ctx, int err, const char *what) {
  (void)ctx;
  if (!strstr(what, "monitor")) return;
  int z = 0;
  if (atomic_compare_exchange_strong(&g_monitor_err, &z, err)) latch_count_down(&g_monitor_logged);
}

static void monitor_without_memory_is_logged_as_enomem(void **state) {
  (void)state;
  g_main = pthread_self();
  latch_init(&g_monitor_logged, 1);
  assert_int_equal(weft_replace_allocator(malloc, calloc_c, free), 0);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 1;
  o.log = log_monitor;
  weft_threadpool *tp;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  atomic_store(&g_fail_off_main, 1);
  assert_int_equal(weft_threadpool_start(tp), 0); /* its worker starts the monitor */
  latch_wait(&g_monitor_logged);
  atomic_store(&g_fail_off_main, 0);
  assert_int_equal(atomic_load(&g_monitor_err), WEFT_ENOMEM);
  latch ran;
  latch_init(&ran, 1);
  assert_int_equal(weft_threadpool_call_in_thread(tp, task, &ran), 0); /* the pool still runs work */
  latch_wait(&ran);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
  latch_destroy(&ran);
  latch_destroy(&g_monitor_logged);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(replace_while_a_leaving_monitor_frees_itself),
      cmocka_unit_test(monitor_without_memory_is_logged_as_enomem),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
