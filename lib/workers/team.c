/*
 * weft — the generic Team (Twisted's twisted._threads._team.Team): a
 * composite worker that hands each task to an idle worker, else to a newly
 * created one, else to a FIFO backlog that recycled workers drain.
 *
 * Contract
 *   weft_team_do/grow/shrink/quit/statistics: any thread, concurrently.
 *   All team state except the quit flag and the statistics is touched only by
 *   work items run on the coordinator (an exclusive worker: the lock-free
 *   weft_coordinator by default), exactly as in Twisted; so this file has no
 *   lock of its own. do() = quit check + one coordinator submission.
 *   statistics: a seqlock (Boehm, "Can seqlocks get along with programming
 *   language memory models?", MSPC 2012) written only by coordinator items:
 *   readers get a consistent triple without blocking the writer.
 *   destroy: once, by the owner, not from inside a team task, and after
 *   every other thread's call on the team has returned (a do() that raced
 *   quit() included; tasks' own calls are covered: a busy worker keeps
 *   destroy at WEFT_EBUSY).
 *
 * Per task: one record from a lock-free recycling pool (worker_slab.h); it is
 * the coordinator node of the dispatch step, sits in the backlog if needed,
 * travels to the worker as the argument of its do(), and comes back as the
 * coordinator node of the idle-and-pending step. No allocation once warm.
 *
 * Destroy and the coordinator's items. destroy frees the team only once it
 * is finished (quit's step ran and no worker is busy) and no coordinator
 * item is queued or running: the items of a do() that raced quit() and
 * reached the coordinator after the team finished still read the team (they
 * cancel their task), and so does the tail of the item that finished it.
 *   - The lock-free coordinator runs every item inside some do() call on it
 *     (coordinator.c: a thread in flight in do() covers every pending item),
 *     so "no do() in flight on it" (the worker base's count) means no item
 *     is pending. Nothing is added to its hot path.
 *   - Any other coordinator may run items after its do() returned (a
 *     ThreadWorker runs them on its own thread), so the team counts its own
 *     outstanding coordinator work in `coord_items`: +1 before each
 *     submission (undone by the submitter if refused), -1 as the last thing
 *     each item does; also +1 when a task is handed to a worker, for the
 *     idle-and-pending step that worker will submit (its -1 is that item's,
 *     or, if the coordinator refuses the step, the worker's once it has
 *     parked it; each resubmission is then counted as a submission).
 *     destroy waits for 0 (answers WEFT_EBUSY before). Why a count and not a
 *     last "fence" item that destroy waits on: the team quits its
 *     coordinator when it finishes (as Twisted's does), after which no
 *     item can be submitted, and a do() that raced quit() may have had its
 *     item accepted just before; and a count assumes nothing about the
 *     order in which an exclusive coordinator runs its items. Cost: two RMWs per coordinator item, on
 *     this slower path only. destroy never waits: a coordinator that runs
 *     items only when driven (a memory worker) must be driven between tries.
 *
 * Twisted → C
 *   logException on a task exception: a C task cannot raise. log_fn is told of
 *     what the team itself observes: a worker's do() failing (the task is put
 *     back at the head of the backlog and the worker dropped), the coordinator
 *     refusing quit's step or an idle-and-pending step, a do() that raced
 *     quit() and reached the coordinator after it was quit (cancelled),
 *     backlog cancelled by destroy (one WEFT_ECANCELED call per task), and
 *     failure to grow the idle set (WEFT_ENOMEM; counted as "cannot create a
 *     worker").
 *   Quit flag: an atomic; do/grow/shrink after quit → WEFT_EQUIT at once.
 *   Workers the team quits are also released by it (the team owns them).
 *   Backlog with no worker at quit: Twisted drops it silently; here it stays
 *     until destroy, which cancels each task through log_fn. That includes a
 *     task put back because a worker's do() failed while quitting: if no
 *     busy worker is left to run it, the team finishes there and then.
 *   The coordinator refusing quit's step: Twisted's quit() raises and the
 *     team never finishes. Here quit() returns the error (logged), and each
 *     destroy call submits the step again, or runs it itself once nothing
 *     can race it (no coordinator work outstanding, no worker busy), so a
 *     refusal, transient or not, does not keep the team for ever.
 *   The coordinator refusing a worker's idle-and-pending step (Twisted: the
 *     worker is lost, the team never finishes): the worker logs it and
 *     parks the step's record (its own, still valid) on a lock-free list,
 *     its worker still counted busy. The next do/grow/shrink/quit and every
 *     destroy call submit the parked steps again; destroy runs a step the
 *     coordinator refuses still itself, by the quit step's rule (no
 *     coordinator work outstanding), without handing the worker a
 *     backlogged task (that is cancelled through log_fn), then the quit
 *     step if it is refused too; so such a refusal, transient or not, loses
 *     no worker and does not keep the team for ever (docs/reliability.md
 *     §4).
 */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/atomic.h"
