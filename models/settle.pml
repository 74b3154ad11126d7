/*
 * models/settle.pml — a resize under announced blocks settles at its new
 * max once the blocks end (docs/design.md E9.3; lib/engine/engine.c
 * weft__engine_settle_after_resize / weft__engine_grants_returned;
 * tests/test_elastic.c resize_under_blocks_ends_at_new_max).
 *
 * Scenario: a pool of max G with G workers busy inside weft_blocking_begin
 * (each holds a grant: grants = G) and P idle stand-ins parked, keep-alive
 * 0 (nobody leaves by itself). adjust_poolsize(NEWMIN, 1) runs while the
 * blocks end in any order. The pool must end with NEWMIN <= live <= 1.
 *
 * Processes (and the code each mirrors):
 *   resizer  weft_threadpool_adjust_poolsize -> resize_locked
 *            (lib/pool/threadpool.c): `soft` and `min_live` stored under
 *            e->mu (set_limit, set_min); `live` and `grants` read without
 *            it; live > max -> settle_after_resize (under e->mu: grants > 0
 *            -> settling = 1), then shrink_to(live - max, AT_LIMIT): the
 *            floor, read under e->mu after the mark, keeps the grants'
 *            threads.
 *   blocker  block_over (lib/engine/blocking.c): grants -= 1 (an atomic
 *            add, outside the mutex), then grants_returned: under e->mu
 *            read settling, clear it when grants is 0; settling ->
 *            shrink_to(all, AT_LIMIT). Then the worker goes idle: pays a
 *            debt (under e->mu: debt -= 1, live -= 1, it leaves) or parks.
 *   waker    E5.2's debt chain, abstracted (models/shrink_debt.pml has it
 *            in full): a parked worker and a debt owed -> it pays and
 *            leaves.
 *   shrink_to(n, AT_LIMIT) (engine.c), under e->shrink_mu (one shrink
 *            to a floor at a time), per unit: under e->mu the floor
 *            max(soft + grants, min_live) and over = live - debt - floor
 *            (the first look); over <= 0 stops; else, under e->mu again,
 *            the floor read again (over_floor_locked, marking as every
 *            floor read does) and over <= 0 stops (a pop becomes a
 *            notify's: the worker parks again), else pop a parked worker
 *            (live -= 1; it leaves) or, nobody parked, add the rest to the
 *            debt, no more than is over then. One section for the second
 *            look and the act: the code's pop CAS before it only picks the
 *            worker, and which branch it takes (pop or debt) is the
 *            `parked` count here.
 *
 * Properties (pan -DSAFETY):
 *   bounds   once the resize returned, every block ended and no parked
 *            worker is owed a debt: NEWMIN <= live <= 1;
 *   floor    live >= NEWMIN whenever e->mu is free after the resize's
 *            set_min (a settling shrink never takes the pool below min).
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_NO_SETTLE      returns shrink nothing (the defect: the
 *                           threads the grants kept stay above max);
 *   -DMUTANT_SETTLE_LATE    the resize marks settling after its shrink,
 *                           not before: returns between its floor read and
 *                           the mark see no flag, and the mark then sees no
 *                           grants;
 *   -DMUTANT_HELD_COUNT     a count of threads held instead of the flag
 *                           (the resize stores min(live - debt - max,
 *                           grants) after its shrink, each return takes one
 *                           and shrinks one): a return between the
 *                           resize's grants read and its store is lost;
 *   -DMUTANT_KEEP_STALE     the resize shrinks by live - (max + grants),
 *                           grants read before its mark (this model's first
 *                           version of the fix): every grant back between
 *                           that read and the mark is in neither;
 *   -DMUTANT_SHRINKS_AT_ONCE no shrink_mu (with -DNEWMIN=1), and the
 *                           shrink acting on its first look (-DMUTANT_ONE_LOOK,
 *                           which it implies): the resize's shrink and a
 *                           return's both read the same surplus and both take
 *                           it, below min (with the second look under e->mu
 *                           the model passes without shrink_mu: 81,617
 *                           states);
 *   -DBEGIN -DMUTANT_NO_FLOOR_MARK  the floor read does not mark: a grant
 *                           made after the resize's mark (or after the last
 *                           return's clear) and before a floor read is kept
 *                           by that floor, and its return finds no flag.
 *   -DBEGIN -DMUTANT_SECOND_LOOK_NO_MARK  only the shrink's first look
 *                           marks: a grant made between the first look and
 *                           the second is kept by the second, and its return
 *                           finds no flag (test_engine
 *                           settle_counts_a_grant_after_the_mark).
 *
 * -DBEGIN adds a worker, busy at the start, that begins a block (a grant,
 * an atomic add, no stand-in: weft_blocking_begin found a worker idle;
 * one it started would only add a thread above max, as any stand-in)
 * at any point of the resize and the other returns, then ends it as a
 * blocker does. The shrink's floor read (under e->mu) marks settling
 * while grants are out (engine.c floor_at_limit_locked, at each of the
 * shrink's looks): whatever grant a
 * floor kept a thread for goes back to a marked engine. Without it (the
 * code before this) the pool ended at 2, max 1, for good with keep-alive
 * 0 (test_engine settle_counts_a_grant_after_the_mark,
 * settle_counts_a_grant_after_the_last_return).
 * The floor's min term (min_live above soft + grants) cannot matter while
 * min <= max, which adjust_poolsize keeps; it is there for the floor's
 * other readers.
 */
