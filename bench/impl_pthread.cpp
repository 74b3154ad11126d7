// bench — the textbook pthread pool (pthread_pool.c) on the five workloads.
#include "fn_pool_runner.hpp"
#include "pthread_pool.h"

namespace wb {
namespace {

struct PthreadOps {
  using Pool = ptpool;
  static int create(ptpool **out, int size) { return ptpool_create(out, size); }
  static int submit(ptpool *p, void (*fn)(void *), void *arg) { return ptpool_submit(p, fn, arg); }
  static void destroy(ptpool *p) { ptpool_destroy(p); }
  static void report(ptpool *, Sample &) {}
};

}  // namespace

const Impl impl_pthread = {"pthread",
                           "textbook pool: one mutex + condvar around a malloc'ed FIFO, "
                           "cond_signal per submit; W2/W3 reply via mutex queue + eventfd "
                           "(written only when the queue was empty)",
                           FnPoolRunner<PthreadOps>::run, false};

}  // namespace wb
