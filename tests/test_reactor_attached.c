/*
 * Everything a reactor does, on an attached (foreign-loop) reactor: the
 * attach fd turns readable for a due call_later with no other activity,
 * readers and writers are served by drain (an event read for a descriptor
 * whose callbacks went is not, and a closed descriptor's number is watched
 * again), and drain_ex keeps its budget.
 * The "host loop" here is poll(2) on the attach fd, as libevent or libuv
 * would do; a poll timeout is only a hang guard, never the pass condition.
 */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "loop/reactor_state.h" /* the timerfd, to read its setting */
#include "weft/reactor.h"
#include "test_sync.h"

#define HANG_GUARD_MS 30000

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The host loop: wait for the fd, drain; until *done or the hang guard. */
static void host_loop(weft_reactor *r, int fd, const int *done) {
  double give_up = now_s() + HANG_GUARD_MS / 1000.0;
  while (!*done) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, 1000);
    assert_true(n >= 0);
    if (n == 1) assert_true(weft_reactor_drain(r) >= 0);
    assert_true(now_s() < give_up); /* hang guard only */
  }
}

static void fired(void *arg) { (*(int *)arg)++; }

/* A 10 ms call_later with nothing else going on: the fd wakes the host. */
static void timer_fires_on_attached_reactor(void **state) {
  (void)state;
  weft_reactor *r;
  int fd, done = 0;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  double t0 = now_s();
  assert_int_equal(weft_reactor_call_later(r, 0.010, fired, &done, NULL), 0);
  host_loop(r, fd, &done);
  printf("attached reactor: 10 ms call_later fired after %.2f ms\n", (now_s() - t0) * 1e3);
  assert_int_equal(done, 1);
  /* Nothing pending: the fd is quiet. */
  struct pollfd p = {.fd = fd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, 0), 0);
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* fork from the host loop's thread of an attached reactor: the child's
 * copy must not touch the parent's timer (the timerfd is one open file in
 * both processes), and drain is refused there (the timers and queue it
 * would run are the parent's). The child cancels the pending timer and
 * adds one due at once; the parent's timerfd must still be armed for the
 * 100 s timer. Fails if the child's copy disarmed or moved it. */
static void fork_child_leaves_parent_timer(void **state) {
  (void)state;
  weft_reactor *r;
  int fd, done = 0;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  weft_timer_id id;
  assert_int_equal(weft_reactor_call_later(r, 100.0, fired, &done, &id), 0);
  assert_true(r->tfd >= 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    (void)weft_reactor_cancel_call(r, id);
    (void)weft_reactor_call_later(r, 0.0, fired, &done, NULL);
    _exit(weft_reactor_drain(r) == WEFT_ESTATE ? 0 : 1);
  }
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0); /* drain refused in the child */
  struct itimerspec its;
  assert_int_equal(timerfd_gettime(r->tfd, &its), 0);
  assert_true(its.it_value.tv_sec >= 50); /* still the parent's 100 s timer */
  assert_int_equal(done, 0);
  assert_int_equal(weft_reactor_cancel_call(r, id), 0);
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* Timers made before attach, several of them, one cancelled; order kept. */
typedef struct order {
  int log[4], n, done;
} order;
static void log_a(void *arg) { order *o = arg; o->log[o->n++] = 1; }
static void log_b(void *arg) { order *o = arg; o->log[o->n++] = 2; }
static void log_c(void *arg) {
  order *o = arg;
  o->log[o->n++] = 3;
  o->done = 1;
}

static void timers_before_attach_and_cancel(void **state) {
  (void)state;
  weft_reactor *r;
  int fd;
  order o = {0};
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_timer_id gone;
  assert_int_equal(weft_reactor_call_later(r, 0.002, log_a, &o, NULL), 0);
  assert_int_equal(weft_reactor_call_later(r, 0.001, log_b, &o, &gone), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  assert_int_equal(weft_reactor_call_later(r, 0.004, log_c, &o, NULL), 0);
  assert_int_equal(weft_reactor_cancel_call(r, gone), 0);
  host_loop(r, fd, &o.done);
  assert_int_equal(o.n, 2);
  assert_int_equal(o.log[0], 1);
  assert_int_equal(o.log[1], 3);
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* A reader on an attached reactor: the pipe's data reaches it via drain. */
typedef struct pipe_test {
  weft_reactor *r;
  int rfd, wfd;
  char got[8];
  int done, writable;
} pipe_test;

static void on_readable(void *ctx, int fd, int events) {
  pipe_test *p = ctx;
  assert_true(events & WEFT_READABLE);
  assert_int_equal(read(fd, p->got, sizeof p->got), 4);
  assert_int_equal(weft_reactor_remove_reader(p->r, fd), 0);
  p->done = 1;
}

static void on_writable(void *ctx, int fd, int events) {
  pipe_test *p = ctx;
  assert_true(events & WEFT_WRITABLE);
  assert_int_equal(write(fd, "ping", 4), 4);
  assert_int_equal(weft_reactor_remove_writer(p->r, fd), 0);
  p->writable++;
}

static void reader_writer_on_attached_reactor(void **state) {
  (void)state;
  pipe_test p = {0};
  int fds[2], fd;
  assert_int_equal(pipe(fds), 0);
  p.rfd = fds[0];
  p.wfd = fds[1];
  assert_int_equal(weft_reactor_create(&p.r), 0);
  assert_int_equal(weft_reactor_attach(p.r, &fd), 0);
  assert_int_equal(weft_reactor_add_reader(p.r, p.rfd, on_readable, &p), 0);
  assert_int_equal(weft_reactor_add_writer(p.r, p.wfd, on_writable, &p), 0);
  assert_int_equal(weft_reactor_add_reader(p.r, fd, on_readable, &p), WEFT_EINVAL); /* its own */
  host_loop(p.r, fd, &p.done);
  assert_int_equal(p.writable, 1);
  assert_memory_equal(p.got, "ping", 4);
  assert_int_equal(weft_reactor_detach(p.r), 0);
  assert_int_equal(weft_reactor_destroy(p.r), 0);
  close(fds[0]);
  close(fds[1]);
}

static void count_call(void *arg) { (*(int *)arg)++; }

/* drain_ex: a budget of 10 runs 10; the rest keeps the fd readable. */
static void drain_budget(void **state) {
  (void)state;
  weft_reactor *r;
  int fd, ran = 0;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  for (int i = 0; i < 25; i++) assert_int_equal(weft_reactor_call_from_thread(r, count_call, &ran), 0);
  assert_int_equal(weft_reactor_drain_ex(r, 10, WEFT_DRAIN_NO_SPIN), 10);
  assert_int_equal(ran, 10);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  assert_int_equal(poll(&p, 1, 0), 1); /* left work: readable again */
  assert_int_equal(weft_reactor_drain_ex(r, 10, 0), 10);
  assert_int_equal(weft_reactor_drain_ex(r, 0, WEFT_DRAIN_NO_SPIN), 5);
  assert_int_equal(ran, 25);
  assert_int_equal(poll(&p, 1, 0), 0);
  assert_int_equal(weft_reactor_drain_ex(r, -1, 0), WEFT_EINVAL);
  assert_int_equal(weft_reactor_drain_ex(r, 0, 0x80), WEFT_EINVAL);
  assert_int_equal(weft_reactor_drain_ex(NULL, 0, 0), WEFT_EINVAL);
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* A drain from a callback that a drain runs is refused (WEFT_ESTATE, as a
 * drain under weft_reactor_run is): it would run the outer drain's
 * completions past the outer's snapshot and budget (here the outer's
 * budget of 3 ran 5). */
static weft_reactor *g_nest_r;
static int g_nest_rc = 1, g_nest_ran;
static void nest_drain(void *arg) {
  (void)arg;
  g_nest_rc = weft_reactor_drain(g_nest_r);
}
static void nested_drain_refused(void **state) {
  (void)state;
  int fd;
  g_nest_ran = 0;
  assert_int_equal(weft_reactor_create(&g_nest_r), 0);
  assert_int_equal(weft_reactor_attach(g_nest_r, &fd), 0);
  assert_int_equal(weft_reactor_call_from_thread(g_nest_r, nest_drain, NULL), 0);
  for (int i = 0; i < 4; i++)
    assert_int_equal(weft_reactor_call_from_thread(g_nest_r, count_call, &g_nest_ran), 0);
  assert_int_equal(weft_reactor_drain_ex(g_nest_r, 3, WEFT_DRAIN_NO_SPIN), 3);
  assert_int_equal(g_nest_rc, WEFT_ESTATE);
  assert_int_equal(g_nest_ran, 2);
  assert_int_equal(weft_reactor_drain_ex(g_nest_r, 0, WEFT_DRAIN_NO_SPIN), 2);
  assert_int_equal(g_nest_ran, 4);
  assert_int_equal(weft_reactor_detach(g_nest_r), 0);
  assert_int_equal(weft_reactor_destroy(g_nest_r), 0);
}

/* A completion that detaches ends the drain that runs it: the shutdown has
 * run, and a timer already due does not run after it (none does after
 * run's shutdown); a later drain answers WEFT_ESTATE. */
static weft_reactor *g_det_r;
static int g_shut_done, g_timer_after_shutdown, g_timer_runs;
static void det_after_shutdown(void *arg) {
  (void)arg;
  g_shut_done = 1;
}
static void det_timer(void *arg) {
  (void)arg;
  g_timer_runs++;
  if (g_shut_done) g_timer_after_shutdown++;
}
static void det_detach(void *arg) { assert_int_equal(weft_reactor_detach(arg), 0); }

/* g_det_r: a new reactor, attached, that notes the end of its shutdown in
 * g_shut_done. */
static void det_attach(void) {
  assert_int_equal(weft_reactor_create(&g_det_r), 0);
  assert_int_equal(
      weft_reactor_add_trigger(g_det_r, WEFT_AFTER, WEFT_SHUTDOWN, det_after_shutdown, NULL, NULL), 0);
  int fd;
  assert_int_equal(weft_reactor_attach(g_det_r, &fd), 0);
}

static void drain_after_detach(void **state) {
  (void)state;
  g_shut_done = g_timer_after_shutdown = g_timer_runs = 0;
  det_attach();
  assert_int_equal(weft_reactor_call_later(g_det_r, 0, det_timer, NULL, NULL), 0);
  assert_int_equal(weft_reactor_call_from_thread(g_det_r, det_detach, g_det_r), 0);
  assert_true(weft_reactor_drain(g_det_r) >= 1);
  assert_int_equal(g_shut_done, 1);
  assert_int_equal(g_timer_after_shutdown, 0);
  assert_int_equal(weft_reactor_drain(g_det_r), WEFT_ESTATE);
  assert_int_equal(weft_reactor_drain_ex(g_det_r, 0, WEFT_DRAIN_NO_SPIN), WEFT_ESTATE);
  assert_int_equal(g_timer_runs, 0);
  assert_int_equal(weft_reactor_destroy(g_det_r), 0);
}

/* A call made after the shutdown, by the completion that detached (after
 * detach returned), runs in destroy, not in the rest of that drain: the
 * drain ends with the completion that detached (found by review: with
 * more completions in its snapshot, which the shutdown ran, the drain's
 * loop went on popping what was queued after the shutdown). */
static int g_late_ran, g_late_in_drain, g_in_drain;
static void det_late(void *arg) {
  (void)arg;
  g_late_ran++;
  if (g_in_drain) g_late_in_drain++;
}
static void det_detach_then_call(void *arg) {
  assert_int_equal(weft_reactor_detach(arg), 0);
  assert_int_equal(weft_reactor_call_from_thread(arg, det_late, NULL), 0);
}

static void call_after_detach_runs_in_destroy(void **state) {
  (void)state;
  g_shut_done = g_late_ran = g_late_in_drain = 0;
  det_attach();
  assert_int_equal(weft_reactor_call_from_thread(g_det_r, det_detach_then_call, g_det_r), 0);
  /* Queued before the shutdown: the shutdown runs it. It is the drain's
   * snapshot's last, so the drain looked further than the detaching one. */
  assert_int_equal(weft_reactor_call_from_thread(g_det_r, det_after_shutdown, NULL), 0);
  g_in_drain = 1;
  assert_int_equal(weft_reactor_drain(g_det_r), 1);
  g_in_drain = 0;
  assert_int_equal(g_shut_done, 1);
  assert_int_equal(g_late_in_drain, 0);
  assert_int_equal(g_late_ran, 0);
  assert_int_equal(weft_reactor_destroy(g_det_r), 0);
  assert_int_equal(g_late_ran, 1); /* destroy runs it */
}

/* A timer that detaches ends the drain too: the next due timer does not run
 * after the shutdown. */
static void timer_detach_ends_drain(void **state) {
  (void)state;
  g_shut_done = g_timer_after_shutdown = g_timer_runs = 0;
  det_attach();
  /* Both due at once; equal times run in the order added (Twisted). */
  assert_int_equal(weft_reactor_call_later(g_det_r, 0, det_detach, g_det_r, NULL), 0);
  assert_int_equal(weft_reactor_call_later(g_det_r, 0, det_timer, NULL, NULL), 0);
  assert_true(weft_reactor_drain_ex(g_det_r, 0, WEFT_DRAIN_NO_SPIN) >= 0);
  assert_int_equal(g_shut_done, 1);
  assert_int_equal(g_timer_runs, 0);
  assert_int_equal(weft_reactor_destroy(g_det_r), 0);
}

/* What a drain leaves behind once a callback detached, for the three kinds
 * of callback: the shutdown left the reactor awake for good (no loop serves
 * it again), so a late call_from_thread writes no eventfd and counts no
 * wake-up. A timer that detached used to go on with the drain's tail after
 * the shutdown: it re-armed the timerfd and set the reactor asleep, so a
 * late call from any thread wrote the eventfd, and the attach fd turned
 * readable for a host still watching it, with a drain that can only answer
 * WEFT_ESTATE (a host loop spinning until it stops watching). */
enum { DETACH_BY_COMPLETION, DETACH_BY_TIMER, DETACH_BY_READER };
static void io_detach_once(void *ctx, int fd, int events) {
  (void)events;
  char c;
  assert_int_equal(read(fd, &c, 1), 1); /* not ready any more */
  assert_int_equal(weft_reactor_detach(ctx), 0);
}
static void detach_leaves_fd_quiet(int how) {
  g_late_ran = 0;
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  int fd;
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  int p[2] = {-1, -1};
  if (how == DETACH_BY_COMPLETION) {
    assert_int_equal(weft_reactor_call_from_thread(r, det_detach, r), 0);
  } else if (how == DETACH_BY_TIMER) {
    assert_int_equal(weft_reactor_call_later(r, 0, det_detach, r, NULL), 0);
  } else {
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    assert_int_equal(weft_reactor_add_reader(r, p[0], io_detach_once, r), 0);
  }
  /* Pending, not due: a timer the shutdown leaves unrun. */
  assert_int_equal(weft_reactor_call_later(r, 3600.0, det_timer, NULL, NULL), 0);
  struct pollfd pf = {.fd = fd, .events = POLLIN};
  assert_int_equal(poll(&pf, 1, HANG_GUARD_MS), 1); /* the detaching callback is ready */
  assert_true(weft_reactor_drain_ex(r, 0, WEFT_DRAIN_NO_SPIN) >= 0);
  assert_int_equal(weft_reactor_running(r), 0);
  assert_int_equal(weft_reactor_drain(r), WEFT_ESTATE);
  weft_reactor_stats before, after;
  assert_int_equal(weft_reactor_stats_get(r, &before), 0);
  /* Any thread may call after detach; the call runs in destroy. */
  assert_int_equal(weft_reactor_call_from_thread(r, det_late, NULL), 0);
  assert_int_equal(weft_reactor_stats_get(r, &after), 0);
  assert_int_equal(after.wakeups, before.wakeups);
  assert_int_equal(poll(&pf, 1, 0), 0); /* nothing for a host to do */
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(g_late_ran, 1);
  if (p[0] >= 0) {
    close(p[0]);
    close(p[1]);
  }
}
static void completion_detach_leaves_fd_quiet(void **state) {
  (void)state;
  detach_leaves_fd_quiet(DETACH_BY_COMPLETION);
}
static void timer_detach_leaves_fd_quiet(void **state) {
  (void)state;
  detach_leaves_fd_quiet(DETACH_BY_TIMER);
}
static void reader_detach_leaves_fd_quiet(void **state) {
  (void)state;
  detach_leaves_fd_quiet(DETACH_BY_READER);
}

/* Detach leaves nothing of the reactor's own that makes the fd readable:
 * the timers it leaves pending never run (nor does a call_later made
 * after it), so the timerfd is disarmed and stays so; and the eventfd
 * write of a call queued before a detach made outside a drain was for the
 * shutdown, which ran the call. The docs let a host watch the fd until
 * destroy; it used to turn readable at the next timer's deadline (or at
 * once, for the eventfd) with a drain that can only answer WEFT_ESTATE: a
 * host loop spinning until it stops watching. */
static int timerfd_armed(weft_reactor *r) {
  struct itimerspec its;
  assert_int_equal(timerfd_gettime(r->tfd, &its), 0);
  return its.it_value.tv_sec != 0 || its.it_value.tv_nsec != 0;
}
static void detach_disarms_the_timerfd(void **state) {
  (void)state;
  g_timer_runs = 0;
  weft_reactor *r;
  int fd;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  assert_int_equal(weft_reactor_call_later(r, 3600.0, det_timer, NULL, NULL), 0);
  assert_true(timerfd_armed(r));
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_false(timerfd_armed(r));
  /* Accepted, never runs: nothing to wake a host for. */
  assert_int_equal(weft_reactor_call_later(r, 3600.0, det_timer, NULL, NULL), 0);
  assert_false(timerfd_armed(r));
  assert_int_equal(weft_reactor_destroy(r), 0);
  assert_int_equal(g_timer_runs, 0);
}
static void detach_outside_drain_resets_the_eventfd(void **state) {
  (void)state;
  g_late_ran = 0;
  weft_reactor *r;
  int fd;
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  assert_int_equal(weft_reactor_call_from_thread(r, det_late, NULL), 0);
  struct pollfd pf = {.fd = fd, .events = POLLIN};
  assert_int_equal(poll(&pf, 1, 0), 1); /* the call woke the fd */
  assert_int_equal(weft_reactor_detach(r), 0); /* not from a drain */
  assert_int_equal(g_late_ran, 1);              /* the shutdown ran it */
  assert_int_equal(poll(&pf, 1, 0), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

/* A reader that detaches ends the drain: the other ready reader of the same
 * epoll batch is not called after the shutdown. */
static int g_io_after_shutdown, g_io_calls;
static void io_detach(void *ctx, int fd, int events) {
  (void)ctx;
  (void)fd;
  (void)events;
  g_io_calls++;
  if (g_shut_done) g_io_after_shutdown++;
  else assert_int_equal(weft_reactor_detach(g_det_r), 0);
}

static void reader_detach_ends_drain(void **state) {
  (void)state;
  g_shut_done = 0;
  g_io_after_shutdown = g_io_calls = 0;
  int p1[2], p2[2];
  assert_int_equal(pipe(p1), 0);
  assert_int_equal(pipe(p2), 0);
  assert_int_equal(write(p1[1], "x", 1), 1);
  assert_int_equal(write(p2[1], "x", 1), 1);
  det_attach();
  assert_int_equal(weft_reactor_add_reader(g_det_r, p1[0], io_detach, NULL), 0);
  assert_int_equal(weft_reactor_add_reader(g_det_r, p2[0], io_detach, NULL), 0);
  assert_true(weft_reactor_drain_ex(g_det_r, 0, WEFT_DRAIN_NO_SPIN) >= 0);
  assert_int_equal(g_shut_done, 1);
  assert_int_equal(g_io_calls, 1); /* both were ready: one epoll batch */
  assert_int_equal(g_io_after_shutdown, 0);
  assert_int_equal(weft_reactor_destroy(g_det_r), 0);
  for (int i = 0; i < 2; i++) {
    close(p1[i]);
    close(p2[i]);
  }
}

/* The same with the writer of the detaching reader's own descriptor, ready
 * in the same event: it is not called after the shutdown either. */
static void reader_detach_skips_its_writer(void **state) {
  (void)state;
  g_shut_done = 0;
  g_io_after_shutdown = g_io_calls = 0;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(write(sv[1], "x", 1), 1); /* sv[0]: readable, and writable */
  det_attach();
  assert_int_equal(weft_reactor_add_reader(g_det_r, sv[0], io_detach, NULL), 0);
  assert_int_equal(weft_reactor_add_writer(g_det_r, sv[0], io_detach, NULL), 0);
  assert_true(weft_reactor_drain_ex(g_det_r, 0, WEFT_DRAIN_NO_SPIN) >= 0);
  assert_int_equal(g_shut_done, 1);
  assert_int_equal(g_io_calls, 1); /* the reader only */
  assert_int_equal(g_io_after_shutdown, 0);
  assert_int_equal(weft_reactor_destroy(g_det_r), 0);
  close(sv[0]);
  close(sv[1]);
}

/* Callbacks that only count their calls, in the int at ctx. */
static void count_io(void *ctx, int fd, int events) {
  (void)fd;
  (void)events;
  (*(int *)ctx)++;
}

/* weft/reactor.h, remove_reader: "Once its last callback is removed,
 * events already read for it are not delivered, even to a new descriptor
 * that takes its number in the same round." Here the same event's writable
 * half (test_reactor.c's stale_event_not_delivered_to_a_reused_fd covers
 * another descriptor's event of the batch): a socket both readable and
 * writable, so one epoll event carries both; its reader removes the reader
 * and the writer, closes the socket, and watches the read end of a new
 * pipe, which takes the socket's number, for writing. A pipe's read end is
 * never writable: any call of its writer is the stale half. Fails if
 * io_dispatch calls the writer after the reader changed the descriptor's
 * callbacks (reactor_io.c: the generation check before the writer
 * dropped, or del not bumping the generation): new_writes is 1. */
typedef struct reuse_test {
  weft_reactor *r;
  int pipe[2]; /* made by the reader: its read end takes the closed number */
  int reads, old_writes, new_writes;
} reuse_test;

static void reuse_reader(void *ctx, int fd, int events) {
  reuse_test *t = ctx;
  assert_true(events & WEFT_READABLE);
  t->reads++;
  assert_int_equal(weft_reactor_remove_reader(t->r, fd), 0);
  assert_int_equal(weft_reactor_remove_writer(t->r, fd), 0);
  assert_int_equal(close(fd), 0);
  assert_int_equal(pipe(t->pipe), 0);
  assert_int_equal(t->pipe[0], fd); /* the lowest free number: the one just closed */
  assert_int_equal(weft_reactor_add_writer(t->r, t->pipe[0], count_io, &t->new_writes), 0);
}

static void stale_writable_half_not_delivered(void **state) {
  (void)state;
  reuse_test t = {.pipe = {-1, -1}};
  int sv[2], fd;
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  assert_int_equal(weft_reactor_create(&t.r), 0);
  assert_int_equal(weft_reactor_attach(t.r, &fd), 0);
  assert_int_equal(weft_reactor_add_reader(t.r, sv[0], reuse_reader, &t), 0);
  assert_int_equal(weft_reactor_add_writer(t.r, sv[0], count_io, &t.old_writes), 0);
  assert_int_equal(write(sv[1], "x", 1), 1); /* sv[0]: readable, and writable */
  assert_true(weft_reactor_drain_ex(t.r, 0, WEFT_DRAIN_NO_SPIN) >= 0);
  assert_int_equal(t.reads, 1);
  assert_int_equal(t.old_writes, 0); /* its writer was removed first */
  assert_int_equal(t.new_writes, 0);
  assert_true(weft_reactor_drain_ex(t.r, 0, WEFT_DRAIN_NO_SPIN) >= 0);
  assert_int_equal(t.new_writes, 0); /* and in a round of its own: never writable */
  assert_int_equal(weft_reactor_remove_writer(t.r, t.pipe[0]), 0);
  assert_int_equal(weft_reactor_detach(t.r), 0);
  assert_int_equal(weft_reactor_destroy(t.r), 0);
  close(t.pipe[0]);
  close(t.pipe[1]);
  close(sv[1]);
}

/* A descriptor closed before its reader is removed: weft/reactor.h asks
 * for the other order, but del tolerates this one for a descriptor whose
 * open file nobody shares (the close took it out of the epoll set; the
 * failed EPOLL_CTL_DEL is ignored, reactor_io.c). The number's next
 * descriptor is then watched like any other: a reader added on it runs
 * once it is readable. Fails if del keeps the old epoll mask (reactor_io.c:
 * `e->mask = 0` dropped): add finds the mask it wants already set,
 * registers nothing, and still answers 0; the reader never runs. */
static void closed_then_removed_number_is_watched_again(void **state) {
  (void)state;
  weft_reactor *r;
  int p[2], q[2], fd, old_reads = 0, reads = 0;
  assert_int_equal(pipe(p), 0);
  assert_int_equal(weft_reactor_create(&r), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  assert_int_equal(weft_reactor_add_reader(r, p[0], count_io, &old_reads), 0);
  int number = p[0];
  assert_int_equal(close(p[0]), 0);
  assert_int_equal(weft_reactor_remove_reader(r, number), 0);
  assert_int_equal(pipe(q), 0);
  assert_int_equal(q[0], number); /* the lowest free number: the one just closed */
  assert_int_equal(write(q[1], "x", 1), 1);
  assert_int_equal(weft_reactor_add_reader(r, q[0], count_io, &reads), 0);
  assert_true(weft_reactor_drain_ex(r, 0, WEFT_DRAIN_NO_SPIN) >= 0);
  assert_int_equal(reads, 1);
  assert_int_equal(old_reads, 0);
  assert_int_equal(weft_reactor_remove_reader(r, q[0]), 0);
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
  close(q[0]);
  close(q[1]);
  close(p[1]);
}

/* The events the epoll set epfd watches on descriptor number `fd` for,
 * read from /proc/self/fdinfo (its "tfd: N events: HEX" lines), or -1 if
 * the set holds no such number. */
static long epoll_events_of(int epfd, int fd) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/self/fdinfo/%d", epfd);
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  long events = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    int n;
    unsigned long ev;
    if (sscanf(line, "tfd: %d events: %lx", &n, &ev) == 2 && n == fd) events = (long)ev;
  }
  fclose(f);
  return events;
}

/* The same late removal, but attach comes between the close and the
 * removes: attach's timerfd takes the lowest free number, the closed one,
 * so that number names the reactor's own descriptor in the set now. The
 * late remove_reader and remove_writer must leave the timerfd's
 * registration alone (reactor_io.c del). Fails without the check there:
 * remove_reader's EPOLL_CTL_MOD leaves the timerfd watched for EPOLLOUT
 * only (a timerfd is never writable), remove_writer's EPOLL_CTL_DEL takes
 * it out of the set (epoll_events_of answers 0x1c, then -1): call_later
 * on the attached reactor never wakes the host again (host_loop's hang
 * guard). */
static void late_remove_leaves_the_timerfd(void **state) {
  (void)state;
  weft_reactor *r;
  int p[2], fd, reads = 0, writes = 0, done = 0;
  assert_int_equal(pipe(p), 0);
  assert_int_equal(weft_reactor_create(&r), 0);
  /* Before attach (the reactor-thread calls any single thread may make). */
  assert_int_equal(weft_reactor_add_reader(r, p[0], count_io, &reads), 0);
  assert_int_equal(weft_reactor_add_writer(r, p[0], count_io, &writes), 0);
  int number = p[0];
  assert_int_equal(close(p[0]), 0);
  assert_int_equal(weft_reactor_attach(r, &fd), 0);
  assert_int_equal(r->tfd, number); /* the lowest free number: the one just closed */
  long armed = epoll_events_of(fd, r->tfd);
  assert_true(armed >= 0 && (armed & EPOLLIN));
  assert_int_equal(weft_reactor_remove_reader(r, number), 0);
  assert_int_equal(epoll_events_of(fd, r->tfd), armed);
  assert_int_equal(weft_reactor_remove_writer(r, number), 0);
  assert_int_equal(epoll_events_of(fd, r->tfd), armed);
  /* The number is the reactor's own now: refused, as before the removes. */
  assert_int_equal(weft_reactor_add_reader(r, number, count_io, &reads), WEFT_EINVAL);
  /* Timers still wake the host. */
  assert_int_equal(weft_reactor_call_later(r, 0, fired, &done, NULL), 0);
  host_loop(r, fd, &done);
  assert_int_equal(done, 1);
  assert_int_equal(reads, 0);
  assert_int_equal(writes, 0);
  assert_int_equal(weft_reactor_detach(r), 0);
  assert_int_equal(weft_reactor_destroy(r), 0);
  close(p[1]);
}

/* detach from a "startup" trigger that attach fires answers WEFT_ESTATE:
 * the rest of the startup (call_when_running's calls) would otherwise run
 * after the shutdown, and attach would hand out a stopped reactor's fd. */
static int g_startup_detach_rc, g_cwr_ran, g_cwr_after_shutdown;
static void startup_detach(void *arg) { g_startup_detach_rc = weft_reactor_detach(arg); }
static void cwr(void *arg) {
  (void)arg;
  g_cwr_ran++;
  if (g_shut_done) g_cwr_after_shutdown++;
}

static void detach_inside_attach_refused(void **state) {
  (void)state;
  g_shut_done = g_cwr_ran = g_cwr_after_shutdown = 0;
  g_startup_detach_rc = 1;
  assert_int_equal(weft_reactor_create(&g_det_r), 0);
  assert_int_equal(
      weft_reactor_add_trigger(g_det_r, WEFT_AFTER, WEFT_SHUTDOWN, det_after_shutdown, NULL, NULL), 0);
  assert_int_equal(
      weft_reactor_add_trigger(g_det_r, WEFT_BEFORE, WEFT_STARTUP, startup_detach, g_det_r, NULL), 0);
  assert_int_equal(weft_reactor_call_when_running(g_det_r, cwr, NULL), 0);
  int fd;
  assert_int_equal(weft_reactor_attach(g_det_r, &fd), 0);
  assert_int_equal(g_startup_detach_rc, WEFT_ESTATE);
  assert_int_equal(g_shut_done, 0);
  assert_int_equal(g_cwr_ran, 1);
  assert_int_equal(weft_reactor_running(g_det_r), 1);
  assert_int_equal(weft_reactor_detach(g_det_r), 0); /* once attach returned */
  assert_int_equal(g_shut_done, 1);
  assert_int_equal(g_cwr_after_shutdown, 0);
  assert_int_equal(weft_reactor_destroy(g_det_r), 0);
}

/* weft_reactor_destroy polled on another thread (lifecycle.md: destroy may
 * be called from any thread once the reactor stopped) while the reactor
 * thread detaches, plainly or from a callback of its drain: detach and the
 * drain must not touch r once destroy may free it. Before the drain's
 * depth count was atomic, with its release decrement as the drain's last
 * access, TSan reported destroy's free against detach's read of in_drain
 * and against the drain's own writes, every run. */
typedef struct dpoll {
  weft_reactor *r;
  sync_t go;
  int rc;
} dpoll;

static void *dpoll_destroyer(void *arg) {
  dpoll *d = arg;
  gate_wait(&d->go);
  int rc;
  while ((rc = weft_reactor_destroy(d->r)) == WEFT_EBUSY) sched_yield();
  d->rc = rc;
  return NULL;
}

static void detach_with_destroy_polled_elsewhere(void **state) {
  (void)state;
  for (int i = 0; i < 5; i++) {
    dpoll d = {.rc = 99};
    sync_init(&d.go);
    int fd;
    assert_int_equal(weft_reactor_create(&d.r), 0);
    assert_int_equal(weft_reactor_attach(d.r, &fd), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, dpoll_destroyer, &d), 0);
    gate_open(&d.go);
    assert_int_equal(weft_reactor_detach(d.r), 0); /* r is not touched after this */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(d.rc, 0);
    sync_fini(&d.go);
  }
}

static void detach_in_drain_cb(void *arg) {
  dpoll *d = arg;
  d->rc = 98;
  int rc = weft_reactor_detach(d->r);
  if (rc != 0) d->rc = 97;
  gate_open(&d->go); /* detach returned: destroy may be polled now */
}

static void detach_from_drain_with_destroy_polled_elsewhere(void **state) {
  (void)state;
  for (int i = 0; i < 5; i++) {
    dpoll d = {.rc = 99};
    sync_init(&d.go);
    int fd;
    assert_int_equal(weft_reactor_create(&d.r), 0);
    assert_int_equal(weft_reactor_attach(d.r, &fd), 0);
    assert_int_equal(weft_reactor_call_from_thread(d.r, detach_in_drain_cb, &d), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, dpoll_destroyer, &d), 0);
    assert_int_equal(weft_reactor_drain(d.r), 1); /* r is not touched after this */
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(d.rc, 0);
    sync_fini(&d.go);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(timer_fires_on_attached_reactor),
      cmocka_unit_test(timers_before_attach_and_cancel),
      cmocka_unit_test(reader_writer_on_attached_reactor),
      cmocka_unit_test(drain_budget),
      cmocka_unit_test(drain_after_detach),
      cmocka_unit_test(call_after_detach_runs_in_destroy),
      cmocka_unit_test(nested_drain_refused),
      cmocka_unit_test(timer_detach_ends_drain),
      cmocka_unit_test(completion_detach_leaves_fd_quiet),
      cmocka_unit_test(timer_detach_leaves_fd_quiet),
      cmocka_unit_test(reader_detach_leaves_fd_quiet),
      cmocka_unit_test(detach_disarms_the_timerfd),
      cmocka_unit_test(detach_outside_drain_resets_the_eventfd),
      cmocka_unit_test(reader_detach_ends_drain),
      cmocka_unit_test(reader_detach_skips_its_writer),
      cmocka_unit_test(stale_writable_half_not_delivered),
      cmocka_unit_test(closed_then_removed_number_is_watched_again),
      cmocka_unit_test(late_remove_leaves_the_timerfd),
      cmocka_unit_test(detach_inside_attach_refused),
      cmocka_unit_test(fork_child_leaves_parent_timer),
      cmocka_unit_test(detach_with_destroy_polled_elsewhere),
      cmocka_unit_test(detach_from_drain_with_destroy_polled_elsewhere),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
