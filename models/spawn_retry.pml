/*
 * models/spawn_retry.pml — a thread creation that fails, its back-off and
 * the monitor's retry (docs/design.md E9.5, E9.2; lib/engine/spawn.c
 * weft__engine_spawn_backing_off, creation_failed and spawn_locked 52-167;
 * lib/engine/park.c may_spawn 44-60 and notify_slow's failure path 160-185;
 * lib/engine/monitor.c retry_creation 489-494 and monitor_main's armed loop
 * and disarm 585-678; lib/engine/engine.c grow 93-130). reap.pml abstracts
 * the monitor as "notify while work waits and nobody is awake or parked";
 * here it is the C code's: armed by a saturated or backing-off may_spawn
 * and by every failed creation, it retries once the back-off has passed
 * while work waits (retry_creation: retry_at_ns set and passed, a backlog,
 * live below the limit, then grow(1)), kicks a parked worker for stranded
 * work, and disarms after its quiet ticks unless a retry is pending and
 * work waits; the disarm clears `armed`, puts the bias back, re-checks
 * saturation (re-arms) or kicks, and sleeps until an arm bumps the word.
 *
 * A creation fails three ways, each stamping retry_at_ns (creation_failed)
 * under the engine mutex: no free slot (every slot held by a thread on its
 * way out, or by a reaped entry still linked in the idle stack, reap.pml),
 * no memory for a slot never used, or the factory (after `live` counted
 * it: a reader may see the count, then it is taken back). A success
 * clears the stamp. The parking protocol is reap.pml's (E5 with E9.3's
 * keep-alive reap: try_reap under the mutex, CAS ASLEEP -> TIMEDOUT, the
 * popper's exchange reads TIMEDOUT, unlinks and looks again), over an
 * atomic FIFO; the tag is ctl.pml's `valid`. Time is a flag: a stamp is
 * fresh (backing off) until the clock process sets `due`, at any moment.
 *
 * Scene: W slots (the capacity and the limit: soft = W, no grants, no
 * worker blocks), W0 live and running, the others never used; one
 * submitter publishes T tasks and notifies after each; W0 or a later
 * thread may reap itself (R reaps); K creations may fail by choice (then
 * they succeed); a failure for want of a slot is the slots' state, not
 * counted in K. The monitor runs (its own start never fails:
 * monitor_life.pml) and starts asleep, disarmed.
 *
 * Properties (pan -DSAFETY):
 *   exactly once  a task never runs twice (assertion).
 *   no stranding  init waits (not an end state) until every task ran: a
 *                 task left queued with nobody to run it and no retry to
 *                 come is an invalid end state.
 *   disarms       the monitor's armed wait is not an end state: once no
 *                 work waits it disarms and sleeps (E9.5: "the pending
 *                 retry no longer keeps the monitor armed"), else pan
 *                 reports an invalid end state with the monitor armed.
 *
 * Abstractions: one Promela step per atomic access, except that (1) an
 * armed tick's loads (retry_creation's, saturated()'s, kick_stranded()'s
 * and the disarm rule's) are one step, and a tick that would do nothing is
 * not taken (the monitor waits until one would act; C ticks every 1-8 ms
 * and a torn read there only adds or skips an attempt that the next tick
 * makes); (2) the disarm's own re-check keeps its steps (ctl, then the
 * work; the Dekker with arm's CAS); (3) backing_off reads retry_at_ns and
 * the clock in one step; (4) the 3 quiet ticks are one; (5) a lock step is
 * merged with the first access under it and the unlock with the last
 * (nothing reads the state in between without the mutex), and the slot
 * scan is one step (under the mutex a slot only turns free); (6) a task
 * runs at its take (before E5.3's stop_searching: nothing reads `done`
 * but init); (7) saturated() is "work waits and top == 0": with live never
 * above the limit a linked entry always means awake < limit; (8) no long
 * tasks (no eager wake), no E5.5 decline (live <= limit), no close, no
 * /proc: the monitor's stall growth (tick) never fires (nobody blocked).
 *
 * Bounds (tests/test_models.cmake): -DW=1 -DK=2 (one slot: the failures
 * are for want of a slot and the factory's) and -DT=1 (two slots: a slot
 * never used may lack memory). By hand: -DQUIET -DNO_FAST (two slots, two
 * tasks, the second once the pool went quiet; NO_FAST: no notify fast
 * path and bias) 12,977,097 states, 15 s; the full -DW=2 -DT=2 does not
 * finish within 3000 MB.
 *
 * Mutants (pan must report an invalid end state; tests/test_models.cmake):
 *   -DMUTANT_NO_ARM_BACKING_OFF  may_spawn returns false while backing off
 *                     without arming (-DW=1 -DK=2): a notify whose task W0
 *                     had already taken fails its creation, the monitor
 *                     disarms (no work), W0 reaps itself, the next submit
 *                     finds the back-off and leaves its task stranded
 *   -DMUTANT_NO_FAIL_ARM  notify_slow does not arm after a failed creation
 *                     (-DT=1): W0 reaped, the submit's creation fails, the
 *                     monitor sleeps, the task stays queued
 *   -DMUTANT_NO_STAMP creation_failed stores no retry_at_ns (-DT=1): the
 *                     monitor is armed but retry_creation never retries
 *   -DMUTANT_OLD_DISARM  the monitor stays armed while any retry is pending,
 *                     work or not (-DT=1): after a failed creation whose
 *                     task W0 took, the stamp stays (only a success clears
 *                     it) and the monitor never disarms
 * -DMUTANT_DISARM_IGNORES_RETRY (disarm after the quiet ticks whatever the
 * retry) is not a mutant: the model passes with it. Not saturated while
 * work waits means an entry at top; the disarm's kick_stranded pops it: a
 * parked worker takes the work, a reaped entry is unlinked and its
 * stop_searching notifies, whose may_spawn arms again while backing off.
 * The rule is the liveness of the retry under the C code's relaxed loads,
 * which this model reads in order.
 */
