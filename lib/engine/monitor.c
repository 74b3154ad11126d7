/*
 * weft — the elastic pool's monitor (docs/design.md E9.2; the contract is
 * in lib/engine/monitor.h).
 *
 * A pool has a limit (Twisted's max, `soft`) on the threads that run work,
 * and holds more threads only to stand in for workers that are blocked.
 * Grants raise the limit by one thread per blocked worker:
 * weft_blocking_begin makes them for the blocking it is told of
 * (lib/engine/blocking.c), this monitor for the blocking it sees.
 *
 * The monitor is a thread that ticks only while its pool is saturated
 * (work waiting, and nobody parked or only threads above the limit that
 * notify does not wake, E5.5): the first submit that finds the pool at
 * its limit arms it (E9: a bias on the fast path's limit word sends that
 * submit to the slow path), and it disarms itself and sleeps on a futex
 * after 3 ticks without saturation, so an idle pool costs no wake-up. Its
 * thread starts with the pool's first worker (weft__engine_ensure_monitor)
 * and stays while the pool has a thread; once the pool has none it leaves
 * a keep-alive after it disarmed (sleep_disarmed says why). Every tick
 * (1 ms, backing off to 8 ms while it has nothing to do) it estimates the
 * blocked workers: the busy ones not inside weft_blocking_begin, times the
 * share of up to 8 of them (sampled, rotating) whose
 * /proc/self/task/<tid>/stat state is not 'R' (a worker short of a CPU is
 * runnable, and more threads would not help it).
 * Where /proc cannot be read it falls back to the process CPU clock: busy
 * workers minus the CPU time used, a conservative count. Stand-ins (threads
 * above the limit) never exceed the blocked count (.NET's and
 * ForkJoinPool's invariant: goal = limit + blocked), so a pool never runs
 * away to its valve the way Tokio's does.
 *
 * Growth past the limit: a step adds blocked - stand-ins threads (enough
 * that `soft` workers run), or a quarter of the awake workers when every
 * busy worker is blocked. Parked threads above the limit are woken first,
 * a step a tick (E5.5: wake_parked); thread creation is paced by a token
 * bucket (burst 4 x CPUs, refill 100 x CPUs per second); growth stops
 * when the backlog would drain within 250 ms anyway (Little's law with
 * the measured service time, or the completion rate when every busy
 * worker is blocked); creation is braked
 * when a step did not raise the completion rate by at least a quarter of
 * one thread's share per added thread, twice in a row (the one part of
 * .NET's hill climbing worth keeping): a brake freezes growth for 1 s,
 * doubling to 16 s while it repeats, and growth after it goes by probes
 * (an eighth of the pool) that must beat the counting noise. The valve (`hard`) is never passed.
 * The monitor also retries a thread creation that failed once its backoff
 * has passed (E9.5), and for a strict-cap pool, which never grows, reports
 * once a minute that the pool is stuck at its cap.
 *
 * Sources: Go's sysmon (a tick of 20 µs to 10 ms, backing off);
 * libdispatch's /proc reader (its Linux workqueue); the Linux cmwq's
 * creation cooldown.
 */
#include "engine/monitor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/futex.h"
#include "base/membarrier.h"
#include "base/proc_thread.h"
#include "base/probes.h"
#include "engine/affinity.h"
#include "engine/engine.h"
#include "engine/observer.h"

#define TICK_MIN_NS 1000000u         /* 1 ms while acting */
#define TICK_MAX_NS 8000000u         /* 8 ms after quiet ticks */
#define DRAIN_TARGET_NS 250000000.0  /* grow only if the backlog needs longer */
#define STALL_NS 10000000u           /* no completion for this long: no progress */
#define WINDOW_MIN_NS 20000000u      /* a brake measurement: at least 20 ms ... */
#define WINDOW_MIN_DONE 64u          /* ... and 64 completions */
#define BRAKE_MIN_NS 1000000000u
#define BRAKE_MAX_NS 16000000000u
#define SAMPLE_MAX 8                 /* /proc reads per tick */
#define STUCK_REPORT_NS 60000000000u /* strict cap: one diagnosis a minute */
#define PROBE_WINDOW_NS 100000000u   /* a probe's window: its noise is smaller */
#define HISTORY 64                   /* ticks kept for the recent completion rate */

