/*
 * weft — the lock worker's private interface (tests).
 */
#ifndef WEFT_LOCK_WORKER_H
#define WEFT_LOCK_WORKER_H

#include "weft/worker.h"

/* The lock the worker still references: NULL once quit has taken effect
 * (Twisted's test_quit checks the lock reference is dropped). */
void *weft__lock_worker_lock(weft_worker *w);

#endif /* WEFT_LOCK_WORKER_H */
