/*
 * The memory the default valve is sized by (lib/base/cgroup_memory.c,
 * lib/base/cpu.c), read from fake trees as tests/test_cgroup_cpu.c reads
 * the CPU quota: each test writes a /proc/self/cgroup, a
 * /proc/self/mountinfo, a /proc/meminfo and the cgroup directories they
 * point at under a fresh temporary directory. The cases: a container's
 * limit far below the host's MemAvailable (the valve it gets), a pod's
 * limit above a container that reads "max", the level with the least
 * headroom winning over the one with the least limit, usage at or past the
 * limit, a v1 "memory" hierarchy with its huge "no limit", and the
 * malformed or missing files that must read as "no limit".
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cgroup_memory.h"
#include "base/cpu.h"

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)

#include "test_cgroup_tree.h"

/* put() of a number and a newline, as the kernel writes them. */
static void put_u64(const char *rel, unsigned long long v) {
  char text[32];
  snprintf(text, sizeof text, "%llu\n", v);
  put(rel, text);
}

/* The whole valve from the fake files, RLIMIT_NPROC unlimited. */
static int valve(void) {
  char me[1024], cg[1024], mi[1024];
  path_of(me, sizeof me, "meminfo");
  path_of(cg, sizeof cg, "proc_cgroup");
  path_of(mi, sizeof mi, "mountinfo");
  return weft__thread_valve_of(me, cg, mi, RLIM_INFINITY);
}

static unsigned long long headroom(void) {
  char cg[1024], mi[1024];
  path_of(cg, sizeof cg, "proc_cgroup");
  path_of(mi, sizeof mi, "mountinfo");
  return weft__cgroup_memory_headroom(cg, mi);
}

/* What the valve is sized by: meminfo and the cgroups together. */
static unsigned long long available(void) {
  char me[1024], cg[1024], mi[1024];
  path_of(me, sizeof me, "meminfo");
  path_of(cg, sizeof cg, "proc_cgroup");
  path_of(mi, sizeof mi, "mountinfo");
  return weft__memory_available(me, cg, mi);
}

/* A host with 64 GiB available: MemAvailable alone gives the full 4096. */
static void big_host_meminfo(void) {
  put("meminfo", "MemTotal:       131072000 kB\n"
                 "MemFree:        60000000 kB\n"
                 "MemAvailable:   67108864 kB\n"
                 "Buffers:          100000 kB\n");
}

/* A 256 MiB container on a 64 GiB host. MemAvailable alone would make
 * the valve 4096 (320 MiB of threads); the container's
 * headroom makes it 819 at rest and 640 with 56 MiB in use. The root has no
 * memory.max (as on a host). */
static void container_limit_bounds_valve(void **state) {
  (void)state;
  v2_mount();
  big_host_meminfo();
  put("proc_cgroup", "0::/system.slice/docker-abc.scope\n");
  mkdirs("cg/system.slice/docker-abc.scope");
  put("cg/system.slice/memory.max", "max\n");
  put_u64("cg/system.slice/memory.current", 8 * GiB);
  put_u64("cg/system.slice/docker-abc.scope/memory.max", 256 * MiB);
  put_u64("cg/system.slice/docker-abc.scope/memory.current", 0);
  assert_int_equal(headroom(), 256 * MiB);
  assert_int_equal(available(), 256 * MiB);
  assert_int_equal(weft__thread_valve_by_memory(4096, available()), 819);
  assert_int_equal(valve(), 819);
  put_u64("cg/system.slice/docker-abc.scope/memory.current", 56 * MiB);
  assert_int_equal(available(), 200 * MiB);
  assert_int_equal(valve(), 640);
  /* RLIMIT_NPROC still bounds it */
  char me[1024], cg[1024], mi[1024];
  path_of(me, sizeof me, "meminfo");
  path_of(cg, sizeof cg, "proc_cgroup");
  path_of(mi, sizeof mi, "mountinfo");
  assert_int_equal(weft__thread_valve_of(me, cg, mi, 1000), 500);
  /* without a limit, MemAvailable's 64 GiB: the cap of 4096 */
  put("cg/system.slice/docker-abc.scope/memory.max", "max\n");
  assert_int_equal(headroom(), ULLONG_MAX);
  assert_int_equal(available(), 64 * GiB);
  assert_int_equal(valve(), 4096);
}

/* The container's own cgroup reads "max"; the pod above it is limited. */
static void parent_limit_binds(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/kubepods/pod1/ctr\n");
  mkdirs("cg/kubepods/pod1/ctr");
  put_u64("cg/kubepods/memory.max", 16 * GiB);
  put_u64("cg/kubepods/memory.current", 4 * GiB);
  put_u64("cg/kubepods/pod1/memory.max", 512 * MiB);
  put_u64("cg/kubepods/pod1/memory.current", 112 * MiB);
  put("cg/kubepods/pod1/ctr/memory.max", "max\n");
  put_u64("cg/kubepods/pod1/ctr/memory.current", 100 * MiB);
  assert_int_equal(headroom(), 400 * MiB);
}

