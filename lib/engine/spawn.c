/*
 * weft — starting engine threads and marking their exit (docs/design.md
 * E4.1; the contract is in lib/engine/spawn.h). Control plane: under the
 * engine mutex, never on a task's path except an E5.1 notify that must
 * start a thread.
 */
#include "engine/spawn.h"

#include <stdio.h>

#include "base/alloc.h"
#include "base/thread_name.h"

void weft__engine_log(weft__engine *e, int err, const char *what) {
  if (e->cfg.log) {
    e->cfg.log(e->cfg.log_ctx, err, what);
    return;
  }
  fprintf(stderr, "weft: %s: %s\n", what, weft_strerror(err));
}

/* Under e->mu. The caller counted the new thread as searching in ctl. */
int weft__engine_spawn_locked(weft__engine *e) {
  if (weft__load_relaxed(&e->closed)) return WEFT_EQUIT;
  if (weft__load_relaxed(&e->live) >= weft__engine_limit(e)) return WEFT_EAGAIN;
  uint32_t hw = weft__load_relaxed(&e->hw);
  uint32_t idx = hw;
  for (uint32_t i = 0; i < hw; i++) {
    /* Acquire: pairs with worker_exited's release. */
    int st = weft__load_acquire(&e->slots[i]->state);
    if (st == WEFT__SLOT_EXITED) {
      pthread_join(e->slots[i]->thread, NULL); /* it has left its loop */
      weft__store_relaxed(&e->slots[i]->state, WEFT__SLOT_JOINED);
      st = WEFT__SLOT_JOINED;
    }
    if (st == WEFT__SLOT_JOINED || st == WEFT__SLOT_FREE) {
      idx = i;
      break;
    }
  }
  if (idx >= (uint32_t)e->capacity) return WEFT_EAGAIN; /* slots held by exiting threads */
  weft__eworker *w = e->slots[idx];
  if (!w) {
    w = weft__calloc_aligned(sizeof *w);
    if (!w) {
      weft__fetch_add_relaxed(&e->spawn_failures, 1);
      return WEFT_ENOMEM;
    }
    weft__ring_init(&w->ring);
    w->index = idx;
    w->e = e;
    w->rng = 0x9e3779b9u ^ (idx * 0x85ebca6bu) ^ 1u;
    e->slots[idx] = w;
  }
  /* Ring indices are kept across reuse: a thief may still be reading them. */
  weft__store_relaxed(&w->busy, 0);
  weft__store_relaxed(&w->wake, WEFT__WAKE_ASLEEP);
  weft__store_relaxed(&w->state, WEFT__SLOT_LIVE);
  if (idx == hw) weft__store_release(&e->hw, hw + 1); /* release: publishes slots[idx] to scanners */
  char name[256];
  uint64_t serial = weft__load_relaxed(&e->spawns) + weft__load_relaxed(&e->spawn_failures);
  snprintf(name, sizeof name, "%s-%llu", e->prefix, (unsigned long long)serial);
  w->serial = serial;
  weft__thread_short_name(name, w->short_name);
  weft_thread_factory_fn factory = e->cfg.factory ? e->cfg.factory : weft__thread_create_named;
  weft__fetch_add_relaxed(&e->live, 1);
  int r = factory(e->cfg.factory_ctx, &w->thread, e->thread_main, w, name);
  if (r != 0) {
    weft__fetch_sub_relaxed(&e->live, 1);
    weft__store_relaxed(&w->state, WEFT__SLOT_JOINED);
    weft__fetch_add_relaxed(&e->spawn_failures, 1);
    weft__engine_log(e, WEFT_EAGAIN, "thread factory failed to create a pool thread");
    return WEFT_EAGAIN;
  }
  weft__fetch_add_relaxed(&e->spawns, 1);
  WEFT_PROBE(grow, e, weft__load_relaxed(&e->live));
  return WEFT_OK;
}

void weft__engine_worker_exited(weft__engine *e, weft__eworker *w) {
  (void)e;
  /* Release: the thread's last uses of its slot happen before a spawner,
   * which loads the state with acquire, joins it and reuses the slot. No
   * mutex: a spawner holding it must never wait for us. */
  weft__store_release(&w->state, WEFT__SLOT_EXITED);
}

