/*
 * models/decline.pml — parked threads above the limit (docs/design.md E5.5):
 * a notify does not wake a parked worker while as many workers are awake
 * as the limit allows; it arms the monitor (E9.2) instead, which counts
 * that state as saturated, raises the limit for the workers it sees
 * blocked and wakes parked workers before it makes any. Before it disarms
 * it re-checks saturation, and wakes a parked worker for work that waits
 * with nobody searching.
 *
 * The scene is the one E5.5 exists for and the one that could hang: a pool
 * whose limit is SOFT holds W threads, all parked (the surplus of a burst
 * that has not idled out yet); task 0 blocks until task 1 has run (a chain
 * of waits, twisted#5298); every thread slot is used, so the monitor
 * cannot make a thread and must wake a parked one. The parking protocol is
 * models/ctl.pml's (E5.1-E5.3) with the decline added to notify; `live`,
 * `parked` and the grants are read in separate steps, as the C code's
 * relaxed loads are.
 *
 * The monitor's tick is abstracted: its blocked estimate is exact (nblocked;
 * /proc sampling in C), and a tick that would change nothing waits for
 * the state it reads to change (ticks between two changes all do nothing),
 * so a pool that stays stuck is a final state, not a cycle.
 *
 * Properties (pan -DSAFETY):
 *   exactly once     run asserts no task runs twice.
 *   no deadlock,     init waits (not an end state) until every task ran: a
 *   no lost wake-up  final state with a task queued, or a task blocked on
 *                    one that is queued, while the other workers sleep and
 *                    the monitor sleeps or waits, is an invalid end state.
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_DECLINE_NO_ARM     notify declines without arming the monitor
 *   -DMUTANT_OLD_SATURATED      the monitor's saturation test before E5.5
 *                               (a parked worker means "not saturated"), and
 *                               no wake for stranded work before it sleeps
 *   -DMUTANT_MONITOR_MAKES_ONLY the monitor grants and makes a thread, but
 *                               never wakes a parked one (no slot is free):
 *                               it grants, disarms (giving the grant back),
 *                               re-arms, forever
 * -DMUTANT_NO_KICK (no wake for stranded work at the disarm) is not a
 * mutant: the model passes without it. Under sequential consistency the
 * decline's counts and the monitor's agree closely enough; the wake guards
 * the C code's relaxed loads of live and parked, which this model reads in
 * separate steps but never reorders.
 */
#ifndef W
#define W 2
#endif
#define T 2
#define SOFT 1
#ifndef ROUNDS
#define ROUNDS 4     /* the monitor's disarms in one run (see monitor) */
#endif
#define TAGMOD 8

chan q = [T] of { byte };
byte ran[T];
byte done;

byte tag, top, searching;
byte next_idle[W];
byte wake[W];
byte live = W;       /* every slot holds a thread */
byte parked = W;     /* E5.5's count: all of them parked at the start */
byte grants;         /* the limit is SOFT + grants */
byte nblocked;       /* workers blocked in task 0 */
bool armed;          /* monitor_armed */
byte word;           /* monitor_word: bumped by every arm */

#define limit (SOFT + grants)
#define work_visible (len(q) > 0)
#define awake (live - parked)
#ifdef MUTANT_OLD_SATURATED
#define saturated (len(q) > 0 && top == 0)
#else
#define saturated (len(q) > 0 && (top == 0 || awake >= limit))
#endif

/* weft__engine_arm_monitor: CAS armed 0 -> 1 seq_cst, then bump the word. */
inline arm() {
  atomic {
    if
    :: !armed -> armed = 1; word++
    :: else -> skip
    fi
  }
}

