// bench — "bare": W4 with no pool at all, the ceiling any pool can reach on
// this machine.
//
// W4's efficiency is ideal / measured, and the ideal assumes that
// min(N, cores) cores each do 1 µs of spinning per task at the speed one
// core spins alone (the calibration), with no cost to hand a task over, to
// count it done, or to share the machine. None of that holds exactly: two
// cores spinning at once may each run slower than one alone (a shared
// physical core, a lower boost clock, a host that runs other guests), and
// every task's arrival at the shared latch moves that counter's line
// between cores. The bare row measures what is left when nothing is
// dispatched: N threads, created and parked before the timer starts, each
// run a fixed share of the tasks' bodies (fan_body, the same spin and the
// same latch) in a plain loop. A pool's W4 figure divided by bare's, from
// the same run, is the part of the machine's capacity the pool delivered.
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include "harness.hpp"
#include "workloads.hpp"

namespace wb {
namespace {

int run(Workload w, int size, const Params &p, Sample &s) {
  if (w != Workload::W4)
    return -38;  // -ENOSYS: only W4 has a pool-free equivalent
  const long n = p.w4_tasks;
  FanCtx c(n, w4_iters(p));
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(size));
  auto release = [&] {
    {
      std::lock_guard<std::mutex> g(mu);
      go = true;
    }
    cv.notify_all();
  };
  try {
    for (int i = 0; i < size; i++) {
      // Thread i runs tasks [n*i/size, n*(i+1)/size): shares differ by at
    // most one task, so no thread is left with a tail of its own.
      long share = n * (i + 1) / size - n * i / size;
      threads.emplace_back([&, share] {
        {
          std::unique_lock<std::mutex> g(mu);
          cv.wait(g, [&] { return go; });
        }
        for (long k = 0; k < share; k++)
          fan_body(&c);
      });
    }
  } catch (const std::system_error &) {  // a thread could not be created
    release();  // those that were run their shares; the latch is not awaited
    for (std::thread &t : threads)
      t.join();
    return -11;  // -EAGAIN
  }
  s.meter.start();
  release();
  s.meter.stop_at(c.latch.wait());
  for (std::thread &t : threads)
    t.join();
  s.tasks = n;
  return verify_latch(c.latch, n, s);
}

}  // namespace

const Impl impl_bare = {"bare",
                        "no pool (W4 only): N threads parked before the timer, each spins "
                        "its fixed share of the tasks through the same latch; the "
                        "machine's ceiling for W4",
                        run, false, workload_bit(Workload::W4)};

}  // namespace wb
