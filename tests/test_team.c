/*
 * The generic Team (lib/workers/team.c). Spec cases 9-21 use Twisted's fixture:
 * memory workers as coordinator and as workers, each wrapped in a
 * "contextual worker" (a user-defined weft_worker through the ops table)
 * that records which worker runs a task. Then a stress run over real thread
 * workers with the lock-free coordinator.
 */
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/atomic.h"
#include "engine/observer.h"
#include "test_check.h"
#include "test_sync.h"
#include "weft/worker.h"

/* --------------------------------------------------------------- fixture */

#define MAXW 64
#define MAXCALLS 4096

typedef struct cw {
  weft_worker base;
  weft_worker *inner; /* a memory worker */
  int id;             /* 0: the coordinator; k: the k-th created worker */
  int quit;
  int released;
  int fail_next_do;
  int fail_always; /* every do() fails from now on (a coordinator that refuses) */
} cw;

typedef struct ctxcall {
  int id;
  weft_fn fn;
  void *arg;
} ctxcall;

static cw g_coord;
static cw g_workers[MAXW];
static int g_nworkers;
static int g_limit; /* createWorker returns NULL once this many exist; -1: none */
static int g_current = -1; /* "context": the id of the worker running a task */
static ctxcall g_calls[MAXCALLS];
static int g_ncalls;
static int g_failures;
static int g_last_failure;
static int g_perform_on_next_coord_do;
static weft_team *g_team;

static void ctx_trampoline(void *arg) {
  ctxcall *c = arg;
  int saved = g_current;
  g_current = c->id;
  c->fn(c->arg);
  g_current = saved;
}

static void perform_all(void);

static int cw_do(weft_worker *w, weft_fn fn, void *arg) {
  cw *c = (cw *)w;
  if (c->fail_always) return WEFT_ENOMEM;
  if (c->fail_next_do) {
    c->fail_next_do = 0;
    return WEFT_ENOMEM;
  }
  if (c == &g_coord && g_perform_on_next_coord_do) {
    g_perform_on_next_coord_do = 0;
    perform_all(); /* all outstanding work happens "concurrently" here */
  }
  assert_true(g_ncalls < MAXCALLS);
  ctxcall *call = &g_calls[g_ncalls++];
  call->id = c->id;
  call->fn = fn;
  call->arg = arg;
  return weft_worker_do(c->inner, ctx_trampoline, call);
}

static int g_idle_seen_at_quit[MAXW]; /* the team's idle count as worker k's quit ran; -1: not seen */
static int g_watch_quits;

static weft_team_statistics stats(void);

static int cw_quit(weft_worker *w) {
  cw *c = (cw *)w;
  c->quit = 1;
  if (g_watch_quits && c->id > 0) g_idle_seen_at_quit[c->id - 1] = stats().idle_workers;
  return weft_worker_quit(c->inner);
}

static void cw_release(weft_worker *w) { ((cw *)w)->released = 1; }

static const weft_worker_ops cw_ops = {cw_do, cw_quit, cw_release};

static void cw_init(cw *c, int id) {
  memset(c, 0, sizeof *c);
  assert_int_equal(weft_memory_worker_create(&c->inner), 0);
  assert_int_equal(weft_worker_init(&c->base, &cw_ops), 0);
  c->id = id;
}

static weft_worker *create_worker(void *ctx) {
  (void)ctx;
  if (g_limit >= 0 && g_nworkers >= g_limit) return NULL;
  assert_true(g_nworkers < MAXW);
  cw *c = &g_workers[g_nworkers];
  cw_init(c, g_nworkers + 1);
  g_nworkers++;
  return &c->base;
}

static void log_failure(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  g_failures++;
  g_last_failure = err;
}

static int coordinate(void) {
  int did = 0;
  while (weft_memory_worker_perform(g_coord.inner)) did = 1;
  return did;
}

static void perform_all(void) {
  int continuing = 1;
  while (continuing) {
    continuing = coordinate();
    for (int i = 0; i < g_nworkers; i++) weft_memory_worker_perform(g_workers[i].inner);
    continuing = coordinate() || continuing;
  }
}

static int unquit_workers(void) {
  int n = 0;
  for (int i = 0; i < g_nworkers; i++) n += !g_workers[i].quit;
  return n;
}

static weft_team_statistics stats(void) {
  weft_team_statistics s;
  assert_int_equal(weft_team_statistics_get(g_team, &s), 0);
  return s;
}

static int setup(void **state) {
  (void)state;
  g_nworkers = 0;
  g_limit = -1;
  g_current = -1;
  g_ncalls = 0;
  g_failures = 0;
  g_perform_on_next_coord_do = 0;
  cw_init(&g_coord, 0);
  assert_int_equal(weft_team_create(&g_team, &g_coord.base, create_worker, NULL, log_failure, NULL), 0);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  int r = weft_team_destroy(g_team);
  if (r == WEFT_EBUSY) { /* the coordinator has not run quit's step yet */
    perform_all();
    r = weft_team_destroy(g_team);
  }
  assert_int_equal(r, 0);
  assert_true(g_coord.released); /* the team owned its coordinator */
  for (int i = 0; i < g_nworkers; i++) {
    assert_true(g_workers[i].quit);     /* every worker was quit ... */
    assert_true(g_workers[i].released); /* ... and released by the team */
    weft_worker_release(g_workers[i].inner);
  }
  weft_worker_release(g_coord.inner);
  return 0;
}

/* ----------------------------------------------------- cases 9 to 21 */

static int who_ran;
static void record_worker(void *arg) {
  (void)arg;
  who_ran = g_current;
}

/* case 9: test_doDoesWorkInWorker */
static void do_does_work_in_worker(void **state) {
  (void)state;
  who_ran = -1;
  assert_int_equal(weft_team_do(g_team, record_worker, NULL), 0);
  coordinate();
  assert_int_equal(stats().busy_workers, 1);
  perform_all();
  assert_int_equal(who_ran, 1);
  assert_int_equal(stats().busy_workers, 0);
}

/* case 10: test_initialStatistics */
static void initial_statistics(void **state) {
  (void)state;
  weft_team_statistics s = stats();
  assert_int_equal(s.idle_workers, 0);
  assert_int_equal(s.busy_workers, 0);
  assert_int_equal(s.backlogged_work, 0);
}

/* case 11: test_growCreatesIdleWorkers */
static void grow_creates_idle_workers(void **state) {
  (void)state;
  assert_int_equal(weft_team_grow(g_team, 5), 0);
  perform_all();
  assert_int_equal(g_nworkers, 5);
}

/* case 12: test_growCreateLimit */
static void grow_create_limit(void **state) {
  (void)state;
  g_limit = 3;
  assert_int_equal(weft_team_grow(g_team, 5), 0);
  perform_all();
  assert_int_equal(g_nworkers, 3);
  assert_int_equal(stats().idle_workers, 3);
}

/* case 13: test_shrinkQuitsWorkers */
static void shrink_quits_workers(void **state) {
  (void)state;
  assert_int_equal(weft_team_grow(g_team, 5), 0);
  perform_all();
  assert_int_equal(weft_team_shrink(g_team, 3), 0);
  perform_all();
  assert_int_equal(unquit_workers(), 2);
}

/* A worker the team quits is no longer counted idle when its quit runs, as
 * Twisted's _quitIdlers removes it from the idle list before quitting it:
 * statistics read from the quit (a worker's own bookkeeping) see 4, 3 and 2
 * idle workers as three of 5 quit, not 5, 4 and 3. */
