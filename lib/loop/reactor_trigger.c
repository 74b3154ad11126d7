/*
 * weft — system event triggers (addSystemEventTrigger, removeSystemEventTrigger;
 * fireSystemEvent and callWhenRunning, which also move the reactor's state,
 * are in lib/loop/reactor.c). Per event, three ordered lists; removal leaves a
 * tombstone so a trigger may remove itself or others while the list fires.
 * Reactor thread only.
 */
#include "base/alloc.h"
#include "loop/reactor_state.h"

WEFT_API int weft_reactor_add_trigger(weft_reactor *r, weft_phase phase, weft_event event,
                                      weft_fn fn, void *arg, weft_trigger_id *id) {
  if (r == NULL || fn == NULL || (unsigned)phase > WEFT_AFTER || (unsigned)event > WEFT_SHUTDOWN)
    return WEFT_EINVAL;
  weft__trigger_list *l = &r->triggers[event][phase];
  if (l->len == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 4;
    weft__trigger *v = weft__malloc(cap * sizeof *v);
    if (v == NULL) return WEFT_ENOMEM;
    for (size_t i = 0; i < l->len; i++) v[i] = l->v[i];
    weft__free(l->v);
    l->v = v;
    l->cap = cap;
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
      l->v[i].fn = NULL;
      return WEFT_OK;
    }
  }
  return WEFT_EALREADY;
}

void weft__triggers_fire(weft_reactor *r, weft_event event) {
  for (int phase = WEFT_BEFORE; phase <= WEFT_AFTER; phase++) {
    weft__trigger_list *l = &r->triggers[event][phase];
    /* by index: triggers may add triggers (they run in this pass too) */
    for (size_t i = 0; i < l->len; i++) {
      weft_fn fn = l->v[i].fn;
      if (fn) fn(l->v[i].arg);
    }
  }
}

void weft__triggers_free(weft_reactor *r) {
  for (int e = 0; e < 2; e++)
    for (int p = 0; p < 3; p++) {
      weft__free(r->triggers[e][p].v);
      r->triggers[e][p].v = NULL;
    }
}
