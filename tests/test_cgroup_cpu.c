/*
 * The cgroup CPU quota (lib/base/cgroup_cpu.c), read from fake trees: each
 * test writes a /proc/self/cgroup, a /proc/self/mountinfo and the cgroup
 * directories they point at under a fresh temporary directory, and checks
 * which quota binds. The cases are the layouts a server meets: a systemd
 * unit's quota two levels below the mount, a pod's quota above a container
 * that reads "max", a container whose mount shows only its own subtree, a
 * hybrid host with the quota in the v1 "cpu" hierarchy, and the malformed
 * or missing files that must read as "no limit".
 */
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

#include "base/cgroup_cpu.h"
#include "base/cpu.h"
#include "weft/threadpool.h"

#include "test_cgroup_tree.h"

static int limit(void) {
  char cg[1024], mi[1024];
  path_of(cg, sizeof cg, "proc_cgroup");
  path_of(mi, sizeof mi, "mountinfo");
  return weft__cgroup_cpu_limit(cg, mi);
}

/* systemd's CPUQuota=150% on the unit, two levels below the mount; the
 * root has no cpu.max at all (as on a host). */
static void systemd_unit_quota(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/system.slice/app.service\n");
  mkdirs("cg/system.slice/app.service");
  put("cg/system.slice/cpu.max", "max 100000\n");
  put("cg/system.slice/app.service/cpu.max", "150000 100000\n");
  assert_int_equal(limit(), 2);
}

/* The container's own cgroup reads "max"; the pod above it has 1 CPU. */
static void parent_quota_binds(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/kubepods/pod1/ctr\n");
  mkdirs("cg/kubepods/pod1/ctr");
  put("cg/kubepods/cpu.max", "800000 100000\n");
  put("cg/kubepods/pod1/cpu.max", "100000 100000\n");
  put("cg/kubepods/pod1/ctr/cpu.max", "max 100000\n");
  assert_int_equal(limit(), 1);
}

/* The tightest level wins wherever it is; the periods differ. */
static void tightest_level_wins(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/a/b\n");
  mkdirs("cg/a/b");
  put("cg/cpu.max", "400000 100000\n");  /* 4 */
  put("cg/a/cpu.max", "50000 10000\n");  /* 5 */
  put("cg/a/b/cpu.max", "30000 10000\n"); /* 3 */
  assert_int_equal(limit(), 3);
  put("cg/a/b/cpu.max", "max 100000\n");
  assert_int_equal(limit(), 4);
}

/* A mount that shows only the container's subtree (no cgroup namespace):
 * its root field is the container's path. The mount's own cpu.max is the
 * container's; levels above it are not visible and not read. */
static void mount_of_a_subtree(void **state) {
  (void)state;
  char line[1024];
  mount_line(line, sizeof line, "/docker/abc", "cg", "cgroup2", "rw");
  put("mountinfo", line);
  mkdirs("cg/sub");
  put("proc_cgroup", "0::/docker/abc/sub\n");
  put("cg/cpu.max", "250000 100000\n");
  put("cg/sub/cpu.max", "max 100000\n");
  assert_int_equal(limit(), 3);
  /* A path outside the mounted subtree cannot be reached: no limit. */
  put("proc_cgroup", "0::/docker/abcd\n");
  assert_int_equal(limit(), 0);
  put("proc_cgroup", "0::/../other\n");
  assert_int_equal(limit(), 0);
}

/* A hybrid host: cgroup v2 mounted without the cpu controller, the quota
 * in the v1 "cpu,cpuacct" hierarchy. v1's -1 means none. */
static void hybrid_v1_cpu(void **state) {
  (void)state;
  char a[1024], b[1024], text[2200];
  mount_line(a, sizeof a, "/", "unified", "cgroup2", "rw,nsdelegate");
  mount_line(b, sizeof b, "/", "v1cpu", "cgroup", "rw,cpu,cpuacct");
  snprintf(text, sizeof text, "%s%s", a, b);
  put("mountinfo", text);
  put("proc_cgroup", "12:memory:/user.slice\n4:cpu,cpuacct:/user.slice/job\n0::/user.slice/job\n");
  mkdirs("unified/user.slice/job");
  mkdirs("v1cpu/user.slice/job");
  put("v1cpu/user.slice/job/cpu.cfs_quota_us", "-1\n");
  put("v1cpu/user.slice/job/cpu.cfs_period_us", "100000\n");
  put("v1cpu/user.slice/cpu.cfs_quota_us", "250000\n");
  put("v1cpu/user.slice/cpu.cfs_period_us", "100000\n");
  assert_int_equal(limit(), 3);
  /* and a v2 quota tighter still wins over it */
  put("unified/user.slice/cpu.max", "100000 100000\n");
  assert_int_equal(limit(), 1);
}

