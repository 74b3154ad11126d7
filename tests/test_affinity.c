/*
 * CPU affinity (weft_threadpool_options.affinity, weft_affinity): every
 * worker's own sched_getaffinity, read inside a task, matches the policy;
 * invalid sets are refused with WEFT_EINVAL. Tasks hold their threads at a
 * gate, so k tasks running at once are on k distinct threads.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "engine/monitor.h"
#include "engine/stats.h"
#include "pool/threadpool_impl.h"
#include "weft/reactor.h"
#include "weft/threadpool.h"
#include "weft/worker.h"

#include "test_check.h"
#include "test_sync.h"

#define MAXT 8

typedef struct probe {
  sync_t gate, started;
  pthread_mutex_t mu;
  cpu_set_t seen[MAXT];
  int n;
} probe;

static void probe_init(probe *p) {
  memset(p, 0, sizeof *p);
  sync_init(&p->gate);
  sync_init(&p->started);
  pthread_mutex_init(&p->mu, NULL);
}
static void probe_fini(probe *p) {
  sync_fini(&p->gate);
  sync_fini(&p->started);
  pthread_mutex_destroy(&p->mu);
}

/* Record this thread's mask, then hold the thread until the gate opens. */
static void probe_task(void *arg) {
  probe *p = arg;
  cpu_set_t s;
  CPU_ZERO(&s);
  THREAD_CHECK_EQ(sched_getaffinity(0, sizeof s, &s), 0); /* a pool thread */
  pthread_mutex_lock(&p->mu);
  if (p->n < MAXT) p->seen[p->n++] = s;
  pthread_mutex_unlock(&p->mu);
  count_up(&p->started);
  gate_wait(&p->gate);
}

static int plain_factory(void *ctx, pthread_t *t, void *(*start)(void *), void *arg,
                         const char *name) {
  (void)name;
  int *count = ctx;
  (*count)++; /* under the engine's control mutex */
  return pthread_create(t, NULL, start, arg) == 0 ? 0 : WEFT_EAGAIN;
}

static cpu_set_t allowed_cpus(void) {
  cpu_set_t s;
  CPU_ZERO(&s);
  assert_int_equal(sched_getaffinity(0, sizeof s, &s), 0);
  return s;
}

static int lowest_cpu(const cpu_set_t *s) {
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, s)) return c;
  return -1;
}

/* Run k gated probe tasks on a k-thread pool made with `aff` (and the plain
 * factory if `factory`), fill p->seen, and return the workers' stats. */
static void run_probe(probe *p, const weft_affinity *aff, int k, int factory,
                      weft_worker_stats *stats) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = o.max_threads = k;
  o.name = "aff";
  o.affinity = *aff;
  o.strict_cap = 1; /* k probes held at a gate: no stand-in threads (E9) */
  int created = 0;
  if (factory) {
    o.thread_factory = plain_factory;
    o.thread_factory_ctx = &created;
  }
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  for (int i = 0; i < k; i++) assert_int_equal(weft_threadpool_call_in_thread(tp, probe_task, p), 0);
  count_wait(&p->started, k);
  size_t n = 0;
  assert_int_equal(weft_threadpool_worker_stats(tp, stats, MAXT, &n), 0);
  assert_int_equal(n, k);
  gate_open(&p->gate);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  assert_int_equal(p->n, k);
  if (factory) assert_int_equal(created, k);
}

static void set_pins_every_worker(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  int cpu0 = lowest_cpu(&allowed); /* CPU 0 on an unrestricted machine */
  for (int factory = 0; factory < 2; factory++) {
    probe p;
    probe_init(&p);
    weft_worker_stats st[MAXT];
    weft_affinity aff = {WEFT_AFFINITY_SET, &cpu0, 1};
    run_probe(&p, &aff, 3, factory, st);
    for (int i = 0; i < 3; i++) {
      assert_int_equal(CPU_COUNT(&p.seen[i]), 1);
      assert_true(CPU_ISSET(cpu0, &p.seen[i]));
      assert_int_equal(st[i].cpu, cpu0);
    }
    probe_fini(&p);
  }
}

/* Scatter and compact over the allowed set: one CPU per worker, each in the
 * set; as many workers as CPUs (up to MAXT) get distinct CPUs, covering the
 * set; one more wraps onto a CPU already used. */
