/*
 * models/fork_child.pml — a fork(2) that lands anywhere in the parent's
 * lock-free protocols, the child handlers' resets, and what the child may
 * do with the pool it inherited (lib/base/fork.c, lib/engine/engine_fork.c,
 * threadpool.c's tp_fork_child + lib/pool/lane.c weft__lane_fork_child;
 * docs/threading-howto.md "Fork").
 *
 * The parent (one pool, its engine E, one worker X), each step one atomic
 * access of the C code:
 *   F  foreign submit of a weft_work r with an after_cb (queue_work): the
 *      owner word set; count_push (one RMW on `pushed`, closed bit read);
 *      refused: fetch_sub, mark refused; else xchg tail, link
 *      (weft__engine_submit_foreign, lib/engine/inject.h, mpsc.h)
 *   W  a submit window (a reactor drain's, reactor.c drain_snapshot): add
 *      registers (fetch_add windows, load pushed: closed -> fetch_sub,
 *      refuse), holds task 1; close -> flush: count_push; counted: xchg,
 *      link; closed: cancel task 1 (its callback), the fork-generation
 *      check (weft__engine_cancel_tasks); fetch_sub windows
 *      (lib/engine/submit_window.c)
 *   X  the pool's worker: try-lock, pop, unlock, run; its ring first (a
 *      lane's continuation); leaves when closed and nothing is visible
 *   P  the parent's weft_threadpool_stop: close (closed + closed bit, one
 *      section under e->mu), wait windows == 0, join X, cancel X's ring,
 *      cancel_injected (try-lock, pop + cancel until pushed == popped),
 *      stopped
 *   -DLANE: a lane of limit 1 whose task A is queued at the start (n = 1)
 *      and a submitter S of a second task B (lane_accept: closed at the
 *      door, fetch_add n, push to `waiting` (xchg, link), lane_kick); a
 *      finish or cancel is lane_release (fetch_sub n; above the limit
 *      due += 1 and the kick: due, has_visible, baton CAS, pop, due -= 1,
 *      hand-off: on X to its ring, elsewhere a foreign submit, refused
 *      once closed: cancel B, whose release is nested under the baton)
 *
 * The fork: one atomic step (the prepare handlers hold every control
 * mutex: pools', engines', so no e->mu section is cut; the lock-free
 * words are cut anywhere). The forking thread fk is chosen at the start:
 *   MAIN  a bystander thread: any step boundary of everybody else
 *   WIN   W inside a reactor call with its window registered and holding
 *         task 1 (drain_snapshot runs calls with a window open), or W inside
 *         task 1's cancel callback in its flush (test_fork
 *         fork_in_a_cancel_from_a_window_flush)
 *   WRK   X inside a lane task (-DLANE; test_fork fork_in_a_lane_task)
 *   STP   P inside a cancel callback of its cancel_injected
 * No other thread can fork inside these protocols: count_push to link, the
 * window's register and its counted flush, the lane's count, push and
 * kick run no user code (a fork from a thread factory is forbidden).
 * At the fork every other process ends (`unless`): only fk's thread exists
 * in the child. The child handler runs engine_fork.c's resets (closed,
 * stopped, the inject queue emptied with popped = pushed, closed bit, try-lock
 * free; rings emptied; slots JOINED but the forking worker's; live; windows
 * = 1 if the forking thread's window is registered on E (its n = 0), else
 * 0) and, -DLANE, the lane's (waiting emptied, n = min(n, limit), due 0,
 * baton 0). Then fk's thread goes on in the child where it was (a callback
 * returns into the flush or the stop's loop; a lane task returns into
 * lane_leave and the worker loop), and does what the docs let a child do
 * (child_user): cancel_work(r), a submit, a window add, a lane submit,
 * stop, destroy (from a worker: EDEADLK, nothing else).
 *
 * Properties:
 *   no hang      the child's stop/destroy waits (windows == 0, the join of
 *                X's slot, the try-lock, pushed == popped) are not end
 *                states: one that waits for ever is an invalid end state
 *   counters     windows is never taken below 0, popped never passes pushed,
 *                the lane's n and due never below 0 (assertions)
 *   parent's own nothing the child does runs or tells a task accepted in the
 *                parent (assert !child at every run and cancel callback);
 *                cancel_work of the parent's request answers non-zero in
 *                the child (no after_cb promised); submits there are refused
 *   parent alone each task is run or told at most once (assertions)
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_KEEP_WINDOWS       the child keeps the parent's windows count:
 *                               the child's destroy waits for ever for a
 *                               window of a thread that is not there
 *                               (invalid end state)
 *   -DMUTANT_KEEP_WINDOW_TASKS  (by hand) the forking thread's window keeps its n: its
 *                               close in the child flushes the parent's task,
 *                               refused, and tells its owner there
 *                               (assertion violated)
 *   -DMUTANT_NO_STOPPED         `stopped` not set: cancel_work of a request
 *                               the parent queued answers 0 in the child,
 *                               promising an after_cb that never comes
 *                               (assertion violated)
 *   -DMUTANT_KEEP_INJECT_COUNTS the queue is emptied but popped keeps its
 *                               value: the child's destroy waits in
 *                               cancel_injected for pushes that are the
 *                               parent's (invalid end state)
 *   -DLANE -DMUTANT_KEEP_LANE   weft__lane_fork_child not run: a lane task
 *                               that forked returns in the child, its
 *                               release owes a hand-off (n above the limit),
 *                               the kick pops the parent's waiting task into
 *                               the worker's ring and the worker runs it
 *                               there (assertion violated; commit 68c1e01's
 *                               bug)
 * By hand (not in CI):
 *   -DMUTANT_KEEP_WINDOW_TASKS  the forking thread's window keeps its n
 *                               (above)
 *   -DMUTANT_NO_GEN_CHECK       the flush's cancel loop ignores the fork
 *                               generation: the window that forked in its
 *                               cancel callback takes its count off a child
 *                               engine that counted none (windows -1, the
 *                               hang found by review, commit 69db380;
 *                               assertion violated)
 *
 * Bounds: the default (F, W, X, P; forker MAIN, WIN or STP) and -DLANE
 * (F, X, P and the lane's S instead of W; forker MAIN, WRK or STP);
 * -DFORKER=n fixes the forking thread, -DNO_FOREIGN drops F.
 *
 * Simplifications: one engine; no parking or notify (the worker polls:
 * park.pml, inject.pml); the consumer's pop is one step and the worker takes
 * the try-lock only when a node is linked (inject.pml has the pop step by
 * step); a single waiting node for the lane; the nested release under the
 * baton holder (a cancelled hand-off) does not kick (its kick would lose the
 * CAS to the holder); the reactor's own handler, batches and stop_timeout's
 * sweep are not modelled; the child's window add goes through the forking
 * thread's window.
 */

