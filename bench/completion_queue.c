/* bench — mutex + eventfd completion queue (contract in completion_queue.h). */
#include "completion_queue.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

int completion_queue_init(completion_queue *q) {
  q->head = q->tail = NULL;
  q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (q->efd < 0)
    return -errno;
  pthread_mutex_init(&q->mu, NULL);
  return 0;
}

void completion_queue_destroy(completion_queue *q) {
  pthread_mutex_destroy(&q->mu);
  close(q->efd);
}

void completion_queue_push(completion_queue *q, completion_node *n) {
  n->next = NULL;
  pthread_mutex_lock(&q->mu);
  if (q->tail != NULL)
    q->tail->next = n;
  else
    q->head = n;
  q->tail = n;
  pthread_mutex_unlock(&q->mu);
  uint64_t one = 1;
  /* EAGAIN only when the counter would overflow: the loop is woken anyway. */
  ssize_t rc = write(q->efd, &one, sizeof one);
  (void)rc;
}

completion_node *completion_queue_wait(completion_queue *q) {
  struct pollfd pfd = {.fd = q->efd, .events = POLLIN, .revents = 0};
  while (poll(&pfd, 1, -1) < 0 && errno == EINTR) {
  }
  uint64_t v;
  ssize_t rc = read(q->efd, &v, sizeof v);
  (void)rc;
  pthread_mutex_lock(&q->mu);
  completion_node *all = q->head;
  q->head = q->tail = NULL;
  pthread_mutex_unlock(&q->mu);
  return all;
}
