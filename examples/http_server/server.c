/*
 * http_server — a small HTTP server on libevent's evhttp that hands blocking
 * work to a thread pool and answers from the loop thread.
 *
 *   GET /hash?bytes=N&sleep_us=M&seed=S
 *       a pool thread hashes an N-byte buffer (64-bit FNV-1a, hs_hash.h) and
 *       sleeps M µs (a disk or database call); the loop thread answers
 *       "hash=<16 hex digits> bytes=N sleep_us=M seed=S".
 *   GET /quit
 *       answers "bye", then shuts down (as SIGINT, SIGTERM and --max-requests).
 *
 * Options: --port=P (0: an ephemeral port; the chosen one is printed),
 * --threads=N (pool size, default 4), --backend=weft|pthread|glib,
 * --weft-api=queue_work|deferred, --max-requests=N (shut down after N
 * /hash answers).
 * Listens on 127.0.0.1 only. The first line on stdout is
 * "listening on 127.0.0.1:<port> backend=<name> threads=<N>"; the last,
 * after a clean shutdown, "served <n> hash requests, <m> errors".
 *
 * Shutdown: stop accepting connections, answer 503 to new /hash requests,
 * close each connection after its next answer (every answer from then on,
 * "bye" included, says "Connection: close"; requests pipelined behind it
 * are not read), wait for the jobs in flight and for the answers being
 * written (an answer whose client reset the connection ends with that
 * connection; at most 2 s in all, for a client that neither reads nor
 * goes), leave the loop, stop the pool.
 *
 * Limits against abusive clients: request line and headers 8 KiB, no body,
 * 30 s of silence closes a connection, and running out of descriptors
 * pauses accepting for 100 ms instead of retrying in a hot loop.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h> /* the request's version: 2.1 has no getter */
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "backend.h"
#include "hs_hash.h"

typedef struct server {
  struct event_base *base;
  struct evhttp *http;
  struct evhttp_bound_socket *listener;
  const hs_backend_ops *ops;
  hs_backend *backend;
  struct event *sigint, *sigterm, *grace;
  struct event *accept_retry; /* re-enables accepting after EMFILE */
  long long max_requests; /* 0: no limit */
  long long served;       /* /hash answered 200 */
  long long errors;       /* 5xx answered */
  long inflight;          /* jobs submitted, done not yet called */
  long unflushed;         /* answers handed to evhttp, not yet written */
  struct pending *pending; /* those answers, to drop with their connection */
  int quitting;
  int finished;
} server;

/* ------------------------------------------------------------- the work */

