/*
 * models/team_destroy.pml — the Team's destroy against in-flight coordinator
 * items (lib/workers/team.c: item_begin/item_end, coord_settled,
 * generic_trampoline, coord_submit; park, take_parked, resubmit, park_list,
 * retry_parked; coordinate, start_on, recycle, quit_idlers, maybe_finish,
 * the items, idle_pending_stand_in, dowork_cb, team_do, team_quit,
 * destroy_retry, team_destroy), for a coordinator other than the lock-free
 * one, i.e. with `coord_items` counting:
 *   item_begin  coord_items +1 (relaxed) before each submission, and in
 *               start_on before the worker's do() (for the idle-and-pending
 *               step that worker will submit); item_end -1 (release) as the
 *               last touch of each item (generic_trampoline), or by the
 *               submitter of a refused submission
 *   dowork_cb   (a worker, after its task) coord do(idle_pending_run);
 *               refused: log, park the record (CAS release onto `parked`),
 *               then -1 (its start_on +1) as its last touch
 *   retry_parked (team_do, team_quit) load parked (relaxed hint); if set,
 *               take all (xchg acquire), resubmit each (+1; coord do; refused
 *               → -1), park the refused ones again (one CAS each)
 *   team_do     load quit; retry_parked; +1; coord do(coordinate_run);
 *               refused: discard, slab_put, -1
 *   team_quit   xchg quit; retry_parked; +1; coord do(start_finishing_run);
 *               refused: store quit_refused = 1, then -1
 *   destroy     load quit, team_quit() if clear; destroy_retry: take the
 *               parked steps and resubmit each; load quit_refused: if set,
 *               +1, coord do(quit step): accepted → quit_refused = 0;
 *               refused → -1. If anything was refused again: not
 *               coord_settled → park the refused steps again, EBUSY; else
 *               run each refused step here (idle_pending_stand_in: busy--,
 *               the worker idle, no backlog taken, quit_idlers if
 *               should_quit), then, if quit's step was refused, busy == 0 →
 *               start_finishing here, quit_refused = 0, else EBUSY. Then
 *               load finished; coord_settled (load coord_items == 0, then
 *               the coordinator's in-flight do() count == 0); free: cancel
 *               the backlog, drop idle workers, release the coordinator
 *   items       coordinate (finished → cancel the task; else an idle worker
 *               or a new one → start_on: busy++, +1, worker do(); none →
 *               backlog), idle_pending_run (busy--, recycle: backlog first,
 *               else with should_quit quit_idlers), start_finishing
 *               (should_quit, quit_idlers → drop idle workers, maybe_finish:
 *               should_quit && busy == 0 && !finished → store finished,
 *               quit the coordinator)
 * The coordinator is a ThreadWorker (lib/workers/thread_worker.c behind
 * lib/workers/worker.c): do() = enter (CAS +1 unless QUIT) / push + notify
 * (or ENOMEM: a transient refusal, at most REFUSE of them) / leave (-1, the
 * one that finds QUIT|1 pushes the stop marker); its thread runs the items
 * FIFO after the do() returned, then the trampoline's -1, until the marker.
 * -DINLINE makes it a LockWorker (lib/workers/lock_worker.c) instead: the
 * item runs inside the caller's do() under a lock (a refused acquire is
 * the transient refusal) and the lock is released after the item's -1,
 * before the leave: the reason coord_settled also reads the in-flight
 * count; the owner frees the lock once destroy returned 0.
 * Threads: the owner (do(task 0), optionally quit(), joins the submitter,
 * then destroy until it returns 0, waiting between tries for something
 * destroy reads to change: coord_items, finished, quit_refused, parked, the
 * coordinator's in-flight count), a submitter whose do(task 1) races the
 * quit, the coordinator's thread, W workers made on demand. Task 0's fn
 * may call quit() itself (from a worker, as a team task may).
 * One Promela step per atomic access of the C code; coordinator-confined
 * state (busy, idle, backlog, should_quit) is updated with the neighbouring
 * atomic step of the item that owns it.
 *
 * Properties (pan -DSAFETY):
 *   no free under an item  every access to the team asserts !freed (the
 *                  trampoline's -1, each item's steps, the refused
 *                  submitters' undo, a worker's r->t); destroy asserts at
 *                  the free that no team item is queued or running and
 *                  (INLINE) the lock is not held; nothing uses the lock
 *                  after the owner freed it
 *   exclusion      coordinator items never overlap each other or destroy's
 *                  own runs of refused steps (idle-and-pending, finishing),
 *                  nor destroy's read of busy
 *   exactly once   each task is run, cancelled by coordinate, cancelled by
 *                  destroy or refused to its do(): once (assert at each),
 *                  all decided when destroy frees; the finishing step runs
 *                  once, finished is stored once; a worker's step is parked
 *                  at most once at a time and none is left parked (nor any
 *                  worker busy) when destroy frees
 *   destroyable    the owner's wait between tries is not an end state: a
 *                  destroy that answers WEFT_EBUSY while nothing it reads
 *                  can change any more is an invalid end state
 *
 * Bounds: T = 2 tasks (fixed: one per do() caller), W worker slots (1 by
 * default: the second task waits in the backlog and the recycle dispatches
 * it; CI: W = 2, where two workers are busy at once), REFUSE = 4 transient
 * refusals of submissions (quit's step, a worker's idle-and-pending step,
 * their resubmissions by do/quit/destroy, a do()), so that a step refused
 * and refused again on destroy's retry makes destroy run it itself, and
 * both the idle-and-pending and the quit step can be refused twice (destroy
 * then runs the idle-and-pending step before quit's step has run: no
 * should_quit yet); -DCREATE_MAY_FAIL lets one worker creation fail
 * (createWorker returns NULL), which leaves a task in the backlog when the
 * team finishes, for destroy to cancel. -DNO_OPS_RETRY leaves out the
 * retries in do() and quit() (destroy's alone). A worker's do() is never
 * refused (start_on's undo is the pattern of team_do's); grow and shrink
 * (whose retry_parked is team_do's) are not modelled. The lock-free coordinator
 * (coord_settled = no do() in flight) is not modelled here: coordinator.pml
 * checks that a do() in flight covers every pending item.
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_END_BEFORE_RUN    the trampoline does item_end before running
 *                              the item: destroy frees the team while the
 *                              finishing item still runs (assertion
 *                              violated at the free)
 *   -DMUTANT_NO_RETRY          destroy does not retry a refused quit step:
 *                              the team never finishes, the owner waits
 *                              for ever (invalid end state)
 *   -DMUTANT_RUN_UNSETTLED     destroy_retry runs the refused steps
 *                              itself without coord_settled: it runs them
 *                              while a coordinator item runs (assertion
 *                              violated)
 *   -DINLINE -DMUTANT_SETTLED_ITEMS_ONLY  coord_settled reads coord_items
 *                              only: destroy returns while a do() still
 *                              holds the LockWorker's lock, the owner frees
 *                              it under the unlock (assertion violated)
 *   -DMUTANT_NO_IDLE_RETRY     destroy does not take the parked
 *                              idle-and-pending steps (neither resubmits
 *                              nor runs them; do/quit still retry): a step
 *                              refused after the owner's last do/quit
 *                              keeps its worker busy, the team never
 *                              finishes, the owner waits for ever (invalid
 *                              end state)
 *   -DMUTANT_STANDIN_DISPATCH  destroy's own run of a refused step recycles
 *                              the worker as idle_pending_run does, taking
 *                              a backlogged task: the worker runs it and
 *                              its step, accepted now, runs on the
 *                              coordinator beside destroy (assertion
 *                              violated)
 */
