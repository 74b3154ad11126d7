/*
 * bench — W14, CPU-heavy latency: an event loop that offloads ~100 µs
 * CPU-bound jobs to a pool, as an HTTP server with C keep-alive connections
 * does (one job per request; a connection sends its next request when the
 * answer of the last one is back). The loop thread submits, the job records
 * when it starts, spins, and hands its completion back through the same
 * mutex queue + eventfd for every pool (bench/completion_queue.c), so the
 * pools differ only in how a job gets from submit to a thread.
 *
 *   weft_cpu_latency [--pools=4,8] [--conns=16] [--task-us=100] [--secs=0.5]
 *                    [--reps=5] [--impls=weft,pthread] [--workers] [--spin-us=N]
 *                    [--open[=LOAD]]
 *
 * Each repetition builds a fresh pool of P threads (weft: min = max = P),
 * warms it, then runs the closed loop for --secs: C jobs in flight, each
 * completion resubmits one. Figures per repetition: jobs/s, and the
 * percentiles (p50, p90, p99) of submit-to-start latency, and p50 and p99 of
 * the response time (submit to the completion seen on the loop: what the
 * server's client waits); the table shows
 * the median of each over --reps repetitions, which interleave the
 * implementations. --workers prints, for weft, the jobs each worker ran;
 * --spin-us sets weft's idle spin (weft_threadpool_options.spin_us).
 *
 * --open[=LOAD] runs the open-loop form instead: requests arrive on their
 * own schedule, whatever the pool's progress (Poisson arrivals at LOAD times
 * the machine's capacity, CPUs x 1 s / task-us; LOAD 0.6 by default; the
 * same schedule, from a fixed seed, for every pool), as a server's clients
 * do, and latency counts from each request's scheduled arrival (no
 * coordinated omission: a loop that falls behind charges its delay to the
 * pool that caused it). Why both: in the closed loop the 16 jobs are always
 * somewhere, so by Little's law a pool whose jobs run faster once started
 * (weft's, not preempted mid-job) has them wait longer before they start at
 * the same jobs/s; the start latency there trades against the response
 * time. The open loop has no such coupling: both pools see the same
 * arrivals, and each latency is what that pool alone made it. The loop
 * submits each arrival when it is due (ppoll on the completion eventfd with
 * the time to the next arrival as timeout; timer slack 1 µs).
 *
 * The spin counts iterations calibrated to the microsecond (as W4 does):
 * time a job spends descheduled is not work done.
 */

