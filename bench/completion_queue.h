/*
 * bench — the textbook way to hand a result back to an event-loop thread:
 * a mutex-protected intrusive FIFO plus an eventfd the loop polls. Every
 * push writes the eventfd (no coalescing), as most hand-written code does.
 * Used by the pthread pool (and oneTBB, which has no loop hand-off of its
 * own) for W2/W3.
 *
 * Thread-safety: completion_queue_push from any thread; completion_queue_wait
 * and completion_queue_destroy from the single loop thread.
 * Lifetime: a push's last access to the queue is its eventfd write, after
 * the loop may already have taken its node; destroy first reads the
 * eventfd until it has counted one write per node taken, so no pusher is
 * left inside the queue (or writing to a closed, maybe reused, fd number).
 */
#ifndef BENCH_COMPLETION_QUEUE_H
#define BENCH_COMPLETION_QUEUE_H

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct completion_node {
  struct completion_node *next;
} completion_node;

typedef struct completion_queue {
  pthread_mutex_t mu;
  completion_node *head;
  completion_node *tail;
  int efd;
  unsigned long long taken;   /* nodes the loop took (loop thread only) */
  unsigned long long written; /* eventfd writes the loop has read (loop thread only) */
} completion_queue;

/* 0 or a negative errno value. */
int completion_queue_init(completion_queue *q);
/* Waits for the eventfd writes of every push whose node was taken, then frees. */
void completion_queue_destroy(completion_queue *q);
void completion_queue_push(completion_queue *q, completion_node *n);
/* Block in poll() until the eventfd fires, then take every queued node
 * (FIFO chain, possibly NULL on a spurious wake-up). */
completion_node *completion_queue_wait(completion_queue *q);
/* The same, giving up after timeout_ns (< 0: never): then it returns what
 * is queued, often NULL. */
completion_node *completion_queue_wait_for(completion_queue *q, long timeout_ns);

#ifdef __cplusplus
}
#endif
#endif /* BENCH_COMPLETION_QUEUE_H */
