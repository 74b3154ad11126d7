/*
 * weft_elastic_bench — the blocking benchmark family (issue 20, item 9).
 *
 * Pools: weft ThreadPool(0,2) (the native pool's shape: min 0, soft 2) and
 * ThreadPool(5,20) (Twisted's default), the textbook pthread pool with 20
 * threads, libuv with UV_THREADPOOL_SIZE 4 and 128, GLib GThreadPool with
 * max 2, 20 and unlimited, and tokio_like (Tokio's blocking pool, cap 512,
 * keep-alive 10 s).
 *
 * Workloads:
 *   W6   blocking burst: N tasks x nanosleep(10 ms), submitted at once.
 *   W6r  re-burst: a W6 burst, then, once all N completed, the same burst
 *        again on the same pool; the makespan is the second burst's.
 *   W7   CPU burst: N tasks x 5 ms of thread CPU time (busy loop).
 *   W9c  opaque chain: 32 tasks; task i+1 is submitted once task i runs
 *        (so it is queued behind it in any pool, FIFO or LIFO), and task i
 *        waits on a condition variable that task i+1 signals as it returns
 *        (the last one at once). It needs all 32 running at once: a pool
 *        capped below that deadlocks, and the cell says so after its timeout
 *        (the process exits, it never hangs).
 *   W10s shrink: a W6 burst, then nothing for a window: threads at the end,
 *        when the count last changed, when it reached the pool's min.
 *   W10t trickle: W10b's burst (30 000 x 10 ms at long scale), then a prime,
 *        then a steady 1 000 tasks/s x 1 ms for 2 s: the most threads alive
 *        in the trickle's last 0.5 s (keep-alive defeat). The burst alone
 *        stops growing where the pool's own drain target and brake say
 *        (130-242 threads in 10 repetitions), so the prime makes the start
 *        a count: P tasks (224 at long scale, --prime=P; 0: no prime) that
 *        each count themselves and wait at a gate, opened by the main
 *        thread once all P wait at once (so the pool holds at least P
 *        threads), or after --prime-timeout (10 s at long scale) for a pool
 *        capped below P, which the row reports (`primed`); the trickle
 *        begins once every prime task has completed. The gate's wait is
 *        opaque (a futex wait, no weft_blocking_begin), as W9c's and W12's
 *        are and as a peer's must be: weft's monitor has to see the blocked
 *        workers itself. The burst stays before the prime so that the pool
 *        the trickle meets has W10b's history (its brake, its keep-alives),
 *        and W10b, without a prime, stays comparable with older figures.
 *        Steady: a loop that wakes late (the VM did not run it) submits one
 *        task and keeps its 1 ms period from then on, skipping the slots it
 *        missed; it counts them.
 *   W10b the same with catch-up bursts: a late loop submits every slot it
 *        missed back to back (a pile-up), as a server's loop that was not
 *        run does; each pile-up below `soft` is a burst Twisted's rule
 *        gives a thread per task.
 *   W12  external bottleneck: N tasks each hold 1 of 16 semaphore permits
 *        for 10 ms (ideal makespan N x 10 ms / 16).
 *
 * Every (pool, workload, repetition) runs in a fresh process: the driver
 * re-executes this binary with --cell, so thread counts never leak between
 * cells and libuv reads its UV_THREADPOOL_SIZE once per cell, as it must.
 * The child prints one "EB ..." line; the driver prints markdown tables.
 *
 *   weft_elastic_bench [--scale=tiny|short|long] [--reps=N]
 *                      [--pools=label,...] [--workloads=W6,W7,...]
 *                      [--reps-capped=N] [--chain-timeout=S] [--shrink-window=S]
 *                      [--trickle=S] [--prime=P] [--prime-timeout=S]
 *                      [--sample-us=US] [--raw=FILE] [--check]
 *
 * --check (the ctest smoke): exit 1 unless every cell finished its work,
 * or, in W9c only, reported its deadlock. Nothing is timed or judged.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "eb.h"

/* ---- pools ---------------------------------------------------------------- */

static const eb_config configs[] = {
    {"weft(0,2)", "weft", 0, 2, 0},
    {"weft(5,20)", "weft", 5, 20, 0},
    {"pthread(20)", "pthread", 20, 20, 0},
#ifdef EB_HAVE_LIBUV
    {"libuv(4)", "libuv", 4, 4, 4},
    {"libuv(128)", "libuv", 128, 128, 128},
#endif
#ifdef EB_HAVE_GLIB
    {"glib(2)", "glib", 0, 2, 0},
    {"glib(20)", "glib", 0, 20, 0},
    {"glib(-1)", "glib", 0, -1, 0},
#endif
    {"tokio_like", "tokio_like", 0, 512, 0},
};
enum { N_CONFIGS = sizeof configs / sizeof configs[0] };

static const eb_impl *impl_by_name(const char *name) {
  static const eb_impl *const all[] = {
      &eb_impl_weft, &eb_impl_pthread, &eb_impl_tokio_like,
#ifdef EB_HAVE_LIBUV
      &eb_impl_libuv,
#endif
#ifdef EB_HAVE_GLIB
      &eb_impl_glib,
#endif
  };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(all[i]->name, name) == 0)
      return all[i];
  return NULL;
}

/* ---- workloads and scales ------------------------------------------------- */

enum { W6, W6R, W7, W9C, W10S, W10T, W10B, W12, N_WORK };
static const char *const wnames[N_WORK] = {"W6", "W6r", "W7", "W9c", "W10s", "W10t", "W10b", "W12"};

typedef struct scale {
  const char *name;
  long w6_n, w7_n, w10_n, w10t_n, w12_n;
  double chain_timeout_s, shrink_window_s, trickle_s;
  int reps;
  int prime_n;            /* W10t: tasks held at the gate at once (P) */
  double prime_timeout_s; /* W10t: the gate opens then if fewer arrived */
} scale;

static const scale scales[] = {
    /* name   W6(r)  W7    W10s   W10t/b W12    chain  window trickle reps prime timeout */
    {"tiny", 40, 10, 40, 40, 64, 1.0, 0.3, 0.2, 1, 8, 1.0},
    {"short", 2000, 200, 500, 500, 500, 2.0, 3.0, 2.0, 1, 64, 2.0},
    {"long", 10000, 1000, 10000, 30000, 10000, 10.0, 12.0, 2.0, 5, 224, 10.0},
};

#define SLEEP_MS 10      /* W6, W6r, W10, W12 task */
#define CPU_MS 5         /* W7 task */
#define CHAIN_N 32       /* W9c */
#define TRICKLE_RATE 1000 /* W10t tasks/s */
#define TRICKLE_MS 1
#define PERMITS 16       /* W12 */

/* ---- completion count ------------------------------------------------------ */

static atomic_long done_count;
static atomic_long done_target = LONG_MAX;
static double t_last_done;
static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv;