static void one_cpu_each(int policy) {
  cpu_set_t allowed = allowed_cpus();
  int ncpu = CPU_COUNT(&allowed);
  int k = ncpu < MAXT - 1 ? ncpu : MAXT - 1;
  for (int extra = 0; extra < 2; extra++) {
    probe p;
    probe_init(&p);
    weft_worker_stats st[MAXT];
    weft_affinity aff = {(weft_affinity_policy)policy, NULL, 0};
    run_probe(&p, &aff, k + extra, extra, st); /* the wrap run uses a user factory */
    cpu_set_t from_tasks, from_stats;
    CPU_ZERO(&from_tasks);
    CPU_ZERO(&from_stats);
    for (int i = 0; i < k + extra; i++) {
      assert_int_equal(CPU_COUNT(&p.seen[i]), 1);
      int c = lowest_cpu(&p.seen[i]);
      assert_true(CPU_ISSET(c, &allowed));
      CPU_SET(c, &from_tasks);
      assert_true(st[i].cpu >= 0 && CPU_ISSET(st[i].cpu, &allowed));
      CPU_SET(st[i].cpu, &from_stats);
    }
    assert_int_equal(CPU_COUNT(&from_tasks), k); /* distinct, then one wraps */
    assert_true(CPU_EQUAL(&from_tasks, &from_stats));
    if (k == ncpu) assert_true(CPU_EQUAL(&from_tasks, &allowed));
    probe_fini(&p);
  }
}

static void scatter_over_allowed(void **state) {
  (void)state;
  one_cpu_each(WEFT_AFFINITY_SCATTER);
}

static void compact_over_allowed(void **state) {
  (void)state;
  one_cpu_each(WEFT_AFFINITY_COMPACT);
}

static int create_with(weft_affinity aff) {
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.affinity = aff;
  weft_threadpool *tp = NULL;
  int r = weft_threadpool_create_ex(&tp, &o);
  if (r == 0) weft_threadpool_destroy(tp);
  else assert_null(tp);
  return r;
}

static void invalid_sets(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  int ok = lowest_cpu(&allowed);
  int neg = -1, big = CPU_SETSIZE, two[2] = {ok, ok};
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_SET, NULL, 0}), WEFT_EINVAL);
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_SET, NULL, 2}), WEFT_EINVAL);
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_SET, &neg, 1}), WEFT_EINVAL);
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_SCATTER, &big, 1}), WEFT_EINVAL);
  assert_int_equal(create_with((weft_affinity){(weft_affinity_policy)99, NULL, 0}), WEFT_EINVAL);
  /* A CPU this thread may not run on. */
  int outside = -1;
  for (int c = 0; c < CPU_SETSIZE && outside < 0; c++)
    if (!CPU_ISSET(c, &allowed)) outside = c;
  int mixed[2] = {ok, outside};
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_COMPACT, mixed, 2}), WEFT_EINVAL);
  /* Valid: a duplicate is the same set; NONE ignores the list. */
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_SET, two, 2}), 0);
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_NONE, &neg, 1}), 0);
}

/* A CPU list of any length: repeats collapse (2,000 entries, one CPU). */
static void long_list_with_repeats(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  static int many[2000];
  for (int i = 0; i < 2000; i++) many[i] = lowest_cpu(&allowed);
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_SET, many, 2000}), 0);
}

/* WEFT_AFFINITY_NONE: a worker runs where the pool's creator may, whichever
 * thread starts it. Here a thread pinned to one CPU makes the pool's first
 * thread (its submit finds no worker and starts one): a new thread inherits
 * its creator's mask, and kept that one CPU before the pool applied its
 * creator's. */
typedef struct nprobe {
  weft_threadpool *tp;
  weft_team *team; /* set: the submit is this team's do() (team_runs_where_the_creator_may) */
  int cpu;
  cpu_set_t seen;
  sync_t done;
  int rc;
} nprobe;

static void np_task(void *arg) {
  nprobe *p = arg;
  CPU_ZERO(&p->seen);
  (void)sched_getaffinity(0, sizeof p->seen, &p->seen);
  count_up(&p->done);
}

