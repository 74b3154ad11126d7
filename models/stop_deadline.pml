/*
 * models/stop_deadline.pml — the stop with a deadline
 * (lib/engine/stop_deadline.c weft__engine_stop_deadline, :73-162, and its
 * cancel_rings, :50; the workers' look at `sweeping` in steal(),
 * lib/engine/worker_loop.c:181; docs/design.md E7.2), the threads it leaves
 * "late", and the later weft__engine_stop (lib/engine/engine.c:400) that
 * joins them, whose close finds the engine closed and returns at once,
 * without the close's wake_all.
 *
 *   stopper: deadline_stop = 1 (weft_threadpool_stop_timeout); close:
 *            closed = 1 (seq_cst), wake_all; sweeping = 1 (relaxed, :89);
 *            cancel_rings: hw (acquire), for each slot while its ring is
 *            not empty, steal_into a scratch ring (claim, release) and
 *            cancel what it took (another thief's claim: NULL, look again);
 *            sweeping = 0 (relaxed, :96); then the passes (:111): hw and
 *            each slot's state under the mutex, a LIVE or EXITED slot
 *            joined with the deadline (joined if `gone`, else timed out:
 *            the model has no clock, so any join may time out), then the
 *            grace (:140): while not joined, not `busy` (relaxed) and grace
 *            left, a join of a millisecond; joined → JOINED under the mutex
 *            and another pass, else late++; passes go on until one joins
 *            nothing or finds a thread late. late == 0: weft__engine_stop
 *            (:155), WEFT_OK. Else WEFT_ETIMEDOUT, and later the
 *            weft__engine_stop of weft_threadpool_stop or destroy. Either
 *            weft__engine_stop: close returns WEFT_EQUIT (no wake), passes
 *            of unbounded joins until one joins nothing, the E7 pass (every
 *            ring popped and cancelled), stopped = 1.
 *   worker:  find_task: pop its own ring (the CAS); else steal(): hw and
 *            `sweeping` (relaxed), 1 → no steal; victims in slot order:
 *            an empty or claimed ring is passed over, else the claim (half,
 *            rounded up, from head.real), the release CAS, the older half
 *            into its own ring (the tail store), the newest run. A task
 *            taken as a searcher: busy = 1 (relaxed, :354) then the run.
 *            Idle: busy = 0, searching; should_exit (closed, then nothing
 *            visible in any ring) → EXITED, gone; else park: push, re-check
 *            `closed` → wake_all, wait to be popped (not an end state).
 *   tasks:   X (first in worker 1's ring) hands Y off to its own worker's
 *            ring as a lane does (lane_hand_off, lib/pool/lane.c:147:
 *            deadline_stop read 0 → weft__engine_submit_continuation, no
 *            closed check; else submit_own, refused once closed: Y is
 *            cancelled), then blocks: weft_blocking_begin's load of
 *            `closed` (seq_cst); closed and work visible →
 *            weft__engine_grow_closing, a stand-in into the first FREE or
 *            JOINED slot below hw, or a new one (hw + 1), under the mutex,
 *            refused once `stopped`. A task may run for any time: it may be
 *            in progress at the deadline (its thread is then late). -DZ_TASK
 *            queues Z behind X (a second queued task; a bigger search).
 *            A steal takes one task in these bounds (half of 1 or 2,
 *            rounded up): the older half a steal of 3 would leave in the
 *            thief's ring is the ring's model's (ring.pml).
 *
 * Bounds (CI): two workers (slots 0, 1) and one slot for a stand-in (2,
 * past hw), tasks X and Y, one grace round (-DG=N for N): 9,620,982 states,
 * about 10 s and 550 MB. -DZ_TASK: 35,224,351 states, about 55 s (by hand).
 *
 * Properties:
 *   - exactly once (assertions at every run and cancel): no task runs or is
 *     cancelled twice, none both; when everything is joined, every task
 *     submitted ran or was cancelled (its owner told);
 *   - WEFT_OK: every task ran or was cancelled when the call returns;
 *   - WEFT_ETIMEDOUT: no task is left in the ring of a thread that is gone
 *     (what is not done is in progress on, or queued behind, a thread the
 *     later stop joins);
 *   - the call's own final weft__engine_stop waits on no thread that holds
 *     a task (one taken before the sweep reached it, a stand-in's): such a
 *     task is reported in *running, not waited for past the deadline. (In
 *     fact that stop finds no thread at all: pan reports its joins
 *     unreached. A thread not joined when the grace is spent is late.)
 *   - idle workers do not steal while the sweep runs: a steal that read
 *     `sweeping` after its store takes nothing (a ghost records the value
 *     at the read; the steal that read it before is the one "under way");
 *   - a stand-in a late thread starts is joined by the later stop, which
 *     returns with every slot FREE or JOINED;
 *   - no invalid end state: that later stop's close wakes nobody, yet no
 *     worker is left asleep (its join would wait for ever).
 *   -DSTRICT_RUNNING adds: at WEFT_ETIMEDOUT every task in progress is on a
 *     thread counted in *running. That one fails, and is not in CI: a
 *     stand-in that a late thread starts after the last pass read hw (or
 *     passed its slot) runs Y and is not counted, while a thread that holds
 *     no task is, once the grace is spent. *running counts threads that the
 *     last pass found late, not tasks in progress (a report's figure: the
 *     later stop joins them all, and every task is still told once).
 *
 * Memory orders. spin interleaves whole steps (sequentially consistent).
 * The relaxed accesses the argument uses:
 *   `sweeping` (stores :89/:96, load worker_loop.c:181) orders nothing and
 *     is read once per steal, so a stale read is the read of an
 *     interleaving in which it came earlier (a 0: the steal was under way,
 *     its task runs; a 1 after the reset: one more idle round). A worker
 *     that has seen a later effect of the stopper saw it through an acquire
 *     of a release that follows the store (the sweep's CASes, the mutex),
 *     and then reads the store;
 *   `busy` (stores worker_loop.c:354/:402, load :140) only decides whether
 *     the grace goes on: a stale 0 spends a millisecond more, a stale 1
 *     counts a leaver as late, which the later stop joins;
 *   deadline_stop (lane.c:149) and submit_own's `closed` are read once
 *     before a push that nothing orders after them.
 * hw and state are read under the engine mutex by the passes; every
 * critical section of the model is one step.
 *
 * Not modelled: the inject queue and submit windows (shutdown.pml,
 * inject.pml, window.pml: cancel_injected(false) stops at the first empty
 * pop, and a push still linking then is run or cancelled by the final
 * stop), notify/E5.1 (before the close a parked worker waits for the
 * close's wake_all), the monitor, join_watching's and stand_in_for_blocked's
 * stand-ins (stop_join.pml, stop_stand_in.pml), detached threads
 * (exit_join.pml), the ring's index encoding (ring.pml); steals visit the
 * victims in slot order, not from a random one.
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_STEAL_IGNORES_SWEEPING  steal() does not look at `sweeping`:
 *        an idle worker steals X from worker 1's ring while the sweep runs
 *        (assertion: a steal begun during the sweep took a task)
 *   -DMUTANT_NO_GRACE  a thread neither joined nor busy at the deadline is
 *        taken for one on its way out: no grace, not late, left to the
 *        final weft__engine_stop; a worker took X just before the sweep
 *        reached its ring (worker 1's own pop, or worker 0's steal under
 *        way) and has not yet stored busy (assertion: the call's own final
 *        stop waits on a thread that holds a task)
 *   -DMUTANT_ONE_PASS  one pass of deadline joins (the fault of
 *        test_elastic stop_timeout_joins_a_late_stand_in): X blocks with Y
 *        visible after the sweep, its stand-in goes into a slot the pass
 *        had passed (or a new one past the hw it read) and takes Y; the
 *        pass joins worker 1 and the final stop waits for Y (the same
 *        assertion)
 *   -DMUTANT_PARK_IGNORES_CLOSED  park's re-check ignores `closed`: a
 *        worker parks after the close's wake_all, the grace runs out, it is
 *        late, and nothing wakes it: not the later stop's close, which
 *        finds the engine closed (invalid end state: its join waits for
 *        ever)
 */
