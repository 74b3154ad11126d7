/*
 * Synchronisation helpers shared by the tests: a gate + counter (sync_t) and
 * a count-down latch. Tests wait on these, never on a timed pause. Mutex and
 * condition variable, so ThreadSanitizer sees every hand-off.
 */
#ifndef WEFT_TEST_SYNC_H
#define WEFT_TEST_SYNC_H

#include <pthread.h>

/* A gate (open once, wait until open) and a counter (count up, wait for n). */
typedef struct sync_t {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int open;
  int count;
} sync_t;

static inline void sync_init(sync_t *s) {
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  s->open = 0;
  s->count = 0;
}
static inline void sync_fini(sync_t *s) {
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
}
static inline void gate_open(sync_t *s) {
  pthread_mutex_lock(&s->mu);
  s->open = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}
static inline void gate_wait(sync_t *s) {
  pthread_mutex_lock(&s->mu);
  while (!s->open) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}
static inline void count_up(sync_t *s) {
  pthread_mutex_lock(&s->mu);
  s->count++;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}
static inline void count_wait(sync_t *s, int n) {
  pthread_mutex_lock(&s->mu);
  while (s->count < n) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
}
static inline int count_get(sync_t *s) {
  pthread_mutex_lock(&s->mu);
  int n = s->count;
  pthread_mutex_unlock(&s->mu);
  return n;
}

/* A task that counts itself in `started`, waits at `gate`, then counts
 * itself in `done` (any of the three may be NULL). */
typedef struct gated {
  sync_t *gate, *started, *done;
} gated;
static inline void gated_task(void *arg) {
  gated *g = arg;
  if (g->started) count_up(g->started);
  if (g->gate) gate_wait(g->gate);
  if (g->done) count_up(g->done);
}

/* A count-down latch: wait() returns once count_down() was called n times. */
typedef struct latch {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int count;
} latch;

static inline void latch_init(latch *l, int n) {
  pthread_mutex_init(&l->mu, NULL);
  pthread_cond_init(&l->cv, NULL);
  l->count = n;
}
static inline void latch_count_down(latch *l) {
  pthread_mutex_lock(&l->mu);
  if (--l->count <= 0) pthread_cond_broadcast(&l->cv);
  pthread_mutex_unlock(&l->mu);
}
static inline void latch_wait(latch *l) {
  pthread_mutex_lock(&l->mu);
  while (l->count > 0) pthread_cond_wait(&l->cv, &l->mu);
  pthread_mutex_unlock(&l->mu);
}
static inline void latch_destroy(latch *l) {
  pthread_mutex_destroy(&l->mu);
  pthread_cond_destroy(&l->cv);
}

#endif /* WEFT_TEST_SYNC_H */
