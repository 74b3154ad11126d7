/*
 * models/shrink_debt.pml — the shrink debt (docs/design.md E4, E4.1, E5.2,
 * E9.3; Team._toShrink): what a shrink cannot take from the idle stack it
 * owes, and the next idle workers pay. models/shrink.pml covers a shrink
 * that pops a parked worker (uncount, xchg EXIT) against a notify that
 * needs a thread; this model covers the debt, which it leaves out.
 *
 *   shrinker  weft__engine_shrink_to (lib/engine/engine.c 152-237): per
 *             unit, with -DFLOOR the floor read under e->mu (167: live,
 *             then the debt); load ctl; top != 0: CAS pop, under e->mu
 *             live -= 1, xchg EXIT (TIMEDOUT: live += 1, unlink, again);
 *             top == 0: the rest to the debt (227-231: one seq_cst CAS
 *             loop = one step), fence (232), wake_one (233; park.c 202-222:
 *             pop, xchg NOTIFIED, a reaped entry unlinked and the next)
 *   worker    should_exit's pay_shrink_debt (lib/engine/worker_loop.c):
 *             under e->mu, load the debt, CAS d -> d-1 (relaxed), then
 *             live -= 1; after the unlock, debt left: fence, wake_one (the
 *             chain); else spin (again) or park (park.c 251-277):
 *             wake = ASLEEP, push CAS, fence, load the debt (273) > 0 ->
 *             wake_one (274); wait on wake: NOTIFIED -> should_exit again,
 *             EXIT -> leave (the shrinker uncounted it). -DREAP: after its
 *             keep-alive a parked worker runs try_reap (park.c 323-376):
 *             under e->mu, live - debt > MIN -> live -= 1, CAS ASLEEP -> TIMEDOUT
 *             (lost to a wake: live += 1, back to the wait)
 *   -DGROW    a grow at the valve (spawn_locked, E9.4): under e->mu a new
 *             thread (a searcher, so should_exit next) only while live < HARD
 *
 * W threads, all counted in live and busy in a task at the start (each
 * goes idle at any point); SHRINKS shrink calls of N units, one after the
 * other (the pool's tp->mu). `stay` (model only) counts the threads that
 * have not committed to leaving: should_exit's CAS, the shrinker's xchg
 * EXIT of a live entry, a reaper's CAS to TIMEDOUT.
 *
 * Properties (pan -DSAFETY):
 *   debt paid   init waits (not an end state) for "debt == 0 or no thread
 *               left": a quiescent state with a thread parked (asleep)
 *               while a debt is owed is an invalid end state. This is what
 *               E4.1/E5.2 promise: a debt never waits on a parked worker,
 *               it is paid by the idle ones, all of them if need be (no
 *               cap, as Twisted; should_exit does not look at min).
 *   counts      live >= stay whenever e->mu is free (counts(): what a
 *               spawner's valve check, a reaper's min check and a floor
 *               read see never undercounts the threads that stay); live ==
 *               stay at the end; -DGROW: stay <= HARD at every creation.
 *   floor       -DFLOOR=F (shrink_to's floor, min = F): the pool ends with
 *               live >= F, keep-alive reaps after the floor read included
 *               (-DFLOOR=1 -DREAP): the shrink looks at the floor again
 *               under e->mu where it uncounts a popped worker (none over:
 *               it wakes it as a notify's pop and stops) and where it adds
 *               the debt (no more than is over). Mutants
 *               -DMUTANT_SHRINK_STALE_FLOOR and -DMUTANT_DEBT_STALE_FLOOR
 *               (either look left out) end below the floor.
 *   min         -DREAP: a reap never leaves fewer than MIN threads that
 *               stay (try_reap's reservation under e->mu, E9.3).
 *
 * Bounds (CI): W=2 + one grow; W=3; W=2 + FLOOR=1 + grow; W=2 + one reap
 * (MIN 0) + grow; and the three bounds where the code before the payment
 * was locked and chained failed: N=2; FLOOR=1 + SHRINKS=2; REAP + MIN=1.
 * They pass.

 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_LOAD_BEFORE_PUSH  park loads the debt before its push CAS and
 *                              fence: the Dekker with the shrinker's fenced
 *                              ctl read fails (invalid end state)
 *   -DMUTANT_PARK_NO_DEBT      park's re-check ignores the debt (invalid end
 *                              state)
 *   -DMUTANT_NO_WAKE           the shrinker adds the debt and wakes nobody
 *                              (invalid end state)
 *   -DMUTANT_NO_CHAIN -DN=2    a payer that leaves debt behind wakes
 *                              nobody (the code before the chain): two
 *                              workers park between the shrinker's ctl
 *                              load and its debt add, wake_one wakes one,
 *                              it pays and leaves, the other sleeps with
 *                              one unit owed (invalid end state)
 *   -DMUTANT_EXIT_UNLOCKED     the payment outside e->mu (the code before
 *                              the lock): with -DFLOOR=1 -DSHRINKS=2 a
 *                              second shrink_to reads the floor between a
 *                              payer's CAS and its live -= 1 and counts it
 *                              twice, the pool ends below the floor; with
 *                              -DREAP -DMIN=1 a reaper reserves in that
 *                              window, below min (assertions)
 *   -DMUTANT_UNCOUNT_FIRST     should_exit decrements live before it wins
 *                              the CAS (and gives it back if it loses):
 *                              live < stay with e->mu free (assertion)
 *
 * Simplified: no tasks (so no searching count, no notify, no E5.3: the
 * exit's live -= 1 before its stop_searching is shrink.pml's order); no
 * close; the ctl tag (pops and pushes are one atomic step each, a failed
 * CAS retrying from a fresh load); `parked` (E5.5) and the statistics;
 * the debt's saturation at INT_MAX; a creation does not fail
 * (reap_min.pml); spawned threads get a fresh slot (no reuse).
 */