#define S     3          /* slots: 0 and 1 hold the two workers, 2 is new */
#define CAP   4          /* ring slots per worker (the code's 256) */
#ifdef Z_TASK
#define T     3
#else
#define T     2
#endif
#ifndef G
#define G     1          /* grace rounds (the code's 1000, one join each) */
#endif
#define NONE  255

#define FREE   0
#define LIVE   1
#define EXITED 2
#define JOINED 3

#define X 0              /* hands Y off to its own ring, then blocks */
#define Y 1              /* the hand-off */
#define Z 2              /* -DZ_TASK: queued behind X */

#define RUNNING 1
#define DONE    2

/* Rings (lib/engine/ring.h): real = head.real, claimed = a thief's claim in
 * progress (steal != real), tail; slots indexed modulo CAP. */
byte rs[S * CAP];
byte real[S], tail[S];
bool claimed[S];
#define RS(s, i) rs[(s) * CAP + ((i) % CAP)]
#define EMPTY(s) (real[s] == tail[s])
/* weft__engine_work_visible (rings only: no inject queue here) */
#define VISIBLE (!EMPTY(0) || !EMPTY(1) || !EMPTY(2))

byte state[S];
bool gone[S];
bool busy[S];
byte hw = 2;
byte pk;                 /* the idle stack, as a set (a bit per slot) */

