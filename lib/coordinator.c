/*
 * weft — the lock-free coordinator: an exclusive worker with no lock.
 *
 * Contract
 *   do() / submit():  any thread, any number concurrently, also from inside an
 *                     item (re-entrant). The enqueue is wait-free (one exchange
 *                     and one store on the MPSC queue, one fetch_add on the
 *                     count); do(fn, arg) also takes a node from a lock-free
 *                     recycling pool (worker_slab.h), submit() does not.
 *   Exclusion:        items run one at a time, never two at once, in FIFO
 *                     order of their enqueue (lib/mpsc.h), hence FIFO per
 *                     producer thread.
 *   Who runs items:   the thread whose do() found the coordinator idle (it
 *                     moved the count from 0 to 1) becomes the drainer and runs
 *                     items until the count returns to 0, inside that do().
 *                     A do() that finds it busy returns at once.
 *   Progress:         enqueue wait-free. The drain is lock-free except when a
 *                     producer is stalled between its exchange and its link
 *                     store (mpsc.h WOULDBLOCK): the drainer then spins (with
 *                     sched_yield) until that store lands, since the item it
 *                     counted is behind the stalled one.
 *
 * The state: `count` = number of enqueues whose producer has incremented it
 * (increment after the node is fully pushed) minus number of items run.
 *
 * Drainer protocol
 *   producer:  push(node); if fetch_add(count, 1) == 0 then drain()
 *   drain():   loop { node = pop()  (spin while WOULDBLOCK); run(node);
 *                     if fetch_sub(count, 1) == 1 then return }
 *
 * No-stranding argument (mirrored by the Promela model of the coordinator):
 *   I1 (one drainer) The drainer role is held from a 0→1 increment to the
 *      matching 1→0 decrement; the count is never 0 in between, so no other
 *      producer sees 0: at most one drainer at any time, so items never run
 *      concurrently. The role passes through the count's RMW chain (acq_rel),
 *      so item i's effects happen-before item i+1 whoever runs it.
 *   I2 (no negative count) The drainer decrements once per item run and
 *      pops only while it holds the role (count ≥ 1); so #run ≤ #counted at
 *      every instant and the count is never negative.
 *   I3 (pop never finds nothing) While count ≥ 1, #counted > #run, and each
 *      counted node was completely pushed before it was counted, so at least
 *      one pushed node is unpopped: pop() returns it or WOULDBLOCK (an
 *      earlier producer's link is pending), never NULL.
 *   I4 (no stranding) Every pushed node is counted by its producer's very
 *      next step. A drainer gives up the role only when its fetch_sub finds
 *      the count at 1, i.e. #run = #counted at that instant; it may have run
 *      a node whose producer has not counted yet (the queue is FIFO, counts
 *      come later), but then that producer's increment is still to come and
 *      finds either 0 — it becomes the drainer — or another drainer that
 *      cannot leave before the count is 0 again. The hand-off race — D's
 *      last fetch_sub against a producer's fetch_add — is decided by the RMW
 *      order on one word: either the decrement comes first (D leaves; the
 *      producer sees 0 and drains) or the increment does (D sees 2→1 and runs
 *      on). So once every producer has counted, either a drainer exists and,
 *      by I3, runs on until the count is 0, or the count is 0 already; and a
 *      count of 0 with every node counted means #run = #pushed: every node
 *      ran exactly once (pops are FIFO and never repeat a node). A drainer
 *      waits only on WOULDBLOCK, i.e. on a producer's link store in progress.
 *
 * Lifetime: the coordinator is freed when both the owner's release and the
 * deferred ops->quit (run when no do() is in flight, worker_base.h) have
 * happened; whichever comes second frees it, so a release from inside an
 * item, or while another thread's do() is draining, is safe.
 */
#include "coordinator.h"

#include <sched.h>

#include "alloc.h"
#include "atomic.h"
#include "debug.h"
#include "mpsc.h"
#include "worker_base.h"
#include "worker_slab.h"

#define FIN_CLOSED 1u
#define FIN_RELEASED 2u

typedef struct coordinator {
  weft_worker base;
  _Atomic unsigned fin; /* FIN_CLOSED | FIN_RELEASED: the second one frees */
  weft__mpsc q;
  WEFT_CACHE_ALIGNED _Atomic uint64_t count;
  char pad_[WEFT_CACHELINE - sizeof(uint64_t)];
  weft__slab nodes;
} coordinator;

typedef struct coord_node {
  weft__task task;
  weft_fn fn;
  void *arg;
  coordinator *owner;
} coord_node;

static void coord_drain(coordinator *c) {
  for (;;) {
    /* Invariant I2/I3: the drainer pops only while holding the role. */
    weft_assert_internal(weft__load_relaxed(&c->count) >= 1);
    weft__task *t = weft__mpsc_pop(&c->q);
    for (unsigned spins = 0; t == NULL || t == WEFT__MPSC_WOULDBLOCK; spins++) {
      /* I3: a counted node exists; its predecessor's link store is pending. */
      if (spins < 64) weft__cpu_relax();
      else sched_yield();
      t = weft__mpsc_pop(&c->q);
    }
    t->run(t);
    /* acq_rel: release hands this item's effects to the next drainer (which
     * acquires in its fetch_add 0→1, or in this same chain); acquire pairs
     * with producers' increments so the next pop sees their nodes. */
    if (weft__fetch_sub_acq_rel(&c->count, 1) == 1) return;
  }
}

static void coord_enqueue(coordinator *c, weft__task *t) {
  weft__mpsc_push(&c->q, t);
  /* acq_rel: release orders the completed push before the count (I3);
   * acquire pairs with the last drainer's fetch_sub when we take the role. */
  if (weft__fetch_add_acq_rel(&c->count, 1) == 0) coord_drain(c);
}

static void coord_node_run(weft__task *t) {
  coord_node *n = (coord_node *)t;
  coordinator *c = n->owner;
  weft_fn fn = n->fn;
  void *arg = n->arg;
  weft__slab_put(&c->nodes, n); /* recycled before the call: a re-entrant do() may reuse it */
  fn(arg);
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
  coord_enqueue(c, &n->task);
  return 0;
}

static void coord_free(coordinator *c) {
  weft__slab_destroy(&c->nodes);
  weft__free_aligned(c);
  weft__object_destroyed();
}

static int coord_quit(weft_worker *w) {
  /* Runs once no do() is in flight, hence with the count at 0. */
  coordinator *c = (coordinator *)w;
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

int weft__coordinator_submit(weft_worker *w, weft__task *t) {
  int r = weft__worker_enter(w);
  if (r) return r;
  coord_enqueue((coordinator *)w, t);
  weft__worker_leave(w);
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
  weft__store_relaxed(&c->count, 0);
  weft__slab_init(&c->nodes, sizeof(coord_node));
  weft__object_created();
  *out = &c->base;
  return 0;
}