#include <errno.h>
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "completion_queue.h"
#include "pthread_pool.h"
#include "weft/threadpool.h"

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static volatile uint64_t spin_sink;
static uint64_t spin(uint64_t iters) {
  uint64_t x = 88172645463325252ull;
  for (uint64_t i = 0; i < iters; i++) { /* dependent steps: not vectorised away */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  spin_sink = x;
  return x;
}

static double iters_per_us;
static void calibrate(void) {
  double best = 0;
  /* The fastest of 50 short runs (about 100 µs each, to fit between
   * preemptions on a loaded machine): the slower ones were preempted. */
  for (int i = 0; i < 50; i++) {
    uint64_t n = 200000;
    double t0 = now_us();
    spin(n);
    double r = (double)n / (now_us() - t0);
    if (r > best) best = r;
  }
  iters_per_us = best;
}

/* One request: first member is the completion node (the queue hands back
 * its address). */
typedef struct job {
  completion_node node;
  completion_queue *q;
  uint64_t iters;
  double t_submit, t_start;
} job;

static void job_run(void *arg) {
  job *j = arg;
  j->t_start = now_us();
  spin(j->iters);
  completion_queue_push(j->q, &j->node);
}

typedef struct impl {
  const char *name;
  int (*create)(void **pool, int size);
  int (*submit)(void *pool, void (*fn)(void *), void *arg);
  void (*report)(void *pool, int show); /* per-worker jobs (may do nothing) */
  void (*destroy)(void *pool);
} impl;

static int g_spin_us = -1; /* --spin-us: weft's idle spin; -1: the default */
static int weft_create(void **pool, int size) {
  weft_threadpool *tp;
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = o.max_threads = size;
  o.name = "w14";
  if (g_spin_us >= 0) o.spin_us = (unsigned)g_spin_us;
  int rc = weft_threadpool_create_ex(&tp, &o);
  if (rc == 0 && (rc = weft_threadpool_start(tp)) != 0) weft_threadpool_destroy(tp);
  if (rc == 0) *pool = tp;
  return rc;
}
static int weft_submit(void *pool, void (*fn)(void *), void *arg) {
  return weft_threadpool_call_in_thread(pool, fn, arg);
}
static int workers_idle_count; /* weft workers that ran no job in the run (any rep) */
/* Threads weft's elastic pool made above its size (stand-ins for workers its
 * monitor saw off their CPU, e.g. waiting on the completion queue's mutex),
 * all repetitions: the pthread pool always has exactly P threads. */
static unsigned long long standins_count;
static void weft_report(void *pool, int show) {
  weft_threadpool_stats es0;
  if (weft_threadpool_stats_get(pool, &es0) == 0)
    standins_count += es0.created_stall + es0.created_blocked;
  weft_worker_stats st[64];
  size_t n = 0;
  if (weft_threadpool_worker_stats(pool, st, 64, &n) != 0) return;
  if (show) printf("    weft workers:");
  for (size_t i = 0; i < n && i < 64; i++) {
    if (show) printf(" %llu", (unsigned long long)st[i].executed);
    if (st[i].executed == 0) workers_idle_count++;
  }
  if (show) {
    weft_threadpool_stats es;
    weft_threadpool_stats_get(pool, &es);
    printf(" | threads %d, created for stalls %llu, blocked %llu, monitor ticks %llu, brakes %llu\n",
           es.threads, (unsigned long long)es.created_stall, (unsigned long long)es.created_blocked,
           (unsigned long long)es.monitor_ticks, (unsigned long long)es.brakes);
  }
}
static void weft_destroy(void *pool) {
  weft_threadpool_stop(pool);
  weft_threadpool_destroy(pool);
}

static int pt_create(void **pool, int size) { return ptpool_create((ptpool **)pool, size); }
static int pt_submit(void *pool, void (*fn)(void *), void *arg) { return ptpool_submit(pool, fn, arg); }
static void pt_report(void *pool, int show) { (void)pool, (void)show; }
static void pt_destroy(void *pool) { ptpool_destroy(pool); }

static const impl impls[] = {
    {"weft", weft_create, weft_submit, weft_report, weft_destroy},
    {"pthread", pt_create, pt_submit, pt_report, pt_destroy},
};
#define NIMPLS (sizeof impls / sizeof impls[0])

typedef struct result {
  double rate, p50, p90, p99, r50, r99; /* r: response, submit to completion on the loop */
} result;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}
static double pct(const double *sorted, size_t n, double p) {
  if (n == 0) return 0;
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return sorted[i];
}

/* The percentiles of a repetition's n latencies (start) and responses;
 * frees both arrays. */
static void summarize(result *out, double *lat, double *resp, size_t n) {
  qsort(lat, n, sizeof *lat, cmp_double);
  out->p50 = pct(lat, n, 0.50);
  out->p90 = pct(lat, n, 0.90);
  out->p99 = pct(lat, n, 0.99);
  qsort(resp, n, sizeof *resp, cmp_double);
  out->r50 = pct(resp, n, 0.50);
  out->r99 = pct(resp, n, 0.99);
  free(lat);
  free(resp);
}

/* A repetition's pool, completion queue, njobs jobs and room for cap
 * latencies and responses; 0, or an error with nothing left behind. */
static int run_begin(const impl *im, int size, size_t njobs, size_t cap, void **pool,
                     completion_queue *q, job **jobs, double **lat, double **resp) {
  int rc = im->create(pool, size);
  if (rc != 0) return rc;
  if ((rc = completion_queue_init(q)) != 0) {
    im->destroy(*pool);
    return rc;
  }
  *jobs = calloc(njobs, sizeof **jobs);
  *lat = malloc(cap * sizeof **lat);
  *resp = malloc(cap * sizeof **resp);
  if (!*jobs || !*lat || !*resp) {
    free(*jobs), free(*lat), free(*resp);
    completion_queue_destroy(q);
    im->destroy(*pool);
    return -ENOMEM;
  }
  return 0;
}

