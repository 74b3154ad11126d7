/*
 * weft — the node cache (docs/design.md E6): task nodes for non-intrusive
 * submits (call_in_thread*, weft_pool's do) without a malloc per task.
 *
 * Contract
 *   weft__node_get:   the calling thread, from its own cache (TLS): the next
 *                     node of the slab it is handing out, in address order.
 *                     When that slab is used up the cache grows its ring
 *                     of slabs by a new one while the ring holds fewer than
 *                     WEFT__NODE_POOL_MIN nodes; past that it restarts the
 *                     oldest ring slab all of whose nodes have come back,
 *                     or, if none of the next few has, hands out a spill
 *                     slab: a new slab in no ring, let go (below) once used
 *                     up, so that it is freed when its last node comes
 *                     back. A burst's memory thus goes back as its tasks
 *                     finish, even if the submitter never submits again,
 *                     and the ring stays at the minimum. If an allocation
 *                     fails it restarts any ring slab that has come back.
 *                     NULL on ENOMEM. Wait-free apart from the allocation.
 *   weft__node_put:   any thread: one release add on the node's slab.
 *   weft__node_put_in_worker: an engine worker (a task's run callback): the
 *                     count goes into the thread's pending batch, which
 *                     weft__node_flush adds to the slab; the worker loop
 *                     flushes every WEFT__NODE_BATCH tasks, before it idles
 *                     and before it exits. A batch not yet flushed only
 *                     delays the slab's restart (the cache allocates
 *                     instead); it never loses a node.
 *   Nothing but the owner writes a node between a put and its next get: the
 *   free list is a count per slab, not a link in each node, so a node's
 *   line is at most read-shared by the worker that ran it. A node is one
 *   cache line, and the owner hands nodes out in address order with a write
 *   prefetch WEFT__NODE_PREFETCH nodes ahead: the ownership requests for
 *   reused lines overlap instead of each waiting at the submit's first
 *   locked instruction, and no two nodes share a line (with 88-byte nodes
 *   in address order, the node being written shared a line with the one
 *   the worker was reading). E6 in docs/design.md has the figures. The
 *   price: a node that does not come back (a queued task that waits long,
 *   or a worker's unflushed batch while it runs a long task) keeps its slab
 *   (16 KiB) from restarting, so such a cache takes a spill slab (a
 *   spare, a mapping or a malloc, and its release by the last returner)
 *   per round of the ring while the next few ring slabs are held; and tasks of one slab that finish far apart in
 *   time hold it for the latest of them (E6 has W5's figures).
 *   weft__node_cache_release: the calling thread, which then holds no cache
 *                     (its next get makes one): it lets every slab go, see
 *                     below, and frees the cache. An engine worker that
 *                     leaves after its keep-alive calls it (E9.3): an idle
 *                     pool's memory shrinks with its thread count.
 *   At any other thread exit the cache is trimmed and parked on a global
 *   orphan list (mutex-protected; at most WEFT__ORPHANS_MAX caches, the
 *   largest kept), and the next thread that needs a cache adopts the
 *   largest orphan (once per thread). Trimming keeps the slab being handed
 *   out and, of the others, those whose nodes are all back, up to
 *   WEFT__NODE_POOL_MIN nodes in all; it lets the rest go.
 *   Letting a slab go (its owner, never while the owner may hand it out
 *   again): one acq_rel add of WEFT__SLAB_GONE - handed to `returned`, where
 *   `handed` is the nodes handed out since the slab last (re)started, which
 *   only the owner knows (WEFT__SLAB_NODES for all but the slab being handed
 *   out). The count then reaches WEFT__SLAB_GONE exactly when the last of
 *   those nodes comes back, and the one add that makes it so, the owner's
 *   own (every node was back) or a returner's, frees the slab (with the
 *   free function of the allocator that made it). No epochs (liburcu's
 *   call_rcu or QSBR, concurrencykit's ck_epoch): they defer a free until
 *   every thread that might still read the memory has passed a quiescent
 *   point, which here the count already knows: a node's put is the last
 *   access to it and its slab by whoever held it (the pool copies the
 *   payload out first; the intrusive queues never write a node they have
 *   handed on), each node is put once per hand-out, and the adds are
 *   totally ordered, so exactly one add sees the count reach
 *   WEFT__SLAB_GONE, and after it nobody touches the slab. An epoch scheme
 *   would cost every worker a quiescent-state announcement in its loop and
 *   the library its first dependency beyond libc.
 *   A live slab's count never passes WEFT__SLAB_NODES, so no add reaches
 *   WEFT__SLAB_GONE before the owner's. The put paths pay one compare of a
 *   value the add returns anyway; the worker's per-task path (a batch
 *   count) pays nothing. Checked in models/node_release.pml; a node in
 *   flight at its owner's exit is never freed under it
 *   (test_node_cache: exited_owner_slab_freed_by_last_returner, under ASan).
 * Source: mimalloc's per-page free counting with thread-delayed frees
 * (Leijen, Zorn, de Moura: "Mimalloc: Free List Sharding in Action", 2019),
 * cut down to a count, since nodes are reused only a whole slab at a time.
 */