#include "base/fork.h"
#include "engine/context.h"
#include "engine/observer.h"
#include "workers/coordinator.h"
#include "workers/team_impl.h"
#include "workers/worker_base.h"
#include "workers/worker_slab.h"

typedef struct team_rec team_rec;
typedef struct gteam gteam;

struct team_rec {
  weft__task node; /* coordinator node (intrusive for the lock-free coordinator) */
  gteam *t;
  weft_fn fn;
  void *arg;
  weft_worker *worker;
  team_rec *next; /* backlog link */
  int n;          /* grow / shrink count */
  bool put_back;  /* backlogged again after a worker's do() failed (start_on) */
};

struct gteam {
  weft_team base;
  weft_worker *coord;
  bool coord_lockfree;
  weft_create_worker_fn create;
  void *create_ctx;
  weft_log_fn log;
  void *log_ctx;
  _Atomic int quit;     /* Team._quit: set by any thread */
  _Atomic int finished; /* the coordinator was quit (set in the coordinator) */
  team_rec *quit_rec;   /* pre-allocated: quit() cannot fail for lack of memory */
  _Atomic int quit_refused; /* the coordinator refused quit's step: destroy retries */
  /* Idle-and-pending steps the coordinator refused (dowork_cb), linked
   * through their records' `next`: pushed by workers, taken whole by the
   * next do/grow/shrink/quit (resubmitted) or destroy (resubmitted, or run
   * by destroy itself). A push-and-take-all stack: no ABA (a push compares
   * the head only to link to it; nothing is popped one at a time). */
  _Atomic(team_rec *) parked;
  /* destroy's caller only: destroy is freeing the team. A destroy from a
   * callback it runs (log_fn hearing of a cancelled task, a worker's
   * release) answers WEFT_EBUSY instead of freeing the team under it. */
  bool destroying;
  /* Not the lock-free coordinator: coordinator work outstanding (items
   * submitted and not finished, plus tasks handed to a worker whose
   * idle-and-pending step is still to come). See the header. */
  _Atomic long coord_items;
  /* weft__fork_generation() when the team was made (set once): another
   * value in a child of a fork made since, where idle workers may be the
   * parent's (coordinate). */
  unsigned long fork_gen;

  /* Coordinator-confined (Twisted: "don't touch these except from the
   * coordinator"). cap ≥ nidle + busy always, so recycling never allocates. */
  weft_worker **idle;
  int nidle, cap, busy;
  team_rec *pend_head, *pend_tail;
  size_t npend;
  bool should_quit;
  long to_shrink;

  /* Statistics seqlock: one writer at a time (coordinator items). */
  _Atomic uint32_t seq;
  _Atomic int st_idle, st_busy;
  _Atomic size_t st_backlog;

  weft__slab recs;
};

static void team_log(gteam *t, int err, const char *what) {
  if (t->log) t->log(t->log_ctx, err, what);
}

/* ------------------------------------------------------------ statistics */

static void publish(gteam *t) {
  uint32_t s = weft__load_relaxed(&t->seq);
  weft__store_relaxed(&t->seq, s + 1); /* odd: write in progress */
  /* Release fence: orders the odd seq before the field stores; pairs with
   * the reader's acquire fence (a reader that sees a new field sees odd or
   * newer seq on its second read). */
  weft__fence_release();
  weft__store_relaxed(&t->st_idle, t->nidle);
  weft__store_relaxed(&t->st_busy, t->busy);
  weft__store_relaxed(&t->st_backlog, t->npend);
  /* Release: the fields happen before a reader's acquire of the even seq. */
  weft__store_release(&t->seq, s + 2);
}