void eb_task_done(void) {
  long d = atomic_fetch_add(&done_count, 1) + 1;
  if (d == atomic_load(&done_target)) {
    double t = eb_now();
    pthread_mutex_lock(&done_mu);
    t_last_done = t;
    pthread_cond_broadcast(&done_cv);
    pthread_mutex_unlock(&done_mu);
  }
}

/* Set before the phase's tasks are submitted: the total expected (cumulative). */
static void expect_total(long target) { atomic_store(&done_target, target); }

/* The time the task that reached the current target completed, once that
 * task has recorded it (it counts itself before it takes done_mu), and later
 * than `after`. Call it only once done_count reached the target. */
static double last_done_after(double after) {
  pthread_mutex_lock(&done_mu);
  while (t_last_done <= after)
    pthread_cond_wait(&done_cv, &done_mu);
  double t = t_last_done;
  pthread_mutex_unlock(&done_mu);
  return t;
}

/* When a phase begun at t0 ended: its last completion's time if every task
 * was submitted and counted (wrc 0), else now. Not t_last_done read
 * directly: wait_total returns as soon as done_count reaches the target,
 * which the last task counts before it takes done_mu to record its time,
 * so a waiter that arrives in between read 0 (a negative makespan, which
 * the table then dropped from the median without a word). */
static double phase_end(int wrc, int submit_err, double t0) {
  return wrc == 0 && submit_err == 0 ? last_done_after(t0) : eb_now();
}

/* 0 when done_count reached the target, ETIMEDOUT at the deadline. */
static int wait_total(long target, double timeout_s) {
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  double frac = timeout_s - floor(timeout_s);
  dl.tv_sec += (time_t)floor(timeout_s);
  dl.tv_nsec += (long)(frac * 1e9);
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_nsec -= 1000000000L;
    dl.tv_sec++;
  }
  int rc = 0;
  pthread_mutex_lock(&done_mu);
  while (atomic_load(&done_count) < target && rc != ETIMEDOUT)
    rc = pthread_cond_timedwait(&done_cv, &done_mu, &dl);
  if (atomic_load(&done_count) >= target)
    rc = 0;
  pthread_mutex_unlock(&done_mu);
  return rc;
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
    ;
}

/* ---- task bodies ------------------------------------------------------------ */

static void task_sleep(void *arg) {
  sleep_s((double)(long)(size_t)arg * 1e-3);
  eb_task_done();
}

