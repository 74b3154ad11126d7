/*
 * weft_team_destroy of a weft_pool() team never blocks (weft/worker.h), also
 * while a reactor drain on another thread holds, in its submit window
 * (lib/engine/submit_window.h), a task that one of its callbacks gave the
 * team: that do() has returned, and the drain is no call on the team.
 * Before the fix destroy went on to the engine's stop, which waits for the
 * window's flush, i.e. for the end of the drain: a callback after the do()
 * that waits for the destroy deadlocked. sched_yield is interposed
 * (pool_destroy_window.cmake): the stop's wait for the windows yields, so a
 * yield by the destroying thread is that wait; the wrapper records it and
 * lets the drain go on, so the unfixed build fails instead of hanging.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_sync.h"
#include "weft/common.h"
#include "weft/reactor.h"
#include "weft/worker.h"

int __real_sched_yield(void);

static pthread_t destroyer;
static _Atomic int armed, destroy_waited;
static latch in_third, release_third;

int __wrap_sched_yield(void) {
  if (atomic_load(&armed) && pthread_equal(pthread_self(), destroyer)) {
    /* destroy waits for the drain's window: record it, free the drain */
    if (!atomic_exchange(&destroy_waited, 1)) latch_count_down(&release_third);
  }
  return __real_sched_yield();
}

static int limit_one(void *ctx) {
  (void)ctx;
  return 1;
}

static _Atomic int ran;
static void task(void *arg) {
  (void)arg;
  atomic_fetch_add(&ran, 1);
}

static weft_team *team;
static weft_reactor *reactor;

static void first(void *arg) { (void)arg; }
static void second(void *arg) {
  (void)arg;
  /* The drain's window is open (from its second call on): held there. */
  assert_int_equal(weft_team_do(team, task, NULL), 0);
}
static void third(void *arg) {
  (void)arg;
  latch_count_down(&in_third);
  latch_wait(&release_third); /* the destroy, or its wait for our window */
}

static void *drainer(void *arg) {
  (void)arg;
  int fd;
  assert_int_equal(weft_reactor_attach(reactor, &fd), 0);
  int n = weft_reactor_drain(reactor);
  assert_true(n >= 3);
  assert_int_equal(weft_reactor_detach(reactor), 0);
  return NULL;
}

static void destroy_while_a_drain_holds_a_task_for_the_team(void **state) {
  (void)state;
  latch_init(&in_third, 1);
  latch_init(&release_third, 1);
  destroyer = pthread_self();
  assert_int_equal(weft_pool(&team, limit_one, NULL, NULL, NULL, "pdw"), 0);
  assert_int_equal(weft_reactor_create(&reactor), 0);
  assert_int_equal(weft_reactor_call_from_thread(reactor, first, NULL), 0);
  assert_int_equal(weft_reactor_call_from_thread(reactor, second, NULL), 0);
  assert_int_equal(weft_reactor_call_from_thread(reactor, third, NULL), 0);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, drainer, NULL), 0);
  latch_wait(&in_third); /* second's do() has returned */
  atomic_store(&armed, 1);
  int rc = weft_team_destroy(team);
  atomic_store(&armed, 0);
  assert_int_equal(atomic_load(&destroy_waited), 0); /* it never waited for the drain */
  assert_int_equal(rc, WEFT_EBUSY);                  /* nothing freed */
  latch_count_down(&release_third);
  assert_int_equal(pthread_join(th, NULL), 0);
  /* The drain's flush found the team quit: the task was cancelled (logged). */
  assert_int_equal(weft_team_destroy(team), 0);
  assert_int_equal(atomic_load(&ran), 0);
  assert_int_equal(weft_reactor_destroy(reactor), 0);
  latch_destroy(&in_third);
  latch_destroy(&release_third);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(destroy_while_a_drain_holds_a_task_for_the_team),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
