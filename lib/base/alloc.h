/*
 * weft — internal allocation. weft's own objects (pools, engines, reactors,
 * Deferreds, failures, lanes, workers, their arrays and strings) are
 * allocated through these, so weft_replace_allocator() and the
 * fault-injection tests see them. Not through these: node-cache slabs (their
 * own mappings, node_cache.c), the cgroup reader's buffers (libc's calloc and
 * getline, freed before it returns), CPU sets (CPU_ALLOC), and what libc
 * allocates inside the calls weft makes (pthread_create,
 * pthread_getattr_np). None of them is on a per-task hot path.
 */
#ifndef WEFT_ALLOC_H
#define WEFT_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

#include "weft/common.h"

void *weft__malloc(size_t size);
void *weft__calloc(size_t n, size_t size);
void weft__free(void *ptr);
/* Aligned to WEFT_CACHELINE; free with weft__free_aligned. */
void *weft__calloc_aligned(size_t size);
void *weft__malloc_aligned(size_t size); /* the same, not zeroed */
void weft__free_aligned(void *ptr);
/* For memory that is not counted as a live object and so may outlive an
 * allocator replacement (the node cache's slabs and caches, an elastic
 * monitor that frees itself after its engine may be gone): the free
 * function now, to keep beside the block, and an aligned free through it. */
weft_free_fn weft__free_fn(void);
/* Is libc's malloc/calloc/free in use (no weft_replace_allocator)? */
bool weft__alloc_is_default(void);
void weft__free_aligned_with(void *ptr, weft_free_fn f);
char *weft__strdup(const char *s);
/* Hand the C library's free heap pages back to the system (glibc:
 * malloc_trim(0)), if weft allocates with libc's malloc; else nothing.
 * Takes each arena's lock in turn: for idle moments only. */
void weft__heap_trim(void);

/* Live-object accounting for weft_replace_allocator's WEFT_EBUSY check. */
void weft__object_created(void);
void weft__object_destroyed(void);

#endif /* WEFT_ALLOC_H */
