/* weft — the node cache; the contract is in lib/engine/node_cache.h. */
#include "engine/node_cache.h"

#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>

#include "base/alloc.h"
#include "base/fork.h"

/* Slabs a used-up slab looks at, oldest first, for one to restart before it
 * allocates (a slab held by a stuck node is passed over, not waited for). */
#define WEFT__SLAB_SCAN 4

/* The stand-in cache of a thread that has none (see node_cache.h): never
 * written (get_slow replaces it before touching a cache), so sharing it
 * between threads is safe. */
weft__node_cache weft__node_no_cache;

_Thread_local weft__node_pending weft__tls_node_pending __attribute__((tls_model("initial-exec")));

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_key_t g_key;
/* The orphan list and the spare slabs below. */
static pthread_mutex_t g_orphans_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__node_cache *g_orphans; /* at most WEFT__ORPHANS_MAX */

/* Slab memory. With weft's default allocator a slab is its own anonymous
 * mapping (free_fn NULL), not a malloc block: a slab is freed by whichever
 * thread gives back its last node (node_cache.h), and glibc's free() makes
 * a thread arena and a tcache for every thread that calls it, and keeps
 * each arena's top (up to the 128 KiB trim threshold) resident for good,
 * malloc_trim or not. In an elastic burst whose workers submit (each owns
 * a cache), that was 15 arenas and 1.5 MB still resident once the pool was
 * back to 0 threads (docs/performance.md, "Elastic"). A freed mapped slab
 * goes on a list of spares that any thread's next new slab takes first, so
 * a submitter that spills (a burst beyond its ring) reuses slabs without a
 * system call, and their nodes keep their `slab` words, so they are not
 * written again. The list keeps up to WEFT__SPARE_MAX slabs (64 MiB; past
 * it a released slab is unmapped): W4 queues 200 000 tasks at once, about
 * 800 slabs, and with 32 spares each of its runs mapped and unmapped most
 * of them again, page faults and TLB shootdowns that made it 6 times
 * slower than with the cache's old unbounded ring (docs/performance.md,
 * "Elastic"). So a repeated burst reuses the largest burst's slabs, as the
 * unbounded ring did, but they are shared by every thread and given back:
 * the spares are unmapped when an elastic pool is back at its floor
 * (weft__node_spares_release). A replaced allocator (weft_replace_allocator)
 * makes and frees slabs itself, as do sanitizer builds, whose checks of a
 * slab's lifetime need malloc's blocks. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define WEFT__SLAB_MAPPED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define WEFT__SLAB_MAPPED 0
#endif
#endif
#ifndef WEFT__SLAB_MAPPED
#define WEFT__SLAB_MAPPED 1
#endif
#define WEFT__SLAB_MAP_BYTES ((sizeof(weft__node_slab) + 4095u) & ~(size_t)4095u)
#define WEFT__SPARE_MAX 4096
static weft__node_slab *g_spares; /* linked through ring_next; under g_orphans_mu */
static int g_nspares;

/* Free s's memory: to the allocator that made it, or, mapped, to the
 * spares (unmapped if they are full). */
static void slab_release(weft__node_slab *s) {
  if (s->free_fn) {
    weft__free_aligned_with(s, s->free_fn);
    return;
  }
  pthread_mutex_lock(&g_orphans_mu);
  bool kept = g_nspares < WEFT__SPARE_MAX;
  if (kept) {
    s->ring_next = g_spares;
    g_spares = s;
    g_nspares++;
  }
  pthread_mutex_unlock(&g_orphans_mu);
  if (!kept) (void)munmap(s, WEFT__SLAB_MAP_BYTES);
}

void weft__node_spares_release(void) {
  pthread_mutex_lock(&g_orphans_mu);
  weft__node_slab *s = g_spares;
  g_spares = NULL;
  g_nspares = 0;
  pthread_mutex_unlock(&g_orphans_mu);
  while (s) {
    weft__node_slab *next = s->ring_next;
    (void)munmap(s, WEFT__SLAB_MAP_BYTES);
    s = next;
  }
}

