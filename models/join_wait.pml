/*
 * models/join_wait.pml — a pool task in blockingCallFromThread against a
 * stop of its pool on the reactor's thread (lib/engine/join_wait.c
 * weft__engine_join_wait_begin/_end, weft__engine_join_begin/_end;
 * lib/loop/threads.c weft_blocking_call_from_thread on a pool thread,
 * bc_waits_for, bc_enter, bc_join_release, bc_run, bc_deliver, bc_dispose,
 * bc_release, bc_finish, bc_finish_reactor_side, bc_unref;
 * lib/pool/threadpool.c engine_stop_as; lib/loop/reactor.c set_io_thread,
 * weft__reactor_blocked_init, weft__reactor_block,
 * weft__reactor_block_refused, weft__reactor_unblock, enter_stopping,
 * weft__reactor_release_blocked, shutdown_sequence).
 *
 * The blocking call's own protocol (finish/refs/done against the reactor's
 * shutdown) is models/blocking_call.pml; this model keeps its steps and adds
 * the engine's waiter list and the join. The block `bc` (heap, refs = 2: the
 * caller + the reactor side):
 *   waiter   a worker of pool e, in a task, any time (before the reactor
 *            runs too): a relaxed look at the reactor's state;
 *            weft__reactor_blocked_init (bc->link learns the reactor's
 *            thread if the run set it: `io_known`); then
 *            weft__engine_join_wait_begin: under e->mu, the `joining`
 *            check (e->joining && bc_waits_for(w, e->joiner), which learns
 *            the thread from r again, under e->mu, then answers io_known:
 *            the joiner is the reactor's thread) and bc_enter: joining →
 *            weft__reactor_block_refused
 *            (under block_lock: ESHUTDOWN if stopping, else EDEADLK);
 *            otherwise weft__reactor_block (under block_lock: ESHUTDOWN if
 *            stopping, else register in r's waiter list, learn the thread
 *            if the run set it, and push the node);
 *            on success the link into e's waiter list, still under e->mu. A
 *            refusal frees bc (never shared) and returns. Then acquire loads
 *            of `done`, futex_wait(done, 0); weft__engine_join_wait_end
 *            (under e->mu, unlink if still linked: it reads w->linked, in
 *            bc); reads the outcome, drops its reference, returns; the task
 *            ends and the worker's thread may exit (`waiter_done`).
 *   reactor  the reactor thread's run: set_io_thread first (under
 *            block_lock: `ran`, and each waiter registered by then learns
 *            the thread), then the loop, whose steps all come after it:
 *            runs the node (bc_run), fires or
 *            drops fn's Deferred (bc_deliver / bc_dispose), each a
 *            reactor-side finish (relaxed look at `finished`, unblock under
 *            block_lock, bc_finish) then the reactor side's unref; and, from
 *            any callback (a step of its own, or fn itself while bc_run runs
 *            it), weft_threadpool_stop of e: engine_stop_as =
 *            weft__engine_join_begin (under e->mu: joining = 1, each linked
 *            waiter whose bc_waits_for(w, self) holds, i.e. whose link
 *            learnt the thread (read from the link, never from r), unlinked
 *            and released:
 *            bc_join_release → bc_finish_reactor_side(EDEADLK)), then
 *            weft__engine_stop, which joins the worker's thread (waits for
 *            `waiter_done`), then weft__engine_join_end (joining = 0 under
 *            e->mu). After run returns the user may stop the pool there
 *            (same join), then joins the waiter's thread, then
 *            weft_reactor_destroy (its drain runs a node still queued).
 *   stopper  shutdown_sequence, on the reactor thread, once the run began
 *            (a startup trigger's weft_reactor_stop): enter_stopping +
 *            release_blocked (ESHUTDOWN finishes of registered waiters),
 *            the SHUTDOWN firing (its release_blocked again, then the
 *            triggers: the pool's stop, the same join, unless the pool was
 *            stopped already), drain_all, run returns.
 * Lock order: e->mu, then block_lock (the waiter's enter and the join's
 * release both take block_lock under e->mu; the shutdown's release takes
 * block_lock alone); both are modelled, so a cycle would show as an invalid
 * end state.
 *
 * Threads. Everything but the waiter runs on the reactor's thread: each
 * step holds the token `rt` for its whole length (the join holds it while
 * it waits for the worker: the reactor's thread is stuck in the callback),
 * so the reactor's steps interleave with each other only between whole
 * steps, and with the waiter anywhere. All finishes are then on the reactor
 * thread, so `finished` (relaxed) is exact under SC; `done` publishes the
 * outcome (release/acquire); the refcount's acq_rel orders the last user's
 * accesses before the free. The futex: a wake before the sleep is not lost,
 * the sleep re-compares `done`.
 *
 * Properties (pan -DSAFETY):
 *   one outcome  exactly one finish wins (wins == 1 at the waiter's return),
 *                `done` and the outcome are written once and never after the
 *                waiter read them; the waiter returns the winner's status;
 *                EDEADLK only once a join began, ESHUTDOWN only once
 *                stopping.
 *   no late      no access to bc after the unref that freed it (`bfreed`,
 *   access       asserted at each access: the release's walk and look at
 *                `finished`, the futex wake, join_wait_end's read of
 *                `linked`), none to r after destroy.
 *   no blocked   when the join starts to wait for the worker (after
 *   join         join_begin), the worker is not in a wait that nobody will
 *                end: it is not registered, or its `done` is set.
 *   termination  the waiter always wakes and the join always completes:
 *                no invalid end state (the join and the user both wait for
 *                the worker's thread).
 *   no leak      once quiet, bc was freed (or never made), unlinked from
 *                both lists, and `joining` is back to 0.
 *
 * Not covered: several waiters (each has its own bc and the lists are
 * walked whole under their locks: the releases are independent); a join by
 * a thread other than the reactor's (neither releases nor is refused: the
 * reactor runs the call and the join completes as without this protocol);
 * a SHUTDOWN fired by hand while running (`shutdown_firing` refuses like
 * `stopping`); fork.
 *
 * -DDEADLINE: the pool's stop is weft_threadpool_stop_timeout, which since
 * de893f3 joins with join_begin/_end too: its join may give up on the
 * worker (ETIMEDOUT, once), ending the join (joining = 0) with the worker
 * still running, maybe not yet in its wait; the worker's thread is left to
 * a later stop (stop_pending), from a callback, the SHUTDOWN trigger or the
 * user after the run, which joins again (the same walk and release).
 * A reactor that never runs (destroyed new): no thread is ever learnt, no
 * join can be on it. The destroyed reactor itself: the join's question reads
 * the link only (bc_waits_for), so a wait released by a destroy and not yet
 * unregistered is asked nothing of r; not modelled (r_gone is only asserted
 * against on the reactor side).
 *
 * The wait that begins before the run (a pool task's blockingCallFromThread
 * before weft_reactor_run, a startup trigger stopping the pool) is part of
 * the main check: the waiter may take every step before `ran`. Until this
 * protocol the waiter registered with the engine only if the reactor had
 * its thread already; the join of such a waiter hung (its model was the
 * then -DNOT_YET_RUN, now MUTANT_REGISTER_WHEN_KNOWN below).
 *
 * Not a mutant: the join release's finish as a relaxed load then a store
 * instead of the CAS passes, as in blocking_call.pml: every finisher runs on
 * the reactor thread (the release too: it runs on the joiner, which is the
 * reactor's thread), and they are sequential there.
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_REGISTER_WHEN_KNOWN  the old behaviour: the waiter registers
 *        with the engine only if the reactor's thread is known when the call
 *        begins (has_io_thread), else with the reactor alone: a startup
 *        trigger's stop finds no waiter, joins the worker, which waits for
 *        the joining thread (invalid end state)
 *   -DMUTANT_LEARN_BEFORE_LOCK  the registration's question answers from
 *        what weft__reactor_blocked_init learnt before e->mu (not learnt
 *        again under it): it began before the run; the run and the stop's
 *        join_begin come between; `joining` is seen, but the thread not:
 *        the waiter registers after the walk (invalid end state)
 *   -DMUTANT_NO_LEARN_AT_BLOCK  weft__reactor_block does not learn the
 *        thread under block_lock: a waiter that looked before the run and
 *        registers with the reactor after the run's walk never learns it;
 *        the join skips it (assertion !in_wait || done)
 *   -DMUTANT_NO_RUN_WALK  set_io_thread does not tell the waiters already
 *        registered: a wait begun before the run is never learnt; the
 *        startup trigger's join skips it (assertion !in_wait || done)
 *   -DMUTANT_NO_JOINING_CHECK  the waiter registers without the `joining`
 *        check (enter told `false`): a wait that begins after join_begin is
 *        registered with the reactor, whose thread is in the join: each
 *        waits for the other (invalid end state)
 *   -DMUTANT_RELEASE_UNLOCKED  join_begin sets `joining` and walks e's
 *        waiters without e->mu: the walk unlinks a waiter (already finished
 *        by the shutdown's release) while the waiter, not excluded by the
 *        mutex, ends its wait, returns and frees bc; the release's look at
 *        `finished` touches it (assertion violated)
 *   -DMUTANT_FLAG_AFTER_WALK  join_begin walks and releases under e->mu,
 *        then sets `joining` in a second e->mu section: a waiter that checks
 *        between the two (joining still 0) registers and links after the
 *        walk; the join then waits for a worker that waits for the joining
 *        thread (assertion !in_wait || done, then an invalid end state)
 *   -DMUTANT_UNREF_BEFORE_END  the waiter drops its reference before
 *        join_wait_end: with the reactor side's reference gone (its finish
 *        ran) bc is freed while still in e's list; join_wait_end (or the
 *        join's walk) touches it (assertion violated)
 *   -DMUTANT_END_UNLOCKED_LOOK  join_wait_end skips the mutex when an
 *        unlocked look finds `linked` clear: the releaser has unlinked the
 *        waiter but not yet called release; the waiter (woken by the
 *        reactor's own finish) returns and frees bc under the releaser's
 *        look at `finished` (assertion violated)
 *   -DMUTANT_RELEASE_NO_CAS  bc_join_release writes EDEADLK without the
 *        finish election (no look at `finished`, no CAS: "the join is the
 *        one that ends it"): after the call's own outcome it writes a second
 *        one (assertion violated)
 *   -DMUTANT_DEADLINE_NO_JOIN_BEGIN (with -DDEADLINE)  stop_timeout joins
 *        without join_begin, as before de893f3 (the later
 *        weft_threadpool_stop's join has it): the deadline join waits for
 *        a worker in a wait that only its thread would end (assertion
 *        !in_wait || done; in C it waited out its deadline and left the
 *        thread running)
 *   -DMUTANT_RELEASE_NO_UNBLOCK  bc_join_release calls bc_finish (as the
 *        shutdown's bc_release does) instead of bc_finish_reactor_side: the
 *        waiter stays in r's list; the node's later run sees `finished`,
 *        drops the last reference, and the shutdown's release touches the
 *        freed block (assertion violated)
 */
