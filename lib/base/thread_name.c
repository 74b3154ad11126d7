/*
 * weft — naming pool threads. Linux limits a thread name to 15 bytes; pool
 * names are longer ("PoolThread-twisted.internet.reactor-12"), so the short
 * name keeps the start of the name and the whole "-<n>" suffix: threads of
 * one pool stay distinct in top, perf and gdb.
 */
#include <pthread.h>
#include <string.h>

#include "base/thread_name.h"
#include "weft/common.h"

void weft__thread_short_name(const char *full, char out[16]) {
  size_t len = strlen(full);
  if (len <= 15) {
    memcpy(out, full, len + 1);
    return;
  }
  const char *dash = strrchr(full, '-');
  size_t suffix = dash ? len - (size_t)(dash - full) : 0;
  if (suffix > 15) { /* no usable suffix: keep the tail, it varies */
    memcpy(out, full + len - 15, 16);
    return;
  }
  size_t head = 15 - suffix;
  memcpy(out, full, head);
  memcpy(out + head, full + len - suffix, suffix + 1);
}

int weft__thread_create_named(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                              const char *name) {
  (void)ctx;
  if (pthread_create(thread, NULL, start, arg) != 0) return WEFT_EAGAIN;
  if (name) {
    char short_name[16];
    weft__thread_short_name(name, short_name);
    (void)pthread_setname_np(*thread, short_name); /* best effort */
  }
  return WEFT_OK;
}