static void shrink_counts_a_quit_worker_gone(void **state) {
  (void)state;
  assert_int_equal(weft_team_grow(g_team, 5), 0);
  perform_all();
  assert_int_equal(stats().idle_workers, 5);
  for (int i = 0; i < MAXW; i++) g_idle_seen_at_quit[i] = -1;
  g_watch_quits = 1;
  assert_int_equal(weft_team_shrink(g_team, 3), 0);
  perform_all();
  g_watch_quits = 0;
  int seen[3], n = 0;
  for (int i = 0; i < 5; i++)
    if (g_idle_seen_at_quit[i] >= 0) seen[n++] = g_idle_seen_at_quit[i];
  assert_int_equal(n, 3);
  /* By worker index; the last idle quits first: 2, 3, 4 (5 before the fix
   * for the first to quit, and so on). */
  for (int k = 0; k < 3; k++) assert_int_equal(seen[k], 2 + k);
  assert_int_equal(stats().idle_workers, 2);
}

/* case 14: test_shrinkToZero */
static void shrink_to_zero(void **state) {
  (void)state;
  assert_int_equal(weft_team_grow(g_team, 10), 0);
  perform_all();
  assert_int_equal(unquit_workers(), 10);
  assert_int_equal(weft_team_shrink(g_team, -1), 0);
  assert_int_equal(unquit_workers(), 10); /* nothing until the coordinator runs */
  perform_all();
  assert_int_equal(unquit_workers(), 0);
}

static int times_ran;
static void count_run(void *arg) {
  (void)arg;
  times_ran++;
}

/* case 15: test_moreWorkWhenNoWorkersAvailable */
static void more_work_when_no_workers_available(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_grow(g_team, 3), 0);
  coordinate();
  for (int i = 0; i < 3; i++) assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(stats().idle_workers, 0);
  g_limit = 0; /* no more workers */
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(stats().idle_workers, 0);
  assert_int_equal(stats().backlogged_work, 1);
  perform_all();
  assert_int_equal(stats().backlogged_work, 0);
  assert_int_equal(times_ran, 4);
}

/* The backlog is FIFO (weft/worker.h): with one worker, three tasks run
 * in the order they were submitted. */
static int g_ran_order[4], g_ran_n;
static void record_index(void *arg) { g_ran_order[g_ran_n++] = (int)(intptr_t)arg; }

static void backlog_runs_in_submission_order(void **state) {
  (void)state;
  g_ran_n = 0;
  g_limit = 1;
  for (int i = 0; i < 3; i++)
    assert_int_equal(weft_team_do(g_team, record_index, (void *)(intptr_t)i), 0);
  coordinate();
  assert_int_equal(stats().backlogged_work, 2);
  perform_all();
  assert_int_equal(g_ran_n, 3);
  for (int i = 0; i < 3; i++) assert_int_equal(g_ran_order[i], i);
}

/* Twisted's _coordinateThisTask: a do() that finds a worker (idle, or made
 * now) runs its own task there; the backlog waits for a worker to recycle.
 * With no worker allowed, A is backlogged; once one may be made, B's do()
 * runs B on it, and A runs when that worker recycles: B, then A (weft ran
 * the backlog's A first and queued B; found by review against Twisted's
 * Team). */
static void new_worker_takes_the_new_task(void **state) {
  (void)state;
  g_ran_n = 0;
  g_limit = 0;
  assert_int_equal(weft_team_do(g_team, record_index, (void *)(intptr_t)0), 0); /* A */
  coordinate();
  assert_int_equal(stats().backlogged_work, 1);
  g_limit = 1;
  assert_int_equal(weft_team_do(g_team, record_index, (void *)(intptr_t)1), 0); /* B */
  coordinate();
  assert_int_equal(stats().busy_workers, 1);
  assert_int_equal(stats().backlogged_work, 1);
  perform_all();
  assert_int_equal(g_ran_n, 2);
  assert_int_equal(g_ran_order[0], 1);
  assert_int_equal(g_ran_order[1], 0);
}

/* case 16: test_exceptionInTask. A C task cannot raise; the failure the
 * Team itself observes — a worker's do() failing — is logged exactly once,
 * and the task is not lost: it is backlogged and run by another worker. */
static void failure_is_logged_once(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_grow(g_team, 1), 0);
  coordinate();
  g_workers[0].fail_next_do = 1;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(g_failures, 1);
  assert_int_equal(g_last_failure, WEFT_ENOMEM);
  assert_true(g_workers[0].quit); /* the failing worker was dropped */
  assert_int_equal(stats().backlogged_work, 1);
  assert_int_equal(weft_team_grow(g_team, 1), 0); /* a new worker takes the backlog */
  perform_all();
  assert_int_equal(times_ran, 1);
  assert_int_equal(g_failures, 1);
}

/* case 17: test_quit */
static void quit_test(void **state) {
  (void)state;
  assert_int_equal(weft_team_quit(g_team), 0);
  assert_int_equal(weft_team_quit(g_team), WEFT_EQUIT);
  assert_int_equal(weft_team_do(g_team, count_run, NULL), WEFT_EQUIT);
  assert_int_equal(weft_team_grow(g_team, 1), WEFT_EQUIT);
  assert_int_equal(weft_team_shrink(g_team, 1), WEFT_EQUIT);
}

/* case 18: test_quitQuits */
static void quit_quits(void **state) {
  (void)state;
  times_ran = 0;
  for (int i = 0; i < 10; i++) assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  perform_all();
  assert_int_equal(times_ran, 10);
  assert_int_equal(weft_team_quit(g_team), 0);
  perform_all();
  assert_int_equal(unquit_workers(), 0);
  assert_int_equal(weft_worker_quit(&g_coord.base), WEFT_EQUIT); /* coordinator quit */
}

/* case 19: test_quitQuitsLaterWhenBusy */
static void quit_quits_later_when_busy(void **state) {
  (void)state;
  assert_int_equal(weft_team_grow(g_team, 10), 0);
  perform_all();
  for (int i = 0; i < 5; i++) assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(weft_team_quit(g_team), 0);
  coordinate();
  assert_int_equal(unquit_workers(), 5);
  perform_all();
  assert_int_equal(unquit_workers(), 0);
  assert_int_equal(weft_worker_quit(&g_coord.base), WEFT_EQUIT);
}

/* case 20: test_quitConcurrentWithWorkHappening: all outstanding work runs
 * between the quit flag being set and quit's coordinator submission. */
static void quit_concurrent_with_work_happening(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  g_perform_on_next_coord_do = 1;
  assert_int_equal(weft_team_quit(g_team), 0);
  assert_int_equal(times_ran, 1);
  assert_int_equal(weft_team_quit(g_team), WEFT_EQUIT);
  assert_int_equal(weft_team_do(g_team, count_run, NULL), WEFT_EQUIT);
  perform_all();
  assert_int_equal(unquit_workers(), 0);
}

/* case 21: test_shrinkWhenBusy */
static void shrink_when_busy(void **state) {
  (void)state;
  for (int i = 0; i < 10; i++) assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(g_nworkers, 10);
  assert_int_equal(weft_team_shrink(g_team, 7), 0);
  coordinate();
  assert_int_equal(unquit_workers(), 10);
  perform_all();
  assert_int_equal(unquit_workers(), 3);
}

