/*
 * models/coordinator.pml — the drain hand-off of lib/coordinator.c (the
 * lock-free exclusive worker, Team's default coordinator):
 *   producer:  push(node) [mpsc: xchg tail, link]; if fetch_add(count,1) == 0: drain()
 *   drain():   loop { pop (spin while NULL/WOULDBLOCK); run; if fetch_sub(count,1) == 1: return }
 * with the queue of lib/mpsc.h step for step and one re-entrant do(): item 0
 * enqueues item T-1 from inside its run (as a Team's coordinator items do).
 *
 * Properties (pan -DSAFETY):
 *   exclusion       assert no two items run at once (invariant I1)
 *   exactly once    assert no item runs twice; at the end every item ran
 *   no stranding    once every process has finished, every item ran (I4);
 *                   and the drainer never pops an empty queue while the
 *                   count says an item is pending (I3, an assertion)
 *   no deadlock     invalid end states
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_DECREMENT_BEFORE_RUN  fetch_sub before running the item: another
 *                                  producer becomes drainer while it runs
 *   -DMUTANT_GIVE_UP_ON_WOULDBLOCK the drainer returns (keeping the role's
 *                                  count) when pop says WOULDBLOCK
 */
#ifndef P
#define P 2          /* producer threads, one do() each */
#endif
#define T (P + 1)    /* items: one per producer + one re-entrant */
#define NONE 255
#define WB   254

byte nxt[T + 1];     /* node i+1 = item i; nxt[0] = head.next */
byte tail;
byte count;          /* enqueues counted minus items run */
byte running;        /* items running now */
byte ran[T];

inline mpsc_push(n) {
  nxt[n] = 0;
  atomic { old = tail; tail = n };               /* xchg acq_rel */
  nxt[old] = n;                                  /* store_release */
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

inline run_item(i) {
  atomic { assert(running == 0); assert(ran[i] == 0); running++; ran[i] = 1 };
  if
  :: i == 0 -> enqueue_nested()                  /* re-entrant do() from inside item 0 */
  :: else -> skip
  fi;
  running--
}

/* The nested do() only enqueues: the count is >= 1 (we are the drainer). */
inline enqueue_nested() {
  mpsc_push(T);
  atomic { c = count; count++ };
  assert(c > 0)
}

inline drain() {
  do
  :: mpsc_pop();
#ifdef MUTANT_GIVE_UP_ON_WOULDBLOCK
     if
     :: node == WB -> goto done
     :: else -> skip
     fi;
#endif
     do                                          /* spin while NULL / WOULDBLOCK */
     :: node == NONE -> assert(false)            /* I3: a counted node exists */
     :: node == WB -> mpsc_pop()
     :: else -> break
     od;
#ifdef MUTANT_DECREMENT_BEFORE_RUN
     atomic { c = count; count-- };
     run_item(node - 1);
#else
     run_item(node - 1);
     atomic { c = count; count-- };              /* fetch_sub acq_rel */
#endif
     node = 0;
     if
     :: c == 1 -> break
     :: else -> skip
     fi
  od;
done:
  skip
}

proctype producer(byte me) {
  byte old, node, nnext, c;
  bool ok;
  mpsc_push(me + 1);
  atomic { c = count; count++ };                 /* fetch_add acq_rel */
  if
  :: c == 0 -> drain()
  :: else -> skip
  fi
}

init {
  byte i;
  atomic {
    do
    :: i < P -> run producer(i); i++
    :: else -> break
    od
  };
  _nr_pr == 1;                                   /* every producer returned */
  i = 0;
  do
  :: i < T -> assert(ran[i] == 1); i++
  :: else -> break
  od;
  assert(count == 0 && running == 0)
}
