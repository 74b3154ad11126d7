/*
 * weft — the lock-free coordinator: an exclusive worker with no lock.
 *
 * Contract
 *   do() / submit():  any thread, any number concurrently, also from inside an
 *                     item (re-entrant). The enqueue is wait-free (two
 *                     fetch_adds on the state word around one exchange and one
 *                     store on the MPSC queue, plus one fetch_and on a
 *                     hand-off); do(fn, arg) also takes a node from a
 *                     lock-free recycling pool (worker_slab.h), submit() does
 *                     not.
 *   Exclusion:        items run one at a time, never two at once, in FIFO
 *                     order of their enqueue (lib/engine/mpsc.h), hence FIFO per
 *                     producer thread.
 *   Who runs items:   the thread whose do() found the coordinator idle (it
 *                     moved the count from 0 to 1) becomes the drainer and runs
 *                     items inside that do(). A do() that finds it busy
 *                     returns at once (unless it is handed the role, below).
 *   Bounded drain:    a drainer runs at most WEFT__COORD_DRAIN_BUDGET items
 *                     unconditionally; after that, at every point between two
 *                     items, it leaves as soon as another producer is inside
 *                     its enqueue, and that producer drains the rest. A do()
 *                     caller is thus held by other threads' items only while
 *                     nobody else is submitting (the backlog is then not
 *                     growing), never "for ever under sustained submissions".
 *   Progress:         enqueue wait-free. The drain is lock-free except when a
 *                     producer is stalled between its exchange and its link
 *                     store (mpsc.h WOULDBLOCK): the drainer then spins (with
 *                     sched_yield) until that store lands, since the item it
 *                     counted is behind the stalled one. Nobody ever waits for
 *                     an item another thread is running, so an item may block
 *                     on a thread that calls do() here without deadlock.
 *
 * The state word (64 bits, one atomic):
 *   bits 32..63  count: enqueues counted (increment after the node is fully
 *                pushed) minus items run
 *   bits 1..31   announced: producers between their announce and their count
 *   bit 0        FREE: the drainer role is free although count ≥ 1 (a drainer
 *                left early); the first producer that clears it drains
 *
 * Protocol
 *   producer:  fetch_add(ANNOUNCE)                                    [A]
 *              push(node)
 *              old = fetch_add(COUNT_ONE - ANNOUNCE)  (count+1, announced−1) [C]
 *              if count(old) == 0: drain()
 *              elif FREE in old and FREE in fetch_and(~FREE): drain()  [T]
 *   drain():   loop { node = pop() (spin while WOULDBLOCK); run(node);
 *                     within budget: if fetch_sub(COUNT_ONE) finds count 1: return
 *                     over budget, one CAS:                            [L]
 *                       count 1            → count 0, return
 *                       announced ≥ 1      → count−1 and FREE, return
 *                       else               → count−1, go on }
 *
 * The wait-free producer cannot be asked to wait for the item a drainer is
 * running, so the role can only pass between items, and only to a producer
 * that has not yet made its count step [C]: a producer past [C] returns in a
 * bounded number of its own steps. [A] makes such producers visible in the
 * same word, so [L] hands off atomically with seeing one.
 *
 * No-stranding argument (mirrored by models/coordinator.pml):
 *   I1 (one drainer) The role is held from a 0→1 count step [C] or a FREE
 *      clear [T] to the step [L]/fetch_sub that brings the count to 0 or sets
 *      FREE. While it is held the count is ≥ 1 and FREE is clear, so no [C]
 *      sees 0 and no [T] finds FREE; while FREE is set nobody decrements, so
 *      the count stays ≥ 1 and no [C] sees 0, and [T] is one RMW: exactly one
 *      producer clears it. At most one drainer at any time. The role passes
 *      through the word's RMW chain (acq_rel), so item i's effects
 *      happen-before item i+1 whoever runs it.
 *   I2 (no negative count) The drainer decrements once per item run and
 *      pops only while it holds the role (count ≥ 1); #run ≤ #counted.
 *   I3 (pop never finds nothing) While count ≥ 1, #counted > #run, and each
 *      counted node was completely pushed before it was counted, so at least
 *      one pushed node is unpopped: pop() returns it or WOULDBLOCK, never NULL.
 *   I4 (no stranding) Every pushed node is counted by its producer's next
 *      step on the word. A drainer gives up the role in one of two ways.
 *      (a) Its decrement finds the count at 1 (#run = #counted): as before, a
 *      node it ran whose producer has not counted yet means that producer's
 *      [C] is still to come and finds 0 (it drains) or a drainer that cannot
 *      leave before the count is 0 again; the race of the last decrement
 *      against a [C] is decided by the RMW order on one word.
 *      (b) [L] sets FREE while announced ≥ 1: some producer P did [A] before
 *      and does [C] after [L] in the word's modification order (coherence;
 *      no fence needed). P's [C] finds FREE unless a [T] already cleared it;
 *      then P's [T] clears it or finds it cleared. Either way some producer
 *      clears FREE, takes the role with the count ≥ 1 and drains (I3).
 *      So once every producer has counted, either a drainer exists or the
 *      count is 0 with FREE clear, and then #run = #pushed: every node ran
 *      exactly once (pops are FIFO and never repeat a node).
 *   I5 (bound) A drainer runs at most BUDGET items plus one item per check
 *      [L] at which no other producer was announced.
 *   Also: a thread in flight in do() covers every pending item (the one that
 *   will take a FREE role is still inside its do()), so when the worker
 *   base's in-flight count is 0 the queue is empty — ops->quit and the
 *   Team's destroy rely on it.
 *
 * Lifetime: the coordinator is freed when both the owner's release and the
 * deferred ops->quit (run when no do() is in flight, worker_base.h) have
 * happened; whichever comes second frees it, so a release from inside an
 * item, or while another thread's do() is draining, is safe.
 */
