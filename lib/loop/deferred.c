/*
 * weft — weft_deferred: Twisted's Deferred callback chain.
 *
 * Contract: single-threaded (the reactor thread), like Twisted's Deferred;
 * no atomics. Re-entrancy is handled as Twisted does: adding callbacks from
 * inside a running callback appends to the chain the outer loop is walking;
 * a callback returning an unfired Deferred pauses this chain and registers a
 * continuation entry on the other one; when that one fires, the waiter is
 * resumed on an explicit stack, depth first, without recursion (defer.py's
 * iterative _runCallbacks), so chains of any length use constant C stack.
 *
 * Storage: the chain is a FIFO array with a few entries inline, so the usual
 * round trip (one or two callbacks) allocates nothing beyond the Deferred.
 * A deferToThread Deferred lives in a block of its reactor's block cache
 * (lib/base/block_cache.h), so the steady state allocates nothing at all.
 *
 * The last reference. A Deferred's references are plain counts, so every
 * ref/unref — and the last one, which frees it — happens on the thread that
 * owns the Deferred: the reactor thread (the one running, attached to or
 * destroying the reactor) while its reactor exists; after
 * weft_reactor_destroy returned, any one thread at a time that is ordered
 * after that return (the user's own hand-off). A cached block dropped then
 * finds its cache orphaned and is freed, not cached.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "base/block_cache.h"
#include "base/debug.h"
#include "loop/completion.h"
#include "loop/deferred_impl.h"
#include "weft/deferred.h"

/* The library's own references: inline (the exported pair is interposable
 * under -fPIC, so the compiler will not inline those). */
static void destroy(weft_deferred *d);
static inline void dref(weft_deferred *d) {
  weft_assert_hot(d->refs > 0); /* nothing refs a Deferred back from its destroy */
  d->refs++;
}
static inline void dunref(weft_deferred *d) {
  if (--d->refs == 0) destroy(d);
}

/* ------------------------------------------------------ unhandled failures */

static void default_unhandled(void *ctx, weft_failure *f) {
  (void)ctx;
  fprintf(stderr, "weft: Unhandled error in Deferred: %s: %s\n",
          weft_err_name(weft_failure_code(f)), weft_failure_message(f));
}

/* Process-wide hook; relaxed because it is set before Deferreds exist (the
 * documented contract), so no ordering with other data is needed. */
static _Atomic(weft_unhandled_fn) g_unhandled = default_unhandled;
static _Atomic(void *) g_unhandled_ctx;

WEFT_API void weft_set_unhandled_failure_hook(weft_unhandled_fn fn, void *ctx) {
  weft__store_relaxed(&g_unhandled_ctx, ctx);
  weft__store_relaxed(&g_unhandled, fn ? fn : default_unhandled);
}

/* ------------------------------------------------------------------ result */

static void result_clear_chained(weft_result *r) {
  if (r->chained_private_) {
    weft_deferred *c = r->chained_private_;
    r->chained_private_ = NULL;
    dunref(c);
  }
}

/* r takes value and f (one of them NULL) and no chained Deferred; what it
 * held is released after. Out of line, so the usual case (a callback
 * replacing a value) saves no registers. The result takes its new state
 * before anything is released: a failure's free_data, or the hook of a
 * Deferred its release destroys, is user code that may look at r's
 * Deferred (weft_deferred_result), which must not hand out the failure
 * being freed. */
static __attribute__((noinline)) void result_replace(weft_result *r, void *value,
                                                     weft_failure *f) {
  weft_failure *old = r->failure;
  weft_deferred *chained = r->chained_private_;
  r->failure = f;
  r->chained_private_ = NULL;
  r->value = value;
  weft_failure_unref(old);
  if (chained) dunref(chained);
}

WEFT_API void weft_result_set_value(weft_result *r, void *value) {
  if (r == NULL) return;
  if (WEFT_UNLIKELY(((uintptr_t)r->failure | (uintptr_t)r->chained_private_) != 0)) {
    result_replace(r, value, NULL);
    return;
  }
  r->value = value;
}

