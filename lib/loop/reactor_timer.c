/*
 * weft — the reactor's timers (callLater): a binary min-heap of slot indexes
 * ordered by (when, seq), slots recycled through a free list. An id is
 * (generation << 32 | index + 1), so cancelling a stale id is harmless.
 * The generation is not counted per slot but taken from the reactor's
 * timer sequence (timer_gen), which a fork's child keeps: the child forgets
 * the parent's arrays and fills slots from 0 again, and a per-slot count
 * restarted there gave its first timer the id of the parent's first
 * (test_fork child_timer_ids_do_not_match_the_parents). An id comes back
 * only after 2^32 - 1 further timers, as before only after that many
 * reuses of one slot. Reactor thread only.
 */
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "loop/reactor_state.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void weft__timers_init(weft_reactor *r) { r->free_head = WEFT__NO_FREE; }

void weft__timers_free(weft_reactor *r) {
  weft__free(r->slots);
  weft__free(r->heap);
  weft__timers_forget_all(r); /* the arrays gone, the counts with them */
}

static int before(weft_reactor *r, uint32_t a, uint32_t b) {
  const weft__timer_slot *x = &r->slots[a], *y = &r->slots[b];
  return x->when < y->when || (x->when == y->when && x->seq < y->seq);
}

static void heap_set(weft_reactor *r, size_t i, uint32_t s) {
  r->heap[i] = s;
  r->slots[s].heap_index = (int32_t)i;
}

static void sift_up(weft_reactor *r, size_t i) {
  uint32_t s = r->heap[i];
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!before(r, s, r->heap[p])) break;
    heap_set(r, i, r->heap[p]);
    i = p;
  }
  heap_set(r, i, s);
}

static void sift_down(weft_reactor *r, size_t i) {
  uint32_t s = r->heap[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= r->heap_len) break;
    if (c + 1 < r->heap_len && before(r, r->heap[c + 1], r->heap[c])) c++;
    if (!before(r, r->heap[c], s)) break;
    heap_set(r, i, r->heap[c]);
    i = c;
  }
  heap_set(r, i, s);
}

static void heap_remove(weft_reactor *r, size_t i) {
  uint32_t gone = r->heap[i];
  r->slots[gone].heap_index = -1;
  r->heap_len--;
  if (i == r->heap_len) return;
  heap_set(r, i, r->heap[r->heap_len]);
  sift_down(r, i);
  sift_up(r, (size_t)r->slots[r->heap[i]].heap_index);
}

/* 1 .. 2^32 - 1 from the timer's sequence number: 0 is no timer's. */
static uint32_t timer_gen(uint64_t seq) { return (uint32_t)(seq % UINT32_MAX) + 1u; }

static void slot_free(weft_reactor *r, uint32_t s) {
  r->slots[s].gen = 0; /* no id names a free slot */
  r->slots[s].fn = NULL;
  r->slots[s].next_free = r->free_head;
  r->free_head = s;
}

/* In a child of fork: the fork may have caught the reactor's thread inside
 * call_later (slots freed and not yet replaced, heap_len moved ahead of its
 * entry), so nothing here reads the arrays. The child forgets them whole:
 * the parent's copies stay allocated in the child (they are the parent's
 * state; the child has no other thread to ask whether they are whole), and
 * every parent id is out of range, so cancelling one answers
 * WEFT_EALREADY. Scalar stores only. */
void weft__timers_forget_all(weft_reactor *r) {
  r->slots = NULL;
  r->heap = NULL;
  r->heap_len = 0;
  r->nslots = r->slot_cap = 0;
  r->free_head = WEFT__NO_FREE;
}

