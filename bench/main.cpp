// bench — weft's headline benchmark: five workloads × implementations × pool
// sizes, measured with google-benchmark, summarised as one comparison table.
//
//   weft_bench [--wb-scale=short|long] [--wb-sizes=1,2,4,8,16]
//              [--wb-impls=weft,weft_qw,pthread,libuv,glib,tbb,ckring]
//              [--wb-workloads=W1,W2,W3,W4,W5] [--wb-table=FILE.md]
//              [--wb-data=FILE.tsv] [--wb-log=FILE] [--wb-run-limit=SECONDS]
//              [--wb-spin-iters=N] (W4's calibration, passed to child processes)
//              [--benchmark_* flags] (--benchmark_out=FILE, json, csv or
//              console: every cell, the child processes' included; a
//              --benchmark_format other than console is refused)
//
// Every repetition builds a fresh pool, warms it up, then times one run of
// the workload (manual time); the table shows medians over the repetitions
// (default 5). libuv fixes its pool size per process, so each libuv size
// runs in a child process of this binary with UV_THREADPOOL_SIZE set; its
// medians come back through a file and join the same table.
//
// Exit status: 0 when every cell ran; 1 when a cell failed (its table entry
// says why); 2 for a bad argument; 3 when the watchdog gave up on a run.
#include <benchmark/benchmark.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "harness.hpp"
#include "workloads.hpp"  // verify_count

extern char **environ;

namespace wb {
namespace {

// ------------------------------------------------------------ options
struct Options {
  std::string scale = "long";
  std::vector<int> sizes = {1, 2, 4, 8, 16};
  std::vector<std::string> impls;  // empty: all built in
  std::vector<Workload> workloads = {Workload::W1, Workload::W2, Workload::W3, Workload::W4,
                                     Workload::W5};
  std::string table_path, data_path, child_results;
  std::string log_path;  // google-benchmark's own lines go here (else stdout)
  std::vector<std::string> passthrough;  // --benchmark_* flags, for children
};

std::vector<std::string> split(const std::string &s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty())
      out.push_back(item);
  return out;
}

const std::vector<const Impl *> &all_impls() {
  static const std::vector<const Impl *> v = {
#ifdef WB_HAVE_WEFT
      &impl_weft, &impl_weft_qw,
#endif
      &impl_pthread, &impl_bare,
#ifdef WB_HAVE_LIBUV
      &impl_libuv,
#endif
#ifdef WB_HAVE_GLIB
      &impl_glib,
#endif
#ifdef WB_HAVE_TBB
      &impl_tbb,
#endif
#ifdef WB_HAVE_CKRING
      &impl_ckring,
#endif
  };
  return v;
}

Params params_for(const std::string &scale) {
  Params p;  // "long": the figures the method promises
  if (scale == "short") {  // a tenth of the work (W4: half), for the 3-minute run
    p.w1_tasks = 100000;
    p.w2_trips = 10000;
    p.w3_total = 100000;
    // W4 keeps half its work: at a tenth a repetition lasted 10 ms at 2
    // threads, shorter than the bursts in which this kind of shared host
    // takes a core away, and one burst halved a repetition's figure (seen
    // for every implementation, the bare threads included).
    p.w4_tasks = 100000;
    p.w5_depth = 14;
  }
  return p;
}

// ------------------------------------------------------------ results
struct Cell {
  bool ok = false;
  std::string err;
  // Repetitions that ran to the end, and whether one failed (body()): a
  // failed repetition is kept from google-benchmark, whose 1.7.1 crashes in
  // its statistics when the first repetition was skipped with an error and
  // leaves a later one out of the median without a word.
  int reps_ok = 0;
  bool failed = false;
  double primary = NAN;  // tasks/s, p50 µs, completions/s, efficiency, tasks/s
  double p99 = NAN;      // W2 only
  double csw = NAN;      // context switches per 1,000 tasks
  double cpu = NAN;      // process CPU time per task, µs (all threads)
  // weft: the most threads that ran none of a repetition's tasks, over the
  // repetitions (its idle_workers counter); -1: not reported.
  int idle_max = -1;
};
using Key = std::tuple<int, std::string, int>;  // workload, impl, size
std::map<Key, Cell> g_results;
std::map<std::string, Key> g_keys;  // benchmark name → key

bool lower_is_better(Workload w) { return w == Workload::W2; }

const char *metric_label(Workload w) {
  switch (w) {
    case Workload::W1: return "tasks/s";
    case Workload::W2: return "latency p50 / p99 (µs)";
    case Workload::W3: return "completions/s on the loop";
    case Workload::W4: return "efficiency (ideal / measured)";
    case Workload::W5: return "tasks/s";
  }
  return "";
}

const char *unit_short(int w) {
  static const char *const u[] = {"tasks/s", "µs p50", "completions/s", "efficiency", "tasks/s"};
  return u[w];
}

// Keeps the console output and records the medians.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  explicit CollectingReporter(OutputOptions opts) : ConsoleReporter(opts) {}
  void ReportRuns(const std::vector<Run> &runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run &r : runs) {
      auto it = g_keys.find(r.run_name.function_name);
      if (it == g_keys.end())
        continue;
      bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      bool single = r.run_type == Run::RT_Iteration && r.repetitions <= 1;
      Cell &c = g_results[it->second];
      if (r.error_occurred) {
        c.ok = false;
        c.err = r.error_message;
        continue;
      }
      if (!median && !single)
        continue;
      if (c.failed)  // its error is set; the median of the rest is not the cell's
        continue;
      if (c.reps_ok < std::max<int64_t>(r.repetitions, 1)) {
        c.ok = false;
        c.err = std::to_string(c.reps_ok) + " of " + std::to_string(r.repetitions) +
                " repetitions ran";
        continue;
      }
      auto get = [&r](const char *k) {
        auto f = r.counters.find(k);
        return f == r.counters.end() ? NAN : static_cast<double>(f->second.value);
      };
      c.ok = true;
      c.primary = get("primary");
      c.p99 = get("p99_us");
      c.csw = get("csw_per_1k");
      c.cpu = get("cpu_us_per_task");
      if (progress_)
        std::fprintf(stderr, "  %-22s %12.4g %s, %.3g cs/1k\n", r.run_name.function_name.c_str(),
                     c.primary, unit_short(std::get<0>(it->second)), c.csw);
    }
  }
  bool progress_ = false;  // one line per result on stderr (with --wb-log)
};