#ifndef WEFT_NODE_CACHE_H
#define WEFT_NODE_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/atomic.h"
#include "base/debug.h"
#include "base/prefetch.h"
#include "engine/task.h"
#include "engine/thread_state.h"
#include "weft/common.h"

#define WEFT__NODE_BATCH 64
/* 246 nodes: with its two header lines and the prefetch slack a slab is
 * exactly four pages (16 KiB), one mapping with the default allocator
 * (node_cache.c); 256 took five. */
#define WEFT__SLAB_NODES 246
/* A slab's `returned` once its owner has let it go and every node is back
 * (see the contract): far above any count a live slab reaches. */
#define WEFT__SLAB_GONE (1u << 31)
/* Nodes a cache's ring holds before it restarts any slab (16 slabs, 256
 * KiB): reuse is kept cold, see E6 in docs/design.md. Also the most the
 * ring ever holds (beyond it the cache spills), and the most a parked cache
 * keeps. */
#define WEFT__NODE_POOL_MIN (16 * WEFT__SLAB_NODES)
/* Caches the orphan list holds (at most about 1 MiB in all). More exits
 * than that with no thread adopting in between free the smallest caches. */
#define WEFT__ORPHANS_MAX 4
/* How far ahead of the node it hands out the get path prefetches for
 * writing (nodes). */
#define WEFT__NODE_PREFETCH 8

typedef struct weft__node_cache weft__node_cache;
typedef struct weft__node_slab weft__node_slab;

typedef struct weft__node {
  weft__task task;       /* must be first */
  weft__node_slab *slab; /* the slab it lives in */
  void *data[4];         /* the submitter's payload */
} __attribute__((aligned(64))) weft__node;
_Static_assert(sizeof(weft__node) == 64, "a node is one cache line");

struct weft__node_slab {
  /* Nodes given back since the slab was (re)started: any thread adds (a
   * release add), the owner reads it (acquire) and resets it. Its own line:
   * workers add to it while the owner writes the nodes. */
  WEFT_CACHE_ALIGNED _Atomic uint32_t returned;
  /* The free function of the allocator that made the slab: a slab outlives
   * its owner and is no live object, so weft_replace_allocator may have run
   * since (lib/base/alloc.h). NULL: the slab is its own mapping
   * (node_cache.c, slab_release). Set before the slab is handed out, read by
   * whoever frees it (ordered by the count's release/acquire). */
  weft_free_fn free_fn;
  WEFT_CACHE_ALIGNED weft__node_slab *ring_next; /* owner only: slabs in a ring, oldest after newest */
  weft__node nodes[WEFT__SLAB_NODES];
  /* The get path prefetches WEFT__NODE_PREFETCH nodes ahead without a
   * bounds test: past the last node it lands here, never on another object. */
  char prefetch_slack[WEFT__NODE_PREFETCH * sizeof(weft__node)];
};
_Static_assert(sizeof(weft__node_slab) == 16384, "a slab is four pages");

struct weft__node_cache {
  weft__node *next;      /* owner only: the next node to hand out */
  weft__node *end;       /* owner only: one past the current slab's last node */
  weft__node_slab *cur;  /* owner only: the slab being handed out */
  /* Owner only: the ring's position, the ring slab handed out last (cur,
   * unless cur is a spill slab); NULL: no ring yet. `nodes` counts the
   * ring's slabs only. */
  weft__node_slab *ring;
  bool spill;            /* owner only: cur is a spill slab, in no ring */
  bool prefetchw;        /* weft__cpu_has_prefetchw, where the get path has it at hand */
  unsigned long nodes;   /* owner only: nodes in all slabs */
  weft__node_cache *next_orphan;
  weft_free_fn free_fn;  /* of the allocator that made the cache (see the slab's) */
};

