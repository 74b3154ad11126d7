/*
 * weft_reactor without the thread pool: call_from_thread (FIFO per thread,
 * coalesced wake-ups, calls from the reactor thread itself), timers, file
 * readers/writers, system event triggers, lifecycle and bad input.
 */
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "test_check.h"
#include "test_size.h"

#include "loop/reactor_state.h" /* weft__triggers_len */
#include "weft/reactor.h"
#include "weft/threads.h"

static void stop_it(void *arg) { weft_reactor_stop(arg); }

/* ------------------------------------------------ FIFO from many threads */

#define PRODUCERS 4
typedef struct fifo_state {
  weft_reactor *r;
  int per_producer;
  long next[PRODUCERS]; /* reactor thread only */
  int bad_order;
  int not_io_thread;
  long total;
  pthread_barrier_t go;
} fifo_state;

typedef struct fifo_msg {
  fifo_state *s;
  int producer;
  long seq;
} fifo_msg;

static fifo_msg *g_msgs;

static void fifo_receive(void *arg) {
  fifo_msg *m = arg;
  fifo_state *s = m->s;
  if (!weft_reactor_is_in_io_thread(s->r)) s->not_io_thread++;
  if (s->next[m->producer] != m->seq) s->bad_order++;
  s->next[m->producer] = m->seq + 1;
  if (++s->total == (long)PRODUCERS * s->per_producer) weft_reactor_stop(s->r);
}

static void *fifo_producer(void *arg) {
  fifo_msg *base = arg;
  fifo_state *s = base->s;
  pthread_barrier_wait(&s->go);
  for (int i = 0; i < s->per_producer; i++) {
    THREAD_CHECK_EQ(weft_reactor_call_from_thread(s->r, fifo_receive, &base[i]), 0);
  }
  return NULL;
}

static void call_from_thread_fifo_per_thread(void **state) {
  (void)state;
  fifo_state s = {0};
  s.per_producer = 50000;
  assert_int_equal(weft_reactor_create(&s.r), 0);
  g_msgs = calloc((size_t)PRODUCERS * s.per_producer, sizeof *g_msgs);
  pthread_barrier_init(&s.go, NULL, PRODUCERS);
  pthread_t th[PRODUCERS];
  for (int p = 0; p < PRODUCERS; p++) {
    fifo_msg *base = &g_msgs[(size_t)p * s.per_producer];
    for (int i = 0; i < s.per_producer; i++) base[i] = (fifo_msg){&s, p, i};
    pthread_create(&th[p], NULL, fifo_producer, base);
  }
  assert_int_equal(weft_reactor_run(s.r), 0);
  for (int p = 0; p < PRODUCERS; p++) pthread_join(th[p], NULL);
  assert_int_equal(s.bad_order, 0);
  assert_int_equal(s.not_io_thread, 0);
  assert_int_equal(s.total, (long)PRODUCERS * s.per_producer);
  weft_reactor_stats st;
  assert_int_equal(weft_reactor_stats_get(s.r, &st), 0);
  assert_true(st.completions >= (uint64_t)s.total);
  /* at most one eventfd write per burst: never more writes than calls */
  assert_true(st.wakeups <= st.completions);
  print_message("    %ld calls, %llu eventfd writes, %llu drains\n", s.total,
                (unsigned long long)st.wakeups, (unsigned long long)st.drains);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
  pthread_barrier_destroy(&s.go);
  free(g_msgs);
}

/* The caller-owned request variant, and its order with the plain one. */
typedef struct req_msg {
  weft_work req;
  int *log;
  int *n;
  int id;
} req_msg;

static void req_run(weft_work *w) {
  req_msg *m = w->data;
  m->log[(*m->n)++] = m->id;
}