/* With the second look, two shrinks at once no longer take the same
 * surplus (each acts on what is over under e->mu): shrink_mu is what kept
 * them apart with one look (the code before the second look), the case
 * MUTANT_SHRINKS_AT_ONCE is about. */
#ifdef MUTANT_SHRINKS_AT_ONCE
#define MUTANT_ONE_LOOK
#endif
/* The resize's own mark before its shrink is what the floor's mark (the
 * shrink's first floor read, a section later) does anyway: marked late,
 * it is caught only without the floor's. */
#ifdef MUTANT_SETTLE_LATE
#define MUTANT_NO_FLOOR_MARK
#endif
#ifndef G
#define G 2
#endif
#ifndef P
#define P 1
#endif
#ifndef NEWMIN
#define NEWMIN 0
#endif
#define NEWMAX 1

bit mu;
#ifdef BEGIN
#define B 1 /* the worker that begins a block */
#else
#define B 0
#endif
byte live = G + P + B;
byte soft = G;
byte min_live = 0;
byte grants = G;
byte debt = 0;
byte parked = P;
bit settling;
byte held; /* MUTANT_HELD_COUNT */
bit resized;
byte blocks_done;
bit min_set;

inline lock() { atomic { mu == 0 -> mu = 1 } }
inline unlock() { mu = 0 }

/* The floor of AT_LIMIT, under the mutex (floor_at_limit_locked): grants
 * read once (they change without the mutex), the settle mark with what
 * was read. */
inline floor_of(f, g, second) {
  g = grants;
#ifndef MUTANT_NO_FLOOR_MARK
  if
#ifdef MUTANT_SECOND_LOOK_NO_MARK
  :: g > 0 && !second -> settling = 1
#else
  :: g > 0 -> settling = 1 /* the floor keeps their threads */
#endif
  :: else
  fi;
#endif
  f = soft + g;
  if
  :: f < min_live -> f = min_live
  :: else
  fi
}