typedef struct weft__monitor {
  pthread_t thread;
  _Atomic int stop;
  weft__engine *e;
  /* The free of the allocator that made this monitor's blocks (set at
   * start, read by monitor_free). A monitor that leaves on its own frees
   * itself after it cleared e->monitor: the pool may be destroyed by then,
   * no weft object left alive, and weft_replace_allocator allowed, so
   * weft__free could be another allocator's free (test_alloc_monitor). */
  weft_free_fn free_fn;
  /* Monitor thread only. */
  int ncpu;
  int granted; /* grants this monitor made and has not returned */
  uint64_t last_ns, last_cpu, last_done, last_progress_ns;
  uint64_t *last_exec; /* per slot: executed at the previous tick */
  uint32_t *cand;      /* the tick's busy workers (slot indices) */
  uint32_t rotate;     /* where this tick's sample starts */
  uint64_t tick_ns;
  int quiet_ticks;
  double tokens;
  double svc_ns; /* time a busy worker spends per task (EWMA) */
  /* The brake's window, since the last growth step. */
  uint64_t win_ns, win_done;
  double rate_before; /* 0: too slow to judge; -1: no history spanning a window yet */
  /* The last HISTORY ticks' (time, completions): the baseline rate a
   * growth step is judged against is measured over a window as long as
   * the judgement's own, never a moving average that lags behind a pool
   * that has just grown. */
  uint64_t hist_ns[HISTORY], hist_done[HISTORY];
  uint32_t hist_n; /* ticks recorded since armed */
  int step_n, step_added, step_busy, misses;
  bool woke_blind; /* wake_parked ran since the arm, before the rate was known */
  uint64_t brake_until_ns, brake_len_ns;
  uint64_t stuck_reported_ns;
} weft__monitor;

static void give_back(weft__monitor *m, int n) {
  if (n > m->granted) n = m->granted;
  if (n <= 0) return;
  weft__engine_add_grants(m->e, -n);
  m->granted -= n;
  weft__engine_grants_returned(m->e); /* after a resize under grants (engine.h) */
}

/* Work waits: counted in the backlog, or a foreign push has exchanged the
 * inject tail. The count alone would do on x86 and ARMv8, not in C11: a
 * submit counts itself with a relaxed add on `pushed` (inject.h), and the
 * disarm's seq_cst fence before a relaxed load of it is not promised to see
 * a relaxed add. The tail's exchange is seq_cst and comes before the
 * submitter's seq_cst load of `limit_value` (the bias); our seq_cst load of
 * the tail (weft__inject_maybe_nonempty) after the bias add and the fence
 * closes that Dekker within C11: either we see the exchange or it sees the
 * bias and arms. Only read when the count says 0, so never on a tick that
 * has work. */
static bool work_waits(weft__engine *e) {
  return weft__engine_backlog(e) != 0 || weft__engine_work_visible(e);
}

/* Work waiting and nobody idle to take it: nobody parked, or only threads
 * above the limit that notify does not wake (E5.5). A searching worker is
 * not idle here: it is on its way to the next task (the pool's busy workers
 * pass through searching between tasks all the time). */
static bool saturated(weft__engine *e) {
  uint64_t s = weft__load_seq_cst(&e->ctl); /* seq_cst: the disarm Dekker (monitor_main) */
  if (!work_waits(e)) return false;
  int limit = weft__engine_limit(e);
  /* A pool that may run nothing (limit 0, no thread) has nothing to watch:
   * its backlog waits for a start or a resize, which grow for it. */
  if (limit <= 0 && weft__load_relaxed(&e->live) == 0) return false;
  return WEFT__CTL_TOP(s) == 0 || weft__engine_awake(e) >= limit;
}

/* Not saturated, yet work waits, nobody searches and a worker is parked:
 * the counts notify read when it declined (E5.5) were stale, or changed
 * since. Wake one: an extra wake-up is always safe (it searches, and parks
 * again if it finds nothing), and the monitor never goes to sleep leaving
 * work that only a parked worker could take (models/decline.pml). */
static void kick_stranded(weft__engine *e) {
  uint64_t s = weft__load_seq_cst(&e->ctl); /* seq_cst: as saturated's */
  if (WEFT__CTL_TOP(s) == 0 || WEFT__CTL_SEARCHING(s) != 0) return;
  if (!work_waits(e)) return;
  (void)weft__engine_wake_one(e, WEFT__WAKE_NOTIFIED);
}

/* A strict-cap pool never grows; a stuck one says so, once a minute. */
static void report_stuck(weft__monitor *m, uint64_t now, int busy, int stuck) {
  weft__engine *e = m->e;
  if (e->cfg.monitor_quiet) return;
  if (busy == 0 || stuck < busy || now - m->last_progress_ns < 1000000000u) return;
  if (m->stuck_reported_ns != 0 && now - m->stuck_reported_ns < STUCK_REPORT_NS) return;
  char msg[160];
  snprintf(msg, sizeof msg,
           "pool stuck at its cap: %d workers blocked, backlog %llu, no progress for %llu ms",
           busy, (unsigned long long)weft__engine_backlog(e),
           (unsigned long long)((now - m->last_progress_ns) / 1000000u));
  weft__engine_log(e, WEFT_EBUSY, msg);
  WEFT_PROBE(stuck, e, busy);
  m->stuck_reported_ns = now;
}

/* How long a judging window lasts: 20 ms and at least 4 service times, so
 * that tasks that started together and finish in waves do not make the
 * rate jump from one window to the next. */
