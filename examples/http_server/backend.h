/*
 * http_server — what the server asks of a thread pool, so that the same
 * server code runs on weft, on a mutex/condvar pthread pool and on GLib's
 * GThreadPool.
 *
 * Threads: create, submit and destroy are called on the event loop's thread
 * only. A backend runs hs_job_run(job) on one of its pool threads, then
 * calls done(job, ctx) on the loop thread (from a libevent callback it
 * registered on the base), exactly once per accepted job. The job's memory
 * is the server's; backend_space is the backend's while the job is in
 * flight (a request node, a list link), each backend checks that its part
 * fits.
 */
#ifndef HS_BACKEND_H
#define HS_BACKEND_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evhttp_request;

typedef struct hs_job {
  /* the request, set on the loop thread before submit */
  uint64_t bytes;
  uint64_t sleep_us;
  uint32_t seed;
  /* the answer, set on the pool thread */
  int status; /* 0, or a negative code: the job did not run (pool stopped) */
  uint64_t hash;
  /* the loop thread's */
  struct evhttp_request *req;
  /* the backend's while in flight */
  _Alignas(max_align_t) unsigned char backend_space[64];
} hs_job;

/* The blocking work: hash the job's buffer, then sleep sleep_us. Pool thread. */
void hs_job_run(hs_job *job);

typedef void (*hs_done_fn)(hs_job *job, void *ctx);

typedef struct hs_backend hs_backend;

typedef struct hs_backend_ops {
  const char *name;
  /* Start a pool of `threads` threads whose results come back on base's
   * thread. 0, or a negative errno-style code. */
  int (*create)(hs_backend **out, struct event_base *base, int threads,
                const char *variant, hs_done_fn done, void *ctx);
  /* Queue job. 0; or a negative code: done will not be called, and the
   * job is the server's again. */
  int (*submit)(hs_backend *b, hs_job *job);
  /* Stop the pool (what is queued runs), deliver every outstanding done,
   * join the threads and free everything. Called after the loop returned. */
  void (*destroy)(hs_backend *b);
} hs_backend_ops;

extern const hs_backend_ops hs_backend_weft;
extern const hs_backend_ops hs_backend_pthread;
#ifdef HS_HAVE_GLIB
extern const hs_backend_ops hs_backend_glib;
#endif

#endif /* HS_BACKEND_H */
