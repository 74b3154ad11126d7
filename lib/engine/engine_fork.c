/*
 * weft — an engine's fork handlers (the contract is in
 * lib/engine/engine_fork.h). The child handler runs on the child's only
 * thread, so plain relaxed stores do: nobody else can observe the engine.
 */
#include "engine/engine_fork.h"

#include <stddef.h>

#include "engine/join_wait.h"
#include "engine/submit_window.h"

static weft__engine *engine_of(weft__fork_hook *h) {
  return (weft__engine *)(void *)((char *)h - offsetof(weft__engine, fork_hook));
}

/* shrink_mu before mu, the order a shrink takes them in. */
static void prepare(weft__fork_hook *h) {
  pthread_mutex_lock(&engine_of(h)->shrink_mu);
  pthread_mutex_lock(&engine_of(h)->mu);
}
static void parent(weft__fork_hook *h) {
  pthread_mutex_unlock(&engine_of(h)->mu);
  pthread_mutex_unlock(&engine_of(h)->shrink_mu);
}

static void child(weft__fork_hook *h) {
  weft__engine *e = engine_of(h);
  pthread_mutex_unlock(&e->mu);
  pthread_mutex_unlock(&e->shrink_mu);
  weft__store_relaxed(&e->closed, 1);
  /* Stopped too: nothing queued here will ever run or be cancelled (the
   * parent's tasks are the parent's), so weft_threadpool_cancel_work
   * answers WEFT_EINVAL for them instead of promising an after_cb, and no
   * stand-in starts for the forking worker's blocks. */
  weft__store_relaxed(&e->stopped, 1);
  /* The inject queue: empty, unlocked, closed; its counts say that every
   * task pushed so far was taken (by the parent, which has them). */
  weft__inject *in = &e->inject;
  uint64_t pushed = weft__inject_pushed(in);
  weft__mpsc_init(&in->q);
  weft__store_relaxed(&in->held, NULL);
  weft__store_relaxed(&in->popped, pushed);
  weft__store_relaxed(&in->batches_in, 0);
  in->batches_out = 0;
  weft__store_relaxed(&in->pushed, pushed | WEFT__INJECT_CLOSED);
  weft__store_relaxed(&in->consumer_busy, 0);
  /* Rings: emptied (the forking thread's too: a worker that forked inside a
   * task must not run its ring's tasks again in the child). Slots of
   * threads that do not exist here count as joined. */
  weft__eworker *me = weft__engine_current_worker();
  if (me && me->e != e) me = NULL;
  uint32_t hw = weft__load_relaxed(&e->hw);
  for (uint32_t i = 0; i < hw; i++) {
    weft__eworker *w = e->slots[i];
    if (!w) continue;
    weft__ring_init(&w->ring);
    if (w == me) continue;
    weft__store_relaxed(&w->busy, 0);
    /* A thread that was at an idle<->busy edge of its busy-time stamps
     * (worker_stats.h) left its sequence count odd, and it does not exist
     * here to make it even: readers (weft_threadpool_worker_stats) would
     * retry for ever. Even again, with no spell running. */
    uint32_t seq = weft__load_relaxed(&w->busy_seq);
    weft__store_relaxed(&w->busy_since, 0);
    weft__store_relaxed(&w->busy_seq, (seq + 1u) & ~1u);
    int st = weft__load_relaxed(&w->state);
    if (st == WEFT__SLOT_LIVE || st == WEFT__SLOT_EXITED) weft__store_relaxed(&w->state, WEFT__SLOT_JOINED);
  }
  /* The forking worker (if any) is busy: neither searching nor parked. The
   * threads that do not exist here count as gone at shutdown, so that the
   * statistics' books (creations - exits = threads) still balance. Counted
   * from the books, not from `live`: a thread leaves `live` before it counts
   * its exit (a shrink uncounts the parked worker it tells to quit, which
   * counts itself once it wakes; a debt's payer, a reaper and a stopping
   * worker count after their uncount), and one between the two at the fork
   * is in neither here (test_elastic
   * fork_child_books_count_a_worker_told_to_quit). Creations are counted
   * under the mutex, which the fork holds. */
  int live_now = me ? 1 : 0;
  uint64_t made = 0, gone = 0;
  for (int i = 0; i < WEFT__MADE_N; i++) made += weft__load_relaxed(&e->made[i]);
  for (int i = 0; i < WEFT__LEFT_N; i++) gone += weft__load_relaxed(&e->left[i]);
  if (made > gone + (uint64_t)live_now)
    weft__store_relaxed(&e->left[WEFT__LEFT_SHUTDOWN],
                        weft__load_relaxed(&e->left[WEFT__LEFT_SHUTDOWN]) +
                            (made - gone - (uint64_t)live_now));
  weft__store_relaxed(&e->live, live_now);
  /* Blocked workers and their grants: only the forking worker's own block
   * is left (its weft_blocking_end gives it back); the monitor's grants
   * went with the monitor. */
  int blocked_now = me && me->block_depth > 0 ? 1 : 0;
  int grants_now = me && me->block_grant ? 1 : 0;
  int grants_was = weft__load_relaxed(&e->grants);
  weft__store_relaxed(&e->blocked, blocked_now);
  weft__store_relaxed(&e->grants_explicit, grants_now);
  weft__store_relaxed(&e->grants, grants_now);
  if (!e->cfg.limit)
    weft__store_relaxed(&e->limit_value, weft__load_relaxed(&e->limit_value) - grants_was + grants_now);
  weft__store_relaxed(&e->ctl, 0);
  weft__store_relaxed(&e->parked, 0);
  weft__store_relaxed(&e->shrink_debt, 0);
  e->settling = 0; /* the grants' threads are gone */
  /* Submit windows: only the forking thread's exists here. The tasks it
   * holds were submitted in the parent, which flushes them there. */
  int windows = 0;
  weft__submit_window *w = weft__thread_window();
  if (w) {
    if (w->e == e) {
      w->n = 0;
      windows = 1; /* its close unregisters it */
    }
  }
  weft__store_relaxed(&e->windows, windows);
  /* The elastic monitor's thread does not exist here: forget it (its
   * memory is the parent's, like the other threads'), so that stop does not
   * join it; nothing arms a closed engine's monitor again. */
  weft__store_relaxed(&e->monitor, NULL);
  weft__store_relaxed(&e->monitor_armed, 1);
  weft__engine_join_fork_child(e);
}

int weft__engine_fork_register(weft__engine *e) {
  e->fork_hook.rank = WEFT__FORK_RANK_ENGINE;
  e->fork_hook.prepare = prepare;
  e->fork_hook.parent = parent;
  e->fork_hook.child = child;
  return weft__fork_register(&e->fork_hook);
}

void weft__engine_fork_unregister(weft__engine *e) { weft__fork_unregister(&e->fork_hook); }
