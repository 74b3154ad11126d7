/*
 * bench — the textbook pthread pool: the baseline weft is measured against.
 *
 * One mutex and one condition variable guard a singly linked FIFO of
 * malloc'ed nodes; every submit locks, appends and calls
 * pthread_cond_signal; every worker locks, pops, unlocks and runs. This is
 * what most server code written against pthreads does today, so it is kept
 * deliberately plain: no batching, no spinning, no per-thread queues.
 *
 * Thread-safety: ptpool_submit may be called from any thread, including a
 * pool thread (a task may submit more tasks). ptpool_destroy may be called
 * once, from a thread that is not one of the pool's; it runs everything
 * already queued, then joins the threads.
 */
#ifndef BENCH_PTHREAD_POOL_H
#define BENCH_PTHREAD_POOL_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ptpool ptpool;
typedef void (*ptpool_fn)(void *arg);

/* Start nthreads (>= 1) threads. 0, or a negative errno value (nothing is
 * left running then). */
int ptpool_create(ptpool **out, int nthreads);
/* Queue fn(arg). 0, -EINVAL on NULL, -ENOMEM, -ESHUTDOWN after destroy began. */
int ptpool_submit(ptpool *p, ptpool_fn fn, void *arg);
/* Run what is queued, join every thread, free the pool. NULL is ignored. */
void ptpool_destroy(ptpool *p);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_PTHREAD_POOL_H */
