/*
 * models/reap.pml — parking with a keep-alive (docs/design.md E9.3): a
 * parked worker whose keep-alive ran out reaps itself by a CAS of its wake
 * word ASLEEP -> TIMEDOUT and exits, still linked in the idle stack (a
 * Treiber stack cannot unlink from the middle). A notifier that pops it
 * reads TIMEDOUT from its exchange of the wake word, unlinks it, undoes the
 * searching count it claimed for it and looks again: pops the next one, or
 * starts a thread (in a slot that is free: never used, or reaped and
 * unlinked). The protocol of models/ctl.pml otherwise (E5), over an atomic
 * FIFO of task ids, with one submitter and up to W worker slots.
 *
 * Properties (pan -DSAFETY):
 *   exactly once      run asserts no task runs twice.
 *   no lost wake-up   init waits (not an end state) until every task ran,
 *                     so a task left queued while every worker sleeps or has
 *                     reaped itself is an invalid end state.
 *   stack integrity   a slot is never pushed while it is in the idle stack
 *                     (a reaped entry's slot is reused only once unlinked).
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_REAP_STORE           the reaper stores TIMEDOUT instead of its
 *                                 CAS: it overwrites a notifier's wake
 *   -DMUTANT_POP_IGNORES_TIMEDOUT a popper takes a reaped entry for a woken
 *                                 worker and looks no further
 *   -DMUTANT_REUSE_LINKED         a spawn reuses the slot of a reaped entry
 *                                 that is still linked
 * A spawn that finds no free slot fails; the monitor's retry (E9.5) is the
 * process that then notifies again while work waits and nobody is awake.
 *
 * -DGROW adds a grower (weft__engine_grow: start_a_worker, adjust_poolsize,
 * the monitor's retry) that first takes the idle stack down to its deepest
 * reaped entry off in one CAS, counting every entry it takes as searching
 * (weft__engine_unlink_idle, E9.3): a reaped entry is unlinked and its count
 * undone as a searcher leaves (E5.3); a parked one is woken with its count
 * claimed, as a pop's. Then it counts its new thread as searching and
 * spawns (undone if no slot is free); -DGROW_ONLY_UNLINK leaves the spawn
 * out (its thread would run the waiting task and hide a lost count). Mutants
 * (with -DGROW -DGROW_ONLY_UNLINK):
 *   -DMUTANT_UNLINK_NO_WAKE       a parked entry taken off is not woken: it
 *                                 sleeps counted as a searcher, so every
 *                                 notifier relies on it (invalid end state)
 *   -DMUTANT_UNLINK_KEEPS_COUNT   a reaped entry's searching count is not
 *                                 undone (invalid end state)
 */
#ifndef W
#define W 2
#endif
#ifndef T
#define T 3
#endif
#define TAGMOD 8
#define ASLEEP 0
#define NOTIFIED 1
#define TIMEDOUT 3

chan q = [T] of { byte };
byte ran[T];
byte done;

byte tag, top, searching;
byte next_idle[W];
byte wake[W];
bool in_stack[W];   /* model-only: the slot is linked in the idle stack */
bool alive[W];      /* a thread runs on the slot */
bool linked[W];     /* linked_exit: reaped, not yet unlinked */
byte reaps;         /* keep-alives that ran out (bounds the search) */

#define work_visible (len(q) > 0)
#ifndef R
#define R 2           /* at most R reaps in a run */
#endif

/* weft__engine_spawn_locked: a slot with no thread and no linked entry. */
inline spawn() {
  atomic {
    ok = 0;
    si = 0;
    do
    :: si < W ->
#ifdef MUTANT_REUSE_LINKED
       if
       :: !alive[si] -> break
       :: else -> si++
       fi
#else
       if
       :: !alive[si] && !linked[si] -> break
       :: else -> si++
       fi
#endif
    :: else -> break
    od;
    if
    :: si < W -> alive[si] = 1; run worker(si); ok = 1
    :: else -> skip
    fi;
    si = 0
  }
}

/* E5.1 notify with E9.3's pop: the exchange tells a woken worker from a
 * reaped entry. */
