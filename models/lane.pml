/*
 * models/lane.pml — a lane's admission protocol (lib/pool/lane.c): the
 * count n, the owed hand-offs `due`, the baton of the waiting queue's single
 * consumer, and the queue itself (lib/engine/mpsc.h step for step, as in
 * coordinator.pml).
 *
 *   submit(t):  old = n++; old < L -> admit(t)
 *                          else    -> push(t) [xchg tail, link]; kick()
 *   finish:     old = n--; old > L -> due++; kick()
 *   kick():     loop { due == 0 or head.next == 0 -> return;
 *                      CAS baton 0 -> 1 or return;
 *                      while due > 0 and pop gives a node: due--, admit(node);
 *                      baton = 0 }
 *   admit(t):   the task goes to the pool (a channel the workers take from).
 *
 * Promela interleaves whole statements in one total order: the seq_cst
 * fences of the C code (the Dekker pairs between a link store or a due add
 * and the other party's loads, and between a baton release and a loser's
 * write) are what make the C code behave as this model; lane.c says which
 * fence pairs with which.
 *
 * S submitters (one task each) race W pool workers, which run admitted
 * tasks and finish them (the finishing worker hands off the next task, as
 * lane_release does).
 *
 * Properties (pan -DSAFETY):
 *   the limit      assert no more than L of the lane's tasks are in the
 *                  pool (admitted, not finished) at any step
 *   exactly once   assert a task is admitted once; at the end all S ran
 *   no lost task   a waiting task that nobody hands off leaves the workers
 *                  blocked on an empty pool: an invalid end state
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_NO_RECHECK        the baton holder returns after its release
 *                              without looking again: a kick that lost the
 *                              CAS meanwhile is lost (invalid end state)
 *   -DMUTANT_KICK_BEFORE_PUSH  the submitter kicks before it pushes: a due
 *                              hand-off finds nothing linked, and the push
 *                              is never looked at (invalid end state)
 *   -DMUTANT_OWE_AT_LIMIT      a finish owes a hand-off when old >= L: a
 *                              hand-off owed to nobody, which would admit
 *                              the next waiting task into a slot that is
 *                              not free (assertion violated: due left over)
 *   -DMUTANT_ADMIT_AT_LIMIT    a submit is admitted when old <= L: L + 1
 *                              tasks in the pool (assertion violated)
 *
 * -DSWEEP adds weft_threadpool_stop_timeout, its stopper in the code's
 * order, one step each: it sets the sweep flag (deadline_stop,
 * threadpool.c's weft_threadpool_stop_timeout), then closes the engine
 * (weft__engine_close in weft__engine_stop_deadline), then cancels what
 * the engine still queues (cancel_injected, cancel_rings: each cancel's
 * lane_release may owe a hand-off and kick, on the stopper's thread), then
 * sweeps the lane (weft__lane_sweep: a kick) and returns. In between, the
 * others go on: a hand-off (lane_hand_off) on a pool thread that has not
 * seen the flag goes to its own ring, closed or not; any other hand-off,
 * and a direct admission (lane_accept), is accepted while the engine is
 * open (then run, or cancelled by the stopper) and refused once it is
 * closed; a submit that sees the engine closed at the door (lane_refuses)
 * is refused with nothing counted. The stopper's cancel loop may stop
 * before the pool is empty (a task it misses runs: a continuation pushed
 * to a ring already swept, a submit still linking); the join passes are a
 * wait with any deadline, so nothing in the model. Under the sweep a kick
 * goes on while anything waits, owed or not: an owed task's hand-off is
 * made as above (refused: cancelled, its release passes the slot on), an
 * un-owed one is cancelled and the due its release added is taken back
 * (it held no slot). Task 0, if it runs, never returns (a task past the
 * deadline: report->running). Properties then: every other task ran, was
 * cancelled or was refused, once, without waiting for task 0; nothing
 * waits at the end; n ends at the slots still held and due at 0 (the
 * sweep leaves no hand-off owed). Still not in the code's order: the kick
 * reads the owed count again after its pop (lane_kick reads it once,
 * before), and reads due, the flag and the queue's head in one step.
 * Bounds (CI): S=3 W=1 L=1 and S=3 W=2 L=2; S=3 W=2 L=1 also passes
 * (25,157,773 states) but takes about 60 s, past what CI allows.
 *   -DMUTANT_SWEEP_OWED_ONLY   the sweep stops when nothing is owed, as a
 *                              plain kick does: a task behind a running one
 *                              waits, never told (invalid end state)
 *   -DMUTANT_SWEEP_KEEPS_DUE   an un-owed cancel keeps the due its release
 *                              added (assertion violated: due left over)
 */