#define NONE      0
#define RESULT    1  /* fn's value, or the Deferred's result */
#define FAILED    2  /* fn failed / bc_run's error path (rc != 0) */
#define ESHUTDOWN 3
#define ECANCELED 4
#define EDEADLK   5

bool emu;            /* e->mu */
bool mu;             /* r->block_lock */
bool rt;             /* the reactor thread's token */
bool stopping;       /* r->state >= R_STOPPING */
bool registered;     /* bc->link is in r->blocked */
bool queued;         /* bc's node is on r's completion queue */
bool dpending;       /* fn's Deferred holds bc_deliver/bc_dispose, unfired */
bool run_done;       /* weft_reactor_run returned (after drain_all) */
bool r_gone;         /* weft_reactor_destroy freed r */

bool ran;            /* r->has_io_thread: the run's set_io_thread happened */
bool io_known;       /* bc->link.io_known: bc learnt the reactor's thread */

bool joining;        /* e->joining (joiner: the reactor's thread) */
bool jbegun;         /* the pool's stop began its join (once: stops are serialised) */
bool pending;        /* -DDEADLINE: tp->stop_pending, a stop_timeout's join gave up */
bool jtimed;         /* -DDEADLINE: the one join that timed out */
/* A join of the pool is due: none yet, or a stop_timeout's left threads */
#define JOIN_DUE (!jbegun || pending)
bool elinked;        /* bc->joinw is in e->join_waiters (bc->joinw.linked) */
bool in_wait;        /* the waiter's begin returned 0 and it has not yet seen done */

