/*
 * models/window.pml — submit windows against stop (lib/engine/submit_window.h,
 * lib/engine/submit_window.c, weft__engine_close/stop in lib/engine/engine.c).
 *
 *   window add (first for e): fetch_add(windows) seq_cst; load(pushed) seq_cst:
 *            closed bit -> fetch_sub(windows), refuse; else hold the task
 *   window flush:  count_push (one RMW on pushed: count + closed bit);
 *            counted -> push (a worker or stop's drain takes it);
 *            closed  -> cancel it; then fetch_sub(windows) release
 *   stop:    fetch_or(pushed, closed bit) seq_cst; wait until load(windows)
 *            seq_cst == 0; drain (every counted node is run or cancelled);
 *            then destroy may free the engine
 *
 * Properties: a window that accepted a task never touches the engine
 * after stop returned (destroy may free it then; every access after the
 * acceptance asserts so; a refused add, like a direct submit racing stop,
 * only reads the still-live engine before it returns); every task a window
 * accepted is run or cancelled exactly once, before stop returns; a
 * refused one neither; stop returns (no invalid end state).
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_STOP_IGNORES_WINDOWS   stop does not wait for the count: a
 *                                   window flushes into a freed engine
 *   -DMUTANT_CHECK_BEFORE_REGISTER  the window reads the closed bit before it
 *                                   counts itself (the store-buffering pair
 *                                   broken): stop sees no window and frees
 */
#ifndef N
#define N 2          /* windows, one task each */
#endif

bool pclosed;        /* the closed bit of inject.pushed */
byte pushed, popped; /* counts of inject.pushed / popped */
byte windows;        /* e->windows */
bool freed;          /* stop returned: destroy may free the engine now */
#define LIVE(t) assert(!freed)
byte queued;         /* nodes pushed and not yet taken */
byte accepted[N];    /* 1 accepted, 2 refused */
byte ran[N], cancelled[N];
bool inq[N];
byte done;

proctype window(byte t) {
  bool ok;
#ifdef MUTANT_CHECK_BEFORE_REGISTER
  if
  :: pclosed -> accepted[t] = 2; goto out
  :: else -> skip
  fi;
  windows++;
#else
  windows++;                                   /* fetch_add_seq_cst(windows) */
  if
  :: pclosed ->                                /* load_seq_cst(pushed): bit set */
     windows--;
     accepted[t] = 2; goto out
  :: else -> skip
  fi;
#endif
  accepted[t] = 1;                             /* add returned 0 */
  /* flush */
  atomic { LIVE(t); pushed++; ok = !pclosed };  /* count_push */
  if
  :: ok -> atomic { LIVE(t); inq[t] = 1; queued++ }   /* push_chain + notify */
  :: else ->
     atomic { LIVE(t); pushed-- };             /* refused count taken back */
     atomic { LIVE(t); assert(ran[t] + cancelled[t] == 0); cancelled[t] = 1 }
  fi;
  atomic { LIVE(t); windows-- };               /* fetch_sub(windows) release */
out:
  done++
}

/* A worker that runs what is queued until stop has joined it. */
bool joined;
proctype worker() {
  byte i;
  do
  :: atomic {
       !joined && queued > 0 ->
       i = 0;
       do
       :: i < N && !inq[i] -> i++
       :: i < N && inq[i] -> break
       :: i == N -> break
       od;
       assert(i < N);
       inq[i] = 0; queued--; popped++;
       assert(ran[i] + cancelled[i] == 0); ran[i] = 1
     }
  :: joined -> break
  od
}

proctype stopper() {
  byte i;
  pclosed = 1;                                 /* set_closed: fetch_or seq_cst */
#ifndef MUTANT_STOP_IGNORES_WINDOWS
  windows == 0;                                /* load_seq_cst(windows) == 0 */
#endif
  joined = 1;                                  /* workers exit; joined */
  /* drain: cancel what is queued until every counted node was taken */
  do
  :: atomic {
       queued > 0 ->
       i = 0;
       do
       :: i < N && !inq[i] -> i++
       :: i < N && inq[i] -> break
       :: i == N -> break
       od;
       inq[i] = 0; queued--; popped++;
       assert(ran[i] + cancelled[i] == 0); cancelled[i] = 1
     }
  :: atomic { queued == 0 && pushed == popped } -> break
  od;
  /* stop returns: every task accepted so far is accounted for */
  atomic {
    freed = 1;                                 /* destroy may free from here */
    i = 0;
    do
    :: i < N ->
       if
       :: accepted[i] == 1 -> assert(ran[i] + cancelled[i] == 1)
       :: else -> skip
       fi;
       i++
    :: else -> break
    od
  };
  done == N;
  i = 0;
  do
  :: i < N ->
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
    :: i < N -> run window(i); i++
    :: else -> break
    od;
    run worker();
    run stopper()
  }
}