static void call_from_thread_req_variant(void **state) {
  (void)state;
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  int log[8], n = 0;
  req_msg m[4];
  for (int i = 0; i < 4; i++) {
    m[i] = (req_msg){.log = log, .n = &n, .id = i};
    m[i].req.data = &m[i];
    assert_int_equal(weft_reactor_call_from_thread_req(r, &m[i].req, req_run), 0);
  }
  assert_int_equal(weft_reactor_call_from_thread(r, stop_it, r), 0);
  assert_int_equal(weft_reactor_run(r), 0);
  assert_int_equal(n, 4);
  for (int i = 0; i < 4; i++) assert_int_equal(log[i], i);
  assert_int_equal(weft_reactor_call_from_thread_req(r, NULL, req_run), WEFT_EINVAL);
  assert_int_equal(weft_reactor_call_from_thread_req(r, &m[0].req, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* --------------------------------------------- coalescing, deterministic */

static void count_call(void *arg) { (*(int *)arg)++; }

static void coalescing_one_write_per_burst(void **state) {
  (void)state;
  /* An attached reactor counts as always possibly asleep: every burst that
   * starts on an empty queue writes the eventfd, and only that one. */
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  int fd = -1, ran = 0;
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  assert_true(fd >= 0);
  for (int burst = 1; burst <= 3; burst++) {
    for (int i = 0; i < 100; i++) assert_int_equal(weft_reactor_call_from_thread(r, count_call, &ran), 0);
    weft_reactor_stats st;
    weft_reactor_stats_get(r, &st);
    assert_int_equal(st.wakeups, (uint64_t)burst);
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 0), 1); /* readable: the one write */
    assert_int_equal(weft_reactor_drain(r), 100);
    assert_int_equal(ran, 100 * burst);
    weft_reactor_stats_get(r, &st);
    assert_int_equal(st.completions, (uint64_t)(100 * burst));
  }
  assert_int_equal(weft_reactor_drain(r), 0);
  int fd2;
  assert_int_equal(weft_reactor_attach(r, &fd2), WEFT_ESTATE); /* once */
  assert_int_equal(weft_reactor_run(r), WEFT_ESTATE);
  assert_int_equal(weft_reactor_add_reader(r, 0, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_int_equal(weft_reactor_detach(r), WEFT_ESTATE);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* ------------------------------- callFromThread from the reactor (case 66) */

typedef struct delayed_state {
  weft_reactor *r;
  uint64_t iteration_at_call;
  uint64_t iteration_at_run;
  int ran;
} delayed_state;

static void delayed_target(void *arg) {
  delayed_state *s = arg;
  weft_reactor_stats st;
  weft_reactor_stats_get(s->r, &st);
  s->iteration_at_run = st.iterations;
  s->ran = 1;
  weft_reactor_stop(s->r);
}

static void delayed_from_reactor(void *arg) {
  delayed_state *s = arg;
  weft_reactor_stats st;
  weft_reactor_stats_get(s->r, &st);
  s->iteration_at_call = st.iterations;
  /* nothing else will ever wake the loop: if this call were not noticed
   * the reactor would block for ever */
  assert_int_equal(weft_reactor_call_from_thread(s->r, delayed_target, s), 0);
}

static void delayed_call_from_thread(void **state) {
  (void)state;
  delayed_state s = {0};
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_reactor_call_later(s.r, 0, delayed_from_reactor, &s, NULL), 0);
  assert_int_equal(weft_reactor_run(s.r), 0);
  assert_true(s.ran);
  assert_true(s.iteration_at_run > s.iteration_at_call); /* next iteration */
  assert_int_equal(weft_reactor_destroy(s.r), 0);
}

/* ----------------------------------------------------------------- timers */

typedef struct timer_state {
  weft_reactor *r;
  int order[8];
  int n;
  weft_timer_id victim;
} timer_state;

typedef struct timer_arg {
  timer_state *s;
  int id;
} timer_arg;

static void timer_fired(void *arg) {
  timer_arg *a = arg;
  a->s->order[a->s->n++] = a->id;
}

static void timer_cancels_victim(void *arg) {
  timer_arg *a = arg;
  a->s->order[a->s->n++] = a->id;
  assert_int_equal(weft_reactor_cancel_call(a->s->r, a->s->victim), 0);
  assert_int_equal(weft_reactor_cancel_call(a->s->r, a->s->victim), WEFT_EALREADY);
}

static void timers_order_and_cancel(void **state) {
  (void)state;
  timer_state s = {0};
  assert_int_equal(weft_reactor_create(&s.r), 0);
  timer_arg a[5] = {{&s, 0}, {&s, 1}, {&s, 2}, {&s, 3}, {&s, 4}};
  weft_timer_id ids[5], gone;
  assert_int_equal(weft_reactor_call_later(s.r, 0.003, timer_fired, &a[2], &ids[2]), 0);
  assert_int_equal(weft_reactor_call_later(s.r, 0, timer_fired, &a[0], &ids[0]), 0);
  assert_int_equal(weft_reactor_call_later(s.r, 0, timer_cancels_victim, &a[1], &ids[1]), 0);
  assert_int_equal(weft_reactor_call_later(s.r, 0.002, timer_fired, &a[3], &s.victim), 0);
  assert_int_equal(weft_reactor_call_later(s.r, 0.001, timer_fired, &a[4], &gone), 0);
  assert_int_equal(weft_reactor_cancel_call(s.r, gone), 0);
  assert_int_equal(weft_reactor_call_later(s.r, 0.004, stop_it, s.r, &ids[4]), 0);
  assert_int_equal(weft_reactor_run(s.r), 0);
  assert_int_equal(s.n, 3); /* 0, 1 (cancels 3), 2; 4 was cancelled */
  assert_int_equal(s.order[0], 0);
  assert_int_equal(s.order[1], 1);
  assert_int_equal(s.order[2], 2);
  /* stale ids are harmless */
  assert_int_equal(weft_reactor_cancel_call(s.r, ids[0]), WEFT_EALREADY);
  assert_int_equal(weft_reactor_cancel_call(s.r, 0), WEFT_EINVAL);
  assert_int_equal(weft_reactor_cancel_call(s.r, 0xdeadbeef00000999ull), WEFT_EALREADY);
  assert_int_equal(weft_reactor_call_later(s.r, 1, NULL, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
}

/* -------------------------------------------------------------- file I/O */

typedef struct io_state {
  weft_reactor *r;
  int fds[2];
  char got[8];
  int reads, writes;
} io_state;

static void on_readable(void *ctx, int fd, int events) {
  io_state *s = ctx;
  assert_true(events & WEFT_READABLE);
  ssize_t n = read(fd, s->got, sizeof s->got);
  assert_true(n > 0);
  s->reads++;
  assert_int_equal(weft_reactor_remove_reader(s->r, fd), 0);
  weft_reactor_stop(s->r);
}

static void on_writable(void *ctx, int fd, int events) {
  io_state *s = ctx;
  assert_true(events & WEFT_WRITABLE);
  assert_int_equal(write(fd, "hi", 2), 2);
  s->writes++;
  assert_int_equal(weft_reactor_remove_writer(s->r, fd), 0);
}

static void readers_and_writers(void **state) {
  (void)state;
  io_state s = {0};
  assert_int_equal(pipe(s.fds), 0);
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_reactor_add_reader(s.r, s.fds[0], on_readable, &s), 0);
  assert_int_equal(weft_reactor_add_writer(s.r, s.fds[1], on_writable, &s), 0);
  assert_int_equal(weft_reactor_run(s.r), 0);
  assert_int_equal(s.writes, 1);
  assert_int_equal(s.reads, 1);
  assert_memory_equal(s.got, "hi", 2);
  assert_int_equal(weft_reactor_remove_reader(s.r, s.fds[0]), WEFT_EALREADY);
  assert_int_equal(weft_reactor_add_reader(s.r, -1, on_readable, &s), WEFT_EINVAL);
  assert_int_equal(weft_reactor_add_reader(s.r, s.fds[0], NULL, &s), WEFT_EINVAL);
  /* Descriptors that are not open, however large: refused at once (a
   * number past 2^30 used to overflow the table's growth and loop). */
  assert_int_equal(weft_reactor_add_reader(s.r, INT_MAX, on_readable, &s), WEFT_EINVAL);
  assert_int_equal(weft_reactor_add_writer(s.r, 1 << 30, on_writable, &s), WEFT_EINVAL);
  assert_int_equal(weft_reactor_add_reader(s.r, 100000, on_readable, &s), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
  close(s.fds[0]);
  close(s.fds[1]);
}

/* A stream of completions that never pauses (a call that queues itself
 * again from the loop, so the loop always finds the next one by
 * busy-waiting) must not hold back a reader that is ready: the loop polls
 * epoll about every millisecond. Fails (the guard timer fires after
 * 10 s, the reader never ran) if the busy path skips epoll for ever. */
typedef struct stream_state {
  weft_reactor *r;
  int fds[2];
  int streaming, rounds, read, guard_fired;
} stream_state;

static void stream_call(void *arg) {
  stream_state *s = arg;
  if (!s->streaming) return;
  s->rounds++;
  assert_int_equal(weft_reactor_call_from_thread(s->r, stream_call, s), 0);
}

static void stream_reader(void *ctx, int fd, int events) {
  (void)events;
  stream_state *s = ctx;
  char c;
  assert_int_equal(read(fd, &c, 1), 1);
  s->read = 1;
  s->streaming = 0;
  assert_int_equal(weft_reactor_remove_reader(s->r, fd), 0);
  weft_reactor_stop(s->r);
}

static void stream_guard(void *arg) {
  stream_state *s = arg;
  s->guard_fired = 1;
  s->streaming = 0;
  weft_reactor_stop(s->r);
}

static void reader_not_starved_by_completions(void **state) {
  (void)state;
  stream_state s = {.streaming = 1};
  assert_int_equal(pipe(s.fds), 0);
  assert_int_equal(write(s.fds[1], "x", 1), 1); /* ready from the start */
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_reactor_add_reader(s.r, s.fds[0], stream_reader, &s), 0);
  assert_int_equal(weft_reactor_call_from_thread(s.r, stream_call, &s), 0);
  weft_timer_id guard;
  assert_int_equal(weft_reactor_call_later(s.r, 10.0, stream_guard, &s, &guard), 0);
  assert_int_equal(weft_reactor_run(s.r), 0);
  assert_int_equal(s.guard_fired, 0);
  assert_int_equal(s.read, 1);
  assert_true(s.rounds >= 1);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
  close(s.fds[0]);
  close(s.fds[1]);
}

/* The same with slow completions: each takes 3 ms, so at every round a
 * millisecond has passed since the last poll, and each round that
 * busy-waits polls. The loop used to read the tick counter only every 64
 * busy rounds: a reader that turned ready waited for up to 64 completions,
 * however long each took (here the byte comes at the third: the reader ran
 * at the 64th, 190 ms later; with 100 ms completions, 6.4 s). No timing in
 * the verdict: each call spins until 3 ms of CLOCK_MONOTONIC have passed,
 * more than the poll's millisecond of ticks (weft__ticks: the TSC, counted
 * at 2.5 GHz). */
static void slow_stream_call(void *arg) {
  stream_state *s = arg;
  if (!s->streaming) return;
  if (++s->rounds == 3) assert_int_equal(write(s->fds[1], "x", 1), 1);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    clock_gettime(CLOCK_MONOTONIC, &b);
  } while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 3000000L);
  if (s->rounds < 100) assert_int_equal(weft_reactor_call_from_thread(s->r, slow_stream_call, s), 0);
  else weft_reactor_stop(s->r);
}

static void reader_not_held_back_by_slow_completions(void **state) {
  (void)state;
  stream_state s = {.streaming = 1};
  assert_int_equal(pipe(s.fds), 0);
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_reactor_add_reader(s.r, s.fds[0], stream_reader, &s), 0);
  assert_int_equal(weft_reactor_call_from_thread(s.r, slow_stream_call, &s), 0);
  assert_int_equal(weft_reactor_run(s.r), 0);
  assert_int_equal(s.read, 1);
  /* Each round ran a call and found the next one queued (the busy path),
   * 3 ms after the last: the round that made the byte polled and ran the
   * reader, before the next call. */
  assert_int_equal(s.rounds, 3);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
  close(s.fds[0]);
  close(s.fds[1]);
}

/* ------------------------------------------------------------- triggers */

typedef struct trig_state {
  weft_reactor *r;
  char seq[16][16];
  int n;
} trig_state;

typedef struct trig_arg {
  trig_state *s;
  const char *name;
} trig_arg;

static void trig(void *arg) {
  trig_arg *a = arg;
  strcpy(a->s->seq[a->s->n++], a->name);
}

static void system_event_triggers(void **state) {
  (void)state;
  trig_state s = {0};
  assert_int_equal(weft_reactor_create(&s.r), 0);
  trig_arg a[] = {{&s, "s-after"}, {&s, "s-during"}, {&s, "s-before"}, {&s, "running"},
                  {&s, "x-before"}, {&s, "x-during"}, {&s, "x-after"}, {&s, "removed"}};
  weft_trigger_id rm;
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_AFTER, WEFT_STARTUP, trig, &a[0], NULL), 0);
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_DURING, WEFT_STARTUP, trig, &a[1], NULL), 0);
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_BEFORE, WEFT_STARTUP, trig, &a[2], NULL), 0);
  assert_int_equal(weft_reactor_call_when_running(s.r, trig, &a[3]), 0);
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_AFTER, WEFT_SHUTDOWN, trig, &a[6], NULL), 0);
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_DURING, WEFT_SHUTDOWN, trig, &a[5], NULL), 0);
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_BEFORE, WEFT_SHUTDOWN, trig, &a[7], &rm), 0);
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_BEFORE, WEFT_SHUTDOWN, trig, &a[4], NULL), 0);
  assert_int_equal(weft_reactor_remove_trigger(s.r, rm), 0);
  assert_int_equal(weft_reactor_remove_trigger(s.r, rm), WEFT_EALREADY);
  assert_int_equal(weft_reactor_call_later(s.r, 0, stop_it, s.r, NULL), 0);
  assert_int_equal(weft_reactor_run(s.r), 0);
  const char *want[] = {"s-before", "s-during", "running", "s-after",
                        "x-before", "x-during", "x-after"};
  assert_int_equal(s.n, 7);
  for (int i = 0; i < 7; i++) assert_string_equal(s.seq[i], want[i]);
  assert_int_equal(weft_reactor_add_trigger(s.r, 7, WEFT_STARTUP, trig, &a[0], NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
}

/* Removed triggers leave their lists (a server that adds and removes one
 * per connection must not grow them for ever): at once outside a firing;
 * during one (a trigger removing itself or another) after it, the order of
 * the others kept. */
typedef struct rm_during {
  weft_reactor *r;
  weft_trigger_id self, other;
  trig_state *s;
} rm_during;
static void trig_removes(void *arg) {
  rm_during *d = arg;
  strcpy(d->s->seq[d->s->n++], "remover");
  assert_int_equal(weft_reactor_remove_trigger(d->r, d->self), 0);
  assert_int_equal(weft_reactor_remove_trigger(d->r, d->other), 0); /* not yet run: it will not */
}
static void removed_triggers_leave_their_lists(void **state) {
  (void)state;
  trig_state s = {0};
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  trig_arg x = {&s, "x"};
  for (int i = 0; i < 10000; i++) {
    weft_trigger_id id;
    assert_int_equal(weft_reactor_add_trigger(r, WEFT_DURING, WEFT_SHUTDOWN, trig, &x, &id), 0);
    assert_int_equal(weft_reactor_remove_trigger(r, id), 0);
  }
  assert_int_equal(weft__triggers_len(r, WEFT_SHUTDOWN, WEFT_DURING), 0);
  /* a, remover, b, c: the remover removes itself and b while the list fires */
  trig_arg a = {&s, "a"}, c = {&s, "c"}, b = {&s, "b"};
  rm_during d = {.r = r, .s = &s};
  weft_trigger_id keep;
  assert_int_equal(weft_reactor_add_trigger(r, WEFT_DURING, WEFT_STARTUP, trig, &a, &keep), 0);
  assert_int_equal(weft_reactor_add_trigger(r, WEFT_DURING, WEFT_STARTUP, trig_removes, &d, &d.self), 0);
  assert_int_equal(weft_reactor_add_trigger(r, WEFT_DURING, WEFT_STARTUP, trig, &b, &d.other), 0);
  assert_int_equal(weft_reactor_add_trigger(r, WEFT_DURING, WEFT_STARTUP, trig, &c, NULL), 0);
  assert_int_equal(weft_reactor_fire_system_event(r, WEFT_STARTUP), 0);
  assert_int_equal(s.n, 3);
  assert_string_equal(s.seq[0], "a");
  assert_string_equal(s.seq[1], "remover");
  assert_string_equal(s.seq[2], "c");
  assert_int_equal(weft__triggers_len(r, WEFT_STARTUP, WEFT_DURING), 2); /* swept: a, c */
  assert_int_equal(weft_reactor_remove_trigger(r, d.self), WEFT_EALREADY);
  assert_int_equal(weft_reactor_remove_trigger(r, keep), 0);
  assert_int_equal(weft__triggers_len(r, WEFT_STARTUP, WEFT_DURING), 1);
  s.n = 0;
  assert_int_equal(weft_reactor_fire_system_event(r, WEFT_STARTUP), 0);
  assert_int_equal(s.n, 1);
  assert_string_equal(s.seq[0], "c");
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* The pool's startup trigger runs once and leaves its list: weft's
 * firings keep their triggers, and a reactor whose startup and shutdown
 * are fired by hand, with a new pool made in between each time, grew the
 * list by one trigger a cycle (every later startup ran them all). */
static void pool_startup_trigger_runs_once(void **state) {
  (void)state;
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  for (int cycle = 0; cycle < 3; cycle++) {
    weft_threadpool *tp;
    assert_int_equal(weft_reactor_get_thread_pool(r, &tp), 0);
    assert_int_equal(weft__triggers_len(r, WEFT_STARTUP, WEFT_DURING), 1);
    assert_int_equal(weft_reactor_fire_system_event(r, WEFT_STARTUP), 0);
    assert_int_equal(weft__triggers_len(r, WEFT_STARTUP, WEFT_DURING), 0);
    assert_int_equal(weft_reactor_fire_system_event(r, WEFT_SHUTDOWN), 0);
    assert_int_equal(weft__triggers_len(r, WEFT_SHUTDOWN, WEFT_DURING), 0);
  }
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* destroy on another thread than run's, polled while run finishes
 * (WEFT_EBUSY until run's shutdown is done): once it answers 0, every
 * access of the run thread to r happened before it (the TSan build reports
 * the race otherwise: destroy's reads and its free against run's drain). */
static weft_reactor *g_poll_r;
static void poll_tick(void *arg) {
  (void)arg;
  (void)weft_reactor_call_later(g_poll_r, 0.0001, poll_tick, NULL, NULL);
}
static void *poll_runner(void *arg) {
  (void)arg;
  THREAD_CHECK_EQ(weft_reactor_run(g_poll_r), 0);
  return NULL;
}
static void destroy_polled_from_another_thread(void **state) {
  (void)state;
  for (int i = 0; i < 5; i++) {
    assert_int_equal(weft_reactor_create(&g_poll_r), 0);
    assert_int_equal(weft_reactor_call_later(g_poll_r, 0, poll_tick, NULL, NULL), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_runner, NULL), 0);
    while (!weft_reactor_running(g_poll_r)) sched_yield(); /* reactor state, polled */
    while (weft_reactor_stop(g_poll_r) != 0) sched_yield();
    int rc;
    while ((rc = weft_reactor_destroy(g_poll_r)) == WEFT_EBUSY) sched_yield();
    assert_int_equal(rc, 0);
    assert_int_equal(pthread_join(th, NULL), 0);
  }
}

/* A trigger that fires its own event, and the other one. weft's firings do
 * not consume triggers, so a nested firing of the event under way would
 * run this trigger again, which fires again, until the stack ran out (the
 * test crashes without the refusal in weft_reactor_fire_system_event).
 * Refused with WEFT_EBUSY at any depth; the other event fires, and its own
 * nested firing of the first is refused too; the outer firing goes on to
 * its next trigger; afterwards the event fires again as before. */
typedef struct self_fire {
  weft_reactor *r;
  int startup_runs, shutdown_runs, after_runs;
  int rc_self, rc_other, rc_nested;
} self_fire;
static void fires_startup_again(void *arg) {
  self_fire *f = arg;
  f->startup_runs++;
  f->rc_self = weft_reactor_fire_system_event(f->r, WEFT_STARTUP);
  f->rc_other = weft_reactor_fire_system_event(f->r, WEFT_SHUTDOWN);
}
static void shutdown_fires_startup(void *arg) {
  self_fire *f = arg;
  f->shutdown_runs++;
  f->rc_nested = weft_reactor_fire_system_event(f->r, WEFT_STARTUP);
}
static void startup_after(void *arg) {
  ((self_fire *)arg)->after_runs++;
}
static void trigger_firing_its_own_event_is_refused(void **state) {
  (void)state;
  self_fire f = {0};
  assert_int_equal(weft_reactor_create(&f.r), 0);
  assert_int_equal(weft_reactor_add_trigger(f.r, WEFT_BEFORE, WEFT_STARTUP, fires_startup_again, &f, NULL), 0);
  assert_int_equal(weft_reactor_add_trigger(f.r, WEFT_AFTER, WEFT_STARTUP, startup_after, &f, NULL), 0);
  weft_trigger_id down;
  assert_int_equal(weft_reactor_add_trigger(f.r, WEFT_DURING, WEFT_SHUTDOWN, shutdown_fires_startup, &f, &down), 0);
  assert_int_equal(weft_reactor_fire_system_event(f.r, WEFT_STARTUP), 0);
  assert_int_equal(f.startup_runs, 1);
  assert_int_equal(f.rc_self, WEFT_EBUSY);
  assert_int_equal(f.rc_other, 0);
  assert_int_equal(f.shutdown_runs, 1);
  assert_int_equal(f.rc_nested, WEFT_EBUSY);
  assert_int_equal(f.after_runs, 1);
  /* Not left marked as firing: both fire again. */
  assert_int_equal(weft_reactor_remove_trigger(f.r, down), 0);
  assert_int_equal(weft_reactor_fire_system_event(f.r, WEFT_STARTUP), 0);
  assert_int_equal(f.startup_runs, 2);
  assert_int_equal(f.shutdown_runs, 1);
  assert_int_equal(f.after_runs, 2);
  assert_int_equal(weft_reactor_fire_system_event(f.r, WEFT_SHUTDOWN), 0);
  assert_int_equal(weft_reactor_destroy(f.r), 0);
}

static void shutdown_fires_without_run(void **state) {
  (void)state;
  trig_state s = {0};
  trig_arg a = {&s, "down"};
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_DURING, WEFT_SHUTDOWN, trig, &a, NULL), 0);
  assert_int_equal(weft_reactor_fire_system_event(s.r, WEFT_SHUTDOWN), 0);
  assert_int_equal(s.n, 1);
  assert_int_equal(weft_reactor_destroy(s.r), 0); /* already fired: not again */
  assert_int_equal(s.n, 1);
  /* never fired: destroy fires it */
  s.n = 0;
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_reactor_add_trigger(s.r, WEFT_DURING, WEFT_SHUTDOWN, trig, &a, NULL), 0);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
  assert_int_equal(s.n, 1);
}

