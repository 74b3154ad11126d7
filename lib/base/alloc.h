/*
 * weft — internal allocation. Every allocation in libweft goes through these,
 * so weft_replace_allocator() and the fault-injection tests see all of them.
 * None of them is on a per-task hot path.
 */
#ifndef WEFT_ALLOC_H
#define WEFT_ALLOC_H

#include <stddef.h>

void *weft__malloc(size_t size);
void *weft__calloc(size_t n, size_t size);
void weft__free(void *ptr);
/* Aligned to WEFT_CACHELINE; free with weft__free_aligned. */
void *weft__calloc_aligned(size_t size);
void *weft__malloc_aligned(size_t size); /* the same, not zeroed */
void weft__free_aligned(void *ptr);
char *weft__strdup(const char *s);

/* Live-object accounting for weft_replace_allocator's WEFT_EBUSY check. */
void weft__object_created(void);
void weft__object_destroyed(void);

#endif /* WEFT_ALLOC_H */
