/*
 * models/resize_bounds.pml — weft_threadpool_adjust_poolsize against the
 * pool's own threads: the pool ends within its new bounds (docs/design.md
 * E4.1, E9.3; tests/test_resize_races.c). One scenario per run:
 *
 *   -DSPAWN  a strict-cap pool, W workers busy, lowers max W+1 -> W while a
 *            spawn (start_a_worker's grow(1)) checks the old limit
 *            (test_resize_races spawn_against_a_stale_max)
 *   -DREAP   min 0 -> 2 (max 2) while worker A (busy, then parked) has its
 *            keep-alive run out and a spawn is in flight
 *            (reap_against_a_stale_min)
 *   -DDEBT   W workers busy, min 1 max W: adjust(1, 1) leaves a debt of
 *            W - 1 on them, then adjust(W, W) while they go idle and pay it
 *            (debt_outlives_a_resize_that_raised_min). -DKEEPALIVE: parked
 *            workers may also reap themselves (R times).
 *   -DFLOOR  min 1, W workers (busy, then parked) whose keep-alive may run
 *            out, and one shrink to floor 1 with no resize around it (the
 *            settle after a resize under grants, weft__engine_grants_returned:
 *            nothing grows the pool back after it). The shrink's first look
 *            at the surplus, then a reap, then its pop
 *            (test_engine shrink_counts_a_reap_after_its_look).
 *
 * Processes (and the code each mirrors):
 *   resizer  weft_threadpool_adjust_poolsize (lib/pool/threadpool.c), its
 *            calls one after the other (tp->mu): tp_update_limit ->
 *            weft__engine_set_limit (lib/engine/engine.c: `soft` stored
 *            under e->mu); weft__engine_set_min (`min_live` under e->mu);
 *            weft__engine_forgive_debt(min) (under e->mu, debt = min(debt,
 *            max(live - min, 0)), the CAS one step); resize_locked: `live`
 *            read without the mutex (weft__engine_live), above = live - max
 *            (no grants: the strict cap) -> weft__engine_shrink_to(above,
 *            max) (per unit: the floor read under e->mu; pop a parked
 *            worker: under e->mu live -= 1, xchg EXIT, TIMEDOUT -> live += 1,
 *            unlink, again; nobody parked: the rest to the debt, wake_one);
 *            `live` again, below min -> grow(min - live). No tasks, so
 *            resize_for_backlog_locked's backlog growth adds nothing.
 *   grow     weft__engine_grow (engine.c): under e->mu, k = min(n, limit -
 *            live), k spawns; spawn_locked (lib/engine/spawn.c): under
 *            e->mu, live >= limit refuses, else (the slot and its
 *            allocation: a step between, where the test holds it) live += 1
 *            and the thread starts. A creation never fails here
 *            (models/reap_min.pml has that).
 *   spawner  weft_threadpool_start_a_worker -> weft__engine_grow(e, 1) (a
 *            notify's spawn checks the same under the mutex).
 *   worker   weft__engine_worker_main's idle path (lib/engine/worker_loop.c,
 *            park.c), as models/shrink_debt.pml: should_exit's
 *            pay_shrink_debt (under e->mu: debt -= 1, live -= 1; debt left:
 *            wake_one after the unlock), else spin (look again) or park
 *            (push, fence, debt > 0 -> wake_one; wait: NOTIFIED ->
 *            should_exit, EXIT -> leave). Threads at the start are busy in a
 *            task and go idle at any point; a spawned one starts searching.
 *            Keep-alive (-DREAP, -DKEEPALIVE): weft__engine_try_reap
 *            (park.c): min and live read without the mutex (live <= min:
 *            stays), then under e->mu min read again, live > min -> live -=
 *            1, linked_exit, CAS wake ASLEEP -> TIMEDOUT (lost to a wake:
 *            live += 1, runs on).
 *
 * Properties (pan -DSAFETY):
 *   bounds      once every call returned and nothing can move (timeout):
 *               NEWMIN <= live <= NEWMAX, the last call's bounds (SPAWN: a
 *               strict cap never ends above max; REAP, DEBT: the pool never
 *               ends below min).
 *   counts      live == stay at the end; live >= stay whenever e->mu is
 *               free (models/shrink_debt.pml's).
 *   debt paid   init waits (not an end state) for "debt == 0 or no thread
 *               left": no thread stays parked while a debt is owed.
 *
 * forgive_debt takes the mutex before it looks at the debt. A look before
 * the lock (-DMUTANT_FORGIVE_LOOKS_FIRST, -DDEBT; this model found it in
 * the first version of forgive_debt) sees a payer between its debt CAS and
 * its `live -= 1` (both under e->mu) neither owing nor gone; the resize
 * reads the debt 0 and `live` W, starts nothing, and the payer's decrement
 * leaves W - 1.
 *
 * shrink_to looks at the surplus again under the mutex where it uncounts a
 * popped worker, and if there is none left (a reap since its first look)
 * wakes it as a notify's pop would and stops; where it adds a debt, it
 * adds no more than the surplus it sees then, under the mutex. Trusting
 * the first look (-DFLOOR with -DMUTANT_SHRINK_STALE_FLOOR at the pop,
 * -DMUTANT_DEBT_STALE_FLOOR at the debt; this model found the second)
 * lets the shrink and a reap take the same surplus: 0 threads, min 1 (a
 * resize grows back to min after its shrink; the settle after grants
 * does not).
 *
 * try_reap reserves its exit while `live - shrink_debt > min` (under the
 * mutex): `live` still counts the busy workers that will pay the debt.
 * Reserving against `live > min` alone (-DMUTANT_REAP_IGNORES_DEBT, with
 * -DDEBT -DKEEPALIVE -DLOWMIN: a debt still owed after the last call, whose
 * min is below `live`) lets a reap and the payers together take the pool
 * below min (W=2: 0 threads, min 1); this model found it too.
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DSPAWN -DMUTANT_LIMIT_UNLOCKED -DMUTANT_MIN_UNLOCKED -DMUTANT_NO_FORGIVE
 *       adjust_poolsize before a1e80f4 (no e->mu section before its `live`
 *       read): a spawn checks the old limit under the mutex, the resize
 *       stores the new one and reads `live` before the spawn counts its
 *       thread: nothing above max, the pool ends at W + 1 (live<=NEWMAX).
 *       Any one of the three sections closes it (each a barrier between
 *       the limit's store and the `live` read: a spawn's section ends
 *       before it, and the read sees its thread, or begins after it, and
 *       sees the new limit), so -DMUTANT_LIMIT_UNLOCKED alone passes.
 *   -DREAP -DMUTANT_REAP_STALE_MIN
 *       try_reap reserves against the min it read before the mutex (0):
 *       the resize stored 2 and found 2 threads, the reaper leaves, 1 left
 *       (live>=NEWMIN)
 *   -DREAP -DMUTANT_MIN_UNLOCKED -DMUTANT_NO_FORGIVE
 *       set_min without e->mu (and no later section): the reaper re-reads
 *       0 under the mutex, the resize stores 2 and reads `live` before the
 *       reservation's decrement (live>=NEWMIN)
 *   -DDEBT -DMUTANT_NO_FORGIVE
 *       the debt outlives adjust(W, W): it finds W threads, starts none,
 *       and the busy workers pay the debt: 1 left (live>=NEWMIN)
 *   -DDEBT -DMUTANT_FORGIVE_LOOKS_FIRST
 *       forgive_debt's unlocked first look (above): W - 1 left (live>=NEWMIN)
 *   -DDEBT -DKEEPALIVE -DLOWMIN -DMUTANT_REAP_IGNORES_DEBT
 *       try_reap against `live > min` (above): 0 left, min 1 (live>=NEWMIN)
 *   -DFLOOR -DMUTANT_SHRINK_STALE_FLOOR, -DFLOOR -DMUTANT_DEBT_STALE_FLOOR
 *       the shrink's one look (above): 0 left, min 1 (live>=NEWMIN)
 *
 * Simplified: no tasks (no searching count, no notify, no E5.3), no close,
 * no grants (limit = max), no creation failures, spawned threads get a
 * fresh slot; a payment's load + CAS loop is one step under the mutex
 * (only a shrinker's add races it, and the only shrinker here is the
 * resizer, whose calls tp->mu serialises; likewise forgive's CAS);
 * try_reap's pacing; stop_a_worker (a shrink with no floor: it may take
 * the pool below min by design, Twisted's "one fewer").
 */
