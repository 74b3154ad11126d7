/* How-to: blocking work on an elastic pool. */
#include <pthread.h>
#include <stdio.h>
#include <weft/weft.h>

/* A stand-in for a database call: it waits until the next task signals. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int answered, done;

static void query(void *arg) {
  (void)arg;
  weft_blocking_begin(); /* the pool may start a thread to stand in for us */
  pthread_mutex_lock(&mu);
  while (!answered) pthread_cond_wait(&cv, &mu);
  done++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  weft_blocking_end();
}

static void answer(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  answered = 1;
  done++;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

int main(void) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;       /* one thread may run at a time ... */
  o.keep_alive_ms = 2000;  /* ... and idle ones leave after 2 s */
  weft_threadpool *tp;
  if (weft_threadpool_create_ex(&tp, &o) != 0 || weft_threadpool_start(tp) != 0) return 1;
  /* query waits for answer, queued behind it: at a hard cap of 1 this
   * never finishes; here the pool stands in for the blocked query. */
  int queries = weft_threadpool_call_in_thread(tp, query, NULL) == 0; /* 1 if accepted */
  int answers = weft_threadpool_call_in_thread(tp, answer, NULL) == 0;
  if (!answers) answer(NULL); /* refused: answer here, or the query waits for ever */
  pthread_mutex_lock(&mu);
  while (done < queries + 1) pthread_cond_wait(&cv, &mu); /* the answer, and an accepted query */
  pthread_mutex_unlock(&mu);
  weft_threadpool_stats s;
  weft_threadpool_stats_get(tp, &s);
  printf("threads %d, made to stand in for a blocked task: %llu\n", s.threads,
         (unsigned long long)s.created_blocked);
  int ok = queries && answers && s.created_blocked == 1;
  weft_threadpool_destroy(tp);
  return ok ? 0 : 1;
}