WEFT_API void weft_result_set_failure(weft_result *r, weft_failure *f) {
  if (f == NULL) f = weft__failure_of(WEFT_EFAILED, NULL);
  if (r == NULL) {
    weft_failure_unref(f);
    return;
  }
  result_replace(r, NULL, f);
}

WEFT_API int weft_result_set_deferred(weft_result *r, weft_deferred *d) {
  if (r == NULL || d == NULL) return WEFT_EINVAL;
  dref(d);
  result_clear_chained(r);
  r->chained_private_ = d;
  return WEFT_OK;
}

WEFT_API weft_failure *weft_result_take_failure(weft_result *r) {
  if (r == NULL) return NULL;
  weft_failure *f = r->failure;
  r->failure = NULL;
  r->value = NULL;
  return f;
}

/* ------------------------------------------------------------- lifecycle */

int weft__deferred_create_extra(weft_deferred **out, size_t extra) {
  if (out == NULL) return WEFT_EINVAL;
  *out = NULL;
  weft_deferred *d = weft__malloc(WEFT__DEFERRED_HEADER_SIZE + extra);
  if (d == NULL) return WEFT_ENOMEM;
  weft__deferred_init(d, NULL, 1);
  weft__object_created(); /* weft_replace_allocator must see live Deferreds */
  *out = d;
  return WEFT_OK;
}

WEFT_API int weft_deferred_create(weft_deferred **out) {
  return weft__deferred_create_extra(out, 0);
}

WEFT_API int weft_deferred_create_with_canceller(weft_deferred **out,
                                                 weft_canceller_fn canceller, void *ctx) {
  int rc = weft__deferred_create_extra(out, 0);
  if (rc == 0) {
    (*out)->canceller = canceller;
    (*out)->canceller_ctx = ctx;
  }
  return rc;
}

/* Anything but a clean, cached block (lib/loop/deferred_impl.h: "A cached block
 * comes back clean"): report, dispose, free; a cached block is reset to the
 * clean state before it goes back. */
static void destroy_one(weft_deferred *d) {
  if (d->result.failure != NULL && d->called && d->paused == 0) {
    weft_unhandled_fn hook = weft__load_relaxed(&g_unhandled);
    hook(weft__load_relaxed(&g_unhandled_ctx), d->result.failure);
  }
  /* Entries that never ran: internal ones give back what they hold. */
  for (uint32_t i = d->head; i < d->count; i++) {
    if (d->entries[i].dispose) d->entries[i].dispose(d->entries[i].cb_ctx);
  }
  if (d->result.failure) weft_failure_unref(d->result.failure);
  result_clear_chained(&d->result);
  if (d->entries != d->inline_entries) weft__free(d->entries);
  if (d->cache != NULL) {
    /* Clean again; a cached block keeps the canceller its cache's user gave
     * it when the block was made (round trips, lib/loop/threads.c). */
    weft_canceller_fn canceller = d->canceller;
    void *canceller_ctx = d->canceller_ctx;
    weft__deferred_init(d, d->cache, 0);
    d->canceller = canceller;
    d->canceller_ctx = canceller_ctx;
    weft__block_cache_put(d->cache, d);
  } else {
    weft__free(d);
    weft__object_destroyed();
  }
}

/* Destroying one Deferred can drop the last reference to another: the
 * waiter its unfired chain entry held (chain_dispose), the one its result
 * chained. Done by recursion, a chain of 300,000 unfired Deferreds
 * overflowed an 8 MiB stack when its innermost went. So a destroy that
 * starts inside another on the same thread only joins this thread's list
 * (linked through stack_next, unused once no reference is left: a Deferred
 * on run_chain's stack holds one), and the outermost destroy takes them
 * one at a time: constant C stack for a chain of any length. A Deferred
 * belongs to one thread at a time, so the list is per thread. */
static _Thread_local weft_deferred *t_doomed;
static _Thread_local bool t_destroying;

static void chain_dispose(void *ctx);