#define T 2              /* tasks: 0 = the owner's do(), 1 = the racing do() */
#ifndef W
#define W 1              /* worker slots */
#endif
#ifndef REFUSE
#define REFUSE 4         /* transient refusals by the coordinator's do() */
#endif
#define NONE     255
/* coordinator items */
#define DISPATCH 0       /* + task: coordinate_run */
#define IDLE     8       /* + worker: idle_pending_run */
#define QSTEP    16      /* start_finishing_run (quit_rec) */
#define STOP     17      /* the ThreadWorker's stop marker */
/* task fates */
#define RAN      1
#define CANCELLED 2      /* coordinate found the team finished */
#define DCANCEL  3       /* destroy cancelled it from the backlog */
#define REFUSED  4       /* its do() returned an error */
#define EBUSY    1
/* worker slots */
#define W_NONE   0
#define W_LIVE   1
#define W_DROPPED 2

/* team (shared) */
bool quit, finished, quit_refused;
byte parked;             /* refused idle-and-pending steps: bit w = worker w's */
byte coord_items;
bool freed;
/* team (coordinator-confined) */
byte busy;
bool should_quit;
byte nidle;
byte idle[W];
chan pend = [T] of { byte };
/* the coordinator: base word and queue (ThreadWorker) or lock (LockWorker) */
bool cquit;
byte cin;                /* do() calls in flight */
chan cq = [T + W + 2] of { byte };  /* the ThreadWorker's queue (INLINE: a hand-over) */
#ifdef INLINE
bool lk, lock_freed;
bool ran_inline;         /* the hand-over's answer */
#endif
byte refusals;
bool create_failed;    /* -DCREATE_MAY_FAIL: one creation fails */
/* workers */
byte wstate[W];
byte assigned[W];
/* ghosts */
byte fate[T];
bool in_coord;           /* a coordinator item (or destroy's own run of one) runs */
byte queued;             /* team items on the coordinator's queue */
byte qsteps;             /* finishing steps run */
bool poked;              /* something destroy reads changed */
bool submitter_done;

