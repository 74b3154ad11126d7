/*
 * models/monitor_leave.pml — the elastic monitor's leave (E9.2) past its
 * mutex, against the stop that joins it, an arm and a worker's start
 * (lib/engine/monitor.c sleep_disarmed, monitor_main, give_back,
 * weft__engine_monitor_start and weft__engine_monitor_stop;
 * lib/engine/park.c weft__engine_ensure_monitor, weft__engine_arm_monitor
 * and monitor_start_locked; lib/engine/spawn.c weft__engine_spawn_locked;
 * weft__engine_try_reap; weft__engine_close; models/monitor_life.pml
 * stops at the leave's mutex).
 *
 * One Promela step per atomic access or engine-mutex section of the C
 * code (a section is one `atomic`: the mutex orders them; what others
 * write outside the mutex, `armed`, the word, e->monitor's relaxed reads,
 * interleaves between sections). e->monitor is `monitor` (0: NULL, else
 * the monitor's number).
 *   leave (sleep_disarmed): the loop's test (the word, then m->stop: one
 *       step here, a stop stores m->stop before its bump); then the wait
 *       either times out (a look, at most `looks` of them) or ends when
 *       the word changes (futex_wait on the word: every bump comes before
 *       its wake). A look, one section: leave iff e->monitor == m, not
 *       armed, the word unchanged and live == 0, and then e->monitor =
 *       NULL. After the unlock: give_back(m, m->granted), pthread_detach
 *       (self), monitor_free(m): the thread's own state only.
 *   monitor_main: a started monitor reads the word and `armed` in one
 *       section; disarmed, it sleeps (the leave above); woken, or armed, it
 *       ticks (it may grant: add_grants writes e) until the stop or three
 *       quiet ticks; the disarm gives the grants back, reads the word and
 *       stores armed 0, then sleeps again (once; the saturated re-check
 *       that re-arms is left out). Stopped: give_back, return (joinable).
 *   stop (weft__engine_close's section sets `closed`, then
 *       weft__engine_monitor_stop): one section reads e->monitor and clears
 *       it; if it had one: m->stop = 1, word++ (+ wake), join, free. Then
 *       the engine's stop joins the workers, its callers' calls (the arm's
 *       submit, the spawn's) have returned, and the engine is freed
 *       (`engine_freed`). Or no stop at all in this run.
 *   ensure (weft__engine_ensure_monitor, first thing on a new worker):
 *       `closed` (relaxed), e->monitor (relaxed), then one section:
 *       monitor_start_locked: e->monitor set -> OK; closed -> EQUIT; else
 *       start a thread (never fails here) and publish it.
 *   arm (weft__engine_arm_monitor): CAS armed 0 -> 1 (the bias is
 *       monitor_life.pml -DARM_RACE's business), then one section:
 *       monitor_start_locked, and the word bumped, or armed 0 on EQUIT.
 *   spawn (spawn_locked's section): if open, live++ and the thread made
 *       (the new worker is `pending` until its ensure is done); reap
 *       (try_reap's section, min 0): live--; after close a worker leaves
 *       (should_exit: live--, no mutex).
 *
 * Scenario: W0 live, monitor 1 published, disarmed and asleep with
 * nothing granted; at once: W0 may be reaped, a spawn adds W1 (which may
 * be reaped after its ensure), an arm, the monitors' looks (LOOKS for
 * monitor 1, NLOOKS for one started later) and one disarm each, and a
 * stop or none. Up to 3 monitors are made (1 leaves, W1 starts 2, 2
 * leaves, the arm starts 3).
 *
 * Properties (pan -DSAFETY), checked in every state (proctype Inv), at
 * the end (init, on timeout), or at the access:
 *   one monitor   never two acting as the pool's; e->monitor set exactly
 *                 while one does (acting == (monitor != 0)).
 *   watched       while the pool is open and has a thread (live > 0), a
 *                 monitor is published or a counted worker has still to
 *                 run its ensure (which will start one): never a live
 *                 worker with no monitor and nobody to start one.
 *   join/free     the stop never sets `stop` in, joins or frees a monitor
 *                 that detached or freed itself (!freed, !detached).
 *   engine        every access to e (by a monitor, worker, arm or spawn)
 *                 asserts !engine_freed: the engine goes only after the
 *                 stop, its joins and its callers' calls, and nobody joins
 *                 a monitor that left, so its give_back with nothing
 *                 granted must return before it touches e.
 *   at the end    stopped: the stop returned, and every monitor made has
 *                 exited and been freed; not stopped: a live pool has a
 *                 monitor, an armed pool has one (an arm after a leave
 *                 started a new one: its section asserts ok unless
 *                 closed), and the published monitor's thread runs.
 *   no deadlock   (invalid end states): the stop's join always returns.
 *
 * Mutants (pan must report an assertion violation; the first it finds):
 *   -DMUTANT_CLEAR_UNLOCKED      the leave clears e->monitor after its
 *                                unlock: in between a spawn counts W1, W1
 *                                sees the leaving monitor and starts none
 *                                (watched; or the stop takes it and joins
 *                                a detached thread)
 *   -DMUTANT_STOP_UNLOCKED       the stop reads and clears e->monitor
 *                                without the mutex: it reads the monitor,
 *                                which then leaves (still published in its
 *                                section), and the stop joins a detached
 *                                thread (or sets `stop` in freed memory)
 *   -DMUTANT_LIVE_BEFORE_MUTEX   the leave uses the live count read at the
 *                                loop's top, before the mutex: a spawn
 *                                counts W1 meanwhile, W1 sees the monitor,
 *                                the monitor leaves: W1 has none (watched)
 *   -DMUTANT_GIVE_BACK_TOUCHES   give_back calls add_grants(e, -n) before
 *                                it looks at n: the leaving monitor writes
 *                                to an engine that the stop freed
 */