int weft__node_spares(void) {
  pthread_mutex_lock(&g_orphans_mu);
  int n = g_nspares;
  pthread_mutex_unlock(&g_orphans_mu);
  return n;
}

/* The owner lets s go (node_cache.h's contract): `handed` of its nodes
 * went out since it last (re)started. Whoever's add brings the count to
 * WEFT__SLAB_GONE frees it: this one, if every node is back. */
static void slab_let_go(weft__node_slab *s, uint32_t handed) {
  /* acq_rel. Release: the owner's writes of the nodes happen before the
   * free by a returner (weft__node_slab_gone's acquire load reads this
   * add's release sequence). Acquire: if every node is back, the
   * returners' release adds happen before our free. */
  uint32_t before = weft__fetch_add_acq_rel(&s->returned, WEFT__SLAB_GONE - handed);
  if (before == handed) slab_release(s);
}

void weft__node_slab_gone(weft__node_slab *s) {
  /* Acquire: reads the last add of the count's release sequence, so every
   * returner's accesses to the nodes (their release adds) and the owner's
   * (its acq_rel let-go add) happen before the free. A load, not a fence:
   * ThreadSanitizer does not model fences. */
  (void)weft__load_acquire(&s->returned);
  slab_release(s);
}

/* Nodes of s handed out since it last (re)started: all of them but for the
 * slab being handed out (the cache moves on only from a used-up slab). */
static uint32_t slab_handed(const weft__node_cache *c, const weft__node_slab *s) {
  return s == c->cur ? (uint32_t)(c->next - c->cur->nodes) : WEFT__SLAB_NODES;
}

/* Let every slab of c go and free c (owner; c is no thread's cache). */
static void cache_let_go(weft__node_cache *c) {
  if (c->spill) slab_let_go(c->cur, slab_handed(c, c->cur));
  weft__node_slab *s = c->ring ? c->ring->ring_next : NULL;
  for (unsigned long i = c->nodes / WEFT__SLAB_NODES; i > 0; i--) {
    weft__node_slab *next = s->ring_next; /* s may be freed below */
    slab_let_go(s, slab_handed(c, s));
    s = next;
  }
  weft__free_aligned_with(c, c->free_fn);
}

/* Before c is parked: keep the slab being handed out (the adopter goes on
 * with it) and, of the ring's others, those whose nodes are all back, up
 * to WEFT__NODE_POOL_MIN nodes in all; let the rest go. A slab with a node
 * still out would sit in a parked cache until adopted; let go, it is freed
 * when that node comes back. */
static void cache_trim(weft__node_cache *c) {
  if (!c->ring) return;
  /* The kept ring so far: head .. tail, oldest first after the position. */
  weft__node_slab *head = NULL, *tail = NULL;
  unsigned long kept = 0;
  if (!c->spill) { /* cur is the ring's position: kept first */
    head = tail = c->cur;
    kept = WEFT__SLAB_NODES;
  }
  weft__node_slab *s = c->ring->ring_next;
  for (unsigned long i = c->nodes / WEFT__SLAB_NODES; i > 0; i--) {
    weft__node_slab *next = s->ring_next; /* s may be freed below */
    if (s == head) {
      /* the slab being handed out, kept above (the last one visited) */
    } else if (kept < WEFT__NODE_POOL_MIN && weft__load_acquire(&s->returned) == WEFT__SLAB_NODES) {
      /* Acquire: as slab_free's: a kept slab may be restarted by the adopter. */
      if (tail) tail->ring_next = s;
      else head = s;
      tail = s;
      kept += WEFT__SLAB_NODES;
    } else {
      slab_let_go(s, WEFT__SLAB_NODES);
    }
    s = next;
  }
  if (tail) tail->ring_next = head;
  /* The position: the scan starts after it, at the oldest kept slab. */
  c->ring = c->spill ? tail : head;
  c->nodes = kept;
}

/* Trim c and park it on the orphan list, or, with the list full, keep the
 * larger of it and the smallest parked cache and let the other go. */
