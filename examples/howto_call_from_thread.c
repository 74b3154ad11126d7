/* How-to: running code thread-safely on the reactor thread. */
#include <stdio.h>
#include <weft/weft.h>

static weft_reactor *reactor;
static int total; /* touched only on the reactor thread: no lock needed */

/* Not thread-safe: it must run on the reactor thread. */
static void not_thread_safe(void *arg) {
  total += (int)(intptr_t)arg;
  weft_reactor_stop(reactor);
}

/* Runs in a pool thread; hands the unsafe part to the reactor. */
static void thread_safe_scheduler(void *arg) {
  (void)arg;
  if (weft_reactor_call_from_thread(reactor, not_thread_safe, (void *)(intptr_t)3) != 0)
    weft_reactor_stop(reactor); /* stop is safe from any thread */
}

int main(void) {
  if (weft_reactor_create(&reactor) != 0) return 1;
  int rc = weft_reactor_call_in_thread(reactor, thread_safe_scheduler, NULL);
  if (rc == 0) weft_reactor_run(reactor); /* else nothing would stop it */
  weft_reactor_destroy(reactor);
  printf("total = %d\n", total);
  return rc == 0 && total == 3 ? 0 : 1;
}