static void task_cpu(void *arg) {
  double ms = (double)(long)(size_t)arg;
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  double end = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + ms * 1e-3;
  volatile unsigned long sink = 0;
  for (;;) {
    for (int i = 0; i < 1000; i++)
      sink += (unsigned long)i;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    if ((double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 >= end)
      break;
  }
  (void)sink;
  eb_task_done();
}

typedef struct chain {
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* CLOCK_MONOTONIC */
  int started[CHAIN_N];   /* task i is running */
  int released[CHAIN_N];  /* task i+1 is about to return */
} chain;
typedef struct chain_link {
  chain *c;
  int i;
} chain_link;
static void task_chain(void *arg) {
  chain_link *l = arg;
  chain *c = l->c;
  pthread_mutex_lock(&c->mu);
  c->started[l->i] = 1;
  pthread_cond_broadcast(&c->cv);
  /* Task i returns only after task i+1 has: the whole chain must be running
   * at once, 32 threads, or a pool that stands in for its blocked workers. */
  if (l->i < CHAIN_N - 1)
    while (!c->released[l->i])
      pthread_cond_wait(&c->cv, &c->mu);
  if (l->i > 0) {
    c->released[l->i - 1] = 1;
    pthread_cond_broadcast(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
  eb_task_done();
}

/* W10t's prime: each task counts itself in `arrived` and waits until the
 * main thread opens the gate. The wait is opaque (a futex wait, as W9c's
 * condvar and W12's semaphore are): no pool is told that its worker blocks,
 * so weft's monitor must see it off-CPU, and every peer runs the same body.
 * Both words are futex words; nothing else is published through them (the
 * tasks read no data the main thread wrote after the submit, which the
 * pool's queue already orders), so every access is relaxed: the futex
 * system call compares the word with the value the caller saw atomically
 * with queueing it, which is what keeps a wake-up from being lost. */
static struct prime_gate {
  atomic_int arrived; /* tasks that reached the gate (the main thread waits on it) */
  atomic_int open;    /* 0 closed, 1 open (the tasks wait on it) */
  int target;         /* P: written before the first prime submit */
} gate;

static long futex_op(atomic_int *word, int op, int val, const struct timespec *rel) {
  return syscall(SYS_futex, (int *)(void *)word, op, val, rel, NULL, 0);
}

static void task_gate(void *arg) {
  (void)arg;
  int a = atomic_fetch_add_explicit(&gate.arrived, 1, memory_order_relaxed) + 1;
  if (a == gate.target) /* the one the main thread waits for */
    futex_op(&gate.arrived, FUTEX_WAKE_PRIVATE, 1, NULL);
  while (atomic_load_explicit(&gate.open, memory_order_relaxed) == 0)
    futex_op(&gate.open, FUTEX_WAIT_PRIVATE, 0, NULL); /* EINTR, EAGAIN: look again */
  eb_task_done();
}

/* Wait until `target` prime tasks have arrived, or timeout_s has passed (a
 * pool capped below the target never gets there), then open the gate.
 * Returns how many had arrived when it opened. */
static int prime_open(int target, double timeout_s) {
  double deadline = eb_now() + timeout_s;
  int a;
  for (;;) {
    a = atomic_load_explicit(&gate.arrived, memory_order_relaxed);
    double left = deadline - eb_now();
    if (a >= target || left <= 0)
      break;
    struct timespec rel = {(time_t)left, (long)((left - floor(left)) * 1e9)};
    /* Sleeps only while the count is still a: the arrival that reaches the
     * target wakes it; the others change the word, so a wait begun after
     * them returns at once (EAGAIN) and the loop reads the new count. */
    futex_op(&gate.arrived, FUTEX_WAIT_PRIVATE, a, &rel);
  }
  atomic_store_explicit(&gate.open, 1, memory_order_relaxed);
  futex_op(&gate.open, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
  return a;
}

static sem_t permits;
static void task_permit(void *arg) {
  while (sem_wait(&permits) != 0 && errno == EINTR)
    ;
  sleep_s((double)(long)(size_t)arg * 1e-3);
  sem_post(&permits);
  eb_task_done();
}

/* ---- one cell (child process) ----------------------------------------------- */

typedef struct cell_out {
  const char *outcome; /* completed | deadlocked | error */
  long done, expected;
  double t0, t_end;       /* first submit; last completion */
  double t_measure_end;   /* end of what the timeline covers */
  double makespan;
  double window_start;    /* W10s: last burst completion; W10t/b: trickle start */
  double window_end;
  int submit_err;
  /* W10b: the most tasks the trickle's loop submitted back to back, all
   * due already (it had fallen behind), over the whole trickle and over its
   * last TRICKLE_RECENT_S (a pile-up there may wake threads that are still
   * within their keep-alive in the tail window). W10t: the slots it skipped
   * and its longest lateness. */
  int pileup_max, pileup_recent;
  long late_slots;
  double late_max_ms;
  /* W6r: t0/t_end above are the second burst's; these are the first's. The
   * thread count when the second burst began (Threads: minus the harness's
   * two threads, read at once) and the creations made during it. */
  double first_t0, first_end;
  int reburst_start;
  long reburst_creations;
  /* W10t: the prime's tasks at the gate when it opened, and how long after
   * the prime's first submit it opened. */
  int primed;
  double prime_s;
  int start_read; /* W10t: threads when the trickle began, read then (-1: sampled) */
} cell_out;
#define TRICKLE_RECENT_S 10.5 /* the default keep-alive (10 s) + the tail window */

static int submit_n(const eb_impl *im, void *pool, long n, eb_fn fn, void *arg, cell_out *o) {
  for (long i = 0; i < n; i++) {
    int rc = im->submit(pool, fn, arg);
    if (rc != 0) {
      o->submit_err = rc;
      return rc;
    }
  }
  return 0;
}

static double tl_peak(const eb_sample *s, size_t n, double a, double b, int *at_end) {
  int peak = 0, last = -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i].t < a || s[i].t > b)
      continue;
    if (s[i].threads > peak)
      peak = s[i].threads;
    last = s[i].threads;
  }
  if (at_end != NULL)
    *at_end = last;
  return peak;
}

static double tl_integral(const eb_sample *s, size_t n, double a, double b) {
  double sum = 0;
  for (size_t i = 0; i + 1 < n; i++) {
    double lo = s[i].t > a ? s[i].t : a;
    double hi = s[i + 1].t < b ? s[i + 1].t : b;
    if (hi > lo)
      sum += (double)s[i].threads * (hi - lo);
  }
  return sum;
}

static int run_cell(const char *label, const char *wname, const scale *sc, unsigned sample_us) {
  const eb_config *cfg = NULL;
  for (int i = 0; i < N_CONFIGS; i++)
    if (strcmp(configs[i].label, label) == 0)
      cfg = &configs[i];
  int w = -1;
  for (int i = 0; i < N_WORK; i++)
    if (strcmp(wnames[i], wname) == 0)
      w = i;
  const eb_impl *im = cfg != NULL ? impl_by_name(cfg->impl) : NULL;
  if (im == NULL || w < 0) {
    fprintf(stderr, "weft_elastic_bench: unknown cell %s %s\n", label, wname);
    return 2;
  }
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&done_cv, &ca);
  sem_init(&permits, 0, PERMITS);

  /* The harness's threads, as the sampler counts them: this one and the
   * sampler itself. */
  int harness_threads = eb_proc_status_field("Threads") + 1;
  int rc = eb_sampler_start(sample_us);
  if (rc != 0) {
    printf("EB outcome=error err=sampler:%d\n", rc);
    return 1;
  }
  eb_counters_reset();
  void *pool = NULL;
  rc = im->create(&pool, cfg);
  if (rc != 0) {
    printf("EB outcome=error err=create:%d\n", rc);
    fflush(stdout);
    _exit(1);
  }

  cell_out o = {.outcome = "completed", .reburst_start = -1, .reburst_creations = -1,
                .start_read = -1};
  const double limit = 900; /* the driver's kill comes first */
  void *ms_sleep = (void *)(size_t)SLEEP_MS;
  chain ch;
  chain_link links[CHAIN_N];
  int wrc = 0, chain_started = -1;
  switch (w) {
  case W6:
  case W10S:
  case W10T:
  case W10B: {
    long n = w == W6 ? sc->w6_n : w == W10S ? sc->w10_n : sc->w10t_n;
    o.expected = n;
    expect_total(n);
    o.t0 = eb_now();
    if (submit_n(im, pool, n, task_sleep, ms_sleep, &o) == 0)
      wrc = wait_total(n, limit);
    o.t_end = phase_end(wrc, o.submit_err, o.t0);
    o.t_measure_end = o.t_end;
    if (w == W10T && wrc == 0 && o.submit_err == 0 && sc->prime_n > 0) {
      /* The prime (see the top): P tasks held at a gate until all P run at
       * once, so the trickle begins with at least P threads whatever the
       * burst left; then every one of them completes before it begins. */
      long p = sc->prime_n;
      gate.target = (int)p;
      expect_total(n + p);
      double tp = eb_now();
      submit_n(im, pool, p, task_gate, NULL, &o);
      o.primed = prime_open((int)p, o.submit_err == 0 ? sc->prime_timeout_s : 0);
      o.prime_s = eb_now() - tp;
      if (o.submit_err == 0)
        wrc = wait_total(n + p, limit);
      n += p;
      /* Read, not sampled: the sampler may not have run since the
       * prime's threads appeared (on 2 vCPUs, with them all waking). */
      int th = eb_proc_status_field("Threads");
      o.start_read = th >= 0 ? th - harness_threads : -1;
    }
    if (w == W10S && wrc == 0 && o.submit_err == 0) {
      o.window_start = o.t_end;
      sleep_s(sc->shrink_window_s);
      o.window_end = eb_now();
      o.t_measure_end = o.window_end;
    } else if ((w == W10T || w == W10B) && wrc == 0 && o.submit_err == 0) {
      long k = (long)(sc->trickle_s * TRICKLE_RATE);
      o.expected = n + k;
      expect_total(n + k);
      o.window_start = eb_now();
      struct timespec next;
      clock_gettime(CLOCK_MONOTONIC, &next);
      double recent_from = o.window_start + sc->trickle_s - TRICKLE_RECENT_S;
      int run = 0;
      for (long i = 0; i < k && o.submit_err == 0; i++) {
        if (im->submit(pool, task_sleep, (void *)(size_t)TRICKLE_MS) != 0)
          o.submit_err = -EAGAIN;
        next.tv_nsec += 1000000000L / TRICKLE_RATE;
        if (next.tv_nsec >= 1000000000L) {
          next.tv_nsec -= 1000000000L;
          next.tv_sec++;
        }
        /* Behind (the next task is due already): this submit and the next
         * are one pile-up, as the pool sees them. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > next.tv_sec || (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
          if (w == W10T) {
            /* Steady: the next task goes now, the period restarts from it. */
            double late_ms = (double)(now.tv_sec - next.tv_sec) * 1e3 +
                             (double)(now.tv_nsec - next.tv_nsec) * 1e-6;
            o.late_slots += (long)(late_ms * TRICKLE_RATE / 1000.0);
            if (late_ms > o.late_max_ms) o.late_max_ms = late_ms;
            next = now;
          } else {
            run++;
          }
        } else {
          run = 0;
        }
        if (run + 1 > o.pileup_max) o.pileup_max = run + 1;
        if (run + 1 > o.pileup_recent && eb_now() >= recent_from) o.pileup_recent = run + 1;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
      }
      o.window_end = eb_now();
      if (o.submit_err == 0)
        wrc = wait_total(n + k, limit);
      o.t_measure_end = o.window_end;
    }
    break;
  }
  case W6R: {
    /* The second burst is submitted as soon as the first completed, well
     * within any keep-alive: a pool that parks its idle threads serves it
     * with them. */
    long n = sc->w6_n;
    o.expected = 2 * n;
    expect_total(n);
    o.first_t0 = eb_now();
    o.t0 = o.first_t0;
    if (submit_n(im, pool, n, task_sleep, ms_sleep, &o) == 0)
      wrc = wait_total(n, limit);
    if (wrc != 0 || o.submit_err != 0) {
      o.t_end = eb_now();
      o.t_measure_end = o.t_end;
      break;
    }
    o.first_end = last_done_after(o.first_t0);
    expect_total(2 * n);
    int th = eb_proc_status_field("Threads");
    o.reburst_start = th >= 0 ? th - harness_threads : -1;
    long created_before = eb_creations();
    o.t0 = eb_now();
    if (submit_n(im, pool, n, task_sleep, ms_sleep, &o) == 0)
      wrc = wait_total(2 * n, limit);
    if (wrc == 0 && o.submit_err == 0) {
      o.t_end = last_done_after(o.t0);
      o.reburst_creations = eb_creations() - created_before;
    } else {
      o.t_end = eb_now();
    }
    o.t_measure_end = o.t_end;
    break;
  }
  case W7: {
    long n = sc->w7_n;
    o.expected = n;
    expect_total(n);
    o.t0 = eb_now();
    if (submit_n(im, pool, n, task_cpu, (void *)(size_t)CPU_MS, &o) == 0)
      wrc = wait_total(n, limit);
    o.t_end = phase_end(wrc, o.submit_err, o.t0);
    o.t_measure_end = o.t_end;
    break;
  }
  case W9C: {
    /* Task i+1 is submitted once task i runs, so it is queued behind it
     * whatever order the pool takes tasks in. */
    pthread_mutex_init(&ch.mu, NULL);
    pthread_cond_init(&ch.cv, &ca);
    memset(ch.started, 0, sizeof ch.started);
    memset(ch.released, 0, sizeof ch.released);
    o.expected = CHAIN_N;
    expect_total(CHAIN_N);
    o.t0 = eb_now();
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += (time_t)sc->chain_timeout_s;
    dl.tv_nsec += (long)((sc->chain_timeout_s - floor(sc->chain_timeout_s)) * 1e9);
    if (dl.tv_nsec >= 1000000000L) {
      dl.tv_nsec -= 1000000000L;
      dl.tv_sec++;
    }
    int trc = 0;
    for (int i = 0; i < CHAIN_N && o.submit_err == 0 && trc == 0; i++) {
      links[i].c = &ch;
      links[i].i = i;
      int src = im->submit(pool, task_chain, &links[i]);
      if (src != 0) {
        o.submit_err = src;
        break;
      }
      pthread_mutex_lock(&ch.mu);
      while (!ch.started[i] && trc != ETIMEDOUT)
        trc = pthread_cond_timedwait(&ch.cv, &ch.mu, &dl);
      if (ch.started[i])
        trc = 0;
      pthread_mutex_unlock(&ch.mu);
    }
    if (o.submit_err == 0 && trc == 0) {
      double left = sc->chain_timeout_s - (eb_now() - o.t0);
      wrc = wait_total(CHAIN_N, left > 0 ? left : 0);
    } else {
      wrc = trc;
    }
    pthread_mutex_lock(&ch.mu);
    chain_started = 0;
    for (int i = 0; i < CHAIN_N; i++)
      chain_started += ch.started[i];
    pthread_mutex_unlock(&ch.mu);
    o.t_end = phase_end(wrc, o.submit_err, o.t0);
    o.t_measure_end = o.t_end;
    break;
  }
  case W12: {
    long n = sc->w12_n;
    o.expected = n;
    expect_total(n);
    o.t0 = eb_now();
    if (submit_n(im, pool, n, task_permit, ms_sleep, &o) == 0)
      wrc = wait_total(n, limit);
    o.t_end = phase_end(wrc, o.submit_err, o.t0);
    o.t_measure_end = o.t_end;
    break;
  }
  }
  o.done = atomic_load(&done_count);
  long creations = eb_creations();
  long live_peak = eb_live_peak();
  int hwm = eb_proc_status_field("VmHWM");
  eb_sampler_stop();
  if (o.submit_err != 0)
    o.outcome = "error";
  else if (wrc != 0)
    o.outcome = w == W9C ? "deadlocked" : "error";
  o.makespan = o.t_end - o.t0;

  size_t ns;
  const eb_sample *s = eb_samples(&ns);
  int peak = (int)tl_peak(s, ns, 0, o.t_measure_end, NULL);
  /* W6r: both bursts. */
  double ths = tl_integral(s, ns, w == W6R ? o.first_t0 : o.t0, o.t_measure_end);
  printf("EB cell=%s w=%s outcome=%s done=%ld expected=%ld makespan=%.4f peak=%ld "
         "peak_sampled=%d creations=%ld thread_s=%.3f rss_kb=%d ncpu=%d",
         label, wname, o.outcome, o.done, o.expected, o.makespan, live_peak, peak,
         creations, ths, hwm, (int)sysconf(_SC_NPROCESSORS_ONLN));
  if (o.submit_err != 0)
    printf(" err=submit:%d", o.submit_err);
  if (w == W9C)
    printf(" started=%d", chain_started);
  if (w == W6R)
    printf(" first_makespan=%.4f reburst_start=%d reburst_creations=%ld",
           o.first_end > 0 ? o.first_end - o.first_t0 : -1.0, o.reburst_start,
           o.reburst_creations);
  printf(" cmax10ms=%ld cmax100ms=%ld cmax1s=%ld", eb_creations_max_in(0.010),
         eb_creations_max_in(0.100), eb_creations_max_in(1.0));
  if (w == W10S && o.window_end > 0) {
    int end = -1;
    tl_peak(s, ns, o.window_start, o.window_end, &end);
    double settle = 0, to_min = -1;
    /* settle: first time after which the count stays at its final value */
    settle = 0;
    for (size_t i = 0; i < ns; i++)
      if (s[i].t >= o.window_start && s[i].t <= o.window_end && s[i].threads != end &&
          i + 1 < ns)
        settle = s[i + 1].t - o.window_start;
    if (end <= (cfg->min > 0 ? cfg->min : 0)) {
      to_min = 0;
      for (size_t i = 0; i < ns; i++)
        if (s[i].t >= o.window_start && s[i].t <= o.window_end &&
            s[i].threads > (cfg->min > 0 ? cfg->min : 0) && i + 1 < ns)
          to_min = s[i + 1].t - o.window_start;
    }
    printf(" window=%.2f end_threads=%d settle=%.3f to_min=%.3f", o.window_end - o.window_start,
           end, settle, to_min);
  }
  if ((w == W10T || w == W10B) && o.window_end > 0) {
    int end = -1;
    int tail = (int)tl_peak(s, ns, o.window_end - 0.5, o.window_end, &end);
    int at_start = -1;
    tl_peak(s, ns, 0, o.window_start, &at_start);
    if (o.start_read >= 0)
      at_start = o.start_read;
    printf(" trickle_start=%d trickle_tail_max=%d trickle_end=%d trickle_pileup=%d "
           "trickle_pileup_recent=%d trickle_late_slots=%ld trickle_late_max_ms=%.1f",
           at_start, tail, end, o.pileup_max, o.pileup_recent, o.late_slots, o.late_max_ms);
    if (w == W10T && sc->prime_n > 0)
      printf(" prime=%d primed=%d prime_s=%.3f", sc->prime_n, o.primed, o.prime_s);
  }
  printf("\n");
  fflush(stdout);
  if (strcmp(o.outcome, "completed") != 0)
    _exit(0); /* threads still blocked: never join them */
  im->destroy(pool);
  return 0;
}

