/*
 * models/reactor.pml — the reactor's completion queue and wake-up protocol
 * (lib/loop/reactor.c): producers exchange the MPSC queue's tail (lib/engine/mpsc.h
 * steps) and link their node; only when the exchange found the queue empty
 * they fence first and, if the loop may be asleep, write the eventfd after
 * linking (counted in `pushers` meanwhile); the loop drains a snapshot (up to the tail it read
 * first), may busy-wait, then sets `sleeping`, fences, checks the queue
 * (mpsc_empty: counts pushes in flight) and blocks in epoll_wait only if it is
 * empty. One item, run on the loop, pushes another from the reactor thread
 * itself (calls from the loop see sleeping == 0 and write nothing).
 *
 * Properties: exactly once (assert), a node runs only after its producer
 * made its last access to the reactor or while that producer is counted in
 * `pushers` (assert: what lets destroy free the reactor), no lost wake-up: the checker waits at a
 * non-end label until every item ran; the loop blocks in epoll_wait at an end
 * label, so "loop asleep, eventfd unwritten, item queued" is an invalid end
 * state.
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_CHECK_BEFORE_SLEEPING  the loop checks the queue before setting
 *                                   sleeping (no Dekker)
 *   -DMUTANT_WAKE_ONLY_IF_NOT_EMPTY the wake check is made by the pushes that
 *                                   found the queue non-empty instead
 *   -DMUTANT_UNCOUNTED_WRITE        a producer that writes the eventfd after
 *                                   its link is not counted in `pushers`
 *   -DMUTANT_SLEEP_CHECK_LINKED_ONLY the loop's pre-sleep check sees linked
 *                                   nodes only (mpsc_has_visible): the first
 *                                   push of a burst reads `sleeping` before
 *                                   it links, so its node is stranded
 */
#ifndef P
#define P 2              /* foreign producers, one item each */
#endif
#define T (P + 1)        /* + one item pushed by the loop itself */
#define NONE 255
#define WB   254

byte nxt[T + 1];
byte tail;
bool sleeping;
byte evfd;               /* eventfd counter (0 or more; saturation irrelevant) */
byte ran[T];
bool fin[T + 1];         /* producer of node n has made its last access to the reactor */
byte pushers;            /* producers between their link and the end of their write */
byte done;

#define q_empty (nxt[0] == 0 && tail == 0)   /* weft__mpsc_empty */

inline push(n) {
  nxt[n] = 0;
  atomic { old = tail; tail = n };           /* xchg acq_rel */
  /* weft__reactor_push: the usual push links and is done; the first of a
   * burst fences and reads `sleeping` before linking, and if it must write
   * the eventfd it is counted in `pushers` from before its link to after
   * its write (destroy waits for zero once the queue is drained). */
#ifdef MUTANT_WAKE_ONLY_IF_NOT_EMPTY
  if
  :: old != 0 ->
#else
  if
  :: old == 0 ->                             /* first of a burst */
#endif
     /* fence(seq_cst) */
     if
     :: sleeping ->
#ifndef MUTANT_UNCOUNTED_WRITE
        pushers++;
#endif
        nxt[old] = n;                        /* store_release: the link */
        evfd++;                              /* wake_write */
#ifndef MUTANT_UNCOUNTED_WRITE
        atomic { pushers--; fin[n] = 1 }
#else
        fin[n] = 1
#endif
     :: else -> atomic { nxt[old] = n; fin[n] = 1 }
     fi
  :: else -> atomic { nxt[old] = n; fin[n] = 1 }   /* the link: last access */
  fi;
  old = 0
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

proctype producer(byte me) {
  byte old;
  push(me + 1)
}

proctype loop() {
  byte node, nnext, last, n, old;
  bool ok, pushed_own;
  do
  :: /* drain_snapshot */
     last = tail;                            /* load_acquire(tail) */
     n = 0;
     if
     :: last != 0 ->
        do
        :: mpsc_pop();
           if
           :: node == NONE || node == WB -> break
           :: else ->
              /* Once a node can run, its producer is done with the reactor
               * or counted (destroy, after the drain, waits for pushers == 0). */
              assert(fin[node] || pushers > 0);
              atomic { assert(ran[node - 1] == 0); ran[node - 1] = 1; done++ };
              if
              :: node == 1 && !pushed_own -> pushed_own = 1; push(T)   /* call from the loop */
              :: else -> skip
              fi;
              n++;
              if
              :: node == last -> break
              :: else -> skip
              fi
           fi
        od
     :: else -> skip
     fi;
     node = 0; last = 0;
     /* busy_wait_for_work after a drain that ran something, or found a
      * node still unlinked; it returns on a linked node (has_visible) */
     if
     :: (n > 0 || !q_empty) && nxt[0] != 0 -> n = 0; goto again
     :: true -> skip
     fi;
     n = 0;
#ifdef MUTANT_CHECK_BEFORE_SLEEPING
     if
     :: !q_empty -> goto poll
     :: else -> skip
     fi;
     sleeping = 1;
#else
     sleeping = 1;
     /* fence(seq_cst) */
     if
#ifdef MUTANT_SLEEP_CHECK_LINKED_ONLY
     :: nxt[0] != 0 -> goto poll             /* mpsc_has_visible */
#else
     :: !q_empty -> goto poll                /* timeout = 0 */
#endif
     :: else -> skip
     fi;
#endif
end_wait:
     evfd > 0;                               /* epoll_wait(-1) until the eventfd is readable */
poll:
     sleeping = 0;
     atomic { if :: evfd > 0 -> evfd = 0 :: else -> skip fi };   /* wake_read if reported */
again:
     skip
  od
}

init {
  byte i;
  atomic {
    run loop();
    do
    :: i < P -> run producer(i); i++
    :: else -> break
    od
  };
  done == T      /* not an end state: blocking here means a lost wake-up */
}
