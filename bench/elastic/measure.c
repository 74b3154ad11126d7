/*
 * weft_elastic_bench — thread timeline, creation count, clock.
 *
 * Creations. pthread_create is defined here, in the executable, and exported
 * (-Wl,--export-dynamic-symbol=pthread_create): the dynamic linker binds
 * every call to it, including the calls made inside libuv.so, libglib and
 * libweft.so, to this definition, which counts and forwards to the C
 * library's (dlsym RTLD_NEXT). -Wl,--wrap=pthread_create would not do:
 * --wrap only rewrites the references of the objects in this link, so it
 * sees the textbook pool and tokio_like and misses every creation made inside
 * a shared library. The started thread runs a trampoline that keeps an exact
 * count of live threads (and its peak) until its start routine returns or it
 * calls pthread_exit (a cleanup handler).
 *
 * Timeline. A sampler thread reads "Threads:" from /proc/self/status every
 * period (default 2 ms): whatever the library does, clone() included. The
 * baseline (the main thread and the sampler) is subtracted.
 */
#include "eb.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double eb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int eb_proc_status_field(const char *key) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  size_t kl = strlen(key);
  for (char *p = buf; p != NULL && *p != '\0';) {
    if (strncmp(p, key, kl) == 0 && p[kl] == ':')
      return atoi(p + kl + 1);
    p = strchr(p, '\n');
    if (p != NULL)
      p++;
  }
  return -1;
}

/* ---- pthread_create interposer ------------------------------------------ */

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
static create_fn real_create;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static atomic_long n_creations, n_live, n_live_peak;
/* When each counted creation happened (the first EB_MAX_STAMPS of them). */
#define EB_MAX_STAMPS (1 << 16)
static double stamps[EB_MAX_STAMPS];

static void resolve_real(void) {
  void *sym = dlsym(RTLD_NEXT, "pthread_create");
  real_create = (create_fn)(size_t)sym; /* object-to-function via integer */
}

typedef struct tramp {
  void *(*fn)(void *);
  void *arg;
} tramp;

static void live_down(void *unused) {
  (void)unused;
  atomic_fetch_sub(&n_live, 1);
}

static void *trampoline(void *p) {
  tramp t = *(tramp *)p;
  free(p);
  long live = atomic_fetch_add(&n_live, 1) + 1;
  long peak = atomic_load(&n_live_peak);
  while (live > peak && !atomic_compare_exchange_weak(&n_live_peak, &peak, live))
    ;
  void *ret;
  pthread_cleanup_push(live_down, NULL);
  ret = t.fn(t.arg);
  pthread_cleanup_pop(1);
  return ret;
}

/* Default visibility: the build hides symbols, and a hidden one cannot be
 * exported to the shared libraries. */
__attribute__((visibility("default"))) int pthread_create(pthread_t *thr,
                                                           const pthread_attr_t *attr,
                                                           void *(*fn)(void *), void *arg) {
  pthread_once(&real_once, resolve_real);
  if (real_create == NULL)
    return EAGAIN;
  tramp *t = malloc(sizeof *t);
  if (t == NULL)
    return EAGAIN;
  t->fn = fn;
  t->arg = arg;
  double now = eb_now();
  int rc = real_create(thr, attr, trampoline, t);
  if (rc == 0) {
    long k = atomic_fetch_add(&n_creations, 1);
    if (k >= 0 && k < EB_MAX_STAMPS)
      stamps[k] = now;
  } else {
    free(t);
  }
  return rc;
}

long eb_creations(void) { return atomic_load(&n_creations); }

long eb_creations_max_in(double window_s) {
  long n = atomic_load(&n_creations);
  if (n > EB_MAX_STAMPS)
    n = EB_MAX_STAMPS;
  /* Stamps are taken before the creation, by several threads at once (GLib,
   * tokio_like create from submitters and workers): sort a copy. */
  double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
  if (v == NULL)
    return -1;
  memcpy(v, stamps, (size_t)n * sizeof *v);
  for (long i = 1; i < n; i++) { /* insertion sort: nearly sorted already */
    double x = v[i];
    long j = i - 1;
    while (j >= 0 && v[j] > x) {
      v[j + 1] = v[j];
      j--;
    }
    v[j + 1] = x;
  }
  long best = 0;
  for (long lo = 0, hi = 0; hi < n; hi++) {
    while (v[hi] - v[lo] >= window_s)
      lo++;
    if (hi - lo + 1 > best)
      best = hi - lo + 1;
  }
  free(v);
  return best;
}
long eb_live_peak(void) { return atomic_load(&n_live_peak); }
void eb_counters_reset(void) {
  atomic_store(&n_creations, 0);
  atomic_store(&n_live_peak, atomic_load(&n_live));
}

/* ---- sampler -------------------------------------------------------------- */

static pthread_t sampler;
static atomic_int sampler_stop;
static unsigned sampler_period_us;
static int sampler_baseline;
static eb_sample *samples;
static size_t n_samples, cap_samples;

static void *sampler_main(void *unused) {
  (void)unused;
  struct timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  while (!atomic_load_explicit(&sampler_stop, memory_order_acquire)) {
    int th = eb_proc_status_field("Threads");
    if (n_samples == cap_samples) {
      size_t nc = cap_samples ? cap_samples * 2 : 65536;
      eb_sample *ns = realloc(samples, nc * sizeof *ns);
      if (ns == NULL)
        break; /* the timeline stops; the cell still runs */
      samples = ns;
      cap_samples = nc;
    }
    samples[n_samples].t = eb_now();
    samples[n_samples].threads = th - sampler_baseline;
    n_samples++;
    next.tv_nsec += (long)sampler_period_us * 1000;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
  }
  return NULL;
}

int eb_sampler_start(unsigned period_us) {
  pthread_once(&real_once, resolve_real);
  if (real_create == NULL)
    return -ENOSYS;
  sampler_period_us = period_us ? period_us : 2000;
  /* The harness's own threads: this one and the sampler. */
  sampler_baseline = eb_proc_status_field("Threads") + 1;
  int rc = real_create(&sampler, NULL, sampler_main, NULL); /* not counted */
  return -rc;
}

void eb_sampler_stop(void) {
  atomic_store_explicit(&sampler_stop, 1, memory_order_release);
  pthread_join(sampler, NULL);
}

const eb_sample *eb_samples(size_t *n) {
  *n = n_samples;
  return samples;
}