static void *np_pinned_submitter(void *arg) {
  nprobe *p = arg;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(p->cpu, &one);
  p->rc = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  if (p->rc == 0)
    p->rc = p->team ? weft_team_do(p->team, np_task, p) : weft_threadpool_call_in_thread(p->tp, np_task, p);
  return NULL;
}

/* The pinned submitter makes p's first thread; its task saw the CPUs in
 * allowed, not the submitter's one. */
static void expect_probe_sees(nprobe *p, const cpu_set_t *allowed) {
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, np_pinned_submitter, p), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(p->rc, 0);
  count_wait(&p->done, 1);
  assert_int_equal(CPU_COUNT(&p->seen), CPU_COUNT(allowed));
  assert_true(CPU_EQUAL(&p->seen, allowed));
}

static void none_runs_where_the_creator_may(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  if (CPU_COUNT(&allowed) < 2) skip(); /* one CPU: nothing to tell apart */
  nprobe p;
  memset(&p, 0, sizeof p);
  p.cpu = lowest_cpu(&allowed);
  sync_init(&p.done);
  assert_int_equal(weft_threadpool_create(&p.tp, 0, 1, "nonepin"), 0);
  assert_int_equal(weft_threadpool_start(p.tp), 0); /* min 0: no thread yet */
  expect_probe_sees(&p, &allowed);
  assert_int_equal(weft_threadpool_stop(p.tp), 0);
  assert_int_equal(weft_threadpool_destroy(p.tp), 0);
  sync_fini(&p.done);
}

/* The same for a weft_pool() team, which starts its threads in do() too:
 * a pinned thread's do() made the team's first thread (and, from it, the
 * team's monitor) on that thread's one CPU for good, not where the team's
 * creator may run. */

static int tp_limit_one(void *ctx) {
  (void)ctx;
  return 1;
}

static void team_runs_where_the_creator_may(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  if (CPU_COUNT(&allowed) < 2) skip(); /* one CPU: nothing to tell apart */
  nprobe p;
  memset(&p, 0, sizeof p);
  p.cpu = lowest_cpu(&allowed);
  sync_init(&p.done);
  assert_int_equal(weft_pool(&p.team, tp_limit_one, NULL, NULL, NULL, "teampin"), 0);
  expect_probe_sees(&p, &allowed);
  assert_int_equal(weft_team_quit(p.team), 0);
  while (weft_team_destroy(p.team) == WEFT_EBUSY) sched_yield();
  sync_fini(&p.done);
}

#ifdef WEFT_AFFINITY_WRAP
/* A worker's pin fails (its CPU went away since the pool was made: here the
 * wrapped pthread_setaffinity_np answers EINVAL for a one-CPU mask while
 * armed). A thread pinned to one CPU makes the pool's first thread, which
 * inherits that one CPU; the failed pin left it there, where its sibling
 * workers (the usual creators of a pool's threads) sit pinned. It runs on
 * the plan's CPUs instead, and the owner is told (WEFT_EINVAL). */
int __real_pthread_setaffinity_np(pthread_t t, size_t n, const cpu_set_t *s);
int __wrap_pthread_setaffinity_np(pthread_t t, size_t n, const cpu_set_t *s);
static atomic_int g_fail_one_cpu; /* armed: a one-CPU mask is refused */
int __wrap_pthread_setaffinity_np(pthread_t t, size_t n, const cpu_set_t *s) {
  if (atomic_load(&g_fail_one_cpu) && CPU_COUNT_S(n, s) == 1) return EINVAL;
  return __real_pthread_setaffinity_np(t, n, s);
}

static atomic_int g_pin_logged;
static void pin_log(void *ctx, int err, const char *what) {
  (void)ctx;
  if (err == WEFT_EINVAL && strstr(what, "pin")) atomic_fetch_add(&g_pin_logged, 1);
}

static void *fp_pinned_submitter(void *arg) {
  nprobe *p = arg;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(p->cpu, &one);
  p->rc = pthread_setaffinity_np(pthread_self(), sizeof one, &one);
  atomic_store(&g_fail_one_cpu, 1); /* from here on no worker can pin to its CPU */
  if (p->rc == 0) p->rc = weft_threadpool_call_in_thread(p->tp, np_task, p);
  return NULL;
}

