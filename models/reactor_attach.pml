/*
 * models/reactor_attach.pml — an attached reactor's wake-up Dekkers
 * (weft_reactor_attach, drain_attached / weft_reactor_drain_ex,
 * weft_reactor_detach) and weft_reactor_stop's `pushers` count against
 * weft_reactor_destroy (lib/loop/reactor.c; the push: weft__reactor_push,
 * lib/loop/reactor_state.h, and weft__reactor_push_first; the queue:
 * lib/engine/mpsc.h, as in models/reactor.pml).
 *
 * Code mirrored, one Promela step per atomic access (an MPSC node's own
 * next-pointer store before its exchange included; the user-level steps
 * between them are skipped):
 *   push          weft__reactor_push / _push_first (reactor.c 101-120;
 *                 lib/loop/reactor_state.h weft__reactor_push):
 *                 store node->next = NULL; xchg tail (seq_cst); not the
 *                 first of a burst → link (last access); else fence, load
 *                 `sleeping`; 0 → link (last access); 1 → fetch_add
 *                 pushers, link, fetch_add wakeups, wake_write, fetch_sub
 *                 pushers (acq_rel: the last access).
 *   attach        weft_reactor_attach (593-616): CAS state NEW → RUNNING,
 *                 store sleeping = 1, fence, mpsc_empty (two loads) →
 *                 wake_write if not empty.
 *   drain         drain_attached (619-656) from weft_reactor_drain_ex
 *                 (662-684): wake_read (the eventfd reset first), store
 *                 sleeping = 0, drain_snapshot rounds (load tail, pops,
 *                 runs, break on the snapshot's last node, the budget or
 *                 drain_cut), the round condition (budget; k > 0 or
 *                 !mpsc_empty; WEFT_DRAIN_NO_SPIN; busy_wait_for_work's
 *                 looks at head.next; state), state check, store
 *                 sleeping = 1, fence, mpsc_empty → wake_write. The budget
 *                 (1 or none) and the flag are chosen per call.
 *   detach        weft_reactor_detach (686-698) → shutdown_sequence
 *                 (406-418): state STOPPING, drain_all, sleeping = 0,
 *                 state STOPPED (release); from the host between drains,
 *                 or from a callback that a drain runs (then drain_cut).
 *   run (-DRUN)   weft_reactor_run / loop_once: load_acquire
 *                 stop_requested, drain_snapshot_ex (a stop seen: waits
 *                 out a producer mid-push), stop seen → shutdown; else
 *                 load_acquire stop_requested again (a stop from another
 *                 thread: one more pass, no I/O), the busy
 *                 path ((ran > 0 || !mpsc_empty) && busy_wait → go round,
 *                 with now and then a poll that does not sleep), store
 *                 sleeping = 1, fence, mpsc_empty || stop_requested →
 *                 epoll_wait(0), else epoll_wait(-1) (an end label: blocks
 *                 until the eventfd is readable), sleeping = 0, wake_read
 *                 if epoll reported it; then shutdown_sequence.
 *   stop          weft_reactor_stop (524-546): load state, fetch_add
 *                 pushers, fence, load state again (not RUNNING:
 *                 fetch_sub and return; weft__reactor_stop_enter,
 *                 lib/loop/reactor_hosted.c), CAS stop_requested 0 → 1
 *                 (release; on failure fetch_sub and return), wake_write,
 *                 fetch_sub pushers.
 *   destroy       weft_reactor_destroy (548-589): load_acquire state,
 *                 drain_all, quiesce_pushers (wait for pushers == 0), free.
 *
 * Processes: P foreign producers ("main" items, one each), one late
 * producer (one item, pushed at any time before destroy starts: while
 * attached, during a drain, during the detach's shutdown or after it),
 * the reactor thread (the host loop that attaches, drains when the epoll
 * fd is readable and detaches, or -DRUN the built-in loop), which then
 * destroys, and under -DRUN or -DSTOP one stopper (attached, a stop only
 * writes the eventfd: a wake-up for nothing). The callback of main item 1
 * pushes one more item from the reactor thread itself (-DNO_SELF: not).
 * Attached, the host may also call drain SPUR times (default 1) with the
 * eventfd unwritten (a timer or a reader made the epoll fd readable), but
 * only while a push is still under way, so that such a drain cannot hide
 * a lost wake-up: the search also holds every run where it never comes.
 * Line numbers: lib/loop/reactor.c at commit dae9ba6.
 *
 * The user's side (include/weft/reactor.h, docs/lifecycle.md): the host
 * calls drain only when the fd is readable, and detaches once every main
 * item ran (from its loop, or from a callback that a drain runs, the last
 * main item's). Under -DRUN the stopper calls stop once every main item
 * ran (the loop only returns after a stop), so in both a lost wake-up
 * leaves the reactor thread asleep for ever. Destroy starts once the late
 * producer's exchange is done ("a call_from_thread whose call is already
 * queued when destroy starts is waited for": its link and eventfd write
 * may overlap destroy) and, attached, once the stop returned ("every
 * weft_reactor_stop must have returned before destroy starts"; an attached
 * reactor's detach does not wait for a stop). Under -DRUN destroy does not
 * wait for the stop: the code promises that the stop that won the flag is
 * waited for (its count is visible to destroy through run's acquire of
 * stop_requested).
 *
 * Properties (pan -DSAFETY):
 *   exactly once  every item runs once (assert at each run), all before r
 *                 is freed (assert at the free); pushes are never refused,
 *                 so an item pushed after the stop or the detach runs in
 *                 the shutdown's drain or in destroy's.
 *   no lost wake-up  the reactor thread waits for the eventfd (attached:
 *                 for the epoll fd to turn readable) at an end label and
 *                 the checker (init) waits at a non-end label for the
 *                 free: a main item queued while the thread sleeps and the
 *                 eventfd is unwritten is an invalid end state.
 *   lifetime      no producer and no stop touches r after the free (assert
 *                 at every access, the eventfd write and the pushers
 *                 decrement included); a node runs only once its producer
 *                 is done with r or counted in `pushers` (as reactor.pml).
 *   detach        nothing runs in a drain's own loop once a callback of
 *                 that drain detached (drain_cut; assert state RUNNING).
 *   quiet         attached: no producer writes the eventfd after the
 *                 detach's reset (docs/lifecycle.md: the eventfd is "reset
 *                 and no longer written"; a write after it leaves the fd
 *                 readable for good, and the host's drain can only answer
 *                 WEFT_ESTATE). A stop's write neither: one that saw
 *                 the state RUNNING before the detach and counts itself
 *                 after the detach's wait finds the state changed when it
 *                 looks again after its count, and writes nothing.
 *
 * Bounds (CI, tests/test_models.cmake): attached P = 2 (7.0 M states);
 * attached with the stopper P = 1 -DSTOP (4.1 M); -DRUN P = 2 (3.6 M);
 * -DRUN -DSTOP_AFTER_PUSH (the stopper queues main item P itself, then
 * stops; asserted run before the shutdown) P = 2 (3.3 M).
 * One late producer, one self-push; the eventfd counter saturates at 2
 * (a write at the bound is EAGAIN: a wake-up is pending anyway); a
 * drain's budget is 1 or unbounded. drain_attached's cap of 64 rounds is not modelled: with
 * at most 4 items the rounds end sooner (each round runs an item or
 * finds one about to be linked).
 *
 * Mutants (pan must report an error; tests/test_models.cmake):
 *   -DMUTANT_ATTACH_CHECK_FIRST  attach checks the queue before storing
 *        sleeping = 1 (no Dekker): a push before the store read
 *        sleeping == 0 and wrote nothing, attach found the queue empty
 *        before that push: the host waits for ever (invalid end state)
 *   -DMUTANT_DRAIN_RESET_LATE  drain resets the eventfd at its end, after
 *        its pre-sleep check, instead of first: the reset eats the
 *        write of that check (a node left by the budget) or of a push
 *        that came after it and saw sleeping == 1 (invalid end state)
 *   -DMUTANT_DETACH_NO_WAIT  the detach resets the eventfd at once after
 *        its drain and sleeping = 0 (the code before
 *        test_reactor_detach_late_write): a producer that read
 *        sleeping == 1, linked its node (run by the shutdown's drain) and
 *        has yet to write, writes after the reset (assertion violated)
 *   -DMUTANT_DETACH_NO_REDRAIN  the detach waits for pushers == 0 without
 *        draining again after sleeping = 0 (and its fence): a producer
 *        that exchanged after the first drain and read sleeping == 1 is not
 *        counted yet when the wait looks (assertion violated)
 *   -DRUN -DMUTANT_STOP_COUNT_AFTER_FLAG  stop counts itself in pushers
 *        after its CAS of stop_requested: the loop sees the flag, shuts
 *        down, destroy finds pushers == 0 and frees r under the stop
 *        (assertion violated)
 *   -DRUN -DMUTANT_STOP_DEC_BEFORE_WRITE  stop drops its count before its
 *        eventfd write (assertion violated: the write after the free)
 *   -DRUN -DSTOP_AFTER_PUSH -DMUTANT_STOP_DRAIN_NO_WAIT  the drain after a
 *        stop ends at a producer mid-push, like any drain: the stopping
 *        thread's call, linked behind it, runs after the shutdown began
 *        (assertion violated: ran[P])
 *   -DRUN -DSTOP_AFTER_PUSH -DMUTANT_STOP_NO_EXTRA_PASS  a stop seen only
 *        after the drain ends the loop at once (the code before the extra
 *        pass): the call the stopping thread queued after that drain's
 *        snapshot runs after the shutdown began (assertion violated: ran[P])
 *   -DSTOP -DMUTANT_STOP_NO_RECHECK  stop does not look at the state again
 *        after its count (the code before test_reactor_stop_detach): a
 *        stop that saw RUNNING before the detach, counted after the
 *        detach's wait for pushers == 0, writes after the reset
 *        (assertion violated: quiet)
 */