#include "workers/coordinator.h"

#include <sched.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "base/debug.h"
#include "base/fork.h"
#include "engine/context.h"
#include "engine/mpsc.h"
#include "workers/worker_base.h"
#include "workers/worker_slab.h"

#define FIN_CLOSED 1u
#define FIN_RELEASED 2u

#define ST_FREE ((uint64_t)1)
#define ST_ANNOUNCE ((uint64_t)2)
#define ST_ANNOUNCED_MASK ((uint64_t)0xfffffffeu)
#define ST_COUNT_ONE ((uint64_t)1 << 32)

static inline uint64_t st_count(uint64_t s) { return s >> 32; }
static inline uint64_t st_announced(uint64_t s) { return (s & ST_ANNOUNCED_MASK) >> 1; }

typedef struct coordinator {
  weft_worker base;
  _Atomic unsigned fin; /* FIN_CLOSED | FIN_RELEASED: the second one frees */
  weft__mpsc q;
  WEFT_CACHE_ALIGNED _Atomic uint64_t state; /* count | announced | FREE, see above */
  char pad_[WEFT_CACHELINE - sizeof(uint64_t)];
  _Atomic uint64_t handoffs; /* statistics: drains ended by a FREE hand-off */
  weft__slab nodes;
} coordinator;

typedef struct coord_node {
  weft__task task;
  weft_fn fn;
  void *arg;
  coordinator *owner;
} coord_node;

/* Step [L]: the item just run is accounted for; true if the role is given up
 * (the count reached 0, or FREE was set for an announced producer). */
