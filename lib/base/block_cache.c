/*
 * weft — the block cache's slow paths (contract: lib/base/block_cache.h).
 */
#include "base/block_cache.h"

#include "base/alloc.h"

weft__block_cache *weft__block_cache_create(size_t block_size, uint32_t max_free) {
  weft__block_cache *c = weft__malloc(sizeof *c);
  if (c == NULL) return NULL;
  c->free_list = NULL;
  c->nfree = 0;
  c->max_free = max_free;
  c->block_size = block_size < sizeof(void *) ? sizeof(void *) : block_size;
  atomic_init(&c->holders, 1); /* the owner */
  c->orphaned = 0;
  weft__object_created(); /* one live object for every block it will make */
  return c;
}

/* Drop one holder; the last one frees the cache. */
static void cache_release(weft__block_cache *c, long n) {
  /* acq_rel: every holder's uses of c (its free list, the block it freed)
   * happen before the last one frees c; pairs with the other holders'
   * fetch_sub here. */
  if (weft__fetch_sub_acq_rel(&c->holders, n) != n) return;
  weft__free(c);
  weft__object_destroyed();
}

void *weft__block_cache_get_slow(weft__block_cache *c) {
  /* Line-aligned: a block's lines are then the same for every block, so a
   * user can keep what different threads write on different lines (the
   * round trip, lib/loop/threads.c). */
  void *b = weft__malloc_aligned(c->block_size);
  /* Relaxed: only the owner adds holders (before orphan), and the count only
   * needs to reach zero after every block is gone; the decrements order. */
  if (b != NULL) weft__fetch_add_relaxed(&c->holders, 1);
  return b;
}

void weft__block_cache_put_slow(weft__block_cache *c, void *block) {
  weft__free_aligned(block);
  cache_release(c, 1);
}

void weft__block_cache_orphan(weft__block_cache *c) {
  if (c == NULL) return;
  long n = 1; /* the owner */
  void *b = c->free_list;
  while (b != NULL) {
    void *next = *(void **)b;
    weft__free_aligned(b);
    b = next;
    n++;
  }
  c->free_list = NULL;
  c->nfree = 0;
  c->max_free = 0; /* puts after this free their block (ordered after us) */
  c->orphaned = 1;
  cache_release(c, n);
}