static uint64_t window_ns(const weft__monitor *m) {
  uint64_t min_ns = WINDOW_MIN_NS;
  if (m->svc_ns > 0 && 4.0 * m->svc_ns > (double)min_ns) min_ns = (uint64_t)(4.0 * m->svc_ns);
  return min_ns;
}

/* Completions per ns over the last `span` ns of ticks (or all the history
 * there is, when shorter); -1 (unknown) with less than half of it. */
static double recent_rate(const weft__monitor *m, uint64_t now, uint64_t done, uint64_t span) {
  uint32_t have = m->hist_n < HISTORY ? m->hist_n : HISTORY;
  uint64_t t0 = now, d0 = done;
  for (uint32_t k = 1; k <= have; k++) {
    uint32_t i = (m->hist_n - k) % HISTORY;
    t0 = m->hist_ns[i];
    d0 = m->hist_done[i];
    if (now - t0 >= span) break;
  }
  if (now - t0 < span / 2) return -1;
  return (double)(done - d0) / (double)(now - t0);
}

/* The last growth step, judged once its window is long enough: false if it
 * brakes, or if growth must wait for the window; true if growth may go on.
 * Between two steps there is always a measurement window (window_ns and
 * 64 completions, or 200 ms; 100 ms at least for a probe), unless nothing completes at all: then there is
 * nothing to measure, and growth goes on at the bucket's pace (a chain of
 * tasks that wait for each other). */
static bool step_judged(weft__monitor *m, uint64_t now, uint64_t done, bool no_progress) {
  if (m->step_n == 0) return true;
  if (no_progress) {
    m->step_n = 0; /* nothing to measure: no brake */
    return true;
  }
  uint64_t wdone = done - m->win_done, wns = now - m->win_ns;
  if (m->rate_before <= 0) {
    /* No baseline, so no judgement and no brake. A step made before the
     * history spanned a window (the first after an arm) is still followed
     * by one, so that the next step has a baseline measured on the pool as
     * it now is: without this wait, growth went on a thread a tick, unjudged,
     * until the history filled (W12 at (5,20) added 3-19 threads so, and
     * took up to 61 threads against its bound of 60). A pool too slow to
     * judge (tick) has nothing to wait for. */
    if (m->rate_before < 0 && wns < window_ns(m) && wns < 10 * WINDOW_MIN_NS) return false;
    m->step_n = 0;
    return true;
  }
  /* At least a window (window_ns) and 64 completions (or 200 ms). */
  uint64_t min_ns = window_ns(m);
  if (m->brake_len_ns != 0 && min_ns < PROBE_WINDOW_NS) min_ns = PROBE_WINDOW_NS;
  if ((wns < min_ns || wdone < WINDOW_MIN_DONE) && wns < 10 * WINDOW_MIN_NS) return false;
  m->step_n = 0;
  double rate_after = (double)wdone / (double)wns;
  double gain = (rate_after - m->rate_before) / m->step_added;
  double share = m->rate_before / (m->step_busy > 0 ? m->step_busy : 1);
  m->win_ns = now;
  m->win_done = done;
  /* A probe's pass must also stand out of the counting noise: completions
   * in a window vary by about their square root (Poisson), and the gain is
   * the difference of two such windows; without this floor a probe of one
   * or two threads passes by chance half the time. Squared, to need no
   * libm: total gain >= sqrt(2 wdone) / wns. Full steps add enough threads
   * that the share test alone decides (and a false miss there costs a
   * brake, a false pass only a step). */
  double total = gain * m->step_added;
  bool clear = m->brake_len_ns == 0 ||
               total * total * (double)wns * (double)wns >= 2.0 * (double)wdone;
  if (gain >= 0.25 * share && clear) {
    m->misses = 0;
    /* A probe that paid (see tick): the braking eases by half; below half
     * the shortest brake it is over, and full steps resume. One probe's
     * window can pay by chance, so it takes two after a first brake, and
     * one more for each doubling. */
    m->brake_len_ns /= 2;
    if (m->brake_len_ns < BRAKE_MIN_NS / 2) m->brake_len_ns = 0;
    return true;
  }
  /* A fall below the baseline out of the counting noise is not what more
   * threads do against a bottleneck (the rate stays level): it is a
   * disturbance (the VM's dips: W6 at (0,2) braked for 1 s at 81 threads
   * on windows of 6.84 and 7.27 tasks/ms against 7.36, and took 1.54 s).
   * Measure again against the same baseline, with no miss counted. W6 at
   * (0,2), 20 repetitions: at most 1.296 s, against 1.486 s beside it;
   * W12 unchanged. */
  if (total < 0 && total * total * (double)wns * (double)wns >= 2.0 * (double)wdone) {
    m->step_n = 1;
    return false;
  }
  /* One window can still mislead: brake on the second miss in a row, and
   * measure once more (no growth) after the first, against the same
   * baseline (the rate before the step). */
  if (++m->misses < 2) {
    m->step_n = 1;
    return false;
  }
  m->misses = 0;
  m->brake_len_ns = m->brake_len_ns < BRAKE_MIN_NS ? BRAKE_MIN_NS
                    : (m->brake_len_ns * 2 > BRAKE_MAX_NS ? BRAKE_MAX_NS : m->brake_len_ns * 2);
  m->brake_until_ns = now + m->brake_len_ns;
  weft__fetch_add_relaxed(&m->e->brakes, 1); /* statistics */
  WEFT_PROBE(brake, m->e, (int)(share > 0 ? 1000.0 * gain / share : 0));
  return false;
}

