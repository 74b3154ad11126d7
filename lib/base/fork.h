/*
 * weft — what fork(2) does to weft's objects: a registry of live objects
 * whose control locks pthread_atfork handlers take before a fork and
 * release after it, in the parent and in the child, so that no lock held by
 * another thread at the fork is left held in the child; each object's child
 * handler then puts the child's copy in its documented after-fork state
 * (docs/threading-howto.md, "Fork").
 *
 * Lock order: hooks are taken rank by rank (lower first), in registration
 * order within a rank, and released in the reverse order. A rank names one
 * kind of lock; weft never holds two locks of one rank at once, and takes
 * locks of different ranks only in rank order (a pool's mutex, then its
 * engine's), so the prepare handler cannot deadlock with a thread that is
 * inside weft. A thread factory runs under its engine's lock; one that
 * called into another pool would hold two engine locks, which is why
 * weft/worker.h forbids a factory any call into weft.
 */
#ifndef WEFT_BASE_FORK_H
#define WEFT_BASE_FORK_H

enum {
  WEFT__FORK_RANK_POOL,    /* a ThreadPool's start/stop/resize mutex */
  WEFT__FORK_RANK_ENGINE,  /* an engine's control mutex */
  WEFT__FORK_RANK_REACTOR, /* a reactor's blocked-caller lock */
  WEFT__FORK_RANK_GLOBAL,  /* process-wide locks (the node cache's orphan list) */
  WEFT__FORK_RANKS
};

typedef struct weft__fork_hook weft__fork_hook;
struct weft__fork_hook {
  weft__fork_hook *prev, *next; /* the registry's; under its mutex */
  int rank;
  void (*prepare)(weft__fork_hook *h); /* take the object's lock(s) */
  void (*parent)(weft__fork_hook *h);  /* release them */
  void (*child)(weft__fork_hook *h);   /* release them, then the after-fork state */
};

/* Add h (its rank and handlers set). 0, or WEFT_ENOMEM if the atfork
 * handlers could not be installed. */
int weft__fork_register(weft__fork_hook *h);
/* Remove h: registered, or never registered with prev NULL (every object
 * that holds a hook is zeroed when made; register itself does not need
 * that, unregister does). */
void weft__fork_unregister(weft__fork_hook *h);

/* Forks this process descends from, since the first hook was registered:
 * the child handler adds one before the hooks run. A loop that runs
 * callbacks of the caller's, which may fork and return in the child,
 * compares it before and after each: a change means it now runs in a
 * child, where the rest of its work is the parent's (the child's copy of
 * the object was put in its after-fork state by its hook). Any thread. */
unsigned long weft__fork_generation(void);

#endif /* WEFT_BASE_FORK_H */
