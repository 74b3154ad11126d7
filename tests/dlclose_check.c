/*
 * libweft unloaded while a thread that used it lives on: a program dlopens
 * the shared library, a thread of its own submits with call_in_thread (so
 * it holds a node cache, whose thread-exit destructor is libweft's), every
 * pool is destroyed, the library is dlclose'd, and then that thread exits.
 * The destructor must still be mapped (libweft is linked -z nodelete), or
 * the exit jumps into unmapped memory. Exit status 0: the thread exited
 * and its task ran. Semaphores order the steps; nothing sleeps.
 *
 *   dlclose_check PATH-TO-libweft.so
 */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>

typedef struct weft_threadpool weft_threadpool;
static int (*pool_create)(weft_threadpool **, int, int, const char *);
static int (*pool_start)(weft_threadpool *);
static int (*pool_call)(weft_threadpool *, void (*)(void *), void *);
static int (*pool_destroy)(weft_threadpool *);
static weft_threadpool *g_tp;
static sem_t g_submitted, g_may_exit;
static atomic_int g_ran, g_refused;

static void task(void *arg) {
  (void)arg;
  atomic_store(&g_ran, 1);
}

static void *user_thread(void *arg) {
  (void)arg;
  if (pool_call(g_tp, task, NULL) != 0) atomic_store(&g_refused, 1);
  sem_post(&g_submitted);
  sem_wait(&g_may_exit);
  return NULL; /* thread exit: the node cache's destructor runs */
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: dlclose_check PATH-TO-libweft.so\n");
    return 2;
  }
  void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  *(void **)&pool_create = dlsym(h, "weft_threadpool_create");
  *(void **)&pool_start = dlsym(h, "weft_threadpool_start");
  *(void **)&pool_call = dlsym(h, "weft_threadpool_call_in_thread");
  *(void **)&pool_destroy = dlsym(h, "weft_threadpool_destroy");
  if (!pool_create || !pool_start || !pool_call || !pool_destroy) return 2;
  sem_init(&g_submitted, 0, 0);
  sem_init(&g_may_exit, 0, 0);
  if (pool_create(&g_tp, 1, 1, "dl") != 0 || pool_start(g_tp) != 0) return 2;
  pthread_t t;
  if (pthread_create(&t, NULL, user_thread, NULL) != 0) return 2;
  sem_wait(&g_submitted);
  if (pool_destroy(g_tp) != 0) return 1; /* runs the task, joins: no weft object is left */
  if (dlclose(h) != 0) return 1;
  sem_post(&g_may_exit);
  pthread_join(t, NULL);
  int ok = atomic_load(&g_ran) && !atomic_load(&g_refused);
  printf("dlclose_check: the thread exited after dlclose; task %s\n", ok ? "ran" : "did NOT run");
  return ok ? 0 : 1;
}