/* A v1 mount of another controller ("cpuset" is not "cpu") is not read. */
static void v1_other_controller_ignored(void **state) {
  (void)state;
  char line[1024];
  mount_line(line, sizeof line, "/", "v1set", "cgroup", "rw,cpuset");
  put("mountinfo", line);
  put("proc_cgroup", "3:cpuset:/a\n");
  mkdirs("v1set/a");
  put("v1set/a/cpu.cfs_quota_us", "100000\n");
  put("v1set/a/cpu.cfs_period_us", "100000\n");
  assert_int_equal(limit(), 0);
}

/* A mount point with a space: mountinfo writes it as \040. */
static void escaped_mount_point(void **state) {
  (void)state;
  char line[1024];
  mount_line(line, sizeof line, "/", "c\\040g", "cgroup2", "rw");
  put("mountinfo", line);
  put("proc_cgroup", "0::/x\n");
  mkdirs("c g/x");
  put("c g/x/cpu.max", "200000 100000\n");
  assert_int_equal(limit(), 2);
}

/* A hierarchy mounted twice, the first mount showing a sibling subtree:
 * the mount that shows the process's cgroup is read (v2 and v1). */
static void second_mount_shows_the_cgroup(void **state) {
  (void)state;
  char a[1024], b[1024], text[2200];
  mount_line(a, sizeof a, "/other", "bind", "cgroup2", "rw");
  mount_line(b, sizeof b, "/", "cg", "cgroup2", "rw");
  snprintf(text, sizeof text, "%s%s", a, b);
  put("mountinfo", text);
  put("proc_cgroup", "0::/svc.slice/app\n");
  mkdirs("cg/svc.slice/app");
  mkdirs("bind");
  put("cg/svc.slice/cpu.max", "200000 100000\n");
  assert_int_equal(limit(), 2);
  /* v1, with both mounts showing it, the subtree's first: the one whose
   * root is shortest, which shows the quota set above the subtree. (One
   * hierarchy really; the two trees differ here so the test sees which.) */
  mount_line(a, sizeof a, "/job", "v1job", "cgroup", "rw,cpu,cpuacct");
  mount_line(b, sizeof b, "/", "v1all", "cgroup", "rw,cpu,cpuacct");
  snprintf(text, sizeof text, "%s%s", a, b);
  put("mountinfo", text);
  put("proc_cgroup", "4:cpu,cpuacct:/job/sub\n");
  mkdirs("v1job/sub");
  mkdirs("v1all/job/sub");
  put("v1job/cpu.cfs_quota_us", "150000\n");
  put("v1job/cpu.cfs_period_us", "100000\n");
  put("v1all/job/cpu.cfs_quota_us", "150000\n");
  put("v1all/job/cpu.cfs_period_us", "100000\n");
  put("v1all/cpu.cfs_quota_us", "100000\n");
  put("v1all/cpu.cfs_period_us", "100000\n");
  assert_int_equal(limit(), 1);
}

/* A cgroup named "..app" is a name, not a way up; a v1 mount whose source
 * is empty prints as "- cgroup  rw,cpu" (two spaces) and is still read. */
static void odd_but_legal_names(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/svc.slice/..app\n");
  mkdirs("cg/svc.slice/..app");
  put("cg/svc.slice/..app/cpu.max", "300000 100000\n");
  assert_int_equal(limit(), 3);
  char line[1024];
  int n = snprintf(line, sizeof line, "40 24 0:40 / %s/v1 rw - cgroup  rw,cpu,cpuacct\n", g_dir);
  assert_true(n > 0 && (size_t)n < sizeof line);
  put("mountinfo", line);
  put("proc_cgroup", "4:cpu,cpuacct:/job\n");
  mkdirs("v1/job");
  put("v1/job/cpu.cfs_quota_us", "150000\n");
  put("v1/job/cpu.cfs_period_us", "100000\n");
  assert_int_equal(limit(), 2);
}

