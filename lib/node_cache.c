/* weft — the node cache; the contract is in lib/node_cache.h. */
#include "node_cache.h"

#include <pthread.h>
#include <stddef.h>

#include "alloc.h"
#include "atomic.h"

#define WEFT__SLAB_NODES 64

typedef struct weft__slab {
  struct weft__slab *next;
  weft__node nodes[WEFT__SLAB_NODES];
} weft__slab;

struct weft__node_cache {
  weft__node *local;                  /* owner only */
  WEFT_CACHE_ALIGNED _Atomic(weft__node *) remote; /* Treiber stack, any thread pushes */
  weft__slab *slabs;                  /* keeps every slab reachable */
  weft__node_cache *next_orphan;
};

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static pthread_mutex_t g_orphans_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__node_cache *g_orphans;
static _Thread_local weft__node_cache *tls_cache;

static void orphan(void *p) {
  weft__node_cache *c = p;
  if (tls_cache == c) tls_cache = NULL;
  pthread_mutex_lock(&g_orphans_mu);
  c->next_orphan = g_orphans;
  g_orphans = c;
  pthread_mutex_unlock(&g_orphans_mu);
}

static void make_key(void) { (void)pthread_key_create(&g_key, orphan); }

static weft__node_cache *cache_slow(void) {
  pthread_once(&g_once, make_key);
  pthread_mutex_lock(&g_orphans_mu);
  weft__node_cache *c = g_orphans;
  if (c) g_orphans = c->next_orphan;
  pthread_mutex_unlock(&g_orphans_mu);
  if (!c) {
    c = weft__calloc_aligned(sizeof *c);
    if (!c) return NULL;
  }
  c->next_orphan = NULL;
  if (pthread_setspecific(g_key, c) != 0) {
    orphan(c);
    return NULL;
  }
  tls_cache = c;
  return c;
}

weft__node *weft__node_get(void) {
  weft__node_cache *c = tls_cache;
  if (WEFT_UNLIKELY(!c) && !(c = cache_slow())) return NULL;
  weft__node *n = c->local;
  if (WEFT_UNLIKELY(!n)) {
    /* Acquire: pairs with the release CAS in put, so the freed nodes'
     * free_next links (and their last users' writes) are visible. */
    n = weft__xchg_acquire(&c->remote, NULL);
    if (!n) {
      weft__slab *s = weft__malloc(sizeof *s);
      if (!s) return NULL;
      s->next = c->slabs;
      c->slabs = s;
      for (int i = 0; i < WEFT__SLAB_NODES; i++) {
        s->nodes[i].cache = c;
        s->nodes[i].free_next = i + 1 < WEFT__SLAB_NODES ? &s->nodes[i + 1] : NULL;
      }
      n = &s->nodes[0];
    }
  }
  c->local = n->free_next;
  return n;
}

void weft__node_put(weft__node *n) {
  weft__node_cache *c = n->cache;
  if (c == tls_cache) {
    n->free_next = c->local;
    c->local = n;
    return;
  }
  weft__node *head = weft__load_relaxed(&c->remote);
  do {
    n->free_next = head;
    /* Release: our writes to the node happen before the owner reuses it
     * (pairs with the owner's exchange in get). */
  } while (!weft__cas_release(&c->remote, &head, n));
}
