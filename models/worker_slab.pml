/*
 * models/worker_slab.pml — the worker layer's object pool, a Treiber stack
 * over object indices with a 32-bit ABA tag, grown by chunks
 * (lib/workers/worker_slab.{h,c}: slab_at ~25-32, slab_push_chain ~43-50,
 * slab_grow ~52-92, weft__slab_get ~94-106, weft__slab_put ~108-115):
 *
 *   head       one 64-bit word [tag:32 | index+1:32]; every successful CAS,
 *              pop or push, adds 1 to the tag
 *   get        load_acquire(head) (97); while not empty: slab_at's load of
 *              chunk[k] (30), load o->next (100), cas_acq_rel {tag+1, next}
 *              (103; a failure reloads h); empty: slab_grow
 *   put        o->index (110): an overflow object is freed; else
 *              slab_push_chain(o, o)
 *   push_chain load head (44); loop: store last->next = idx1(h) (46),
 *              cas_release {tag+1, first+1} (49; a failure reloads h)
 *   slab_grow  load nchunks (57); loop: k past the table → malloc one
 *              overflow object (60-63; NULL on ENOMEM), else cas_relaxed
 *              nchunks k → k+1 (65; a failure reloads k); malloc the chunk
 *              (67); ENOMEM → the give-back cas_relaxed nchunks k+1 → k (74:
 *              it fails when a later grow claimed the next slot, and slot k
 *              then stays empty for good) and NULL; else the headers (78-82:
 *              index, next = index+2), store chunk[k] (85), push the chain
 *              1..n-1 (89), return object 0
 *
 * One Promela step per atomic access of the C code. The header writes of a
 * new chunk (78-82) are one step: the chunk is private memory until the push
 * publishes it, and an access before that is what the `published`
 * assertions report. A malloc is one step; so is the overflow branch (the
 * malloc and the store of the holder's own o->index). Dead locals are reset
 * within the step that ends their use (no C counterpart).
 *
 * The ABA tag is unbounded (as in ctl.pml): valid[p] says that no CAS of head
 * has succeeded since process p's last snapshot of it (its load or failed
 * CAS), which is exactly when the C code's tag still compares equal: every
 * successful CAS adds 1, so the 32-bit tag compares equal after a change
 * only once 2^32 successful CASes fit between one get's load and its CAS
 * (the assumption the C code makes, as the ctl word's tag does). p's CAS
 * succeeds iff valid[p] and the index matches (then it necessarily does; it
 * is compared so that the mutant without a tag is the index-only CAS).
 *
 * Bounds: the C chunk k holds 64·2^k objects, 20 slots; here FIRST·2^k with
 * FIRST = 2 in CH = 2 slots (indices 0-1 | 2-5; K_OF is slab_at's clz for
 * two slots), then overflow objects. NU users (CI: 2 and 3): users 1 and 2
 * get two objects each, then put back the first, then the second (a get
 * may return NULL); with -DNU=3 a third gets one and puts it back. At most
 * FAILS mallocs fail in a run (chunk or overflow object; -DFAILS=2 lets both
 * grows of a race fail: a slot left empty, then the next slot given back and
 * claimed again).
 *
 * Properties (pan -DSAFETY):
 *   exclusive   a pop asserts that nobody holds the object it takes (the get
 *               that returned it, or the grower or putter until its push
 *               CAS); a link store asserts that the storer holds the object
 *   published   slab_at's chunk pointer load and the next load assert that
 *               the object's chunk is published (chunk[k] set); the store of
 *               chunk[k] asserts that it was not set already
 *   claims      a claim of slot k asserts that k is free (not claimed by a
 *               grow in flight, not published, not left empty); a failed
 *               give-back asserts that a later slot was claimed
 *   no leak     at the end every object of every published chunk is on the
 *               stack exactly once (walked from head), nobody holds one,
 *               every overflow object was freed
 *   consistent  at the end (after every ENOMEM and its give-back) the slots
 *               below nchunks are published or left empty by a give-back that
 *               lost to a later claim, those at or above it are free, and
 *               chunk[k] is set exactly for the published ones
 *
 * Mutants (pan must report an assertion; tests/test_models.cmake):
 *   -DMUTANT_NO_TAG        head has no tag: the CASes compare the index only.
 *                          A get reads head = i, next = j and stalls; another
 *                          user pops i, changes the stack below it and puts i
 *                          back on top; the stale CAS installs j: what was
 *                          pushed meanwhile is lost (the no-leak assertion),
 *                          or, with a third user, j is handed out twice
 *   -DMUTANT_PUSH_BEFORE_PUBLISH  slab_grow pushes the new chain before its
 *                          store of chunk[k]: a get pops a new object and
 *                          slab_at loads a NULL chunk pointer
 *   -DMUTANT_GIVE_BACK_STORE  the ENOMEM give-back is a plain store
 *                          nchunks = k: a grow that claimed and published
 *                          slot k+1 meanwhile is uncounted (the consistency
 *                          assertion; the next grows would claim it again)
 * Not a mutant: the tag bumped by pushes only (-DPOP_NO_TAG) or by pops only
 * (-DPUSH_NO_TAG) passes. Head comes back to an index i only through a push
 * of i, so a pop's stale CAS fails if pushes bump; and a pop takes head off
 * i until such a push, so it fails if pops bump. A push's CAS needs no tag
 * (an ABA under a push still links correctly).
 */
