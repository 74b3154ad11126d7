// bench — GLib's GThreadPool on the five workloads. W2/W3 hand results back
// the GLib way: g_main_context_invoke() from the worker onto a GMainContext
// that the loop thread owns and iterates.
#include <glib.h>

#include <atomic>
#include <cerrno>
#include <memory>

#include "workloads.hpp"

namespace wb {
namespace {

void fan_task(gpointer data, gpointer) { fan_body(static_cast<FanCtx *>(data)); }

// A GThreadPool has one function: the warm-up's tasks reach the W2/W3/W5
// functions too, which tell them by this pointer (set only while no timed
// task is queued).
std::atomic<FanCtx *> g_warm{nullptr};

GThreadPool *g_tree_pool;  // one W5 run at a time per process
void tree_task(gpointer data, gpointer) {
  if (data == g_warm.load(std::memory_order_relaxed))
    return fan_task(data, nullptr);
  tree_body(static_cast<Level *>(data), [](Level *child) {
    return g_thread_pool_push(g_tree_pool, child, nullptr) ? 0 : -EAGAIN;
  });
}

struct GLoopRun {
  GMainContext *ctx;
  GThreadPool *pool;
  const Params *p;
  Sample *s;
  long submitted = 0, completed = 0, total = 0;
  bool pipelined = false;
  int err = 0;
};
struct GReq {
  GLoopRun *run;
  double t_submit;
};
gboolean trip_done(gpointer data) {  // on the loop thread
  GReq *r = static_cast<GReq *>(data);
  GLoopRun *lr = r->run;
  lr->completed++;
  if (!lr->pipelined)
    lr->s->latency_us.push_back((now_s() - r->t_submit) * 1e6);
  if (lr->err == 0 && lr->submitted < lr->total) {
    if (!lr->pipelined)  // W3 times the whole run, not each trip
      r->t_submit = now_s();
    if (g_thread_pool_push(lr->pool, r, nullptr))
      lr->submitted++;
    else
      lr->err = -EAGAIN;
  }
  return G_SOURCE_REMOVE;
}
void trip_task(gpointer data, gpointer) {
  if (data == g_warm.load(std::memory_order_relaxed))
    return fan_task(data, nullptr);
  GReq *r = static_cast<GReq *>(data);
  g_main_context_invoke(r->run->ctx, trip_done, r);
}

int run(Workload w, int size, const Params &p, Sample &s) {
  GFunc fn = w == Workload::W5   ? tree_task
             : (w == Workload::W2 || w == Workload::W3) ? trip_task
                                                        : fan_task;
  GError *gerr = nullptr;
  // exclusive = TRUE: `size` threads of the pool's own, started now.
  GThreadPool *pool = g_thread_pool_new(fn, nullptr, size, TRUE, &gerr);
  if (pool == nullptr || gerr != nullptr) {
    // GLib may return a pool that started fewer threads than asked (and
    // set gerr): measuring it would be wrong, and its free can hang.
    g_clear_error(&gerr);
    if (pool != nullptr)
      g_thread_pool_free(pool, TRUE, FALSE);
    return -EAGAIN;
  }
  int rc = 0;
  GMainContext *ctx = nullptr;  // W2/W3: outlives the pool, see below
  // The tasks' contexts outlive the pool too: their latch is checked once
  // g_thread_pool_free has joined the threads (every task ran exactly once).
  std::unique_ptr<FanCtx> fan;
  std::unique_ptr<TreeCtx> tree;
  {  // warm-up: every thread reaches its first wait
    FanCtx c(size * 4L, 0);
    g_warm.store(&c, std::memory_order_relaxed);  // the pushes order it for the workers
    for (int i = 0; i < size * 4; i++)
      g_thread_pool_push(pool, &c, nullptr);
    c.latch.wait();
    g_warm.store(nullptr, std::memory_order_relaxed);
  }
  switch (w) {
    case Workload::W1:
    case Workload::W4: {
      long n = w == Workload::W1 ? p.w1_tasks : p.w4_tasks;
      fan.reset(new FanCtx(n, w == Workload::W1 ? 0 : w4_iters(p)));
      FanCtx &c = *fan;
      s.meter.start();
      for (long i = 0; i < n; i++) {
        if (!g_thread_pool_push(pool, &c, nullptr)) {
          rc = -EAGAIN;
          c.latch.arrive_n(n - i);
          break;
        }
      }
      s.meter.stop_at(c.latch.wait());
      s.tasks = n;
      break;
    }
    case Workload::W5: {
      tree.reset(new TreeCtx(p.w5_depth));
      TreeCtx &t = *tree;
      g_tree_pool = pool;
      s.meter.start();
      if (!g_thread_pool_push(pool, &t.levels[0], nullptr)) {
        rc = -EAGAIN;
        t.latch.arrive_n(t.subtree(0));
      }
      s.meter.stop_at(t.latch.wait());
      if (rc == 0)
        rc = t.err.load();
      s.tasks = p.w5_tasks();
      break;
    }
    case Workload::W2:
    case Workload::W3: {
      GLoopRun lr;
      lr.ctx = ctx = g_main_context_new();
      g_main_context_acquire(lr.ctx);  // owned by the loop thread
      lr.pool = pool;
      lr.p = &p;
      lr.s = &s;
      lr.pipelined = w == Workload::W3;
      lr.total = lr.pipelined ? p.w3_total : p.w2_trips;
      std::vector<GReq> reqs(static_cast<size_t>(lr.pipelined ? std::min(p.w3_inflight, lr.total) : 1));
      if (!lr.pipelined)
        s.latency_us.reserve(static_cast<size_t>(lr.total));
      s.meter.start();
      for (auto &r : reqs) {
        r.run = &lr;
        r.t_submit = lr.pipelined ? 0 : now_s();
        if (!g_thread_pool_push(pool, &r, nullptr)) {
          rc = -EAGAIN;
          break;
        }
        lr.submitted++;
      }
      while (lr.completed < lr.submitted)
        g_main_context_iteration(lr.ctx, TRUE);
      s.meter.stop();
      s.tasks = lr.completed;
      if (rc == 0)
        rc = lr.err;
      break;
    }
  }
  g_thread_pool_free(pool, FALSE, TRUE);  // run what is queued, join
  // Only now: the last trip's worker may still be inside
  // g_main_context_invoke (its g_source_unref locks the context) after the
  // loop ran that trip's reply and left its loop. Releasing and unreffing
  // the context before the join freed it under that worker: the "GLib W3
  // hang" fixed by 95b3e14 (a worker blocked on the freed context's mutex,
  // g_thread_pool_free waiting for it).
  if (ctx != nullptr) {
    g_main_context_release(ctx);
    g_main_context_unref(ctx);
  }
  if (rc == 0 && fan)
    rc = verify_latch(fan->latch, s.tasks, s);
  if (rc == 0 && tree)
    rc = verify_latch(tree->latch, s.tasks, s);
  return rc;
}

}  // namespace

const Impl impl_glib = {"glib",
                        "GThreadPool (exclusive threads); W2/W3 reply with g_main_context_invoke "
                        "to the loop's GMainContext; one process per size (a GLib W3 run "
                        "that hangs then loses only its own cells)",
                        run, true};

}  // namespace wb
