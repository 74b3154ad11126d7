/*
 * weft — the fork registry and its pthread_atfork handlers (the contract
 * is in lib/base/fork.h).
 *
 * prepare: the registry mutex, then every hook's prepare, rank by rank;
 * parent:  every hook's parent in the reverse order, then the mutex;
 * child:   the same in the child, which has only the forking thread: every
 *          lock the prepare handler took is held by that thread, so it may
 *          release them (default-type mutexes, unlocked by their owner).
 */
#include "base/fork.h"

#include <pthread.h>
#include <stddef.h>

#include "base/atomic.h"
#include "weft/common.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
/* One circular list per rank; a sentinel each. */
static weft__fork_hook g_lists[WEFT__FORK_RANKS];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_installed; /* written once under g_once */
/* Relaxed: written only in a child, by its only thread, before its hooks;
 * read by that thread (weft__fork_generation), or by a parent's threads,
 * for which it never changes. */
static _Atomic unsigned long g_generation;

unsigned long weft__fork_generation(void) { return weft__load_relaxed(&g_generation); }

static void each_forward(void (*call)(weft__fork_hook *h, int which), int which) {
  for (int r = 0; r < WEFT__FORK_RANKS; r++)
    for (weft__fork_hook *h = g_lists[r].next; h != &g_lists[r]; h = h->next) call(h, which);
}

static void each_backward(void (*call)(weft__fork_hook *h, int which), int which) {
  for (int r = WEFT__FORK_RANKS - 1; r >= 0; r--)
    for (weft__fork_hook *h = g_lists[r].prev; h != &g_lists[r]; h = h->prev) call(h, which);
}

static void call_hook(weft__fork_hook *h, int which) {
  if (which == 0) h->prepare(h);
  else if (which == 1) h->parent(h);
  else h->child(h);
}

static void on_prepare(void) {
  pthread_mutex_lock(&g_mu);
  each_forward(call_hook, 0);
}

static void on_parent(void) {
  each_backward(call_hook, 1);
  pthread_mutex_unlock(&g_mu);
}

static void on_child(void) {
  weft__store_relaxed(&g_generation, weft__load_relaxed(&g_generation) + 1);
  each_backward(call_hook, 2);
  pthread_mutex_unlock(&g_mu);
}

static void install(void) {
  for (int r = 0; r < WEFT__FORK_RANKS; r++) g_lists[r].next = g_lists[r].prev = &g_lists[r];
  g_installed = pthread_atfork(on_prepare, on_parent, on_child) == 0;
}

/* Installed when the library loads, not at the first object: glibc runs
 * parent and child handlers in the order of their registration (prepare
 * handlers in the reverse), so a program's own handler registered before
 * weft's first object ran while weft's locks were still held, and a weft
 * call from it hung (tests/test_fork_handler_order.c). A handler registered
 * in another library's constructor that runs before this one still comes
 * first: docs/threading-howto.md, "Fork". */
__attribute__((constructor)) static void install_at_load(void) { pthread_once(&g_once, install); }

int weft__fork_register(weft__fork_hook *h) {
  pthread_once(&g_once, install);
  if (!g_installed) return WEFT_ENOMEM; /* pthread_atfork fails only for memory */
  pthread_mutex_lock(&g_mu);
  weft__fork_hook *head = &g_lists[h->rank];
  /* Registered already: a child of a fork that came while a pthread_once
   * routine that registers (node_cache.c) was under way runs that routine
   * again (glibc re-runs a once interrupted by a fork), and linking h twice
   * would make the list a loop. A walk, not a flag in h: register is rare,
   * and a hook inside an object need not start zeroed. */
  for (weft__fork_hook *x = head->next; x != head; x = x->next) {
    if (x == h) {
      pthread_mutex_unlock(&g_mu);
      return WEFT_OK;
    }
  }
  h->next = head;
  h->prev = head->prev;
  head->prev->next = h;
  head->prev = h;
  pthread_mutex_unlock(&g_mu);
  return WEFT_OK;
}

void weft__fork_unregister(weft__fork_hook *h) {
  /* h->prev is read under the mutex too: the unregister of h's neighbour,
   * another object's on another thread, writes it (tests/test_fork_registry.c). */
  pthread_mutex_lock(&g_mu);
  if (!h->prev) {
    pthread_mutex_unlock(&g_mu);
    return;
  }
  h->prev->next = h->next;
  h->next->prev = h->prev;
  h->prev = h->next = NULL;
  pthread_mutex_unlock(&g_mu);
}
