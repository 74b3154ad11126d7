/* bench — the textbook pthread pool (see pthread_pool.h for the contract). */
#include "pthread_pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef struct ptpool_node {
  struct ptpool_node *next;
  ptpool_fn fn;
  void *arg;
} ptpool_node;

struct ptpool {
  pthread_mutex_t mu;
  pthread_cond_t nonempty;
  ptpool_node *head; /* FIFO: pop at head, append at tail */
  ptpool_node *tail;
  int stopping;
  int nthreads;
  pthread_t *threads;
};

static void *ptpool_main(void *arg) {
  ptpool *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (p->head == NULL && !p->stopping)
      pthread_cond_wait(&p->nonempty, &p->mu);
    ptpool_node *n = p->head;
    if (n == NULL) /* stopping and drained */
      break;
    p->head = n->next;
    if (p->head == NULL)
      p->tail = NULL;
    pthread_mutex_unlock(&p->mu);
    n->fn(n->arg);
    free(n);
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

int ptpool_create(ptpool **out, int nthreads) {
  if (out == NULL || nthreads < 1)
    return -EINVAL;
  ptpool *p = calloc(1, sizeof *p);
  if (p == NULL)
    return -ENOMEM;
  p->threads = calloc((size_t)nthreads, sizeof *p->threads);
  if (p->threads == NULL) {
    free(p);
    return -ENOMEM;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->nonempty, NULL);
  for (int i = 0; i < nthreads; i++) {
    int rc = pthread_create(&p->threads[i], NULL, ptpool_main, p);
    if (rc != 0) {
      ptpool_destroy(p); /* joins the p->nthreads already started */
      return -rc;
    }
    p->nthreads++;
  }
  *out = p;
  return 0;
}

int ptpool_submit(ptpool *p, ptpool_fn fn, void *arg) {
  if (p == NULL || fn == NULL)
    return -EINVAL;
  ptpool_node *n = malloc(sizeof *n);
  if (n == NULL)
    return -ENOMEM;
  n->next = NULL;
  n->fn = fn;
  n->arg = arg;
  pthread_mutex_lock(&p->mu);
  if (p->stopping) {
    pthread_mutex_unlock(&p->mu);
    free(n);
    return -ESHUTDOWN;
  }
  if (p->tail != NULL)
    p->tail->next = n;
  else
    p->head = n;
  p->tail = n;
  pthread_cond_signal(&p->nonempty);
  pthread_mutex_unlock(&p->mu);
  return 0;
}

void ptpool_destroy(ptpool *p) {
  if (p == NULL)
    return;
  pthread_mutex_lock(&p->mu);
  p->stopping = 1;
  pthread_cond_broadcast(&p->nonempty);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nthreads; i++)
    pthread_join(p->threads[i], NULL);
  pthread_cond_destroy(&p->nonempty);
  pthread_mutex_destroy(&p->mu);
  free(p->threads);
  free(p);
}