__attribute__((noinline, cold)) static bool coord_finish_over_budget(coordinator *c) {
  uint64_t cur = weft__load_relaxed(&c->state);
  for (;;) {
    weft_assert_internal(st_count(cur) >= 1 && !(cur & ST_FREE));
    uint64_t next = cur - ST_COUNT_ONE;
    bool leave = st_count(cur) == 1;
    if (!leave && st_announced(cur) != 0) {
      next |= ST_FREE;
      leave = true;
    }
    /* acq_rel, as the fetch_sub in coord_drain: release hands this item's
     * effects to whoever takes the role next (a producer's [C]/[T] reads this
     * value or a later one in the RMW chain); acquire pairs with producers'
     * count steps so the next pop sees their nodes. A failure only means a
     * producer's RMW came first: recompute. */
    if (weft__cas_weak_acq_rel(&c->state, &cur, next)) {
      if (next & ST_FREE) weft__fetch_add_relaxed(&c->handoffs, 1); /* statistics only */
      return leave;
    }
  }
}

/* The drain's item forked and this is the child, whose only thread we are
 * (the child should exec or _exit before the item returns; one that started
 * threads there must not have them call this coordinator first). What is
 * queued, and counted in the state word (the parent's items, its producers'
 * announcements, our own role), is the parent's: its drain runs it. The
 * child's copy is left empty and idle, as after the last item of a drain,
 * so that the child may use it (a do() then drains) or quit it (coord_quit:
 * the state is 0 once no do() is in flight). It kept the parent's count:
 * a child's do() was accepted and never ran, and its quit failed the
 * invariant (test_fork child_uses_a_coordinator_its_item_forked). The
 * parent's nodes stay where they are, as the parent's threads' memory
 * does. Relaxed: no other thread. */
__attribute__((noinline, cold)) static void coord_fork_child(coordinator *c) {
  weft__mpsc_init(&c->q);
  weft__store_relaxed(&c->state, 0);
}

static void coord_drain(coordinator *c) {
  unsigned budget = WEFT__COORD_DRAIN_BUDGET;
  /* An item may fork and return in the child: what is queued behind it is
   * the parent's (other threads' items, which the parent's drain runs), so
   * the child's drain stops there, as a ThreadWorker's thread does
   * (thread_worker.c tw_main), and leaves the child's copy idle
   * (coord_fork_child; docs/threading-howto.md, "Fork"). A relaxed load of
   * one word per item. */
  const unsigned long gen = weft__fork_generation();
  for (;;) {
    /* Invariant I2/I3: the drainer pops only while holding the role. */
    weft_assert_internal(st_count(weft__load_relaxed(&c->state)) >= 1);
    weft__task *t = weft__mpsc_pop(&c->q);
    for (unsigned spins = 0; t == NULL || t == WEFT__MPSC_WOULDBLOCK; spins++) {
      /* I3: a counted node exists; its predecessor's link store is pending. */
      weft_assert_internal(t != NULL);
      if (spins < 64) weft__cpu_relax();
      else sched_yield();
      t = weft__mpsc_pop(&c->q);
    }
    t->run(t);
    if (WEFT_UNLIKELY(weft__fork_generation() != gen)) {
      coord_fork_child(c);
      return;
    }
    if (budget > 1) {
      budget--;
      /* acq_rel: release hands this item's effects to the next drainer (which
       * acquires in its count step 0→1, or in this same chain); acquire pairs
       * with producers' count steps so the next pop sees their nodes. */
      if (st_count(weft__fetch_sub_acq_rel(&c->state, ST_COUNT_ONE)) == 1) return;
    } else if (coord_finish_over_budget(c)) {
      return;
    }
  }
}

/* Step [A]. Relaxed: the drainer's [L] only needs this producer's [C] to come
 * after [A] in the word's modification order, which coherence gives. */
static inline void coord_announce(coordinator *c) {
  weft__fetch_add_relaxed(&c->state, ST_ANNOUNCE);
}