#if defined(SPAWN) + defined(REAP) + defined(DEBT) + defined(FLOOR) != 1
#error "resize_bounds.pml: one of -DSPAWN, -DREAP, -DDEBT, -DFLOOR"
#endif

#ifdef FLOOR
#ifndef W
#define W 2              /* workers busy at the start, then idle */
#endif
#define OLDMIN 1
#define OLDMAX W
#define NEWMIN 1         /* the floor: min, and the limit with the grants */
#define NEWMAX 1
#define SLOTS W
#define KEEPALIVE
#endif

#ifdef SPAWN
#ifndef W
#define W 1              /* workers busy at the start */
#endif
#define OLDMIN 0
#define OLDMAX (W + 1)
#define NEWMIN 0
#define NEWMAX W
#define SLOTS (W + 1)
#define SPAWNER
#endif

#ifdef REAP
#ifndef W
#define W 1              /* worker A: busy, then parks */
#endif
#define OLDMIN 0
#define OLDMAX 2
#define NEWMIN 2
#define NEWMAX 2
#define SLOTS (W + 3)    /* + the spawner's, + up to 2 for min */
#define SPAWNER
#define KEEPALIVE
#endif

#ifdef DEBT
#ifndef W
#define W 2              /* workers busy at the start */
#endif
#define OLDMIN 1
#define OLDMAX W
#define MIDMIN 1         /* adjust(1, 1): owes W - 1 */
#define MIDMAX 1
#ifdef LOWMIN
#define NEWMIN 1         /* adjust(1, W): by hand, see "Not checked" */
#else
#define NEWMIN W         /* adjust(W, W) */
#endif
#define NEWMAX W
#ifdef KEEPALIVE
#define SLOTS (2 * W)    /* a reap and the debt may leave none: W for min */
#else
#define SLOTS (2 * W - 1)
#endif
#endif

