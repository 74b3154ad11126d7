/*
 * http_server_client — the server's test: start http_server on an ephemeral
 * port, send a few hundred /hash requests over several connections at once
 * (half keep-alive, half "Connection: close", one request per connection),
 * check every answer against a hash recomputed here, check the error
 * answers (404, 400, 405) and a client that goes away while its job runs,
 * then stop the server (with --stop=quit on keep-alive connections, one of
 * them with a job running: their answers must say "Connection: close") and
 * check that it exits 0 having served exactly the requests sent, with no
 * error.
 *
 *   http_server_client --server=PATH [--backend=B] [--weft-api=A]
 *                      [--threads=N] [--connections=C] [--requests=R]
 *                      [--stop=quit|signal|max]
 *
 * --stop: GET /quit (default), SIGTERM, or the server's --max-requests=R.
 * Only 127.0.0.1 is contacted; every socket read and write has a timeout,
 * and the wait for the server is bounded.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, kill, posix_spawn */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hs_hash.h"

extern char **environ;

#define IO_TIMEOUT_S 30     /* one socket read or write */
#define START_TIMEOUT_MS 30000
#define EXIT_TIMEOUT_MS 30000

static int port;
static atomic_long failures;

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("client: FAIL: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  atomic_fetch_add(&failures, 1);
}

/* ------------------------------------------------------------ connections */

typedef struct conn {
  int fd;
  char buf[4096];
  size_t len, pos;
} conn;