#ifndef P
#define P 2              /* main producers, one item each */
#endif
#define LATE (P + 1)     /* the late producer's item */
#ifdef NO_SELF
#define T (P + 1)
#else
#define SELF (P + 2)     /* pushed from the reactor thread by item 1's call */
#define T (P + 2)
#endif
#define NONE 255
#define WB   254
#define EVMAX 2
#ifndef SPUR
#define SPUR 1           /* attached: drains called with the eventfd unwritten */
#endif
#define INF 255          /* budget: none */

#define R_NEW      0
#define R_RUNNING  1
#define R_STOPPING 2
#define R_STOPPED  3

byte nxt[T + 1];         /* nxt[0]: queue.head.next; nxt[n]: node n's next */
byte tail;               /* 0: &queue.head */
bool sleeping;
byte evfd;               /* eventfd counter (saturates at EVMAX) */
byte state;
bool stop_req;           /* stop_requested */
byte pushers;
bool drain_cut;
bool quiet;              /* attached: the detach reset the eventfd (no write after it) */
bool freed;              /* weft_reactor_destroy freed r */
byte ran[T + 1];
bool fin[T + 1];         /* producer of node n made its last access to r */
bool xchd[T + 1];        /* node n's exchange is done (it is "queued") */
byte done;               /* items run */
byte done_main;          /* main items run */
bool stop_ret;           /* the stop returned */
byte nfin;               /* foreign producers' pushes done */

