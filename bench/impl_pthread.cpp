// bench — the textbook pthread pool (pthread_pool.c) on the five workloads.
#include "pthread_pool.h"
#include "workloads.hpp"

namespace wb {
namespace {

void fan_task(void *arg) { fan_body(static_cast<FanCtx *>(arg)); }

struct TreeEnv {
  ptpool *pool;
};
TreeEnv g_tree_env;  // one W5 run at a time per process

void tree_task(void *arg) {
  tree_body(static_cast<Level *>(arg), [](Level *child) {
    return ptpool_submit(g_tree_env.pool, tree_task, child);
  });
}

int warm_up(ptpool *pool, int size) {
  // Let every thread reach its first wait so start-up is not measured.
  FanCtx c(size * 4L, 0);
  for (int i = 0; i < size * 4; i++) {
    int rc = ptpool_submit(pool, fan_task, &c);
    if (rc != 0)
      return rc;
  }
  c.latch.wait();
  return 0;
}

int run(Workload w, int size, const Params &p, Sample &s) {
  ptpool *pool = nullptr;
  int rc = ptpool_create(&pool, size);
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
          rc = ptpool_submit(pool, fan_task, &c);
        if (rc != 0)
          c.latch.arrive_n(n - i + 1);
        s.meter.stop_at(c.latch.wait());
        s.tasks = n;
        break;
      }
      case Workload::W2:
        rc = run_w2_cq([pool](CqReq *r) { return ptpool_submit(pool, cq_complete, r); }, p, s);
        break;
      case Workload::W3:
        rc = run_w3_cq([pool](CqReq *r) { return ptpool_submit(pool, cq_complete, r); }, p, s);
        break;
      case Workload::W5: {
        TreeCtx t(p.w5_depth);
        g_tree_env.pool = pool;
        s.meter.start();
        rc = ptpool_submit(pool, tree_task, &t.levels[0]);
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
  ptpool_destroy(pool);
  return rc;
}

}  // namespace

const Impl impl_pthread = {"pthread",
                           "textbook pool: one mutex + condvar around a malloc'ed FIFO, "
                           "cond_signal per submit; W2/W3 reply via mutex queue + eventfd",
                           run, false};

}  // namespace wb
