/*
 * models/blocking_call.pml — the blockingCallFromThread waiter protocol
 * (lib/loop/threads.c weft_blocking_call_from_thread, bc_run, bc_deliver,
 * bc_dispose, bc_release, bc_finish, bc_finish_reactor_side, bc_unref;
 * lib/loop/reactor.c weft__reactor_block, weft__reactor_unblock,
 * enter_stopping, weft__reactor_release_blocked, shutdown_sequence,
 * weft_reactor_destroy).
 *
 * The shared block `bc` (heap, refs = 2: the caller + the reactor side):
 *   waiter   the calling thread: a relaxed look at the state, then under
 *            block_lock the state check, the registration in the waiter list
 *            and the push of the call's node (one critical section); then
 *            acquire loads of the futex word `done`, futex_wait(done, 0);
 *            reads the outcome, drops its reference, returns it.
 *   reactor  the reactor thread: runs the node (bc_run: ESHUTDOWN when
 *            `finished` or stopping; else fn's Deferred: fired at once, an
 *            error, or pending), fires or drops a pending Deferred
 *            (bc_deliver / bc_dispose: ECANCELED, ESHUTDOWN if stopping),
 *            each a reactor-side finish (relaxed look at `finished`, unblock
 *            under block_lock, bc_finish) then the reactor side's unref.
 *            After weft_reactor_run returns, the user joins the waiter's
 *            thread, then weft_reactor_destroy: its drain_all runs a node
 *            still queued, then r is freed; a Deferred the user still holds
 *            may be dropped or fired after that (it outlives the reactor).
 *   stopper  shutdown_sequence: enter_stopping (STOPPING stored under
 *            block_lock, then release_blocked: under block_lock each
 *            registered waiter unlinked and bc_release → bc_finish
 *            ESHUTDOWN, wake included), the shutdown triggers (the
 *            reactor's Deferred may fire or go there), drain_all (runs the
 *            node if queued), run returns.
 * bc_finish: CAS `finished` 0 → 1 (the one winner), writes status, release
 * store done = 1, futex_wake. bc_unref: fetch_sub acq_rel, the one that
 * reaches 0 frees.
 *
 * Threads. The stopper is its own process, but it runs on the reactor
 * thread (shutdown_sequence runs in weft_reactor_run, weft_reactor_detach,
 * or destroy of a never-run reactor, where that drain runs the nodes too;
 * a Deferred lives on the reactor's thread, include/weft/deferred.h): it
 * holds the token `rt` ("this thread is running reactor code") over each
 * of its steps, as the reactor process does over each of its, so the two
 * interleave only between whole steps, in any order. -DFOREIGN_STOPPER
 * drops that: the shutdown release then runs concurrently with the
 * reactor side. weft has no such configuration (include/weft/reactor.h:
 * everything but call_from_thread/stop/is_in_io_thread/running is the
 * reactor thread's), and there the check fails: bc_release (no reference
 * held) stores `done`, the waiter returns and drops its reference, the
 * reactor side (reading `finished` set) drops the last one and frees bc,
 * then bc_release's futex_wake(&bc->done) names freed memory. With
 * -DWAKE_ADDRESS_ONLY (a FUTEX_WAKE_PRIVATE does not read the word; the
 * kernel keys on the address) the foreign-stopper check passes: nothing
 * else depends on the thread affinity.
 *
 * Memory orders. Every write of `finished` is by a finisher on the reactor
 * thread, and every relaxed load of it there too, so SC is exact for it
 * (under -DFOREIGN_STOPPER a load may also read a stale 0, which only
 * sends the reader to the slow path: unblock under the lock, then the CAS,
 * an RMW that reads the last value). `state` is stored relaxed under
 * block_lock and read under it (reactor_block) or relaxed on the reactor
 * thread (bc_run, bc_dispose); the waiter's first, unlocked look may be
 * stale (it may miss STOPPING). status/value/failure are published by the
 * release store of `done` and read after the waiter's acquire load; the
 * refcount's acq_rel orders the last user's accesses before the free. The
 * kernel compares `done` with 0 atomically with queueing the waiter
 * (futex_wait); a wake before the sleep is not lost because the sleep
 * re-compares.
 *
 * Properties (pan -DSAFETY):
 *   one winner   exactly one finish wins the CAS (assert wins == 1 at the
 *                waiter's return), `done` is stored once, and the waiter
 *                returns the winner's status (the result, the error,
 *                ESHUTDOWN or ECANCELED); ESHUTDOWN only once stopping.
 *   no hang      the waiter never sleeps for ever, in every order of the
 *                call, the stop and the Deferred's fate (fired, failed,
 *                dropped unfired while running, pending until after the
 *                reactor is gone): an invalid end state otherwise (the
 *                reactor joins the waiter before destroy).
 *   no late      no access to bc after the unref that freed it (`bfreed`,
 *   access       asserted at every access incl. the futex wake, whose
 *                address is bc's), no reactor-side write of the outcome
 *                after `done` (the waiter may have read it and returned),
 *                no access to r after destroy freed it (`r_gone`).
 *   no leak      once everything is quiet, bc was freed (or never made).
 *
 * Not a mutant: bc_finish without the CAS (a relaxed load, then a store)
 * passes, with either stopper: the two finishers are already exclusive,
 * since the reactor side unregisters under block_lock before it finishes
 * and the release finishes only a waiter it unlinks under block_lock.
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_CHECK_BEFORE_REGISTER  weft__reactor_block checks the state
 *        under block_lock, unlocks, then registers and pushes under it
 *        again: a stop in between releases an empty list and runs its
 *        drain before the push; the waiter sleeps for ever (invalid end
 *        state: the reactor joins it)
 *   -DMUTANT_RELEASE_SKIPS_RUNNING  release_blocked skips a waiter whose
 *        call has already run (leaving it to its Deferred's finish): a
 *        Deferred still pending when run returns never wakes it; the
 *        waiter sleeps for ever (invalid end state: the reactor joins it)
 *   -DMUTANT_UNREF_BEFORE_WAKE  the reactor-side finish drops the reactor
 *        side's reference between the store of `done` and the futex wake:
 *        the waiter returns and drops its own, the wake hits freed memory
 *        (assertion violated)
 *   -DMUTANT_NO_UNBLOCK  the reactor-side finish does not unregister the
 *        waiter (as if the woken waiter were to unblock itself later): the
 *        waiter returns, its block is freed while still linked, and the
 *        shutdown release touches it (assertion violated)
 */