/* shrink(-1) with busy workers (weft/worker.h: "quit n workers, idle ones
 * now, busy ones when they next go idle; n < 0 means all", Twisted's
 * shrink(None), whose _quitIdlers takes n = idle + busy): three busy
 * workers all quit once their tasks are done. shrink_to_zero has idle
 * workers only. Fails if n < 0 counts the idle workers alone (team.c,
 * quit_idlers): no debt is left for the busy ones, and all 3 stay. */
static void shrink_all_quits_busy_workers_when_idle(void **state) {
  (void)state;
  times_ran = 0;
  for (int i = 0; i < 3; i++) assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(g_nworkers, 3);
  assert_int_equal(stats().busy_workers, 3);
  assert_int_equal(weft_team_shrink(g_team, -1), 0);
  coordinate();
  assert_int_equal(unquit_workers(), 3); /* busy: each finishes its task first */
  perform_all();
  assert_int_equal(times_ran, 3);
  assert_int_equal(unquit_workers(), 0);
}

/* As Twisted's Team: shrink(3) on an empty team leaves a debt of 3; two
 * sequential do()s create two workers that each quit after one task. */
static void shrink_debt_quits_future_workers(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_shrink(g_team, 3), 0);
  perform_all();
  for (int i = 0; i < 2; i++) {
    assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
    perform_all();
  }
  assert_int_equal(times_ran, 2);
  assert_int_equal(g_nworkers, 2);
  assert_int_equal(unquit_workers(), 0);
  /* probe: grow(2) with the remaining debt of 1 leaves 1 idle worker */
  assert_int_equal(weft_team_grow(g_team, 2), 0);
  perform_all();
  assert_int_equal(stats().idle_workers, 1);
}

/* Backlog with no worker to run it: quit cannot run it, destroy cancels
 * every task through log_fn (Twisted drops it silently). */
static void destroy_cancels_backlog(void **state) {
  (void)state;
  g_limit = 0;
  for (int i = 0; i < 3; i++) assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  perform_all();
  assert_int_equal(stats().backlogged_work, 3);
  assert_int_equal(weft_team_quit(g_team), 0);
  perform_all();
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(g_failures, 3);
  assert_int_equal(g_last_failure, WEFT_ECANCELED);
  /* the fixture's teardown must not destroy it again */
  weft_team *dummy;
  assert_int_equal(weft_team_create(&dummy, NULL, create_worker, NULL, NULL, NULL), 0);
  g_team = dummy;
}

/* destroy while workers are busy: WEFT_EBUSY, nothing freed. */
static void destroy_busy(void **state) {
  (void)state;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  /* teardown performs the work and destroys */
}

/* The fixture's teardown destroys g_team: give it a fresh one after a test
 * that destroyed its own. */
static void replace_destroyed_team(void) {
  weft_team *dummy;
  assert_int_equal(weft_team_create(&dummy, NULL, create_worker, NULL, NULL, NULL), 0);
  g_team = dummy;
}

/* A worker's do() fails while the team is quitting: the task goes back to
 * the backlog, the worker is dropped, and with no busy worker left the team
 * must still finish, so that destroy cancels the task (one WEFT_ECANCELED)
 * and succeeds. Before the fix the team never finished: destroy answered
 * WEFT_EBUSY for ever. */
static void worker_do_fails_while_quitting(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_grow(g_team, 1), 0);
  perform_all();
  g_limit = 1;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0); /* A: to worker 1 */
  coordinate();
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0); /* B: backlogged */
  coordinate();
  assert_int_equal(stats().busy_workers, 1);
  assert_int_equal(stats().backlogged_work, 1);
  assert_int_equal(weft_team_quit(g_team), 0);
  coordinate(); /* quit's step: worker 1 is busy, the team is not finished */
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  /* A runs; worker 1 recycles, takes B from the backlog, and its do() fails. */
  g_workers[0].fail_next_do = 1;
  perform_all();
  assert_int_equal(times_ran, 1);
  assert_true(g_workers[0].quit); /* dropped */
  assert_int_equal(g_failures, 1);
  assert_int_equal(g_last_failure, WEFT_ENOMEM);
  assert_int_equal(weft_worker_quit(&g_coord.base), WEFT_EQUIT); /* the team finished */
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(g_failures, 2); /* B: cancelled, not lost */
  assert_int_equal(g_last_failure, WEFT_ECANCELED);
  assert_int_equal(times_ran, 1);
  replace_destroyed_team();
}

/* A worker's do() fails while another worker is idle: the failed one is
 * dropped and the idle one takes the task at once (it waited in the backlog
 * for a busy worker that would never come, and quit then cancelled it). */
static void failed_do_goes_to_an_idle_worker(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_grow(g_team, 2), 0);
  perform_all();
  assert_int_equal(stats().idle_workers, 2);
  g_workers[1].fail_next_do = 1; /* the newest idle worker is taken first */
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(g_failures, 1);
  assert_true(g_workers[1].quit); /* dropped */
  assert_false(g_workers[0].quit);
  assert_int_equal(stats().backlogged_work, 0);
  assert_int_equal(stats().busy_workers, 1);
  perform_all();
  assert_int_equal(times_ran, 1);
  assert_int_equal(stats().idle_workers, 1);
}

/* A task a failed do() put back while no worker was left waits at the head
 * of the backlog: the next do() that finds a worker runs it first (FIFO),
 * then its own. */
static void failed_do_then_next_do_keeps_order(void **state) {
  (void)state;
  g_ran_n = 0;
  assert_int_equal(weft_team_grow(g_team, 1), 0);
  perform_all();
  g_workers[0].fail_next_do = 1;
  assert_int_equal(weft_team_do(g_team, record_index, (void *)(intptr_t)0), 0);
  coordinate();
  assert_int_equal(g_failures, 1);
  assert_int_equal(stats().backlogged_work, 1);
  assert_int_equal(weft_team_do(g_team, record_index, (void *)(intptr_t)1), 0); /* a new worker */
  perform_all();
  assert_int_equal(g_ran_n, 2);
  assert_int_equal(g_ran_order[0], 0);
  assert_int_equal(g_ran_order[1], 1);
  assert_int_equal(stats().backlogged_work, 0);
}

/* The coordinator refuses quit's step once (a transient failure): quit
 * reports it, and destroy submits the step again; once the coordinator has
 * run it the team is finished and destroy succeeds. Before the fix nothing
 * ever submitted the step again: destroy answered WEFT_EBUSY for ever. */
static void quit_refused_once_destroy_retries(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  perform_all();
  assert_int_equal(times_ran, 1);
  assert_int_equal(stats().idle_workers, 1);
  g_coord.fail_next_do = 1;
  assert_int_equal(weft_team_quit(g_team), WEFT_ENOMEM);
  assert_int_equal(g_failures, 1);
  assert_int_equal(weft_team_quit(g_team), WEFT_EQUIT);
  assert_int_equal(weft_team_do(g_team, count_run, NULL), WEFT_EQUIT);
  /* destroy resubmits the step; the memory coordinator runs it only when
   * performed, so this call must answer WEFT_EBUSY, not free the team. */
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  perform_all();
  assert_true(g_workers[0].quit);
  assert_int_equal(weft_worker_quit(&g_coord.base), WEFT_EQUIT);
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(g_failures, 1);
  replace_destroyed_team();
}

/* The coordinator refuses every item from some point on. With no worker
 * busy and nothing left on the coordinator, destroy finishes the team
 * itself: idle workers are quit and released, the backlog is cancelled
 * through log_fn, and destroy succeeds. */