/* One repetition: a fresh pool, C jobs in flight for secs seconds. */
static int run_once(const impl *im, int size, int conns, uint64_t iters, double secs, int show,
                    result *out) {
  void *pool = NULL;
  completion_queue q;
  job *jobs;
  double *lat, *resp;
  size_t cap = (size_t)(secs * 1e6 / 5) + 1024, n = 0; /* >= 5 µs per job on 2+ cores */
  int rc = run_begin(im, size, (size_t)conns, cap, &pool, &q, &jobs, &lat, &resp);
  if (rc != 0) return rc;
  /* Warm-up: every thread starts and runs a short job, outside the timing. */
  for (int i = 0; i < conns; i++) {
    jobs[i].q = &q;
    jobs[i].iters = 1;
  }
  int out_n = 0;
  for (int i = 0; i < conns && rc == 0; i++) {
    rc = im->submit(pool, job_run, &jobs[i]);
    if (rc == 0) out_n++;
  }
  for (int done = 0; done < out_n;)
    for (completion_node *c = completion_queue_wait(&q); c; c = c->next) done++;
  out_n = 0;
  double t0 = now_us(), end = t0 + secs * 1e6, t1 = t0;
  for (int i = 0; i < conns && rc == 0; i++) {
    jobs[i].iters = iters;
    jobs[i].t_submit = now_us();
    rc = im->submit(pool, job_run, &jobs[i]);
    if (rc == 0) out_n++;
  }
  long completed = 0;
  while (out_n > 0) {
    completion_node *c = completion_queue_wait(&q);
    double t = now_us();
    while (c) {
      completion_node *next = c->next; /* read before the job is resubmitted */
      job *j = (job *)c;
      out_n--;
      if (n == cap) { /* grow: dropping the last samples would drop the drain's */
        double *l2 = realloc(lat, 2 * cap * sizeof *lat);
        if (l2) lat = l2;
        double *r2 = realloc(resp, 2 * cap * sizeof *resp);
        if (r2) resp = r2;
        if (!l2 || !r2) {
          if (rc == 0) rc = -ENOMEM;
        } else {
          cap *= 2;
        }
      }
      if (n < cap) {
        resp[n] = t - j->t_submit;
        lat[n++] = j->t_start - j->t_submit;
      }
      completed++;
      t1 = t;
      if (rc == 0 && t < end) {
        j->t_submit = now_us();
        rc = im->submit(pool, job_run, j);
        if (rc == 0) out_n++;
      }
      c = next;
    }
  }
  im->report(pool, show);
  completion_queue_destroy(&q);
  im->destroy(pool);
  out->rate = (double)completed / ((t1 - t0) / 1e6);
  summarize(out, lat, resp, n);
  free(jobs);
  return rc;
}

/* One open-loop repetition: a fresh pool, Poisson arrivals at `rate` jobs/s
 * for secs seconds, each submitted by the loop when due; latencies from the
 * scheduled arrival. */
