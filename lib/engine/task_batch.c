/* weft — task batches (lib/engine/task_batch.h has the contract). */
#include "engine/task_batch.h"

#include "base/alloc.h"
#include "base/debug.h"

void weft__batch_marker(weft__task *t) {
  (void)t;
  /* Invariant: a batch node is expanded by the inject consumer, never run. */
  weft_assert_internal(!"a task batch was run as a task");
}

weft__batch *weft__batch_pool_create(_Atomic uint64_t *free_mask) {
  weft__batch *pool = weft__calloc_aligned(WEFT__BATCH_POOL * sizeof *pool);
  if (!pool) return NULL;
  for (uint32_t i = 0; i < WEFT__BATCH_POOL; i++) {
    pool[i].node.run = weft__batch_marker;
    pool[i].node.cancel = NULL;
    pool[i].index = i;
    pool[i].free_mask = free_mask;
  }
  _Static_assert(WEFT__BATCH_POOL == 64, "one bit per batch in a 64-bit mask");
  return pool;
}
