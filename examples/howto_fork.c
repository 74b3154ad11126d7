/* How-to: forking a process that uses weft. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <weft/weft.h>

static void work(void *arg) { (void)arg; }

/* The child: the inherited pool is a closed copy; make a new one. */
static int child(weft_threadpool *inherited) {
  if (weft_threadpool_call_in_thread(inherited, work, NULL) != WEFT_EQUIT) return 1;
  weft_threadpool_destroy(inherited); /* frees the copy: no thread to join */
  weft_threadpool *pool;
  if (weft_threadpool_create(&pool, 1, 4, "child") != 0) return 2;
  if (weft_threadpool_start(pool) != 0) return 3;
  if (weft_threadpool_call_in_thread(pool, work, NULL) != 0) return 4;
  weft_threadpool_destroy(pool); /* runs the task, joins */
  return 0;
}

int main(void) {
  weft_threadpool *pool;
  if (weft_threadpool_create(&pool, 2, 4, "parent") != 0) return 1;
  if (weft_threadpool_start(pool) != 0) return 1;
  for (int i = 0; i < 1000; i++) weft_threadpool_call_in_thread(pool, work, NULL);
  pid_t pid = fork(); /* the pool's threads are busy: that is fine */
  if (pid < 0) return 1;
  if (pid == 0) _exit(child(pool));
  int status;
  if (waitpid(pid, &status, 0) != pid) return 1;
  weft_threadpool_destroy(pool); /* the parent's pool is untouched */
  printf("child exited with %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