#ifndef W
#define W 2              /* threads at the start, all busy in a task */
#endif
#ifndef N
#define N 1              /* units of each shrink */
#endif
#ifndef SHRINKS
#define SHRINKS 1        /* shrink calls, one after the other (tp->mu) */
#endif
#ifndef HARD
#define HARD W           /* the valve: the pool starts at it */
#endif
#ifndef MIN
#ifdef FLOOR
#define MIN FLOOR        /* min_live: the floor (keep = max + grants) at min */
#else
#define MIN 0
#endif
#endif
#ifndef R
#define R 1              /* keep-alive reaps in a run (-DREAP) */
#endif
#ifdef GROW
#define SLOTS (W + 1)
#else
#define SLOTS W
#endif
#define ASLEEP 0
#define NOTIFIED 1
#define EXIT 2
#define TIMEDOUT 3

byte debt;               /* e->shrink_debt */
byte live;               /* e->live */
byte stay;               /* model: threads not committed to leaving */
byte top;                /* ctl's idle-stack top (slot + 1) */
byte next_idle[SLOTS];
byte wake[SLOTS];
bool linked[SLOTS];      /* linked_exit: reaped, still in the stack */
bool mu;                 /* e->mu */
byte shrunk;             /* shrink calls that returned */
bool grown;              /* the grow returned */
byte reaps;              /* reaps so far (bounds the search) */

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

/* weft__engine_wake_one (park.c): pop the top (load + CAS, counted as
 * searching), xchg NOTIFIED (wake_popped); a reaped entry (TIMEDOUT):
 * unlink, stop searching (E5.3), pop the next. */
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

/* A thread at the start is busy in a task: it finishes at any point and
 * goes idle (start_searching); a spawned one starts as a searcher. Either
 * way its next step is should_exit. */
proctype worker(byte me) {
  byte d, s_top, prev;
  bool ok;
check:
  /* should_exit (worker_loop.c): load the debt, CAS it down, live -= 1 */
#ifndef MUTANT_EXIT_UNLOCKED
  lock();
#endif
  d = debt;                                                  /* load relaxed */
  do
  :: d == 0 -> break
  :: d > 0 ->
#ifdef MUTANT_UNCOUNT_FIRST
     live--;
#endif
     atomic {                                                /* CAS relaxed */
       if
       :: debt == d -> debt = d - 1; stay--; ok = 1
       :: else -> d = debt; ok = 0
       fi
     };
     if
     :: ok -> goto pay
     :: else ->
#ifdef MUTANT_UNCOUNT_FIRST
        live++;                                              /* lost: undone */
#endif
        skip
     fi
  od;
  d = 0;
#ifndef MUTANT_EXIT_UNLOCKED
  unlock();
#endif
  /* the spin (backoff, re-check from the loop) or E5.2 park */
  if
  :: goto check
  :: skip
  fi;
  wake[me] = ASLEEP;                                         /* store relaxed */
#ifdef MUTANT_LOAD_BEFORE_PUSH
  ok = (debt > 0);                                           /* the re-check's load, early */
#endif
  atomic { next_idle[me] = top; top = me + 1 };              /* CAS push (searching - 1) */
  /* fence(seq_cst); closed: not modelled */
#ifdef MUTANT_LOAD_BEFORE_PUSH
  if
  :: ok -> wake_one()
  :: else -> skip
  fi;
  ok = 0;
#elif !defined(MUTANT_PARK_NO_DEBT)
  if
  :: debt > 0 -> wake_one()                                  /* load relaxed */
  :: else -> skip                                            /* work_visible: no tasks */
  fi;
#endif
end_wait:
  if
  :: wake[me] == NOTIFIED -> goto check                      /* a searcher again */
  :: wake[me] == EXIT -> goto leave                          /* the shrinker uncounted us */
#ifdef REAP
  :: atomic { wake[me] == ASLEEP && reaps < R -> reaps++ };  /* keep-alive ran out: try_reap */
     lock();
     if
     :: live - debt > MIN ->                                 /* under the mutex, CAS live - 1: payers as gone */
        live--;
        linked[me] = 1;
        atomic {                                             /* CAS ASLEEP -> TIMEDOUT */
          if
          :: wake[me] == ASLEEP -> wake[me] = TIMEDOUT; stay--; ok = 1;
             assert(stay >= MIN)                             /* never reaped below min */
          :: else -> ok = 0
          fi
        };
        if
        :: ok -> unlock(); goto gone                         /* leaves, still linked */
        :: else -> linked[me] = 0; live++; unlock(); goto end_wait   /* a wake won */
        fi
     :: else -> unlock(); goto end_wait                      /* at min: stays parked */
     fi
#endif
  fi;
pay:
  live--;                                                    /* fetch_sub relaxed */
#ifndef MUTANT_EXIT_UNLOCKED
  unlock();
#endif
#ifndef MUTANT_NO_CHAIN
  d = 0;
  if                                                         /* debt left: wake the next */
  :: debt > 0 -> wake_one()
  :: else -> skip
  fi;
#endif
leave:
  skip;                      /* stop_searching (E5.3): no tasks, nothing to hand on */
gone:
  skip
}

