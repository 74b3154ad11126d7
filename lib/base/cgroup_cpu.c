/*
 * weft — the CPU quota of this process's cgroup.
 *
 * A quota binds at every level of the hierarchy, and the one that applies
 * is the smallest on the path from the process's cgroup up to the root. A
 * service that systemd starts with CPUQuota=200% finds it in
 * /sys/fs/cgroup/system.slice/<unit>/cpu.max, while /sys/fs/cgroup/cpu.max
 * (the host's root cgroup) does not even exist; a Kubernetes container may
 * read "max" in its own cgroup and find the limit on its pod's, one level
 * up. Reading only /sys/fs/cgroup/cpu.max sees a quota only where the
 * process's cgroup is its mount's root (a container with its own cgroup
 * namespace). So, as Go's runtime does (internal/runtime/cgroup, Go 1.25):
 * find the process's cgroup in /proc/self/cgroup, find where that
 * hierarchy is mounted in /proc/self/mountinfo, and walk up to the mount
 * root reading each level's quota. cgroup v1 keeps the quota in a "cpu"
 * hierarchy of its own (cpu.cfs_quota_us, -1 for none, over
 * cpu.cfs_period_us); a hybrid host (v1 controllers beside a v2 mount, as
 * systemd before 247 and many VMs set up) has it there, so both are read and
 * the tightest wins.
 *
 * The walk is the same for every controller (the memory limit that bounds
 * the valve, lib/base/cgroup_memory.c, takes it too): weft__cgroup_walk
 * finds the hierarchies and calls back once per level; what a level holds
 * and how levels combine is the caller's.
 *
 * Read only when a pool sizes itself (weft_cpu_count), never polled: a
 * quota changed later is seen by the next pool, not by running ones.
 * Anything unreadable or malformed counts as "no limit": the answer can
 * only lower the CPU count, never raise it or fail.
 */
#include "base/cgroup_cpu.h"

#include <limits.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CG_PATH_MAX 4096

/* A hierarchy to read: the process's cgroup path in it, and its mount. */
typedef struct cg_hier {
  bool v2;                     /* the unified hierarchy; else the controller's v1 one */
  bool have_path, have_mount;
  char path[CG_PATH_MAX];      /* from /proc/self/cgroup */
  char root[CG_PATH_MAX];      /* mountinfo field 4: the cgroup mounted there */
  char mount[CG_PATH_MAX];     /* mountinfo field 5 */
} cg_hier;

/* ceil(quota / period) as an int, 0 for "none": quotas of 2^44 us are legal
 * and must not truncate to a small count. */
static int cpus_of(unsigned long long quota, unsigned long long period) {
  if (quota == 0 || period == 0) return 0;
  unsigned long long cpus = quota / period + (quota % period != 0);
  return cpus > (unsigned long long)INT_MAX ? INT_MAX : (int)cpus;
}

bool weft__cgroup_parse_u64(const char *s, unsigned long long *out) {
  if (*s < '0' || *s > '9') return false; /* strtoull would take "-1", " 5" */
  char *end;
  errno = 0;
  *out = strtoull(s, &end, 10);
  if (errno == ERANGE) return false; /* past 2^64 - 1: malformed, not the maximum */
  return *end == '\0' || *end == '\n' || *end == ' ';
}

bool weft__cgroup_read_line(const char *dir, const char *name, char *buf, size_t size) {
  char file[CG_PATH_MAX + 32];
  int n = snprintf(file, sizeof file, "%s/%s", dir, name);
  if (n < 0 || n >= (int)sizeof file) return false;
  FILE *f = fopen(file, "re");
  if (!f) return false;
  bool ok = fgets(buf, (int)size, f) != NULL;
  fclose(f);
  return ok;
}

/* The quota set in one cgroup directory, in whole CPUs; 0 for none. */
static int level_limit(bool v2, const char *dir) {
  char line[128];
  unsigned long long quota, period;
  if (v2) {
    /* "max <period>" or "<quota> <period>" */
    if (!weft__cgroup_read_line(dir, "cpu.max", line, sizeof line)) return 0;
    char *sp = strchr(line, ' ');
    if (!sp || !weft__cgroup_parse_u64(line, &quota) || !weft__cgroup_parse_u64(sp + 1, &period))
      return 0;
    return cpus_of(quota, period);
  }
  if (!weft__cgroup_read_line(dir, "cpu.cfs_quota_us", line, sizeof line) ||
      !weft__cgroup_parse_u64(line, &quota))
    return 0; /* -1: none */
  if (!weft__cgroup_read_line(dir, "cpu.cfs_period_us", line, sizeof line) ||
      !weft__cgroup_parse_u64(line, &period))
    return 0;
  return cpus_of(quota, period);
}

/* Does the mount of cgroup `root` show `path` (root itself or below it)? */
static bool root_shows(const char *root, const char *path) {
  if (strcmp(root, "/") == 0) return true;
  size_t rl = strlen(root);
  return strncmp(path, root, rl) == 0 && (path[rl] == '\0' || path[rl] == '/');
}

