/* How-to: pinning a pool's threads to CPUs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, sched_getcpu */
#endif
#include <sched.h>
#include <stdio.h>
#include <weft/weft.h>

static weft_reactor *reactor;
static int on_cpu = -1;

static void stop(void *arg) {
  (void)arg;
  weft_reactor_stop(reactor);
}

static void where_am_i(void *arg) {
  (void)arg;
  on_cpu = sched_getcpu(); /* pinned: always the one CPU */
  if (weft_reactor_call_from_thread(reactor, stop, NULL) != 0) weft_reactor_stop(reactor);
}

static void start(void *arg) {
  (void)arg;
  if (weft_reactor_call_in_thread(reactor, where_am_i, NULL) != 0) weft_reactor_stop(reactor);
}

int main(void) {
  /* A pool of its own: one CPU per worker, spread over the CPUs this
   * process may use (one per physical core first). */
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.affinity.policy = WEFT_AFFINITY_SCATTER;
  weft_threadpool *pool;
  if (weft_threadpool_create_ex(&pool, &o) != 0) return 1;
  weft_threadpool_destroy(pool);

  /* The reactor's pool: every worker on the lowest CPU we may use. */
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 1;
  int cpu = 0;
  while (!CPU_ISSET(cpu, &allowed)) cpu++;
  if (weft_reactor_create(&reactor) != 0) return 1;
  weft_reactor_thread_pool_options_init(&o); /* min 0, max 10, "weft.reactor" */
  o.affinity.policy = WEFT_AFFINITY_SET;
  o.affinity.cpus = &cpu;
  o.affinity.ncpus = 1;
  int rc = weft_reactor_set_thread_pool_options(reactor, &o);
  if (rc == 0) rc = weft_reactor_call_when_running(reactor, start, NULL);
  if (rc == 0) weft_reactor_run(reactor);
  weft_reactor_destroy(reactor);
  printf("the reactor's pool ran on CPU %d (pinned to %d)\n", on_cpu, cpu);
  return rc == 0 && on_cpu == cpu ? 0 : 1;
}
