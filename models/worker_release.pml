/*
 * models/worker_release.pml — the worker base's release against a deferred
 * ops->quit (lib/workers/worker.c, lib/workers/worker_base.h), for a
 * user-written worker whose ops->release frees it.
 *
 *   do():      enter = CAS state +ONE unless QUIT; do_work touches the
 *              worker; leave = fetch_sub ONE, and the one that finds
 *              QUIT|ONE (RELEASED ignored) is the closer
 *   release(): quit() = fetch_or QUIT, closer if the old word had no QUIT
 *              and no do() in flight; then fetch_or RELEASED: if CLOSED was
 *              set, call ops->release
 *   closer:    ops->quit (touches the worker); then fetch_or CLOSED: if
 *              RELEASED was set, call ops->release
 *
 * Properties (assertions): ops->quit runs exactly once, never on a freed
 * worker and never while a do_work runs; ops->release runs exactly once,
 * after ops->quit returned; nothing touches the worker after it is freed;
 * every process ends (no invalid end state) and the worker is freed.
 *
 * Mutant (pan must report an error):
 *   -DMUTANT_RELEASE_AT_ONCE  release calls ops->release right after quit()
 *                             (the old order): a do() still in flight runs
 *                             the deferred ops->quit on a freed worker
 */
#ifndef D
#define D 2              /* do() callers */
#endif
#define QUIT     1
#define RELEASED 2
#define CLOSED   4
#define ONE      8

byte state;
byte quit_runs, release_runs;
bool quit_done;          /* ops->quit returned */
bool in_do_work;
bool freed;
byte callers_done;
bool owner_done;

inline touch() { assert(!freed) }

inline ops_release() {
  atomic { assert(quit_done && release_runs == 0 && !freed); release_runs++; freed = 1 }
}

inline closer() {
  atomic { touch(); assert(quit_runs == 0 && !in_do_work); quit_runs++ };
  touch();                                   /* ops->quit's own work on the worker */
  quit_done = 1;
  atomic { s = state; state = state | CLOSED };        /* fetch_or acq_rel */
  if
  :: s & RELEASED -> ops_release()
  :: else -> skip
  fi
}

proctype caller() {
  byte s;
  s = state;
  do
  :: s & QUIT -> goto out                    /* WEFT_EQUIT */
  :: else ->
     atomic {
       if
       :: state == s -> touch(); state = s + ONE; s = 255
       :: else -> s = state
       fi
     };
     if
     :: s == 255 -> break
     :: else -> skip
     fi
  od;
  atomic { touch(); assert(quit_runs == 0); in_do_work = 1 };   /* do_work */
  in_do_work = 0;
  atomic { touch(); s = state; state = state - ONE };           /* leave */
  if
  :: (s & ~RELEASED) == (QUIT | ONE) -> closer()
  :: else -> skip
  fi;
out:
  callers_done++
}

proctype owner() {
  byte s;
  atomic { touch(); s = state; state = state | QUIT };          /* quit() */
  if
  :: (s & ~RELEASED) == 0 -> closer()        /* nobody in flight */
  :: else -> skip
  fi;
#ifdef MUTANT_RELEASE_AT_ONCE
  atomic { assert(!freed); release_runs++; freed = 1 }
#else
  atomic { touch(); s = state; state = state | RELEASED };      /* fetch_or acq_rel */
  if
  :: s & CLOSED -> ops_release()
  :: else -> skip
  fi;
#endif
  owner_done = 1
}

init {
  byte i;
  atomic {
    run owner();
    do
    :: i < D -> run caller(); i++
    :: else -> break
    od
  };
  owner_done && callers_done == D;
  _nr_pr == 1;
  assert(quit_runs == 1 && release_runs == 1 && freed)
}
