/*
 * weft — a thread's scheduler state from /proc (lib/base/proc_thread.h).
 * Used by the elastic monitor (lib/engine/monitor.c) and by a stop that
 * waits on workers which all wait (lib/engine/engine.c): both ask whether
 * a busy worker is off its CPU, which only the kernel knows.
 */
#include "base/proc_thread.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

char weft__proc_thread_state(int tid) {
  char path[64], buf[256];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  char *p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
  return (p && p[1] == ' ') ? p[2] : 0;
}

int weft__proc_thread_self(void) {
  /* "<pid>/task/<tid>", in the PID namespace /proc was mounted for, which
   * is the one whose numbers /proc/self/task/ uses. gettid() answers in
   * the caller's namespace: inside a PID namespace that kept the outer
   * /proc (unshare --pid --fork without --mount-proc, a sandbox that binds
   * the host's /proc) no /proc/self/task/ entry has that number. */
  char buf[64];
  ssize_t n = readlink("/proc/thread-self", buf, sizeof buf - 1);
  if (n > 0) {
    buf[n] = '\0';
    const char *t = strstr(buf, "/task/");
    if (t) {
      char *end;
      long tid = strtol(t + 6, &end, 10);
      if (*end == '\0' && tid > 0 && tid <= 0x7fffffff) return (int)tid;
    }
  }
  return (int)syscall(SYS_gettid); /* no /proc (or before Linux 3.17) */
}