#define LOCALS byte rc, it, wi, ti, ci, tk, rf; bool f, s, qa

inline touch() { assert(!freed) }
inline poke() { poked = 1 }
inline set_fate(i, v) { assert(fate[i] == 0); fate[i] = v }

/* weft_worker_quit(t->coord): fetch_or QUIT; the closer runs ops->quit */
inline coord_quit() {
  atomic {
    touch();                                   /* reads t->coord */
    f = cquit; cquit = 1;
#ifndef INLINE
    if
    :: !f && cin == 0 -> cq!STOP               /* tw_quit: the stop marker */
    :: else -> skip
    fi
#endif
  };
  f = 0
}

inline maybe_finish() {
  atomic {
    touch();
    f = should_quit && busy == 0 && !finished  /* relaxed load of finished */
  };
  if
  :: f ->
     atomic { touch(); assert(!finished); finished = 1; poke() };  /* store_release */
     coord_quit()
  :: else -> skip
  fi;
  f = 0
}

inline quit_idlers() {
  atomic {
    touch();
    do
    :: nidle > 0 -> nidle--; wstate[idle[nidle]] = W_DROPPED; idle[nidle] = 0
    :: else -> break
    od
  };                                           /* drop_worker: quit + release */
  maybe_finish()
}

inline start_finishing() {
  atomic { touch(); assert(qsteps == 0); qsteps++; should_quit = 1 };
  quit_idlers()
}

inline start_on() {                            /* worker wi, task ti */
  atomic { touch(); busy++ };                  /* busy++, publish, r->worker */
  atomic { touch(); coord_items++; poke() };   /* item_begin */
  atomic { assert(assigned[wi] == NONE && wstate[wi] == W_LIVE); assigned[wi] = ti }  /* w's do() */
}

