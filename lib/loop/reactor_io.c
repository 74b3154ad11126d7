/*
 * weft — the reactor's file descriptors (addReader/addWriter): one table
 * entry per fd, level-triggered epoll interest kept equal to the set of
 * registered callbacks. Reactor thread only.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "loop/reactor_state.h"

static weft__fd_entry *entry_for(weft_reactor *r, int fd, int grow) {
  if (fd < r->nfds) return &r->fds[fd];
  if (!grow) return NULL;
  /* size_t: doubling an int past 2^30 overflowed (and looped for ever). */
  size_t n = r->nfds ? (size_t)r->nfds : 64;
  while (n <= (size_t)fd) n *= 2;
  if (n > (size_t)INT_MAX) n = (size_t)fd + 1; /* fd < INT_MAX: add() checked it is open */
  weft__fd_entry *v = weft__calloc((size_t)n, sizeof *v);
  if (v == NULL) return NULL;
  if (r->nfds) memcpy(v, r->fds, (size_t)r->nfds * sizeof *v);
  /* Stored before the old table is freed, for a fork in between (as in
   * reactor_trigger.c's add). */
  weft__fd_entry *old = r->fds;
  r->fds = v;
  r->nfds = (int)n;
  weft__fence_signal();
  weft__free(old);
  return &r->fds[fd];
}

static int update(weft_reactor *r, int fd, weft__fd_entry *e) {
  uint32_t want = (e->rfn ? EPOLLIN : 0) | (e->wfn ? EPOLLOUT : 0);
  if (want == e->mask) return WEFT_OK;
  struct epoll_event ev = {.events = want, .data.fd = fd};
  int op = e->mask == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;
  /* ENOSPC: the user's epoll watches reached max_user_watches (a share of
   * memory), a lack of resources like ENOMEM, not a bad descriptor (the
   * reactor's own descriptors that cannot be had are WEFT_ENOMEM too). */
  if (epoll_ctl(r->epfd, op, fd, &ev) != 0)
    return errno == ENOMEM || errno == ENOSPC ? WEFT_ENOMEM : WEFT_EINVAL;
  e->mask = want;
  return WEFT_OK;
}

/* No memory for fd's entry (the table grows before epoll is asked): a
 * descriptor epoll refuses whatever the memory is WEFT_EINVAL, as with
 * memory (weft/reactor.h). epoll_ctl(2) refuses a regular file and a
 * directory (EPERM), which fstat tells without touching the epoll set. */
