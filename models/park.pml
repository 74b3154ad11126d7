/*
 * models/park.pml — the parking protocol of docs/design.md E5 (models/ctl.pml)
 * over an abstract, atomic FIFO of task ids, with S submitters and up to W
 * workers started on demand. models/inject.pml runs the same protocol over
 * the exact steps of the inject queue (lib/engine/mpsc.h).
 *
 * Properties (pan -DSAFETY: assertions and invalid end states):
 *   exactly once      run_task asserts no task runs twice; the checker
 *                     asserts that every task ran.
 *   no lost wake-up,  init blocks at a non-end label until every task ran;
 *   no deadlock       parked workers block at end labels. So a final state
 *                     with a task still queued while every worker sleeps (or
 *                     while none exists though one could be started) is an
 *                     invalid end state.
 *
 * Mutants (pan must report an error; models/run.sh --expect-error):
 *   -DMUTANT_NO_RECHECK          park without the Dekker re-check (E5.2)
 *   -DMUTANT_NOTIFY_BEFORE_PUSH  a submitter notifies before it publishes
 *   -DMUTANT_NO_SPAWN            notify does not start a worker when none is
 *                                parked or searching (E5.1)
 */
#ifndef W
#define W 2
#endif
#ifndef S
#define S 2
#endif
#ifndef T
#define T 3
#endif

chan q = [T] of { byte };   /* the published work: an atomic FIFO here */
byte ran[T];
byte done;
byte subs_done;   /* submitters finished */

#define work_visible (len(q) > 0)

#include "ctl.pml"

proctype worker(byte me) {
  byte t, s_tag, s_top, s_srch, nx;
  bool ok, got, srch = true;   /* spawned as a searcher (ctl.pml notify) */
loop:
  s_tag = 0; s_top = 0; s_srch = 0; nx = 0; ok = 0;   /* dead locals: keep states few */
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
     atomic { assert(ran[t] == 0); ran[t] = 1; done++; t = 0; got = 0 };  /* run: exactly once */
     goto loop
  :: else ->
     become_searching();
     if
     :: goto loop       /* spin: search again (E4 backoff before parking) */
     :: park(me)
     fi;
     goto loop
  fi
}

proctype submitter(byte first; byte count) {
  byte i, s_tag, s_top, s_srch, nx;
  bool ok, srch;
  do
  :: i < count ->
#ifdef MUTANT_NOTIFY_BEFORE_PUSH
     notify();
     q!(first + i);
#else
     q!(first + i);                              /* publish */
     notify();                                   /* fence(seq_cst); notify */
#endif
     i++
  :: else -> break
  od;
  subs_done++
}

init {
  byte i;
  atomic {
    do
    :: i < S -> run submitter(i * (T / S), (i == S - 1 -> T - i * (T / S) : T / S)); i++
    :: else -> break
    od
  };
#ifdef SPAWN_MAY_FAIL
  /* Every thread creation may fail: then no worker exists and the work waits
   * for stop() to cancel it (E7); that final state is allowed. */
  done == T || (nspawned == 0 && subs_done == S);
  if
  :: done < T -> goto out
  :: else -> skip
  fi;
#else
  done == T;      /* not an end state: blocking here means work was lost */
#endif
  i = 0;
  do
  :: i < T -> assert(ran[i] == 1); i++
  :: else -> break
  od;
out:
  skip
}