#ifndef W
#define W 2          /* worker slots: the capacity, and the limit (soft, no grants) */
#endif
#define L W
#ifndef T
#define T 2          /* tasks, submitted one after the other */
#endif
#ifndef K
#define K 1          /* creations that may fail by choice (factory, no memory) */
#endif
#ifndef R
#define R 1          /* keep-alive reaps */
#endif
#define ASLEEP 0
#define NOTIFIED 1
#define TIMEDOUT 3

chan q = [T] of { byte };  /* the pool's queues: backlog = work_visible = len(q) */
byte ran[T];
byte done;

/* ctl [tag | top | searching]; the tag is ctl.pml's `valid` (unbounded). */
bool valid[8];
#define INVAL valid[0] = 0; valid[1] = 0; valid[2] = 0; valid[3] = 0; valid[4] = 0; valid[5] = 0; valid[6] = 0; valid[7] = 0
byte top;
byte searching;
byte next_idle[W];
byte wake[W];

/* Slots (spawn.c spawn_locked): a slot is free when no thread holds it
 * (state JOINED or FREE) and no reaped entry of it is linked (linked_exit). */
bool alive[W];       /* state LIVE: its thread runs, or is on its way out */
bool linked[W];      /* linked_exit */
bool used[W];        /* e->slots[i] allocated (no calloc needed) */
byte live;           /* e->live */
byte reaps;          /* keep-alive exits so far (at most R) */
byte kf;             /* creations failed by choice so far (at most K) */

/* The back-off (spawn.c creation_failed, weft__engine_spawn_backing_off). */
bool retry_at;       /* retry_at_ns != 0 */
bool due;            /* the clock has passed retry_at_ns */

/* The monitor (park.c weft__engine_arm_monitor, monitor.c monitor_main). */
bool armed;          /* monitor_armed */
bool bias = 1;       /* WEFT__UNARMED_BIAS in limit_value (on while disarmed) */
bool word;           /* monitor_word: at most one bump while the monitor sleeps */
bool mu;             /* the engine mutex */

inline lock() { atomic { !mu -> mu = 1 } }

/* spawn.c creation_failed: retry_delay_ns, then retry_at_ns = now + delay
 * (at least 10 ms: not passed yet). */