// A google-benchmark setting as google-benchmark reads it: its environment
// variable, then the last --benchmark_NAME=VALUE passed through (the last
// one wins, as in google-benchmark); dflt if neither is given.
std::string bench_setting(const Options &o, const char *name, const char *env,
                          std::string dflt) {
  if (const char *e = std::getenv(env))
    dflt = e;
  std::string prefix = std::string("--benchmark_") + name + "=";
  for (const std::string &a : o.passthrough)
    if (a.rfind(prefix, 0) == 0)
      dflt = a.substr(prefix.size());
  return dflt;
}

// The console lines' options. google-benchmark chooses them (colour from
// --benchmark_color or BENCHMARK_COLOR, "auto": stdout is a terminal) only
// for a display reporter of its own; one passed in prints as constructed,
// and ConsoleReporter's default is colour: escape codes in a pipe, in
// --wb-log's file, and despite --benchmark_color=false. Counters stay in
// columns (tabular), as before.
benchmark::ConsoleReporter::OutputOptions display_options(const Options &o) {
  std::string v = bench_setting(o, "color", "BENCHMARK_COLOR", "auto");
  bool color;
  if (!o.log_path.empty()) {
    color = false;  // the lines go to a file
  } else if (v == "auto") {
    const char *term = std::getenv("TERM");
    color = isatty(STDOUT_FILENO) && term != nullptr && std::strcmp(term, "dumb") != 0;
  } else {  // google-benchmark's truth: anything but false/no/off/0/f/n
    std::string l = v;
    std::transform(l.begin(), l.end(), l.begin(), [](unsigned char ch) { return std::tolower(ch); });
    color = !(l == "false" || l == "no" || l == "off" || l == "0" || l == "f" || l == "n");
  }
  return color ? benchmark::ConsoleReporter::OO_ColorTabular : benchmark::ConsoleReporter::OO_Tabular;
}