#define MAIN 1
#define WIN  2
#define WRK  3
#define STP  4
#define SUB  5

#define NT   4        /* tasks: 0 F's request r, 1 W's, 2 lane A, 3 lane B */
#define STUB 4        /* the inject queue's stub node */
#define NIL  5
#define E    1        /* w_e: the window's engine */

#define CLAIMED   1
#define CANCELLED 2

/* the engine */
bool closed, stopped;
bool pclosed;                /* the closed bit of inject.pushed */
byte pushed, popped;
byte inxt[NT + 1];           /* mpsc links; inxt[STUB] is head.next */
byte ihead = STUB, itail = STUB;
bool consumer_busy;
byte windows;
byte ring = NIL;             /* X's ring (one slot) */
byte live = 1;
#define LIVE_S   1
#define EXITED_S 2
#define JOINED_S 3
byte xstate = LIVE_S;
bool xgone;

#define LINKED  (inxt[ihead] != NIL)
#define VISIBLE (inxt[ihead] != NIL || itail != ihead)

/* F's request r */
byte claim;                  /* CLAIMED | CANCELLED */
bool owned, refused;

/* W's window (its thread's TLS) */
byte w_e, w_n;

/* the lane */
byte n, due;
bool baton;
bool wx, wlink, wpop;        /* B exchanged into waiting, linked, popped */

byte told[NT];               /* 1 ran, 2 cancelled (owner told) */
byte fk;                     /* the forking thread */
bool child;                  /* the fork happened: we are in the child */

inline tell(t, how) {
  assert(!child);            /* the parent's task: never in the child */
  assert(told[t] == 0);
  told[t] = how
}

