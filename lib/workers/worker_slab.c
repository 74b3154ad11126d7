/*
 * weft — the worker layer's object pool (contract and algorithm in
 * worker_slab.h).
 */
#include "workers/worker_slab.h"

#include "base/alloc.h"

#define SLAB_OVERFLOW UINT32_MAX /* index of a malloc'ed (overflow) object */

typedef struct slab_hdr {
  _Atomic uint32_t next; /* index+1 of the next free object; 0 ends the stack */
  uint32_t index;        /* own index, or SLAB_OVERFLOW */
} slab_hdr;

static inline uint64_t slab_pack(uint32_t tag, uint32_t idx1) {
  return ((uint64_t)tag << 32) | idx1;
}
static inline uint32_t slab_idx1(uint64_t h) { return (uint32_t)h; }
static inline uint32_t slab_tag(uint64_t h) { return (uint32_t)(h >> 32); }

/* Chunk k starts at index 64·(2^k − 1). */
static inline uint32_t chunk_base(unsigned k) { return WEFT__SLAB_FIRST * ((1u << k) - 1u); }

static inline slab_hdr *slab_at(weft__slab *s, uint32_t index) {
  uint32_t q = index / WEFT__SLAB_FIRST + 1u;
  unsigned k = 31u - (unsigned)__builtin_clz(q);
  /* Relaxed: whoever holds this index got it through the head CAS (acquire),
   * which is ordered after the chunk's publication (see slab_grow). */
  unsigned char *c = weft__load_relaxed(&s->chunk[k]);
  return (slab_hdr *)(void *)(c + (size_t)(index - chunk_base(k)) * s->stride);
}

void weft__slab_init(weft__slab *s, size_t payload_size) {
  size_t stride = sizeof(slab_hdr) + payload_size;
  s->stride = (stride + 7u) & ~(size_t)7u;
  weft__store_relaxed(&s->head, 0);
  weft__store_relaxed(&s->nchunks, 0);
  for (unsigned k = 0; k < WEFT__SLAB_CHUNKS; k++) weft__store_relaxed(&s->chunk[k], NULL);
}

/* Push the chain first..last (already linked through next) in one CAS. */
static void slab_push_chain(weft__slab *s, slab_hdr *first, slab_hdr *last) {
  uint64_t h = weft__load_relaxed(&s->head);
  do {
    weft__store_relaxed(&last->next, slab_idx1(h));
    /* Release: the link above (and, for a new chunk, the chunk pointer and
     * every header) happen before a get() that acquires this head. */
  } while (!weft__cas_release(&s->head, &h, slab_pack(slab_tag(h) + 1u, first->index + 1u)));
}

static void *slab_grow(weft__slab *s) {
  /* Claim the next chunk slot; never count past the table (an add per
   * overflow get would wrap the count after 2^32 of them and claim slot 0
   * again). Relaxed CAS: the count orders nothing; the chunk is published
   * by slab_push_chain's release. */
  uint32_t k = weft__load_relaxed(&s->nchunks);
  do {
    if (k >= WEFT__SLAB_CHUNKS) {
      slab_hdr *o = weft__malloc(s->stride);
      if (!o) return NULL;
      o->index = SLAB_OVERFLOW;
      return o + 1;
    }
  } while (!weft__cas_relaxed(&s->nchunks, &k, k + 1u));
  uint32_t n = WEFT__SLAB_FIRST << k;
  unsigned char *c = weft__malloc((size_t)n * s->stride);
  if (!c) {
    /* Give the slot back unless a later grow has claimed the next one
     * meanwhile, so that a passing ENOMEM does not use a slot up (twenty
     * failures would leave every later get to malloc). If it has, the slot
     * stays empty: nothing ever indexes into it. */
    uint32_t claimed = k + 1u;
    (void)weft__cas_relaxed(&s->nchunks, &claimed, k);
    return NULL;
  }
  uint32_t base = chunk_base(k);
  for (uint32_t i = 0; i < n; i++) {
    slab_hdr *o = (slab_hdr *)(void *)(c + (size_t)i * s->stride);
    o->index = base + i;
    weft__store_relaxed(&o->next, base + i + 2u); /* index+1 of the next one */
  }
  /* Relaxed: published to other threads only by the release CAS of
   * slab_push_chain below. */
  weft__store_relaxed(&s->chunk[k], c);
  if (n > 1) {
    slab_hdr *first = (slab_hdr *)(void *)(c + s->stride);
    slab_hdr *last = (slab_hdr *)(void *)(c + (size_t)(n - 1) * s->stride);
    slab_push_chain(s, first, last);
  }
  return (slab_hdr *)(void *)c + 1;
}

void *weft__slab_get(weft__slab *s) {
  /* Acquire: pairs with the release CAS of put/push_chain, so the object's
   * next link and its chunk pointer are visible. */
  uint64_t h = weft__load_acquire(&s->head);
  while (slab_idx1(h) != 0) {
    slab_hdr *o = slab_at(s, slab_idx1(h) - 1u);
    uint32_t next = weft__load_relaxed(&o->next); /* may be stale: the tag decides */
    /* Acquire on success and failure (cas_acq_rel's failure order): the new
     * head value we read is from a release CAS of put/push_chain. */
    if (weft__cas_acq_rel(&s->head, &h, slab_pack(slab_tag(h) + 1u, next))) return o + 1;
  }
  return slab_grow(s);
}

void weft__slab_put(weft__slab *s, void *obj) {
  slab_hdr *o = (slab_hdr *)obj - 1;
  if (o->index == SLAB_OVERFLOW) {
    weft__free(o);
    return;
  }
  slab_push_chain(s, o, o);
}

void weft__slab_destroy(weft__slab *s) {
  for (unsigned k = 0; k < WEFT__SLAB_CHUNKS; k++) {
    weft__free(weft__load_relaxed(&s->chunk[k]));
    weft__store_relaxed(&s->chunk[k], NULL);
  }
  weft__store_relaxed(&s->head, 0);
}
