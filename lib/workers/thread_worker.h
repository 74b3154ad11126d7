/*
 * weft — the thread worker's private interface (tests, diagnostics).
 */
#ifndef WEFT_THREAD_WORKER_H
#define WEFT_THREAD_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "weft/worker.h"

/* How many times the worker's thread went to sleep on its futex, and how many
 * futex wake calls submitters made (diagnostics for the no-syscall-while-
 * awake promise). Relaxed snapshots. */
uint64_t weft__thread_worker_sleeps(weft_worker *w);
uint64_t weft__thread_worker_wakes(weft_worker *w);
/* w is a ThreadWorker inherited by a child of fork: its do() there answers
 * WEFT_EQUIT (its thread is the parent's). */
bool weft__thread_worker_forked(const weft_worker *w);

#endif /* WEFT_THREAD_WORKER_H */