static __attribute__((noinline)) void destroy_slow(weft_deferred *d) {
  if (t_destroying) {
    /* Queued, not yet destroyed: the only pointers left to d are its
     * waiters' waiting_on (borrowed, not counted). Cleared now, so that
     * nothing (a cancel of a waiter from the unhandled hook or a failure's
     * free_data, still inside the outer destroy) can reach d and ref it
     * back to life; chain_dispose clears them again when d goes. */
    for (uint32_t i = d->head; i < d->count; i++)
      if (d->entries[i].dispose == chain_dispose) {
        weft_deferred *waiter = d->entries[i].cb_ctx;
        waiter->waiting_on = NULL;
      }
    d->stack_next = t_doomed;
    t_doomed = d;
    return;
  }
  t_destroying = true;
  for (;;) {
    destroy_one(d);
    d = t_doomed;
    if (d == NULL) break;
    t_doomed = d->stack_next;
  }
  t_destroying = false;
}

/* The last reference went. The usual case, a cached round-trip block whose
 * chain ended on a value with nothing left to run, is already clean: it
 * goes straight back to its cache. Clean means no failure to report or
 * drop (so nothing unhandled), no chained Deferred, no entries left to
 * dispose, the inline array, and paused == 0 (hence waiting_on == NULL) and
 * suppress_once == 0; running is 0 here always (the stack holds a
 * reference while it is set). */
static void destroy(weft_deferred *d) {
  weft__block_cache *c = d->cache;
  if (WEFT_LIKELY(c != NULL) &&
      ((uintptr_t)d->result.failure | (uintptr_t)d->result.chained_private_) == 0 &&
      (d->head | d->count | (uint32_t)d->paused | d->suppress_once) == 0 &&
      d->entries == d->inline_entries) {
    weft__block_cache_put(c, d);
    return;
  }
  destroy_slow(d);
}

WEFT_API weft_deferred *weft_deferred_ref(weft_deferred *d) {
  if (d) dref(d);
  return d;
}

WEFT_API void weft_deferred_unref(weft_deferred *d) {
  if (d) dunref(d);
}

/* ------------------------------------------------------------------ chain */

/* The array is full: compact the consumed prefix, or grow. Out of line, so
 * append's fast path (a free slot, the usual case) saves no registers. */
static __attribute__((noinline)) int make_room(weft_deferred *d) {
  if (d->head > 0) { /* compact the consumed prefix first */
    memmove(d->entries, d->entries + d->head, (size_t)(d->count - d->head) * sizeof(entry));
    d->count -= d->head;
    d->head = 0;
    return WEFT_OK;
  }
  if (d->cap > UINT32_MAX / 2) return WEFT_ENOMEM; /* 2^31 callbacks: never */
  uint32_t cap = d->cap * 2;
  entry *n = weft__malloc((size_t)cap * sizeof(entry));
  if (n == NULL) return WEFT_ENOMEM;
  memcpy(n, d->entries, (size_t)d->count * sizeof(entry));
  if (d->entries != d->inline_entries) weft__free(d->entries);
  d->entries = n;
  d->cap = cap;
  return WEFT_OK;
}

static inline int append(weft_deferred *d, const entry *e) {
  if (WEFT_UNLIKELY(d->count == d->cap)) {
    int rc = make_room(d);
    if (rc != 0) return rc;
  }
  d->entries[d->count++] = *e;
  return WEFT_OK;
}

/* The continuation entry a waiting Deferred leaves on the one it waits on.
 * Never called: run_callbacks recognises it and resumes the waiter on its
 * explicit stack instead of recursing, so a chain of any length unwinds in
 * constant C stack (Twisted's iterative _runCallbacks). ctx holds a
 * reference to the waiter. */
static int chain_continue(void *ctx, weft_result *r) {
  (void)ctx;
  (void)r;
  return 0;
}

/* The chained Deferred died unfired: the waiter stays paused for ever (as
 * in Twisted), but no longer points at freed memory. */
static void chain_dispose(void *ctx) {
  weft_deferred *waiter = ctx;
  waiter->waiting_on = NULL;
  dunref(waiter);
}

/* The Deferred d waits on through a chain (fired, paused on it), or NULL. */
static weft_deferred *waited_on(weft_deferred *d) {
  return d->called && d->paused ? d->waiting_on : NULL;
}

/* Some Deferred waits on d: a continuation entry is among d's entries
 * still to run (the only place a wait on d is recorded). */