/* Raise the limit above the awake count by n (grants for the stand-ins
 * that run already, plus n), then wake up to n parked threads, the newest
 * first (E5.5). Returns how many it woke. */
static int raise_and_wake(weft__monitor *m, int n, int awake, int base, int grants) {
  int add = awake + n - base - grants;
  if (add > 0) {
    m->granted += add;
    weft__engine_add_grants(m->e, add);
  }
  int woken = 0;
  while (woken < n && weft__engine_wake_one(m->e, WEFT__WAKE_NOTIFIED)) woken++;
  return woken;
}

/* E5.5: stand-ins from the parked threads above the limit, the newest
 * first: as many as a growth step would add (want, or a quarter of the
 * awake workers when every busy one is blocked), neither paced by the
 * bucket nor judged by the brake's windows, which exist for the memory and
 * the thread creations that waking does not cost; the drain estimate and
 * a brake in force still hold it back. A second burst within the
 * keep-alive: paced and judged like creations, 10 000 x 10 ms on (0,2)
 * took 1.0-1.6 s against 0.4-0.6 s before E5.5, when every notify woke
 * a parked thread. True if it woke one. */
static bool wake_parked(weft__monitor *m, int want, int blocked, int busy, int awake, int base,
                        int grants, int parked) {
  int n = want;
  if (blocked >= busy && busy > 0 && awake / 4 > n) n = awake / 4;
  if (n > parked) n = parked;
  int woken = raise_and_wake(m, n, awake, base, grants);
  if (woken < n) give_back(m, n - woken); /* reaped or woken meanwhile */
  return woken > 0;
}