// A run that never finishes must not hang the whole benchmark (a peer whose
// thread creation failed half-way, say): past the limit, name the culprit
// and exit non-zero.
class Watchdog {
 public:
  void arm(const std::string &what, double seconds) {
    std::lock_guard<std::mutex> g(mu_);
    if (!thread_.joinable())
      thread_ = std::thread([this] { loop(); });
    what_ = what;
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    armed_ = true;
    cv_.notify_one();
  }
  void disarm() {
    std::lock_guard<std::mutex> g(mu_);
    armed_ = false;
    cv_.notify_one();
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> g(mu_);
      quit_ = true;
      cv_.notify_one();
    }
    if (thread_.joinable())
      thread_.join();
  }

 private:
  void loop() {
    std::unique_lock<std::mutex> g(mu_);
    while (!quit_) {
      if (!armed_) {
        cv_.wait(g);
      } else if (cv_.wait_until(g, deadline_) == std::cv_status::timeout && armed_ &&
                 std::chrono::steady_clock::now() >= deadline_) {
        std::fprintf(stderr, "weft_bench: %s did not finish in time; giving up\n",
                     what_.c_str());
        if (on_timeout_)
          on_timeout_(what_);  // the main thread is stuck in that run
        std::fflush(stdout);
        std::_Exit(3);
      }
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread thread_;
  std::string what_;
  std::chrono::steady_clock::time_point deadline_;
  bool armed_ = false, quit_ = false;

 public:
  void (*on_timeout_)(const std::string &what) = nullptr;  // report what we have
};
Watchdog g_watchdog;
double g_run_limit_s = 300;

double percentile(std::vector<double> v, double q) {
  if (v.empty())
    return NAN;
  size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return v[k];
}

// --benchmark_out_format=csv: google-benchmark's CSV writer (1.7.1) takes
// its counter columns from the first run it writes and aborts the process
// (a BM_CHECK) at the first later run with another set: W2's p99_us after a
// W1 cell, weft's parks_per_1k after pthread's. With csv asked for, every
// run reports every counter here, NaN where it has none of its own.
bool g_uniform_counters = false;
const char *const kCounters[] = {"primary",        "p99_us",         "csw_per_1k",
                                 "cpu_us_per_task", "idle_workers",   "parks_per_1k",
                                 "unparks_per_1k",  "steals_per_1k",  "full_backoffs_per_1k",
                                 "spills_per_1k"};

// The counters of st made uniform (csv): the missing ones NaN; one not in
// kCounters is dropped (the writer would abort on it) and named in the
// returned text, for the cell's error.
std::string uniform_counters(benchmark::State &st) {
  std::string unknown;
  for (auto it = st.counters.begin(); it != st.counters.end();) {
    bool known = false;
    for (const char *k : kCounters)
      known |= it->first == k;
    if (known) {
      ++it;
      continue;
    }
    unknown += (unknown.empty() ? "" : ", ") + it->first;
    it = st.counters.erase(it);
  }
  for (const char *k : kCounters)
    if (st.counters.find(k) == st.counters.end())
      st.counters[k] = NAN;
  return unknown;
}

void body(benchmark::State &st, Workload w, const Impl *impl, int size, Params p) {
  for (auto _ : st) {
    Sample s;
    g_watchdog.arm(std::string(workload_name(w)) + "/" + impl->name + "/" + std::to_string(size),
                   g_run_limit_s);
    int rc = impl->run(w, size, p, s);
    g_watchdog.disarm();
    // Every implementation delivered the whole workload: W1/W4/W5 check
    // their latch once the pool is joined (verify_latch), W2/W3 here.
    if (rc == 0 && w == Workload::W2) {
      rc = verify_count(s.tasks, p.w2_trips, s);
      if (rc == 0)
        rc = verify_count(static_cast<long>(s.latency_us.size()), p.w2_trips, s);
    }
    if (rc == 0 && w == Workload::W3)
      rc = verify_count(s.tasks, p.w3_total, s);
    Cell &cell = g_results[Key{static_cast<int>(w), impl->name, size}];
    if (rc != 0) {
      // Not SkipWithError (see Cell): the cell is an error here, and the
      // repetition gets a time so that google-benchmark's statistics run.
      std::string msg = std::string(impl->name) + " failed: " +
                        (s.error.empty() ? std::string(std::strerror(rc < 0 ? -rc : rc)) +
                                               " (" + std::to_string(rc) + ")"
                                         : s.error);
      if (!cell.failed)
        cell.err = msg;
      cell.failed = true;
      cell.ok = false;
      std::fprintf(stderr, "weft_bench: %s\n", msg.c_str());
      st.SetIterationTime(1e-9);
      if (g_uniform_counters)
        uniform_counters(st);
      continue;  // the loop's one iteration ends as usual (a break trips its check)
    }
    cell.reps_ok++;
    double secs = std::max(s.meter.seconds(), 1e-9);
    st.SetIterationTime(secs);
    double per1k = 1000.0 * static_cast<double>(s.meter.switches()) /
                   static_cast<double>(std::max(s.tasks, 1L));
    st.counters["csw_per_1k"] = per1k;
    st.counters["cpu_us_per_task"] =
        1e6 * s.meter.cpu() / static_cast<double>(std::max(s.tasks, 1L));
    for (auto &kv : s.extra) {
      st.counters[kv.first] = kv.second;
      if (kv.first == "idle_workers")
        cell.idle_max = std::max(cell.idle_max, static_cast<int>(kv.second));
    }
    switch (w) {
      case Workload::W2:
        st.counters["primary"] = percentile(s.latency_us, 0.50);
        st.counters["p99_us"] = percentile(s.latency_us, 0.99);
        break;
      case Workload::W4: {
        double work_s = static_cast<double>(p.w4_tasks) * p.w4_task_us * 1e-6;
        double ideal = work_s / std::min(size, online_cores());
        st.counters["primary"] = ideal / secs;
        break;
      }
      default:
        st.counters["primary"] = static_cast<double>(s.tasks) / secs;
        break;
    }
    if (g_uniform_counters) {
      std::string unknown = uniform_counters(st);
      if (!unknown.empty() && !cell.failed) {
        // A counter added to an implementation without adding it to
        // kCounters: the figures stand, the csv file lacks that column.
        cell.failed = true;
        cell.ok = false;
        cell.err = "counter " + unknown + " not in kCounters (bench/main.cpp): left out of the csv file";
        std::fprintf(stderr, "weft_bench: %s\n", cell.err.c_str());
      }
    }
  }
}

// ------------------------------------------------------------ libuv children
// The user's --benchmark_out file (or BENCHMARK_OUT, which google-benchmark
// also reads) and its format: the parent's google-benchmark writes it; a
// child given the same flag or variable would overwrite it with its own
// cells only. Children write theirs to a file of their own, which the
// parent adds to the user's (merge_bench_out).
struct BenchOut {
  std::string path, format = "json";
};

BenchOut user_bench_out(const Options &o) {
  BenchOut f;
  f.path = bench_setting(o, "out", "BENCHMARK_OUT", "");
  f.format = bench_setting(o, "out_format", "BENCHMARK_OUT_FORMAT", f.format);
  return f;
}

bool is_bench_out_flag(const std::string &a) {
  return a.rfind("--benchmark_out=", 0) == 0 || a.rfind("--benchmark_out_format=", 0) == 0;
}

std::string read_all(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A child's --benchmark_out text (format f.format) joins the parent's file.
// json: its "benchmarks" entries go into the parent's array; csv: its rows
// under the parent's header; console: all of it.
// Returns false for a child's file that is cut short (a child that
// crashed): its cells are in the table, with their error, not in the file.
// A FILE that is not a regular file (--benchmark_out=/dev/stdout, a pipe)
// cannot be read back and rewritten: the child's text follows what the
// parent wrote there, whole.
bool merge_bench_out(const BenchOut &f, const std::string &child) {
  if (child.empty())
    return false;
  struct stat st;
  if (stat(f.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    std::ofstream out(f.path, std::ios::binary | std::ios::app);
    out << child;
    return true;
  }
  std::string base = read_all(f.path);
  if (f.format == "json") {
    static const std::string open = "\"benchmarks\": [\n", close = "\n  ]\n}";
    size_t co = child.find(open), cc = child.rfind(close);
    if (co == std::string::npos || cc == std::string::npos || cc < co + open.size())
      return false;
    std::string entries = child.substr(co + open.size(), cc - co - open.size());
    if (entries.find('{') == std::string::npos)
      return true;  // no cell
    size_t bo = base.find(open), bc = base.rfind(close);
    if (bo == std::string::npos || bc == std::string::npos || bc < bo + open.size()) {
      base = child;  // the parent ran nothing in-process: an empty file
    } else {
      std::string have = base.substr(bo + open.size(), bc - bo - open.size());
      have = have.find('{') == std::string::npos ? entries : have + ",\n" + entries;
      base = base.substr(0, bo + open.size()) + have + base.substr(bc);
    }
  } else if (f.format == "csv") {
    // The child's rows under the parent's header: its own header (the
    // first line that starts "name,", and what comes before it) is left
    // out; with uniform counters (g_uniform_counters) the columns agree.
    auto header = [](const std::string &text) {
      if (text.rfind("name,", 0) == 0)
        return size_t{0};
      size_t h = text.find("\nname,");
      return h == std::string::npos ? h : h + 1;
    };
    size_t start = header(child);
    if (start == std::string::npos)
      return false;
    size_t rows = child.find('\n', start);
    if (rows == std::string::npos)
      return true;  // a header and no cell
    if (header(base) == std::string::npos)
      base = child;  // the parent ran nothing in-process: an empty file
    else
      base += child.substr(rows + 1);
  } else {
    base += "\n" + child;
  }
  std::ofstream out(f.path, std::ios::binary | std::ios::trunc);
  out << base;
  return true;
}

// A new empty file in $TMPDIR (else /tmp) for a child to write: its path,
// or "" with errno set.
std::string make_temp(const char *stem) {
  const char *dir = std::getenv("TMPDIR");
  std::string t = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") + "/" + stem +
                  "_XXXXXX";
  std::vector<char> buf(t.begin(), t.end());
  buf.push_back('\0');
  int fd = mkstemp(buf.data());
  if (fd < 0)
    return std::string();
  close(fd);
  return std::string(buf.data());
}

// The cells of impl at size that have no figure say why (stderr too).
void child_failed(const Options &o, const Impl *impl, int size, const std::string &why) {
  std::fprintf(stderr, "weft_bench: %s/%d: %s\n", impl->name, size, why.c_str());
  for (Workload w : o.workloads) {
    if ((impl->workloads & workload_bit(w)) == 0)
      continue;
    Cell &c = g_results[Key{static_cast<int>(w), impl->name, size}];
    if (!c.ok)
      c.err = c.err.empty() ? why : c.err + " (" + why + ")";
  }
}

// Waits for the child pid at most bound_s seconds (a pidfd polled with that
// timeout; where the kernel has no pidfd_open, without a bound), then kills
// it (*killed). Returns its wait status.
int wait_child(pid_t pid, double bound_s, bool *killed) {
  *killed = false;
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(static_cast<long long>(bound_s * 1000));
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) {
        kill(pid, SIGKILL);
        *killed = true;
        break;
      }
      struct pollfd pfd = {fd, POLLIN, 0};
      int n = poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 60000)));
      if (n > 0)
        break;  // the child has exited
      if (n < 0 && errno != EINTR)
        break;  // cannot watch it: wait without a bound
    }
    close(fd);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// Runs impl at size in a child process and adds its cells to g_results.