#ifndef LOOKS
#define LOOKS 2  /* monitor 1's looks, a keep-alive apart */
#endif
#ifndef NLOOKS
#define NLOOKS 2 /* a monitor started later */
#endif
#define NM 4     /* ids 1..3 */

#define E assert(!engine_freed)   /* an access to e */

byte monitor = 1;    /* e->monitor: monitor 1 */
byte acting = 1;     /* monitors that are the pool's (not cleared) */
byte nmon = 1;       /* monitors made */
byte live = 1;       /* W0 */
byte pending;        /* workers counted in live, their ensure not done */
byte nw = 1;         /* worker threads made */
byte wdone;          /* worker threads gone */
byte users;          /* the arm's and the spawn's calls returned */
bool armed;          /* monitor_armed */
byte word;           /* monitor_word */
bool closed;
bool stopped;        /* the stopper's engine stop returned */
bool engine_freed;
bool stop[NM];       /* m->stop */
bool left[NM];       /* cleared e->monitor to leave (ghost) */
bool detached[NM];
bool freed[NM];      /* monitor_free(m) */
bool exited[NM];     /* its thread has ended */

#define INV (acting <= 1 && acting == (monitor != 0) && \
             (closed || live == 0 || monitor != 0 || pending > 0))

proctype Inv() {
end: atomic { !(INV) -> assert(INV) }
}

/* give_back(m, m->granted) */
inline give_back() {
#ifdef MUTANT_GIVE_BACK_TOUCHES
  E;
#endif
  if
  :: granted > 0 -> atomic { E; granted = 0 } /* weft__engine_add_grants(e, -n) */
  :: else -> skip                             /* n <= 0: returns first */
  fi
}

proctype Mon(byte me; bool fresh; byte looks) {
  byte seen;
  bool a0, leave;
  byte granted;
  byte disarms = 1;
#ifdef MUTANT_LIVE_BEFORE_MUTEX
  byte lv;
#endif
  if
  :: fresh ->
     /* monitor_main: the word and `armed`, one mutex section. */
     atomic { E; seen = word; a0 = armed };
     if
     :: a0 -> goto tick
     :: else -> skip
     fi
  :: else -> skip /* monitor 1: asleep, disarmed, seen = 0 */
  fi;
sleep:
  /* sleep_disarmed(m, seen) */
  do
  :: atomic { (word != seen || stop[me]) -> E } -> break /* returns false */
  :: atomic { (word == seen && !stop[me]) -> E;
#ifdef MUTANT_LIVE_BEFORE_MUTEX
       lv = live /* the loop's relaxed look at live */
#endif
     } ->
     if
     :: atomic { looks > 0 -> looks--; E; /* the keep-alive passed: the section */
#ifdef MUTANT_LIVE_BEFORE_MUTEX
        leave = monitor == me && !armed && word == seen && lv == 0;
#else
        leave = monitor == me && !armed && word == seen && live == 0;
#endif
#ifndef MUTANT_CLEAR_UNLOCKED
        if
        :: leave -> monitor = 0; acting--; left[me] = 1
        :: else -> skip
        fi
#endif
        } ->
#ifdef MUTANT_CLEAR_UNLOCKED
        if
        :: leave -> atomic { E; if :: monitor != 0 -> acting-- :: else -> skip fi;
                             monitor = 0; left[me] = 1 }
        :: else -> skip
        fi;
#endif
        if
        :: leave ->
           give_back();
           /* pthread_detach(pthread_self()), monitor_free(m) */
           atomic { detached[me] = 1; freed[me] = 1 };
           goto out
        :: else -> skip
        fi
     :: looks == 0 ->
        /* futex_wait(&e->monitor_word, seen): until a bump */
end_wait: atomic { word != seen -> E }
     fi
  od;
  /* Back in monitor_main: stopped -> give_back, return. */
  if
  :: stop[me] -> give_back(); goto out
  :: else -> skip
  fi;
tick:
  /* Armed (arm_reset, ticks): it may grant (raise_and_wake), then the
   * stop or three quiet ticks. */
  if
  :: atomic { granted == 0 -> E; granted = 1 }
  :: skip
  fi;
end_tick:
  if
  :: stop[me] -> give_back(); goto out
  :: disarms > 0 -> disarms--;
     give_back();
     atomic { E; seen = word };
     atomic { E; armed = 0 };
     goto sleep
  fi;
out:
  exited[me] = 1
}