/* One tick while armed. True if it grew the pool. */
static bool tick(weft__monitor *m, uint64_t now) {
  weft__engine *e = m->e;
  weft__fetch_add_relaxed(&e->monitor_ticks, 1); /* statistics */
  uint64_t cpu = weft__process_cpu_ns();
  uint64_t dt = now - m->last_ns, dcpu = cpu - m->last_cpu;
  uint64_t done = weft__engine_completed(e), ddone = done - m->last_done;
  m->last_ns = now;
  m->last_cpu = cpu;
  m->last_done = done;
  if (ddone > 0) m->last_progress_ns = now;
  if (dt == 0) return false;

  /* Busy workers, and those stuck in one task since the last tick. */
  /* Busy workers (not counted exactly by weft_blocking_begin) are the
   * candidates; "stuck" ones have not moved to another task since the
   * last tick (the strict cap's diagnosis). */
  int busy = 0, stuck = 0, stuck_all = 0, cands = 0, sampled = 0, off = 0;
  uint32_t hw = weft__load_acquire(&e->hw); /* acquire: pairs with spawn's release */
  for (uint32_t i = 0; i < hw; i++) {
    weft__eworker *w = e->slots[i];
    uint64_t ex = weft__load_relaxed(&w->ring.executed);
    bool same = ex == m->last_exec[i];
    m->last_exec[i] = ex;
    if (weft__load_relaxed(&w->state) != WEFT__SLOT_LIVE || !weft__load_relaxed(&w->busy)) continue;
    busy++;
    /* stuck_all: the strict cap's diagnosis, announced blocks included (a
     * pool deadlocked in blockingCallFromThread is all announced). */
    if (same) stuck_all++;
    if (weft__load_relaxed(&w->blocking)) continue; /* counted exactly */
    if (same) stuck++;
    m->cand[cands++] = i;
  }
  /* Sample up to SAMPLE_MAX candidates, spread over them and rotating:
   * the share not runnable ('S', 'D': in a system call, a wait, I/O) of
   * all candidates is the opaque blocked count. A worker short of a CPU
   * ('R') is never counted: more threads would not help it. */
  int step = cands > SAMPLE_MAX ? cands / SAMPLE_MAX : 1;
  for (int k = 0; k < cands && sampled < SAMPLE_MAX; k += step) {
    weft__eworker *w = e->slots[m->cand[(k + m->rotate) % cands]];
    char st = weft__proc_thread_state(weft__load_relaxed(&w->tid));
    if (st == 0) continue;
    sampled++;
    if (st != 'R') off++;
  }
  m->rotate++;
  int blocked_opaque;
  if (sampled > 0) {
    blocked_opaque = (int)((double)cands * off / sampled + 0.5);
  } else {
    /* No /proc: the CPU clock alone (busy workers minus the CPU time used,
     * a conservative count), never more than the limit's worth. */
    double est = (double)busy - (double)dcpu / (double)dt;
    blocked_opaque = est > 0 ? (int)est : 0;
    if (blocked_opaque > stuck) blocked_opaque = stuck;
    int soft = weft__load_relaxed(&e->soft);
    if (soft > 0 && blocked_opaque > soft) blocked_opaque = soft;
  }
  int blocked = blocked_opaque + weft__load_relaxed(&e->blocked);

  m->hist_ns[m->hist_n % HISTORY] = now;
  m->hist_done[m->hist_n % HISTORY] = done;
  m->hist_n++;
  if (ddone > 0 && busy > 0) {
    double sample = (double)busy * (double)dt / (double)ddone;
    m->svc_ns = m->svc_ns == 0 ? sample : 0.8 * m->svc_ns + 0.2 * sample;
  }
  m->tokens += (double)dt * 1e-9 * 100.0 * m->ncpu;
  if (m->tokens > 4.0 * m->ncpu) m->tokens = 4.0 * m->ncpu;

  if (!weft__load_relaxed(&e->elastic)) {
    report_stuck(m, now, busy, stuck_all);
    return false;
  }
  /* Stand-ins: the threads above the limit now (grants, or more: threads
   * whose grants went back still exist until they idle out). They follow
   * the blocked count: grants go back when fewer workers are blocked. */
  int live = weft__load_relaxed(&e->live);
  int awake = weft__engine_awake(e); /* parked threads above the limit stand in for nobody */
  int base = weft__engine_limit_base(e);
  int grants = weft__load_relaxed(&e->grants);
  int stand_ins = awake - base > grants ? awake - base : grants;
  int want = blocked - stand_ins;
  if (want < 0) {
    give_back(m, -want);
    return false;
  }
  if (want == 0) return false;
  int hard = weft__load_relaxed(&e->hard);
  int parked = live - awake; /* woken before any thread is made */
  if (live >= hard && parked == 0) {
    weft__fetch_add_relaxed(&e->valve_hits, 1); /* statistics */
    WEFT_PROBE(valve, e, live);
    return false;
  }
  if (now < m->brake_until_ns) return false;
  bool no_progress = now - m->last_progress_ns >= STALL_NS;
  int running = busy - blocked;
  if (!no_progress && running > 0 && m->svc_ns > 0) {
    double drain = (double)weft__engine_backlog(e) * m->svc_ns / running;
    if (drain <= DRAIN_TARGET_NS) return false; /* the threads we have suffice */
  }
  double rate = recent_rate(m, now, done, window_ns(m)); /* -1: no history spanning a window */
  if (!no_progress && running <= 0 && rate > 0 &&
      (double)weft__engine_backlog(e) / rate <= DRAIN_TARGET_NS)
    /* Every busy worker blocked, yet tasks complete (they sleep, wait for
     * I/O): the backlog drains at the completion rate of the last window.
     * A pile-up of a few short tasks behind them then wakes or makes
     * nobody (W10t: a trickle's loop that fell behind submits up to 88
     * due 1 ms tasks at once; they drain in under 100 ms). */
    return false;
  if (parked > 0) {
    /* Before the history spans a window the rate is unknown: one step,
     * then wait for it (a pile-up of short tasks has drained by then). */
    if (rate < 0 && !no_progress) {
      if (m->woke_blind) return false;
      m->woke_blind = true;
    }
    return wake_parked(m, want, blocked, busy, awake, base, grants, parked);
  }
  if (!step_judged(m, now, done, no_progress)) return false;
  /* A geometric step, bounded by the bucket and the valve. */
  /* want = soft - running: enough stand-ins that `soft` workers run. When
   * every busy worker is blocked, the threads added block too (the work is
   * all of one kind), and `soft` a step would crawl: grow by a quarter of
   * the pool a step instead, still judged by the brake and the drain
   * estimate, and paced by the bucket. */
  int n = want;
  if (blocked >= busy && busy > 0 && awake / 4 > n) n = awake / 4;
  /* After a brake, the step that tries again is a probe: an eighth of
   * the pool, so that a bottleneck outside the pool (16 permits of a
   * semaphore, a connection pool) costs a few threads a brake, not a
   * quarter of the pool each time. Probes that pay ease the braking
   * (step_judged halves brake_len_ns) until full steps resume. */
  if (m->brake_len_ns != 0 && n > awake / 8) n = awake / 8 > 1 ? awake / 8 : 1;
  if (n > (int)m->tokens) n = (int)m->tokens;
  if (n > hard - live + parked) n = hard - live + parked;
  if (n <= 0) return false;
  /* The baseline is the completion rate over the last judging window's
   * length. A pool too slow to fill a window in 50 ms is not judged: it is
   * small, and the bucket bounds it; the brake is for the many threads an
   * external bottleneck would otherwise collect. */
  double before = recent_rate(m, now, done, window_ns(m));
  /* Fast enough to judge: by the rate over the window, or over the last
   * 20 ms, whichever is higher. The window's rate lags a pool that has
   * just grown (4 service times span the ramp), so with the window alone a
   * pool whose rate had already levelled off above the line went on
   * growing unjudged: W12 at (0,2) (16 permits, 1.6 tasks/ms at most)
   * stepped a thread per refill to 29 before its first judgement, and
   * reached 44-51 threads in one repetition in fifteen (its bound: 42);
   * with the 20 ms rate as well, 26-34 in 24 repetitions, W6 unchanged. */
  double gate = recent_rate(m, now, done, WINDOW_MIN_NS);
  if (gate < before) gate = before;
  m->rate_before = before < 0 ? -1 : (gate * 50e6 >= WINDOW_MIN_DONE ? before : 0);
  m->win_ns = now;
  m->win_done = done;
  m->step_busy = busy;
  m->tokens -= n;
  /* A thread that parked since (wake_parked ran when one was) is woken
   * before any is made. */
  int woken = raise_and_wake(m, n, awake, base, grants);
  /* No creation while a failed one backs off (E9.5): retry_creation tries
   * again once it has passed. The step made one every tick regardless
   * (252 factory calls and log lines in 2 s with every creation failing,
   * where the back-off allows about 8). Found by review. */
  int made = woken < n && !weft__engine_spawn_backing_off(e)
                 ? weft__engine_grow(e, n - woken, WEFT__MADE_STALL)
                 : 0;
  if (made < 0) made = 0;
  if (woken + made < n) give_back(m, n - woken - made); /* closed, or creation failed */
  m->step_n = 1; /* judged at the next tick whose window suffices */
  m->step_added = woken + made > 0 ? woken + made : 1;
  return woken + made > 0;
}