#ifndef S
#define S 3          /* submitters, one task each */
#endif
#ifndef W
#define W 2          /* pool workers */
#endif
#ifndef L
#define L 1          /* the lane's limit */
#endif
#define NONE 255
#define WB   254

byte nxt[S + 1];     /* node i+1 = task i; nxt[0] = head.next */
byte tail;
byte n;              /* admitted or waiting, not finished */
short due;           /* hand-offs owed (below 0 for a moment under SWEEP) */
bool baton;
byte inpool;         /* ghost: admitted, not finished */
byte admitted[S];    /* ghost */
byte finished;       /* ghost: tasks run and released */
chan pool = [S] of { byte };
bool sweep;          /* stop_timeout's deadline_stop */
bool closed;         /* the engine is closed: it refuses submits */
bool stopped;        /* the stopper's kick returned (at once without SWEEP) */
byte blocked;        /* ghost, SWEEP: task 0 never returns once it runs */
byte told[S];        /* ghost: ran, cancelled or refused */
byte gone;           /* ghost: tasks cancelled or refused */

/* A release by the baton holder (a cancel inside its own kick): the nested
 * kick's baton CAS fails, so it does nothing. */
inline release_held() {
  atomic { before = n; n-- };
  if
  :: before > L -> due++
  :: else -> skip
  fi
}

inline cancel_held(t) {
  atomic { assert(told[t] == 0); told[t] = 1; gone++ };  /* the owner is told */
  release_held()
}

inline admit(t) {
  atomic {
    assert(admitted[t] == 0);
    admitted[t] = 1;
    inpool++;
    assert(inpool <= L);
    pool!t
  }
}

inline mpsc_push(node) {
  nxt[node] = 0;
  atomic { old = tail; tail = node };            /* xchg */
  nxt[old] = node;                               /* link (store_release) */
  old = 0
}

inline mpsc_pop() {
  node = nxt[0];
  if
  :: node == 0 ->
     if
     :: tail == 0 -> node = NONE
     :: else -> node = WB
     fi
  :: else ->
     nnext = nxt[node];
     if
     :: nnext == 0 ->
        nxt[0] = 0;
        atomic {
          if
          :: tail == node -> tail = 0; ok = 1
          :: else -> ok = 0
          fi
        };
        if
        :: ok -> skip
        :: else ->
           nnext = nxt[node];
           if
           :: nnext == 0 -> nxt[0] = node; node = WB
           :: else -> nxt[0] = nnext
           fi
        fi
     :: else -> nxt[0] = nnext
     fi
  fi;
  nnext = 0; ok = 0
}

#ifdef SWEEP
#ifdef MUTANT_SWEEP_OWED_ONLY
#define OWED_OR_SWEEP (due > 0)
#else
#define OWED_OR_SWEEP (due > 0 || sweep)
#endif
#else
#define OWED_OR_SWEEP (due > 0)
#endif

inline kick(inw) {   /* inw: the kicker is one of the pool's threads */
  do
  :: !OWED_OR_SWEEP -> break
  :: OWED_OR_SWEEP && nxt[0] == 0 -> break       /* its producer kicks after linking */
  :: OWED_OR_SWEEP && nxt[0] != 0 ->
     atomic {                                    /* CAS baton 0 -> 1 */
       if
       :: !baton -> baton = 1; got = 1
       :: else -> got = 0
       fi
     };
     if
     :: !got -> break                            /* the holder looks again */
     :: else -> skip
     fi;
     do
     :: OWED_OR_SWEEP ->
        mpsc_pop();
        if
        :: node == NONE || node == WB -> break
        :: else ->
#ifdef SWEEP
           if
           :: due > 0 ->
              due--;                             /* only the holder subtracts */
              if                                 /* lane_hand_off */
              :: atomic { inw && !sweep -> admit(node - 1) }  /* continuation: its ring takes it, closed or not */
              :: atomic { (!inw || sweep) && !closed -> admit(node - 1) }  /* the open engine accepts it */
              :: atomic { (!inw || sweep) && closed -> skip };  /* refused: cancelled */
                 cancel_held(node - 1)
              fi
           :: else ->                            /* under the sweep, not owed */
              cancel_held(node - 1);
#ifndef MUTANT_SWEEP_KEEPS_DUE
              /* Its release owed one more; or another release that made
               * it the owed one has yet to add its due: then this goes
               * below 0 until that add (a signed count in lane.c too). */
              due--
#else
              skip
#endif
           fi
#else
           due--;                                /* only the holder subtracts */
           admit(node - 1)
#endif
        fi
     :: else -> break
     od;
     node = 0; got = 0;
     baton = 0;                                  /* release (seq_cst store) */
#ifdef MUTANT_NO_RECHECK
     break
#endif
  od
}

