/*
 * models/stop_leaver.pml — a worker told to leave hands on work queued
 * meanwhile, against a weft_threadpool_stop (lib/engine/park.c
 * weft__engine_notify_slow's closed branch, lib/engine/spawn.c
 * weft__engine_spawn_closing_locked and weft__engine_worker_exited's
 * closed_hand_on_locked, lib/engine/engine.c weft__engine_stop,
 * lib/pool/threadpool.c weft_threadpool_stop; docs/design.md E5.3, E7).
 *
 * A worker told to leave (popped by a shrink, or with -DDEBT one that pays a
 * shrink debt under the mutex first) is counted as searching, so a submit meanwhile
 * coalesces onto it (E5.1) and relies on its E5.3 hand-off on the way out:
 *
 *   submitter: counts its task unless closed (the inject's closed bit; a
 *              counted push is visible to work_visible), then notify:
 *              inline (searching > 0: return; live >= limit: return), else
 *              notify_slow as a non-worker
 *   leaver:    [DEBT: lock, live--, unlock], searching-- (seq_cst), if it
 *              was the last searcher and work is visible, notify as a
 *              worker; then worker_exited (lock: open -> detach, JOINED;
 *              closed -> first, with live 0, a limit above 0 and work
 *              visible, claim a searcher and start one closing thread
 *              (closed_hand_on_locked), then EXITED for the stop's join)
 *   notify_slow: closing = closed; open and may_spawn refuses (closed, or
 *              live >= limit): re-read closed, still open -> return; closed
 *              and (not a worker, or live != 0, or limit <= 0) -> return;
 *              claim a searcher (CAS on searching), lock, re-read closed,
 *              spawn (open: refused when closed or at the limit; closing:
 *              a worker with live 0 and limit > 0, bounded by `hard`),
 *              unlock; failed -> undo the claim, return (top is 0 here)
 *   new thread: counted searching and live at its start; takes the task,
 *              or exits once closed with nothing visible (live--), or
 *              parks until the close wakes it
 *   stop:      [weft_threadpool_stop's start], close (under the mutex),
 *              join passes until one joins nothing, cancel what is queued
 *
 * Properties (assertions, and no invalid end state): an accepted task runs,
 * unless no thread existed at the close (no slot LIVE: weft/threadpool.h,
 * "stop runs everything queued when at least one thread exists"); it never
 * both runs and is cancelled; when the stop is done every slot is FREE or
 * JOINED (no thread left unjoined), and no thread starts after it.
 *
 * -DCOALESCED: only a submit that lands while the leaver still counts as
 * searching, whose notify coalesces onto it, so that the task relies on
 * the leaver's hand-off alone (the windows 3d00c57 closed). Without it
 * the submitter's own notify_slow runs too: the leaver leaves the count
 * (1 -> 0) before the submitter reads ctl; the submitter passes may_spawn
 * (open), the close lands, the submitter claims a searcher (0 -> 1); the
 * leaver's E5.3 re-check sees nothing yet, or sees the task and its
 * notify sees searching 1 and returns (coalesced onto the claim); the
 * submitter, under the mutex, re-reads closed, is no worker, gets
 * WEFT_EQUIT and undoes its claim. Before worker_exited's hand-on no thread
 * was left: the stop joined the leaver (LIVE at the close) and cancelled
 * the accepted task (test_resize_races
 * shrunk_leaver_exits_after_a_refused_start and its debt and keep-alive
 * siblings). Now the leaver's worker_exited, under the mutex the close is
 * stored under, sees the close, live 0 and the task, and starts one
 * closing thread; its own slot is still LIVE, so the stop's passes join
 * the new thread (models/stop_join.pml's argument).
 * -DDEBT: the leaver pays a shrink debt (live -= 1 under the mutex) first.
 * -DOWED_AT_START: the task is owed a run when a thread existed at
 * weft_threadpool_stop's start (before the close; 3d00c57's second window),
 * not only at the close (S == 2 here). It passes with -DCOALESCED only.
 * What remains (it FAILS without -DCOALESCED): the leaver leaves both
 * counts and, the pool still open, detaches itself (JOINED) before the
 * close, after the submit was accepted; the submitter's claim is then
 * refused by the close as above, and no thread existed at the close: the
 * stop cancels the task, as it cancels a task left when the pool's last
 * thread was reaped before the stop (weft/threadpool.h promises a run
 * only when a thread exists at the stop). Only the submitter could start
 * one there, and it is no worker of the pool.
 *
 * With worker_exited's hand-on, notify_slow's closed branch (a worker's
 * hand-off after the close) and its re-read of `closed` under the mutex
 * are no longer needed for these properties: a worker that finds live 0
 * there is on its way out, and worker_exited, later, sees the same close,
 * live 0 and work (checked: -DMUTANT_NO_CLOSING and -DMUTANT_NO_REREAD
 * pass on their own). They hand on earlier, before the leaver's exit path;
 * their mutants are checked with -DMUTANT_NO_EXIT_HANDON.
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_NO_EXIT_HANDON worker_exited starts no thread after the close
 *                          (the code before it; without -DCOALESCED): the
 *                          submitter's refused claim strands the task
 *   -DMUTANT_NO_CLOSING    no closed branch (the code before 3d00c57; with
 *                          -DCOALESCED -DMUTANT_NO_EXIT_HANDON): a hand-off
 *                          after the close is refused as closed
 *   -DMUTANT_LIMIT_ZERO    weft_threadpool_stop drops the engine's limit to
 *                          0 before its close (the old threadpool.c): a
 *                          hand-off in between stops at the inline
 *                          notify's limit test (with -DCOALESCED; the
 *                          exit's hand-on needs a limit above 0 too)
 *   -DMUTANT_NO_REREAD     no re-read of `closed` under the mutex (with
 *                          -DCOALESCED -DMUTANT_NO_EXIT_HANDON): a close
 *                          between the look and the spawn is refused
 *                          (spawn_locked) and the claim is undone
 * A closing spawn without the live == 0 test is no mutant: it breaks none
 * of these properties (checked): it can only add a thread while the
 * leaver's slot is unjoined, which the stop's passes then join, within the
 * valve (`hard`). The test keeps the stand-ins to one, not correctness.
 */
