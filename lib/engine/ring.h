/*
 * weft — per-worker run ring: a bounded SPMC queue of task pointers with
 * "steal half" (docs/design.md E3).
 *
 * Contract
 *   push / pop / push_overflow:  the owning worker only.
 *   steal_into:                  any thread that owns a destination ring
 *                                (a thief), concurrently with the owner and
 *                                with other thieves (a second thief backs off).
 *   len / empty:                 any thread; a snapshot.
 *   Progress: push is wait-free (no RMW); pop and steal are lock-free (a CAS
 *   loop that fails only when another party made progress).
 *   `limit` is the owner's alone (push_seen); the owner's other ways of
 *   filling its ring (an inject batch, a steal into it) check room against
 *   a fresh head and need not update it.
 *
 * Algorithm: the Go runtime's runq (runtime/proc.go, runqput/runqget/
 * runqsteal) in the form of Tokio's multi_thread/queue.rs: 256 slots, `tail`
 * written only by the owner, `head` holds {steal, real}. A thief claims n
 * tasks by advancing `real` while leaving `steal` behind (claim in progress:
 * other thieves back off, the owner does not reuse the claimed slots because
 * it measures capacity from `steal`), copies them, then sets `steal = real`.
 *
 * Encoding of head (one u64): `real` in the high 32 bits; the low 32 bits
 * are 0 while no claim is in progress (steal == real), else WEFT__RING_CLAIM
 * | (steal mod 2^31). So the owner's pop, which advances `real`, leaves
 * `steal` where it is while a claim is in progress and moves it with `real`
 * when none is, is one add of 2^32 in both cases (the carry out of bit 63
 * is the u32 wrap of `real`), where Tokio's {steal:32 | real:32} needs a test of
 * steal == real and a repack: 5 instructions of the 17 the pop cost per task
 * (perf/callgrind.sh; docs/performance.md, "Instructions per task"). The
 * protocol is Go's unchanged (models/ring.pml checks it on {steal, real});
 * steal is recovered from 31 bits because real - steal <= 256 (the
 * difference mod 2^31 is the difference).
 *
 * Indices are u32 and wrap; every comparison is a difference.
 *
 * Why not concurrencykit's ck_ring (its SPMC form: owner enqueue, any thread
 * dequeues): (1) ck_ring's consumers take one entry per CAS and it has no
 * batch claim, so a thief would pay one contended CAS per stolen task where
 * this ring claims half the victim's tasks with one CAS, and the owner's
 * overflow (take_half: 128 tasks to the inject queue in one CAS) has no
 * ck_ring counterpart; (2) ck_pr's atomics are inline asm on x86-64, which
 * ThreadSanitizer cannot see (with CK_USE_CC_BUILTINS its loads are plain
 * volatile reads, which it reports), so every steal would be a reported race
 * in the TSan run. Not a single-thread cost question, where ck_ring wins:
 * as a whole pool (bench/ckring_pool.c: one shared ck_ring MPMC queue,
 * futex parking, its rare paths out of line) it costs 82.2-87.6
 * instructions per task under callgrind against weft's 94.6
 * (call_in_thread) and 86.8 (queue_work), one worker, N = 100000
 * (perf/callgrind.sh 100000 call work ckring, gcc 12 -O3, USDT probes
 * built in); the ring pays for stealing and for scaling, which
 * ck_ring does not do: with threads every ck_ring consumer CASes one line
 * and every producer another (bench W1/W4, docs/performance.md
 * "concurrencykit alone").
 */
#ifndef WEFT_RING_H
#define WEFT_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "base/atomic.h"
#include "base/debug.h"
#include "engine/task.h"

#define WEFT__RING_CAP 256u
#define WEFT__RING_MASK (WEFT__RING_CAP - 1u)

typedef struct weft__ring {
  /* Not the ring's own state: the owning engine worker's count of the tasks
   * it has run (lib/engine/core.h), stored by the owner after every task
   * and, for a task it skips, at the skip (weft__engine_count_skipped)
   * (relaxed: a statistic, and the elastic monitor's progress signal, E9.2)
   * and read by anyone. On head's line because the owner's pop has just
   * written that line with its CAS, so the store costs no extra line; first
   * in the struct because its address is then the ring's own, which the
   * worker loop holds in a register already (gcc keeps a separate register,
   * or a stack slot, for each other atomic field's address). */
  WEFT_CACHE_ALIGNED _Atomic uint64_t executed;
  _Atomic uint64_t head; /* {real:32 | claim:1 | steal:31}, see above */
  WEFT_CACHE_ALIGNED _Atomic uint32_t tail; /* written by the owner only */
  /* Owner only: steal + CAP as of the owner's last look at head (push_seen):
   * a tail below it has room, without loading head. */
  uint32_t limit;
  WEFT_CACHE_ALIGNED _Atomic(weft__task *) slot[WEFT__RING_CAP];
} weft__ring;

