// bench — oneTBB on the five workloads.
//
// W1/W4/W5 use tbb::task_group inside a task_arena of concurrency `size`.
// TBB counts the thread that waits on the group as one of those `size`
// threads (it runs tasks while it waits), so "size N" is N-1 worker threads
// plus the submitter: TBB's own model, kept as is. W2/W3 need a submitter
// that never joins: task_arena::enqueue into an arena with `size` worker
// slots, results returned through the harness's mutex queue + eventfd
// (bench/completion_queue.h: one write per wake-up, as the pthread pool's).
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_group.h>

#include "workloads.hpp"

namespace wb {
namespace {

void ensure_oversubscription() {
  // TBB caps its worker threads at the number of cores by default; the
  // harness measures pools larger than the machine on purpose. The cap is
  // on all threads, the submitter included (cap - 1 workers): room for the
  // largest size --wb-sizes takes, whose W2/W3 arena has that many worker
  // slots. (It was 256: an arena of 300 ran 256 threads at most, and TBB
  // said so only in a warning.)
  static tbb::global_control gc(tbb::global_control::max_allowed_parallelism,
                                static_cast<size_t>(kMaxPoolSize) + 1);
  (void)gc;
}

void warm_up(tbb::task_arena &arena, int size) {
  arena.execute([&] {
    tbb::task_group tg;
    FanCtx c(size * 8L, 0);
    for (int i = 0; i < size * 8; i++)
      tg.run([&c] { spin(2000); fan_body(&c); });
    tg.wait();
  });
}

void tree_task(tbb::task_group &tg, Level *l) {
  tree_body(l, [&tg](Level *child) {
    tg.run([&tg, child] { tree_task(tg, child); });
    return 0;
  });
}

int run(Workload w, int size, const Params &p, Sample &s) {
  ensure_oversubscription();
  int rc = 0;
  switch (w) {
    case Workload::W1:
    case Workload::W4: {
      tbb::task_arena arena(size);
      warm_up(arena, size);
      long n = w == Workload::W1 ? p.w1_tasks : p.w4_tasks;
      FanCtx c(n, w == Workload::W1 ? 0 : w4_iters(p));
      tbb::task_group tg;
      s.meter.start();
      arena.execute([&] {
        for (long i = 0; i < n; i++)
          tg.run([&c] { fan_body(&c); });
        tg.wait();
      });
      s.meter.stop_at(c.latch.wait());
      s.tasks = n;
      rc = verify_latch(c.latch, n, s);  // tg.wait(): every task returned
      break;
    }
    case Workload::W5: {
      tbb::task_arena arena(size);
      warm_up(arena, size);
      TreeCtx t(p.w5_depth);
      tbb::task_group tg;
      s.meter.start();
      arena.execute([&] {
        tg.run([&tg, &t] { tree_task(tg, &t.levels[0]); });
        tg.wait();
      });
      s.meter.stop_at(t.latch.wait());
      s.tasks = p.w5_tasks();
      rc = verify_latch(t.latch, s.tasks, s);  // tg.wait(): every task returned
      break;
    }
    case Workload::W2:
    case Workload::W3: {
      tbb::task_arena arena(size, 0);  // all slots for workers
      warm_up(arena, size);
      auto submit = [&arena](CqReq *r) {
        arena.enqueue([r] { cq_complete(r); });
        return 0;
      };
      rc = w == Workload::W2 ? run_w2_cq(submit, p, s) : run_w3_cq(submit, p, s);
      break;
    }
  }
  return rc;
}

}  // namespace

const Impl impl_tbb = {"tbb",
                       "oneTBB task_group in a task_arena(N) (the waiting submitter is one of "
                       "the N); W2/W3: arena.enqueue + mutex queue/eventfd (coalesced)",
                       run, false};

}  // namespace wb