/* ---------------------------------------------------- lifecycle and input */

typedef struct stopper {
  weft_reactor *r;
  int saw_io_thread;
  pthread_barrier_t started;
} stopper;

static void signal_started(void *arg) {
  stopper *s = arg;
  pthread_barrier_wait(&s->started);
}

static void *stop_from_other_thread(void *arg) {
  stopper *s = arg;
  pthread_barrier_wait(&s->started); /* the reactor is running */
  s->saw_io_thread = weft_reactor_is_in_io_thread(s->r);
  THREAD_CHECK_EQ(weft_reactor_stop(s->r), 0);
  return NULL;
}

static void stop_from_another_thread(void **state) {
  (void)state;
  stopper s = {0};
  assert_int_equal(weft_reactor_create(&s.r), 0);
  pthread_barrier_init(&s.started, NULL, 2);
  assert_int_equal(weft_reactor_call_when_running(s.r, signal_started, &s), 0);
  pthread_t t;
  pthread_create(&t, NULL, stop_from_other_thread, &s);
  assert_false(weft_reactor_is_in_io_thread(s.r));
  assert_int_equal(weft_reactor_run(s.r), 0);
  pthread_join(t, NULL);
  assert_false(s.saw_io_thread);
  assert_true(weft_reactor_is_in_io_thread(s.r));
  assert_int_equal(weft_reactor_run(s.r), WEFT_ESTATE); /* not restartable */
  assert_int_equal(weft_reactor_stop(s.r), WEFT_ESTATE);
  pthread_barrier_destroy(&s.started);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
}