void hs_job_run(hs_job *job) {
  job->hash = hs_hash(job->bytes, job->seed);
  if (job->sleep_us > 0) {
    struct timespec ts = {(time_t)(job->sleep_us / 1000000),
                          (long)(job->sleep_us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
}

/* -------------------------------------------------------------- shutdown */

static void finish(server *s) {
  if (s->finished)
    return;
  s->finished = 1;
  event_base_loopbreak(s->base);
}

static void on_grace(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  server *s = arg;
  fprintf(stderr, "http_server: %ld answers still unwritten after 2 s; not waiting\n",
          s->unflushed);
  finish(s);
}

static void maybe_finish(server *s) {
  if (!s->quitting || s->inflight > 0)
    return;
  if (s->unflushed == 0) {
    finish(s);
  } else if (s->grace == NULL) {
    struct timeval tv = {2, 0};
    s->grace = evtimer_new(s->base, on_grace, s);
    if (s->grace == NULL || evtimer_add(s->grace, &tv) != 0)
      finish(s);
  }
}

/* accept() failed (EMFILE, ENFILE, ENOBUFS): libevent would retry at once,
 * for ever, while nothing frees a descriptor. Pause, try again later. */
static void on_accept_retry(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  server *s = arg;
  if (s->listener != NULL) /* gone at shutdown */
    evconnlistener_enable(evhttp_bound_socket_get_listener(s->listener));
}

static server *g_server; /* the error callback's own argument is evhttp's */

static void on_accept_error(struct evconnlistener *l, void *arg) {
  (void)arg;
  server *s = g_server;
  evconnlistener_disable(l);
  struct timeval tv = {0, 100000};
  if (s->accept_retry == NULL || evtimer_add(s->accept_retry, &tv) != 0)
    evconnlistener_enable(l); /* no timer: as libevent would */
}

/* No new connections; from now on every answer closes its connection
 * (reply). */
static void stop_accepting(server *s) {
  if (s->quitting)
    return;
  s->quitting = 1;
  if (s->listener != NULL) {
    evhttp_del_accept_socket(s->http, s->listener);
    s->listener = NULL;
  }
}

static void begin_shutdown(server *s) {
  stop_accepting(s);
  maybe_finish(s);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)sig;
  (void)what;
  begin_shutdown(arg);
}

/* -------------------------------------------------------------- answers */

/* An answer handed to evhttp and not yet written. It ends written
 * (on_complete) or with its connection: a client that reset it makes the
 * write fail, and evhttp then frees the connection without calling
 * on_complete (on_close). */
typedef struct pending {
  server *s;
  struct evhttp_connection *evcon;
  struct pending *prev, *next;
} pending;

static void pending_end(pending *p) {
  server *s = p->s;
  if (p->prev != NULL)
    p->prev->next = p->next;
  else
    s->pending = p->next;
  if (p->next != NULL)
    p->next->prev = p->prev;
  free(p);
  s->unflushed--;
}

static void on_complete(struct evhttp_request *req, void *arg) {
  (void)req;
  pending *p = arg;
  server *s = p->s;
  pending_end(p);
  maybe_finish(s);
}

static void on_close(struct evhttp_connection *evcon, void *arg) {
  server *s = arg;
  for (pending *p = s->pending, *next; p != NULL; p = next) {
    next = p->next;
    if (p->evcon == evcon)
      pending_end(p);
  }
  maybe_finish(s);
}

static void reply(server *s, struct evhttp_request *req, int code,
                  const char *reason, const char *body) {
  if (code >= 500)
    s->errors++;
  struct evhttp_connection *evcon = evhttp_request_get_connection(req);
  pending *p = evcon != NULL ? malloc(sizeof *p) : NULL;
  if (p != NULL) {
    /* The client is still there: the answer counts until it is written or
     * its connection goes. (No memory: it is not waited for.) */
    p->s = s;
    p->evcon = evcon;
    p->prev = NULL;
    p->next = s->pending;
    if (s->pending != NULL)
      s->pending->prev = p;
    s->pending = p;
    s->unflushed++;
    evhttp_request_set_on_complete_cb(req, on_complete, p);
    evhttp_connection_set_closecb(evcon, on_close, s);
  }
  struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
  if (s->quitting) {
    /* The loop ends once the answers are written, and every connection
     * with it: the answer says so (RFC 9112, 9.6), and evhttp closes the
     * connection after it without reading what the client pipelined
     * behind, which the client then knows was not answered (9.3.2).
     * Without it, a keep-alive client saw its connection close after an
     * answer that promised more, its pipelined requests unanswered. An
     * HTTP/1.0 "Connection: keep-alive" would make evhttp add its own
     * keep-alive header beside this one: forgotten. */
    evhttp_remove_header(evhttp_request_get_input_headers(req), "Connection");
    if (evhttp_find_header(headers, "Connection") == NULL)
      evhttp_add_header(headers, "Connection", "close");
  }
  struct evbuffer *out = evhttp_request_get_output_buffer(req);
  evbuffer_add(out, body, strlen(body));
  evhttp_add_header(headers, "Content-Type", "text/plain");
  evhttp_send_reply(req, code, reason, NULL);
}

static void job_done(hs_job *job, void *ctx) { /* loop thread */
  server *s = ctx;
  s->inflight--;
  if (job->status != 0) {
    reply(s, job->req, 500, "Internal Server Error", "job cancelled\n");
  } else {
    char body[128];
    snprintf(body, sizeof body, "hash=%016" PRIx64 " bytes=%" PRIu64
             " sleep_us=%" PRIu64 " seed=%" PRIu32 "\n",
             job->hash, job->bytes, job->sleep_us, job->seed);
    s->served++;
    if (s->max_requests > 0 && s->served >= s->max_requests)
      stop_accepting(s); /* first: this answer says that its connection closes */
    reply(s, job->req, 200, "OK", body);
  }
  free(job);
  maybe_finish(s);
}

/* ------------------------------------------------------------- requests */

/* A query parameter as an unsigned number <= max; absent: dflt. -1 if bad. */
static int query_u64(const struct evkeyvalq *q, const char *key, uint64_t dflt,
                     uint64_t max, uint64_t *out) {
  const char *v = evhttp_find_header(q, key);
  if (v == NULL) {
    *out = dflt;
    return 0;
  }
  if (*v < '0' || *v > '9')
    return -1;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno != 0 || *end != '\0' || x > max)
    return -1;
  *out = x;
  return 0;
}

static void on_hash(server *s, struct evhttp_request *req, const char *query) {
  struct evkeyvalq q;
  TAILQ_INIT(&q);
  uint64_t bytes, sleep_us, seed;
  /* A decoded %00 would end a value early: "bytes=1%00x" would read as 1. */
  int bad = query != NULL &&
            (strstr(query, "%00") != NULL || evhttp_parse_query_str(query, &q) != 0);
  bad = bad || query_u64(&q, "bytes", 0, HS_MAX_BYTES, &bytes) != 0 ||
        query_u64(&q, "sleep_us", 0, HS_MAX_SLEEP_US, &sleep_us) != 0 ||
        query_u64(&q, "seed", 0, UINT32_MAX, &seed) != 0;
  evhttp_clear_headers(&q);
  if (bad) {
    reply(s, req, 400, "Bad Request",
          "usage: /hash?bytes=N&sleep_us=M&seed=S (N <= 64 MiB, M <= 1 s)\n");
    return;
  }
  if (s->quitting) {
    reply(s, req, 503, "Service Unavailable", "shutting down\n");
    return;
  }
  hs_job *job = calloc(1, sizeof *job);
  if (job == NULL) {
    reply(s, req, 500, "Internal Server Error", "out of memory\n");
    return;
  }
  job->bytes = bytes;
  job->sleep_us = sleep_us;
  job->seed = (uint32_t)seed;
  job->req = req;
  s->inflight++;
  int rc = s->ops->submit(s->backend, job);
  if (rc != 0) {
    s->inflight--;
    free(job);
    reply(s, req, 500, "Internal Server Error", "submit failed\n");
  }
}

static void on_request(struct evhttp_request *req, void *arg) {
  server *s = arg;
  /* libevent 2.1 takes any "HTTP/%d.%d" of major <= 1 (HTTP/1.-1,
   * HTTP/-5.7, HTTP/0.5) and writes the answer's status line with the
   * request's numbers ("HTTP/1.-1 200 OK"). Answer what is not HTTP/1.x
   * with a 400 that closes; read a later 1.x as 1.1 (RFC 9112, 2.3). */
  if (req->major != 1 || req->minor < 0) {
    req->major = 1;
    req->minor = 1;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    reply(s, req, 400, "Bad Request", "HTTP/1.0 or HTTP/1.1 only\n");
    return;
  }
  if (req->minor > 1)
    req->minor = 1;
  const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
  const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
  enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
  if (cmd != EVHTTP_REQ_GET) {
    /* HEAD: no body (libevent 2.1 would send it, and a keep-alive client
     * would read it as the start of its next answer). A 405 names what is
     * allowed (RFC 9110, 15.5.6). */
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
    reply(s, req, 405, "Method Not Allowed", cmd == EVHTTP_REQ_HEAD ? "" : "GET only\n");
  } else if (path != NULL && strcmp(path, "/hash") == 0) {
    on_hash(s, req, evhttp_uri_get_query(uri));
  } else if (path != NULL && strcmp(path, "/quit") == 0) {
    stop_accepting(s); /* first: "bye" says that its connection closes */
    reply(s, req, 200, "OK", "bye\n");
    maybe_finish(s);
  } else {
    reply(s, req, 404, "Not Found", "try /hash?bytes=N&sleep_us=M or /quit\n");
  }
}

/* Every connection's bufferevent. While an answer is being written, evhttp
 * keeps EV_READ enabled with no read callback (to see a close), so the
 * bytes a client sends then pile up in the input buffer unparsed: one that
 * pipelines requests and never reads its answers grows it without limit.
 * A read high-watermark stops reading at HS_READ_HIGH_WM buffered bytes
 * (more than the 8 KiB header limit, so a request always fits, and evhttp
 * refuses a longer one before the watermark stops it); reading resumes as
 * the parser drains the buffer. */
#define HS_READ_HIGH_WM (64 * 1024)

static struct bufferevent *make_bev(struct event_base *base, void *arg) {
  (void)arg;
  /* Options 0, as evhttp's own: evhttp closes the socket itself. */
  struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
  if (bev != NULL)
    bufferevent_setwatermark(bev, EV_READ, 0, HS_READ_HIGH_WM);
  return bev;
}

/* ----------------------------------------------------------------- main */

static const hs_backend_ops *find_backend(const char *name) {
  static const hs_backend_ops *const all[] = {
      &hs_backend_weft, &hs_backend_pthread,
#ifdef HS_HAVE_GLIB
      &hs_backend_glib,
#endif
  };
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (strcmp(all[i]->name, name) == 0)
      return all[i];
  return NULL;
}

static int opt_long(const char *arg, const char *name, long long lo, long long hi,
                    long long *out) {
  size_t n = strlen(name);
  if (strncmp(arg, name, n) != 0 || arg[n] != '=')
    return 0;
  char *end;
  errno = 0;
  long long v = strtoll(arg + n + 1, &end, 10);
  if (errno != 0 || *end != '\0' || end == arg + n + 1 || v < lo || v > hi) {
    fprintf(stderr, "http_server: bad value in %s\n", arg);
    exit(2);
  }
  *out = v;
  return 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: http_server [--port=P] [--threads=N] [--backend=weft|pthread|glib]\n"
          "                   [--weft-api=queue_work|deferred] [--max-requests=N]\n");
  exit(2);
}

