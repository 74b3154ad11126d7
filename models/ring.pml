/*
 * models/ring.pml — the per-worker run ring of lib/engine/ring.h (docs/design.md E3;
 * Go's runq as in Tokio's queue.rs): the owner's push (capacity measured from
 * head.steal), pop (CAS on head.real), take_half on a full ring (spill to the
 * inject queue), and thieves' steal_into: claim by advancing head.real while
 * head.steal stays behind (the steal marker), copy the slots, then CAS
 * head.steal = head.real. One Promela step per atomic access of the C code.
 *
 * head is one 64-bit word holding {steal, real}: here two bytes read and
 * CASed together in one atomic step. (The C encoding, ring.h, keeps real in
 * the high word and the low word 0 while steal == real, else a claim bit and
 * steal mod 2^31; every operation there maps one to one onto the {steal,
 * real} steps here, and tests/test_ring.c checks the encoding itself,
 * across the wraps.) Indices wrap modulo 256 (bytes) as the C u32 indices
 * wrap modulo 2^32; CAP divides both.
 *
 * Properties: exactly once — each task is run (or spilled to the inject
 * queue) once: run() asserts it was not taken before; at the end (every
 * process finished) every task was taken. No deadlock: pan's invalid end
 * states (every loop here is lock-free, so none must exist).
 *
 * History: the first version of weft__ring_take_half reloaded head instead
 * of using the value the failed push saw; after two steals it claimed slots
 * past tail and spilled tasks already stolen (run twice). This model found
 * it (-DMUTANT_TAKE_HALF_RELOADS_HEAD reproduces it); lib/engine/ring.h now takes
 * `seen` from weft__ring_push_seen, as Go's runqputslow does.
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_TAKE_HALF_RELOADS_HEAD  the bug above
 *   -DMUTANT_CAP_FROM_REAL  owner push measures capacity from head.real, so it
 *                           overwrites slots a thief is still copying
 *   -DMUTANT_NO_STEAL_MARK  a thief claims with steal = real = real + n (no
 *                           claim-in-progress marker)
 *   -DMUTANT_LIMIT_FROM_REAL  the push's cached limit is real + CAP (not
 *                           steal + CAP): a push overwrites a slot a thief
 *                           is still copying
 *   -DMUTANT_LIMIT_EQ       the push tests tail != limit for room (not the
 *                           signed difference): after an inject batch
 *                           carried tail past the limit, a push writes
 *                           without looking at head
 *
 * The push keeps `lim`, steal + CAP as of its last look at head
 * (weft__ring_look), and looks again only when tail has reached it: steal
 * only moves forward, so an old limit is still a bound. The owner's other
 * way of filling its ring, an inject batch (room from a fresh head,
 * worker_loop.c ring_room), is the second kind of put in next_push below;
 * it may carry tail past `lim`, which the signed test sends to a look.
 */
#ifndef CAP
#define CAP 2
#endif
#ifndef T
#define T 4        /* tasks the owner pushes */
#endif
#ifndef THIEVES
#define THIEVES 2
#endif
#ifndef TRIES
#define TRIES 2    /* steal attempts per thief */
#endif
#define MASK (CAP - 1)
#define HALF (CAP / 2)
#define NOTASK 255

byte h_steal, h_real;   /* head */
byte rtail;             /* tail, written by the owner only */
byte slot[CAP];
byte taken[T];

inline take(x) {
  atomic { assert(x != NOTASK && taken[x] == 0); taken[x] = 1 }
}

/* weft__ring_push_seen: room below lim, else a look at head (which sets s,
 * r for take_half when the ring is full); ok = 0: full. */
inline push(i) {
  tl = rtail;
#ifdef MUTANT_LIMIT_EQ
  if
  :: lim != tl -> ok = 1
  :: else -> ok = 2
  fi;
#else
  if
  :: ((lim - tl + 256) % 256) == 0 || ((lim - tl + 256) % 256) >= 128 -> ok = 2
  :: else -> ok = 1                                  /* (int32_t)(limit - tail) > 0 */
  fi;
#endif
  if
  :: ok == 2 ->
     atomic { s = h_steal; r = h_real };            /* weft__ring_look: load_acquire(head) */
#ifdef MUTANT_CAP_FROM_REAL
     if
     :: ((tl - r + 256) % 256) >= CAP -> ok = 0
#else
     if
     :: ((tl - s + 256) % 256) >= CAP -> ok = 0
#endif
     :: else ->
#ifdef MUTANT_LIMIT_FROM_REAL
        lim = (r + CAP) % 256;
#else
        lim = (s + CAP) % 256;
#endif
        ok = 1
     fi
  :: else -> skip
  fi;
  if
  :: ok == 1 ->
     slot[tl % CAP] = i;                             /* store_relaxed(slot) */
     rtail = (tl + 1) % 256                          /* store_release(tail) */
  :: else -> skip
  fi
}

