/* bench — mutex + eventfd completion queue (contract in completion_queue.h). */
#include "completion_queue.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int completion_queue_init(completion_queue *q) {
  q->head = q->tail = NULL;
  q->wakes = q->written = 0;
  q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (q->efd < 0)
    return -errno;
  pthread_mutex_init(&q->mu, NULL);
  return 0;
}

/* Block until the eventfd is readable (at most timeout_ns, if >= 0), then
 * add what it counted. */
static void read_writes_for(completion_queue *q, long timeout_ns) {
  struct pollfd pfd = {.fd = q->efd, .events = POLLIN, .revents = 0};
  struct timespec ts = {.tv_sec = timeout_ns / 1000000000L, .tv_nsec = timeout_ns % 1000000000L};
  int rc;
  while ((rc = ppoll(&pfd, 1, timeout_ns >= 0 ? &ts : NULL, NULL)) < 0 && errno == EINTR) {
  }
  if (rc == 0)
    return; /* timed out: nothing to read */
  uint64_t v;
  if (read(q->efd, &v, sizeof v) == (ssize_t)sizeof v)
    q->written += v;
}

static void read_writes(completion_queue *q) { read_writes_for(q, -1); }

void completion_queue_destroy(completion_queue *q) {
  /* Every waking push writes once after its unlock: wait for those writes,
   * so no pusher is still inside the queue when it goes. */
  pthread_mutex_lock(&q->mu);
  unsigned long long wakes = q->wakes;
  pthread_mutex_unlock(&q->mu);
  while (q->written < wakes)
    read_writes(q);
  pthread_mutex_destroy(&q->mu);
  close(q->efd);
}

void completion_queue_push(completion_queue *q, completion_node *n) {
  n->next = NULL;
  pthread_mutex_lock(&q->mu);
  int wake = q->head == NULL;
  if (q->tail != NULL)
    q->tail->next = n;
  else
    q->head = n;
  q->tail = n;
  q->wakes += (unsigned long long)wake;
  pthread_mutex_unlock(&q->mu);
  if (!wake)
    return; /* the push that made the queue non-empty wakes the loop */
  uint64_t one = 1;
  /* EAGAIN only when the counter would overflow: the loop is woken anyway. */
  ssize_t rc = write(q->efd, &one, sizeof one);
  (void)rc;
}

completion_node *completion_queue_wait_for(completion_queue *q, long timeout_ns) {
  read_writes_for(q, timeout_ns);
  pthread_mutex_lock(&q->mu);
  completion_node *all = q->head;
  q->head = q->tail = NULL;
  pthread_mutex_unlock(&q->mu);
  return all;
}

completion_node *completion_queue_wait(completion_queue *q) { return completion_queue_wait_for(q, -1); }
