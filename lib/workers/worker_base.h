/*
 * weft — the worker base's quit protocol, for the worker implementations
 * (lib/workers/worker.c implements it; thread_worker.c, coordinator.c, team.c use it).
 *
 * The base state word (weft_worker.state_private_, accessed atomically):
 *   bit 0    QUIT     quit() was called: every later do() gets WEFT_EQUIT
 *   bit 1    RELEASED weft_worker_release was called
 *   bit 2    CLOSED   ops->quit has returned
 *   bits 3.. the number of do() calls in flight (admitted, not yet returned)
 *
 * This is Twisted's Quit flag (_convenience.py) made safe without a GIL:
 * do() enters (count+1, CAS) only if QUIT is clear, in one atomic step, so a
 * do() either precedes quit() — it is accepted and its do_work runs before
 * ops->quit — or follows it and is refused without touching the word.
 * ops->quit is deferred until the in-flight count is zero and then run by
 * whichever thread brings it there (quit() itself, or the last do() to
 * leave): exactly once, never concurrently with do_work, and quit() never
 * waits (a work item may quit its own worker). After its last RMW on the
 * word a thread does not touch the worker unless it runs ops->quit.
 */
#ifndef WEFT_WORKER_BASE_H
#define WEFT_WORKER_BASE_H

#include "engine/task.h"
#include "weft/worker.h"

#define WEFT__WQ_QUIT 1
#define WEFT__WQ_RELEASED 2 /* weft_worker_release was called */
#define WEFT__WQ_CLOSED 4   /* ops->quit has returned */
#define WEFT__WQ_ONE 8

/* Admit a do(): 0, or WEFT_EQUIT (then nothing is to be undone). */
int weft__worker_enter(weft_worker *w);
/* End an admitted do(); may run the deferred ops->quit. Last touch of w by
 * this call unless it runs ops->quit. */
void weft__worker_leave(weft_worker *w);
/* Number of do() calls in flight (a snapshot). */
int weft__worker_inflight(const weft_worker *w);
/* weft_worker_do without its argument checks and without capturing the
 * caller's context: for the Team's own hops (its tasks carry their
 * submitter's context from weft_team_do, lib/workers/team.c). */
int weft__worker_do_plain(weft_worker *w, weft_fn fn, void *arg);

#endif /* WEFT_WORKER_BASE_H */