/* Calls level for each cgroup from the process's up to the mount's root. */
static void hier_walk(const cg_hier *h, weft__cgroup_level_fn *level, void *arg) {
  if (!h->have_path || !h->have_mount) return;
  /* The mount shows the hierarchy from `root` down: the process's cgroup
   * must lie under it to be reachable (it does not when a cgroup namespace
   * was entered after a move: the path then reads "/../..."). */
  if (!root_shows(h->root, h->path)) return;
  const char *rel = strcmp(h->root, "/") == 0 ? h->path : h->path + strlen(h->root);
  for (const char *p = strstr(rel, "/.."); p; p = strstr(p + 1, "/.."))
    if (p[3] == '/' || p[3] == '\0') return; /* a ".." component, not a name "..x" */
  char dir[CG_PATH_MAX];
  size_t ml = strlen(h->mount);
  while (ml > 1 && h->mount[ml - 1] == '/') ml--;
  if (ml <= 1) return; /* a cgroup file system mounted on "/": not one we know */
  int n = snprintf(dir, sizeof dir, "%.*s%s", (int)ml, h->mount, strcmp(rel, "/") == 0 ? "" : rel);
  if (n < 0 || n >= (int)sizeof dir) return;
  size_t len = (size_t)n;
  while (len > ml && dir[len - 1] == '/') dir[--len] = '\0';
  for (;;) {
    level(arg, h->v2, dir);
    if (len <= ml) break;
    while (len > ml && dir[len - 1] != '/') len--; /* up one level */
    if (len > ml) len--;                          /* and its slash */
    dir[len] = '\0';
  }
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' &&
        r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

/* Is `tok` one of the comma-separated items of list? */
static bool has_item(const char *list, const char *tok) {
  size_t tl = strlen(tok);
  for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if (strncmp(p, tok, tl) == 0 && (p[tl] == ',' || p[tl] == '\0')) return true;
  return false;
}

static void copy_field(char *dst, const char *src) {
  size_t n = strlen(src);
  if (n >= CG_PATH_MAX) n = CG_PATH_MAX - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* "<id>:<controllers>:<path>": the v2 line is "0::<path>". */
static void parse_proc_cgroup(FILE *f, const char *ctl, cg_hier *v2, cg_hier *v1) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = '\0';
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || c2[1] != '/' || (size_t)(len - (c2 + 1 - line)) >= CG_PATH_MAX) continue;
    *c1 = *c2 = '\0';
    if (strcmp(line, "0") == 0 && c1[1] == '\0') {
      copy_field(v2->path, c2 + 1);
      v2->have_path = true;
    } else if (has_item(c1 + 1, ctl)) {
      copy_field(v1->path, c2 + 1);
      v1->have_path = true;
    }
  }
  free(line);
}

/* "id parent maj:min root mountpoint opts [optional...] - fstype source
 * superopts". A hierarchy may be mounted several times, each mount showing
 * a subtree (its root field): of the mounts that show the process's
 * cgroup, whatever was mounted first, the one with the shortest root is
 * taken, since the walk up through it sees the most ancestors. The fields before
 * " - " are never empty; after it, source may be (printed as nothing:
 * "- cgroup  rw,cpu"), so those are split on single spaces. */
static void parse_mountinfo(FILE *f, const char *ctl, cg_hier *v2, cg_hier *v1) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  size_t best[2] = {0, 0}; /* length of the chosen root, per hierarchy */
  while ((len = getline(&line, &cap, f)) > 0) {
    if (line[len - 1] == '\n') line[--len] = '\0';
    char *sep = strstr(line, " - ");
    if (!sep) continue;
    *sep = '\0';
    char *rest = sep + 3;
    char *field[6] = {0}, *save = NULL;
    int nf = 0;
    while (nf < 6 && (field[nf] = strtok_r(nf == 0 ? line : NULL, " ", &save)) != NULL) nf++;
    if (nf < 6) continue;
    char *fstype = strsep(&rest, " ");
    char *source = rest ? strsep(&rest, " ") : NULL;
    char *super = source && rest ? strsep(&rest, " ") : NULL;
    if (!fstype) continue;
    cg_hier *h = NULL;
    if (strcmp(fstype, "cgroup2") == 0) h = v2;
    else if (strcmp(fstype, "cgroup") == 0 && super && has_item(super, ctl)) h = v1;
    if (!h || !h->have_path) continue;
    unescape(field[3]);
    unescape(field[4]);
    size_t rl = strlen(field[3]);
    if (rl >= CG_PATH_MAX || strlen(field[4]) >= CG_PATH_MAX) continue;
    if (!root_shows(field[3], h->path)) continue;
    size_t *b = &best[h == v1];
    if (h->have_mount && rl >= *b) continue;
    copy_field(h->root, field[3]);
    copy_field(h->mount, field[4]);
    h->have_mount = true;
    *b = rl;
  }
  free(line);
}

void weft__cgroup_walk(const char *proc_cgroup, const char *mountinfo, const char *v1_controller,
                       weft__cgroup_level_fn *level, void *arg) {
  /* About 12 KiB each: on the heap, since a pool may be created from a
   * thread with a small stack (what each reader answers without them: its
   * header). */
  cg_hier *h = calloc(2, sizeof *h);
  if (!h) return; /* no level visited: what each reader answers, its header */
  cg_hier *v2 = &h[0], *v1 = &h[1];
  v2->v2 = true;
  FILE *f = fopen(proc_cgroup, "re");
  if (f) {
    parse_proc_cgroup(f, v1_controller, v2, v1);
    fclose(f);
  }
  f = fopen(mountinfo, "re");
  if (f) {
    parse_mountinfo(f, v1_controller, v2, v1);
    fclose(f);
  }
  hier_walk(v2, level, arg);
  hier_walk(v1, level, arg);
  free(h);
}

/* The tightest quota of the levels seen so far, 0 while none. */
static void cpu_level(void *arg, bool v2, const char *dir) {
  int *best = arg;
  int q = level_limit(v2, dir);
  if (q > 0 && (*best == 0 || q < *best)) *best = q;
}

int weft__cgroup_cpu_limit(const char *proc_cgroup, const char *mountinfo) {
  int best = 0;
  /* No memory for the walk leaves best at 0, "no quota": why, in the header. */
  weft__cgroup_walk(proc_cgroup, mountinfo, "cpu", cpu_level, &best);
  return best;
}
