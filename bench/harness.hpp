// bench — what every implementation of the five workloads shares: the
// workload parameters, the meter (wall time + context switches of the whole
// process), the completion latch, the calibrated spin, and the table each
// implementation file fills in.
#ifndef BENCH_HARNESS_HPP
#define BENCH_HARNESS_HPP

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace wb {

enum class Workload { W1, W2, W3, W4, W5 };
constexpr int kWorkloads = 5;
constexpr unsigned kAllWorkloads = (1u << kWorkloads) - 1;
constexpr unsigned workload_bit(Workload w) { return 1u << static_cast<int>(w); }
const char *workload_name(Workload w);   // "W1"...
const char *workload_title(Workload w);  // "dispatch"...

// The largest pool size --wb-sizes accepts.
constexpr int kMaxPoolSize = 1024;

struct Params {
  long w1_tasks = 1000000;     // W1: empty tasks from one foreign thread
  long w2_trips = 100000;      // W2: sequential round trips
  long w3_total = 1000000;     // W3: completions delivered on the loop
  long w3_inflight = 1000;     //     kept in flight
  long w4_tasks = 200000;      // W4: spinning tasks
  double w4_task_us = 1.0;     //     of this much calibrated work each
  int w5_depth = 17;           // W5: binary spawn tree, 2^(depth+1)-1 tasks
  long w5_tasks() const { return (2L << w5_depth) - 1; }
};

double now_s();               // CLOCK_MONOTONIC, seconds
long context_switches();      // getrusage(RUSAGE_SELF): voluntary + involuntary
int online_cores();           // CPUs this process may run on

double cpu_seconds();         // getrusage(RUSAGE_SELF): user + system, all threads

// Brackets the timed region of one repetition: wall time, and the context
// switches and CPU time of the whole process (so a pool that spins instead
// of sleeping pays for it in the CPU column).
struct Meter {
  double t0 = 0, t1 = 0;
  long c0 = 0, c1 = 0;
  double u0 = 0, u1 = 0;
  void start() { c0 = context_switches(); u0 = cpu_seconds(); t0 = now_s(); }
  void stop() { t1 = now_s(); c1 = context_switches(); u1 = cpu_seconds(); }
  // The work ended at t (taken by the thread that finished it); switches
  // and CPU are read now, which is as late as possible.
  void stop_at(double t) { t1 = t; c1 = context_switches(); u1 = cpu_seconds(); }
  double seconds() const { return t1 - t0; }
  long switches() const { return c1 - c0; }
  double cpu() const { return u1 - u0; }
};

// The last of `n` tasks to arrive records the time and wakes the waiter.
// The counter is the "atomic counter each task increments" of W1.
class Latch {
 public:
  explicit Latch(long n) : remaining_(n) {}
  // Returns true for the arrival that completed the latch.
  bool arrive() { return arrive_n(1); }
  // k arrivals at once: a W5 task whose spawn failed arrives for the whole
  // subtree it could not start, so the waiter is never left hanging.
  bool arrive_n(long k) {
    if (remaining_.fetch_sub(k, std::memory_order_acq_rel) != k)
      return false;
    double t = now_s();
    std::lock_guard<std::mutex> g(mu_);
    done_at_ = t;
    done_ = true;
    cv_.notify_one();
    return true;
  }
  // Arrivals still owed: 0 once exactly n arrived. Read it after the pool
  // has been joined (or every task is known to have returned): negative
  // means a task ran more than once, which would also have completed the
  // latch, and stopped the clock, before the last real task ran.
  long remaining() const { return remaining_.load(std::memory_order_acquire); }
  double wait() {  // returns the completion time
    std::unique_lock<std::mutex> g(mu_);
    cv_.wait(g, [this] { return done_; });
    return done_at_;
  }

 private:
  // Its own cache line: the tasks' counter must not share a line with the
  // waiter's stack frame (a Latch is usually a local of the submitting
  // thread), or every arrival would also cost the submitter a miss.
  alignas(64) std::atomic<long> remaining_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  double done_at_ = 0;
};

// W4's work: a loop of `iters` dependent steps, calibrated so that
// spin_iters_per_us() iterations take 1 µs on one core of this machine.
// Counting iterations (not watching a clock) keeps preemption honest: time
// a task spends descheduled is not counted as work done.
void calibrate_spin();
// Take the calibration from the parent process (--wb-spin-iters): a child
// that ran its own would give W4's tasks a different length.
void set_spin_iters_per_us(double iters);
double spin_iters_per_us();
bool spin_calibrated();
uint64_t spin(uint64_t iters);

// What one run of a workload produced.
struct Sample {
  Meter meter;
  long tasks = 0;                 // tasks (W1/W4/W5) or completions (W2/W3)
  std::vector<double> latency_us; // W2 only
  // Implementation counters worth showing beside the figures (weft's parks,
  // unparks, steals), already divided per 1,000 tasks.
  std::vector<std::pair<std::string, double>> extra;
  // Set with a negative return: why the run is not a valid figure (a task
  // count that does not add up, more threads than the pool size), shown in
  // the cell instead of the errno text.
  std::string error;
};

// One implementation: run workload w on a pool of `size` threads, fill s.
// Pool set-up and tear-down stay outside the meter. 0 or a negative code.
using RunFn = int (*)(Workload w, int size, const Params &p, Sample &s);

struct Impl {
  const char *name;       // column label
  const char *what;       // one line for the method section
  RunFn run;
  bool process_per_size;  // pool size is fixed per process (libuv)
  unsigned workloads = kAllWorkloads;  // bit i: workload W(i+1) is implemented
};

// Each implementation file defines one of these (only those built in).
extern const Impl impl_pthread;
extern const Impl impl_bare;  // W4 only: no pool, the machine's ceiling
extern const Impl impl_weft;
extern const Impl impl_weft_qw;
extern const Impl impl_libuv;
extern const Impl impl_glib;
extern const Impl impl_tbb;
extern const Impl impl_ckring;  // concurrencykit's ck_ring alone (bench/ckring_pool.c)

}  // namespace wb

#endif  // BENCH_HARNESS_HPP
