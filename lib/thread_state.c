/* weft — the per-thread block of lib/thread_state.h. */
#include "thread_state.h"

#include "node_cache.h"

_Thread_local weft__thread_state weft__tls __attribute__((tls_model("initial-exec"))) = {
    .node_cache = &weft__node_no_cache,
    .route = 0,
};