static int team_statistics(weft_team *base, weft_team_statistics *out) {
  gteam *t = (gteam *)base;
  for (;;) {
    /* Acquire: pairs with publish()'s final release store. */
    uint32_t s1 = weft__load_acquire(&t->seq);
    int idle = weft__load_relaxed(&t->st_idle);
    int busy = weft__load_relaxed(&t->st_busy);
    size_t backlog = weft__load_relaxed(&t->st_backlog);
    /* Acquire fence: orders the field loads before the re-read of seq;
     * pairs with publish()'s release fence. */
    weft__fence_acquire();
    uint32_t s2 = weft__load_relaxed(&t->seq);
    if (s1 == s2 && !(s1 & 1u)) {
      out->idle_workers = idle;
      out->busy_workers = busy;
      out->backlogged_work = backlog;
      return 0;
    }
    weft__cpu_relax();
  }
}

/* -------------------------------------------------- coordinator plumbing */

/* Coordinator work is outstanding from item_begin to item_end (only counted
 * for a coordinator other than the lock-free one; see the header). */
static inline void item_begin(gteam *t) {
  /* Relaxed: each +1 happens-before its own -1 (program order, or the
   * coordinator's hand-off of the item), so the count never reads 0 while
   * that work is outstanding; destroy sees the +1 of every submission made
   * before it (the owner's calls returned before it, tasks' calls while a
   * worker is busy, which is counted). */
  if (!t->coord_lockfree) weft__fetch_add_relaxed(&t->coord_items, 1);
}

/* The caller's last touch of the team when it brings the count to 0. */
static inline void item_end(gteam *t) {
  /* Release: everything this item (or refused submission) did to the team
   * happens-before destroy's acquire load that reads 0 (the -1s are RMWs,
   * so each one continues the release sequences of the earlier ones). */
  if (!t->coord_lockfree) weft__fetch_sub_release(&t->coord_items, 1);
}

/* No coordinator item is queued or running. Once the team is finished no
 * new one can come but from a call on the team, which destroy's caller
 * excludes. */
static bool coord_settled(gteam *t) {
  /* The lock-free coordinator: no do() in flight means no item pending
   * (acquire inside weft__worker_inflight: pairs with leave's release). */
  if (t->coord_lockfree) return weft__worker_inflight(t->coord) == 0;
  /* Acquire: pairs with item_end's release. And no do() of ours still in
   * the coordinator: a LockWorker runs the item inline and releases the
   * caller's lock after it (item_end is not its last step); a destroy that
   * returned then would let the caller free a lock still in use. A do()
   * of someone else's on a shared coordinator only delays destroy (it
   * answers WEFT_EBUSY, to be retried). */
  return weft__load_acquire(&t->coord_items) == 0 && weft__worker_inflight(t->coord) == 0;
}

static void generic_trampoline(void *arg) {
  team_rec *r = arg;
  gteam *t = r->t; /* before run, which may recycle the record */
  r->node.run(&r->node);
  item_end(t); /* last touch: destroy may free the team from here on */
}

/* Run fn-of-record on the coordinator. The caller has counted it
 * (item_begin); if it is refused, the caller undoes that with item_end as
 * its last touch of the team. */
static int coord_submit(gteam *t, team_rec *r, void (*run)(weft__task *)) {
  r->node.run = run;
  r->node.cancel = NULL;
  if (t->coord_lockfree) return weft__coordinator_submit(t->coord, &r->node);
  return weft__worker_do_plain(t->coord, generic_trampoline, r);
}

/* Refused idle-and-pending steps (see gteam.parked). A parked step is not
 * counted in coord_items (its submitter undid its +1 after parking it) but
 * its worker still is in busy: destroy either resubmits it or runs it
 * itself, and only then can the team finish. */
static void park(gteam *t, team_rec *r) {
  team_rec *head = weft__load_relaxed(&t->parked);
  do {
    r->next = head;
    /* Release: r's fields, and what its parker did before, happen before
     * the taker's use of r (pairs with take_parked's acquire exchange).
     * Failure: relaxed, head is only relinked. From a worker with the
     * lock-free coordinator (uncounted) the successful CAS is its last
     * touch of the team. */
  } while (!weft__cas_release(&t->parked, &head, r));
}

