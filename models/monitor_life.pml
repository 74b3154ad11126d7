/*
 * models/monitor_life.pml — the elastic monitor's thread against the
 * pool's workers coming and going (docs/design.md E9.2;
 * lib/engine/monitor.c sleep_disarmed, lib/engine/park.c
 * weft__engine_ensure_monitor and weft__engine_arm_monitor,
 * lib/engine/spawn.c weft__engine_spawn_locked, the keep-alive reap in
 * park.c weft__engine_try_reap).
 *
 * The rule: while the pool has a thread, a monitor runs (its thread was
 * made, or its start failed and is retried). The steps:
 *   - a spawn counts the new worker in `live` under the engine mutex,
 *     then creates it; the worker, first thing, looks at e->monitor
 *     (relaxed, no lock) and, if it is NULL, starts one: under the mutex,
 *     if it is still NULL, starts a monitor thread and publishes it
 *     (weft__engine_ensure_monitor; disarmed, which this model leaves
 *     out: `armed` is what the leave reads, and nothing arms here);
 *   - a worker reaped after its keep-alive takes itself out of `live`
 *     with a CAS (under the mutex in weft__engine_try_reap; the model
 *     lets it happen anywhere, which is looser);
 *   - the monitor, disarmed, leaves after a keep-alive only if, under the
 *     mutex, it is still the pool's monitor, nobody armed it and the pool
 *     has no thread (live 0): it clears e->monitor there and ends.
 * The start creates the thread with no failure here (a failed start is
 * the retry's business, E9.5, not this protocol's).
 *
 * Scenario: one worker (W0) is live and the monitor runs, disarmed; W0
 * may be reaped, the monitor may try to leave (twice), and a spawn adds
 * W1, all at once.
 *
 * Properties (pan -DSAFETY):
 *   watched      once every step is done, a live worker has a monitor:
 *                live > 0 implies e->monitor set and its thread running.
 *   one monitor  never two monitor threads acting as the pool's (one
 *                that cleared e->monitor only frees its own state on its
 *                way out, maybe while the next one starts), and e->monitor
 *                is set exactly while one does (outside the mutex).
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_LEAVE_WITH_LIVE  the monitor leaves without looking at live
 *                             (the old rule): W0 stays, the monitor goes
 *   -DMUTANT_COUNT_AFTER      the spawn counts its worker after the
 *                             worker's look at e->monitor: the monitor
 *                             sees live 0 and leaves between the two
 *
 * Second scenario, -DARM_RACE: the monitor's `armed` flag and the bias on
 * the fast path's limit word against a worker's start of the monitor
 * (weft__engine_arm_monitor, weft__engine_ensure_monitor, monitor_main's
 * first look). No monitor runs; the next start fails (no thread). An arm
 * (CAS armed 0 -> 1, bias off; under the mutex start if none runs; on a
 * failure, bias back and armed 0, under the mutex) races a worker's
 * ensure (under the mutex, start one, disarmed, if none runs). A monitor
 * that starts reads `armed` and the futex word under the mutex; armed, it
 * ticks and disarms (armed 0, bias back); disarmed, it sleeps until an
 * arm bumps the word, then ticks and disarms.
 *   bias         once every step is done: armed + bias == 1 (one bias
 *                exactly while disarmed, none while armed).
 *   -DMUTANT_RESET_AFTER_UNLOCK  the failed arm puts the bias back and
 *                clears armed after its unlock (the code before the fix):
 *                a monitor started in between reads armed 1 and later
 *                disarms into a second bias.
 */
#ifdef ARM_RACE
bool mu;
bool armed;
byte bias = 1;     /* WEFT__UNARMED_BIAS added to limit_value, counted */
bool monitor;      /* e->monitor != NULL */
bool fail_next = 1;/* the next monitor start fails */
byte word;         /* monitor_word */
byte steps;        /* the arm's, the ensure's */
byte mon_left;     /* monitors that have disarmed (or sleep for good) */
byte mons;         /* monitors started */

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

