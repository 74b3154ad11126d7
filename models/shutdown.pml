/*
 * models/shutdown.pml — the close/stop hand-off of docs/design.md E7 over the
 * inject queue (lib/engine/mpsc.h steps) and the parking protocol (ctl.pml):
 *   submit:  one RMW on `pushed`, whose top bit is the closed flag:
 *            add 1 and test the bit in the result; closed: fetch_sub, refuse;
 *            else push (xchg, link) and notify  (weft__inject_count_push)
 *   worker:  pop; run; idle → searching; exit if closed and nothing visible;
 *            park re-checks closed first (wake everybody)      (engine/worker_loop.c, engine/park.c)
 *   stop:    closed = 1 seq_cst; set the closed bit of `pushed` (fetch_or);
 *            wake_all; join every worker; take the
 *            try-lock; pop and cancel until pushed == popped   (weft__engine_close/stop)
 *
 * Properties: every submit that returned 0 ran exactly once or was cancelled
 * exactly once; a refused one never ran; stop returns (no invalid end state:
 * a worker parked after close would leave stop blocked in its join).
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_CLOSED_BEFORE_COUNT   submit reads the closed bit in a load of
 *                                  its own before counting itself in pushed
 *                                  (two steps instead of one RMW): stop's
 *                                  drain may finish first and the task is lost
 *   -DMUTANT_PARK_IGNORES_CLOSED   park's re-check ignores closed: a worker
 *                                  sleeps through the stop, join never returns
 *   -DMUTANT_NO_WAIT_FOR_PUSHES    stop's drain ends at the first empty pop
 *                                  instead of waiting until pushed == popped:
 *                                  a submitter counted before the close links
 *                                  its task after the drain, and nobody runs or
 *                                  cancels it (scripts/mutate.sh's
 *                                  stop_no_wait_for_pushes, in the model)
 */
#ifndef W
#define W 2
#endif
#ifndef S
#define S 2          /* submitters, one task each */
#endif
#define T S
#define NONE 255
#define WB   254

byte nxt[T + 1];
byte tail;
bool consumer_busy;
byte pushed, popped;
bool closed;
bool pclosed;        /* the closed bit of `pushed` (WEFT__INJECT_CLOSED) */
#define CLOSED closed

byte accepted[T];    /* 1 accepted, 2 refused */
byte ran[T], cancelled[T];
byte exited;         /* workers that left their loop */
byte subs_done;

#define work_visible (nxt[0] != 0 || tail != 0)

#include "ctl.pml"

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
  if
  :: node != NONE && node != WB -> popped++
  :: else -> skip
  fi
}

proctype worker(byte me) {
  byte node, nnext, s_tag, s_top, s_srch, nx;
  bool ok, locked, srch = true;
loop:
  node = NONE; nnext = 0; s_tag = 0; s_top = 0; s_srch = 0; nx = 0; ok = 0;
  atomic {
    if
    :: nxt[0] != 0 && !consumer_busy -> consumer_busy = 1; locked = 1
    :: else -> locked = 0
    fi
  };
  if
  :: locked -> mpsc_pop(); consumer_busy = 0; locked = 0
  :: else -> skip
  fi;
  if
  :: node != NONE && node != WB ->
     if
     :: srch -> searching_to_running()
     :: else -> skip
     fi;
     atomic { assert(ran[node - 1] == 0 && cancelled[node - 1] == 0); ran[node - 1] = 1; node = NONE };
     goto loop
  :: else ->
     become_searching();
     if
     :: closed && !work_visible -> goto leave   /* should_exit */
     :: else -> skip
     fi;
     if
     :: goto loop
     :: park(me)
     fi;
     goto loop
  fi;
leave:
  /* leaving as a searcher: E5.3 hands on any work we can see */
  searching_to_running();
  exited++
}

proctype submitter(byte t) {
  byte old, s_tag, s_top, s_srch, nx;
  bool ok, srch;
#ifdef MUTANT_CLOSED_BEFORE_COUNT
  if
  :: pclosed -> accepted[t] = 2; goto out
  :: else -> skip
  fi;
  pushed++;
#else
  atomic { pushed++; ok = !pclosed };        /* fetch_add(pushed): count + bit, one RMW */
  if
  :: !ok -> pushed--; accepted[t] = 2; goto out      /* closed: back out, refuse */
  :: else -> skip
  fi;
#endif
  nxt[t + 1] = 0;
  atomic { old = tail; tail = t + 1 };
  accepted[t] = 1;                           /* submit will return 0 */
  notify();                                  /* code order: ctl read before the link is visible */
  nxt[old] = t + 1;
out:
  subs_done++
}

proctype stopper() {
  byte node, nnext, s_tag, s_top, s_srch, nx, i;
  bool ok;
  closed = 1;                                /* store_seq_cst(closed) */
  pclosed = 1;                               /* fetch_or(pushed, WEFT__INJECT_CLOSED); fence */
  wake_all();
  /* join: spawn is refused once closed, so nspawned is final here */
  exited == nspawned;
  /* cancel what no worker ran: the try-lock, then drain until every counted
   * push has been popped */
  atomic { !consumer_busy -> consumer_busy = 1 };
  do
  :: mpsc_pop();
     if
     :: node != NONE && node != WB ->
        atomic { assert(ran[node - 1] == 0 && cancelled[node - 1] == 0); cancelled[node - 1] = 1 }
     :: else ->
        if
        :: pushed == popped -> break
#ifdef MUTANT_NO_WAIT_FOR_PUSHES
        :: else -> break
#else
        :: else -> skip                      /* a submitter is between its steps */
#endif
        fi
     fi
  od;
  consumer_busy = 0;
  /* everything accepted is accounted for, once the submitters returned */
  subs_done == S;
  i = 0;
  do
  :: i < T ->
     if
     :: accepted[i] == 1 -> assert(ran[i] + cancelled[i] == 1)
     :: else -> assert(ran[i] + cancelled[i] == 0)
     fi;
     i++
  :: else -> break
  od
}

init {
  byte i;
  atomic {
    do
    :: i < S -> run submitter(i); i++
    :: else -> break
    od;
    run stopper()
  }
}
