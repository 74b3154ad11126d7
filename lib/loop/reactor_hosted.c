/*
 * weft — a reactor attached to a foreign loop (weft_reactor_attach): the
 * fd the host loop watches is the reactor's own epoll fd, so everything a
 * reactor does is served there too:
 *   - completions: the eventfd, registered in the epoll set since create;
 *   - timers: a timerfd in the same set, armed (absolute, CLOCK_MONOTONIC,
 *     the clock call_later uses) for the earliest pending call_later, so
 *     the epoll fd turns readable when a timer is due and the host loop
 *     calls weft_reactor_drain, which runs it — nothing is asked of the
 *     host loop but "call drain when this fd is readable";
 *   - readers and writers: registered in the same set, as under
 *     weft_reactor_run; drain polls the set (timeout 0) and dispatches.
 * An epoll fd is readable while any fd in its set is ready (level
 * triggered), so a reader that leaves data unread keeps the host calling
 * drain, as it would keep weft_reactor_run's loop turning.
 * Reactor thread only, but weft__reactor_stop_enter (any thread: a stop's
 * side of the detach's wait for the producers).
 */
#include <errno.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "loop/reactor_state.h"

int weft__hosted_setup(weft_reactor *r) {
  if (r->tfd >= 0) return WEFT_OK;
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tfd < 0) return errno == EMFILE || errno == ENFILE || errno == ENOMEM ? WEFT_ENOMEM
                                                                           : WEFT_ENOTSUP;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = tfd};
  if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, tfd, &ev) != 0) {
    close(tfd);
    return WEFT_ENOMEM;
  }
  r->tfd = tfd;
  return WEFT_OK;
}

int weft__reactor_stop_enter(weft_reactor *r) {
  /* Relaxed: the caller's release CAS of stop_requested publishes the
   * increment (run's acquire of the flag, then destroy's wait). */
  weft__fetch_add_relaxed(&r->pushers, 1);
  /* seq_cst fence: orders our count before the re-read of the state; pairs
   * with the fence in shutdown_sequence (a detach) after its store of
   * R_STOPPING and before its wait for pushers == 0
   * (weft__hosted_detach). Either that wait sees our count, and waits for
   * our eventfd write before its reset, or we see the state the shutdown
   * stored and write nothing. Without the re-read, a stop that saw
   * RUNNING before the detach and counted itself after its wait wrote
   * the eventfd after the reset: the host's fd readable for good
   * (tests/test_reactor_stop_detach.c, models/reactor_attach.pml). */
  weft__fence_seq_cst();
  if (weft__load_relaxed(&r->state) == R_RUNNING) return 1;
  /* Release: our accesses to r happen before destroy's acquire load of
   * pushers reads zero (weft__reactor_quiesce_pushers). */
  weft__fetch_sub_acq_rel(&r->pushers, 1);
  return 0;
}

void weft__hosted_detach(weft_reactor *r) {
  /* The producers that read sleeping == 1 write the eventfd after their
   * link: their nodes were drained by the caller, so the wait sees them. */
  weft__reactor_quiesce_pushers(r);
  weft__hosted_arm(r);
  weft__reactor_wake_read(r);
}

void weft__hosted_free(weft_reactor *r) {
  if (r->tfd >= 0) close(r->tfd);
  r->tfd = -1;
}

void weft__hosted_arm(weft_reactor *r) {
  if (!r->hosted || r->tfd < 0) return;
  struct itimerspec its = {0}; /* all zero: disarm */
  double when;
  /* Stopping or detached: the timers left never run (a call_later made
   * now neither), so nothing is to wake the host for them. Relaxed: the
   * reactor thread's own store. */
  if (weft__load_relaxed(&r->state) == R_RUNNING && weft__timers_earliest(r, &when)) {
    if (when <= 0) when = 1e-9; /* 0 would disarm: "due now" is the epoch's first ns */
    /* A delay of INFINITY or 1e300 would overflow time_t (undefined): a
     * century is "never" for a timerfd. */
    if (!(when < 3.2e9)) when = 3.2e9;
    its.it_value.tv_sec = (time_t)when; /* when > 0: truncation is floor */
    its.it_value.tv_nsec = (long)((when - (double)its.it_value.tv_sec) * 1e9);
    if (its.it_value.tv_nsec >= 1000000000L) its.it_value.tv_nsec = 999999999L;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  }
  (void)timerfd_settime(r->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void weft__hosted_poll(weft_reactor *r) {
  struct epoll_event evs[64];
  int n = epoll_wait(r->epfd, evs, 64, 0);
  struct epoll_event *saved;
  int saved_n;
  weft__io_batch_begin(r, evs, n, &saved, &saved_n);
  for (int i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    if (fd == r->evfd) continue; /* drain resets it itself */
    if (fd == r->tfd) {
      uint64_t expirations;
      (void)!read(r->tfd, &expirations, sizeof expirations); /* EAGAIN: re-armed meanwhile */
      continue; /* the timers run after the completions */
    }
    weft__io_dispatch(r, fd, evs[i].events);
    /* A reader or writer detached: the shutdown ran; the rest of the batch
     * would run callbacks after it (drain stops too). */
    if (weft__load_relaxed(&r->state) != R_RUNNING) break;
  }
  weft__io_batch_end(r, saved, saved_n);
}