static void destroy_runs_late_calls(void **state) {
  (void)state;
  weft_reactor *r;
  int ran = 0;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_call_from_thread(r, stop_it, r), 0);
  assert_int_equal(weft_reactor_run(r), 0);
  /* accepted after the reactor stopped: run by destroy, never dropped */
  assert_int_equal(weft_reactor_call_from_thread(r, count_call, &ran), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(ran, 1);
}

/* destroy from a callback that destroy's own drain runs, or that an
 * attached reactor's drain runs after a detach: WEFT_EBUSY, the outer call
 * still uses r (a use after free before; ASan). */
typedef struct reentry {
  weft_reactor *r;
  int rc;
} reentry;
static void destroy_inside(void *arg) {
  reentry *e = arg;
  e->rc = weft_reactor_destroy(e->r);
}
static void detach_and_destroy_inside(void *arg) {
  reentry *e = arg;
  assert_int_equal(weft_reactor_detach(e->r), 0);
  e->rc = weft_reactor_destroy(e->r);
}

static void destroy_from_a_drained_callback(void **state) {
  (void)state;
  reentry e = {.rc = 1};
  assert_int_equal(weft_reactor_create(&e.r), 0);
  assert_int_equal(weft_reactor_call_from_thread(e.r, destroy_inside, &e), 0);
  assert_int_equal(weft_reactor_destroy(e.r), 0); /* runs the call, then frees */
  assert_int_equal(e.rc, WEFT_EBUSY);
  reentry a = {.rc = 1};
  int fd;
  assert_int_equal(weft_reactor_create(&a.r), 0);
  assert_int_equal(weft_reactor_attach(a.r, &fd), 0);
  assert_int_equal(weft_reactor_call_from_thread(a.r, detach_and_destroy_inside, &a), 0);
  assert_true(weft_reactor_drain(a.r) >= 1);
  assert_int_equal(a.rc, WEFT_EBUSY);
  assert_int_equal(weft_reactor_destroy(a.r), 0);
}

