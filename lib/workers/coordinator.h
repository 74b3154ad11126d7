/*
 * weft — the lock-free coordinator's private interface (for lib/workers/team.c).
 */
#ifndef WEFT_COORDINATOR_H
#define WEFT_COORDINATOR_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/task.h"
#include "weft/worker.h"

/* True if w was made by weft_coordinator_create. */
bool weft__is_coordinator(const weft_worker *w);

/*
 * do() with a caller-owned node: t->run(t) is called once, in order, under
 * the coordinator's exclusion; t->cancel is never called (a coordinator never
 * drops an accepted item). Wait-free apart from the drain the caller may be
 * asked to do. 0 or WEFT_EQUIT (after quit; t untouched).
 */
int weft__coordinator_submit(weft_worker *w, weft__task *t);

/*
 * The two halves of weft__coordinator_submit, for tests that must hold a
 * producer between its announce and its count step (coordinator.c [A], [C]).
 * begin: 0 (announced, in flight) or WEFT_EQUIT (nothing to undo); every 0
 * must be followed by exactly one end on the same thread.
 */
int weft__coordinator_submit_begin(weft_worker *w);
void weft__coordinator_submit_end(weft_worker *w, weft__task *t);

/* How many drains ended by handing the role to an announced producer (a
 * relaxed snapshot; diagnostics and tests). */
uint64_t weft__coordinator_handoffs(weft_worker *w);

/* Items a drainer runs before it starts handing the role to announced
 * producers (coordinator.c, "Bounded drain"). */
#define WEFT__COORD_DRAIN_BUDGET 64u

#endif /* WEFT_COORDINATOR_H */
