/*
 * weft — an engine across fork(2) (lib/base/fork.h has the registry).
 *
 * Parent: nothing changes (the prepare handler held the control mutex for
 * the duration of the fork). Child: the engine's threads do not exist
 * there, so its copy is closed: no submit is accepted (WEFT_EQUIT), the
 * parent's queued tasks are dropped from the child's copy without running
 * and without being cancelled (they belong to the parent, which runs them),
 * and stop/destroy free it without joining anything. If the forking thread
 * is one of the engine's workers (fork inside a task), it leaves its loop
 * when the task returns.
 */
#ifndef WEFT_ENGINE_ENGINE_FORK_H
#define WEFT_ENGINE_ENGINE_FORK_H

#include "engine/core.h"

/* At create: 0 or WEFT_ENOMEM. */
int weft__engine_fork_register(weft__engine *e);
/* At destroy, before e's memory goes. */
void weft__engine_fork_unregister(weft__engine *e);

#endif /* WEFT_ENGINE_ENGINE_FORK_H */