#ifndef R
#define R 1              /* keep-alive reaps in a run (-DREAP, -DKEEPALIVE) */
#endif

#define ASLEEP 0
#define NOTIFIED 1
#define EXIT 2
#define TIMEDOUT 3

byte live;               /* e->live */
byte stay;               /* model: threads not committed to leaving */
byte debt;               /* e->shrink_debt */
byte soft;               /* e->soft: the limit (tp_update_limit: max) */
byte min_live;           /* e->min_live */
byte top;                /* ctl's idle-stack top (slot + 1) */
byte next_idle[SLOTS];
byte wake[SLOTS];
bool linked[SLOTS];      /* linked_exit: reaped, still in the stack */
byte nslots;             /* slots used (fresh per spawn) */
bool mu;                 /* e->mu */
bool resized;            /* every adjust_poolsize call returned */
bool spawned;            /* the spawner's grow returned */
byte reaps;              /* keep-alives run out so far (bounds the search) */

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

/* weft__engine_wake_one (park.c): pop the top (load + CAS), xchg NOTIFIED
 * (wake_popped); a reaped entry (TIMEDOUT): unlink, pop the next. */
inline wake_one() {
  do
  :: atomic { top == 0 } -> break
  :: atomic { top > 0 -> s_top = top; top = next_idle[s_top - 1] };     /* CAS pop */
     atomic { prev = wake[s_top - 1]; wake[s_top - 1] = NOTIFIED };     /* xchg acq_rel */
     if
     :: prev != TIMEDOUT -> break                                       /* futex_wake */
     :: else -> linked[s_top - 1] = 0                                   /* store_release */
     fi
  od;
  s_top = 0; prev = 0
}

