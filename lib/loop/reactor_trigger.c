/*
 * weft — system event triggers (addSystemEventTrigger, removeSystemEventTrigger;
 * fireSystemEvent and callWhenRunning, which also move the reactor's state,
 * are in lib/loop/reactor.c). Per event, three ordered lists. A removal
 * takes the entry out, keeping the order; while a list fires it leaves a
 * tombstone instead (a trigger may remove itself or others, and the firing
 * walks by index), swept when the outermost firing ends, so a reactor that
 * adds and removes a trigger per connection keeps short lists (it kept
 * every tombstone: 50,000 add/remove pairs per round took 2.0, 6.1, 9.5,
 * 12.6 s in four rounds). Reactor thread only.
 */
#include "base/alloc.h"
#include "loop/reactor_state.h"

WEFT_API int weft_reactor_add_trigger(weft_reactor *r, weft_phase phase, weft_event event,
                                      weft_fn fn, void *arg, weft_trigger_id *id) {
  if (id) *id = 0; /* on every failure (weft/common.h); 0 is no trigger's id */
  if (r == NULL || fn == NULL || (unsigned)phase > WEFT_AFTER || (unsigned)event > WEFT_SHUTDOWN)
    return WEFT_EINVAL;
  weft__trigger_list *l = &r->triggers[event][phase];
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    weft__trigger *v = weft__malloc(cap * sizeof *v);
    if (v == NULL) return WEFT_ENOMEM;
    for (size_t i = 0; i < l->len; i++) v[i] = l->v[i];
    /* The new list is stored before the old one is freed: a fork from
     * another thread in between must leave the child a reactor whose
     * arrays are all live, which its destroy frees (test_fork
     * fork_while_the_reactor_grows_an_array). The compiler barrier keeps
     * the stores before the call; the processor keeps stores in order. */
    weft__trigger *old = l->v;
    l->v = v;
    l->cap = cap;
    weft__fence_signal();
    weft__free(old);
  }
  /* id: a counter with event and phase in the low bits, for removal */
  weft_trigger_id tid = (r->next_trigger_id++ << 3) | ((uint64_t)event << 2) | (uint64_t)phase;
  l->v[l->len++] = (weft__trigger){tid, fn, arg};
  if (id) *id = tid;
  return WEFT_OK;
}

WEFT_API int weft_reactor_remove_trigger(weft_reactor *r, weft_trigger_id id) {
  if (r == NULL || id == 0) return WEFT_EINVAL;
  unsigned phase = id & 3u, event = (id >> 2) & 1u;
  if (phase > WEFT_AFTER) return WEFT_EALREADY;
  weft__trigger_list *l = &r->triggers[event][phase];
  for (size_t i = 0; i < l->len; i++) {
    if (l->v[i].id == id && l->v[i].fn != NULL) {
      if (r->triggers_firing > 0) {
        l->v[i].fn = NULL; /* a tombstone: the firing walks by index */
        r->triggers_tombstones = 1;
      } else {
        for (size_t j = i + 1; j < l->len; j++) l->v[j - 1] = l->v[j];
        l->len--;
      }
      return WEFT_OK;
    }
  }
  return WEFT_EALREADY;
}

/* Take the tombstones out of every list, keeping the order. */
static void sweep_tombstones(weft_reactor *r) {
  for (int e = 0; e < 2; e++)
    for (int p = 0; p < 3; p++) {
      weft__trigger_list *l = &r->triggers[e][p];
      size_t k = 0;
      for (size_t i = 0; i < l->len; i++)
        if (l->v[i].fn != NULL) l->v[k++] = l->v[i];
      l->len = k;
    }
  r->triggers_tombstones = 0;
}

void weft__triggers_fire(weft_reactor *r, weft_event event) {
  r->triggers_firing++;
  /* A trigger that forked and returned in the child ends the firing there:
   * the triggers after it are the parent's, which runs them, as the rest of
   * an epoll batch or a coordinator's queue is (reactor_fork.c). A firing
   * begun in the child (forked already) runs all of its triggers. Relaxed:
   * the child's only thread stored it, in the fork handler. */
  int forked = weft__load_relaxed(&r->forked);
  for (int phase = WEFT_BEFORE; phase <= WEFT_AFTER; phase++) {
    weft__trigger_list *l = &r->triggers[event][phase];
    /* by index: triggers may add triggers (they run in this pass too) */
    for (size_t i = 0; i < l->len; i++) {
      weft_fn fn = l->v[i].fn;
      if (fn) fn(l->v[i].arg);
      if (WEFT_UNLIKELY(!forked && weft__load_relaxed(&r->forked))) goto out;
    }
  }
out:
  /* A trigger may have destroyed r only where destroy allows it: never
   * while a firing is under way (WEFT_EBUSY, reactor.c), so r is ours. */
  if (--r->triggers_firing == 0 && r->triggers_tombstones) sweep_tombstones(r);
}

size_t weft__triggers_len(weft_reactor *r, weft_event event, weft_phase phase) {
  return r->triggers[event][phase].len;
}

void weft__triggers_free(weft_reactor *r) {
  for (int e = 0; e < 2; e++)
    for (int p = 0; p < 3; p++) {
      weft__free(r->triggers[e][p].v);
      r->triggers[e][p].v = NULL;
    }
}
