/* How-to: a request id that follows the work (weft/context.h). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft/weft.h>

enum { REQUESTS = 4 };

/* The server's own request object: weft carries a pointer to it. */
typedef struct request {
  int id;
  atomic_int refs; /* the server's reference + one per task in flight */
} request;

/* The server's logging reads its request id from thread-local storage; the
 * hooks keep it in step with weft's current context on every thread. */
static _Thread_local int trace_id;
static atomic_int errors, freed;

static void req_retain(void *ctx) { atomic_fetch_add(&((request *)ctx)->refs, 1); }
static void req_release(void *ctx) {
  request *req = ctx;
  if (atomic_fetch_sub(&req->refs, 1) == 1) {
    free(req);
    atomic_fetch_add(&freed, 1);
  }
}
static void req_enter(void *ctx) { trace_id = ((request *)ctx)->id; }
static void req_leave(void *ctx, void *previous) {
  (void)ctx;
  trace_id = previous ? ((request *)previous)->id : 0;
}
static const weft_context_hooks request_hooks = {req_retain, req_release, req_enter, req_leave};

static void log_line(const char *what) {
  request *req = weft_context_current();
  printf("[request %d] %s\n", trace_id, what);
  if (!req || req->id != trace_id) atomic_fetch_add(&errors, 1);
}

/* In a pool thread: no request argument, yet it knows which request it serves. */
static int slow_lookup(void *arg, void **result) {
  (void)arg;
  log_line("looking it up in a thread");
  request *req = weft_context_current();
  *result = (void *)(intptr_t)(req->id * 10);
  return 0;
}

static weft_reactor *reactor;
static int answered;

/* Back on the reactor thread, in the same request's context. */
static int send_answer(void *ctx, weft_result *r) {
  (void)ctx;
  request *req = weft_context_current();
  if ((intptr_t)r->value != req->id * 10) atomic_fetch_add(&errors, 1);
  log_line("answering");
  if (++answered == REQUESTS) weft_reactor_stop(reactor);
  return 0;
}

/* Handles one request on the reactor thread. */
static void handle(void *arg) {
  (void)arg;
  log_line("received");
  /* send_answer given up front: once this returned 0, nothing can fail. */
  if (weft_defer_to_thread_then(reactor, slow_lookup, NULL, send_answer, NULL, NULL, NULL) != 0) {
    atomic_fetch_add(&errors, 1);
    if (++answered == REQUESTS) weft_reactor_stop(reactor); /* not to be answered: count it */
  }
}

static void accept_requests(void *arg) {
  (void)arg;
  for (int i = 1; i <= REQUESTS; i++) {
    request *req = malloc(sizeof *req);
    if (!req) abort();
    req->id = i;
    atomic_init(&req->refs, 1);
    weft_context_call(req, handle, NULL); /* Twisted's context.call */
    req_release(req); /* the server's reference; the work holds its own */
  }
  if (trace_id != 0) atomic_fetch_add(&errors, 1); /* the loop is back to none */
}

int main(void) {
  weft_context_set_hooks(&request_hooks);
  if (weft_reactor_create(&reactor) != 0) return 1;
  int rc = weft_reactor_call_when_running(reactor, accept_requests, NULL);
  if (rc == 0) weft_reactor_run(reactor);
  weft_reactor_destroy(reactor);
  weft_context_set_hooks(NULL);
  /* Every request answered in its own context, and freed once done. */
  return answered == REQUESTS && atomic_load(&freed) == REQUESTS && atomic_load(&errors) == 0
             ? 0
             : 1;
}