/* What binds is the least headroom, not the least limit: a roomy parent
 * that its other children have nearly filled leaves less than a tight
 * child that is nearly empty. And a level above the process is read even
 * when the process's own level has none of the files. */
static void least_headroom_wins(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/a/b/c\n");
  mkdirs("cg/a/b/c");
  put_u64("cg/a/memory.max", 1 * GiB);
  put_u64("cg/a/memory.current", 900 * MiB); /* 124 MiB left */
  put_u64("cg/a/b/memory.max", 300 * MiB);
  put_u64("cg/a/b/memory.current", 100 * MiB); /* 200 MiB left */
  assert_int_equal(headroom(), 124 * MiB);
  put_u64("cg/a/memory.current", 0);
  assert_int_equal(headroom(), 200 * MiB);
}

/* Usage at or past the limit (the kernel lets memory.current pass a
 * lowered memory.max until it reclaims): no headroom, and the valve's
 * memory step is 0, which weft__thread_valve_default floors at 1. */
static void usage_at_limit_is_zero(void **state) {
  (void)state;
  v2_mount();
  big_host_meminfo();
  put("proc_cgroup", "0::/full\n");
  mkdirs("cg/full");
  put_u64("cg/full/memory.max", 128 * MiB);
  put_u64("cg/full/memory.current", 128 * MiB);
  assert_int_equal(available(), 0);
  put_u64("cg/full/memory.current", 200 * MiB);
  assert_int_equal(available(), 0);
  assert_int_equal(weft__thread_valve_by_memory(4096, 0), 0);
  assert_int_equal(valve(), 1); /* floored */
  /* one byte short of a thread's share: still 0 */
  put_u64("cg/full/memory.current", 128 * MiB - (4 * 80 * 1024 - 1));
  assert_int_equal(weft__thread_valve_by_memory(4096, available()), 0);
  put_u64("cg/full/memory.current", 128 * MiB - 4 * 80 * 1024);
  assert_int_equal(weft__thread_valve_by_memory(4096, available()), 1);
}

/* A hybrid host: cgroup v2 mounted without the memory controller, the
 * limit in the v1 "memory" hierarchy, where none reads as a huge number;
 * the v1 "cpu" hierarchy's files are not read for memory. */
static void hybrid_v1_memory(void **state) {
  (void)state;
  char a[1024], b[1024], c[1024], text[3300];
  mount_line(a, sizeof a, "/", "unified", "cgroup2", "rw,nsdelegate");
  mount_line(b, sizeof b, "/", "v1cpu", "cgroup", "rw,cpu,cpuacct");
  mount_line(c, sizeof c, "/", "v1mem", "cgroup", "rw,memory");
  snprintf(text, sizeof text, "%s%s%s", a, b, c);
  put("mountinfo", text);
  put("proc_cgroup",
      "12:memory:/user.slice/job\n4:cpu,cpuacct:/user.slice/job\n0::/user.slice/job\n");
  mkdirs("unified/user.slice/job");
  mkdirs("v1cpu/user.slice/job");
  mkdirs("v1mem/user.slice/job");
  put("v1mem/user.slice/job/memory.limit_in_bytes", "9223372036854771712\n");
  put_u64("v1mem/user.slice/job/memory.usage_in_bytes", 50 * MiB);
  assert_int_equal(headroom(), 9223372036854771712ull - 50 * MiB); /* no limit to speak of */
  put_u64("v1mem/user.slice/memory.limit_in_bytes", 512 * MiB);
  put_u64("v1mem/user.slice/memory.usage_in_bytes", 312 * MiB);
  assert_int_equal(headroom(), 200 * MiB);
  /* the same files in the cpu hierarchy do not count */
  put_u64("v1cpu/user.slice/job/memory.limit_in_bytes", 64 * MiB);
  put_u64("v1cpu/user.slice/job/memory.usage_in_bytes", 0);
  assert_int_equal(headroom(), 200 * MiB);
  /* and a v2 limit tighter still wins over it */
  put_u64("unified/user.slice/memory.max", 300 * MiB);
  put_u64("unified/user.slice/memory.current", 250 * MiB);
  assert_int_equal(headroom(), 50 * MiB);
}

/* A mount that shows only the container's subtree: its own limit is read,
 * and a path it cannot reach reads as no limit. */