inline touch() { assert(!freed) }

inline wake_write() {
  atomic { touch(); if :: evfd < EVMAX -> evfd++ :: else -> skip fi }
}
inline wake_read() {
  evfd = 0               /* read(2) of the counter; EAGAIN when 0 */
}

/* weft__mpsc_empty: two acquire loads */
inline mpsc_empty(e) {
  e = (nxt[0] == 0);
  e = (e && tail == 0)
}

/* weft__reactor_push (inline) + weft__reactor_push_first */
inline push(n) {
  nxt[n] = 0;                                /* store_relaxed(node->next) */
  atomic { touch(); old = tail; tail = n; xchd[n] = 1 };  /* xchg seq_cst */
  if
  :: old != 0 -> atomic { touch(); nxt[old] = n; fin[n] = 1; nfin = nfin + (n <= LATE) }  /* link: last access */
  :: else ->
     /* first of a burst: fence(seq_cst) */
     atomic { touch(); s = sleeping };
     if
     :: !s -> atomic { touch(); nxt[0] = n; fin[n] = 1; nfin = nfin + (n <= LATE) }      /* link: last access */
     :: else ->
        atomic { touch(); pushers++ };       /* fetch_add_relaxed */
        atomic { touch(); nxt[0] = n };      /* link, store_release */
        touch();                             /* fetch_add_relaxed(wakeups) */
        atomic { touch(); assert(!quiet) };  /* the write: never after the detach's reset */
        wake_write();
        atomic { touch(); pushers--; fin[n] = 1; nfin = nfin + (n <= LATE) }  /* fetch_sub_acq_rel */
     fi
  fi;
  old = 0; s = 0
}