/* A creation failed and work waits: retry once its backoff has passed. */
static void retry_creation(weft__engine *e) {
  if (weft__load_relaxed(&e->retry_at_ns) == 0 || weft__engine_spawn_backing_off(e)) return;
  if (weft__engine_backlog(e) == 0) return;
  if (weft__load_relaxed(&e->live) >= weft__engine_limit(e)) return;
  (void)weft__engine_grow(e, 1, weft__engine_spawn_reason(e)); /* the failed one's reason */
}

static void arm_reset(weft__monitor *m, uint64_t now) {
  /* The bucket refills while disarmed too (100 x CPUs a second, up to the
   * burst): a monitor that stayed alive starts a saturation with the burst
   * a new one would have. */
  if (now > m->last_ns) {
    m->tokens += (double)(now - m->last_ns) * 1e-9 * 100.0 * m->ncpu;
    if (m->tokens > 4.0 * m->ncpu) m->tokens = 4.0 * m->ncpu;
  }
  m->last_ns = now;
  m->last_cpu = weft__process_cpu_ns();
  m->last_done = weft__engine_completed(m->e);
  m->last_progress_ns = now;
  m->win_ns = now;
  m->win_done = m->last_done;
  m->step_n = 0;
  m->woke_blind = false;
  m->hist_n = 0;
  m->tick_ns = TICK_MIN_NS;
  m->quiet_ticks = 0;
}

static void monitor_free(weft__monitor *m) {
  weft_free_fn f = m->free_fn;
  f(m->cand);
  f(m->last_exec);
  weft__free_aligned_with(m, f);
}

/* Disarmed: sleep until an arm bumps the word. The monitor leaves once
 * the pool has no thread (live 0) a keep-alive after it disarmed, so an
 * idle pool at 0 threads keeps no thread of its own: it clears e->monitor
 * under the mutex (the next arm, also under it, starts a new one), unless
 * an arm or stop came first. True if it left (and freed itself).
 *
 * Why not leave while the pool has threads: the monitor is what retries a
 * failed creation and stands in for a worker blocked without telling us.
 * A worker that blocks (unannounced) on a task it has just queued, while
 * the monitor's own thread cannot be created, would wait for ever: its
 * submit's arm failed, and nothing else runs to try again. So the monitor
 * starts with the pool's workers (weft__engine_ensure_monitor) and stays
 * while any is live; its thread is made while threads can still be made.
 * No wake-up for that: with live at or under the floor no worker leaves
 * by keep-alive, so it waits without a timeout (a resize that lowers the
 * floor leaves it until the next arm or the stop); above the floor it
 * looks again a keep-alive later. */