proctype worker(byte me) {
  byte d, s_top, prev, m, l;
  bool ok;
check:
  /* should_exit -> pay_shrink_debt (worker_loop.c), under e->mu */
  lock();
  if
  :: atomic { debt > 0 -> debt--; d = debt; stay-- };       /* load + CAS d -> d-1 */
     live--;                                                /* fetch_sub relaxed */
     unlock();
     if                                                     /* debt left: wake the next */
     :: d > 0 -> wake_one()
     :: else -> skip
     fi;
     goto leave
  :: else -> unlock()
  fi;
  /* the spin (look again) or E5.2 park */
  if
  :: goto check
  :: skip
  fi;
  wake[me] = ASLEEP;                                        /* store relaxed */
  atomic { next_idle[me] = top; top = me + 1 };             /* CAS push */
  /* fence(seq_cst); closed: not modelled */
  if
  :: debt > 0 -> wake_one()                                 /* someone idle must pay it */
  :: else -> skip                                           /* work_visible: no tasks */
  fi;
end_wait:
  if
  :: wake[me] == NOTIFIED -> goto check                     /* a searcher again */
  :: wake[me] == EXIT -> goto leave                         /* the shrinker uncounted us */
#ifdef KEEPALIVE
  :: atomic { wake[me] == ASLEEP && reaps < R -> reaps++ }; /* keep-alive ran out */
     /* weft__engine_try_reap (park.c) */
     m = min_live;                                          /* load relaxed */
     l = live;                                              /* load relaxed */
     if
     :: l <= m -> m = 0; l = 0; goto end_wait               /* at min: stays parked */
     :: else -> l = 0
     fi;
     lock();
#ifndef MUTANT_REAP_STALE_MIN
     m = min_live;                                          /* min again, under the mutex */
#endif
     if
#ifndef MUTANT_REAP_IGNORES_DEBT
     :: live - debt > m ->                                  /* CAS live -> live - 1 */
#else
     :: live > m ->
#endif
        live--;
        linked[me] = 1;
        atomic {                                            /* CAS ASLEEP -> TIMEDOUT */
          if
          :: wake[me] == ASLEEP -> wake[me] = TIMEDOUT; stay--; ok = 1
          :: else -> ok = 0
          fi
        };
        m = 0;
        if
        :: ok -> unlock(); goto gone                        /* leaves, still linked */
        :: else -> linked[me] = 0; live++; unlock(); goto end_wait   /* a wake won */
        fi
     :: else -> m = 0; unlock(); goto end_wait              /* at min: stays */
     fi
#endif
  fi;
leave:
  skip;                      /* stop_searching (E5.3): no tasks, nothing to hand on */
gone:
  skip
}

/* weft__engine_spawn_locked (spawn.c), under e->mu: the limit check, then
 * (the slot scan, its allocation: another step) the count and the thread. */
inline spawn_locked() {
  if
  :: live >= soft -> skip                                   /* refused: at the limit */
  :: else ->
     atomic {
       live++; stay++;
       assert(nslots < SLOTS);
       run worker(nslots);
       nslots++
     }
  fi
}

/* weft__engine_grow (engine.c): under e->mu, k = min(n, limit - live). */
inline grow(n) {
  lock();
  atomic {
    room = soft - live;
    k = (n < room -> n : room)
  };
  do
  :: k > 0 -> spawn_locked(); k--
  :: else -> break
  od;
  room = 0;
  unlock()
}

/* weft__engine_shrink_to (engine.c) with its floor: per unit, the floor read
 * under the mutex; pop a parked worker (the floor again, uncount, xchg
 * EXIT, under the mutex; nothing over the floor now: wake it as a notify's
 * pop, stop); nobody parked: the rest is debt, as much as is over the
 * floor under the mutex, fence, wake_one. */
inline shrink_to(count, floor) {
  n = count;
  i = 0;
  do
  :: i >= n -> break
  :: i < n ->
     lock();
     over = live - debt - floor;                            /* loads relaxed */
     unlock();
     if
     :: over <= 0 -> break
     :: else -> skip
     fi;
     if
     :: n - i > over -> n = i + over
     :: else -> skip
     fi;
     popped = 0;
     do
     :: atomic { top == 0 } -> break                        /* load acquire */
     :: atomic { top > 0 -> s_top = top; top = next_idle[s_top - 1] };  /* CAS pop */
        lock();
#ifndef MUTANT_SHRINK_STALE_FLOOR
        if
        :: live - debt - floor <= 0 ->                      /* over_floor_locked again */
           unlock();
           atomic { prev = wake[s_top - 1]; wake[s_top - 1] = NOTIFIED };  /* wake_popped */
           if
           :: prev == TIMEDOUT -> linked[s_top - 1] = 0     /* reaped: unlinked */
           :: else -> skip                                  /* futex_wake: a searcher */
           fi;
           stale = 1;
           break
        :: else -> skip
        fi;
#endif
        live--;
        atomic {                                            /* xchg acq_rel */
          prev = wake[s_top - 1]; wake[s_top - 1] = EXIT;
          if
          :: prev != TIMEDOUT -> stay--
          :: else -> skip
          fi
        };
        if
        :: prev == TIMEDOUT -> live++; unlock(); linked[s_top - 1] = 0   /* reaped: again */
        :: else -> unlock(); popped = 1; break              /* futex_wake */
        fi
     od;
     s_top = 0; prev = 0;
     if
     :: stale -> break
     :: popped -> i++
     :: else ->                                             /* nobody parked: the rest is debt */
#ifndef MUTANT_DEBT_STALE_FLOOR
        lock();
        over = live - debt - floor;                         /* the floor again, with the add */
        if
        :: n - i > over -> n = i + over
        :: else -> skip
        fi;
#endif
        if
        :: n > i ->
           atomic { debt = debt + n - i };                  /* CAS seq_cst loop */
#ifndef MUTANT_DEBT_STALE_FLOOR
           unlock();
#endif
           /* fence(seq_cst) */
           wake_one()
        :: else ->
#ifndef MUTANT_DEBT_STALE_FLOOR
           unlock();
#endif
           skip
        fi;
        break
     fi
  od;
  n = 0; i = 0; over = 0; popped = 0; stale = 0
}

