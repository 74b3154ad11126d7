/*
 * An attached reactor's detach against a producer still on its way to its
 * eventfd write.
 *
 * docs/lifecycle.md: after weft_reactor_detach the fd "turns readable no
 * more for the reactor's own reasons (... the eventfd is reset and no
 * longer written)", so a host may keep watching it until destroy. A
 * call_from_thread on another thread that read `sleeping == 1` (the host
 * loop asleep between drains) links its node, then writes the eventfd. The
 * detach's shutdown ran the node and reset the eventfd, but did not wait
 * for that write: made after the reset, it left the fd readable for good,
 * and the host's drain could only answer WEFT_ESTATE (a spinning host
 * loop). The shutdown now waits for such producers (the pushers count, as
 * destroy does) before its reset.
 *
 * The interleaving is made exact with the linker's --wrap
 * (tests/reactor_detach_late_write.cmake): the producer's eventfd write
 * waits at a gate; the host opens it from the detach's wait for the
 * producers (weft__hosted_detach) or, where the shutdown does not
 * wait (the defect), just after its reset (read), and then waits for the
 * write to be made.
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
ssize_t __real_read(int fd, void *buf, size_t n);
void __real_weft__hosted_detach(weft_reactor *r);
ssize_t __wrap_write(int fd, const void *buf, size_t n);
ssize_t __wrap_read(int fd, void *buf, size_t n);
void __wrap_weft__hosted_detach(weft_reactor *r);

static _Thread_local int hold_write; /* the producer's eventfd write */
static _Thread_local int in_detach;  /* the host, inside weft_reactor_detach */
static sync_t g_in_write, g_go, g_written;
static int g_ran;

ssize_t __wrap_write(int fd, const void *buf, size_t n) {
  if (!hold_write) return __real_write(fd, buf, n);
  hold_write = 0;
  count_up(&g_in_write); /* linked, about to write */
  gate_wait(&g_go);
  ssize_t r = __real_write(fd, buf, n);
  count_up(&g_written);
  return r;
}

/* The detach waits for the producers: let ours write now. */
void __wrap_weft__hosted_detach(weft_reactor *r) {
  if (in_detach) gate_open(&g_go);
  __real_weft__hosted_detach(r);
}

/* The detach's eventfd reset: after it, the producer's write is made (at
 * once if the detach did not wait for it; made already if it did). */
ssize_t __wrap_read(int fd, void *buf, size_t n) {
  ssize_t r = __real_read(fd, buf, n);
  if (in_detach) {
    gate_open(&g_go);
    count_wait(&g_written, 1);
  }
  return r;
}

static void late_call(void *arg) {
  (void)arg;
  g_ran++;
}

static void *producer(void *arg) {
  hold_write = 1;
  assert_int_equal(weft_reactor_call_from_thread(arg, late_call, NULL), 0);
  return NULL;
}

static void detach_waits_for_a_late_write(void **state) {
  (void)state;
  sync_init(&g_in_write);
  sync_init(&g_go);
  sync_init(&g_written);
  g_ran = 0;
  weft_reactor *r;
  int fd;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0); /* the host loop sleeps */
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, producer, r), 0);
  count_wait(&g_in_write, 1); /* its node is linked, its write not made */
  in_detach = 1;
  assert_int_equal(weft_reactor_detach(r), 0); /* not from a drain */
  in_detach = 0;
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(g_ran, 1);          /* the shutdown ran the call */
  assert_int_equal(count_get(&g_written), 1);
  struct pollfd pf = {.fd = fd, .events = POLLIN};
  assert_int_equal(poll(&pf, 1, 0), 0); /* quiet after the detach */
  assert_int_equal(weft_reactor_destroy(r), 0);
  sync_fini(&g_in_write);
  sync_fini(&g_go);
  sync_fini(&g_written);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(detach_waits_for_a_late_write),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
