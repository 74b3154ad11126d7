/*
 * weft — internal hooks between Deferreds, the reactor's completion queue and
 * the threads module (lib/loop/deferred.c, lib/loop/reactor.c, lib/loop/threads.c).
 *
 * A deferToThread round trip is one block: the Deferred with the threads
 * module's request (the pool's weft_work and the completion node) in
 * trailing "extra" space, so the reference the reactor holds while the
 * result is in flight keeps both alive. The block comes from the reactor's
 * block cache, so once warm a round trip allocates nothing.
 */
#ifndef WEFT_COMPLETION_H
#define WEFT_COMPLETION_H

#include <pthread.h>
#include <stddef.h>

#include "base/atomic.h"
#include "engine/task.h"
#include "weft/deferred.h"
#include "weft/reactor.h"

/* weft_failure_new(code, message) for a failure the library makes itself:
 * out of memory, a static failure of the same code (a WEFT_E* code; its
 * message weft_strerror's), not the WEFT_ENOMEM one, so that the code a
 * header promises survives (lib/loop/failure.c). */
weft_failure *weft__failure_of(int code, const char *message);

/* A Deferred followed by `extra` bytes (max-aligned) in the same block;
 * weft__deferred_extra_of (lib/loop/deferred_impl.h) finds them. */
int weft__deferred_create_extra(weft_deferred **out, size_t extra);

/* A Deferred in a block of a block cache: lib/loop/deferred_impl.h (layout,
 * weft__deferred_init); its last unref puts the block back (lib/loop/deferred.c,
 * "The last reference"). */

/* The reactor's cache of deferToThread blocks of block_size bytes, made on
 * first use (NULL on ENOMEM). Reactor thread. The reactor orphans it in
 * weft_reactor_destroy, after its last completion ran. */
struct weft__block_cache *weft__reactor_round_trip_cache(weft_reactor *r, size_t block_size);

/*
 * Append an internal add_both entry. dispose(ctx) is called instead of fn if
 * the Deferred is destroyed before the entry ran, so an entry holding a
 * reference can give it back. Only fails with WEFT_ENOMEM.
 */
int weft__deferred_add_both_owned(weft_deferred *d, weft_callback_fn fn, void *ctx,
                                  void (*dispose)(void *ctx));

/* weft__reactor_push (lib/loop/reactor_state.h) pushes a caller-owned node
 * onto r's completion queue. */

/* Blocked blocking_call_from_thread callers (lib/loop/threads.c). The reactor
 * releases them all when it begins to shut down. */
typedef struct weft__blocked weft__blocked;
struct weft__blocked {
  weft__blocked *prev, *next; /* the reactor's list, under its mutex */
  void (*release)(weft__blocked *b); /* called under the mutex */
  /* The reactor's io thread, once it has one: written once, under the
   * mutex (by weft__reactor_block if the reactor has it already, else by
   * the reactor's run or attach, for every waiter then registered), before
   * io_known is stored 1 (release). Read off the mutex through io_known
   * (acquire): by the waiter's engine (lib/engine/join_wait.h), which must
   * not read the reactor (it may be destroyed once the wait is released). */
  pthread_t io_thread;
  atomic_int io_known;
};
/* Before b is registered (and before it is read through io_known): b is
 * not linked, and knows r's io thread if r has one already. */
void weft__reactor_blocked_init(weft_reactor *r, weft__blocked *b);
/* Register b and push node (the call that will finish it), both under the
 * reactor's waiter lock, so shutdown cannot release b and destroy the reactor
 * between the two. WEFT_ESHUTDOWN (nothing done) if the reactor is stopping. */
int weft__reactor_block(weft_reactor *r, weft__blocked *b, weft__task *node);
/* WEFT_ESHUTDOWN if weft__reactor_block would refuse now, else 0. */
int weft__reactor_block_refused(weft_reactor *r);
/* Unregister b if it is still registered. */
void weft__reactor_unblock(weft_reactor *r, weft__blocked *b);
/* 1 once the reactor began to shut down (or stopped). */
int weft__reactor_stopping(weft_reactor *r);

#endif /* WEFT_COMPLETION_H */
