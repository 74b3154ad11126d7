/* bench — the concurrencykit ck_ring pool (see ckring_pool.h for the contract).
 *
 * Parking (no lost wake-up): a worker reads the futex word `seq`, counts
 * itself in `sleepers` (seq_cst RMW), re-checks the ring and the spill list,
 * and only then sleeps on `seq` with the value it read. A submitter
 * publishes its task, issues a seq_cst fence and reads `sleepers`: either it
 * sees the sleeper, or the sleeper's re-check sees the task. A submitter that
 * sees sleepers takes one off the count (CAS), bumps `seq` and wakes one
 * worker, as a condition variable's signal does: the count drops at once,
 * so the next submits see only the sleepers left (a first version had each
 * woken worker decrement the count itself; until it ran, every submit saw a
 * sleeper and called futex_wake: W1 at 2 threads 0.28 M tasks/s, 327
 * context switches per 1,000 tasks). A later version took the whole count
 * and woke every sleeper per wake: with 4-16 threads on 2 cores all of them
 * then woke, spun and parked again for each task of a round trip (W2 p50
 * 18-86 µs at 4-16 threads against 8 µs with one woken). Workers never
 * decrement: one that finds work in its re-check, or whose wait the bump of
 * `seq` cut short, leaves a count that a later submit spends on a spurious
 * wake (a system call, no lost task). A sleeper woken by nobody's count
 * still wakes at the next bump of `seq` it did not see.
 * ck_ring's own stores are plain (ck_pr, inline asm on x86-64), hence the
 * explicit fence after the enqueue.
 *
 * The rare paths (ring full: spill or back off; a sleeper to wake; the
 * spill list) are out of line, as weft's are (lib/engine/submit.h): inline,
 * gcc saved and restored six registers on every submit and four on every
 * take, 114 instructions per task under perf/callgrind.sh against 81 so. */
#include "ckring_pool.h"

#include <ck_pr.h>
#include <ck_ring.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ckp_task {
  ckpool_fn fn;
  void *arg;
};
CK_RING_PROTOTYPE(ckp_task, ckp_task)

typedef struct spill_node {
  struct spill_node *next;
  struct ckp_task t;
} spill_node;

#define SPIN_TRIES 128 /* empty-ring polls before parking (a few µs) */

struct ckpool {
  struct ck_ring ring; /* ck pads c_head and p_head/p_tail onto their own lines */
  struct ckp_task *slots;
  _Alignas(64) atomic_int sleepers; /* parks announced since the last broadcast */
  _Alignas(64) _Atomic uint32_t seq; /* futex word: bumped by every wake */
  atomic_int stopping;
  _Alignas(64) atomic_long spilled; /* nodes on the spill list; read unlocked */
  pthread_mutex_t spill_mu;
  spill_node *spill_head, *spill_tail;
  atomic_long backoffs, spills;
  int nthreads;
  pthread_t *threads;
};

static _Thread_local ckpool *tls_pool; /* the pool this thread works for */

static void futex_op(_Atomic uint32_t *w, int op, uint32_t v) {
  (void)syscall(SYS_futex, (uint32_t *)(void *)w, op, v, NULL, NULL, 0);
}

static void wake(ckpool *p, int n) {
  atomic_fetch_add_explicit(&p->seq, 1, memory_order_release);
  futex_op(&p->seq, FUTEX_WAKE_PRIVATE, (uint32_t)n);
}

/* One sleeper's count taken, one worker woken (none counted: nothing). */
static void wake_one(ckpool *p) {
  int n = atomic_load_explicit(&p->sleepers, memory_order_relaxed);
  while (n > 0 && !atomic_compare_exchange_weak_explicit(&p->sleepers, &n, n - 1,
                                                         memory_order_acq_rel,
                                                         memory_order_relaxed)) {
  }
  if (n > 0) wake(p, 1);
}

static void wake_if_sleeping(ckpool *p) {
  atomic_thread_fence(memory_order_seq_cst); /* task published before reading sleepers */
  if (atomic_load_explicit(&p->sleepers, memory_order_relaxed) > 0) wake_one(p);
}

