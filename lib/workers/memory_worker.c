/*
 * weft — the memory worker (Twisted's createMemoryWorker): do() only queues,
 * weft_memory_worker_perform() runs the oldest item in the caller's thread.
 * A deterministic test double; used as coordinator and as workers in the
 * Team tests exactly as in Twisted's fixture.
 *
 * Contract: not for concurrent use (one thread at a time, like the Python
 * original under the GIL). quit() appends a stop marker that perform() never
 * consumes: items queued before quit still run, then perform() returns 0 for
 * ever. release() frees the worker and any items never performed (they are
 * dropped: a memory worker is a test fixture; whoever queued them owns the
 * arguments).
 */
#include <stdbool.h>

#include "base/alloc.h"
#include "engine/context.h"
#include "weft/worker.h"
#include "workers/worker_slab.h"

typedef struct mem_item {
  struct mem_item *next;
  weft_fn fn; /* NULL: the stop marker */
  void *arg;
} mem_item;

typedef struct memory_worker {
  weft_worker base;
  mem_item *head, *tail;
  mem_item stop; /* the quit marker: embedded, so quit() cannot fail */
  weft__slab items;
} memory_worker;

static void mem_append(memory_worker *m, mem_item *it) {
  it->next = NULL;
  if (m->tail) m->tail->next = it;
  else m->head = it;
  m->tail = it;
}

static int mem_do(weft_worker *w, weft_fn fn, void *arg) {
  memory_worker *m = (memory_worker *)w;
  mem_item *it = weft__slab_get(&m->items);
  if (!it) return WEFT_ENOMEM;
  it->fn = fn;
  it->arg = arg;
  mem_append(m, it);
  return 0;
}

static int mem_quit(weft_worker *w) {
  memory_worker *m = (memory_worker *)w;
  m->stop.fn = NULL;
  m->stop.arg = NULL;
  mem_append(m, &m->stop);
  return 0;
}

static void mem_release(weft_worker *w) {
  memory_worker *m = (memory_worker *)w;
  /* Items never performed: a context one carries is released. */
  for (mem_item *it = m->head; it && it->fn; it = it->next) weft__context_discard(it->fn, it->arg);
  weft__slab_destroy(&m->items);
  weft__free_aligned(m);
  weft__object_destroyed();
}

static const weft_worker_ops mem_ops = {mem_do, mem_quit, mem_release};

WEFT_API int weft_memory_worker_create(weft_worker **out) {
  if (!out) return WEFT_EINVAL;
  *out = NULL;
  memory_worker *m = weft__calloc_aligned(sizeof *m); /* the slab head is cache-aligned */
  if (!m) return WEFT_ENOMEM;
  weft_worker_init(&m->base, &mem_ops);
  m->head = m->tail = NULL;
  weft__slab_init(&m->items, sizeof(mem_item));
  weft__object_created();
  *out = &m->base;
  return 0;
}

WEFT_API int weft_memory_worker_perform(weft_worker *w) {
  if (!w || w->ops != &mem_ops) return WEFT_EINVAL;
  memory_worker *m = (memory_worker *)w;
  mem_item *it = m->head;
  if (!it || !it->fn) return 0;
  m->head = it->next;
  if (!m->head) m->tail = NULL;
  weft_fn fn = it->fn;
  void *arg = it->arg;
  weft__slab_put(&m->items, it);
  /* In the context of the do() that queued it (a bound item enters its
   * own), never in the performing thread's: a plain item runs in none, as
   * a coordinator's drain and a LockWorker's trampoline run theirs. */
  weft__context_run_outside(fn, arg);
  return 1;
}
