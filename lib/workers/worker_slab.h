/*
 * weft — a recycling pool of fixed-size objects for the worker layer
 * (thread worker and coordinator task nodes, lock worker trampolines, Team
 * records), so that do(fn, arg) allocates nothing once warmed up.
 *
 * Contract
 *   get / put:  any number of threads, concurrently. Lock-free (one CAS loop;
 *               a CAS fails only because another get/put succeeded).
 *   destroy:    once, when no object is out and no get/put runs.
 *   Objects are returned to the pool they came from; get() never blocks.
 *
 * Algorithm: Treiber's lock-free stack (IBM RJ 5118, 1986) over *indices*
 * rather than pointers, with the ABA guard of a 32-bit tag in the same 64-bit
 * word ([tag:32 | index+1:32], a plain 64-bit CAS, no cmpxchg16b: the
 * reason not to use ck_stack_pop_mpmc, whose ABA guard is a {pointer,
 * generation} pair and a 16-byte CAS, with atomics TSan cannot see). Objects
 * live in chunks that are never freed before destroy, so a pop that reads a
 * stale next index reads valid memory and its CAS then fails on the tag.
 * Chunk k holds 64·2^k objects (so 20 chunks address 67 M objects); when
 * the stack is empty get() allocates the next chunk (cold: it happens
 * log2(peak outstanding) times in a pool's life). Past the last chunk, and
 * only then, single objects are malloc'ed and freed by put().
 */
#ifndef WEFT_WORKER_SLAB_H
#define WEFT_WORKER_SLAB_H

#include <stddef.h>
#include <stdint.h>

#include "base/atomic.h"

#define WEFT__SLAB_CHUNKS 20
#define WEFT__SLAB_FIRST 64u

typedef struct weft__slab {
  WEFT_CACHE_ALIGNED _Atomic uint64_t head; /* [tag:32 | index+1:32], 0 index: empty */
  char pad_[WEFT_CACHELINE - sizeof(uint64_t)];
  size_t stride;                            /* header + payload, 8-aligned */
  _Atomic uint32_t nchunks;                 /* chunk slots claimed (never past the table) */
  _Atomic(unsigned char *) chunk[WEFT__SLAB_CHUNKS];
} weft__slab;

/* payload_size: bytes of each object. */
void weft__slab_init(weft__slab *s, size_t payload_size);
/* An object (payload pointer, 8-byte aligned, contents unspecified), or NULL
 * when memory is exhausted. */
void *weft__slab_get(weft__slab *s);
/* Give back an object obtained from s. */
void weft__slab_put(weft__slab *s, void *obj);
/* Free every chunk. */
void weft__slab_destroy(weft__slab *s);

#endif /* WEFT_WORKER_SLAB_H */