/* weft__engine_forgive_debt's section under e->mu: load the debt, CAS it
 * to what `live` above floor can pay (debt - cut, cut = debt - spare). */
inline forgive(floor) {
  atomic {
    over = live - floor;                                    /* spare */
    if
    :: over < 0 -> over = 0
    :: else -> skip
    fi;
    if
    :: debt > over -> debt = over
    :: else -> skip
    fi;
    over = 0
  }
}

/* weft_threadpool_adjust_poolsize on a started pool (threadpool.c), under
 * tp->mu: the calls are one after the other. */
inline adjust(newmin, newmax) {
  /* tp->min, tp->max: stored under tp->mu (here: newmin, newmax) */
  /* tp_update_limit -> weft__engine_set_limit */
#ifndef MUTANT_LIMIT_UNLOCKED
  lock();
#endif
  soft = newmax;
#ifndef MUTANT_LIMIT_UNLOCKED
  unlock();
#endif
  /* weft__engine_set_min */
#ifndef MUTANT_MIN_UNLOCKED
  lock();
#endif
  min_live = newmin;
#ifndef MUTANT_MIN_UNLOCKED
  unlock();
#endif
  /* weft__engine_forgive_debt(min) */
#ifndef MUTANT_NO_FORGIVE
#ifdef MUTANT_FORGIVE_LOOKS_FIRST
  if                                                        /* the code at a1e80f4: */
  :: debt > 0 -> lock(); forgive(newmin); unlock()          /* a look without the mutex */
  :: else -> skip                                           /* first (load relaxed) */
  fi;
#else
  lock(); forgive(newmin); unlock();
#endif
#endif
  /* resize_locked: shrink above max, grow below min */
  l = live;                                                 /* weft__engine_live */
  if
  :: l > newmax -> shrink_to(l - newmax, newmax)
  :: else -> skip
  fi;
  l = live;
  if
  :: l < newmin -> grow(newmin - l)
  :: else -> skip
  fi;
  l = 0
}

proctype resizer() {
  byte n, i, s_top, prev, l, k;
  short over, room;
  bool popped, stale;
#ifdef FLOOR
  shrink_to(W - 1, 1);     /* grants_returned: shrink_to(-1, FLOOR_AT_LIMIT) */
#else
#ifdef DEBT
  adjust(MIDMIN, MIDMAX);
#endif
  adjust(NEWMIN, NEWMAX);
#endif
  resized = 1
}

#ifdef SPAWNER
/* weft_threadpool_start_a_worker -> weft__engine_grow(e, 1) */
proctype spawner() {
  byte k;
  short room;
  grow(1);
  spawned = 1
}
#endif

/* live never undercounts: whenever the mutex is free, every thread that
 * is not leaving is counted. */
proctype counts() {
end:
  atomic { !mu && live < stay -> assert(live >= stay) }
}

init {
  byte i;
  atomic {
    live = W; stay = W; nslots = W;
    soft = OLDMAX; min_live = OLDMIN;
    for (i : 0 .. W - 1) { run worker(i) }
    run counts();
    run resizer();
#ifdef SPAWNER
    run spawner();
#endif
  };
  resized;
#ifdef SPAWNER
  spawned;
#endif
  /* Not an end state: a worker parked (asleep) while a debt is owed. */
  debt == 0 || stay == 0;
  timeout;                                                  /* quiescent */
  assert(live == stay);
  assert(live >= NEWMIN);
  assert(live <= NEWMAX)
}