#ifndef S
#define S 2              /* slots: 0 is the leaver's */
#endif
#ifndef K
#define K 2              /* threads started, at most */
#endif
#define LIM  1           /* the engine's limit (max) */
#define HARD 2           /* the valve: a closing spawn's bound */

#define FREE   0
#define LIVE   1
#define EXITED 2
#define JOINED 3

byte state[S];
byte started;
bool mu;
bool closed;
bool stopped;
byte limit = LIM;
#ifdef DEBT
byte live = 1;           /* the payer is counted until it pays */
#else
byte live = 0;           /* shrink_to uncounted the popped worker */
#endif
byte searching = 1;      /* the leaver */
bool leaver_counted = 1; /* the leaver has not left the searching count */
byte q;                  /* tasks queued (counted: visible) */
bool accepted, ran, cancelled;
bool owed;               /* a thread existed at the close */

inline lock() { atomic { !mu -> mu = 1 } }
inline unlock() { mu = 0 }

/* worker_exited: detached while open, left to the stop's join once closed.
 * Closed, under the mutex: a worker on its way out that finds no thread
 * counted live, a limit above 0 and work visible claims a searcher and
 * starts one closing thread (weft__engine_may_spawn_closing, work_visible; the
 * spawn bounded by `hard`); its own slot is still LIVE, so the stop's
 * passes join the new thread too (models/stop_join.pml's argument). A
 * failed creation (no slot, no start left) starts none: the code's
 * stop_searching undoes the claim. */
inline exited(me) {
  lock();
#ifndef MUTANT_NO_EXIT_HANDON
  if
  :: closed && live == 0 && limit > 0 && live < HARD && q > 0 ->
     j = 0;
     do
     :: j < S && state[j] != FREE && state[j] != JOINED -> j++
     :: j < S && (state[j] == FREE || state[j] == JOINED) -> break
     :: j == S -> break
     od;
     if
     :: j < S && started < K ->
        assert(!stopped);
        state[j] = LIVE; started++; live++; searching++;
        run worker(j)
     :: else -> skip
     fi
  :: else -> skip
  fi;
#endif
  if
  :: !closed -> state[me] = JOINED
  :: else -> unlock(); state[me] = EXITED; goto out_of_lock
  fi;
  unlock();
out_of_lock:
  skip
}