static bool has_waiter(const weft_deferred *d) {
  for (uint32_t i = d->head; i < d->count; i++)
    if (d->entries[i].cb == chain_continue) return true;
  return false;
}

/* d pausing on inner would close a circle: inner waits, through fired and
 * paused Deferreds, on d. Only possible if something waits on d, which is
 * tested first; then the walk goes down the chain inner waits on. A chain
 * fired link by link from the outside in walks one step a link (inner has
 * not fired), from the inside out none (nothing waits on d yet). Chains
 * are acyclic (this refuses every circle), so the walk ends. */
static bool closes_a_circle(weft_deferred *d, weft_deferred *inner) {
  if (!has_waiter(d)) return false;
  for (weft_deferred *x = inner; x != NULL; x = waited_on(x))
    if (x == d) return true;
  return false;
}

/* A callback returned inner (r.chained_private_ taken): take its result if
 * it has one, else pause d behind a continuation entry on inner. */
static void chain_to(weft_deferred *d, weft_deferred *inner) {
  if (inner == d) {
    dunref(inner);
    weft_result_set_failure(&d->result,
                            weft__failure_of(WEFT_EINVAL, "a Deferred cannot chain to itself"));
    return;
  }
  /* A circle (A waits on B, whose callback now returns A; or B waits on a
   * running A whose next callback returns B) would never fire and would
   * hold both for ever: d fails instead, its chain goes on with the
   * failure, and what waits on d resumes with it. Twisted forms the first
   * circle (both wait for good) and completes the second (it takes a
   * running Deferred's intermediate result, which weft does not:
   * docs/twisted-mapping.md). */
  if (closes_a_circle(d, inner)) {
    dunref(inner);
    weft_result_set_failure(
        &d->result,
        weft__failure_of(WEFT_EDEADLK, "a Deferred cannot wait on a chain that waits on it"));
    return;
  }
  if (inner->called && inner->paused == 0 && !inner->running) {
    /* Already has a result: take it now, leave the inner one on None. */
    weft_failure_unref(d->result.failure);
    d->result.value = inner->result.value;
    d->result.failure = inner->result.failure;
    inner->result.value = NULL;
    inner->result.failure = NULL;
    dunref(inner);
    return;
  }
  entry e = {chain_continue, d, chain_continue, d, chain_dispose};
  if (append(inner, &e) != 0) {
    dunref(inner);
    weft_result_set_failure(&d->result, weft__failure_of(WEFT_ENOMEM, NULL));
    return;
  }
  dref(d); /* held by the entry */
  d->paused++;
  d->waiting_on = inner;
  /* inner is kept alive by whoever will fire it; if it is running its own
   * chain right now, that loop reaches our entry. */
  dunref(inner);
}

/*
 * Run d's chain, and the chains of Deferreds waiting on it, depth first, on
 * an explicit stack linked through stack_next. Every Deferred on the stack
 * holds a reference and has `running` set (so adding callbacks to it only
 * appends; the loop reaches them when it gets back to it).
 */
static inline __attribute__((always_inline)) void run_chain(weft_deferred *d) {
  /* The caller set d->running and holds the reference the stack drops. */
  d->stack_next = NULL;
  weft_deferred *top = d;
  while (top != NULL) {
    weft_deferred *cur = top;
    weft_deferred *resumed = NULL;
    while (cur->head < cur->count && cur->paused == 0) {
      /* Read the entry in place: everything it holds is loaded before fn
       * runs (fn may append, reusing this slot or moving the array). */
      const entry *e = &cur->entries[cur->head++];
      if (cur->head == cur->count) cur->head = cur->count = 0;
      weft_callback_fn cb = e->cb;
      if (cb == chain_continue) {
        weft_deferred *w = e->cb_ctx;
        weft_failure_unref(w->result.failure);
        w->result.value = cur->result.value; /* moved: cur ends on None */
        w->result.failure = cur->result.failure;
        cur->result.value = NULL;
        cur->result.failure = NULL;
        w->waiting_on = NULL;
        w->paused--;
        if (w->paused == 0 && !w->running) {
          resumed = w; /* the entry's reference moves to the stack */
          break;
        }
        dunref(w); /* on the stack already, or still paused */
        continue;
      }
      int failed = cur->result.failure != NULL;
      weft_callback_fn fn = failed ? e->eb : cb;
      void *ctx = failed ? e->eb_ctx : e->cb_ctx;
      if (fn == NULL) continue; /* pass-through on this side */
      int rc = fn(ctx, &cur->result);
      if (rc < 0) {
        weft_result_set_failure(&cur->result, weft__failure_of(rc, NULL));
        continue;
      }
      weft_deferred *inner = cur->result.chained_private_;
      if (inner != NULL) {
        weft_failure *dropped = cur->result.failure; /* released last, as in result_replace */
        cur->result.chained_private_ = NULL;
        cur->result.value = NULL;
        cur->result.failure = NULL;
        weft_failure_unref(dropped);
        chain_to(cur, inner);
      }
    }
    if (resumed != NULL) {
      resumed->running = 1;
      resumed->stack_next = top;
      top = resumed;
      continue;
    }
    top = cur->stack_next;
    cur->running = 0;
    dunref(cur); /* may free cur */
  }
}