bool closed, sweeping, stopped;
bool deadline_stop;      /* tp->deadline_stop (lib/pool/threadpool.c) */

/* ghosts */
bool made[T];            /* submitted (Y: handed off, accepted or refused) */
byte ran[T];             /* 0, RUNNING, DONE */
bool cancelled[T];
byte hold[S];            /* tasks a thread has in hand (taken, not done) */
bool in_deadline;        /* weft__engine_stop called by stop_deadline itself */
#ifdef STRICT_RUNNING
byte runner[T];          /* slot that runs it */
bool is_late[S];         /* counted in *running */
#endif

inline cancel(t) {
  assert(made[t] && ran[t] == 0 && !cancelled[t]);
  cancelled[t] = 1
}

/* weft__engine_grow_closing → spawn_closing_locked (lib/engine/spawn.c),
 * under the engine mutex: one step. */
inline grow_closing() {
  if
  :: stopped -> skip                         /* closed && stopped: refused */
  :: else ->
     j = 0;
     do
     :: j < hw && state[j] != FREE && state[j] != JOINED -> j++
     :: j < hw && (state[j] == FREE || state[j] == JOINED) -> break
     :: j >= hw -> break
     od;
     if
     :: j < S ->
        state[j] = LIVE; gone[j] = 0; busy[j] = 0;
        if
        :: j == hw -> hw++                   /* store_release(hw) */
        :: else -> skip
        fi;
        run worker(j)
     :: else -> skip                         /* no slot: the block waits */
     fi
  fi
}

inline run_task(t) {
  atomic {
    assert(made[t] && ran[t] == 0 && !cancelled[t] && !stopped);
    ran[t] = RUNNING;
#ifdef STRICT_RUNNING
    runner[t] = me
#endif
  };
  if
  :: t == X ->
     /* lane_hand_off: deadline_stop 0 → submit_continuation (no closed
      * check); else submit_untagged → submit_own (relaxed closed) */
     c = deadline_stop;
     if
     :: c -> c = closed
     :: else -> skip
     fi;
     if
     :: !c ->                                /* the push: store_release(tail) */
        atomic { RS(me, tail[me]) = Y; tail[me]++; made[Y] = 1 }
     :: else ->                              /* refused: the owner is told */
        atomic { made[Y] = 1; cancel(Y) }
     fi;
     /* weft_blocking_begin: blocked++, then load_seq_cst(closed) */
     c = closed;
     if
     :: c ->
        atomic {                             /* work_visible, grow_closing */
          if
          :: VISIBLE -> grow_closing()
          :: else -> skip
          fi
        }
     :: else -> skip                         /* open pool's way: none, at worst */
     fi
  :: else -> skip
  fi;
  atomic { ran[t] = DONE; hold[me]--; c = 0 }
}