/* ---- the driver ----------------------------------------------------------------- */

typedef struct result {
  int ran;
  char outcome[16];
  double makespan, thread_s;
  long done, expected, peak, peak_sampled, creations, rss_kb;
  double settle, to_min;
  long end_threads, trickle_tail, trickle_start, trickle_pileup, started;
  long trickle_late_slots;
  double trickle_late_max_ms;
  long cmax10ms, cmax100ms, cmax1s; /* most creations in any 10 ms, 100 ms, 1 s */
  double first_makespan;              /* W6r: the first burst's */
  long reburst_start, reburst_creations; /* W6r: threads, creations (burst 2) */
  long primed;                           /* W10t: tasks at the gate when it opened */
  double prime_s;                        /* W10t: the prime's first submit to the opening */
  int ncpu;
} result;

static double field_d(const char *line, const char *key, double dflt) {
  char k[48];
  snprintf(k, sizeof k, " %s=", key);
  const char *p = strstr(line, k);
  return p != NULL ? strtod(p + strlen(k), NULL) : dflt;
}

static int parse_result(const char *line, result *r) {
  const char *p = strstr(line, "EB ");
  if (p == NULL)
    return -1;
  const char *oc = strstr(p, " outcome=");
  if (oc == NULL)
    return -1;
  sscanf(oc + 9, "%15[a-z]", r->outcome);
  r->makespan = field_d(p, "makespan", NAN);
  r->thread_s = field_d(p, "thread_s", NAN);
  r->done = (long)field_d(p, "done", -1);
  r->expected = (long)field_d(p, "expected", -1);
  r->peak = (long)field_d(p, "peak", -1);
  r->peak_sampled = (long)field_d(p, "peak_sampled", -1);
  r->creations = (long)field_d(p, "creations", -1);
  r->rss_kb = (long)field_d(p, "rss_kb", -1);
  r->settle = field_d(p, "settle", NAN);
  r->to_min = field_d(p, "to_min", NAN);
  r->end_threads = (long)field_d(p, "end_threads", -1);
  r->trickle_tail = (long)field_d(p, "trickle_tail_max", -1);
  r->trickle_start = (long)field_d(p, "trickle_start", -1);
  r->trickle_pileup = (long)field_d(p, "trickle_pileup_recent", -1);
  r->trickle_late_slots = (long)field_d(p, "trickle_late_slots", -1);
  r->trickle_late_max_ms = field_d(p, "trickle_late_max_ms", NAN);
  r->ncpu = (int)field_d(p, "ncpu", 0);
  r->started = (long)field_d(p, "started", -1);
  r->cmax10ms = (long)field_d(p, "cmax10ms", -1);
  r->cmax100ms = (long)field_d(p, "cmax100ms", -1);
  r->cmax1s = (long)field_d(p, "cmax1s", -1);
  r->first_makespan = field_d(p, "first_makespan", NAN);
  r->reburst_start = (long)field_d(p, "reburst_start", -1);
  r->reburst_creations = (long)field_d(p, "reburst_creations", -1);
  r->primed = (long)field_d(p, "primed", -1);
  r->prime_s = field_d(p, "prime_s", NAN);
  return 0;
}