static void run_callbacks(weft_deferred *d) {
  if (d->running || d->paused) return;
  dref(d); /* the stack's reference */
  d->running = 1;
  run_chain(d);
}

int weft__deferred_add_both_owned(weft_deferred *d, weft_callback_fn fn, void *ctx,
                                  void (*dispose)(void *ctx)) {
  entry e = {fn, ctx, fn, ctx, dispose};
  int rc = append(d, &e);
  if (rc == 0 && d->called) run_callbacks(d);
  return rc;
}

/* The array is full, or d has fired (the chain runs now). Out of line, so
 * the usual case (a free slot on an unfired Deferred) saves no registers. */
static __attribute__((noinline)) int add_callbacks_slow(weft_deferred *d, weft_callback_fn cb,
                                                        void *cb_ctx, weft_callback_fn eb,
                                                        void *eb_ctx) {
  entry e = {cb, cb_ctx, eb, eb_ctx, NULL};
  int rc = append(d, &e);
  if (rc == 0 && d->called) run_callbacks(d);
  return rc;
}

WEFT_API int weft_deferred_add_callbacks(weft_deferred *d, weft_callback_fn cb, void *cb_ctx,
                                         weft_callback_fn eb, void *eb_ctx) {
  if (d == NULL || (cb == NULL && eb == NULL)) return WEFT_EINVAL;
  if (WEFT_UNLIKELY(d->count == d->cap || d->called))
    return add_callbacks_slow(d, cb, cb_ctx, eb, eb_ctx);
  entry *e = &d->entries[d->count++];
  e->cb = cb;
  e->cb_ctx = cb_ctx;
  e->eb = eb;
  e->eb_ctx = eb_ctx;
  e->dispose = NULL;
  return WEFT_OK;
}

WEFT_API int weft_deferred_add_callback(weft_deferred *d, weft_callback_fn cb, void *ctx) {
  if (cb == NULL) return WEFT_EINVAL;
  return weft_deferred_add_callbacks(d, cb, ctx, NULL, NULL);
}

WEFT_API int weft_deferred_add_errback(weft_deferred *d, weft_callback_fn eb, void *ctx) {
  if (eb == NULL) return WEFT_EINVAL;
  return weft_deferred_add_callbacks(d, NULL, NULL, eb, ctx);
}

WEFT_API int weft_deferred_add_both(weft_deferred *d, weft_callback_fn fn, void *ctx) {
  if (fn == NULL) return WEFT_EINVAL;
  return weft_deferred_add_callbacks(d, fn, ctx, fn, ctx);
}

/* ----------------------------------------------------------------- firing */

static int fire(weft_deferred *d, void *value, weft_failure *f) {
  if (d->called) {
    int rc = WEFT_EALREADY;
    if (d->suppress_once) { /* the late firing after a cancel without canceller */
      d->suppress_once = 0;
      rc = WEFT_OK;
    }
    /* Last: the failure's free_data may drop the caller's reference to d
     * (a payload that owns it), so d is not touched after. */
    weft_failure_unref(f);
    return rc;
  }
  d->called = 1;
  d->result.value = f ? NULL : value;
  d->result.failure = f;
  run_callbacks(d);
  return WEFT_OK;
}