#ifndef NU
#define NU 2
#endif
#ifndef FAILS
#define FAILS 1
#endif
#define CH 2                      /* WEFT__SLAB_CHUNKS */
#define FIRST 2                   /* WEFT__SLAB_FIRST */
#define NOBJ 6                    /* FIRST * (2^CH - 1) */
#define BASE(k) (FIRST * ((1 << (k)) - 1))
#define SIZE(k) (FIRST << (k))
#define K_OF(i) ((i) / FIRST + 1 >= 2 -> 1 : 0)  /* 31 - clz(index / FIRST + 1) */
#define OVF 255                   /* a held overflow object (index SLAB_OVERFLOW) */

/* slot states (model only) */
#define FREE 0                    /* below no claim (never claimed or given back) */
#define CLAIMED 1                 /* claimed by a grow in flight */
#define PUB 2                     /* chunk published */
#define EMPTY 3                   /* left empty: its give-back CAS failed */

byte head;                        /* index+1 of the top; 0: empty */
bool valid[4];                    /* the tag: process p's snapshot still current */
byte nxt[NOBJ];                   /* slab_hdr.next (index+1) */
byte owner[NOBJ];                 /* model: pid holding the object, 0: none */
byte nchunks;
bool chunk[CH];                   /* chunk[k] != NULL */
byte sl[CH];                      /* model: slot state */
byte ovf;                         /* overflow objects out */
byte fails;                       /* mallocs failed so far */
byte done;

#define INVAL valid[0] = 0; valid[1] = 0; valid[2] = 0; valid[3] = 0

#ifdef MUTANT_NO_TAG
#define CURRENT (head == s_idx)
#else
#define CURRENT (valid[_pid] && head == s_idx)
#endif
#if defined(MUTANT_NO_TAG) || defined(PUSH_NO_TAG)
#define PUSH_BUMP skip
#else
#define PUSH_BUMP INVAL
#endif
#if defined(MUTANT_NO_TAG) || defined(POP_NO_TAG)
#define POP_BUMP skip
#else
#define POP_BUMP INVAL
#endif

/* a malloc: fails (at most FAILS times in a run) or not */
inline malloc_may_fail() {
  atomic {
    if
    :: fails < FAILS -> fails++; ok = 0
    :: true -> ok = 1
    fi
  }
}

/* slab_push_chain (lines 43-50): objects first..last, linked, held by us;
 * dead: a local that is dead once the push is done (reset with it) */
inline push_chain(first, last, dead) {
  atomic { s_idx = head; valid[_pid] = 1 };          /* load_relaxed(head) */
  do
  :: atomic { assert(owner[last] == _pid); nxt[last] = s_idx };  /* store last->next */
     atomic {                                         /* cas_release(head) */
       if
       :: CURRENT ->
          PUSH_BUMP; valid[_pid] = 0; head = first + 1;
          i = first;
          do
          :: i <= last -> owner[i] = 0; i++
          :: else -> break
          od;
          i = 0; s_idx = 0; dead = 0; break
       :: else -> s_idx = head; valid[_pid] = 1
       fi
     }
  od
}

