/*
 * A fake cgroup tree for the cgroup readers' tests (test_cgroup_cpu.c,
 * test_cgroup_memory.c): a fresh temporary directory per test (setup,
 * teardown) that stands for /proc/self/cgroup, /proc/self/mountinfo, the
 * cgroup mounts and their directories. Include after <cmocka.h>.
 */
#ifndef WEFT_TEST_CGROUP_TREE_H
#define WEFT_TEST_CGROUP_TREE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char g_dir[256];

static void path_of(char *out, size_t size, const char *rel) {
  int n = snprintf(out, size, "%s/%s", g_dir, rel);
  assert_true(n > 0 && (size_t)n < size);
}

/* mkdir -p g_dir/rel */
static void mkdirs(const char *rel) {
  char p[1024];
  path_of(p, sizeof p, rel);
  for (char *s = p + strlen(g_dir) + 1; *s; s++) {
    if (*s != '/') continue;
    *s = '\0';
    mkdir(p, 0700);
    *s = '/';
  }
  mkdir(p, 0700);
}

static void put(const char *rel, const char *text) {
  char p[1024];
  path_of(p, sizeof p, rel);
  FILE *f = fopen(p, "w");
  assert_non_null(f);
  assert_true(fputs(text, f) >= 0);
  assert_int_equal(fclose(f), 0);
}

/* The mountinfo line of a cgroup mount of g_dir/<at> showing <root>. The
 * v2 lines carry an optional field ("shared:9", as under systemd), the v1
 * lines none (as where the v1 hierarchies were mounted by hand). */
static void mount_line(char *out, size_t size, const char *root, const char *at,
                       const char *fstype, const char *super) {
  const char *optional = strcmp(fstype, "cgroup2") == 0 ? " shared:9" : "";
  int n = snprintf(out, size, "35 24 0:30 %s %s/%s rw,nosuid%s - %s %s %s\n", root, g_dir, at,
                   optional, fstype, fstype, super);
  assert_true(n > 0 && (size_t)n < size);
}

/* A v2 mount of g_dir/cg showing the whole hierarchy, with one unrelated
 * mount before it. */
static void v2_mount(void) {
  char line[1024], text[2048];
  mount_line(line, sizeof line, "/", "cg", "cgroup2", "rw,nsdelegate");
  snprintf(text, sizeof text, "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n%s", line);
  put("mountinfo", text);
  mkdirs("cg");
}

static int setup(void **state) {
  (void)state;
  snprintf(g_dir, sizeof g_dir, "/tmp/weft_cgroup_XXXXXX");
  return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

#endif /* WEFT_TEST_CGROUP_TREE_H */
