/*
 * membarrier(2) refused for good after start-up (lib/base/membarrier.c): a
 * program that sandboxes itself with a seccomp filter once weft has seen
 * the command work. The barrier must fall back at once, not retry for a
 * second on every call, and ready() must answer false from then on so that
 * a later engine keeps its fences. Each case runs in a child process,
 * because a seccomp filter cannot be taken back.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/membarrier.h"
#include "engine/observer.h"
#include "weft/threadpool.h"

#include "test_fork_safety.h"

/* Every membarrier(2) call answers ENOSYS from now on; false if this
 * process may not install a filter. */
static bool refuse_membarrier(void) {
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_membarrier, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

/* Exit codes of the child. */
enum {
  CHILD_OK = 0,
  CHILD_NO_FILTER = 10,
  CHILD_STILL_READY = 11,
  CHILD_POOL = 12,
  CHILD_NO_DISARM = 13,
  CHILD_NO_BARRIER = 14,
};

static int child(void) {
  if (!refuse_membarrier()) return CHILD_NO_FILTER;
  weft__membarrier(); /* refused: falls back */
  if (weft__membarrier_ready()) return CHILD_STILL_READY;
  /* A pool made now works, its second thread included (the spawn of a
   * second worker is where a sole worker's barrier is called). */
  weft_threadpool *tp;
  if (weft_threadpool_create(&tp, 0, 2, "mb") != 0 || weft_threadpool_start(tp) != 0)
    return CHILD_POOL;
  weft_threadpool_stop(tp);
  weft_threadpool_destroy(tp);
  return CHILD_OK;
}

static void refused_for_good_is_not_retried(void **state) {
  (void)state;
  if (!weft__membarrier_ready()) skip(); /* a kernel without the command */
  weft__membarrier();                    /* works here */
  int code = run_in_child(child);
  if (code == CHILD_NO_FILTER) skip(); /* no seccomp here */
  assert_int_equal(code, CHILD_OK);
  assert_true(weft__membarrier_ready()); /* the parent's is untouched */
}

/* The monitor's disarm of a one-slot pool whose worker notifies without a
 * fence (E5.4, `sole`, set when the pool was made) must still make its
 * barrier after the command was refused: the worker keeps its fenceless
 * notify, and weft__membarrier falls back to the global command. The disarm
 * decided by weft__membarrier_ready() made no barrier at all once that
 * turned false (models/sole.pml's MUTANT_DISARM_NO_MEMBARRIER). The pool
 * has one thread and a valve of one, so no stand-in ends the sole mode; a
 * worker held at a gate and a second task queued behind it saturate it,
 * which arms the monitor; the disarm follows once both have run. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_disarms, g_held, g_gate_open, g_ran;

static void on_event(weft__event ev) {
  if (ev != WEFT__EVENT_MONITOR_DISARMED) return;
  pthread_mutex_lock(&g_mu);
  g_disarms++;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

static void held_task(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_mu);
  g_held = 1;
  pthread_cond_broadcast(&g_cv);
  while (!g_gate_open) pthread_cond_wait(&g_cv, &g_mu);
  g_ran++;
  pthread_mutex_unlock(&g_mu);
}

static void plain_task(void *arg) {
  (void)arg;
  pthread_mutex_lock(&g_mu);
  g_ran++;
  pthread_mutex_unlock(&g_mu);
}

/* Waits for cond under g_mu, at most 30 s (a hang guard: the child fails). */
static bool wait_for(int *value, int at_least) {
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 30;
  bool ok = true;
  pthread_mutex_lock(&g_mu);
  while (*value < at_least && ok) ok = pthread_cond_timedwait(&g_cv, &g_mu, &dl) == 0;
  pthread_mutex_unlock(&g_mu);
  return ok;
}

static int disarm_child(void) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = o.max_threads = 1;
  o.hard_threads = 1; /* no stand-in: the pool keeps one slot */
  o.name = "mbdisarm";
  weft_threadpool *tp;
  if (weft_threadpool_create_ex(&tp, &o) != 0 || weft_threadpool_start(tp) != 0) return CHILD_POOL;
  if (!refuse_membarrier()) return CHILD_NO_FILTER;
  weft__membarrier(); /* refused: ready() turns false; the pool's worker stays sole */
  if (weft__membarrier_ready()) return CHILD_STILL_READY;
  weft__observer_set(on_event);
  if (weft_threadpool_call_in_thread(tp, held_task, NULL) != 0) return CHILD_POOL;
  if (!wait_for(&g_held, 1)) return CHILD_POOL;
  unsigned long before = weft__membarrier_calls();
  if (weft_threadpool_call_in_thread(tp, plain_task, NULL) != 0) return CHILD_POOL; /* saturates: arms */
  pthread_mutex_lock(&g_mu);
  g_gate_open = 1;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
  if (!wait_for(&g_ran, 2) || !wait_for(&g_disarms, 1)) return CHILD_NO_DISARM;
  int rc = weft__membarrier_calls() > before ? CHILD_OK : CHILD_NO_BARRIER;
  weft__observer_set(NULL);
  weft_threadpool_stop(tp);
  weft_threadpool_destroy(tp);
  return rc;
}

static void disarm_barrier_after_a_refusal(void **state) {
  (void)state;
  if (!weft__membarrier_ready()) skip(); /* no sole worker without the command */
  int code = run_in_child(disarm_child);
  if (code == CHILD_NO_FILTER) skip();
  assert_int_equal(code, CHILD_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(refused_for_good_is_not_retried),
      cmocka_unit_test(disarm_barrier_after_a_refusal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