static bool sleep_disarmed(weft__monitor *m, uint32_t seen) {
  weft__engine *e = m->e;
  /* When the next look is due; 0: not counting. A wait cut short by a
   * signal (a profiler's SIGPROF, without SA_RESTART) goes on with the time
   * left (weft__futex_wait_until), not a whole keep-alive again, or a
   * steady signal would keep an idle monitor from ever leaving
   * (test_elastic monitor_looks_under_a_signal_storm). */
  uint64_t due_ns = 0;
  /* Acquire: pairs with monitor_stop's release store of `stop`. */
  while (weft__load_relaxed(&e->monitor_word) == seen && !weft__load_acquire(&m->stop)) {
    uint64_t ka = weft__load_relaxed(&e->keep_alive_ns);
    int live = weft__load_relaxed(&e->live);
    if (ka == 0 || (live > 0 && live <= weft__load_relaxed(&e->min_live))) {
      due_ns = 0;
      weft__futex_wait(&e->monitor_word, seen);
      continue;
    }
    if (due_ns == 0) due_ns = weft__now_ns() + ka;
    if (weft__futex_wait_until(&e->monitor_word, seen, due_ns) != ETIMEDOUT) continue;
    due_ns = 0; /* looked: the next look a keep-alive after this one */
    pthread_mutex_lock(&e->mu);
    /* live under the mutex: a spawn counts its thread under it first, and
     * that thread looks for the monitor after (ensure_monitor): either we
     * see it and stay, or it sees e->monitor cleared and starts another. */
    bool leave = weft__load_relaxed(&e->monitor) == m && !weft__load_relaxed(&e->monitor_armed) &&
                 weft__load_relaxed(&e->monitor_word) == seen &&
                 weft__load_relaxed(&e->live) == 0;
    if (leave) weft__store_relaxed(&e->monitor, NULL);
    pthread_mutex_unlock(&e->mu);
    weft__observe(WEFT__EVENT_MONITOR_LOOKED); /* after e->monitor's clear, if it leaves */
    if (leave) {
      give_back(m, m->granted);
      (void)pthread_detach(pthread_self());
      monitor_free(m);
      return true;
    }
  }
  return false;
}

static void *monitor_main(void *arg) {
  weft__monitor *m = arg;
  weft__engine *e = m->e;
  (void)pthread_setname_np(pthread_self(), "weft-monitor");
  weft__affinity_apply_monitor(e); /* not its creator's pin */
  /* Started by a worker's start (weft__engine_ensure_monitor) rather than
   * by an arm: sleep until the first arm, as after a disarm. Both reads
   * under the mutex, where an arm bumps the word after its CAS of `armed`:
   * either our section comes first (we read the old word, and the bump
   * ends the wait) or the arm's does (its CAS happened before, we see 1). */
  pthread_mutex_lock(&e->mu);
  uint32_t seen0 = weft__load_relaxed(&e->monitor_word);
  bool armed0 = weft__load_relaxed(&e->monitor_armed) != 0;
  pthread_mutex_unlock(&e->mu);
  if (!armed0) {
    if (sleep_disarmed(m, seen0)) return NULL; /* left after its keep-alive */
    if (weft__load_acquire(&m->stop)) { /* acquire: pairs with monitor_stop */
      give_back(m, m->granted);
      return NULL;
    }
  }
  for (;;) {
    arm_reset(m, weft__now_ns());
    /* Armed: tick until the pool has not been saturated for 3 ticks. */
    int idle_ticks = 0;
    for (;;) {
      uint32_t seen = weft__load_relaxed(&e->monitor_word);
      struct timespec ts = {0, (long)m->tick_ns};
      (void)weft__futex_wait_timeout(&e->monitor_word, seen, &ts);
      if (weft__load_acquire(&m->stop)) break; /* acquire: pairs with monitor_stop */
      uint64_t now = weft__now_ns();
      retry_creation(e);
      if (!saturated(e)) {
        kick_stranded(e);
        weft__observe(WEFT__EVENT_MONITOR_PASS);
        /* A failed creation keeps it armed only while work waits for the
         * retry: with none queued nothing needs the thread, and a later
         * submit that does arms it again (may_spawn, while backing off). */
        if (++idle_ticks >= 3 &&
            (weft__load_relaxed(&e->retry_at_ns) == 0 || weft__engine_backlog(e) == 0))
          break;
        continue;
      }
      idle_ticks = 0;
      if (tick(m, now)) {
        m->quiet_ticks = 0;
        m->tick_ns = TICK_MIN_NS;
      } else if (++m->quiet_ticks >= 8 && m->tick_ns < TICK_MAX_NS) {
        m->tick_ns *= 2;
        m->quiet_ticks = 0;
      }
      weft__observe(WEFT__EVENT_MONITOR_PASS);
    }
    if (weft__load_acquire(&m->stop)) break; /* acquire: as above */
    /* Disarm: give the grants back (their threads finish their tasks, then
     * idle out after the keep-alive), and sleep until the next arm. Dekker
     * with arm: we clear `armed` and re-check saturation; a submitter makes
     * its work visible, then reads `armed` in arm's CAS. Either it sees 0
     * and arms (bumping the word our futex wait compares), or we see its
     * work and stay armed. */
    give_back(m, m->granted);
    uint32_t seen = weft__load_relaxed(&e->monitor_word);
    weft__store_seq_cst(&e->monitor_armed, 0); /* seq_cst: pairs with arm's CAS */
    /* seq_cst add: the submitters' fast path sees the bias and takes the
     * slow path, which arms (pairs with its seq_cst load, E5.1). */
    if (!e->cfg.limit) weft__fetch_add_seq_cst(&e->limit_value, WEFT__UNARMED_BIAS);
    weft__fence_seq_cst(); /* the clear and the bias before the re-check */
    /* E5.4: while the engine has one slot its worker's notify has no fence:
     * membarrier makes its ring pushes visible to the re-check below (or it
     * sees the bias). Acquire: pairs with spawn's release of hw, which
     * follows the spawner's own membarrier. Decided by the engine's `sole`
     * (relaxed: set at create, cleared only by the spawner, before hw's
     * release above), not by weft__membarrier_ready(): that turns false
     * when the command is refused after the engine began (a seccomp filter),
     * while the worker goes on without its fence, and weft__membarrier then
     * falls back to the global command. */
    if (weft__load_acquire(&e->hw) <= 1 && weft__load_relaxed(&e->sole)) weft__membarrier();
    if (saturated(e)) {
      int z = 0;
      if (weft__cas_seq_cst(&e->monitor_armed, &z, 1)) { /* seq_cst: as arm's */
        /* seq_cst: takes the bias off again, as arm does (the same Dekker). */
        if (!e->cfg.limit) weft__fetch_sub_seq_cst(&e->limit_value, WEFT__UNARMED_BIAS);
        continue;
      }
    } else {
      kick_stranded(e); /* E5.5: a decline whose counts we read otherwise */
    }
    weft__observe(WEFT__EVENT_MONITOR_DISARMED);
    if (sleep_disarmed(m, seen)) return NULL; /* left after its keep-alive */
    if (weft__load_acquire(&m->stop)) break; /* acquire: pairs with monitor_stop */
  }
  give_back(m, m->granted);
  return NULL;
}

