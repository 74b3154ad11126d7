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
  weft_reactor_call_from_thread(reactor, not_thread_safe, (void *)(intptr_t)3);
}

int main(void) {
  if (weft_reactor_create(&reactor) != 0) return 1;
  weft_reactor_call_in_thread(reactor, thread_safe_scheduler, NULL);
  weft_reactor_run(reactor);
  weft_reactor_destroy(reactor);
  printf("total = %d\n", total);
  return total == 3 ? 0 : 1;
}