#ifdef MUTANT_NO_STAMP
#define STAMP skip
#else
#define STAMP retry_at = 1; due = 0
#endif

/* weft__engine_spawn_backing_off: retry_at_ns set, the clock short of it. */
#define backing_off (retry_at && !due)

/* weft__engine_arm_monitor: CAS armed 0 -> 1 (seq_cst), the bias off, then
 * under the mutex the start (the monitor runs) and the word's bump. */
inline arm() {
  atomic {
    if
    :: !armed -> armed = 1; ok = 1
    :: else -> ok = 0
    fi
  };
  if
  :: ok -> ok = 0; bias = 0; atomic { !mu -> word = !word }
  :: else -> skip
  fi
}

/* spawn.c spawn_locked: the mutex taken in its first step (take = 1) or
 * held already (take = 0), and released in its last. The caller counted the
 * new thread as searching. r: 0 made, 1 failed (backs off), 2 at the limit. */
inline spawn(take) {
  atomic {
    (!take || !mu) -> mu = 1;
    if
    :: live >= L -> r = 2; mu = 0                      /* at the limit (70-74) */
    :: else ->
       si = 0;                                         /* the slot scan (76-95) */
       do
       :: si < W && (alive[si] || linked[si]) -> si++
       :: else -> break
       od;
       if
       :: si == W -> STAMP; r = 1; mu = 0              /* no free slot (96-102) */
       :: si < W && !used[si] && kf < K ->             /* no memory for it (104-110) */
          kf++; STAMP; r = 1; mu = 0
       :: si < W ->                                    /* LIVE; counted before it runs (146) */
          used[si] = 1; alive[si] = 1; wake[si] = ASLEEP; live++; r = 3
       fi
    fi
  };
  if
  :: r == 3 ->
     if
     :: kf < K ->                                      /* the factory fails (155-165) */
        atomic { kf++; live--; alive[si] = 0 };        /* uncounted, JOINED */
        atomic { STAMP; r = 1; mu = 0 }
     :: true ->
        run worker(si, 1);                             /* it runs, counted as searching */
        atomic { retry_at = 0; due = 0; r = 0; mu = 0 }   /* the back-off ends (166-167) */
     fi
  :: else -> skip
  fi;
  si = 0
}

/* E5.1 notify (park.h weft__engine_notify and notify_decide, park.c
 * notify_slow and may_spawn), after the publish and the fence. */
