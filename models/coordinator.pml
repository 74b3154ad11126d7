/*
 * models/coordinator.pml — the bounded drain and its hand-off in
 * lib/workers/coordinator.c (the lock-free exclusive worker, Team's default
 * coordinator). One state word there; here its three fields, always updated
 * together inside one atomic block:
 *   count      enqueues counted minus items run
 *   announced  producers between [A] and [C]
 *   free       the role is free although count >= 1
 *   producer:  [A] announced++; push(node) [mpsc: xchg tail, link];
 *              [C] old = (count++, announced--); if old.count == 0: drain()
 *              elif old.free and [T] fetch_and clears free: drain()
 *   drain():   loop { pop (spin while WOULDBLOCK); run;
 *                     within budget: count--; leave if it was 1
 *                     over budget  [L]: count 1 -> 0, leave;
 *                                       announced >= 1 -> count--, free = 1, leave;
 *                                       else count--, go on }
 * with the queue of lib/engine/mpsc.h step for step, one re-entrant do() (item 0
 * enqueues item P from inside its run, as a Team's coordinator items do) and
 * a stalled producer: it announces before anyone else runs and makes its
 * count step only after some drain has returned, i.e. it stands for "another
 * thread keeps submitting" for as long as the first drainer drains.
 * BUD is the drain budget (WEFT__COORD_DRAIN_BUDGET; 1 here, so that the
 * hand-off happens in small models).
 *
 * Properties (pan -DSAFETY):
 *   exclusion       assert no two items run at once (I1), and a FREE role
 *                   is cleared by exactly one producer
 *   exactly once    assert no item runs twice; at the end every item ran
 *   no stranding    once every process has finished, every item ran (I4),
 *                   through either kind of hand-off; the drainer never pops
 *                   an empty queue while the count says an item is pending
 *                   (I3, an assertion)
 *   bounded drain   a drainer never runs an item past its budget while the
 *                   stalled producer is announced; in general it runs at
 *                   most BUD items plus one per check that found nobody
 *                   announced (I5); and the stalled producer, which waits
 *                   for a drain to return, is never left waiting (an
 *                   invalid end state otherwise)
 *   no deadlock     invalid end states
 *
 * Mutants (pan must report an error):
 *   -DMUTANT_DECREMENT_BEFORE_RUN  fetch_sub before running the item: another
 *                                  producer becomes drainer while it runs
 *   -DMUTANT_GIVE_UP_ON_WOULDBLOCK the drainer returns (keeping the role's
 *                                  count) when pop says WOULDBLOCK
 *   -DMUTANT_HANDOFF_UNANNOUNCED   [L] frees the role over budget even when
 *                                  nobody is announced: items stranded
 *   -DMUTANT_NO_HANDOFF            the drainer never leaves early (the old
 *                                  drain-until-empty): the bound fails
 */
#ifndef P
#define P 2          /* producer threads, one do() each */
#endif
#ifndef BUD
#define BUD 1
#endif
#define NESTED P     /* item enqueued from inside item 0 */
#define STALL (P + 1) /* the stalled producer's item */
#define T (P + 2)    /* items */
#define NONE 255
#define WB   254

byte nxt[T + 1];     /* node i+1 = item i; nxt[0] = head.next */
byte tail;
byte count;          /* the state word: count | announced | free */
byte announced;
bool free;
byte running;        /* items running now */
byte ran[T];
bool stalled;        /* ghost: the stalled producer is between [A] and [C] */
byte drains_returned; /* ghost */

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

/* The nested do() only enqueues: we hold the role (count >= 1, free clear). */
inline enqueue_nested() {
  announced++;                                   /* [A] */
  mpsc_push(NESTED + 1);
  atomic { c = count; f = free; count++; announced-- };  /* [C] */
  assert(c > 0 && !f);
  c = 0; f = 0
}

inline drain() {
  budget = BUD;
  items = 0;
  quiet = 0;
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
     items++;
#ifdef MUTANT_DECREMENT_BEFORE_RUN
     atomic { c = count; count-- };
     run_item(node - 1);
     leave = (c == 1);
#else
     run_item(node - 1);
     if
     :: budget > 1 ->
        budget--;
        atomic { c = count; count-- };           /* fetch_sub acq_rel */
        leave = (c == 1)
     :: else ->
        atomic {                                 /* [L]: one CAS */
          assert(count >= 1 && !free);
          if
          :: count == 1 -> count = 0; leave = 1
#if defined(MUTANT_HANDOFF_UNANNOUNCED)
          :: else -> count--; free = 1; leave = 1
#elif defined(MUTANT_NO_HANDOFF)
          :: else -> count--; leave = 0
#else
          :: count > 1 && announced > 0 -> count--; free = 1; leave = 1
          :: count > 1 && announced == 0 -> count--; leave = 0
#endif
          fi;
          /* bounded drain: never past the budget while someone waits to
           * take over; in general BUD items + one per quiet check (I5) */
          assert(leave || !stalled);
          if
          :: !leave && announced == 0 -> quiet++
          :: else -> skip
          fi;
          assert(items <= BUD + quiet)
        }
     fi;
#endif
     node = 0; c = 0;
     if
     :: leave -> break
     :: else -> skip
     fi
  od;
done:
  drains_returned++;
  leave = 0; budget = 0; items = 0; quiet = 0
}

/* [C] and the role decision of a producer. */
inline count_step() {
  atomic { c = count; f = free; count++; announced-- };  /* fetch_add acq_rel */
  if
  :: c == 0 -> assert(!f); drain()
  :: else ->
     if
     :: f ->
        atomic { f = free; free = 0 };           /* [T] fetch_and acq_rel */
        if
        :: f -> drain()
        :: else -> skip
        fi
     :: else -> skip
     fi
  fi
}

proctype producer(byte me) {
  byte old, node, nnext, c, budget, items, quiet;
  bool ok, f, leave;
  announced++;                                   /* [A] relaxed */
  mpsc_push(me + 1);
  count_step()
}

proctype staller() {
  byte old, node, nnext, c, budget, items, quiet;
  bool ok, f, leave;
  /* [A] was made by init before anyone ran */
  drains_returned > 0;                           /* held until a drain returned */
  mpsc_push(STALL + 1);
  stalled = 0;
  count_step()
}

init {
  byte i;
  atomic {
    announced = 1; stalled = 1;                  /* the staller's [A] */
    run staller();
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
  assert(count == 0 && running == 0 && announced == 0 && !free)
}
