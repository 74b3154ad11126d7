/*
 * models/sole.pml — the sole worker's fence-free notify (docs/design.md
 * E5.4, lib/engine/park.h weft__engine_notify, lib/base/membarrier.c).
 *
 * While an engine has only ever had one worker slot, that worker's own
 * notify (after a push to its ring) runs without E5.1's seq_cst fence: the
 * parties its Dekker pairs with pay instead, with membarrier(2), which makes
 * every running thread of the process execute a full barrier. They are:
 *   - the spawner of a second worker: it clears `sole`, calls membarrier,
 *     then publishes the new slot and starts the thread (whose scans and
 *     park re-check follow);
 *   - the monitor's disarm (E9.2): after its bias add and fence, while the
 *     engine has one slot, it calls membarrier before it re-checks the
 *     backlog.
 *
 * The memory model is TSO with one store buffer, the sole worker's (the one
 * thread that skips a fence): its push of a child to its ring is buffered
 * and drains at any moment; its fence, its RMWs (the arm's CAS, the pop of
 * a parked worker) and a membarrier issued by another thread drain it. The
 * other threads fence where the C code does; their stores are visible at
 * once, which only makes the model weaker where the C code is stronger.
 *
 * Scenario: the sole worker W0 pushes a child onto its ring, notifies, and
 * then blocks until the child has run (a task that waits for the child it
 * spawned: only another thread can run it). A second worker W1 can come
 * from a spawner (a foreign notify, weft_blocking_begin's grant) or from the
 * monitor, which is armed at first and may disarm; an armed monitor that
 * sees the backlog with nobody parked starts a stand-in.
 *
 * Property: W0 waits at a non-end label until the child ran, so a final
 * state where the child is still in the ring (W1 asleep or never started)
 * is an invalid end state.
 *
 * Mutants (pan must report an error; models/run.sh --expect-error):
 *   -DMUTANT_SPAWN_NO_MEMBARRIER   the spawner does not call membarrier: W1
 *                                  scans and parks before the push drains
 *   -DMUTANT_DISARM_NO_MEMBARRIER  the monitor's disarm re-checks the
 *                                  backlog without membarrier
 *   -DMUTANT_NO_FENCE_EVER         the worker skips its fence whatever
 *                                  `sole` says (no spawner clears it first)
 */

bool ring;        /* the child, as other threads see the ring */
bool sb;          /* W0's buffered store of it */
bool sole = 1;
byte srch;        /* ctl.searching */
bool parked;      /* W1 on the idle stack */
bool woken;       /* W1's wake word */
bool armed = 1;   /* the monitor */
bool bias;        /* the unarmed bias on limit_value */
bool started;     /* W1 claimed (spawner or monitor, at most once) */
bool hw2;         /* its slot published (hw = 2), after the membarrier */
bool done;        /* the child ran */

inline drain() {
  if
  :: sb -> ring = 1; sb = 0
  :: else -> skip
  fi
}

/* membarrier(2): every running thread of the process executes a full
 * barrier, W0 included; a W0 not on a CPU was switched out, which drains
 * its buffer too. */
inline membarrier() {
  atomic { drain() }
}

proctype w1() {
  /* Started as a searcher (the spawner counted it): scan, else park. */
  if
  :: ring -> done = 1; srch--; goto out
  :: else -> skip
  fi;
  atomic { srch--; parked = 1 };   /* E5.2's CAS; then its fence: visible at once here */
  if
  :: ring -> atomic { if :: parked -> parked = 0; woken = 1 :: else -> skip fi }
  :: else -> skip
  fi;
end_sleep:
  woken;
  if
  :: ring -> done = 1
  :: else -> skip
  fi;
out:
  skip
}

inline start_w1() {
  atomic {
    if
    :: !started -> started = 1; srch++
    :: else -> goto skip_start
    fi
  };
#ifndef MUTANT_NO_FENCE_EVER
  sole = 0;
#endif
#ifndef MUTANT_SPAWN_NO_MEMBARRIER
  membarrier();
#endif
  hw2 = 1;
  run w1();
skip_start:
  skip
}

/* A foreign notify or a grant that starts W1, or nothing of the kind. */
proctype spawner() {
  if
  :: start_w1()
  :: skip
  fi
}

proctype monitor() {
  do
  :: atomic { armed && ring && !parked && !started } -> start_w1(); break
  :: armed ->
     /* E9.2 disarm: clear armed, add the bias, fence, re-check. */
     armed = 0;
     bias = 1;
#ifndef MUTANT_DISARM_NO_MEMBARRIER
     if
     :: !hw2 -> membarrier()   /* the engine has one slot (hw, acquire) */
     :: else -> skip
     fi;
#endif
     atomic {
       if
       :: ring && !parked && !armed -> armed = 1; bias = 0
       :: else -> skip
       fi
     }
  :: !armed ->
end_idle:
     armed
  od
}

proctype w0() {
  sb = 1;                          /* the push: release store, buffered */
  if
  :: sole -> skip                  /* E5.4: a compiler barrier only */
  :: else -> atomic { drain() }    /* E5.1's fence */
  fi;
  /* The ctl read and the fast path. */
  if
  :: parked -> atomic { drain(); parked = 0; srch++; woken = 1 }   /* pop and wake: a seq_cst CAS */
  :: !parked && srch > 0 -> skip   /* an awake searcher will see it */
  :: !parked && srch == 0 ->
     if
     :: bias -> atomic { drain(); armed = 1; bias = 0 }   /* slow path: arm (a seq_cst CAS) */
     :: else -> skip
     fi
  fi;
  /* Block until the child ran. */
  done
}

proctype flusher() {
end_flush:
  do
  :: atomic { sb -> ring = 1; sb = 0 }
  od
}

init {
  atomic {
    run w0();
    run flusher();
    run monitor();
    run spawner()
  }
}