static team_rec *take_parked(gteam *t) {
  /* Acquire: pairs with park's release CAS (each push continues the
   * release sequence of the exchange's predecessors: all are RMWs). */
  return weft__xchg_acquire(&t->parked, (team_rec *)NULL);
}

static void idle_pending_run(weft__task *n);

/* Submit each step of the list r again; returns the refused ones, linked,
 * their counts undone. The caller is not the last toucher of the team: an
 * owner's call is followed by destroy; a task's call keeps its worker
 * counted (busy, coord_items) until its own step. */
static team_rec *resubmit(gteam *t, team_rec *r) {
  team_rec *refused = NULL;
  while (r) {
    team_rec *next = r->next; /* now: once accepted, r may be recycled */
    item_begin(t);
    if (coord_submit(t, r, idle_pending_run) != 0) {
      item_end(t);
      r->next = refused;
      refused = r;
    }
    r = next;
  }
  return refused;
}

static void park_list(gteam *t, team_rec *r) {
  while (r) {
    team_rec *next = r->next;
    park(t, r);
    r = next;
  }
}

/* do/grow/shrink/quit: give refused idle-and-pending steps another chance,
 * so that a transient refusal does not keep a worker (and the backlog it
 * would drain) until destroy. */
static void retry_parked(gteam *t) {
  /* Relaxed: a hint (the hot path pays one load of a word written only
   * when a step is refused or taken); what is parked is read only after
   * take_parked's acquire. */
  if (WEFT_LIKELY(!weft__load_relaxed(&t->parked))) return;
  park_list(t, resubmit(t, take_parked(t)));
}

/* ---------------------------------------------- coordinator-side helpers */

static bool reserve(gteam *t, int need) {
  if (need <= t->cap) return true;
  int ncap = t->cap ? t->cap * 2 : 8;
  if (ncap < need) ncap = need;
  weft_worker **a = weft__malloc((size_t)ncap * sizeof *a);
  if (!a) return false;
  if (t->nidle) memcpy(a, t->idle, (size_t)t->nidle * sizeof *a);
  weft__free(t->idle);
  t->idle = a;
  t->cap = ncap;
  return true;
}

static weft_worker *create_one(gteam *t) {
  if (!reserve(t, t->nidle + t->busy + 1)) {
    team_log(t, WEFT_ENOMEM, "Team: no memory to track a new worker");
    return NULL;
  }
  weft_worker *w = t->create(t->create_ctx);
  if (w && !w->ops) { /* never initialised (weft_worker_init): unusable */
    team_log(t, WEFT_EINVAL, "Team: createWorker returned an uninitialised worker");
    return NULL;
  }
  return w;
}

static void drop_worker(weft_worker *w) {
  (void)weft_worker_quit(w);
  weft_worker_release(w);
}

static void pend_push_back(gteam *t, team_rec *r) {
  r->next = NULL;
  if (t->pend_tail) t->pend_tail->next = r;
  else t->pend_head = r;
  t->pend_tail = r;
  t->npend++;
}

static void pend_push_front(gteam *t, team_rec *r) {
  r->next = t->pend_head;
  t->pend_head = r;
  if (!t->pend_tail) t->pend_tail = r;
  t->npend++;
}

static team_rec *pend_pop(gteam *t) {
  team_rec *r = t->pend_head;
  if (r) {
    t->pend_head = r->next;
    if (!t->pend_head) t->pend_tail = NULL;
    t->npend--;
  }
  return r;
}

/* Twisted's "_shouldQuitCoordinator and _busyCount == 0": the team is
 * finished. Called wherever busy may have dropped to 0 while quitting: a
 * recycled worker (quit_idlers) and a worker whose do() failed (coordinate).
 * What is still in the backlog then stays there for destroy to cancel. */
static void maybe_finish(gteam *t) {
  if (t->should_quit && t->busy == 0 && !weft__load_relaxed(&t->finished)) {
    /* Release: pairs with destroy()'s acquire load; the team state written
     * by coordinator items so far is visible to destroy. */
    weft__store_release(&t->finished, 1);
    (void)weft_worker_quit(t->coord);
  }
}

