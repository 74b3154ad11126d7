/*
 * weft_reactor_stop on another thread against an attached reactor's
 * weft_reactor_detach (include/weft/reactor.h: stop is "any thread, any
 * time while r exists"; docs/lifecycle.md: after detach the eventfd is
 * "reset and no longer written").
 *
 * A stop looks at the state (RUNNING), then counts itself in `pushers`,
 * sets the flag and writes the eventfd. The detach's shutdown waits for
 * pushers == 0 before its eventfd reset (weft__hosted_detach), but a stop
 * that looked before the detach began and counted itself after that wait
 * wrote after the reset: the fd readable for good after the detach, and
 * the host's drain could only answer WEFT_ESTATE (a spinning host loop).
 * The stop now re-reads the state after its count, behind a seq_cst fence
 * that pairs with the detach's before its wait
 * (weft__reactor_stop_enter): it answers WEFT_ESTATE and writes nothing.
 *
 * The interleavings are made exact with the linker's --wrap
 * (tests/reactor_stop_detach.cmake):
 *   - late_stop: the stop waits at a gate between its look at the state
 *     and its count (weft__reactor_stop_enter) while the host detaches;
 *   - counted_stop: the stop waits at a gate just before its eventfd
 *     write (counted already); the host opens it from the detach's wait
 *     for the producers (weft__hosted_detach), which waits for the write.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_sync.h"
#include "weft/weft.h"

ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_weft__reactor_stop_enter(weft_reactor *r);
void __real_weft__hosted_detach(weft_reactor *r);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
int __wrap_weft__reactor_stop_enter(weft_reactor *r);
void __wrap_weft__hosted_detach(weft_reactor *r);

static _Thread_local int hold_enter; /* the stop, before its count */
static _Thread_local int hold_write; /* the stop, before its eventfd write */
static _Thread_local int in_detach;  /* the host, inside weft_reactor_detach */
static sync_t g_held, g_go, g_written;
static int g_stop_rc;

int __wrap_weft__reactor_stop_enter(weft_reactor *r) {
  if (hold_enter) {
    hold_enter = 0;
    count_up(&g_held); /* saw RUNNING, not counted yet */
    gate_wait(&g_go);
  }
  return __real_weft__reactor_stop_enter(r);
}

ssize_t __wrap_write(int fd, const void *buf, size_t n) {
  if (!hold_write) return __real_write(fd, buf, n);
  hold_write = 0;
  count_up(&g_held); /* counted, the flag set, about to write */
  gate_wait(&g_go);
  ssize_t r = __real_write(fd, buf, n);
  count_up(&g_written);
  return r;
}

/* The detach is about to wait for the producers: let the stop write. */
void __wrap_weft__hosted_detach(weft_reactor *r) {
  if (in_detach) gate_open(&g_go);
  __real_weft__hosted_detach(r);
}

static void *late_stopper(void *arg) {
  hold_enter = 1;
  g_stop_rc = weft_reactor_stop(arg);
  return NULL;
}

static void *counted_stopper(void *arg) {
  hold_write = 1;
  g_stop_rc = weft_reactor_stop(arg);
  return NULL;
}

static void scene_init(void) {
  sync_init(&g_held);
  sync_init(&g_go);
  sync_init(&g_written);
  g_stop_rc = 1;
}

static void scene_fini(void) {
  sync_fini(&g_held);
  sync_fini(&g_go);
  sync_fini(&g_written);
}

static int fd_readable(int fd) {
  struct pollfd pf = {.fd = fd, .events = POLLIN};
  return poll(&pf, 1, 0);
}

/* The stop looked at the state before the detach and counts itself after
 * it: refused, and the fd stays quiet. */
static void late_stop_writes_nothing_after_detach(void **state) {
  (void)state;
  scene_init();
  weft_reactor *r;
  int fd;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0); /* the host loop sleeps */
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, late_stopper, r), 0);
  count_wait(&g_held, 1); /* it saw RUNNING */
  assert_int_equal(weft_reactor_detach(r), 0); /* not from a drain */
  assert_int_equal(fd_readable(fd), 0);
  gate_open(&g_go); /* the stop goes on: count, flag, write */
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(fd_readable(fd), 0); /* quiet after the detach */
  assert_int_equal(g_stop_rc, WEFT_ESTATE); /* the reactor no longer runs */
  assert_int_equal(weft_reactor_drain(r), WEFT_ESTATE);
  assert_int_equal(weft_reactor_destroy(r), 0);
  scene_fini();
}

/* The stop counted itself before the detach: the detach waits for its
 * write, then resets the eventfd. */
static void counted_stop_is_waited_for_by_detach(void **state) {
  (void)state;
  scene_init();
  weft_reactor *r;
  int fd;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, counted_stopper, r), 0);
  count_wait(&g_held, 1); /* its write not made */
  in_detach = 1;
  assert_int_equal(weft_reactor_detach(r), 0);
  in_detach = 0;
  assert_int_equal(count_get(&g_written), 1); /* before the detach's reset */
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(g_stop_rc, 0);
  assert_int_equal(fd_readable(fd), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
  scene_fini();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(late_stop_writes_nothing_after_detach),
      cmocka_unit_test(counted_stop_is_waited_for_by_detach),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
