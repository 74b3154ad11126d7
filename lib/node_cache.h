/*
 * weft — the node cache (docs/design.md E6): task nodes for non-intrusive
 * submits (call_in_thread*) without a malloc per task.
 *
 * Contract
 *   weft__node_get:   the calling thread, from its own cache (TLS). Allocates
 *                     a slab of 256 nodes when the cache is empty or holds
 *                     fewer than WEFT__NODE_POOL_MIN nodes (then reuses what
 *                     came back if the allocation fails); NULL on ENOMEM.
 *   weft__node_put:   any thread. The owner pushes onto its private list. Any
 *                     other thread collects nodes of one owner in a private
 *                     batch and pushes the batch onto the owner's remote-free
 *                     Treiber stack with one CAS (lock-free) every
 *                     WEFT__NODE_BATCH nodes, when the owner changes, or at
 *                     weft__node_flush(). The owner takes the whole remote
 *                     stack with one exchange, so there is no ABA.
 *   weft__node_flush: the calling thread's batch goes back now (engine
 *                     workers call it every WEFT__NODE_BATCH tasks, before
 *                     they go idle and before exit; that bounds the batch of
 *                     weft__node_try_put_in_worker, which does not count).
 *   Reuse is kept cold: a cache grows to WEFT__NODE_POOL_MIN nodes before it
 *   reuses any, and a remote take waits one generation (until the previous
 *   take is used up) before its nodes go out again. A node the worker that
 *   ran it freed a moment ago is still dirty in that worker's cache (its
 *   free_next, its neighbours on the line), so a submit that writes it
 *   waits for a cross-core transfer at its first locked instruction; one
 *   that the worker's cache has since dropped costs a plain miss, which the
 *   prefetchers hide for a run of nodes taken in address order (see E6 in
 *   docs/design.md for the figures).
 *   A thread's cache outlives the thread: at thread exit it is parked on a
 *   global orphan list and adopted by the next thread that needs a cache, so
 *   a node in flight never points at freed memory. Slabs are never freed.
 * Source: mimalloc's thread-local free lists with a remote ("thread delayed")
 * free list (Leijen, Zorn, de Moura: "Mimalloc: Free List Sharding in
 * Action", 2019).
 */
#ifndef WEFT_NODE_CACHE_H
#define WEFT_NODE_CACHE_H

#include "atomic.h"
#include "task.h"
#include "thread_state.h"

#define WEFT__NODE_BATCH 64

typedef struct weft__node_cache weft__node_cache;

typedef struct weft__node {
  weft__task task;         /* must be first */
  weft__node_cache *cache; /* the owner */
  struct weft__node *free_next;
  void *data[6];           /* the submitter's payload */
} weft__node;

struct weft__node_cache {
  struct weft__node *local;                           /* owner only */
  WEFT_CACHE_ALIGNED _Atomic(struct weft__node *) remote; /* any thread pushes */
  struct weft__slab *slabs;                           /* keeps every slab reachable */
  struct weft__node *aging;  /* owner only: the last remote take, waiting one generation */
  unsigned long nodes;       /* owner only: nodes in all slabs */
  weft__node_cache *next_orphan;
};

/* The calling thread's cache is weft__tls.node_cache (lib/thread_state.h):
 * never NULL, weft__node_no_cache (always empty) until the first get. */
extern weft__node_cache weft__node_no_cache;

/* A thread's batch of nodes owned by another thread's cache. */
typedef struct weft__node_pending {
  weft__node_cache *cache;
  struct weft__node *head, *tail;
  unsigned n;
} weft__node_pending;
extern _Thread_local weft__node_pending weft__tls_node_pending
    __attribute__((tls_model("initial-exec")));

weft__node *weft__node_get_slow(void);
void weft__node_put_remote(weft__node *n);
void weft__node_flush(void);

/* The fast path alone: a node from the private list, or NULL (then call
 * weft__node_get_slow). */
static inline weft__node *weft__node_try_get(void) {
  weft__node_cache *c = weft__tls.node_cache;
  weft__node *n = c->local; /* NULL for weft__node_no_cache */
  if (WEFT_LIKELY(n != NULL)) c->local = n->free_next;
  return n;
}

static inline weft__node *weft__node_get(void) {
  weft__node *n = weft__node_try_get();
  return WEFT_LIKELY(n != NULL) ? n : weft__node_get_slow();
}

/* The fast paths of weft__node_put; false: call weft__node_put_remote. The
 * batch is tested first: a worker mostly frees nodes of one submitter's
 * cache (the batch only ever holds nodes of another thread's cache, so the
 * order of the two tests does not change where a node goes). `counted`:
 * bound the batch here (a constant at every call site, folded away). */
__attribute__((always_inline)) static inline bool weft__node_try_put_(weft__node *n,
                                                                       bool counted) {
  weft__node_cache *c = n->cache;
  weft__node_pending *p = &weft__tls_node_pending;
  if (c == p->cache && (!counted || p->n < WEFT__NODE_BATCH - 1)) { /* same owner: batch it */
    n->free_next = p->head;
    p->head = n;
    if (counted) p->n++;
    return true;
  }
  if (c == weft__tls.node_cache) {
    n->free_next = c->local;
    c->local = n;
    return true;
  }
  return false;
}

static inline bool weft__node_try_put(weft__node *n) { return weft__node_try_put_(n, true); }

/* weft__node_try_put for a task running on an engine worker: the same
 * without counting the batch. The worker loop bounds it instead: it calls
 * weft__node_flush at least once every WEFT__NODE_BATCH tasks it runs
 * (engine_worker.c), and such a task frees one node, so an uncounted batch
 * stays below WEFT__NODE_BATCH + the loop's inject interval (61) nodes. */
static inline bool weft__node_try_put_in_worker(weft__node *n) {
  return weft__node_try_put_(n, false);
}

static inline void weft__node_put(weft__node *n) {
  if (!weft__node_try_put(n)) weft__node_put_remote(n);
}

#endif /* WEFT_NODE_CACHE_H */