static void park_orphan(weft__node_cache *c) {
  cache_trim(c);
  weft__node_cache *drop = c;
  int n = 0;
  pthread_mutex_lock(&g_orphans_mu);
  weft__node_cache **smallest = NULL;
  for (weft__node_cache **pp = &g_orphans; *pp; pp = &(*pp)->next_orphan, n++)
    if (!smallest || (*pp)->nodes < (*smallest)->nodes) smallest = pp;
  if (n < WEFT__ORPHANS_MAX) {
    c->next_orphan = g_orphans;
    g_orphans = c;
    drop = NULL;
  } else if ((*smallest)->nodes < c->nodes) {
    drop = *smallest;
    c->next_orphan = drop->next_orphan;
    *smallest = c;
  }
  pthread_mutex_unlock(&g_orphans_mu);
  if (drop) cache_let_go(drop);
}

/* Set once the key's destructor has run on this thread: the thread is
 * exiting, and a cache made now (by another thread-exit destructor that
 * submits after ours) might never be parked: glibc runs the destructors of
 * keys set again during a round only up to PTHREAD_DESTRUCTOR_ITERATIONS
 * rounds, so one set in the last is lost with its slab. */
static _Thread_local bool g_exiting;

/* The key's destructor: a thread that owns a cache is exiting. */
static void orphan(void *p) {
  weft__node_cache *c = p;
  weft__node_flush();
  if (weft__tls.node_cache == c) weft__tls.node_cache = &weft__node_no_cache;
  g_exiting = true;
  park_orphan(c);
}

int weft__node_orphans(void) {
  int n = 0;
  pthread_mutex_lock(&g_orphans_mu);
  for (weft__node_cache *c = g_orphans; c; c = c->next_orphan) n++;
  pthread_mutex_unlock(&g_orphans_mu);
  return n;
}

void weft__node_cache_release(void) {
  weft__node_flush();
  weft__node_cache *c = weft__tls.node_cache;
  if (c == &weft__node_no_cache) return;
  weft__tls.node_cache = &weft__node_no_cache;
  /* The key's destructor skips a NULL value: the cache is not orphaned at
   * exit as well. The key exists: init_once ran before c was made. */
  (void)pthread_setspecific(g_key, NULL);
  cache_let_go(c);
}

/* fork (lib/base/fork.h): the orphan list's mutex is held across a fork, so
 * the child never inherits it locked. The caches of threads that do not
 * exist in the child are not orphaned there (their destructors never run):
 * their nodes stay out, as do those of the parent's queued tasks. */
static void orphans_lock(weft__fork_hook *h) {
  (void)h;
  pthread_mutex_lock(&g_orphans_mu);
}
static void orphans_unlock(weft__fork_hook *h) {
  (void)h;
  pthread_mutex_unlock(&g_orphans_mu);
}
static weft__fork_hook g_fork_hook = {NULL, NULL, WEFT__FORK_RANK_GLOBAL, orphans_lock,
                                      orphans_unlock, orphans_unlock};

static void init_once(void) {
  weft__prefetch_init(); /* before any cache exists: node_cache.h's get path reads it */
  (void)pthread_key_create(&g_key, orphan);
  /* Without memory for the atfork handlers, the orphan list may be left
   * locked in a child that forks while another thread holds it; every
   * pool's registration fails the same way, so no pool exists then. */
  (void)weft__fork_register(&g_fork_hook);
}

