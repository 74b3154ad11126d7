/*
 * weft_elastic_bench — tokio_like: Tokio's blocking pool (spawn_blocking)
 * emulated in C, from tokio-rs/tokio tokio/src/runtime/blocking/pool.rs
 * (Spawner::spawn_task, Inner::run; the mutex + condvar + VecDeque version).
 *
 * What is kept, because it decides the thread count:
 *   - one mutex guards a FIFO queue, num_notify and the thread table; one
 *     condition variable wakes idle threads;
 *   - spawn: push the task; if no thread is idle, create one (under the
 *     lock) unless num_threads == thread_cap (512 by default); else take one
 *     idle thread off num_idle, num_notify += 1, notify_one;
 *   - a worker runs the queue dry, then waits with a keep-alive timeout
 *     (10 s); a wakeup with num_notify == 0 is spurious; a timeout exits
 *     the thread, which joins the previously exited thread (last_exiting);
 *   - shutdown drains the queue, wakes everyone and joins every thread.
 * What is left out: task cancellation on shutdown (every task runs here),
 * thread naming, the after_start/before_stop hooks and the metrics export.
 */
#include "tokio_like.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct tl_task {
  struct tl_task *next;
  eb_fn fn;
  void *arg;
} tl_task;

typedef struct tl_thread {
  pthread_t handle;
  int live; /* in the table (worker_threads) */
} tl_thread;

struct tokio_like {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* CLOCK_MONOTONIC */
  tl_task *head, *tail;
  int shutdown;
  long num_notify;
  int num_threads, num_idle, thread_cap;
  long keep_alive_ms;
  tl_thread *threads; /* indexed by worker id (worker_thread_index) */
  int n_ids, cap_ids;
  int has_last;
  pthread_t last_exiting;
};

typedef struct tl_start {
  tokio_like *p;
  int id;
} tl_start;

static void *tl_run(void *arg) {
  tl_start s = *(tl_start *)arg;
  free(arg);
  tokio_like *p = s.p;
  pthread_t join_on = 0;
  int have_join = 0;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    /* BUSY */
    while (p->head != NULL) {
      tl_task *t = p->head;
      p->head = t->next;
      if (p->head == NULL)
        p->tail = NULL;
      pthread_mutex_unlock(&p->mu);
      t->fn(t->arg);
      free(t);
      pthread_mutex_lock(&p->mu);
    }
    /* IDLE */
    p->num_idle++;
    int exiting = 0;
    while (!p->shutdown) {
      struct timespec dl;
      clock_gettime(CLOCK_MONOTONIC, &dl);
      dl.tv_sec += p->keep_alive_ms / 1000;
      dl.tv_nsec += (p->keep_alive_ms % 1000) * 1000000L;
      if (dl.tv_nsec >= 1000000000L) {
        dl.tv_nsec -= 1000000000L;
        dl.tv_sec++;
      }
      int rc = pthread_cond_timedwait(&p->cv, &p->mu, &dl);
      if (p->num_notify != 0) { /* a legitimate wakeup */
        p->num_notify--;
        break;
      }
      if (!p->shutdown && rc == ETIMEDOUT) {
        p->threads[s.id].live = 0; /* worker_threads.remove(id) */
        have_join = p->has_last;
        join_on = p->last_exiting;
        p->last_exiting = p->threads[s.id].handle;
        p->has_last = 1;
        exiting = 1;
        break;
      }
      /* spurious: wait again */
    }
    if (exiting)
      break;
    if (p->shutdown) {
      while (p->head != NULL) { /* drain */
        tl_task *t = p->head;
        p->head = t->next;
        if (p->head == NULL)
          p->tail = NULL;
        pthread_mutex_unlock(&p->mu);
        t->fn(t->arg);
        free(t);
        pthread_mutex_lock(&p->mu);
      }
      p->num_idle++; /* undo the wakeup's decrement, as Tokio does */
      break;
    }
  }
  p->num_threads--;
  p->num_idle--;
  if (p->shutdown && p->num_threads == 0)
    pthread_cond_signal(&p->cv);
  pthread_mutex_unlock(&p->mu);
  if (have_join)
    pthread_join(join_on, NULL);
  return NULL;
}

int tokio_like_create(tokio_like **out, int thread_cap, long keep_alive_ms) {
  if (out == NULL || thread_cap < 1 || keep_alive_ms < 0)
    return -EINVAL;
  tokio_like *p = calloc(1, sizeof *p);
  if (p == NULL)
    return -ENOMEM;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&p->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&p->mu, NULL);
  p->thread_cap = thread_cap;
  p->keep_alive_ms = keep_alive_ms;
  *out = p;
  return 0;
}

/* Under p->mu. */
static int tl_spawn_thread(tokio_like *p) {
  if (p->n_ids == p->cap_ids) {
    int nc = p->cap_ids ? p->cap_ids * 2 : 64;
    tl_thread *nt = realloc(p->threads, (size_t)nc * sizeof *nt);
    if (nt == NULL)
      return -ENOMEM;
    p->threads = nt;
    p->cap_ids = nc;
  }
  tl_start *s = malloc(sizeof *s);
  if (s == NULL)
    return -ENOMEM;
  int id = p->n_ids;
  s->p = p;
  s->id = id; /* s belongs to the new thread once it is created */
  int rc = pthread_create(&p->threads[id].handle, NULL, tl_run, s);
  if (rc != 0) {
    free(s);
    return -rc;
  }
  p->threads[id].live = 1;
  p->n_ids++;
  p->num_threads++;
  return 0;
}

int tokio_like_spawn(tokio_like *p, eb_fn fn, void *arg) {
  tl_task *t = malloc(sizeof *t);
  if (t == NULL)
    return -ENOMEM;
  t->next = NULL;
  t->fn = fn;
  t->arg = arg;
  pthread_mutex_lock(&p->mu);
  if (p->shutdown) {
    pthread_mutex_unlock(&p->mu);
    free(t);
    return -ESHUTDOWN;
  }
  if (p->tail != NULL)
    p->tail->next = t;
  else
    p->head = t;
  p->tail = t;
  int rc = 0;
  if (p->num_idle == 0) {
    if (p->num_threads < p->thread_cap) {
      rc = tl_spawn_thread(p);
      /* Tokio: a temporary failure with a thread left is fine (a busy one
       * will pick the task up); with no thread at all the spawn fails. */
      if (rc != 0 && p->num_threads > 0)
        rc = 0;
      if (rc != 0) { /* take the task back out: nobody would run it */
        tl_task **pp = &p->head;
        tl_task *prev = NULL;
        while (*pp != t) {
          prev = *pp;
          pp = &(*pp)->next;
        }
        *pp = NULL;
        p->tail = prev;
        free(t);
      }
    }
  } else {
    p->num_idle--;
    p->num_notify++;
    pthread_cond_signal(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  return rc;
}

void tokio_like_destroy(tokio_like *p) {
  if (p == NULL)
    return;
  pthread_mutex_lock(&p->mu);
  p->shutdown = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  /* Join every thread still in the table, then the last one that exited on
   * its keep-alive (the others were joined by their successors). */
  for (int i = 0; i < p->n_ids; i++)
    if (p->threads[i].live)
      pthread_join(p->threads[i].handle, NULL);
  if (p->has_last)
    pthread_join(p->last_exiting, NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}