static void quit_idlers(gteam *t, long n) {
  if (n < 0) n = (long)t->nidle + t->busy;
  while (n > 0 && t->nidle) {
    weft_worker *w = t->idle[--t->nidle];
    /* Published before the quit: a worker quit is no longer idle in the
     * statistics its quit may read (Twisted takes it off the list first). */
    publish(t);
    drop_worker(w);
    n--;
  }
  /* The rest quit as they come idle: one saturating add, so a huge n
   * costs no loop (it ran on the coordinator, in front of every do()). */
  t->to_shrink = n > LONG_MAX - t->to_shrink ? LONG_MAX : t->to_shrink + n;
  publish(t);
  maybe_finish(t);
}

static void dowork_cb(void *arg);
static void recycle(gteam *t, weft_worker *w, bool dispatch);

/* Start r on w. On failure w is dropped and r goes back to the head of the
 * backlog; returns the do()'s error. */
static int start_on(gteam *t, weft_worker *w, team_rec *r) {
  t->busy++;
  publish(t);
  r->worker = w;
  item_begin(t); /* the idle-and-pending step w will submit (dowork_cb) */
  int rc = weft__worker_do_plain(w, dowork_cb, r);
  if (rc) {
    item_end(t); /* no such step: this item's own count still holds */
    team_log(t, rc, "Team: worker do() failed; worker dropped, task backlogged");
    t->busy--;
    r->put_back = true;
    pend_push_front(t, r);
    publish(t); /* before the quit, as in quit_idlers */
    drop_worker(w);
  }
  return rc;
}

/* fresh: r comes from do(), not from the backlog. */
static void coordinate(gteam *t, team_rec *r, bool fresh) {
  if (weft__load_relaxed(&t->finished)) {
    /* A do() admitted just before quit() whose dispatch reached the
     * coordinator after the team had finished: no worker will ever exist. */
    team_log(t, WEFT_ECANCELED, "Team: task submitted concurrently with quit cancelled");
    weft__context_discard(r->fn, r->arg);
    weft__slab_put(&t->recs, r);
    return;
  }
  bool made = t->nidle == 0; /* w is a new worker (below, a fork's child) */
  weft_worker *w = t->nidle ? t->idle[--t->nidle] : create_one(t);
  if (!w) {
    pend_push_back(t, r);
    publish(t);
    return;
  }
  if (fresh && t->pend_head && t->pend_head->put_back) {
    /* A task a failed do() put back while no worker was left to take it
     * goes first: it was already given to a worker once. Any other backlog
     * waits for a worker to recycle, as in Twisted's _coordinateThisTask,
     * where the worker a do() finds (idle, or made now) runs that do()'s
     * own task (test_team new_worker_takes_the_new_task). */
    pend_push_back(t, r);
    r = pend_pop(t);
  }
  /* A failed do() drops its worker and puts the task back at the head:
   * the idle workers left take it (each failure drops one, so this ends).
   * No new worker is made for it here (but in a fork's child, below): a
   * creation whose do() keeps failing would loop; the next do(), grow or
   * recycle comes back to the backlog. */
  while (start_on(t, w, r) != 0) {
    if (!t->nidle && !made && WEFT_UNLIKELY(weft__fork_generation() != t->fork_gen) &&
        (w = create_one(t)) != NULL) {
      /* A child of a fork: the idle workers that refused may be the
       * parent's (a ThreadWorker's thread does not exist here, and its do()
       * refuses), not broken ones; with no worker left the team would leave
       * the task in the backlog until its next do() or grow, and a child
       * that inherited only such workers would wait on it for ever. One
       * made here takes it: one creation per call, as a do() that finds no
       * idle worker makes, so a worker whose do() keeps failing does not
       * make this loop. */
      made = true;
      r = pend_pop(t);
      continue;
    }
    if (!t->nidle) {
      /* While quitting, this may have been the last busy worker: nothing
       * would ever finish the team (destroy answered WEFT_EBUSY for ever).
       * The task stays at the head of the backlog: the busy workers left
       * run it, the next do() or grow does, or destroy cancels it through
       * log_fn. */
      maybe_finish(t);
      return;
    }
    w = t->idle[--t->nidle];
    r = pend_pop(t);
  }
}

/* w is idle again. dispatch: it may take a backlogged task (not when
 * destroy runs a refused step itself: idle_pending_stand_in). */