static __attribute__((noinline)) int add_no_memory(int fd) {
  struct stat st;
  if (fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return WEFT_EINVAL;
  return WEFT_ENOMEM;
}

static int add(weft_reactor *r, int fd, weft_io_fn fn, void *ctx, int writer) {
  if (r == NULL || fn == NULL || fd < 0 || fd == r->evfd || fd == r->tfd || fd == r->epfd)
    return WEFT_EINVAL;
  if (weft__load_relaxed(&r->forked)) return WEFT_ESTATE; /* a child of fork: no epoll set */
  /* Not an open descriptor: refused before the table grows to its number
   * (a stray 10^9 would ask for gigabytes first; epoll_ctl refuses it only
   * after). */
  if (fd >= r->nfds && fcntl(fd, F_GETFD) < 0) return WEFT_EINVAL;
  weft__fd_entry *e = entry_for(r, fd, 1);
  if (e == NULL) return add_no_memory(fd);
  weft__fd_entry old = *e;
  if (writer) {
    e->wfn = fn;
    e->wctx = ctx;
  } else {
    e->rfn = fn;
    e->rctx = ctx;
  }
  int rc = update(r, fd, e);
  if (rc != 0) *e = old;
  return rc;
}

static int del(weft_reactor *r, int fd, int writer) {
  if (r == NULL || fd < 0) return WEFT_EINVAL;
  weft__fd_entry *e = entry_for(r, fd, 0);
  if (e == NULL || (writer ? e->wfn : e->rfn) == NULL) return WEFT_EALREADY;
  if (writer) e->wfn = NULL;
  else e->rfn = NULL;
  /* DEL of a descriptor already closed fails, and is not needed when no
   * other descriptor shares its open file (the kernel dropped it from the
   * set at the close). When one does (a dup, a child's copy), the
   * registration stays and its events keep coming: remove before close
   * (weft/reactor.h).
   * A number that names one of the reactor's own descriptors now (add
   * refuses those) is a stale entry: its descriptor was closed before
   * attach, whose timerfd took the lowest free number. epoll_ctl on it
   * would reach the timerfd's registration (MOD to EPOLLOUT, or DEL), and
   * the attached reactor's timers would never wake the host again. */
  if (fd == r->evfd || fd == r->tfd || fd == r->epfd) {
    /* Nothing of the entry is registered. The number's events are the
     * reactor's own, never dispatched to an entry (dispatch and
     * hosted_poll take them first): no batch entry to blank. */
    e->mask = 0;
    return WEFT_OK;
  }
  (void)update(r, fd, e);
  if (e->rfn == NULL && e->wfn == NULL) {
    e->mask = 0;
    /* Its callbacks are gone: events already read for it in the batch
     * under way are stale. The number may be reused (close, then a new
     * socket) before the loop reaches them (libuv's
     * uv__platform_invalidate_fd). */
    e->gen++;
    for (int i = 0; i < r->io_batch_n; i++)
      if (r->io_batch[i].data.fd == fd) r->io_batch[i].data.fd = -1;
  }
  return WEFT_OK;
}

WEFT_API int weft_reactor_add_reader(weft_reactor *r, int fd, weft_io_fn fn, void *ctx) {
  return add(r, fd, fn, ctx, 0);
}
WEFT_API int weft_reactor_add_writer(weft_reactor *r, int fd, weft_io_fn fn, void *ctx) {
  return add(r, fd, fn, ctx, 1);
}
WEFT_API int weft_reactor_remove_reader(weft_reactor *r, int fd) { return del(r, fd, 0); }
WEFT_API int weft_reactor_remove_writer(weft_reactor *r, int fd) { return del(r, fd, 1); }

void weft__io_dispatch(weft_reactor *r, int fd, uint32_t events) {
  if (fd < 0) return; /* blanked: its callbacks went during this batch (del) */
  weft__fd_entry *e = entry_for(r, fd, 0);
  if (e == NULL) return;
  int err = (events & (EPOLLERR | EPOLLHUP)) ? WEFT_IOERR : 0;
  uint32_t gen = e->gen;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && e->rfn) {
    e->rfn(e->rctx, fd, WEFT_READABLE | err);
  }
  /* The reader forked and returns in the child: the writer is the parent's. */
  if (weft__load_relaxed(&r->forked)) return;
  /* The reader ended the reactor (detach on an attached one): nothing else
   * of this drain runs after the shutdown, the same descriptor's writer
   * included. Under weft_reactor_run the state stays running until the
   * loop ends. Relaxed: the reactor thread's own store. */
  if (weft__load_relaxed(&r->state) != R_RUNNING) return;
  e = entry_for(r, fd, 0); /* the reader may have grown the table */
  /* The reader removed every callback of fd (and may have closed it and
   * opened another descriptor with its number): the event is stale. */
  if (e->gen != gen) return;
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && e->wfn) {
    e->wfn(e->wctx, fd, WEFT_WRITABLE | err);
  }
}

void weft__io_batch_begin(weft_reactor *r, struct epoll_event *evs, int n,
                          struct epoll_event **saved, int *saved_n) {
  *saved = r->io_batch;
  *saved_n = r->io_batch_n;
  r->io_batch = evs;
  r->io_batch_n = n > 0 ? n : 0;
}

void weft__io_batch_end(weft_reactor *r, struct epoll_event *saved, int saved_n) {
  r->io_batch = saved;
  r->io_batch_n = saved_n;
}

void weft__io_free(weft_reactor *r) {
  weft__free(r->fds);
  r->fds = NULL;
  r->nfds = 0;
}