/* No memory for the creator's CPU mask (glibc's CPU_ALLOC, wrapped): a
 * valid SET is answered WEFT_ENOMEM, as every other allocation of the
 * create is, not WEFT_EINVAL (which says the option is wrong). */
cpu_set_t *__real___sched_cpualloc(size_t count);
cpu_set_t *__wrap___sched_cpualloc(size_t count);
static atomic_int g_fail_cpualloc;
static atomic_int g_cpualloc_spared; /* while armed: how many still succeed first */
cpu_set_t *__wrap___sched_cpualloc(size_t count) {
  if (atomic_load(&g_fail_cpualloc) && atomic_fetch_sub(&g_cpualloc_spared, 1) <= 0) {
    errno = ENOMEM;
    return NULL;
  }
  return __real___sched_cpualloc(count);
}

static void no_memory_for_the_mask_is_enomem(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  int cpu0 = lowest_cpu(&allowed);
  atomic_store(&g_fail_cpualloc, 1);
  int r = create_with((weft_affinity){WEFT_AFFINITY_SET, &cpu0, 1});
  int r2 = create_with((weft_affinity){WEFT_AFFINITY_COMPACT, NULL, 0});
  atomic_store(&g_fail_cpualloc, 0);
  assert_int_equal(r, WEFT_ENOMEM);
  assert_int_equal(r2, WEFT_ENOMEM);
  /* And a wrong option is still WEFT_EINVAL once memory is back. */
  int neg = -1;
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_SET, &neg, 1}), WEFT_EINVAL);
}

/* The same for the default policy: NONE's plan is the creator's mask, and
 * a pool made without it when that mask had no memory let its threads
 * inherit the mask of whichever thread starts them (a pinned worker of
 * another pool: none_runs_where_the_creator_may), the create answering 0. */
static void none_without_memory_for_the_mask_is_enomem(void **state) {
  (void)state;
  atomic_store(&g_fail_cpualloc, 1);
  int r = create_with((weft_affinity){WEFT_AFFINITY_NONE, NULL, 0});
  atomic_store(&g_fail_cpualloc, 0);
  assert_int_equal(r, WEFT_ENOMEM);
  assert_int_equal(create_with((weft_affinity){WEFT_AFFINITY_NONE, NULL, 0}), 0);
}

/* An option that is wrong whatever the CPUs (an empty SET, a NULL list of
 * some length, a negative CPU) is WEFT_EINVAL also when no mask can be
 * made; a listed CPU the creator may not run on also when the creator's
 * mask is had and the chosen set's is not. The masks were made before
 * those looks, and the failure answered WEFT_ENOMEM (affinity.c). */
static void a_wrong_option_without_memory_is_einval(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  int neg = -1, other = -1;
  for (int c = 0; c < CPU_SETSIZE && other < 0; c++)
    if (!CPU_ISSET(c, &allowed)) other = c;
  atomic_store(&g_cpualloc_spared, 0);
  atomic_store(&g_fail_cpualloc, 1);
  int empty = create_with((weft_affinity){WEFT_AFFINITY_SET, NULL, 0});
  int null_list = create_with((weft_affinity){WEFT_AFFINITY_COMPACT, NULL, 2});
  int negative = create_with((weft_affinity){WEFT_AFFINITY_SCATTER, &neg, 1});
  atomic_store(&g_cpualloc_spared, 1); /* the creator's mask is had */
  int not_allowed = other >= 0 ? create_with((weft_affinity){WEFT_AFFINITY_SET, &other, 1})
                               : WEFT_EINVAL; /* every CPU allowed: nothing to list */
  int spared_left = atomic_load(&g_cpualloc_spared);
  atomic_store(&g_fail_cpualloc, 0);
  atomic_store(&g_cpualloc_spared, 0);
  assert_int_equal(empty, WEFT_EINVAL);
  assert_int_equal(null_list, WEFT_EINVAL);
  assert_int_equal(negative, WEFT_EINVAL);
  if (other >= 0) assert_true(spared_left <= 0); /* the premise: the creator's mask was made */
  assert_int_equal(not_allowed, WEFT_EINVAL);
}