inline mpsc_pop() {
  node = nxt[0];
  if
  :: node == 0 ->
     if
     :: tail == 0 -> node = NONE
     :: else -> node = WB
     fi
  :: else ->
     nnext = nxt[node];
     if
     :: nnext == 0 ->
        nxt[0] = 0;
        atomic {
          if
          :: tail == node -> tail = 0; ok = 1
          :: else -> ok = 0
          fi
        };
        if
        :: ok -> skip
        :: else ->
           nnext = nxt[node];
           if
           :: nnext == 0 -> nxt[0] = node; node = WB
           :: else -> nxt[0] = nnext
           fi
        fi
     :: else -> nxt[0] = nnext
     fi
  fi;
  nnext = 0; ok = 0
}

/* t->run(t): the item's call. */
inline run_item() {
  /* Once a node can run, its producer is done with r or counted. */
  assert(fin[node] || pushers > 0);
  atomic {
    assert(ran[node] == 0); ran[node] = 1; done++;
    if :: node <= P -> done_main++ :: else -> skip fi
  };
#ifndef NO_SELF
  if
  :: node == 1 -> push(SELF)                 /* a call from the reactor thread */
  :: else -> skip
  fi
#endif
}

/* drain_snapshot(r, max) for drain_all and loop_once (drain_cut is 0 there:
 * only weft_reactor_drain_ex's caller sets it, after the shutdown). */
inline snapshot_ex(max, k, waitwb) {
  last = tail;                               /* load_acquire(tail) */
  k = 0;
  if
  :: last != 0 ->
     do
     :: mpsc_pop();
        if
        :: node == WB && waitwb -> skip      /* cpu_relax: the producer links next */
        :: node == NONE || (node == WB && !waitwb) -> break
        :: else ->
           wl = (node == last);
           run_item();
           k++;
           if
           :: wl || k == max -> break
           :: else -> skip
           fi
        fi
     od
  :: else -> skip
  fi;
  node = 0; last = 0; wl = 0
}

inline snapshot(max, k) { snapshot_ex(max, k, 0) }

inline drain_all() {
  do
  :: mpsc_empty(e);
     if
     :: e -> break
     :: else -> snapshot(INF, k)             /* 0: cpu_relax, a producer mid-push */
     fi
  od;
  e = 0; k = 0
}

inline shutdown_sequence() {
#ifdef STOP_AFTER_PUSH
  assert(ran[P] == 1);   /* queued before the stop, on the stopping thread: run before the shutdown */
#endif
  state = R_STOPPING;                        /* enter_stopping, under block_lock */
  /* release_blocked, the shutdown triggers: not modelled */
  drain_all();
  sleeping = 0;                              /* store_relaxed */
#ifndef RUN
  /* r->hosted: the detach's fence(seq_cst), drain_all again, and
   * weft__hosted_detach: wait for pushers == 0, disarm the timerfd (not
   * modelled), reset the eventfd */
#ifndef MUTANT_DETACH_NO_WAIT
#ifndef MUTANT_DETACH_NO_REDRAIN
  drain_all();
#endif
  pushers == 0;                              /* load_acquire loop */
#endif
  atomic { wake_read(); quiet = 1 };
#endif
  state = R_STOPPED                          /* store_release */
}

/* busy_wait_for_work: looks at head.next until a node is linked, or gives up. */
inline busy_wait(bw) {
  do
  :: nxt[0] != 0 -> bw = 1; break
  :: nxt[0] == 0 -> skip                     /* cpu_relax / sched_yield, look again */
  :: nxt[0] == 0 -> bw = 0; break            /* spun and yielded enough */
  od
}

inline destroy() {
  /* the user's side: the late call is queued, the (attached) stop returned */
  xchd[LATE];
#ifdef STOP_AFTER_PUSH
  /* and the other main calls (the stop no longer waits for them to run) */
  k = 1;
  do
  :: k < P -> xchd[k]; k++
  :: else -> break
  od;
  k = 0;
#endif
#ifndef RUN
  stop_ret;
#endif
  assert(state == R_STOPPED);                /* load_acquire(state) */
  drain_all();
  pushers == 0;                              /* quiesce_pushers: load_acquire loop */
  atomic {
    assert(done == T && done_main == P);
    assert(nxt[0] == 0 && tail == 0);
    freed = 1
  }
}

proctype producer(byte me) {
  byte old;
  bool s;
  push(me + 1)
}