static int run_open(const impl *im, int size, double rate, uint64_t iters, double secs, int show,
                    result *out) {
  size_t total = (size_t)(rate * secs) + 1;
  void *pool = NULL;
  completion_queue q;
  job *jobs;
  double *lat, *resp;
  int rc = run_begin(im, size, total, total, &pool, &q, &jobs, &lat, &resp);
  if (rc != 0) return rc;
  /* Warm-up, outside the timing: every thread starts (a short job each). */
  int warm = 0;
  for (int i = 0; i < size && (size_t)i < total && rc == 0; i++) {
    jobs[i].q = &q;
    jobs[i].iters = 1;
    if ((rc = im->submit(pool, job_run, &jobs[i])) == 0) warm++;
  }
  for (int done = 0; done < warm;)
    for (completion_node *c = completion_queue_wait(&q); c; c = c->next) done++;
  /* The schedule: exponential gaps from a fixed seed (xorshift64*), so every
   * pool and repetition gets the same arrivals. */
  uint64_t x = 0x9E3779B97F4A7C15ull;
  double t0 = now_us() + 1000, at = t0; /* first arrival 1 ms out */
  for (size_t i = 0; i < total; i++) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    double u = (double)((x * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0; /* [0, 1) */
    at += -log(1.0 - u) * 1e6 / rate;
    jobs[i].q = &q;
    jobs[i].iters = iters;
    jobs[i].t_submit = at;
  }
  size_t next = 0, done = 0, n = 0;
  double t1 = t0;
  while (done < next || next < total) {
    double t = now_us();
    while (next < total && jobs[next].t_submit <= t && rc == 0) {
      if ((rc = im->submit(pool, job_run, &jobs[next])) != 0) break;
      next++;
    }
    if (rc != 0 && done == next) break;
    long wait_ns = -1;
    if (next < total && rc == 0) {
      double d = jobs[next].t_submit - now_us();
      wait_ns = d > 0 ? (long)(d * 1e3) : 0;
    }
    completion_node *c = completion_queue_wait_for(&q, wait_ns);
    t = now_us();
    for (; c; c = c->next) {
      job *j = (job *)c;
      resp[n] = t - j->t_submit;
      lat[n++] = j->t_start - j->t_submit;
      done++;
      t1 = t;
    }
  }
  im->report(pool, show);
  completion_queue_destroy(&q);
  im->destroy(pool);
  out->rate = t1 > t0 ? (double)done / ((t1 - t0) / 1e6) : 0;
  summarize(out, lat, resp, n);
  free(jobs);
  return rc;
}

/* A ratio judged against 1 (le: met when <= 1, else when >= 1), with two
 * decimals, or more where two would round it onto the other side of 1 than
 * the ratio judged: 1.004 for a p99 that must be <= pthread's prints
 * "1.004", not "1.00" beside its ✗. */
static const char *fmt_vs1(char *buf, size_t n, double r, int le) {
  int met = le ? r <= 1 : r >= 1;
  for (int prec = 2;; prec++) {
    snprintf(buf, n, "%.*f", prec, r);
    double shown = strtod(buf, NULL);
    if ((le ? shown <= 1 : shown >= 1) == met || prec >= 9) break;
  }
  return buf;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The CPUs this process may run on (its affinity mask), as weft_bench's
 * online_cores(): under taskset or a cpuset the online count overstates the
 * capacity the open loop's LOAD is a fraction of. */
static long usable_cpus(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return sysconf(_SC_NPROCESSORS_ONLN);
  return CPU_COUNT(&set);
}

static int parse_list(const char *s, int *out, int cap) {
  int n = 0;
  while (*s && n < cap) {
    out[n++] = atoi(s);
    s = strchr(s, ',');
    if (!s) break;
    s++;
  }
  return n;
}

int main(int argc, char **argv) {
  int pools[8] = {4, 8}, npools = 2, conns = 16, reps = 5, show = 0;
  double task_us = 100, secs = 0.5, load = 0; /* load > 0: open loop */
  int use[NIMPLS];
  for (size_t i = 0; i < NIMPLS; i++) use[i] = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strncmp(a, "--pools=", 8)) npools = parse_list(a + 8, pools, 8);
    else if (!strncmp(a, "--conns=", 8)) conns = atoi(a + 8);
    else if (!strncmp(a, "--task-us=", 10)) task_us = atof(a + 10);
    else if (!strncmp(a, "--secs=", 7)) secs = atof(a + 7);
    else if (!strncmp(a, "--reps=", 7)) reps = atoi(a + 7);
    else if (!strcmp(a, "--workers")) show = 1;
    else if (!strncmp(a, "--spin-us=", 10)) g_spin_us = atoi(a + 10);
    else if (!strcmp(a, "--open")) load = 0.6;
    else if (!strncmp(a, "--open=", 7)) load = atof(a + 7);
    else if (!strncmp(a, "--impls=", 8)) {
      for (size_t k = 0; k < NIMPLS; k++) use[k] = strstr(a + 8, impls[k].name) != NULL;
    } else {
      fprintf(stderr, "usage: %s [--pools=4,8] [--conns=16] [--task-us=100] [--secs=0.5] "
                      "[--reps=5] [--impls=weft,pthread] [--workers] [--spin-us=N] [--open[=LOAD]]\n",
              argv[0]);
      return 2;
    }
  }
  if (conns < 1 || reps < 1 || reps > 64 || secs <= 0 || task_us < 0 || npools < 1 || load < 0 ||
      (load > 0 && task_us <= 0)) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  calibrate();
  uint64_t iters = (uint64_t)(task_us * iters_per_us + 0.5);
  long ncpu = usable_cpus();
  double rate = load > 0 ? load * (double)(ncpu > 0 ? ncpu : 1) * 1e6 / task_us : 0;
  if (rate > 0) {
    (void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* arrivals to the microsecond */
    printf("W14 open loop: Poisson arrivals, %.0f jobs/s (%.2f of %ld CPUs), %.0f us jobs, %.2f s per"
           " repetition, median of %d (latency: scheduled arrival to start, us; response: arrival"
           " to completion on the loop, us)\n",
           rate, load, ncpu, task_us, secs, reps);
  } else {
    printf("W14 cpu-heavy latency: %d connections, %.0f us jobs, %.2f s per repetition, median of %d"
           " (latency: submit to start, us; response: submit to completion on the loop, us)\n",
           conns, task_us, secs, reps);
  }
  printf("| pool | impl | jobs/s | p50 | p90 | p99 | response p50 | response p99 | jobs/s vs pthread "
         "| p99 vs pthread | response p99 vs pthread |\n");
  printf("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  int failed = 0;
  char targets[512] = "", rtargets[512] = "";
  size_t tlen = 0, rlen = 0;
  for (int pi = 0; pi < npools; pi++) {
    double v[NIMPLS][6][64];
    int got[NIMPLS] = {0};
    for (int r = 0; r < reps && r < 64; r++) {
      for (size_t k0 = 0; k0 < NIMPLS; k0++) {
        size_t k = (k0 + (size_t)r) % NIMPLS; /* interleave, alternate who goes first */
        if (!use[k]) continue;
        result res;
        int rc = rate > 0 ? run_open(&impls[k], pools[pi], rate, iters, secs, show, &res)
                          : run_once(&impls[k], pools[pi], conns, iters, secs, show, &res);
        if (rc != 0) {
          fprintf(stderr, "error: %s pool %d: %d\n", impls[k].name, pools[pi], rc);
          failed = 1;
          continue;
        }
        v[k][0][got[k]] = res.rate;
        v[k][1][got[k]] = res.p50;
        v[k][2][got[k]] = res.p90;
        v[k][3][got[k]] = res.p99;
        v[k][4][got[k]] = res.r50;
        v[k][5][got[k]] = res.r99;
        got[k]++;
      }
    }
    double med[NIMPLS][6];
    for (size_t k = 0; k < NIMPLS; k++)
      for (int m = 0; m < 6; m++) med[k][m] = got[k] ? median(v[k][m], got[k]) : 0;
    size_t base = 1; /* pthread */
    /* A failed repetition leaves its implementation's row an error: the
     * median of the repetitions that happened to succeed is not its figure,
     * and ratios and targets are judged only between complete rows. */
    int full[NIMPLS];
    for (size_t k = 0; k < NIMPLS; k++) full[k] = got[k] == reps;
    for (size_t k = 0; k < NIMPLS; k++) {
      if (use[k] && !full[k]) {
        printf("| %d | %s | error: %d of %d repetitions ran | | | | | | | | |\n", pools[pi],
               impls[k].name, got[k], reps);
        continue;
      }
      if (!got[k]) continue;
      printf("| %d | %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |", pools[pi], impls[k].name,
             med[k][0], med[k][1], med[k][2], med[k][3], med[k][4], med[k][5]);
      if (full[base] && k != base)
        printf(" %.2f | %.2f | %.2f |\n", med[k][0] / med[base][0], med[k][3] / med[base][3],
               med[k][5] / med[base][5]);
      else
        printf(" | | |\n");
    }
    if (full[0] && full[base] && tlen < sizeof targets - 64) {
      /* Open loop: both pools run the offered rate (jobs/s is the schedule,
       * a ratio of 1.00 give or take the last job), so the start p99 alone. */
      int met = med[0][3] <= med[base][3] && (rate > 0 || med[0][0] >= med[base][0]);
      char p99[32], jobs[32];
      fmt_vs1(p99, sizeof p99, med[0][3] / med[base][3], 1);
      if (rate > 0) /* not judged: the schedule's rate */
        snprintf(jobs, sizeof jobs, "%.2f", med[0][0] / med[base][0]);
      else
        fmt_vs1(jobs, sizeof jobs, med[0][0] / med[base][0], 0);
      tlen += (size_t)snprintf(targets + tlen, sizeof targets - tlen, " %dthr p99 %sx jobs/s %sx%s",
                               pools[pi], p99, jobs, met ? "✓" : "✗");
    }
    if (full[0] && full[base] && rlen < sizeof rtargets - 64) {
      int met = med[0][5] <= med[base][5];
      char r99[32];
      fmt_vs1(r99, sizeof r99, med[0][5] / med[base][5], 1);
      rlen += (size_t)snprintf(rtargets + rlen, sizeof rtargets - rlen, " %dthr %sx%s", pools[pi],
                               r99, met ? "✓" : "✗");
    }
  }
  const char *w = rate > 0 ? "W14 open loop" : "W14";
  if (tlen)
    printf("\n- weft, %s p99 <= pthread%s:%s\n", w, rate > 0 ? "" : " and jobs/s >= pthread", targets);
  if (rlen) printf("- weft, %s response p99 <= pthread:%s\n", w, rtargets);
  if (use[0])
    printf("- weft, %s never more threads than the pool size (no elastic stand-ins): %s (%llu)\n", w,
           standins_count == 0 ? "✓" : "✗", standins_count);
  if (use[0] && rate == 0) /* open loop: an idle worker is no fault */
    printf("- weft, %s every worker ran jobs in every repetition: %s (%d idle worker-repetitions)\n",
           w, workers_idle_count == 0 ? "✓" : "✗", workers_idle_count);
  return failed;
}