inline notify() {
  atomic { s_tag = tag; s_top = top; s_srch = searching };
  do
  :: s_srch > 0 -> break
  :: s_srch == 0 && s_top == 0 ->
     atomic {                                  /* CAS: claim a searcher */
       if
       :: tag == s_tag && top == s_top && searching == s_srch -> searching++; ok = 1
       :: else -> s_tag = tag; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: !ok -> skip
     :: ok ->
        spawn();
        if
        :: ok -> break
        :: else ->                             /* no slot: undo the claim */
           atomic { searching--; s_tag = tag; s_top = top; s_srch = searching };
           if
           :: s_srch > 0 || s_top == 0 -> break
           :: else -> skip
           fi
        fi
     fi
  :: s_top > 0 ->                             /* with s_srch > 0: the eager wake (ctl.pml) */
     nx = next_idle[s_top - 1];
     atomic {                                  /* CAS pop + count as searching */
       if
       :: tag == s_tag && top == s_top && searching == s_srch ->
          tag = (tag + 1) % TAGMOD; top = nx; searching = s_srch + 1; in_stack[s_top - 1] = 0; ok = 1
       :: else -> s_tag = tag; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: ok ->
        atomic { prev = wake[s_top - 1]; wake[s_top - 1] = NOTIFIED };   /* xchg acq_rel */
#ifdef MUTANT_POP_IGNORES_TIMEDOUT
        break
#else
        if
        :: prev != TIMEDOUT -> break           /* woken: it searches for the work */
        :: else ->                             /* a reaped entry: unlink, undo, again */
           linked[s_top - 1] = 0;
           atomic { searching--; s_tag = tag; s_top = top; s_srch = searching }
        fi
#endif
     :: else -> skip
     fi
  od
}

inline searching_to_running() {
  srch = false;
  atomic { searching--; s_srch = searching };
  if
  :: s_srch == 0 && work_visible -> notify()
  :: else -> skip
  fi
}

proctype worker(byte me) {
  byte t, s_tag, s_top, s_srch, nx, prev, si;
  bool ok, got, srch = true;
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
     :: srch -> searching_to_running()
     :: else -> skip
     fi;
     atomic { assert(ran[t] == 0); ran[t] = 1; done++; t = 0; got = 0 };
     goto loop
  :: else ->
     if
     :: !srch -> atomic { searching++ }; srch = true
     :: else -> skip
     fi;
     /* E5.2 park: push self and stop searching in one CAS */
     wake[me] = ASLEEP;
     atomic { s_tag = tag; s_top = top; s_srch = searching };
     do
     :: next_idle[me] = s_top;
        atomic {
          if
          :: tag == s_tag && top == s_top && searching == s_srch ->
             assert(!in_stack[me]);            /* never linked twice */
             tag = (tag + 1) % TAGMOD; top = me + 1; searching--; in_stack[me] = 1; ok = 1
          :: else -> s_tag = tag; s_top = top; s_srch = searching; ok = 0
          fi
        };
        if
        :: ok -> break
        :: else -> skip
        fi
     od;
     srch = false;
     if                                        /* fence; Dekker re-check */
     :: work_visible -> notify()
     :: else -> skip
     fi;
end_park:
     if
     :: wake[me] != ASLEEP -> srch = true; goto loop   /* woken */
     :: atomic { reaps < R -> reaps++ };      /* the keep-alive ran out: try_reap */
        linked[me] = 1;
#ifdef MUTANT_REAP_STORE
        wake[me] = TIMEDOUT; ok = 1;
#else
        atomic {                               /* CAS ASLEEP -> TIMEDOUT, acq_rel */
          if
          :: wake[me] == ASLEEP -> wake[me] = TIMEDOUT; ok = 1
          :: else -> ok = 0
          fi
        };
#endif
        if
        :: ok -> alive[me] = 0; goto gone      /* exits: not searching, still linked */
        :: else -> linked[me] = 0; srch = true; goto loop   /* a wake won */
        fi
     fi
  fi;
gone:
  skip
}

#ifdef GROW
/* E9.3 weft__engine_unlink_idle, then grow's spawn. The walk and the CAS
 * are one step here: in the code the walk is not atomic, and the CAS (tag,
 * top and count unchanged: the tag counts every push and pop, and a linked
 * entry's next_idle does not change) tells that it read the stack it takes,
 * or fails and the walk starts again. */
proctype grower() {
  byte s_tag, s_top, s_srch, nx, prev, si, i, n, deep, cut, w;
  bool ok, srch;
  atomic {                                     /* walk + seq_cst CAS: deep pops at once */
    s_top = top; i = top; n = 0; deep = 0; cut = 0;
    do
    :: i != 0 ->
       n++;
       if
       :: linked[i - 1] -> deep = n; cut = next_idle[i - 1]
       :: else -> skip
       fi;
       i = next_idle[i - 1]
    :: else -> break
    od;
    if
    :: deep > 0 ->
       tag = (tag + 1) % TAGMOD; top = cut; searching = searching + deep; ok = 1;
       i = s_top; n = 0;
       do
       :: n < deep -> in_stack[i - 1] = 0; i = next_idle[i - 1]; n++
       :: else -> break
       od
    :: else -> ok = 0                          /* no reaped entry: nothing to take */
    fi
  };
  do
  :: true ->
        if
        :: ok ->                               /* wake each, its link read first */
           i = s_top; n = 0;
           do
           :: n < deep ->
              w = i - 1; i = next_idle[w]; n++;
#ifdef MUTANT_UNLINK_NO_WAKE
              if
              :: wake[w] == TIMEDOUT -> prev = TIMEDOUT
              :: else -> prev = ASLEEP
              fi;
#else
              atomic { prev = wake[w]; wake[w] = NOTIFIED };   /* xchg acq_rel */
#endif
              if
              :: prev == TIMEDOUT ->             /* reaped: unlinked, its count undone */
                 linked[w] = 0;
#ifndef MUTANT_UNLINK_KEEPS_COUNT
                 searching_to_running()
#endif
              :: else -> skip                    /* woken: it searches */
              fi
           :: else -> break
           od;
           break
        :: else -> break
        fi
  od;
#ifndef GROW_ONLY_UNLINK
  /* grow: the new thread counted as searching, then a free slot */
  atomic { searching++ };
  spawn();
  if
  :: !ok -> srch = true; searching_to_running()   /* no slot: undo, as creation_failed */
  :: else -> skip
  fi
#endif
}
#endif

/* The monitor's creation retry (E9.5): a spawn that found no free slot (a
 * reaped thread may hold one until it has left) backs off, and the monitor
 * tries again while work waits and nobody is awake or parked. */
proctype monitor() {
  byte s_tag, s_top, s_srch, nx, prev, si;
  bool ok, srch;
end_idle:
  do
  :: atomic { len(q) > 0 && searching == 0 && top == 0 } -> notify()
  od
}

init {
  byte i, s_tag, s_top, s_srch, nx, prev, si;
  bool ok, srch;
  run monitor();
#ifdef GROW
  run grower();
#endif
  do
  :: i < T ->
     q!i;                                      /* publish */
     notify();                                 /* fence(seq_cst); notify */
     i++
  :: else -> break
  od;
  done == T;      /* not an end state: blocking here means work was lost */
  i = 0;
  do
  :: i < T -> assert(ran[i] == 1); i++
  :: else -> break
  od
}
