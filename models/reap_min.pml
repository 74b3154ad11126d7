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
 *   -DMUTANT_RESERVE_UNLOCKED  the reaper reserves without the mutex (the
 *                              old code): it counts on the thread being
 *                              made, the factory fails, and the pool ends
 *                              below min
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

init {
  byte i;
  run spawner();
  for (i : 1 .. R) { run reaper() }
  done == R + 1;
  assert(real >= MIN && live == real)
}
