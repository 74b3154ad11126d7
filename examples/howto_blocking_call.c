/* How-to: from a pool thread, run code on the reactor thread and wait for
 * its result — including a result that arrives later, as a Deferred. */
#include <stdio.h>
#include <string.h>
#include <weft/weft.h>

static weft_reactor *reactor;
static char answer[32];
static int status = 1;

static void fire(void *arg) {
  weft_deferred *d = arg;
  weft_deferred_callback(d, "page contents");
  weft_deferred_unref(d);
}

/* Runs on the reactor thread: answer with a Deferred fired a bit later. */
static int get_page(void *ctx, weft_result *r) {
  (void)ctx;
  weft_deferred *d;
  if (weft_deferred_create(&d) != 0) return WEFT_ENOMEM;
  int rc = weft_reactor_call_later(reactor, 0.01, fire, weft_deferred_ref(d), NULL);
  if (rc != 0) weft_deferred_unref(d);      /* fire will not run: drop its reference */
  else rc = weft_result_set_deferred(r, d); /* the caller waits for d */
  weft_deferred_unref(d);
  return rc;
}

static void stop(void *arg) {
  (void)arg;
  weft_reactor_stop(reactor);
}

static void in_thread(void *arg) {
  (void)arg;
  void *value = NULL;
  weft_failure *failure = NULL;
  int rc = weft_blocking_call_from_thread(reactor, get_page, NULL, &value, &failure);
  if (rc == 0) {
    snprintf(answer, sizeof answer, "%s", (const char *)value);
    status = 0;
  } else {
    fprintf(stderr, "blocking call failed: %s\n", weft_strerror(rc));
    weft_failure_unref(failure);
  }
  if (weft_reactor_call_from_thread(reactor, stop, NULL) != 0) weft_reactor_stop(reactor);
}

int main(void) {
  if (weft_reactor_create(&reactor) != 0) return 1;
  if (weft_reactor_call_in_thread(reactor, in_thread, NULL) == 0) weft_reactor_run(reactor);
  weft_reactor_destroy(reactor);
  printf("got: %s\n", answer);
  return status;
}
