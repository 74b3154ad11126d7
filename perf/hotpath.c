/*
 * The hot path, alone: N tasks from one foreign thread (main) through a
 * 1-worker ThreadPool, then stop() (drain + join).
 *
 *   weft_hotpath N [call|work]
 *     call  weft_threadpool_call_in_thread (node cache)      (default)
 *     work  weft_threadpool_queue_work (caller-owned weft_work)
 *
 * Instructions per task (submission + execution, amortized):
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.0 ./weft_hotpath 0
 *   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.N ./weft_hotpath 100000
 *   (total(N) - total(0)) / N, totals from the "summary:" / "totals:" line.
 * Context switches while the worker is busy:
 *   perf stat -e context-switches ./weft_hotpath 1000000
 *
 * Measured (2-vCPU VM, gcc -O2 RelWithDebInfo, 2026-11-22; targets: <= 100
 * instructions/task, <= 1 context switch per 1,000 tasks):
 *   call: 159 instructions/task, 20-28 context switches per 10^6 tasks
 *   work: 125 instructions/task, 38-43 context switches per 10^6 tasks
 * Where the instructions go (work): ~10 this loop, ~50 queue_work incl. the
 * inlined submit (E2 push, pushed counter, E5.1 fast path), ~35 the two
 * queues a task crosses (inject pop, ring publish, ring pop CAS: the price of
 * a stealable ring, design.md E3/E4), ~18 the worker loop (3 of them USDT
 * nops), ~18 work_run + the task. call adds the node cache (~16, plus slab
 * refills: under callgrind the threads run serialised, so the submitter runs
 * far ahead of the worker and needs fresh nodes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft/threadpool.h"

static volatile uint64_t g_sum;

static void task(void *arg) { g_sum += (uintptr_t)arg; }
static void work(weft_work *req) { g_sum += (uintptr_t)req->data; }

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100000;
  int use_work = argc > 2 && strcmp(argv[2], "work") == 0;
  weft_threadpool *tp;
  if (weft_threadpool_create(&tp, 1, 1, "hot") != 0 || weft_threadpool_start(tp) != 0) return 1;
  weft_work *reqs = NULL;
  if (use_work) {
    reqs = calloc((size_t)(n > 0 ? n : 1), sizeof *reqs);
    if (!reqs) return 1;
  }
  /* One tight loop per mode, so the harness adds as little as possible to
   * the per-task count. */
  if (use_work) {
    for (long i = 0; i < n; i++) {
      reqs[i].data = (void *)(uintptr_t)1;
      if (weft_threadpool_queue_work(tp, &reqs[i], work, NULL) != 0) return 2;
    }
  } else {
    for (long i = 0; i < n; i++)
      if (weft_threadpool_call_in_thread(tp, task, (void *)(uintptr_t)1) != 0) return 2;
  }
  weft_threadpool_stop(tp);
  weft_threadpool_counters c;
  weft_threadpool_counters_get(tp, &c);
  fprintf(stderr, "hotpath: %ld tasks (%s) sum=%llu executed=%llu parks=%llu unparks=%llu\n", n,
          use_work ? "queue_work" : "call_in_thread", (unsigned long long)g_sum,
          (unsigned long long)c.executed, (unsigned long long)c.parks,
          (unsigned long long)c.unparks);
  weft_threadpool_destroy(tp);
  free(reqs);
  return g_sum == (uint64_t)n ? 0 : 3;
}