bool made;           /* bc allocated */
byte refs;
bool finished;       /* bc->finished */
bool done;           /* bc->done, the futex word */
byte status;         /* bc->status */
bool asleep;         /* the waiter is queued on the futex */
bool bfreed;         /* bc was freed */
byte wins;           /* finishes that won the election */
byte win_status;
bool wret;           /* the waiter read the outcome (may have returned) */
bool waiter_done;    /* the worker's task returned (its thread may be joined) */
byte ret;            /* what weft_blocking_call_from_thread returned */

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }
inline elock() { atomic { !emu -> emu = 1 } }
inline eunlock() { emu = 0 }
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

inline futex_wake() {
  atomic { touch(); asleep = 0 }
}

/* The winner's part of bc_finish: outcome, release store of done, wake. */
inline deliver(st) {
  atomic { touch(); assert(!done && !wret); status = st };
  atomic { touch(); assert(!done); done = 1 };
  futex_wake()
}

/* bc_finish: CAS finished 0 → 1; won = 1 if this call delivered. */
inline bc_finish(st, won) {
  atomic {
    touch();
    if
    :: finished -> won = 0
    :: else -> finished = 1; won = 1; wins++; win_status = st
    fi
  };
  if
  :: won -> deliver(st)
  :: else -> skip
  fi
}