#define WEFT__RING_CLAIM UINT32_C(0x80000000) /* low word: a thief's claim is in progress */
#define WEFT__RING_REAL_ONE (UINT64_C(1) << 32)  /* real + 1, steal kept: the pop */

static inline uint32_t weft__ring_real(uint64_t h) { return (uint32_t)(h >> 32); }
/* A thief's claim is in progress (steal != real). */
static inline bool weft__ring_claimed(uint64_t h) { return (uint32_t)h != 0; }
static inline uint32_t weft__ring_steal(uint64_t h) {
  uint32_t real = weft__ring_real(h);
  return weft__ring_claimed(h) ? real - ((real - (uint32_t)h) & ~WEFT__RING_CLAIM) : real;
}
/* head with no claim in progress (steal == real). */
static inline uint64_t weft__ring_pack_idle(uint32_t real) { return (uint64_t)real << 32; }
/* head while a thief copies the slots [steal, real). */
static inline uint64_t weft__ring_pack_claim(uint32_t steal, uint32_t real) {
  return ((uint64_t)real << 32) | WEFT__RING_CLAIM | (steal & ~WEFT__RING_CLAIM);
}

static inline void weft__ring_init(weft__ring *r) {
  weft__store_relaxed(&r->head, 0);
  weft__store_relaxed(&r->tail, 0);
  r->limit = WEFT__RING_CAP;
}

/* Tasks in the ring (not counting a steal's claimed tasks). Any thread. */
static inline uint32_t weft__ring_len(weft__ring *r) {
  /* Acquire loads: a parker's re-check (E5.2) must see a task whose tail
   * store-release it is ordered after; the Dekker half is the caller's
   * seq_cst fence. */
  uint64_t h = weft__load_acquire(&r->head);
  uint32_t t = weft__load_acquire(&r->tail);
  uint32_t n = t - weft__ring_real(h);
  return n > WEFT__RING_CAP ? 0 : n; /* a torn snapshot reads as empty-ish */
}

static inline bool weft__ring_empty(weft__ring *r) { return weft__ring_len(r) == 0; }

/* push_seen's look at head: the room below r->limit is used up. Returns
 * false if the ring is full (*seen: the head that showed it), else raises
 * the limit. Once per up to CAP pushes. */
static inline bool weft__ring_look(weft__ring *r, uint32_t tail,
                                   uint64_t *seen) {
  /* Acquire: pairs with a thief's release CAS that sets steal = real, so the
   * thief's reads of the slots it copied happen before we overwrite them,
   * here and in every push that the limit set here lets through. */
  uint64_t h = weft__load_acquire(&r->head);
  uint32_t steal = weft__ring_steal(h);
  if (tail - steal >= WEFT__RING_CAP) {
    *seen = h;
    return false;
  }
  r->limit = steal + WEFT__RING_CAP;
  return true;
}

/*
 * Owner push. Returns false if the ring is full; *seen then holds the head
 * value that showed it full, for take_half. E3 "owner push: slot store
 * relaxed, store_release(tail)".
 */
static inline bool weft__ring_push_seen(weft__ring *r, weft__task *t, uint64_t *seen) {
  uint32_t tail = weft__load_relaxed(&r->tail);
  /* Room below the limit the owner saw last: steal only moves forward, so
   * a limit from an older head is a bound that still holds. Signed: tail
   * may have passed the limit through another of the owner's writes (an
   * inject batch, a steal into this ring), each checked against a fresh
   * head; the next push then looks again. */
  if (WEFT_UNLIKELY((int32_t)(r->limit - tail) <= 0) && !weft__ring_look(r, tail, seen))
    return false;
  /* Invariant: steal <= real <= tail, so the owner never sees more than CAP
   * tasks (this check would have caught the take_half bug ring.pml found). */
  weft_assert_hot(tail - weft__ring_real(weft__load_relaxed(&r->head)) <= WEFT__RING_CAP);
  weft_assert_hot(t != NULL);
  weft__store_relaxed(&r->slot[tail & WEFT__RING_MASK], t);
  /* Release: publishes the slot (and the task's fields) to pop/steal, which
   * load tail with acquire. */
  weft__store_release(&r->tail, tail + 1);
  return true;
}

static inline bool weft__ring_push(weft__ring *r, weft__task *t) {
  uint64_t seen = 0;
  return weft__ring_push_seen(r, t, &seen);
}

/*
 * Owner, after push_seen found the ring full with head == seen: claim the
 * older half and link it, followed by t, into a chain first..last for the
 * inject queue (Go's runqputslow). The claim is a CAS from `seen` itself,
 * never from a reloaded head: a steal that completed since the push would
 * make a reloaded {steal == real} describe a ring that is no longer full,
 * and the claim would spill slots a thief already took (models/ring.pml).
 * Returns false if a steal was in progress or head moved since (the caller
 * then injects t alone: no task is lost, only FIFO order is bent).
 */
