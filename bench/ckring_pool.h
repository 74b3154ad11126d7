/*
 * bench — a plain lock-free pool built from concurrencykit alone: the
 * fairest measure of what ck gives a thread pool without weft's engine.
 *
 * One ck_ring MPMC queue (ck_ring_enqueue_mpmc / ck_ring_dequeue_mpmc, in
 * their CK_RING_PROTOTYPE form so a task's {fn, arg} sits in the slot and
 * nothing is allocated per task) shared by every thread; workers that find
 * it empty spin briefly, then park on a futex. Submitters count nothing:
 * they wake a worker only when the sleeping-worker count says one sleeps.
 * No per-thread queues, no stealing, no batching.
 *
 * The ring is bounded (CKPOOL_RING_SLOTS). When it is full, a foreign
 * submitter backs off (pause, then sched_yield) until a worker makes room;
 * a pool thread (a task submitting more tasks, W5) cannot wait for itself,
 * so it spills the task onto a mutex-protected overflow list that workers
 * drain when the ring is empty. No task is lost either way.
 *
 * Thread-safety: as bench/pthread_pool.h. ckpool_submit from any thread,
 * pool threads included; ckpool_destroy once, from a thread that is not one
 * of the pool's: it runs everything queued (ring and spill), then joins.
 */
#ifndef BENCH_CKRING_POOL_H
#define BENCH_CKRING_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

#define CKPOOL_RING_SLOTS 4096u /* power of two; ck_ring holds one less */

typedef struct ckpool ckpool;
typedef void (*ckpool_fn)(void *arg);

/* Start nthreads (>= 1) threads. 0, or a negative errno value. */
int ckpool_create(ckpool **out, int nthreads);
/* Queue fn(arg). 0, -EINVAL on NULL, -ENOMEM (spill), -ESHUTDOWN after destroy began. */
int ckpool_submit(ckpool *p, ckpool_fn fn, void *arg);
/* How often the ring was full: foreign submits that backed off, and tasks spilled. */
void ckpool_full_counts(ckpool *p, long *backoffs, long *spills);
/* Run what is queued, join every thread, free the pool. NULL is ignored. */
void ckpool_destroy(ckpool *p);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_CKRING_POOL_H */
