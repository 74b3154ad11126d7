/*
 * weft_pool(): Twisted's pool(currentLimit, threadFactory) — a Team whose
 * workers are engine threads. Team semantics through weft_team_*: idle
 * worker first, else create (bounded by current_limit, re-read each time),
 * else backlog; grow/shrink; quit drains the backlog; statistics; destroy.
 * Synchronised with gates and counters; no sleeps.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "engine/engine.h"
#include "weft/worker.h"

#include "test_sync.h"


static _Atomic int g_limit;
static int current_limit(void *ctx) {
  (void)ctx;
  return atomic_load(&g_limit);
}

typedef struct names {
  pthread_mutex_t mu;
  int n;
  char first[64];
} names;
static int naming_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                          const char *name) {
  names *nm = ctx;
  pthread_mutex_lock(&nm->mu);
  if (nm->n++ == 0) snprintf(nm->first, sizeof nm->first, "%s", name);
  pthread_mutex_unlock(&nm->mu);
  return weft__thread_create_named(NULL, t, start, arg, name);
}

static void stats(weft_team *t, int idle, int busy, size_t backlog) {
  weft_team_statistics s;
  assert_int_equal(weft_team_statistics_get(t, &s), 0);
  assert_int_equal(s.idle_workers, idle);
  assert_int_equal(s.busy_workers, busy);
  assert_int_equal(s.backlogged_work, backlog);
}

static void team_semantics(void **state) {
  (void)state;
  names nm = {.mu = PTHREAD_MUTEX_INITIALIZER};
  atomic_store(&g_limit, 2);
  weft_team *t;
  assert_int_equal(weft_pool(&t, current_limit, NULL, naming_factory, &nm, "team"), 0);
  stats(t, 0, 0, 0); /* case 10 */
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  gated g = {.gate = &gate, .started = &started, .done = &done};
  /* Two tasks get a thread each; the third is backlogged at the limit. */
  for (int i = 0; i < 3; i++) assert_int_equal(weft_team_do(t, gated_task, &g), 0);
  count_wait(&started, 2);
  stats(t, 0, 2, 1);
  assert_int_equal(nm.n, 2);
  assert_string_equal(nm.first, "team-0");
  /* grow is bounded by current_limit: nothing more. */
  assert_int_equal(weft_team_grow(t, 3), 0);
  assert_int_equal(nm.n, 2);
  gate_open(&gate);
  count_wait(&done, 3);
  /* shrink(1) quits one idle worker now or the next one to go idle. */
  assert_int_equal(weft_team_shrink(t, 1), 0);
  weft_team_statistics s;
  do {
    assert_int_equal(weft_team_statistics_get(t, &s), 0);
    sched_yield();
  } while (s.idle_workers + s.busy_workers != 1);
  /* quit: new work refused; queued work still runs. */
  assert_int_equal(weft_team_quit(t), 0);
  assert_int_equal(weft_team_quit(t), WEFT_EQUIT);
  assert_int_equal(weft_team_do(t, gated_task, &g), WEFT_EQUIT);
  assert_int_equal(weft_team_grow(t, 1), WEFT_EQUIT);
  assert_int_equal(weft_team_shrink(t, 1), WEFT_EQUIT);
  int rc;
  while ((rc = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield(); /* a worker may not be idle yet */
  assert_int_equal(rc, 0);
}

/* quit with a backlog and a busy worker: the backlog still runs (Team
 * ignores quit for the backlog). */
static void quit_drains_backlog(void **state) {
  (void)state;
  atomic_store(&g_limit, 1);
  weft_team *t;
  assert_int_equal(weft_pool(&t, current_limit, NULL, NULL, NULL, NULL), 0);
  sync_t gate, started, done;
  sync_init(&gate);
  sync_init(&started);
  sync_init(&done);
  gated blocker = {.gate = &gate, .started = &started, .done = &done};
  gated plain = {.done = &done};
  assert_int_equal(weft_team_do(t, gated_task, &blocker), 0);
  count_wait(&started, 1);
  for (int i = 0; i < 20; i++) assert_int_equal(weft_team_do(t, gated_task, &plain), 0);
  assert_int_equal(weft_team_quit(t), 0);
  assert_int_equal(weft_team_destroy(t), WEFT_EBUSY); /* a worker is busy */
  gate_open(&gate);
  count_wait(&done, 21);
  int rc;
  while ((rc = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(rc, 0);
}

/* destroy never blocks: a thread that has been started but has not taken
 * its first task is not busy, yet it will run the backlog; destroy answers
 * WEFT_EBUSY until it has (before, stop waited for it inside destroy). The
 * factory holds the new thread before the pool's code runs until destroy
 * has answered; a watchdog fails the test if destroy blocks instead. */
typedef struct held_start {
  void *(*start)(void *);
  void *arg;
} held_start;
static sync_t g_release_start, g_destroy_answered;
static void *held_main(void *p) {
  held_start h = *(held_start *)p;
  free(p);
  gate_wait(&g_release_start);
  return h.start(h.arg);
}
static int holding_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                           const char *name) {
  (void)ctx;
  (void)name;
  held_start *h = malloc(sizeof *h);
  if (!h) return WEFT_ENOMEM;
  *h = (held_start){start, arg};
  if (pthread_create(t, NULL, held_main, h) != 0) {
    free(h);
    return WEFT_EAGAIN;
  }
  return 0;
}
static void *destroy_watchdog(void *arg) {
  (void)arg;
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 30; /* a failure detector only: the passing path never waits it out */
  pthread_mutex_lock(&g_destroy_answered.mu);
  while (!g_destroy_answered.open) {
    if (pthread_cond_timedwait(&g_destroy_answered.cv, &g_destroy_answered.mu, &dl) != 0) {
      fprintf(stderr, "destroy blocked on a thread that had not started\n");
      abort();
    }
  }
  pthread_mutex_unlock(&g_destroy_answered.mu);
  return NULL;
}
static void destroy_does_not_wait_for_a_starting_thread(void **state) {
  (void)state;
  sync_init(&g_release_start);
  sync_init(&g_destroy_answered);
  pthread_t dog;
  assert_int_equal(pthread_create(&dog, NULL, destroy_watchdog, NULL), 0);
  atomic_store(&g_limit, 1);
  weft_team *t;
  assert_int_equal(weft_pool(&t, current_limit, NULL, holding_factory, NULL, "held"), 0);
  sync_t done;
  sync_init(&done);
  gated plain = {.done = &done};
  for (int i = 0; i < 3; i++) assert_int_equal(weft_team_do(t, gated_task, &plain), 0);
  assert_int_equal(weft_team_destroy(t), WEFT_EBUSY); /* its thread is held, not busy */
  gate_open(&g_destroy_answered);
  pthread_join(dog, NULL);
  gate_open(&g_release_start);
  count_wait(&done, 3); /* quit drains the backlog */
  int rc;
  while ((rc = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(rc, 0);
  sync_fini(&done);
  sync_fini(&g_release_start);
  sync_fini(&g_destroy_answered);
}

/* A limit raised while a task waits in the backlog: the thread the next do()
 * starts runs the oldest waiting task (B), and that do()'s own task (C) waits
 * for a thread to come free. Twisted's pool() gives the new worker the new
 * task and leaves B to a worker that recycles (_coordinateThisTask); the
 * engine's backlog is one FIFO queue (docs/twisted-mapping.md). The counts
 * are Twisted's either way. */
typedef struct ordered {
  sync_t *gate, *started;
  pthread_mutex_t *mu;
  int *order, *n;
  int id;
} ordered;
static void ordered_task(void *arg) {
  ordered *o = arg;
  pthread_mutex_lock(o->mu);
  o->order[(*o->n)++] = o->id;
  pthread_mutex_unlock(o->mu);
  count_up(o->started);
  gate_wait(o->gate);
}
static void raised_limit_runs_the_backlog_first(void **state) {
  (void)state;
  atomic_store(&g_limit, 1);
  weft_team *t;
  assert_int_equal(weft_pool(&t, current_limit, NULL, NULL, NULL, "fifo"), 0);
  sync_t gate, started;
  sync_init(&gate);
  sync_init(&started);
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  int order[3] = {-1, -1, -1}, n = 0;
  ordered a = {&gate, &started, &mu, order, &n, 0};
  ordered b = a, c = a;
  b.id = 1;
  c.id = 2;
  assert_int_equal(weft_team_do(t, ordered_task, &a), 0);
  count_wait(&started, 1);
  assert_int_equal(weft_team_do(t, ordered_task, &b), 0);
  stats(t, 0, 1, 1); /* B waits: the limit allows one thread */
  atomic_store(&g_limit, 2);
  assert_int_equal(weft_team_do(t, ordered_task, &c), 0);
  count_wait(&started, 2);
  pthread_mutex_lock(&mu);
  assert_int_equal(order[0], 0);
  assert_int_equal(order[1], 1); /* Twisted: 2 (C on the new worker) */
  pthread_mutex_unlock(&mu);
  gate_open(&gate);
  count_wait(&started, 3);
  pthread_mutex_lock(&mu);
  assert_int_equal(order[2], 2);
  pthread_mutex_unlock(&mu);
  assert_int_equal(weft_team_quit(t), 0);
  int rc;
  while ((rc = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(rc, 0);
  sync_fini(&gate);
  sync_fini(&started);
}

/* Limit 0: work waits; destroy cancels it (reported to the log, never run). */
static int g_ran;
static void never(void *arg) {
  (void)arg;
  g_ran++;
}
static void destroy_with_backlog(void **state) {
  (void)state;
  atomic_store(&g_limit, 0);
  weft_team *t;
  assert_int_equal(weft_pool(&t, current_limit, NULL, NULL, NULL, "zero"), 0);
  for (int i = 0; i < 5; i++) assert_int_equal(weft_team_do(t, never, NULL), 0);
  stats(t, 0, 0, 5);
  assert_int_equal(weft_team_destroy(t), 0);
  assert_int_equal(g_ran, 0);
}

/* shrink(huge) on an empty team is one debt update, not a loop. */
static void huge_shrink(void **state) {
  (void)state;
  atomic_store(&g_limit, 1);
  weft_team *t;
  assert_int_equal(weft_pool(&t, current_limit, NULL, NULL, NULL, "huge"), 0);
  assert_int_equal(weft_team_shrink(t, 2147483647), 0);
  assert_int_equal(weft_team_shrink(t, 2147483647), 0); /* saturates */
  assert_int_equal(weft_team_destroy(t), 0);
}

static void bad_input(void **state) {
  (void)state;
  weft_team *t;
  assert_int_equal(weft_pool(NULL, current_limit, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_pool(&t, NULL, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_do(NULL, never, NULL), WEFT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(team_semantics),
      cmocka_unit_test(quit_drains_backlog),
      cmocka_unit_test(raised_limit_runs_the_backlog_first),
      cmocka_unit_test(destroy_with_backlog),
      cmocka_unit_test(destroy_does_not_wait_for_a_starting_thread),
      cmocka_unit_test(huge_shrink),
      cmocka_unit_test(bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