/* monitor_start_locked, inside a mutex section. */
inline start_locked(ok) {
  if
  :: monitor != 0 -> ok = 1
  :: monitor == 0 && closed -> ok = 0          /* WEFT_EQUIT */
  :: monitor == 0 && !closed ->
     nmon++; monitor = nmon; acting++; ok = 1;
     run Mon(nmon, 1, NLOOKS)
  fi
}

/* After its ensure: try_reap's section (min 0), or the stop's exit. */
inline worker_rest() {
  if
  :: atomic { E; live-- }
  :: end_w: atomic { closed -> E; live-- }
  fi;
  wdone++
}

proctype W0() {
  worker_rest()
}

proctype W1() {
  bool ok;
  /* weft__engine_ensure_monitor (`pending` ends with it) */
  if
  :: atomic { closed -> E; pending-- }
  :: atomic { !closed -> E } ->
     if
     :: atomic { monitor != 0 -> E; pending-- }
     :: atomic { monitor == 0 -> E } ->
        atomic { E; start_locked(ok); pending-- }
     fi
  fi;
  worker_rest()
}

/* spawn_locked's section: counted, then the thread made; the call returns. */
proctype Spawn() {
  atomic {
    E;
    if
    :: !closed -> live++; pending++; nw++; run W1()
    :: else -> skip
    fi;
    users++
  }
}

proctype Arm() {
  bool ok;
  if
  :: atomic { !armed -> E; armed = 1 } ->
     atomic {
       E;
       start_locked(ok);
       if
       :: ok -> word++ /* + futex_wake */
       :: else -> armed = 0
       fi;
       assert(ok || closed);
       users++
     }
  :: atomic { armed -> E; users++ }
  fi
}

proctype Stopper() {
  byte m;
  if
  :: skip /* no stop in this run */
  :: atomic { E; closed = 1 }; /* weft__engine_close's section */
     /* weft__engine_monitor_stop */
#ifdef MUTANT_STOP_UNLOCKED
     m = monitor;
     atomic { if :: monitor != 0 -> monitor = 0; acting-- :: else -> skip fi };
#else
     atomic { m = monitor; if :: m != 0 -> monitor = 0; acting-- :: else -> skip fi };
#endif
     if
     :: m != 0 ->
        atomic { assert(!freed[m]); stop[m] = 1 };
        word++; /* + futex_wake */
        atomic { exited[m] -> assert(!detached[m]) }; /* pthread_join */
        atomic { assert(!freed[m]); freed[m] = 1 }    /* monitor_free */
     :: else -> skip
     fi;
     /* The workers joined, the callers' calls returned: the engine goes. */
     atomic { (wdone == nw && users == 2) -> engine_freed = 1; stopped = 1 }
  fi
}

init {
  byte i;
  atomic {
    run Inv();
    run Mon(1, 0, LOOKS);
    run W0();
    run Spawn();
    run Arm();
    run Stopper()
  };
  timeout;
  if
  :: closed ->
     assert(stopped);
     i = 1;
     do
     :: i <= nmon -> assert(exited[i] && freed[i]); i++
     :: else -> break
     od
  :: else ->
     assert(live == 0 || monitor != 0);
     assert(!armed || monitor != 0);
     assert(monitor == 0 || (!exited[monitor] && !left[monitor]))
  fi
}