// A child that cannot be started leaves its cells with that reason, not
// out of the table: a peer asked for and silently missing would also
// leave the targets judged against the peers that remain.
void run_child(const Options &o, const char *self, const Impl *impl, int size,
               const std::vector<std::string> &bench_flags, const BenchOut &bench_out) {
  std::string results = make_temp("weft_bench_child");
  if (results.empty()) {
    int e = errno;
    child_failed(o, impl, size,
                 std::string("child process not started: no temporary file (") +
                     std::strerror(e) + "; TMPDIR chooses the folder)");
    return;
  }
  const char *tmpl = results.c_str();
  std::string out_file;
  if (!bench_out.path.empty()) {
    out_file = make_temp("weft_bench_child_out");
    if (out_file.empty()) {
      int e = errno;
      unlink(tmpl);
      child_failed(o, impl, size,
                   std::string("child process not started: no temporary file (") +
                       std::strerror(e) + "; TMPDIR chooses the folder)");
      return;
    }
  }
  const char *out_tmpl = out_file.c_str();
  std::vector<std::string> args = {self, "--wb-scale=" + o.scale,
                                   std::string("--wb-impls=") + impl->name,
                                   "--wb-sizes=" + std::to_string(size),
                                   std::string("--wb-child-results=") + tmpl};
  if (!o.log_path.empty())
    args.push_back("--wb-log=" + o.log_path);
  args.push_back("--wb-run-limit=" + std::to_string(g_run_limit_s));
  if (spin_calibrated()) {  // W4's tasks as long as in every other process
    char it[64];
    std::snprintf(it, sizeof it, "--wb-spin-iters=%.17g", spin_iters_per_us());
    args.push_back(it);
  }
  std::string wl = "--wb-workloads=";
  for (Workload w : o.workloads)
    wl += std::string(workload_name(w)) + ",";
  args.push_back(wl);
  for (const std::string &a : bench_flags)
    if (!is_bench_out_flag(a))
      args.push_back(a);
  if (!bench_out.path.empty()) {
    args.push_back(std::string("--benchmark_out=") + out_tmpl);
    args.push_back("--benchmark_out_format=" + bench_out.format);
  }
  std::vector<char *> argv;
  for (auto &a : args)
    argv.push_back(const_cast<char *>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env;
  for (char **e = environ; *e != nullptr; e++)
    if (std::strncmp(*e, "UV_THREADPOOL_SIZE=", 19) != 0 &&
        std::strncmp(*e, "BENCHMARK_OUT=", 14) != 0 &&
        std::strncmp(*e, "BENCHMARK_OUT_FORMAT=", 21) != 0)
      env.emplace_back(*e);
  env.push_back("UV_THREADPOOL_SIZE=" + std::to_string(size));
  std::vector<char *> envp;
  for (auto &e : env)
    envp.push_back(const_cast<char *>(e.c_str()));
  envp.push_back(nullptr);
  std::fflush(stdout);
  pid_t pid;
  int rc = posix_spawn(&pid, self, nullptr, nullptr, argv.data(), envp.data());
  if (rc != 0) {
    unlink(tmpl);
    if (!bench_out.path.empty())
      unlink(out_tmpl);
    child_failed(o, impl, size, std::string("child process not started: ") + std::strerror(rc));
    return;
  }
  // The child's watchdog ends a run that hangs; the parent bounds the
  // whole child too (a hang outside a run: its start, its exit), or the
  // README's run would wait for ever. The bound: every run of the child at
  // its limit, and a minute for the rest.
  int runs = 0;
  for (Workload w : o.workloads)
    runs += (impl->workloads & workload_bit(w)) != 0;
  double reps = std::max(1.0, std::atof(bench_setting(o, "repetitions", "BENCHMARK_REPETITIONS",
                                                      "1").c_str()));
  double bound_s = g_run_limit_s * (static_cast<double>(runs) * reps + 1) + 60;
  bool killed = false;
  int status = wait_child(pid, bound_s, &killed);
  if (!bench_out.path.empty()) {
    // Empty from a child that exited 0: its cells were all filtered out
    // (--benchmark_filter), nothing to add.
    std::string text = read_all(out_tmpl);
    bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if ((!text.empty() || !clean) && !merge_bench_out(bench_out, text))
      std::fprintf(stderr, "weft_bench: %s/%d: the child's --benchmark_out results were cut "
                           "short; not in %s\n", impl->name, size, bench_out.path.c_str());
    unlink(out_tmpl);
  }
  std::ifstream in(tmpl);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    int wi, sz, ok;
    std::string name, v[4];  // strtod, unlike operator>>, reads "nan"
    Cell c;
    if (ls >> wi >> name >> sz >> ok >> v[0] >> v[1] >> v[2] >> v[3]) {
      c.primary = std::strtod(v[0].c_str(), nullptr);
      c.p99 = std::strtod(v[1].c_str(), nullptr);
      c.csw = std::strtod(v[2].c_str(), nullptr);
      c.cpu = std::strtod(v[3].c_str(), nullptr);
      c.ok = ok != 0;
      if (!c.ok) {  // the rest of the line: the child's own reason
        std::getline(ls >> std::ws, c.err);
        if (c.err.empty())
          c.err = "failed in child";
      }
      g_results[Key{wi, name, sz}] = c;
    }
  }
  unlink(tmpl);
  if (killed) {
    char why[96];
    std::snprintf(why, sizeof why, "child process did not finish within %.0f s; killed", bound_s);
    child_failed(o, impl, size, why);
  } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // A child that crashed (libuv aborts when it cannot start its
    // threads) or that its watchdog stopped: say how it ended, beside
    // whatever reason it wrote for the cell.
    std::string how = WIFSIGNALED(status)
                          ? "child process killed by signal " +
                                std::to_string(WTERMSIG(status)) + " (" +
                                strsignal(WTERMSIG(status)) + ")"
                          : "child process exited with status " +
                                std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    child_failed(o, impl, size, how);
  }
}

