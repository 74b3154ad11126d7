/*
 * weft on a libevent loop: deferToThreadPool-style round trips whose results
 * come back on the event_base's thread through weft_reactor_attach's fd.
 */
#include <pthread.h>
#include <stdio.h>
#include <event2/event.h>
#include <weft/weft.h>

#define TOTAL 20000
#define IN_FLIGHT 500

static weft_reactor *reactor;
static weft_threadpool *pool; /* our own pool: deferToThreadPool */
static struct event *completions;
static long issued, completed, wrong, off_thread;
static pthread_t loop_thread;

static int triple(void *arg, void **result) { /* pool thread */
  *result = (void *)((intptr_t)arg * 3);
  return 0;
}

static void issue(void);

static int on_result(void *ctx, weft_result *r) { /* event_base thread */
  if (!pthread_equal(pthread_self(), loop_thread)) off_thread++;
  if (r->failure || (intptr_t)r->value != (intptr_t)ctx * 3) wrong++;
  weft_failure_unref(weft_result_take_failure(r));
  if (++completed == TOTAL) event_del(completions); /* the loop ends */
  else if (issued < TOTAL) issue();
  return 0;
}

static void issue(void) {
  intptr_t i = issued++;
  weft_deferred *d;
  if (weft_defer_to_thread_pool(reactor, pool, triple, (void *)i, &d) != 0) {
    wrong++;
    completed++;
    return;
  }
  weft_deferred_add_both(d, on_result, (void *)i);
  weft_deferred_unref(d);
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
  weft_threadpool_destroy(pool); /* every task ran: nothing left to cancel */
  weft_reactor_detach(reactor);
  weft_reactor_stats st;
  weft_reactor_stats_get(reactor, &st);
  weft_reactor_destroy(reactor);
  event_free(completions);
  event_base_free(base);
  printf("libevent: %ld round trips, %ld wrong, %ld off the loop thread; "
         "%llu fd wake-ups for %llu completions\n",
         completed, wrong, off_thread, (unsigned long long)st.wakeups,
         (unsigned long long)st.completions);
  return (completed == TOTAL && wrong == 0 && off_thread == 0) ? 0 : 1;
}