inline coordinate() {                          /* task ti */
  atomic { touch(); f = finished };            /* load relaxed */
  if
  :: f -> atomic { touch(); set_fate(ti, CANCELLED) }  /* log, discard, slab_put */
  :: else ->
     atomic {
       touch();
       if
       :: nidle > 0 -> nidle--; wi = idle[nidle]; idle[nidle] = 0
       :: else ->                              /* create_one: a free slot, else NULL */
          wi = 0;
          do
          :: wi < W && wstate[wi] != W_NONE -> wi++
          :: wi < W && wstate[wi] == W_NONE -> wstate[wi] = W_LIVE; break
          :: wi == W -> wi = NONE; break
          od;
#ifdef CREATE_MAY_FAIL
          if
          :: wi != NONE && !create_failed ->     /* createWorker returns NULL */
             wstate[wi] = W_NONE; wi = NONE; create_failed = 1
          :: true -> skip
          fi
#endif
       fi;
       if
       :: wi == NONE -> pend!ti                /* backlog */
       :: else -> skip
       fi
     };
     if
     :: wi != NONE -> start_on()
     :: else -> skip
     fi
  fi;
  f = 0; wi = 0
}

inline recycle() {                             /* worker wi */
  atomic {
    touch(); idle[nidle] = wi; nidle++;
    if
    :: nempty(pend) -> pend?ti; s = 1
    :: empty(pend) -> s = 0
    fi
  };
  if
  :: s -> coordinate()
  :: else ->
     if
     :: should_quit -> quit_idlers()
     :: else -> skip
     fi
  fi;
  s = 0
}

inline run_item() {                            /* item it */
  atomic { touch(); assert(!in_coord); in_coord = 1 };  /* r->node.run */
  if
  :: it < IDLE -> ti = it - DISPATCH; coordinate()
  :: it >= IDLE && it < QSTEP ->
     atomic { touch(); wi = it - IDLE; busy-- };         /* slab_put(r), busy-- */
     recycle()
  :: it == QSTEP -> start_finishing()
  fi;
  in_coord = 0
}

/* generic_trampoline */
inline trampoline() {
#ifdef MUTANT_END_BEFORE_RUN
  atomic { touch(); coord_items--; poke() };
  run_item()
#else
  run_item();
  atomic { touch(); coord_items--; poke() }    /* item_end: fetch_sub release */
#endif
}

/* weft__worker_do_plain(t->coord, generic_trampoline, r): rc 0 accepted */
inline coord_do(item, may_fail) {
  atomic {
    touch();                                   /* coord_submit reads t->coord, writes r */
    if
    :: cquit -> rc = 1                         /* enter: WEFT_EQUIT */
    :: else -> cin++; rc = 0; poke()
    fi
  };
  if
  :: rc == 0 ->
#ifndef INLINE
     if
     :: may_fail && refusals < REFUSE -> refusals++; rc = 1   /* slab: ENOMEM */
     :: atomic { cq!item; queued++ }           /* push + notify */
     fi;
     atomic {                                  /* leave */
       cin--; poke();
       if
       :: cquit && cin == 0 -> cq!STOP         /* the closer: tw_quit */
       :: else -> skip
       fi
     }
#else
     if
     :: may_fail && refusals < REFUSE -> refusals++; rc = 1   /* acquire failed */
     :: atomic { !lk -> assert(!lock_freed); lk = 1 };  /* ops.acquire(lock) */
        atomic { cq!item; queued++ };          /* run inline: see "INLINE" */
        atomic { ran_inline -> ran_inline = 0 };
        atomic { assert(!lock_freed); lk = 0 }  /* ops.release(lock) */
     fi;
     atomic { cin--; poke() }                  /* leave (lw_quit: nothing to push) */
#endif
  :: else -> skip
  fi
}

/* resubmit: each step in tk (taken) submitted again (+1, do(), refused:
 * -1); the refused ones -> rf */
inline resubmit() {
  rf = 0; wi = 0;
  do
  :: wi < W ->
     if
     :: tk & (1 << wi) ->
        atomic { touch(); coord_items++; poke() };   /* item_begin */
        coord_do(IDLE + wi, 1);
        if
        :: rc -> atomic { touch(); coord_items--; poke() }; rf = rf | (1 << wi)
        :: else -> skip
        fi;
        rc = 0
     :: else -> skip
     fi;
     wi++
  :: else -> break
  od;
  wi = 0; tk = 0
}

