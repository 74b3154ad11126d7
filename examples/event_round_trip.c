/*
 * weft on a libevent loop: deferToThreadPool-style round trips whose results
 * come back on the event_base's thread through weft_reactor_attach's fd,
 * then a 10 ms weft_reactor_call_later with nothing else going on: the same
 * fd wakes the loop when the timer is due (the reactor's timerfd sits in
 * the set the fd stands for), so the host loop needs no timeout of its own.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <event2/event.h>
#include <weft/weft.h>

#define TOTAL 20000
#define IN_FLIGHT 500

static weft_reactor *reactor;
static weft_threadpool *pool; /* our own pool: deferToThreadPool */
static struct event *completions;
static long issued, completed, wrong, off_thread;
static pthread_t loop_thread;
static double timer_set_at, timer_delay_ms = -1;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void on_timer(void *arg) { /* event_base thread, via the same fd */
  (void)arg;
  if (!pthread_equal(pthread_self(), loop_thread)) off_thread++;
  timer_delay_ms = now_ms() - timer_set_at;
  event_del(completions); /* the loop ends */
}

static int triple(void *arg, void **result) { /* pool thread */
  *result = (void *)((intptr_t)arg * 3);
  return 0;
}

static void all_completed(void) { /* idle from here: only the timer can wake us */
  timer_set_at = now_ms();
  if (weft_reactor_call_later(reactor, 0.010, on_timer, NULL, NULL) != 0) {
    wrong++;
    event_del(completions); /* the loop ends */
  }
}

static int on_result(void *ctx, weft_result *r);

/* Starts the next round trip; one that cannot start counts as completed. */
static void issue(void) {
  while (issued < TOTAL) {
    intptr_t i = issued++;
    /* on_result as callback and errback (addBoth), given up front. */
    if (weft_defer_to_thread_pool_then(reactor, pool, triple, (void *)i, on_result, on_result,
                                       (void *)i, NULL) == 0)
      return;
    wrong++;
    if (++completed == TOTAL) all_completed();
  }
}

static int on_result(void *ctx, weft_result *r) { /* event_base thread */
  if (!pthread_equal(pthread_self(), loop_thread)) off_thread++;
  if (r->failure || (intptr_t)r->value != (intptr_t)ctx * 3) wrong++;
  weft_failure_unref(weft_result_take_failure(r));
  if (++completed == TOTAL) all_completed();
  else issue();
  return 0;
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  (void)arg;
  weft_reactor_drain(reactor);
}

int main(void) {
  struct event_base *base = event_base_new();
  if (base == NULL) return 1;
  loop_thread = pthread_self();
  if (weft_threadpool_create(&pool, 0, 4, "libevent-example") != 0) return 1;
  if (weft_threadpool_start(pool) != 0) return 1;
  int fd;
  if (weft_reactor_create(&reactor) != 0) return 1;
  if (weft_reactor_attach(reactor, &fd) != 0) return 1;
  completions = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, NULL);
  event_add(completions, NULL);
  for (int k = 0; k < IN_FLIGHT; k++) issue();
  event_base_dispatch(base);
  /* The host lets go of the fd before the reactor (which closes it) goes. */
  event_free(completions);
  weft_threadpool_destroy(pool); /* every task ran: nothing left to cancel */
  weft_reactor_detach(reactor);
  weft_reactor_stats st;
  weft_reactor_stats_get(reactor, &st);
  weft_reactor_destroy(reactor);
  event_base_free(base);
  printf("libevent: %ld round trips, %ld wrong, %ld off the loop thread; "
         "%llu fd wake-ups for %llu completions; a 10 ms call_later fired after %.2f ms\n",
         completed, wrong, off_thread, (unsigned long long)st.wakeups,
         (unsigned long long)st.completions, timer_delay_ms);
  /* The timer firing is the pass condition (the loop ends only then; the
   * ctest timeout is the hang guard), never how late it was. */
  return (completed == TOTAL && wrong == 0 && off_thread == 0 && timer_delay_ms >= 0) ? 0 : 1;
}