#define NONE      0
#define RESULT    1  /* fn's value, or the Deferred's result */
#define FAILED    2  /* fn failed / bc_run's error path (rc != 0) */
#define ESHUTDOWN 3
#define ECANCELED 4

bool mu;             /* r->block_lock */
bool rt;             /* the reactor thread's token (see "Threads") */
bool stopping;       /* r->state >= R_STOPPING */
bool registered;     /* bc->link is in r->blocked */
bool queued;         /* bc's node is on r's completion queue */
bool node_ran;       /* bc_run ran fn (the call is in progress) */
bool dpending;       /* fn's Deferred holds bc_deliver/bc_dispose, unfired */
bool run_done;       /* weft_reactor_run returned (after drain_all) */
bool r_gone;         /* weft_reactor_destroy freed r */
bool stop_done;      /* the stop's steps are over (ordered before run returns) */

bool made;           /* bc allocated */
byte refs;
bool finished;       /* bc->finished */
bool fin_foreign;    /* finished was set by the (foreign) stopper */
bool done;           /* bc->done, the futex word */
byte status;         /* bc->status */
bool asleep;         /* the waiter is queued on the futex */
bool bfreed;         /* bc was freed */
byte wins;           /* finishes that won the CAS */
byte win_status;
bool wret;           /* the waiter read the outcome (may have returned) */
bool waiter_done;    /* the waiter's thread ended (joinable) */
byte ret;            /* what weft_blocking_call_from_thread returned */

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }
inline rt_take() { atomic { !rt -> rt = 1 } }
inline rt_give() { rt = 0 }
inline touch() { assert(made && !bfreed) }

inline bc_unref() {
  atomic {
    touch();
    refs--;
    if
    :: refs == 0 -> bfreed = 1
    :: else -> skip
    fi
  }
}

/* The futex wake: its address is bc's. */
inline futex_wake() {
  atomic { touch(); asleep = 0 }
}

/* bc_finish: returns won = 1 if this call delivered the outcome. */
inline bc_finish(st, won, reactor_side) {
  atomic {
    touch();
    if
    :: finished -> won = 0
    :: else -> finished = 1; won = 1; wins++; win_status = st
#ifdef FOREIGN_STOPPER
       ; fin_foreign = !reactor_side
#endif
    fi
  }
  if
  :: won ->
     atomic { touch(); assert(!done && !wret); status = st };
     atomic { touch(); assert(!done); done = 1 };  /* store_release */
#ifdef MUTANT_UNREF_BEFORE_WAKE
     if
     :: reactor_side -> bc_unref(); unreffed = 1
     :: else -> skip
     fi;
#endif
#ifdef WAKE_ADDRESS_ONLY
     if
     :: !reactor_side -> asleep = 0  /* the release's wake: bc's address only */
     :: else -> futex_wake()
     fi
#else
     futex_wake()
#endif
  :: else -> skip
  fi
}

/* The relaxed look at `finished` on the reactor thread. */
inline load_finished(f) {
  atomic {
    touch();
#ifdef FOREIGN_STOPPER
    if
    :: fin_foreign && !stop_done -> f = 0   /* stale (not once the stop happens-before) */
    :: true -> f = finished
    fi
#else
    f = finished
#endif
  }
}

/* bc_finish_reactor_side; on the reactor thread, r alive unless finished. */
inline reactor_side(st, won) {
  load_finished(f);
  if
  :: f -> won = 0
  :: else ->
#ifndef MUTANT_NO_UNBLOCK
     assert(!r_gone);
     lock();                                /* weft__reactor_unblock */
     if
     :: registered -> touch(); registered = 0
     :: else -> skip
     fi;
     unlock();
#endif
     bc_finish(st, won, 1)
  fi
}

