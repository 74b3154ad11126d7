/*
 * weft — prefetching a line the caller will soon write.
 *
 * On x86-64 a write prefetch is PREFETCHW: it asks for the line in exclusive
 * state, so the stores that follow find it owned, and the next locked
 * instruction (which drains the store buffer) does not wait for the line to
 * come from another core. gcc and clang emit it for __builtin_prefetch(p, 1)
 * only when the target has PRFCHW (-march=broadwell or later); for plain
 * x86-64 they emit a read prefetch, which brings the line in shared state
 * and leaves the ownership request to the store. So the instruction is
 * written out here, and used only where the processor reports it (CPUID
 * 0x80000001 ECX bit 8), which weft__prefetch_init() reads once; elsewhere
 * the compiler's prefetch stands in. In W1 (one submitter, 10^6 tasks) the
 * node cache's write prefetch was worth 47 against 38 M tasks/s without a
 * prefetch and 33 with a read prefetch (docs/performance.md, "Node cache").
 */
#ifndef WEFT_PREFETCH_H
#define WEFT_PREFETCH_H

#include <stdbool.h>

/* Written once, by weft__prefetch_init's pthread_once; read only by
 * threads that have called weft__prefetch_init since (the node cache and
 * each engine copy it next to the fields their paths load anyway). */
extern bool weft__cpu_has_prefetchw;

/* Reads CPUID once per process (pthread_once); any thread, any time. */
void weft__prefetch_init(void);

/* have_prefetchw: weft__cpu_has_prefetchw, or a copy of it. */
static inline void weft__prefetch_write(const void *p, bool have_prefetchw) {
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__PRFCHW__)
  if (__builtin_expect(have_prefetchw, 1)) {
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
    return;
  }
#else
  (void)have_prefetchw;
#endif
  __builtin_prefetch(p, 1);
}

#endif /* WEFT_PREFETCH_H */