/* weft__engine_shrink_to (engine.c): per unit, the floor (-DFLOOR) read
 * under the mutex; pop a parked worker (uncount, xchg EXIT, under the
 * mutex); nobody parked: the rest is debt, fence, wake_one. */
proctype shrinker() {
  byte i, n = N, s_top, prev;
  short over;
  do
  :: i >= n -> break
  :: i < n ->
#ifdef FLOOR
     lock();
     over = live;                                            /* load relaxed */
     over = over - debt - FLOOR;                             /* load relaxed */
     unlock();
     if
     :: over <= 0 -> break
     :: else -> skip
     fi;
     if
     :: n - i > over -> n = i + over
     :: else -> skip
     fi;
#endif
     do
     :: atomic { top == 0 } -> goto owe                      /* load acquire */
     :: atomic { top > 0 -> s_top = top; top = next_idle[s_top - 1] };  /* CAS pop */
        lock();
#if defined(FLOOR) && !defined(MUTANT_SHRINK_STALE_FLOOR)
        if
        :: live - debt - FLOOR <= 0 ->                       /* the floor again: a reap since */
           unlock();
           atomic { prev = wake[s_top - 1]; wake[s_top - 1] = NOTIFIED };  /* wake_popped */
           if
           :: prev == TIMEDOUT -> linked[s_top - 1] = 0      /* reaped: unlinked */
           :: else -> skip                                   /* a searcher again */
           fi;
           goto out
        :: else -> skip
        fi;
#endif
        live--;
        atomic {                                             /* xchg acq_rel */
          prev = wake[s_top - 1]; wake[s_top - 1] = EXIT;
          if
          :: prev != TIMEDOUT -> stay--
          :: else -> skip
          fi
        };
        if
        :: prev == TIMEDOUT -> live++; unlock(); linked[s_top - 1] = 0   /* reaped: again */
        :: else -> unlock(); break                           /* futex_wake */
        fi
     od;
     i++
  od;
  goto out;
owe:
#if defined(FLOOR) && !defined(MUTANT_DEBT_STALE_FLOOR)
  lock();
  over = live - debt - FLOOR;                                /* the floor again, with the add */
  if
  :: n - i > over -> n = i + over
  :: else -> skip
  fi;
  if
  :: n <= i -> unlock(); goto out
  :: else -> skip
  fi;
#endif
  atomic { debt = debt + n - i };                            /* CAS seq_cst loop */
#if defined(FLOOR) && !defined(MUTANT_DEBT_STALE_FLOOR)
  unlock();
#endif
  /* fence(seq_cst) */
#ifndef MUTANT_NO_WAKE
  wake_one();
#endif
out:
  shrunk++
}

#ifdef GROW
/* A grow at the valve (grow, the monitor's growth; E9.4): under the mutex,
 * a thread only while live < HARD. */
proctype grower() {
  lock();
  if
  :: live < HARD ->
     live++; stay++;
     assert(stay <= HARD);                                   /* the valve */
     run worker(W)
  :: else -> skip
  fi;
  unlock();
  grown = 1
}
#endif

/* live never undercounts: whenever the mutex is free (a spawner's check
 * of the valve, a reaper's of min, a floor read), every thread that is not
 * leaving is counted. */
proctype counts() {
end:
  atomic { !mu && live < stay -> assert(live >= stay) }
}

init {
  byte i;
  atomic {
    live = W; stay = W;
    for (i : 0 .. W - 1) { run worker(i) }
    run counts();
#ifdef GROW
    run grower();
#endif
  };
  for (i : 1 .. SHRINKS) { run shrinker(); shrunk == i };
#ifdef GROW
  grown;
#endif
  /* Not an end state: a worker parked (asleep) while a debt is owed. */
  debt == 0 || stay == 0;
  timeout;                                                   /* quiescent */
  assert(live == stay);
#ifdef FLOOR
  assert(live >= FLOOR);
#endif
}
