/* How-to: per-worker statistics. */
#include <stdio.h>
#include <weft/weft.h>

enum { TASKS = 1000 };

static void work(void *arg) { (void)arg; }

int main(void) {
  weft_threadpool *pool;
  if (weft_threadpool_create(&pool, 2, 2, "stats") != 0) return 1;
  if (weft_threadpool_start(pool) != 0) return 1;
  for (int i = 0; i < TASKS; i++)
    if (weft_threadpool_call_in_thread(pool, work, NULL) != 0) return 1;
  weft_threadpool_stop(pool); /* runs everything queued, joins the threads */

  weft_worker_stats workers[8];
  size_t n;
  if (weft_threadpool_worker_stats(pool, workers, 8, &n) != 0) return 1;
  unsigned long long executed = 0;
  for (size_t i = 0; i < n && i < 8; i++) {
    printf("%s: %llu tasks, %llu steals, busy %.3f ms\n", workers[i].name,
           (unsigned long long)workers[i].executed, (unsigned long long)workers[i].steals,
           workers[i].busy_ns / 1e6);
    executed += workers[i].executed;
  }
  weft_threadpool_dump_stats(pool, stdout); /* the same, one line per worker */
  weft_threadpool_destroy(pool);
  return executed == TASKS ? 0 : 1; /* the workers' sum is the pool's total */
}
