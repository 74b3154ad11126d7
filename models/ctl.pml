/*
 * models/ctl.pml — the parking protocol of docs/design.md E5, shared by
 * park.pml and inject.pml (included with cpp; spin preprocesses models).
 *
 * The includer defines W (workers that may exist), the macro work_visible
 * (what the Dekker re-check of E5.2 and the chained wake of E5.3 read) and a
 * proctype worker(byte me), and declares in every process that uses these
 * inlines the locals: byte s_tag, s_top, s_srch, nx; bool ok, srch (s_tag
 * is no longer read: the tag is modelled by `valid`, below).
 *
 * ctl is one 64-bit atomic word in C ([tag:32 | top:16 | searching:16]); here
 * one atomic Promela step loads or CASes its three fields together. spin
 * explores sequentially consistent interleavings: the C code gets that order
 * where the argument needs it from the seq_cst fences of E5.1/E5.2 (publish,
 * fence, read ctl against CAS ctl, fence, read the queues) and from seq_cst
 * RMWs on ctl. Every other step of the C code is one Promela step.
 */
#ifndef CLOSED
#define CLOSED false  /* shutdown.pml defines it: the engine's `closed` flag */
#endif

/* The ABA tag, unbounded: valid[p] says that no CAS that changes the tag (a
 * push or a pop of the idle stack) has happened since process p's last
 * snapshot of ctl, which is exactly when the C code's tag still compares
 * equal (it never wraps within a CAS window). A tag counted modulo a small
 * number wrapped in deep searches and showed an ABA the 32-bit tag cannot
 * have; the search that hid it was cut short by the memory limit, which
 * run.sh did not catch. The spawn claim and the searching adds change
 * `searching`, not the tag, as in C. At most 8 processes. */
bool valid[8];
#define INVAL valid[0] = 0; valid[1] = 0; valid[2] = 0; valid[3] = 0; valid[4] = 0; valid[5] = 0; valid[6] = 0; valid[7] = 0
byte top;             /* 1 + index of the most recently parked worker; 0: none */
byte searching;       /* workers awake and looking for work */
byte next_idle[W];    /* Treiber stack link of a parked worker */
byte wake[W];         /* futex word: 0 asleep, 1 notified */
byte nspawned;        /* threads started so far (at most W) */

/* E5.1 notify, run after publishing work (after the seq_cst fence). */
inline notify() {
  atomic { valid[_pid] = 1; s_top = top; s_srch = searching };
  do
  :: s_srch > 0 -> break                     /* an awake searcher will see the work */
  :: s_srch == 0 && s_top == 0 ->
     /* nobody parked, nobody searching: every live worker is busy */
     if
     :: nspawned >= W || CLOSED -> break       /* !may_spawn: a busy worker finds the work */
     :: else -> skip
     fi;
#ifdef MUTANT_NO_SPAWN
     break;
#endif
     atomic {                                  /* CAS(ctl, s -> s + 1) seq_cst: claim a searcher */
       if
       :: valid[_pid] && top == s_top && searching == s_srch -> searching++; ok = 1
       :: else -> valid[_pid] = 1; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: !ok -> skip                            /* continue */
     :: ok ->
        atomic {                               /* weft__engine_spawn_locked (under e->mu) */
          if
          :: nspawned < W && !CLOSED -> run worker(nspawned); nspawned++; ok = 1
#ifdef SPAWN_MAY_FAIL
          :: true -> ok = 0                    /* thread creation failed */
#endif
          :: nspawned >= W || CLOSED -> ok = 0
          fi
        };
        if
        :: ok -> break
        :: else ->                             /* undo the claim: fetch_sub seq_cst */
           atomic { searching--; valid[_pid] = 1; s_top = top; s_srch = searching };
           if
           :: s_srch > 0 || s_top == 0 -> break
           :: else -> skip                     /* someone parked meanwhile: wake it */
           fi
        fi
     fi
  :: s_top > 0 ->
     /* With searchers awake too, the eager wake of long-task pools
      * (lib/engine/park.c, searchers_suffice): the model lets notify either
      * break above or pop here, so both policies are checked. */
     nx = next_idle[s_top - 1];
     atomic {                                  /* CAS(ctl, s -> {tag+1, nx, searching+1}) */
       if
       :: valid[_pid] && top == s_top && searching == s_srch ->
          INVAL; top = nx; searching = s_srch + 1; ok = 1
       :: else ->                              /* failed: s = the current value */
          valid[_pid] = 1; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: ok -> wake[s_top - 1] = 1; break       /* wake_popped: xchg_acq_rel(wake); futex_wake */
     :: else -> skip
     fi
  od
}

/* E5.3: a searcher found work. The last searcher wakes the next one. */
inline searching_to_running() {
  srch = false;
  atomic { searching--; s_srch = searching };  /* fetch_sub seq_cst */
  if
  :: s_srch == 0 && work_visible -> notify()
  :: else -> skip
  fi
}

inline become_searching() {
  if
  :: !srch -> atomic { searching++ }; srch = true
  :: else -> skip
  fi
}

#ifdef MUTANT_PARK_IGNORES_CLOSED
#define CLOSED_RECHECK_ON false
#else
#define CLOSED_RECHECK_ON true   /* park re-checks `closed` first (E7) */
#endif

/* weft__engine_wake_one until none is parked (close: weft__engine_wake_all). */
inline wake_all() {
  atomic { valid[_pid] = 1; s_top = top; s_srch = searching };
  do
  :: s_top == 0 -> break
  :: else ->
     nx = next_idle[s_top - 1];
     atomic {                                  /* CAS(ctl, s -> {tag+1, nx, searching+1}) */
       if
       :: valid[_pid] && top == s_top && searching == s_srch ->
          INVAL; top = nx; searching++; ok = 1
       :: else -> ok = 0
       fi
     };
     if
     :: ok -> wake[s_top - 1] = 1
     :: else -> skip
     fi;
     atomic { valid[_pid] = 1; s_top = top; s_srch = searching }
  od
}

/* E5.2 park: push self and stop searching in one CAS, re-check, sleep. */
inline park(me) {
  wake[me] = 0;
  atomic { valid[_pid] = 1; s_top = top; s_srch = searching };
  do
  :: next_idle[me] = s_top;
     atomic {   /* CAS(ctl, s -> {tag+1, me+1, searching-1}) seq_cst */
       if
       :: valid[_pid] && top == s_top && searching == s_srch ->
          INVAL; top = me + 1; searching--; ok = 1
       :: else ->
          valid[_pid] = 1; s_top = top; s_srch = searching; ok = 0
       fi
     };
     if
     :: ok -> break
     :: else -> skip
     fi
  od;
  srch = false;
#ifndef MUTANT_NO_RECHECK
  if                                           /* fence(seq_cst); Dekker re-check */
  :: CLOSED_RECHECK_ON && CLOSED -> wake_all() /* stop: nobody may sleep (wakes us too) */
  :: !(CLOSED_RECHECK_ON && CLOSED) && work_visible -> notify()
  :: else -> skip
  fi;
#endif
end_park:
  wake[me] != 0;                               /* while load_acquire(wake) == 0: futex_wait */
  srch = true                                  /* the notifier counted us as searching */
}
