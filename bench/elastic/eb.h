/*
 * weft_elastic_bench — the blocking ("elastic") benchmark family: W6, W7,
 * W9c, W10 and W12 of docs/performance.md's "Elastic (blocking) benchmark".
 *
 * Every pool is reached through one small adapter (eb_impl): create with a
 * (min, max) pair read from the cell, submit(fn, arg), destroy. Waiting for
 * the work is the harness's business, not the adapter's: every task ends
 * with eb_task_done(), and the harness waits on that count (eb_wait), so
 * the wait is the same code for every library and a deadlock shows up as a
 * timeout instead of a hang.
 *
 * Measurement (measure.c) is library-agnostic: a sampler thread reads
 * "Threads:" from /proc/self/status, and pthread_create is interposed in the
 * executable, so the creations made inside libuv, GLib and libweft (shared
 * libraries) are counted as well as the ones made here.
 */
#ifndef WEFT_ELASTIC_BENCH_H
#define WEFT_ELASTIC_BENCH_H

#include <stddef.h>

typedef void (*eb_fn)(void *arg);

/* One pool configuration: what a table row is. */
typedef struct eb_config {
  const char *label;  /* "weft(0,2)", "glib(-1)", ... */
  const char *impl;   /* adapter name */
  int min;            /* threads kept (declared); -1: not applicable */
  int max;            /* cap: weft max, pool size, GLib max_threads, Tokio cap */
  int uv_size;        /* libuv: UV_THREADPOOL_SIZE for the child, else 0 */
} eb_config;

typedef struct eb_impl {
  const char *name;
  /* 0 or a negative errno value; *out is the adapter's pool. */
  int (*create)(void **out, const eb_config *cfg);
  /* Queue fn(arg): 0 or a negative errno value. Called from the cell's
   * main thread only (libuv requires its loop thread). */
  int (*submit)(void *pool, eb_fn fn, void *arg);
  /* Run what is queued, release the threads the library lets go of, free. */
  void (*destroy)(void *pool);
} eb_impl;

extern const eb_impl eb_impl_weft;
extern const eb_impl eb_impl_pthread;
extern const eb_impl eb_impl_tokio_like;
#ifdef EB_HAVE_LIBUV
extern const eb_impl eb_impl_libuv;
#endif
#ifdef EB_HAVE_GLIB
extern const eb_impl eb_impl_glib;
#endif

/* ---- measure.c ---------------------------------------------------------- */

double eb_now(void);                  /* CLOCK_MONOTONIC, seconds */
int eb_proc_status_field(const char *key); /* "Threads", "VmHWM" (kB); -1 if absent */

/* pthread_create made through the interposer since eb_counters_reset():
 * creations, threads alive now and their peak (exact, not sampled). */
long eb_creations(void);
long eb_live_peak(void);
void eb_counters_reset(void);
/* The most creations made within any window_s seconds (A2's rate limit). */
long eb_creations_max_in(double window_s);

/* The sampler: one harness thread (created past the interposer, so it is not
 * counted) reading /proc/self/status every period_us. */
typedef struct eb_sample {
  double t;     /* eb_now() */
  int threads;  /* Threads: minus the baseline (main + sampler) */
} eb_sample;
int eb_sampler_start(unsigned period_us);
void eb_sampler_stop(void);
/* After stop: the timeline. */
const eb_sample *eb_samples(size_t *n);

/* ---- completion count (main.c) ----------------------------------------- */
void eb_task_done(void);

#endif
