/*
 * weft — the replaceable allocator. The function pointers are read on every
 * allocation with relaxed loads: weft_replace_allocator() may only run while
 * no weft object exists, so no allocation can race with the replacement.
 */
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "base/atomic.h"
#include "weft/common.h"

static _Atomic(weft_malloc_fn) g_malloc = malloc;
static _Atomic(weft_calloc_fn) g_calloc = calloc;
static _Atomic(weft_free_fn) g_free = free;
static atomic_long g_live_objects;

void *weft__malloc(size_t size) { return weft__load_relaxed(&g_malloc)(size); }
void *weft__calloc(size_t n, size_t size) { return weft__load_relaxed(&g_calloc)(n, size); }
void weft__free(void *ptr) {
  if (ptr) weft__load_relaxed(&g_free)(ptr);
}

/* Over-allocate and stash the original pointer just below the aligned block,
 * so that any malloc (including a user's) can back aligned objects. */
static void *align_block(char *raw) {
  if (!raw) return NULL;
  uintptr_t p = ((uintptr_t)raw + sizeof(void *) + WEFT_CACHELINE - 1) &
                ~(uintptr_t)(WEFT_CACHELINE - 1);
  ((void **)p)[-1] = raw;
  return (void *)p;
}

void *weft__calloc_aligned(size_t size) {
  return align_block(weft__calloc(1, size + WEFT_CACHELINE + sizeof(void *)));
}

void *weft__malloc_aligned(size_t size) {
  return align_block(weft__malloc(size + WEFT_CACHELINE + sizeof(void *)));
}

void weft__free_aligned(void *ptr) {
  if (ptr) weft__free(((void **)ptr)[-1]);
}

weft_free_fn weft__free_fn(void) { return weft__load_relaxed(&g_free); }

bool weft__alloc_is_default(void) {
  return weft__load_relaxed(&g_malloc) == malloc && weft__load_relaxed(&g_calloc) == calloc &&
         weft__load_relaxed(&g_free) == free;
}

void weft__free_aligned_with(void *ptr, weft_free_fn f) {
  if (ptr) f(((void **)ptr)[-1]);
}

void weft__heap_trim(void) {
#ifdef __GLIBC__
  if (weft__load_relaxed(&g_free) == free) (void)malloc_trim(0);
#endif
}

char *weft__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = weft__malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

void weft__object_created(void) { weft__fetch_add_relaxed(&g_live_objects, 1); }
void weft__object_destroyed(void) { weft__fetch_sub_relaxed(&g_live_objects, 1); }

WEFT_API int weft_replace_allocator(weft_malloc_fn m, weft_calloc_fn c, weft_free_fn f) {
  /* A complete set or none: every block is freed by g_free, whether
   * g_malloc or g_calloc made it, so the three change together (a calloc
   * kept from libc, or from an earlier set, would be paired with another
   * free). */
  if ((m == NULL) != (f == NULL) || (c == NULL) != (f == NULL)) return WEFT_EINVAL;
  if (weft__load_relaxed(&g_live_objects) != 0) return WEFT_EBUSY;
  if (m) weft__store_relaxed(&g_malloc, m);
  if (c) weft__store_relaxed(&g_calloc, c);
  if (f) weft__store_relaxed(&g_free, f);
  return WEFT_OK;
}