/* Whatever is malformed or missing reads as no limit; a huge quota clamps. */
static void malformed_is_no_limit(void **state) {
  (void)state;
  v2_mount();
  put("proc_cgroup", "0::/m\n");
  mkdirs("cg/m");
  static const char *const bad[] = {"-1 100000\n", " 5 10\n",     "abc 100000\n", "0 100000\n",
                                    "100000 0\n",  "100000\n",    "100000 -5\n",  "\n",
                                    "max\n",       "12x 100000\n",
                                    /* past 2^64 - 1: strtoull's ULLONG_MAX would give 1 CPU */
                                    "100000 18446744073709551616\n",
                                    "18446744073709551616 100000\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    put("cg/m/cpu.max", bad[i]);
    assert_int_equal(limit(), 0);
  }
  put("cg/m/cpu.max", "17592186044416 1\n"); /* 2^44 CPUs: clamped, not wrapped */
  assert_int_equal(limit(), 2147483647);
  /* no v2 line in /proc/self/cgroup */
  put("proc_cgroup", "4:cpu:/m\n");
  assert_int_equal(limit(), 0);
  /* a cgroup mount on "/" */
  put("mountinfo", "35 24 0:30 / / rw - cgroup2 cgroup2 rw\n");
  put("proc_cgroup", "0::/m\n");
  assert_int_equal(limit(), 0);
  /* truncated mountinfo lines */
  put("mountinfo", "35 24 0:30 /\n36 24 0:31 / /x rw shared:1\n");
  assert_int_equal(limit(), 0);
  /* files that do not exist */
  char nope[1024];
  path_of(nope, sizeof nope, "nope");
  assert_int_equal(weft__cgroup_cpu_limit(nope, nope), 0);
}

/* The valve's RLIMIT_NPROC bound: half the limit, compared without a
 * signed cast (a limit of 2^63 or more made the valve 1). */
static void valve_by_nproc(void **state) {
  (void)state;
  assert_int_equal(weft__thread_valve_by_nproc(4096, RLIM_INFINITY), 4096);
  assert_int_equal(weft__thread_valve_by_nproc(4096, 100), 50);
  assert_int_equal(weft__thread_valve_by_nproc(4096, 1), 0); /* the caller makes it 1 */
  assert_int_equal(weft__thread_valve_by_nproc(4096, (rlim_t)1 << 62), 4096);
  assert_int_equal(weft__thread_valve_by_nproc(4096, (rlim_t)1 << 63), 4096);
  assert_int_equal(weft__thread_valve_by_nproc(4096, RLIM_INFINITY - 1), 4096);
  assert_int_equal(weft__thread_valve_by_nproc(300, 1000), 300);
  assert_true(weft__thread_valve_default() >= 1);
}

/* The real machine: whatever its quota, the count is at least 1 and at
 * most the affinity mask's. */
static void real_machine(void **state) {
  (void)state;
  int n = weft_cpu_count();
  assert_true(n >= 1);
  assert_true(n <= sysconf(_SC_NPROCESSORS_CONF) || n <= 1);
  int q = weft__cgroup_cpu_limit("/proc/self/cgroup", "/proc/self/mountinfo");
  if (q > 0) assert_true(n <= q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(systemd_unit_quota, setup, teardown),
      cmocka_unit_test_setup_teardown(parent_quota_binds, setup, teardown),
      cmocka_unit_test_setup_teardown(tightest_level_wins, setup, teardown),
      cmocka_unit_test_setup_teardown(mount_of_a_subtree, setup, teardown),
      cmocka_unit_test_setup_teardown(hybrid_v1_cpu, setup, teardown),
      cmocka_unit_test_setup_teardown(v1_other_controller_ignored, setup, teardown),
      cmocka_unit_test_setup_teardown(escaped_mount_point, setup, teardown),
      cmocka_unit_test_setup_teardown(second_mount_shows_the_cgroup, setup, teardown),
      cmocka_unit_test_setup_teardown(odd_but_legal_names, setup, teardown),
      cmocka_unit_test_setup_teardown(malformed_is_no_limit, setup, teardown),
      cmocka_unit_test(valve_by_nproc),
      cmocka_unit_test(real_machine),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
