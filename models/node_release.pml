/*
 * models/node_release.pml — a node-cache slab let go by its owner (thread
 * exit, weft__node_cache_release) while its nodes come back from other
 * threads (lib/engine/node_cache.{h,c}: slab_let_go, weft__node_give_back_,
 * weft__node_slab_gone).
 *
 *   slab:      `returned` counts nodes back since the slab (re)started;
 *              GONE is far above any live count (WEFT__SLAB_GONE)
 *   owner:     handed out H nodes (H = N for a used-up slab, fewer for the
 *              one being handed out: -DPART), then lets the slab go: one
 *              RMW adds GONE - H; it frees the slab if the add saw every
 *              node back (before == H); it read the ring's next slab before
 *   returners: two threads, one giving back one node with weft__node_put,
 *              the other the rest at once (a worker's batch, flushed): each
 *              reads and writes its nodes, then one RMW adds its count; the
 *              add that brings the count to GONE frees the slab
 *
 * Properties: the slab is freed exactly once (assertion at the free), and
 * when everyone is done (the end assertion); nobody touches a node or the
 * count after the free (every access asserts so).
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_BIAS_FULL        the owner adds GONE - N for the slab being
 *                             handed out too (with -DPART): the count never
 *                             reaches GONE and the slab is never freed
 *   -DMUTANT_RETURNER_RELOADS a returner tests a fresh load of the count
 *                             after its add instead of the value its add
 *                             returned: two of them can both see GONE
 *   -DMUTANT_NEXT_AFTER_ADD   the owner reads the slab's ring link after its
 *                             let-go add: the last returner may have freed it
 *   -DMUTANT_OWNER_LOADS      the owner loads the count, frees if every node
 *                             is back and else adds (two steps, not one
 *                             RMW): a return in between is never freed
 */
#define N 3          /* nodes in the slab */
#define GONE 16      /* WEFT__SLAB_GONE: above any live count */
#ifdef PART
#define H 2          /* the slab being handed out: 2 of its 3 nodes went out */
#else
#define H N
#endif

byte returned;       /* the slab's count */
bool freed;
byte frees;
byte done;
#define LIVE assert(!freed)

inline free_slab() {
  assert(!freed);
  freed = true;
  frees++
}

proctype owner() {
  byte before;
#ifdef MUTANT_OWNER_LOADS
  LIVE; before = returned;
  if
  :: before == H -> free_slab()
  :: else -> LIVE; returned = returned + GONE - H
  fi;
#else
#ifndef MUTANT_NEXT_AFTER_ADD
  LIVE;                                  /* next = s->ring_next */
#endif
  atomic {
    LIVE; before = returned;
#ifdef MUTANT_BIAS_FULL
    returned = returned + GONE - N
#else
    returned = returned + GONE - H
#endif
  };
#ifdef MUTANT_NEXT_AFTER_ADD
  LIVE;                                  /* next = s->ring_next, too late */
#endif
  if
  :: before == H -> free_slab()
  :: else -> skip
  fi;
#endif
  done++
}

/* Gives back n nodes: uses them, then one release add. */
proctype returner(byte n) {
  byte before;
  LIVE;                                  /* the task reads its node */
  LIVE;                                  /* ... and writes it */
  atomic { LIVE; before = returned; returned = returned + n };
#ifdef MUTANT_RETURNER_RELOADS
  if
  :: returned == GONE -> free_slab()     /* a racy re-read: may be freed */
  :: else -> skip
  fi;
#else
  if
  :: before + n == GONE -> free_slab()   /* weft__node_slab_gone */
  :: else -> skip
  fi;
#endif
  done++
}

init {
  atomic {
    run owner();
    run returner(1);
    run returner(H - 1)
  };
  done == 3;
  assert(frees == 1)
}