static void quit_refused_for_good_destroy_finishes(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  perform_all();
  assert_int_equal(stats().idle_workers, 1);
  g_coord.fail_always = 1;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), WEFT_ENOMEM); /* refused: not accepted */
  assert_int_equal(weft_team_quit(g_team), WEFT_ENOMEM);
  assert_int_equal(g_failures, 1); /* quit's refusal */
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(times_ran, 1);
  assert_true(g_workers[0].quit); /* teardown also checks it was released */
  assert_true(g_coord.quit);
  assert_int_equal(g_failures, 1);
  replace_destroyed_team();
}

/* destroy, running the refused quit step itself, quits the idle workers;
 * a worker's release callback that calls destroy again (the last worker
 * gone: tear the team down) must get WEFT_EBUSY. The guard was set only
 * after the retry, so the nested destroy finished and freed the team under
 * the outer one's loop over the idle workers (found by review; the
 * AddressSanitizer run reports the use after free). */
static int g_ra_fail_acquire, g_ra_inner_rc, g_ra_reentered, g_ra_released;
static weft_team *g_ra_team;
static int ra_acquire(void *lock) {
  (void)lock;
  return g_ra_fail_acquire ? WEFT_EAGAIN : 0;
}
static int ra_unlock(void *lock) {
  (void)lock;
  return 0;
}
static const weft_lock_ops ra_lock_ops = {ra_acquire, ra_unlock};
static int ra_do(weft_worker *w, weft_fn fn, void *arg) {
  (void)w;
  fn(arg);
  return 0;
}
static int ra_quit(weft_worker *w) {
  (void)w;
  return 0;
}
static void ra_release(weft_worker *w) {
  g_ra_released++;
  if (!g_ra_reentered) {
    g_ra_reentered = 1;
    g_ra_inner_rc = weft_team_destroy(g_ra_team);
  }
  free(w);
}
static const weft_worker_ops ra_ops = {ra_do, ra_quit, ra_release};
static weft_worker *ra_create(void *ctx) {
  (void)ctx;
  weft_worker *w = calloc(1, sizeof *w);
  if (w) weft_worker_init(w, &ra_ops);
  return w;
}
static void ra_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)err;
  (void)what;
}

static void destroy_from_a_release_during_destroy(void **state) {
  (void)state;
  g_ra_fail_acquire = g_ra_reentered = g_ra_released = 0;
  g_ra_inner_rc = 99;
  weft_worker *coord;
  assert_int_equal(weft_lock_worker_create(&coord, &ra_lock_ops, NULL), 0);
  assert_int_equal(weft_team_create(&g_ra_team, coord, ra_create, NULL, ra_log, NULL), 0);
  assert_int_equal(weft_team_grow(g_ra_team, 3), 0);
  g_ra_fail_acquire = 1; /* the coordinator refuses from now on */
  assert_true(weft_team_quit(g_ra_team) != 0);
  assert_int_equal(weft_team_destroy(g_ra_team), 0); /* runs the quit step itself */
  assert_int_equal(g_ra_inner_rc, WEFT_EBUSY);
  assert_int_equal(g_ra_released, 3);
}

/* Same, with a backlog: destroy cancels each backlogged task through log_fn. */
static void quit_refused_for_good_backlog_cancelled(void **state) {
  (void)state;
  times_ran = 0;
  g_limit = 0;
  for (int i = 0; i < 2; i++) assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  perform_all();
  assert_int_equal(stats().backlogged_work, 2);
  g_coord.fail_always = 1;
  assert_int_equal(weft_team_quit(g_team), WEFT_ENOMEM);
  assert_int_equal(g_failures, 1);
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(g_failures, 3);
  assert_int_equal(g_last_failure, WEFT_ECANCELED);
  assert_int_equal(times_ran, 0);
  replace_destroyed_team();
}

/* A refused quit step while a worker is busy: destroy cannot finish the
 * team itself (the worker's idle-and-pending step is still to come), so it
 * answers WEFT_EBUSY and resubmits the step; once the coordinator accepts
 * again everything completes. */
static void quit_refused_while_busy(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(stats().busy_workers, 1);
  g_coord.fail_always = 1;
  assert_int_equal(weft_team_quit(g_team), WEFT_ENOMEM);
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  g_coord.fail_always = 0;
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY); /* step accepted, not run */
  perform_all();
  assert_int_equal(times_ran, 1);
  assert_int_equal(weft_team_destroy(g_team), 0);
  replace_destroyed_team();
}

/* A team on the lock-free coordinator with one task handed to its one
 * worker (the dispatch runs inline in do()); the counters reset. */
static void lockfree_team_with_a_task(weft_worker **coord, weft_team **t) {
  g_nworkers = 0;
  g_limit = -1;
  g_failures = 0;
  times_ran = 0;
  assert_int_equal(weft_coordinator_create(coord), 0);
  assert_int_equal(weft_team_create(t, *coord, create_worker, NULL, log_failure, NULL), 0);
  assert_int_equal(weft_team_do(*t, count_run, NULL), 0); /* runs the dispatch inline */
  assert_int_equal(g_nworkers, 1);
}

/* The lock-free coordinator refuses only once it is quit: here by someone
 * other than the team (a misuse, but the team must not be stuck by it). With
 * no worker busy, destroy finishes the team itself. */
static void quit_refused_lockfree_coordinator(void **state) {
  (void)state;
  weft_worker *coord;
  weft_team *t;
  lockfree_team_with_a_task(&coord, &t);
  assert_int_equal(weft_memory_worker_perform(g_workers[0].inner), 1); /* task + idle step */
  assert_int_equal(times_ran, 1);
  assert_int_equal(weft_worker_quit(coord), 0); /* behind the team's back */
  assert_int_equal(weft_team_quit(t), WEFT_EQUIT); /* the coordinator's refusal */
  assert_int_equal(g_failures, 1);
  assert_int_equal(weft_team_destroy(t), 0);
  assert_true(g_workers[0].quit);
  assert_true(g_workers[0].released);
  weft_worker_release(g_workers[0].inner);
}


/* ------------------------- a refused idle-and-pending step (dowork_cb) */

/* The coordinator refuses a worker's idle-and-pending step once (a
 * transient failure): the refusal is logged, the worker stays busy, and
 * destroy submits the step again with quit's; once the coordinator has run
 * both the team is finished and destroy succeeds, the task run once. Before
 * the fix the worker was lost: destroy answered WEFT_EBUSY for ever. */
static void idle_refused_once_destroy_retries(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(stats().busy_workers, 1);
  g_coord.fail_next_do = 1; /* the worker's step, submitted from its task's end */
  assert_int_equal(weft_memory_worker_perform(g_workers[0].inner), 1);
  assert_int_equal(times_ran, 1);
  assert_int_equal(g_failures, 1);
  assert_int_equal(g_last_failure, WEFT_ENOMEM);
  assert_int_equal(stats().busy_workers, 1); /* parked, not lost */
  /* destroy quits and resubmits the step; the memory coordinator runs both
   * only when performed: WEFT_EBUSY, nothing freed. */
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  perform_all();
  assert_true(g_workers[0].quit);
  assert_int_equal(weft_worker_quit(&g_coord.base), WEFT_EQUIT); /* the team finished */
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(times_ran, 1);
  assert_int_equal(g_failures, 1); /* retries are not logged */
  assert_int_equal(g_nworkers, 1);
  replace_destroyed_team();
}