void write_child_results(const std::string &path) {
  std::ofstream out(path);
  out.precision(10);
  for (auto &kv : g_results) {
    out << std::get<0>(kv.first) << ' ' << std::get<1>(kv.first) << ' ' << std::get<2>(kv.first)
        << ' ' << (kv.second.ok ? 1 : 0) << ' ' << kv.second.primary << ' ' << kv.second.p99 << ' '
        << kv.second.csw << ' ' << kv.second.cpu;
    if (!kv.second.ok) {  // why, for the parent's cell: the rest of the line
      std::string why = kv.second.err;
      std::replace(why.begin(), why.end(), '\n', ' ');
      out << ' ' << why;
    }
    out << '\n';
  }
}

// ------------------------------------------------------------ the table
std::string human(double v) {
  char buf[64];
  if (std::isnan(v))
    return "–";
  if (v >= 1e9)
    std::snprintf(buf, sizeof buf, "%.2fG", v / 1e9);
  else if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1fk", v / 1e3);
  else if (v >= 100)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else
    std::snprintf(buf, sizeof buf, "%.2f", v);
  return buf;
}

// Speed-up against the pthread pool of the same run (higher is better for
// every workload: for W2 it is pthread's p50 over this p50).
double ratio_vs(const Cell &c, const Cell &base, Workload w) {
  if (!c.ok || !base.ok)
    return NAN;
  return lower_is_better(w) ? base.primary / c.primary : c.primary / base.primary;
}

/* The pthread cell of (w, sz), or an empty one if it was not run: a lookup
 * through operator[] would insert an empty cell, which the tables then
 * printed as a pthread row in error. */
const Cell &pthread_cell(Workload w, int sz) {
  static const Cell none{};
  auto it = g_results.find(Key{static_cast<int>(w), "pthread", sz});
  return it == g_results.end() ? none : it->second;
}

std::vector<std::string> impls_in_results(Workload w, const std::vector<int> &sizes) {
  std::vector<std::string> names;
  for (const Impl *im : all_impls())
    for (int sz : sizes)
      if (g_results.count(Key{static_cast<int>(w), im->name, sz})) {
        names.push_back(im->name);
        break;
      }
  return names;
}