/* A producer that wakes an attached (always "asleep") reactor links its
 * node before its eventfd write, so the reactor can run the call and be
 * destroyed while that producer is still inside the push: destroy must wait
 * for it (the `pushers` count; ASan/TSan see a use after free otherwise).
 * The reactor thread drains without polling, to consume the node as early
 * as possible. */
typedef struct racing_push {
  weft_reactor *r;
  weft_work req;
  atomic_int ran;
} racing_push;

static void racing_push_ran(weft_work *req) {
  racing_push *p = req->data;
  atomic_store(&p->ran, 1);
}

static void *racing_pusher(void *arg) {
  racing_push *p = arg;
  THREAD_CHECK_EQ(weft_reactor_call_from_thread_req(p->r, &p->req, racing_push_ran), 0);
  return NULL;
}

static void destroy_waits_for_a_waking_producer(void **state) {
  (void)state;
  /* TSan runs a tenth. Each round the main thread drains until the pusher
   * thread has run, so a round lasts as long as the scheduler takes to give
   * the pusher a core. The drain loop yields between drains, so on 2 cores
   * shared with other tests the pusher gets the spinner's core rather than
   * waiting out its time slice (without the yield, 2000 rounds under TSan
   * took 8 s alone but 145 s in a `ctest -j2` run, and the plain build
   * about 100 s under load). It still drains as soon as it runs again, to
   * consume the node while the pusher may be inside its push. */
  int rounds = weft_test_config_is("tsan") ? 200 : 2000;
  for (int i = 0; i < rounds; i++) {
    racing_push p;
    int fd;
    atomic_init(&p.ran, 0);
    p.req.data = &p;
    assert_int_equal(weft_reactor_create(&p.r), 0);
    assert_int_equal(weft_reactor_attach(p.r, &fd), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, racing_pusher, &p), 0);
    while (!atomic_load(&p.ran)) {
      assert_true(weft_reactor_drain(p.r) >= 0);
      if (!atomic_load(&p.ran)) sched_yield(); /* let the pusher have this core */
    }
    assert_int_equal(weft_reactor_detach(p.r), 0);
    assert_int_equal(weft_reactor_destroy(p.r), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
  }
}

