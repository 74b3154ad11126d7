/*
 * Exactly-once accounting shared by the fault-injection tests: every
 * accepted task must end up in `ran` or `cancelled` (its owner told
 * WEFT_ECANCELED), never in `other` and never nowhere. Include it after
 * <cmocka.h> (its checks use cmocka's assertions).
 */
#ifndef WEFT_TEST_FAULT_ACCOUNTING_H
#define WEFT_TEST_FAULT_ACCOUNTING_H

#include <sched.h>
#include <stdatomic.h>

#include "weft/threadpool.h"

static struct {
  atomic_int accepted, ran, cancelled, other;
} g_acc;

static void task_fn(void *arg) {
  (void)arg;
  atomic_fetch_add(&g_acc.ran, 1);
}
static int call_fn(void *arg, void **result) {
  (void)arg;
  *result = NULL;
  atomic_fetch_add(&g_acc.ran, 1);
  return 0;
}
static void on_result(void *ctx, int status, void *result) {
  (void)ctx;
  (void)result;
  if (status == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
  else if (status != 0) atomic_fetch_add(&g_acc.other, 1);
}
static void work_fn(weft_work *req) {
  (void)req;
  atomic_fetch_add(&g_acc.ran, 1);
}
static void after_fn(weft_work *req, int status) {
  (void)req;
  if (status == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
  else if (status != 0) atomic_fetch_add(&g_acc.other, 1);
}
/* call_in_thread tasks have no owner callback: a cancel goes to the log. */
static void pool_log(void *ctx, int err, const char *what) {
  (void)ctx;
  (void)what;
  if (err == WEFT_ECANCELED) atomic_fetch_add(&g_acc.cancelled, 1);
}

/* The Team scenario's worker creator: ThreadWorkers (thread factory
 * g_team_factory, NULL for the default), at most 3, a creation failure
 * meaning "no worker" (the team backlogs). */
#include "weft/worker.h"

static atomic_int g_team_workers;
static weft_thread_factory_fn g_team_factory;
static weft_worker *team_create_worker(void *ctx) {
  (void)ctx;
  if (atomic_load(&g_team_workers) >= 3) return NULL;
  weft_worker *w = NULL;
  if (weft_thread_worker_create(&w, g_team_factory, NULL, "fault-team") != 0) return NULL;
  atomic_fetch_add(&g_team_workers, 1);
  return w;
}

/* Destroy a quit Team (retried while it says WEFT_EBUSY, as documented),
 * then check that every accepted task ran or was reported cancelled. */
static void team_destroy_and_check(weft_team *t) {
  int rc;
  while ((rc = weft_team_destroy(t)) == WEFT_EBUSY) sched_yield();
  assert_int_equal(rc, 0);
  int acc = atomic_load(&g_acc.accepted), ran = atomic_load(&g_acc.ran),
      can = atomic_load(&g_acc.cancelled);
  if (acc != ran + can || atomic_load(&g_acc.other) != 0)
    fail_msg("team: accepted %d != ran %d + cancelled %d (other %d)", acc, ran, can,
             atomic_load(&g_acc.other));
}

/* The reactor scenario: Deferreds from defer_to_thread, each observed once;
 * the reactor stops once every observed Deferred fired. */
#include "weft/deferred.h"
#include "weft/reactor.h"

#define DEFERS 6
typedef struct rx_state {
  weft_reactor *r;
  weft_deferred *ds[DEFERS];
  int nds, observed, fired, all_submitted, stop_called, stranded;
} rx_state;

static void maybe_stop(rx_state *st) {
  if (st->all_submitted && st->fired == st->observed && !st->stop_called) {
    st->stop_called = 1;
    (void)weft_reactor_stop(st->r);
  }
}
static int on_fired(void *ctx, weft_result *res) {
  rx_state *st = ctx;
  if (res->failure) weft_failure_unref(weft_result_take_failure(res));
  st->fired++;
  maybe_stop(st);
  return 0;
}

#endif /* WEFT_TEST_FAULT_ACCOUNTING_H */
