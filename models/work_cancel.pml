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
 *   cancel:  C threads (weft_threadpool_cancel_work): the owner check
 *            (not tp's -> EINVAL), then, a step later, a CAS that sets
 *            CLAIMED|CANCELLED only while the word names tp and CLAIMED is
 *            clear (weft__work_claim_cancel_for) -> 0 (won); not tp's any
 *            more -> EINVAL; found CANCELLED -> EALREADY; else EBUSY, the
 *            word left as it is
 *   hand-on: after_cb (either status) may hand the request on at once, one
 *            store of a new owner with a clear claim: to another pool,
 *            whose worker then starts it (its own fetch_or), or with a
 *            bad argument (owner NULL, queue_work_refused: nobody runs
 *            it). A cancel whose owner check came before the store may
 *            make its claim after it (test_cancel_handed_on).
 *
 * Properties (assertions at the end): after_cb is called exactly once;
 * work_cb runs at most once and never after a cancel that returned 0, and
 * then after_cb got ECANCELED; a cancel that returned EBUSY saw a started
 * request (work_cb ran); at most one cancel returns 0; nothing touches the
 * request after after_cb handed it back (every access asserts so); once
 * after_cb has run, a cancel (the owner's, on the request it holds again)
 * cannot return 0, which would promise an after_cb that never comes; a
 * cancel returns EALREADY only when a cancel won or the stop cancelled the
 * request (after_cb got ECANCELED), never for one that ran. A cancel that
 * returned 0 is the one whose win the tell reports (the worker's or the
 * stop's RMW found its CANCELLED); tp's cancel never decides the other
 * pool's submission (that one's after_cb never gets ECANCELED); EINVAL
 * only for a request handed on.
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
 *   -DMUTANT_CLAIM_BITS_ONLY  the claim's CAS looks at the claim bits only
 *                             (weft__work_claim_cancel, before a4fd479): a
 *                             cancel that checked the owner before an
 *                             after_cb handed the request on wins the new
 *                             owner's clear claim: 0 for a request that
 *                             ran, or the other pool's submission cancelled
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
#define EINVAL 9
#define NOBODY 0     /* owner NULL: a re-queue refused for a bad argument */
#define TP 1         /* the pool the cancels are made on */
#define OTHER 2      /* another pool the after_cb queued the request on */

byte word;           /* the claim bits of the request's owner word */
byte owner = TP;     /* the rest of the word: whose submission it is */
bool taken;          /* the request left its queue (worker or stop) */
bool returned;       /* after_cb was called: the request is the owner's */
byte told, ran, status;
byte won;            /* cancels that returned 0 */
byte busy;           /* cancels that returned EBUSY */
byte already;        /* cancels that returned EALREADY */
byte inval;          /* cancels that returned EINVAL */
bool cancel_seen;    /* the tell's RMW found a winning cancel's CANCELLED */
byte other_status = 255; /* the other pool's after_cb, if it was handed on */
byte done;
#define LIVE assert(!returned)

/* after_cb: the request is the owner's from here, and the owner may hand it
 * on at once (one store: new owner, claim clear). */
inline tell(s) {
  LIVE;
  status = s;
  told++;
  returned = true;
  if
  :: skip
  :: atomic { owner = OTHER; word = 0 }       /* weft_threadpool_queue_work(tp2) */
  :: atomic { owner = NOBODY; word = 0 }      /* queue_work_refused */
  fi
}

/* The other pool's worker: pops the request once it was queued there, and
 * starts it as any worker does. Nobody cancels on that pool. */
proctype other_worker() {
  byte old;
end_pop:
  atomic { owner == OTHER -> old = word; word = word | CLAIMED };
  if
  :: (old & CLAIMED) == 0 -> other_status = OK
  :: else -> other_status = ECANCELED
  fi
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
  :: else -> cancel_seen = true; tell(ECANCELED)  /* work_skip */
  fi;
  done++
}

proctype stopper() {
end_pop:
  atomic { !taken -> taken = true };           /* stop's E7 pass */
#ifndef MUTANT_STOP_NO_CLAIM
  atomic {                                     /* work_cancel's claim */
    LIVE;
    cancel_seen = (word & CANCELLED) != 0;
    if
    :: (word & CLAIMED) == 0 -> word = word | CLAIMED | CANCELLED
    :: else -> skip
    fi
  };
#endif
  tell(ECANCELED);                             /* work_cancel */
  done++
}

proctype canceller() {
  byte old;
  bool made, mine;
  /* The owner's cancel: made while the request is tp's submission (before
   * its after_cb); one that would come later is not made. Its first step
   * is the owner check (cancel.c); the claim comes a step later, and the
   * request may have been handed on meanwhile: the caller keeps it valid,
   * so no LIVE there. */
  atomic {
    if
    :: !returned -> made = true; mine = (owner == TP)
    :: else -> skip
    fi
  };
  if
  :: !made -> skip
  :: made && !mine -> inval++
  :: made && mine ->
     atomic {
       old = word;
#ifdef MUTANT_LOSER_MARKS
       if
       :: owner != TP -> old = 255                                   /* EINVAL */
       :: else -> word = word | CLAIMED | CANCELLED                  /* fetch_or */
       fi;
#elif defined(MUTANT_CLAIM_BITS_ONLY)
       if
       :: (old & CLAIMED) == 0 -> word = word | CLAIMED | CANCELLED  /* the old CAS */
       :: else -> skip
       fi;
#else
       if
       :: owner != TP -> old = 255                                   /* EINVAL */
       :: owner == TP && (old & CLAIMED) == 0 ->
          word = word | CLAIMED | CANCELLED                          /* the CAS */
       :: else -> skip                                               /* left as it is */
       fi;
#endif
     };
     if
     :: old == 255 -> inval++
     :: old != 255 && (old & CLAIMED) == 0 ->
        won++;
#ifdef MUTANT_CANCEL_TELLS
        tell(ECANCELED)
#else
        skip
#endif
     :: old != 255 && (old & CLAIMED) != 0 && (old & CANCELLED) != 0 -> already++  /* EALREADY */
     :: old != 255 && (old & CLAIMED) != 0 && (old & CANCELLED) == 0 -> busy++  /* EBUSY */
     fi
  fi;
  done++
}

init {
  byte i;
  atomic {
    run worker();
    run stopper();
    run other_worker();
    for (i : 1 .. C) { run canceller() }
  }
  /* One of worker/stopper never gets the request: it stays blocked at its
   * pop, a valid end (end_pop: the queue is empty); so does the other
   * pool's worker unless the request was handed on to it. */
  (done == C + 1 && (owner != OTHER || other_status != 255));
  assert(told == 1);
  assert(ran <= 1);
  assert(won <= 1);
  assert(!(won == 1 && ran == 1));
  assert(won == 0 || status == ECANCELED);
  assert(ran == 0 || status == OK);
  assert(busy == 0 || ran == 1);
  assert(already == 0 || status == ECANCELED);
  assert(won == 0 || cancel_seen);
  assert(other_status != ECANCELED);
  assert(inval == 0 || owner != TP);
  /* A cancel once the request is the owner's again finds it decided (or
   * not tp's: EINVAL). */
  assert(owner != TP || (word & CLAIMED) != 0)
}
