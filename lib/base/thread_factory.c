/*
 * weft — the default thread factory (Twisted's threadFactory=Thread):
 * pthread_create, then name the thread. Linux limits a thread name to 15
 * bytes plus the terminator, so longer names are truncated, never refused.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "weft/worker.h"

#define THREAD_NAME_MAX 15

WEFT_API int weft_default_thread_factory(void *ctx, pthread_t *thread,
                                         void *(*start)(void *), void *arg,
                                         const char *name) {
  (void)ctx;
  if (!thread || !start) return WEFT_EINVAL;
  int r = pthread_create(thread, NULL, start, arg);
  if (r != 0) return r == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
  if (name && *name) {
    char buf[THREAD_NAME_MAX + 1];
    size_t n = strlen(name);
    if (n > THREAD_NAME_MAX) n = THREAD_NAME_MAX;
    memcpy(buf, name, n);
    buf[n] = '\0';
    (void)pthread_setname_np(*thread, buf); /* cosmetic: a failure is not an error */
  }
  return 0;
}
