/*
 * Exactly-once accounting shared by the fault-injection tests: every
 * accepted task must end up in `ran` or `cancelled` (its owner told
 * WEFT_ECANCELED), never in `other` and never nowhere.
 */
#ifndef WEFT_TEST_FAULT_ACCOUNTING_H
#define WEFT_TEST_FAULT_ACCOUNTING_H

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

#endif /* WEFT_TEST_FAULT_ACCOUNTING_H */