/* notify_slow with s = searching as read; inw: called by a worker */
inline notify_slow(inw) {
  do
  :: s > 0 -> break                      /* searchers_suffice */
  :: else ->
     closing = closed;
#ifndef MUTANT_NO_CLOSING
     if
     :: !closing ->
        if
        :: closed || live >= limit ->    /* may_spawn refuses */
           if
           :: !closed -> break
           :: else -> closing = 1
           fi
        :: else -> skip
        fi
     :: else -> skip
     fi;
     if
     :: closing && (!inw || live != 0 || limit == 0) -> break
     :: else -> skip
     fi;
#else
     if
     :: closing || closed || live >= limit -> break
     :: else -> skip
     fi;
#endif
     /* seq_cst CAS: claim the new thread as a searcher */
     if
     :: atomic { searching == s -> searching++; ok = 1 }
     :: atomic { searching != s -> s = searching; ok = 0 }
     fi;
     if
     :: !ok -> goto retry
     :: else -> skip
     fi;
     lock();
#if !defined(MUTANT_NO_REREAD) && !defined(MUTANT_NO_CLOSING)
     if :: closed -> closing = 1 :: else -> skip fi;
#endif
     ok = 0;
     if
     :: !closing && !closed && live < limit -> ok = 1     /* spawn_locked */
     :: closing && inw && live == 0 && limit > 0 && live < HARD -> ok = 1
     :: else -> skip
     fi;
     if
     :: ok ->
        j = 0;
        do
        :: j < S && state[j] != FREE && state[j] != JOINED -> j++
        :: j < S && (state[j] == FREE || state[j] == JOINED) -> break
        :: j == S -> break
        od;
        if
        :: j < S && started < K ->
           assert(!stopped);
           state[j] = LIVE;
           started++;
           live++;
           run worker(j)
        :: else -> ok = 0
        fi
     :: else -> skip
     fi;
     unlock();
     if
     :: ok -> break
     :: else ->
        atomic { searching--; s = searching };  /* undo the claim */
        break                                   /* top is 0: return */
     fi;
retry:
     skip
  od
}

/* notify after a publish or a searcher's exit (E5.1 inline, then slow) */
inline notify(inw) {
  s = searching;
  if
  :: s > 0 -> skip
  :: else ->
     if
     :: live >= limit -> skip          /* at the limit: the first to finish */
     :: else -> notify_slow(inw)
     fi
  fi
}

/* E5.3 stop_searching */
inline stop_searching(inw) {
  atomic { s = searching; searching-- };
  if
  :: s == 1 && q > 0 -> notify(inw)
  :: else -> skip
  fi
}

proctype worker(byte me) {
  byte s, j;
  bool closing, ok;
  do
  :: atomic { q > 0 -> q--; ran = 1; assert(!cancelled) };
     stop_searching(1);
     searching++                    /* idle again: a searcher */
  :: atomic { q == 0 && closed -> live-- }; break     /* should_exit */
  :: atomic { q == 0 && !closed -> searching-- };     /* parks */
     closed;                        /* the close wakes everyone */
     searching++
  od;
  stop_searching(1);
  exited(me)
}

proctype leaver() {
  byte s, j;
  bool closing, ok;
#ifdef DEBT
  lock(); live--; unlock();         /* pay_shrink_debt */
#endif
  atomic { s = searching; searching--; leaver_counted = 0 };
  if
  :: s == 1 && q > 0 -> notify(1)
  :: else -> skip
  fi;
  exited(0)
}

proctype submitter() {
  byte s, j;
  bool closing, ok;
#ifdef COALESCED
  /* only a submit that coalesces onto the leaver (it still counts as
   * searching): the task relies on the leaver's hand-off alone */
  if
  :: atomic { !closed && leaver_counted -> q++; accepted = 1 }
  :: atomic { closed || !leaver_counted -> skip }   /* refused, or no submit */
  fi;
#else
  if
  :: atomic { !closed -> q++; accepted = 1 }
  :: atomic { closed -> skip }      /* refused */
  fi;
#endif
#ifndef COALESCED
  if
  :: accepted -> notify(0)
  :: else -> skip
  fi
#endif
}

proctype stopper() {
  byte i;
  bool again = 1;
#ifdef OWED_AT_START
  /* a thread at weft_threadpool_stop's start (before its limit drop) */
  atomic { owed = live > 0 || state[0] == LIVE || state[1] == LIVE };
#endif
#ifdef MUTANT_LIMIT_ZERO
  limit = 0;                        /* tp_update_limit with started = 0 */
#endif
  lock();
  atomic {
    closed = 1;                     /* weft__engine_close */
    i = 0;                          /* a thread exists at the close */
    do
    :: i < S && state[i] != LIVE -> i++
    :: i < S && state[i] == LIVE ->
#ifndef OWED_AT_START
       owed = 1;
#endif
       break
    :: i == S -> break
    od
  };
  unlock();
  do
  :: again ->
     again = 0;
     i = 0;
     do
     :: i < S ->
        if
        :: !mu && (state[i] == LIVE || state[i] == EXITED) ->  /* read under the mutex */
           state[i] == EXITED;      /* pthread_join */
           lock(); state[i] = JOINED; unlock();
           again = 1
        :: !mu && !(state[i] == LIVE || state[i] == EXITED)
        fi;
        i++
     :: else -> break
     od
  :: else -> break
  od;
  stopped = 1;
  if
  :: q > 0 -> q = 0; cancelled = 1; assert(!ran)
  :: else -> skip
  fi;
  assert(!accepted || ran || !owed);
  i = 0;
  do
  :: i < S -> assert(state[i] == FREE || state[i] == JOINED); i++
  :: else -> break
  od
}

init {
  atomic {
    state[0] = LIVE;
    run leaver();
    run submitter();
    run stopper()
  }
}