proctype submitter(byte t) {
  byte old, node, nnext, before;
  bool ok, got;
#ifdef SWEEP
  if
  :: closed ->                                   /* lane_refuses: WEFT_EQUIT at the door */
     atomic { assert(told[t] == 0); told[t] = 1; gone++ };
     goto done
  :: else -> skip
  fi;
#endif
  atomic { before = n; n++ };                    /* fetch_add */
#ifdef MUTANT_ADMIT_AT_LIMIT
  if
  :: before <= L -> admit(t)
#else
  if
#ifdef SWEEP
  :: before < L && !closed -> admit(t)           /* the engine's submit, open */
  :: before < L && closed ->                     /* refused: not accepted */
     atomic { before = n; n-- };                 /* lane_release */
     if
     :: before > L -> due++; kick(0)
     :: else -> skip
     fi;
     atomic { assert(told[t] == 0); told[t] = 1; gone++ }  /* the error returned */
#else
  :: before < L -> admit(t)
#endif
#endif
  :: else ->
#ifdef MUTANT_KICK_BEFORE_PUSH
     kick(0);
     mpsc_push(t + 1)
#else
     mpsc_push(t + 1);
     kick(0)
#endif
  fi
#ifdef SWEEP
  ;
done:
  skip
#endif
}

proctype worker() {
  byte t, old, node, nnext, before;
  bool ok, got;
end_idle:
  do
  :: pool?t ->
#ifdef SWEEP
     if
     :: t == 0 ->                                /* runs past the deadline, for good */
        atomic { assert(told[t] == 0); told[t] = 1; blocked = 1 };  /* report->running */
end_blocked:
        false
     :: else -> skip
     fi;
#endif
     inpool--;                                   /* ran; lane_release follows */
     atomic { assert(told[t] == 0); told[t] = 1 };
     atomic { before = n; n-- };                 /* fetch_sub */
#ifdef MUTANT_OWE_AT_LIMIT
     if
     :: before >= L -> due++; kick(1)
     :: else -> skip
     fi;
#else
     if
     :: before > L -> due++; kick(1)
     :: else -> skip
     fi;
#endif
     finished++;
     before = 0; t = 0
  od
}

/* Watches the end: every task ran and gave its slot back; nothing is
 * owed once the last baton holder has let go. */
proctype check() {
  finished + gone + blocked == S && !baton && stopped;
  assert(n == blocked && due == 0 && inpool == blocked);
  assert(nxt[0] == 0 && tail == 0)               /* nothing waits */
}

#ifdef SWEEP
proctype stopper() {
  byte t, old, node, nnext, before;
  bool ok, got;
  sweep = 1;                                     /* deadline_stop (threadpool.c) */
  closed = 1;                                    /* weft__engine_close (stop_deadline.c) */
  do                                             /* cancel_injected, cancel_rings */
  :: pool?t ->
     atomic { inpool--; assert(told[t] == 0); told[t] = 1; gone++ };  /* lane_call_cancel */
     atomic { before = n; n-- };                 /* lane_release */
     if
     :: before > L -> due++; kick(0)
     :: else -> skip
     fi;
     before = 0; t = 0
  :: break                                       /* what it missed runs */
  od;
  kick(0);                                       /* weft__lane_sweep */
  stopped = 1
}
#endif

init {
  atomic {
    byte i;
    for (i : 0 .. W - 1) { run worker() };
    for (i : 0 .. S - 1) { run submitter(i) };
#ifdef SWEEP
    run stopper();
#else
    stopped = 1;
#endif
    run check()
  }
}
