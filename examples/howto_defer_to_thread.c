/* How-to: get a thread's result back as a Deferred on the reactor thread. */
#include <stdio.h>
#include <weft/weft.h>

static weft_reactor *reactor;
static long printed = -1;

/* Runs in a pool thread. Returns 0 and a result, or a negative code. */
static int do_long_calculation(void *arg, void **result) {
  long n = (long)(intptr_t)arg, sum = 0;
  for (long i = 1; i <= n; i++) sum += i;
  *result = (void *)(intptr_t)sum;
  return 0;
}

/* Runs on the reactor thread when the result is back. */
static int print_result(void *ctx, weft_result *r) {
  (void)ctx;
  printed = (long)(intptr_t)r->value;
  printf("result: %ld\n", printed);
  weft_reactor_stop(reactor);
  return 0;
}

static int print_error(void *ctx, weft_result *r) {
  (void)ctx;
  fprintf(stderr, "failed: %s\n", weft_failure_message(r->failure));
  weft_reactor_stop(reactor);
  return 0; /* leave the failure in place: it is reported as unhandled */
}

int main(void) {
  if (weft_reactor_create(&reactor) != 0) return 1;
  weft_deferred *d;
  int rc = weft_defer_to_thread(reactor, do_long_calculation, (void *)(intptr_t)1000, &d);
  if (rc == 0) {
    rc = weft_deferred_add_callbacks(d, print_result, NULL, print_error, NULL);
    weft_deferred_unref(d); /* the reactor keeps it alive until it fires */
  }
  if (rc == 0) weft_reactor_run(reactor); /* else nothing would stop it */
  weft_reactor_destroy(reactor);
  return printed == 500500 ? 0 : 1;
}