/* The calling thread's cache is weft__tls.node_cache (lib/engine/thread_state.h):
 * never NULL, weft__node_no_cache (always empty: next == end == NULL) until
 * the first get. */
extern weft__node_cache weft__node_no_cache;

/* A thread's nodes given back but not yet added to their slab. */
typedef struct weft__node_pending {
  weft__node_slab *slab;
  uint32_t n;
} weft__node_pending;
extern _Thread_local weft__node_pending weft__tls_node_pending
    __attribute__((tls_model("initial-exec")));

weft__node *weft__node_get_slow(void);
void weft__node_flush(void);
void weft__node_cache_release(void);
/* Caches on the orphan list now (tests). */
int weft__node_orphans(void);
/* Unmap the spare slabs (node_cache.c): an elastic pool back at its floor
 * (lib/engine/worker_loop.c). Any thread. */
void weft__node_spares_release(void);
/* Spare slabs now (tests). */
int weft__node_spares(void);
/* Free a slab whose count the caller's add brought to WEFT__SLAB_GONE. */
void weft__node_slab_gone(weft__node_slab *s);

/* Hand out the next node of the current slab (c->next != c->end). */
__attribute__((always_inline)) static inline weft__node *weft__node_take_(weft__node_cache *c) {
  weft__node *n = c->next++;
  weft__prefetch_write(n + WEFT__NODE_PREFETCH, c->prefetchw);
  return n;
}

/* The fast path alone: true and *out = the next node of the current slab,
 * or false (then call weft__node_get_slow). */
__attribute__((always_inline)) static inline bool weft__node_try_get(weft__node **out) {
  weft__node_cache *c = weft__tls.node_cache;
  if (WEFT_UNLIKELY(c->next == c->end)) return false; /* NULL == NULL for weft__node_no_cache */
  *out = weft__node_take_(c);
  return true;
}

static inline weft__node *weft__node_get(void) {
  weft__node *n = NULL; /* gcc -Og: maybe-uninitialized; no code at -O2 */
  return WEFT_LIKELY(weft__node_try_get(&n)) ? n : weft__node_get_slow();
}

/* Count n nodes of s as back (weft__node_put, weft__node_flush). */
static inline void weft__node_give_back_(weft__node_slab *s, uint32_t n) {
  /* Release: this thread's (and, through the task hand-off, the tasks')
   * reads and writes of the nodes happen before the owner restarts the
   * slab, or before whoever frees it does; pairs with the acquire load in
   * node_cache.c's slab_free and weft__node_slab_gone. Adds by other
   * threads continue the release sequence. */
  uint32_t before = weft__fetch_add_release(&s->returned, n);
  /* Invariant: a live slab's count stays within its nodes; a let-go one
   * counts up from WEFT__SLAB_GONE - WEFT__SLAB_NODES at most. */
  weft_assert_hot(before + n <= WEFT__SLAB_NODES ||
                  (before >= WEFT__SLAB_GONE - WEFT__SLAB_NODES && before + n <= WEFT__SLAB_GONE));
  /* The last node of a slab its owner has let go: the slab is ours. */
  if (WEFT_UNLIKELY(before + n == WEFT__SLAB_GONE)) weft__node_slab_gone(s);
}

static inline void weft__node_put(weft__node *n) { weft__node_give_back_(n->slab, 1); }

/* weft__node_put for a task running on an engine worker: counted in the
 * thread's batch (a worker mostly frees runs of nodes of one slab, handed
 * out in address order), added to the slab when the slab changes or at the
 * loop's weft__node_flush. The try form is the fast path alone (same slab
 * as the batch: one compare, one add); false: call the _slow form. */
__attribute__((always_inline)) static inline bool weft__node_try_put_in_worker(weft__node *n) {
  weft__node_pending *p = &weft__tls_node_pending;
  if (WEFT_UNLIKELY(n->slab != p->slab)) return false;
  p->n++;
  return true;
}

void weft__node_put_in_worker_slow(weft__node *n);

static inline void weft__node_put_in_worker(weft__node *n) {
  if (!weft__node_try_put_in_worker(n)) weft__node_put_in_worker_slow(n);
}

#endif /* WEFT_NODE_CACHE_H */
