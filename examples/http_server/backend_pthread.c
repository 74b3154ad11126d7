/*
 * http_server — the pthread backend: the textbook pool the benchmark
 * compares against (bench/pthread_pool.c: one mutex, one condition variable,
 * a malloc'ed node per task) and a careful hand-written way back to the
 * loop (bench/completion_queue.c: a mutex-protected FIFO plus an eventfd,
 * which the libevent base watches, written by the push that finds the FIFO
 * empty).
 */
#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

#include "backend.h"
#include "completion_queue.h"
#include "pthread_pool.h"

struct hs_backend {
  ptpool *pool;
  completion_queue results;
  int results_ok;
  struct event *readable;
  hs_done_fn done;
  void *ctx;
};

typedef struct pt_slot {
  completion_node node; /* first: a node is its slot */
  hs_backend *b;
} pt_slot;

_Static_assert(sizeof(pt_slot) <= sizeof(((hs_job *)0)->backend_space),
               "the completion node fits in backend_space");

static pt_slot *job_slot(hs_job *job) { return (pt_slot *)(void *)job->backend_space; }
static hs_job *slot_job(completion_node *n) {
  return (hs_job *)(void *)((char *)n - offsetof(hs_job, backend_space));
}

static void pt_work(void *arg) { /* pool thread */
  hs_job *job = arg;
  hs_job_run(job);
  completion_queue_push(&job_slot(job)->b->results, &job_slot(job)->node);
}

/* Run the done callbacks of every result queued (loop thread). */
static void run_results(hs_backend *b) {
  completion_node *n = completion_queue_wait(&b->results);
  while (n != NULL) {
    completion_node *next = n->next; /* done may free the job */
    b->done(slot_job(n), b->ctx);
    n = next;
  }
}

static void on_readable(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  run_results(arg); /* the eventfd is readable: the wait does not block */
}

static int hs_pt_submit(hs_backend *b, hs_job *job) {
  job_slot(job)->b = b;
  return ptpool_submit(b->pool, pt_work, job);
}

static void hs_pt_destroy(hs_backend *b) {
  if (b == NULL)
    return;
  ptpool_destroy(b->pool); /* runs what is queued, joins: every push is done */
  if (b->readable != NULL)
    event_free(b->readable);
  if (b->results_ok) {
    /* Results the loop did not take yet: the push that made the FIFO
     * non-empty since the loop's last take wrote the eventfd before it was
     * joined, and only a wait reads it, so this wait cannot block while
     * some remain. */
    while (b->results.head != NULL)
      run_results(b);
    completion_queue_destroy(&b->results);
  }
  free(b);
}

static int hs_pt_create(hs_backend **out, struct event_base *base, int threads,
                        const char *variant, hs_done_fn done, void *ctx) {
  if (variant != NULL)
    return -EINVAL;
  hs_backend *b = calloc(1, sizeof *b);
  if (b == NULL)
    return -ENOMEM;
  b->done = done;
  b->ctx = ctx;
  int rc = completion_queue_init(&b->results);
  if (rc != 0) {
    free(b);
    return rc;
  }
  b->results_ok = 1;
  b->readable = event_new(base, b->results.efd, EV_READ | EV_PERSIST, on_readable, b);
  if (b->readable == NULL || event_add(b->readable, NULL) != 0) {
    hs_pt_destroy(b);
    return -ENOMEM;
  }
  rc = ptpool_create(&b->pool, threads);
  if (rc != 0) {
    hs_pt_destroy(b);
    return rc;
  }
  *out = b;
  return 0;
}

const hs_backend_ops hs_backend_pthread = {"pthread", hs_pt_create, hs_pt_submit,
                                           hs_pt_destroy};