/* Two watched sockets ready in the same epoll batch; the first callback
 * to run closes the other one and opens a new socket, which takes the
 * closed one's number, and watches it. The closed socket's event, read in
 * that batch, must not reach the new socket's reader: it has no data. */
static weft_reactor *g_stale_r;
static int g_stale_fd[2], g_stale_new = -1, g_stale_new_peer = -1;
static int g_stale_new_calls, g_stale_first_done;

static void stale_stop(void *arg) { weft_reactor_stop(arg); }
static void stale_new_reader(void *ctx, int fd, int events) {
  (void)ctx;
  (void)fd;
  (void)events;
  g_stale_new_calls++;
}
static void stale_reader(void *ctx, int fd, int events) {
  (void)ctx;
  (void)events;
  if (g_stale_first_done) return; /* only the first of the two acts */
  g_stale_first_done = 1;
  int other = fd == g_stale_fd[0] ? g_stale_fd[1] : g_stale_fd[0];
  assert_int_equal(weft_reactor_remove_reader(g_stale_r, fd), 0);
  assert_int_equal(weft_reactor_remove_reader(g_stale_r, other), 0);
  assert_int_equal(close(other), 0);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(sv[0], other); /* the lowest free number: the one just closed */
  g_stale_new = sv[0];
  g_stale_new_peer = sv[1];
  assert_int_equal(weft_reactor_add_reader(g_stale_r, g_stale_new, stale_new_reader, NULL), 0);
  assert_int_equal(weft_reactor_call_later(g_stale_r, 0, stale_stop, g_stale_r, NULL), 0);
}

static void stale_event_not_delivered_to_a_reused_fd(void **state) {
  (void)state;
  int p1[2], p2[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p1), 0);
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p2), 0);
  g_stale_fd[0] = p1[0];
  g_stale_fd[1] = p2[0];
  g_stale_new_calls = 0;
  g_stale_first_done = 0;
  assert_int_equal(weft_reactor_create(&g_stale_r), 0);
  assert_int_equal(weft_reactor_add_reader(g_stale_r, p1[0], stale_reader, NULL), 0);
  assert_int_equal(weft_reactor_add_reader(g_stale_r, p2[0], stale_reader, NULL), 0);
  /* Both readable before the loop's first poll. The peers stay open, so
   * the numbers below the two watched ones stay taken. */
  assert_int_equal(write(p1[1], "x", 1), 1);
  assert_int_equal(write(p2[1], "x", 1), 1);
  assert_int_equal(weft_reactor_run(g_stale_r), 0);
  assert_int_equal(weft_reactor_destroy(g_stale_r), 0);
  assert_int_equal(g_stale_first_done, 1);
  assert_int_equal(g_stale_new_calls, 0);
  int kept = g_stale_new == p1[0] ? p2[0] : p1[0];
  close(kept);
  close(g_stale_new);
  close(g_stale_new_peer);
  close(p1[1]);
  close(p2[1]);
}

/* callWhenRunning from a "before shutdown" trigger: the reactor is
 * stopping and will never run again, so a startup trigger would never fire:
 * WEFT_ESHUTDOWN, and fn is not called. */
static int g_cwr_rc = 1, g_cwr_ran;
static void cwr_fn(void *arg) {
  (void)arg;
  g_cwr_ran++;
}
static void cwr_before_shutdown(void *arg) {
  g_cwr_rc = weft_reactor_call_when_running(arg, cwr_fn, NULL);
}
static void cwr_stop(void *arg) { weft_reactor_stop(arg); }

static void call_when_running_while_stopping(void **state) {
  (void)state;
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_add_trigger(r, WEFT_BEFORE, WEFT_SHUTDOWN, cwr_before_shutdown, r, NULL), 0);
  assert_int_equal(weft_reactor_call_later(r, 0, cwr_stop, r, NULL), 0);
  assert_int_equal(weft_reactor_run(r), 0);
  assert_int_equal(g_cwr_rc, WEFT_ESHUTDOWN);
  assert_int_equal(g_cwr_ran, 0);
  assert_int_equal(weft_reactor_call_when_running(r, cwr_fn, NULL), WEFT_ESHUTDOWN);
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(g_cwr_ran, 0);
}