/* Push, step [C], and drain if this producer gets the role. */
static void coord_commit(coordinator *c, weft__task *t) {
  weft__mpsc_push(&c->q, t);
  /* acq_rel: release orders the completed push before the count (I3);
   * acquire pairs with the last drainer's decrement or [L] when we take the
   * role. Adds 1 to count and takes 1 from announced in one step. */
  uint64_t old = weft__fetch_add_acq_rel(&c->state, ST_COUNT_ONE - ST_ANNOUNCE);
  weft_assert_internal(st_announced(old) >= 1);
  weft_assert_internal(st_count(old) != 0 || !(old & ST_FREE));
  if (st_count(old) == 0 ||
      (WEFT_UNLIKELY(old & ST_FREE) &&
       /* [T] acq_rel: exactly one producer clears FREE (I1); acquire pairs
        * with the leaving drainer's [L] (already ours through [C]; kept for
        * the reader). */
       (weft__fetch_and_acq_rel(&c->state, ~ST_FREE) & ST_FREE)))
    coord_drain(c); /* one call site: inlined */
}

static void coord_node_run(weft__task *t) {
  coord_node *n = (coord_node *)t;
  coordinator *c = n->owner;
  weft_fn fn = n->fn;
  void *arg = n->arg;
  weft__slab_put(&c->nodes, n); /* recycled before the call: a re-entrant do() may reuse it */
  /* Whichever thread drains runs it: in its own do()'s context, not the
   * drainer's (weft/context.h). */
  weft__context_run_outside(fn, arg);
}

static int coord_do(weft_worker *w, weft_fn fn, void *arg) {
  coordinator *c = (coordinator *)w;
  coord_node *n = weft__slab_get(&c->nodes);
  if (!n) return WEFT_ENOMEM;
  n->task.run = coord_node_run;
  n->task.cancel = NULL;
  n->fn = fn;
  n->arg = arg;
  n->owner = c;
  coord_announce(c);
  coord_commit(c, &n->task);
  return 0;
}

static void coord_free(coordinator *c) {
  weft__slab_destroy(&c->nodes);
  weft__free_aligned(c);
  weft__object_destroyed();
}

static int coord_quit(weft_worker *w) {
  /* Runs once no do() is in flight, hence with the state word at 0. */
  coordinator *c = (coordinator *)w;
  weft_assert_internal(weft__load_relaxed(&c->state) == 0);
  /* acq_rel: pairs with coord_release's fetch_or; the second of the two
   * frees, after everything the first did. */
  if (weft__fetch_or_acq_rel(&c->fin, FIN_CLOSED) & FIN_RELEASED) coord_free(c);
  return 0;
}

static void coord_release(weft_worker *w) {
  coordinator *c = (coordinator *)w;
  /* acq_rel: pairs with coord_quit's fetch_or (see there). */
  if (weft__fetch_or_acq_rel(&c->fin, FIN_RELEASED) & FIN_CLOSED) coord_free(c);
}

static const weft_worker_ops coord_ops = {coord_do, coord_quit, coord_release};

bool weft__is_coordinator(const weft_worker *w) { return w && w->ops == &coord_ops; }

uint64_t weft__coordinator_handoffs(weft_worker *w) {
  return weft__load_relaxed(&((coordinator *)w)->handoffs);
}

int weft__coordinator_submit_begin(weft_worker *w) {
  int r = weft__worker_enter(w);
  if (r) return r;
  coord_announce((coordinator *)w);
  return 0;
}

void weft__coordinator_submit_end(weft_worker *w, weft__task *t) {
  coord_commit((coordinator *)w, t);
  weft__worker_leave(w);
}

int weft__coordinator_submit(weft_worker *w, weft__task *t) {
  int r = weft__coordinator_submit_begin(w);
  if (r) return r;
  weft__coordinator_submit_end(w, t);
  return 0;
}

WEFT_API int weft_coordinator_create(weft_worker **out) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  coordinator *c = weft__calloc_aligned(sizeof *c);
  if (!c) return WEFT_ENOMEM;
  weft_worker_init(&c->base, &coord_ops);
  weft__store_relaxed(&c->fin, 0);
  weft__mpsc_init(&c->q);
  weft__store_relaxed(&c->state, 0);
  weft__store_relaxed(&c->handoffs, 0);
  weft__slab_init(&c->nodes, sizeof(coord_node));
  weft__object_created();
  *out = &c->base;
  return 0;
}
