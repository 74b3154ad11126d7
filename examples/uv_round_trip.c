/*
 * weft on a libuv loop: deferToThreadPool-style round trips whose results
 * come back on the libuv loop thread through weft_reactor_attach's fd.
 *
 * The libuv loop owns the thread; weft's reactor never runs its own loop.
 * One uv_poll watches the completion fd; on readable, weft_reactor_drain
 * fires the Deferreds right there, on the loop thread.
 */
#include <stdio.h>
#include <uv.h>
#include <weft/weft.h>

#define TOTAL 20000
#define IN_FLIGHT 500

static weft_reactor *reactor;
static uv_poll_t completions;
static long issued, completed, wrong, off_thread;
static uv_thread_t loop_thread;

static int square(void *arg, void **result) { /* pool thread */
  long i = (long)(intptr_t)arg;
  *result = (void *)(intptr_t)(i * i);
  return 0;
}

static void issue(void);

static int on_result(void *ctx, weft_result *r) { /* libuv loop thread */
  long i = (long)(intptr_t)ctx;
  uv_thread_t self = uv_thread_self();
  if (!uv_thread_equal(&self, &loop_thread)) off_thread++;
  if (r->failure || (long)(intptr_t)r->value != i * i) wrong++;
  weft_failure_unref(weft_result_take_failure(r));
  if (++completed == TOTAL) uv_poll_stop(&completions); /* the loop ends */
  else if (issued < TOTAL) issue();
  return 0;
}

static void issue(void) {
  long i = issued++;
  weft_deferred *d;
  if (weft_defer_to_thread(reactor, square, (void *)(intptr_t)i, &d) != 0) {
    wrong++;
    completed++;
    return;
  }
  weft_deferred_add_both(d, on_result, (void *)(intptr_t)i);
  weft_deferred_unref(d);
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
         "%llu fd wake-ups for %llu completions\n",
         completed, wrong, off_thread, (unsigned long long)st.wakeups,
         (unsigned long long)st.completions);
  return (completed == TOTAL && wrong == 0 && off_thread == 0) ? 0 : 1;
}