/* bc_finish_reactor_side, on the reactor thread. */
inline reactor_side(st, won) {
  atomic { touch(); f = finished };
  if
  :: f -> won = 0
  :: else ->
     assert(!r_gone);
     lock();                                /* weft__reactor_unblock */
     if
     :: registered -> touch(); registered = 0
     :: else -> skip
     fi;
     unlock();
     bc_finish(st, won)
  fi
}

/* bc_join_release(w): under e->mu, on the reactor's thread, w unlinked. */
inline join_release() {
#if defined(MUTANT_RELEASE_NO_CAS)
  atomic { touch(); finished = 1; wins++; win_status = EDEADLK };
  lock(); if :: registered -> touch(); registered = 0 :: else -> skip fi; unlock();
  deliver(EDEADLK)
#elif defined(MUTANT_RELEASE_NO_UNBLOCK)
  bc_finish(EDEADLK, won)
#else
  reactor_side(EDEADLK, won)
#endif
}

/* engine_stop_as on the reactor's thread (the caller holds rt):
 * weft__engine_join_begin, weft__engine_stop's join, weft__engine_join_end. */
inline pool_join() {
#ifdef MUTANT_DEADLINE_NO_JOIN_BEGIN
  bool first = !jbegun;                     /* stop_timeout's; the later stop's has it */
#endif
  jbegun = 1;
#ifdef DEADLINE
  pending = 0;                              /* ours to join now */
#endif
#ifdef MUTANT_DEADLINE_NO_JOIN_BEGIN
  if
  :: first -> skip
  :: else ->
#endif
#ifndef MUTANT_RELEASE_UNLOCKED
  elock();
#endif
#ifndef MUTANT_FLAG_AFTER_WALK
  joining = 1;
#endif
  /* the walk: w->waits_for(w, self), self being the reactor's thread:
   * bc_waits_for reads the link's io_known (never r) */
  if
  :: atomic { elinked && io_known -> touch() };
     atomic { touch(); elinked = 0 };       /* unlink_waiter */
     join_release()
  :: else -> skip
  fi;
#ifndef MUTANT_RELEASE_UNLOCKED
  eunlock();
#endif
#ifdef MUTANT_FLAG_AFTER_WALK
  elock(); joining = 1; eunlock();
#endif
#ifdef MUTANT_DEADLINE_NO_JOIN_BEGIN
  fi;
#endif
  /* weft__engine_stop joins the worker: it must not be in a wait that only
   * this thread could end */
  assert(!in_wait || done);
#ifdef DEADLINE
  /* stop_timeout: weft__engine_stop_deadline may give up on the worker
   * (ETIMEDOUT): its thread is left to a later stop (stop_pending) */
  if
  :: waiter_done
  :: !jtimed -> jtimed = 1
  fi;
  elock(); joining = 0; eunlock();
  pending = jtimed && !waiter_done
#else
  waiter_done;
  elock(); joining = 0; eunlock()
#endif
}

