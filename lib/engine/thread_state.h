/*
 * weft — what the calling thread is to weft: its node cache
 * (lib/engine/node_cache.h) and where its submits go (lib/engine/engine.h): straight to an
 * engine's inject queue, to its own run ring when it is an engine worker,
 * or into a submit window it has open (lib/engine/submit_window.h).
 *
 * One initial-exec TLS block for all of it, so that a submit, which asks
 * both (a node from the cache, then "does this thread route its submits?"),
 * computes the block's address once: in libweft.so each initial-exec
 * variable costs a GOT load before its %fs-relative access.
 *
 * Contract: each thread reads and writes only its own block; nothing here
 * is shared, so nothing is atomic.
 */
#ifndef WEFT_THREAD_STATE_H
#define WEFT_THREAD_STATE_H

#include <stddef.h>
#include <stdint.h>

struct weft__node_cache;
struct weft__eworker;
struct weft__submit_window;

typedef struct weft__thread_state {
  /* Never NULL: a thread without a cache of its own points at
   * weft__node_no_cache, whose private list is always empty, so the get
   * fast path needs one test (lib/engine/node_cache.h). */
  struct weft__node_cache *node_cache;
  /* 0 on an ordinary thread: its submits go to the inject queue, and a
   * foreign submit's fast path tests this one word. Otherwise a tagged
   * pointer: the engine worker running on this thread (bit 0 clear), or the
   * submit window this thread has open (bit 0 set); both are at least
   * 8-byte aligned. Bit 1 is set while the thread has a current context
   * (lib/engine/context.h): its submits then take the routed path, which
   * captures it, and a thread without one pays nothing for the feature. */
  uintptr_t route;
  /* The thread's current context (lib/engine/context.c), and the node of
   * the wrapper or call in context it is running while that node may still
   * carry the task's completion. Here rather than in variables of their own:
   * a run in context reads and writes both and the route around its call,
   * and with one block gcc keeps one base across that call, not three (six
   * instructions per run in context: docs/performance.md, "Instructions per
   * task"). */
  void *context;
  struct weft__node *context_spare;
} weft__thread_state;

extern _Thread_local weft__thread_state weft__tls __attribute__((tls_model("initial-exec")));

#define WEFT__ROUTE_WINDOW ((uintptr_t)1)
#define WEFT__ROUTE_CONTEXT ((uintptr_t)2)
#define WEFT__ROUTE_TAGS (WEFT__ROUTE_WINDOW | WEFT__ROUTE_CONTEXT)

static inline struct weft__eworker *weft__thread_worker(void) {
  uintptr_t r = weft__tls.route;
  return (r & WEFT__ROUTE_WINDOW) ? NULL : (struct weft__eworker *)(r & ~WEFT__ROUTE_TAGS);
}

static inline struct weft__submit_window *weft__thread_window(void) {
  uintptr_t r = weft__tls.route;
  return (r & WEFT__ROUTE_WINDOW) ? (struct weft__submit_window *)(r & ~WEFT__ROUTE_TAGS) : NULL;
}

#endif /* WEFT_THREAD_STATE_H */