/* The reactor side's reference is dropped after its finish. */
inline side_unref() {
  if
  :: !unreffed -> bc_unref()
  :: else -> skip
  fi;
  unreffed = 0
}

/* bc_run: the node, on the reactor thread (or destroy's drain). */
inline bc_run() {
  load_finished(f);
  if
  :: f || stopping ->                       /* stopping: r->state, r alive */
     assert(!r_gone);
     reactor_side(ESHUTDOWN, won); side_unref()
  :: else ->
     assert(!r_gone);
     if
     :: reactor_side(RESULT, won); side_unref()  /* fn returned a value: the chain runs now */
     :: reactor_side(FAILED, won); side_unref()  /* fn failed, or rc != 0 */
     :: node_ran = 1; dpending = 1               /* fn returned a Deferred still unfired */
     fi
  fi
}

/* The Deferred fires (bc_deliver) or dies unfired (bc_dispose). */
inline settle() {
  dpending = 0;
  if
  :: reactor_side(RESULT, won)             /* bc_deliver */
  :: load_finished(f);                      /* bc_dispose */
     if
     :: !f ->
        assert(!r_gone);                    /* weft__reactor_stopping(bc->r) */
        if
        :: stopping -> reactor_side(ESHUTDOWN, won)
        :: else -> reactor_side(ECANCELED, won)
        fi
     :: else -> skip
     fi
  fi;
  side_unref()
}

/* release_blocked, under block_lock: unlink, then bc_release. */
inline release_blocked() {
  lock();
  if
#ifdef MUTANT_RELEASE_SKIPS_RUNNING
  :: registered && node_ran -> skip
  :: registered && !node_ran ->
#else
  :: registered ->
#endif
     touch(); registered = 0;
     bc_finish(ESHUTDOWN, swon, 0)
  :: else -> skip
  fi;
  unlock()
}

proctype waiter() {
  /* weft__reactor_stopping(r): relaxed, may miss STOPPING */
  if
  :: stopping -> ret = ESHUTDOWN; goto out
  :: true -> skip
  fi;
  atomic { made = 1; refs = 2 };
  /* weft__reactor_block */
  lock();
  if
  :: stopping -> unlock(); atomic { touch(); bfreed = 1 }; ret = ESHUTDOWN; goto out
  :: else -> skip
  fi;
#ifdef MUTANT_CHECK_BEFORE_REGISTER
  unlock();
  lock();
#endif
  registered = 1;
  queued = 1;
  unlock();
  /* while (load_acquire(&done) == 0) futex_wait(&done, 0) */
  do
  :: atomic { done -> touch(); break }
  :: atomic { !done -> touch() };
     atomic { touch(); if :: !done -> asleep = 1 :: else -> skip fi };
     !asleep
  od;
  atomic {
    touch(); ret = status; wret = 1;
    assert(wins == 1 && ret == win_status && ret != NONE);
    assert(ret != ESHUTDOWN || stopping)
  };
  bc_unref();
out:
  waiter_done = 1
}

proctype reactor() {
  bool f, won, unreffed;
  /* weft_reactor_run's loop: drains, callbacks that fire or drop fn's
   * Deferred, in any order with the stopper's steps */
  do
  :: atomic { !rt && queued && !run_done -> rt = 1; queued = 0 };
     bc_run(); rt_give()
  :: atomic { !rt && dpending && !run_done -> rt = 1 };
     settle(); rt_give()
  :: run_done -> break
  od;
  /* the user: join the waiter's thread, then weft_reactor_destroy */
  waiter_done;
  rt_take();
  if
  :: atomic { queued -> queued = 0 }; bc_run()   /* destroy's drain_all */
  :: else -> skip
  fi;
  release_blocked_by_destroy: assert(!registered);  /* destroy's release_blocked finds none */
  r_gone = 1;
  /* a Deferred the user still holds: dropped or fired now */
  if
  :: dpending -> settle()
  :: else -> skip
  fi;
  rt_give();
  atomic { assert(!made || bfreed); assert(!registered && !queued && !asleep) }
}

proctype stopper() {
  bool swon, f, won, unreffed;
#ifndef FOREIGN_STOPPER
  rt_take();
#endif
  /* enter_stopping */
  lock(); stopping = 1; unlock();
  release_blocked();
#ifndef FOREIGN_STOPPER
  rt_give();
  /* weft_reactor_fire_system_event(WEFT_SHUTDOWN): triggers run here (the
   * reactor process may settle the Deferred now) */
  rt_take();
#endif
  /* drain_all: what was queued before STOPPING */
  if
  :: atomic { queued -> queued = 0 };
     bc_run()
  :: else -> skip
  fi;
  stop_done = 1;         /* the stop's accesses happen before what follows run */
  run_done = 1;
#ifndef FOREIGN_STOPPER
  rt_give()
#endif
}

init {
  atomic {
    run waiter();
    run reactor();
    run stopper()
  }
}
