// bench — shared helpers (see harness.hpp).
#include "harness.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <time.h>

#include <algorithm>

namespace wb {

const char *workload_name(Workload w) {
  static const char *const n[] = {"W1", "W2", "W3", "W4", "W5"};
  return n[static_cast<int>(w)];
}

const char *workload_title(Workload w) {
  static const char *const n[] = {"dispatch", "round trip", "pipelined round trip",
                                  "fan-out", "recursive spawn"};
  return n[static_cast<int>(w)];
}

double now_s() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

long context_switches() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}

double cpu_seconds() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

int online_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0)
    return 1;
  return std::max(1, CPU_COUNT(&set));
}

static double g_iters_per_us = 100.0;
static bool g_calibrated = false;

uint64_t spin(uint64_t iters) {
  // A dependent multiply-add chain the compiler cannot fold or vectorise.
  uint64_t x = iters | 1;
  for (uint64_t i = 0; i < iters; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    __asm__ volatile("" : "+r"(x));
  }
  return x;
}

void calibrate_spin() {
  // Best of many short runs: on a shared machine the fastest run is one
  // that was not preempted, i.e. the real speed of one core. Runs of ~1 ms
  // fit inside one scheduler slice even when the machine is loaded; a long
  // run would be cut by preemption every time and underestimate the speed
  // (which would shorten W4's tasks and flatter its efficiency).
  const uint64_t n = 1000000;
  double best = 1e9;
  for (int rep = 0; rep < 60; rep++) {
    double t0 = now_s();
    spin(n);
    best = std::min(best, now_s() - t0);
  }
  g_iters_per_us = static_cast<double>(n) / (best * 1e6);
  g_calibrated = true;
}

void set_spin_iters_per_us(double iters) {
  g_iters_per_us = iters;
  g_calibrated = true;
}

double spin_iters_per_us() { return g_iters_per_us; }
bool spin_calibrated() { return g_calibrated; }

}  // namespace wb
