/* weft — the node cache; the contract is in lib/node_cache.h. */
#include "node_cache.h"

#include <pthread.h>
#include <stddef.h>

#include "alloc.h"

#define WEFT__SLAB_NODES 256
/* Nodes a cache holds before it reuses any (about 360 KiB): see node_cache.h. */
#define WEFT__NODE_POOL_MIN 4096

typedef struct weft__slab {
  struct weft__slab *next;
  weft__node nodes[WEFT__SLAB_NODES];
} weft__slab;

/* The stand-in cache of a thread that has none (see node_cache.h): never
 * written (get_slow replaces it before touching a cache, and no node names
 * it as its owner), so sharing it between threads is safe. */
weft__node_cache weft__node_no_cache;

/* This thread's batch of nodes owned by another thread's cache. */
typedef weft__node_pending pending;
_Thread_local pending weft__tls_node_pending __attribute__((tls_model("initial-exec")));
#define tls_pend weft__tls_node_pending

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
static pthread_mutex_t g_orphans_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__node_cache *g_orphans;

static void orphan(void *p) {
  weft__node_cache *c = p;
  weft__node_flush();
  if (weft__tls.node_cache == c) weft__tls.node_cache = &weft__node_no_cache;
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
    pthread_mutex_lock(&g_orphans_mu);
    c->next_orphan = g_orphans;
    g_orphans = c;
    pthread_mutex_unlock(&g_orphans_mu);
    return NULL;
  }
  weft__tls.node_cache = c;
  return c;
}

/* The nodes of the previous remote take; the current remote stack becomes
 * the next generation. NULL if both are empty. */
static weft__node *take_generation(weft__node_cache *c) {
  weft__node *n = c->aging;
  /* Acquire: pairs with the release CAS in flush, so the freed nodes'
   * free_next links (and their last users' writes) are visible. */
  c->aging = weft__xchg_acquire(&c->remote, NULL);
  if (!n) {
    n = c->aging;
    c->aging = NULL;
  }
  return n;
}

static weft__node *new_slab(weft__node_cache *c) {
  weft__slab *s = weft__malloc(sizeof *s);
  if (!s) return NULL;
  s->next = c->slabs;
  c->slabs = s;
  c->nodes += WEFT__SLAB_NODES;
  /* Unrolled: a deep queue of call_in_thread tasks takes most of its nodes
   * from fresh slabs, so this loop is on the submit path then. */
#pragma GCC unroll 8
  for (int i = 0; i < WEFT__SLAB_NODES - 1; i++) {
    s->nodes[i].cache = c;
    s->nodes[i].free_next = &s->nodes[i + 1];
  }
  s->nodes[WEFT__SLAB_NODES - 1].cache = c;
  s->nodes[WEFT__SLAB_NODES - 1].free_next = NULL;
  return &s->nodes[0];
}

weft__node *weft__node_get_slow(void) {
  weft__node_cache *c = weft__tls.node_cache;
  if (c == &weft__node_no_cache && !(c = cache_slow())) return NULL;
  weft__node *n = c->local;
  if (!n && c->nodes >= WEFT__NODE_POOL_MIN) n = take_generation(c);
  if (!n) n = new_slab(c);
  if (!n) n = take_generation(c); /* ENOMEM: reuse whatever came back */
  if (!n) return NULL;
  c->local = n->free_next;
  return n;
}

void weft__node_flush(void) {
  pending *p = &tls_pend;
  weft__node_cache *c = p->cache;
  if (!c) return;
  weft__node *first = p->head, *last = p->tail;
  p->cache = NULL;
  p->head = p->tail = NULL;
  p->n = 0;
  weft__node *head = weft__load_relaxed(&c->remote);
  do {
    last->free_next = head;
    /* Release: our writes to the nodes (and their users' writes, ordered
     * before by the task hand-off) happen before the owner reuses them;
     * pairs with the owner's exchange in get_slow. */
  } while (!weft__cas_release(&c->remote, &head, first));
}

void weft__node_put_remote(weft__node *n) {
  pending *p = &tls_pend;
  if (n->cache != p->cache) {
    weft__node_flush();
    p->cache = n->cache;
    p->tail = n;
  }
  n->free_next = p->head;
  p->head = n;
  if (++p->n >= WEFT__NODE_BATCH) weft__node_flush();
}