void emit_tables(const Options &o, std::FILE *f) {
  for (Workload w : o.workloads) {
    std::fprintf(f, "\n#### %s %s — %s; cs = context switches / 1,000 tasks; "
                    "cpu = process CPU µs per task; × = speed-up vs pthread\n\n| impl |",
                 workload_name(w), workload_title(w), metric_label(w));
    for (int sz : o.sizes)
      std::fprintf(f, " %d thr |", sz);
    std::fprintf(f, "\n|---|");
    for (size_t i = 0; i < o.sizes.size(); i++)
      std::fprintf(f, "---|");
    std::fprintf(f, "\n");
    for (const std::string &name : impls_in_results(w, o.sizes)) {
      std::fprintf(f, "| %s |", name.c_str());
      for (int sz : o.sizes) {
        auto it = g_results.find(Key{static_cast<int>(w), name, sz});
        if (it == g_results.end()) {
          std::fprintf(f, " |");
          continue;
        }
        const Cell &c = it->second;
        if (!c.ok) {
          std::fprintf(f, " error: %s |", c.err.c_str());
          continue;
        }
        const Cell &base = pthread_cell(w, sz);
        std::string v = w == Workload::W2 ? human(c.primary) + " / " + human(c.p99)
                                          : human(c.primary);
        std::fprintf(f, " %s · %s cs · %s cpu · %s× |", v.c_str(), human(c.csw).c_str(),
                     human(c.cpu).c_str(), human(ratio_vs(c, base, w)).c_str());
      }
      std::fprintf(f, "\n");
    }
  }
}

// The product targets, judged size by size on the same run's numbers.
void emit_targets(const Options &o, std::FILE *f) {
  auto cell = [](Workload w, const std::string &impl, int sz) -> const Cell * {
    auto it = g_results.find(Key{static_cast<int>(w), impl, sz});
    return it != g_results.end() && it->second.ok ? &it->second : nullptr;
  };
  auto has = [&o](Workload w) {
    return std::find(o.workloads.begin(), o.workloads.end(), w) != o.workloads.end();
  };
  std::fprintf(f, "\n#### Targets (per pool size: measured value, ✓ met / ✗ missed)\n\n");
  for (const char *weft : {"weft", "weft_qw"}) {
    bool any = false;
    for (int sz : o.sizes)
      for (Workload w : o.workloads)
        any |= g_results.count(Key{static_cast<int>(w), weft, sz}) > 0;
    if (!any) {
      std::fprintf(f, "- %s: not measured in this run\n", weft);
      continue;
    }
    auto line = [&](const char *what, auto judge) {
      std::string s = std::string("- ") + weft + ", " + what + ":";
      for (int sz : o.sizes)
        s += " " + std::to_string(sz) + "thr " + judge(sz);
      std::fprintf(f, "%s\n", s.c_str());
    };
    auto mark = [](double v, double need, const char *unit) {
      if (std::isnan(v))
        return std::string("n/a");
      // Two decimals, or more where two would round the figure onto the
      // other side of the target than the figure judged: 0.9496 against
      // 0.95 is "0.9496✗", not "0.95✗"; 9.996 against 10, "9.996×✗".
      char num[48];
      for (int prec = 2;; prec++) {
        std::snprintf(num, sizeof num, "%.*f", prec, v);
        if ((std::strtod(num, nullptr) >= need) == (v >= need) || prec >= 9)
          break;
      }
      return std::string(num) + unit + (v >= need ? "✓" : "✗");
    };
    if (has(Workload::W1)) {
      line("W1 ≥ 10× pthread", [&](int sz) {
        const Cell *a = cell(Workload::W1, weft, sz), *b = cell(Workload::W1, "pthread", sz);
        return mark(a && b ? a->primary / b->primary : NAN, 10, "×");
      });
      line("W1 ≥ 2× best peer (libuv/glib/tbb/ckring)", [&](int sz) {
        const Cell *a = cell(Workload::W1, weft, sz);
        double best = NAN;
        for (const char *peer : {"libuv", "glib", "tbb", "ckring"}) {
          // A peer that ran and failed leaves no best to judge against.
          auto it = g_results.find(Key{static_cast<int>(Workload::W1), peer, sz});
          if (it != g_results.end() && !it->second.ok)
            return std::string("n/a (") + peer + " failed)";
          if (const Cell *c = cell(Workload::W1, peer, sz))
            best = std::isnan(best) ? c->primary : std::max(best, c->primary);
        }
        return mark(a ? a->primary / best : NAN, 2, "×");
      });
      // Issue 19: more workers than cores keep the 2-worker rate, and every
      // worker takes part (the most idle workers in any repetition).
      line("W1 ≥ 0.9× its 2-worker rate, every worker ran tasks (idle workers, worst repetition)",
           [&](int sz) {
             const Cell *a = cell(Workload::W1, weft, sz), *b = cell(Workload::W1, weft, 2);
             if (sz <= 2 || !a || !b)
               return std::string("–");
             std::string m = mark(a->primary / b->primary, 0.9, "");
             if (a->idle_max >= 0)
               m += " (idle " + std::to_string(a->idle_max) + (a->idle_max == 0 ? ")✓" : ")✗");
             return m;
           });
    }
    if (has(Workload::W3))
      line("W3 ≥ 3× libuv", [&](int sz) {
        const Cell *a = cell(Workload::W3, weft, sz), *b = cell(Workload::W3, "libuv", sz);
        return mark(a && b ? a->primary / b->primary : NAN, 3, "×");
      });
    if (has(Workload::W4))
      line("W4 efficiency ≥ 0.95 (bare threads' ceiling, weft's share of it)", [&](int sz) {
        const Cell *a = cell(Workload::W4, weft, sz), *b = cell(Workload::W4, "bare", sz);
        std::string m = mark(a ? a->primary : NAN, 0.95, "");
        if (a && b) {
          char buf[64];
          std::snprintf(buf, sizeof buf, " (%.2f, %.0f%%)", b->primary,
                        100.0 * a->primary / b->primary);
          m += buf;
        }
        return m;
      });
    if (has(Workload::W5))
      line("W5 ≥ oneTBB", [&](int sz) {
        const Cell *a = cell(Workload::W5, weft, sz), *b = cell(Workload::W5, "tbb", sz);
        return mark(a && b ? a->primary / b->primary : NAN, 1, "×");
      });
  }
}