static int conn_open(conn *c) {
  c->len = c->pos = 0;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    return -1;
  struct timeval tv = {IO_TIMEOUT_S, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  return 0;
}

static void conn_close(conn *c) {
  if (c->fd >= 0)
    close(c->fd);
  c->fd = -1;
}

static int send_all(conn *c, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Next byte, or -1 at EOF / error. */
static int get_byte(conn *c) {
  if (c->pos == c->len) {
    ssize_t r;
    do
      r = recv(c->fd, c->buf, sizeof c->buf, 0);
    while (r < 0 && errno == EINTR);
    if (r <= 0)
      return -1;
    c->len = (size_t)r;
    c->pos = 0;
  }
  return (unsigned char)c->buf[c->pos++];
}

/* One line without its CRLF; -1 at EOF or when it does not fit. */
static int get_line(conn *c, char *line, size_t cap) {
  size_t n = 0;
  for (;;) {
    int ch = get_byte(c);
    if (ch < 0)
      return -1;
    if (ch == '\n')
      break;
    if (n + 1 >= cap)
      return -1;
    line[n++] = (char)ch;
  }
  if (n > 0 && line[n - 1] == '\r')
    n--;
  line[n] = '\0';
  return 0;
}

typedef struct response {
  int code;
  int closes; /* "Connection: close" */
  int allow_get; /* "Allow: GET" */
  char body[512];
} response;

/* Read one response. 0, or -1 on a transport error. */
static int read_response(conn *c, response *rsp) {
  char line[512];
  if (get_line(c, line, sizeof line) != 0 ||
      sscanf(line, "HTTP/1.%*d %d", &rsp->code) != 1)
    return -1;
  long length = -1;
  rsp->closes = 0;
  rsp->allow_get = 0;
  for (;;) {
    if (get_line(c, line, sizeof line) != 0)
      return -1;
    if (line[0] == '\0')
      break;
    if (strncasecmp(line, "Content-Length:", 15) == 0)
      length = strtol(line + 15, NULL, 10);
    else if (strncasecmp(line, "Connection:", 11) == 0 && strstr(line, "close") != NULL)
      rsp->closes = 1;
    else if (strncasecmp(line, "Allow:", 6) == 0 && strstr(line, "GET") != NULL)
      rsp->allow_get = 1;
  }
  if (length < 0 || (size_t)length >= sizeof rsp->body)
    return -1;
  for (long i = 0; i < length; i++) {
    int ch = get_byte(c);
    if (ch < 0)
      return -1;
    rsp->body[i] = (char)ch;
  }
  rsp->body[length] = '\0';
  return 0;
}

/* Send one request and read its response. 0, or -1 on a transport error. */
static int exchange(conn *c, const char *method, const char *target, int close_after,
                    response *rsp) {
  char req[512];
  int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n",
                   method, target, close_after ? "Connection: close\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof req || send_all(c, req, (size_t)n) != 0)
    return -1;
  return read_response(c, rsp);
}

/* ----------------------------------------------------------- the requests */

typedef struct worker {
  pthread_t thread;
  int index;
  int keep_alive;
  long requests;
  long ok;
} worker;

static uint64_t next_random(uint64_t *x) {
  *x = *x * 6364136223846793005ULL + 1442695040888963407ULL;
  return *x >> 11;
}

static void *worker_main(void *arg) {
  worker *w = arg;
  uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(w->index + 1);
  conn c = {.fd = -1};
  for (long k = 0; k < w->requests; k++) {
    uint64_t r = next_random(&x);
    uint64_t bytes = r % 5 == 0 ? 0 : next_random(&x) % 40000;
    uint64_t sleep_us = r % 3 == 0 ? next_random(&x) % 500 : 0;
    uint32_t seed = (uint32_t)next_random(&x);
    char target[128], want[128];
    snprintf(target, sizeof target, "/hash?bytes=%" PRIu64 "&sleep_us=%" PRIu64
             "&seed=%" PRIu32, bytes, sleep_us, seed);
    snprintf(want, sizeof want, "hash=%016" PRIx64 " bytes=%" PRIu64 " sleep_us=%"
             PRIu64 " seed=%" PRIu32 "\n", hs_hash(bytes, seed), bytes, sleep_us, seed);
    if (c.fd < 0 && conn_open(&c) != 0) {
      fail("connection %d: connect: %s", w->index, strerror(errno));
      return NULL;
    }
    response rsp;
    if (exchange(&c, "GET", target, !w->keep_alive, &rsp) != 0) {
      fail("connection %d, request %ld: no complete response", w->index, k);
      conn_close(&c);
      continue;
    }
    if (rsp.code != 200 || strcmp(rsp.body, want) != 0)
      fail("connection %d, %s: got %d \"%s\", want 200 \"%s\"", w->index, target,
           rsp.code, rsp.body, want);
    else
      w->ok++;
    if (!w->keep_alive) {
      /* The server honours "Connection: close": it says so, then closes. */
      if (!rsp.closes || get_byte(&c) != -1)
        fail("connection %d: not closed after Connection: close", w->index);
      conn_close(&c);
    } else if (rsp.closes) {
      fail("connection %d: keep-alive connection closed by the server", w->index);
      conn_close(&c);
    }
  }
  conn_close(&c);
  return NULL;
}

/* One request on a connection of its own; its status code (-1 on error). */
static int one_request(const char *method, const char *target, response *rsp) {
  conn c;
  if (conn_open(&c) != 0)
    return -1;
  int rc = exchange(&c, method, target, 1, rsp);
  conn_close(&c);
  return rc == 0 ? rsp->code : -1;
}

/* The status line a raw request gets, on a connection of its own; -1 on
 * a transport error. */
static int raw_status(const char *req, char *line, size_t cap) {
  conn c;
  if (conn_open(&c) != 0)
    return -1;
  int rc = send_all(&c, req, strlen(req)) == 0 ? get_line(&c, line, cap) : -1;
  conn_close(&c);
  return rc;
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A client that pipelines requests and never reads an answer: once its
 * answers back up, the server must stop reading it (TCP then stops the
 * client), not buffer what it sends. Bytes the server took (sent until a
 * second without progress), -1 on error. */
static long long pipelined_unread(long long limit) {
  conn c;
  if (conn_open(&c) != 0)
    return -1;
  int small = 4096;
  setsockopt(c.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) | O_NONBLOCK);
  static const char one[] = "GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  static char burst[(sizeof one - 1) * 512];
  for (size_t i = 0; i < 512; i++)
    memcpy(burst + i * (sizeof one - 1), one, sizeof one - 1);
  long long sent = 0;
  double start = now_s(), last = start;
  while (sent <= limit && now_s() - last < 1.0 && now_s() - start < 30.0) {
    ssize_t w = send(c.fd, burst, sizeof burst, MSG_NOSIGNAL);
    if (w > 0) {
      sent += w;
      last = now_s();
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      struct timespec ts = {0, 1000000};
      nanosleep(&ts, NULL);
    } else {
      sent = -1;
      break;
    }
  }
  conn_close(&c); /* unread answers: a reset */
  return sent;
}

/* The stop by GET /quit, on keep-alive connections: a request whose job
 * runs when the /quit arrives, with another pipelined behind it, and the
 * /quit itself. The server exits once its answers are written and closes
 * every connection then: each answer made from the /quit on must say
 * "Connection: close" (RFC 9112, 9.6), so that the client knows that the
 * connection ends and that what it pipelined behind was not answered
 * (9.3.2: it may retry it elsewhere). Adds the job's answer to *served
 * (a 200) or *errors (a 503, had the server read the request after the
 * /quit; it reads it first: it was sent before the /quit's connection was
 * made). */
static void quit_on_keep_alive(long *served, long *errors) {
  conn k, q;
  response rsp;
  /* A first exchange: the server has taken the connection. */
  if (conn_open(&k) != 0 || exchange(&k, "GET", "/nowhere", 0, &rsp) != 0 ||
      rsp.code != 404 || rsp.closes) {
    fail("keep-alive connection for the stop: no keep-alive 404");
    return;
  }
  static const char two[] =
      "GET /hash?bytes=1000&sleep_us=100000&seed=7 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
      "GET /hash?bytes=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (send_all(&k, two, sizeof two - 1) != 0)
    fail("the requests in flight at the stop were not sent");
  if (conn_open(&q) != 0 || exchange(&q, "GET", "/quit", 0, &rsp) != 0 || rsp.code != 200 ||
      strcmp(rsp.body, "bye\n") != 0)
    fail("GET /quit: want 200 \"bye\"");
  else if (!rsp.closes || get_byte(&q) != -1)
    fail("GET /quit on a keep-alive connection: \"bye\" does not say Connection: close");
  conn_close(&q);
  if (read_response(&k, &rsp) != 0) {
    fail("the request in flight at the stop: no answer");
  } else {
    char want[128];
    snprintf(want, sizeof want, "hash=%016" PRIx64 " bytes=1000 sleep_us=100000 seed=7\n",
             hs_hash(1000, 7));
    if (rsp.code == 200 && strcmp(rsp.body, want) == 0)
      ++*served;
    else if (rsp.code == 503)
      ++*errors;
    else
      fail("the request in flight at the stop: got %d \"%s\"", rsp.code, rsp.body);
    if (!rsp.closes)
      fail("the answer in flight at the stop does not say Connection: close");
    if (get_byte(&k) != -1)
      fail("the connection goes on after an answer that said Connection: close");
  }
  conn_close(&k);
}

/* ------------------------------------------------------------- the server */

/* Read from fd into buf (NUL-terminated, appended) until a newline arrives
 * (until_eof 0) or EOF (until_eof 1), for at most timeout_ms. 0 or -1. */
static int read_output(int fd, char *buf, size_t cap, int until_eof, int timeout_ms) {
  struct timespec t0;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  size_t n = strlen(buf);
  for (;;) {
    if (!until_eof && strchr(buf, '\n') != NULL)
      return 0;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long spent = (t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000L;
    if (spent >= timeout_ms)
      return -1;
    struct pollfd p = {fd, POLLIN, 0};
    int pr = poll(&p, 1, (int)(timeout_ms - spent));
    if (pr < 0 && errno == EINTR)
      continue;
    if (pr <= 0)
      return -1;
    char tmp[512];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return -1;
    if (r == 0)
      return until_eof ? 0 : -1;
    if (n + (size_t)r >= cap) { /* keep the tail: the last line matters */
      size_t drop = n + (size_t)r - cap + 1;
      if (drop > n)
        drop = n;
      memmove(buf, buf + drop, n - drop);
      n -= drop;
      if ((size_t)r >= cap)
        r = (ssize_t)cap - 1;
    }
    memcpy(buf + n, tmp, (size_t)r);
    n += (size_t)r;
    buf[n] = '\0';
  }
}

static const char *opt(const char *arg, const char *name) {
  size_t n = strlen(name);
  return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

int main(int argc, char **argv) {
  const char *server = NULL, *backend = "weft", *api = NULL, *stop = "quit";
  long threads = 4, connections = 6, requests = 300;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if ((v = opt(argv[i], "--server")))
      server = v;
    else if ((v = opt(argv[i], "--backend")))
      backend = v;
    else if ((v = opt(argv[i], "--weft-api")))
      api = v;
    else if ((v = opt(argv[i], "--stop")))
      stop = v;
    else if ((v = opt(argv[i], "--threads")))
      threads = strtol(v, NULL, 10);
    else if ((v = opt(argv[i], "--connections")))
      connections = strtol(v, NULL, 10);
    else if ((v = opt(argv[i], "--requests")))
      requests = strtol(v, NULL, 10);
    else
      server = NULL, i = argc;
  }
  int by_max = strcmp(stop, "max") == 0;
  if (server == NULL || threads < 1 || connections < 1 || connections > 64 ||
      requests < connections || requests > 100000 ||
      (!by_max && strcmp(stop, "quit") != 0 && strcmp(stop, "signal") != 0)) {
    fprintf(stderr, "usage: http_server_client --server=PATH [--backend=B] "
                    "[--weft-api=A] [--threads=N] [--connections=C] [--requests=R] "
                    "[--stop=quit|signal|max]\n");
    return 2;
  }

  /* Start the server, its stdout on a pipe. */
  char a_backend[64], a_threads[32], a_api[64], a_max[48];
  snprintf(a_backend, sizeof a_backend, "--backend=%s", backend);
  snprintf(a_threads, sizeof a_threads, "--threads=%ld", threads);
  snprintf(a_api, sizeof a_api, "--weft-api=%s", api != NULL ? api : "");
  /* + 1: the request whose client goes away still runs and counts. */
  snprintf(a_max, sizeof a_max, "--max-requests=%ld", requests + 1);
  char *args[8];
  int na = 0;
  args[na++] = (char *)server;
  args[na++] = (char *)"--port=0";
  args[na++] = a_backend;
  args[na++] = a_threads;
  if (api != NULL)
    args[na++] = a_api;
  if (by_max)
    args[na++] = a_max;
  args[na] = NULL;
  int out[2];
  if (pipe(out) != 0)
    return 1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&fa, out[0]);
  posix_spawn_file_actions_addclose(&fa, out[1]);
  pid_t pid;
  int rc = posix_spawn(&pid, server, &fa, NULL, args, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  if (rc != 0) {
    fprintf(stderr, "client: cannot start %s: %s\n", server, strerror(rc));
    return 1;
  }
  char text[4096] = "";
  if (read_output(out[0], text, sizeof text, 0, START_TIMEOUT_MS) != 0 ||
      sscanf(text, "listening on 127.0.0.1:%d", &port) != 1 || port <= 0) {
    fprintf(stderr, "client: the server did not say where it listens: \"%s\"\n", text);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return 1;
  }
  printf("client: %s", text);

  /* The answers that are not hashes. */
  response rsp;
  if (one_request("GET", "/nowhere", &rsp) != 404)
    fail("GET /nowhere: want 404");
  if (one_request("GET", "/hash?bytes=12x", &rsp) != 400)
    fail("GET /hash?bytes=12x: want 400");
  if (one_request("GET", "/hash?bytes=1&sleep_us=99999999", &rsp) != 400)
    fail("GET /hash?sleep_us=99999999: want 400");
  if (one_request("POST", "/hash?bytes=1", &rsp) != 405)
    fail("POST /hash: want 405");
  else if (!rsp.allow_get)
    fail("POST /hash: a 405 without \"Allow: GET\"");

  /* A decoded %00 must not end a number early. */
  if (one_request("GET", "/hash?bytes=1%00x", &rsp) != 400)
    fail("GET /hash?bytes=1%%00x: want 400");
  /* A version libevent accepts but is no HTTP/1.x: a well-formed 400. */
  char sline[512] = "";
  if (raw_status("GET /hash?bytes=1 HTTP/1.-1\r\nHost: 127.0.0.1\r\n\r\n", sline,
                 sizeof sline) != 0 ||
      strncmp(sline, "HTTP/1.1 400 ", 13) != 0)
    fail("GET ... HTTP/1.-1: want \"HTTP/1.1 400\", got \"%s\"", sline);
  /* Bounded memory for a client that pipelines and never reads. */
  long long took = pipelined_unread(256LL << 20);
  if (took < 0 || took > (64LL << 20))
    fail("a client that never reads: the server took %lld bytes of its requests", took);

  /* A client that leaves while its job runs: the server answers into a
   * closed connection, must not fail, and counts the job as served. */
  conn gone;
  static const char slow[] =
      "GET /hash?bytes=1000&sleep_us=50000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  if (conn_open(&gone) != 0 || send_all(&gone, slow, sizeof slow - 1) != 0)
    fail("the request of the client that goes away was not sent");
  conn_close(&gone);

  /* The hashes, over `connections` connections at once. */
  worker *w = calloc((size_t)connections, sizeof *w);
  if (w == NULL)
    return 1;
  for (long i = 0; i < connections; i++) {
    w[i].index = (int)i;
    w[i].keep_alive = i % 2 == 0;
    w[i].requests = requests / connections + (i < requests % connections);
    if (pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
      fail("pthread_create");
      w[i].requests = 0;
      w[i].thread = pthread_self();
    }
  }
  long ok = 0;
  for (long i = 0; i < connections; i++) {
    if (!pthread_equal(w[i].thread, pthread_self()))
      pthread_join(w[i].thread, NULL);
    ok += w[i].ok;
  }
  free(w);

  /* Stop it, and wait (bounded) for its last line and its exit. */
  long late_served = 0, late_errors = 0;
  if (strcmp(stop, "quit") == 0) {
    quit_on_keep_alive(&late_served, &late_errors);
  } else if (strcmp(stop, "signal") == 0) {
    kill(pid, SIGTERM);
  }
  text[0] = '\0';
  int status = 0;
  if (read_output(out[0], text, sizeof text, 1, EXIT_TIMEOUT_MS) != 0) {
    fail("the server did not exit within %d ms", EXIT_TIMEOUT_MS);
    kill(pid, SIGKILL);
  }
  close(out[0]);
  waitpid(pid, &status, 0);
  char want[96];
  snprintf(want, sizeof want, "served %ld hash requests, %ld errors\n",
           requests + 1 + late_served, late_errors);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail("the server's exit status is %#x, want 0", status);
  if (strstr(text, want) == NULL)
    fail("the server said \"%s\", want \"%s\"", text, want);
  printf("client: %ld /hash requests over %ld connections (%ld keep-alive): %ld ok; "
         "server: %s",
         requests, connections, (connections + 1) / 2, ok, text);
  if (ok != requests)
    fail("%ld of %ld answers wrong or missing", requests - ok, requests);
  long f = atomic_load(&failures);
  printf("client: %s (%ld failures)\n", f == 0 ? "PASS" : "FAIL", f);
  return f == 0 ? 0 : 1;
}