/* Under the mutex: the start (weft__engine_monitor_start). ok: it runs. */
inline start(ok) {
  if
  :: fail_next -> fail_next = 0; ok = 0
  :: else -> ok = 1; monitor = 1; mons++; run Mon()
  fi
}

proctype Mon() {
  byte seen;
  bool a0;
  lock(); seen = word; a0 = armed; unlock();
  if
  :: a0 -> skip
  :: else ->
     if
     :: word != seen -> skip      /* an arm woke it */
     :: steps == 2 && word == seen -> mon_left++; goto out /* asleep for good */
     fi
  fi;
  /* Armed: its ticks, then the disarm (armed 0, the bias back). */
  armed = 0;
  bias++;
  mon_left++;
out:
  skip
}

proctype Arm() {
  bool ok;
  if
  :: atomic { !armed -> armed = 1 } ->
     bias--;
     lock();
     if
     :: monitor -> ok = 1
     :: else -> start(ok)
     fi;
     if
     :: ok -> word++
     :: else ->
#ifndef MUTANT_RESET_AFTER_UNLOCK
        bias++; armed = 0
#endif
     fi;
     unlock();
#ifdef MUTANT_RESET_AFTER_UNLOCK
     if
     :: !ok -> bias++; armed = 0
     :: else -> skip
     fi;
#endif
  :: else -> skip /* armed already: nothing to do */
  fi;
  steps++
}

proctype Ensure() {
  bool ok;
  if
  :: !monitor ->
     lock();
     if
     :: !monitor -> start(ok)
     :: else -> skip
     fi;
     unlock()
  :: else -> skip
  fi;
  steps++
}

init {
  run Arm();
  run Ensure();
  (steps == 2 && mon_left == mons && _nr_pr == 1);
  assert(mons <= 1);
  assert(armed + bias == 1);
}
#else

bool mu;           /* the engine mutex */
byte live = 1;     /* W0 */
bool monitor = 1;  /* e->monitor != NULL */
byte acting = 1;   /* monitor threads that have not cleared e->monitor */
bool armed;        /* monitor_armed (no arm in this scenario but the start) */
byte done;         /* steps finished: W0's, the spawn's, the monitor's */

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

proctype Monitor(byte tries) {
  bool leave;
  do
  :: tries == 0 -> break
  :: tries > 0 ->
     tries--;
     lock();
#ifdef MUTANT_LEAVE_WITH_LIVE
     leave = monitor && !armed;
#else
     leave = monitor && !armed && live == 0;
#endif
     if
     :: leave -> monitor = 0; acting--
     :: else -> skip
     fi;
     unlock();
     /* A thread that left ends after the mutex (its grants back, detach,
      * free: its own state only), maybe while a new one starts. */
     if
     :: leave -> break
     :: else -> skip
     fi
  od;
  done++
}

/* weft__engine_ensure_monitor (the start, under the mutex). */
inline ensure() {
  if
  :: monitor -> skip
  :: else ->
     lock();
     if
     :: !monitor ->
        acting++;
        assert(acting == 1);
        monitor = 1;
        run Monitor(1)
     :: else -> skip
     fi;
     unlock()
  fi
}

proctype W0() {
  /* The keep-alive reap: a CAS of live, no mutex (min 0). */
  if
  :: atomic { live > 0 -> live-- }
  :: skip /* not reaped: stays */
  fi;
  done++
}

proctype Spawn() {
#ifdef MUTANT_COUNT_AFTER
  ensure();
  lock(); live++; unlock();
#else
  lock(); live++; unlock();
  ensure(); /* on the new thread, after pthread_create */
#endif
  done++
}

init {
  run Monitor(2);
  run W0();
  run Spawn();
  /* W0, the spawn, the first monitor; a monitor that the spawn started
   * counts its own step too, so wait for the processes to end. */
  (done >= 3 && _nr_pr == 1);
  assert(acting <= 1);
  assert(monitor == (acting == 1));
  assert(live == 0 || monitor);
}
#endif
