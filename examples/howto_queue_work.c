/* How-to: offload blocking work with a caller-owned request and get the
 * result back on the reactor thread (libuv's uv_queue_work shape). */
#include <stdio.h>
#include <weft/weft.h>

#define N 8

static weft_reactor *reactor;

typedef struct job {
  weft_reactor_work req; /* first: the callbacks cast the request to its job */
  long n, sum;           /* written by the pool thread, read on the loop */
} job;

static job jobs[N];
static int finished, cancelled, wrong;

/* Runs in a thread of the reactor's pool. */
static void add_up(weft_reactor_work *req) {
  job *j = (job *)req;
  j->sum = 0;
  for (long i = 1; i <= j->n; i++) j->sum += i;
}

/* Runs on the reactor thread, exactly once per accepted request: status 0
 * after add_up ran, or WEFT_ECANCELED if it never will. */
static void done(weft_reactor_work *req, int status) {
  job *j = (job *)req;
  if (status == WEFT_ECANCELED) cancelled++;
  else if (j->sum != j->n * (j->n + 1) / 2) wrong++;
  if (++finished == N) weft_reactor_stop(reactor);
}

static void start(void *arg) {
  (void)arg;
  for (int i = 0; i < N; i++) {
    jobs[i].n = 1000 * (i + 1);
    /* Once this returns 0, nothing can fail: done() will be called. */
    if (weft_reactor_queue_work(reactor, &jobs[i].req, add_up, done) != 0) {
      wrong++; /* done() will not be called for it */
      if (++finished == N) weft_reactor_stop(reactor);
    }
  }
  /* Changed our mind about the last one: cancelled if it has not started
   * (done() gets WEFT_ECANCELED), else WEFT_EBUSY and it completes. */
  int rc = weft_reactor_cancel_work(reactor, &jobs[N - 1].req);
  if (rc != 0 && rc != WEFT_EBUSY) wrong++;
}

int main(void) {
  if (weft_reactor_create(&reactor) != 0) return 1;
  if (weft_reactor_call_when_running(reactor, start, NULL) == 0) weft_reactor_run(reactor);
  weft_reactor_destroy(reactor);
  printf("%d requests: %d done, %d cancelled, %d wrong\n", N, finished - cancelled, cancelled,
         wrong);
  return finished == N && wrong == 0 ? 0 : 1;
}