static void mount_of_a_subtree(void **state) {
  (void)state;
  char line[1024];
  mount_line(line, sizeof line, "/docker/abc", "cg", "cgroup2", "rw");
  put("mountinfo", line);
  mkdirs("cg/sub");
  put("proc_cgroup", "0::/docker/abc/sub\n");
  put_u64("cg/memory.max", 256 * MiB);
  put_u64("cg/memory.current", 6 * MiB);
  assert_int_equal(headroom(), 250 * MiB);
  put("proc_cgroup", "0::/docker/abcd\n");
  assert_int_equal(headroom(), ULLONG_MAX);
}

/* Whatever is malformed or missing reads as no limit, at the level it is
 * in: the other levels still count. */
static void malformed_is_no_limit(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/m\n");
  mkdirs("cg/m");
  static const char *const bad[] = {"max\n", "-1\n", " 5\n", "abc\n", "12x\n", "\n", "",
                                    /* past 2^64 - 1 */
                                    "18446744073709551616\n"};
  put_u64("cg/m/memory.current", 1 * MiB);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    put("cg/m/memory.max", bad[i]);
    assert_int_equal(headroom(), ULLONG_MAX);
  }
  /* a limit without a readable usage */
  put_u64("cg/m/memory.max", 64 * MiB);
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    put("cg/m/memory.current", bad[i]);
    assert_int_equal(headroom(), ULLONG_MAX);
  }
  char p[1024];
  path_of(p, sizeof p, "cg/m/memory.current");
  assert_int_equal(unlink(p), 0);
  assert_int_equal(headroom(), ULLONG_MAX);
  /* the level above still binds */
  put_u64("cg/memory.max", 32 * MiB);
  put_u64("cg/memory.current", 2 * MiB);
  assert_int_equal(headroom(), 30 * MiB);
  /* no v2 line in /proc/self/cgroup, and no v1 memory hierarchy */
  put("proc_cgroup", "4:memory:/m\n");
  assert_int_equal(headroom(), ULLONG_MAX);
  /* files that do not exist */
  char nope[1024];
  path_of(nope, sizeof nope, "nope");
  assert_int_equal(weft__cgroup_memory_headroom(nope, nope), ULLONG_MAX);
  assert_int_equal(weft__memory_available(nope, nope, nope), ULLONG_MAX);
}

/* MemAvailable and the cgroups: the smaller wins; either alone counts; a
 * meminfo without a usable MemAvailable line gives no figure of its own. */
static void meminfo_and_cgroup(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/c\n");
  mkdirs("cg/c");
  put_u64("cg/c/memory.max", 2 * GiB);
  put_u64("cg/c/memory.current", 0);
  put("meminfo", "MemTotal: 4096000 kB\nMemAvailable:     1048576 kB\n");
  assert_int_equal(available(), 1 * GiB); /* the host has less than the cgroup allows */
  put("meminfo", "MemTotal: 4096000 kB\nMemFree: 1048576 kB\n"); /* a kernel before 3.14 */
  assert_int_equal(available(), 2 * GiB);
  put("meminfo", "MemAvailable: 18446744073709551615 kB\n"); /* overflows as bytes */
  assert_int_equal(available(), 2 * GiB);
  put("cg/c/memory.max", "max\n");
  assert_int_equal(available(), ULLONG_MAX);
  assert_int_equal(weft__thread_valve_by_memory(4096, ULLONG_MAX), 4096);
  put("meminfo", "MemAvailable:     1048576 kB\n");
  assert_int_equal(available(), 1 * GiB);
  assert_int_equal(weft__thread_valve_by_memory(4096, available()), 3276);
  assert_int_equal(weft__thread_valve_by_memory(100, available()), 100);
}

/* The real machine: the valve is between 1 and 4096, and the cgroups can
 * only lower what MemAvailable gives. */
static void real_machine(void **state) {
  (void)state;
  int v = weft__thread_valve_default();
  assert_true(v >= 1 && v <= 4096);
  unsigned long long h =
      weft__cgroup_memory_headroom("/proc/self/cgroup", "/proc/self/mountinfo");
  unsigned long long a =
      weft__memory_available("/proc/meminfo", "/proc/self/cgroup", "/proc/self/mountinfo");
  assert_true(a <= h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(container_limit_bounds_valve, setup, teardown),
      cmocka_unit_test_setup_teardown(parent_limit_binds, setup, teardown),
      cmocka_unit_test_setup_teardown(least_headroom_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(usage_at_limit_is_zero, setup, teardown),
      cmocka_unit_test_setup_teardown(hybrid_v1_memory, setup, teardown),
      cmocka_unit_test_setup_teardown(mount_of_a_subtree, setup, teardown),
      cmocka_unit_test_setup_teardown(malformed_is_no_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(meminfo_and_cgroup, setup, teardown),
      cmocka_unit_test(real_machine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