/* slab_grow (lines 52-92); r: index+1 of the object, OVF, or 0 (NULL) */
inline grow(r) {
  k = nchunks;                                        /* load_relaxed(nchunks) */
  do
  :: k >= CH ->                                       /* past the table: malloc one */
     atomic {
       if
       :: fails < FAILS -> fails++; r = 0             /* NULL */
       :: true -> ovf++; r = OVF                      /* o->index = SLAB_OVERFLOW */
       fi;
       k = 0
     };
     break
  :: else ->
     atomic {                                         /* cas_relaxed(nchunks, k, k+1) */
       if
       :: nchunks == k -> nchunks = k + 1; assert(sl[k] == FREE); sl[k] = CLAIMED; ok = 1
       :: else -> k = nchunks; ok = 0
       fi
     };
     if
     :: ok ->
        malloc_may_fail();                            /* the chunk */
        if
        :: !ok ->                                     /* ENOMEM: give the slot back */
#ifdef MUTANT_GIVE_BACK_STORE
           atomic { nchunks = k; sl[k] = FREE; r = 0; k = 0; ok = 0 };
#else
           atomic {                                   /* cas_relaxed(nchunks, k+1, k) */
             if
             :: nchunks == k + 1 -> nchunks = k; sl[k] = FREE
             :: else -> assert(nchunks > k + 1); sl[k] = EMPTY  /* a later claim won */
             fi;
             r = 0; k = 0; ok = 0
           };
#endif
        :: else ->
           atomic {                                   /* the headers (private) */
             i = BASE(k);
             do
             :: i < BASE(k) + SIZE(k) ->
                assert(owner[i] == 0); owner[i] = _pid; nxt[i] = i + 2; i++
             :: else -> break
             od;
             i = 0; ok = 0; r = BASE(k) + 1           /* return object 0 */
           };
#ifndef MUTANT_PUSH_BEFORE_PUBLISH
           atomic { assert(!chunk[k]); chunk[k] = 1; sl[k] = PUB };  /* store chunk[k] */
#endif
           push_chain(BASE(k) + 1, BASE(k) + SIZE(k) - 1, i);
#ifdef MUTANT_PUSH_BEFORE_PUBLISH
           atomic { assert(!chunk[k]); chunk[k] = 1; sl[k] = PUB };
#endif
           k = 0
        fi;
        break
     :: else -> skip
     fi
  od
}

/* weft__slab_get (lines 94-106) */
inline get(r) {
  atomic { s_idx = head; valid[_pid] = 1 };          /* load_acquire(head) */
  do
  :: s_idx == 0 -> grow(r); break
  :: s_idx != 0 ->
     assert(chunk[K_OF(s_idx - 1)]);                  /* slab_at: load chunk[k] */
     atomic { assert(chunk[K_OF(s_idx - 1)]); nx = nxt[s_idx - 1] };  /* load o->next */
     atomic {                                         /* cas_acq_rel(head) */
       if
       :: CURRENT ->
          POP_BUMP; valid[_pid] = 0; head = nx;
          assert(owner[s_idx - 1] == 0); owner[s_idx - 1] = _pid;
          r = s_idx; s_idx = 0; nx = 0; break
       :: else -> s_idx = head; valid[_pid] = 1; nx = 0
       fi
     }
  od
}

/* weft__slab_put (lines 108-115) */
inline put(r) {
  if
  :: r == 0 -> skip                                   /* the get returned NULL */
  :: r == OVF -> atomic { ovf--; r = 0 }              /* weft__free(o) */
  :: else -> assert(owner[r - 1] == _pid); push_chain(r - 1, r - 1, r)
  fi
}

proctype user(byte two) {
  byte a, b, s_idx, nx, k, i;
  bool ok;
  get(a);
  if
  :: two -> get(b)
  :: else -> skip
  fi;
  put(a);
  put(b);
  done++
}

init {
  byte i, p, n;
  atomic {
    run user(1);
    run user(1);
#if NU >= 3
    run user(0);
#endif
  };
  done == NU;
  /* no leak: every object of a published chunk on the stack once */
  assert(ovf == 0);
  i = 0;
  do
  :: i < NOBJ -> assert(owner[i] == 0); i++
  :: else -> break
  od;
  p = head;
  do
  :: p != 0 ->
     assert(p <= NOBJ && chunk[K_OF(p - 1)] && owner[p - 1] == 0);
     owner[p - 1] = 1; n++; p = nxt[p - 1]
  :: else -> break
  od;
  /* consistent: nchunks, the slot states and the chunk pointers agree */
  i = 0;
  do
  :: i < CH ->
     assert(sl[i] != CLAIMED);
     assert((i < nchunks) == (sl[i] == PUB || sl[i] == EMPTY));
     assert(chunk[i] == (sl[i] == PUB));
     if
     :: chunk[i] -> n = n - SIZE(i)
     :: else -> skip
     fi;
     i++
  :: else -> break
  od;
  assert(n == 0)
}