static weft__node_cache *cache_slow(void) {
  pthread_once(&g_once, init_once);
  /* Adopt the largest orphan: the biggest one is the likeliest to serve
   * this thread without growing, and the small ones wait. Taking the
   * latest instead, a pool whose threads come and go (Team's grow and
   * shrink) kept growing small caches while big ones sat idle: in the
   * benchmark a W5 worker that adopted a cache another size's worker had
   * used grew it again, which cost a repetition 40 ms instead of 6. The
   * list holds at most WEFT__ORPHANS_MAX caches of threads that exited and
   * did not release theirs (park_orphan). */
  pthread_mutex_lock(&g_orphans_mu);
  weft__node_cache **best = NULL;
  for (weft__node_cache **pp = &g_orphans; *pp; pp = &(*pp)->next_orphan)
    if (!best || (*pp)->nodes > (*best)->nodes) best = pp;
  weft__node_cache *c = best ? *best : NULL;
  if (c) *best = c->next_orphan;
  pthread_mutex_unlock(&g_orphans_mu);
  if (!c) {
    weft_free_fn f = weft__free_fn();
    c = weft__calloc_aligned(sizeof *c);
    if (!c) return NULL;
    c->free_fn = f;
  }
  c->next_orphan = NULL;
  c->prefetchw = weft__cpu_has_prefetchw;
  if (pthread_setspecific(g_key, c) != 0) {
    park_orphan(c);
    return NULL;
  }
  weft__tls.node_cache = c;
  return c;
}

static void hand_out(weft__node_cache *c, weft__node_slab *s) {
  c->cur = s;
  c->next = &s->nodes[0];
  c->end = &s->nodes[WEFT__SLAB_NODES];
  /* The get path prefetches WEFT__NODE_PREFETCH nodes ahead within a slab;
   * the first nodes of the next slab are asked for here, together. */
  for (int i = 0; i < WEFT__NODE_PREFETCH; i++) weft__prefetch_write(&s->nodes[i], c->prefetchw);
}

/* Every node of s has come back since it was (re)started: restart it. */
static bool slab_free(weft__node_slab *s) {
  /* Acquire: pairs with the release add of weft__node_give_back_ (put and
   * flush), so every last user's accesses to the nodes happen
   * before the owner writes them again. */
  if (weft__load_acquire(&s->returned) != WEFT__SLAB_NODES) return false;
  /* Relaxed: no node of s is out, so nobody else touches the count until
   * a node handed out after this reaches another thread, through the
   * submit's release (which orders this store before it). */
  weft__store_relaxed(&s->returned, 0);
  return true;
}

/* A new slab, not yet in any ring: a spare, a new mapping, or a block of
 * the allocator in use (see slab_release). */
static weft__node_slab *slab_new(void) {
  weft__node_slab *s = NULL;
  weft_free_fn f = weft__free_fn();
  if (WEFT__SLAB_MAPPED && weft__alloc_is_default()) {
    pthread_mutex_lock(&g_orphans_mu);
    if ((s = g_spares) != NULL) {
      g_spares = s->ring_next;
      g_nspares--;
    }
    pthread_mutex_unlock(&g_orphans_mu);
    if (s) {
      /* Its nodes' `slab` words are still s. Relaxed: the mutex orders the
       * last returner's release before us. */
      weft__store_relaxed(&s->returned, 0);
      return s;
    }
    void *p = mmap(NULL, WEFT__SLAB_MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) return NULL;
    s = p;
    f = NULL;
  } else {
    /* Not zeroed: a submitter far ahead of the workers takes most of its
     * nodes from new slabs, and zeroing 16 KiB cost more per node than the
     * submit itself (callgrind). */
    s = weft__malloc_aligned(sizeof *s);
    if (!s) return NULL;
  }
  s->free_fn = f;
  weft__store_relaxed(&s->returned, 0);
  /* A node's fields are all written at its get, but for `slab`, set here
   * once for the slab's life. Unrolled by 41 (246 = 6 x 41: no remainder),
   * 45 instructions per 41 nodes where 8 took 11 per 8: a submitter far
   * ahead of its workers takes most nodes from new slabs (slab_new's lines
   * 1.54 -> 1.27 instructions per task, perf/callgrind.sh 100000 call). */
#pragma GCC unroll 41
  for (int i = 0; i < WEFT__SLAB_NODES; i++) s->nodes[i].slab = s;
  return s;
}

/* A new slab in the ring, right after `after` (NULL: the ring is empty). */
static weft__node_slab *ring_new(weft__node_cache *c, weft__node_slab *after) {
  weft__node_slab *s = slab_new();
  if (!s) return NULL;
  if (after) {
    s->ring_next = after->ring_next;
    after->ring_next = s;
  } else {
    s->ring_next = s;
  }
  c->nodes += WEFT__SLAB_NODES;
  return s;
}

