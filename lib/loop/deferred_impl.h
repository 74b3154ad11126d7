/*
 * weft — the layout of a weft_deferred, private to lib/loop/deferred.c and the
 * one module that embeds a Deferred in a larger block (lib/loop/threads.c: the
 * deferToThread round trip), so that module can set a new Deferred up
 * inline instead of through three calls.
 *
 * Contract: as weft/deferred.h — single-threaded, the reactor thread; see
 * lib/loop/deferred.c ("The last reference") for the thread that may free one.
 */
#ifndef WEFT_DEFERRED_IMPL_H
#define WEFT_DEFERRED_IMPL_H

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>

#include "base/block_cache.h"
#include "weft/deferred.h"

#define INLINE_ENTRIES 3

typedef struct entry {
  weft_callback_fn cb;
  void *cb_ctx;
  weft_callback_fn eb;
  void *eb_ctx;
  void (*dispose)(void *ctx); /* internal entries: called if never run */
} entry;

struct weft_deferred {
  /* The fields a new Deferred initialises come first (weft__deferred_init). */
  long refs;
  int paused;               /* > 0 while waiting on chained Deferreds */
  unsigned char called;
  unsigned char running;
  unsigned char suppress_once;
  unsigned char cancelling; /* its canceller runs (weft_deferred_cancel) */
  weft_result result;
  entry *entries;           /* inline_entries or a heap array */
  uint32_t head, count, cap; /* 32 bits: the header stays small (cache lines) */
  weft__block_cache *cache; /* the block's home (NULL: weft__malloc'd) */
  weft_deferred *waiting_on; /* borrowed: cleared when it fires or dies */
  weft_canceller_fn canceller;
  void *canceller_ctx;
  /* Written before they are read: no initialisation. */
  weft_deferred *stack_next; /* run_callbacks' explicit stack */
  entry inline_entries[INLINE_ENTRIES];
};

/* Where a Deferred's "extra" space starts in its block: on a cache line
 * of its own (the header is a whole number of lines), so that a round
 * trip's request, which a pool thread writes, shares no line with the
 * header the reactor writes (lib/loop/threads.c, round_trip). */
#define WEFT__DEFERRED_EXTRA_ALIGN 64
#define WEFT__DEFERRED_HEADER_SIZE \
  ((sizeof(weft_deferred) + WEFT__DEFERRED_EXTRA_ALIGN - 1) & ~(WEFT__DEFERRED_EXTRA_ALIGN - 1))

static inline void *weft__deferred_extra_of(weft_deferred *d) {
  return (char *)d + WEFT__DEFERRED_HEADER_SIZE;
}

/* Everything run_callbacks, fire, cancel and destroy read before writing;
 * the inline entries and stack_next are written before they are read, so a
 * new Deferred touches its first two cache lines, not all four. */
static inline void weft__deferred_init(weft_deferred *d, weft__block_cache *cache, long refs) {
  d->refs = refs;
  d->paused = 0;
  d->called = 0;
  d->running = 0;
  d->suppress_once = 0;
  d->cancelling = 0;
  d->result.value = NULL;
  d->result.failure = NULL;
  d->result.chained_private_ = NULL;
  d->entries = d->inline_entries;
  d->head = 0;
  d->count = 0;
  d->cap = INLINE_ENTRIES;
  d->cache = cache;
  d->waiting_on = NULL;
  d->canceller = NULL;
  d->canceller_ctx = NULL;
}

/*
 * A cached block comes back clean. destroy puts a Deferred's block back
 * into its cache only in the state weft__deferred_init leaves, except for
 * refs (the free list's link), called and result.value: paused, running,
 * suppress_once and cancelling 0, no failure, no chained Deferred, the inline entries with
 * head == count == 0 (so cap == INLINE_ENTRIES), waiting_on NULL (it is
 * only set while paused > 0), the canceller the block was made with (a
 * round trip's, lib/loop/threads.c; weft_deferred_create_with_canceller
 * uses weft__malloc, never a cache), cache unchanged.
 * A block that ends in another state is reset by destroy's slow path. So a
 * block taken from the free list needs only these two stores; a block just
 * malloc'd by the cache needs weft__deferred_init.
 */
static inline void weft__deferred_init_warm(weft_deferred *d, long refs) {
  d->refs = refs;
  d->called = 0;
}

/* Fire d (a value, or failure f when f is non-NULL, consumed) and drop one
 * reference, in one call: a deferToThread result arriving. A firing after a
 * cancel is swallowed as weft_deferred_callback/errback do. */
void weft__deferred_fire_release(weft_deferred *d, void *value, weft_failure *f);

#endif /* WEFT_DEFERRED_IMPL_H */
