/*
 * weft on a libuv loop: deferToThreadPool-style round trips whose results
 * come back on the libuv loop thread through weft_reactor_attach's fd.
 *
 * The libuv loop owns the thread; weft's reactor never runs its own loop.
 * One uv_poll watches the completion fd; on readable, weft_reactor_drain
 * fires the Deferreds right there, on the loop thread. The same fd serves
 * weft's timers: when the round trips are done, a 10 ms
 * weft_reactor_call_later wakes the idle loop through it.
 */
#define _POSIX_C_SOURCE 200809L /* uv.h's pthread and socket types */
#include <stdio.h>
#include <uv.h>
#include <weft/weft.h>

#define TOTAL 20000
#define IN_FLIGHT 500

static weft_reactor *reactor;
static uv_poll_t completions;
static long issued, completed, wrong, off_thread;
static uv_thread_t loop_thread;
static uint64_t timer_set_at;
static double timer_delay_ms = -1;

static void on_timer(void *arg) { /* libuv loop thread, via the same fd */
  (void)arg;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &loop_thread)) off_thread++;
  timer_delay_ms = (double)(uv_hrtime() - timer_set_at) / 1e6;
  uv_poll_stop(&completions); /* the loop ends */
}

static int square(void *arg, void **result) { /* pool thread */
  long i = (long)(intptr_t)arg;
  *result = (void *)(intptr_t)(i * i);
  return 0;
}

static void all_completed(void) { /* idle from here: only the timer can wake us */
  timer_set_at = uv_hrtime();
  if (weft_reactor_call_later(reactor, 0.010, on_timer, NULL, NULL) != 0) {
    wrong++;
    uv_poll_stop(&completions); /* the loop ends */
  }
}

static int on_result(void *ctx, weft_result *r);

/* Starts the next round trip; one that cannot start counts as completed. */
static void issue(void) {
  while (issued < TOTAL) {
    void *i = (void *)(intptr_t)issued++;
    /* on_result as callback and errback (addBoth), given up front. */
    if (weft_defer_to_thread_then(reactor, square, i, on_result, on_result, i, NULL) == 0) return;
    wrong++;
    if (++completed == TOTAL) all_completed();
  }
}

static int on_result(void *ctx, weft_result *r) { /* libuv loop thread */
  long i = (long)(intptr_t)ctx;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &loop_thread)) off_thread++;
  if (r->failure || (long)(intptr_t)r->value != i * i) wrong++;
  weft_failure_unref(weft_result_take_failure(r));
  if (++completed == TOTAL) all_completed();
  else issue();
  return 0;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)status;
  (void)events;
  weft_reactor_drain(reactor);
}

int main(void) {
  uv_loop_t *loop = uv_default_loop();
  loop_thread = uv_thread_self();
  int fd;
  if (weft_reactor_create(&reactor) != 0) return 1;
  if (weft_reactor_attach(reactor, &fd) != 0) return 1; /* this thread is the reactor's */
  uv_poll_init(loop, &completions, fd);
  uv_poll_start(&completions, UV_READABLE, on_readable);
  for (int k = 0; k < IN_FLIGHT; k++) issue();
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&completions, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  weft_reactor_detach(reactor); /* stops and drains the pool */
  weft_reactor_stats st;
  weft_reactor_stats_get(reactor, &st);
  weft_reactor_destroy(reactor);
  uv_loop_close(loop);
  printf("libuv: %ld round trips, %ld wrong, %ld off the loop thread; "
         "%llu fd wake-ups for %llu completions; a 10 ms call_later fired after %.2f ms\n",
         completed, wrong, off_thread, (unsigned long long)st.wakeups,
         (unsigned long long)st.completions, timer_delay_ms);
  /* The timer firing is the pass condition (the loop ends only then; the
   * ctest timeout is the hang guard), never how late it was. */
  return (completed == TOTAL && wrong == 0 && off_thread == 0 && timer_delay_ms >= 0) ? 0 : 1;
}