static void recycle(gteam *t, weft_worker *w, bool dispatch) {
  t->idle[t->nidle++] = w; /* cap ≥ nidle + busy: reserved at creation */
  publish(t);
  if (dispatch && t->pend_head) {
    /* Explicitly not honouring quit: the backlog drains after quit(). */
    team_rec *r = pend_pop(t);
    coordinate(t, r, false);
  } else if (t->should_quit) {
    quit_idlers(t, -1);
  } else if (t->to_shrink > 0) {
    t->to_shrink--;
    t->nidle--; /* w is the last idle entry: nothing ran since the push */
    publish(t);
    drop_worker(w);
  }
}

/* --------------------------------------------------- coordinator items */

static void coordinate_run(weft__task *n) {
  team_rec *r = (team_rec *)n;
  coordinate(r->t, r, true);
}

static void idle_pending_run(weft__task *n) {
  team_rec *r = (team_rec *)n;
  gteam *t = r->t;
  weft_worker *w = r->worker;
  weft__slab_put(&t->recs, r);
  t->busy--;
  recycle(t, w, true);
}

/* destroy's own run of a refused idle-and-pending step (destroy_retry: only
 * once coord_settled, so no item runs beside it). As idle_pending_run, but
 * the worker takes nothing from the backlog: a task started here would
 * submit its own step to a coordinator that may accept it now and run it
 * beside the rest of destroy. The team is finishing (quit's step ran, or
 * destroy runs it next), and what stays backlogged destroy cancels through
 * log_fn, as it does when no worker is left at quit. */
static void idle_pending_stand_in(gteam *t, team_rec *r) {
  weft_worker *w = r->worker;
  weft__slab_put(&t->recs, r);
  t->busy--;
  recycle(t, w, false); /* not quitting yet: destroy's quit step does */
}

static void grow_run(weft__task *n) {
  team_rec *r = (team_rec *)n;
  gteam *t = r->t;
  int count = r->n;
  weft__slab_put(&t->recs, r);
  for (int i = 0; i < count && !weft__load_relaxed(&t->finished); i++) {
    weft_worker *w = create_one(t);
    if (!w) return;
    recycle(t, w, true);
  }
}

static void shrink_run(weft__task *n) {
  team_rec *r = (team_rec *)n;
  gteam *t = r->t;
  int count = r->n;
  weft__slab_put(&t->recs, r);
  quit_idlers(t, count);
}

static void start_finishing(gteam *t) {
  t->should_quit = true;
  quit_idlers(t, -1);
}

static void start_finishing_run(weft__task *n) { start_finishing(((team_rec *)n)->t); }

/* ------------------------------------------------------- worker side */

static void dowork_cb(void *arg) {
  team_rec *r = arg;
  const unsigned long gen = weft__fork_generation();
  /* In its submitter's context (bound by team_do), or in none: a worker
   * may run this step on any thread (a LockWorker, inline on the
   * coordinator's drainer), whose own context is not the task's. */
  weft__context_run_outside(r->fn, r->arg);
  /* The task forked and returned in the child: the step below is the
   * parent's, which submits it there. Submitted here too, the child's copy
   * of the coordinator ran it: it handed the parent's next backlogged task
   * to the child's copy of a worker (a ThreadWorker refuses there, and the
   * team logged a failure that is not the child's; a worker that accepts
   * would run the parent's task a second time). In the child the worker
   * stays counted busy, as a Team's work in flight at a fork does
   * (docs/threading-howto.md, "Fork"). A relaxed load of one word per
   * task, as in the worker loops (thread_worker.c tw_main). */
  if (WEFT_UNLIKELY(weft__fork_generation() != gen)) return;
  gteam *t = r->t;
  /* Counted when the task was handed to this worker (coordinate). */
  int rc = coord_submit(t, r, idle_pending_run);
  if (rc) {
    /* Refused: the step waits in `parked`, its worker still busy, for the
     * next do/grow/shrink/quit to resubmit it or destroy to resubmit or
     * run it (destroy_retry). Log first: parking may be the last touch. */
    team_log(t, rc, "Team: coordinator refused idle-and-pending; retried later");
    /* Read before the park: with the lock-free coordinator (uncounted) the
     * park's CAS is our last touch of the team, since destroy may take the
     * step, run it and free the team at once (found by review, ASan with a
     * pause between the two). Otherwise the -1 is the last touch. */
    bool counted = !t->coord_lockfree;
    park(t, r);
    /* test_team destroys the team here (lock-free coordinator: the park
     * was our last touch). Reads nothing of the team. */
    weft__observe(WEFT__EVENT_TEAM_STEP_PARKED);
    if (counted) weft__fetch_sub_release(&t->coord_items, 1); /* release: as item_end's */
  }
}

