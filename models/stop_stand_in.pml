/*
 * models/stop_stand_in.pml — a task that blocks waiting for a child it
 * queued, while the pool stops (lib/engine/blocking.c weft_blocking_begin,
 * lib/engine/engine.c weft__engine_stop; docs/design.md E7, E9.1).
 *
 * The worker queued a child and announces its block. Whether it gets a
 * stand-in depends on when the begin lands:
 *   - it sees the pool closed: begin's closing branch starts the stand-in
 *     itself (work is visible);
 *   - it sees the pool open: begin takes the open pool's way (a grant, or
 *     the monitor's pace). Once a stop has begun, that way may make no
 *     thread at all: the stop lowered the limit to 0 before its close, and
 *     it joins the monitor after the close. The model takes that worst case:
 *     the open way makes nothing.
 * So the stop, after its close, looks at the blocks: if every live worker
 * is inside one and work is visible, it starts a stand-in itself.
 *
 *   worker:  blocked++ (seq_cst RMW), then load closed (seq_cst): closed ->
 *            if work visible, stand-in; then wait for its child; blocked--
 *   stopper: closed = 1 (seq_cst store, then a fence), monitor joined, then
 *            load blocked and live: blocked >= live and work visible ->
 *            stand-in; then join (wait until nothing is blocked)
 *   stand-in: runs the queued child
 *
 * The two seq_cst pairs are a Dekker: the begin reads closed after its
 * increment, the stopper reads blocked after its close, so at least one of
 * them sees the other's write. Promela interleaves whole statements in one
 * total order, which is what the fences give the C code.
 *
 * Properties: no invalid end state (the child runs, the stop's join ends);
 * the stand-ins started stay within the bound (one per block here).
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_NO_STOP_STAND_IN  the stop starts no stand-in (the closing
 *                              branch of begin alone): a begin that saw the
 *                              pool open waits for ever
 *   -DMUTANT_LOAD_FIRST        begin reads closed before its increment is
 *                              visible (a relaxed RMW and load, reordered):
 *                              the stopper reads blocked 0 and the begin
 *                              reads closed 0
 */
byte closed;
byte blocked;
byte live = 1;           /* the one worker; stand-ins are not counted: they come after */
bool work;               /* the child is queued (visible) */
bool child_ran;
byte stand_ins;

proctype stand_in() {
  if
  :: atomic { work -> work = 0; child_ran = 1 }   /* takes the child and runs it */
  :: atomic { !work -> skip }                     /* another took it: leaves at the stop */
  fi
}

proctype worker() {
  byte c;
  work = 1;                      /* queues its child (before the block) */
#ifdef MUTANT_LOAD_FIRST
  c = closed;
  blocked++;
#else
  blocked++;                     /* seq_cst RMW */
  c = closed;                    /* seq_cst load */
#endif
  if
  :: c && work -> atomic { stand_ins++; run stand_in() }   /* grow_closing */
  :: else -> skip                /* the open pool's way: nothing, at worst */
  fi;
  child_ran;                     /* blocks until its child has run */
  blocked--
}

proctype stopper() {
  closed = 1;                    /* seq_cst store and fence */
#ifndef MUTANT_NO_STOP_STAND_IN
  if
  :: blocked > 0 && blocked >= live && work -> atomic { stand_ins++; run stand_in() }
  :: else -> skip
  fi;
#endif
  blocked == 0;                  /* the join passes wait for the worker */
  assert(stand_ins <= 2)
}

init {
  atomic {
    run worker();
    run stopper()
  }
}
