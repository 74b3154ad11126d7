/*
 * models/thread_worker.pml — ThreadWorker (lib/workers/thread_worker.c) behind the
 * worker base's quit protocol (lib/workers/worker.c, lib/workers/worker_base.h):
 *   do():    enter = CAS state +ONE unless QUIT; do_work = mpsc push, then
 *            tw_notify (fence; if sleeping == 1 and xchg(sleeping, 0) == 1:
 *            futex_wake); leave = fetch_sub ONE, and the one that finds
 *            QUIT|ONE runs ops->quit
 *   quit():  fetch_or QUIT; if the old word was 0, run ops->quit now
 *   ops->quit (tw_quit): push the stop marker, tw_notify
 *   thread:  pop; task → run; stop marker → exit; empty/WOULDBLOCK → spin
 *            again or tw_sleep (sleeping = 1; fence; visible → sleeping = 0;
 *            else wait while sleeping == 1)
 *
 * Properties: ops->quit runs exactly once and never while a do_work runs or
 * before an admitted do_work (assert); every admitted task runs exactly once
 * before the thread exits (assert); the thread does exit (the checker waits
 * at a non-end label; the thread's futex wait is an end label, so a thread
 * asleep with the stop marker queued is an invalid end state).
 *
 * Lifetime (the intermittent SIGSEGV in tw_release, docs/reliability.md):
 * the worker's two references (owner, thread; tw_quit holds a third while it
 * pushes the marker and notifies) and the pthread handle's life: joinable →
 * detached (weft's detach) → freed when a detached thread exits, or zombie
 * when a joinable one exits → freed by a detach. Asserted: nothing touches
 * the worker after its last reference is gone, and weft never calls
 * pthread_detach on a freed handle. The detach is made in create, while
 * the thread provably runs (it exits only after the stop marker, which only
 * ops->quit pushes); -DFACTORY_DETACHES lets the factory hand over a thread
 * it already detached (a contract violation weft must survive).
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_SLEEP_NO_RECHECK  tw_sleep does not re-check the queue
 *   -DMUTANT_QUIT_IGNORES_INFLIGHT  quit() runs ops->quit even with do()
 *                                  calls in flight
 *   -DMUTANT_DETACH_AT_RELEASE -DFACTORY_DETACHES  the old tw_release: detach
 *                                  at release, when the thread may be gone
 */
#ifndef D
#define D 2              /* do() callers, one task each */
#endif
#define STOP (D + 1)     /* node id of the stop marker */
#define NONE 255
#define WB   254
#define QUIT 1
#define ONE  4

byte nxt[D + 2];
byte tail;
byte state;              /* worker base word: QUIT | inflight * ONE */
bool sleeping;
byte admitted[D], ran[D];
byte quit_runs;
bool in_do_work;
bool thread_exited;
byte callers_done;
byte refs = 2;           /* owner + thread */
bool freed;
#define H_JOINABLE 0
#define H_DETACHED 1
#define H_ZOMBIE   2     /* exited, joinable: the handle lives until detach/join */
#define H_FREED    3
byte handle;

inline unref() {
  atomic {
    assert(refs > 0 && !freed);
    refs--;
    if
    :: refs == 0 -> freed = 1
    :: else -> skip
    fi
  }
}

inline detach() {
  atomic {
    assert(handle != H_FREED);               /* the crash: detach of a freed descriptor */
    if
    :: handle == H_JOINABLE -> handle = H_DETACHED
    :: handle == H_ZOMBIE -> handle = H_FREED
    :: else -> skip                          /* already detached: EINVAL */
    fi
  }
}

inline mpsc_push(n) {
  nxt[n] = 0;
  atomic { old = tail; tail = n };
  nxt[old] = n;
  old = 0
}

inline tw_notify() {
  /* fence(seq_cst) */
  atomic {                                   /* load(sleeping) == 1 && xchg(sleeping, 0) == 1 */
    if
    :: sleeping -> sleeping = 0              /* futex_wake follows: the waiter re-reads */
    :: else -> skip
    fi
  }
}

inline ops_quit() {
  atomic { assert(quit_runs == 0 && !in_do_work); quit_runs++ };
  atomic { assert(!freed); refs++ };       /* tw_quit's own reference */
  mpsc_push(STOP);
  tw_notify();
  unref()
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

proctype caller(byte me) {
  byte s, old;
  /* weft__worker_enter */
  s = state;
  do
  :: s & QUIT -> goto out                    /* WEFT_EQUIT */
  :: else ->
     atomic {
       if
       :: state == s -> state = s + ONE; s = 255
       :: else -> s = state
       fi
     };
     if
     :: s == 255 -> break
     :: else -> skip
     fi
  od;
  admitted[me] = 1;
  atomic { assert(quit_runs == 0); in_do_work = 1 };   /* do_work */
  mpsc_push(me + 1);
  tw_notify();
  in_do_work = 0;
  /* weft__worker_leave */
  atomic { s = state; state = state - ONE };
  if
  :: s == (QUIT | ONE) -> ops_quit()
  :: else -> skip
  fi;
out:
  callers_done++
}

proctype quitter() {
  byte s, old;
  atomic { s = state; state = state | QUIT };          /* fetch_or acq_rel */
#ifdef MUTANT_QUIT_IGNORES_INFLIGHT
  if
  :: !(s & QUIT) -> ops_quit()
  :: else -> skip
  fi
#else
  if
  :: s == 0 -> ops_quit()                              /* nobody in flight */
  :: else -> skip
  fi
#endif
  ;
  /* the owner's release (weft_worker_release after quit): tw_release */
#ifdef MUTANT_DETACH_AT_RELEASE
  detach();
#endif
  unref()
}

proctype thread() {
  byte node, nnext;
  bool ok;
  do
  :: mpsc_pop();
     if
     :: node == STOP -> break
     :: node != STOP && node != NONE && node != WB ->
        atomic { assert(ran[node - 1] == 0); ran[node - 1] = 1 }
     :: else ->
        if
        :: skip                                        /* spin: poll again */
        :: /* tw_sleep */
           sleeping = 1;
           /* fence(seq_cst) */
#ifndef MUTANT_SLEEP_NO_RECHECK
           if
           :: nxt[0] != 0 -> sleeping = 0; goto again  /* has_visible */
           :: else -> skip
           fi;
#endif
end_sleep:
           !sleeping                                   /* while sleeping == 1: futex_wait */
        fi
     fi;
again:
     node = 0
  od;
  atomic {
    thread_exited = 1;
    if
    :: handle == H_DETACHED -> handle = H_FREED
    :: handle == H_JOINABLE -> handle = H_ZOMBIE
    fi
  };
  unref()
}

init {
  byte i;
#ifdef FACTORY_DETACHES
  handle = H_DETACHED;
#endif
  run thread();
#ifndef MUTANT_DETACH_AT_RELEASE
  detach();                                  /* in create: the thread cannot have exited */
#endif
  atomic {
    run quitter();
    do
    :: i < D -> run caller(i); i++
    :: else -> break
    od
  };
  thread_exited && callers_done == D;        /* not an end state */
  assert(quit_runs == 1);
  _nr_pr == 1;                               /* every process has finished */
  assert(freed && handle == H_FREED);        /* nothing leaked, the handle too */
  i = 0;
  do
  :: i < D -> assert(ran[i] == admitted[i]); i++
  :: else -> break
  od
}
