/*
 * weft — the lock-free coordinator's private interface (for lib/team.c).
 */
#ifndef WEFT_COORDINATOR_H
#define WEFT_COORDINATOR_H

#include <stdbool.h>

#include "task.h"
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

#endif /* WEFT_COORDINATOR_H */
