/*
 * weft — what the calling thread is to weft: its node cache
 * (lib/node_cache.h) and the engine worker it runs (lib/engine.h), if any.
 *
 * One initial-exec TLS block for both, so that a submit, which asks both
 * (a node from the cache, then "am I one of this engine's workers?"),
 * computes the block's address once: in libweft.so each initial-exec
 * variable costs a GOT load before its %fs-relative access.
 *
 * Contract: each thread reads and writes only its own block; nothing here
 * is shared, so nothing is atomic.
 */
#ifndef WEFT_THREAD_STATE_H
#define WEFT_THREAD_STATE_H

struct weft__node_cache;
struct weft__eworker;

typedef struct weft__thread_state {
  /* Never NULL: a thread without a cache of its own points at
   * weft__node_no_cache, whose private list is always empty, so the get
   * fast path needs one test (lib/node_cache.h). */
  struct weft__node_cache *node_cache;
  /* The engine worker running on this thread; NULL on every other thread. */
  struct weft__eworker *worker;
} weft__thread_state;

extern _Thread_local weft__thread_state weft__tls __attribute__((tls_model("initial-exec")));

#endif /* WEFT_THREAD_STATE_H */
