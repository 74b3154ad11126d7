/*
 * weft — CPU affinity for engine threads (weft_threadpool_options.affinity).
 *
 * A plan is made once, when the pool is created (weft__affinity_make: the
 * option is checked, the CPU list is put in policy order), and applied by
 * each worker thread to itself when it starts (weft__affinity_apply, from
 * the worker loop), so it works with any thread factory. Nothing on a
 * task's path: one call per thread start.
 */
#ifndef WEFT_ENGINE_AFFINITY_H
#define WEFT_ENGINE_AFFINITY_H

#include "engine/core.h"
#include "weft/threadpool.h"

typedef struct weft__affinity {
  int policy; /* WEFT_AFFINITY_NONE, _SET, _COMPACT or _SCATTER */
  int n;      /* CPUs in cpu[] */
  int top;    /* the highest of them */
  int cpu[];  /* NONE, SET: ascending; COMPACT / SCATTER: slot i takes cpu[i % n] */
} weft__affinity;

/* Check opt and build its plan. WEFT_AFFINITY_NONE's plan is the CPUs the
 * calling thread may run on, so that the pool's threads run where its
 * creator may, whichever thread happens to start them (a thread inherits
 * the mask of the one that calls pthread_create: a task on a pinned pool
 * that submits to another pool would otherwise confine that pool's new
 * thread to its own CPU); *out is NULL if the kernel will not tell that
 * mask (no memory for it is WEFT_ENOMEM, as for the plan).
 * WEFT_EINVAL for an unknown policy, an empty SET, a CPU out of range or
 * one the calling thread may not run on; WEFT_ENOMEM. */
int weft__affinity_make(const weft_affinity *opt, weft__affinity **out);
void weft__affinity_free(weft__affinity *a);

/* The calling thread, worker w of e, pins itself as e's plan says (a
 * failure goes to e's log hook; the thread then runs unpinned: on any CPU
 * of the plan if its one CPU is gone, not on the mask it inherited). A NONE
 * plan is left to a thread factory of the program's, if e has one. */
void weft__affinity_apply(weft__engine *e, weft__eworker *w);

/* The calling thread, e's monitor, runs on any CPU of e's plan (all of
 * a SET, COMPACT or SCATTER list; the creator's CPUs for NONE). Why: it is
 * made by whichever thread starts it, often a worker that has pinned itself
 * to one CPU, and would inherit that pin. Nothing on failure (it then runs
 * where its creator may). */
void weft__affinity_apply_monitor(weft__engine *e);

#endif /* WEFT_ENGINE_AFFINITY_H */
