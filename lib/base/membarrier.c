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
static bool ready;

static long membarrier(int cmd) {
  return syscall(__NR_membarrier, cmd, 0u, 0);
}

static bool register_expedited(void) {
  return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

static void init_once(void) {
  long cmds = membarrier(MEMBARRIER_CMD_QUERY);
  ready = cmds > 0 && (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0 && register_expedited();
}

bool weft__membarrier_ready(void) {
  pthread_once(&once, init_once);
  return ready;
}

void weft__membarrier(void) {
  weft__fence_seq_cst(); /* our own side: the caller's stores before the barrier */
  for (unsigned tries = 0; tries < 1000; tries++) {
    if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return;
    /* EPERM: not registered in this process (a child after fork). ENOMEM:
     * the kernel could not allocate its CPU mask; it frees up. */
    if (errno == EPERM) {
      (void)register_expedited();
    } else {
      struct timespec ts = {0, tries < 10 ? 1000L : 1000000L};
      nanosleep(&ts, NULL);
    }
  }
  /* About a second of failures: the global command (an RCU grace period,
   * no registration, no allocation) gives the same guarantee, slower. If
   * even that is refused, what is left is the store buffer's own draining,
   * which takes nanoseconds: the window for the lost wake-up that the
   * barrier closes (docs/design.md E5.4). */
  (void)membarrier(MEMBARRIER_CMD_GLOBAL);
}