/* ----------------------------------------------------------- team ops */

static int team_do(weft_team *base, weft_fn fn, void *arg) {
  gteam *t = (gteam *)base;
  /* Acquire: pairs with quit's exchange; only the flag itself matters. */
  if (weft__load_acquire(&t->quit)) return WEFT_EQUIT;
  retry_parked(t);
  /* The submitter's context travels as the task itself (fn/arg bound to
   * it): the coordinator's hops run on whichever thread drains it, in that
   * thread's context, and capture nothing. */
  if (WEFT_UNLIKELY(weft__context_active())) {
    int rb = weft__context_bind(&fn, &arg);
    if (rb) return rb;
  }
  team_rec *r = weft__slab_get(&t->recs);
  if (!r) {
    weft__context_discard(fn, arg);
    return WEFT_ENOMEM;
  }
  r->t = t;
  r->fn = fn;
  r->arg = arg;
  r->worker = NULL;
  r->put_back = false;
  item_begin(t);
  int rc = coord_submit(t, r, coordinate_run);
  if (rc) {
    weft__context_discard(fn, arg);
    weft__slab_put(&t->recs, r);
    item_end(t);
  }
  return rc;
}

static int team_count_op(gteam *t, int n, void (*run)(weft__task *)) {
  /* Acquire: as in team_do. */
  if (weft__load_acquire(&t->quit)) return WEFT_EQUIT;
  retry_parked(t);
  team_rec *r = weft__slab_get(&t->recs);
  if (!r) return WEFT_ENOMEM;
  r->t = t;
  r->n = n;
  item_begin(t);
  int rc = coord_submit(t, r, run);
  if (rc) {
    weft__slab_put(&t->recs, r);
    item_end(t);
  }
  return rc;
}

static int team_grow(weft_team *base, int n) {
  return team_count_op((gteam *)base, n, grow_run);
}

static int team_shrink(weft_team *base, int n) {
  return team_count_op((gteam *)base, n, shrink_run);
}

static int team_quit(weft_team *base) {
  gteam *t = (gteam *)base;
  /* acq_rel: one caller wins; pairs with the loads in do/grow/shrink. */
  if (weft__xchg_acq_rel(&t->quit, 1)) return WEFT_EQUIT;
  retry_parked(t); /* before the quit step: the workers recycle first */
  item_begin(t);
  int rc = coord_submit(t, t->quit_rec, start_finishing_run);
  if (rc) {
    team_log(t, rc, "Team: coordinator refused quit; destroy will retry");
    /* Release: quit_rec is free again, and this call's use of it happens
     * before destroy's reuse (pairs with destroy's acquire load). */
    weft__store_release(&t->quit_refused, 1);
    item_end(t); /* last touch; with the lock-free one (uncounted), the store is */
  }
  return rc;
}

/* Steps the coordinator refused (quit's, workers' idle-and-pending ones):
 * submit them again, or, if it refuses still and nothing can race us, run
 * them here. 0 once each was accepted or run, else WEFT_EBUSY. */
static int destroy_retry(gteam *t) {
  team_rec *refused = resubmit(t, take_parked(t));
  bool quit_again = false;
  /* Acquire: pairs with team_quit's release store (quit_rec is free). */
  if (weft__load_acquire(&t->quit_refused)) {
    item_begin(t);
    if (coord_submit(t, t->quit_rec, start_finishing_run) == 0) {
      weft__store_relaxed(&t->quit_refused, 0); /* only destroy reads it now */
    } else {
      item_end(t);
      quit_again = true; /* quit() logged the first refusal; retries are not */
    }
  }
  if (!refused && !quit_again) return 0;
  /* Refused again. The team state is the coordinator's, so run the steps
   * here only when no coordinator item is queued or running and none can
   * come: none from a call on the team (destroy's caller excludes them),
   * none from a worker: for a coordinator other than the lock-free one,
   * coord_items counts every busy worker whose step is neither parked nor
   * run, so at 0 every busy worker's step is parked (each is parked before
   * its submitter's -1), in `refused` or parked again after our take, and
   * the stand-ins below start no task. The lock-free coordinator refuses
   * only once it is quit (by someone else: the team quits it only when
   * finished), so after its last do() has left nothing can run on it again
   * and busy is stable. Either way a worker still running its task, or
   * whose step was parked after our take, is counted in busy: the team
   * does not finish without it, and the next destroy call takes its step. */
  if (!coord_settled(t)) {
    park_list(t, refused); /* the next destroy call tries them again */
    return WEFT_EBUSY;
  }
  while (refused) {
    team_rec *next = refused->next;
    idle_pending_stand_in(t, refused);
    refused = next;
  }
  if (!quit_again) return 0; /* quit's step ran: the stand-ins quit their workers */
  if (t->busy != 0) return WEFT_EBUSY;
  start_finishing(t); /* busy is 0: it finishes the team */
  weft__store_relaxed(&t->quit_refused, 0);
  return 0;
}