int weft__engine_monitor_start(weft__engine *e) {
  if (weft__load_relaxed(&e->monitor) != NULL) return WEFT_OK;
  weft__monitor *m = weft__calloc_aligned(sizeof *m);
  uint64_t *snap = weft__calloc((size_t)e->capacity, sizeof *snap);
  uint32_t *cand = weft__calloc((size_t)e->capacity, sizeof *cand);
  if (!m || !snap || !cand) {
    weft__free(cand);
    weft__free(snap);
    weft__free_aligned(m);
    return WEFT_ENOMEM;
  }
  m->cand = cand;
  m->e = e;
  /* The allocator cannot change between the three allocations above and
   * this: the engine is alive (a live object), so the replacement is
   * refused. */
  m->free_fn = weft__free_fn();
  /* The pool's CPUs: the engine's count, made at create on the creating
   * thread and bounded by its plan. Not the count of the thread that runs
   * this, which is whichever starts the monitor, most often a worker that
   * has pinned itself to one CPU (COMPACT, SCATTER): a pool of any size was
   * paced as one of one CPU; and this runs under e->mu, where the cgroup
   * files weft__cpu_count reads have no business (test_affinity
   * monitor_paced_by_the_pools_cpus). */
  m->ncpu = e->ncpu;
  m->tokens = 4.0 * m->ncpu; /* the bucket starts full: the burst */
  m->last_exec = snap;
  if (pthread_create(&m->thread, NULL, monitor_main, m) != 0) {
    weft__free(cand);
    weft__free(snap);
    weft__free_aligned(m);
    return WEFT_EAGAIN;
  }
  /* Release: the monitor's fields before its pointer (arm loads it with
   * acquire, and so does stop). */
  weft__store_release(&e->monitor, m);
  return WEFT_OK;
}

int weft__engine_monitor_cpus(weft__engine *e) {
  /* Under the mutex: a monitor that leaves clears e->monitor under it
   * before it frees itself (sleep_disarmed), and start publishes it under
   * it. */
  pthread_mutex_lock(&e->mu);
  weft__monitor *m = weft__load_relaxed(&e->monitor);
  int n = m ? m->ncpu : 0;
  pthread_mutex_unlock(&e->mu);
  return n;
}

void weft__engine_monitor_stop(weft__engine *e) {
  pthread_mutex_lock(&e->mu);
  weft__monitor *m = weft__load_acquire(&e->monitor); /* acquire: as in start */
  weft__store_relaxed(&e->monitor, NULL);
  pthread_mutex_unlock(&e->mu);
  if (!m) return;
  weft__store_release(&m->stop, 1); /* release: pairs with the monitor's acquire */
  weft__fetch_add_relaxed(&e->monitor_word, 1);
  weft__futex_wake(&e->monitor_word, 1);
  pthread_join(m->thread, NULL);
  monitor_free(m);
}
