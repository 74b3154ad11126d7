/*
 * weft — a submit window: while a thread has one open, the tasks it submits
 * to an engine collect in a private chain and reach the engine in one push
 * (one count, one exchange, one link, one notify) when the window flushes,
 * instead of one of each per task.
 *
 * The reactor opens a window around each drain of its completion queue
 * (lib/loop/reactor.c), where a pipelined server's callbacks submit the next
 * call once per completion: the shared lines of the inject queue and of the
 * ctl word are then touched once per drain, not once per task.
 *
 * Contract
 *   open / close / add / flush: the owning thread only; a window lives on
 *     that thread's stack, and weft__tls.route points at it while open.
 *     open returns false (and opens nothing) if the thread already routes
 *     its submits: an engine worker, or a window already open (a nested
 *     drain joins the outer window).
 *   Tasks: every task add accepts is pushed at the flush, or, if its engine
 *     was closed meanwhile, cancelled there with WEFT_ECANCELED (its owner
 *     is told, E7). add refuses with WEFT_EQUIT once the engine is closed,
 *     like a direct submit.
 *   Engine lifetime: a window is registered in e->windows from its first add
 *     for e until its flush; weft__engine_stop waits for the count to reach
 *     zero after closing, so an engine is never freed under a window that
 *     holds tasks for it. weft__engine_close from the window's own thread
 *     flushes that window first, so its tasks run as any task submitted
 *     before stop does.
 *   Bound: at most WEFT__WINDOW_MAX tasks wait in a window; the next add
 *     flushes. FIFO per submitting thread is kept (one push per flush: a
 *     task batch, lib/engine/task_batch.h, or a chain when no batch is free).
 *   Progress: add is wait-free; flush is wait-free (one RMW on the count,
 *     one exchange, one store, the E5.1 notify, one RMW on e->windows) plus
 *     the owners' cancel callbacks when it cancels.
 * Source: batched submission as in io_uring's submission ring (entries are
 * queued privately; one doorbell hands them all over).
 */
#ifndef WEFT_SUBMIT_WINDOW_H
#define WEFT_SUBMIT_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/task.h"

struct weft__engine;

#define WEFT__WINDOW_MAX 64u

typedef struct weft__submit_window {
  struct weft__engine *e; /* the engine the tasks are for; NULL: unregistered */
  uint32_t n;
  weft__task *task[WEFT__WINDOW_MAX]; /* in submit order */
} weft__submit_window; /* pointer members: 8-byte aligned, bit 0 free for the route tag */

/* Open w on the calling thread; false if it already routes its submits. */
bool weft__submit_window_open(weft__submit_window *w);
/* Flush, then stop routing this thread's submits to w. */
void weft__submit_window_close(weft__submit_window *w);
/* Accept t for e (the routed submit of weft__engine_submit). 0 or WEFT_EQUIT. */
int weft__submit_window_add(weft__submit_window *w, struct weft__engine *e, weft__task *t);
/* Hand what w holds to its engine now, and unregister. */
void weft__submit_window_flush(weft__submit_window *w);

#endif /* WEFT_SUBMIT_WINDOW_H */
