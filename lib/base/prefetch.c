/* weft — write prefetch support (lib/base/prefetch.h). */
#include "base/prefetch.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

bool weft__cpu_has_prefetchw;

bool weft__cpu_prefetchw_supported(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  /* PRFCHW (AMD: 3DNowPrefetch) is bit 8 of ECX in extended leaf 1. */
  if (__get_cpuid(0x80000001u, &a, &b, &c, &d)) return (c >> 8) & 1u;
#endif
  return false;
}

void weft__prefetch_init(void) { weft__cpu_has_prefetchw = weft__cpu_prefetchw_supported(); }
