/*
 * http_server — the work a /hash request stands for, shared by the server's
 * pool threads and the test client (which recomputes every answer).
 *
 * The "buffer" of a request is N bytes generated from (offset, seed), filled
 * 4 KiB at a time into a stack buffer and hashed with 64-bit FNV-1a: the
 * same bytes on both sides without keeping N bytes anywhere.
 */
#ifndef HS_HASH_H
#define HS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HS_FNV_OFFSET 14695981039346656037ULL
#define HS_FNV_PRIME 1099511628211ULL

/* Limits the server enforces on a request's parameters (400 beyond them). */
#define HS_MAX_BYTES (64ULL << 20)  /* 64 MiB */
#define HS_MAX_SLEEP_US 1000000ULL  /* 1 s */

static inline void hs_fill(unsigned char *buf, size_t n, uint64_t offset,
                           uint32_t seed) {
  for (size_t i = 0; i < n; i++) {
    uint64_t k = offset + i;
    buf[i] = (unsigned char)((k * 131u + seed) ^ (k >> 8) ^ (seed >> 8));
  }
}

static inline uint64_t hs_hash(uint64_t bytes, uint32_t seed) {
  unsigned char buf[4096];
  uint64_t h = HS_FNV_OFFSET;
  for (uint64_t off = 0; off < bytes;) {
    size_t n = bytes - off < sizeof buf ? (size_t)(bytes - off) : sizeof buf;
    hs_fill(buf, n, off, seed);
    for (size_t i = 0; i < n; i++) {
      h ^= buf[i];
      h *= HS_FNV_PRIME;
    }
    off += n;
  }
  return h;
}

#endif /* HS_HASH_H */
