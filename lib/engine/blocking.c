/*
 * weft — weft_blocking_begin / weft_blocking_end (docs/design.md E9.1): a
 * task tells the pool it is about to block, and the pool stands in for it
 * at once. Like Tokio's block_in_place, Java's ManagedBlocker and .NET's
 * cooperative blocking (PortableThreadPool.Blocking.cs), with .NET's shape:
 * a burst of immediate grants (max(8, 4 x CPUs)), then the monitor's token
 * bucket (lib/engine/monitor.c).
 *
 * Contract: any thread. On a thread that is not an engine worker both do
 * nothing. On a worker they are the owner's own: begin/end nest, the
 * outermost pair counts. A grant raises the engine's limit by one for
 * exactly as long as its worker stays inside, or, if a task returns with a
 * block still open, until its worker next goes idle (worker_loop.c ends it
 * then: an idle worker blocks nothing).
 */
#include "engine/core.h"
#include "engine/engine.h"
#include "engine/park.h"
#include "weft/threadpool.h"

/* Per engine, from the CPUs it counted when it was made (its creator's):
 * a process-wide value computed by the first begin would have taken the
 * mask of whichever worker called first, one CPU for a pinned pool's. */
static int explicit_burst(const weft__engine *e) {
  int b = 4 * e->ncpu;
  return b < 8 ? 8 : b;
}

WEFT_API int weft_blocking_begin(void) {
  weft__eworker *w = weft__engine_current_worker();
  if (!w) return WEFT_OK; /* not a pool thread: nobody to stand in for */
  if (w->block_depth++ > 0) return WEFT_OK;
  weft__engine *e = w->e;
  weft__store_relaxed(&w->blocking, 1); /* read by the monitor */
  /* seq_cst RMW, then a seq_cst load of `closed`: the begin's half of a
   * Dekker with weft__engine_stop (its close, a fence, then its load of
   * `blocked`). Either we see the pool closed and start our stand-in below,
   * or the stop sees our block and starts one (stand_in_for_blocked): a
   * begin that saw the pool open may get no thread from the open pool's way
   * once a stop has begun (the stop lowered the limit to 0, and it joins the
   * monitor). models/stop_stand_in.pml. */
  weft__fetch_add_seq_cst(&e->blocked, 1);
  if (!weft__load_relaxed(&e->elastic)) return WEFT_OK;
  if (WEFT_UNLIKELY(weft__load_seq_cst(&e->closed))) {
    /* A stop is running the queued work. What is queued may be what we
     * wait for (a child we submitted): it gets a thread of its own, bounded
     * by the valve, not by grants (the burst and the monitor are for an
     * open pool; the limit of a stopping one is 0), or the stop would wait
     * for us for ever. Nobody may submit now, so this is the last chance.
     * models/stop_join.pml. */
    if (weft__engine_work_visible(e))
      (void)weft__engine_grow_closing(e); /* a failure: as for any block, we wait */
    return WEFT_OK;
  }
  if (weft__fetch_add_relaxed(&e->grants_explicit, 1) < explicit_burst(e)) {
    w->block_grant = true;
    weft__engine_add_grants(e, 1);
  } else {
    weft__fetch_sub_relaxed(&e->grants_explicit, 1);
    weft__engine_arm_monitor(e); /* past the burst: the bucket's pace */
    if (WEFT_UNLIKELY(!weft__load_relaxed(&e->monitor_armed))) {
      /* No monitor: its thread could not start (or failed lately and waits
       * out its backoff), and nothing else would stand in for us while we
       * block (a failed start is retried only by a later saturation). Take
       * a grant as in the burst; the valve still bounds the threads. A
       * monitor that disarmed itself just now also lands here: one grant
       * more, given back at our end. */
      weft__fetch_add_relaxed(&e->grants_explicit, 1);
      w->block_grant = true;
      weft__engine_add_grants(e, 1);
    }
  }
  /* Work we leave behind (our ring, the inject queue) needs a taker now:
   * E5.1 wakes a parked worker or, below the raised limit, starts one. */
  if (weft__engine_work_visible(e)) {
    weft__engine_notify(e);
  } else if (w->block_grant) {
    /* No work visible yet. If nobody is idle either (no worker parked or
     * searching), start the stand-in now, as Tokio's block_in_place hands
     * its core on at once: the next submit then wakes a thread instead of
     * waiting for one to start. A thread start on this machine is most of
     * what a task queued behind blocked workers waited for: a mean of
     * 0.26 ms with the start on the submit's path, 0.11-0.18 ms in most
     * runs with it here (perf/elastic_latency.c; docs/performance.md,
     * "Elastic"). Relaxed:
     * a hint that orders nothing (nothing read through it). Stale "someone
     * idle": no stand-in yet, and the next submit's notify (E5.1) wakes or
     * starts one as before; stale "nobody idle": one thread more, which
     * reaps itself after the keep-alive. */
    uint64_t s = weft__load_relaxed(&e->ctl);
    /* Not while a failed creation backs off (E9.5): the submit's notify
     * arms the monitor, which retries once the back-off has passed. */
    if (WEFT__CTL_TOP(s) == 0 && WEFT__CTL_SEARCHING(s) == 0 && !weft__engine_spawn_backing_off(e))
      (void)weft__engine_grow(e, 1, WEFT__MADE_BLOCKED); /* a failure: the submit retries */
  }
  return WEFT_OK;
}

/* The outermost block of w is over: its count and grant go back. */
static void block_over(weft__eworker *w) {
  weft__engine *e = w->e;
  weft__store_relaxed(&w->blocking, 0);
  weft__fetch_sub_relaxed(&e->blocked, 1);
  if (w->block_grant) {
    w->block_grant = false;
    weft__fetch_sub_relaxed(&e->grants_explicit, 1);
    weft__engine_add_grants(e, -1);
    /* A resize below the thread count while we were blocked kept a thread
     * for our grant: it goes now, as adjust_poolsize says busy threads
     * above max do once idle. */
    weft__engine_grants_returned(e);
  }
}

WEFT_API int weft_blocking_end(void) {
  weft__eworker *w = weft__engine_current_worker();
  if (!w) return WEFT_OK;
  if (w->block_depth == 0) return WEFT_ESTATE; /* end without begin */
  if (--w->block_depth > 0) return WEFT_OK;
  block_over(w);
  return WEFT_OK;
}

void weft__engine_blocking_abandoned(weft__eworker *w) {
  w->block_depth = 0;
  block_over(w);
}