/* The next do() resubmits a refused step: the worker recycles and runs the
 * new task. With a limit of one worker, before the fix the new task stayed
 * backlogged for ever behind the lost worker. */
static void idle_refused_next_do_resubmits(void **state) {
  (void)state;
  times_ran = 0;
  g_limit = 1;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  g_coord.fail_next_do = 1;
  assert_int_equal(weft_memory_worker_perform(g_workers[0].inner), 1);
  assert_int_equal(g_failures, 1);
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  perform_all();
  assert_int_equal(times_ran, 2);
  assert_int_equal(g_nworkers, 1);
  assert_int_equal(stats().busy_workers, 0);
  assert_int_equal(stats().idle_workers, 1);
  assert_int_equal(stats().backlogged_work, 0);
  assert_int_equal(g_failures, 1);
  /* teardown: quit, destroy; the worker is quit and released */
}

/* The coordinator refuses everything from the worker's step on: destroy,
 * its resubmissions refused, runs the step itself once nothing is
 * outstanding on the coordinator (the worker comes idle, takes nothing from
 * the backlog), then quit's step (the worker is quit); the backlogged task
 * is cancelled through log_fn, not lost. */
static void idle_refused_for_good_destroy_finishes(void **state) {
  (void)state;
  times_ran = 0;
  g_limit = 1;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0); /* A: worker 1 */
  coordinate();
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0); /* B: backlogged */
  coordinate();
  assert_int_equal(stats().backlogged_work, 1);
  g_coord.fail_always = 1;
  assert_int_equal(weft_memory_worker_perform(g_workers[0].inner), 1);
  assert_int_equal(times_ran, 1);
  assert_int_equal(g_failures, 1); /* the step's refusal */
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(g_failures, 3); /* + quit's refusal, + B cancelled */
  assert_int_equal(g_last_failure, WEFT_ECANCELED);
  assert_int_equal(times_ran, 1);
  assert_true(g_workers[0].quit); /* teardown also checks it was released */
  assert_true(g_coord.quit);
  replace_destroyed_team();
}

/* quit's step ran (should_quit) before the worker's step was refused for
 * good: destroy's own run of the step quits the worker and finishes. */
static void idle_refused_after_quit_step(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(weft_team_quit(g_team), 0);
  coordinate(); /* quit's step: the worker is busy, the team is not finished */
  g_coord.fail_always = 1;
  assert_int_equal(weft_memory_worker_perform(g_workers[0].inner), 1);
  assert_int_equal(g_failures, 1);
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(times_ran, 1);
  assert_int_equal(g_failures, 1);
  assert_true(g_workers[0].quit);
  replace_destroyed_team();
}

/* Two workers: one's step is refused while the other still runs its task.
 * destroy may not run the parked step (the other's step may still reach
 * the coordinator): WEFT_EBUSY, the step kept for the next call. Once the
 * other's step is refused too, destroy runs both and finishes. */
static void idle_refused_while_another_busy(void **state) {
  (void)state;
  times_ran = 0;
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(weft_team_do(g_team, count_run, NULL), 0);
  coordinate();
  assert_int_equal(stats().busy_workers, 2);
  g_coord.fail_always = 1;
  assert_int_equal(weft_memory_worker_perform(g_workers[0].inner), 1);
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  assert_int_equal(weft_team_destroy(g_team), WEFT_EBUSY);
  assert_int_equal(stats().busy_workers, 2);
  assert_false(g_workers[0].quit);
  assert_int_equal(weft_memory_worker_perform(g_workers[1].inner), 1);
  assert_int_equal(weft_team_destroy(g_team), 0);
  assert_int_equal(times_ran, 2);
  assert_int_equal(g_failures, 3); /* two steps, quit's step */
  assert_true(g_workers[0].quit);
  assert_true(g_workers[1].quit);
  replace_destroyed_team();
}

/* The lock-free coordinator quit behind the team's back while a worker is
 * busy: the worker's step is refused (WEFT_EQUIT); destroy runs it and the
 * quit step itself. */
static void idle_refused_lockfree_coordinator(void **state) {
  (void)state;
  weft_worker *coord;
  weft_team *t;
  lockfree_team_with_a_task(&coord, &t);
  assert_int_equal(weft_worker_quit(coord), 0); /* behind the team's back */
  assert_int_equal(weft_memory_worker_perform(g_workers[0].inner), 1); /* task; step refused */
  assert_int_equal(times_ran, 1);
  assert_int_equal(g_failures, 1);
  assert_int_equal(g_last_failure, WEFT_EQUIT);
  assert_int_equal(weft_team_destroy(t), 0);
  assert_int_equal(g_failures, 2); /* + quit's refusal */
  assert_true(g_workers[0].quit);
  assert_true(g_workers[0].released);
  weft_worker_release(g_workers[0].inner);
}

/* The team a TEAM_STEP_PARKED hook destroys, and what destroy answered. */
static weft_team *g_destroy_at_park;
static int g_destroy_at_park_rc = 1;
static void destroy_at_park(weft__event ev) {
  if (ev != WEFT__EVENT_TEAM_STEP_PARKED || g_destroy_at_park == NULL) return;
  weft_team *t = g_destroy_at_park;
  g_destroy_at_park = NULL;
  g_destroy_at_park_rc = weft_team_destroy(t);
}

/* As above, but destroy comes the moment the worker has parked its
 * refused step, while the worker is still inside its task's end
 * (dowork_cb): destroy takes the step, runs it, and frees the team at
 * once. The worker must not touch the team after the park; before the fix
 * it read the team's coordinator flag there, a heap-use-after-free under
 * ASan (this test runs in the asan configuration). */
static void idle_refused_lockfree_destroyed_at_park(void **state) {
  (void)state;
  weft_worker *coord;
  weft_team *t;
  lockfree_team_with_a_task(&coord, &t);
  assert_int_equal(weft_worker_quit(coord), 0); /* behind the team's back */
  g_destroy_at_park = t;
  g_destroy_at_park_rc = 1;
  weft__observer_set(destroy_at_park);
  /* The task, its refused step, and destroy inside the hook. */
  assert_int_equal(weft_memory_worker_perform(g_workers[0].inner), 1);
  weft__observer_set(NULL);
  assert_null(g_destroy_at_park); /* the hook ran */
  assert_int_equal(g_destroy_at_park_rc, 0);
  assert_int_equal(times_ran, 1);
  assert_int_equal(g_failures, 2); /* the step's refusal, quit's */
  assert_true(g_workers[0].quit);
  assert_true(g_workers[0].released);
  weft_worker_release(g_workers[0].inner);
}

/* ------------------- an asynchronous coordinator (a ThreadWorker) and destroy */

/* A coordinator forwarding to a ThreadWorker that can hold one do() call
 * (after the Team's quit check has passed) until the test lets it go. */
typedef struct held_coord {
  weft_worker base;
  weft_worker *inner; /* a ThreadWorker: items run on its thread, after do() returned */
  int hold_next;      /* the next do() waits at `resume`; written before the call it holds */
  sync_t in_do, resume;
  int released;
} held_coord;

static int held_do(weft_worker *w, weft_fn fn, void *arg) {
  held_coord *c = (held_coord *)w;
  if (c->hold_next) {
    c->hold_next = 0;
    gate_open(&c->in_do);
    gate_wait(&c->resume);
  }
  return weft_worker_do(c->inner, fn, arg);
}
static int held_quit(weft_worker *w) { return weft_worker_quit(((held_coord *)w)->inner); }
static void held_release(weft_worker *w) {
  held_coord *c = (held_coord *)w;
  c->released = 1;
  weft_worker_release(c->inner);
}
static const weft_worker_ops held_ops = {held_do, held_quit, held_release};