inline notify() {
  atomic { valid[_pid] = 1; s_top = top; s_srch = searching };
#ifndef NO_FAST
  if
  :: s_top == 0 && s_srch == 0 && live >= L ->         /* the fast path: live, */
     if
     :: !bias -> fast = 1                              /* then limit_value */
     :: else -> skip
     fi
  :: else -> skip
  fi;
#endif
  do
  :: fast -> break
  :: !fast && s_srch > 0 -> break                      /* searchers_suffice (short tasks) */
  :: !fast && s_srch == 0 && s_top == 0 ->
     if                                                /* may_spawn */
     :: live >= L -> arm(); break                      /* at the limit: the monitor watches */
     :: else -> skip
     fi;
     if
     :: backing_off ->
#ifndef MUTANT_NO_ARM_BACKING_OFF
        arm();                                         /* park.c 56-58 */
#endif
        break
     :: else -> skip
     fi;
     atomic {                                          /* CAS(ctl, s, s + 1): claim */
       if
       :: valid[_pid] && top == s_top && searching == s_srch -> searching++; ok = 1
       :: else -> valid[_pid] = 1; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: !ok -> skip
     :: ok ->
        ok = 0;
        spawn(1);
        if
        :: r == 0 -> break
        :: else ->
           r = 0;
#ifndef MUTANT_NO_FAIL_ARM
           arm();                                      /* park.c 174-177 */
#endif
           atomic { searching--; valid[_pid] = 1; s_top = top; s_srch = searching };
           if
           :: s_srch > 0 || s_top == 0 -> break
           :: else -> skip
           fi
        fi
     fi
  :: !fast && s_srch == 0 && s_top > 0 ->
     atomic {                                          /* next_idle; CAS pop + count as searching */
       if
       :: valid[_pid] && top == s_top && searching == s_srch ->
          INVAL; top = next_idle[s_top - 1]; searching = s_srch + 1; ok = 1
       :: else -> valid[_pid] = 1; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: ok ->
        ok = 0;
        atomic { prev = wake[s_top - 1]; wake[s_top - 1] = NOTIFIED };   /* xchg */
        if
        :: prev != TIMEDOUT -> prev = 0; break         /* woken */
        :: else ->                                     /* reaped: unlink, undo, again */
           prev = 0;
           atomic {                                    /* unlink (linked_exit 0), fetch_sub */
             linked[s_top - 1] = 0; searching--; valid[_pid] = 1; s_top = top; s_srch = searching
           }
        fi
     :: else -> skip
     fi
  od;
  atomic { valid[_pid] = 0; s_top = 0; s_srch = 0; fast = 0 }
}

/* E5.3 weft__engine_stop_searching. */
inline stop_searching() {
  atomic { srch = 0; searching--; s_srch = searching };
  if
  :: s_srch == 0 && len(q) > 0 -> s_srch = 0; notify()
  :: else -> s_srch = 0
  fi
}

proctype worker(byte me; bool srch) {
  byte t, s_top, s_srch, prev, si, r;
  bool ok, got, fast;
loop:
  atomic {
    if
    :: len(q) > 0 ->                                   /* takes a task (run here: see above) */
       q?t; assert(ran[t] == 0); ran[t] = 1; done++; t = 0; got = 1
    :: else -> got = 0
    fi
  };
  if
  :: got ->
     got = 0;
     if
     :: srch -> stop_searching()
     :: else -> skip
     fi;
     goto loop
  :: else -> skip
  fi;
  if
  :: !srch -> atomic { searching++; srch = 1 }         /* start_searching */
  :: else -> skip
  fi;
  /* E5.2 park: wake ASLEEP, the push + stop searching (its CAS), the re-check. */
  atomic { wake[me] = ASLEEP; next_idle[me] = top; INVAL; top = me + 1; searching--; srch = 0 };
  if
  :: len(q) > 0 -> notify()
  :: else -> skip
  fi;
end_park:
  if
  :: wake[me] != ASLEEP -> srch = 1; goto loop         /* popped: counted as searching */
  :: atomic {                                          /* the keep-alive ran out: try_reap */
       reaps < R && wake[me] == ASLEEP && !mu ->       /* under the mutex, reserve (min 0) */
       reaps++; mu = 1; live--; linked[me] = 1
     };
     atomic {                                          /* CAS ASLEEP -> TIMEDOUT; unlock */
       if
       :: wake[me] == ASLEEP -> wake[me] = TIMEDOUT; mu = 0; ok = 1
       :: else -> linked[me] = 0; live++; mu = 0; ok = 0   /* a wake won: undone */
       fi
     };
     if
     :: ok -> ok = 0; atomic { !mu -> alive[me] = 0 }  /* worker_exited: JOINED, under the mutex */
     :: else -> srch = 1; goto loop
     fi
  fi
}

/* weft__engine_wake_one. */
inline wake_one() {
  atomic { valid[_pid] = 1; s_top = top; s_srch = searching };
  do
  :: s_top == 0 -> break
  :: else ->
     atomic {                                          /* next_idle; CAS pop + count as searching */
       if
       :: valid[_pid] && top == s_top && searching == s_srch ->
          INVAL; top = next_idle[s_top - 1]; searching = s_srch + 1; ok = 1
       :: else -> valid[_pid] = 1; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: ok ->
        ok = 0;
        atomic { prev = wake[s_top - 1]; wake[s_top - 1] = NOTIFIED };
        if
        :: prev != TIMEDOUT -> prev = 0; break
        :: else ->                                     /* reaped: unlink, leave the count */
           prev = 0;
           linked[s_top - 1] = 0;
           stop_searching();
           atomic { valid[_pid] = 1; s_top = top; s_srch = searching }
        fi
     :: else -> skip
     fi
  od;
  atomic { valid[_pid] = 0; s_top = 0; s_srch = 0 }
}

/* monitor.c kick_stranded (at the disarm): ctl, then the work. */
inline kick_stranded() {
  atomic { s_top = top; s_srch = searching };
  if
  :: s_top != 0 && s_srch == 0 && len(q) > 0 -> s_top = 0; s_srch = 0; wake_one()
  :: else -> s_top = 0; s_srch = 0
  fi
}

/* engine.c grow(e, 1, ...), from retry_creation: under the mutex, room
 * (limit - live) and the new thread counted as searching up front. */
inline grow1() {
  atomic {
    !mu -> mu = 1;
    if
    :: live >= L -> mu = 0; ok = 0                     /* no room */
    :: else -> searching++; ok = 1
    fi
  };
  if
  :: ok ->
     ok = 0;
     spawn(0);
     if
     :: r != 0 -> r = 0; stop_searching(); arm()       /* its claim back; arm (engine.c 125-127) */
     :: else -> skip
     fi
  :: else -> skip
  fi
}

#define RETRY 1
#define KICK 2
#define DISARM 3
#define RETRY_DUE (retry_at && due && len(q) > 0 && live < L)
#define SATURATED (top == 0 && len(q) > 0)
#define KICK_DUE (top != 0 && searching == 0 && len(q) > 0)
#if defined(MUTANT_DISARM_IGNORES_RETRY)
#define QUIET_DISARMS true
#elif defined(MUTANT_OLD_DISARM)
#define QUIET_DISARMS (!retry_at)
#else
#define QUIET_DISARMS (!retry_at || len(q) == 0)       /* monitor.c 619-625 */
#endif

proctype monitor() {
  byte s_top, s_srch, prev, si, r, act;
  bool ok, srch, fast, seen;
end_sleep:
  word != seen;                                        /* sleep_disarmed: an arm bumped it */
tick:
  /* One tick's loads in one step (see the header): retry_creation, then
   * saturated(), kick_stranded() and the quiet ticks' disarm. A tick that
   * would do nothing is not taken: the monitor waits, armed (not an end
   * state), until one would act. */
  atomic {
    if
    :: RETRY_DUE -> act = RETRY
    :: !RETRY_DUE && !SATURATED && KICK_DUE -> act = KICK
    :: !RETRY_DUE && !SATURATED && !KICK_DUE && QUIET_DISARMS -> act = DISARM
    fi
  };
  if
  :: act == RETRY -> act = 0; grow1()
  :: act == KICK -> act = 0; wake_one()
  :: act == DISARM -> act = 0; goto disarm
  fi;
  goto tick;
disarm:
  atomic { seen = word; armed = 0 };                   /* seq_cst store */
  bias = 1;                                            /* seq_cst add; fence */
  atomic { s_top = top; s_srch = searching };          /* saturated(): ctl, then the work */
  if
  :: s_top == 0 && len(q) > 0 ->
     s_top = 0; s_srch = 0;
     atomic {                                          /* CAS armed 0 -> 1 */
       if
       :: !armed -> armed = 1; ok = 1
       :: else -> ok = 0
       fi
     };
     if
     :: ok -> ok = 0; bias = 0; goto tick
     :: else -> skip                                   /* an arm came first: it bumps the word */
     fi
  :: else ->
     s_top = 0; s_srch = 0;
     kick_stranded()
  fi;
  goto end_sleep
}

proctype clock() {
end_clock:
  do
  :: atomic { retry_at && !due -> due = 1 }
  od
}

init {
  byte i, s_top, s_srch, prev, si, r;
  bool ok, srch, fast;
  atomic {
    live = 1; alive[0] = 1; used[0] = 1;               /* W0, running (not searching) */
    run worker(0, 0);
    run monitor();
    run clock()
  };
  do
  :: i < T ->
#ifdef QUIET
     (i == 0 || (done == i && !armed && monitor[2]@end_sleep && searching == 0 && !mu));   /* quiet first */
#endif
     q!i; notify(); i++                                /* publish; fence; notify */
  :: else -> break
  od;
  done == T;        /* not an end state: blocking here means a task was stranded */
  i = 0;
  do
  :: i < T -> assert(ran[i] == 1); i++
  :: else -> break
  od
}
