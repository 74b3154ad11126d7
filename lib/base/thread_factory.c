/*
 * weft — the default thread factory (Twisted's threadFactory=Thread):
 * pthread_create, then name the thread. Linux limits a thread name to 15
 * bytes plus the terminator, so a longer name is shortened, never refused:
 * its first bytes and its whole "-<n>" suffix (base/thread_name.h), so that
 * a hook that wraps this factory keeps the pool's threads distinct.
 */
#include <errno.h>
#include <pthread.h>

#include "base/thread_name.h"
#include "weft/worker.h"

WEFT_API int weft_default_thread_factory(void *ctx, pthread_t *thread,
                                         void *(*start)(void *), void *arg,
                                         const char *name) {
  (void)ctx;
  if (!thread || !start) return WEFT_EINVAL;
  int r = pthread_create(thread, NULL, start, arg);
  if (r != 0) return r == ENOMEM ? WEFT_ENOMEM : WEFT_EAGAIN;
  if (name && *name) {
    char buf[16];
    weft__thread_short_name(name, buf);
    (void)pthread_setname_np(*thread, buf); /* cosmetic: a failure is not an error */
  }
  return 0;
}

int weft__thread_self_detached(void) {
  pthread_attr_t attr;
  /* pthread_getattr_np allocates (glibc's affinity buffer) and can fail:
   * the state is then unknown, and the thread makes itself detached and
   * says so. Joining a detached thread that has gone is a use after free;
   * a joinable thread nobody joins keeps its stack until the process
   * exits. glibc's pthread_detach of the calling thread answers EINVAL if
   * it is detached already, so the detach is safe either way there; other
   * C libraries (musl traps on it) only get the answer, and a joinable
   * thread's stack may then stay. (No test: the allocation is libc's, not
   * one weft_replace_allocator can fail.) */
  if (pthread_getattr_np(pthread_self(), &attr) != 0) {
#ifdef __GLIBC__
    (void)pthread_detach(pthread_self());
#endif
    return 1;
  }
  int state = PTHREAD_CREATE_JOINABLE;
  (void)pthread_attr_getdetachstate(&attr, &state);
  pthread_attr_destroy(&attr);
  return state == PTHREAD_CREATE_DETACHED;
}
