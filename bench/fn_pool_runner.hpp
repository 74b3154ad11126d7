// bench — the five workloads on any pool whose whole API is
// create(&pool, size) / submit(pool, fn, arg) / destroy(pool), with
// void (*fn)(void *): the textbook pthread pool and the ck_ring pool share
// this runner; each supplies its three calls (and, optionally, extra
// figures to report after a run).
#ifndef WB_FN_POOL_RUNNER_HPP
#define WB_FN_POOL_RUNNER_HPP

#include <memory>

#include "workloads.hpp"

namespace wb {

// Ops: struct with `using Pool = ...;` and static create, submit, destroy,
// and report(Pool *, Sample &) (may do nothing).
template <class Ops>
struct FnPoolRunner {
  using Pool = typename Ops::Pool;
  static inline Pool *tree_pool;  // one W5 run at a time per process

  static void fan_task(void *arg) { fan_body(static_cast<FanCtx *>(arg)); }

  static void tree_task(void *arg) {
    tree_body(static_cast<Level *>(arg),
              [](Level *child) { return Ops::submit(tree_pool, tree_task, child); });
  }

  static int warm_up(Pool *pool, int size) {
    // Let every thread reach its first wait so start-up is not measured.
    FanCtx c(size * 4L, 0);
    for (int i = 0; i < size * 4; i++) {
      int rc = Ops::submit(pool, fan_task, &c);
      if (rc != 0) {
        // The tasks queued so far hold &c: wait for them before c goes
        // (as weft's warm_up does), counting the ones never submitted.
        c.latch.arrive_n(size * 4L - i);
        c.latch.wait();
        return rc;
      }
    }
    c.latch.wait();
    return 0;
  }

  static int run(Workload w, int size, const Params &p, Sample &s) {
    Pool *pool = nullptr;
    int rc = Ops::create(&pool, size);
    if (rc != 0)
      return rc;
    rc = warm_up(pool, size);
    // The tasks' contexts outlive the pool: their latch is checked once
    // the threads are joined (every task ran exactly once).
    std::unique_ptr<FanCtx> fan;
    std::unique_ptr<TreeCtx> tree;
    if (rc == 0) {
      switch (w) {
        case Workload::W1:
        case Workload::W4: {
          long n = w == Workload::W1 ? p.w1_tasks : p.w4_tasks;
          fan.reset(new FanCtx(n, w == Workload::W1 ? 0 : w4_iters(p)));
          FanCtx &c = *fan;
          s.meter.start();
          long i = 0;
          for (; i < n && rc == 0; i++)
            rc = Ops::submit(pool, fan_task, &c);
          if (rc != 0)
            c.latch.arrive_n(n - i + 1);
          s.meter.stop_at(c.latch.wait());
          s.tasks = n;
          break;
        }
        case Workload::W2:
          rc = run_w2_cq([pool](CqReq *r) { return Ops::submit(pool, cq_complete, r); }, p, s);
          break;
        case Workload::W3:
          rc = run_w3_cq([pool](CqReq *r) { return Ops::submit(pool, cq_complete, r); }, p, s);
          break;
        case Workload::W5: {
          tree.reset(new TreeCtx(p.w5_depth));
          TreeCtx &t = *tree;
          tree_pool = pool;
          s.meter.start();
          rc = Ops::submit(pool, tree_task, &t.levels[0]);
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
    if (rc == 0 && s.tasks > 0)
      Ops::report(pool, s);
    Ops::destroy(pool);
    if (rc == 0 && fan)
      rc = verify_latch(fan->latch, s.tasks, s);
    if (rc == 0 && tree)
      rc = verify_latch(tree->latch, s.tasks, s);
    return rc;
  }
};

}  // namespace wb

#endif  // WB_FN_POOL_RUNNER_HPP