static void a_failed_pin_runs_on_the_plan(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  if (CPU_COUNT(&allowed) < 2) skip(); /* one CPU: nothing to tell apart */
  nprobe p;
  memset(&p, 0, sizeof p);
  p.cpu = lowest_cpu(&allowed);
  sync_init(&p.done);
  atomic_store(&g_pin_logged, 0);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 0;
  o.max_threads = 1;
  o.name = "failpin";
  o.log = pin_log;
  o.affinity = (weft_affinity){WEFT_AFFINITY_COMPACT, NULL, 0}; /* the allowed CPUs */
  assert_int_equal(weft_threadpool_create_ex(&p.tp, &o), 0);
  assert_int_equal(weft_threadpool_start(p.tp), 0); /* min 0: no thread yet */
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, fp_pinned_submitter, &p), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(p.rc, 0);
  count_wait(&p.done, 1);
  atomic_store(&g_fail_one_cpu, 0);
  /* Not the one CPU it inherited: every CPU of the plan. */
  assert_int_equal(CPU_COUNT(&p.seen), CPU_COUNT(&allowed));
  assert_true(CPU_EQUAL(&p.seen, &allowed));
  weft_worker_stats st[1];
  size_t n = 0;
  assert_int_equal(weft_threadpool_worker_stats(p.tp, st, 1, &n), 0);
  assert_int_equal(n, 1);
  assert_int_equal(st[0].cpu, -1); /* pinned to no one CPU */
  assert_int_equal(weft_threadpool_stop(p.tp), 0);
  assert_int_equal(weft_threadpool_destroy(p.tp), 0);
  assert_int_equal(atomic_load(&g_pin_logged), 1); /* the owner heard of it */
  sync_fini(&p.done);
}
#endif

/* The reactor's pool takes the same option. */
typedef struct rprobe {
  weft_reactor *r;
  cpu_set_t seen;
} rprobe;

static void rp_stop(void *arg) { weft_reactor_stop(((rprobe *)arg)->r); }
static void rp_task(void *arg) {
  rprobe *p = arg;
  CPU_ZERO(&p->seen);
  THREAD_CHECK_EQ(sched_getaffinity(0, sizeof p->seen, &p->seen), 0); /* a pool thread */
  weft_reactor_call_from_thread(p->r, rp_stop, p);
}
static void rp_start(void *arg) {
  rprobe *p = arg;
  assert_int_equal(weft_reactor_call_in_thread(p->r, rp_task, p), 0);
}

static void count_task(void *arg) { count_up(arg); }

/* The elastic monitor paces its thread creation by the pool's CPUs (its
 * token bucket: 4 x CPUs at once, 100 x CPUs a second, design.md E9.2, as
 * the explicit burst takes 4 x the engine's count). It is started by the
 * pool's first worker, after that worker has pinned itself: under COMPACT
 * (or SCATTER) it counted that worker's one CPU, so the pool grew 4 threads
 * at once and 100 a second however many CPUs it had. */
static void monitor_paced_by_the_pools_cpus(void **state) {
  (void)state;
  int ncpu = weft_cpu_count(); /* what the pool made here counts */
  if (ncpu < 2) skip();          /* one CPU: nothing to tell apart */
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 2;
  o.keep_alive_ms = 0; /* the monitor stays while the pool has a thread */
  o.affinity = (weft_affinity){WEFT_AFFINITY_COMPACT, NULL, 0};
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft_threadpool_start(tp), 0);
  sync_t done;
  sync_init(&done);
  assert_int_equal(weft_threadpool_call_in_thread(tp, count_task, &done), 0);
  count_wait(&done, 1); /* its worker started the monitor before this task */
  assert_int_equal(weft__engine_monitor_cpus(weft__threadpool_engine(tp)), ncpu);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  sync_fini(&done);
}

/* How many of a pool's workers run at once is bounded by the CPUs it is
 * pinned to, not the machine's: the inject batch's share, the yield between
 * long tasks (design.md E4: only with more live workers than CPUs) and the
 * monitor's pace all read it. A pool pinned to one CPU counted every CPU of
 * the process: its workers, preempted by each other mid-task, never
 * yielded between long tasks. */