proctype worker(byte me) {
  byte t, v, k, n, h, a, b, j;
  bool searching = 1, began, c;
loop:
  /* find_task: weft__ring_pop of our own ring (its CAS) */
  atomic {
    t = NONE; v = 0; k = 0; n = 0; h = 0; a = NONE; b = NONE; j = 0;
    began = 0; c = 0;
    if
    :: !EMPTY(me) ->
       t = RS(me, real[me]); RS(me, real[me]) = NONE; real[me]++; hold[me]++
    :: else -> skip
    fi
  };
  if
  :: t != NONE -> goto got
  :: else -> skip
  fi;
  /* steal() (worker_loop.c:174): load_acquire(hw), load_relaxed(sweeping) */
  atomic {
    h = hw;
#ifdef MUTANT_STEAL_IGNORES_SWEEPING
    began = sweeping; c = 0                  /* where the load would be */
#else
    c = sweeping; began = c
#endif
  };
  if
  :: h <= 1 || c -> goto idle
  :: else -> skip
  fi;
  do
  :: k < h ->
     /* weft__ring_empty(victim), then weft__ring_steal_into's claim CAS
      * {steal, real + n} (another thief's claim: NULL, next victim) */
     atomic {
       v = k; k++;
       if
       :: v == me || EMPTY(v) || claimed[v] -> n = 0
       :: else ->
          n = tail[v] - real[v]; n = n - n / 2;
          assert(n <= 2);
          a = RS(v, real[v]); RS(v, real[v]) = NONE;
          if
          :: n == 2 -> b = RS(v, real[v] + 1); RS(v, real[v] + 1) = NONE
          :: else -> skip
          fi;
          real[v] = real[v] + n; claimed[v] = 1; hold[me] = hold[me] + n;
          /* Contract: idle workers do not steal while the sweep runs. */
          assert(!began)
       fi
     };
     if
     :: n > 0 -> break
     :: else -> skip
     fi
  :: else -> break
  od;
  if
  :: n == 0 -> goto idle
  :: else -> skip
  fi;
  claimed[v] = 0;                            /* the release CAS: steal = real */
  atomic {
    if
    :: n == 2 ->                             /* the older one into our ring */
       RS(me, tail[me]) = a; tail[me]++; hold[me]--; t = b
    :: else -> t = a
    fi;
    v = 0; k = 0; n = 0; h = 0; a = NONE; b = NONE; began = 0
  };
got:
  if
  :: searching -> busy[me] = 1; searching = 0  /* store_relaxed(busy, 1), :354 */
  :: else -> skip
  fi;
  run_task(t);
  goto loop;
idle:
  atomic {
    v = 0; k = 0; n = 0; h = 0; a = NONE; b = NONE; began = 0;
    if
    :: !searching -> busy[me] = 0; searching = 1  /* :402 */
    :: else -> skip
    fi
  };
  /* should_exit: load closed, then weft__engine_work_visible */
  c = closed;
  if
  :: c && !VISIBLE -> goto leave
  :: else -> c = 0
  fi;
  /* after the backoff: weft__engine_park (E5.2) */
  pk = pk | (1 << me);                       /* the push CAS */
#ifndef MUTANT_PARK_IGNORES_CLOSED
  if
  :: closed -> pk = 0                        /* fence; closed → wake_all */
  :: else -> skip
  fi;
#endif
  (pk & (1 << me)) == 0;                     /* futex wait: not an end state */
  goto loop;
leave:
  busy[me] = 0;
  /* weft__engine_worker_exited: closed (should_exit), so left to the join */
  state[me] = EXITED;                        /* store_release */
  gone[me] = 1                               /* store_release(gone), wake */
}

/* weft__engine_stop (lib/engine/engine.c:400) on a closed engine: close
 * returns WEFT_EQUIT at once (no wake_all); passes of unbounded joins until
 * one joins nothing; the E7 pass over the rings; stopped. */
inline engine_stop() {
  again = 1;
  do
  :: again ->
     again = 0;
     h = hw;                                 /* under the mutex */
     i = 0;
     do
     :: i < h ->
        st = state[i];                       /* under the mutex */
        if
        :: st == LIVE || st == EXITED ->
           /* stop_deadline's own final stop must not wait for a task */
           assert(!in_deadline || (hold[i] == 0 && EMPTY(i)));
           gone[i];                          /* join: no deadline */
           state[i] = JOINED;                /* under the mutex */
           again = 1
        :: else -> skip
        fi;
        i++
     :: else -> break
     od
  :: else -> break
  od;
  i = 0;
  do
  :: i < h ->
     do
     :: atomic { !EMPTY(i) ->
                 t = RS(i, real[i]); RS(i, real[i]) = NONE; real[i]++; cancel(t) }
     :: atomic { EMPTY(i) -> break }
     od;
     i++
  :: else -> break
  od;
  stopped = 1                                /* store_release */
}

