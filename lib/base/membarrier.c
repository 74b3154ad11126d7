/*
 * weft — membarrier(2) (contract: lib/base/membarrier.h).
 */
#include "base/membarrier.h"

#include <errno.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "base/atomic.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
/* Written by init_once (under the once, which orders it for every caller of
 * ready()) and cleared, relaxed, when the command stops working for good:
 * a later engine then keeps its fences (the flag decides nothing else, and
 * the barrier that found the failure falls back on its own). */
static _Atomic bool ready;
/* Calls of weft__membarrier, for the tests (relaxed: a count, ordered by
 * nothing; the calls are rare). */
static _Atomic unsigned long calls;

unsigned long weft__membarrier_calls(void) { return weft__load_relaxed(&calls); }

static long membarrier(int cmd) {
  return syscall(__NR_membarrier, cmd, 0u, 0);
}

static bool register_expedited(void) {
  return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

static void init_once(void) {
  long cmds = membarrier(MEMBARRIER_CMD_QUERY);
  weft__store_relaxed(&ready, cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 &&
                                  register_expedited());
}

bool weft__membarrier_ready(void) {
  pthread_once(&once, init_once);
  return weft__load_relaxed(&ready);
}

void weft__membarrier(void) {
  weft__fetch_add_relaxed(&calls, 1);
  weft__fence_seq_cst(); /* our own side: the caller's stores before the barrier */
  for (unsigned tries = 0; tries < 1000; tries++) {
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
    if (errno == EPERM) {
      /* Not registered in this process (a child after fork). */
      (void)register_expedited();
    } else if (errno == ENOMEM || errno == EAGAIN) {
      /* The kernel could not allocate its CPU mask; it frees up. */
      struct timespec ts = {0, tries < 10 ? 1000L : 1000000L};
      nanosleep(&ts, NULL);
    } else {
      /* ENOSYS, EINVAL: refused for good (a seccomp filter installed after
       * the process saw the command work). Retrying cost every later call
       * about a second, with the engine mutex held by spawn.c's caller. */
      weft__store_relaxed(&ready, false);
      break;
    }
  }
  /* The global command (an RCU grace period, no registration, no
   * allocation) gives the same guarantee, slower. If even that is refused,
   * what is left is the store buffer's own draining, which takes
   * nanoseconds: the window for the lost wake-up that the barrier closes
   * (docs/design.md E5.4). */
  (void)membarrier(MEMBARRIER_CMD_GLOBAL);
}