/* The reactor side's reference, dropped after its finish (or its look). */
inline side_unref() { bc_unref() }

/* bc_run: the node, on the reactor thread (or destroy's drain). */
inline bc_run(may_join) {
  atomic { touch(); f = finished };
  if
  :: f || stopping ->
     assert(!r_gone);
     reactor_side(ESHUTDOWN, won); side_unref()
  :: else ->
     assert(!r_gone);
     /* fn itself may stop the pool (a callback on the reactor thread) */
     if
     :: may_join && JOIN_DUE -> pool_join()
     :: true -> skip
     fi;
     if
     :: reactor_side(RESULT, won); side_unref()  /* fn returned a value */
     :: reactor_side(FAILED, won); side_unref()  /* fn failed, or rc != 0 */
     :: dpending = 1                             /* fn returned a pending Deferred */
     fi
  fi
}

/* The Deferred fires (bc_deliver) or dies unfired (bc_dispose). */
inline settle() {
  dpending = 0;
  if
  :: reactor_side(RESULT, won)             /* bc_deliver */
  :: atomic { touch(); f = finished };      /* bc_dispose */
     if
     :: !f ->
        assert(!r_gone);
        if
        :: stopping -> reactor_side(ESHUTDOWN, won)
        :: else -> reactor_side(ECANCELED, won)
        fi
     :: else -> skip
     fi
  fi;
  side_unref()
}

/* weft__reactor_release_blocked: under block_lock, unlink, bc_release. */
inline release_blocked() {
  lock();
  if
  :: registered ->
     touch(); registered = 0;
     bc_finish(ESHUTDOWN, swon)
  :: else -> skip
  fi;
  unlock()
}

proctype waiter() {
  bool jn, joinable;
  byte rc;
  /* weft__reactor_stopping(r): relaxed, may miss STOPPING */
  if
  :: stopping -> ret = ESHUTDOWN; goto out
  :: true -> skip
  fi;
  atomic { made = 1; refs = 2 };
  /* weft__reactor_blocked_init: acquire of has_io_thread */
  atomic { touch(); io_known = ran };
#ifdef MUTANT_REGISTER_WHEN_KNOWN
  joinable = io_known;
#else
  joinable = 1;
#endif
  if
  :: joinable ->
     /* weft__engine_join_wait_begin */
     elock();
#ifndef MUTANT_LEARN_BEFORE_LOCK
     /* e->joining && bc_waits_for(w, e->joiner), w not linked: learnt
      * again from r (only asked while joining) */
     atomic { touch(); if :: joining && ran -> io_known = 1 :: else -> skip fi };
#endif
     jn = joining && io_known;
#ifdef MUTANT_NO_JOINING_CHECK
     jn = 0;
#endif
  :: else -> skip
  fi;
  /* bc_enter (or weft__reactor_block alone when not joinable) */
  lock();
  if
  :: jn -> if :: stopping -> rc = ESHUTDOWN :: else -> rc = EDEADLK fi
  :: else ->
     if
     :: stopping -> rc = ESHUTDOWN
     :: else ->
        registered = 1; queued = 1; rc = 0;
#ifndef MUTANT_NO_LEARN_AT_BLOCK
        /* weft__reactor_block: has_io_thread, under block_lock */
        if :: ran && !io_known -> io_known = 1 :: else -> skip fi
#endif
     fi
  fi;
  unlock();
  if
  :: joinable ->
     if
     :: rc == 0 -> elinked = 1
     :: else -> skip
     fi;
     in_wait = (rc == 0);
     eunlock()
  :: else -> in_wait = (rc == 0)
  fi;
  if
  :: rc != 0 -> atomic { touch(); bfreed = 1 }; ret = rc; goto out
  :: else -> skip
  fi;
  /* while (load_acquire(&done) == 0) futex_wait(&done, 0) */
  do
  :: atomic { done -> touch(); break }
  :: atomic { !done -> touch() };
     atomic { touch(); if :: !done -> asleep = 1 :: else -> skip fi };
     !asleep
  od;
  in_wait = 0;
#ifdef MUTANT_UNREF_BEFORE_END
  atomic { touch(); ret = status; wret = 1 };
  bc_unref();
#endif
  /* weft__engine_join_wait_end */
  if
  :: joinable ->
#ifdef MUTANT_END_UNLOCKED_LOOK
     if
     :: atomic { !elinked -> touch() }
     :: else ->
#endif
     elock();
     atomic {
       touch();
       if
       :: elinked -> elinked = 0
       :: else -> skip
       fi
     };
     eunlock();
#ifdef MUTANT_END_UNLOCKED_LOOK
     fi;
#endif
     skip
  :: else -> skip
  fi;
#ifndef MUTANT_UNREF_BEFORE_END
  atomic { touch(); ret = status; wret = 1 };
#endif
  assert(wins == 1 && ret == win_status && ret != NONE);
#ifndef MUTANT_UNREF_BEFORE_END
  bc_unref();
#endif
out:
  atomic {
    assert(ret != ESHUTDOWN || stopping);
    assert(ret != EDEADLK || jbegun);
    waiter_done = 1
  }
}

