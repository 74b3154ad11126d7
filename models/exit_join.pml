/*
 * models/exit_join.pml — a thread that leaves on its own against stop
 * (docs/design.md E9.3; lib/engine/spawn.c weft__engine_worker_exited,
 * lib/engine/engine.c weft__engine_stop). A worker whose keep-alive ran out
 * leaves while the pool runs and detaches itself, so that its stack goes
 * back at once; its slot then reads JOINED and nobody joins it. Stop closes
 * the engine (under the engine mutex), then joins every slot it reads LIVE
 * or EXITED, and destroy frees the slots.
 *
 * The worker decides under the mutex: if the engine is not closed it
 * detaches and stores JOINED there; else it stores EXITED (after the
 * mutex) and leaves the join to stop. So stop never joins a detached
 * thread (undefined behaviour: glibc returns EINVAL, or joins whatever
 * thread reuses the descriptor), and no worker writes its slot after stop
 * has returned (destroy frees it).
 *
 * Properties (pan -DSAFETY):
 *   join        stop joins only a thread that did not detach.
 *   no late     the worker's last write to its slot happens before the
 *   write       slot is freed.
 *   no hang     init waits for stop (a join that never returns is an
 *               invalid end state).
 *
 * Mutant (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_DETACH_UNLOCKED  the worker detaches and stores JOINED without
 *                             the mutex and without looking at `closed` (the
 *                             code before the fix)
 */
#define LIVE 0
#define EXITED 1
#define JOINED 2

bool mu;            /* the engine mutex */
bool closed;
bool detached;      /* the worker thread detached itself */
bool ended;         /* the worker thread has terminated (join returns) */
bool freed;         /* destroy freed the slot */
byte state = LIVE;  /* the slot's state word */
bool stopped;

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

proctype worker() {
#ifdef MUTANT_DETACH_UNLOCKED
  detached = 1;
  assert(!freed); state = JOINED;
#else
  lock();
  if
  :: !closed -> detached = 1; assert(!freed); state = JOINED; unlock()
  :: else -> unlock(); assert(!freed); state = EXITED
  fi;
#endif
  ended = 1
}

proctype stopper() {
  byte st;
  lock(); closed = 1; unlock();      /* weft__engine_close */
  st = state;                        /* acquire load */
  if
  :: st == LIVE || st == EXITED ->
     assert(!detached);              /* pthread_join of a joinable thread */
     ended;                          /* join returns once the thread ended */
     lock(); state = JOINED; unlock()
  :: else -> skip
  fi;
  freed = 1;                         /* destroy */
  stopped = 1
}

init {
  atomic { run worker(); run stopper() };
  stopped                            /* not an end state: stop hung */
}
