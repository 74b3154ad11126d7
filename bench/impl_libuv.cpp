// bench — libuv's thread pool (uv_queue_work) on the five workloads.
//
// libuv fixes its pool size at the first uv_queue_work of the process, from
// UV_THREADPOOL_SIZE, and only the loop thread may call uv_queue_work. So
// the harness runs each libuv pool size in a child process of its own with
// the variable set, and W5's children are spawned from after_work_cb on the
// loop thread: the way a libuv program has to do it.
#include <uv.h>

#include <cerrno>
#include <cstdlib>
#include <vector>

#include "workloads.hpp"

namespace wb {
namespace {

// ---- W1 / W4: the loop thread queues n requests, the work callbacks count.
void fan_work(uv_work_t *req) { fan_body(static_cast<FanCtx *>(req->data)); }

// ---- W5: request i of a heap-ordered array has children 2i+1 and 2i+2.
struct UvTree {
  Latch latch;
  std::vector<uv_work_t> reqs;
  int err = 0;
  explicit UvTree(long n) : latch(n), reqs(static_cast<size_t>(n)) {}
};
void tree_work(uv_work_t *req) { static_cast<UvTree *>(req->data)->latch.arrive(); }
void tree_after(uv_work_t *req, int) {
  UvTree *t = static_cast<UvTree *>(req->data);
  size_t i = static_cast<size_t>(req - t->reqs.data());
  for (size_t c = 2 * i + 1; c <= 2 * i + 2 && c < t->reqs.size(); c++) {
    t->reqs[c].data = t;
    int rc = uv_queue_work(req->loop, &t->reqs[c], tree_work, tree_after);
    if (rc != 0) {
      t->err = rc;
      t->latch.arrive_n(heap_subtree(c, t->reqs.size()));  // will never run
    }
  }
}

// ---- W2 / W3: after_work_cb is the completion, on the loop thread.
struct UvLoopRun {
  const Params *p;
  Sample *s;
  long submitted = 0, completed = 0;
  int err = 0;
  bool pipelined = false;
};
struct UvReq {
  uv_work_t req;  // first: after_cb gets this address back
  UvLoopRun *run;
  double t_submit;
};
void empty_work(uv_work_t *) {}
void trip_after(uv_work_t *w, int) {
  UvReq *r = reinterpret_cast<UvReq *>(w);
  UvLoopRun *run = r->run;
  run->completed++;
  long total = run->pipelined ? run->p->w3_total : run->p->w2_trips;
  if (!run->pipelined)
    run->s->latency_us.push_back((now_s() - r->t_submit) * 1e6);
  if (run->err == 0 && run->submitted < total) {
    if (!run->pipelined)  // W3 times the whole run, not each trip
      r->t_submit = now_s();
    int rc = uv_queue_work(w->loop, w, empty_work, trip_after);
    if (rc != 0)
      run->err = rc;
    else
      run->submitted++;
  }
}

int warm_up(uv_loop_t *loop) {
  // The first uv_queue_work starts the pool's threads: keep that out of
  // the measurement.
  int size = std::atoi(std::getenv("UV_THREADPOOL_SIZE"));
  std::vector<uv_work_t> reqs(static_cast<size_t>(size) * 4);
  FanCtx c(static_cast<long>(reqs.size()), 0);
  int rc = 0;
  for (size_t i = 0; i < reqs.size(); i++) {
    reqs[i].data = &c;
    rc = uv_queue_work(loop, &reqs[i], fan_work, nullptr);
    if (rc != 0) {
      // The requests queued so far hold &c and live in reqs: let them run
      // and retire before both go.
      c.latch.arrive_n(static_cast<long>(reqs.size() - i));
      break;
    }
  }
  c.latch.wait();
  int urc = uv_run(loop, UV_RUN_DEFAULT) < 0 ? -EIO : 0;
  return rc != 0 ? rc : urc;
}

int run(Workload w, int size, const Params &p, Sample &s) {
  const char *env = std::getenv("UV_THREADPOOL_SIZE");
  if (env == nullptr || std::atoi(env) != size)
    return -EINVAL;  // the harness runs libuv sizes in child processes
  uv_loop_t loop;
  int rc = uv_loop_init(&loop);
  if (rc != 0)
    return rc;
  rc = warm_up(&loop);
  if (rc == 0) {
    switch (w) {
      case Workload::W1:
      case Workload::W4: {
        long n = w == Workload::W1 ? p.w1_tasks : p.w4_tasks;
        FanCtx c(n, w == Workload::W1 ? 0 : w4_iters(p));
        std::vector<uv_work_t> reqs(static_cast<size_t>(n));
        s.meter.start();
        long i = 0;
        for (; i < n; i++) {
          reqs[static_cast<size_t>(i)].data = &c;
          rc = uv_queue_work(&loop, &reqs[static_cast<size_t>(i)], fan_work, nullptr);
          if (rc != 0) {
            c.latch.arrive_n(n - i);
            break;
          }
        }
        c.latch.wait();
        // The loop retires every request (uv__work_done): libuv's per-task
        // completion, inside the timed region as every other pool's is
        // (weft's node return, the pthread pool's free).
        uv_run(&loop, UV_RUN_DEFAULT);
        s.meter.stop();
        s.tasks = n;
        if (rc == 0)  // uv_run retired every request: each work callback returned
          rc = verify_latch(c.latch, n, s);
        break;
      }
      case Workload::W5: {
        UvTree t(p.w5_tasks());
        s.meter.start();
        t.reqs[0].data = &t;
        rc = uv_queue_work(&loop, &t.reqs[0], tree_work, tree_after);
        if (rc == 0)
          uv_run(&loop, UV_RUN_DEFAULT);
        else
          t.latch.arrive_n(p.w5_tasks());
        s.meter.stop_at(t.latch.wait());
        if (rc == 0)
          rc = t.err;
        s.tasks = p.w5_tasks();
        if (rc == 0)  // uv_run retired every request: each work callback returned
          rc = verify_latch(t.latch, s.tasks, s);
        break;
      }
      case Workload::W2:
      case Workload::W3: {
        UvLoopRun lr;
        lr.p = &p;
        lr.s = &s;
        lr.pipelined = w == Workload::W3;
        long total = lr.pipelined ? p.w3_total : p.w2_trips;
        long first = lr.pipelined ? std::min(p.w3_inflight, total) : 1;
        std::vector<UvReq> reqs(static_cast<size_t>(first));
        if (!lr.pipelined)
          s.latency_us.reserve(static_cast<size_t>(total));
        s.meter.start();
        for (auto &r : reqs) {
          r.run = &lr;
          r.t_submit = lr.pipelined ? 0 : now_s();
          rc = uv_queue_work(&loop, &r.req, empty_work, trip_after);
          if (rc != 0)
            break;
          lr.submitted++;
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        s.meter.stop();
        s.tasks = lr.completed;
        if (rc == 0)
          rc = lr.err;
        break;
      }
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  int crc = uv_loop_close(&loop);
  return rc != 0 ? rc : crc;
}

}  // namespace

const Impl impl_libuv = {"libuv",
                         "uv_queue_work; W2/W3 complete in after_work_cb on the loop; "
                         "W5 spawns from after_work_cb (loop thread only); one process per size",
                         run, true};

}  // namespace wb
