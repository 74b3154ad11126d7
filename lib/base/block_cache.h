/*
 * weft — a single-owner cache of equal-sized blocks, so that a steady stream
 * of short-lived objects (the reactor's deferToThread round trips) allocates
 * nothing once warm. The shape of mimalloc's thread-local free lists and
 * libuv's per-loop handle reuse, reduced to one size and one owner thread.
 *
 * Contract
 *   owner thread (the reactor thread, or whichever thread runs the reactor's
 *   completions one at a time: run, drain, destroy):
 *     get, put, orphan — plain loads and stores, no atomic read-modify-write:
 *     a LIFO free list, bounded by `max_free` (blocks beyond it are freed).
 *   after orphan (the owner is gone; blocks may still be out, e.g. a Deferred
 *   the user keeps after weft_reactor_destroy):
 *     put — from any thread that is ordered after the orphan (it learned that
 *     the owner's destroy returned), several such threads concurrently: the
 *     block is freed, and the last block freed frees the cache (an atomic
 *     count, acq_rel).
 *   progress: get/put are O(1) and wait for no other thread; get may call
 *   weft__malloc_aligned and a put past the cache's bound weft__free_aligned
 *   (the allocator's own locks). Blocks start on a cache line.
 *
 * Allocator accounting: the cache is ONE live object for
 * weft_replace_allocator (weft__object_created when it is made,
 * weft__object_destroyed when the last of {owner, blocks out} lets go), not
 * one per block. While any block exists the cache exists, so the allocator
 * cannot be replaced while a block lives: every block is freed with the
 * free function matching the malloc that made it.
 */
#ifndef WEFT_BLOCK_CACHE_H
#define WEFT_BLOCK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/atomic.h"

typedef struct weft__block_cache {
  void *free_list;    /* LIFO, linked through each block's first word */
  uint32_t nfree;     /* blocks on free_list */
  uint32_t max_free;  /* bound on nfree; 0 once orphaned (put frees) */
  size_t block_size;
  /* 1 (the owner, until orphan) + blocks that exist (out, or on the free
   * list). Changed only where a block is malloc'd or freed (the slow paths),
   * so the get/put fast paths touch no atomic. */
  atomic_long holders;
  int orphaned;       /* set by orphan (which also sets max_free to 0, the check put reads) */
} weft__block_cache;

/* A cache of blocks of block_size bytes (>= sizeof(void *)), keeping at most
 * max_free of them. NULL on ENOMEM. */
weft__block_cache *weft__block_cache_create(size_t block_size, uint32_t max_free);
/* The owner lets go: free the cached blocks; the cache itself goes with the
 * last block out (or now, if none is). c may be NULL. */
void weft__block_cache_orphan(weft__block_cache *c);

void *weft__block_cache_get_slow(weft__block_cache *c);
void weft__block_cache_put_slow(weft__block_cache *c, void *block);

/* A block (a cached one with the contents its put left, or a new one with
 * uninitialised contents), or NULL on ENOMEM. Owner thread. */
static inline void *weft__block_cache_get(weft__block_cache *c) {
  void *b = c->free_list;
  if (b == NULL) return weft__block_cache_get_slow(c);
  c->free_list = *(void **)b;
  c->nfree--;
  return b;
}

/* A block from the free list (the contents its put left), or NULL if the
 * list is empty (then get_slow makes one). Owner thread. */
static inline void *weft__block_cache_pop(weft__block_cache *c) {
  void *b = c->free_list;
  if (b != NULL) {
    c->free_list = *(void **)b;
    c->nfree--;
  }
  return b;
}

/* Give a block back: the owner thread, or after orphan any thread ordered
 * after the orphan (see the contract). */
static inline void weft__block_cache_put(weft__block_cache *c, void *block) {
  if (c->nfree >= c->max_free) { /* orphan sets max_free to 0 */
    weft__block_cache_put_slow(c, block);
    return;
  }
  *(void **)block = c->free_list;
  c->free_list = block;
  c->nfree++;
}

#endif /* WEFT_BLOCK_CACHE_H */