inline child_handler() {
  closed = 1;
#ifndef MUTANT_NO_STOPPED
  stopped = 1;
#endif
#ifndef MUTANT_KEEP_INJECT_COUNTS
  popped = pushed;
#endif
  ihead = STUB; itail = STUB; inxt[STUB] = NIL;
  pclosed = 1;
  consumer_busy = 0;
  ring = NIL;
  if
  :: fk != WRK && (xstate == LIVE_S || xstate == EXITED_S) -> xstate = JOINED_S
  :: else -> skip
  fi;
  live = (fk == WRK -> 1 : 0);
  if
  :: fk == WIN && w_e == E ->
#ifndef MUTANT_KEEP_WINDOW_TASKS
     w_n = 0;
#endif
#ifndef MUTANT_KEEP_WINDOWS
     windows = 1
#else
     skip
#endif
  :: else ->
#ifndef MUTANT_KEEP_WINDOWS
     windows = 0
#else
     skip
#endif
  fi;
  /* tp_fork_child -> weft__lane_fork_child */
#ifndef MUTANT_KEEP_LANE
  wx = 0; wlink = 0; wpop = 0;
  if :: n > 1 -> n = 1 :: else -> skip fi;
  due = 0;
  baton = 0
#else
  skip
#endif
}

inline FORK(me) {
  atomic { !child && fk == me -> child = 1; child_handler() }
}

/* A foreign submit of a task the model does not track (the child's). */
inline child_submit() {
  atomic { pushed++; ok = !pclosed };
  assert(!ok);                                  /* refused: WEFT_EQUIT */
  atomic { assert(pushed > 0); pushed-- }
}

/* flush of the calling thread's window (only W's exists) */
inline flush_own(me) {
  if
  :: me == WIN && w_e == E ->
     atomic { fn = w_n; w_n = 0; w_e = 0 };    /* thread-local */
     if
     :: fn > 0 ->
        atomic { pushed++; ok = !pclosed };
        if
        :: ok -> assert(false)                  /* the child's engine is closed */
        :: else ->
           atomic { assert(pushed > 0); pushed-- };
           tell(1, 2)                           /* cancel: owner told */
        fi
     :: else -> skip
     fi;
     atomic { assert(windows > 0); windows-- }
  :: else -> skip
  fi
}

/* What the docs let the child do with the inherited pool. */
inline child_user(me) {
  /* weft_threadpool_cancel_work(tp, r) */
  atomic {
    if
    :: !owned -> rc = 1                         /* not submitted: EINVAL */
    :: owned && (claim & CLAIMED) == 0 && (refused || stopped) -> rc = 1
    :: else ->
       rc = ((claim & CLAIMED) != 0 -> 1 : 0);  /* 0: an after_cb promised */
       claim = claim | CLAIMED | CANCELLED
    fi
  };
  assert(rc != 0);
  /* weft_threadpool_call_in_thread: refused */
  child_submit();
  /* a window add (weft__submit_window_add) */
  if
  :: me == WIN && w_e == E -> assert(closed)    /* registered: refused (closed) */
  :: else ->
     atomic { windows++ };
     atomic { ok = !pclosed };
     assert(!ok);
     atomic { assert(windows > 0); windows-- }
  fi;
#ifdef LANE
  assert(closed);                               /* lane_refuses: WEFT_EQUIT */
#endif
  if
  :: me == WRK -> skip                          /* stop, destroy: WEFT_EDEADLK */
  :: else ->
     /* weft_threadpool_stop: own window flushed, joined: WEFT_EQUIT */
     flush_own(me);
     /* weft_threadpool_destroy -> weft__engine_destroy -> weft__engine_stop */
     flush_own(me);                             /* close: closed already */
     windows == 0;                              /* load_seq_cst(windows) */
     atomic { xstate == JOINED_S };             /* a LIVE/EXITED slot: join */
     atomic {
       if
       :: ring != NIL -> tell(ring, 2)
       :: else -> skip
       fi
     };
     atomic { consumer_busy == 0 -> consumer_busy = 1 };
     do
     :: atomic { LINKED -> assert(popped < pushed); popped++; tell(inxt[ihead], 2) }
     :: atomic { !VISIBLE && pushed == popped } -> break
     od;
     consumer_busy = 0;
     stopped = 1
  fi
}

#ifdef LANE
/* lane_release's count; the kick follows when before > 1 (the limit). */
inline release_count() {
  atomic { assert(n > 0); before = n; n-- }
}

