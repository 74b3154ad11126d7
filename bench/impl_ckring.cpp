// bench — the concurrencykit ck_ring pool (ckring_pool.c) on the five workloads.
#include "ckring_pool.h"
#include "workloads.hpp"

namespace wb {
namespace {

void fan_task(void *arg) { fan_body(static_cast<FanCtx *>(arg)); }

struct TreeEnv {
  ckpool *pool;
};
TreeEnv g_tree_env;  // one W5 run at a time per process

void tree_task(void *arg) {
  tree_body(static_cast<Level *>(arg), [](Level *child) {
    return ckpool_submit(g_tree_env.pool, tree_task, child);
  });
}

int warm_up(ckpool *pool, int size) {
  // Let every thread reach its first wait so start-up is not measured.
  FanCtx c(size * 4L, 0);
  for (int i = 0; i < size * 4; i++) {
    int rc = ckpool_submit(pool, fan_task, &c);
    if (rc != 0)
      return rc;
  }
  c.latch.wait();
  return 0;
}

int run(Workload w, int size, const Params &p, Sample &s) {
  ckpool *pool = nullptr;
  int rc = ckpool_create(&pool, size);
  if (rc != 0)
    return rc;
  rc = warm_up(pool, size);
  if (rc == 0) {
    switch (w) {
      case Workload::W1:
      case Workload::W4: {
        long n = w == Workload::W1 ? p.w1_tasks : p.w4_tasks;
        FanCtx c(n, w == Workload::W1 ? 0 : w4_iters(p));
        s.meter.start();
        long i = 0;
        for (; i < n && rc == 0; i++)
          rc = ckpool_submit(pool, fan_task, &c);
        if (rc != 0)
          c.latch.arrive_n(n - i + 1);
        s.meter.stop_at(c.latch.wait());
        s.tasks = n;
        break;
      }
      case Workload::W2:
        rc = run_w2_cq([pool](CqReq *r) { return ckpool_submit(pool, cq_complete, r); }, p, s);
        break;
      case Workload::W3:
        rc = run_w3_cq([pool](CqReq *r) { return ckpool_submit(pool, cq_complete, r); }, p, s);
        break;
      case Workload::W5: {
        TreeCtx t(p.w5_depth);
        g_tree_env.pool = pool;
        s.meter.start();
        rc = ckpool_submit(pool, tree_task, &t.levels[0]);
        if (rc != 0)
          t.latch.arrive_n(t.subtree(0));
        s.meter.stop_at(t.latch.wait());
        if (rc == 0)
          rc = t.err.load();
        s.tasks = p.w5_tasks();
        break;
      }
    }
  }
  if (rc == 0 && s.tasks > 0) {  // how often the bounded ring was full
    long backoffs = 0, spills = 0;
    ckpool_full_counts(pool, &backoffs, &spills);
    double k = 1000.0 / static_cast<double>(s.tasks);
    s.extra.emplace_back("full_backoffs_per_1k", k * static_cast<double>(backoffs));
    s.extra.emplace_back("spills_per_1k", k * static_cast<double>(spills));
  }
  ckpool_destroy(pool);
  return rc;
}

}  // namespace

const Impl impl_ckring = {"ckring",
                          "concurrencykit alone: one ck_ring MPMC queue of {fn, arg} slots "
                          "(4096), spin then futex parking woken only when a worker sleeps; "
                          "full ring: foreign submitter backs off, pool thread spills",
                          run, false};

}  // namespace wb
