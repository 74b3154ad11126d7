/* How-to: managing the reactor's thread pool size. */
#include <stdio.h>
#include <weft/weft.h>

int main(void) {
  weft_reactor *reactor;
  if (weft_reactor_create(&reactor) != 0) return 1;
  /* At most 30 threads (Twisted's suggestThreadPoolSize: only max changes). */
  if (weft_reactor_suggest_thread_pool_size(reactor, 30) != 0) return 1;
  /* For a minimum as well, adjust the pool itself. */
  weft_threadpool *pool;
  if (weft_reactor_get_thread_pool(reactor, &pool) != 0) return 1;
  if (weft_threadpool_adjust_poolsize(pool, 2, WEFT_KEEP) != 0) return 1;
  printf("reactor pool: min %d, max %d\n", weft_threadpool_min(pool), weft_threadpool_max(pool));
  int ok = weft_threadpool_min(pool) == 2 && weft_threadpool_max(pool) == 30;
  weft_reactor_destroy(reactor); /* never ran: the pool is released here */
  return ok ? 0 : 1;
}
