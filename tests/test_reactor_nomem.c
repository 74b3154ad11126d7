/*
 * Out of memory in the reactor, Deferred and threads paths: the k-th
 * allocation fails, for every k over a small round-trip program. Nothing
 * crashes, every call reports an error or does its job, and every Deferred
 * that was handed out fires exactly once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <cmocka.h>

#include "weft/weft.h"

static atomic_long g_count;
static atomic_long g_fail_at; /* 0: never */
static atomic_long g_failed;

static int should_fail(void) {
  long n = atomic_fetch_add(&g_count, 1) + 1;
  if (n == atomic_load(&g_fail_at)) {
    atomic_fetch_add(&g_failed, 1);
    return 1;
  }
  return 0;
}
static void *f_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }
static void *f_calloc(size_t n, size_t s) { return should_fail() ? NULL : calloc(n, s); }

#define TRIPS 8

typedef struct prog {
  weft_reactor *r;
  int fired[TRIPS];
  int issued[TRIPS];
  int timer_ran, call_ran, stopped;
} prog;

static int identity(void *arg, void **result) {
  *result = arg;
  return 0;
}

static int on_both(void *ctx, weft_result *r) {
  int *slot = ctx;
  (*slot)++;
  weft_failure_unref(weft_result_take_failure(r));
  return 0;
}

static void on_timer(void *arg) { ((prog *)arg)->timer_ran = 1; }
static void on_call(void *arg) { ((prog *)arg)->call_ran = 1; }

static int nested(void *ctx, weft_result *r) {
  prog *p = ctx;
  weft_deferred *d;
  if (weft_defer_to_thread(p->r, identity, NULL, &d) != 0) return WEFT_ENOMEM;
  int rc = weft_result_set_deferred(r, d);
  weft_deferred_unref(d);
  return rc;
}

static void stop_later(void *arg) {
  prog *p = arg;
  p->stopped = weft_reactor_stop(p->r) == 0;
}

static void start(void *arg) {
  prog *p = arg;
  for (int i = 0; i < TRIPS; i++) {
    weft_deferred *d;
    if (weft_defer_to_thread(p->r, identity, (void *)(intptr_t)i, &d) != 0) continue;
    p->issued[i] = 1;
    if (i % 2) (void)weft_deferred_add_callback(d, nested, p); /* ENOMEM: not added */
    if (weft_deferred_add_both(d, on_both, &p->fired[i]) != 0) p->issued[i] = 0;
    weft_deferred_unref(d);
  }
  (void)weft_reactor_call_later(p->r, 0, on_timer, p, NULL);
  (void)weft_reactor_call_from_thread(p->r, on_call, p);
  /* the stop must happen: without a timer slot, stop at once */
  if (weft_reactor_call_later(p->r, 0.001, stop_later, p, NULL) != 0) stop_later(p);
}

/* Returns the number of allocations the program made. */
static long run_program(long fail_at) {
  atomic_store(&g_count, 0);
  atomic_store(&g_fail_at, fail_at);
  prog p = {0};
  if (weft_reactor_create(&p.r) != 0) {
    assert_true(fail_at > 0);
    return atomic_load(&g_count);
  }
  if (weft_reactor_call_when_running(p.r, start, &p) != 0) {
    weft_reactor_destroy(p.r);
    return atomic_load(&g_count);
  }
  assert_int_equal(weft_reactor_run(p.r), 0);
  assert_int_equal(weft_reactor_destroy(p.r), 0);
  for (int i = 0; i < TRIPS; i++) {
    if (p.issued[i]) assert_int_equal(p.fired[i], 1); /* exactly once */
  }
  if (fail_at == 0) {
    assert_true(p.timer_ran && p.call_ran && p.stopped);
    for (int i = 0; i < TRIPS; i++) assert_true(p.issued[i]);
  }
  return atomic_load(&g_count);
}

static void fail_each_allocation_once(void **state) {
  (void)state;
  assert_int_equal(weft_replace_allocator(f_malloc, f_calloc, free), 0);
  long total = run_program(0);
  assert_true(total > 0);
  /* Some allocations happen in pool threads, so their order varies a little:
   * go a bit past the clean run's count. */
  for (long k = 1; k <= total + 16; k++) run_program(k);
  atomic_store(&g_fail_at, 0);
  print_message("    %ld allocations per run, %ld injected failures\n", total,
                (long)atomic_load(&g_failed));
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
}

/* ------------------------------------ epoll's limit of watched descriptors */

/* epoll_ctl(ADD) answers ENOSPC once the user's epoll watches reach
 * /proc/sys/fs/epoll/max_user_watches (a share of memory): the reactor ran
 * out of a resource, as create and attach do when a descriptor cannot be
 * had (WEFT_ENOMEM there). add_reader/add_writer answered WEFT_EINVAL, the
 * answer for a bad descriptor, for a descriptor that is fine. reactor_nomem.cmake
 * wraps epoll_ctl: ADD of g_watch_limit_fd fails so. */
int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
static int g_watch_limit_fd = -1; /* the test's thread only */

int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev) {
  if (fd >= 0 && fd == g_watch_limit_fd && op == EPOLL_CTL_ADD) {
    errno = ENOSPC;
    return -1;
  }
  return __real_epoll_ctl(epfd, op, fd, ev);
}

typedef struct watched {
  weft_reactor *r;
  int reads;
} watched;

static void on_readable(void *ctx, int fd, int events) {
  watched *w = ctx;
  (void)events;
  char c;
  assert_int_equal(read(fd, &c, 1), 1);
  w->reads++;
  assert_int_equal(weft_reactor_remove_reader(w->r, fd), 0);
  assert_int_equal(weft_reactor_stop(w->r), 0);
}

static void watch_limit_is_out_of_memory(void **state) {
  (void)state;
  watched w = {0};
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], "x", 1), 1);
  assert_int_equal(weft_reactor_create(&w.r), 0);
  g_watch_limit_fd = fds[0];
  assert_int_equal(weft_reactor_add_reader(w.r, fds[0], on_readable, &w), WEFT_ENOMEM);
  g_watch_limit_fd = fds[1];
  assert_int_equal(weft_reactor_add_writer(w.r, fds[1], on_readable, &w), WEFT_ENOMEM);
  g_watch_limit_fd = -1;
  /* nothing was kept: no reader or writer to remove, and a later add works */
  assert_int_equal(weft_reactor_remove_reader(w.r, fds[0]), WEFT_EALREADY);
  assert_int_equal(weft_reactor_remove_writer(w.r, fds[1]), WEFT_EALREADY);
  assert_int_equal(weft_reactor_add_reader(w.r, fds[0], on_readable, &w), 0);
  assert_int_equal(weft_reactor_run(w.r), 0);
  assert_int_equal(w.reads, 1);
  assert_int_equal(weft_reactor_destroy(w.r), 0);
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(fail_each_allocation_once),
      cmocka_unit_test(watch_limit_is_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
