// bench — the task bodies and drivers shared by the implementations, so that
// every pool runs exactly the same work and is timed at the same points.
#ifndef BENCH_WORKLOADS_HPP
#define BENCH_WORKLOADS_HPP

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <string>

#include "completion_queue.h"
#include "harness.hpp"

namespace wb {

// W1 / W4: n independent tasks; each arrives at the latch when done.
// Cache-line aligned, whole lines (the Latch's counter has one of its own):
// it lives on the submitter's stack (or, where it must outlive the pool for
// verify_latch, on the heap), and the tasks must share no line with the
// submitter's frame, which the submitter writes on every call.
struct alignas(64) FanCtx {
  uint64_t iters;  // 0 for W1's empty task; read by every task, never written
  Latch latch;
  FanCtx(long n, uint64_t spin_iters) : iters(spin_iters), latch(n) {}
};
inline void fan_body(FanCtx *c) {
  if (c->iters != 0)
    spin(c->iters);
  c->latch.arrive();
}
inline uint64_t w4_iters(const Params &p) {
  return static_cast<uint64_t>(std::llround(p.w4_task_us * spin_iters_per_us()));
}

// Every task ran exactly once: call once the pool is joined (or every task
// has returned), with the latch that counted n tasks. 0, or -EPROTO with the
// reason in s.error.
inline int verify_latch(const Latch &l, long n, Sample &s) {
  long left = l.remaining();
  if (left == 0)
    return 0;
  s.error = std::to_string(n - left) + " task runs for " + std::to_string(n) + " tasks" +
            (left < 0 ? " (a task ran more than once)" : " (a task never ran)");
  return -EPROTO;
}
// W2/W3: the loop saw exactly the completions the workload asks for.
inline int verify_count(long got, long want, Sample &s) {
  if (got == want)
    return 0;
  s.error = std::to_string(got) + " completions for " + std::to_string(want) + " requests";
  return -EPROTO;
}

// W5: a complete binary tree of tasks; a task at depth d < max spawns two
// children from inside the worker. Every depth shares one Level record, so
// the argument of every task is static and nothing is allocated per task.
struct TreeCtx;
struct Level {
  TreeCtx *tree;
  int depth;
};
struct TreeCtx {
  Latch latch;
  int max_depth;
  std::atomic<int> err{0};
  Level levels[40];
  explicit TreeCtx(int depth) : latch((2L << depth) - 1), max_depth(depth) {
    for (int d = 0; d < 40; d++)
      levels[d] = Level{this, d};
  }
  long subtree(int depth) const { return (2L << (max_depth - depth)) - 1; }
};
// spawn(Level*) submits one child task and returns 0 or a negative code.
template <class Spawn>
inline void tree_body(Level *l, Spawn &&spawn) {
  TreeCtx *t = l->tree;
  if (l->depth < t->max_depth) {
    Level *child = &t->levels[l->depth + 1];
    for (int i = 0; i < 2; i++) {
      int rc = spawn(child);
      if (rc != 0) {  // keep the count exact so the waiter never hangs
        t->err.store(rc, std::memory_order_relaxed);
        t->latch.arrive_n(t->subtree(child->depth));
      }
    }
  }
  t->latch.arrive();
}

// Tasks under heap index c in a heap-ordered array of n nodes (children of i:
// 2i+1, 2i+2): what a failed spawn at c must still count as arrived.
inline long heap_subtree(size_t c, size_t n) {
  long k = 0;
  for (size_t lo = c, hi = c; lo < n; lo = 2 * lo + 1, hi = 2 * hi + 2)
    k += static_cast<long>(std::min(hi, n - 1) - lo + 1);
  return k;
}

// Round trips through a completion_queue (the textbook loop hand-off):
// the worker pushes the request back, the loop thread polls the eventfd.
struct CqReq {
  completion_node node;  // first: the queue hands back this address
  completion_queue *q;
  double t_submit;
};
inline void cq_complete(void *arg) {
  CqReq *r = static_cast<CqReq *>(arg);
  completion_queue_push(r->q, &r->node);
}

// submit(CqReq*) queues cq_complete(req) on the pool: 0 or a negative code.
template <class Submit>
int run_w2_cq(Submit &&submit, const Params &p, Sample &s) {
  completion_queue q;
  int rc = completion_queue_init(&q);
  if (rc != 0)
    return rc;
  CqReq req{};
  req.q = &q;
  s.latency_us.reserve(static_cast<size_t>(p.w2_trips));
  s.meter.start();
  for (long i = 0; i < p.w2_trips && rc == 0; i++) {
    req.t_submit = now_s();
    rc = submit(&req);
    if (rc != 0)
      break;
    while (completion_queue_wait(&q) == nullptr) {
    }
    s.latency_us.push_back((now_s() - req.t_submit) * 1e6);
  }
  s.meter.stop();
  s.tasks = static_cast<long>(s.latency_us.size());
  completion_queue_destroy(&q);
  return rc;
}

template <class Submit>
int run_w3_cq(Submit &&submit, const Params &p, Sample &s) {
  completion_queue q;
  int rc = completion_queue_init(&q);
  if (rc != 0)
    return rc;
  std::vector<CqReq> slots(static_cast<size_t>(p.w3_inflight));
  for (auto &r : slots)
    r.q = &q;
  long submitted = 0, completed = 0, outstanding = 0;
  s.meter.start();
  for (auto &r : slots) {
    if (submitted == p.w3_total || (rc = submit(&r)) != 0)
      break;
    submitted++;
    outstanding++;
  }
  while (outstanding > 0) {
    for (completion_node *n = completion_queue_wait(&q); n != nullptr;) {
      completion_node *next = n->next;  // read before the node is resubmitted
      completed++;
      outstanding--;
      if (rc == 0 && submitted < p.w3_total) {
        rc = submit(reinterpret_cast<CqReq *>(n));
        if (rc == 0) {
          submitted++;
          outstanding++;
        }
      }
      n = next;
    }
  }
  s.meter.stop();
  s.tasks = completed;
  completion_queue_destroy(&q);
  return rc;
}

}  // namespace wb

#endif  // BENCH_WORKLOADS_HPP
