/*
 * weft_threadpool_cancel_work on a request queued from a pool thread, whose
 * last queue_work was refused by an earlier pool that has since been
 * destroyed, and whose engine's memory the new pool's engine reuses.
 *
 * The refusal left its mark (lib/engine/task.h: the refusing engine's
 * address | 1) in the request's task.next; the ring path of the new queue
 * never writes task.next, so cancel.c's weft__task_refused_by() sees "its"
 * engine's mark and answers WEFT_EINVAL ("never queued") for a request that
 * is queued: it then runs, and its after_cb comes with 0.
 *
 * The reuse of the engine's block is made certain by a LIFO allocator
 * (weft_replace_allocator): the last block freed of a size is the next one
 * handed out of that size, as glibc's tcache/bins usually do anyway (in a
 * plain build 59 of 63 pool create/destroy pairs reused the engine's
 * address); under ASan's quarantine only such an allocator reuses it.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pool/threadpool_impl.h"
#include "weft/weft.h"
#include "test_sync.h"

/* ------------------------------------------------ a LIFO allocator per size */

typedef struct blk {
  size_t size;
  struct blk *next_free; /* on the free list of its size */
  max_align_t pad[];     /* the user's block follows, max-aligned */
} blk;
#define NBUCKETS 64
static struct { size_t size; blk *head; } buckets[NBUCKETS];
static pthread_mutex_t alloc_mu = PTHREAD_MUTEX_INITIALIZER;

static void *lifo_malloc(size_t size) {
  pthread_mutex_lock(&alloc_mu);
  for (int i = 0; i < NBUCKETS; i++) {
    if (buckets[i].size == size && buckets[i].head) {
      blk *b = buckets[i].head;
      buckets[i].head = b->next_free;
      pthread_mutex_unlock(&alloc_mu);
      return b->pad;
    }
  }
  pthread_mutex_unlock(&alloc_mu);
  blk *b = malloc(sizeof *b + size);
  if (!b) return NULL;
  b->size = size;
  return b->pad;
}
static void *lifo_calloc(size_t n, size_t size) {
  if (size && n > SIZE_MAX / size) return NULL;
  void *p = lifo_malloc(n * size);
  if (p) memset(p, 0, n * size);
  return p;
}
static void lifo_free(void *p) {
  if (!p) return;
  blk *b = (blk *)((char *)p - offsetof(blk, pad));
  pthread_mutex_lock(&alloc_mu);
  for (int i = 0; i < NBUCKETS; i++) {
    if (buckets[i].size == b->size || (buckets[i].size == 0 && !buckets[i].head)) {
      buckets[i].size = b->size;
      b->next_free = buckets[i].head;
      buckets[i].head = b;
      pthread_mutex_unlock(&alloc_mu);
      return;
    }
  }
  pthread_mutex_unlock(&alloc_mu);
  free(b); /* out of buckets: no reuse for this size */
}

/* ------------------------------------------------------------------- test */

typedef struct outcome {
  int ran;       /* work_cb calls */
  int after_ok;  /* after_cb(0) */
  int after_can; /* after_cb(WEFT_ECANCELED) */
} outcome;
static void work_cb(weft_work *req) { ((outcome *)req->data)->ran++; }
static void after_cb(weft_work *req, int status) {
  outcome *o = req->data;
  if (status == 0) o->after_ok++;
  else if (status == WEFT_ECANCELED) o->after_can++;
}

typedef struct holder {
  weft_threadpool *tp;
  weft_work *req;
  int queued; /* queue_work's answer on the pool thread */
  sync_t started, gate;
} holder;
/* On the pool's only thread: queue req (to this worker's ring), then hold
 * the thread, so req stays queued behind us. */
static void queue_then_hold(void *arg) {
  holder *h = arg;
  h->queued = weft_threadpool_queue_work(h->tp, h->req, work_cb, after_cb);
  count_up(&h->started);
  gate_wait(&h->gate);
}

static void cancel_after_a_dead_pools_refusal(void **state) {
  (void)state;
  outcome out = {0};
  weft_work req;
  memset(&req, 0, sizeof req);
  req.data = &out;

  /* Pool B: stopped; queue_work is refused (WEFT_EQUIT) and marks req. */
  weft_threadpool *b = NULL;
  assert_int_equal(weft_threadpool_create(&b, 0, 1, "old"), 0);
  assert_int_equal(weft_threadpool_stop(b), 0);
  assert_int_equal(weft_threadpool_queue_work(b, &req, work_cb, after_cb), WEFT_EQUIT);
  weft__engine *old_engine = weft__threadpool_engine(b);
  assert_int_equal(weft_threadpool_destroy(b), 0);

  /* Pool A: one thread, hard cap (nobody steals from its ring). */
  weft_threadpool_options o;
  weft_threadpool_options_init(&o);
  o.min_threads = 1;
  o.max_threads = 1;
  o.strict_cap = 1;
  o.name = "new";
  weft_threadpool *a = NULL;
  assert_int_equal(weft_threadpool_create_ex(&a, &o), 0);
  /* The precondition: A's engine lives where B's did. */
  assert_ptr_equal(weft__threadpool_engine(a), old_engine);
  assert_int_equal(weft_threadpool_start(a), 0);

  holder h = {.tp = a, .req = &req};
  sync_init(&h.started);
  sync_init(&h.gate);
  assert_int_equal(weft_threadpool_call_in_thread(a, queue_then_hold, &h), 0);
  count_wait(&h.started, 1);
  assert_int_equal(h.queued, 0); /* accepted: req is queued in A */

  /* req has not started (the only thread is held): cancel must win. */
  int c = weft_threadpool_cancel_work(a, &req);
  gate_open(&h.gate);
  assert_int_equal(weft_threadpool_stop(a), 0);
  print_message("cancel_work: %d; work_cb ran %d; after_cb(0) %d, after_cb(ECANCELED) %d\n", c,
                out.ran, out.after_ok, out.after_can);
  assert_int_equal(c, 0);
  assert_int_equal(out.ran, 0);
  assert_int_equal(out.after_can, 1);
  assert_int_equal(out.after_ok, 0);
  assert_int_equal(weft_threadpool_destroy(a), 0);
  sync_fini(&h.started);
  sync_fini(&h.gate);
}

static int use_lifo_allocator(void **state) {
  (void)state;
  return weft_replace_allocator(lifo_malloc, lifo_calloc, lifo_free) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cancel_after_a_dead_pools_refusal),
  };
  return cmocka_run_group_tests(tests, use_lifo_allocator, NULL);
}
