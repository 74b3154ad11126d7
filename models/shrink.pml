/*
 * models/shrink.pml — a shrink that releases a parked worker, against a
 * submit that needs one (docs/design.md E5, E9.3; lib/engine/engine.c
 * weft__engine_shrink). The shrinker (stop_a_worker, adjust_poolsize) pops
 * the top of the idle stack, counting it as searching as every pop does,
 * uncounts it from `live`, and exchanges its wake word to EXIT. The worker,
 * once it sees EXIT, leaves: it gives its searching claim back (E5.3: the
 * last searcher to stop looks for work and notifies) and exits. A
 * submitter's notify that finds nobody searching and nobody parked starts a
 * thread only while `live` is below the limit (Twisted: the pool is full
 * otherwise, and the first worker to finish finds the work).
 *
 * The order matters: a worker that sees EXIT may leave at once, before the
 * futex wake; if `live` still counted it, a notify in that window reads the
 * pool as full and starts nobody, and the task waits with no thread at all
 * (found in review, reproduced with a delay after the exchange). A worker
 * can also reap itself after its keep-alive (models/reap.pml): it then
 * uncounts itself, and the shrinker that pops its entry gives its own
 * uncount back.
 *
 * One pool of limit 1, min 0, W slots: slot 0's thread starts parked; one
 * shrink of 1; one submitted task.
 *
 * Properties (pan -DSAFETY):
 *   no stranded task  init waits (not an end state) until the task ran.
 *   counts            `live` equals the threads that hold a slot and have
 *                     not left, at the end.
 *
 * Mutant (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_UNCOUNT_LATE  the shrinker uncounts after the exchange (the
 *                          code before the fix)
 */
#ifndef W
#define W 2
#endif
#define LIMIT 1
#define ASLEEP 0
#define NOTIFIED 1
#define EXIT 2
#define TIMEDOUT 3

chan q = [1] of { byte };
byte done;

byte top, searching;      /* ctl: the idle stack's top (slot + 1), searchers */
byte next_idle[W];
byte wake[W];
bool alive[W];            /* a thread holds the slot */
bool linked[W];           /* reaped, not yet unlinked */
byte live;

#define work_visible (len(q) > 0)

inline spawn() {
  atomic {
    ok = 0;
    si = 0;
    do
    :: si < W && !alive[si] && !linked[si] -> break
    :: si < W && (alive[si] || linked[si]) -> si++
    :: si >= W -> break
    od;
    if
    :: si < W -> alive[si] = 1; live++; run worker(si, 0); ok = 1
    :: else -> skip
    fi;
    si = 0
  }
}

/* E5.1 notify: coalesce on a searcher, pop a parked worker, or start one
 * below the limit. */
inline notify() {
  do
  :: atomic { searching > 0 } -> break
  :: atomic { searching == 0 && top == 0 && live >= LIMIT } -> break   /* full */
  :: atomic { searching == 0 && top == 0 && live < LIMIT -> searching++ };  /* CAS claim */
     spawn();
     if
     :: ok -> break
     :: else -> atomic { searching-- }
     fi
  :: atomic {
       searching == 0 && top > 0 ->
       s_top = top; top = next_idle[s_top - 1]; searching++             /* CAS pop */
     };
     atomic { prev = wake[s_top - 1]; wake[s_top - 1] = NOTIFIED };   /* xchg */
     if
     :: prev != TIMEDOUT -> break
     :: else -> linked[s_top - 1] = 0; atomic { searching-- }         /* reaped entry */
     fi
  od
}

/* E5.3: the last searcher to stop hands visible work on. */
inline stop_searching() {
  atomic { searching--; s_srch = searching };
  if
  :: s_srch == 0 && work_visible -> notify()
  :: else -> skip
  fi
}

proctype worker(byte me; bool parked) {
  byte t, s_top, s_srch, prev, si;
  bool ok;
  if
  :: parked -> goto end_park_wait
  :: else -> skip
  fi;
search:
  if
  :: atomic { len(q) > 0 -> q?t };
     stop_searching();
     done++;
     atomic { searching++ }        /* idle again: searching */
  :: else -> skip
  fi;
  /* E5.2 park: push self, stop searching (one CAS), then the re-check. */
  wake[me] = ASLEEP;
  atomic { next_idle[me] = top; top = me + 1; searching-- };
  if
  :: work_visible -> notify()
  :: else -> skip
  fi;
end_park_wait:
  if
  :: wake[me] == NOTIFIED -> goto search
  :: wake[me] == EXIT -> goto leave
  :: atomic { wake[me] == ASLEEP && live > 0 -> wake[me] = TIMEDOUT; live--; linked[me] = 1 };
     alive[me] = 0;                 /* reaped: leaves, still linked */
     goto gone
  fi;
leave:
  stop_searching();                 /* the shrinker's claim, given back */
  alive[me] = 0;
gone:
  skip
}

proctype shrinker() {
  byte s_top, s_srch, prev, si;
  bool ok;
  do
  :: atomic { top == 0 } -> break   /* nobody parked: debt (not modelled) */
  :: atomic { top > 0 -> s_top = top; top = next_idle[s_top - 1]; searching++ };  /* CAS pop */
#ifndef MUTANT_UNCOUNT_LATE
     live--;
#endif
     atomic { prev = wake[s_top - 1]; wake[s_top - 1] = EXIT };   /* xchg acq_rel */
     if
     :: prev == TIMEDOUT ->
#ifndef MUTANT_UNCOUNT_LATE
        live++;                      /* it had uncounted itself */
#endif
        linked[s_top - 1] = 0;
        stop_searching()
     :: else ->
#ifdef MUTANT_UNCOUNT_LATE
        live--;
#endif
        break
     fi
  od
}

init {
  byte i, s_top, s_srch, prev, si;
  bool ok;
  atomic {
    alive[0] = 1; live = 1;
    wake[0] = ASLEEP; next_idle[0] = 0; top = 1;   /* slot 0 parked */
    run worker(0, 1);
    run shrinker()
  };
  q!0;                               /* publish */
  notify();                          /* fence; notify */
  done == 1;                         /* not an end state: a stranded task */
  timeout;                           /* quiescent: every other process blocked or gone */
  i = 0; s_srch = 0;
  do
  :: i < W -> s_srch = s_srch + alive[i]; i++
  :: else -> break
  od;
  assert(live == s_srch)
}