/* The usual case: d has not fired. Then nothing runs its chain (running and
 * paused are only set on a fired Deferred: run_callbacks, chain_to), so the
 * chain runs now, and the reference the caller drops is the one the
 * explicit stack would take and drop around it (run_callbacks' dref, then
 * our unref): the stack takes it over instead. While the chain runs d has
 * one reference fewer than run_callbacks would give it, but never fewer
 * than one (the stack's), so nothing frees d early. */
void weft__deferred_fire_release(weft_deferred *d, void *value, weft_failure *f) {
  if (WEFT_UNLIKELY(d->called)) {
    (void)fire(d, value, f); /* EALREADY after a cancel: swallowed */
    dunref(d);
    return;
  }
  weft_assert_internal(!d->running && d->paused == 0);
  d->called = 1;
  d->result.value = f ? NULL : value;
  d->result.failure = f;
  d->running = 1;
  run_chain(d); /* drops our reference when the chain is done */
}

WEFT_API int weft_deferred_callback(weft_deferred *d, void *value) {
  if (d == NULL) return WEFT_EINVAL;
  return fire(d, value, NULL);
}

WEFT_API int weft_deferred_errback(weft_deferred *d, weft_failure *f) {
  if (f == NULL) f = weft__failure_of(WEFT_EFAILED, NULL);
  if (d == NULL) {
    weft_failure_unref(f);
    return WEFT_EINVAL;
  }
  return fire(d, NULL, f);
}

WEFT_API int weft_succeed(weft_deferred **out, void *value) {
  int rc = weft_deferred_create(out);
  if (rc == 0) fire(*out, value, NULL);
  return rc;
}

WEFT_API int weft_fail(weft_deferred **out, weft_failure *f) {
  if (f == NULL) f = weft__failure_of(WEFT_EFAILED, NULL);
  int rc = weft_deferred_create(out);
  if (rc != 0) {
    weft_failure_unref(f);
    return rc;
  }
  fire(*out, NULL, f);
  return WEFT_OK;
}

WEFT_API int weft_deferred_cancel(weft_deferred *d) {
  if (d == NULL) return WEFT_EINVAL;
  /* What is cancelled is the innermost Deferred of the chain d waits on
   * (Twisted recurses a level per link, as this did: about 300,000 links
   * overflowed the stack). Walked with Floyd's two pointers: a chain that
   * leads back to itself never fires, and cancelling it would walk for
   * ever. */
  weft_deferred *x = d, *hare = d;
  for (weft_deferred *next; (next = waited_on(x)) != NULL;) {
    x = next;
    if (hare) hare = waited_on(hare);
    if (hare) hare = waited_on(hare);
    if (hare == x) return WEFT_EDEADLK;
  }
  if (x->called) return WEFT_OK; /* fired and idle: nothing to cancel */
  /* From inside x's own canceller (directly, or through the cancels of
   * others): the cancel under way finishes the job. Without this, a
   * canceller that cancels its whole group, x included, recursed until the
   * stack overflowed. */
  if (x->cancelling) return WEFT_OK;
  dref(x);
  if (x->canceller) {
    x->cancelling = 1;
    x->canceller(x->canceller_ctx, x);
    x->cancelling = 0;
  } else {
    x->suppress_once = 1; /* swallow the firing still to come, once */
  }
  if (!x->called) fire(x, NULL, weft__failure_of(WEFT_ECANCELED, "Deferred cancelled"));
  dunref(x);
  return WEFT_OK;
}

/* ------------------------------------------------------------ inspection */

WEFT_API int weft_deferred_called(const weft_deferred *d) { return d ? d->called : 0; }
WEFT_API int weft_deferred_paused(const weft_deferred *d) { return d ? d->paused > 0 : 0; }

WEFT_API int weft_deferred_result(const weft_deferred *d, void **value, weft_failure **failure) {
  if (d == NULL) return WEFT_EINVAL;
  if (!d->called || d->paused) return WEFT_ESTATE;
  if (value) *value = d->result.value;
  if (failure) *failure = d->result.failure;
  return WEFT_OK;
}
