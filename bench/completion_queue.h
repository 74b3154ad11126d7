/*
 * bench — handing a result back to an event-loop thread, the way a careful
 * hand-written server does: a mutex-protected intrusive FIFO plus an
 * eventfd the loop polls, written only by the push that found the queue
 * empty (the loop takes everything queued after each wake-up, so a push
 * behind a queued node is covered by that node's write). weft's reactor
 * and libuv's uv_async_send coalesce their wake-ups too; writing on every
 * push, as textbook code does, made the pthread pool's W3 10-20× slower
 * and W3's ratios against it a measure of this queue, not of the pools.
 * Used by the pthread pool, oneTBB and ckring (no loop hand-off of their
 * own) for W2/W3, and by every pool in W14 (bench/cpu_latency.c).
 *
 * Thread-safety: completion_queue_push from any thread; completion_queue_wait
 * and completion_queue_destroy from the single loop thread.
 * Wake-ups: a wait may return NULL (the write of a push whose node an
 * earlier wait already took).
 * Lifetime: a waking push's last access to the queue is its eventfd write,
 * after the loop may already have taken its node; each waking push counts
 * itself under the mutex, and destroy reads the eventfd until it has seen
 * that many writes, so no pusher is left inside the queue (or writing to a
 * closed, maybe reused, fd number).
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
  unsigned long long wakes;   /* pushes that found the queue empty (under mu) */
  unsigned long long written; /* eventfd writes the loop has read (loop thread only) */
} completion_queue;

/* 0 or a negative errno value. */
int completion_queue_init(completion_queue *q);
/* Waits for the eventfd write of every push that will make one, then frees.
 * Every pushed node must have been taken first. */
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
