/*
 * weft — the node cache (docs/design.md E6): task nodes for non-intrusive
 * submits (call_in_thread*) without a malloc per task.
 *
 * Contract
 *   weft__node_get: the calling thread, from its own cache (TLS). Allocates a
 *                   slab of 64 nodes only when the cache is empty; NULL on ENOMEM.
 *   weft__node_put: any thread. The owner pushes onto its private list; any
 *                   other thread onto the owner's remote-free Treiber stack
 *                   (one CAS, lock-free). The owner takes the whole remote
 *                   stack with one exchange, so there is no ABA.
 *   A thread's cache outlives the thread: at thread exit it is parked on a
 *   global orphan list and adopted by the next thread that needs a cache, so
 *   a node in flight never points at freed memory. Slabs are never freed.
 * Source: mimalloc's thread-local free lists with a delayed/remote free list
 * (Leijen et al., "Mimalloc: Free List Sharding in Action", 2019).
 */
#ifndef WEFT_NODE_CACHE_H
#define WEFT_NODE_CACHE_H

#include "task.h"

typedef struct weft__node_cache weft__node_cache;

typedef struct weft__node {
  weft__task task;         /* must be first */
  weft__node_cache *cache; /* the owner */
  struct weft__node *free_next;
  void *data[6];           /* the submitter's payload */
} weft__node;

weft__node *weft__node_get(void);
void weft__node_put(weft__node *n);

#endif /* WEFT_NODE_CACHE_H */
