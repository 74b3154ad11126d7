/*
 * weft — the work-stealing engine: a set of worker threads with per-worker
 * run rings (lib/engine/ring.h), one inject queue for foreign submitters
 * (lib/engine/inject.h), work stealing, and the ctl-word parking protocol
 * (docs/design.md E2–E7). weft_threadpool (lib/pool/threadpool.c) and weft_pool
 * (lib/pool/pool_team.c) are thin policy layers over it.
 *
 * Contract
 *   submit:               any thread, concurrently. Wait-free on the task's
 *                         path (one counter add that also reads the closed
 *                         bit, one exchange, one store)
 *                         plus the notify check (E5.1), which makes a system
 *                         call only when no worker is awake to take the work.
 *   grow / shrink / close / stop / stats: any thread, concurrently; the
 *                         control plane (thread creation, joining) is
 *                         serialised by one mutex that no task path takes,
 *                         except a notify that must start a thread.
 *   stop / destroy:       not from one of the engine's own threads
 *                         (WEFT_EDEADLK).
 *   Every accepted task gets exactly one run() or cancel(WEFT_ECANCELED),
 *   so every task has a cancel callback (a NULL one marks a task batch,
 *   lib/engine/task_batch.h).
 *
 * File map (lib/engine/README.md): core.h (the shared state), engine.c
 * (lifecycle, grow/shrink, statistics), submit.c (E2/E3 submit paths),
 * park.c (E5: ctl word, notify, park), spawn.c (starting threads),
 * worker_loop.c (E4: the loop, inject batches, stealing). This header
 * gathers them for the layers above.
 */
#ifndef WEFT_ENGINE_H
#define WEFT_ENGINE_H

#include <limits.h>

#include "base/thread_name.h"
#include "engine/core.h"
#include "engine/park.h"
#include "engine/spawn.h"
#include "engine/stats.h"
#include "engine/submit.h"

/* ---------------------------------------------------------------- engine.c */
int weft__engine_create(weft__engine **out, const weft__engine_config *cfg);
/* The limit (Twisted's max: `soft`), for engines created with cfg.limit
 * NULL (any thread). */
void weft__engine_set_limit(weft__engine *e, int limit);

/* Elastic sizing (docs/design.md E9). */
typedef struct weft__elastic_config {
  int elastic;            /* 0: never more threads than the limit (strict cap) */
  int hard;               /* the valve; <= 0: the slot count */
  int min_live;           /* idle threads never exit below this many */
  uint64_t keep_alive_ns; /* an idle thread exits after this; 0: never */
  int trim_heap;          /* the reap that reaches min_live trims the heap (E9.3) */
} weft__elastic_config;
/* Any thread; takes effect for the next decision of each kind. */
void weft__engine_set_elastic(weft__engine *e, const weft__elastic_config *c);
void weft__engine_set_min(weft__engine *e, int min_live);
/* Drop the part of the shrink debt that busy workers would pay below floor
 * live threads (a debt an earlier shrink left, before a resize raised the
 * floor). Any thread, not holding e->mu. */
void weft__engine_forgive_debt(weft__engine *e, int floor);
/* The owning worker w goes idle with a weft_blocking_begin its task left
 * open: the block is over (its grant and count go back). blocking.c. */
void weft__engine_blocking_abandoned(weft__eworker *w);
/* Start up to n threads, bounded by the limit; reason: WEFT__MADE_*.
 * Returns the number started (>= 0), WEFT_EAGAIN if a creation failed and
 * none started, WEFT_EQUIT once closed. */
int weft__engine_grow(weft__engine *e, int n, int reason);
/* The same, leaving failed creations unreported: for a caller that holds a
 * lock the log hook may take (the pool's mutex), which calls
 * weft__engine_log_failures after releasing it. */
int weft__engine_grow_unlogged(weft__engine *e, int n, int reason);
/* One stand-in for the calling worker of e, which blocks while work is
 * queued, also once e is closed and until its stop has joined every thread
 * (a task that waits on a child it queued would otherwise hang the stop:
 * models/stop_join.pml). Only from a worker of e. Returns as grow. */
int weft__engine_grow_closing(weft__engine *e);
/* Quit n workers (n < 0: all live): parked ones now, others when they next
 * find nothing to do (debt). WEFT_EQUIT once closed. */
int weft__engine_shrink(weft__engine *e, int n);
/* The same, but never below floor live threads (debt owed counted as gone):
 * a resize to a target, whose n was counted before threads that reaped
 * themselves meanwhile (E9.3) left. INT_MIN: no floor. */
int weft__engine_shrink_to(weft__engine *e, int n, int floor);
/* shrink_to's floor: the limit plus the grants, at least min, read under
 * the engine mutex (weft__engine_grants_returned). */
#define WEFT__FLOOR_AT_LIMIT (INT_MIN + 1)
/* A resize (tp->mu held, the new limit and min set) is about to shrink to
 * the limit plus the grants out: while grants are out, their returns
 * shrink the pool on (weft__engine_grants_returned). */
void weft__engine_settle_after_resize(weft__engine *e);
/* Grants went back (weft_blocking_end, the monitor), after `grants` was
 * lowered: after such a resize, the pool shrinks to the limit with the
 * grants still out (never below min). Any thread that holds no engine or
 * pool lock. */
void weft__engine_grants_returned(weft__engine *e);
/* Reject new work; workers drain what is queued, then exit. Non-blocking.
 * WEFT_EQUIT the second time. */
int weft__engine_close(weft__engine *e);
/* close (if needed), join every thread, cancel what no worker ran.
 * WEFT_EDEADLK from an engine thread. */
int weft__engine_stop(weft__engine *e);
/* After close: another thread's submit window still holds tasks for e (a
 * reactor drain that has not flushed yet), so weft__engine_stop would wait
 * for that drain to end. Any thread; once false after the close it stays
 * false (a later registration sees the closed bit and backs out). */
bool weft__engine_windows_held(weft__engine *e);
/* Cancel what the inject queue holds, under its try-lock (E7). all: until
 * every counted push has been popped; else up to the first empty pop.
 * After close, by the thread that stops e. */
void weft__engine_cancel_injected(weft__engine *e, bool all);
/* A stop has completed: every task accepted before it ran or was
 * cancelled. Any thread. */
bool weft__engine_stopped(weft__engine *e);
/* stop, then free. WEFT_EDEADLK from an engine thread (nothing freed). */
int weft__engine_destroy(weft__engine *e);

#endif /* WEFT_ENGINE_H */