static void bad_input(void **state) {
  (void)state;
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_run(NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_stop(NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(NULL), 0);
  assert_int_equal(weft_reactor_call_from_thread(NULL, count_call, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_call_later(NULL, 0, count_call, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_stats_get(NULL, NULL), WEFT_EINVAL);
  assert_false(weft_reactor_is_in_io_thread(NULL));
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_call_from_thread(r, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_stop(r), WEFT_ESTATE); /* not running */
  assert_int_equal(weft_reactor_drain(r), WEFT_ESTATE); /* not attached here */
  assert_int_equal(weft_reactor_detach(r), WEFT_ESTATE);
  assert_int_equal(weft_reactor_call_later(r, (double)NAN, count_call, NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_reactor_fire_system_event(r, 9), WEFT_EINVAL);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* A reader that stops the reactor: as Twisted's runUntilCurrent, the calls
 * queued before the stop and the timed calls due run before "shutdown" (the
 * loop went straight to the shutdown, and a call_from_thread made before
 * the stop ran after every shutdown trigger, its pool gone). */
static weft_reactor *g_stop_r;
static int g_f_ran, g_h_ran_after_shutdown = -1, g_h_rc = 99, g_shutdown_done;
static void stop_f(void *arg) {
  (void)arg;
  g_f_ran++;
}
static void stop_pooled(void *arg) { (void)arg; }
static void stop_h(void *arg) {
  (void)arg;
  g_h_ran_after_shutdown = g_shutdown_done;
  g_h_rc = weft_reactor_call_in_thread(g_stop_r, stop_pooled, NULL);
}
static void stop_after_shutdown(void *arg) {
  (void)arg;
  g_shutdown_done = 1;
}
static void stop_on_read(void *ctx, int fd, int events) {
  (void)ctx;
  (void)events;
  char c;
  assert_int_equal(read(fd, &c, 1), 1);
  assert_int_equal(weft_reactor_remove_reader(g_stop_r, fd), 0);
  assert_int_equal(weft_reactor_call_later(g_stop_r, 0, stop_f, NULL, NULL), 0);
  assert_int_equal(weft_reactor_call_from_thread(g_stop_r, stop_h, NULL), 0);
  assert_int_equal(weft_reactor_stop(g_stop_r), 0);
}

static void stop_from_reader_runs_what_came_before(void **state) {
  (void)state;
  g_f_ran = g_shutdown_done = 0;
  g_h_ran_after_shutdown = -1;
  g_h_rc = 99;
  int p[2];
  assert_int_equal(pipe(p), 0);
  assert_int_equal(weft_reactor_create(&g_stop_r), 0);
  assert_int_equal(
      weft_reactor_add_trigger(g_stop_r, WEFT_AFTER, WEFT_SHUTDOWN, stop_after_shutdown, NULL, NULL), 0);
  assert_int_equal(weft_reactor_add_reader(g_stop_r, p[0], stop_on_read, NULL), 0);
  assert_int_equal(write(p[1], "x", 1), 1);
  assert_int_equal(weft_reactor_run(g_stop_r), 0);
  assert_int_equal(g_f_ran, 1);
  assert_int_equal(g_h_ran_after_shutdown, 0);
  assert_int_equal(g_h_rc, 0); /* the pool was still there: its stop ran the task */
  assert_int_equal(weft_reactor_destroy(g_stop_r), 0);
  close(p[0]);
  close(p[1]);
}

/* The same with the stop made on another thread, after the call it queued
 * first, while the loop is between its drain and its look at the stop
 * flag (held there by a timer): that call ran after every shutdown trigger.
 * Barriers, no sleep: the timer lets the thread go and waits until both its
 * calls have returned. */
typedef struct late_stopper {
  weft_reactor *r;
  pthread_barrier_t go, done;
  int f_ran, f_ran_before_shutdown;
} late_stopper;
static void late_f(void *arg) { ((late_stopper *)arg)->f_ran = 1; }
static void *late_stop_thread(void *arg) {
  late_stopper *s = arg;
  pthread_barrier_wait(&s->go);
  assert_int_equal(weft_reactor_call_from_thread(s->r, late_f, s), 0);
  assert_int_equal(weft_reactor_stop(s->r), 0);
  pthread_barrier_wait(&s->done);
  return NULL;
}
static void late_hold_loop(void *arg) {
  late_stopper *s = arg;
  pthread_barrier_wait(&s->go);
  pthread_barrier_wait(&s->done);
}
static void late_before_shutdown(void *arg) {
  late_stopper *s = arg;
  s->f_ran_before_shutdown = s->f_ran;
}

static void stop_from_another_thread_runs_its_calls_first(void **state) {
  (void)state;
  late_stopper s = {0};
  s.f_ran_before_shutdown = -1;
  pthread_barrier_init(&s.go, NULL, 2);
  pthread_barrier_init(&s.done, NULL, 2);
  assert_int_equal(weft_reactor_create(&s.r), 0);
  assert_int_equal(weft_reactor_call_later(s.r, 0, late_hold_loop, &s, NULL), 0);
  assert_int_equal(
      weft_reactor_add_trigger(s.r, WEFT_BEFORE, WEFT_SHUTDOWN, late_before_shutdown, &s, NULL), 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, late_stop_thread, &s), 0);
  assert_int_equal(weft_reactor_run(s.r), 0);
  pthread_join(t, NULL);
  assert_int_equal(s.f_ran, 1);
  assert_int_equal(s.f_ran_before_shutdown, 1);
  assert_int_equal(weft_reactor_destroy(s.r), 0);
  pthread_barrier_destroy(&s.go);
  pthread_barrier_destroy(&s.done);
}

/* "shutdown" fired by hand while the loop runs: the loop goes on (its
 * timers run, weft_reactor_running stays 1) until a stop, whose shutdown
 * fires the triggers again. Twisted's firing runs the crash trigger and
 * run() returns without a stop (docs/twisted-mapping.md). */
typedef struct manual_sd {
  weft_reactor *r;
  int fired, running_after, timer_ran;
} manual_sd;
static void manual_sd_count(void *arg) { ((manual_sd *)arg)->fired++; }
static void manual_sd_timer(void *arg) {
  manual_sd *m = arg;
  m->timer_ran = 1;
  assert_int_equal(weft_reactor_stop(m->r), 0);
}
static void manual_sd_go(void *arg) {
  manual_sd *m = arg;
  assert_int_equal(weft_reactor_fire_system_event(m->r, WEFT_SHUTDOWN), 0);
  m->running_after = weft_reactor_running(m->r);
  assert_int_equal(weft_reactor_call_later(m->r, 0, manual_sd_timer, m, NULL), 0);
}
static void manual_shutdown_while_running_keeps_the_loop(void **state) {
  (void)state;
  manual_sd m = {0};
  assert_int_equal(weft_reactor_create(&m.r), 0);
  assert_int_equal(
      weft_reactor_add_trigger(m.r, WEFT_BEFORE, WEFT_SHUTDOWN, manual_sd_count, &m, NULL), 0);
  assert_int_equal(weft_reactor_call_when_running(m.r, manual_sd_go, &m), 0);
  assert_int_equal(weft_reactor_run(m.r), 0);
  assert_int_equal(m.running_after, 1);
  assert_int_equal(m.timer_ran, 1);
  assert_int_equal(m.fired, 2);
  assert_int_equal(weft_reactor_destroy(m.r), 0);
}

/* A trigger that destroys the reactor while weft_reactor_fire_system_event
 * fires it (a reactor that never ran): WEFT_EBUSY, the firing goes on (it
 * read the freed reactor before). */
static weft_reactor *g_fire_r;
static int g_fire_destroy_rc = 99, g_fire_after_ran;
static void fire_destroyer(void *arg) {
  (void)arg;
  g_fire_destroy_rc = weft_reactor_destroy(g_fire_r);
}
static void fire_after(void *arg) {
  (void)arg;
  g_fire_after_ran++;
}

static void destroy_from_a_fired_trigger(void **state) {
  (void)state;
  g_fire_destroy_rc = 99;
  g_fire_after_ran = 0;
  assert_int_equal(weft_reactor_create(&g_fire_r), 0);
  assert_int_equal(weft_reactor_add_trigger(g_fire_r, WEFT_DURING, WEFT_STARTUP, fire_destroyer, NULL, NULL), 0);
  assert_int_equal(weft_reactor_add_trigger(g_fire_r, WEFT_AFTER, WEFT_STARTUP, fire_after, NULL, NULL), 0);
  assert_int_equal(weft_reactor_fire_system_event(g_fire_r, WEFT_STARTUP), 0);
  assert_int_equal(g_fire_destroy_rc, WEFT_EBUSY);
  assert_int_equal(g_fire_after_ran, 1);
  assert_int_equal(weft_reactor_destroy(g_fire_r), 0);
}

/* weft_reactor_run from a trigger of a "shutdown" fired by hand on a reactor
 * that never ran: run's own shutdown firing would be refused (the event is
 * firing), so the pool the run made (a deferToThread) would never be
 * stopped: its thread and memory left behind. Such a run is refused
 * (WEFT_ESTATE) and nothing is left alive. */
static weft_reactor *g_nr;
static int g_nr_run_rc = 99;
static int nr_identity(void *a, void **res) {
  *res = a;
  return 0;
}
static int nr_done(void *ctx, weft_result *r) {
  (void)ctx;
  (void)r;
  weft_reactor_stop(g_nr);
  return 0;
}
static void nr_go(void *arg) { /* a call_when_running: the run makes the pool */
  (void)arg;
  weft_deferred *d;
  if (weft_defer_to_thread(g_nr, nr_identity, NULL, &d) != 0) {
    weft_reactor_stop(g_nr);
    return;
  }
  (void)weft_deferred_add_callback(d, nr_done, NULL);
  weft_deferred_unref(d);
}
static void nr_runner(void *arg) {
  (void)arg;
  g_nr_run_rc = weft_reactor_run(g_nr);
}

static void run_inside_manual_shutdown_leaks_nothing(void **state) {
  (void)state;
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0); /* nothing alive yet */
  assert_int_equal(weft_reactor_create(&g_nr), 0);
  assert_int_equal(weft_reactor_call_when_running(g_nr, nr_go, NULL), 0);
  assert_int_equal(weft_reactor_add_trigger(g_nr, WEFT_AFTER, WEFT_SHUTDOWN, nr_runner, NULL, NULL), 0);
  assert_int_equal(weft_reactor_fire_system_event(g_nr, WEFT_SHUTDOWN), 0);
  assert_int_equal(weft_reactor_destroy(g_nr), 0);
  assert_int_equal(g_nr_run_rc, WEFT_ESTATE);
  /* Every weft object is gone once the reactor is destroyed. */
  assert_int_equal(weft_replace_allocator(malloc, calloc, free), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(call_from_thread_fifo_per_thread),
      cmocka_unit_test(trigger_firing_its_own_event_is_refused),
      cmocka_unit_test(pool_startup_trigger_runs_once),
      cmocka_unit_test(call_from_thread_req_variant),
      cmocka_unit_test(coalescing_one_write_per_burst),
      cmocka_unit_test(delayed_call_from_thread),
      cmocka_unit_test(timers_order_and_cancel),
      cmocka_unit_test(readers_and_writers),
      cmocka_unit_test(reader_not_starved_by_completions),
      cmocka_unit_test(reader_not_held_back_by_slow_completions),
      cmocka_unit_test(system_event_triggers),
      cmocka_unit_test(removed_triggers_leave_their_lists),
      cmocka_unit_test(destroy_polled_from_another_thread),
      cmocka_unit_test(shutdown_fires_without_run),
      cmocka_unit_test(stop_from_another_thread),
      cmocka_unit_test(destroy_runs_late_calls),
      cmocka_unit_test(destroy_from_a_drained_callback),
      cmocka_unit_test(destroy_waits_for_a_waking_producer),
      cmocka_unit_test(stale_event_not_delivered_to_a_reused_fd),
      cmocka_unit_test(call_when_running_while_stopping),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(stop_from_reader_runs_what_came_before),
      cmocka_unit_test(stop_from_another_thread_runs_its_calls_first),
      cmocka_unit_test(manual_shutdown_while_running_keeps_the_loop),
      cmocka_unit_test(destroy_from_a_fired_trigger),
      cmocka_unit_test(run_inside_manual_shutdown_leaks_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