/* Runs one cell in a child; fills r (outcome "killed" or "crashed" when the
 * child gave no result line). */
static void run_child(const char *self, const eb_config *cfg, int w, const char *scale_name,
                      char *const *extra, int n_extra, double kill_after_s, result *r,
                      FILE *raw) {
  memset(r, 0, sizeof *r);
  r->ran = 1;
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    snprintf(r->outcome, sizeof r->outcome, "crashed");
    return;
  }
  char scale_arg[64];
  snprintf(scale_arg, sizeof scale_arg, "--scale=%s", scale_name);
  char *argv[32];
  int a = 0;
  argv[a++] = (char *)self;
  argv[a++] = (char *)"--cell";
  argv[a++] = (char *)cfg->label;
  argv[a++] = (char *)wnames[w];
  argv[a++] = scale_arg;
  for (int i = 0; i < n_extra && a < 30; i++)
    argv[a++] = extra[i];
  argv[a] = NULL;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pfd[1], STDOUT_FILENO);
    if (cfg->uv_size > 0) {
      char v[16];
      snprintf(v, sizeof v, "%d", cfg->uv_size);
      setenv("UV_THREADPOOL_SIZE", v, 1);
    }
    execv("/proc/self/exe", argv);
    _exit(127);
  }
  close(pfd[1]);
  char buf[4096];
  size_t len = 0;
  double deadline = eb_now() + kill_after_s;
  int killed = 0;
  for (;;) {
    double left = deadline - eb_now();
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = 1;
      break;
    }
    struct pollfd pf = {pfd[0], POLLIN, 0};
    int prc = poll(&pf, 1, (int)(left * 1000) + 1);
    if (prc < 0 && errno == EINTR)
      continue;
    if (prc <= 0)
      continue;
    ssize_t n = read(pfd[0], buf + len, sizeof buf - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
    if (len == sizeof buf - 1)
      break;
  }
  buf[len] = '\0';
  close(pfd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (parse_result(buf, r) != 0) {
    snprintf(r->outcome, sizeof r->outcome, "%s",
             killed ? "killed" : (WIFSIGNALED(status) ? "crashed" : "noresult"));
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (strcmp(r->outcome, "completed") == 0)
      snprintf(r->outcome, sizeof r->outcome, "badexit");
  }
  if (raw != NULL) {
    char *nl = strchr(buf, '\n');
    if (nl != NULL)
      *nl = '\0';
    fprintf(raw, "%s\t%s\t%s\t%s\n", cfg->label, wnames[w], r->outcome,
            strstr(buf, "EB ") ? strstr(buf, "EB ") : "-");
    fflush(raw);
  }
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* "x" when every repetition gave x, else "lo–hi": counts are facts. */
static void fmt_count(char *out, size_t sz, const result *rs, int n, size_t off) {
  long lo = LONG_MAX, hi = LONG_MIN;
  for (int i = 0; i < n; i++) {
    long v = *(const long *)((const char *)&rs[i] + off);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  if (n == 0)
    snprintf(out, sz, "—");
  else if (lo == hi)
    snprintf(out, sz, "%ld", lo);
  else
    snprintf(out, sz, "%ld–%ld", lo, hi);
}

/* A count's median over the repetitions, with its range when they differ:
 * the acceptance lines are medians, the range shows the worst. */
static void fmt_count_median(char *out, size_t sz, const result *rs, int n, size_t off) {
  double v[64];
  int k = 0;
  for (int i = 0; i < n && k < 64; i++) v[k++] = (double)*(const long *)((const char *)&rs[i] + off);
  char range[32];
  fmt_count(range, sizeof range, rs, n, off);
  if (strstr(range, "–") == NULL) /* one repetition, or all alike */
    snprintf(out, sz, "%s", range);
  else
    snprintf(out, sz, "%g (%s)", median(v, k), range);
}

static void fmt_median(char *out, size_t sz, const result *rs, int n, size_t off, int prec) {
  double v[64];
  int k = 0;
  for (int i = 0; i < n && k < 64; i++) {
    double x = *(const double *)((const char *)&rs[i] + off);
    if (!isnan(x) && x >= 0)
      v[k++] = x;
  }
  if (k == 0) {
    snprintf(out, sz, "—");
    return;
  }
  double m = median(v, k);
  if (k == 1)
    snprintf(out, sz, "%.*f", prec, m);
  else
    snprintf(out, sz, "%.*f (%.*f–%.*f)", prec, m, prec, v[0], prec, v[k - 1]);
}

/* list: names separated by commas outside parentheses ("weft(5,20),glib").
 * The entry starting at p ends at the returned pointer (a ',' or the end). */
static const char *list_entry_end(const char *p) {
  int depth = 0;
  while (*p != '\0' && (*p != ',' || depth > 0)) {
    depth += *p == '(' ? 1 : *p == ')' ? -1 : 0;
    p++;
  }
  return p;
}

static int in_list(const char *list, const char *name) {
  if (list == NULL)
    return 1;
  size_t n = strlen(name);
  for (const char *p = list;; p++) {
    const char *e = list_entry_end(p);
    if ((size_t)(e - p) == n && strncasecmp(p, name, n) == 0)
      return 1;
    if (*e == '\0')
      return 0;
    p = e;
  }
}

static int pool_known(const char *name, size_t n) {
  for (int c = 0; c < N_CONFIGS; c++)
    if ((strlen(configs[c].label) == n && strncasecmp(configs[c].label, name, n) == 0) ||
        (strlen(configs[c].impl) == n && strncasecmp(configs[c].impl, name, n) == 0))
      return 1;
  return 0;
}

static int work_known(const char *name, size_t n) {
  for (int w = 0; w < N_WORK; w++)
    if (strlen(wnames[w]) == n && strncasecmp(wnames[w], name, n) == 0)
      return 1;
  return 0;
}

/* Each entry of a --pools / --workloads list (split as in_list splits it)
 * that `known` does not know: says so on stderr; returns 1 if there was one. */
static int list_has_unknown(const char *list, const char *what, int (*known)(const char *, size_t)) {
  if (list == NULL)
    return 0;
  int bad = 0;
  for (const char *p = list;; p++) {
    const char *e = list_entry_end(p);
    if (!known(p, (size_t)(e - p))) {
      fprintf(stderr, "unknown %s '%.*s'\n", what, (int)(e - p), p);
      bad = 1;
    }
    if (*e == '\0')
      return bad;
    p = e;
  }
}

/* Pools capped at 4 threads or fewer spend N x 10 ms / cap on every burst
 * (50 s for weft(0,2) at 10 000 tasks): --reps-capped runs them fewer times. */
static int reps_of(const eb_config *cfg, int reps, int reps_capped) {
  int capped = cfg->max >= 0 && cfg->max <= 4;
  return capped && reps_capped > 0 && reps_capped < reps ? reps_capped : reps;
}

int main(int argc, char **argv) {
  const scale *sc = &scales[1];
  int reps = -1, check = 0;
  unsigned sample_us = 2000;
  const char *pools = NULL, *works = NULL, *raw_path = NULL;
  double chain_timeout = -1, shrink_window = -1, trickle = -1, prime_timeout = -1;
  int prime = -1;
  int reps_capped = -1;
  const char *cell_label = NULL, *cell_w = NULL;
  char *extra[8];
  int n_extra = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--scale=", 8) == 0) {
      sc = NULL;
      for (size_t k = 0; k < sizeof scales / sizeof scales[0]; k++)
        if (strcmp(scales[k].name, a + 8) == 0)
          sc = &scales[k];
      if (sc == NULL) {
        fprintf(stderr, "unknown scale %s\n", a + 8);
        return 2;
      }
    } else if (strcmp(a, "--short") == 0) {
      sc = &scales[1];
    } else if (strcmp(a, "--long") == 0) {
      sc = &scales[2];
    } else if (strncmp(a, "--reps=", 7) == 0) {
      reps = atoi(a + 7);
    } else if (strncmp(a, "--pools=", 8) == 0) {
      pools = a + 8;
    } else if (strncmp(a, "--workloads=", 12) == 0) {
      works = a + 12;
    } else if (strncmp(a, "--raw=", 6) == 0) {
      raw_path = a + 6;
    } else if (strncmp(a, "--chain-timeout=", 16) == 0 && n_extra < 8) {
      chain_timeout = atof(a + 16);
      extra[n_extra++] = argv[i];
    } else if (strncmp(a, "--shrink-window=", 16) == 0 && n_extra < 8) {
      shrink_window = atof(a + 16);
      extra[n_extra++] = argv[i];
    } else if (strncmp(a, "--sample-us=", 12) == 0 && n_extra < 8) {
      sample_us = (unsigned)atoi(a + 12);
      extra[n_extra++] = argv[i];
    } else if (strncmp(a, "--trickle=", 10) == 0 && n_extra < 8) {
      trickle = atof(a + 10);
      extra[n_extra++] = argv[i];
    } else if (strncmp(a, "--prime=", 8) == 0 && n_extra < 8) {
      prime = atoi(a + 8);
      extra[n_extra++] = argv[i];
    } else if (strncmp(a, "--prime-timeout=", 16) == 0 && n_extra < 8) {
      prime_timeout = atof(a + 16);
      extra[n_extra++] = argv[i];
    } else if (strncmp(a, "--reps-capped=", 14) == 0) {
      reps_capped = atoi(a + 14);
    } else if (strcmp(a, "--check") == 0) {
      check = 1;
    } else if (strcmp(a, "--cell") == 0 && i + 2 < argc) {
      cell_label = argv[++i];
      cell_w = argv[++i];
    } else {
      fprintf(stderr, "usage: see the comment at the top of bench/elastic/main.c (%s)\n", a);
      return 2;
    }
  }
  /* Every name asked for must be one we have: a typo ran nothing for that
   * name and still printed a table. */
  if (list_has_unknown(pools, "pool", pool_known) || list_has_unknown(works, "workload", work_known))
    return 2;
  scale s = *sc;
  if (chain_timeout > 0)
    s.chain_timeout_s = chain_timeout;
  if (shrink_window >= 0)
    s.shrink_window_s = shrink_window;
  if (trickle >= 0)
    s.trickle_s = trickle;
  if (prime >= 0)
    s.prime_n = prime;
  if (prime_timeout >= 0)
    s.prime_timeout_s = prime_timeout;
  if (reps > 0)
    s.reps = reps;
  if (cell_label != NULL)
    return run_cell(cell_label, cell_w, &s, sample_us);

  FILE *raw = raw_path ? fopen(raw_path, "w") : NULL;
  static result res[N_CONFIGS][N_WORK][64];
  if (s.reps > 64)
    s.reps = 64;
  int failures = 0;
  double kill_after = 120 + 30 * (s.w6_n + s.w12_n) * SLEEP_MS * 1e-3 / 2 + s.shrink_window_s;
  for (int rep = 0; rep < s.reps; rep++)
    for (int w = 0; w < N_WORK; w++) {
      if (!in_list(works, wnames[w]))
        continue;
      for (int c = 0; c < N_CONFIGS; c++) {
        if (!in_list(pools, configs[c].label) && !in_list(pools, configs[c].impl))
          continue;
        if (rep >= reps_of(&configs[c], s.reps, reps_capped))
          continue;
        result *r = &res[c][w][rep];
        run_child("/proc/self/exe", &configs[c], w, s.name, extra, n_extra, kill_after, r, raw);
        int ok = strcmp(r->outcome, "completed") == 0 ||
                 (w == W9C && strcmp(r->outcome, "deadlocked") == 0 && r->done < r->expected);
        if (!ok)
          failures++;
        fprintf(stderr, "rep %d %-5s %-12s %-10s makespan %.3f s peak %ld creations %ld",
                rep + 1, wnames[w], configs[c].label, r->outcome, r->makespan, r->peak,
                r->creations);
        if (w == W10T && r->primed >= 0)
          fprintf(stderr, " primed %ld in %.3f s", r->primed, r->prime_s);
        if (w == W10T || w == W10B)
          fprintf(stderr, " start %ld tail %ld", r->trickle_start, r->trickle_tail);
        fprintf(stderr, "%s\n", ok ? "" : "  <-- FAILED");
      }
    }
  if (raw != NULL)
    fclose(raw);

  /* Tables. */
  /* The CPUs the cells may run on (they inherit this affinity): W7's ideal
   * is a fraction of them, not of the CPUs online. */
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  int ncpu = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus)
                                                           : (int)sysconf(_SC_NPROCESSORS_ONLN);
  printf("Scale %s, %d repetition(s) per cell", s.name, s.reps);
  if (reps_capped > 0 && reps_capped < s.reps)
    printf(" (%d for the pools capped at 4 threads or fewer)", reps_capped);
  printf(", each in a fresh process; %d usable CPUs.\n", ncpu);
  printf("Makespan: median (min–max) in seconds, first submit to last completion. Peak threads "
         "and creations are exact (pthread_create is interposed: threads alive at once, calls "
         "made; `most in` is the most creations within any 10 ms, 100 ms and 1 s window); thread-s integrates the thread count sampled every %.1f ms from "
         "/proc/self/status (the harness's two threads subtracted). A count shows a range "
         "when repetitions differ.\n",
         sample_us / 1000.0);
  for (int w = 0; w < N_WORK; w++) {
    if (!in_list(works, wnames[w]))
      continue;
    printf("\n");
    switch (w) {
    case W6:
      printf("**W6 blocking burst**: %ld tasks × nanosleep(%d ms) at once.\n\n", s.w6_n, SLEEP_MS);
      break;
    case W6R:
      printf("**W6r re-burst**: a W6 burst (%ld × %d ms), then, as soon as it completed, the "
             "same burst again on the same pool. Makespan: the second burst's, its first submit "
             "to its last completion; `1st s`: the first burst's; `start`: threads alive when "
             "the second began; `2nd creations`: creations during the second. Peak threads, "
             "creations, `most in` and thread-s cover both bursts.\n\n",
             s.w6_n, SLEEP_MS);
      break;
    case W7:
      printf("**W7 CPU burst**: %ld tasks × %d ms of CPU; ideal %.2f s, threads ≤ ncpu+1 = %d.\n\n",
             s.w7_n, CPU_MS, s.w7_n * CPU_MS * 1e-3 / ncpu, ncpu + 1);
      break;
    case W9C:
      printf("**W9c opaque chain**: %d tasks; task i+1 is submitted once task i runs, and task "
             "i waits on a condvar that task i+1 signals as it returns; timeout %.0f s.\n\n",
             CHAIN_N, s.chain_timeout_s);
      break;
    case W10S:
      printf("**W10s shrink**: %ld × %d ms burst, then %.1f s idle. `end`: threads at the "
             "window's end; `settle`: when the count last changed; `to min`: when it reached "
             "the pool's min (— if not in the window). Thread-s cover burst + window.\n\n",
             s.w10_n, SLEEP_MS, s.shrink_window_s);
      break;
    case W10T:
      printf("**W10t trickle**: %ld × %d ms burst", s.w10t_n, SLEEP_MS);
      if (s.prime_n > 0)
        printf(", then a prime: %d tasks that wait (opaque, a futex) at a gate opened once all "
               "%d wait at once, or after %.1f s for a pool that cannot hold them; once they "
               "completed, ", s.prime_n, s.prime_n, s.prime_timeout_s);
      else
        printf(" (no prime), then ");
      printf("a steady %d tasks/s × %d ms for %.1f s (a late loop skips the slots it missed). "
             "%s`start`: threads when the trickle began (%s); `tail`: most threads in its "
             "last 0.5 s, median (range) of the repetitions; "
             "`late`: slots the loop skipped because it woke late, and its longest lateness.\n\n",
             TRICKLE_RATE, TRICKLE_MS, s.trickle_s,
             s.prime_n > 0 ? "`primed`: tasks at the gate when it opened, and seconds from the "
                             "prime's first submit to then, median (range); "
                           : "",
             s.prime_n > 0 ? "read then" : "the last sample before it");
      break;
    case W10B:
      printf("**W10b trickle with catch-up bursts**: W10t's burst (no prime) and trickle, but a "
             "late loop submits every slot it missed at once. `pile-up`: most tasks the loop "
             "submitted back to back in its last %.1f s, all due already (it fell behind).\n\n",
             TRICKLE_RECENT_S);
      break;
    case W12:
      printf("**W12 external bottleneck**: %ld tasks each hold 1 of %d permits for %d ms; "
             "ideal %.2f s.\n\n", s.w12_n, PERMITS, SLEEP_MS, s.w12_n * SLEEP_MS * 1e-3 / PERMITS);
      break;
    }
    printf("| pool | runs | outcome | makespan s | peak threads | creations | most in 10 ms / 100 ms / 1 s | thread-s | peak RSS MiB |%s\n",
           w == W10S   ? " end | settle s | to min s |"
           : w == W10T ? " primed, in s | start | tail | late slots (longest ms) |"
           : w == W10B ? " start | tail | pile-up |"
           : w == W6R  ? " 1st s | start | 2nd creations |"
                       : "");
    printf("|---|---|---|---|---|---|---|---|---|%s\n",
           w == W10T                             ? "---|---|---|---|"
           : w == W10S || w == W10B || w == W6R ? "---|---|---|"
                                                 : "");
    for (int c = 0; c < N_CONFIGS; c++) {
      result *rs = res[c][w];
      int n = 0;
      while (n < s.reps && rs[n].ran)
        n++;
      if (n == 0)
        continue;
      int n_done = 0, n_dead = 0;
      for (int i = 0; i < n; i++) {
        n_done += strcmp(rs[i].outcome, "completed") == 0;
        n_dead += strcmp(rs[i].outcome, "deadlocked") == 0;
      }
      char outc[128];
      if (n_done == n)
        snprintf(outc, sizeof outc, "completed");
      else if (n_dead == n)
      {
        char st[32];
        fmt_count(st, sizeof st, rs, n, offsetof(result, started));
        snprintf(outc, sizeof outc, "deadlocked (%s/%d started)", st, CHAIN_N);
      }
      else
        snprintf(outc, sizeof outc, "%d/%d completed, %d deadlocked, %d failed", n_done, n,
                 n_dead, n - n_done - n_dead);
      char ms[64], pk[32], cr[32], ts[64], rss[32];
      /* A deadlocked cell has no makespan: it ran out its timeout. */
      if (n_done > 0) {
        result ok[64];
        int k = 0;
        for (int i = 0; i < n; i++)
          if (strcmp(rs[i].outcome, "completed") == 0)
            ok[k++] = rs[i];
        fmt_median(ms, sizeof ms, ok, k, offsetof(result, makespan), 3);
      } else {
        snprintf(ms, sizeof ms, "—");
      }
      fmt_count(pk, sizeof pk, rs, n, offsetof(result, peak));
      fmt_count(cr, sizeof cr, rs, n, offsetof(result, creations));
      fmt_median(ts, sizeof ts, rs, n, offsetof(result, thread_s), 1);
      long rmax = 0;
      for (int i = 0; i < n; i++)
        rmax = rs[i].rss_kb > rmax ? rs[i].rss_kb : rmax;
      snprintf(rss, sizeof rss, "%.1f", rmax / 1024.0);
      char c1[32], c2[32], c3[32];
      fmt_count(c1, sizeof c1, rs, n, offsetof(result, cmax10ms));
      fmt_count(c2, sizeof c2, rs, n, offsetof(result, cmax100ms));
      fmt_count(c3, sizeof c3, rs, n, offsetof(result, cmax1s));
      printf("| %s | %d | %s | %s | %s | %s | %s / %s / %s | %s | %s |", configs[c].label, n, outc,
             ms, pk, cr, c1, c2, c3, ts, rss);
      if (w == W10S) {
        char e[32], st[64], tm[64];
        fmt_count(e, sizeof e, rs, n, offsetof(result, end_threads));
        fmt_median(st, sizeof st, rs, n, offsetof(result, settle), 2);
        int reached = 0;
        for (int i = 0; i < n; i++)
          reached += rs[i].to_min >= 0;
        if (reached == n)
          fmt_median(tm, sizeof tm, rs, n, offsetof(result, to_min), 2);
        else if (reached == 0)
          snprintf(tm, sizeof tm, "—");
        else
          snprintf(tm, sizeof tm, "%d/%d reps", reached, n);
        printf(" %s | %s | %s |", e, st, tm);
      } else if (w == W10T || w == W10B) {
        char st[32], tl[64], pu[64];
        fmt_count(st, sizeof st, rs, n, offsetof(result, trickle_start));
        fmt_count_median(tl, sizeof tl, rs, n, offsetof(result, trickle_tail));
        if (w == W10B) {
          fmt_count(pu, sizeof pu, rs, n, offsetof(result, trickle_pileup));
        } else {
          char ls[32];
          double lmax = 0;
          fmt_count(ls, sizeof ls, rs, n, offsetof(result, trickle_late_slots));
          for (int i = 0; i < n; i++)
            lmax = rs[i].trickle_late_max_ms > lmax ? rs[i].trickle_late_max_ms : lmax;
          snprintf(pu, sizeof pu, "%s (%.1f)", ls, lmax);
          char pc[32], pt[64];
          fmt_count(pc, sizeof pc, rs, n, offsetof(result, primed));
          fmt_median(pt, sizeof pt, rs, n, offsetof(result, prime_s), 2);
          if (s.prime_n > 0)
            printf(" %s/%d in %s |", pc, s.prime_n, pt);
          else
            printf(" — |");
        }
        printf(" %s | %s | %s |", st, tl, pu);
      } else if (w == W6R) {
        char fm[64], st[32], rc2[32];
        fmt_median(fm, sizeof fm, rs, n, offsetof(result, first_makespan), 3);
        fmt_count(st, sizeof st, rs, n, offsetof(result, reburst_start));
        fmt_count(rc2, sizeof rc2, rs, n, offsetof(result, reburst_creations));
        printf(" %s | %s | %s |", fm, st, rc2);
      }
      printf("\n");
    }
  }
  fflush(stdout);
  if (check && failures > 0) {
    fprintf(stderr, "weft_elastic_bench: %d cell(s) failed\n", failures);
    return 1;
  }
  return 0;
}