static __attribute__((noinline)) int take_spill(ckpool *p, struct ckp_task *t) {
  pthread_mutex_lock(&p->spill_mu);
  spill_node *n = p->spill_head;
  if (n != NULL) {
    p->spill_head = n->next;
    if (p->spill_head == NULL) p->spill_tail = NULL;
    atomic_fetch_sub_explicit(&p->spilled, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&p->spill_mu);
  if (n == NULL) return 0;
  *t = n->t;
  free(n);
  return 1;
}

static inline int take(ckpool *p, struct ckp_task *t) {
  if (ck_ring_dequeue_mpmc_ckp_task(&p->ring, p->slots, t)) return 1;
  if (atomic_load_explicit(&p->spilled, memory_order_acquire) == 0) return 0;
  return take_spill(p, t);
}

static void *worker_main(void *arg) {
  ckpool *p = arg;
  tls_pool = p;
  for (;;) {
    struct ckp_task t;
    int got = take(p, &t);
    for (int i = 0; !got && i < SPIN_TRIES; i++) {
      ck_pr_stall();
      got = take(p, &t);
    }
    if (!got) {
      uint32_t s = atomic_load_explicit(&p->seq, memory_order_acquire);
      atomic_fetch_add_explicit(&p->sleepers, 1, memory_order_seq_cst);
      got = take(p, &t);
      if (!got && atomic_load_explicit(&p->stopping, memory_order_seq_cst))
        return NULL; /* stopping, ring and spill list empty */
      if (!got) {
        futex_op(&p->seq, FUTEX_WAIT_PRIVATE, s);
        continue;
      }
    }
    t.fn(t.arg);
  }
}

static int spill(ckpool *p, const struct ckp_task *t) {
  spill_node *n = malloc(sizeof *n);
  if (n == NULL) return -ENOMEM;
  n->next = NULL;
  n->t = *t;
  pthread_mutex_lock(&p->spill_mu);
  if (p->spill_tail != NULL) p->spill_tail->next = n;
  else p->spill_head = n;
  p->spill_tail = n;
  atomic_fetch_add_explicit(&p->spilled, 1, memory_order_release);
  pthread_mutex_unlock(&p->spill_mu);
  atomic_fetch_add_explicit(&p->spills, 1, memory_order_relaxed);
  return 0;
}

static __attribute__((noinline)) void wake_slow(ckpool *p) { wake_one(p); }

static __attribute__((noinline)) int submit_full(ckpool *p, struct ckp_task t) {
  if (tls_pool == p) { /* a worker waiting for room might wait for itself */
    int rc = spill(p, &t);
    if (rc != 0) return rc;
  } else {
    atomic_fetch_add_explicit(&p->backoffs, 1, memory_order_relaxed);
    for (unsigned i = 1; !ck_ring_enqueue_mpmc_ckp_task(&p->ring, p->slots, &t); i++) {
      wake_if_sleeping(p); /* full: someone must be draining it */
      if (i % 16 == 0) sched_yield();
      else for (int k = 0; k < 64; k++) ck_pr_stall();
    }
  }
  wake_if_sleeping(p);
  return 0;
}

int ckpool_submit(ckpool *p, ckpool_fn fn, void *arg) {
  if (p == NULL || fn == NULL) return -EINVAL;
  if (atomic_load_explicit(&p->stopping, memory_order_relaxed)) return -ESHUTDOWN;
  struct ckp_task t = {fn, arg};
  if (!ck_ring_enqueue_mpmc_ckp_task(&p->ring, p->slots, &t)) return submit_full(p, t);
  atomic_thread_fence(memory_order_seq_cst); /* task published before reading sleepers */
  if (atomic_load_explicit(&p->sleepers, memory_order_relaxed) > 0) wake_slow(p);
  return 0;
}

void ckpool_full_counts(ckpool *p, long *backoffs, long *spills) {
  *backoffs = atomic_load_explicit(&p->backoffs, memory_order_relaxed);
  *spills = atomic_load_explicit(&p->spills, memory_order_relaxed);
}

int ckpool_create(ckpool **out, int nthreads) {
  if (out == NULL || nthreads < 1) return -EINVAL;
  ckpool *p = aligned_alloc(64, (sizeof *p + 63) / 64 * 64);
  struct ckp_task *slots = calloc(CKPOOL_RING_SLOTS, sizeof *slots);
  pthread_t *threads = calloc((size_t)nthreads, sizeof *threads);
  if (p == NULL || slots == NULL || threads == NULL) {
    free(p), free(slots), free(threads);
    return -ENOMEM;
  }
  memset(p, 0, sizeof *p); /* zero is every atomic's initial value */
  p->slots = slots;
  p->threads = threads;
  ck_ring_init(&p->ring, CKPOOL_RING_SLOTS);
  pthread_mutex_init(&p->spill_mu, NULL);
  for (int i = 0; i < nthreads; i++) {
    int rc = pthread_create(&p->threads[i], NULL, worker_main, p);
    if (rc != 0) {
      ckpool_destroy(p); /* joins the p->nthreads already started */
      return -rc;
    }
    p->nthreads++;
  }
  *out = p;
  return 0;
}

void ckpool_destroy(ckpool *p) {
  if (p == NULL) return;
  atomic_store_explicit(&p->stopping, 1, memory_order_seq_cst);
  wake(p, INT_MAX);
  for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
  pthread_mutex_destroy(&p->spill_mu);
  free(p->slots);
  free(p->threads);
  free(p);
}