static int team_destroy(weft_team *base) {
  gteam *t = (gteam *)base;
  if (t->destroying) return WEFT_EBUSY; /* from a callback of this destroy */
  /* From here on: the quit below, and the finishing step that
   * destroy_retry may run here, quit and release workers, and their
   * callbacks may call destroy again (found by review: the flag was set
   * after the retry, and a release callback's destroy freed the team under
   * quit_idlers). Cleared on each WEFT_EBUSY return. */
  t->destroying = true;
  if (!weft__load_acquire(&t->quit)) (void)team_quit(base); /* acquire: as in team_do */
  /* destroy_retry: no refused step is left over. Acquire: pairs with
   * maybe_finish's release store; then no worker is busy (none parked).
   * coord_settled: no coordinator item is queued or running either (not
   * even one of a do() that raced quit, nor the finishing item's tail). */
  if (destroy_retry(t) != 0 || !weft__load_acquire(&t->finished) || !coord_settled(t)) {
    t->destroying = false;
    return WEFT_EBUSY;
  }
  for (team_rec *r = pend_pop(t); r; r = pend_pop(t)) {
    team_log(t, WEFT_ECANCELED, "Team destroyed: backlogged task cancelled");
    weft__context_discard(r->fn, r->arg);
    weft__slab_put(&t->recs, r);
  }
  while (t->nidle) drop_worker(t->idle[--t->nidle]);
  weft_worker_release(t->coord);
  weft__free(t->idle);
  weft__slab_destroy(&t->recs);
  weft__free_aligned(t);
  weft__object_destroyed();
  return 0;
}

static const weft__team_vtbl team_vtbl = {team_do, team_grow, team_shrink,
                                           team_quit, team_statistics, team_destroy};

WEFT_API int weft_team_create(weft_team **out, weft_worker *coordinator,
                              weft_create_worker_fn create_worker, void *create_ctx,
                              weft_log_fn log_fn, void *log_ctx) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  if (!create_worker) return WEFT_EINVAL;
  if (coordinator && !coordinator->ops) return WEFT_EINVAL; /* never initialised */
  if (coordinator && weft_worker_is_quit(coordinator)) return WEFT_EQUIT;
  gteam *t = weft__calloc_aligned(sizeof *t); /* the slab head is cache-aligned */
  if (!t) return WEFT_ENOMEM;
  weft__slab_init(&t->recs, sizeof(team_rec));
  t->quit_rec = weft__slab_get(&t->recs);
  if (!t->quit_rec) goto nomem;
  t->quit_rec->t = t;
  if (!coordinator) {
    if (weft_coordinator_create(&coordinator) != 0) goto nomem;
  }
  t->base.vt = &team_vtbl;
  t->coord = coordinator;
  t->coord_lockfree = weft__is_coordinator(coordinator);
  t->create = create_worker;
  t->create_ctx = create_ctx;
  t->log = log_fn;
  t->log_ctx = log_ctx;
  weft__store_relaxed(&t->quit, 0);
  weft__store_relaxed(&t->finished, 0);
  weft__store_relaxed(&t->coord_items, 0);
  weft__store_relaxed(&t->quit_refused, 0);
  weft__store_relaxed(&t->parked, NULL);
  t->fork_gen = weft__fork_generation();
  publish(t);
  weft__object_created();
  *out = &t->base;
  return 0;
nomem:
  weft__slab_destroy(&t->recs);
  weft__free_aligned(t);
  return WEFT_ENOMEM;
}