/* park_list: one push (CAS release) per refused step */
inline park_list() {
  wi = 0;
  do
  :: wi < W ->
     if
     :: rf & (1 << wi) -> atomic { touch(); assert(!(parked & (1 << wi))); parked = parked | (1 << wi); poke() }
     :: else -> skip
     fi;
     wi++
  :: else -> break
  od;
  wi = 0; rf = 0
}

/* retry_parked (do/grow/shrink/quit): relaxed hint, take (xchg acquire),
 * resubmit, park the refused ones again */
inline retry_parked() {
#ifndef NO_OPS_RETRY
  atomic { touch(); s = (parked != 0) };
  if
  :: s -> atomic { touch(); tk = parked; parked = 0 };
          resubmit();
          park_list()
  :: else -> skip
  fi;
  s = 0
#else
  skip
#endif
}

inline team_do(task) {
  atomic { touch(); f = quit };                /* load acquire */
  if
  :: f -> set_fate(task, REFUSED)              /* WEFT_EQUIT */
  :: else ->
     retry_parked();
     atomic { touch(); coord_items++; poke() };
     coord_do(DISPATCH + task, 1);
     if
     :: rc -> atomic { touch(); set_fate(task, REFUSED); coord_items--; poke() }
     :: else -> skip
     fi
  fi;
  f = 0; rc = 0
}

inline team_quit() {
  atomic { touch(); f = quit; quit = 1 };      /* xchg acq_rel */
  if
  :: !f ->
     retry_parked();
     atomic { touch(); coord_items++; poke() };
     coord_do(QSTEP, 1);
     if
     :: rc ->
        atomic { touch(); quit_refused = 1; poke() };  /* store_release */
        atomic { touch(); coord_items--; poke() }      /* item_end: last touch */
     :: else -> skip
     fi
  :: else -> skip
  fi;
  f = 0; rc = 0
}

inline coord_settled() {                       /* -> s */
  atomic { touch(); ci = coord_items };        /* load acquire */
#ifdef MUTANT_SETTLED_ITEMS_ONLY
  s = (ci == 0);
#else
  if
  :: ci == 0 -> atomic { touch(); s = (cin == 0) }  /* weft__worker_inflight */
  :: else -> s = 0
  fi;
#endif
  ci = 0
}

/* destroy's own run of a parked step of worker wi (idle_pending_stand_in):
 * busy--, the worker idle, no backlog taken; quit_idlers if should_quit */
inline stand_in() {
#ifdef MUTANT_STANDIN_DISPATCH
  atomic { touch(); assert(in_coord); busy-- };
  recycle()                                    /* as idle_pending_run */
#else
  atomic { touch(); assert(in_coord); busy--; idle[nidle] = wi; nidle++ };
  if
  :: should_quit -> quit_idlers()
  :: else -> skip
  fi
#endif
}

inline destroy_retry() {                       /* -> rc: 0 or EBUSY */
#ifndef MUTANT_NO_IDLE_RETRY
  atomic { touch(); tk = parked; parked = 0 }; /* take_parked: xchg acquire */
#endif
  resubmit();
  qa = 0;
  atomic { touch(); f = quit_refused };        /* load acquire */
#ifdef MUTANT_NO_RETRY
  f = 0;
#endif
  if
  :: f ->
     atomic { touch(); coord_items++; poke() };
     coord_do(QSTEP, 1);
     if
     :: rc == 0 -> atomic { touch(); quit_refused = 0 }  /* store relaxed */
     :: else -> atomic { touch(); coord_items--; poke() }; qa = 1
     fi
  :: else -> skip
  fi;
  rc = 0;
  if
  :: rf == 0 && !qa -> skip
  :: else ->
#ifdef MUTANT_RUN_UNSETTLED
     s = 1;
#else
     coord_settled();
#endif
     if
     :: !s -> park_list(); rc = EBUSY
     :: s ->
        atomic { touch(); assert(!in_coord); in_coord = 1 };
        wi = 0;
        do
        :: wi < W ->
           if
           :: rf & (1 << wi) -> stand_in()
           :: else -> skip
           fi;
           wi++
        :: else -> break
        od;
        wi = 0; rf = 0;
        if
        :: qa ->
           atomic { touch(); f = (busy == 0) };
           if
           :: f ->
              start_finishing();
              atomic { touch(); quit_refused = 0 }
           :: else -> rc = EBUSY
           fi
        :: else -> skip
        fi;
        in_coord = 0
     fi
  fi;
  s = 0; f = 0; qa = 0
}