WEFT_API int weft_reactor_call_later(weft_reactor *r, double seconds, weft_fn fn, void *arg,
                                     weft_timer_id *id) {
  /* 0 (no timer's id) on every failure (weft/common.h): a refusal that left
   * *id as it was handed the caller the id of a timer still pending, which
   * a later cancel of "its" timer took out. */
  if (id) *id = 0;
  if (r == NULL || fn == NULL || seconds != seconds /* NaN */) return WEFT_EINVAL;
  if (seconds < 0) seconds = 0;
  if (r->free_head == WEFT__NO_FREE) {
    if (r->nslots == r->slot_cap) {
      uint32_t cap = r->slot_cap ? r->slot_cap * 2 : 16;
      weft__timer_slot *ns = weft__malloc(cap * sizeof *ns);
      uint32_t *nh = weft__malloc(cap * sizeof *nh);
      if (ns == NULL || nh == NULL) {
        weft__free(ns);
        weft__free(nh);
        return WEFT_ENOMEM;
      }
      if (r->nslots) {
        memcpy(ns, r->slots, r->nslots * sizeof *ns);
        memcpy(nh, r->heap, r->heap_len * sizeof *nh);
      }
      weft__free(r->slots);
      weft__free(r->heap);
      r->slots = ns;
      r->heap = nh;
      r->slot_cap = cap;
    }
    r->slots[r->nslots].gen = 0;
    r->slots[r->nslots].heap_index = -1;
    r->free_head = r->nslots++;
    r->slots[r->free_head].next_free = WEFT__NO_FREE;
  }
  uint32_t s = r->free_head;
  r->free_head = r->slots[s].next_free;
  weft__timer_slot *t = &r->slots[s];
  t->when = now_s() + seconds;
  t->seq = r->timer_seq++;
  t->gen = timer_gen(t->seq);
  t->fn = fn;
  t->arg = arg;
  r->heap_len++;
  heap_set(r, r->heap_len - 1, s);
  sift_up(r, r->heap_len - 1);
  if (id) *id = ((uint64_t)t->gen << 32) | (uint64_t)(s + 1);
  if (r->hosted && r->heap[0] == s) weft__hosted_arm(r); /* a new earliest deadline */
  return WEFT_OK;
}

WEFT_API int weft_reactor_cancel_call(weft_reactor *r, weft_timer_id id) {
  if (r == NULL || id == 0) return WEFT_EINVAL;
  uint32_t s = (uint32_t)(id & 0xffffffffu) - 1;
  uint32_t gen = (uint32_t)(id >> 32);
  if (s >= r->nslots || r->slots[s].gen != gen || r->slots[s].heap_index < 0) return WEFT_EALREADY;
  heap_remove(r, (size_t)r->slots[s].heap_index);
  slot_free(r, s);
  return WEFT_OK;
}

int weft__timers_run_due(weft_reactor *r) {
  if (r->heap_len == 0) return 0;
  double now = now_s();
  uint64_t limit = r->timer_seq; /* calls added while running wait (Twisted) */
  int n = 0;
  while (r->heap_len > 0) {
    uint32_t s = r->heap[0];
    weft__timer_slot *t = &r->slots[s];
    if (t->when > now || t->seq >= limit) break;
    weft_fn fn = t->fn;
    void *arg = t->arg;
    heap_remove(r, 0);
    slot_free(r, s);
    fn(arg);
    n++;
    /* fn detached an attached reactor: the shutdown ran, and no timer runs
     * after it (weft_reactor_drain's contract). Under run the state stays
     * running until the loop ends, so this changes nothing there. */
    if (weft__load_relaxed(&r->state) != R_RUNNING) break;
    /* fn forked and returns in the child, whose fork handler forgot the
     * parent's calls: the loop above finds none left. */
  }
  return n;
}

int weft__timers_earliest(weft_reactor *r, double *when) {
  if (r->heap_len == 0) return 0;
  *when = r->slots[r->heap[0]].when;
  return 1;
}

int weft__timers_timeout_ms(weft_reactor *r) {
  if (r->heap_len == 0) return -1;
  double d = r->slots[r->heap[0]].when - now_s();
  if (d <= 0) return 0;
  double ms = d * 1000.0;
  if (ms >= 2147483646.0) return 2147483647;
  int whole = (int)ms;
  return whole < ms ? whole + 1 : whole; /* round up: never wake early */
}
