/* weft — write prefetch support (lib/base/prefetch.h). */
#include "base/prefetch.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

bool weft__cpu_has_prefetchw;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void init_once(void) {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  /* PRFCHW (AMD: 3DNowPrefetch) is bit 8 of ECX in extended leaf 1. */
  if (__get_cpuid(0x80000001u, &a, &b, &c, &d)) weft__cpu_has_prefetchw = (c >> 8) & 1u;
#endif
}

void weft__prefetch_init(void) { (void)pthread_once(&g_once, init_once); }
