/*
 * models/reap_min.pml — a keep-alive exit against a thread creation that
 * fails (lib/engine/park.c weft__engine_try_reap, lib/engine/spawn.c
 * weft__engine_spawn_locked; docs/design.md E9.3).
 *
 *   spawn:   under the engine mutex: live += 1 (counted before the thread
 *            runs); the factory makes the thread, or fails: live -= 1
 *   reaper:  a parked worker whose keep-alive ran out: under the engine
 *            mutex, reserve its exit (live -= 1) only while live > min;
 *            then it leaves
 *
 * Property (assertion at the end): the pool keeps at least min threads,
 * and live counts exactly the threads that exist.
 *
 * Mutant (pan must report an error):
 *   -DMUTANT_RESERVE_UNLOCKED  the reaper reserves without the mutex: it
 *                              counts on the thread being made, the
 *                              factory fails, and the pool ends below min
 *
 * -DVALVE: the pool sits at its valve (live = HARD) instead, and the
 * reaper's reservation may be undone (a notifier's wake won the wake word:
 * it runs on, live += 1), as may a shrinker's uncount of an entry that had
 * reaped itself (weft__engine_shrink_to): the same shape. The spawner
 * creates only while live < HARD, under the mutex. Property: live never
 * passes HARD, and ends equal to the threads that exist.
 *   -DMUTANT_UNDO_UNLOCKED     the undo comes after the mutex is released:
 *                              a spawner in between takes the reservation
 *                              for a free place, and the undo makes live
 *                              HARD + 1
 */
#ifndef R
#define R 2              /* parked workers whose keep-alive runs out */
#endif
#ifndef MIN
#define MIN R            /* the pool sits at min: nobody may leave */
#endif

byte live = R;           /* the engine's count */
byte real = R;           /* threads that exist */
bool mu;                 /* the engine mutex */
byte done;

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

proctype spawner() {
  lock();
  live++;
  if
  :: real++              /* the factory made the thread */
  :: live--              /* it failed: uncounted again */
  fi;
  unlock();
  done++
}

proctype reaper() {
  bool reserved = 0;
#ifndef MUTANT_RESERVE_UNLOCKED
  lock();
#endif
  atomic {
    if
    :: live > MIN -> live--; reserved = 1
    :: else -> skip
    fi
  };
#ifndef MUTANT_RESERVE_UNLOCKED
  unlock();
#endif
  if
  :: reserved -> real--  /* it leaves */
  :: else -> skip
  fi;
  done++
}

#ifdef VALVE
#define HARD 2
proctype vspawner() {
  lock();
  if
  :: live < HARD -> live++; assert(live <= HARD); real++
  :: else -> skip
  fi;
  unlock();
  done++
}

proctype vreaper() {
  bool reserved = 0;
  lock();
  if
  :: live > HARD - 1 -> live--; reserved = 1    /* min = HARD - 1 */
  :: else -> skip
  fi;
#ifdef MUTANT_UNDO_UNLOCKED
  unlock();
#endif
  if
  :: reserved -> live++; assert(live <= HARD); reserved = 0   /* woken: undone */
  :: reserved -> skip                                         /* it leaves */
  :: else -> skip
  fi;
#ifndef MUTANT_UNDO_UNLOCKED
  unlock();
#endif
  if
  :: reserved -> real--
  :: else -> skip
  fi;
  done++
}

init {
  live = HARD;
  real = HARD;
  run vspawner();
  run vreaper();
  done == 2;
  assert(live == real && live <= HARD)
}
#else
init {
  byte i;
  run spawner();
  for (i : 1 .. R) { run reaper() }
  done == R + 1;
  assert(real >= MIN && live == real)
}
#endif