proctype stopper() {
  byte i, h, st, n, a, b, t, late, grace = G;
  bool again, rc;
  deadline_stop = 1;                         /* weft_threadpool_stop_timeout */
  /* weft__engine_close: store_seq_cst(closed) under the mutex, fence, wake_all */
  closed = 1;
  pk = 0;
  /* (monitor, windows and the inject queue: not modelled) */
  sweeping = 1;                              /* store_relaxed, :89 */
  /* cancel_rings (:50) */
  h = hw;                                    /* load_acquire(hw) */
  i = 0;
  do
  :: i < h ->
     do
     :: EMPTY(i) -> break                    /* weft__ring_empty(victim) */
     :: else ->
        atomic {                             /* steal_into scratch: the claim */
          if
          :: claimed[i] || EMPTY(i) -> n = 0
          :: else ->
             n = tail[i] - real[i]; n = n - n / 2;
             a = RS(i, real[i]); RS(i, real[i]) = NONE; b = NONE;
             if
             :: n == 2 -> b = RS(i, real[i] + 1); RS(i, real[i] + 1) = NONE
             :: else -> skip
             fi;
             real[i] = real[i] + n; claimed[i] = 1
          fi
        };
        if
        :: n > 0 ->
           claimed[i] = 0;                   /* the release CAS */
           atomic {                          /* cancel t, then the scratch ring */
             cancel(a);
             if
             :: b != NONE -> cancel(b)
             :: else -> skip
             fi;
             n = 0; a = NONE; b = NONE
           }
        :: else -> skip                      /* another thief: sched_yield, again */
        fi
     od;
     i++
  :: else -> break
  od;
  sweeping = 0;                              /* store_relaxed, :96 */
  /* Step 4: passes with the deadline (:111) */
  again = 1;
  do
  :: again && late == 0 ->
     again = 0;
     h = hw;                                 /* load_relaxed under the mutex */
     i = 0;
     do
     :: i < h ->
        st = state[i];                       /* load_acquire under the mutex */
        if
        :: st == LIVE || st == EXITED ->
           /* weft__engine_join_slot(w, deadline): joined if gone, else
            * the deadline has passed (any time: the model has no clock) */
           if
           :: gone[i] -> rc = 0
           :: else -> rc = 1
           fi;
#ifdef MUTANT_NO_GRACE
           if
           :: !rc -> state[i] = JOINED; again = 1
           :: else ->
              if
              :: busy[i] -> late++
              :: else -> skip                /* "on its way out": left to the stop */
              fi
           fi;
#else
           /* the grace: a millisecond at a time until gone or busy */
           do
           :: rc && !busy[i] && grace > 0 -> /* load_relaxed(busy), :140 */
              if
              :: gone[i] -> rc = 0
              :: else -> rc = 1
              fi;
              grace--
           :: else -> break
           od;
           if
           :: !rc -> state[i] = JOINED; again = 1   /* under the mutex */
           :: else ->
              late++;
#ifdef STRICT_RUNNING
              is_late[i] = 1
#endif
           fi;
#endif
           rc = 0
        :: else -> skip
        fi;
        i++
     :: else -> break
     od;
#ifdef MUTANT_ONE_PASS
     again = 0;
#endif
     skip
  :: else -> break
  od;
  if
  :: late == 0 ->
     in_deadline = 1;
     engine_stop();                          /* :155 */
     in_deadline = 0;
     /* WEFT_OK: every task ran or was cancelled */
     i = 0;
     do
     :: i < T -> assert(!made[i] || ran[i] == DONE || cancelled[i]); i++
     :: else -> break
     od
  :: else ->
     /* WEFT_ETIMEDOUT, *running = late, as the call returns: nothing is
      * left in the ring of a thread that is gone */
     atomic {
       i = 0;
       do
       :: i < S -> assert(state[i] == LIVE || state[i] == EXITED || EMPTY(i)); i++
       :: else -> break
       od;
#ifdef STRICT_RUNNING
       i = 0;
       do
       :: i < T -> assert(ran[i] != RUNNING || is_late[runner[i]]); i++
       :: else -> break
       od;
#endif
       i = 0
     };
     /* the later stop (weft_threadpool_stop or destroy) */
     engine_stop()
  fi;
  /* everything joined: each task submitted ran or was cancelled, once */
  i = 0;
  do
  :: i < T -> assert(made[i] == ((ran[i] == DONE) != cancelled[i])); i++
  :: else -> break
  od;
  i = 0;
  do
  :: i < S -> assert(state[i] == FREE || state[i] == JOINED); i++
  :: else -> break
  od
}

init {
  atomic {
    state[0] = LIVE; state[1] = LIVE;
    RS(1, 0) = X; tail[1] = 1; made[X] = 1;  /* X in worker 1's ring */
#ifdef Z_TASK
    RS(1, 1) = Z; tail[1] = 2; made[Z] = 1;  /* then Z */
#endif
    run worker(0);
    run worker(1);
    run stopper()
  }
}