/* a hand-off refused (closed): cancel B (owner told), its release nested
 * under our baton: the count and the due, no kick */
inline cancel_b_nested() {
  tell(3, 2);
  release_count();
  if :: before > 1 -> due++ :: else -> skip fi
}

inline hand_off(me) {
  if
  :: me == WRK -> ring = 3                      /* submit_continuation */
  :: else ->
     atomic { pushed++; ok = !pclosed };
     if
     :: ok ->
        atomic { inxt[3] = NIL; prev = itail; itail = 3 };
        inxt[prev] = 3
     :: else ->
        atomic { assert(pushed > 0); pushed-- };
        cancel_b_nested()
     fi
  fi
}

inline kick(me) {
  kgo = 1;
  do
  :: !kgo -> break
  :: kgo ->
     if
     :: atomic { due == 0 -> kgo = 0 }          /* fence; load due */
     :: atomic { due > 0 && !(wlink && !wpop) -> kgo = 0 }   /* has_visible */
     :: atomic { due > 0 && wlink && !wpop } ->
        atomic {
          if
          :: !baton -> baton = 1; kheld = 1
          :: else -> kheld = 0; kgo = 0
          fi
        };
        if
        :: kheld ->
           do
           :: atomic { due == 0 } -> break                /* owed? */
           :: atomic { due > 0 } ->
              atomic {
                if
                :: wlink && !wpop -> wpop = 1; kt = 1
                :: else -> kt = 0                       /* NULL, WOULDBLOCK */
                fi
              };
              if
              :: kt ->
                 atomic { assert(due > 0); due-- };
                 hand_off(me)
              :: else -> break
              fi
           od;
           baton = 0
        :: else -> skip
        fi
     fi
  od
}

inline lane_release(me) {
  release_count();
  if
  :: before > 1 ->
     due++;
     kick(me)
  :: else -> skip
  fi
}

proctype submitter() {
  byte before, prev, kt;
  bool ok, kgo, kheld;
  {
    if
    :: atomic { closed } -> goto sdone          /* lane_refuses */
    :: atomic { !closed } -> skip
    fi;
    atomic { before = n; n++ };
    if
    :: before < 1 ->                            /* admitted: engine submit */
       atomic { pushed++; ok = !pclosed };
       if
       :: ok ->
          atomic { inxt[3] = NIL; prev = itail; itail = 3 };
          inxt[prev] = 3
       :: else ->                               /* refused: no task of ours */
          atomic { assert(pushed > 0); pushed-- };
          release_count();
          if :: before > 1 -> due++; kick(SUB) :: else -> skip fi
       fi
    :: else ->
       wx = 1;                                  /* xchg waiting.tail */
       wlink = 1;                               /* link */
       kick(SUB)
    fi;
sdone: skip
  } unless { child }
}
#endif

/* run(t) on a thread that is me; LANE tasks finish through their lane */
inline cancel_task(t, me) {
  if
  :: t == 0 ->
     atomic { claim = claim | CLAIMED | CANCELLED; tell(0, 2) }
  :: t == 1 -> tell(1, 2)
#ifdef LANE
  :: t >= 2 ->
     tell(t, 2);
     if
     :: me == STP -> if :: FORK(STP) :: skip fi /* in its callback */
     :: else -> skip
     fi;
     lane_release(me)
#endif
  :: else -> skip
  fi
}

proctype foreign() {
  byte prev;
  bool ok;
  {
    atomic { owned = 1; pushed++; ok = !pclosed };   /* count_push */
    if
    :: ok ->
       atomic { inxt[0] = NIL; prev = itail; itail = 0 };  /* xchg */
       inxt[prev] = 0                                      /* link */
    :: else ->
       atomic { assert(pushed > 0); pushed-- };
       refused = 1                                         /* mark_refused */
    fi
  } unless { child }                 /* F never forks: it ends at any fork */
}