proctype owner() {
  byte i, s, r, tl, x, k, pops;
  byte lim = CAP;                                    /* weft__ring_init */
  byte ok;
  do
  :: i < T ->
     push(i);
     if
     :: !ok ->
        /* weft__ring_take_half: spill half + i to the inject queue */
#ifdef MUTANT_TAKE_HALF_RELOADS_HEAD
        atomic { s = h_steal; r = h_real };          /* the bug this model found */
#endif
        /* take_half(seen): claims from the head the failed push saw */
        if
        :: s != r -> take(i)                         /* steal in progress: inject i alone */
        :: else ->
           atomic {                                  /* CAS(head, {r,r} -> {r+h, r+h}) */
             if
             :: h_steal == s && h_real == r ->
                h_steal = (r + HALF) % 256; h_real = (r + HALF) % 256; ok = 1
             :: else -> ok = 0
             fi
           };
           if
           :: ok ->
              k = 0;
              do
              :: k < HALF -> x = slot[(r + k) % CAP]; take(x); k++
              :: else -> break
              od;
              take(i)
           :: else -> take(i)                        /* CAS failed: inject i alone */
           fi
        fi
     :: else -> skip
     fi;
     i++;
     /* the owner runs a task between pushes, or not */
     if
     :: pops < 1 -> goto pop_one
     :: true -> skip
     fi
  :: else -> goto drain
  od;
pop_one:
  pops++;
  /* weft__ring_pop once */
  atomic { s = h_steal; r = h_real };
  do
  :: r == rtail -> break
  :: else ->
     atomic {
       if
       :: h_steal == s && h_real == r ->
          if
          :: s == r -> h_steal = (r + 1) % 256; h_real = (r + 1) % 256
          :: else -> h_real = (r + 1) % 256
          fi;
          ok = 1
       :: else -> s = h_steal; r = h_real; ok = 0
       fi
     };
     if
     :: ok -> x = slot[r % CAP]; take(x); break
     :: else -> skip
     fi
  od;
  if
  :: i < T -> goto next_push
  :: else -> goto drain
  fi;
next_push:
  do
  :: i < T ->
     if
     :: push(i);                                     /* a push, as above */
        if
        :: ok == 0 -> take(i)                        /* full: (spill simplified) */
        :: else -> skip
        fi
     :: atomic { s = h_steal; r = h_real };          /* an inject batch's put: */
        tl = rtail;                                  /* room from a fresh head */
#ifdef MUTANT_CAP_FROM_REAL
        if
        :: ((tl - r + 256) % 256) >= CAP -> take(i)  /* no room: stays injected (simplified) */
#else
        if
        :: ((tl - s + 256) % 256) >= CAP -> take(i)  /* no room: stays injected (simplified) */
#endif
        :: else -> slot[tl % CAP] = i; rtail = (tl + 1) % 256
        fi
     fi;
     i++
  :: else -> break
  od;
drain:
  /* pop until empty */
  atomic { s = h_steal; r = h_real };
  do
  :: r == rtail -> break
  :: else ->
     atomic {
       if
       :: h_steal == s && h_real == r ->
          if
          :: s == r -> h_steal = (r + 1) % 256; h_real = (r + 1) % 256
          :: else -> h_real = (r + 1) % 256
          fi;
          ok = 1
       :: else -> s = h_steal; r = h_real; ok = 0
       fi
     };
     if
     :: ok -> x = slot[r % CAP]; take(x); atomic { s = h_steal; r = h_real }
     :: else -> skip
     fi
  od
}

proctype thief() {
  byte tries, s, r, tl, n, k, x, r2;
  byte copy[CAP];
  bool ok;
  do
  :: tries < TRIES ->
     tries++;
     /* weft__ring_steal_into: the claim */
     atomic { s = h_steal; r = h_real };             /* load_acquire(src->head) */
     do
     :: s != r -> n = 0; break                       /* another thief is copying */
     :: else ->
        tl = rtail;                                  /* load_acquire(src->tail) */
        n = (tl - r + 256) % 256;
        if
        :: n == 0 || n > CAP -> n = 0; break
        :: else -> n = n - n / 2
        fi;
        atomic {                                     /* CAS(head, {s,r} -> {s, r+n}) acq_rel */
          if
          :: h_steal == s && h_real == r ->
#ifdef MUTANT_NO_STEAL_MARK
             h_steal = (r + n) % 256;
#endif
             h_real = (r + n) % 256; ok = 1
          :: else -> s = h_steal; r = h_real; ok = 0
          fi
        };
        if
        :: ok -> break
        :: else -> skip
        fi
     od;
     if
     :: n > 0 ->
        k = 0;                                       /* copy the claimed slots */
        do
        :: k < n -> copy[k] = slot[(r + k) % CAP]; k++
        :: else -> break
        od;
        /* steal = real: CAS loop, the owner may have popped meanwhile */
#ifndef MUTANT_NO_STEAL_MARK
        atomic { s = s; r2 = (r + n) % 256 };        /* h = next */
        do
        :: atomic {
             if
             :: h_steal == s && h_real == r2 -> h_steal = r2; ok = 1
             :: else -> s = h_steal; r2 = h_real; ok = 0
             fi
           };
           if
           :: ok -> break
           :: else -> skip
           fi
        od;
#endif
        k = 0;                                       /* run them (dst ring is private here) */
        do
        :: k < n -> take(copy[k]); copy[k] = 0; k++
        :: else -> break
        od
     :: else -> skip
     fi;
     n = 0; s = 0; r = 0; r2 = 0; tl = 0
  :: else -> break
  od
}

init {
  byte i;
  atomic {
    run owner();
    i = 0;
    do
    :: i < THIEVES -> run thief(); i++
    :: else -> break
    od
  };
  _nr_pr == 1;           /* every other process finished */
  i = 0;
  do
  :: i < T -> assert(taken[i] == 1); i++
  :: else -> break
  od
}
