// bench — the concurrencykit ck_ring pool (ckring_pool.c) on the five workloads.
#include "ckring_pool.h"
#include "fn_pool_runner.hpp"

namespace wb {
namespace {

struct CkringOps {
  using Pool = ckpool;
  static int create(ckpool **out, int size) { return ckpool_create(out, size); }
  static int submit(ckpool *p, void (*fn)(void *), void *arg) { return ckpool_submit(p, fn, arg); }
  static void destroy(ckpool *p) { ckpool_destroy(p); }
  static void report(ckpool *pool, Sample &s) {  // how often the bounded ring was full
    long backoffs = 0, spills = 0;
    ckpool_full_counts(pool, &backoffs, &spills);
    double k = 1000.0 / static_cast<double>(s.tasks);
    s.extra.emplace_back("full_backoffs_per_1k", k * static_cast<double>(backoffs));
    s.extra.emplace_back("spills_per_1k", k * static_cast<double>(spills));
  }
};

}  // namespace

// Not W5. In W5 every worker is a producer, and ck_ring's MPMC enqueue
// commits in order: a producer preempted between its CAS on p_head and its
// store to p_tail holds every later producer spinning (no yield) until it
// runs again. With more workers than cores that is a convoy of time slices
// per commit: W5 at 8 workers on 2 cores ran past the 60 s cell limit on an
// idle machine, and a cell that does not finish ends the whole run
// (docs/performance.md, "Instructions per task", the ckring paragraph).
const Impl impl_ckring = {"ckring",
                          "concurrencykit alone: one ck_ring MPMC queue of {fn, arg} slots "
                          "(4096), spin then futex parking woken only when a worker sleeps; "
                          "full ring: foreign submitter backs off, pool thread spills; "
                          "W1-W4 only (W5's producers convoy on the in-order commit)",
                          FnPoolRunner<CkringOps>::run, false,
                          kAllWorkloads & ~workload_bit(Workload::W5)};

}  // namespace wb