static void pool_cpus_bounded_by_its_plan(void **state) {
  (void)state;
  int ncpu = weft_cpu_count();
  if (ncpu < 2) skip(); /* one CPU: nothing to tell apart */
  cpu_set_t allowed = allowed_cpus();
  int cpu0 = lowest_cpu(&allowed);
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 2;
  o.max_threads = 2;
  o.affinity = (weft_affinity){WEFT_AFFINITY_SET, &cpu0, 1};
  weft_threadpool *tp = NULL;
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft__engine_cpus(weft__threadpool_engine(tp)), 1);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
  o.affinity = (weft_affinity){WEFT_AFFINITY_NONE, NULL, 0}; /* the creator's CPUs */
  assert_int_equal(weft_threadpool_create_ex(&tp, &o), 0);
  assert_int_equal(weft__engine_cpus(weft__threadpool_engine(tp)), ncpu);
  assert_int_equal(weft_threadpool_destroy(tp), 0);
}

static void reactor_pool_affinity(void **state) {
  (void)state;
  cpu_set_t allowed = allowed_cpus();
  int cpu0 = lowest_cpu(&allowed), neg = -1;
  rprobe p;
  memset(&p, 0, sizeof p);
  assert_int_equal(weft_reactor_create(&p.r), 0);
  weft_threadpool_options o;
  weft_reactor_thread_pool_options_init(&o);
  assert_int_equal(o.min_threads, 0);
  assert_int_equal(o.max_threads, 10);
  assert_string_equal(o.name, "weft.reactor");
  o.affinity = (weft_affinity){WEFT_AFFINITY_SET, &neg, 1};
  assert_int_equal(weft_reactor_set_thread_pool_options(p.r, &o), WEFT_EINVAL);
  assert_int_equal(weft_reactor_set_thread_pool_options(NULL, &o), WEFT_EINVAL);
  /* No pinning: the list is not looked at, NULL included (create_ex takes it). */
  o.affinity = (weft_affinity){WEFT_AFFINITY_NONE, NULL, 4};
  assert_int_equal(weft_reactor_set_thread_pool_options(p.r, &o), 0);
  int cpus[1] = {cpu0};
  o.affinity = (weft_affinity){WEFT_AFFINITY_SET, cpus, 1};
  o.max_threads = 3;
  assert_int_equal(weft_reactor_set_thread_pool_options(p.r, &o), 0);
  cpus[0] = -1; /* copied: the reactor does not look at ours again */
  assert_int_equal(weft_reactor_call_when_running(p.r, rp_start, &p), 0);
  assert_int_equal(weft_reactor_run(p.r), 0);
  assert_int_equal(CPU_COUNT(&p.seen), 1);
  assert_true(CPU_ISSET(cpu0, &p.seen));
  assert_int_equal(weft_reactor_destroy(p.r), 0);

  /* Once the pool exists its options are fixed. */
  weft_reactor *r;
  assert_int_equal(weft_reactor_create(&r), 0);
  weft_threadpool *tp;
  assert_int_equal(weft_reactor_get_thread_pool(r, &tp), 0);
  assert_int_equal(weft_threadpool_max(tp), 10);
  weft_reactor_thread_pool_options_init(&o);
  assert_int_equal(weft_reactor_set_thread_pool_options(r, &o), WEFT_ESTATE);
  assert_int_equal(weft_reactor_destroy(r), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(set_pins_every_worker),
      cmocka_unit_test(scatter_over_allowed),
      cmocka_unit_test(compact_over_allowed),
      cmocka_unit_test(invalid_sets),
      cmocka_unit_test(long_list_with_repeats),
      cmocka_unit_test(none_runs_where_the_creator_may),
      cmocka_unit_test(team_runs_where_the_creator_may),
#ifdef WEFT_AFFINITY_WRAP
      cmocka_unit_test(a_failed_pin_runs_on_the_plan),
      cmocka_unit_test(no_memory_for_the_mask_is_enomem),
      cmocka_unit_test(none_without_memory_for_the_mask_is_enomem),
      cmocka_unit_test(a_wrong_option_without_memory_is_einval),
#endif
      cmocka_unit_test(reactor_pool_affinity),
      cmocka_unit_test(monitor_paced_by_the_pools_cpus),
      cmocka_unit_test(pool_cpus_bounded_by_its_plan),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