proctype stopper() {
  bool s;
  byte old;
#ifdef STOP_AFTER_PUSH
  /* The stopping thread queued main item P just before its stop
   * (call_from_thread, then weft_reactor_stop): that call must run before
   * the shutdown (asserted in shutdown_sequence). It stops a running
   * reactor (a stop before run is refused, and nothing would end the loop). */
  state == R_RUNNING;
  push(P);
#elif defined(RUN)
  done_main == P;        /* the user stops once its work is done */
#endif
  atomic { touch(); if :: state != R_RUNNING -> goto out :: else -> skip fi };
#ifndef MUTANT_STOP_COUNT_AFTER_FLAG
  atomic { touch(); pushers++ };             /* fetch_add_relaxed */
#ifndef MUTANT_STOP_NO_RECHECK
  /* fence(seq_cst); load_relaxed(state): a shutdown began since the look
   * above (weft__reactor_stop_enter) */
  atomic { touch(); s = (state == R_RUNNING) };
  if
  :: !s -> atomic { touch(); pushers-- }; goto out  /* fetch_sub_acq_rel, WEFT_ESTATE */
  :: else -> s = 0
  fi;
#endif
#endif
  atomic {                                   /* cas_release(stop_requested, 0, 1) */
    touch();
    if
    :: !stop_req -> stop_req = 1
    :: else -> pushers--; goto out           /* fails: fetch_sub, WEFT_ESTATE */
    fi
  };
#ifdef MUTANT_STOP_COUNT_AFTER_FLAG
  atomic { touch(); pushers++ };
#endif
#ifdef MUTANT_STOP_DEC_BEFORE_WRITE
  atomic { touch(); pushers-- };
  wake_write();
#else
  atomic { touch(); assert(!quiet) };        /* the write: never after the detach's reset */
  wake_write();
  atomic { touch(); pushers-- };             /* fetch_sub_acq_rel */
#endif
out:
  stop_ret = 1
}

#ifndef RUN
/* The host loop's thread: attach, drain when the fd is readable, detach,
 * destroy. */
