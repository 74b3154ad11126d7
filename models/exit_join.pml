/*
 * models/exit_join.pml — how a worker thread ends against the joins of its
 * slot (docs/design.md E9.3; lib/engine/spawn.c weft__engine_worker_exited
 * and weft__engine_join_slot, lib/engine/engine.c weft__engine_stop).
 *
 * Two ways a pool thread can be detached, and the joiner must never
 * pthread_join a detached thread (undefined behaviour: glibc returns
 * EINVAL, or joins whatever thread reuses the descriptor):
 *   - a worker that leaves while the pool runs (its keep-alive ran out,
 *     or a shrink told it to) detaches itself, so that its stack goes
 *     back at once and no spawn joins it under the mutex; it decides
 *     under the engine mutex: not closed → detach and store JOINED there
 *     (nobody joins a JOINED slot); closed → store EXITED after the mutex
 *     and leave the join to stop;
 *   - a thread factory may hand over a thread it detached, when it created
 *     it or right after (the factory runs under the engine mutex, held by
 *     the spawner). The thread records it in its slot's `detached` word at
 *     its start and again on its way out, under the mutex, before it
 *     decides whether to detach itself: the factory call that made it has
 *     returned by then.
 * On its way out (EXITED) the thread stores `gone` last; a joiner (stop)
 * waits for `gone`, then joins only a thread whose `detached` is 0, then
 * frees the slot (destroy).
 *
 * Properties (pan -DSAFETY):
 *   join        stop joins only a thread that is not detached.
 *   no late     the worker's last write to its slot happens before the
 *   write       slot is freed.
 *   no hang     init waits for stop (a join that never returns is an
 *               invalid end state).
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_DETACH_UNLOCKED  the worker detaches and stores JOINED without
 *                             the mutex and without looking at `closed`:
 *                             a stop that read the slot LIVE waits for a
 *                             `gone` that never comes (invalid end state)
 *   -DMUTANT_NO_HANDSHAKE     the second look at `detached` before taking
 *                             the mutex: a thread that ends before its
 *                             factory detaches it is joined
 */
#define LIVE 0
#define EXITED 1
#define JOINED 2

bool mu;            /* the engine mutex */
bool closed;
bool self_detached; /* the worker thread detached itself (keep-alive) */
bool fdetached;     /* its factory detached it */
bool flag;          /* the slot's `detached` word */
bool gone;          /* the slot's `gone` word: the thread's last store */
bool ended;         /* the worker thread has terminated (join returns) */
bool freed;         /* destroy freed the slot */
byte state = LIVE;  /* the slot's state word */
bool stopped;

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

/* The spawner's factory call, under the mutex the spawner holds: it may
 * detach the thread after creating it, or not. */
proctype factory() {
  if
  :: fdetached = 1
  :: skip
  fi;
  unlock()
}

proctype worker() {
  flag = fdetached;  /* the look at its start: the factory may not have detached yet */
#ifdef MUTANT_NO_HANDSHAKE
  flag = flag || fdetached; /* the second look before the mutex */
#endif
#ifdef MUTANT_DETACH_UNLOCKED
  flag = flag || fdetached;
  self_detached = !flag;
  assert(!freed); state = JOINED;
  goto done;
#else
  /* Every exit: under the mutex, the second look (the factory call that
   * made it has returned), then detach and JOINED while the pool runs
   * (keep-alive, shrink); EXITED once closed (stop joins). */
  lock();
#ifndef MUTANT_NO_HANDSHAKE
  flag = flag || fdetached;
#endif
  if
  :: !closed && (flag || !fdetached) ->
     /* flag: nothing to detach; else pthread_detach succeeds */
     self_detached = !flag; assert(!freed); state = JOINED; unlock();
     goto done
  :: else -> unlock() /* closed, or pthread_detach refused (EINVAL): exit below */
  fi;
#endif
  assert(!freed); state = EXITED;
  assert(!freed); gone = 1;
done:
  ended = 1
}

proctype stopper() {
  byte st;
  lock(); closed = 1; unlock();      /* weft__engine_close */
  st = state;                        /* acquire load */
  if
  :: st == LIVE || st == EXITED ->
     gone;                           /* weft__engine_join_slot: its last store */
     if
     :: !flag ->
        assert(!self_detached && !fdetached); /* pthread_join of a joinable thread */
        ended                        /* join returns once the thread ended */
     :: else -> skip                 /* detached: nothing to join */
     fi;
     lock(); state = JOINED; unlock()
  :: else -> skip
  fi;
  freed = 1;                         /* destroy */
  stopped = 1
}

init {
  atomic { mu = 1; run factory(); run worker(); run stopper() };
  stopped                            /* not an end state: stop hung */
}