inline team_destroy() {                        /* -> rc: 0 or EBUSY */
  atomic { touch(); poked = 0; f = quit };     /* load acquire */
  if
  :: !f -> team_quit()
  :: else -> skip
  fi;
  destroy_retry();
  if
  :: rc == 0 ->
     atomic { touch(); f = finished };         /* load acquire */
     if
     :: f -> coord_settled(); rc = !s
     :: else -> rc = EBUSY
     fi
  :: else -> skip
  fi;
  if
  :: rc == 0 ->
     atomic {
       touch();
       assert(!in_coord && queued == 0 && busy == 0 && parked == 0);
#ifdef INLINE
       assert(!lk);
#endif
       do                                      /* the backlog: cancelled */
       :: nempty(pend) -> pend?ti; set_fate(ti, DCANCEL)
       :: empty(pend) -> break
       od;
       do                                      /* idle workers dropped */
       :: nidle > 0 -> nidle--; wstate[idle[nidle]] = W_DROPPED
       :: else -> break
       od;
       ti = 0;
       do
       :: ti < T -> assert(fate[ti] != 0); ti++
       :: else -> break
       od;
       ti = 0;
       freed = 1                               /* release coord, free t */
     }
  :: else -> skip
  fi;
  f = 0; s = 0
}

/* The ThreadWorker's thread. INLINE: the hands of whichever do() holds the
 * lock (that caller waits meanwhile, so the steps are the same as if it
 * ran the item itself; one copy of the item code keeps pan.c small). */
proctype coordinator() {
  LOCALS;
end:
  do
  :: atomic { cq?it -> if :: it != STOP -> queued-- :: else -> skip fi };
     if
     :: it == STOP -> break
     :: else -> trampoline()
#ifdef INLINE
        ; ran_inline = 1
#endif
     fi
  od
}

proctype worker(byte me) {
  LOCALS;
end:
  do
  :: atomic { assigned[me] != NONE -> ti = assigned[me]; assigned[me] = NONE };
     atomic { touch(); set_fate(ti, RAN) };    /* r->fn(r->arg) */
#ifndef NO_TASK_QUIT
     if
     :: ti == 0 -> team_quit()                 /* the task quits its team */
     :: true -> skip
     fi;
#endif
     coord_do(IDLE + me, 1);                   /* dowork_cb: r->t, coord_submit */
     if
     :: rc ->                                  /* refused: log, park (CAS release) */
        atomic { touch(); assert(!(parked & (1 << me))); parked = parked | (1 << me); poke() };
        atomic { touch(); coord_items--; poke() }  /* item_end: last touch */
     :: else -> skip
     fi;
     rc = 0; ti = 0
  :: atomic { wstate[me] == W_DROPPED -> break }
  od
}

proctype submitter() {
  LOCALS;
  team_do(1);                                  /* races the quit */
  submitter_done = 1
}

proctype owner() {
  LOCALS;
  team_do(0);
  if
  :: team_quit()
  :: skip                                      /* destroy quits */
  fi;
  submitter_done;                              /* destroy after other threads' calls */
  do
  :: team_destroy();
     if
     :: rc == 0 -> break
     :: else -> poked                          /* not an end state */
     fi
  od;
#ifdef INLINE
  lock_freed = 1;                              /* the user frees the lock */
#endif
  skip
}

init {
  byte i;
  atomic {
    do
    :: i < W -> assigned[i] = NONE; run worker(i); i++
    :: else -> break
    od;
    run coordinator();
    run submitter();
    run owner()
  }
}