proctype reactor() {
  byte node, nnext, last, k, n, budget, old;
  bool ok, wl, e, bw, nospin, s, detached;
  byte spur = SPUR;      /* drains with the eventfd unwritten */
  byte last0, k0;        /* the drain's own snapshot (a detaching callback */
  bool wl0;              /* runs the shutdown's drain_snapshot inside it) */

  /* weft_reactor_attach */
  atomic { state == R_NEW -> state = R_RUNNING };  /* cas_relaxed */
#ifdef MUTANT_ATTACH_CHECK_FIRST
  mpsc_empty(e);
  sleeping = 1;
#else
  sleeping = 1;                              /* store_relaxed */
  /* fence(seq_cst) */
  mpsc_empty(e);
#endif
  if
  :: !e -> wake_write()
  :: else -> skip
  fi;
  e = 0;
  /* startup triggers: nothing */

end_host:
  do
  :: atomic {                                /* the epoll fd is readable: drain */
       evfd > 0 || (spur > 0 && nfin <= P) ->
       if
       :: evfd == 0 -> spur--                /* a timer or a reader made it so */
       :: else -> skip
       fi
     };
     if
     :: budget = 1
     :: budget = INF
     fi;
     if
     :: nospin = 0
     :: nospin = 1
     fi;
     /* drain_attached */
#ifndef MUTANT_DRAIN_RESET_LATE
     wake_read();                            /* reset first */
#endif
     sleeping = 0;                           /* store_relaxed */
     /* hosted_poll: no readers or writers; the eventfd is skipped */
     n = 0;
     do
     :: /* drain_snapshot(r, budget - n), callbacks may detach */
        last0 = tail;                         /* load_acquire(tail) */
        k0 = 0;
        if
        :: last0 != 0 ->
           do
           :: mpsc_pop();
              if
              :: node == NONE || node == WB -> break
              :: else ->
                 wl0 = (node == last0);
                 assert(state == R_RUNNING); /* nothing runs here after a detach */
                 run_item();
                 if
                 :: node <= P && done_main == P && !detached ->
                    if
                    :: detached = 1;         /* the callback detaches */
                       shutdown_sequence();
                       drain_cut = 1         /* r->in_drain */
                    :: skip
                    fi
                 :: else -> skip
                 fi;
                 k0++;
                 if
                 :: wl0 || n + k0 == budget || drain_cut -> break
                 :: else -> skip
                 fi
              fi
           od
        :: else -> skip
        fi;
        node = 0; last0 = 0; wl0 = 0;
        n = n + k0;
        /* the round condition, in the code's order */
        if
        :: n >= budget -> break
        :: else -> skip
        fi;
        if
        :: k0 > 0 -> skip
        :: else ->
           mpsc_empty(e);
           if
           :: e -> break
           :: else -> skip
           fi
        fi;
        k0 = 0; e = 0;
        if
        :: nospin -> break
        :: else -> skip
        fi;
        busy_wait(bw);
        if
        :: !bw -> break
        :: else -> skip
        fi;
        bw = 0;
        if
        :: state != R_RUNNING -> break
        :: else -> skip
        fi
     od;
     k0 = 0; e = 0; bw = 0; n = 0; budget = 0; nospin = 0;
     if
     :: state != R_RUNNING -> goto drained   /* a callback detached */
     :: else -> skip
     fi;
     /* timers, hosted_arm: not modelled */
     sleeping = 1;                           /* store_relaxed */
     /* fence(seq_cst) */
     mpsc_empty(e);
     if
     :: !e -> skip;                          /* fetch_add_relaxed(wakeups) */
        wake_write()
     :: else -> skip
     fi;
     e = 0;
#ifdef MUTANT_DRAIN_RESET_LATE
     wake_read();
#endif
drained:
     drain_cut = 0;                          /* drain_ex, after drain_attached */
     if
     :: detached -> break
     :: else -> skip
     fi
  :: done_main == P && !detached ->          /* the owner detaches */
     detached = 1;
     shutdown_sequence();
     break
  od;
  /* the host stops watching the fd; weft_reactor_destroy */
  destroy()
}
#else
/* weft_reactor_run's thread: the loop, the shutdown, then destroy. */
proctype reactor() {
  byte node, nnext, last, k, old;
  bool ok, wl, e, bw, s, rep;

  atomic { state == R_NEW -> state = R_RUNNING };  /* run's cas_relaxed */
  do
  :: /* loop_once: a stop seen before the drain waits out a producer
      * mid-push, so every call queued before it runs; one seen after the
      * drain (the stopper is another thread: STOP_FROM_THREAD) gets one
      * more pass, no I/O */
     s = stop_req;                           /* load_acquire(stop_requested) */
#ifdef MUTANT_STOP_DRAIN_NO_WAIT
     snapshot_ex(INF, k, 0);
#else
     snapshot_ex(INF, k, s);
#endif
     if
     :: s -> break
     :: else -> skip
     fi;
     if
#ifdef MUTANT_STOP_NO_EXTRA_PASS
     :: stop_req -> break
#else
     :: stop_req -> k = 0; goto next_pass    /* load_acquire again: return 0 */
#endif
     :: else -> skip
     fi;
     /* (ran > 0 || !mpsc_empty) && timeout != 0 && busy_wait_for_work */
     if
     :: k > 0 -> bw = 1
     :: else -> mpsc_empty(e); bw = !e
     fi;
     k = 0; e = 0;
     if
     :: bw -> busy_wait(bw)
     :: else -> skip
     fi;
     if
     :: bw ->
        bw = 0;
        if
        :: skip
        :: rep = (evfd > 0);                 /* every ~1 ms: epoll_wait(0) */
           if
           :: rep -> wake_read()             /* dispatch */
           :: else -> skip
           fi;
           rep = 0
        fi
     :: else ->
        sleeping = 1;                        /* store_relaxed */
        /* fence(seq_cst) */
        mpsc_empty(e);
        if
        :: !e -> rep = (evfd > 0)            /* timeout 0 */
        :: else ->
           if
           :: stop_req -> rep = (evfd > 0)   /* timeout 0 */
           :: else ->
end_wait:     evfd > 0;                      /* epoll_wait(-1) */
              rep = 1
           fi
        fi;
        e = 0;
        sleeping = 0;                        /* store_relaxed */
        if
        :: rep -> wake_read()                /* dispatch */
        :: else -> skip
        fi;
        rep = 0
     fi;
next_pass:
     skip
  od;
  shutdown_sequence();
  /* run returned; weft_reactor_destroy on this thread */
  destroy()
}
#endif

init {
  byte i;
  atomic {
    run reactor();
    do
#ifdef STOP_AFTER_PUSH
    :: i == P - 1 -> i++                     /* item P is the stopper's */
    :: i <= P && i != P - 1 -> run producer(i); i++
#else
    :: i <= P -> run producer(i); i++        /* main 1..P, late P + 1 */
#endif
    :: else -> break
    od;
#if defined(RUN) || defined(STOP)
    run stopper()
#else
    stop_ret = 1
#endif
  };
  freed                  /* not an end state: blocking here is a lost wake-up */
}