/* The oldest restartable slab among the first `scan` after the ring's
 * position, or NULL. */
static weft__node_slab *find_free(weft__node_cache *c, unsigned long scan) {
  weft__node_slab *s = c->ring->ring_next;
  for (unsigned long i = 0; i < scan; i++, s = s->ring_next)
    if (slab_free(s)) return s;
  return NULL;
}

/* A node for a thread whose cache was parked at its exit (g_exiting): a
 * cache of one slab, used for this one node and let go at once, so its slab
 * is freed when the node comes back and nothing stays with the thread.
 * A slab per submit: only destructors that run after ours submit here. */
static __attribute__((noinline)) weft__node *node_while_exiting(void) {
  weft_free_fn f = weft__free_fn();
  weft__node_cache *c = weft__calloc_aligned(sizeof *c);
  if (!c) return NULL;
  c->free_fn = f;
  c->prefetchw = weft__cpu_has_prefetchw;
  weft__node_slab *s = ring_new(c, NULL);
  if (!s) {
    weft__free_aligned_with(c, f);
    return NULL;
  }
  c->ring = s;
  hand_out(c, s);
  weft__node *n = weft__node_take_(c);
  cache_let_go(c); /* the slab goes once n is back */
  return n;
}

weft__node *weft__node_get_slow(void) {
  weft__node_cache *c = weft__tls.node_cache;
  if (c == &weft__node_no_cache && WEFT_UNLIKELY(g_exiting)) return node_while_exiting();
  if (c == &weft__node_no_cache && !(c = cache_slow())) return NULL;
  if (c->next == c->end) {
    weft__node_slab *s = NULL;
    bool spill = false;
    if (!c->ring || c->nodes < WEFT__NODE_POOL_MIN) {
      /* Growing to the minimum: each new slab goes after the position, so
       * the ring is in allocation order, oldest after newest. */
      s = ring_new(c, c->ring);
    } else if (!(s = find_free(c, WEFT__SLAB_SCAN))) {
      /* The next slabs of the ring are all out: a burst (more nodes out
       * than the ring holds), or slabs held for a long time (a worker
       * blocked in a task keeps its batch of returns unflushed). Hand out
       * a spill slab, which is let go once used up, so the ring never
       * grows past the minimum and a burst's slabs are freed as their
       * nodes come back, by whoever gives back the last one, even if this
       * thread never submits again. The position moves past the slabs
       * just looked at, so the next scan meets others: a run of held
       * slabs costs at most a spill slab a round
       * (test_node_cache: held_slabs_spill_not_grow). Only once the spill
       * slab is had: without it, the ring keeps its position at cur, which
       * cache_trim's walk (at the thread's exit) relies on
       * (test_node_cache: enomem_keeps_the_ring_at_cur). */
      s = slab_new();
      spill = true;
      if (s)
        for (int i = 0; i < WEFT__SLAB_SCAN; i++) c->ring = c->ring->ring_next;
    }
    /* ENOMEM: restart any slab of the ring that has come back. */
    if (!s && c->ring) {
      spill = false;
      s = find_free(c, c->nodes / WEFT__SLAB_NODES);
    }
    if (!s) return NULL;
    /* A used-up spill slab goes: it is freed when its last node is back. */
    if (c->spill) slab_let_go(c->cur, WEFT__SLAB_NODES);
    c->spill = spill;
    if (!spill) c->ring = s;
    hand_out(c, s);
  }
  return weft__node_take_(c);
}

void weft__node_flush(void) {
  weft__node_pending *p = &weft__tls_node_pending;
  if (!p->slab) return;
  weft__node_give_back_(p->slab, p->n);
  p->slab = NULL;
  p->n = 0;
}

void weft__node_put_in_worker_slow(weft__node *n) {
  weft__node_flush();
  weft__node_pending *p = &weft__tls_node_pending;
  p->slab = n->slab;
  p->n = 1;
}