/* Pop the top parked worker and wake it (wake_one / notify's pop). */
inline pop_one() {
  atomic { s_tag = tag; s_top = top; s_srch = searching };
  do
  :: s_top == 0 -> break
  :: else ->
     nx = next_idle[s_top - 1];
     atomic {   /* CAS(ctl, s -> {tag+1, nx, searching+1}) seq_cst */
       if
       :: tag == s_tag && top == s_top && searching == s_srch ->
          tag = (tag + 1) % TAGMOD; top = nx; searching++; ok = 1
       :: else -> s_tag = tag; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: ok -> wake[s_top - 1] = 1; parked--; break   /* wake_popped */
     :: else -> skip
     fi
  od
}

/* E5.1 notify with E5.5's decline (no spawn: every slot holds a thread). */
inline notify() {
  atomic { s_tag = tag; s_top = top; s_srch = searching };
  do
  :: s_srch > 0 -> break                   /* an awake searcher will see the work */
  :: s_srch == 0 && s_top == 0 -> break    /* every thread busy, none to make */
  :: s_srch == 0 && s_top > 0 ->
     /* surplus_declines: three relaxed loads */
     lim = limit;
     l = live;
     p = parked;
     if
     :: l > lim && l - p >= lim ->
#ifndef MUTANT_DECLINE_NO_ARM
        arm();
#endif
        break
     :: else -> skip
     fi;
     nx = next_idle[s_top - 1];
     atomic {
       if
       :: tag == s_tag && top == s_top && searching == s_srch ->
          tag = (tag + 1) % TAGMOD; top = nx; searching = s_srch + 1; ok = 1
       :: else -> s_tag = tag; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: ok -> wake[s_top - 1] = 1; parked--; break
     :: else -> skip
     fi
  od
}

proctype worker(byte me) {
  byte t, s_tag, s_top, s_srch, nx, lim, l, p;
  bool ok, got, srch;
  goto sleep;   /* parked at the start: linked by init */
loop:
  atomic {
    if
    :: len(q) > 0 -> q?t; got = 1
    :: else -> got = 0
    fi
  };
  if
  :: got ->
     if
     :: srch ->                                  /* E5.3 */
        srch = false;
        atomic { searching--; s_srch = searching };
        if
        :: s_srch == 0 && work_visible -> notify()
        :: else -> skip
        fi
     :: else -> skip
     fi;
     if
     :: t == 0 ->                                /* waits until task 1 ran */
        atomic { nblocked++ };
        ran[1] == 1;
        atomic { nblocked-- }
     :: else -> skip
     fi;
     atomic { assert(ran[t] == 0); ran[t] = 1; done++; t = 0; got = 0 };
     goto loop
  :: else ->
     if
     :: !srch -> atomic { searching++ }; srch = true
     :: else -> skip
     fi;
     if
     :: goto loop                                /* spin: search again */
     :: skip
     fi
  fi;
  /* E5.2 park: count parked, push + stop searching, re-check, sleep. */
  wake[me] = 0;
  parked++;
  atomic { s_tag = tag; s_top = top; s_srch = searching };
  do
  :: next_idle[me] = s_top;
     atomic {
       if
       :: tag == s_tag && top == s_top && searching == s_srch ->
          tag = (tag + 1) % TAGMOD; top = me + 1; searching--; ok = 1
       :: else -> s_tag = tag; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: ok -> break
     :: else -> skip
     fi
  od;
  srch = false;
  if                                             /* fence; Dekker re-check */
  :: work_visible -> notify()
  :: else -> skip
  fi;
sleep:
end_park:
  wake[me] != 0;
  srch = true;                                   /* counted as searching by the popper */
  goto loop
}

proctype submitter() {
  byte i, s_tag, s_top, s_srch, nx, lim, l, p;
  bool ok;
  do
  :: i < T -> q!i; notify(); i++               /* publish; fence; notify */
  :: else -> break
  od
}

proctype monitor() {
  byte seen, s_tag, s_top, s_srch, nx, want, sq, sb, sp, st, rounds;
  bool ok;
  seen = 0;
end_sleep:
  word != seen;                                  /* armed: the word moved */
tick:
  if
  :: saturated ->
     atomic {
       /* What this tick reads: a later tick repeats it after any change. */
       sq = len(q); sb = nblocked; sp = parked; st = top;
       /* want = blocked - stand_ins; stand_ins = max(awake - SOFT, grants) */
       if
       :: awake - SOFT > grants ->
          want = (nblocked > awake - SOFT -> nblocked - (awake - SOFT) : 0)
       :: else -> want = (nblocked > grants -> nblocked - grants : 0)
       fi
     };
     if
     :: want > 0 && SOFT + grants < W ->
        grants++;                                /* the limit rises ... */
#ifndef MUTANT_MONITOR_MAKES_ONLY
        pop_one();                               /* ... and a parked thread wakes */
#endif

        goto tick
     :: else ->
        /* Nothing to do: the next tick that can differ follows a change. */
end_wait:
        (len(q) != sq || nblocked != sb || parked != sp || top != st || !saturated);
        goto tick
     fi
  :: else -> skip
  fi;
  /* Disarm (3 quiet ticks in C): give the grants back, clear armed,
   * re-check saturation; else wake one for work stranded by a decline.
   * Bounded: a monitor that keeps arming and disarming without progress
   * (grant, disarm, re-arm, ...) is a livelock, which a safety search would
   * not report; after ROUNDS disarms it sleeps for good, so such a run ends
   * in a final state with the work stranded. */
  rounds++;
  if
  :: rounds > ROUNDS ->
end_spent:
     false
  :: else -> skip
  fi;
  grants = 0;
  seen = word;
  armed = 0;
  if
  :: saturated ->
     atomic {
       if
       :: !armed -> armed = 1; ok = 1
       :: else -> ok = 0
       fi
     };
     if
     :: ok -> goto tick
     :: else -> skip
     fi
  :: else ->
#if !defined(MUTANT_OLD_SATURATED) && !defined(MUTANT_NO_KICK)
     atomic { s_top = top; s_srch = searching };
     if
     :: s_top != 0 && s_srch == 0 && len(q) > 0 -> pop_one()   /* kick_stranded */
     :: else -> skip
     fi
#else
     skip
#endif
  fi;
  goto end_sleep
}

init {
  byte i;
  atomic {
    /* W parked workers: worker i sits on worker i-1 (top = W). */
    do
    :: i < W -> next_idle[i] = i; wake[i] = 0; run worker(i); i++
    :: else -> break
    od;
    top = W;
    run monitor();
    run submitter()
  };
  done == T;   /* not an end state: blocking here means a lost task or a deadlock */
  assert(ran[0] == 1 && ran[1] == 1)
}