static weft_worker *create_none(void *ctx) {
  (void)ctx;
  return NULL;
}

static sync_t g_async_log;
static _Atomic int g_async_ran, g_async_last_err;
static void async_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  weft__store_relaxed(&g_async_last_err, err);
  count_up(&g_async_log);
}
static void async_task(void *arg) {
  (void)arg;
  weft__fetch_add_relaxed(&g_async_ran, 1);
}

typedef struct racer {
  weft_team *t;
  int rc;
} racer;
static void *racing_do(void *arg) {
  racer *r = arg;
  r->rc = weft_team_do(r->t, async_task, NULL);
  return NULL;
}

/* A weft_team_do that raced quit reaches the (asynchronous) coordinator
 * after the team finished: its dispatch item is queued on the coordinator's
 * thread, behind an item the test holds there. destroy must not free the
 * team while that item is still to run (before the fix it did: the item
 * then read the freed team, a heap-use-after-free under ASan). */
static void async_coordinator_destroy_waits_for_late_item(void **state) {
  (void)state;
  static held_coord hc;
  static sync_t hold;
  memset(&hc, 0, sizeof hc);
  sync_init(&hc.in_do);
  sync_init(&hc.resume);
  sync_init(&hold);
  sync_init(&g_async_log);
  weft__store_relaxed(&g_async_ran, 0);
  weft__store_relaxed(&g_async_last_err, 0);
  assert_int_equal(weft_thread_worker_create(&hc.inner, NULL, NULL, "team-coord"), 0);
  assert_int_equal(weft_worker_init(&hc.base, &held_ops), 0);
  weft_team *t;
  assert_int_equal(weft_team_create(&t, &hc.base, create_none, NULL, async_log, NULL), 0);

  /* X passes the team's quit check and is held inside the coordinator's do() */
  hc.hold_next = 1;
  racer x = {t, -1};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, racing_do, &x), 0);
  gate_wait(&hc.in_do);
  assert_int_equal(weft_team_quit(t), 0);
  /* Behind quit's step on the coordinator's thread: an item that tells us
   * quit's step has run (the team is finished), then holds the thread. */
  sync_t ran_quit;
  sync_init(&ran_quit);
  gated blocker = {&hold, &ran_quit, NULL};
  assert_int_equal(weft_worker_do(hc.inner, gated_task, &blocker), 0);
  count_wait(&ran_quit, 1);
  /* X's dispatch item is now pushed behind the held item; X returns. */
  gate_open(&hc.resume);
  pthread_join(th, NULL);
  assert_int_equal(x.rc, 0); /* admitted by the coordinator before it was quit */

  int r = weft_team_destroy(t); /* the late item has not run yet */
  gate_open(&hold);             /* let it run: it touches the team */
  count_wait(&g_async_log, 1);  /* it cancelled the task it carried */
  assert_int_equal(r, WEFT_EBUSY);
  assert_int_equal(weft__load_relaxed(&g_async_last_err), WEFT_ECANCELED);
  while ((r = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(r, 0);
  assert_true(hc.released);
  assert_int_equal(weft__load_relaxed(&g_async_ran), 0);
  assert_int_equal(count_get(&g_async_log), 1);
  sync_fini(&ran_quit);
}

static void bad_input(void **state) {
  (void)state;
  weft_team *t;
  weft_team_statistics s;
  assert_int_equal(weft_team_create(NULL, NULL, create_worker, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_create(&t, NULL, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_do(NULL, count_run, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_do(g_team, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_grow(g_team, -1), WEFT_EINVAL);
  assert_int_equal(weft_team_statistics_get(g_team, NULL), WEFT_EINVAL);
  assert_int_equal(weft_team_statistics_get(NULL, &s), WEFT_EINVAL);
  assert_int_equal(weft_team_destroy(NULL), WEFT_EINVAL);
}

/* --------------------------- real threads, lock-free coordinator, stress */

#define PRODUCERS 4
static long per_producer(void) { return 20000; }

static _Atomic int *g_ran;
static _Atomic long g_total;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static long g_expect;
static _Atomic int g_created;
static weft_team *g_rt;

static void stress_task(void *arg) {
  long i = (long)(intptr_t)arg;
  THREAD_CHECK_EQ(weft__fetch_add_relaxed(&g_ran[i], 1), 0); /* exactly once; a worker thread */
  if (weft__fetch_add_acq_rel(&g_total, 1) + 1 == g_expect) {
    pthread_mutex_lock(&g_mu);
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_mu);
  }
}

/* Twisted's limitedWorkerCreator: no new worker once idle + busy reaches
 * the limit (statistics read from inside the coordinator, as in _pool.py). */
static weft_worker *create_thread_worker(void *ctx) {
  int limit = (int)(intptr_t)ctx;
  weft_team_statistics s;
  THREAD_CHECK_EQ(weft_team_statistics_get(g_rt, &s), 0); /* in the coordinator: any thread */
  if (s.idle_workers + s.busy_workers >= limit) return NULL;
  weft_worker *w;
  if (weft_thread_worker_create(&w, NULL, NULL, "team-stress") != 0) return NULL;
  weft__fetch_add_relaxed(&g_created, 1);
  return w;
}

static void *producer(void *arg) {
  long base = (long)(intptr_t)arg * per_producer();
  for (long i = 0; i < per_producer(); i++)
    THREAD_CHECK_EQ(weft_team_do(g_rt, stress_task, (void *)(intptr_t)(base + i)), 0);
  return NULL;
}

static void stats_reader_check(void) {
  weft_team_statistics s;
  assert_int_equal(weft_team_statistics_get(g_rt, &s), 0);
  assert_true(s.idle_workers >= 0 && s.busy_workers >= 0);
  assert_true(s.idle_workers + s.busy_workers <= 3);
}

static _Atomic int g_stop_churn;
static void *churner(void *arg) {
  (void)arg;
  /* grow and shrink while tasks flow; WEFT_EQUIT once the team is quit */
  /* Bounded: every shrink may cost a thread creation later (the debt). */
  for (int i = 0; i < 100 && !weft__load_acquire(&g_stop_churn); i++) {
    /* acquire: pairs with the store_release in run_real_threads */
    int r = weft_team_grow(g_rt, 2);
    if (r == WEFT_EQUIT) break;
    THREAD_CHECK_EQ(r, 0);
    r = weft_team_shrink(g_rt, 1);
    if (r == WEFT_EQUIT) break;
    THREAD_CHECK_EQ(r, 0);
    sched_yield();
  }
  return NULL;
}

static void run_real_threads(weft_worker *coordinator, int churn) {
  g_expect = PRODUCERS * per_producer();
  g_ran = calloc((size_t)g_expect, sizeof *g_ran);
  assert_non_null(g_ran);
  weft__store_relaxed(&g_total, 0);
  weft__store_relaxed(&g_created, 0);
  weft__store_relaxed(&g_stop_churn, 0);
  int limit = 3;
  assert_int_equal(weft_team_create(&g_rt, coordinator, create_thread_worker, (void *)(intptr_t)limit,
                                    log_failure, NULL), 0);
  pthread_t th[PRODUCERS], ch;
  for (int p = 0; p < PRODUCERS; p++)
    assert_int_equal(pthread_create(&th[p], NULL, producer, (void *)(intptr_t)p), 0);
  if (churn) assert_int_equal(pthread_create(&ch, NULL, churner, NULL), 0);
  if (!churn) stats_reader_check();
  for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
  if (!churn) stats_reader_check();
  /* quit with work possibly still backlogged: the busy workers drain it */
  assert_int_equal(weft_team_quit(g_rt), 0);
  weft__store_release(&g_stop_churn, 1); /* release: pairs with churner's acquire */
  if (churn) pthread_join(ch, NULL);
  pthread_mutex_lock(&g_mu);
  while (weft__load_acquire(&g_total) < g_expect) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  /* The last idle-and-pending steps may still be on the coordinator. */
  int r;
  while ((r = weft_team_destroy(g_rt)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(r, 0);
  for (long i = 0; i < g_expect; i++) assert_int_equal(weft__load_relaxed(&g_ran[i]), 1);
  free(g_ran);
}

/* Thread workers + the default lock-free coordinator. */
static void real_threads_exactly_once_quit_drains(void **state) {
  (void)state;
  run_real_threads(NULL, 0);
}

/* Twisted's production shape: a LockWorker coordinator over thread workers.
 * Workers are quit and released from inside the coordinator, on their own
 * threads at times: nothing may join or deadlock. */
static void real_threads_lock_worker_coordinator(void **state) {
  (void)state;
  weft_worker *lw;
  assert_int_equal(weft_lock_worker_create(&lw, NULL, NULL), 0);
  run_real_threads(lw, 0);
}

/* An asynchronous coordinator: a ThreadWorker. Coordinator items run on its
 * thread after their do() returned; destroy (retried on WEFT_EBUSY) must not
 * free the team while any of them is still queued or running. */
static void real_threads_thread_worker_coordinator(void **state) {
  (void)state;
  weft_worker *tw;
  assert_int_equal(weft_thread_worker_create(&tw, NULL, NULL, "team-coord"), 0);
  run_real_threads(tw, 0);
}

/* grow/shrink from another thread while tasks flow: still exactly once. */
static void real_threads_grow_shrink_churn(void **state) {
  (void)state;
  run_real_threads(NULL, 1);
}


/* A coordinator that refuses one do() in REFUSE_EVERY, from any thread
 * (workers' idle-and-pending steps included), over a real one. Producers
 * retry a refused do(); refused steps are resubmitted by later calls or by
 * destroy (retried on WEFT_EBUSY). Every task runs at most once, and runs
 * or is cancelled through log_fn (a task backlogged when destroy runs a
 * refused step itself); destroy returns 0. */
#define REFUSE_EVERY 3
typedef struct flaky_coord {
  weft_worker base;
  weft_worker *inner;
  _Atomic long calls;
  /* Counted by its release, which may run on a worker thread after destroy
   * returned: the do() that quit it, inline on a LockWorker, closes it on
   * leaving (lib/workers/worker.c), so the test waits on this. */
  sync_t released;
} flaky_coord;
static int flaky_do(weft_worker *w, weft_fn fn, void *arg) {
  flaky_coord *c = (flaky_coord *)w;
  if (weft__fetch_add_relaxed(&c->calls, 1) % REFUSE_EVERY == REFUSE_EVERY - 1) return WEFT_ENOMEM;
  return weft_worker_do(c->inner, fn, arg);
}
static int flaky_quit(weft_worker *w) { return weft_worker_quit(((flaky_coord *)w)->inner); }
static void flaky_release(weft_worker *w) {
  flaky_coord *c = (flaky_coord *)w;
  weft_worker_release(c->inner);
  count_up(&c->released);
}
static const weft_worker_ops flaky_ops = {flaky_do, flaky_quit, flaky_release};

static _Atomic long g_flaky_cancelled, g_flaky_refused_steps;
static void flaky_log(void *ctx, int err, const char *what) {
  (void)ctx;
  if (err == WEFT_ECANCELED) weft__fetch_add_relaxed(&g_flaky_cancelled, 1);
  else if (strstr(what, "idle-and-pending")) weft__fetch_add_relaxed(&g_flaky_refused_steps, 1);
}

#define FLAKY_TASKS 3000
static void *flaky_producer(void *arg) {
  long base = (long)(intptr_t)arg * FLAKY_TASKS;
  for (long i = 0; i < FLAKY_TASKS; i++) {
    int r;
    while ((r = weft_team_do(g_rt, stress_task, (void *)(intptr_t)(base + i))) == WEFT_ENOMEM) {
    }
    THREAD_CHECK_EQ(r, 0);
  }
  return NULL;
}

static void run_flaky(weft_worker *inner) {
  static flaky_coord fc;
  memset(&fc, 0, sizeof fc);
  fc.inner = inner;
  sync_init(&fc.released);
  assert_int_equal(weft_worker_init(&fc.base, &flaky_ops), 0);
  g_expect = PRODUCERS * FLAKY_TASKS;
  g_ran = calloc((size_t)g_expect, sizeof *g_ran);
  assert_non_null(g_ran);
  weft__store_relaxed(&g_total, 0);
  weft__store_relaxed(&g_flaky_cancelled, 0);
  weft__store_relaxed(&g_flaky_refused_steps, 0);
  assert_int_equal(weft_team_create(&g_rt, &fc.base, create_thread_worker, (void *)(intptr_t)3,
                                    flaky_log, NULL), 0);
  pthread_t th[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++)
    assert_int_equal(pthread_create(&th[p], NULL, flaky_producer, (void *)(intptr_t)p), 0);
  for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
  int r = weft_team_quit(g_rt);
  assert_true(r == 0 || r == WEFT_ENOMEM); /* refused: destroy retries it */
  while ((r = weft_team_destroy(g_rt)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(r, 0);
  count_wait(&fc.released, 1); /* the team released its coordinator */
  long ran = 0;
  for (long i = 0; i < g_expect; i++) {
    int n = weft__load_relaxed(&g_ran[i]);
    assert_true(n <= 1);
    ran += n;
  }
  assert_int_equal(ran + weft__load_relaxed(&g_flaky_cancelled), g_expect);
  assert_true(weft__load_relaxed(&g_flaky_refused_steps) > 0); /* the case was exercised */
  free(g_ran);
  sync_fini(&fc.released);
}

static void real_threads_refused_idle_thread_worker_coordinator(void **state) {
  (void)state;
  weft_worker *tw;
  assert_int_equal(weft_thread_worker_create(&tw, NULL, NULL, "team-coord"), 0);
  run_flaky(tw);
}

static void real_threads_refused_idle_lock_worker_coordinator(void **state) {
  (void)state;
  weft_worker *lw;
  assert_int_equal(weft_lock_worker_create(&lw, NULL, NULL), 0);
  run_flaky(lw);
}

/* A LockWorker coordinator runs the team's items inline and releases the
 * caller's lock after them: destroy must not return 0 (the caller then frees
 * the lock) while a worker thread is still inside that release. The lock's
 * release blocks at a gate once the task has run, after unlocking, and then
 * touches the lock again, as a real lock's release does. */
typedef struct gated_lock {
  pthread_mutex_t m;
  _Atomic int hold; /* set by the task: the worker's next release waits at `go` */
  int touched;
  sync_t entered, go;
  pthread_t test_thread; /* its releases never wait: see gate_lock_release */
} gated_lock;
static int gate_lock_acquire(void *p) {
  gated_lock *l = p;
  pthread_mutex_lock(&l->m);
  return 0;
}
static int gate_lock_release(void *p) {
  gated_lock *l = p;
  pthread_mutex_unlock(&l->m);
  /* Only the worker thread's release (its idle step after the task) waits:
   * the test thread's release of the do() that started the worker may come
   * after the task has already run there, and it would then wait at the
   * gate it opens itself (a hang seen under ThreadSanitizer, 1 run in 24). */
  if (pthread_equal(pthread_self(), l->test_thread)) return 0;
  if (weft__xchg_acq_rel(&l->hold, 0)) { /* acq_rel: one taker, after the task's store */
    count_up(&l->entered);
    gate_wait(&l->go);
    l->touched++; /* the caller's lock, after the team item ended */
  }
  return 0;
}
static const weft_lock_ops gate_lock_ops = {gate_lock_acquire, gate_lock_release};
static void hold_next_release(void *arg) {
  weft__store_release(&((gated_lock *)arg)->hold, 1); /* release: pairs with the xchg */
}
static weft_worker *create_one_thread_worker(void *ctx) {
  (void)ctx;
  weft_worker *w = NULL;
  return weft_thread_worker_create(&w, NULL, NULL, "team-held") == 0 ? w : NULL;
}

static void lock_worker_coordinator_destroy_waits_for_release(void **state) {
  (void)state;
  gated_lock l;
  pthread_mutex_init(&l.m, NULL);
  l.test_thread = pthread_self();
  weft__store_relaxed(&l.hold, 0);
  l.touched = 0;
  sync_init(&l.entered);
  sync_init(&l.go);
  weft_worker *coord;
  assert_int_equal(weft_lock_worker_create(&coord, &gate_lock_ops, &l), 0);
  weft_team *t;
  assert_int_equal(weft_team_create(&t, coord, create_one_thread_worker, NULL, NULL, NULL), 0);
  assert_int_equal(weft_team_do(t, hold_next_release, &l), 0);
  count_wait(&l.entered, 1); /* the worker's idle step ended; its release waits */
  assert_int_equal(weft_team_quit(t), 0);
  assert_int_equal(weft_team_destroy(t), WEFT_EBUSY); /* the lock is still in use */
  gate_open(&l.go);
  int r;
  while ((r = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(r, 0);
  assert_int_equal(l.touched, 1); /* done before destroy returned */
  pthread_mutex_destroy(&l.m);
  sync_fini(&l.entered);
  sync_fini(&l.go);
}

/* Workers and coordinators that weft_worker_init never set up are bad
 * input, not a crash. */
static weft_worker g_blank_worker; /* ops NULL */
static weft_worker *create_blank(void *ctx) {
  (void)ctx;
  return &g_blank_worker;
}
static _Atomic int g_blank_logged;
static void log_blank(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_EINVAL) weft__fetch_add_relaxed(&g_blank_logged, 1);
}
static void noop_task(void *arg) { (void)arg; }

static void uninitialised_workers_refused(void **state) {
  (void)state;
  weft_team *t = NULL;
  weft_worker blank_coord;
  memset(&blank_coord, 0, sizeof blank_coord);
  assert_int_equal(weft_team_create(&t, &blank_coord, create_blank, NULL, NULL, NULL), WEFT_EINVAL);
  assert_null(t);
  weft__store_relaxed(&g_blank_logged, 0);
  assert_int_equal(weft_team_create(&t, NULL, create_blank, NULL, log_blank, NULL), 0);
  assert_int_equal(weft_team_do(t, noop_task, NULL), 0); /* backlogged: no worker to be had */
  assert_true(weft__load_relaxed(&g_blank_logged) >= 1);
  weft_team_statistics s;
  assert_int_equal(weft_team_statistics_get(t, &s), 0);
  assert_int_equal(s.busy_workers, 0);
  assert_int_equal(s.backlogged_work, 1);
  assert_int_equal(weft_team_destroy(t), 0); /* the backlogged task is cancelled */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(do_does_work_in_worker, setup, teardown),
      cmocka_unit_test_setup_teardown(initial_statistics, setup, teardown),
      cmocka_unit_test_setup_teardown(grow_creates_idle_workers, setup, teardown),
      cmocka_unit_test_setup_teardown(grow_create_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(shrink_quits_workers, setup, teardown),
      cmocka_unit_test_setup_teardown(shrink_counts_a_quit_worker_gone, setup, teardown),
      cmocka_unit_test_setup_teardown(shrink_to_zero, setup, teardown),
      cmocka_unit_test_setup_teardown(more_work_when_no_workers_available, setup, teardown),
      cmocka_unit_test_setup_teardown(backlog_runs_in_submission_order, setup, teardown),
      cmocka_unit_test_setup_teardown(new_worker_takes_the_new_task, setup, teardown),
      cmocka_unit_test_setup_teardown(failure_is_logged_once, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_test, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_quits, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_quits_later_when_busy, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_concurrent_with_work_happening, setup, teardown),
      cmocka_unit_test_setup_teardown(shrink_when_busy, setup, teardown),
      cmocka_unit_test_setup_teardown(shrink_all_quits_busy_workers_when_idle, setup, teardown),
      cmocka_unit_test_setup_teardown(shrink_debt_quits_future_workers, setup, teardown),
      cmocka_unit_test_setup_teardown(destroy_cancels_backlog, setup, teardown),
      cmocka_unit_test_setup_teardown(destroy_busy, setup, teardown),
      cmocka_unit_test_setup_teardown(bad_input, setup, teardown),
      cmocka_unit_test_setup_teardown(worker_do_fails_while_quitting, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_do_goes_to_an_idle_worker, setup, teardown),
      cmocka_unit_test_setup_teardown(failed_do_then_next_do_keeps_order, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_refused_once_destroy_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_refused_for_good_destroy_finishes, setup, teardown),
      cmocka_unit_test_setup_teardown(quit_refused_for_good_backlog_cancelled, setup, teardown),
      cmocka_unit_test(destroy_from_a_release_during_destroy),
      cmocka_unit_test_setup_teardown(quit_refused_while_busy, setup, teardown),
      cmocka_unit_test(quit_refused_lockfree_coordinator),
      cmocka_unit_test_setup_teardown(idle_refused_once_destroy_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(idle_refused_next_do_resubmits, setup, teardown),
      cmocka_unit_test_setup_teardown(idle_refused_for_good_destroy_finishes, setup, teardown),
      cmocka_unit_test_setup_teardown(idle_refused_after_quit_step, setup, teardown),
      cmocka_unit_test_setup_teardown(idle_refused_while_another_busy, setup, teardown),
      cmocka_unit_test(idle_refused_lockfree_coordinator),
      cmocka_unit_test(idle_refused_lockfree_destroyed_at_park),
      cmocka_unit_test(async_coordinator_destroy_waits_for_late_item),
      cmocka_unit_test(real_threads_exactly_once_quit_drains),
      cmocka_unit_test(real_threads_lock_worker_coordinator),
      cmocka_unit_test(real_threads_thread_worker_coordinator),
      cmocka_unit_test(real_threads_grow_shrink_churn),
      cmocka_unit_test(real_threads_refused_idle_thread_worker_coordinator),
      cmocka_unit_test(real_threads_refused_idle_lock_worker_coordinator),
      cmocka_unit_test(lock_worker_coordinator_destroy_waits_for_release),
      cmocka_unit_test(uninitialised_workers_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