void emit_data(const Options &o, const std::string &path) {
  std::ofstream out(path);
  out << "# workload\timpl\tsize\tprimary\tp99_us\tcsw_per_1k\tx_pthread\tcpu_us_per_task\n";
  for (Workload w : o.workloads)
    for (const std::string &name : impls_in_results(w, o.sizes)) {
      for (int sz : o.sizes) {
        auto it = g_results.find(Key{static_cast<int>(w), name, sz});
        if (it == g_results.end() || !it->second.ok)
          continue;
        const Cell &c = it->second;
        out << workload_name(w) << '\t' << name << '\t' << sz << '\t' << c.primary << '\t'
            << c.p99 << '\t' << c.csw << '\t'
            << ratio_vs(c, pthread_cell(w, sz), w) << '\t'
            << c.cpu << '\n';
      }
      out << "\n\n";  // one gnuplot data block per (workload, impl)
    }
}

int parse(int argc, char **argv, Options &o, std::vector<char *> &bench_argv) {
  bench_argv.push_back(argv[0]);
  bool reps = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&a]() { return a.substr(a.find('=') + 1); };
    if (a.rfind("--wb-scale=", 0) == 0) {
      o.scale = val();
      if (o.scale != "short" && o.scale != "long")
        return -1;
    } else if (a.rfind("--wb-sizes=", 0) == 0) {
      o.sizes.clear();
      for (auto &s : split(val())) {
        int n = std::atoi(s.c_str());
        if (n < 1 || n > kMaxPoolSize)
          return -1;
        o.sizes.push_back(n);
      }
    } else if (a.rfind("--wb-impls=", 0) == 0) {
      o.impls = split(val());
    } else if (a.rfind("--wb-workloads=", 0) == 0) {
      o.workloads.clear();
      for (auto &s : split(val())) {
        if (s.size() != 2 || s[0] != 'W' || s[1] < '1' || s[1] > '5')
          return -1;
        o.workloads.push_back(static_cast<Workload>(s[1] - '1'));
      }
    } else if (a.rfind("--wb-table=", 0) == 0) {
      o.table_path = val();
    } else if (a.rfind("--wb-data=", 0) == 0) {
      o.data_path = val();
    } else if (a.rfind("--wb-run-limit=", 0) == 0) {
      g_run_limit_s = std::atof(val().c_str());
      if (g_run_limit_s <= 0)
        return -1;
    } else if (a.rfind("--wb-spin-iters=", 0) == 0) {
      double it = std::atof(val().c_str());
      if (!(it > 0))
        return -1;
      set_spin_iters_per_us(it);
    } else if (a.rfind("--wb-log=", 0) == 0) {
      o.log_path = val();
    } else if (a.rfind("--wb-child-results=", 0) == 0) {
      o.child_results = val();
    } else if (a.rfind("--wb-", 0) == 0) {
      return -1;
    } else {
      reps |= a.rfind("--benchmark_repetitions", 0) == 0;
      o.passthrough.push_back(a);
      bench_argv.push_back(argv[i]);
    }
  }
  // Every implementation asked for must be one built in: a typo (or a peer
  // whose package was missing at configure time) ran nothing for that name
  // and still printed a table, with exit status 0.
  for (const std::string &name : o.impls) {
    bool built = false;
    for (const Impl *im : all_impls())
      built |= name == im->name;
    if (!built) {
      std::fprintf(stderr, "weft_bench: no implementation '%s' in this build (built:", name.c_str());
      for (const Impl *im : all_impls())
        std::fprintf(stderr, " %s", im->name);
      std::fprintf(stderr, ")\n");
      return -1;
    }
  }
  static std::string defaults[] = {"--benchmark_repetitions=5",
                                   "--benchmark_display_aggregates_only=true"};
  if (!reps) {
    for (auto &d : defaults) {
      o.passthrough.push_back(d);
      bench_argv.push_back(const_cast<char *>(d.c_str()));
    }
  }
  return 0;
}

bool selected(const Options &o, const Impl *im) {
  return o.impls.empty() ||
         std::find(o.impls.begin(), o.impls.end(), std::string(im->name)) != o.impls.end();
}

void machine_line(std::FILE *f) {
  struct utsname u;
  uname(&u);
  std::string cpu = "unknown CPU";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  std::fprintf(f, "Machine: %s, %d usable cores, Linux %s", cpu.c_str(), online_cores(), u.release);
  if (spin_calibrated())
    std::fprintf(f, "; W4 spin calibration %.1f iterations/µs", spin_iters_per_us());
  std::fprintf(f, "\n");
}

// The table, the targets and the files: at the end of the run, or when the
// watchdog gives up (then with a note, and without the cells never run).
void report(const Options &o, const std::string &incomplete) {
  std::printf("\n## weft benchmark (%s run, medians of the repetitions)\n\n", o.scale.c_str());
  if (!incomplete.empty())
    std::printf("**Incomplete run**: %s\n\n", incomplete.c_str());
  machine_line(stdout);
  emit_tables(o, stdout);
  emit_targets(o, stdout);
  if (!o.table_path.empty()) {
    if (std::FILE *f = std::fopen(o.table_path.c_str(), "w")) {
      if (!incomplete.empty())
        std::fprintf(f, "**Incomplete run**: %s\n\n", incomplete.c_str());
      machine_line(f);
      std::fprintf(f, "\nImplementations:\n\n");
      for (const Impl *im : all_impls())
        if (selected(o, im))
          std::fprintf(f, "- **%s**: %s\n", im->name, im->what);
      emit_tables(o, f);
      emit_targets(o, f);
      std::fclose(f);
    }
  }
  if (!o.data_path.empty())
    emit_data(o, o.data_path);
  std::fflush(stdout);
}

