/*
 * models/stop_join.pml — stop joins every thread although a worker may
 * still start one after close (lib/engine/engine.c weft__engine_stop,
 * lib/engine/blocking.c weft_blocking_begin; docs/design.md E7, E9.1).
 *
 * After close nothing starts a thread, with one exception: a worker that
 * announces a block (weft_blocking_begin) while work it may be waiting for
 * is queued gets its stand-in, or a task that waits on a child it queued
 * would hang the stop. Only a live worker of the pool can start that
 * thread, into a free slot or one whose thread was joined:
 *
 *   worker:  while live, may start a thread (under the engine mutex: slot
 *            FREE or JOINED -> LIVE); then exits (LIVE -> EXITED)
 *   stop:    passes over the slots; a LIVE or EXITED slot is joined (wait
 *            for EXITED, then JOINED under the mutex); another pass follows
 *            any pass that joined a thread; done after a pass that joined
 *            none. While it waits on a LIVE slot it may start a thread
 *            itself (join_watching: a stand-in for workers that all wait
 *            without saying so), the same way a worker does
 *
 * A pass that joins nothing saw every slot FREE or JOINED, so no thread
 * was live at any point of it (a live one, or one that exited meanwhile,
 * would have been seen LIVE or EXITED where it sits, as slots change only
 * under the mutex and a joined slot is reused only by a live worker or by
 * the stop while it waits on one, a pass that joins): no thread is left
 * to start another.
 *
 * weft__engine_stop_deadline (weft_threadpool_stop_timeout) joins in the
 * same passes, each join bounded by its deadline; it also ends at the
 * first pass that finds a thread late, and leaves that thread, and any it
 * starts, to the later stop that joins without one.
 *
 * Properties (assertions): when stop is done every slot is FREE or JOINED,
 * and no thread is started after it.
 *
 * Mutant (pan must report an error):
 *   -DMUTANT_ONE_PASS  one pass over the slots (the code before stand-ins
 *                      after close): a worker starts a thread into a slot
 *                      the pass has already visited, and stop returns with
 *                      it running
 *   -DMUTANT_STOP_START_LATE  the stop starts its stand-in after its passes
 *                      (as a monitor kept alive until the joins were done
 *                      would): nothing joins it
 */
#ifndef S
#define S 3              /* slots */
#endif
#ifndef K
#define K 2              /* threads started after close, at most */
#endif

#ifndef KS
#define KS 1             /* threads the stop itself starts, at most */
#endif

#define FREE   0
#define LIVE   1
#define EXITED 2
#define JOINED 3

byte state[S];
byte started;            /* threads started after close */
bool mu;                 /* the engine mutex */
bool stopped;
byte stop_started;       /* threads the stop started */

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

proctype worker(byte me) {
  byte j;
  do
  :: started < K ->
     lock();
     j = 0;
     do
     :: j < S && state[j] != FREE && state[j] != JOINED -> j++
     :: j < S && (state[j] == FREE || state[j] == JOINED) -> break
     :: j == S -> break
     od;
     if
     :: j < S && started < K ->
        assert(!stopped);  /* only a live worker starts one */
        state[j] = LIVE;
        started++;
        run worker(j)
     :: else -> skip
     fi;
     unlock()
  :: break
  od;
  state[me] = EXITED     /* worker_exited: a store-release in the code */
}

/* The stop's stand-in (join_watching), under the mutex like a worker's. */
inline stop_start() {
  lock();
  j = 0;
  do
  :: j < S && state[j] != FREE && state[j] != JOINED -> j++
  :: j < S && (state[j] == FREE || state[j] == JOINED) -> break
  :: j == S -> break
  od;
  if
  :: j < S ->
     assert(!stopped);
     state[j] = LIVE;
     stop_started++;
     run worker(j)
  :: else -> skip
  fi;
  unlock()
}

proctype stopper() {
  byte i, j;
  bool again = 1;
  do
  :: again ->
     again = 0;
     i = 0;
     do
     :: i < S ->
        if
        :: state[i] == LIVE || state[i] == EXITED ->
#ifndef MUTANT_STOP_START_LATE
           if
           :: state[i] == LIVE && stop_started < KS -> stop_start()
           :: true -> skip
           fi;
#endif
           state[i] == EXITED;           /* pthread_join */
           lock();
           state[i] = JOINED;
           unlock();
#ifndef MUTANT_ONE_PASS
           again = 1
#endif
        :: else -> skip
        fi;
        i++
     :: else -> break
     od
  :: else -> break
  od;
#ifdef MUTANT_STOP_START_LATE
  if
  :: stop_started < KS -> stop_start()
  :: true -> skip
  fi;
#endif
  stopped = 1;
  i = 0;
  do
  :: i < S -> assert(state[i] == FREE || state[i] == JOINED); i++
  :: else -> break
  od
}

init {
  atomic {
    state[0] = LIVE;     /* two workers live at close */
    state[1] = LIVE;
    run worker(0);
    run worker(1);
    run stopper()
  }
}
