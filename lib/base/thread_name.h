/*
 * weft — naming pool threads (lib/base/thread_name.c): the short form that
 * fits Linux's 15-byte thread names, and the engine's default thread factory
 * that applies it (lib/base/thread_factory.c, which also tells a thread
 * whether it is detached: a factory may hand over detached threads).
 */
#ifndef WEFT_BASE_THREAD_NAME_H
#define WEFT_BASE_THREAD_NAME_H

#include <pthread.h>

/* "<prefix>-<n>" shortened to 15 bytes + NUL keeping the "-<n>" suffix. */
void weft__thread_short_name(const char *full, char out[16]);
/* pthread_create + pthread_setname_np(short name); name NULL: unnamed.
 * 0 or WEFT_EAGAIN. */
int weft__thread_create_named(void *ctx, pthread_t *thread, void *(*start)(void *), void *arg,
                              const char *name);

/* 1 if the calling thread is detached (created so, or detached since) or
 * the C library cannot tell (then, with glibc, it detaches itself: never a
 * join of a thread that has gone); 0 if joinable. */
int weft__thread_self_detached(void);

#endif /* WEFT_BASE_THREAD_NAME_H */
