/*
 * models/work_cancel.pml — cancelling a queued weft_work against a worker
 * starting it, and against a stop (lib/engine/work_claim.h,
 * weft_threadpool_cancel_work in lib/pool/cancel.c, work_run / work_cancel
 * in lib/pool/threadpool.c).
 *
 *   request: `word` holds the claim bits (CLAIMED 1, CANCELLED 2), 0 at submit
 *   queue:   exactly one of {a worker, stop} takes the request out (the
 *            engine's queues hand each node out once)
 *   worker:  fetch_or(word, CLAIMED): bit was clear -> work_cb runs, then
 *            after_cb(0); set -> after_cb(ECANCELED)
 *   stop:    the task's cancel callback: fetch_or(word, CLAIMED|CANCELLED),
 *            then after_cb(ECANCELED) (a stop's E7 pass, stop_timeout's
 *            sweep, or a worker discarding under it)
 *   cancel:  C threads, each a CAS that sets CLAIMED|CANCELLED only while
 *            CLAIMED is clear -> 0 (won); found CANCELLED -> EALREADY; else
 *            EBUSY, the word left as it is
 *
 * Properties (assertions at the end): after_cb is called exactly once;
 * work_cb runs at most once and never after a cancel that returned 0, and
 * then after_cb got ECANCELED; a cancel that returned EBUSY saw a started
 * request (work_cb ran); at most one cancel returns 0; nothing touches the
 * request after after_cb handed it back (every access asserts so); once
 * after_cb has run, a cancel (the owner's, on the request it holds again)
 * cannot return 0, which would promise an after_cb that never comes; a
 * cancel returns EALREADY only when a cancel won or the stop cancelled the
 * request (after_cb got ECANCELED), never for one that ran.
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_TEST_THEN_SET    the worker reads the word and then writes the
 *                             bit (two steps, not one RMW): a cancel in
 *                             between wins too, and work_cb runs anyway
 *   -DMUTANT_CANCEL_TELLS     the winning cancel calls after_cb itself, as if
 *                             the request could leave its queue at once:
 *                             the owner is told twice
 *   -DMUTANT_STOP_NO_CLAIM    stop reports without setting the claim: a
 *                             cancel after a stop_timeout's sweep returned
 *                             0 for a request already handed back
 *   -DMUTANT_LOSER_MARKS      the cancel is a fetch_or (as it was): one that
 *                             loses to the start still sets CANCELLED, and
 *                             the next cancel of the request that ran
 *                             answers EALREADY
 */
#ifndef C
#define C 2          /* cancelling threads */
#endif
#define CLAIMED 1
#define CANCELLED 2
#define OK 0
#define ECANCELED 7
#define EBUSY 5
#define EALREADY 8

byte word;           /* the claim bits of the request's owner word */
bool taken;          /* the request left its queue (worker or stop) */
bool returned;       /* after_cb was called: the request is the owner's */
byte told, ran, status;
byte won;            /* cancels that returned 0 */
byte busy;           /* cancels that returned EBUSY */
byte already;        /* cancels that returned EALREADY */
byte done;
#define LIVE assert(!returned)

inline tell(s) {
  LIVE;
  status = s;
  told++;
  returned = true;
}

proctype worker() {
  byte old;
end_pop:
  atomic { !taken -> taken = true };           /* pop (the stop may take it) */
#ifdef MUTANT_TEST_THEN_SET
  LIVE; old = word;
  LIVE; word = word | CLAIMED;
#else
  atomic { LIVE; old = word; word = word | CLAIMED };  /* fetch_or: lock bts */
#endif
  if
  :: (old & CLAIMED) == 0 -> ran++; tell(OK)   /* work_cb, after_cb(0) */
  :: else -> tell(ECANCELED)                   /* work_skip */
  fi;
  done++
}

proctype stopper() {
end_pop:
  atomic { !taken -> taken = true };           /* stop's E7 pass */
#ifndef MUTANT_STOP_NO_CLAIM
  atomic { LIVE; word = word | CLAIMED | CANCELLED };  /* work_cancel's fetch_or */
#endif
  tell(ECANCELED);                             /* work_cancel */
  done++
}

proctype canceller() {
  byte old;
  bool made;
  /* The owner's cancel: valid until after_cb handed the request back; one
   * that would come later is not made. */
  atomic {
    if
    :: !returned -> old = word;
#ifdef MUTANT_LOSER_MARKS
       word = word | CLAIMED | CANCELLED;
#else
       if
       :: (old & CLAIMED) == 0 -> word = word | CLAIMED | CANCELLED  /* the CAS */
       :: else -> skip                                               /* left as it is */
       fi;
#endif
       made = true
    :: else -> skip
    fi
  };
  if
  :: !made -> skip
  :: made && (old & CLAIMED) == 0 ->
     won++;
#ifdef MUTANT_CANCEL_TELLS
     tell(ECANCELED)
#else
     skip
#endif
  :: made && (old & CLAIMED) != 0 && (old & CANCELLED) != 0 -> already++  /* EALREADY */
  :: made && (old & CLAIMED) != 0 && (old & CANCELLED) == 0 -> busy++  /* EBUSY */
  fi;
  done++
}

init {
  byte i;
  atomic {
    run worker();
    run stopper();
    for (i : 1 .. C) { run canceller() }
  }
  /* One of worker/stopper never gets the request: it stays blocked at its
   * pop, a valid end (end_pop: the queue is empty). */
  (done == C + 1);
  assert(told == 1);
  assert(ran <= 1);
  assert(won <= 1);
  assert(!(won == 1 && ran == 1));
  assert(won == 0 || status == ECANCELED);
  assert(ran == 0 || status == OK);
  assert(busy == 0 || ran == 1);
  assert(already == 0 || status == ECANCELED);
  /* A cancel once the request is the owner's again finds it decided. */
  assert((word & CLAIMED) != 0)
}