bit shrink_mu;
/* shrink_to(n, AT_LIMIT): n = 255 for "all"; one at a time (e->shrink_mu). */
inline shrink_to(n) {
#ifndef MUTANT_SHRINKS_AT_ONCE
  atomic { shrink_mu == 0 -> shrink_mu = 1 };
#endif
  i = 0;
  do
  :: i >= n -> break
  :: else ->
    lock();
    floor_of(f, g, 0);
    over = live - debt - f;
    unlock();
    if
    :: over <= 0 -> break
    :: else
    fi;
    if
    :: n - i > over -> n = i + over
    :: else
    fi;
    lock();
#ifndef MUTANT_ONE_LOOK
    floor_of(f, g, 1);                 /* the look again, where it acts */
    over = live - debt - f;
#endif
    if
    :: over <= 0 -> unlock(); break    /* a pop: notify's; a debt: none */
    :: parked > 0 && over > 0 -> parked--; live--; unlock(); i++
    :: parked == 0 && over > 0 ->
       if
       :: n - i > over -> n = i + over /* no more debt than is over now */
       :: else
       fi;
       debt = debt + (n - i); unlock(); break
    fi
  od;
  shrink_mu = 0
}

proctype resizer() {
  short f, over;
  byte g;
  byte i, n, above, keep, lv;
  lock(); soft = NEWMAX; unlock();
  lock(); min_live = NEWMIN; min_set = 1; unlock();
  lv = live;
  keep = NEWMAX + grants; /* MUTANT_KEEP_STALE's read, before the mark */
#if !defined(MUTANT_SETTLE_LATE) && !defined(MUTANT_HELD_COUNT)
  if
  :: lv > NEWMAX -> lock(); if :: grants > 0 -> settling = 1 :: else fi; unlock()
  :: else
  fi;
#endif
#ifdef MUTANT_KEEP_STALE
  /* the count above max + grants, grants read before the mark */
  if
  :: lv > keep -> n = lv - keep; shrink_to(n)
  :: else
  fi;
#else
  if
  :: lv > NEWMAX -> n = lv - NEWMAX; shrink_to(n)
  :: else
  fi;
#endif
#ifdef MUTANT_SETTLE_LATE
  if
  :: lv > NEWMAX -> lock(); if :: grants > 0 -> settling = 1 :: else fi; unlock()
  :: else
  fi;
#endif
#ifdef MUTANT_HELD_COUNT
  lock();
  if
  :: live - debt - NEWMAX < grants -> held = live - debt - NEWMAX
  :: else -> held = grants
  fi;
  unlock();
#endif
  resized = 1
}

proctype blocker(bit begins) {
  short f, over;
  byte g;
  byte i, n;
  bit s;
  if
  :: begins -> atomic { grants++ } /* weft_blocking_begin's grant (-DBEGIN) */
  :: else
  fi;
  /* block_over: the grant goes back, then grants_returned */
  atomic { grants-- };
#ifdef MUTANT_HELD_COUNT
  s = 0;
  atomic { if :: held > 0 -> held--; s = 1 :: else fi };
  if
  :: s -> n = 1; shrink_to(n)
  :: else
  fi;
#else
  lock();
  s = settling;
  if
  :: s && grants == 0 -> settling = 0
  :: else
  fi;
  unlock();
#ifndef MUTANT_NO_SETTLE
  if
  :: s -> n = 255; shrink_to(n)
  :: else
  fi;
#endif
#endif
  /* idle: pay a debt and leave, or park */
  lock();
  if
  :: debt > 0 -> debt--; live--
  :: else -> parked++
  fi;
  unlock();
  blocks_done++
}

/* E5.2's chain, abstracted: a parked worker is woken for a debt, pays it
 * and leaves. */
proctype waker() {
end_waker:
  do
  :: atomic { mu == 0 && parked > 0 && debt > 0 -> parked--; debt--; live-- }
  od
}

/* floor: never below min once it is set, whenever the mutex is free. */
proctype watch() {
end_watch:
  do
  :: atomic { mu == 0 && min_set && live + 0 < NEWMIN -> assert(live >= NEWMIN) }
  od
}

init {
  byte k;
  atomic {
    run resizer();
    k = 0;
    do
    :: k < G -> run blocker(0); k++
    :: else -> break
    od;
#ifdef BEGIN
    run blocker(1);
#endif
    run waker();
    run watch()
  }
  (resized && blocks_done == G + B && (debt == 0 || parked == 0));
  assert(live <= NEWMAX);
  assert(live >= NEWMIN)
}
