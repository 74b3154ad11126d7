/*
 * weft — stop with a deadline: cancel what is queued, wait for what runs
 * until a deadline (lib/engine/stop_deadline.c has the contract).
 */
#ifndef WEFT_ENGINE_STOP_DEADLINE_H
#define WEFT_ENGINE_STOP_DEADLINE_H

#include <stdint.h>

#include "engine/core.h"

/* Close e, cancel every queued task (its owner is told WEFT_ECANCELED) and
 * join the threads, waiting at most timeout_ns for the tasks that run.
 * Returns 0 when every thread was joined (then e is in the state
 * weft__engine_stop leaves), WEFT_ETIMEDOUT when *running threads were still
 * in a task at the deadline (they are left to finish; a later
 * weft__engine_stop or destroy joins them), WEFT_EDEADLK from an engine
 * thread (nothing done). *cancelled: the tasks the call cancelled (not a
 * request a won cancel is told of by a worker meanwhile: stop_deadline.c). */
int weft__engine_stop_deadline(weft__engine *e, uint64_t timeout_ns, uint64_t *cancelled,
                               int *running);

#endif /* WEFT_ENGINE_STOP_DEADLINE_H */