static inline bool weft__ring_take_half(weft__ring *r, uint64_t seen, weft__task *t,
                                        weft__task **first, weft__task **last) {
  const uint32_t half = WEFT__RING_CAP / 2;
  uint32_t real = weft__ring_real(seen);
  if (weft__ring_claimed(seen)) return false;
  uint64_t next = weft__ring_pack_idle(real + half);
  /* acq_rel CAS: acquire pairs with thieves' release CAS (their copies are
   * done); it fails if any thief or pop changed head since `seen`. */
  if (!weft__cas_acq_rel(&r->head, &seen, next)) return false;
  /* Invariant: the ring was full when seen, so the half lies below tail. */
  weft_assert_internal(weft__load_relaxed(&r->tail) - real == WEFT__RING_CAP);
  weft__task *prev = NULL;
  for (uint32_t i = 0; i < half; i++) {
    weft__task *x = weft__load_relaxed(&r->slot[(real + i) & WEFT__RING_MASK]);
    if (prev) weft__store_relaxed(&prev->next, x);
    else *first = x;
    prev = x;
  }
  weft__store_relaxed(&prev->next, t);
  *last = t;
  return true;
}

/* Owner pop, FIFO. NULL when empty. */
static inline weft__task *weft__ring_pop(weft__ring *r) {
  /* Acquire: pairs with thieves' release CASes on head. */
  uint64_t h = weft__load_acquire(&r->head);
  uint32_t tail = weft__load_relaxed(&r->tail); /* ours: cannot change under us */
  for (;;) {
    uint32_t real = weft__ring_real(h);
    if (real == tail) return NULL;
    /* real + 1; steal moves with it unless a claim is in progress (the
     * encoding above). acq_rel CAS: claims slot `real` against thieves
     * (their claim CAS is acq_rel on the same word, so exactly one side
     * wins it). */
    if (weft__cas_acq_rel(&r->head, &h, h + WEFT__RING_REAL_ONE)) {
      /* Invariant: a claimed slot lies in [real, tail), tail - real <= CAP. */
      weft_assert_hot(tail - real <= WEFT__RING_CAP && real != tail);
      weft__task *t = weft__load_relaxed(r->slot + (real & WEFT__RING_MASK));
      /* Every pusher stores a task, never NULL: tells the compiler, so the
       * caller's "got one?" test folds into the empty test above. */
      if (t == NULL) __builtin_unreachable();
      return t;
    }
  }
}

/*
 * Thief: move half of src's tasks into dst (the caller's own ring, which must
 * be empty or nearly so). Returns one stolen task to run now (the rest are in
 * dst), or NULL. *moved receives the number of tasks taken. E3 "steal".
 */
static inline weft__task *weft__ring_steal_into(weft__ring *src, weft__ring *dst,
                                                uint32_t *moved) {
  *moved = 0;
  uint32_t dst_tail = weft__load_relaxed(&dst->tail);
  /* Acquire: as in push, on our own ring's head. */
  uint64_t dh = weft__load_acquire(&dst->head);
  if (dst_tail - weft__ring_steal(dh) > WEFT__RING_CAP / 2) return NULL;

  /* Acquire: pairs with other parties' CASes on src->head. */
  uint64_t h = weft__load_acquire(&src->head);
  uint32_t real, n;
  uint64_t next;
  for (;;) {
    real = weft__ring_real(h);
    if (weft__ring_claimed(h)) return NULL; /* another thief is copying: back off */
    /* Acquire: pairs with the owner's store_release of tail: the slots below
     * it are initialised. */
    uint32_t tail = weft__load_acquire(&src->tail);
    n = tail - real;
    if (n == 0 || n > WEFT__RING_CAP) return NULL;
    n -= n / 2;
    next = weft__ring_pack_claim(real, real + n);
    /* acq_rel CAS: the claim (E3 step 1); serialises with the owner's pop
     * CAS and other thieves' claims on the same word. */
    if (weft__cas_acq_rel(&src->head, &h, next)) break;
  }
  for (uint32_t i = 0; i < n; i++) {
    weft__task *t = weft__load_relaxed(&src->slot[(real + i) & WEFT__RING_MASK]);
    weft__store_relaxed(&dst->slot[(dst_tail + i) & WEFT__RING_MASK], t);
  }
  /* E3 step 3: steal = real. The owner may have popped meanwhile, so loop. */
  h = next;
  for (;;) {
    /* Release: our reads of the claimed slots happen before the owner, which
     * loads head with acquire in push, overwrites them. */
    if (weft__cas_release(&src->head, &h, weft__ring_pack_idle(weft__ring_real(h)))) break;
  }
  *moved = n;
  weft__task *run = weft__load_relaxed(&dst->slot[(dst_tail + n - 1) & WEFT__RING_MASK]);
  /* Release: publishes the copied slots to our own pop and to thieves. */
  if (n > 1) weft__store_release(&dst->tail, dst_tail + n - 1);
  return run;
}

#endif /* WEFT_RING_H */