const Options *g_options;  // for the watchdog's report

void report_on_timeout(const std::string &what) {
  if (g_options == nullptr || !g_options->child_results.empty()) {
    if (g_options != nullptr) {
      // The cell that hung has no result yet: its reason goes to the
      // parent with the others. The main thread is inside that run (or
      // waits in disarm for the watchdog's lock): nothing else touches
      // g_results now.
      auto k = g_keys.find(what);
      if (k != g_keys.end()) {
        Cell &c = g_results[k->second];
        c.ok = false;
        char lim[64];
        std::snprintf(lim, sizeof lim, "did not finish within --wb-run-limit=%g s", g_run_limit_s);
        c.err = lim;
      }
      write_child_results(g_options->child_results);
    }
    return;
  }
  report(*g_options, what + " did not finish within --wb-run-limit; later cells were not run");
}

}  // namespace
}  // namespace wb

int main(int argc, char **argv) {
  using namespace wb;
  Options o;
  std::vector<char *> bench_argv;
  if (parse(argc, argv, o, bench_argv) != 0) {
    std::fprintf(stderr, "usage: %s [--wb-scale=short|long] [--wb-sizes=1,2,...] "
                         "[--wb-impls=a,b] [--wb-workloads=W1,...] [--wb-table=F] "
                         "[--wb-data=F] [--benchmark_* flags]\n", argv[0]);
    return 2;
  }
  // --benchmark_format (BENCHMARK_FORMAT) chooses google-benchmark's own
  // display reporter; weft_bench passes its collecting console reporter,
  // which the flag does not change: json asked for on stdout came out as
  // console lines and a markdown table, without a word.
  {
    std::string fmt = bench_setting(o, "format", "BENCHMARK_FORMAT", "console");
    if (fmt != "console") {
      std::fprintf(stderr, "weft_bench: --benchmark_format=%s is not supported: stdout holds "
                           "google-benchmark's console lines and weft_bench's table; "
                           "use --benchmark_out=FILE for json\n", fmt.c_str());
      return 2;
    }
  }
  {
    BenchOut bo = user_bench_out(o);
    g_uniform_counters = !bo.path.empty() && bo.format == "csv";
  }
  if (o.child_results.empty()) {
    // Something to measure. An implementation has some workloads only
    // (bare W4 alone, ckring no W5), and --benchmark_repetitions=0 (or a
    // word) runs no repetition: either way the run measured nothing,
    // printed an empty table and exited 0 (perf/stat.sh then reported a
    // run of no tasks as the cell's).
    bool any = false;
    for (const Impl *im : all_impls())
      for (Workload w : o.workloads)
        any |= selected(o, im) && (im->workloads & workload_bit(w)) != 0;
    if (!any) {
      std::fprintf(stderr, "weft_bench: nothing to run: no implementation asked for has a "
                           "workload asked for\n");
      return 2;
    }
    std::string reps = bench_setting(o, "repetitions", "BENCHMARK_REPETITIONS", "1");
    if (std::atoi(reps.c_str()) < 1) {
      std::fprintf(stderr, "weft_bench: --benchmark_repetitions=%s: at least 1\n", reps.c_str());
      return 2;
    }
  }
  g_options = &o;
  if (std::find(o.workloads.begin(), o.workloads.end(), Workload::W4) != o.workloads.end())
    if (!spin_calibrated())  // a child takes the parent's (--wb-spin-iters)
      calibrate_spin();      // ~60 ms of spinning: only when W4 needs it
  g_watchdog.on_timeout_ = report_on_timeout;
  Params p = params_for(o.scale);
  for (const Impl *im : all_impls()) {
    if (!selected(o, im) || (im->process_per_size && o.child_results.empty()))
      continue;
    for (Workload w : o.workloads)
      for (int sz : o.sizes) {
        if ((im->workloads & workload_bit(w)) == 0)
          continue;
        std::string name = std::string(workload_name(w)) + "/" + im->name + "/" + std::to_string(sz);
        g_keys[name] = Key{static_cast<int>(w), im->name, sz};
        benchmark::RegisterBenchmark(name.c_str(), body, w, im, sz, p)
            ->Iterations(1)
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
      }
  }
  int bargc = static_cast<int>(bench_argv.size());
  benchmark::Initialize(&bargc, bench_argv.data());
  if (benchmark::ReportUnrecognizedArguments(bargc, bench_argv.data()))
    return 2;
  CollectingReporter reporter(display_options(o));
  std::ofstream log;
  if (!o.log_path.empty()) {
    log.open(o.log_path, std::ios::app);
    reporter.SetOutputStream(&log);
    reporter.SetErrorStream(&log);
    reporter.progress_ = true;
  }
  benchmark::RunSpecifiedBenchmarks(&reporter);
  log.flush();
  if (!o.child_results.empty()) {
    write_child_results(o.child_results);
    benchmark::Shutdown();
    return 0;
  }
  for (const Impl *im : all_impls())
    if (selected(o, im) && im->process_per_size)
      for (int sz : o.sizes)
        run_child(o, "/proc/self/exe", im, sz, o.passthrough, user_bench_out(o));

  report(o, "");
  benchmark::Shutdown();
  // A cell that failed is in the table as "error: ..."; the exit status
  // says so too, so that a script (or CI) running the benchmark does not
  // take a run with failed cells for a good one.
  int failed = 0;
  for (const auto &kv : g_results)
    failed += kv.second.ok ? 0 : 1;
  if (failed > 0) {
    std::fprintf(stderr, "weft_bench: %d of %zu cells failed (\"error:\" in the table)\n", failed,
                 g_results.size());
    return 1;
  }
  return 0;
}