int main(int argc, char **argv) {
  long long port = 0, threads = 4, max_requests = 0;
  const char *backend = "weft", *variant = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (opt_long(a, "--port", 0, 65535, &port) ||
        opt_long(a, "--threads", 1, 1024, &threads) ||
        opt_long(a, "--max-requests", 0, (long long)1 << 62, &max_requests))
      continue;
    if (strncmp(a, "--backend=", 10) == 0)
      backend = a + 10;
    else if (strncmp(a, "--weft-api=", 11) == 0)
      variant = a + 11;
    else
      usage();
  }
  server s;
  memset(&s, 0, sizeof s);
  s.max_requests = max_requests;
  s.ops = find_backend(backend);
  if (s.ops == NULL) {
    fprintf(stderr, "http_server: unknown backend %s\n", backend);
    return 2;
  }
  if (variant != NULL && strcmp(backend, "weft") != 0) {
    fprintf(stderr, "http_server: --weft-api is for --backend=weft\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); /* a client that went away is a failed write */

  int status = 1;
  s.base = event_base_new();
  if (s.base == NULL)
    return 1;
  s.http = evhttp_new(s.base);
  if (s.http == NULL)
    goto out;
  evhttp_set_gencb(s.http, on_request, &s);
  /* A GET needs no body and a short request line: an 8 KiB bound keeps a
   * client that never ends its line from growing the buffer (and the
   * parser's rescans) without limit; silent connections go after 30 s. */
  evhttp_set_max_headers_size(s.http, 8192);
  evhttp_set_max_body_size(s.http, 0);
  evhttp_set_timeout(s.http, 30);
  evhttp_set_bevcb(s.http, make_bev, NULL);
  s.listener = evhttp_bind_socket_with_handle(s.http, "127.0.0.1", (uint16_t)port);
  if (s.listener == NULL) {
    fprintf(stderr, "http_server: cannot listen on 127.0.0.1:%lld\n", port);
    goto out;
  }
  s.accept_retry = evtimer_new(s.base, on_accept_retry, &s);
  g_server = &s;
  evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(s.listener), on_accept_error);
  struct sockaddr_storage ss;
  ev_socklen_t len = sizeof ss;
  if (getsockname(evhttp_bound_socket_get_fd(s.listener), (struct sockaddr *)&ss,
                  &len) != 0)
    goto out;
  int bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
  int rc = s.ops->create(&s.backend, s.base, (int)threads, variant, job_done, &s);
  if (rc != 0) {
    fprintf(stderr, "http_server: backend %s: %s\n", backend, strerror(-rc));
    goto out;
  }
  s.sigint = evsignal_new(s.base, SIGINT, on_signal, &s);
  s.sigterm = evsignal_new(s.base, SIGTERM, on_signal, &s);
  if (s.sigint == NULL || s.sigterm == NULL || evsignal_add(s.sigint, NULL) != 0 ||
      evsignal_add(s.sigterm, NULL) != 0)
    goto out;

  printf("listening on 127.0.0.1:%d backend=%s threads=%lld\n", bound,
         s.ops->name, threads);
  fflush(stdout);
  if (event_base_dispatch(s.base) == 0 && s.finished)
    status = 0;

out:
  if (s.backend != NULL)
    s.ops->destroy(s.backend); /* no job is in flight after a clean stop */
  if (s.sigint != NULL)
    event_free(s.sigint);
  if (s.sigterm != NULL)
    event_free(s.sigterm);
  if (s.grace != NULL)
    event_free(s.grace);
  if (s.accept_retry != NULL)
    event_free(s.accept_retry);
  if (s.http != NULL)
    evhttp_free(s.http);
  event_base_free(s.base);
  printf("served %lld hash requests, %lld errors\n", s.served, s.errors);
  fflush(stdout);
  return status;
}