proctype reactor() {
  bool f, won;
  /* weft_reactor_run: set_io_thread, under block_lock: has_io_thread, and
   * every waiter registered by then learns the thread. Then the startup
   * triggers and the loop: a callback may stop the pool from here on. */
  rt_take();
  lock();
  ran = 1;
#ifndef MUTANT_NO_RUN_WALK
  if
  :: registered && !io_known -> touch(); io_known = 1
  :: else -> skip
  fi;
#endif
  unlock();
  rt_give();
  do
  :: atomic { !rt && queued && !run_done -> rt = 1; queued = 0 };
     bc_run(1); rt_give()
  :: atomic { !rt && dpending && !run_done -> rt = 1 };
     settle(); rt_give()
  :: atomic { !rt && JOIN_DUE && !run_done -> rt = 1 };   /* a callback stops the pool */
     pool_join(); rt_give()
  :: run_done -> break
  od;
  /* the user, on the same thread: maybe stops the pool, joins the
   * waiter's thread, then weft_reactor_destroy */
  rt_take();
  if
  :: JOIN_DUE -> pool_join()
  :: true -> skip
  fi;
#ifdef DEADLINE
  if
  :: pending -> pool_join()                       /* the pending stop joins what the deadline left */
  :: else -> skip
  fi;
#endif
  waiter_done;
  if
  :: atomic { queued -> queued = 0 }; bc_run(0)   /* destroy's drain_all */
  :: else -> skip
  fi;
  assert(!registered);                            /* destroy's release_blocked finds none */
  r_gone = 1;
  /* a Deferred the user still holds: dropped or fired now */
  if
  :: dpending -> settle()
  :: else -> skip
  fi;
  rt_give();
  atomic {
    assert(!made || bfreed);
    assert(!registered && !queued && !asleep && !elinked && !joining && !emu && !mu)
  }
}

proctype stopper() {
  bool swon, f, won;
  ran;                 /* a stop of the run: after it began */
  rt_take();
  /* enter_stopping */
  lock(); stopping = 1; unlock();
  release_blocked();
  rt_give();
  /* weft_reactor_fire_system_event(WEFT_SHUTDOWN): release_blocked, then
   * the triggers, among them the pool's stop */
  rt_take();
  release_blocked();
  if
  :: JOIN_DUE -> pool_join()
  :: true -> skip
  fi;
  rt_give();
  /* drain_all */
  rt_take();
  if
  :: atomic { queued -> queued = 0 }; bc_run(0)
  :: else -> skip
  fi;
  run_done = 1;
  rt_give()
}

init {
  atomic {
    run waiter();
    run reactor();
    run stopper()
  }
}
