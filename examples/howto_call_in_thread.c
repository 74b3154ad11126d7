/* How-to: running code in a pool thread. */
#include <stdio.h>
#include <weft/weft.h>

static weft_reactor *reactor;
static const char *said;

static void on_reactor(void *arg) {
  said = arg;
  weft_reactor_stop(reactor);
}

/* Something that would block the event loop: run it in a thread. */
static void a_silly_blocking_method(void *arg) {
  unsigned long x = 1;
  for (unsigned long i = 0; i < 10000000ul; i++) x = x * 6364136223846793005ul + i; /* "work" */
  if (x == 0) arg = "unlikely"; /* keep the loop */
  if (weft_reactor_call_from_thread(reactor, on_reactor, arg) != 0)
    weft_reactor_stop(reactor); /* stop is safe from any thread */
}

int main(void) {
  if (weft_reactor_create(&reactor) != 0) return 1;
  int rc = weft_reactor_call_in_thread(reactor, a_silly_blocking_method, "the work is done");
  if (rc == 0) weft_reactor_run(reactor); /* else nothing would stop it */
  weft_reactor_destroy(reactor);
  printf("%s\n", said ? said : "(nothing)");
  return rc == 0 && said ? 0 : 1;
}