proctype window() {
  byte prev, fn, rc, before, kt;
  bool ok, kgo, kheld;
  {
    atomic { windows++ };                          /* fetch_add_seq_cst */
    if
    :: atomic { pclosed -> assert(windows > 0); windows-- } -> goto wdone  /* refused */
    :: atomic { !pclosed -> w_e = E; w_n = 1 }     /* accepted, held */
    fi;
    /* a reactor call run with the window open may fork */
    if
    :: FORK(WIN)
    :: skip
    fi;
    /* close -> flush */
    atomic { fn = w_n; w_n = 0; w_e = 0 };
    if
    :: fn > 0 ->
       atomic { pushed++; ok = !pclosed };         /* count_push */
       if
       :: ok ->
          atomic { inxt[1] = NIL; prev = itail; itail = 1 };
          inxt[prev] = 1
       :: else ->
          atomic { assert(pushed > 0); pushed-- };
          tell(1, 2);                              /* cancel callback */
          if
          :: FORK(WIN)
          :: skip
          fi;
#ifndef MUTANT_NO_GEN_CHECK
          if
          :: child -> goto wchild                  /* generation changed */
          :: else -> skip
          fi
#endif
       fi
    :: else -> skip
    fi;
    atomic { assert(windows > 0); windows-- };
    if
    :: child -> goto wchild
    :: else -> goto wdone
    fi;
wchild:
    /* the drain's window close: flush until unregistered */
    flush_own(WIN);
    child_user(WIN);
wdone: skip
  } unless { child && fk != WIN }
}

proctype worker() {
  byte t, rc, before, prev, kt, fn;
  bool ok, kgo, kheld;
  {
end_loop:
    do
    :: atomic { ring != NIL -> t = ring; ring = NIL } -> goto wrun
    :: atomic { ring == NIL && consumer_busy == 0 && LINKED -> consumer_busy = 1 };
       atomic { assert(popped < pushed); t = inxt[ihead]; ihead = t; popped++ };
       consumer_busy = 0;
wrun:
       if
       :: t == 0 ->
          atomic { assert(!child); claim = claim | CLAIMED; tell(0, 1) }
       :: t == 1 -> tell(1, 1)
#ifdef LANE
       :: t >= 2 ->
          tell(t, 1);                              /* lane_enter, fn starts */
          if
          :: FORK(WRK) -> child_user(WRK)
          :: skip
          fi;
          lane_release(WRK)                        /* lane_leave */
#endif
       :: else -> skip
       fi
    :: atomic { ring == NIL && closed && !VISIBLE -> live--; break }
    od;
    atomic { xstate == LIVE_S -> xstate = EXITED_S; xgone = 1 }   /* closed: stop joins */
  } unless { child && fk != WRK }
}

proctype stopper() {
  byte t, rc, before, prev, kt, fn;
  bool ok, kgo, kheld;
  {
    atomic { closed = 1; pclosed = 1 };           /* close, under e->mu */
    windows == 0;                                 /* load_seq_cst(windows) */
    atomic { xgone -> xstate = JOINED_S };        /* join X */
    atomic { t = ring; ring = NIL };
    if
    :: t != NIL -> cancel_task(t, STP)
    :: else -> skip
    fi;
    atomic { consumer_busy == 0 -> consumer_busy = 1 };
    do
    :: atomic { LINKED -> assert(popped < pushed); t = inxt[ihead]; ihead = t; popped++ };
       cancel_task(t, STP);
       if
       :: t < 2 -> if :: FORK(STP) :: skip fi     /* in the cancel callback */
       :: else -> skip
       fi
    :: atomic { !VISIBLE && pushed == popped } -> break
    od;
    consumer_busy = 0;
    stopped = 1;
    if
    :: child -> child_user(STP)
    :: else -> skip
    fi
  } unless { child && fk != STP }
}

proctype bystander() {
  byte rc, fn;
  bool ok;
end_wait:
  FORK(MAIN);
  child_user(MAIN)
}

init {
  atomic {
    inxt[0] = NIL; inxt[1] = NIL; inxt[2] = NIL; inxt[3] = NIL; inxt[STUB] = NIL;
#ifdef LANE
    /* lane task A admitted and queued: n = 1, in the inject queue */
    n = 1;
    inxt[2] = NIL; inxt[STUB] = 2; itail = 2; pushed = 1;
#endif
#ifdef FORKER
    fk = FORKER;
#else
    if
    :: fk = MAIN
    :: fk = STP
#ifdef LANE
    :: fk = WRK
#else
    :: fk = WIN
#endif
    fi;
#endif
    run bystander();
#ifndef NO_FOREIGN
    run foreign();
#endif
#ifndef LANE
    run window();             /* -DLANE: the lane instead of the window */
#endif
    run worker();
    run stopper();
#ifdef LANE
    run submitter()
#endif
  }
}
