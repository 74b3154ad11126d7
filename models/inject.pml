/*
 * models/inject.pml — the injection path: lib/engine/mpsc.h step for step (push =
 * exchange of the tail, then the link store; pop with its WOULDBLOCK case),
 * the consumer try-lock of docs/design.md E2, and the notify-after-publish
 * rule with the parking protocol of E5 (models/ctl.pml).
 *
 * Nodes: 0 is the queue's permanent dummy head, task i is node i+1.
 * Properties as in park.pml: exactly-once (asserts), no lost wake-up and no
 * deadlock (init blocks at a non-end label until every task ran).
 * The foreign submit has no fence between its push and its ctl read
 * (weft__engine_notify_after_inject): its seq_cst exchange is the publish,
 * and on x86 its link store may still sit in the store buffer when it reads
 * ctl. The producer here therefore notifies between its exchange and its
 * link (the weakest order; -DLINK_FIRST checks the other one), and the
 * re-checks of E5.2/E5.3 read "linked or exchanged" (head.next != NULL or
 * tail != &head: weft__inject_maybe_nonempty): a parker that sees a push in
 * flight wakes a worker instead of sleeping.
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_RECHECK_LINKED_ONLY the re-checks read only head.next (the
 *                                re-check of the fenced submit before
 *                                5d17f51, which needed a fence after the
 *                                link): the parker misses a push
 *                                in flight whose producer saw it searching
 *   -DMUTANT_NO_PUT_BACK         pop's WOULDBLOCK path forgets to restore
 *                                head.next (the node is lost). Checked with
 *                                -DLINK_FIRST -DRECHECK_LINKED_ONLY (the
 *                                fenced order before 5d17f51, also correct):
 *                                with the tail-aware re-check the lost node
 *                                keeps workers awake for ever, a livelock a
 *                                safety search does not report
 *   -DMUTANT_NO_RECHECK          park without the Dekker re-check
 */
#ifndef W
#define W 2
#endif
#ifndef S
#define S 2
#endif
#ifndef T
#define T 2
#endif
#define NONE 255     /* pop: queue empty */
#define WB   254     /* pop: WEFT__MPSC_WOULDBLOCK */

byte nxt[T + 1];     /* node->next; nxt[0] is head.next */
byte tail;           /* 0 (&head) when empty */
bool consumer_busy;  /* E2 try-lock */
byte ran[T];
byte done;
byte subs_done;   /* submitters finished */

#if defined(MUTANT_RECHECK_LINKED_ONLY) || defined(RECHECK_LINKED_ONLY)
#define work_visible (nxt[0] != 0)
#else
#define work_visible (nxt[0] != 0 || tail != 0)
#endif

#include "ctl.pml"

/* weft__mpsc_pop, one Promela step per atomic access. Result in node. */
inline mpsc_pop() {
  node = nxt[0];                                  /* load_acquire(head.next) */
  if
  :: node == 0 ->
     if
     :: tail == 0 -> node = NONE                  /* load_acquire(tail) */
     :: else -> node = WB
     fi
  :: else ->
     nnext = nxt[node];                           /* load_acquire(node->next) */
     if
     :: nnext == 0 ->
        nxt[0] = 0;                               /* store_relaxed(head.next, NULL) */
        atomic {                                  /* CAS(tail, node -> &head) acq_rel */
          if
          :: tail == node -> tail = 0; ok = 1
          :: else -> ok = 0
          fi
        };
        if
        :: ok -> skip                             /* detached the last node */
        :: else ->
           nnext = nxt[node];                     /* load_acquire(node->next) */
           if
           :: nnext == 0 ->
#ifndef MUTANT_NO_PUT_BACK
              nxt[0] = node;                      /* put it back */
#endif
              node = WB
           :: else -> nxt[0] = nnext
           fi
        fi
     :: else -> nxt[0] = nnext                    /* store_relaxed(head.next, next) */
     fi
  fi
}

proctype worker(byte me) {
  byte node, nnext, s_tag, s_top, s_srch, nx;
  bool ok, locked, more, srch = true;
loop:
  node = NONE; nnext = 0; more = 0; s_tag = 0; s_top = 0; s_srch = 0; nx = 0; ok = 0;
  atomic {    /* has_visible && xchg(consumer_busy, 1) acquire (inject_batch) */
    if
    :: nxt[0] != 0 && !consumer_busy -> consumer_busy = 1; locked = 1
    :: else -> locked = 0                         /* busy: go stealing (nothing here) */
    fi
  };
  if
  :: locked -> mpsc_pop(); more = (nxt[0] != 0); consumer_busy = 0; locked = 0  /* store_release */
  :: else -> skip
  fi;
  if
  :: node != NONE && node != WB ->
     if
     :: srch -> searching_to_running()
     :: !srch && more -> notify()                 /* E5.1 for work left visible */
     :: else -> skip
     fi;
     atomic { assert(ran[node - 1] == 0); ran[node - 1] = 1; done++; node = NONE };
     goto loop
  :: else ->                                      /* empty or WOULDBLOCK */
     become_searching();
     if
     :: goto loop       /* spin: search again (E4 backoff before parking) */
     :: park(me)
     fi;
     goto loop
  fi
}

proctype producer(byte first; byte count) {
  byte i, n, old, s_tag, s_top, s_srch, nx;
  bool ok, srch;
  do
  :: i < count ->
     n = first + i + 1;
     nxt[n] = 0;                                  /* store_relaxed(last->next, NULL) */
     atomic { old = tail; tail = n };             /* xchg_seq_cst(tail, n) */
#ifdef LINK_FIRST
     nxt[old] = n;                                /* the link already visible */
     notify();                                    /* load_seq_cst(ctl); notify */
#else
     notify();                                    /* load_seq_cst(ctl); notify */
     nxt[old] = n;                                /* store_release(old->next, n) */
#endif
     old = 0; i++
  :: else -> break
  od;
  subs_done++
}

init {
  byte i;
  atomic {
    do
    :: i < S -> run producer(i * (T / S), (i == S - 1 -> T - i * (T / S) : T / S)); i++
    :: else -> break
    od
  };
#ifdef SPAWN_MAY_FAIL
  /* Every thread creation may fail: then no worker exists and the work waits
   * for stop() to cancel it (E7); that final state is allowed. */
  done == T || (nspawned == 0 && subs_done == S);
  if
  :: done < T -> goto out
  :: else -> skip
  fi;
#else
  done == T;      /* not an end state: blocking here means work was lost */
#endif
  i = 0;
  do
  :: i < T -> assert(ran[i] == 1); i++
  :: else -> break
  od;
out:
  skip
}
